#!/usr/bin/env bash
# Creates the kind cluster (if absent), builds and loads the images, installs the chart and applies
# the example CacheTier plus the sample source service.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
export PATH="$CACHETIER_CACHE/bin:$PATH"
CLUSTER="${KIND_CLUSTER:-cachetier-e2e}"
KIND_VERSION="${KIND_VERSION:-v0.30.0}"
ENGINE="${CONTAINER_ENGINE:-docker}"
TAG="${IMAGE_TAG:-0.1.0}"
REGISTRY="${REGISTRY:-ghcr.io/cachetier}"
NS="${E2E_NAMESPACE:-cachetier-e2e}"

if ! kind version 2>/dev/null | grep -q "${KIND_VERSION}"; then
  echo "kind: installing ${KIND_VERSION} from its Go module"
  GOBIN="$CACHETIER_CACHE/bin" GOMODCACHE="$CACHETIER_CACHE/go/mod" GOCACHE="$CACHETIER_CACHE/go/build" \
    go install "sigs.k8s.io/kind@${KIND_VERSION}"
fi
command -v helm >/dev/null || bash hack/deps.d/20-helm.sh
if [ "$ENGINE" = podman ]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config hack/kind/cluster.yaml --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

make images CONTAINER_ENGINE="$ENGINE" IMAGE_TAG="$TAG" REGISTRY="$REGISTRY"
for img in operator cache-producer openresty source-service; do
  kind load docker-image --name "$CLUSTER" "$REGISTRY/$img:$TAG"
done
# Upstream images the tier runs, loaded once so pods start without pulling on every run.
for img in zookeeper:3.8.4 apache/kafka:3.9.1 redis:7.0.15; do
  $ENGINE image inspect "$img" >/dev/null 2>&1 || $ENGINE pull "$img"
  kind load docker-image --name "$CLUSTER" "$img"
done

helm upgrade --install cachetier charts/cachetier-operator \
  --namespace cachetier-system --create-namespace \
  --set image.repository="$REGISTRY/operator" --set image.tag="$TAG" --set image.pullPolicy=IfNotPresent \
  --wait --timeout 5m
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NS" apply -f e2e/manifests/source-service.yaml
kubectl -n "$NS" apply -f e2e/manifests/cachetier.yaml
echo "kind: cluster $CLUSTER ready; CacheTier applied in namespace $NS"
