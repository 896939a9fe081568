//! End-to-end tests of the second seed system, `stacks/secure-backend`: its
//! whole life, crashes and lost answers.
//! Each test starts its own emulator on a free loopback port and keeps
//! its own state directory.

mod common;
use common::*;

/// The second seed system, end to end: every chat needs an API key, the
/// usage plan holds the seed's limits and both keys, the function runs in
/// the private subnets and alone reaches the database on 3306, the keys'
/// values are never shown or stored; a rule opened by hand is drift that
/// apply removes; destroy leaves nothing (interfaces, rules, keys and
/// snapshots included).
#[tokio::test(flavor = "multi_thread")]
async fn the_secure_backend_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let created = test.ok(&["apply", SECURE_DEV, "--auto-approve"]);
    assert!(
        created.stdout.contains("Resources: 27 added"),
        "{}",
        created.stdout
    );
    let quiet = test.cairn(&["plan", SECURE_DEV, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    let state_text = std::fs::read_to_string(test.state_dir().join("dev.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state_text).unwrap();
    let id = |address: &str| {
        state["resources"][address]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let rest = aws.restapi();
    let api = id("rest_api.api");
    let resources = rest.get_resources().rest_api_id(&api).send().await.unwrap();
    let mut keyed = Vec::new();
    for resource in resources.items() {
        for method in resource
            .resource_methods()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let read = rest
                .get_method()
                .rest_api_id(&api)
                .resource_id(resource.id().unwrap())
                .http_method(&method)
                .send()
                .await
                .unwrap();
            keyed.push((
                format!("{method} {}", resource.path().unwrap()),
                read.api_key_required().unwrap_or(false),
            ));
        }
    }
    keyed.sort();
    assert_eq!(
        keyed,
        [
            ("GET /health".to_owned(), false),
            ("POST /chat".to_owned(), true)
        ]
    );
    let plan = rest
        .get_usage_plan()
        .usage_plan_id(id("usage_plan.usage"))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.throttle().unwrap().rate_limit(), 100.0);
    assert_eq!(plan.quota().unwrap().limit(), 10_000);
    assert_eq!(plan.quota().unwrap().period().unwrap().as_str(), "DAY");
    let keys = rest
        .get_usage_plan_keys()
        .usage_plan_id(id("usage_plan.usage"))
        .send()
        .await
        .unwrap();
    assert_eq!(keys.items().len(), 2, "two keys valid at once");
    for key in rest
        .get_api_keys()
        .include_values(true)
        .send()
        .await
        .unwrap()
        .items()
    {
        let value = key.value().unwrap();
        assert!(!state_text.contains(value), "an API key is in the state");
        assert!(!created.stdout.contains(value) && !created.stderr.contains(value));
    }
    let function = aws
        .lambda()
        .get_function_configuration()
        .function_name("secure-chat-dev-chat")
        .send()
        .await
        .unwrap();
    let vpc = function.vpc_config().unwrap();
    let mut subnets = vpc.subnet_ids().to_vec();
    subnets.sort();
    let mut private = vec![id("subnet.private_a"), id("subnet.private_b")];
    private.sort();
    assert_eq!(subnets, private);
    assert_eq!(
        vpc.security_group_ids(),
        [id("security_group.function_group")]
    );
    // The role's VPC helper: exactly the network-interface actions.
    let vpc_policy = aws
        .iam()
        .get_role_policy()
        .role_name("secure-chat-dev-function-role")
        .policy_name("lambda-vpc-access")
        .send()
        .await
        .unwrap();
    let document = percent_encoding::percent_decode_str(vpc_policy.policy_document())
        .decode_utf8()
        .unwrap()
        .into_owned();
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert_eq!(
        document["Statement"][0]["Action"],
        serde_json::json!([
            "ec2:AssignPrivateIpAddresses",
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:UnassignPrivateIpAddresses"
        ])
    );
    let database = aws
        .rds()
        .describe_db_instances()
        .db_instance_identifier("secure-chat-dev-db")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone();
    assert_eq!(database.publicly_accessible(), Some(false));
    assert_eq!(database.storage_encrypted(), Some(true));
    let group = aws
        .ec2()
        .describe_security_groups()
        .group_ids(id("security_group.database_group"))
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    assert_eq!(group.ip_permissions().len(), 1);
    assert_eq!(group.ip_permissions()[0].from_port(), Some(3306));
    assert_eq!(
        group.ip_permissions()[0].user_id_group_pairs()[0].group_id(),
        Some(id("security_group.function_group").as_str())
    );
    // No route out of the VPC: only the local route and the endpoint's.
    let tables = aws
        .ec2()
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(id("vpc.vpc"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(tables
        .route_tables()
        .iter()
        .flat_map(|t| t.routes())
        .all(|r| r.destination_cidr_block() != Some("0.0.0.0/0")));

    aws.ec2()
        .authorize_security_group_ingress()
        .group_id(id("security_group.database_group"))
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(3306)
                .to_port(3306)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&["drift", SECURE_DEV]);
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(
        drift
            .stdout
            .contains("Drift in dev: 1 of 27 resources differ"),
        "{}",
        drift.stdout
    );
    // Only the rule opened by hand, not the group's whole list.
    assert!(
        drift
            .stdout
            .contains("ingress (elements that differ): [] -> [{\"cidr_ipv4\":\"0.0.0.0/0\""),
        "{}",
        drift.stdout
    );
    assert!(
        !drift.stdout.contains("the chat function"),
        "{}",
        drift.stdout
    );
    test.ok(&["apply", SECURE_DEV, "--auto-approve"]);
    let quiet = test.cairn(&["plan", SECURE_DEV, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    test.ok(&["destroy", SECURE_DEV, "--auto-approve"]);
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
    let rds = aws.rds();
    assert!(rds
        .describe_db_instances()
        .send()
        .await
        .unwrap()
        .db_instances()
        .is_empty());
    assert!(rds
        .describe_db_snapshots()
        .send()
        .await
        .unwrap()
        .db_snapshots()
        .is_empty());
    assert!(rest
        .get_rest_apis()
        .send()
        .await
        .unwrap()
        .items()
        .is_empty());
    assert!(rest.get_api_keys().send().await.unwrap().items().is_empty());
    assert!(rest
        .get_usage_plans()
        .send()
        .await
        .unwrap()
        .items()
        .is_empty());
    let interfaces = aws
        .ec2()
        .describe_network_interfaces()
        .send()
        .await
        .unwrap();
    assert!(interfaces.network_interfaces().is_empty());
    let secrets = aws
        .secretsmanager()
        .list_secrets()
        .include_planned_deletion(true)
        .send()
        .await
        .unwrap();
    assert!(secrets.secret_list().is_empty());
}

/// cairn killed after AWS made each of the secure backend's resources
/// whose ids AWS assigns (or that a repeat would refuse) and before the
/// state recorded it: one more apply adopts every one, nothing twice.
#[tokio::test(flavor = "multi_thread")]
async fn secure_backend_creates_killed_before_the_state_write_are_adopted() {
    let test = Test::new();
    let aws = test.aws().await;
    kill_after_each_create(
        &test,
        &["apply", SECURE_DEV, "--auto-approve"],
        &[
            "api_key.key_primary",
            "db_subnet_group.db_subnets",
            "db_instance.db",
            "vpc_endpoint.model_endpoint",
            "rest_api.api",
            "usage_plan.usage",
        ],
    );
    test.ok(&["apply", SECURE_DEV, "--auto-approve"]);
    let quiet = test.cairn(&["plan", SECURE_DEV, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    let rest = aws.restapi();
    assert_eq!(rest.get_rest_apis().send().await.unwrap().items().len(), 1);
    assert_eq!(rest.get_api_keys().send().await.unwrap().items().len(), 2);
    assert_eq!(
        rest.get_usage_plans().send().await.unwrap().items().len(),
        1
    );
    let rds = aws.rds();
    assert_eq!(
        rds.describe_db_instances()
            .send()
            .await
            .unwrap()
            .db_instances()
            .len(),
        1
    );
    assert_eq!(
        rds.describe_db_subnet_groups()
            .send()
            .await
            .unwrap()
            .db_subnet_groups()
            .len(),
        1
    );
    let endpoints = aws.ec2().describe_vpc_endpoints().send().await.unwrap();
    assert_eq!(endpoints.vpc_endpoints().len(), 2);
    test.ok(&["destroy", SECURE_DEV, "--auto-approve"]);
    assert!(rest.get_api_keys().send().await.unwrap().items().is_empty());
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

/// The secure backend through a proxy that loses about one mutating answer
/// in five after the emulator carried the request out (a 500, or an answer
/// cut off): every create whose id AWS assigns (VPC, subnets, groups,
/// endpoints, REST API, keys, plan) is found by its tags, never made
/// twice; the plan is then empty and destroy leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_secure_backend_survives_lost_answers() {
    let test = Test::new();
    let aws = test.aws().await;
    let mut lost = 0;
    for (seed, loss) in [(5, Loss::ServerError), (13, Loss::CutOff)] {
        let proxy = FaultProxy::lossy(&test.endpoint(), 0.2, loss, seed);
        let endpoint = proxy.endpoint();
        until_ok(
            &test,
            &[
                "--endpoint-url",
                &endpoint,
                "apply",
                SECURE_DEV,
                "--auto-approve",
            ],
            6,
        );
        lost += proxy.lost();
        let quiet = test.cairn(&["plan", SECURE_DEV, "--detailed-exitcode"]);
        assert_eq!(quiet.code, 0, "{}", quiet.stdout);
        let rest = aws.restapi();
        assert_eq!(rest.get_rest_apis().send().await.unwrap().items().len(), 1);
        assert_eq!(rest.get_api_keys().send().await.unwrap().items().len(), 2);
        assert_eq!(
            rest.get_usage_plans().send().await.unwrap().items().len(),
            1
        );
        let vpcs = aws.ec2().describe_vpcs().send().await.unwrap();
        assert_eq!(
            vpcs.vpcs()
                .iter()
                .filter(|v| v.is_default() != Some(true))
                .count(),
            1
        );
        let groups = aws.ec2().describe_security_groups().send().await.unwrap();
        assert_eq!(
            groups
                .security_groups()
                .iter()
                .filter(|g| g.group_name() != Some("default"))
                .count(),
            3
        );
        let endpoints = aws.ec2().describe_vpc_endpoints().send().await.unwrap();
        // Deleted endpoints stay listed as such for a while.
        let live = endpoints
            .vpc_endpoints()
            .iter()
            .filter(|e| {
                e.state()
                    .is_some_and(|s| !s.as_str().eq_ignore_ascii_case("deleted"))
            })
            .count();
        assert_eq!(live, 2);
        until_ok(
            &test,
            &[
                "--endpoint-url",
                &endpoint,
                "destroy",
                SECURE_DEV,
                "--auto-approve",
            ],
            6,
        );
        assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
        assert!(rest.get_api_keys().send().await.unwrap().items().is_empty());
    }
    assert!(lost >= 4, "only {lost} answers were lost");
}
