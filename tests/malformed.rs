//! The malformed-stack corpus: a few hundred broken stacks, generated from
//! the lifecycle stack and from the cases users hit, run through the
//! compiler in-process (no AWS). Nothing panics, each case finishes in
//! bounded time, every error names a file, line, column and field, and
//! every case AWS would reject is rejected here.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BASE: &str = include_str!("stacks/all.yaml");

/// A minimal valid stack with `resources` added.
fn stack(resources: &str) -> String {
    format!("project: p\nenvironment: dev\nresources:\n{resources}")
}

fn function(extra: &str) -> String {
    stack(&format!(
        "  role:\n    type: iam_role\n    properties:\n      assume_role_services: [lambda.amazonaws.com]\n  function:\n    type: lambda_function\n    properties:\n      code: {{ zip: f.zip }}\n      role_arn: ${{role.arn}}\n{extra}"
    ))
}

fn role_policy(statement: &str) -> String {
    stack(&format!(
        "  role:\n    type: iam_role\n    properties:\n      assume_role_services: [lambda.amazonaws.com]\n      inline_policies:\n        p:\n          Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n{statement}"
    ))
}

/// A role whose inline policy `p` is `document` (indented to sit under it).
fn role_document(document: &str) -> String {
    stack(&format!(
        "  role:\n    type: iam_role\n    properties:\n      assume_role_services: [lambda.amazonaws.com]\n      inline_policies:\n        p:\n{document}"
    ))
}

/// A repository whose lifecycle policy has the one rule `rule`.
fn lifecycle_rule(rule: &str) -> String {
    stack(&format!(
        "  images:\n    type: ecr_repository\n    properties:\n      lifecycle_policy:\n        rules:\n          - {rule}\n"
    ))
}

fn dashboard_widget(widget: &str) -> String {
    stack(&format!(
        "  d:\n    type: cloudwatch_dashboard\n    properties:\n      widgets:\n        - {widget}\n"
    ))
}

/// A VPC named `vpc` (10.0.0.0/16) with `extra` resources.
fn network(extra: &str) -> String {
    stack(&format!(
        "  vpc:\n    type: vpc\n    properties: {{ cidr_block: 10.0.0.0/16 }}\n{extra}"
    ))
}

fn group_rule(rule: &str) -> String {
    network(&format!(
        "  sg:\n    type: security_group\n    properties:\n      vpc_id: ${{vpc.id}}\n      ingress:\n        - {rule}\n"
    ))
}

const DB_INSTANCE: &str = "  db:\n    type: db_instance\n    properties: { identifier: chat, engine: mariadb, engine_version: \"10.11.6\", instance_class: db.t4g.micro, username: chat_admin";

fn alarm(extra: &str) -> String {
    stack(&format!(
        "  alarm:\n    type: cloudwatch_alarm\n    properties:\n      metric_name: Hits\n      statistic: Sum\n      period: 300\n      evaluation_periods: 1\n      threshold: 1\n      comparison_operator: GreaterThanThreshold\n{extra}"
    ))
}

/// Stacks AWS would refuse (or that would fight over one AWS resource):
/// each must be rejected, with its place.
fn refused() -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let dimensions: String = (0..31).map(|i| format!("        d{i}: v\n")).collect();
    let big_value = "x".repeat(4100);
    vec![
        ("a VPC block larger than /16", vec![("stack.yaml", stack("  vpc:\n    type: vpc\n    properties: { cidr_block: 10.0.0.0/8 }\n"))]),
        ("a VPC block with host bits set", vec![("stack.yaml", stack("  vpc:\n    type: vpc\n    properties: { cidr_block: 10.0.0.1/16 }\n"))]),
        ("DNS hostnames without DNS support", vec![("stack.yaml", stack("  vpc:\n    type: vpc\n    properties: { cidr_block: 10.0.0.0/16, enable_dns_support: false, enable_dns_hostnames: true }\n"))]),
        ("a subnet outside its VPC", vec![("stack.yaml", network("  a:\n    type: subnet\n    properties: { vpc_id: \"${vpc.id}\", cidr_block: 10.1.0.0/24 }\n"))]),
        ("two subnets of one VPC that overlap", vec![("stack.yaml", network("  a:\n    type: subnet\n    properties: { vpc_id: \"${vpc.id}\", cidr_block: 10.0.0.0/23 }\n  b:\n    type: subnet\n    properties: { vpc_id: \"${vpc.id}\", cidr_block: 10.0.1.0/24 }\n"))]),
        ("a security group rule on port 70000", vec![("stack.yaml", group_rule("{ protocol: tcp, from_port: 70000, to_port: 70000, cidr_ipv4: 10.0.0.0/16 }"))]),
        ("a security group port range backwards", vec![("stack.yaml", group_rule("{ protocol: tcp, from_port: 443, to_port: 80, cidr_ipv4: 10.0.0.0/16 }"))]),
        ("a security group rule with two sources", vec![("stack.yaml", group_rule("{ protocol: tcp, from_port: 443, to_port: 443, cidr_ipv4: 10.0.0.0/16, prefix_list_id: pl-1 }"))]),
        ("a security group rule with an unknown protocol", vec![("stack.yaml", group_rule("{ protocol: sctp2, from_port: 1, to_port: 1, cidr_ipv4: 10.0.0.0/16 }"))]),
        ("an all-protocols rule with ports", vec![("stack.yaml", group_rule("{ protocol: all, from_port: 22, to_port: 22, cidr_ipv4: 10.0.0.0/16 }"))]),
        ("a security group named sg-", vec![("stack.yaml", network("  sg:\n    type: security_group\n    properties: { name: sg-web, vpc_id: \"${vpc.id}\" }\n"))]),
        ("two security groups with one name in one VPC", vec![("stack.yaml", network("  a:\n    type: security_group\n    properties: { name: web, vpc_id: \"${vpc.id}\" }\n  b:\n    type: security_group\n    properties: { name: web, vpc_id: \"${vpc.id}\" }\n"))]),
        ("a route with two targets", vec![("stack.yaml", network("  rt:\n    type: route_table\n    properties:\n      vpc_id: ${vpc.id}\n      routes: [{ destination_cidr_block: 0.0.0.0/0, gateway_id: igw-1, nat_gateway_id: nat-1 }]\n"))]),
        ("two routes to one destination", vec![("stack.yaml", network("  rt:\n    type: route_table\n    properties:\n      vpc_id: ${vpc.id}\n      routes: [{ destination_cidr_block: 0.0.0.0/0, gateway_id: igw-1 }, { destination_cidr_block: 0.0.0.0/0, nat_gateway_id: nat-1 }]\n"))]),
        ("a gateway endpoint with subnets", vec![("stack.yaml", network("  e:\n    type: vpc_endpoint\n    properties: { vpc_id: \"${vpc.id}\", service_name: com.amazonaws.us-east-1.s3, subnet_ids: [subnet-1] }\n"))]),
        ("an interface endpoint without subnets", vec![("stack.yaml", network("  e:\n    type: vpc_endpoint\n    properties: { vpc_id: \"${vpc.id}\", service_name: com.amazonaws.us-east-1.sqs, vpc_endpoint_type: Interface }\n"))]),
        ("a NAT gateway of an unknown connectivity type", vec![("stack.yaml", stack("  nat:\n    type: nat_gateway\n    properties: { subnet_id: subnet-1, connectivity_type: both }\n"))]),
        ("a function in a VPC without security groups", vec![("stack.yaml", function("      vpc_config: { subnet_ids: [subnet-1] }\n"))]),
        ("RDS storage below the type's minimum", vec![("stack.yaml", stack(&format!("{}, allocated_storage: 10 }}\n", DB_INSTANCE)))]),
        ("io1 storage without iops", vec![("stack.yaml", stack(&format!("{}, storage_type: io1, allocated_storage: 100 }}\n", DB_INSTANCE)))]),
        ("gp3 iops below 400 GiB", vec![("stack.yaml", stack(&format!("{}, iops: 3000 }}\n", DB_INSTANCE)))]),
        ("an instance class without db.", vec![("stack.yaml", stack(&format!("{} }}\n", DB_INSTANCE).replace("db.t4g.micro", "t4g.micro")))]),
        ("a password and a managed password", vec![("stack.yaml", stack(&format!("{}, password: hunter2hunter2 }}\n", DB_INSTANCE)))]),
        ("a backup window shorter than 30 minutes", vec![("stack.yaml", stack(&format!("{}, preferred_backup_window: \"03:00-03:15\" }}\n", DB_INSTANCE)))]),
        ("an upper-case DB identifier", vec![("stack.yaml", stack(&format!("{} }}\n", DB_INSTANCE).replace("identifier: chat", "identifier: Chat")))]),
        ("backups kept 40 days", vec![("stack.yaml", stack(&format!("{}, backup_retention_period: 40 }}\n", DB_INSTANCE)))]),
        ("a DB subnet group with one subnet", vec![("stack.yaml", stack("  g:\n    type: db_subnet_group\n    properties: { subnet_ids: [subnet-1] }\n"))]),
        ("a usage plan above the account's rate ceiling", vec![("stack.yaml", stack("  u:\n    type: usage_plan\n    properties: { throttle_rate_limit: 20000, throttle_burst_limit: 100 }\n"))]),
        ("a usage plan burst without a rate", vec![("stack.yaml", stack("  u:\n    type: usage_plan\n    properties: { throttle_burst_limit: 100 }\n"))]),
        ("a usage plan quota of 0", vec![("stack.yaml", stack("  u:\n    type: usage_plan\n    properties: { quota_limit: 0, quota_period: DAY }\n"))]),
        ("a usage plan quota per year", vec![("stack.yaml", stack("  u:\n    type: usage_plan\n    properties: { quota_limit: 10, quota_period: YEAR }\n"))]),
        ("a REST route path with a trailing slash", vec![("stack.yaml", stack("  api:\n    type: rest_api\n    properties: { stage: { name: api }, routes: [{ method: GET, path: /chat/, function_invoke_arn: x }] }\n"))]),
        ("an API key value too short", vec![("stack.yaml", stack("  k:\n    type: api_key\n    properties: { value: short }\n"))]),
        ("a secret recovery window of 3 days", vec![("stack.yaml", stack("  s:\n    type: secretsmanager_secret\n    properties: { recovery_window_in_days: 3 }\n"))]),
        ("a secret both given and generated", vec![("stack.yaml", stack("  s:\n    type: secretsmanager_secret\n    properties: { value: x, generate: { length: 20 } }\n"))]),
        ("two log groups with one name", vec![("stack.yaml", stack("  a:\n    type: log_group\n    properties: { name: /same }\n  b:\n    type: log_group\n    properties: { name: /same }\n"))]),
        ("a table named like another's default name", vec![("stack.yaml", stack("  t:\n    type: dynamodb_table\n    properties: { hash_key: { name: pk, type: S } }\n  u:\n    type: dynamodb_table\n    properties: { name: p-dev-t, hash_key: { name: pk, type: S } }\n"))]),
        ("two aliases with one name", vec![("stack.yaml", stack("  k:\n    type: kms_key\n  a:\n    type: kms_alias\n    properties: { name: alias/x, target_key_id: \"${k.key_id}\" }\n  b:\n    type: kms_alias\n    properties: { name: alias/x, target_key_id: \"${k.key_id}\" }\n"))]),
        ("role names differing only in case", vec![("stack.yaml", stack("  a:\n    type: iam_role\n    properties: { name: Runner, assume_role_services: [lambda.amazonaws.com] }\n  b:\n    type: iam_role\n    properties: { name: runner, assume_role_services: [lambda.amazonaws.com] }\n"))]),
        ("two permissions with one statement id", vec![("stack.yaml", function("  a:\n    type: lambda_permission\n    properties: { function_name: p-dev-function, statement_id: s, principal: apigateway.amazonaws.com }\n  b:\n    type: lambda_permission\n    properties: { function_name: p-dev-function, statement_id: s, principal: events.amazonaws.com }\n"))]),
        ("CloudFormation !Ref", vec![("stack.yaml", stack("  k:\n    type: kms_key\n  a:\n    type: kms_alias\n    properties: { name: alias/x, target_key_id: !Ref k }\n"))]),
        ("CloudFormation !GetAtt", vec![("stack.yaml", stack("  t:\n    type: log_group\n    properties:\n      name: !GetAtt table.Arn\n"))]),
        ("an escaped ${ in a name", vec![("stack.yaml", stack("  t:\n    type: log_group\n    properties: { name: \"/a/$${x}\" }\n"))]),
        ("a variable whose default is another's reference", vec![("stack.yaml", "project: p\nenvironment: dev\nvariables:\n  a: { default: \"${var.b}\" }\n  b: { default: x }\nresources:\n  t:\n    type: log_group\n    properties: { name: \"/n/${var.a}\" }\n".to_owned())]),
        ("a tag key with characters AWS refuses", vec![("stack.yaml", stack("  t:\n    type: log_group\n    properties: { tags: { \"team#1\": a } }\n"))]),
        ("a tag value over 256 characters", vec![("stack.yaml", stack(&format!("  t:\n    type: log_group\n    properties: {{ tags: {{ team: {} }} }}\n", "v".repeat(257))))]),
        ("extends: /dev/zero", vec![("stack.yaml", "extends: /dev/zero\nproject: p\n".into())]),
        ("extends a missing file", vec![("stack.yaml", "extends: nowhere.yaml\nproject: p\n".into())]),
        ("no project", vec![("stack.yaml", "environment: dev\nresources: {}\n".into())]),
        ("a bad environment", vec![("stack.yaml", "project: p\nenvironment: dev_1\n".into())]),
        ("a variable with no value", vec![("stack.yaml", "project: p\nenvironment: dev\nvariables:\n  v: { description: none }\n".into())]),
        ("a value set in dev.yaml that fails a check where base.yaml uses it", vec![
            ("base.yaml", "project: p\nvariables:\n  days: { default: 7 }\nresources:\n  t:\n    type: log_group\n    properties: { retention_in_days: \"${var.days}\" }\n".into()),
            ("stack.yaml", "extends: base.yaml\nenvironment: dev\nvalues:\n  days: 15\n".into()),
        ]),
        ("an empty IAM action", vec![("stack.yaml", role_policy("              Action: \"\"\n              Resource: \"*\"\n"))]),
        ("an empty action list", vec![("stack.yaml", role_policy("              Action: []\n              Resource: \"*\"\n"))]),
        ("a non-string action", vec![("stack.yaml", role_policy("              Action: [5]\n              Resource: \"*\"\n"))]),
        ("an action without a service", vec![("stack.yaml", role_policy("              Action: GetItem\n              Resource: \"*\"\n"))]),
        ("an empty Resource", vec![("stack.yaml", role_policy("              Action: s3:GetObject\n              Resource: \"\"\n"))]),
        ("a trust policy naming `lambda`", vec![("stack.yaml", stack("  r:\n    type: iam_role\n    properties: { assume_role_services: [lambda] }\n"))]),
        ("an empty trust service list", vec![("stack.yaml", stack("  r:\n    type: iam_role\n    properties: { assume_role_services: [] }\n"))]),
        ("a reserved Lambda environment key", vec![("stack.yaml", function("      environment: { AWS_REGION: x }\n"))]),
        ("a runtime Lambda does not have", vec![("stack.yaml", function("      runtime: python4.0\n"))]),
        ("a Cargo build on a managed runtime", vec![("stack.yaml", stack("  role:\n    type: iam_role\n    properties:\n      assume_role_services: [lambda.amazonaws.com]\n  function:\n    type: lambda_function\n    properties:\n      code: { cargo: runtime }\n      runtime: python3.12\n      role_arn: ${role.arn}\n"))]),
        ("a Lambda environment over 4 KB", vec![("stack.yaml", function(&format!("      environment: {{ BIG: {big_value} }}\n")))]),
        ("an empty alarm namespace", vec![("stack.yaml", alarm("      namespace: \"\"\n"))]),
        ("31 alarm dimensions", vec![("stack.yaml", alarm(&format!("      namespace: N\n      dimensions:\n{dimensions}")))]),
        ("an unknown alarm unit", vec![("stack.yaml", alarm("      namespace: N\n      unit: Furlongs\n"))]),
        ("a dashboard widget wider than 24", vec![("stack.yaml", stack("  d:\n    type: cloudwatch_dashboard\n    properties:\n      widgets:\n        - { type: text, width: 30, properties: { markdown: x } }\n"))]),
        ("CORS max age over a day", vec![("stack.yaml", function("  api:\n    type: http_api\n    properties:\n      routes: [\"POST /chat\"]\n      integration: { function_arn: \"${function.arn}\" }\n      cors: { allow_origins: [\"*\"], max_age: 90000 }\n"))]),
        ("an HTTP API stage name with a space", vec![("stack.yaml", function("  api:\n    type: http_api\n    properties:\n      routes: [\"POST /chat\"]\n      integration: { function_arn: \"${function.arn}\" }\n      stage: { name: \"my stage\" }\n"))]),
        ("an HTTP API stage name starting with $ other than $default", vec![("stack.yaml", function("  api:\n    type: http_api\n    properties:\n      routes: [\"POST /chat\"]\n      integration: { function_arn: \"${function.arn}\" }\n      stage: { name: \"$prod\" }\n"))]),
        ("an HTTP API stage name over 128 characters", vec![("stack.yaml", function(&format!("  api:\n    type: http_api\n    properties:\n      routes: [\"POST /chat\"]\n      integration: {{ function_arn: \"${{function.arn}}\" }}\n      stage: {{ name: {} }}\n", "s".repeat(129))))]),
        ("an empty HTTP API stage name", vec![("stack.yaml", function("  api:\n    type: http_api\n    properties:\n      routes: [\"POST /chat\"]\n      integration: { function_arn: \"${function.arn}\" }\n      stage: { name: \"\" }\n"))]),
        ("an HTTP API stage auto_deploy that is not a boolean", vec![("stack.yaml", function("  api:\n    type: http_api\n    properties:\n      routes: [\"POST /chat\"]\n      integration: { function_arn: \"${function.arn}\" }\n      stage: { auto_deploy: sometimes }\n"))]),
        ("an unknown region", vec![("stack.yaml", "project: p\nenvironment: dev\nregion: us-moon-1\n".into())]),
        ("a non-string item in a string list", vec![("stack.yaml", stack("  r:\n    type: iam_role\n    properties: { assume_role_services: [lambda.amazonaws.com, [x]] }\n"))]),
        ("a duplicate key", vec![("stack.yaml", "project: p\nproject: q\n".into())]),
        ("a topic name with a dot", vec![("stack.yaml", stack("  t:\n    type: sns_topic\n    properties: { name: alerts.prod }\n"))]),
        ("a FIFO topic without `.fifo`", vec![("stack.yaml", stack("  t:\n    type: sns_topic\n    properties: { name: alerts, fifo_topic: true }\n"))]),
        ("raw delivery to an email subscription", vec![("stack.yaml", stack("  s:\n    type: sns_subscription\n    properties: { topic_arn: \"arn:aws:sns:us-east-1:1:t\", protocol: email, endpoint: a@b.c, raw_message_delivery: true }\n"))]),
        ("an unknown subscription protocol", vec![("stack.yaml", stack("  s:\n    type: sns_subscription\n    properties: { topic_arn: \"arn:aws:sns:us-east-1:1:t\", protocol: pigeon, endpoint: roof }\n"))]),
        ("a metric filter name with a colon", vec![("stack.yaml", stack("  f:\n    type: log_metric_filter\n    properties: { name: \"a:b\", log_group_name: /g, metric: { metric_name: E, namespace: N } }\n"))]),
        ("a metric filter with four dimensions", vec![("stack.yaml", stack("  f:\n    type: log_metric_filter\n    properties: { log_group_name: /g, metric: { metric_name: E, namespace: N, dimensions: { a: $.a, b: $.b, c: $.c, d: $.d } } }\n"))]),
        ("a topic policy without an effect", vec![("stack.yaml", stack("  t:\n    type: sns_topic\n    properties:\n      policy: { Statement: [{ Action: sns:Publish, Resource: \"*\" }] }\n"))]),
        ("a reserved Lambda environment key beside a reference", vec![("stack.yaml", function("      environment: { ROLE: \"${role.arn}\", AWS_REGION: x }\n"))]),
        ("a reserved AWS_LAMBDA_ environment key", vec![("stack.yaml", function("      environment: { AWS_LAMBDA_LOG_GROUP_NAME: x }\n"))]),
        ("a Lambda environment key starting with a digit", vec![("stack.yaml", function("      environment: { 1KEY: x, ROLE: \"${role.arn}\" }\n"))]),
        ("a one-letter Lambda environment key", vec![("stack.yaml", function("      environment: { A: x }\n"))]),
        ("a Lambda environment over 4 KB beside a reference", vec![("stack.yaml", function(&format!("      environment: {{ ROLE: \"${{role.arn}}\", BIG: {} }}\n", "x".repeat(4080))))]),
        ("a Lambda environment over 4 KB in JSON text", vec![("stack.yaml", function(&format!("      environment:\n{}", (0..100).map(|i| format!("        K{i:03}: {}\n", "x".repeat(32))).collect::<String>())))]),
        ("a misspelt `Efect`", vec![("stack.yaml", role_document("          Version: \"2012-10-17\"\n          Statement:\n            - Efect: Allow\n              Action: s3:GetObject\n              Resource: \"*\"\n"))]),
        ("a misspelt `Statment`", vec![("stack.yaml", role_document("          Version: \"2012-10-17\"\n          Statment:\n            - Effect: Allow\n              Action: s3:GetObject\n              Resource: \"*\"\n"))]),
        ("a misspelt `Resouce`", vec![("stack.yaml", role_policy("              Action: s3:GetObject\n              Resouce: \"*\"\n"))]),
        ("a misspelt `Condtion`", vec![("stack.yaml", role_policy("              Action: s3:GetObject\n              Resource: \"*\"\n              Condtion: { Bool: { \"aws:SecureTransport\": true } }\n"))]),
        ("a non-string policy `Version`", vec![("stack.yaml", role_document("          Version: 2012\n          Statement:\n            - Effect: Allow\n              Action: s3:GetObject\n              Resource: \"*\"\n"))]),
        ("an unknown IAM condition operator", vec![("stack.yaml", role_policy("              Action: s3:GetObject\n              Resource: \"*\"\n              Condition: { StringEqualz: { \"aws:SourceAccount\": \"123456789012\" } }\n"))]),
        ("a condition value that is a mapping", vec![("stack.yaml", role_policy("              Action: s3:GetObject\n              Resource: \"*\"\n              Condition: { ForAnyValue:StringLikeIfExists: { \"aws:TagKeys\": { a: b } } }\n"))]),
        ("a principal in a role's own policy", vec![("stack.yaml", role_policy("              Action: s3:GetObject\n              Resource: \"*\"\n              Principal: { Service: lambda.amazonaws.com }\n"))]),
        ("a role policy statement without a resource", vec![("stack.yaml", role_policy("              Action: s3:GetObject\n"))]),
        ("a trust policy with a resource", vec![("stack.yaml", stack("  r:\n    type: iam_role\n    properties:\n      assume_role_policy:\n        Version: \"2012-10-17\"\n        Statement:\n          - { Effect: Allow, Principal: { Service: lambda.amazonaws.com }, Action: sts:AssumeRole, Resource: \"*\" }\n"))]),
        ("an unknown principal type", vec![("stack.yaml", stack("  k:\n    type: kms_key\n    properties:\n      key_policy:\n        Version: \"2012-10-17\"\n        Statement:\n          - { Effect: Allow, Principal: { Services: logs.amazonaws.com }, Action: \"kms:*\", Resource: \"*\" }\n"))]),
        ("two statements with one id in a role policy", vec![("stack.yaml", role_document("          Statement:\n            - { Sid: Read, Effect: Allow, Action: s3:GetObject, Resource: \"*\" }\n            - { Sid: Read, Effect: Allow, Action: s3:ListBucket, Resource: \"*\" }\n"))]),
        ("an ECR rule priority of 0", vec![("stack.yaml", lifecycle_rule("{ rulePriority: 0, selection: { tagStatus: any, countType: imageCountMoreThan, countNumber: 10 }, action: { type: expire } }"))]),
        ("an ECR count of 0", vec![("stack.yaml", lifecycle_rule("{ rulePriority: 1, selection: { tagStatus: any, countType: imageCountMoreThan, countNumber: 0 }, action: { type: expire } }"))]),
        ("a misspelt ECR `countNumbr`", vec![("stack.yaml", lifecycle_rule("{ rulePriority: 1, selection: { tagStatus: any, countType: imageCountMoreThan, countNumbr: 10 }, action: { type: expire } }"))]),
        ("an ECR count in days without a unit", vec![("stack.yaml", lifecycle_rule("{ rulePriority: 1, selection: { tagStatus: untagged, countType: sinceImagePushed, countNumber: 14 }, action: { type: expire } }"))]),
        ("an ECR tagged rule without tags", vec![("stack.yaml", lifecycle_rule("{ rulePriority: 1, selection: { tagStatus: tagged, countType: imageCountMoreThan, countNumber: 5 }, action: { type: delete } }"))]),
        ("a KMS alias target of 1.5", vec![("stack.yaml", stack("  a:\n    type: kms_alias\n    properties: { target_key_id: 1.5 }\n"))]),
        ("a metric `stat: true`", vec![("stack.yaml", alarm("      metrics:\n        - { id: m, return_data: true, metric: { namespace: N, metric_name: M, period: 60, stat: true } }\n").replace("      metric_name: Hits\n      statistic: Sum\n      period: 300\n", ""))]),
        ("an empty metric-math expression", vec![("stack.yaml", alarm("      metrics:\n        - { id: e, return_data: true, expression: \"\" }\n").replace("      metric_name: Hits\n      statistic: Sum\n      period: 300\n", ""))]),
        ("a text widget whose markdown is a list", vec![("stack.yaml", dashboard_widget("{ type: text, properties: { markdown: [a, b] } }"))]),
        ("a metric widget without a region", vec![("stack.yaml", dashboard_widget("{ type: metric, properties: { metrics: [[AWS/Lambda, Errors]] } }"))]),
        ("a metric widget whose metric is a number list", vec![("stack.yaml", dashboard_widget("{ type: metric, properties: { region: us-east-1, metrics: [[1, 2]], period: 90 } }"))]),
        ("an alarm widget without alarms", vec![("stack.yaml", dashboard_widget("{ type: alarm, x: 0, properties: { title: Alarms } }"))]),
        ("a widget beyond 1000 rows high", vec![("stack.yaml", dashboard_widget("{ type: text, height: 2000, properties: { markdown: x } }"))]),
        ("an empty permission principal", vec![("stack.yaml", function("  p:\n    type: lambda_permission\n    properties: { function_name: p-dev-function, statement_id: s, principal: \"\" }\n"))]),
        ("a health-check timeout not below its interval", vec![("stack.yaml", network("  tg:\n    type: lb_target_group\n    properties:\n      port: 8080\n      vpc_id: ${vpc.id}\n      health_check: { path: /health, interval: 10, timeout: 10 }\n"))]),
        ("a target group name of 33 characters", vec![("stack.yaml", network(&format!("  tg:\n    type: lb_target_group\n    properties: {{ name: {}, port: 80, vpc_id: \"${{vpc.id}}\" }}\n", "t".repeat(33))))]),
        ("a health-check matcher of 600", vec![("stack.yaml", network("  tg:\n    type: lb_target_group\n    properties:\n      port: 8080\n      vpc_id: ${vpc.id}\n      health_check: { matcher: \"600\" }\n"))]),
        ("a load balancer in one subnet", vec![("stack.yaml", stack("  lb:\n    type: lb\n    properties: { subnets: [subnet-1] }\n"))]),
        ("a network load balancer", vec![("stack.yaml", stack("  lb:\n    type: lb\n    properties: { load_balancer_type: network, subnets: [subnet-1, subnet-2] }\n"))]),
        ("an HTTPS listener without a certificate", vec![("stack.yaml", stack("  l:\n    type: lb_listener\n    properties: { load_balancer_arn: \"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1\", port: 443, protocol: HTTPS, default_action: { forward: \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1\" } }\n"))]),
        ("a listener action that both forwards and redirects", vec![("stack.yaml", stack("  l:\n    type: lb_listener\n    properties: { load_balancer_arn: \"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1\", port: 80, default_action: { forward: \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1\", redirect: { protocol: HTTPS } } }\n"))]),
        ("two listeners on one port", vec![("stack.yaml", stack("  l:\n    type: lb_listener\n    properties: { load_balancer_arn: \"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1\", port: 80, default_action: { redirect: { protocol: HTTPS } } }\n  m:\n    type: lb_listener\n    properties: { load_balancer_arn: \"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/w/1\", port: 80, default_action: { redirect: { protocol: HTTPS } } }\n"))]),
        ("an EC2 capacity provider on a Fargate cluster", vec![("stack.yaml", stack("  c:\n    type: ecs_cluster\n    properties: { capacity_providers: [FARGATE, EC2] }\n"))]),
        ("a default strategy naming a provider the cluster lacks", vec![("stack.yaml", stack("  c:\n    type: ecs_cluster\n    properties: { capacity_providers: [FARGATE], default_capacity_provider_strategy: [{ capacity_provider: FARGATE_SPOT, weight: 1 }] }\n"))]),
        ("a Fargate task of 512 CPU units and 100 MiB", vec![("stack.yaml", stack("  t:\n    type: ecs_task_definition\n    properties: { family: api, cpu: 512, memory: 100, container_definitions: [{ name: api, image: api:1 }] }\n"))]),
        ("a Fargate task of 300 CPU units", vec![("stack.yaml", stack("  t:\n    type: ecs_task_definition\n    properties: { family: api, cpu: 300, memory: 1024, container_definitions: [{ name: api, image: api:1 }] }\n"))]),
        ("a Fargate task in bridge mode", vec![("stack.yaml", stack("  t:\n    type: ecs_task_definition\n    properties: { family: api, cpu: 256, memory: 512, network_mode: bridge, container_definitions: [{ name: api, image: api:1 }] }\n"))]),
        ("a container secret that is not an ARN", vec![("stack.yaml", stack("  t:\n    type: ecs_task_definition\n    properties: { family: api, cpu: 256, memory: 512, container_definitions: [{ name: api, image: api:1, secrets: { KEY: sk-live-123 } }] }\n"))]),
        ("two containers of one name", vec![("stack.yaml", stack("  t:\n    type: ecs_task_definition\n    properties: { family: api, cpu: 256, memory: 512, container_definitions: [{ name: api, image: api:1 }, { name: api, image: api:2 }] }\n"))]),
        ("a Fargate task of 256 CPU units and 4096 MiB", vec![("stack.yaml", stack("  t:\n    type: ecs_task_definition\n    properties: { family: api, cpu: 256, memory: 4096, container_definitions: [{ name: api, image: api:1 }] }\n"))]),
        ("a service with a launch type and a strategy", vec![("stack.yaml", stack("  s:\n    type: ecs_service\n    properties: { name: api, cluster: debate, task_definition: \"arn:aws:ecs:us-east-1:1:task-definition/api:1\", network_configuration: { subnets: [subnet-1], security_groups: [sg-1] }, launch_type: FARGATE, capacity_provider_strategy: [{ capacity_provider: FARGATE, weight: 1 }] }\n"))]),
        ("a service given its cluster's ARN", vec![("stack.yaml", stack(&"  s:\n    type: ecs_service\n    properties: { name: api, cluster: debate, task_definition: \"arn:aws:ecs:us-east-1:1:task-definition/api:1\", network_configuration: { subnets: [subnet-1], security_groups: [sg-1] } }\n".replace("cluster: debate", "cluster: \"arn:aws:ecs:us-east-1:1:cluster/debate\"")))]),
        ("a grace period for a service behind no load balancer", vec![("stack.yaml", stack("  s:\n    type: ecs_service\n    properties: { name: api, cluster: debate, task_definition: \"arn:aws:ecs:us-east-1:1:task-definition/api:1\", network_configuration: { subnets: [subnet-1], security_groups: [sg-1] }, health_check_grace_period_seconds: 60 }\n"))]),
        ("a service on the EC2 launch type", vec![("stack.yaml", stack("  s:\n    type: ecs_service\n    properties: { name: api, cluster: debate, task_definition: \"arn:aws:ecs:us-east-1:1:task-definition/api:1\", network_configuration: { subnets: [subnet-1], security_groups: [sg-1] }, launch_type: EC2 }\n"))]),
        ("a listener rule that matches nothing", vec![("stack.yaml", stack("  r:\n    type: lb_listener_rule\n    properties: { listener_arn: \"arn:aws:elasticloadbalancing:us-east-1:1:listener/app/w/1/2\", priority: 10, action: { forward: \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1\" } }\n"))]),
        ("a listener rule with six paths", vec![("stack.yaml", stack("  r:\n    type: lb_listener_rule\n    properties: { listener_arn: \"arn:aws:elasticloadbalancing:us-east-1:1:listener/app/w/1/2\", priority: 10, action: { forward: \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1\" }, path_patterns: [/a, /b, /c, /d, /e, /f] }\n"))]),
        ("a listener rule of priority 0", vec![("stack.yaml", stack(&"  r:\n    type: lb_listener_rule\n    properties: { listener_arn: \"arn:aws:elasticloadbalancing:us-east-1:1:listener/app/w/1/2\", priority: 10, action: { forward: \"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1\" }, path_patterns: [/a] }\n".replace("priority: 10", "priority: 0")))]),
        ("a security group name prefix starting with sg-", vec![("stack.yaml", network("  g:\n    type: security_group\n    properties: { name_prefix: sg-web-, vpc_id: \"${vpc.id}\" }\n"))]),
        ("a 250-character resource name", vec![("stack.yaml", stack(&format!("  {}:\n    type: log_group\n", "a".repeat(250))))]),
        ("an environment of 100,000 characters", vec![("stack.yaml", format!("project: p\nenvironment: {}\nresources:\n  t:\n    type: log_group\n    properties: {{ name: /t }}\n", "e".repeat(100_000)))]),
    ]
}

fn write(dir: &Path, files: &[(&str, String)]) -> PathBuf {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir.join("stack.yaml")
}

/// Compiles one stack; panics (failing the test) on a panic inside, on a
/// case that takes too long, and on an error without its place.
fn compile(path: &Path, case: &str) -> Result<(), String> {
    let started = Instant::now();
    let result = std::panic::catch_unwind(|| {
        cairn::stack::load(
            cairn::types::catalog(),
            path,
            &cairn::stack::VariableOverrides::new(),
        )
    })
    .unwrap_or_else(|_| panic!("{case}: the compiler panicked"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{case}: took {:?}",
        started.elapsed()
    );
    match result {
        Ok(_) => Ok(()),
        Err(diagnostics) => {
            assert!(
                !diagnostics.0.is_empty(),
                "{case}: an error with no diagnostic"
            );
            for d in &diagnostics.0 {
                assert!(
                    d.line >= 1 && d.column >= 1,
                    "{case}: an error without its place: {d}"
                );
                assert!(
                    !d.path.is_empty() || d.message.contains("line") || d.line >= 1,
                    "{case}: {d}"
                );
            }
            Err(diagnostics.to_string())
        }
    }
}

#[test]
fn every_case_aws_would_refuse_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for (case, files) in refused() {
        let case_dir = dir
            .path()
            .join(case.replace([' ', '/', ':', '\'', '`'], "_"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let path = write(&case_dir, &files);
        match compile(&path, case) {
            Ok(()) => panic!("{case}: accepted"),
            Err(errors) => {
                let errors = errors.replace(&format!("{}/", case_dir.display()), "");
                report.push_str(&format!("## {case}\n{errors}\n\n"));
            }
        }
    }
    insta::assert_snapshot!("refused_stacks", report);
}

/// What AWS takes must still validate: documents using the less common
/// parts of each grammar (conditions with `IfExists` and set operators,
/// `NotPrincipal`, policy variables, references), ECR's archive rules,
/// every widget type, Lambda variables that look reserved and are not,
/// and numbers given as map values.
#[test]
fn valid_documents_of_every_grammar_are_accepted() {
    let text = r##"project: p
environment: dev
resources:
  table:
    type: dynamodb_table
    properties: { hash_key: { name: pk, type: S } }
  role:
    type: iam_role
    properties:
      assume_role_policy:
        Version: "2012-10-17"
        Statement:
          - Sid: ""
            Effect: Allow
            Principal: { Service: [lambda.amazonaws.com, edgelambda.amazonaws.com], AWS: ["123456789012", "arn:aws:iam::123456789012:root"] }
            Action: [sts:AssumeRole, sts:TagSession]
            Condition: { StringEquals: { "sts:ExternalId": "x" }, NumericLessThanEquals: { "aws:MultiFactorAuthAge": 3600 } }
          - Sid: ""
            Effect: Allow
            Principal: { Federated: cognito-identity.amazonaws.com }
            Action: sts:AssumeRoleWithWebIdentity
      inline_policies:
        table:
          Version: "2008-10-17"
          Id: TablePolicy
          Statement:
            Sid: ReadOwnItems1
            Effect: Allow
            NotAction: [dynamodb:DeleteTable]
            Resource: ["${table.arn}", "${table.arn}/index/*"]
            Condition:
              ForAllValues:StringLike: { "dynamodb:LeadingKeys": ["$${aws:username}"] }
              BoolIfExists: { "aws:SecureTransport": true }
              "Null": { "aws:TokenIssueTime": "false" }
              ArnLikeIfExists: { "aws:SourceArn": "${table.arn}" }
        deny:
          Statement:
            - { Effect: Deny, Action: "*", NotResource: "arn:aws:s3:::keep/*" }
  key:
    type: kms_key
    properties:
      key_policy:
        Version: "2012-10-17"
        Statement:
          - Sid: Enable IAM User Permissions
            Effect: Allow
            Principal: { AWS: "arn:${aws.partition}:iam::${aws.account_id}:root" }
            Action: "kms:*"
            Resource: "*"
          - Sid: Deny others
            Effect: Deny
            NotPrincipal: { AWS: "${role.arn}" }
            Action: kms:Decrypt
            Resource: "*"
          - Sid: Anyone reads aliases
            Effect: Allow
            Principal: "*"
            Action: kms:DescribeKey
            Resource: "*"
            Condition: { ForAnyValue:StringEquals: { "kms:CallerAccount": ["123456789012"] } }
  images:
    type: ecr_repository
    properties:
      lifecycle_policy:
        rules:
          - { rulePriority: 1, description: Keep releases, selection: { tagStatus: tagged, tagPatternList: ["v*.*.*"], countType: imageCountMoreThan, countNumber: 50 }, action: { type: expire } }
          - { rulePriority: 2, selection: { tagStatus: tagged, tagPrefixList: [dev], countType: sinceImagePushed, countUnit: days, countNumber: 14 }, action: { type: transition, targetStorageClass: archive } }
          - { rulePriority: 3, selection: { tagStatus: untagged, storageClass: archive, countType: sinceImageTransitioned, countUnit: days, countNumber: 90 }, action: { type: expire } }
          - { rulePriority: 10, selection: { tagStatus: any, countType: imageCountMoreThan, countNumber: 500 }, action: { type: expire } }
  function:
    type: lambda_function
    properties:
      code: { zip: f.zip }
      runtime: python3.12
      handler: app.handler
      role_arn: ${role.arn}
      environment: { TZ: Europe/Paris, AWS_LAMBDA_EXEC_WRAPPER: /opt/wrap, PORT: 8080, RATE: 0.5, DEBUG: true, TABLE: "${table.name}" }
      tags: { version: 2 }
  alarm:
    type: cloudwatch_alarm
    properties:
      evaluation_periods: 1
      threshold: 1
      comparison_operator: GreaterThanThreshold
      metrics:
        - { id: errors, metric: { namespace: AWS/Lambda, metric_name: Errors, period: 60, stat: p99, dimensions: { FunctionName: "${function.name}" } } }
        - { id: rate, expression: "100 * errors", return_data: true }
  board:
    type: cloudwatch_dashboard
    properties:
      widgets:
        - { type: text, x: 0, y: 0, width: 24, height: 1, properties: { markdown: "# Chat", background: transparent } }
        - { type: metric, properties: { region: "${aws.region}", view: singleValue, stacked: false, period: 300, metrics: [[AWS/Lambda, Errors, FunctionName, "${function.name}", { stat: Sum }], [{ expression: "SUM(METRICS())", id: e1 }]] } }
        - { type: metric, properties: { region: us-east-1, annotations: { alarms: ["${alarm.arn}"] } } }
        - { type: log, properties: { region: us-east-1, query: "SOURCE '/aws/lambda/f' | fields @message", view: table } }
        - { type: alarm, properties: { alarms: ["${alarm.arn}"], sortBy: stateUpdatedTimestamp, states: [ALARM] } }
        - { type: explorer, properties: { metrics: [{ metricName: CPUUtilization, resourceType: "AWS::EC2::Instance", stat: Average }], labels: [{ key: State, value: running }] } }
  permission:
    type: lambda_permission
    properties: { function_name: "${function.name}", statement_id: events, principal: events.amazonaws.com }
"##;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &[("stack.yaml", text.to_owned())]);
    if let Err(errors) = compile(&path, "valid documents") {
        panic!("a stack AWS accepts was refused:\n{errors}");
    }
}

/// Every line of the lifecycle stack deleted, doubled, or given a value
/// of another kind: whatever the compiler says, it says it with a place,
/// without panicking, in bounded time.
#[test]
fn generated_malformed_stacks_never_panic_and_always_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<&str> = BASE.lines().collect();
    let replacements = [
        "",
        "[]",
        "{}",
        "-1",
        "99999999999999999999",
        "!Ref x",
        "\"${nope.arn}\"",
        "\"${\"",
        "true",
        "null",
        "\"$${aws:username}\"",
        "&a [*a]",
        "\"\\u0000\"",
        "0.5",
    ];
    let mut cases = 0;
    let mut refused = 0;
    let started = Instant::now();
    for (index, line) in lines.iter().enumerate() {
        let mut variants = vec![
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join("\n"),
            {
                let mut doubled = lines.clone();
                doubled.insert(index, line);
                doubled.join("\n")
            },
        ];
        if let Some((key, _)) = line.split_once(": ") {
            for replacement in replacements {
                let mut changed = lines.clone();
                let new_line = format!("{key}: {replacement}");
                changed[index] = &new_line;
                variants.push(changed.join("\n"));
            }
        }
        for text in variants {
            cases += 1;
            let path = dir.path().join("stack.yaml");
            std::fs::write(&path, text).unwrap();
            if compile(&path, &format!("line {} of all.yaml", index + 1)).is_err() {
                refused += 1;
            }
        }
    }
    assert!(cases > 300, "only {cases} cases");
    assert!(refused > cases / 3, "only {refused} of {cases} refused");
    assert!(started.elapsed() < Duration::from_secs(60));
    // Bounded memory: the test process's peak, where Linux reports it.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let peak_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        assert!(peak_kib < 512 * 1024, "peak memory {peak_kib} KiB");
    }
}

/// A diagnostic that names `key` (its path's last part) as unknown.
fn names_unknown_key(diagnostics: &cairn::stack::Diagnostics, key: Option<&str>) -> bool {
    diagnostics.0.iter().any(|d| {
        let unknown = d.message.starts_with("unknown ")
            || d.message.contains("is not an IAM condition operator");
        let last = d.path.rsplit('.').next().unwrap_or("");
        unknown && key.is_none_or(|key| last == key)
    })
}

/// check-jsonschema on `files`, against the checked-in schema: the files
/// it refuses.
fn refused_by_schema(files: &[PathBuf]) -> Vec<PathBuf> {
    let venv = common::python_tools("schema-consumers", &["check-jsonschema==0.39.0"]);
    let schema = Path::new(&common::manifest_dir()).join("stacks/stack.schema.json");
    let output = std::process::Command::new(venv.join("bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(schema)
        .args(files)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    files
        .iter()
        .filter(|f| said.contains(&format!("{}::", f.display())))
        .cloned()
        .collect()
}

/// The JSON Schema editors read refuses every unknown key the compiler
/// refuses: the corpus's misspelt keys, and every key of every test stack
/// misspelt in turn. Where the compiler takes a misspelt key (a tag, an
/// environment variable), the schema takes it too.
#[test]
fn the_json_schema_refuses_the_unknown_keys_the_compiler_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let load = |path: &Path| {
        cairn::stack::load(
            cairn::types::catalog(),
            path,
            &cairn::stack::VariableOverrides::new(),
        )
    };
    let mut unknown = Vec::new();
    for (n, (case, files)) in refused().into_iter().enumerate() {
        let case_dir = dir.path().join(format!("case-{n}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let path = write(&case_dir, &files);
        if let Err(diagnostics) = load(&path) {
            if names_unknown_key(&diagnostics, None) {
                unknown.push((case.to_owned(), path));
            }
        }
    }
    assert!(unknown.len() >= 7, "{unknown:?}");

    let mut accepted = Vec::new();
    let key_line = |line: &str| {
        let rest = line.trim_start().trim_start_matches("- ");
        let (key, after) = rest.split_once(':')?;
        let plain = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && (after.is_empty() || after.starts_with(' '));
        plain.then(|| key.to_owned())
    };
    let stacks = Path::new(&common::manifest_dir()).join("tests/stacks");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&stacks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    for original in names {
        let text = std::fs::read_to_string(&original).unwrap();
        let stem = original.file_stem().unwrap().to_string_lossy().into_owned();
        let copy = dir.path().join(format!("{stem}-original.yaml"));
        std::fs::write(&copy, &text).unwrap();
        if load(&copy).is_err() {
            continue; // Made to be refused, or a layer of another.
        }
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(key) = key_line(line) else { continue };
            let misspelt = format!("{key}x");
            let mut changed = lines.clone();
            let new_line = line.replacen(&format!("{key}:"), &format!("{misspelt}:"), 1);
            changed[index] = &new_line;
            let path = dir.path().join(format!("{stem}-{}.yaml", index + 1));
            std::fs::write(&path, changed.join("\n")).unwrap();
            match load(&path) {
                Ok(_) => accepted.push(path),
                Err(diagnostics) if names_unknown_key(&diagnostics, Some(&misspelt)) => {
                    unknown.push((
                        format!("{stem}.yaml line {}: `{misspelt}`", index + 1),
                        path,
                    ));
                }
                Err(_) => {}
            }
        }
    }
    assert!(unknown.len() > 200, "only {} unknown keys", unknown.len());
    assert!(accepted.len() > 20, "only {} accepted", accepted.len());

    let files: Vec<PathBuf> = unknown.iter().map(|(_, p)| p.clone()).collect();
    let refused = refused_by_schema(&files);
    let missed: Vec<&str> = unknown
        .iter()
        .filter(|(_, p)| !refused.contains(p))
        .map(|(case, _)| case.as_str())
        .collect();
    assert!(
        missed.is_empty(),
        "the schema takes unknown keys the compiler refuses: {missed:#?}"
    );
    let wrongly = refused_by_schema(&accepted);
    assert!(
        wrongly.is_empty(),
        "the schema refuses keys the compiler takes: {wrongly:#?}"
    );
}
