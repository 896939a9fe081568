//! End-to-end tests of the network types: VPCs, subnets, gateways, route
//! tables, security groups, endpoints.
//! Each test starts its own emulator on a free loopback port and keeps
//! its own state directory.

mod common;
use common::*;

/// The network types' lifecycle: create, an empty re-plan, a rule added by
/// hand shown as that one rule and removed, changes in place, destroy to
/// nothing (rules, associations, the NAT's address included).
#[tokio::test(flavor = "multi_thread")]
async fn networks_live_their_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", NETWORK, "--auto-approve"]);
    assert_eq!(network_inventory(&aws).await, NETWORK_DEPLOYED);
    let again = test.cairn(&["plan", NETWORK, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(test.cairn(&["drift", NETWORK]).code, 0);

    // The database group admits only the function's group, on 3306.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    let id = |address: &str| {
        state["resources"][address]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let database = id("security_group.database");
    let group = |id: String| {
        let aws = &aws;
        async move {
            aws.ec2()
                .describe_security_groups()
                .group_ids(id)
                .send()
                .await
                .unwrap()
                .security_groups()[0]
                .clone()
        }
    };
    let rules = group(database.clone()).await;
    assert_eq!(rules.ip_permissions().len(), 1);
    assert_eq!(rules.ip_permissions()[0].from_port(), Some(3306));
    assert_eq!(
        rules.ip_permissions()[0].user_id_group_pairs()[0].group_id(),
        Some(id("security_group.function").as_str())
    );
    assert!(
        rules.ip_permissions_egress().is_empty(),
        "egress: [] removes AWS's default"
    );
    // Private subnets route through the NAT; the endpoint is on their table.
    let private = aws
        .ec2()
        .describe_route_tables()
        .route_table_ids(id("route_table.private_routes"))
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .clone();
    assert_eq!(private.associations().len(), 2);
    assert!(private
        .routes()
        .iter()
        .any(|r| r.nat_gateway_id() == Some(id("nat_gateway.nat").as_str())));

    // Someone opens SSH by hand: the plan shows that one rule going.
    aws.ec2()
        .authorize_security_group_ingress()
        .group_id(&database)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
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
    let drift = test.cairn(&["plan", NETWORK, "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    let planned = drift
        .stdout
        .split("cairn will perform the following actions:")
        .nth(1)
        .unwrap();
    assert_eq!(planned.matches("          - {").count(), 1, "{planned}");
    assert!(planned.contains("from_port         = 22"), "{planned}");
    assert_eq!(planned.matches("          + {").count(), 0, "{planned}");
    test.ok(&["apply", NETWORK, "--auto-approve"]);
    assert_eq!(group(database.clone()).await.ip_permissions().len(), 1);

    // In place: the rule's port and a subnet attribute.
    let vars = ["--var", "db_port=5432", "--var", "public_ip=true"];
    let changed = test.ok(&[&["apply", NETWORK, "--auto-approve"][..], &vars].concat());
    assert!(
        changed
            .stdout
            .contains("Resources: 0 added, 2 changed, 0 destroyed."),
        "{}",
        changed.stdout
    );
    assert_eq!(
        group(database.clone()).await.ip_permissions()[0].from_port(),
        Some(5432)
    );
    let quiet = test.cairn(&[&["plan", NETWORK, "--detailed-exitcode"][..], &vars].concat());
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    test.ok(&["destroy", NETWORK, "--auto-approve"]);
    assert!(
        network_inventory(&aws).await.iter().all(|(_, n)| *n == 0),
        "{:?}",
        network_inventory(&aws).await
    );
}

/// cairn killed after AWS made each network resource and before the state
/// recorded it: the next apply finds every one by the tags it was created
/// with, and nothing exists twice.
#[tokio::test(flavor = "multi_thread")]
async fn network_creates_killed_before_the_state_write_are_adopted() {
    let test = Test::new();
    let aws = test.aws().await;
    kill_after_each_create(
        &test,
        &["apply", NETWORK, "--auto-approve"],
        &[
            "vpc.vpc",
            "internet_gateway.gateway",
            "security_group.function",
            "subnet.public",
            "nat_gateway.nat",
            "route_table.public_routes",
            "vpc_endpoint.dynamodb",
        ],
    );
    test.ok(&["apply", NETWORK, "--auto-approve"]);
    assert_eq!(network_inventory(&aws).await, NETWORK_DEPLOYED);
    let again = test.cairn(&["plan", NETWORK, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    test.ok(&["destroy", NETWORK, "--auto-approve"]);
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

/// AWS keeps a security group and its subnets busy for minutes after a VPC
/// function is gone (its network interfaces), and builds a NAT gateway in
/// the background: cairn waits for both, and a wait that runs out is an
/// error of its own class, from which the next run finishes.
#[tokio::test(flavor = "multi_thread")]
async fn network_waits_for_what_aws_still_holds() {
    let test = Test::new();
    let pending = FaultProxy::start(
        &test.endpoint(),
        vec![(
            "DescribeNatGateways",
            Fault::Answer(
                r#"<DescribeNatGatewaysResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>fault</requestId><natGatewaySet><item><natGatewayId>nat-pending</natGatewayId><state>pending</state></item></natGatewaySet></DescribeNatGatewaysResponse>"#,
            ),
            3,
        )],
    );
    test.ok(&[
        "--endpoint-url",
        &pending.endpoint(),
        "apply",
        NETWORK,
        "--auto-approve",
    ]);
    assert!(pending.calls("DescribeNatGateways") >= 4);

    // Busy for a while: the destroy waits it out.
    let busy = FaultProxy::start(
        &test.endpoint(),
        vec![
            (
                "DeleteSecurityGroup",
                Fault::Ec2Error("DependencyViolation"),
                3,
            ),
            ("DeleteSubnet", Fault::Ec2Error("DependencyViolation"), 2),
        ],
    );
    // Busy for longer than the wait: refused, with the class's advice.
    let stuck = FaultProxy::start(
        &test.endpoint(),
        vec![(
            "DeleteSecurityGroup",
            Fault::Ec2Error("DependencyViolation"),
            1000,
        )],
    );
    let refused = test.cairn_with(
        &[
            "--endpoint-url",
            &stuck.endpoint(),
            "destroy",
            NETWORK,
            "--auto-approve",
        ],
        &[("CAIRN_RELEASE_WAIT_SECONDS", "1")],
    );
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("DependencyViolation") && refused.stderr.contains("still in use"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("45 minutes"), "{}", refused.stderr);
    let listed = test.ok(&["state", "list", NETWORK]);
    assert!(
        listed.stdout.contains("security_group.database"),
        "{}",
        listed.stdout
    );

    test.ok(&[
        "--endpoint-url",
        &busy.endpoint(),
        "destroy",
        NETWORK,
        "--auto-approve",
    ]);
    assert!(busy.calls("DeleteSecurityGroup") >= 3);
    let aws = test.aws().await;
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

/// What AWS changes in place, changed in place: DNS hostnames, a subnet's
/// tags, a route's destination, an endpoint's policy; and what it cannot,
/// replaced with the field named (a security group's description).
#[tokio::test(flavor = "multi_thread")]
async fn network_changes_in_place_and_by_replacement() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", NETWORK, "--auto-approve"]);
    let vars = [
        "--var",
        "hostnames=false",
        "--var",
        "tier=app",
        "--var",
        "private_default=10.99.0.0/16",
        "--var",
        "endpoint_action=dynamodb:GetItem",
        "--var",
        "db_group_description=the database only",
    ];
    let planned = test.ok(&[&["plan", NETWORK][..], &vars].concat());
    for expected in [
        "~ enable_dns_hostnames = true -> false",
        "tier",
        "destination_cidr_block = \"10.99.0.0/16\"",
        "dynamodb:GetItem",
        "-/+ resource \"security_group\" \"database\"",
        "~ description = \"the database, reached only by the function\" -> \"the database only\" # forces replacement",
    ] {
        assert!(planned.stdout.contains(expected), "no `{expected}` in\n{}", planned.stdout);
    }
    assert!(
        planned
            .stdout
            .contains("Plan: 1 to add, 4 to change, 1 to destroy."),
        "{}",
        planned.stdout
    );
    test.ok(&[&["apply", NETWORK, "--auto-approve"][..], &vars].concat());
    let quiet = test.cairn(&[&["plan", NETWORK, "--detailed-exitcode"][..], &vars].concat());
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    let id = |address: &str| {
        state["resources"][address]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ec2 = aws.ec2();
    let hostnames = ec2
        .describe_vpc_attribute()
        .vpc_id(id("vpc.vpc"))
        .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hostnames.enable_dns_hostnames().and_then(|v| v.value()),
        Some(false)
    );
    let subnet = ec2
        .describe_subnets()
        .subnet_ids(id("subnet.private_a"))
        .send()
        .await
        .unwrap()
        .subnets()[0]
        .clone();
    assert!(subnet
        .tags()
        .iter()
        .any(|t| t.key() == Some("tier") && t.value() == Some("app")));
    let table = ec2
        .describe_route_tables()
        .route_table_ids(id("route_table.private_routes"))
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .clone();
    let destinations: Vec<&str> = table
        .routes()
        .iter()
        .filter(|r| r.nat_gateway_id().is_some())
        .filter_map(|r| r.destination_cidr_block())
        .collect();
    assert_eq!(destinations, ["10.99.0.0/16"]);
    let endpoint = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(id("vpc_endpoint.dynamodb"))
        .send()
        .await
        .unwrap()
        .vpc_endpoints()[0]
        .clone();
    assert!(endpoint
        .policy_document()
        .unwrap()
        .contains("dynamodb:GetItem"));
    let group = ec2
        .describe_security_groups()
        .group_ids(id("security_group.database"))
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    assert_eq!(group.description(), Some("the database only"));
    test.ok(&["destroy", NETWORK, "--auto-approve"]);
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

/// The smaller changes in place, from one version of a stack to the next:
/// an internet gateway moved to another VPC, a subnet moved to another
/// route table, a NAT gateway's and a DB subnet group's tags, an API key
/// disabled and described. (moto loses a DB subnet group from its listing
/// after ModifyDBSubnetGroup, so its description is not changed here.)
#[tokio::test(flavor = "multi_thread")]
async fn small_changes_in_place_reach_aws() {
    let test = Test::new();
    let aws = test.aws().await;
    let version = |gateway_vpc: &str, subnet_table: &str, label: &str, enabled: bool| {
        format!(
            r#"project: cairn-test
environment: t
resources:
  one:
    type: vpc
    properties: {{ cidr_block: 10.31.0.0/16 }}
  two:
    type: vpc
    properties: {{ cidr_block: 10.32.0.0/16 }}
  a:
    type: subnet
    properties: {{ vpc_id: "${{one.id}}", cidr_block: 10.31.1.0/24, availability_zone: us-east-1a }}
  b:
    type: subnet
    properties: {{ vpc_id: "${{one.id}}", cidr_block: 10.31.2.0/24, availability_zone: us-east-1b }}
  gateway:
    type: internet_gateway
    properties: {{ vpc_id: "${{{gateway_vpc}.id}}" }}
  first_table:
    type: route_table
    properties: {{ vpc_id: "${{one.id}}", subnet_ids: [{first}] }}
  second_table:
    type: route_table
    properties: {{ vpc_id: "${{one.id}}", subnet_ids: [{second}] }}
  nat:
    type: nat_gateway
    properties: {{ subnet_id: "${{a.id}}", connectivity_type: private, tags: {{ label: {label} }} }}
  subnets:
    type: db_subnet_group
    properties: {{ subnet_ids: ["${{a.id}}", "${{b.id}}"], tags: {{ label: {label} }} }}
  key:
    type: api_key
    properties: {{ description: "{label} key", enabled: {enabled} }}
"#,
            first = if subnet_table == "first" {
                "\"${b.id}\""
            } else {
                ""
            },
            second = if subnet_table == "second" {
                "\"${b.id}\""
            } else {
                ""
            },
        )
    };
    let file = test.directory.path().join("small.yaml");
    let path = file.to_str().unwrap().to_owned();
    std::fs::write(&file, version("one", "first", "blue", true)).unwrap();
    test.ok(&["apply", &path, "--auto-approve"]);
    std::fs::write(&file, version("two", "second", "green", false)).unwrap();
    let changed = test.ok(&["apply", &path, "--auto-approve"]);
    assert!(
        changed
            .stdout
            .contains("Resources: 0 added, 6 changed, 0 destroyed."),
        "{}",
        changed.stdout
    );
    let quiet = test.cairn(&["plan", &path, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    let id = |address: &str| {
        state["resources"][address]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ec2 = aws.ec2();
    let gateway = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(id("internet_gateway.gateway"))
        .send()
        .await
        .unwrap()
        .internet_gateways()[0]
        .clone();
    let attached: Vec<&str> = gateway
        .attachments()
        .iter()
        .filter_map(|a| a.vpc_id())
        .collect();
    assert_eq!(attached, [id("vpc.two")]);
    let second = ec2
        .describe_route_tables()
        .route_table_ids(id("route_table.second_table"))
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .clone();
    let subnets: Vec<&str> = second
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    assert_eq!(subnets, [id("subnet.b")]);
    let nat = ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id("nat_gateway.nat"))
        .send()
        .await
        .unwrap()
        .nat_gateways()[0]
        .clone();
    assert!(nat
        .tags()
        .iter()
        .any(|t| t.key() == Some("label") && t.value() == Some("green")));
    let group = aws
        .rds()
        .describe_db_subnet_groups()
        .db_subnet_group_name("cairn-test-t-subnets")
        .send()
        .await
        .unwrap()
        .db_subnet_groups()[0]
        .clone();
    let tags = aws
        .rds()
        .list_tags_for_resource()
        .resource_name(group.db_subnet_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(tags
        .tag_list()
        .iter()
        .any(|t| t.key() == Some("label") && t.value() == Some("green")));
    let key = aws
        .restapi()
        .get_api_key()
        .api_key(id("api_key.key"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (key.description(), key.enabled()),
        (Some("green key"), false)
    );
    test.ok(&["destroy", &path, "--auto-approve"]);
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

/// Tags `id` with label=by-hand on EC2, as a person with the console would.
async fn tag_by_hand(aws: &cairn::aws::Aws, id: &str) {
    aws.ec2()
        .create_tags()
        .resources(id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("label")
                .value("by-hand")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

const LIVES_NETWORK: &str = "tests/stacks/lives-network.yaml";

/// vpc, subnet, internet_gateway, route_table, nat_gateway, vpc_endpoint,
/// db_subnet_group and db_instance, each through its whole life: created,
/// planned again with nothing to do, changed in place, changed by hand
/// (found, and put back), replaced where a field forces it (the VPC moved
/// to another range takes everything inside it along; the gateway moves
/// over in place), destroyed to nothing.
#[tokio::test(flavor = "multi_thread")]
async fn every_network_type_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let apply = ["apply", LIVES_NETWORK, "--auto-approve"];
    let plan = ["plan", LIVES_NETWORK, "--detailed-exitcode"];
    let quiet = |vars: &[String]| {
        let run = test.cairn(&arguments(&plan, vars));
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    };
    let created = test.ok(&apply);
    assert!(
        created.stdout.contains("Resources: 10 added"),
        "{}",
        created.stdout
    );
    quiet(&[]);

    // In place: every one's tags.
    let second: Vec<String> = ["--var", "label=second"].map(str::to_owned).to_vec();
    let planned = test.ok(&arguments(&["plan", LIVES_NETWORK], &second));
    let in_place = [
        "vpc.vpc",
        "subnet.a",
        "internet_gateway.gateway",
        "route_table.routes",
        "nat_gateway.nat",
        "vpc_endpoint.endpoint",
        "db_subnet_group.subnets",
        "db_instance.db",
    ];
    for address in in_place {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} will be updated in-place")),
            "{address}:\n{}",
            planned.stdout
        );
    }
    test.ok(&arguments(&apply, &second));
    quiet(&second);

    // By hand: a tag on each, found as that resource's change.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    let id = |address: &str| {
        state["resources"][address]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for address in &in_place[..6] {
        tag_by_hand(&aws, &id(address)).await;
    }
    let rds = aws.rds();
    let group = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name("cairn-test-t-subnets")
        .send()
        .await
        .unwrap()
        .db_subnet_groups()[0]
        .db_subnet_group_arn()
        .unwrap()
        .to_owned();
    let instance = rds
        .describe_db_instances()
        .db_instance_identifier("cairn-test-t-db")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .db_instance_arn()
        .unwrap()
        .to_owned();
    for arn in [group, instance] {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .tags(
                aws_sdk_rds::types::Tag::builder()
                    .key("label")
                    .value("by-hand")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let drift = test.cairn(&arguments(&plan, &second));
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    for address in in_place {
        assert!(
            drift.stdout.contains(&format!("# {address} has changed")),
            "{address}:\n{}",
            drift.stdout
        );
    }
    test.ok(&arguments(&apply, &second));
    quiet(&second);

    // Replaced: another range for the VPC, other names for the database.
    let moved: Vec<String> = [
        "--var",
        "label=second",
        "--var",
        "net=10.61",
        "--var",
        "suffix=-b",
    ]
    .map(str::to_owned)
    .to_vec();
    let planned = test.ok(&arguments(&["plan", LIVES_NETWORK], &moved));
    for address in [
        "vpc.vpc",
        "subnet.a",
        "subnet.b",
        "route_table.routes",
        "nat_gateway.nat",
        "vpc_endpoint.endpoint",
        "security_group.group",
        "db_subnet_group.subnets",
        "db_instance.db",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} must be replaced")),
            "{address}:\n{}",
            planned.stdout
        );
    }
    assert!(
        planned
            .stdout
            .contains("# internet_gateway.gateway will be updated in-place"),
        "{}",
        planned.stdout
    );
    // The NAT and the endpoint are made new before old (their types' way),
    // and so is what they stand on; the second subnet goes old first.
    for made_first in [
        "nat_gateway\" \"nat",
        "vpc_endpoint\" \"endpoint",
        "subnet\" \"a",
        "route_table\" \"routes",
        "vpc\" \"vpc",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("+/- resource \"{made_first}\" {{")),
            "{made_first}:\n{}",
            planned.stdout
        );
    }
    assert!(
        planned.stdout.contains("-/+ resource \"subnet\" \"b\" {")
            && planned
                .stdout
                .contains("# (as for nat_gateway.nat, which depends on it)"),
        "{}",
        planned.stdout
    );
    test.ok(&arguments(&apply, &moved));
    quiet(&moved);
    let vpcs = aws.ec2().describe_vpcs().send().await.unwrap();
    let ranges: Vec<&str> = vpcs
        .vpcs()
        .iter()
        .filter(|v| v.is_default() != Some(true))
        .filter_map(|v| v.cidr_block())
        .collect();
    assert_eq!(ranges, ["10.61.0.0/16"]);

    test.ok(&arguments(
        &["destroy", LIVES_NETWORK, "--auto-approve"],
        &moved,
    ));
    assert!(
        network_inventory(&aws).await.iter().all(|(_, n)| *n == 0),
        "{:?}",
        network_inventory(&aws).await
    );
    let instances = rds.describe_db_instances().send().await.unwrap();
    assert!(instances.db_instances().is_empty());
    let groups = rds.describe_db_subnet_groups().send().await.unwrap();
    assert!(groups.db_subnet_groups().is_empty());
}
