#!/usr/bin/env bash
# cairn and Ansible's amazon.aws / community.aws collections side by side,
# in one run against one moto: the same resources described to both, each
# tool converging them (create, a run with nothing to do, one change,
# destroy). Prints a Markdown table for BENCHMARKS.md.
#
# Workloads: "chat", the chat stack's resources both tools can express and
# moto can take from both (the rate-limit and conversations tables with
# TTL, two log groups, the function's role with an inline policy, three
# alarms: 8 cairn resources; amazon.aws has no HTTP API module, and moto's
# ScheduleKeyDeletion fails on the key ARN amazon.aws.kms_key sends, so the
# KMS key stays out); "50+50", 50 tables and 50 alarms.
#
# Ansible 12.3.0 (the last release for Python 3.11, which this machine
# has) is installed from PyPI into $CARGO_TARGET_DIR/ansible-bench. Its
# community.aws dynamodb_table module reads TableId and TableSizeBytes,
# which moto leaves out of DescribeTable; the script patches those two
# reads in its own virtualenv (to .get) and says so in its output.
#
# Usage: scripts/bench-ansible.sh   (CAIRN_BENCH_PROFILE=dev: debug cairn)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
build_cairn

venv="$CARGO_TARGET_DIR/ansible-bench"
marker="$venv/ansible-12.3.0-boto3-1.44.8-patched"
if [ ! -e "$marker" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check ansible==12.3.0 boto3==1.44.8
  module=$(ls "$venv"/lib/python3*/site-packages/ansible_collections/community/aws/plugins/modules/dynamodb_table.py)
  grep -q 'table\["id"\] = table\["table_id"\]' "$module"
  sed -i 's/table\["id"\] = table\["table_id"\]/table["id"] = table.get("table_id")/; s/table\["size"\] = table\["table_size_bytes"\]/table["size"] = table.get("table_size_bytes")/' "$module"
  touch "$marker"
fi

start_moto
work=$(mktemp -d)
trap 'stop_moto; rm -rf "$work"' EXIT
# start_moto exported AWS_ENDPOINT_URL and test credentials; the
# collections read the endpoint from AWS_URL.
export AWS_URL="$AWS_ENDPOINT_URL"
# moto builds every service's backend on the first call to the tagging
# API (about 2 s): a one-time cost of the emulator, paid here, before
# either tool is timed.
"$venv/bin/python" -c 'import boto3, os; boto3.client("resourcegroupstaggingapi", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).get_resources()'
export ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python" ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_HOME="$work/ansible-home" ANSIBLE_NOCOLOR=1

# Both descriptions from one list: stacks for cairn, playbooks for Ansible.
# $1 workload, $2 state (present/absent), $3 threshold of the first alarm.
generate() {
  python3 - "$@" <<'PY'
import json, sys
workload, state, first_threshold, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
alarms, tables = [], []
if workload == "chat":
    tables = [("rate_limit", ("ip", "S"), ("window_start", "N")),
              ("conversations", ("session_id", "S"), ("timestamp", "N"))]
    alarms = ["rate_limit_hits", "function_errors", "function_throttles"]
else:
    tables = [(f"table{i}", ("pk", "S"), None) for i in range(50)]
    alarms = [f"alarm{i}" for i in range(50)]
prefix = {"chat": "chat", "50+50": "many"}[workload]

# cairn: physical names are PROJECT-ENV-NAME.
yaml = [f"project: cb{prefix}", "environment: b", "resources:"]
for name, hash_key, range_key in tables:
    props = {"hash_key": {"name": hash_key[0], "type": hash_key[1]}, "billing_mode": "PAY_PER_REQUEST"}
    if range_key:
        props["range_key"] = {"name": range_key[0], "type": range_key[1]}
        props["ttl_attribute"] = "expires_at"
    yaml.append(f"  {name}:\n    type: dynamodb_table\n    properties: {json.dumps(props)}")
for i, name in enumerate(alarms):
    threshold = first_threshold if i == 0 else i + 1
    props = {"namespace": "Bench", "metric_name": f"M{i}", "statistic": "Sum", "period": 60,
             "evaluation_periods": 1, "threshold": threshold, "comparison_operator": "GreaterThanThreshold"}
    yaml.append(f"  {name}:\n    type: cloudwatch_alarm\n    properties: {json.dumps(props)}")
if workload == "chat":
    for name in ["function_logs", "api_access_logs"]:
        yaml.append(f"  {name}:\n    type: log_group\n    properties: {{retention_in_days: 14}}")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Resource": "${rate_limit.arn}"}]}
    yaml.append(f"  function_role:\n    type: iam_role\n    properties: {{assume_role_services: [lambda.amazonaws.com], inline_policies: {{tables: {json.dumps(policy)}}}}}")
open(f"{out}/stack.yaml", "w").write("\n".join(yaml) + "\n")

# Ansible: the same, named ab<prefix>-b-NAME.
p = f"ab{prefix}-b"
tasks = []
present = state == "present"
def task(module, args, loop=None):
    t = {"name": module, module: args}
    if loop is not None:
        t["loop"] = loop
    tasks.append(t)
table_items = [{"name": f"{p}-{n}", "hash": h[0], "htype": {"S": "STRING", "N": "NUMBER"}[h[1]],
                "range": r[0] if r else None, "rtype": ({"S": "STRING", "N": "NUMBER"}[r[1]] if r else None)}
               for n, h, r in tables]
alarm_items = [{"name": f"{p}-{n}", "metric": f"M{i}", "threshold": first_threshold if i == 0 else i + 1}
               for i, n in enumerate(alarms)]
if workload == "chat" and not present:
    # Absent: dependents first, as cairn's graph orders them.
    task("amazon.aws.iam_role", {"name": f"{p}-function_role", "state": "absent"})
task("community.aws.dynamodb_table", {"name": "{{ item.name }}", "hash_key_name": "{{ item.hash }}",
     "hash_key_type": "{{ item.htype }}", "range_key_name": "{{ item.range | default(omit, true) }}",
     "range_key_type": "{{ item.rtype | default(omit, true) }}", "billing_mode": "PAY_PER_REQUEST",
     "state": state}, table_items)
if present:
    ttl = [t for t in table_items if t["range"]]
    if ttl:
        task("community.aws.dynamodb_ttl", {"table_name": "{{ item.name }}", "attribute_name": "expires_at",
             "state": "enable"}, ttl)
task("amazon.aws.cloudwatch_metric_alarm", {"name": "{{ item.name }}", "namespace": "Bench",
     "metric_name": "{{ item.metric }}", "statistic": "Sum", "period": 60, "evaluation_periods": 1,
     "threshold": "{{ item.threshold }}", "comparison": "GreaterThanThreshold", "state": state}, alarm_items)
if workload == "chat":
    task("amazon.aws.cloudwatchlogs_log_group", {"log_group_name": "{{ item }}", "retention": 14,
         "state": state}, [f"{p}-function_logs", f"{p}-api_access_logs"])
    if present:
        task("amazon.aws.iam_role", {"name": f"{p}-function_role", "state": "present",
             "assume_role_policy_document": json.dumps({"Version": "2012-10-17", "Statement": [
                 {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
             "purge_policies": False})
        task("amazon.aws.iam_policy", {"iam_type": "role", "iam_name": f"{p}-function_role",
             "policy_name": "tables", "state": "present",
             "policy_json": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                 "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                 "Resource": f"arn:aws:dynamodb:us-east-1:123456789012:table/{p}-rate_limit"}]})})
play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
open(f"{out}/playbook.yml", "w").write(json.dumps(play, indent=1))
PY
}

seconds() { local start=$1 end; end=$(date +%s.%N); echo "$end - $start" | bc; }

# $1 label, then the command; prints the wall time, fails loudly.
timed() {
  local start; start=$(date +%s.%N)
  if ! "$@" >"$work/out" 2>&1; then cat "$work/out" >&2; echo "failed: $*" >&2; exit 1; fi
  seconds "$start"
}

run_cairn() { # workload state threshold
  generate "$1" present "$3" "$work"
  case $2 in
    destroy) timed "$cairn" --state-dir "$work/state" --no-color destroy "$work/stack.yaml" --auto-approve ;;
    *) timed "$cairn" --state-dir "$work/state" --no-color apply "$work/stack.yaml" --auto-approve ;;
  esac
}

run_ansible() { # workload state threshold
  generate "$1" "$([ "$2" = destroy ] && echo absent || echo present)" "$3" "$work"
  timed "$venv/bin/ansible-playbook" -i localhost, "$work/playbook.yml"
}

echo "ansible-core $("$venv/bin/ansible" --version | head -1 | sed 's/.*\[core //; s/\]//') (ansible 12.3.0: amazon.aws $("$venv/bin/ansible-galaxy" collection list amazon.aws 2>/dev/null | awk '/amazon.aws/{print $2}'), community.aws $("$venv/bin/ansible-galaxy" collection list community.aws 2>/dev/null | awk '/community.aws/{print $2}')); community.aws dynamodb_table patched to read TableId/TableSizeBytes with .get (moto omits them)."
echo "cairn: ${CAIRN_BENCH_PROFILE:-release} build. moto $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '(version unknown)')."
echo
echo "| workload | step | cairn | Ansible | Ansible / cairn |"
echo "|---|---|---:|---:|---:|"
for workload in chat 50+50; do
  rm -rf "$work/state"
  for step in create no-op "one change" destroy; do
    threshold=1; [ "$step" = "one change" ] && threshold=1000
    [ "$step" = destroy ] && threshold=1000
    c=$(run_cairn "$workload" "$step" "$threshold")
    a=$(run_ansible "$workload" "$step" "$threshold")
    printf '| %s | %s | %.2f s | %.2f s | %.0fx |\n' "$workload" "$step" "$c" "$a" "$(echo "$a / $c" | bc -l)"
  done
done
