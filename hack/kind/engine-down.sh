#!/usr/bin/env bash
# Stops the dockerd and containerd that hack/kind/engine-up.sh started, by the PIDs it recorded, and
# nothing else: an engine that was already running when `make e2e` began has no PID file here.
set -euo pipefail
ENGINE_RUN="${ENGINE_RUN:-/run/cachetier-engine}"
stop() {
  local name=$1 pidf="$ENGINE_RUN/$1.pid" pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    echo "engine: stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "engine: $name (pid $pid) still running after 30 s; sending KILL"; kill -KILL "$pid" || true; fi
  fi
  rm -f "$pidf"
}
stop dockerd
stop containerd
