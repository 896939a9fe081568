#!/usr/bin/env bash
# A no-op plan against the floor AWS's request quotas set (issue 13, part
# 2): the 50 tables + 50 alarms stack and 1,000 mixed resources, on the
# bare emulator (against moto's own time for the same calls) and through a
# proxy that adds 40 ms to every call and throttles what exceeds AWS's
# published quotas (against calls / quota + one round trip). The proxy and
# the quotas are in tests/pace.rs. Prints a Markdown table.
# CAIRN_REFRESH_SIZES=1000,5000: the mixed stacks to measure (default 1000).
# Usage: scripts/bench-refresh.sh   (CAIRN_BENCH_PROFILE=release: measure
# a release build of cairn through the same harness; default: the debug
# build the tests use)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
if [ "${CAIRN_BENCH_PROFILE:-dev}" = release ]; then
  cargo build --quiet --release --bin cairn
  export CAIRN_TEST_BIN="$CARGO_TARGET_DIR/release/cairn"
fi
cargo test --quiet --test pace refresh_figures -- --ignored --nocapture 2>/dev/null | grep -E '^\||^\(quotas'
