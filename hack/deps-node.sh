#!/usr/bin/env bash
# npm ci only when node_modules was not installed from this exact package-lock.json. A content
# hash, not timestamps: a fresh clone's timestamps say nothing, and re-running npm ci under
# running tests deletes node_modules beneath them.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat node_modules/.cachetier-lock-sha256 2>/dev/null || true)
if [ "$want" = "$have" ] && [ -d node_modules/.bin ]; then
  exit 0
fi
echo "deps-node: npm ci (package-lock.json changed or node_modules missing)"
npm ci --no-audit --no-fund
echo "$want" > node_modules/.cachetier-lock-sha256
