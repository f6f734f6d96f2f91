#!/usr/bin/env bash
# Builds the kind tier's Go binaries ahead of time, at the lowest CPU priority: `make check`
# (hack/check.sh) starts this in the background right after `make deps`, so compilation uses the
# CPU the lint, unit and integration tiers leave idle (they wait on servers much of the time).
# The control-plane binaries come first (that tier needs them next), then the rest of
# hack/kind/build-binaries.sh. Both scripts lock per build dir, so whoever needs a binary
# while it is being built here waits for it instead of building it twice.
set -euo pipefail
cd "$(dirname "$0")/../.."
renice -n 19 -p $$ >/dev/null
t0=$(date +%s)
bash hack/deps-kubernetes.sh
bash hack/kind/build-binaries.sh
echo "prebuild: done in $(( $(date +%s) - t0 ))s"
