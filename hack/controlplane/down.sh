#!/usr/bin/env bash
# Stops the control plane hack/controlplane/up.sh started (only the process groups it recorded)
# and removes its state directory. Idempotent: nothing running and nothing left is fine.
# KEEP_STATE=1 keeps the directory (logs, audit log) for a post-mortem.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
. "$HERE/env.sh"

log() { echo "controlplane: $*" >&2; }

[ -d "$CP_DIR" ] || exit 0
stopped=()
# Reverse start order: clients before the API server, the API server before etcd.
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  c=${COMPONENTS[$i]}
  f="$CP_DIR/run/$c.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    # setsid made each component its own process-group leader: signal the group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    stopped+=("$c")
  fi
  rm -f "$f"
done
[ ${#stopped[@]} -eq 0 ] || log "stopped ${stopped[*]}"
if [ "${KEEP_STATE:-0}" = "1" ]; then
  rm -f "$CP_DIR/ready"
  log "kept state in $CP_DIR"
else
  # Only a directory this script's sibling created (it has run/ or pki/) is removed.
  if [ -d "$CP_DIR/run" ] || [ -d "$CP_DIR/pki" ]; then rm -rf "$CP_DIR"; fi
fi
