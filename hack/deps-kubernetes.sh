#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries the control-plane tier runs as plain processes
# (there is no container engine here): kube-apiserver, kube-controller-manager, kube-scheduler
# and kubectl, all from the k8s.io/kubernetes Go module at one pinned release.
#
# k8s.io/kubernetes is not meant to be used as a dependency: its go.mod points every staging
# module (k8s.io/api, k8s.io/apimachinery, ...) at ./staging/src/... and requires them at v0.0.0.
# A throwaway module that requires k8s.io/kubernetes and replaces each staging module with its
# published tag (v0.N.M for release v1.N.M) makes `go build` work from the module proxy alone.
#
# Output: $CACHETIER_CACHE/k8s-<ver>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
# Skipped when all four are present. Cold build: see docs/controlplane.md (tens of minutes on 2 cores).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"   # go.mod says `go 1.26.0`: builds with the installed Go 1.26
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
OUT="$CACHETIER_CACHE/k8s-$K8S_VERSION/bin"
BUILD="$CACHETIER_CACHE/k8s-build/$K8S_VERSION"
CMDS=(kube-apiserver kubectl kube-scheduler kube-controller-manager)   # apiserver first: usable soonest
# The kind tier's node image also needs kubelet, kubeadm and kube-proxy (hack/kind/build-binaries.sh):
# same module, same build cache, so they are added here rather than built a second time elsewhere.
# shellcheck disable=SC2206
CMDS+=(${K8S_EXTRA_CMDS:-})

have_all() {
  local c
  for c in "${CMDS[@]}"; do [ -x "$OUT/$c" ] || return 1; done
}
link_bins() {
  # Stable names on PATH ($CACHETIER_CACHE/bin is on PATH in the Makefile).
  mkdir -p "$CACHETIER_CACHE/bin"
  local c
  for c in "${CMDS[@]}"; do ln -sfn "$OUT/$c" "$CACHETIER_CACHE/bin/$c"; done
}

if have_all; then
  echo "kubernetes: $K8S_VERSION binaries present in $OUT"
  link_bins
  exit 0
fi

# One build per release at a time: `make check` builds in the background (hack/kind/prebuild.sh)
# while the control-plane tier may ask for the same binaries. The second waits, then finds them.
mkdir -p "$CACHETIER_CACHE/k8s-build"
exec 9>"$CACHETIER_CACHE/k8s-build/$K8S_VERSION.lock"
if ! flock -n 9; then
  echo "kubernetes: another build of $K8S_VERSION is running; waiting for it"
  flock 9
  if have_all; then
    echo "kubernetes: $K8S_VERSION binaries present in $OUT"
    link_bins
    exit 0
  fi
fi

command -v go >/dev/null || { echo "kubernetes: Go toolchain not found (need go >= 1.26)" >&2; exit 1; }
export GOMODCACHE="$CACHETIER_CACHE/go/mod"
export GOCACHE="$CACHETIER_CACHE/go/build"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
mkdir -p "$BUILD" "$OUT" "$GOMODCACHE" "$GOCACHE"
cd "$BUILD"

start=$(date +%s)
echo "kubernetes: building $K8S_VERSION with $(go version) in $BUILD (started $(date -u +%FT%TZ))"

# Staging modules = the `replace k8s.io/X => ./staging/src/k8s.io/X` lines of the release's go.mod.
minor="${K8S_VERSION#v1.}"                     # 36.3
staging_ver="v0.$minor"                        # v0.36.3
k8s_mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$k8s_mod" ] || { echo "kubernetes: could not download k8s.io/kubernetes@$K8S_VERSION go.mod" >&2; exit 1; }
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9.-]*\) => \./staging/src/.*#\1#p' "$k8s_mod" | sort -u)
[ "${#staging[@]}" -gt 20 ] || { echo "kubernetes: found only ${#staging[@]} staging modules in $k8s_mod" >&2; exit 1; }
go_directive=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$k8s_mod")

{
  echo "// Throwaway module: builds the control-plane binaries of k8s.io/kubernetes $K8S_VERSION."
  echo "module cachetier.local/k8s-build"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_ver"; done
  echo ")"
} > go.mod
rm -f go.sum
echo "kubernetes: ${#staging[@]} staging modules replaced with $staging_ver"

pkgs=()
# Pinned per package: a bare `go get <pkg>` means @upgrade and moved k8s.io/kubernetes to the newest
# release (v1.37.x) as soon as one was published, whose imports the v0.36 staging modules lack.
for c in "${CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c@$K8S_VERSION"); done
# Resolves the whole graph and writes go.sum (main packages cannot be imported, so no tidy).
nice -n 10 go get "${pkgs[@]}"
grep -q "k8s.io/kubernetes $K8S_VERSION\$" go.mod || { echo "kubernetes: go get moved k8s.io/kubernetes off $K8S_VERSION:" >&2; grep 'k8s.io/kubernetes ' go.mod >&2; exit 1; }

ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=${minor%%.*}"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
for c in "${CMDS[@]}"; do
  [ -x "$OUT/$c" ] && { echo "kubernetes: $c present"; continue; }
  t0=$(date +%s)
  nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$OUT/$c.tmp" "k8s.io/kubernetes/cmd/$c"
  mv "$OUT/$c.tmp" "$OUT/$c"
  echo "kubernetes: built $c in $(( $(date +%s) - t0 ))s"
done
link_bins
"$OUT/kube-apiserver" --version
echo "kubernetes: done in $(( $(date +%s) - start ))s (finished $(date -u +%FT%TZ))"
