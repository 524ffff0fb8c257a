#!/usr/bin/env bash
# Runs the cargo fuzz targets (fuzz/README.md) for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 20: what scripts/test.sh runs, a smoke run
# that starts from the committed corpus); every target unless some are
# named. New inputs go to target/fuzz-corpus/TARGET, not into the repo; to
# grow the committed corpus, run longer and then `cargo fuzz cmin` (see
# fuzz/README.md). A crash stops the run and prints how to reproduce it.
#
# cargo fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them. No sanitizer: the code is safe Rust and
# the point is panics and wrong replies, which libFuzzer catches either
# way, at twice the speed. Debug assertions are on (-a), so integer
# overflow panics instead of wrapping.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(api json_bodies token manifest routes)

ensure_cargo_fuzz
export RUSTC_BOOTSTRAP=1
flags=(--sanitizer none --debug-assertions --target-dir ../target/fuzz)

step "Building the fuzz targets (fuzz/, instrumented for libFuzzer)"
(cd fuzz && cargo fuzz build "${flags[@]}")

summary=()
for t in "${targets[@]}"; do
    step "Fuzzing $t for ${seconds}s (corpus fuzz/corpus/$t)"
    mkdir -p "target/fuzz-corpus/$t" "fuzz/artifacts/$t"
    log="target/fuzz-corpus/$t.log"
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="dict/$t.dict")
    if ! (cd fuzz && cargo fuzz run "${flags[@]}" "$t" "../target/fuzz-corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}") \
        >"$log" 2>&1; then
        tail -60 "$log"
        fail "fuzz target $t failed (output above; full log: $log). Reproduce with: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none -a $t artifacts/$t/<file>)"
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo "?")
    summary+=("$(printf '%-12s %4ss %10s runs  coverage %s  no crash' "$t" "$seconds" "$runs" "$cov")")
done
echo
printf '%s\n' "fuzzing: every target ran without a crash" "${summary[@]}"
