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
  wrk hyperfine
  openjdk-17-jre-headless
  curl jq procps psmisc iproute2 ca-certificates
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
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
$SUDO rm -f /usr/sbin/policy-rc.d
# Debian starts nothing without systemd here, but stop any package-started servers anyway.
$SUDO pkill -x redis-server 2>/dev/null || true
$SUDO pkill -f 'nginx: master' 2>/dev/null || true
echo "deps-apt: done"
