#!/usr/bin/env bash
# The main job end to end on a local AWS emulator: validate, plan, apply,
# plan (no changes), an out-of-band change, plan (shows it), apply, destroy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "building cairn"
cargo build --quiet --bin cairn
cairn="$CARGO_TARGET_DIR/debug/cairn"

start_moto
state_dir=$(mktemp -d)
trap 'stop_moto; rm -rf "$state_dir"' EXIT
run() { echo "\$ cairn $*"; "$cairn" --state-dir "$state_dir" "$@"; }

step "validate"
run validate dev
step "plan"
run plan dev
step "apply"
run apply dev --auto-approve
step "plan again: nothing to do"
run plan dev --detailed-exitcode --stats
step "out-of-band change: log retention set to 30 days and an alarm threshold to 99, with boto3"
python3 - <<'PY'
import boto3
boto3.client("logs").put_retention_policy(logGroupName="/aws/lambda/mta-chat-dev-chat", retentionInDays=30)
cw = boto3.client("cloudwatch")
alarm = cw.describe_alarms(AlarmNames=["mta-chat-dev-api-5xx-alarm"])["MetricAlarms"][0]
cw.put_metric_alarm(AlarmName=alarm["AlarmName"], AlarmDescription=alarm["AlarmDescription"], Namespace=alarm["Namespace"],
    MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"], Statistic=alarm["Statistic"], Period=alarm["Period"],
    EvaluationPeriods=alarm["EvaluationPeriods"], Threshold=99.0, ComparisonOperator=alarm["ComparisonOperator"],
    TreatMissingData=alarm["TreatMissingData"])
PY
step "plan: cairn sees the drift (exit code 2 means changes)"
set +e
run plan dev --detailed-exitcode
code=$?
set -e
echo "exit code: $code"
[ "$code" = 2 ] || { echo "expected exit code 2"; exit 1; }
step "apply: put AWS back to the stack"
run apply dev --auto-approve
step "outputs"
run output dev
step "destroy"
run destroy dev --auto-approve
step "done: everything created was destroyed"
