#!/usr/bin/env bash
set -euo pipefail
export CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
export PATH="$CACHETIER_CACHE/bin:$PATH"
kind delete cluster --name "${KIND_CLUSTER:-cachetier-e2e}" 2>/dev/null || true
