#!/usr/bin/env bash
# Holds the running server to its published contract (crates/chat/openapi.json,
# served at /api/openapi.json): schemathesis, with every check it has,
# against the real components under minispin on a fresh database.
#
# Expects what scripts/test.sh prepares (Postgres with the ostchat roles, the
# components and minispin built); installs schemathesis (pinned, from PyPI)
# into a virtualenv if missing.
# Bounded so it fits in CI: CONTRACT_SECONDS of run time (default 150; the
# fuzzing and stateful phases repeat until it is spent), CONTRACT_EXAMPLES
# test cases per operation and round (default 50). A fixed seed
# (CONTRACT_SEED, default 1) makes a failure reproducible.
#
# The rate limits are raised for this run: schemathesis sends hundreds of
# posts in seconds from one address, and a 429 would cut its exploration
# short. The limits have their own tests (crates/e2e/tests/limits.rs).
#
# CONTRACT_URL=http://host:port (with CONTRACT_ADMIN_TOKEN, the host's admin
# token) checks a running host instead, real Spin for instance: no database
# or runner is made, and its rate limits must be raised as above.
#
# One worker, always: schemathesis' workers are threads, and CPython 3.11's
# AST constructor keeps its recursion depth in interpreter-wide state since
# python/cpython#95185, so two threads building ASTs at once (hypothesis
# does, in the coverage phase) can end a run with "SystemError: AST
# constructor recursion depth mismatch" ("Runtime Error" in the report)
# although every case passed. Timing decides whether it strikes, which is
# why a slower host (real Spin) met it with --workers 4 and the runner did
# not (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

examples="${CONTRACT_EXAMPLES:-50}"
seconds="${CONTRACT_SECONDS:-150}"
seed="${CONTRACT_SEED:-1}"
db="ostchat_contract_$$"
port="${CONTRACT_PORT:-3917}"
base="http://127.0.0.1:$port"
report="${CONTRACT_REPORT_DIR:-target/contract}"

ensure_schemathesis

runner=""
if [ -n "${CONTRACT_URL:-}" ]; then
    base="${CONTRACT_URL%/}"
    admin="${CONTRACT_ADMIN_TOKEN:?set CONTRACT_ADMIN_TOKEN to the admin token of $CONTRACT_URL}"
    curl -fsS "$base/api/health" >/dev/null || fail "$base/api/health does not answer; start the host, or unset CONTRACT_URL to check a local runner"
    mkdir -p "$report"
    : >"$report/runner.log"
else
    [ -x target/release/minispin ] || fail "target/release/minispin is missing; run ./scripts/test.sh (it builds everything first)"
    cleanup() {
        [ -n "$runner" ] && kill "$runner" 2>/dev/null && wait "$runner" 2>/dev/null
        psql -q "$OWNER_URL/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    }
    trap cleanup EXIT

    step "Contract check: a fresh database ($db) with the migrations"
    psql -q "$OWNER_URL/postgres?sslmode=disable" -c "CREATE DATABASE $db"
    ./target/release/minispin migrate --database "$OWNER_URL/$db?sslmode=disable" --dir sql

    admin="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    mkdir -p "$report"
    step "Contract check: serving the app on $base (log: $report/runner.log)"
    SPIN_VARIABLE_DATABASE_URL="postgres://ostchat_app:ostchat_app@127.0.0.1:5432/$db?sslmode=disable" \
    SPIN_VARIABLE_DB_HOST="127.0.0.1:5432" \
    SPIN_VARIABLE_SESSION_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    SPIN_VARIABLE_ADMIN_TOKEN="$admin" \
    SPIN_VARIABLE_POST_BURST=1000000 SPIN_VARIABLE_POSTS_PER_MINUTE=1000000 \
    SPIN_VARIABLE_SESSION_BURST=1000000 SPIN_VARIABLE_SESSIONS_PER_MINUTE=1000000 \
    SPIN_VARIABLE_LOGIN_BURST=1000000 SPIN_VARIABLE_LOGINS_PER_MINUTE=1000000 \
    RUST_LIB_BACKTRACE=0 \
        ./target/release/minispin up --manifest spin.toml --listen "127.0.0.1:$port" --strict \
        >"$report/runner.log" 2>&1 &
    runner=$!
    for _ in $(seq 100); do
        curl -fsS "$base/api/health" >/dev/null 2>&1 && break
        kill -0 "$runner" 2>/dev/null || { cat "$report/runner.log"; fail "minispin exited; its log is above"; }
        sleep 0.1
    done
    curl -fsS "$base/api/health" >/dev/null || fail "the runner did not become healthy on $base; see $report/runner.log"
fi

# A session for the operations that need one, and the admin token for room
# creation and mutes (scripts/contract.toml says which goes where).
CONTRACT_ADMIN_TOKEN="$admin"
CONTRACT_SESSION_TOKEN="$(curl -fsS -X POST -H 'content-type: application/json' -d '{"name":"contract"}' "$base/api/session" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')" \
    || fail "could not create a session for the contract check (POST $base/api/session); see $report/runner.log"
export CONTRACT_ADMIN_TOKEN CONTRACT_SESSION_TOKEN

step "Contract check: schemathesis, all checks, up to $examples cases per operation and ${seconds}s"
status=0
"$SCHEMATHESIS" --config-file scripts/contract.toml run "$base/api/openapi.json" \
    --checks all \
    --max-examples "$examples" \
    --max-time "$seconds" \
    --workers 1 \
    --seed "$seed" \
    --request-timeout 10 \
    --report junit --report-dir "$report" \
    --output-truncate true \
    || status=$?

# Whatever schemathesis found, the server must not have faulted: a 5xx
# logged by a component is a failure even if no check caught it.
if grep -E 'chat: 5[0-9][0-9] |panicked|wasm trap' "$report/runner.log"; then
    fail "the runner logged server faults during the contract check (lines above; full log: $report/runner.log)"
fi
[ "$status" -eq 0 ] || fail "schemathesis found the server breaking its contract (report above; a JUnit report is in $report)"
echo "contract check: passed"
