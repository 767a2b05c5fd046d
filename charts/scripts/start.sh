#!/bin/sh
# Starts one Redis Cluster node of the StatefulSet: writes the effective config, repairs peer
# addresses in nodes.conf from DNS, with TLS starts a watcher that loads a renewed certificate into
# the running server, then execs redis-server. POSIX sh; needs getent (and redis-cli with TLS).
#
# Env: POD_IP, POD_NAME, POD_NAMESPACE, HEADLESS_SERVICE, CLUSTER_DOMAIN (required);
#      REDIS_PASSWORD (optional, sets requirepass and masterauth);
#      TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE (with TLS: the mounted Secret's files, which redis.conf names);
#      the path variables below may be overridden (the end-to-end stand-in runs this outside a pod).
set -eu

CONFIG_TEMPLATE="${CONFIG_TEMPLATE:-/etc/redis-cluster/redis.conf}"   # from the ConfigMap, read-only
RUNTIME_DIR="${RUNTIME_DIR:-/run/redis-cluster}"                      # emptyDir; holds the effective config
DATA_DIR="${DATA_DIR:-/data}"                                         # the pod's volume: AOF and nodes.conf
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
GETENT="${GETENT:-getent}"
BIND_ADDRESSES="${BIND_ADDRESSES:-* -::*}"
DNS_WAIT_SECONDS="${DNS_WAIT_SECONDS:-20}"
REDIS_CLI="${REDIS_CLI:-redis-cli}"
REDIS_HOST="${REDIS_PROBE_HOST:-127.0.0.1}"                           # this pod's own server, as probe.sh reaches it
REDIS_PORT="${REDIS_PORT:-6379}"
TLS_RELOAD_INTERVAL_SECONDS="${TLS_RELOAD_INTERVAL_SECONDS:-10}"

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

# 3. With TLS, a renewed certificate (the kubelet swaps the Secret's files in place) must reach the running
# server without a restart: Redis reads its TLS files only at start and on CONFIG SET, and a CONFIG SET of
# the same paths re-reads them. So a watcher compares the files' checksum every few seconds and, when it
# changes, sets the three paths again in one CONFIG SET (a certificate and its key change together); a set
# the server refuses (a certificate that does not match its key) keeps the old ones, is logged once and
# tried again. Open connections keep their session; new ones get the new certificate. The watcher lives as
# long as the server (its pid is this shell's, which exec hands on) and checks for it every second.
tls_checksum() { cat "$TLS_CERT_FILE" "$TLS_KEY_FILE" "$TLS_CA_FILE" 2>/dev/null | cksum; }
watch_tls_files() {
  server_pid=$1
  loaded=$(tls_checksum)
  refused=""
  ticks=0
  while sleep 1; do
    kill -0 "$server_pid" 2>/dev/null || exit 0
    ticks=$((ticks + 1))
    [ "$ticks" -ge "$TLS_RELOAD_INTERVAL_SECONDS" ] || continue
    ticks=0
    current=$(tls_checksum)
    [ "$current" != "$loaded" ] || continue
    # Its own server on loopback: no need to verify the certificate it serves (which may just have expired);
    # it presents the new client certificate, which the server's current CA must accept (a CA change
    # therefore goes through a ca.crt holding both CAs: docs/operations.md, "TLS").
    reply=$(
      if [ -n "${REDIS_PASSWORD:-}" ]; then REDISCLI_AUTH="$REDIS_PASSWORD"; export REDISCLI_AUTH; fi
      "$REDIS_CLI" --tls --insecure --cert "$TLS_CERT_FILE" --key "$TLS_KEY_FILE" -h "$REDIS_HOST" -p "$REDIS_PORT" \
        config set tls-cert-file "$TLS_CERT_FILE" tls-key-file "$TLS_KEY_FILE" tls-ca-cert-file "$TLS_CA_FILE" 2>&1
    ) || true
    if [ "$reply" = "OK" ]; then
      log "loaded the changed TLS certificate files into the running server"
      loaded=$current
      refused=""
    elif [ "$refused" != "$current" ]; then
      log "could not load the changed TLS certificate files (keeping the old ones, trying again every ${TLS_RELOAD_INTERVAL_SECONDS}s): $reply"
      refused=$current
    fi
  done
}
if [ -n "${TLS_CA_FILE:-}" ]; then
  : "${TLS_CERT_FILE:?TLS_CERT_FILE must be set with TLS_CA_FILE}"
  : "${TLS_KEY_FILE:?TLS_KEY_FILE must be set with TLS_CA_FILE}"
  watch_tls_files $$ &
fi

log "starting redis-server as $POD_HOSTNAME ($POD_IP)"
exec "$REDIS_SERVER" "$EFFECTIVE_CONFIG"
