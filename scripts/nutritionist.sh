#!/usr/bin/env bash
# The fourth seed system, the AI Nutritionist, end to end on a local AWS
# emulator: the frontend bucket behind CloudFront, the webhooks' API, the
# failed-messages queue feeding its processor, the daily planner, tables,
# alarms and the budget. Apply, plan with nothing to do, change the queue
# and the bucket's policy by hand (drift, put back by apply), upload the
# site, destroy (the frontend's objects go with it in dev: force_destroy),
# and list what the emulator still holds.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
use_cairn
start_moto
state_dir=$(mktemp -d)
trap 'stop_moto; rm -rf "$state_dir"' EXIT
stack=stacks/nutritionist/dev.yaml
# moto answers 500 to DescribeSubscribersForNotification, so the budget
# cannot be read back here: it is left out (tests/nutritionist.rs runs it
# through a proxy that answers for moto).
export CAIRN_VAR_budget=false

# The plan after an apply: on AWS it is empty. moto keeps no function's
# dead-letter target or environment key (tests/nutritionist.rs answers
# for moto through a proxy and sees the empty plan), so here the plan may
# set those two fields again on the functions, and nothing else.
settled() {
  echo "\$ cairn plan $stack --json"
  "$cairn" --state-dir "$state_dir" plan "$stack" --json | python3 -c '
import json, sys
plan = json.load(sys.stdin)
moto_drops = {"dead_letter_config", "kms_key_arn"}
left = []
for change in plan["resource_changes"]:
    actions = change["change"]["actions"]
    if actions == ["no-op"]:
        continue
    before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
    fields = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    if change["type"] != "aws_lambda_function" or actions != ["update"] or not fields <= moto_drops:
        left.append((change["address"], actions, sorted(fields)))
if left:
    sys.exit(f"the plan after apply is not empty: {left}")
print("  nothing to change but the fields moto does not keep on functions")
'
}

step "validate dev and prod"
run validate "$stack"
run validate stacks/nutritionist/prod.yaml
step "apply dev"
run apply "$stack" --auto-approve
step "plan again: nothing to do but what moto does not keep"
settled
step "out of band: the failed-messages queue's visibility cut, the frontend opened to another distribution"
python3 - <<'PY'
import boto3, json
sqs, s3 = boto3.client("sqs"), boto3.client("s3")
url = next(u for u in sqs.list_queues()["QueueUrls"] if "failed-messages" in u)
sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "frontend" in b["Name"])
s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Elsewhere", "Effect": "Allow",
                   "Principal": {"Service": "cloudfront.amazonaws.com"},
                   "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
                   "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/EOTHER"}}}]}))
s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>meal plans</h1>")
PY
step "drift report (exit code 2) and apply that puts it back"
expect 2 drift "$stack"
run apply "$stack" --auto-approve
settled
step "outputs"
run output "$stack"
step "destroy (dev's frontend is emptied first: force_destroy)"
run destroy "$stack" --auto-approve
step "what the emulator still holds"
python3 - <<'PY'
import boto3
s3, cf, sqs, events, waf, lam, ddb, logs, apigw = (boto3.client(s) for s in (
    "s3", "cloudfront", "sqs", "events", "wafv2", "lambda", "dynamodb", "logs", "apigateway"))
budgets = boto3.client("budgets", region_name="us-east-1")
account = boto3.client("sts").get_caller_identity()["Account"]
left = {
    "buckets": len(s3.list_buckets()["Buckets"]),
    "distributions": len(cf.list_distributions()["DistributionList"].get("Items", [])),
    "queues": len(sqs.list_queues().get("QueueUrls", [])),
    "rules": len(events.list_rules()["Rules"]),
    "web ACLs": len(waf.list_web_acls(Scope="REGIONAL")["WebACLs"]) + len(waf.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]),
    "functions": len(lam.list_functions()["Functions"]),
    "event source mappings": len(lam.list_event_source_mappings()["EventSourceMappings"]),
    "tables": len(ddb.list_tables()["TableNames"]),
    "log groups": len(logs.describe_log_groups()["logGroups"]),
    "REST APIs": len(apigw.get_rest_apis()["items"]),
    "budgets": len(budgets.describe_budgets(AccountId=account).get("Budgets", [])),
}
for what, count in left.items():
    print(f"  {what}: {count}")
assert not any(left.values()), "something was left behind"
print("nothing left")
PY
