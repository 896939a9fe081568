//! The stack language's repetition, flags and renames, end to end on the
//! emulator: `for_each` over zones, `moved:` from hand-written addresses,
//! `when:` per environment, and their errors (snapshot).

mod common;
use common::*;

const ZONES_BY_HAND: &str = "tests/stacks/zones-1.yaml";
const ZONES: &str = "tests/stacks/zones-2.yaml";

fn state(test: &Test) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
        .unwrap()
}

/// Address → the AWS id the state records, for every resource.
fn ids(test: &Test) -> std::collections::BTreeMap<String, String> {
    state(test)["resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(address, entry)| (address.clone(), entry["id"].as_str().unwrap().to_owned()))
        .collect()
}

/// The plan's `# ADDRESS ...` lines, in order.
fn headers(plan: &str) -> Vec<String> {
    plan.lines()
        .filter(|l| l.starts_with("  # ") && !l.starts_with("  # ("))
        .map(|l| l.trim_start_matches("  # ").to_owned())
        .collect()
}

fn zones(list: &[(&str, &str)]) -> String {
    let entries: Vec<String> = list
        .iter()
        .map(|(zone, cidr)| format!("\"{zone}\": {{\"cidr\": \"{cidr}\"}}"))
        .collect();
    format!("zones={{{}}}", entries.join(", "))
}

/// Hand-written subnets and tables become for_each instances through
/// `moved:` without a new object; then a zone added makes only its own
/// two, and the first zone removed deletes only its own two.
#[tokio::test(flavor = "multi_thread")]
async fn zones_move_into_for_each_and_each_key_lives_on_its_own() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", ZONES_BY_HAND, "--auto-approve"]);
    let by_hand = ids(&test);
    let deployed = network_inventory(&aws).await;

    let mut plan = test.ok(&["plan", ZONES]).stdout;
    // The new outputs show the emulator's ids, which change each run.
    for (address, id) in &by_hand {
        plan = plan.replace(id, &format!("[id of {address}]"));
    }
    insta::assert_snapshot!("zones_moved_plan", plan);
    let json: serde_json::Value =
        serde_json::from_str(&test.ok(&["plan", ZONES, "--json"]).stdout).unwrap();
    let moved: Vec<(String, String, serde_json::Value)> = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "aws_subnet")
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_owned(),
                r["previous_address"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                r["index"].clone(),
            )
        })
        .collect();
    assert_eq!(
        moved,
        [
            (
                r#"aws_subnet.private["us-east-1a"]"#.to_owned(),
                "aws_subnet.private_a".to_owned(),
                serde_json::json!("us-east-1a")
            ),
            (
                r#"aws_subnet.private["us-east-1b"]"#.to_owned(),
                "aws_subnet.private_b".to_owned(),
                serde_json::json!("us-east-1b")
            ),
        ]
    );

    test.ok(&["apply", ZONES, "--auto-approve"]);
    let after_move = ids(&test);
    let renamed = |address: &str| {
        address
            .replace("subnet.private_a", r#"subnet.private["us-east-1a"]"#)
            .replace("subnet.private_b", r#"subnet.private["us-east-1b"]"#)
            .replace(
                "route_table.routes_a",
                r#"route_table.routes["us-east-1a"]"#,
            )
            .replace(
                "route_table.routes_b",
                r#"route_table.routes["us-east-1b"]"#,
            )
    };
    let expected: std::collections::BTreeMap<String, String> = by_hand
        .iter()
        .map(|(address, id)| (renamed(address), id.clone()))
        .collect();
    assert_eq!(
        after_move, expected,
        "the same objects, at the new addresses"
    );
    assert_eq!(network_inventory(&aws).await, deployed);
    let again = test.cairn(&["plan", ZONES, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(test.cairn(&["drift", ZONES]).code, 0);
    let outputs: serde_json::Value =
        serde_json::from_str(&test.ok(&["output", ZONES, "--json"]).stdout).unwrap();
    assert_eq!(
        outputs["subnet_ids"],
        serde_json::json!([
            after_move[r#"subnet.private["us-east-1a"]"#],
            after_move[r#"subnet.private["us-east-1b"]"#]
        ])
    );
    // The ownership tag names the instance's key.
    let subnet = aws
        .ec2()
        .describe_subnets()
        .subnet_ids(&after_move[r#"subnet.private["us-east-1b"]"#])
        .send()
        .await
        .unwrap()
        .subnets()[0]
        .clone();
    let tag = |key: &str| {
        subnet
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_owned)
    };
    assert_eq!(
        tag("cairn:address").as_deref(),
        Some("subnet.private/us-east-1b")
    );
    assert_eq!(
        tag("Name").as_deref(),
        Some("cairn-test-t-private-us-east-1b")
    );

    let three = zones(&[
        ("us-east-1a", "10.30.1.0/24"),
        ("us-east-1b", "10.30.2.0/24"),
        ("us-east-1c", "10.30.3.0/24"),
    ]);
    let plan = test.ok(&["plan", ZONES, "--var", &three]).stdout;
    assert_eq!(
        headers(&plan),
        [
            r#"route_table.routes["us-east-1c"] will be created"#,
            r#"subnet.private["us-east-1c"] will be created"#,
        ],
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{plan}"
    );
    test.ok(&["apply", ZONES, "--var", &three, "--auto-approve"]);
    let with_three = ids(&test);
    for (address, id) in &after_move {
        assert_eq!(&with_three[address], id, "{address} kept");
    }

    // Once applied, the moves have done their work and go (a move's `to`
    // must be in the stack), with the output that names the first zone.
    let text = std::fs::read_to_string(ZONES).unwrap();
    let text = text[..text.find("\nmoved:").unwrap() + 1]
        .replace("  first_table: ${routes[\"us-east-1a\"].id}\n", "");
    let later = test.directory.path().join("zones.yaml");
    std::fs::write(&later, text).unwrap();
    let later = later.to_str().unwrap();
    // Only the output goes: no resource changes, the output's removal does.
    let again = test.cairn(&["plan", later, "--var", &three, "--detailed-exitcode"]);
    assert_eq!(again.code, 2, "{}{}", again.stdout, again.stderr);
    assert!(
        !again.stdout.contains("cairn will perform") && again.stdout.contains("  - first_table = "),
        "{}",
        again.stdout
    );
    let without_first = zones(&[
        ("us-east-1b", "10.30.2.0/24"),
        ("us-east-1c", "10.30.3.0/24"),
    ]);
    let plan = test.ok(&["plan", later, "--var", &without_first]).stdout;
    assert_eq!(
        headers(&plan),
        [
            r#"route_table.routes["us-east-1a"] will be destroyed"#,
            r#"subnet.private["us-east-1a"] will be destroyed"#,
        ],
        "{plan}"
    );
    test.ok(&["apply", later, "--var", &without_first, "--auto-approve"]);
    let with_two = ids(&test);
    let mut expected = with_three.clone();
    expected.remove(r#"route_table.routes["us-east-1a"]"#);
    expected.remove(r#"subnet.private["us-east-1a"]"#);
    assert_eq!(with_two, expected, "the other keys keep their objects");
    let again = test.cairn(&[
        "plan",
        later,
        "--var",
        &without_first,
        "--detailed-exitcode",
    ]);
    assert_eq!(again.code, 0, "{}", again.stdout);

    test.ok(&["destroy", later, "--var", &without_first, "--auto-approve"]);
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

/// A flag per environment: dev and prod plan exactly their flagged
/// resources and outputs.
#[tokio::test(flavor = "multi_thread")]
async fn each_environment_plans_exactly_its_flagged_resources() {
    let test = Test::new();
    let dev = test.ok(&["plan", "tests/stacks/flags/dev.yaml"]).stdout;
    assert_eq!(
        headers(&dev),
        [
            "log_group.app will be created",
            "sns_topic.alerts will be created",
        ],
        "{dev}"
    );
    assert!(dev.contains("+ alerts_topic"), "{dev}");
    let prod = test.ok(&["plan", "tests/stacks/flags/prod.yaml"]).stdout;
    assert_eq!(
        headers(&prod),
        [
            "log_group.app will be created",
            "log_group.audit will be created",
            "log_metric_filter.audit_errors will be created",
            "sns_topic.alerts will be created",
        ],
        "{prod}"
    );
    test.ok(&["apply", "tests/stacks/flags/dev.yaml", "--auto-approve"]);
    let again = test.cairn(&["plan", "tests/stacks/flags/dev.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
}

/// Each refused use of for_each, when and moved, with its place (no AWS).
/// What `cairn validate` says of each case (`header` then the case's
/// resources), every one refused.
fn refusals(header: &str, cases: &[(&str, &str)]) -> String {
    let directory = tempfile::tempdir().unwrap();
    let test = Test::offline();
    let mut report = String::new();
    for (case, resources) in cases {
        let file = directory.path().join("dev.yaml");
        std::fs::write(&file, format!("{header}{resources}")).unwrap();
        let run = test.cairn(&["validate", file.to_str().unwrap()]);
        assert_ne!(run.code, 0, "{case}: accepted");
        let said = run
            .stderr
            .replace(&format!("{}/", directory.path().display()), "");
        report.push_str(&format!("## {case}\n{said}\n"));
    }
    report
}

#[test]
fn refused_uses_are_said_with_their_place() {
    let cases: &[(&str, &str)] = &[
        ("for_each over an attribute known after apply", "  vpc: { type: vpc, properties: { cidr_block: 10.0.0.0/16 } }\n  logs:\n    type: log_group\n    for_each: ${vpc.id}\n"),
        ("for_each with a duplicate key", "  logs:\n    type: log_group\n    for_each: [api, worker, api]\n"),
        ("for_each with a key that is not a string", "  logs:\n    type: log_group\n    for_each: [api, 7]\n"),
        ("for_each over a variable of duplicate keys", "  logs:\n    type: log_group\n    for_each: ${var.names}\n"),
        ("each outside a for_each", "  logs:\n    type: log_group\n    properties: { name: \"/x/${each.key}\" }\n"),
        ("a condition that is not a boolean", "  logs:\n    type: log_group\n    when: ${var.names}\n"),
        ("a reference to a resource a flag leaves out", "  audit:\n    type: log_group\n    when: ${var.off}\n  filter:\n    type: log_metric_filter\n    properties:\n      log_group_name: ${audit.name}\n      pattern: ERROR\n      metric: { metric_name: E, namespace: N }\n"),
        ("a reference to an instance that is not there", "  logs:\n    type: log_group\n    for_each: [api]\n  filter:\n    type: log_metric_filter\n    properties:\n      log_group_name: '${logs[\"worker\"].name}'\n      pattern: ERROR\n      metric: { metric_name: E, namespace: N }\n"),
        ("a move to an address the stack does not have", "  api_logs: { type: log_group }\nmoved:\n  - { from: log_group.logs, to: log_group.api }\n"),
        ("a move from an address the stack still has", "  api_logs: { type: log_group }\n  logs: { type: log_group }\nmoved:\n  - { from: log_group.logs, to: log_group.api_logs }\n"),
        ("a block over an attribute known after apply, and one without content", "  vpc: { type: vpc, properties: { cidr_block: 10.0.0.0/16 } }\n  web:\n    type: security_group\n    properties:\n      vpc_id: ${vpc.id}\n      ingress:\n        for_each: ${vpc.id}\n        content: { from_port: 1, to_port: 1, cidr_ipv4: 0.0.0.0/0 }\n      egress:\n        - for_each: ${var.names}\n"),
        ("a block with another key, and an item refused", "  vpc: { type: vpc, properties: { cidr_block: 10.0.0.0/16 } }\n  web:\n    type: security_group\n    properties:\n      vpc_id: ${vpc.id}\n      ingress:\n        for_each: ${var.names}\n        content: { from_port: '${each.value}' }\n      egress:\n        for_each: ${var.names}\n        content: { from_port: 1, cidr_ipv4: 0.0.0.0/0 }\n        to_port: 2\n"),
    ];
    let report = refusals(
        "project: p\nvariables:\n  names: { default: [a, b, a] }\n  off: { default: false }\nresources:\n",
        cases,
    );
    insta::assert_snapshot!("refused_uses", report);
}

/// A rename of a resource that carries no tag (an alias) changes nothing
/// in AWS: the plan only says it moved, apply records it, the next plan
/// is empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_rename_alone_is_recorded_without_a_call_that_changes_aws() {
    let test = Test::new();
    let before = "project: cairn-test\nenvironment: t\nresources:\n  key: { type: kms_key }\n  alias:\n    type: kms_alias\n    properties: { name: alias/cairn-test-t-main, target_key_id: \"${key.key_id}\" }\n";
    let file = test.directory.path().join("t.yaml");
    std::fs::write(&file, before).unwrap();
    let file = file.to_str().unwrap();
    test.ok(&["apply", file, "--auto-approve"]);
    let id = ids(&test)["kms_alias.alias"].clone();

    let after = before.replace("  alias:\n", "  main_alias:\n")
        + "moved:\n  - { from: kms_alias.alias, to: kms_alias.main_alias }\n";
    std::fs::write(file, after).unwrap();
    let plan = test.ok(&["plan", file]).stdout;
    assert_eq!(
        headers(&plan),
        ["kms_alias.alias has moved to kms_alias.main_alias"],
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 moved."),
        "{plan}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&test.ok(&["plan", file, "--json"]).stdout).unwrap();
    let alias = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "aws_kms_alias")
        .unwrap();
    assert_eq!(alias["address"], "aws_kms_alias.main_alias");
    assert_eq!(alias["previous_address"], "aws_kms_alias.alias");
    assert_eq!(alias["change"]["actions"], serde_json::json!(["no-op"]));

    let applied = test.ok(&["apply", file, "--auto-approve"]).stdout;
    assert!(
        applied.contains("0 added, 0 changed, 0 destroyed"),
        "{applied}"
    );
    let recorded = ids(&test);
    assert_eq!(recorded.get("kms_alias.main_alias"), Some(&id));
    assert!(!recorded.contains_key("kms_alias.alias"));
    let again = test.cairn(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
}

/// The graph draws each instance under its address (quotes escaped for DOT).
#[test]
fn instances_are_the_graphs_nodes() {
    let test = Test::offline();
    let graph = test.ok(&["graph", ZONES]).stdout;
    assert!(
        graph.contains(
            r#""route_table.routes[\"us-east-1b\"]" -> "subnet.private[\"us-east-1b\"]";"#
        ),
        "{graph}"
    );
    assert!(
        !graph.contains(
            r#""route_table.routes[\"us-east-1b\"]" -> "subnet.private[\"us-east-1a\"]";"#
        ),
        "{graph}"
    );
}

const INGRESS_RULES: &str = "tests/stacks/ingress-rules.yaml";

/// The group's ingress rules as AWS holds them: (from port, source).
async fn ingress_rules(aws: &cairn::aws::Aws) -> Vec<(i32, String)> {
    let groups = aws.ec2().describe_security_groups().send().await.unwrap();
    let group = groups
        .security_groups()
        .iter()
        .find(|g| g.group_name() == Some("cairn-test-t-web"))
        .expect("the group exists");
    let mut rules: Vec<(i32, String)> = group
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(|r| {
                (
                    p.from_port().unwrap_or_default(),
                    r.cidr_ip().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    rules.sort();
    rules
}

/// A block makes one rule per element of the list (and a role's policy
/// one statement per bucket); the next plan is empty, and an element added
/// changes only the group's rules, in place.
#[tokio::test(flavor = "multi_thread")]
async fn a_block_makes_one_ingress_rule_per_element() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", INGRESS_RULES, "--auto-approve"]);
    let all = "0.0.0.0/0".to_owned();
    assert_eq!(
        ingress_rules(&aws).await,
        [
            (22, "10.40.0.0/16".to_owned()),
            (80, all.clone()),
            (443, all.clone())
        ]
    );
    // The role's statements, one per bucket (in the policy AWS holds,
    // percent-encoded or not).
    let policy = aws
        .iam()
        .get_role_policy()
        .role_name("cairn-test-t-reader")
        .policy_name("read")
        .send()
        .await
        .unwrap();
    let document = policy.policy_document();
    assert_eq!(document.matches("GetObject").count(), 2, "{document}");
    assert!(document.contains("cairn-test-a") && document.contains("cairn-test-b"));
    let again = test.cairn(&["plan", INGRESS_RULES, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    let group_id = ids(&test)["security_group.web"].clone();

    let three = "ports=[443, 80, 8080]";
    let plan = test.ok(&["plan", INGRESS_RULES, "--var", three]).stdout;
    insta::assert_snapshot!("ingress_rule_added_plan", plan);
    assert_eq!(
        headers(&plan),
        ["security_group.web will be updated in-place"]
    );
    test.ok(&["apply", INGRESS_RULES, "--var", three, "--auto-approve"]);
    assert_eq!(
        ingress_rules(&aws).await,
        [
            (22, "10.40.0.0/16".to_owned()),
            (80, all.clone()),
            (443, all.clone()),
            (8080, all)
        ]
    );
    assert_eq!(ids(&test)["security_group.web"], group_id, "the same group");
    let again = test.cairn(&["plan", INGRESS_RULES, "--var", three, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    test.ok(&["destroy", INGRESS_RULES, "--var", three, "--auto-approve"]);
}

const PREFIXES: &str = "tests/stacks/prefixes.yaml";

/// The live names of the roles, log groups and target groups: what
/// `name_prefix` made.
async fn prefixed_names(aws: &cairn::aws::Aws) -> Vec<String> {
    let mut names: Vec<String> = aws
        .iam()
        .list_roles()
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .map(|r| r.role_name().to_owned())
        .collect();
    let groups = aws.logs().describe_log_groups().send().await.unwrap();
    names.extend(
        groups
            .log_groups()
            .iter()
            .filter_map(|g| g.log_group_name().map(str::to_owned)),
    );
    let targets = aws.elbv2().describe_target_groups().send().await.unwrap();
    names.extend(
        targets
            .target_groups()
            .iter()
            .filter_map(|g| g.target_group_name().map(str::to_owned)),
    );
    names.sort();
    names
}

/// `prefix` and 26 digits.
fn made_from(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|suffix| suffix.len() == 26 && suffix.bytes().all(|b| b.is_ascii_digit()))
}

/// A name prefix makes one name per create, recorded before the create is
/// sent: a lost answer is repeated with the same name (no second role), a
/// kill -9 after each create is adopted by the next run (no duplicate), a
/// name made is what references see, the next plan is empty, and a new
/// prefix replaces the resources, new beside old where the stack says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_name_prefix_makes_one_unique_name_per_create() {
    let test = Test::new();
    let aws = test.aws().await;
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("CreateRole", Fault::LoseAnswer, 1),
            ("CreateTargetGroup", Fault::LoseAnswer, 1),
        ],
    );
    test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        PREFIXES,
        "--auto-approve",
    ]);
    assert_eq!(proxy.lost(), 2);
    assert_eq!(
        proxy.calls("CreateRole"),
        2,
        "the lost create was not repeated"
    );
    let names = prefixed_names(&aws).await;
    let role = names.iter().find(|n| made_from(n, "api-")).unwrap().clone();
    let bodies = proxy.bodies("CreateRole");
    assert!(
        bodies.iter().all(|body| body.contains(&role)),
        "the repeat sent another name: {bodies:?}"
    );
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.contains(&format!("/cairn-test/for-{role}")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| made_from(n, "/cairn-test/api-")),
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| made_from(n, "api-")).count(),
        2,
        "{names:?}"
    );
    let outputs = test.ok(&["output", PREFIXES, "--json"]).stdout;
    assert!(outputs.contains(&role), "{outputs}");
    assert_eq!(
        test.cairn(&["plan", PREFIXES, "--detailed-exitcode"]).code,
        0
    );

    // A new prefix: each is replaced by one with a new name; the target
    // group, created before the old goes, exists beside it for a while.
    let plan = test.ok(&["plan", PREFIXES, "--var", "prefix=web-"]).stdout;
    assert!(
        plan.contains("lb_target_group.targets must be replaced (the new one is created before"),
        "{plan}"
    );
    assert!(plan.contains("iam_role.role must be replaced"), "{plan}");
    test.ok(&["apply", PREFIXES, "--var", "prefix=web-", "--auto-approve"]);
    let names = prefixed_names(&aws).await;
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(
        names.iter().filter(|n| made_from(n, "web-")).count(),
        2,
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| made_from(n, "/cairn-test/web-")),
        "{names:?}"
    );
    assert_eq!(
        test.cairn(&[
            "plan",
            PREFIXES,
            "--var",
            "prefix=web-",
            "--detailed-exitcode"
        ])
        .code,
        0
    );
    test.ok(&[
        "destroy",
        PREFIXES,
        "--var",
        "prefix=web-",
        "--auto-approve",
    ]);
    assert!(prefixed_names(&aws).await.is_empty());

    // Killed after each create, before the state records it: the name
    // made is in the intent, so the next run finds it.
    kill_after_each_create(
        &test,
        &["apply", PREFIXES, "--auto-approve"],
        &[
            "iam_role.role",
            "log_group.logs",
            "vpc.vpc",
            "lb_target_group.targets",
        ],
    );
    test.ok(&["apply", PREFIXES, "--auto-approve"]);
    let names = prefixed_names(&aws).await;
    assert_eq!(names.len(), 4, "a crash left a duplicate: {names:?}");
    assert_eq!(
        test.cairn(&["plan", PREFIXES, "--detailed-exitcode"]).code,
        0
    );
}

#[test]
fn name_prefixes_are_checked_as_the_names_they_make() {
    let cases: &[(&str, &str)] = &[
        ("a name and a prefix", "  role:\n    type: iam_role\n    properties:\n      name: api\n      name_prefix: api-\n      assume_role_services: [lambda.amazonaws.com]\n"),
        ("a prefix with no room for the suffix", "  targets:\n    type: lb_target_group\n    properties:\n      name_prefix: backend\n      port: 80\n      vpc_id: vpc-1\n"),
        ("a prefix the name's rules refuse", "  targets:\n    type: lb_target_group\n    properties:\n      name_prefix: -api\n      port: 80\n      vpc_id: vpc-1\n  role:\n    type: iam_role\n    properties:\n      name_prefix: api/\n      assume_role_services: [lambda.amazonaws.com]\n"),
    ];
    let report = refusals("project: p\nresources:\n", cases);
    insta::assert_snapshot!("name_prefixes_refused", report);
}

/// The "Changes to Outputs" of each plan and the Terraform JSON's
/// `output_changes`, against the outputs the state recorded: on first
/// create, a change of outputs alone (exit 2, saved by apply), and a list
/// partly known.
#[tokio::test(flavor = "multi_thread")]
async fn outputs_are_planned_against_the_recorded_ones() {
    let test = Test::new();
    let stack = |keys: &str, fixed: &str, gone: bool| {
        format!(
            "project: cairn-test\nenvironment: t\nresources:\n  a: {{ type: log_group, for_each: [{keys}] }}\noutputs:\n  arns: \"${{a[*].arn}}\"\n  fixed: {fixed}\n  secret: {{ value: '${{a[\"x\"].name}}', sensitive: true }}\n{}",
            if gone { "  gone: soon\n" } else { "" }
        )
    };
    let file = test.directory.path().join("t.yaml");
    let file_text = file.to_str().unwrap();
    let output_changes = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["plan", file_text, "--json"];
        all.extend(args);
        let plan: serde_json::Value = serde_json::from_str(&test.ok(&all).stdout).unwrap();
        plan["output_changes"].clone()
    };

    std::fs::write(&file, stack("x", "hello", true)).unwrap();
    let first = test.ok(&["plan", file_text]).stdout;
    let changes = output_changes(&[]);
    assert_eq!(changes["arns"]["after"], serde_json::json!([null]));
    assert_eq!(changes["arns"]["after_unknown"], serde_json::json!([true]));
    assert_eq!(changes["fixed"]["actions"], serde_json::json!(["create"]));
    assert_eq!(changes["fixed"]["after"], "hello");
    test.ok(&["apply", file_text, "--auto-approve"]);

    std::fs::write(&file, stack("x", "bye", false)).unwrap();
    let outputs_only = test.cairn(&["plan", file_text, "--detailed-exitcode"]);
    assert_eq!(outputs_only.code, 2, "{}", outputs_only.stdout);
    let changes = output_changes(&[]);
    let recorded = &state(&test)["outputs"];
    for (name, actions, before, after) in [
        (
            "fixed",
            "update",
            serde_json::json!("hello"),
            serde_json::json!("bye"),
        ),
        (
            "gone",
            "delete",
            serde_json::json!("soon"),
            serde_json::Value::Null,
        ),
        (
            "arns",
            "no-op",
            recorded["arns"].clone(),
            recorded["arns"].clone(),
        ),
        (
            "secret",
            "no-op",
            serde_json::Value::Null,
            serde_json::Value::Null,
        ),
    ] {
        assert_eq!(
            changes[name]["actions"],
            serde_json::json!([actions]),
            "{name}"
        );
        assert_eq!(changes[name]["before"], before, "{name}");
        assert_eq!(changes[name]["after"], after, "{name}");
    }
    assert_eq!(changes["secret"]["after_sensitive"], true);
    test.ok(&["apply", file_text, "--auto-approve"]);
    assert_eq!(state(&test)["outputs"]["fixed"], "bye");
    assert!(state(&test)["outputs"].get("gone").is_none());
    let settled = test.cairn(&["plan", file_text, "--detailed-exitcode"]);
    assert_eq!(settled.code, 0, "{}", settled.stdout);

    std::fs::write(&file, stack("x, y", "bye", false)).unwrap();
    let partly_known = test.ok(&["plan", file_text]).stdout;
    let changes = output_changes(&[]);
    assert_eq!(changes["arns"]["actions"], serde_json::json!(["update"]));
    assert_eq!(
        changes["arns"]["after"],
        serde_json::json!([recorded["arns"][0].clone(), null])
    );
    assert_eq!(
        changes["arns"]["after_unknown"],
        serde_json::json!([false, true])
    );
    let report = format!(
        "## first plan\n{first}\n## outputs alone\n{}\n## a list partly known\n{partly_known}",
        outputs_only.stdout
    );
    assert!(!report.contains("$unknown"), "{report}");
    insta::assert_snapshot!("output_changes_plans", report);
}

/// Functions take one instance's attribute and every instance's
/// (`join(",", subnet.private[*].id)`): worked out at plan when the
/// values are known, at apply when they are not.
#[tokio::test(flavor = "multi_thread")]
async fn functions_take_instance_references() {
    let test = Test::new();
    let stack = r#"project: cairn-test
environment: t
resources:
  a: { type: log_group, for_each: [x, y] }
  joined: { type: log_group, properties: { name: '${join("-", a[*].name)}' } }
  lowered: { type: log_group, properties: { name: '${lower(a["x"].name)}/LOW' } }
outputs:
  first: '${format("%s!", a["x"].name)}'
  arns: '${join(",", a[*].arn)}'
"#;
    let file = test.directory.path().join("t.yaml");
    std::fs::write(&file, stack).unwrap();
    let file = file.to_str().unwrap();
    test.ok(&["validate", file]);
    let plan = test.ok(&["plan", file]).stdout;
    for known in [
        r#"name              = "/cairn-test/t/a-x-/cairn-test/t/a-y""#,
        r#"name              = "/cairn-test/t/a-x/LOW""#,
        r#"+ first = "/cairn-test/t/a-x!""#,
        "+ arns  = (known after apply)",
    ] {
        assert!(plan.contains(known), "{known} not in\n{plan}");
    }
    test.ok(&["apply", file, "--auto-approve"]);
    let outputs = &state(&test)["outputs"];
    assert_eq!(outputs["first"], "/cairn-test/t/a-x!");
    let arn = |key: &str| {
        state(&test)["resources"][format!("log_group.a[\"{key}\"]")]["outputs"]["arn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(outputs["arns"], format!("{},{}", arn("x"), arn("y")));
    let again = test.cairn(&["plan", file, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
}
