#!/bin/sh
# Readiness and liveness of one Redis Cluster node. Neither looks at cluster_state, so a node that is
# not (yet) part of a healthy cluster still counts as up: the topology Job forms the cluster only after
# the pods are ready, and the headless Service publishes not-ready addresses anyway.
#   readiness: answers PING, and is not a replica in the middle of a full resync (restarting the
#              next pod of a rolling update then could fail over to a replica without the data).
#   liveness:  answers at all; LOADING (replaying a big AOF) and MASTERDOWN count as alive.
# With TLS (TLS_CA_FILE set) both speak TLS and verify the node's certificate against the CA, presenting
# the pod's own certificate. A certificate the CA no longer accepts (expired, another CA) makes the node
# not ready, but it is still alive: a restart would not fix a certificate, and the server did answer.
set -u

REDIS_CLI="${REDIS_CLI:-redis-cli}"
REDIS_HOST="${REDIS_PROBE_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"

if [ -n "${REDIS_PASSWORD:-}" ]; then REDISCLI_AUTH="$REDIS_PASSWORD"; export REDISCLI_AUTH; fi
# The chart's file paths have no spaces, so the flags live in one unquoted variable.
tls_flags=""
if [ -n "${TLS_CA_FILE:-}" ]; then
  tls_flags="--tls --cacert $TLS_CA_FILE"
  if [ -n "${TLS_CERT_FILE:-}" ]; then tls_flags="$tls_flags --cert $TLS_CERT_FILE --key ${TLS_KEY_FILE:-$TLS_CERT_FILE}"; fi
fi
# shellcheck disable=SC2086
cli() { "$REDIS_CLI" $tls_flags -h "$REDIS_HOST" -p "$REDIS_PORT" "$@" 2>&1; }

case "${1:-}" in
  readiness)
    reply=$(cli ping)
    [ "$reply" = "PONG" ] || { echo "PING answered: $reply"; exit 1; }
    if cli info replication | grep -q '^master_sync_in_progress:1'; then
      echo "replica is still loading its full resync from the master"
      exit 1
    fi
    ;;
  liveness)
    reply=$(cli ping)
    case "$reply" in
      PONG|LOADING*|MASTERDOWN*) ;;
      *SSL*|*TLS*|*certificate*|*"reset by peer"*)
        # Only a running server takes part in a TLS handshake (a dead one refuses the connection).
        if [ -n "$tls_flags" ]; then echo "alive, but TLS failed (see readiness): $reply"; else echo "PING answered: $reply"; exit 1; fi
        ;;
      *) echo "PING answered: $reply"; exit 1 ;;
    esac
    ;;
  *)
    echo "usage: probe.sh readiness|liveness" >&2
    exit 2
    ;;
esac
