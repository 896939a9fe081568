#!/usr/bin/env bash
# Lambda-mode figures: the `bootstrap` that `cairn build dev` zips, run
# under cargo-lambda's emulator of the Lambda runtime API (cold start as
# Lambda sees it, warm latency p50/p99, peak memory), DynamoDB on moto, the
# model faked. With MTA_INFRA set to a clone of the MTA chat backend's
# repository (github.com/makawtharani/mta-infra), its Python handler is
# measured beside it on the same moto.
#
#   bash scripts/bench-lambda.sh
#   MTA_INFRA=~/src/mta-infra bash scripts/bench-lambda.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
if [ -n "${MTA_INFRA:-}" ]; then
  venv="$CARGO_TARGET_DIR/mta-python"
  if ! "$venv/bin/python" -c "import boto3" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "boto3==1.44.8"
  fi
  source_dir=$(mktemp -d)
  trap 'rm -rf "$source_dir"' EXIT
  git -C "$MTA_INFRA" archive HEAD modules/lambda_chat/src | tar -x -C "$source_dir"
  export MTA_PYTHON="$venv/bin/python" MTA_PYTHON_SRC="$source_dir/modules/lambda_chat/src"
fi
cargo test --quiet --test runtime -- --ignored --nocapture lambda_mode_figures 2>&1 |
  grep -v -E '^(running|test |$)|test result'
