#!/usr/bin/env bash
# Runs every test. Tests that need AWS start their own moto on a free
# loopback port and stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
# Keep the (slow to build) AWS SDK crates warm across runs and checkouts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
# Formatting first: it takes a second. The type files that `registry!`
# declares are out of `cargo fmt`'s reach, so rustfmt reads them directly.
if command -v rustfmt >/dev/null; then
  cargo fmt --all --check
  rustfmt --edition 2021 --check src/types/*.rs
fi
cargo test --workspace --locked "$@"
