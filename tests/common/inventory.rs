//! What moto holds, counted by type: duplicates and leftovers both show.

/// What moto holds, by type: duplicates and leftovers both show.
pub async fn inventory(aws: &cairn::aws::Aws) -> Vec<(&'static str, usize)> {
    let mut live_keys = 0;
    for key in aws.kms().list_keys().send().await.unwrap().keys() {
        let described = aws
            .kms()
            .describe_key()
            .key_id(key.key_id().unwrap())
            .send()
            .await
            .unwrap();
        if described.key_metadata().unwrap().key_state()
            == Some(&aws_sdk_kms::types::KeyState::Enabled)
        {
            live_keys += 1;
        }
    }
    let aliases = aws.kms().list_aliases().send().await.unwrap();
    vec![
        ("kms keys", live_keys),
        (
            "aliases",
            aliases
                .aliases()
                .iter()
                .filter(|a| !a.alias_name().unwrap_or_default().starts_with("alias/aws/"))
                .count(),
        ),
        (
            "tables",
            aws.dynamodb()
                .list_tables()
                .send()
                .await
                .unwrap()
                .table_names()
                .len(),
        ),
        (
            "log groups",
            aws.logs()
                .describe_log_groups()
                .send()
                .await
                .unwrap()
                .log_groups()
                .len(),
        ),
        (
            "roles",
            aws.iam().list_roles().send().await.unwrap().roles().len(),
        ),
        (
            "repositories",
            aws.ecr()
                .describe_repositories()
                .send()
                .await
                .unwrap()
                .repositories()
                .len(),
        ),
        (
            "alarms",
            aws.cloudwatch()
                .describe_alarms()
                .send()
                .await
                .unwrap()
                .metric_alarms()
                .len(),
        ),
        (
            "dashboards",
            aws.cloudwatch()
                .list_dashboards()
                .send()
                .await
                .unwrap()
                .dashboard_entries()
                .len(),
        ),
        (
            "functions",
            aws.lambda()
                .list_functions()
                .send()
                .await
                .unwrap()
                .functions()
                .len(),
        ),
        (
            "apis",
            aws.apigateway()
                .get_apis()
                .send()
                .await
                .unwrap()
                .items()
                .len(),
        ),
        ("topics", topics(aws).await),
        ("subscriptions", subscriptions(aws).await),
        ("metric filters", metric_filters(aws).await),
        ("permission statements", permission_statements(aws).await),
        ("routes", routes(aws).await),
    ]
}

/// Statements in every function's resource policy: an identity inside
/// another object, which an emulator may hold twice where AWS refuses the
/// repeat.
pub async fn permission_statements(aws: &cairn::aws::Aws) -> usize {
    let mut count = 0;
    for function in aws
        .lambda()
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
    {
        let name = function.function_name().unwrap();
        let Ok(policy) = aws.lambda().get_policy().function_name(name).send().await else {
            continue;
        };
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        count += policy["Statement"].as_array().map_or(1, Vec::len);
    }
    count
}

/// Routes in every HTTP API.
pub async fn routes(aws: &cairn::aws::Aws) -> usize {
    let mut count = 0;
    for api in aws.apigateway().get_apis().send().await.unwrap().items() {
        let routes = aws
            .apigateway()
            .get_routes()
            .api_id(api.api_id().unwrap())
            .send()
            .await
            .unwrap();
        count += routes.items().len();
    }
    count
}

/// After a destroy.
pub const NOTHING: &[(&str, usize)] = &[
    ("kms keys", 0),
    ("aliases", 0),
    ("tables", 0),
    ("log groups", 0),
    ("roles", 0),
    ("repositories", 0),
    ("alarms", 0),
    ("dashboards", 0),
    ("functions", 0),
    ("apis", 0),
    ("topics", 0),
    ("subscriptions", 0),
    ("metric filters", 0),
    ("permission statements", 0),
    ("routes", 0),
];

/// The `all.yaml` stack, applied once.
pub const ONE_STACK: &[(&str, usize)] = &[
    ("kms keys", 1),
    ("aliases", 1),
    ("tables", 1),
    ("log groups", 1),
    ("roles", 1),
    ("repositories", 1),
    ("alarms", 2),
    ("dashboards", 1),
    ("functions", 0),
    ("apis", 0),
    ("topics", 0),
    ("subscriptions", 0),
    ("metric filters", 0),
    ("permission statements", 0),
    ("routes", 0),
];

/// The state table is one more table in moto's inventory, and its
/// encryption one more (AWS-managed) KMS key.
pub fn with_state_table(mut inventory: Vec<(&'static str, usize)>) -> Vec<(&'static str, usize)> {
    for entry in &mut inventory {
        if entry.0 == "tables" || entry.0 == "kms keys" {
            entry.1 += 1;
        }
    }
    inventory
}

pub async fn topics(aws: &cairn::aws::Aws) -> usize {
    aws.sns().list_topics().send().await.unwrap().topics().len()
}

pub async fn metric_filters(aws: &cairn::aws::Aws) -> usize {
    aws.logs()
        .describe_metric_filters()
        .send()
        .await
        .unwrap()
        .metric_filters()
        .len()
}

pub async fn subscriptions(aws: &cairn::aws::Aws) -> usize {
    aws.sns()
        .list_subscriptions()
        .send()
        .await
        .unwrap()
        .subscriptions()
        .len()
}

/// What moto holds of the network types, leaving out the default VPC and
/// what comes with it: duplicates and leftovers both show.
pub async fn network_inventory(aws: &cairn::aws::Aws) -> Vec<(&'static str, usize)> {
    let ec2 = aws.ec2();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    let ours: Vec<String> = vpcs
        .vpcs()
        .iter()
        .filter(|v| v.is_default() != Some(true))
        .filter_map(|v| v.vpc_id().map(str::to_owned))
        .collect();
    let in_ours = |vpc: Option<&str>| vpc.is_some_and(|v| ours.iter().any(|o| o == v));
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let tables = ec2.describe_route_tables().send().await.unwrap();
    let groups = ec2.describe_security_groups().send().await.unwrap();
    let gateways = ec2.describe_internet_gateways().send().await.unwrap();
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    let endpoints = ec2.describe_vpc_endpoints().send().await.unwrap();
    let addresses = ec2.describe_addresses().send().await.unwrap();
    vec![
        ("vpcs", ours.len()),
        (
            "subnets",
            subnets
                .subnets()
                .iter()
                .filter(|s| in_ours(s.vpc_id()))
                .count(),
        ),
        (
            "route tables",
            tables
                .route_tables()
                .iter()
                .filter(|t| in_ours(t.vpc_id()))
                .filter(|t| !t.associations().iter().any(|a| a.main() == Some(true)))
                .count(),
        ),
        (
            "security groups",
            groups
                .security_groups()
                .iter()
                .filter(|g| in_ours(g.vpc_id()) && g.group_name() != Some("default"))
                .count(),
        ),
        ("internet gateways", gateways.internet_gateways().len()),
        (
            "NAT gateways",
            nats.nat_gateways()
                .iter()
                .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
                .count(),
        ),
        (
            "VPC endpoints",
            endpoints
                .vpc_endpoints()
                .iter()
                .filter(|e| {
                    e.state()
                        .is_some_and(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
                })
                .count(),
        ),
        ("elastic IPs", addresses.addresses().len()),
    ]
}

pub const NETWORK_DEPLOYED: &[(&str, usize)] = &[
    ("vpcs", 1),
    ("subnets", 3),
    ("route tables", 2),
    ("security groups", 2),
    ("internet gateways", 1),
    ("NAT gateways", 1),
    ("VPC endpoints", 1),
    ("elastic IPs", 1),
];
