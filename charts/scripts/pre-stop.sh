#!/bin/sh
# preStop of a Redis pod: a master that has a connected, healthy replica hands its slots over
# with CLUSTER FAILOVER (no data loss, no wait for node timeout) before it is stopped, so a rolling
# update does not make its slots unavailable. Bounded; stopping proceeds whatever happens.
set -u

REDIS_CLI="${REDIS_CLI:-redis-cli}"
REDIS_HOST="${REDIS_PROBE_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
FAILOVER_WAIT_SECONDS="${FAILOVER_WAIT_SECONDS:-20}"

if [ -n "${REDIS_PASSWORD:-}" ]; then REDISCLI_AUTH="$REDIS_PASSWORD"; export REDISCLI_AUTH; fi
cli() { "$REDIS_CLI" -h "$REDIS_HOST" -p "$REDIS_PORT" "$@" 2>/dev/null; }
log() { echo "pre-stop.sh: $*" >&2; }

role=$(cli role | head -n 1)
[ "$role" = "master" ] || exit 0
myself=$(cli cluster myid)
[ -n "$myself" ] || exit 0
# CLUSTER REPLICAS lines: id ip:port@cport[,hostname] flags master ping pong epoch link-state
replica=$(cli cluster replicas "$myself" | awk '$8 == "connected" && $3 !~ /fail|handshake|noaddr/ { split($2, address, "@"); print address[1]; exit }')
if [ -z "$replica" ]; then
  log "no healthy replica to hand over to; stopping as master"
  exit 0
fi
replica_host=${replica%:*}
replica_port=${replica##*:}
log "handing over to replica $replica"
"$REDIS_CLI" -h "$replica_host" -p "$replica_port" cluster failover >/dev/null 2>&1 || exit 0
waited=0
while [ "$waited" -lt "$FAILOVER_WAIT_SECONDS" ]; do
  [ "$(cli role | head -n 1)" = "slave" ] && { log "now a replica"; exit 0; }
  sleep 1
  waited=$((waited + 1))
done
log "failover did not finish within ${FAILOVER_WAIT_SECONDS}s; stopping anyway"
exit 0
