//! End-to-end tests of the third seed system, `stacks/debate`: the network
//! stack and the backend stack that imports it (ECS Fargate behind an
//! Application Load Balancer), both keeping state in one shared DynamoDB
//! table. Each test starts its own emulator on a free loopback port and
//! works on its own copy of the two stacks.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// The sensitive variables the backend asks for.
const SECRETS: &[(&str, &str)] = &[
    ("CAIRN_VAR_openai_api_key", "sk-test-debate-openai"),
    (
        "CAIRN_VAR_database_url",
        "postgres://debate:pw@db.internal/debate",
    ),
];

/// A copy of `stacks/debate` in the test's directory: its network and
/// backend stacks for `environment`.
fn copy_stacks(test: &Test, environment: &str) -> (String, String) {
    let root = test.directory.path().join("debate");
    for part in ["network", "backend"] {
        let from = Path::new(&manifest_dir()).join("stacks/debate").join(part);
        let to = root.join(part);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let file = |part: &str| -> String {
        root.join(part)
            .join(format!("{environment}.yaml"))
            .display()
            .to_string()
    };
    (file("network"), file("backend"))
}

fn backend(test: &Test, args: &[&str]) -> Run {
    test.cairn_with(args, SECRETS)
}

fn backend_ok(test: &Test, args: &[&str]) -> Run {
    let run = backend(test, args);
    assert_eq!(
        run.code, 0,
        "cairn {args:?} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run
}

/// The network's output `name` as its state holds it (`cairn output`).
fn network_output(test: &Test, network: &str) -> serde_json::Value {
    let run = test.ok(&["output", network, "--json"]);
    serde_json::from_str(&run.stdout).unwrap()
}

/// The one service of the one active cluster.
async fn live_service(aws: &cairn::aws::Aws) -> aws_sdk_ecs::types::Service {
    let ecs = aws.ecs();
    let clusters = ecs.list_clusters().send().await.unwrap();
    assert_eq!(clusters.cluster_arns().len(), 1, "one cluster");
    let cluster = clusters.cluster_arns()[0].clone();
    let services = ecs.list_services().cluster(&cluster).send().await.unwrap();
    assert_eq!(services.service_arns().len(), 1, "one service");
    ecs.describe_services()
        .cluster(&cluster)
        .services(services.service_arns()[0].clone())
        .send()
        .await
        .unwrap()
        .services()[0]
        .clone()
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Everything the two stacks make, by kind, on the emulator: nothing
/// after both are destroyed.
async fn leftovers(aws: &cairn::aws::Aws) -> Vec<(&'static str, usize)> {
    let ecs = aws.ecs();
    let elb = aws.elbv2();
    let clusters = ecs.list_clusters().send().await.unwrap();
    let active_clusters = if clusters.cluster_arns().is_empty() {
        0
    } else {
        ecs.describe_clusters()
            .set_clusters(Some(clusters.cluster_arns().to_vec()))
            .send()
            .await
            .unwrap()
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
            .count()
    };
    let revisions = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .len();
    let secrets = aws
        .secretsmanager()
        .list_secrets()
        .send()
        .await
        .unwrap()
        .secret_list()
        .iter()
        .filter(|s| s.deleted_date().is_none())
        .count();
    let mut found = vec![
        ("clusters", active_clusters),
        ("task definitions", revisions),
        (
            "load balancers",
            elb.describe_load_balancers()
                .send()
                .await
                .unwrap()
                .load_balancers()
                .len(),
        ),
        (
            "target groups",
            elb.describe_target_groups()
                .send()
                .await
                .unwrap()
                .target_groups()
                .len(),
        ),
        ("secrets", secrets),
    ];
    found.extend(
        with_state_table(inventory(aws).await)
            .into_iter()
            .filter(|(kind, _)| *kind != "tables" && *kind != "kms keys"),
    );
    found.extend(network_inventory(aws).await);
    found.retain(|(_, count)| *count > 0);
    found
}

/// The debate chatbot, end to end: the network then the backend apply; the
/// service runs in the network's private subnets with the tasks' group
/// and no public IP, behind the target group, its container's secrets
/// those ARNs; both next plans are empty; a desired count changed by hand
/// is drift that apply puts back; a private subnet added to the network
/// updates the service, and the backend's plan names the import; the
/// network's destroy is refused while the backend uses it; the backend's
/// then the network's destroy leave nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_debate_chatbot_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let (network, backend_file) = copy_stacks(&test, "dev");
    let backend_file = backend_file.as_str();
    test.ok(&["state", "init-backend", &network]);
    test.ok(&["apply", &network, "--auto-approve"]);
    let applied = backend_ok(&test, &["apply", backend_file, "--auto-approve"]);
    assert!(
        applied.stdout.contains("ecs_service.service"),
        "{}",
        applied.stdout
    );

    // Where the service runs, and what it reaches.
    let outputs = network_output(&test, &network);
    let private = sorted(strings(&outputs["private_subnet_ids"]));
    let service = live_service(&aws).await;
    let vpc = service
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(sorted(vpc.subnets().to_vec()), private);
    assert_eq!(
        vpc.security_groups(),
        [outputs["tasks_security_group_id"].as_str().unwrap()]
    );
    assert_eq!(
        vpc.assign_public_ip(),
        Some(&aws_sdk_ecs::types::AssignPublicIp::Disabled)
    );
    assert_eq!(service.desired_count(), 2);
    assert_eq!(service.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let groups = aws.elbv2().describe_target_groups().send().await.unwrap();
    let group = &groups.target_groups()[0];
    assert_eq!(groups.target_groups().len(), 1);
    assert_eq!(group.health_check_path(), Some("/health"));
    assert_eq!(group.health_check_interval_seconds(), Some(30));
    assert_eq!(group.health_check_timeout_seconds(), Some(5));
    assert_eq!(group.healthy_threshold_count(), Some(2));
    assert_eq!(group.unhealthy_threshold_count(), Some(2));
    let attached = &service.load_balancers()[0];
    assert_eq!(attached.target_group_arn(), group.target_group_arn());
    assert_eq!(attached.container_name(), Some("debate-api"));
    assert_eq!(attached.container_port(), Some(8080));
    let balancers = aws.elbv2().describe_load_balancers().send().await.unwrap();
    let balancer = &balancers.load_balancers()[0];
    let public = sorted(strings(&outputs["public_subnet_ids"]));
    let zones = sorted(
        balancer
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_owned))
            .collect(),
    );
    assert_eq!(zones, public);
    let backend_outputs: serde_json::Value =
        serde_json::from_str(&backend_ok(&test, &["output", backend_file, "--json"]).stdout)
            .unwrap();
    assert_eq!(
        backend_outputs["load_balancer_dns_name"].as_str(),
        balancer.dns_name()
    );

    // The container's secrets are the stack's secrets, by ARN; no value
    // of theirs is in the task definition, the state or the output.
    let task = aws
        .ecs()
        .describe_task_definition()
        .task_definition(service.task_definition().unwrap())
        .send()
        .await
        .unwrap();
    let task = task.task_definition().unwrap();
    assert_eq!(task.cpu(), Some("512"));
    assert_eq!(task.memory(), Some("1024"));
    let container = &task.container_definitions()[0];
    let mut secrets: Vec<(String, String)> = container
        .secrets()
        .iter()
        .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
        .collect();
    secrets.sort();
    let listed = aws.secretsmanager().list_secrets().send().await.unwrap();
    let arn = |name: &str| -> String {
        listed
            .secret_list()
            .iter()
            .find(|s| s.name() == Some(name))
            .and_then(|s| s.arn())
            .unwrap_or_else(|| panic!("secret {name}"))
            .to_owned()
    };
    assert_eq!(
        secrets,
        [
            ("DATABASE_URL".to_owned(), arn("debate/dev/database-url")),
            (
                "OPENAI_API_KEY".to_owned(),
                arn("debate/dev/openai-api-key")
            ),
        ]
    );
    let described = format!("{task:?}");
    assert!(!described.contains("sk-test-debate-openai"));
    for address in [
        "secretsmanager_secret.openai_api_key",
        "secretsmanager_secret.database_url",
    ] {
        let shown = backend_ok(&test, &["state", "show", backend_file, address]);
        for (_, value) in SECRETS {
            assert!(!shown.stdout.contains(value), "{}", shown.stdout);
        }
    }

    // Nothing to do in either stack, fields moto drops on create included.
    assert_eq!(
        test.cairn(&["plan", &network, "--detailed-exitcode"]).code,
        0
    );
    let quiet = backend(&test, &["plan", backend_file, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    // The desired count changed by hand: drift, put back by apply.
    aws.ecs()
        .update_service()
        .cluster(service.cluster_arn().unwrap())
        .service(service.service_name().unwrap())
        .desired_count(5)
        .send()
        .await
        .unwrap();
    let drift = backend(&test, &["drift", backend_file]);
    assert_eq!(drift.code, 2, "{}\n{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("desired_count"), "{}", drift.stdout);
    let fixed = backend_ok(&test, &["apply", backend_file, "--auto-approve"]);
    assert!(fixed.stdout.contains("1 changed"), "{}", fixed.stdout);
    assert_eq!(live_service(&aws).await.desired_count(), 2);
    assert_eq!(
        backend(&test, &["plan", backend_file, "--detailed-exitcode"]).code,
        0
    );

    // A third private subnet in the network: the backend's plan updates
    // the service's subnets and says they come from the import.
    add_private_subnet(Path::new(&network));
    test.ok(&["apply", &network, "--auto-approve"]);
    let private = sorted(strings(
        &network_output(&test, &network)["private_subnet_ids"],
    ));
    assert_eq!(private.len(), 3);
    let plan = backend(&test, &["plan", backend_file, "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("ecs_service.service"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("from import network.private_subnet_ids"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("1 to change"), "{}", plan.stdout);
    backend_ok(&test, &["apply", backend_file, "--auto-approve"]);
    let vpc = live_service(&aws).await;
    let subnets = vpc
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap()
        .subnets()
        .to_vec();
    assert_eq!(sorted(subnets), private);

    // The network cannot go while the backend uses it.
    let refused = test.cairn(&["destroy", &network, "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("backend/dev.yaml"),
        "{}",
        refused.stderr
    );
    assert!(!leftovers(&aws).await.is_empty());

    backend_ok(&test, &["destroy", backend_file, "--auto-approve"]);
    test.ok(&["destroy", &network, "--auto-approve"]);
    assert_eq!(leftovers(&aws).await, []);
}

/// Adds a third private subnet (zone c) to the network stack's base file,
/// routed like the others and listed in its output.
fn add_private_subnet(environment_file: &Path) {
    let base: PathBuf = environment_file.with_file_name("base.yaml");
    let text = std::fs::read_to_string(&base).unwrap();
    let subnet = r#"  private_c:
    type: subnet
    properties:
      vpc_id: ${vpc.id}
      cidr_block: 10.20.13.0/24
      availability_zone: ${aws.region}c
      tags: { Name: private }
  nat:"#;
    let changed = text
        .replacen("  nat:", subnet, 1)
        .replace(
            r#"subnet_ids: ["${private_a.id}", "${private_b.id}"]"#,
            r#"subnet_ids: ["${private_a.id}", "${private_b.id}", "${private_c.id}"]"#,
        )
        .replace(
            r#"value: ["${private_a.id}", "${private_b.id}"]"#,
            r#"value: ["${private_a.id}", "${private_b.id}", "${private_c.id}"]"#,
        );
    assert_eq!(changed.matches("private_c.id").count(), 2, "{changed}");
    std::fs::write(base, changed).unwrap();
}

/// What AWS would refuse in the backend is refused by validate, naming the
/// file, line and field, before any call: each case is one edit of the
/// shipped stack.
#[test]
fn validate_refuses_what_aws_would() {
    let test = Test::offline();
    let (_, backend_file) = copy_stacks(&test, "dev");
    let base = Path::new(&backend_file).with_file_name("base.yaml");
    let shipped = std::fs::read_to_string(&base).unwrap();
    let cases: [(&str, &str, &str); 6] = [
        (
            "a cpu/memory pair Fargate rejects",
            "memory: ${var.task_memory}",
            "memory: 8192",
        ),
        (
            "a network mode other than awsvpc on Fargate",
            "family: ${project}-${env}-api",
            "family: ${project}-${env}-api\n      network_mode: bridge",
        ),
        (
            "HTTPS asked for without a certificate",
            "https: { default: false",
            "https: { default: true",
        ),
        (
            "a health-check timeout not below its interval",
            "timeout: 5\n        healthy_threshold",
            "timeout: 30\n        healthy_threshold",
        ),
        (
            "an unknown import",
            "${import.network.vpc_id}",
            "${import.netwrok.vpc_id}",
        ),
        (
            "an unknown output",
            "outputs: [vpc_id,",
            "outputs: [vpc_idd,",
        ),
    ];
    let mut report = String::new();
    for (name, from, to) in cases {
        assert!(
            shipped.contains(from),
            "{name}: `{from}` is not in the stack"
        );
        let broken = shipped.replacen(from, to, 1);
        std::fs::write(&base, &broken).unwrap();
        let run = backend(&test, &["validate", &backend_file]);
        assert_eq!(run.code, 1, "{name}: {}\n{}", run.stdout, run.stderr);
        let root = test.directory.path().display().to_string();
        report.push_str(&format!(
            "== {name}\n{}\n",
            run.stderr.replace(&root, "[dir]")
        ));
    }
    std::fs::write(&base, &shipped).unwrap();
    let http = backend_ok(&test, &["validate", &backend_file]);
    assert!(http.stdout.contains("15 resources"), "{}", http.stdout);
    // With a certificate, the seed's HTTPS listener on 443 is one more.
    let https = backend_ok(
        &test,
        &[
            "validate",
            &backend_file,
            "--var",
            "https=true",
            "--var",
            "certificate_arn=arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-1111-2222-3333-123456789012",
        ],
    );
    assert!(https.stdout.contains("16 resources"), "{}", https.stdout);
    insta::assert_snapshot!(report);
}

/// `scripts/debate.sh`, the README's command for this seed, runs to its
/// end on a fresh emulator of its own: CI runs what users are told to.
#[test]
fn the_debate_script_runs_end_to_end() {
    let output = std::process::Command::new("bash")
        .arg("scripts/debate.sh")
        .current_dir(manifest_dir())
        .env("CAIRN_BIN", env!("CARGO_BIN_EXE_cairn"))
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("nothing left"), "{stdout}");
    assert!(stderr.contains("refusing to destroy"), "{stderr}");
}
