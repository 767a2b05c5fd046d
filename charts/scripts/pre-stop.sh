#!/bin/sh
# preStop of a Redis pod, bounded; stopping proceeds whatever happens.
# - A node the topology Job removed before the StatefulSet shrank (it marked the node, or the
#   cluster no longer lists it) resets itself and deletes its data, so its kept volume brings no
#   old keys back.
# - A master that has a connected, healthy replica hands its slots over with CLUSTER FAILOVER
#   (no data loss, no wait for node timeout), so a rolling update keeps its slots available.
set -u

REDIS_CLI="${REDIS_CLI:-redis-cli}"
REDIS_HOST="${REDIS_PROBE_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
FAILOVER_WAIT_SECONDS="${FAILOVER_WAIT_SECONDS:-20}"

if [ -n "${REDIS_PASSWORD:-}" ]; then REDISCLI_AUTH="$REDIS_PASSWORD"; export REDISCLI_AUTH; fi
# With TLS (TLS_CA_FILE set), every redis-cli call speaks TLS, verifies against the CA and presents the
# pod's certificate; the chart's file paths have no spaces, so the flags live in one unquoted variable.
tls_flags=""
if [ -n "${TLS_CA_FILE:-}" ]; then
  tls_flags="--tls --cacert $TLS_CA_FILE"
  if [ -n "${TLS_CERT_FILE:-}" ]; then tls_flags="$tls_flags --cert $TLS_CERT_FILE --key ${TLS_KEY_FILE:-$TLS_CERT_FILE}"; fi
fi
# shellcheck disable=SC2086
cli() { "$REDIS_CLI" $tls_flags -h "$REDIS_HOST" -p "$REDIS_PORT" "$@" 2>/dev/null; }
# Another node, answering within a few seconds or not at all.
# shellcheck disable=SC2086
peer_cli() {
  if command -v timeout >/dev/null 2>&1; then timeout 3 "$REDIS_CLI" $tls_flags "$@" 2>/dev/null; else "$REDIS_CLI" $tls_flags "$@" 2>/dev/null; fi
}
log() { echo "pre-stop.sh: $*" >&2; }

myself=$(cli cluster myid)
[ -n "$myself" ] || exit 0

reset_and_empty() {
  # A master holding keys refuses CLUSTER RESET, and would come back from its volume still
  # claiming its old slots: its keys go first (a replica refuses FLUSHALL; RESET empties it).
  cli flushall >/dev/null
  reset=$(cli cluster reset hard)
  [ "$reset" = "OK" ] || log "CLUSTER RESET HARD failed: ${reset:-no answer}"
  cli flushall >/dev/null
}

# The topology Job marks a node it removes (a disabled ACL user, in memory only): Valkey 8+ meets
# the peers it still knows again once they forget it, so the cluster's list may name it again.
if [ "$(cli acl getuser redis-cluster-gitops-removed | head -n 1)" = "flags" ]; then
  log "the topology Job removed this node from the cluster: resetting it and deleting its data"
  reset_and_empty
  exit 0
fi

# Ask the masters that hold slots (the pods that stay: a removed node holds none) whether they
# still list this node. One that answers and does not is enough; if none answers, nothing is done.
# CLUSTER NODES lines: id ip:port@cport[,hostname] flags master ping pong epoch link-state slots...
for peer in $(cli cluster nodes | awk '$3 !~ /myself|fail|handshake|noaddr/ && $3 ~ /master/ && NF >= 9 { split($2, address, "@"); print address[1] }'); do
  nodes=$(peer_cli -h "${peer%:*}" -p "${peer##*:}" cluster nodes) || continue
  case "$nodes" in *myself*) ;; *) continue ;; esac
  if printf '%s\n' "$nodes" | awk -v id="$myself" '$1 == id { found = 1 } END { exit !found }'; then break; fi
  log "the cluster no longer lists this node (the topology Job removed it): resetting it and deleting its data"
  reset_and_empty
  exit 0
done

role=$(cli role | head -n 1)
[ "$role" = "master" ] || exit 0
# CLUSTER REPLICAS lines: id ip:port@cport[,hostname] flags master ping pong epoch link-state
replica=$(cli cluster replicas "$myself" | awk '$8 == "connected" && $3 !~ /fail|handshake|noaddr/ { split($2, address, "@"); print address[1]; exit }')
if [ -z "$replica" ]; then
  log "no healthy replica to hand over to; stopping as master"
  exit 0
fi
replica_host=${replica%:*}
replica_port=${replica##*:}
log "handing over to replica $replica"
# shellcheck disable=SC2086
"$REDIS_CLI" $tls_flags -h "$replica_host" -p "$replica_port" cluster failover >/dev/null 2>&1 || exit 0
waited=0
while [ "$waited" -lt "$FAILOVER_WAIT_SECONDS" ]; do
  [ "$(cli role | head -n 1)" = "slave" ] && { log "now a replica"; exit 0; }
  sleep 1
  waited=$((waited + 1))
done
log "failover did not finish within ${FAILOVER_WAIT_SECONDS}s; stopping anyway"
exit 0
