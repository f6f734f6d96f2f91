#!/usr/bin/env bash
# The Debian bookworm base every image of the kind tier starts from (no image registry is reachable
# here, so no debian:bookworm-slim): `debootstrap --variant=minbase` from the machine's own Debian
# mirror, cached as a tarball in $CACHETIER_CACHE/images, imported as $BASE_IMAGE.
# Apt inside images built on top reaches the same mirror (`docker build --network host`).
# Prints the image name. Cold ~3 min; warm: an inspect.
set -euo pipefail
CACHETIER_CACHE="${CACHETIER_CACHE:-$HOME/.cache/cachetier}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
INCLUDE="ca-certificates"
key=$(printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "$INCLUDE" minbase 2 | sha256sum | cut -c1-12)
TAR="$CACHETIER_CACHE/images/debian-$SUITE-minbase-$key.tar"
IMAGE="cachetier.local/debian:$SUITE-$key"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then echo "$IMAGE"; exit 0; fi
mkdir -p "$CACHETIER_CACHE/images"
if [ ! -f "$TAR" ]; then
  command -v debootstrap >/dev/null || { echo "base-image: debootstrap missing (hack/kind/engine-up.sh installs it)" >&2; exit 1; }
  dir=$(mktemp -d "${TMPDIR:-/tmp}/cachetier-debootstrap.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
  t0=$(date +%s)
  echo "base-image: debootstrap $SUITE from $MIRROR" >&2
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$dir" "$MIRROR" >&2
  cat > "$dir/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
  # Small images: no docs, no man pages, no apt lists (as debian:*-slim does).
  cat > "$dir/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$dir/etc/apt/apt.conf.d/01-norecommends"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
  # ...but keep the man directories: some postinst scripts (openjdk's update-alternatives) link into them.
  mkdir -p "$dir"/usr/share/man/man{1,2,3,4,5,6,7,8}
  tar -C "$dir" --numeric-owner -cf "$TAR.tmp" .
  mv "$TAR.tmp" "$TAR"
  echo "base-image: $TAR ($(du -h "$TAR" | cut -f1)) in $(( $(date +%s) - t0 ))s" >&2
fi
docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' --change 'ENV DEBIAN_FRONTEND=noninteractive' "$TAR" "$IMAGE" >/dev/null
echo "$IMAGE"
