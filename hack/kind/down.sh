#!/usr/bin/env bash
# Deletes the kind cluster, then stops the container engine if (and only if) hack/kind/engine-up.sh
# started it (its PID files); a pre-existing engine is left untouched, images and caches are kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
export PATH="$CACHETIER_CACHE/bin:$PATH"
CLUSTER="${KIND_CLUSTER:-cachetier-e2e}"
if timeout 20 docker info >/dev/null 2>&1 && kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER" --kubeconfig "${E2E_KUBECONFIG:-$CACHETIER_CACHE/kind/$CLUSTER.kubeconfig}"
fi
bash hack/kind/engine-down.sh
