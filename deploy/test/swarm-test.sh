#!/usr/bin/env bash
# The Swarm test: deploys deploy/stack.yml, unchanged, on a real single-node
# Swarm and drives the chat through Traefik on 127.0.0.1 under load while
# hosts are killed, updated and scaled, the database cluster's leader is
# killed, switched over and cut off, an etcd member is killed, and checks
# that the stack's Prometheus sees every host and database member as they
# come and go; last, the stack's backups: the restore drill on its own
# repository, and a careless DELETE restored to the moment before
# (crates/e2e/src/bin/swarm_check/). Prints a table; exits non-zero if a
# scenario fails.
#
# What differs from production is only what variables say: local test images
# (images.sh; no registry here), ACME pointed at an address where nothing
# listens (so Traefik serves its self-signed certificate and talks to no CA),
# test host names and ports 18080/18443.
#
# It installs Docker (Debian's docker.io) if missing, starts dockerd if none
# runs, creates the swarm if there is none, and undoes exactly what it did:
# the stack, its volumes, secrets and network, the node labels, the swarm and
# dockerd are removed or stopped only if this script created them.
# Run as root (or with sudo). Set KEEP=1 to leave everything up for a look,
# SWARM_SCENARIOS=a,b to run only some scenarios (swarm-check --scenarios).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

STACK=${STACK:-ostchat_test}
HTTP_PORT=${HTTP_PORT:-18080}
HTTPS_PORT=${HTTPS_PORT:-18443}
DOMAIN=${DOMAIN:-chat.localhost}
CHAT_TEST_IMAGE=${CHAT_TEST_IMAGE:-ostchat/chat:test-minispin}
export TRAEFIK_TEST_IMAGE=${TRAEFIK_TEST_IMAGE:-ostchat-test/traefik:3.7.15}
export PATRONI_TEST_IMAGE=${PATRONI_TEST_IMAGE:-ostchat-test/patroni:17}
export ETCD_TEST_IMAGE=${ETCD_TEST_IMAGE:-ostchat-test/etcd:trixie}
export HAPROXY_TEST_IMAGE=${HAPROXY_TEST_IMAGE:-ostchat-test/haproxy:trixie}
export PROMETHEUS_TEST_IMAGE=${PROMETHEUS_TEST_IMAGE:-ostchat-test/prometheus:trixie}
export CACHE_TEST_IMAGE=${CACHE_TEST_IMAGE:-ostchat-test/cache:trixie}
NETWORK=traefik-public
SECRETS=(postgres_password postgres_replication_password ostchat_database_url ostchat_database_read_url
         ostchat_session_secret ostchat_admin_token pgadmin_password traefik_dashboard_users
         pgbackrest_secrets)
started=$(date +%s)
state=$(mktemp -d /tmp/ostchat-swarm-test.XXXXXX)
chmod 700 "$state"

# Undo steps, run last-in first-out at exit, whatever happens.
undo=()
at_exit() {
    local status=$?
    if [ -n "${KEEP:-}" ]; then
        step "KEEP is set: leaving the stack and everything it needs up"
        return
    fi
    step "Cleaning up what this test set up"
    for ((i = ${#undo[@]} - 1; i >= 0; i--)); do
        eval "${undo[$i]}" || echo "   (could not: ${undo[$i]})"
    done
    rm -rf "$state"
    echo "Swarm test finished in $(( $(date +%s) - started )) s"
    exit "$status"
}
trap at_exit EXIT

stop_dockerd() {
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 30); do
        kill -0 "$1" 2>/dev/null || { echo "   dockerd stopped"; return 0; }
        sleep 1
    done
    echo "   dockerd did not stop within 30 s; stop it by hand (kill $1)"
}

wait_for() { # SECONDS WHAT COMMAND...: retries COMMAND each second
    local limit=$1 what=$2; shift 2
    local t0; t0=$(date +%s)
    until "$@" >/dev/null 2>&1; do
        if (( $(date +%s) - t0 > limit )); then
            [ -n "${DEPLOYED:-}" ] && diagnose
            fail "$what did not happen within ${limit}s"
        fi
        sleep 1
    done
}

# ---- Docker engine and swarm
if ! command -v dockerd >/dev/null; then
    step "Installing Docker from Debian (apt-get install docker.io; about 40 s)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null \
        || fail "could not install docker.io; run 'apt-get install docker.io' by hand and retry"
fi
if ! docker info >/dev/null 2>&1; then
    step "Starting dockerd (log: $state/dockerd.log)"
    # Started directly (not through a function, which would run in a
    # subshell), so $! is dockerd, or sudo, which passes signals on.
    if [ "$(id -u)" -eq 0 ]; then
        dockerd >"$state/dockerd.log" 2>&1 &
    else
        sudo dockerd >"$state/dockerd.log" 2>&1 &
    fi
    dockerd_pid=$!
    undo+=("stop_dockerd $dockerd_pid")
    wait_for 30 "dockerd answering" docker info
fi
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
    step "Creating a single-node swarm"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    undo+=("docker swarm leave --force >/dev/null && echo '   swarm left'")
    own_swarm=1
fi
node=$(docker info --format '{{.Swarm.NodeID}}')
# The one node stands for the three database nodes (deploy/README.md).
for label in ostchat.db1 ostchat.db2 ostchat.db3; do
    if [ -z "${own_swarm:-}" ] && [ "$(docker node inspect "$node" --format "{{index .Spec.Labels \"$label\"}}")" != "true" ]; then
        undo+=("docker node update --label-rm $label $node >/dev/null")
    fi
    docker node update --label-add "$label=true" "$node" >/dev/null
done
if ! docker network inspect "$NETWORK" >/dev/null 2>&1; then
    docker network create --driver overlay --attachable "$NETWORK" >/dev/null
    undo+=("docker network rm $NETWORK >/dev/null")
fi

# ---- Images
ensure_wasm_target
build_all
step "Building the host image $CHAT_TEST_IMAGE (deploy/Dockerfile, target minispin, prebuilt runner)"
# A build context of its own holding just the file system (target/ may be
# a symlink, which a build context does not follow).
deploy/image/rootfs.sh "$state/context/target/image-rootfs"
DOCKER_BUILDKIT=1 /usr/bin/docker build -q -f deploy/Dockerfile --target minispin \
    --build-arg ARTIFACTS=prebuilt -t "$CHAT_TEST_IMAGE" "$state/context" >/dev/null
docker image ls "$CHAT_TEST_IMAGE" --format '   {{.Repository}}:{{.Tag}} {{.Size}}'
step "Building the test images for what cannot be pulled here (deploy/test/images.sh)"
deploy/test/images.sh

# ---- Secrets
step "Creating the stack's secrets (random values)"
random() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
random > "$state/postgres_password"
random > "$state/postgres_replication_password"
app_password=$(random)
printf 'postgres://ostchat_app:%s@postgres:6432/ostchat?sslmode=disable' "$app_password" > "$state/ostchat_database_url"
printf 'postgres://ostchat_app:%s@postgres:6433/ostchat?sslmode=disable' "$app_password" > "$state/ostchat_database_read_url"
random > "$state/ostchat_session_secret"
random > "$state/ostchat_admin_token"
random > "$state/pgadmin_password"
printf 'admin:%s\n' "$(openssl passwd -apr1 "$(random)")" > "$state/traefik_dashboard_users"
printf '[global]\nrepo1-cipher-pass=%s\n' "$(random)" > "$state/pgbackrest_secrets"
for s in "${SECRETS[@]}"; do
    if docker secret inspect "$s" >/dev/null 2>&1; then
        fail "a secret named $s exists already; remove the stack that uses it (or the secret) first"
    fi
    docker secret create "$s" "$state/$s" >/dev/null
    undo+=("docker secret rm $s >/dev/null")
done

# ---- The stack files accept no variables at all (their defaults)
step "Checking deploy/stack.yml and deploy/portainer.yml with no variables set (docker stack config)"
env -i PATH="$PATH" HOME="$HOME" docker stack config -c deploy/stack.yml >/dev/null
env -i PATH="$PATH" HOME="$HOME" docker stack config -c deploy/portainer.yml >/dev/null

# ---- The stack: deploy/stack.yml with test variables only
export MY_DOMAIN=$DOMAIN TRAEFIK_DOMAIN=traefik.localhost PGADMIN_DOMAIN=pgadmin.localhost
export ACME_EMAIL=test@example.com ACME_CA_SERVER=https://127.0.0.1:9/directory
export HTTP_PORT HTTPS_PORT CHAT_IMAGE=$CHAT_TEST_IMAGE MIGRATE_IMAGE=$CHAT_TEST_IMAGE
export TRAEFIK_IMAGE=$TRAEFIK_TEST_IMAGE CHAT_REPLICAS=3
# The checks create rooms and mute with the break-glass admin token, which
# the stack leaves off unless told.
export ADMIN_TOKEN_FILE=/run/secrets/ostchat_admin_token
export PATRONI_IMAGE=$PATRONI_TEST_IMAGE ETCD_IMAGE=$ETCD_TEST_IMAGE HAPROXY_IMAGE=$HAPROXY_TEST_IMAGE
# Both HAProxy tasks on the one node.
export POSTGRES_ROUTERS_PER_NODE=2
export CACHE_IMAGE=$CACHE_TEST_IMAGE CACHE_REPLICAS=2 CACHE_REPLICAS_PER_NODE=2
# Prometheus, scraping every host and Traefik. Debian builds its Prometheus
# (2.53) without the OTLP receiver, which only real Spin hosts would push
# to: another valid option stands in for the stack's OTLP flag.
export PROMETHEUS_REPLICAS=1 PROMETHEUS_IMAGE=$PROMETHEUS_TEST_IMAGE
export PROMETHEUS_OTLP_FLAG=--web.enable-remote-write-receiver
step "Checking the stack file (docker stack config)"
docker stack config -c deploy/stack.yml >/dev/null
step "Deploying deploy/stack.yml as stack $STACK"
undo+=("remove_stack")
remove_stack() {
    docker stack rm "$STACK" >/dev/null 2>&1 || true
    # Secrets, networks and volumes can go only once the tasks are gone.
    local t0; t0=$(date +%s)
    while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] \
        || docker network inspect "${STACK}_backend" >/dev/null 2>&1 \
        || docker network inspect "${STACK}_database" >/dev/null 2>&1; do
        (( $(date +%s) - t0 > 90 )) && break
        sleep 1
    done
    local v
    for v in pg1data pg2data pg3data pgbackrest etcd1data etcd2data etcd3data letsencrypt pgadmin prometheus; do
        docker volume rm "${STACK}_$v" >/dev/null 2>&1 || true
    done
    echo "   stack $STACK removed"
}
docker stack deploy --resolve-image never --detach=true -c deploy/stack.yml "$STACK" >/dev/null
DEPLOYED=1
# What a failed wait prints: each service's tasks and its last log lines.
diagnose() {
    local s
    for s in migrate pg1 pg2 pg3 postgres etcd1 chat cache; do
        echo "--- ${STACK}_$s"
        docker service ps "${STACK}_$s" --no-trunc --format '{{.Name}} {{.CurrentState}} {{.Error}}' 2>&1 | sed -n 1,4p || true
        docker service logs --tail 15 "${STACK}_$s" 2>&1 | cut -c1-300 || true
    done
    return 0
}

# pgAdmin's official image cannot be pulled here and no stand-in is built;
# stop its futile retries (its service, config and routing are still checked
# by `docker stack config` above).
docker service scale --detach=true "${STACK}_pgadmin=0" >/dev/null

curl_chat() { curl -fsS -k --max-time 5 --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" "https://$DOMAIN:$HTTPS_PORT$1"; }
migrated() { docker service ps "${STACK}_migrate" --format '{{.CurrentState}}' | grep '^Complete' >/dev/null; }
step "Waiting for the database cluster, the migration job, 3 hosts, Traefik and Prometheus (at most 5 minutes)"
# A leader, its synchronous standby and a replica, as Patroni lists them.
cluster_ready() {
    local c
    c=$(docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_pg1")
    [ -n "$c" ] && docker exec "$c" patronictl -c /etc/patroni list -f json | python3 -c '
import json, sys
members = json.load(sys.stdin)
roles = sorted(m["Role"] for m in members if m["State"] in ("running", "streaming"))
sys.exit(0 if roles == ["Leader", "Replica", "Sync Standby"] else 1)'
}
wait_for 240 "the database cluster electing a leader with a synchronous standby and a replica" cluster_ready
wait_for 180 "the migration job completing" migrated
wait_for 120 "the chat answering through Traefik" curl_chat /api/health
# Polls go through the cache tier (Traefik's chat-read router).
cache_answers() {
    curl -fsS -k --max-time 5 --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" -o /dev/null -D - \
        "https://$DOMAIN:$HTTPS_PORT/api/poll?room=general&after=0&limit=1" | grep -i '^x-cache:' >/dev/null
}
wait_for 60 "polls being answered through the cache" cache_answers
docker service ls --filter "label=com.docker.stack.namespace=$STACK" --format '   {{.Name}} {{.Replicas}} {{.Image}}'

# ---- Under load
step "Scenarios through Traefik on 127.0.0.1:$HTTPS_PORT (about 9 minutes)"
target/release/swarm-check \
    --url "https://$DOMAIN:$HTTPS_PORT" --connect "127.0.0.1:$HTTPS_PORT" \
    --http-url "http://127.0.0.1:$HTTP_PORT" --stack "$STACK" \
    --admin-token-file "$state/ostchat_admin_token" --replicas 3 \
    ${SWARM_SCENARIOS:+--scenarios "$SWARM_SCENARIOS"}
