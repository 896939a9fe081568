//! Stacks that use each other's outputs (`imports:`): a network stack and
//! an application stack that takes its VPC and subnets, on the emulator,
//! with local state in each stack's own directory and with the shared
//! DynamoDB backend.

mod common;
use common::*;
use std::path::Path;

/// The network: a VPC and its private subnets (`extra` adds a third),
/// their ids as outputs.
fn network_stack(state: &str, extra: bool) -> String {
    let (subnet, listed) = if extra {
        (
            r#"  private_c:
    type: subnet
    properties: { vpc_id: "${vpc.id}", cidr_block: 10.30.3.0/24, availability_zone: us-east-1c }
"#,
            r#", "${private_c.id}""#,
        )
    } else {
        ("", "")
    };
    format!(
        r#"project: net
{state}
resources:
  vpc:
    type: vpc
    properties: {{ cidr_block: 10.30.0.0/16 }}
  private_a:
    type: subnet
    properties: {{ vpc_id: "${{vpc.id}}", cidr_block: 10.30.1.0/24, availability_zone: us-east-1a }}
  private_b:
    type: subnet
    properties: {{ vpc_id: "${{vpc.id}}", cidr_block: 10.30.2.0/24, availability_zone: us-east-1b }}
{subnet}outputs:
  vpc_id: ${{vpc.id}}
  vpc_cidr: ${{vpc.cidr_block}}
  private_subnet_ids: ["${{private_a.id}}", "${{private_b.id}}"{listed}]
"#
    )
}

/// The application: a security group in the network's VPC and a route
/// table for its private subnets.
fn app_stack(state: &str) -> String {
    format!(
        r#"project: app
{state}
imports:
  network:
    stack: ../network
    outputs: [vpc_id, private_subnet_ids]
resources:
  app:
    type: security_group
    properties:
      vpc_id: ${{import.network.vpc_id}}
      description: the application
  private_routes:
    type: route_table
    properties:
      vpc_id: ${{import.network.vpc_id}}
      subnet_ids: ${{import.network.private_subnet_ids}}
outputs:
  group_id: ${{app.id}}
  route_table_id: ${{private_routes.id}}
"#
    )
}

/// `stacks/network/dev.yaml` and `stacks/app/dev.yaml` in the test's
/// directory; the paths cairn is given.
fn write_stacks(test: &Test, network: &str, app: &str) -> (String, String) {
    let root = test.directory.path().join("stacks");
    for (name, text) in [("network", network), ("app", app)] {
        std::fs::create_dir_all(root.join(name)).unwrap();
        std::fs::write(root.join(name).join("dev.yaml"), text).unwrap();
    }
    let path = |name: &str| {
        root.join(name)
            .join("dev.yaml")
            .to_str()
            .unwrap()
            .to_owned()
    };
    (path("network"), path("app"))
}

const LOCAL_NETWORK: &str = "state: { backend: local, directory: ../../state/network }";
const LOCAL_APP: &str = "state: { backend: local, directory: ../../state/app }";

/// The test's directory as `[TMP]`, AWS ids as `vpc-ID`, `subnet-ID`,
/// `sg-ID`: what a snapshot may hold.
fn scrubbed(test: &Test, text: &str) -> String {
    let text = text.replace(test.directory.path().to_str().unwrap(), "[TMP]");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = ["vpc-", "subnet-", "sg-"]
        .iter()
        .filter_map(|prefix| rest.find(prefix).map(|i| (i, prefix.len())))
        .min()
    {
        let (i, length) = at;
        out.push_str(&rest[..i + length]);
        rest = &rest[i + length..];
        let id = rest
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len());
        if id >= 8 {
            out.push_str("ID");
            rest = &rest[id..];
        }
    }
    out.push_str(rest);
    out
}

fn state(test: &Test, stack: &str) -> serde_json::Value {
    let path = test
        .directory
        .path()
        .join("state")
        .join(stack)
        .join("dev.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The subnets the application's route table serves, as AWS says.
async fn routed_subnets(test: &Test, aws: &cairn::aws::Aws) -> Vec<String> {
    let id = state(test, "app")["outputs"]["route_table_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tables = aws
        .ec2()
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = tables.route_tables()[0]
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn sorted(value: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The whole life of two stacks, one importing from the other, with
/// local state: the consumer's resources use the producer's values in
/// AWS, a new subnet in the producer shows in the consumer's plan named
/// by its import, the producer cannot be destroyed under the consumer,
/// and destroying both in order leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_stack_uses_another_stacks_outputs_from_its_state() {
    let test = Test::new();
    let aws = test.aws().await;
    let (network, app) = write_stacks(
        &test,
        &network_stack(LOCAL_NETWORK, false),
        &app_stack(LOCAL_APP),
    );

    // Before the network is applied there is nothing to import from.
    let early = test.cairn(&["plan", &app]);
    assert_eq!(early.code, 1, "{}", early.stdout);
    insta::assert_snapshot!("no_state_yet", scrubbed(&test, &early.stderr));

    test.ok(&["apply", &network, "--auto-approve"]);
    test.ok(&["apply", &app, "--auto-approve"]);
    let produced = state(&test, "network");
    let outputs = &produced["outputs"];
    assert!(outputs["vpc_id"].as_str().unwrap().starts_with("vpc-"));

    // In AWS, the consumer's resources stand on the producer's.
    let group_id = state(&test, "app")["outputs"]["group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let groups = aws
        .ec2()
        .describe_security_groups()
        .group_ids(&group_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.security_groups()[0].vpc_id(),
        outputs["vpc_id"].as_str()
    );
    assert_eq!(
        routed_subnets(&test, &aws).await,
        sorted(&outputs["private_subnet_ids"])
    );
    for stack in [&network, &app] {
        let again = test.cairn(&["plan", stack, "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "{stack}: {}", again.stdout);
    }

    // A third subnet in the network: the consumer's plan says where its
    // new value comes from, in text and in both JSON plans.
    write_stacks(
        &test,
        &network_stack(LOCAL_NETWORK, true),
        &app_stack(LOCAL_APP),
    );
    test.ok(&["apply", &network, "--auto-approve"]);
    let plan = test.ok(&["plan", &app]);
    insta::assert_snapshot!("plan_names_the_import", scrubbed(&test, &plan.stdout));
    let json: serde_json::Value =
        serde_json::from_str(&test.ok(&["plan", &app, "--json"]).stdout).unwrap();
    // Terraform describes the new association as its own resource.
    let rows: Vec<&serde_json::Value> = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["cairn_address"] == "route_table.private_routes")
        .collect();
    assert!(rows.iter().all(|row| row["cairn_imports"]
        == serde_json::json!({"subnet_ids": ["network.private_subnet_ids"]})));
    assert!(rows
        .iter()
        .any(|row| row["change"]["actions"] == serde_json::json!(["create"])));
    let own: serde_json::Value =
        serde_json::from_str(&test.ok(&["plan", &app, "--json=cairn"]).stdout).unwrap();
    let change = own["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "route_table.private_routes")
        .unwrap();
    assert_eq!(
        change["imports"],
        serde_json::json!({"subnet_ids": ["network.private_subnet_ids"]})
    );
    test.ok(&["apply", &app, "--auto-approve"]);
    let outputs = state(&test, "network")["outputs"].clone();
    assert_eq!(routed_subnets(&test, &aws).await.len(), 3);
    assert_eq!(
        routed_subnets(&test, &aws).await,
        sorted(&outputs["private_subnet_ids"])
    );

    // The network is still used: refused, naming the consumer, and
    // nothing is deleted.
    let planned = test.ok(&["plan", &network, "--destroy"]);
    assert!(
        planned.stderr.contains("destroy will refuse") && planned.stderr.contains("app/dev"),
        "{}",
        planned.stderr
    );
    let refused = test.cairn(&["destroy", &network, "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    insta::assert_snapshot!("destroy_refused", scrubbed(&test, &refused.stderr));
    assert_eq!(
        test.cairn(&["plan", &network, "--detailed-exitcode"]).code,
        0
    );

    // The graph of stacks: the application imports from the network.
    let graph = test.ok(&["graph", &app, "--stacks"]);
    insta::assert_snapshot!("stacks_graph", scrubbed(&test, &graph.stdout));

    test.ok(&["destroy", &app, "--auto-approve"]);
    test.ok(&["destroy", &network, "--auto-approve"]);
    let left = aws
        .ec2()
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("cidr")
                .values("10.30.0.0/16")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(left.vpcs().is_empty(), "{:?}", left.vpcs());
    assert!(aws
        .ec2()
        .describe_subnets()
        .send()
        .await
        .unwrap()
        .subnets()
        .iter()
        .all(|s| !s.cidr_block().unwrap_or_default().starts_with("10.30.")));
    let consumers = test.directory.path().join("state/network/dev.consumers");
    assert_eq!(std::fs::read_dir(consumers).unwrap().count(), 0);
}

/// Both stacks keep state in one shared DynamoDB table: the consumer
/// records itself there as an item of its own, `--ignore-consumers`
/// destroys the producer anyway (and the consumer's next plan says what
/// is missing), and the consumer's destroy removes its record.
#[tokio::test(flavor = "multi_thread")]
async fn imports_read_the_shared_backend_and_consumers_are_items_there() {
    let test = Test::new();
    let aws = test.aws().await;
    let shared = "state: { backend: dynamodb, table: cairn-shared-state }";
    let app = format!(
        r#"project: app
{shared}
imports:
  network: {{ stack: ../network, outputs: [vpc_id, vpc_cidr] }}
resources:
  notes:
    type: log_group
    properties:
      name: /app/${{import.network.vpc_id}}
      tags: {{ cidr: "${{import.network.vpc_cidr}}" }}
"#
    );
    let (network, app) = write_stacks(&test, &network_stack(shared, false), &app);
    test.ok(&["state", "init-backend", &network]);
    test.ok(&["apply", &network, "--auto-approve"]);
    test.ok(&["apply", &app, "--auto-approve"]);
    assert!(
        !test.directory.path().join("state").exists()
            || std::fs::read_dir(test.state_dir()).unwrap().count() == 0,
        "no local state is written"
    );
    let consumers = || async {
        aws.dynamodb()
            .query()
            .table_name("cairn-shared-state")
            .key_condition_expression("pk = :pk AND begins_with(sk, :consumer)")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S("net/dev".into()),
            )
            .expression_attribute_values(
                ":consumer",
                aws_sdk_dynamodb::types::AttributeValue::S("consumer#".into()),
            )
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .map(|item| item["sk"].as_s().unwrap().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(consumers().await, ["consumer#cairn-shared-state/app/dev"]);
    let groups = aws
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/app/vpc-")
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups().len(), 1);
    assert_eq!(test.cairn(&["plan", &app, "--detailed-exitcode"]).code, 0);

    let refused = test.cairn(&["destroy", &network, "--auto-approve"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("app/dev"), "{}", refused.stderr);
    let forced = test.ok(&["destroy", &network, "--auto-approve", "--ignore-consumers"]);
    assert!(forced.stderr.contains("app/dev"), "{}", forced.stderr);
    let missing = test.cairn(&["plan", &app]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("holds no output `vpc_id`"),
        "{}",
        missing.stderr
    );
    test.ok(&["destroy", &app, "--auto-approve"]);
    assert!(consumers().await.is_empty());
}

/// Mistakes in imports are found by validate, without AWS: an import the
/// stack does not declare, and an output the other stack does not have.
#[test]
fn unknown_imports_and_outputs_are_refused_at_validate() {
    let test = Test::offline();
    let unknown_import =
        app_stack(LOCAL_APP).replace("${import.network.vpc_id}", "${import.netwrok.vpc_id}");
    let (_, app) = write_stacks(&test, &network_stack(LOCAL_NETWORK, false), &unknown_import);
    let run = test.cairn(&["validate", &app]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("unknown_import", scrubbed(&test, &run.stderr));

    let unknown_output = app_stack(LOCAL_APP).replace(
        "outputs: [vpc_id, private_subnet_ids]",
        "outputs: [vpc_id, private_subnets_ids]",
    );
    write_stacks(&test, &network_stack(LOCAL_NETWORK, false), &unknown_output);
    let run = test.cairn(&["validate", &app]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("unknown_output", scrubbed(&test, &run.stderr));

    let not_taken = app_stack(LOCAL_APP).replace(
        "outputs: [vpc_id, private_subnet_ids]",
        "outputs: [private_subnet_ids]",
    );
    write_stacks(&test, &network_stack(LOCAL_NETWORK, false), &not_taken);
    let run = test.cairn(&["validate", &app]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("import `network` does not take output `vpc_id`"),
        "{}",
        run.stderr
    );
    assert!(Path::new(&app).exists());
}

/// A sensitive output stays secret through an import: the producer's
/// state keeps only its hash, the consumer finds the value again from the
/// producer's resource (read live, checked against that hash), plans show
/// it as a sensitive value, and neither state holds it.
#[tokio::test(flavor = "multi_thread")]
async fn a_sensitive_output_stays_sensitive_through_an_import() {
    let test = Test::new();
    let aws = test.aws().await;
    let keys = r#"project: keys
state: { backend: local, directory: ../../state/keys }
resources:
  key:
    type: api_key
    properties: { name: partner }
outputs:
  key_value: ${key.value}
  key_id: ${key.id}
"#;
    let app = r#"project: app
state: { backend: local, directory: ../../state/app }
imports:
  keys: { stack: ../keys, outputs: [key_value, key_id] }
resources:
  partner:
    type: secretsmanager_secret
    properties:
      value: ${import.keys.key_value}
      description: the partner's key ${import.keys.key_id}
      recovery_window_in_days: 0
"#;
    let root = test.directory.path().join("stacks");
    for (name, text) in [("keys", keys), ("app", app)] {
        std::fs::create_dir_all(root.join(name)).unwrap();
        std::fs::write(root.join(name).join("dev.yaml"), text).unwrap();
    }
    let keys = root.join("keys/dev.yaml").to_str().unwrap().to_owned();
    let app = root.join("app/dev.yaml").to_str().unwrap().to_owned();
    test.ok(&["apply", &keys, "--auto-approve"]);
    let key_id = state(&test, "keys")["outputs"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_value = aws
        .restapi()
        .get_api_key()
        .api_key(&key_id)
        .include_value(true)
        .send()
        .await
        .unwrap()
        .value()
        .unwrap()
        .to_owned();
    assert!(state(&test, "keys")["outputs"]["key_value"]["$sensitive"].is_string());

    let plan = test.ok(&["plan", &app]);
    assert!(plan.stdout.contains("(sensitive value)"), "{}", plan.stdout);
    let applied = test.ok(&["apply", &app, "--auto-approve"]);
    for text in [&plan.stdout, &plan.stderr, &applied.stdout, &applied.stderr] {
        assert!(!text.contains(&secret_value), "{text}");
    }
    let stored = aws
        .secretsmanager()
        .get_secret_value()
        .secret_id("app-dev-partner")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.secret_string(), Some(secret_value.as_str()));
    for stack in ["keys", "app"] {
        let text = std::fs::read_to_string(
            test.directory
                .path()
                .join("state")
                .join(stack)
                .join("dev.json"),
        )
        .unwrap();
        assert!(!text.contains(&secret_value), "{stack}'s state");
    }
    let again = test.cairn(&["plan", &app, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    test.ok(&["destroy", &app, "--auto-approve"]);
    test.ok(&["destroy", &keys, "--auto-approve"]);
}

/// A consumer that stops importing from a stack leaves that stack's
/// consumers once its apply finishes: the stack can then be destroyed
/// without `--ignore-consumers`.
#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_stops_importing_leaves_the_producer() {
    let test = Test::new();
    let importing = r#"project: app
state: { backend: local, directory: ../../state/app }
imports:
  network: { stack: ../network, outputs: [vpc_id] }
resources:
  notes:
    type: log_group
    properties: { tags: { vpc: "${import.network.vpc_id}" } }
outputs:
  vpc: ${import.network.vpc_id}
"#;
    let (network, app) = write_stacks(&test, &network_stack(LOCAL_NETWORK, false), importing);
    test.ok(&["apply", &network, "--auto-approve"]);
    test.ok(&["apply", &app, "--auto-approve"]);
    // An output may pass an imported value on.
    assert_eq!(
        state(&test, "app")["outputs"]["vpc"],
        state(&test, "network")["outputs"]["vpc_id"]
    );
    let records = test.directory.path().join("state/network/dev.consumers");
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 1);
    assert_eq!(
        state(&test, "app")["imported_from"]["network"]["project"],
        "net"
    );

    let standalone = importing
        .replace(
            "imports:\n  network: { stack: ../network, outputs: [vpc_id] }\n",
            "",
        )
        .replace("${import.network.vpc_id}", "none")
        .replace("outputs:\n  vpc: none\n", "");
    write_stacks(&test, &network_stack(LOCAL_NETWORK, false), &standalone);
    test.ok(&["apply", &app, "--auto-approve"]);
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 0);
    assert!(state(&test, "app").get("imported_from").is_none());
    test.ok(&["destroy", &network, "--auto-approve"]);
    test.ok(&["destroy", &app, "--auto-approve"]);
}

/// Malformed imports, each refused at validate with its file, line and
/// field: no `stack`, a misspelt key, outputs that are not a list, a
/// stack directory without this environment's file, an imported stack
/// whose own files are not valid (no `project`), and one whose state
/// would be this stack's (both in --state-dir).
#[test]
fn malformed_imports_are_refused_with_their_place() {
    let test = Test::offline();
    let broken_network = "resources:\n  vpc: { type: vpc, properties: { cidr_block: 10.30.0.0/16 } }\noutputs:\n  vpc_id: ${vpc.id}\n";
    let app = r#"project: app
imports:
  nostack: { outputs: [vpc_id] }
  typo: { stack: ../network, output: [vpc_id] }
  scalar: { stack: ../network, outputs: vpc_id }
  missing: { stack: ../nowhere, outputs: [vpc_id] }
  broken: { stack: ../network, outputs: [vpc_id] }
  shared: { stack: ../other/dev.yaml, outputs: [vpc_id] }
resources:
  notes: { type: log_group }
"#;
    write_stacks(&test, broken_network, app);
    let other = test.directory.path().join("stacks/other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("dev.yaml"),
        format!("project: other\n{}", &broken_network),
    )
    .unwrap();
    let app = test.directory.path().join("stacks/app/dev.yaml");
    let run = test.cairn(&["validate", app.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("malformed_imports", scrubbed(&test, &run.stderr));
}
