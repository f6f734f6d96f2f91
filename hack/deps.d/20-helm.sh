#!/usr/bin/env bash
# helm (v3) for chart-lint and the control-plane tier. No container engine or release download:
# built from its Go module into $CACHETIER_CACHE/bin, with the Go module and build caches under
# $CACHETIER_CACHE/go so a second run (or a rebuild after a bump) is fast. Skips when the pinned
# build is already installed.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# The Kubernetes minor helm's own Makefile bakes in (from its k8s.io/client-go v0.34.x): without it a
# module build reports Kubernetes v1.20 to `helm template` / `helm lint` and kubeVersion checks fail.
HELM_K8S_MAJOR=1
HELM_K8S_MINOR="${HELM_K8S_MINOR:-34}"
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
BIN="$CACHETIER_CACHE/bin"
STAMP="$BIN/.helm.build"
WANT="$HELM_VERSION k8s-$HELM_K8S_MAJOR.$HELM_K8S_MINOR"
mkdir -p "$BIN" "$CACHETIER_CACHE/go/mod" "$CACHETIER_CACHE/go/build"

if [ -x "$BIN/helm" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  echo "20-helm: helm $WANT present"
  exit 0
fi
command -v go >/dev/null || { echo "20-helm: Go toolchain not found (needed to build helm $HELM_VERSION)" >&2; exit 1; }

echo "20-helm: building helm $WANT from helm.sh/helm/v3 (a few minutes the first time)"
export GOMODCACHE="$CACHETIER_CACHE/go/mod" GOCACHE="$CACHETIER_CACHE/go/build" GOFLAGS="${GOFLAGS:--buildvcs=false}"
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  LDFLAGS+=" -X $pkg.k8sVersionMajor=$HELM_K8S_MAJOR -X $pkg.k8sVersionMinor=$HELM_K8S_MINOR"
done
GOBIN="$BIN" go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
"$BIN/helm" version --short
echo "$WANT" > "$STAMP"
