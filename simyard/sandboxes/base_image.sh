#!/usr/bin/env bash
# Build simyard's base Docker image without any registry: debootstrap a minimal Debian (bookworm, with python3, git and
# pytest) from an apt mirror, trim it, and `docker import` it under a tag. The one recipe: scripts/setup.sh runs it
# when docker is present (so CI has the image) and simyard.sandboxes.images runs it when the image is missing.
#
#   bash base_image.sh [TAG]          TAG defaults to simyard/base:bookworm
#
# Idempotent: exits at once when TAG exists (the tagged image is the cache, kept by dockerd across runs). Needs root
# (debootstrap makes device nodes and chowns), debootstrap and a running dockerd; the mirror is $SIMYARD_DEBIAN_MIRROR
# or deb.debian.org. Prints nothing on success; on failure, one line on stderr and the tail of debootstrap's log.
# Exit codes: 0 built or present, 3 a requirement is missing (root, debootstrap, docker), 1 the build failed.
set -euo pipefail
tag="${1:-simyard/base:bookworm}"
mirror="${SIMYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="python3,git,python3-pytest,ca-certificates"

docker image inspect "$tag" >/dev/null 2>&1 && exit 0
[[ "$(id -u)" == 0 ]] || { echo "base_image: building $tag needs root (debootstrap)" >&2; exit 3; }
command -v debootstrap >/dev/null 2>&1 || { echo "base_image: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 3; }
docker info >/dev/null 2>&1 || { echo "base_image: the Docker daemon is not reachable (start dockerd)" >&2; exit 3; }

# Two builders at once (two workers, setup.sh and a test) wait for each other; the second finds the tag and stops.
exec 9>/var/tmp/simyard-base-image.lock
flock 9
docker image inspect "$tag" >/dev/null 2>&1 && exit 0

work="$(mktemp -d /var/tmp/simyard-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
if ! debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" >"$work/log" 2>&1; then
    echo "base_image: debootstrap of bookworm from $mirror failed; the end of its log:" >&2
    tail -n 15 "$work/log" >&2
    exit 1
fi
# What an image does not need: the downloaded packages, apt's lists (a Dockerfile runs apt-get update first, as with
# Debian's own images), documentation except the licences, manuals, translations.
root="$work/root"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/usr/share/locale/*
find "$root/usr/share/doc" -type f ! -name copyright -delete
mkdir -p "$root/workspace"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'WORKDIR /workspace' \
    --change 'CMD ["bash"]' \
    --message "simyard base image: debootstrap bookworm minbase + $packages" \
    - "$tag" >/dev/null
