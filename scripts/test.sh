#!/usr/bin/env bash
# Runs every test: unit tests of the domain and the runner, and end-to-end
# tests of the real .wasm components under minispin against real Postgres.
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_postgres
ensure_roles
ensure_chromium
build_all
step "Building the probe component the Spin-compatibility tests run"
cargo build --release --target wasm32-wasip2 -p spin-probe

# The benchmark in its short smoke mode: it must run and print a complete
# table (no timing thresholds here; figures belong in BENCHMARKS.md).
step "Benchmark smoke run (ostchat-bench --smoke)"
cargo run --release -q -p bench -- --smoke

step "Running the tests (cargo test --release)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --all-targets: every unit and integration test; no doc-tests (there are
# none), whose empty "0 passed" summary would otherwise close the output.
cargo test --release --all-targets -p chat -p minispin -p e2e 2>&1 | tee "$log"
passed=$(grep -o '[0-9]* passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -o '[0-9]* failed' "$log" | awk '{s += $1} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
