#!/usr/bin/env bash
# Runs every test: unit tests of the domain and the runner, and end-to-end
# tests of the real .wasm components under minispin against real Postgres.
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_wasm_target
ensure_postgres
ensure_roles
build_all

step "Running the tests (cargo test --release)"
cargo test --release -p chat -p minispin -p e2e
