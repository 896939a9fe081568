#!/usr/bin/env bash
# The second seed system, the secure Lambda backend, end to end on a local
# AWS emulator: plan, apply, a no-op plan, out-of-band changes (a rule
# opened on the database's security group, the usage plan rewritten),
# plan and drift that show them, apply that puts them back, destroy, and
# a listing of the emulator that shows nothing left.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
use_cairn
start_moto
state_dir=$(mktemp -d)
trap 'stop_moto; rm -rf "$state_dir"' EXIT
stack=stacks/secure-backend/dev.yaml

step "validate"
run validate "$stack"
step "plan"
run plan "$stack"
step "apply (the chat runtime is built and packaged as the function's code)"
run apply "$stack" --auto-approve
step "plan again: nothing to do"
expect 0 plan "$stack" --detailed-exitcode --stats
step "out-of-band changes with boto3: SSH opened on the database's group, the usage plan's description rewritten"
python3 - <<'PY'
import boto3
ec2 = boto3.client("ec2")
group = ec2.describe_security_groups(Filters=[{"Name": "tag:cairn:address", "Values": ["security_group.database_group"]}])["SecurityGroups"][0]
ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
api = boto3.client("apigateway")
plan = api.get_usage_plans()["items"][0]
api.update_usage_plan(usagePlanId=plan["id"], patchOperations=[{"op": "replace", "path": "/description", "value": "unlimited, by hand"}])
PY
step "plan: cairn sees both (exit code 2), the rule as the one element added"
expect 2 plan "$stack" --detailed-exitcode
step "drift report (exit code 2)"
expect 2 drift "$stack"
step "apply: AWS back to the stack"
run apply "$stack" --auto-approve
expect 0 plan "$stack" --detailed-exitcode
step "outputs"
run output "$stack" || true
step "destroy"
run destroy "$stack" --auto-approve
step "what the emulator still holds"
python3 - <<'PY'
import boto3
ec2, rds, api, sm = (boto3.client(s) for s in ("ec2", "rds", "apigateway", "secretsmanager"))
vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
left = {
    "VPCs": len(vpcs),
    "subnets": sum(1 for s in ec2.describe_subnets()["Subnets"] if not s.get("DefaultForAz")),
    "security groups": sum(1 for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"),
    "VPC endpoints": sum(1 for e in ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["State"].lower() != "deleted"),
    "network interfaces": len(ec2.describe_network_interfaces()["NetworkInterfaces"]),
    "DB instances": len(rds.describe_db_instances()["DBInstances"]),
    "DB snapshots": len(rds.describe_db_snapshots()["DBSnapshots"]),
    "DB subnet groups": len(rds.describe_db_subnet_groups()["DBSubnetGroups"]),
    "REST APIs": len(api.get_rest_apis()["items"]),
    "API keys": len(api.get_api_keys()["items"]),
    "usage plans": len(api.get_usage_plans()["items"]),
    "secrets": len(sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]),
}
for what, count in left.items():
    print(f"  {what}: {count}")
assert not any(left.values()), "something was left behind"
print("nothing left")
PY
