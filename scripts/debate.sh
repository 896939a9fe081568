#!/usr/bin/env bash
# The third seed system, the debate chatbot, end to end on a local AWS
# emulator: two stacks in one shared DynamoDB state table, the network and
# the backend that imports its outputs (ECS Fargate behind an Application
# Load Balancer). Apply both, plan both with nothing to do, change the
# service's desired count by hand (drift, put back by apply), try to
# destroy the network while the backend uses it (refused), destroy the
# backend then the network, and list what the emulator still holds.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/moto.sh
ensure_moto
use_cairn
start_moto
trap 'stop_moto' EXIT
network=stacks/debate/network/dev.yaml
backend=stacks/debate/backend/dev.yaml
# The backend's sensitive variables; a real run takes them from a vault.
export CAIRN_VAR_openai_api_key=sk-demo-not-a-real-key
export CAIRN_VAR_database_url=postgres://debate:demo@db.internal:5432/debate

step "validate both stacks"
run validate "$network"
run validate "$backend"
step "the shared state table (one for both stacks, a key each)"
run state init-backend "$network"
step "the backend cannot be planned before the network has state"
expect 1 plan "$backend"
step "apply the network"
run apply "$network" --auto-approve
step "apply the backend (its VPC, subnets and groups come from the network's state)"
run apply "$backend" --auto-approve
step "plan both again: nothing to do"
expect 0 plan "$network" --detailed-exitcode
expect 0 plan "$backend" --detailed-exitcode
step "the stacks and their imports"
run graph "$backend" --stacks
step "out of band: the service scaled to 5 tasks by hand"
python3 - <<'PY'
import boto3
ecs = boto3.client("ecs")
cluster = ecs.list_clusters()["clusterArns"][0]
service = ecs.list_services(cluster=cluster)["serviceArns"][0]
ecs.update_service(cluster=cluster, service=service, desiredCount=5)
PY
step "drift report (exit code 2) and apply that puts it back"
expect 2 drift "$backend"
run apply "$backend" --auto-approve
expect 0 plan "$backend" --detailed-exitcode
step "outputs"
run output "$backend"
step "destroying the network while the backend uses it is refused"
expect 1 destroy "$network" --auto-approve
step "destroy the backend, then the network"
run destroy "$backend" --auto-approve
run destroy "$network" --auto-approve
step "what the emulator still holds"
python3 - <<'PY'
import boto3
ec2, ecs, elb, sm, ecr, logs = (boto3.client(s) for s in ("ec2", "ecs", "elbv2", "secretsmanager", "ecr", "logs"))
clusters = ecs.list_clusters()["clusterArns"]
left = {
    "VPCs": sum(1 for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]),
    "NAT gateways": sum(1 for n in ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"),
    "security groups": sum(1 for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"),
    "ECS clusters": sum(1 for c in (ecs.describe_clusters(clusters=clusters)["clusters"] if clusters else []) if c["status"] == "ACTIVE"),
    "task definitions": len(ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]),
    "load balancers": len(elb.describe_load_balancers()["LoadBalancers"]),
    "target groups": len(elb.describe_target_groups()["TargetGroups"]),
    "secrets": sum(1 for s in sm.list_secrets()["SecretList"] if "DeletedDate" not in s),
    "repositories": len(ecr.describe_repositories()["repositories"]),
    "log groups": len(logs.describe_log_groups()["logGroups"]),
}
for what, count in left.items():
    print(f"  {what}: {count}")
assert not any(left.values()), "something was left behind"
print("nothing left (the state table stays: it is the project's)")
PY
