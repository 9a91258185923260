#!/usr/bin/env bash
# deploy/docker/images.sh: build soft-ix's container images on a machine that
# cannot pull from an image registry, from Debian packages only.
#
#   1. the two base images the Dockerfile names, made with mmdebstrap:
#      debian:bookworm-slim   a minbase Debian 12 (the runtime stage);
#      golang:1.26-bookworm   minbase + ca-certificates + git, this machine's
#                             Go in /usr/local/go and this machine's CA store
#                             (HTTPS to the Go module proxy may pass a proxy
#                             whose CA only this machine trusts);
#   2. the project Dockerfile, unchanged, as soft-ix:latest;
#   3. deploy/lab/host.Dockerfile as soft-ix-lab-host:latest, the LAN, VNet
#      and internet-router hosts of the compose lab (iproute2 and ping).
#
# Needs root, mmdebstrap, a running Docker engine (DOCKER_HOST is honoured)
# and Go on PATH. The Debian root filesystems are cached as tarballs in
# $SOFTIX_IMAGE_CACHE (default /var/cache/soft-ix-images) and made again
# when older than $SOFTIX_IMAGE_MAX_AGE days (default 7) or missing; Go and
# the CA store are added afresh on every run, so they always match the
# machine. Builds use the host's network (--network host): the engine may
# run without its own NAT (.ci/container does), and the runtime stage's
# apt-get needs the network.
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=${SOFTIX_IMAGE_CACHE:-/var/cache/soft-ix-images}
max_age=${SOFTIX_IMAGE_MAX_AGE:-7}
suite=bookworm
mkdir -p "$cache"

for tool in mmdebstrap docker go; do
	command -v "$tool" >/dev/null || {
		echo "images.sh: $tool not found (apt-get install mmdebstrap docker.io; Go 1.26 on PATH)" >&2
		exit 2
	}
done

# rootfs NAME MMDEBSTRAP-ARGS...: the cached tarball $cache/NAME.tar, made
# again when missing or stale.
rootfs() {
	local name=$1 tar=$cache/$1.tar
	shift
	if [[ -s $tar && -z $(find "$tar" -mtime +"$max_age") ]]; then
		echo "images.sh: $name root from cache ($tar)"
		return
	fi
	echo "images.sh: building the $name root with mmdebstrap"
	mmdebstrap --quiet --variant=minbase --format=tar "$@" "$suite" "$tar.partial"
	mv "$tar.partial" "$tar"
}

rootfs slim
rootfs golang-base --include=ca-certificates,git
# debian:bookworm-slim's PATH, since docker import sets no environment.
docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	"$cache/slim.tar" debian:bookworm-slim

goroot=$(go env GOROOT)
gover=$(go env GOVERSION)
[[ $gover == go1.26* ]] || echo "images.sh: warning: $gover tagged as golang:1.26-bookworm" >&2
work=$(mktemp -d)
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir "$work/root"
tar -C "$work/root" -xf "$cache/golang-base.tar"
cp -a "$goroot" "$work/root/usr/local/go"
# The machine's store replaces Debian's: its links point into
# /usr/share/ca-certificates, so they are copied as the files they name.
# A link whose file is gone (a certificate that a newer package dropped
# while the link stayed) is left out, with a word, instead of failing the
# build.
rm -rf "$work/root/etc/ssl/certs"
mkdir -p "$work/root/etc/ssl/certs"
find -L /etc/ssl/certs -mindepth 1 -maxdepth 1 -type f -exec cp -L -t "$work/root/etc/ssl/certs" {} +
dangling=$(find -L /etc/ssl/certs -mindepth 1 -maxdepth 1 -type l | wc -l)
[[ $dangling == 0 ]] || echo "images.sh: left out $dangling links in /etc/ssl/certs whose files are gone" >&2
[[ -s $work/root/etc/ssl/certs/ca-certificates.crt ]] || { echo "images.sh: no /etc/ssl/certs/ca-certificates.crt on this machine" >&2; exit 1; }
tar -C "$work/root" -c . | docker import \
	--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'ENV GOPATH=/go' --change "ENV GOTOOLCHAIN=local" \
	- golang:1.26-bookworm
rm -rf --one-file-system "$work/root"

# The classic builder: Debian's docker.io has no buildx, and BuildKit's
# --network host needs an entitlement the daemon must grant.
export DOCKER_BUILDKIT=0
docker build --network host -t soft-ix:latest .
docker build --network host -t soft-ix-lab-host:latest -f deploy/lab/host.Dockerfile deploy/lab
echo "images.sh: soft-ix:latest and soft-ix-lab-host:latest built after ${SECONDS}s"
