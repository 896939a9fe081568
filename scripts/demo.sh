#!/usr/bin/env bash
# The main job end to end on a local AWS emulator: validate, plan, apply,
# plan (no changes), an out-of-band change, plan (shows it), apply, destroy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}"

step "building cairn and the chat runtime"
cargo build --quiet --workspace --bins
cairn="$CARGO_TARGET_DIR/debug/cairn"
runtime="$CARGO_TARGET_DIR/debug/chat-runtime"

start_moto
state_dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; stop_moto; rm -rf "$state_dir"' EXIT

step "validate"
run validate dev
step "the shared state table (stacks/base.yaml keeps state in DynamoDB, one key per environment)"
run state init-backend dev
step "plan"
run plan dev
step "apply"
run apply dev --auto-approve
step "plan again: nothing to do"
run plan dev --detailed-exitcode --stats
step "out-of-band change with boto3: log retention 30 days, function memory 256 MB, an alarm threshold 99"
python3 - <<'PY'
import boto3
boto3.client("logs").put_retention_policy(logGroupName="/aws/lambda/mta-chat-dev-chat", retentionInDays=30)
boto3.client("lambda").update_function_configuration(FunctionName="mta-chat-dev-chat", MemorySize=256)
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
step "drift: the same, as the Markdown report the daily CI job posts (exit code 2 means drift)"
set +e
run drift dev --format markdown
code=$?
set -e
[ "$code" = 2 ] || { echo "expected exit code 2"; exit 1; }
step "apply: put AWS back to the stack"
run apply dev --auto-approve
step "outputs: the API endpoint and the rest"
run output dev
step "state history: every save is a version in the shared table"
run state history dev > "$state_dir/history.txt"
head -n 6 "$state_dir/history.txt"

step "the chat runtime, locally, against the tables cairn created (the model is a local echo server speaking OpenAI's format; it says how many earlier messages conversation memory gave it)"
table=$("$cairn" --state-dir "$state_dir" output dev table_name)
conversations=$("$cairn" --state-dir "$state_dir" output dev conversations_table)
model_port=$(free_port)
python3 scripts/echo_model.py "$model_port" &
pids+=($!)
runtime_port=$(free_port)
RATE_LIMIT_TABLE="$table" CONVERSATIONS_TABLE="$conversations" RATE_LIMIT_MAX_REQUESTS=10 MODEL_PROVIDER=openai OPENAI_BASE_URL="http://127.0.0.1:$model_port/v1" \
  "$runtime" serve --port "$runtime_port" >"$state_dir/runtime.log" &
pids+=($!)
python3 - "$runtime_port" <<'PY'
import json, sys, time, urllib.error, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(200):
    try:
        urllib.request.urlopen(url + "/health").read(); break
    except Exception:
        time.sleep(0.05)
if time.time() % 60 > 55:  # keep all eleven requests in one minute window
    time.sleep(60 - time.time() % 60 + 0.1)
for i in range(1, 12):
    request = urllib.request.Request(url + "/chat", data=json.dumps({"message": f"question {i}"}).encode(), headers={"content-type": "application/json"})
    try:
        response = urllib.request.urlopen(request)
        status, headers, body = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        status, headers, body = e.code, e.headers, e.read().decode()
    print(f"POST /chat #{i}: {status} remaining={headers['x-ratelimit-remaining']} {body}")
    if i == 11 and status != 429:
        sys.exit("expected the 11th request to be rate limited")
PY
step "destroy"
run destroy dev --auto-approve
step "done: everything created was destroyed"
