#!/bin/sh
# Starts one Redis Cluster node of the StatefulSet: writes the effective config, repairs peer
# addresses in nodes.conf from DNS, then execs redis-server. POSIX sh; needs getent.
#
# Env: POD_IP, POD_NAME, POD_NAMESPACE, HEADLESS_SERVICE, CLUSTER_DOMAIN (required);
#      REDIS_PASSWORD (optional, sets requirepass and masterauth);
#      the path variables below may be overridden (the end-to-end stand-in runs this outside a pod).
set -eu

CONFIG_TEMPLATE="${CONFIG_TEMPLATE:-/etc/redis-cluster/redis.conf}"   # from the ConfigMap, read-only
RUNTIME_DIR="${RUNTIME_DIR:-/run/redis-cluster}"                      # emptyDir; holds the effective config
DATA_DIR="${DATA_DIR:-/data}"                                         # the pod's volume: AOF and nodes.conf
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
GETENT="${GETENT:-getent}"
BIND_ADDRESSES="${BIND_ADDRESSES:-* -::*}"
DNS_WAIT_SECONDS="${DNS_WAIT_SECONDS:-20}"

: "${POD_IP:?POD_IP must be set (downward API status.podIP)}"
: "${POD_NAME:?POD_NAME must be set}"
: "${POD_NAMESPACE:?POD_NAMESPACE must be set}"
: "${HEADLESS_SERVICE:?HEADLESS_SERVICE must be set}"
: "${CLUSTER_DOMAIN:=cluster.local}"

EFFECTIVE_CONFIG="$RUNTIME_DIR/redis.conf"
NODES_CONF="$DATA_DIR/nodes.conf"
POD_HOSTNAME="$POD_NAME.$HEADLESS_SERVICE.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN"

log() { echo "start.sh: $*" >&2; }

resolve() { "$GETENT" hosts "$1" 2>/dev/null | awk 'NR == 1 { print $1 }'; }

# 1. Effective config: the ConfigMap's redis.conf plus this pod's identity; the password only here (0600).
umask 077
mkdir -p "$RUNTIME_DIR"
{
  cat "$CONFIG_TEMPLATE"
  printf '\n# Added by start.sh for %s\n' "$POD_NAME"
  printf 'bind %s\n' "$BIND_ADDRESSES"
  printf 'dir %s\n' "$DATA_DIR"
  printf 'cluster-announce-ip %s\n' "$POD_IP"
  printf 'cluster-announce-hostname %s\n' "$POD_HOSTNAME"
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    # Inside double quotes redis.conf reads \" and \\ as escapes.
    quoted_password=$(printf '%s' "$REDIS_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
    printf 'requirepass "%s"\n' "$quoted_password"
    printf 'masterauth "%s"\n' "$quoted_password"
  fi
} > "$EFFECTIVE_CONFIG.tmp"
mv "$EFFECTIVE_CONFIG.tmp" "$EFFECTIVE_CONFIG"

# 2. Repair nodes.conf: after every pod restarted with a new IP, the addresses saved there are all stale
# and no node could reach another. Each line carries the node's hostname
# (id ip:port@cport,hostname[,aux=value...] flags ...): this node's own address becomes $POD_IP and each
# peer's what its name resolves to now. A peer whose name does not resolve (yet) keeps its old address;
# gossip corrects it once either side reaches the other.
if [ -s "$NODES_CONF" ]; then
  peers=$(awk '$3 !~ /myself/ { n = split($2, part, ","); if (n >= 2 && part[2] != "") print part[2] }' "$NODES_CONF")
  waited=0
  while :; do
    : > "$RUNTIME_DIR/peer-addresses"
    unresolved=""
    for peer in $peers; do
      ip="$(resolve "$peer")"
      if [ -n "$ip" ]; then echo "$peer $ip" >> "$RUNTIME_DIR/peer-addresses"; else unresolved="$unresolved $peer"; fi
    done
    if [ -z "$unresolved" ] || [ "$waited" -ge "$DNS_WAIT_SECONDS" ]; then break; fi
    sleep 1
    waited=$((waited + 1))
  done
  [ -z "$unresolved" ] || log "keeping the saved address of peers whose name does not resolve:$unresolved"

  awk -v own_ip="$POD_IP" '
    FILENAME == ARGV[1] { address_of[$1] = $2; next }
    NF >= 3 && $2 ~ /@/ {
      n = split($2, part, ",")
      ip = ""
      if ($3 ~ /myself/) ip = own_ip
      else if (n >= 2 && (part[2] in address_of)) ip = address_of[part[2]]
      if (ip != "") {
        colon = 0
        at = index(part[1], "@")
        for (i = at; i > 0; i--) if (substr(part[1], i, 1) == ":") { colon = i; break }
        if (colon > 0) {
          rewritten = ip substr(part[1], colon)
          for (i = 2; i <= n; i++) rewritten = rewritten "," part[i]
          $2 = rewritten
        }
      }
    }
    { print }
  ' "$RUNTIME_DIR/peer-addresses" "$NODES_CONF" > "$NODES_CONF.repaired"
  mv "$NODES_CONF.repaired" "$NODES_CONF"
fi

log "starting redis-server as $POD_HOSTNAME ($POD_IP)"
exec "$REDIS_SERVER" "$EFFECTIVE_CONFIG"
