#!/usr/bin/env bash
# Runs every test: unit tests of the domain and the runner, end-to-end tests
# of the real .wasm components under minispin against real Postgres, the
# contract check (schemathesis against /api/openapi.json), a short run of
# every fuzz target, and the Swarm test (deploy/test/swarm-test.sh: the production stack on a real
# single-node Swarm, under load, while hosts and Postgres are replaced).
# OSTCHAT_SKIP_SWARM=1 skips the Swarm test (it needs root and Docker).
cd "$(dirname "$0")/.."
source scripts/lib.sh

check_pipelines
ensure_wasm_target
ensure_postgres
ensure_roles
ensure_replica
ensure_patroni
ensure_varnish
ensure_chromium
ensure_schemathesis
ensure_cargo_fuzz
ensure_traefik
ensure_node
ensure_axe
build_all
step "Building the probe component the Spin-compatibility tests run"
cargo build --release --target wasm32-wasip2 -p spin-probe

# The benchmark in its short smoke mode: it must run and print a complete
# table, the steps through a real Traefik included (no timing thresholds
# here; figures belong in BENCHMARKS.md).
step "Benchmark smoke run (ostchat-bench --smoke, with Traefik $TRAEFIK_VERSION in front of the runner for its last steps)"
# The binary build_all built (`cargo run -p bench` would resolve features
# for the benchmark alone, and build its dependencies a second time).
target/release/ostchat-bench --smoke --traefik "$TRAEFIK_BIN"

step "Running the tests (cargo test --release)"
log=$(mktemp)
trap 'rm -f "$log" "$log.tap"' EXIT
# --all-targets: every unit and integration test; no doc-tests (there are
# none), whose empty "0 passed" summary would otherwise close the output.
# The same package set as build_all, so the tests reuse its build.
cargo test --release --all-targets "${NATIVE_PACKAGES[@]}" 2>&1 | tee "$log"

# The page's modules without a DOM (components/static/assets/js), under
# Node's own test runner; the browser tests above cover the rest.
step "The page's unit tests (node --test components/static/tests)"
# The readable report on the terminal, the TAP one (its "# pass N") counted.
node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$log.tap" components/static/tests/*.test.js
cat "$log.tap" >> "$log"

step "The contract check (scripts/contract-check.sh)"
scripts/contract-check.sh

# Every fuzz target for 20 s from the committed corpus (fuzz/README.md).
step "Fuzzing (scripts/fuzz.sh 20)"
scripts/fuzz.sh 20

# cargo's summary lines: "test result: ok. 12 passed; 0 failed; ...".
# node's: "# pass 30", "# fail 0".
count() {
    awk -v what="$1" '/^test result:/ {for (i = 1; i < NF; i++) if ($(i + 1) ~ "^" what) s += $i}
        $1 == "#" && $2 == substr(what, 1, 4) && NF == 3 {s += $3} END {print s + 0}' "$log"
}
passed=$(count passed)
failed=$(count failed)

if [ -n "${OSTCHAT_SKIP_SWARM:-}" ]; then
    swarm="skipped (OSTCHAT_SKIP_SWARM is set)"
else
    step "The Swarm test (deploy/test/swarm-test.sh)"
    deploy/test/swarm-test.sh
    swarm="passed"
fi
echo
echo "tests: $passed passed, $failed failed; contract check: passed; fuzzing: no crash; Swarm test: $swarm"
