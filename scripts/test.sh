#!/usr/bin/env bash
# Runs every test. Tests that need AWS start their own moto on a free
# loopback port and stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
# Keep the (slow to build) AWS SDK crates warm across runs and checkouts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
cargo test --workspace --locked "$@"
