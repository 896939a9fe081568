#!/usr/bin/env bash
# No-op plan of the shipped dev stack, whose function is built from
# runtime/ by cairn, against the same stack with the same package as a
# prebuilt zip; then from a fresh clone of the repository sharing the
# package cache. Median of 5 runs each, on moto, local state.
# Usage: scripts/bench-package.sh   (CAIRN_BENCH_PROFILE=dev for a debug cairn)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
build_cairn
start_moto
work=$(mktemp -d)
trap 'stop_moto; rm -rf "$work"' EXIT

median_plan() { # label stack-dir
  local times=()
  for _ in 1 2 3 4 5; do
    local start end
    start=$(date +%s.%N)
    "$cairn" --state-dir "$work/state" --local-state --no-color plan dev --stack-dir "$2" --detailed-exitcode >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '| %-58s | %6.3f s |\n' "$1" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)"
}

"$cairn" --state-dir "$work/state" --local-state --no-color apply dev --auto-approve >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
zip=$("$cairn" --local-state build dev | sed -n 's/^lambda_function.chat: \(.*\) (.*/\1/p')
mkdir -p "$work/prebuilt"
cp stacks/dev.yaml "$work/prebuilt/"
sed "s|code: { cargo: ../runtime }|code: { zip: $zip }|" stacks/base.yaml >"$work/prebuilt/base.yaml"
git clone --quiet . "$work/clone"

echo "| dev stack, no-op plan (cairn ${CAIRN_BENCH_PROFILE:-release} build) | median of 5 |"
echo "|---|---:|"
median_plan "function built by cairn (package cache warm)" stacks
median_plan "function from the same zip, prebuilt" "$work/prebuilt"
median_plan "fresh clone elsewhere, package cache warm" "$work/clone/stacks"
start=$(date +%s.%N)
"$cairn" --local-state build dev >/dev/null 2>&1
printf '| %-58s | %6.3f s |\n' "cairn build dev alone" "$(echo "$(date +%s.%N) - $start" | bc)"
