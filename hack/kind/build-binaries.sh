#!/usr/bin/env bash
# Builds, from their Go modules, every binary the kind tier needs and no registry can give us here:
# kind itself, the node's container runtime (containerd, runc, crictl), the cluster add-ons
# (etcd, CoreDNS, kube-router as CNI, local-path-provisioner) and the node's Kubernetes binaries
# (kubelet, kubeadm, kube-proxy: added to hack/deps-kubernetes.sh's v1.36.3 build, so they share
# its module dir and Go build cache with the control-plane tier).
#
# Each module is built in a throwaway module dir under $CACHETIER_CACHE/gobuild/<name>-<version>
# (a throwaway module ignores the upstream go.mod's replace directives, so `go build` works from
# the module proxy alone). Output: $CACHETIER_CACHE/kind-bin/<name>-<version>/<binary>.
# A binary already present is not rebuilt. Cold: ~50 min on 2 cores; warm: a few seconds.
#
# Usage: build-binaries.sh [name...]   (default: all; names: kind crictl containerd runc etcd
#        coredns kube-router local-path k8s-node)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source hack/kind/versions.sh
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
command -v go >/dev/null || { echo "build-binaries: Go toolchain not found (need go >= 1.26)" >&2; exit 1; }
export GOMODCACHE="$CACHETIER_CACHE/go/mod"
export GOCACHE="$CACHETIER_CACHE/go/build"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
NICE="${BUILD_NICE:-10}"

log() { echo "build-binaries: $*"; }

# build NAME MODULE VERSION CGO TAGS LDFLAGS "binary=package ..."
build() {
  local name=$1 mod=$2 ver=$3 cgo=$4 tags=$5 ldflags=$6 specs=$7
  local out="$CACHETIER_CACHE/kind-bin/$name-$ver" dir="$CACHETIER_CACHE/gobuild/$name-$ver"
  local spec bin pkg lock missing=0
  for spec in $specs; do [ -x "$out/${spec%%=*}" ] || missing=1; done
  if [ $missing = 0 ]; then log "$name $ver present"; return 0; fi
  mkdir -p "$out" "$dir"
  # One build per module dir at a time (make check prebuilds in the background, see
  # hack/kind/prebuild.sh): a second caller waits, then finds the binaries.
  exec {lock}>"$dir.lock"
  if ! flock -n "$lock"; then
    log "$name $ver: another build is running; waiting for it"
    flock "$lock"
    missing=0
    for spec in $specs; do [ -x "$out/${spec%%=*}" ] || missing=1; done
    if [ $missing = 0 ]; then exec {lock}>&-; log "$name $ver present"; return 0; fi
  fi
  local t0; t0=$(date +%s)
  log "$name $ver: building in $dir (started $(date -u +%T))"
  (
    cd "$dir"
    if [ ! -f go.mod ] || ! grep -q "^require $mod $ver\$\|	$mod $ver\$" go.mod; then
      rm -f go.mod go.sum
      go mod init "cachetier.local/build-$name" >/dev/null 2>&1
      local gets=()
      for spec in $specs; do gets+=("${spec#*=}@$ver"); done
      nice -n "$NICE" go get "${gets[@]}"
    fi
    for spec in $specs; do
      bin=${spec%%=*}; pkg=${spec#*=}
      [ -x "$out/$bin" ] && continue
      local t1; t1=$(date +%s)
      CGO_ENABLED=$cgo nice -n "$NICE" go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$out/$bin.tmp" "$pkg"
      mv "$out/$bin.tmp" "$out/$bin"
      log "$name: built $bin in $(( $(date +%s) - t1 ))s"
    done
  )
  exec {lock}>&-
  log "$name $ver: done in $(( $(date +%s) - t0 ))s"
}

b_kind() {
  build kind sigs.k8s.io/kind "$KIND_VERSION" 0 "" "-s -w" "kind=sigs.k8s.io/kind"
  mkdir -p "$CACHETIER_CACHE/bin"
  ln -sfn "$CACHETIER_CACHE/kind-bin/kind-$KIND_VERSION/kind" "$CACHETIER_CACHE/bin/kind"
}
b_crictl() {
  build crictl sigs.k8s.io/cri-tools "$CRICTL_VERSION" 0 "" \
    "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" "crictl=sigs.k8s.io/cri-tools/cmd/crictl"
}
b_containerd() {
  local m=github.com/containerd/containerd/v2
  build containerd "$m" "$CONTAINERD_VERSION" 0 "no_btrfs no_devmapper no_zfs" \
    "-s -w -X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Package=github.com/containerd/containerd" \
    "containerd=$m/cmd/containerd containerd-shim-runc-v2=$m/cmd/containerd-shim-runc-v2 ctr=$m/cmd/ctr"
}
b_runc() {
  # cgo + libseccomp (Debian's libseccomp-dev): runc without seccomp cannot apply the default profile.
  pkg-config --exists libseccomp || { echo "build-binaries: runc needs libseccomp-dev and pkg-config (hack/deps-apt.sh installs them)" >&2; return 1; }
  build runc github.com/opencontainers/runc "$RUNC_VERSION" 1 "seccomp" \
    "-s -w -X main.version=${RUNC_VERSION#v}" "runc=github.com/opencontainers/runc"
}
b_etcd() {
  build etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" 0 "" "-s -w" "etcd=go.etcd.io/etcd/server/v3"
}
b_coredns() {
  build coredns github.com/coredns/coredns "$COREDNS_VERSION" 0 "" "-s -w" "coredns=github.com/coredns/coredns"
}
b_kube_router() {
  local m=github.com/cloudnativelabs/kube-router/v2
  build kube-router "$m" "$KUBE_ROUTER_VERSION" 0 "" \
    "-s -w -X $m/pkg/version.Version=$KUBE_ROUTER_VERSION" "kube-router=$m/cmd/kube-router"
}
b_local_path() {
  build local-path github.com/rancher/local-path-provisioner "$LOCAL_PATH_VERSION" 0 "" "-s -w" \
    "local-path-provisioner=github.com/rancher/local-path-provisioner"
}
b_k8s_node() {
  # kubelet/kubeadm/kube-proxy join hack/deps-kubernetes.sh's build (same module dir, same GOCACHE;
  # it takes a lock, so a control-plane build running at the same time is waited for).
  K8S_EXTRA_CMDS="kubelet kubeadm kube-proxy" bash "$ROOT/hack/deps-kubernetes.sh"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(kind crictl containerd runc etcd coredns kube-router local-path k8s-node)
start=$(date +%s)
for n in "${names[@]}"; do
  case $n in
    kind) b_kind ;; crictl) b_crictl ;; containerd) b_containerd ;; runc) b_runc ;;
    etcd) b_etcd ;; coredns) b_coredns ;; kube-router) b_kube_router ;; local-path) b_local_path ;;
    k8s-node) b_k8s_node ;;
    *) echo "build-binaries: unknown name $n" >&2; exit 2 ;;
  esac
done
log "all requested binaries present ($(( $(date +%s) - start ))s)"
