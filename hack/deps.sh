#!/usr/bin/env bash
# Installs everything the project's targets need, cached outside the repo in $CACHETIER_CACHE
# (default ~/.cache/cachetier). Safe to re-run: each step checks before it downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
export CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
mkdir -p "$CACHETIER_CACHE/bin"
bash hack/deps-apt.sh
for step in hack/deps.d/*.sh; do
  [ -e "$step" ] || continue
  echo "deps: $step"
  bash "$step"
done
echo "deps: ready (cache: $CACHETIER_CACHE)"
