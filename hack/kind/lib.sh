# Shared by hack/kind/*.sh (sourced). Image builds keyed by a hash of their inputs.
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
export DOCKER_BUILDKIT=0   # the classic builder: works with Debian's dockerd 20.10 and without buildx

log() { echo "[$(date -u +%T)] $*" >&2; }

# ctx_hash DIR: content hash of a build context (names, modes, bytes; not mtimes or owners).
ctx_hash() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf - . | sha256sum | cut -c1-16
}

# build_image NAME CTX_DIR [--target T] [--build-arg K=V ...] -- [EXTRA_TAG ...]
# Builds CTX_DIR/Dockerfile as cachetier.local/NAME:<hash of context + args + base image id>,
# unless that tag exists already; then adds EXTRA_TAGs. Prints the keyed image name.
build_image() {
  local name=$1 ctx=$2; shift 2
  local args=() tags=() base_ids="" a
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; tags=("$@"); break; fi
    args+=("$1"); shift
  done
  for a in "${args[@]}"; do
    case $a in BASE_IMAGE=*|DEBIAN_IMAGE=*) base_ids+=$(docker image inspect -f '{{.Id}}' "${a#*=}");; esac
  done
  local key; key=$( { ctx_hash "$ctx"; printf '%s\n' "${args[@]}" "$base_ids"; } | sha256sum | cut -c1-16)
  local img="cachetier.local/$name:$key"
  if docker image inspect "$img" >/dev/null 2>&1; then
    log "image $name: $img present (inputs unchanged)"
  else
    local t0; t0=$(date +%s)
    log "image $name: building $img"
    local bargs=() i=0
    while [ $i -lt ${#args[@]} ]; do
      case ${args[$i]} in
        --target) bargs+=(--target "${args[$((i+1))]}"); i=$((i+2)); continue ;;
        *) bargs+=(--build-arg "${args[$i]}") ;;
      esac
      i=$((i+1))
    done
    nice -n "${BUILD_NICE:-10}" docker build --network host --label "io.cachetier.inputs=$key" "${bargs[@]}" -t "$img" "$ctx" > "$CACHETIER_CACHE/images/build-$name.log" 2>&1 || {
      tail -40 "$CACHETIER_CACHE/images/build-$name.log" >&2; log "image $name: build failed (log: $CACHETIER_CACHE/images/build-$name.log)"; return 1; }
    log "image $name: built in $(( $(date +%s) - t0 ))s"
  fi
  for a in "${tags[@]}"; do docker tag "$img" "$a"; done
  echo "$img"
}

# fresh_ctx NAME: an empty staging dir for a build context.
fresh_ctx() {
  local d="$CACHETIER_CACHE/image-ctx/$1"
  rm -rf "$d"; mkdir -p "$d"; echo "$d"
}
