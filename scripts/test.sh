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

# The benchmark in its short smoke mode: it must run and print a complete
# table (no timing thresholds here; figures belong in BENCHMARKS.md).
step "Benchmark smoke run (ostchat-bench --smoke)"
cargo run --release -q -p bench -- --smoke

step "Running the tests (cargo test --release)"
cargo test --release -p chat -p minispin -p e2e
