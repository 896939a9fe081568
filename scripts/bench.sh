#!/usr/bin/env bash
# Benchmark on moto: generated stacks of N resources (alarms, log groups,
# roles, tables in a fixed mix). Measures validate, no-op plan, apply from
# empty, Terraform's JSON plan and destroy: wall time, API calls per
# resource, peak memory. The wall time is mostly moto's (one Python
# process); "cairn's CPU" (user + system) is cairn's own share.
# Usage: scripts/bench.sh [N ...]   (default: 10 100 1000)
# CAIRN_BENCH_KIND=network: a VPC, its internet gateway and public route
# table, then subnets and security groups (two rules each) in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
build_cairn
start_moto
work=$(mktemp -d)
trap 'stop_moto; rm -rf "$work"' EXIT

measure() { # label n args...
  local label=$1 n=$2; shift 2
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$work/rss" "$cairn" --state-dir "$work/state" --no-color "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
  end=$(date +%s.%N)
  local calls; calls=$(grep '^API calls:' "$work/err" | awk '{print $3}' || true)
  [ -n "$calls" ] || calls=0
  local rss user sys; read -r rss user sys <"$work/rss"
  printf '| %5s | %-16s | %7.2f s | %6.2f s | %6.2f | %6d KB |\n' "$n" "$label" "$(echo "$end - $start" | bc)" "$(echo "$user + $sys" | bc)" "$(echo "scale=2; $calls / $n" | bc)" "$rss"
}

echo "| resources | step | wall time | cairn's CPU | API calls / resource | peak RSS |"
echo "|---:|---|---:|---:|---:|---:|"
for n in "${@:-10 100 1000}"; do
  for size in $n; do
    python3 - "$size" "${CAIRN_BENCH_KIND:-mixed}" >"$work/bench.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("project: bench\nenvironment: b\nresources:")
if sys.argv[2] == "network":
    print("  vpc:\n    type: vpc\n    properties: {cidr_block: 10.0.0.0/16}")
    print("  gateway:\n    type: internet_gateway\n    properties: {vpc_id: '${vpc.id}'}")
    print("  routes:\n    type: route_table\n    properties: {vpc_id: '${vpc.id}', routes: [{destination_cidr_block: 0.0.0.0/0, gateway_id: '${gateway.id}'}]}")
    for i in range(n - 3):
        if i % 2 == 0:
            print(f"  subnet{i}:\n    type: subnet\n    properties: {{vpc_id: '${{vpc.id}}', cidr_block: 10.0.{i // 2}.0/24}}")
        else:
            print(f"  group{i}:\n    type: security_group\n    properties: {{vpc_id: '${{vpc.id}}', ingress: [{{from_port: 443, to_port: 443, cidr_ipv4: 10.0.0.0/16}}], egress: [{{protocol: tcp, from_port: 443, to_port: 443, cidr_ipv4: 0.0.0.0/0}}]}}")
    sys.exit(0)
for i in range(n):
    kind = i % 10
    if kind < 6:
        print(f"  alarm{i}:\n    type: cloudwatch_alarm\n    properties: {{namespace: Bench, metric_name: M{i}, statistic: Sum, period: 60, evaluation_periods: 1, threshold: {i}, comparison_operator: GreaterThanThreshold}}")
    elif kind < 8:
        print(f"  logs{i}:\n    type: log_group\n    properties: {{retention_in_days: 7}}")
    elif kind == 8:
        print(f"  role{i}:\n    type: iam_role\n    properties: {{assume_role_services: [lambda.amazonaws.com]}}")
    else:
        print(f"  table{i}:\n    type: dynamodb_table\n    properties: {{hash_key: {{name: pk, type: S}}}}")
PY
    rm -rf "$work/state"
    measure validate "$size" validate "$work/bench.yaml"
    measure "apply (create)" "$size" apply "$work/bench.yaml" --auto-approve --stats
    measure "plan (no-op)" "$size" plan "$work/bench.yaml" --stats
    measure "plan --json"    "$size" plan "$work/bench.yaml" --json --stats
    measure destroy "$size" destroy "$work/bench.yaml" --auto-approve --stats
  done
done
