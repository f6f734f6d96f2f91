#!/usr/bin/env bash
# Makes a Docker engine available for the kind tier and prints how it was obtained:
#   "existing"  a daemon already answered `docker info`: it is used as is (never reconfigured,
#               never stopped, never pruned by these scripts);
#   "started"   none answered: Debian's docker.io + containerd are installed (if missing) and
#               started here, in the background, with their PIDs in $ENGINE_RUN/*.pid so that
#               hack/kind/engine-down.sh stops exactly these processes and nothing else.
#
# The engine we start keeps its data under $CACHETIER_CACHE/engine (images survive a stop, so a
# second `make e2e` reuses them). On these machines root's capability bounding set lacks
# CAP_SYS_RESOURCE, and Docker asks for it for every --privileged container (kind's nodes), so
# our dockerd's default runtime is a wrapper around runc that deletes that one capability from
# the OCI spec (hack/kind/runc-nosysres). See README.md, "The kind e2e tier".
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
ENGINE_DIR="$CACHETIER_CACHE/engine"
ENGINE_RUN="${ENGINE_RUN:-/run/cachetier-engine}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

if timeout 20 docker info >/dev/null 2>&1; then
  if [ -f "$ENGINE_RUN/dockerd.pid" ] && kill -0 "$(cat "$ENGINE_RUN/dockerd.pid")" 2>/dev/null; then
    echo started   # ours, from an earlier run kept with E2E_KEEP=1
  else
    echo existing
  fi
  exit 0
fi

PKGS=(docker.io containerd runc iptables debootstrap containernetworking-plugins jq libseccomp-dev pkg-config)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "engine: installing ${missing[*]}" >&2
  # Packages must not start their own daemons: this script starts (and later stops) them.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

$SUDO mkdir -p "$ENGINE_RUN" "$ENGINE_DIR"/{containerd,docker,log}
install -m 0755 "$ROOT/hack/kind/runc-nosysres" "$ENGINE_DIR/runc-nosysres"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if ! alive "$ENGINE_RUN/containerd.pid"; then
  # Our own socket, state and root: never the paths a system containerd would use.
  cat > "$ENGINE_DIR/containerd.toml" <<EOF
version = 2
root = "$ENGINE_DIR/containerd"
state = "$ENGINE_RUN/containerd-state"
[grpc]
  address = "$ENGINE_RUN/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
EOF
  echo "engine: starting containerd ($(containerd --version | awk '{print $3}'))" >&2
  setsid containerd --config "$ENGINE_DIR/containerd.toml" >"$ENGINE_DIR/log/containerd.log" 2>&1 </dev/null &
  echo $! > "$ENGINE_RUN/containerd.pid"
  for _ in $(seq 1 60); do [ -S "$ENGINE_RUN/containerd.sock" ] && break; sleep 0.5; done
  [ -S "$ENGINE_RUN/containerd.sock" ] || { echo "engine: containerd did not start; see $ENGINE_DIR/log/containerd.log" >&2; tail -20 "$ENGINE_DIR/log/containerd.log" >&2; exit 1; }
fi

if ! alive "$ENGINE_RUN/dockerd.pid"; then
  echo "engine: starting dockerd ($(dockerd --version | awk '{print $3}' | tr -d ,))" >&2
  setsid dockerd \
    --host unix:///var/run/docker.sock \
    --containerd "$ENGINE_RUN/containerd.sock" \
    --data-root "$ENGINE_DIR/docker" \
    --exec-root "$ENGINE_RUN/docker" \
    --pidfile "$ENGINE_RUN/dockerd.pidfile" \
    --storage-driver overlay2 \
    --add-runtime "nosysres=$ENGINE_DIR/runc-nosysres" \
    --default-runtime nosysres \
    >"$ENGINE_DIR/log/dockerd.log" 2>&1 </dev/null &
  echo $! > "$ENGINE_RUN/dockerd.pid"
  for _ in $(seq 1 120); do timeout 5 docker info >/dev/null 2>&1 && break; sleep 0.5; done
  timeout 10 docker info >/dev/null 2>&1 || { echo "engine: dockerd did not answer; see $ENGINE_DIR/log/dockerd.log" >&2; tail -20 "$ENGINE_DIR/log/dockerd.log" >&2; exit 1; }
fi
echo started
