#!/usr/bin/env bash
# helm (v3) for chart-lint and the control-plane tier. No container engine or release download:
# built from its Go module into $CACHETIER_CACHE/bin, with the Go module and build caches under
# $CACHETIER_CACHE/go so a second run (or a rebuild after a bump) is fast. Skips when the pinned
# version is already installed.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
BIN="$CACHETIER_CACHE/bin"
mkdir -p "$BIN" "$CACHETIER_CACHE/go/mod" "$CACHETIER_CACHE/go/build"

if [ -x "$BIN/helm" ] && "$BIN/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  echo "20-helm: helm $HELM_VERSION present"
  exit 0
fi
command -v go >/dev/null || { echo "20-helm: Go toolchain not found (needed to build helm $HELM_VERSION)" >&2; exit 1; }

echo "20-helm: building helm $HELM_VERSION from helm.sh/helm/v3 (a few minutes the first time)"
export GOMODCACHE="$CACHETIER_CACHE/go/mod" GOCACHE="$CACHETIER_CACHE/go/build" GOFLAGS="${GOFLAGS:--buildvcs=false}"
# `helm version` reports the version baked in with -X; without it a module build says "v3.x-unreleased".
GOBIN="$BIN" go install \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
"$BIN/helm" version --short
