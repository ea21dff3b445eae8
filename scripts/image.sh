#!/usr/bin/env bash
# Builds the image vigie:<package version> on this machine's dockerd without any image registry:
#  1. the base, a Debian bookworm root file system made by debootstrap (minbase + ca-certificates +
#     bpftrace) and imported with `docker import`, tagged by a hash of what it contains, made once;
#  2. the application, built on this host (npm run build; production node_modules by npm prune in a
#     staging copy, native addons included: the host is Debian bookworm like the base, same glibc),
#     and this host's own Node binary (Debian bookworm's nodejs is 18, Vigie needs 20);
#  3. Dockerfile: FROM the base, COPY of the staged files.
# The image is also tagged vigie:<version>-<content hash>; when that tag exists already the build is
# skipped. Prints the image name (vigie:<version>) on stdout, progress on stderr.
# Environment: VIGIE_IMAGE_STAGE (staging directory, default .image-stage),
#   VIGIE_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'image: %s\n' "$*" >&2; }

suite=bookworm
include=ca-certificates,bpftrace
mirror=${VIGIE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
base="vigie-base:${suite}-$(printf '%s minbase %s' "$suite" "$include" | sha256sum | cut -c1-12)"
version=$(node -p 'require("./package.json").version')
image="vigie:${version}"
stage=${VIGIE_IMAGE_STAGE:-.image-stage}

docker info >/dev/null 2>&1 || { log "dockerd is not answering (docker info failed)"; exit 1; }

# 1. Base image, once.
if docker image inspect "$base" >/dev/null 2>&1; then
  log "base $base exists"
else
  command -v debootstrap >/dev/null 2>&1 || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
  [ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }
  rootfs=$(mktemp -d /var/tmp/vigie-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap $suite ($include) into $rootfs"
  debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -30 "$rootfs.log" >&2; log "debootstrap failed; full log in $rootfs.log"; exit 1; }
  rm -f "$rootfs.log"
  # Package lists and caches are not needed at run time.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$base" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  log "base $base imported"
fi

# 2. Application, built here when a source is newer than the build output.
if [ ! -f dist/cli/main.js ] || [ -n "$(find src bin policies scripts/copy-data.mjs package.json tsconfig.json tsconfig.build.json -newer dist/cli/main.js -print -quit 2>/dev/null)" ]; then
  log "building (npm run build)"
  npm run -s build >&2
fi
node=$(node -p 'process.execPath')
hash=$( (
  cd dist && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  cd .. && sha256sum package.json package-lock.json bin/vigie.js Dockerfile "$node"
  echo "$base"
) | sha256sum | cut -c1-12)
if docker image inspect "$image-$hash" >/dev/null 2>&1; then
  docker tag "$image-$hash" "$image"
  log "$image-$hash is up to date"
  echo "$image"
  exit 0
fi

log "staging into $stage"
mkdir -p "$stage"
# Production node_modules: a copy of the installed tree, pruned of development packages; redone
# only when the lock file changes.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat "$stage/.node_modules-lock" 2>/dev/null)" != "$lock_hash" ]; then
  rm -rf "$stage/node_modules" "$stage/.node_modules-lock"
  [ -d node_modules ] || { log "node_modules is missing; run scripts/npm-ci.sh"; exit 1; }
  cp -a --dereference node_modules/. "$stage/node_modules" 2>/dev/null || cp -aL node_modules "$stage/node_modules"
  cp package.json package-lock.json .npmrc "$stage/"
  (cd "$stage" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_hash" >"$stage/.node_modules-lock"
fi
rm -rf "$stage/dist" "$stage/bin"
cp -a dist bin package.json package-lock.json "$stage/"
cp "$node" "$stage/node"
cp Dockerfile "$stage/Dockerfile"

# 3. Image.
log "docker build $image (base $base)"
docker build -q --build-arg "BASE=$base" -t "$image" -t "$image-$hash" "$stage" >/dev/null
echo "$image"
