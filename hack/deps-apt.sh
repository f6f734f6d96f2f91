#!/usr/bin/env bash
# Installs the Debian packages every tier needs: the real servers the integration tests start
# (redis, zookeeper, nginx + the Lua stack the OpenResty image ships, etcd) and the load tools
# the benchmarks use. Idempotent: a second run only checks.
set -euo pipefail
PKGS=(
  redis-server redis-tools
  zookeeper
  nginx-light libnginx-mod-http-lua lua-nginx-redis lua-nginx-kafka lua-nginx-dns lua-resty-core lua-resty-lrucache lua-cjson
  etcd-server
  prometheus prometheus-redis-exporter   # the monitoring test: alerts and dashboard queries against a real Prometheus
  python3-matplotlib   # hack/dashboard-png.py: the overview dashboard drawn from Prometheus data
  wrk hyperfine
  openjdk-17-jre-headless
  curl jq procps psmisc iproute2 ca-certificates
  libseccomp-dev pkg-config   # runc for the kind tier's node image is built with seccomp
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps-apt: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps-apt: installing ${missing[*]}"
# Packages must not start their own daemons: tests start every server themselves on 127.0.0.x.
# policy-rc.d says so to the packages' init scripts. A policy the machine already has is kept
# aside and put back on every exit path; nothing already running is ever stopped.
POLICY=/usr/sbin/policy-rc.d
SAVED=""
if [ -e "$POLICY" ]; then SAVED=$(mktemp); $SUDO cp -p "$POLICY" "$SAVED"; fi
restore_policy() {
  if [ -n "$SAVED" ]; then $SUDO cp -p "$SAVED" "$POLICY"; rm -f "$SAVED"; else $SUDO rm -f "$POLICY"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
$SUDO chmod +x "$POLICY"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps-apt: done"
