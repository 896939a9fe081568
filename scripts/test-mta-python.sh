#!/usr/bin/env bash
# The MTA chat backend's own Python function and cairn's runtime on the
# same tables (moto): shared rate-limit counts, each reading the other's
# conversations. MTA_INFRA is a clone of github.com/makawtharani/mta-infra.
#
#   MTA_INFRA=~/src/mta-infra bash scripts/test-mta-python.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MTA_INFRA:?set MTA_INFRA to a clone of the MTA chat backend repository}"
. scripts/moto.sh
ensure_moto
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
venv="$CARGO_TARGET_DIR/mta-python"
if ! "$venv/bin/python" -c "import boto3" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "boto3==1.44.8"
fi
source_dir=$(mktemp -d)
trap 'rm -rf "$source_dir"' EXIT
git -C "$MTA_INFRA" archive HEAD modules/lambda_chat/src | tar -x -C "$source_dir"
export MTA_PYTHON="$venv/bin/python" MTA_PYTHON_SRC="$source_dir/modules/lambda_chat/src"
cargo test --test runtime -- --ignored the_mta_python_function_and_the_runtime_share_the_mta_tables
