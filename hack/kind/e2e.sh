#!/usr/bin/env bash
# make e2e: a kind cluster (1 control plane + 3 workers), this repo's images, the chart, the example
# CacheTier, then the jest e2e suite. Without a container engine it says so in one line and fails,
# unless E2E_SKIP=1, where it says it skipped (never a pass it did not run).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
export PATH="$CACHETIER_CACHE/bin:$PATH"
if ! ENGINE=$(bash hack/kind/engine.sh); then
  if [ "${E2E_SKIP:-0}" = "1" ]; then
    echo "e2e: SKIPPED, NOT RUN and NOT PASSED: no container engine (docker/podman daemon) on this machine; kind needs one"
    exit 0
  fi
  echo "e2e: cannot run: no container engine (docker/podman daemon) on this machine; kind needs one (E2E_SKIP=1 skips explicitly)" >&2
  exit 2
fi
export CONTAINER_ENGINE="$ENGINE"
bash hack/kind/up.sh
status=0
node --experimental-vm-modules --no-warnings node_modules/jest/bin/jest.js --selectProjects e2e --runInBand || status=$?
if [ "${E2E_KEEP:-0}" != "1" ]; then bash hack/kind/down.sh; fi
exit $status
