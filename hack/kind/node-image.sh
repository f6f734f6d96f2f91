#!/usr/bin/env bash
# The kind node image for Kubernetes v1.36.3, without any registry:
#   1. kind's base image (hack/kind/images/kind-base.Dockerfile) FROM the debootstrapped Debian;
#   2. the images kubeadm and kind want inside every node, built from Go-module binaries
#      (hack/kind/build-binaries.sh): kube-apiserver, kube-controller-manager, kube-scheduler,
#      kube-proxy, etcd 3.6.8-0, coredns v1.14.2, pause 3.10.2 (a static gcc build of the
#      kubernetes module's pause.c), kind's storage images (local-path-provisioner, built from its
#      Go module; local-path-helper = the Debian base) and a stand-in for kindnetd (never run: the
#      cluster config disables the default CNI; kind only insists that the image exists);
#   3. a kubernetes-server-linux-amd64-style tarball (binaries + those image archives) handed to
#      `kind build node-image --type file`. kind loads only kube-{apiserver,controller-manager,
#      scheduler,proxy}.tar and reads one tag list per archive, so kube-proxy.tar carries the extra
#      images, with its `repositories` entry (every tag) first.
# Each step is keyed by a hash of its inputs; prints the node image name.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/kind/lib.sh
source hack/kind/versions.sh
KB="$CACHETIER_CACHE/kind-bin"
K8S_BIN="$CACHETIER_CACHE/k8s-$K8S_VERSION/bin"
KIND_MOD="$CACHETIER_CACHE/go/mod/sigs.k8s.io/kind@$KIND_VERSION"
K8S_MOD="$CACHETIER_CACHE/go/mod/k8s.io/kubernetes@$K8S_VERSION"
mkdir -p "$CACHETIER_CACHE/images"
t_all=$(date +%s)

need() { for f in "$@"; do [ -e "$f" ] || { echo "node-image: missing $f (run hack/kind/build-binaries.sh)" >&2; exit 1; }; done; }
need "$KB/containerd-$CONTAINERD_VERSION/containerd" "$KB/runc-$RUNC_VERSION/runc" "$KB/crictl-$CRICTL_VERSION/crictl" \
  "$KB/etcd-$ETCD_VERSION/etcd" "$KB/coredns-$COREDNS_VERSION/coredns" "$KB/local-path-$LOCAL_PATH_VERSION/local-path-provisioner" \
  "$KIND_MOD/images/base/files/etc/containerd/config.toml" "$K8S_MOD/build/pause/linux/pause.c"

BASE=$(bash hack/kind/base-image.sh)

# 1. kind base
ctx=$(fresh_ctx kind-base)
cp hack/kind/images/kind-base.Dockerfile "$ctx/Dockerfile"
cp -r "$KIND_MOD/images/base/files" "$ctx/files"; chmod -R u+w "$ctx/files"
mkdir -p "$ctx/bin"
cp "$KB/containerd-$CONTAINERD_VERSION"/{containerd,ctr,containerd-shim-runc-v2} "$KB/runc-$RUNC_VERSION/runc" "$KB/crictl-$CRICTL_VERSION/crictl" "$ctx/bin/"
KIND_BASE=$(build_image kind-base "$ctx" "BASE_IMAGE=$BASE")

# 2. component images
static_image() {   # static_image NAME TAG ENTRYPOINT_JSON BINARY...
  local name=$1 tag=$2 ep=$3; shift 3
  local c; c=$(fresh_ctx "$name"); mkdir -p "$c/bin"; cp "$@" "$c/bin/"
  { echo "FROM scratch"; echo "COPY bin/ /usr/local/bin/"; echo "ENV PATH=/usr/local/bin:/usr/bin:/bin"
    [ -n "$ep" ] && echo "ENTRYPOINT $ep"; } > "$c/Dockerfile"
  build_image "$name" "$c" -- "$tag" >/dev/null
}
debian_image() {   # debian_image NAME TAG "APT PACKAGES" ENTRYPOINT_JSON [BINARY...]
  local name=$1 tag=$2 pkgs=$3 ep=$4; shift 4
  local c; c=$(fresh_ctx "$name"); mkdir -p "$c/bin"; [ $# -gt 0 ] && cp "$@" "$c/bin/"
  { echo "ARG BASE_IMAGE"; echo "FROM \${BASE_IMAGE}"
    [ -n "$pkgs" ] && echo "RUN apt-get update && apt-get install -y --no-install-recommends $pkgs && rm -rf /var/lib/apt/lists/*"
    echo "COPY bin/ /usr/local/bin/"; [ -n "$ep" ] && echo "$ep"; } > "$c/Dockerfile"
  build_image "$name" "$c" "BASE_IMAGE=$BASE" -- "$tag" >/dev/null
}
R=registry.k8s.io
static_image etcd "$R/etcd:${ETCD_VERSION#v}-0" "" "$KB/etcd-$ETCD_VERSION/etcd"
static_image coredns "$R/coredns/coredns:$COREDNS_VERSION" '["/usr/local/bin/coredns"]' "$KB/coredns-$COREDNS_VERSION/coredns"
pause_dir="$CACHETIER_CACHE/kind-bin/pause-$K8S_VERSION"
if [ ! -x "$pause_dir/pause" ]; then
  mkdir -p "$pause_dir"
  gcc -Os -Wall -Werror -static -DVERSION=v3.10.2 -o "$pause_dir/pause" "$K8S_MOD/build/pause/linux/pause.c"
  strip "$pause_dir/pause"
fi
c=$(fresh_ctx pause); cp "$pause_dir/pause" "$c/pause"
printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$c/Dockerfile"
build_image pause "$c" -- "$R/pause:3.10.2" >/dev/null
# kind's storage add-on (its manifest names these images; see kind's pkg/build/nodeimage/const_storage.go)
lp_img=$(sed -n 's/^const storageProvisionerImage = "\(.*\)"/\1/p' "$KIND_MOD/pkg/build/nodeimage/const_storage.go")
lh_img=$(sed -n 's/^const storageHelperImage = "\(.*\)"/\1/p' "$KIND_MOD/pkg/build/nodeimage/const_storage.go")
kn_img=$(sed -n 's/^const kindnetdImage = "\(.*\)"/\1/p' "$KIND_MOD/pkg/build/nodeimage/const_cni.go")
debian_image local-path-provisioner "$lp_img" "" "" "$KB/local-path-$LOCAL_PATH_VERSION/local-path-provisioner"
debian_image local-path-helper "$lh_img" "" ""
debian_image kindnetd-standin "$kn_img" "" \
  'CMD ["sh", "-c", "echo kindnetd is not available in this build: the cachetier kind tier disables the default CNI and runs kube-router; exit 1"]'

# the Kubernetes images last: their binaries take longest to build (hack/deps-kubernetes.sh)
need "$K8S_BIN/kubeadm" "$K8S_BIN/kubelet" "$K8S_BIN/kube-proxy" "$K8S_BIN/kube-apiserver" "$K8S_BIN/kubectl" \
  "$K8S_BIN/kube-controller-manager" "$K8S_BIN/kube-scheduler"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  static_image "$c" "$R/$c:$K8S_VERSION" "" "$K8S_BIN/$c"
done
debian_image kube-proxy "$R/kube-proxy:$K8S_VERSION" "iptables nftables conntrack ipset kmod" "" "$K8S_BIN/kube-proxy"

# 3. the tarball + node image, keyed by every input image and binary
extra=("$R/etcd:${ETCD_VERSION#v}-0" "$R/coredns/coredns:$COREDNS_VERSION" "$R/pause:3.10.2" "$lp_img" "$lh_img" "$kn_img")
ids=$(for i in "$KIND_BASE" "$R/kube-apiserver:$K8S_VERSION" "$R/kube-controller-manager:$K8S_VERSION" "$R/kube-scheduler:$K8S_VERSION" "$R/kube-proxy:$K8S_VERSION" "${extra[@]}"; do docker image inspect -f '{{.Id}}' "$i"; done)
# LAYOUT: bump when the way the tarball is assembled changes (the script's comments are no input).
LAYOUT=2
key=$( { echo "$ids"; sha256sum "$K8S_BIN"/{kubeadm,kubelet,kubectl}; echo "layout $LAYOUT"; } | sha256sum | cut -c1-16)
NODE_IMAGE="cachetier.local/kind-node:$K8S_VERSION-$key"
if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  log "node image $NODE_IMAGE present (inputs unchanged)"
else
  t0=$(date +%s)
  work="$CACHETIER_CACHE/image-ctx/k8s-tarball"; rm -rf "$work"; mkdir -p "$work/kubernetes/server/bin"
  echo "$K8S_VERSION" > "$work/kubernetes/version"
  cp "$K8S_BIN"/{kubeadm,kubelet,kubectl} "$work/kubernetes/server/bin/"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    docker save -o "$work/kubernetes/server/bin/$c.tar" "$R/$c:$K8S_VERSION"
  done
  # kube-proxy.tar: kube-proxy plus every extra image; `repositories` first so kind sees all tags.
  x="$work/proxy-x"; mkdir -p "$x"
  docker save "$R/kube-proxy:$K8S_VERSION" "${extra[@]}" | tar -C "$x" -xf -
  # docker writes Docker Hub names short (kindest/x); kind compares them with docker.io/kindest/x.
  jq -c 'with_entries(if (.key | split("/")[0] | test("[.:]")) then . else .key = "docker.io/" + .key end)' "$x/repositories" > "$x/repositories.new"
  mv "$x/repositories.new" "$x/repositories"
  (cd "$x" && tar -cf "$work/kubernetes/server/bin/kube-proxy.tar" repositories manifest.json $(ls -A | grep -vx 'repositories\|manifest.json'))
  rm -rf "$x"
  tar -C "$work" -cf - kubernetes | gzip -1 > "$work/kubernetes-server-linux-amd64.tar.gz"   # kind wants gzip; -1 is 3x faster
  log "node image: kind build node-image (base $KIND_BASE)"
  kind build node-image --type file "$work/kubernetes-server-linux-amd64.tar.gz" --base-image "$KIND_BASE" --image "$NODE_IMAGE" >&2
  rm -rf "$work"
  log "node image: $NODE_IMAGE built in $(( $(date +%s) - t0 ))s"
fi
log "node image ready in $(( $(date +%s) - t_all ))s"
echo "$NODE_IMAGE"
