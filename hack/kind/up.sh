#!/usr/bin/env bash
# Brings the kind tier up as a user would: container engine (an existing one, or Debian's, started
# here), every binary and image built locally (nothing from a registry), a 1+3 node kind cluster
# with kube-router as CNI and local-path storage, the images loaded, the operator chart
# `helm install`ed, the sample source service and the e2e CacheTier applied.
#
# Never touches the user's kube context: the cluster's kubeconfig is its own file,
# $E2E_KUBECONFIG (default $CACHETIER_CACHE/kind/<cluster>.kubeconfig).
# Timings of each step go to stderr and to $CACHETIER_CACHE/kind/timings.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/kind/lib.sh
source hack/kind/versions.sh
export CACHETIER_CACHE
export PATH="$CACHETIER_CACHE/bin:$CACHETIER_CACHE/k8s-$K8S_VERSION/bin:$PATH"
CLUSTER="${KIND_CLUSTER:-cachetier-e2e}"
TAG="${IMAGE_TAG:-0.1.0}"
REGISTRY="${REGISTRY:-ghcr.io/cachetier}"
NS="${E2E_NAMESPACE:-cachetier-e2e}"
mkdir -p "$CACHETIER_CACHE/kind"
export KUBECONFIG="${E2E_KUBECONFIG:-$CACHETIER_CACHE/kind/$CLUSTER.kubeconfig}"
TIMINGS="$CACHETIER_CACHE/kind/timings.log"
step_t0=0
step() { step_t0=$(date +%s); log "== $*"; }
done_step() { local s=$(( $(date +%s) - step_t0 )); log "== $1: ${s}s"; echo "$(date -u +%FT%TZ) $1 ${s}s" >> "$TIMINGS"; }

step engine
mode=$(bash hack/kind/engine-up.sh)
echo "$mode" > "$CACHETIER_CACHE/kind/engine-mode"
log "container engine: $mode ($(docker version -f '{{.Server.Version}}'))"
done_step engine

step binaries
bash hack/kind/build-binaries.sh
done_step binaries

step workload-images
bash hack/kind/images.sh
source "$CACHETIER_CACHE/images/workload-images.env"
done_step workload-images

step node-image
NODE_IMAGE=$(bash hack/kind/node-image.sh)
done_step node-image

step kube-router-image
BASE=$(bash hack/kind/base-image.sh)
ctx=$(fresh_ctx kube-router); mkdir -p "$ctx/bin"
cp "$CACHETIER_CACHE/kind-bin/kube-router-$KUBE_ROUTER_VERSION/kube-router" "$ctx/bin/"
printf '%s\n' 'ARG BASE_IMAGE' 'FROM ${BASE_IMAGE}' \
  'RUN apt-get update && apt-get install -y --no-install-recommends iptables ipset iproute2 conntrack && rm -rf /var/lib/apt/lists/*' \
  'COPY bin/ /usr/local/bin/' 'ENTRYPOINT ["/usr/local/bin/kube-router"]' > "$ctx/Dockerfile"
build_image kube-router "$ctx" "BASE_IMAGE=$BASE" -- "cachetier.local/kube-router:$KUBE_ROUTER_VERSION" >/dev/null
done_step kube-router-image

step cluster
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "cluster $CLUSTER exists; reusing it"
  kind export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG" >&2
else
  kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --config hack/kind/cluster.yaml --kubeconfig "$KUBECONFIG" --retain=false >&2
fi
kind load docker-image --name "$CLUSTER" "cachetier.local/kube-router:$KUBE_ROUTER_VERSION" >&2
sed "s#__IMAGE__#cachetier.local/kube-router:$KUBE_ROUTER_VERSION#g" hack/kind/kube-router.yaml | kubectl apply -f - >&2
kubectl -n kube-system rollout status daemonset/kube-router --timeout=5m >&2
kubectl wait --for=condition=Ready nodes --all --timeout=5m >&2
kubectl -n kube-system rollout status deployment/coredns --timeout=5m >&2
kubectl -n local-path-storage rollout status deployment/local-path-provisioner --timeout=5m >&2
done_step cluster

step load-images
# shellcheck disable=SC2086
# Workers only: the control plane is tainted and never runs the tier.
workers=$(kubectl get nodes -l '!node-role.kubernetes.io/control-plane' -o jsonpath='{.items[*].metadata.name}' | tr ' ' ,)
kind load docker-image --name "$CLUSTER" --nodes "$workers" $E2E_IMAGES >&2
done_step load-images

step helm-install
helm upgrade --install cachetier charts/cachetier-operator \
  --namespace cachetier-system --create-namespace \
  --set image.repository="$REGISTRY/operator" --set image.tag="$TAG" --set image.pullPolicy=IfNotPresent \
  --wait --timeout 5m >&2
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >&2
kubectl -n "$NS" apply -f e2e/manifests/source-service.yaml >&2
if ! kubectl -n "$NS" get cachetier shop >/dev/null 2>&1; then date +%s > "$CACHETIER_CACHE/kind/applied-at"; fi
kubectl -n "$NS" apply -f e2e/manifests/cachetier.yaml >&2
done_step helm-install
log "kind: cluster $CLUSTER up; CacheTier applied in namespace $NS; KUBECONFIG=$KUBECONFIG"
