//! End-to-end tests of the container and load-balancer types: target
//! groups, load balancers, listeners, ECS clusters, task definitions and
//! services. Each test starts its own emulator on a free loopback port and
//! keeps its own state directory.

mod common;
use common::*;
use std::path::Path;

const LIVES_CONTAINERS: &str = "tests/stacks/lives-containers.yaml";

/// Every load balancer and target group on the emulator, by name.
async fn balancing_inventory(aws: &cairn::aws::Aws) -> (Vec<String>, Vec<String>) {
    let elb = aws.elbv2();
    let balancers = elb.describe_load_balancers().send().await.unwrap();
    let groups = elb.describe_target_groups().send().await.unwrap();
    let mut balancers: Vec<String> = balancers
        .load_balancers()
        .iter()
        .filter_map(|b| b.load_balancer_name().map(str::to_owned))
        .collect();
    let mut groups: Vec<String> = groups
        .target_groups()
        .iter()
        .filter_map(|g| g.target_group_name().map(str::to_owned))
        .collect();
    balancers.sort();
    groups.sort();
    (balancers, groups)
}

/// The names of the active ECS clusters on the emulator.
async fn active_clusters(aws: &cairn::aws::Aws) -> Vec<String> {
    let ecs = aws.ecs();
    let listed = ecs.list_clusters().send().await.unwrap();
    if listed.cluster_arns().is_empty() {
        return Vec::new();
    }
    let described = ecs
        .describe_clusters()
        .set_clusters(Some(listed.cluster_arns().to_vec()))
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = described
        .clusters()
        .iter()
        .filter(|c| c.status() == Some("ACTIVE"))
        .filter_map(|c| c.cluster_name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The active task definition revisions on the emulator (`family:n`).
async fn active_revisions(aws: &cairn::aws::Aws) -> Vec<String> {
    let listed = aws
        .ecs()
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    let mut revisions: Vec<String> = listed
        .task_definition_arns()
        .iter()
        .filter_map(|arn| arn.rsplit('/').next().map(str::to_owned))
        .collect();
    revisions.sort();
    revisions
}

/// The service `api` of `cluster` as ECS describes it.
async fn live_service(aws: &cairn::aws::Aws, cluster: &str) -> aws_sdk_ecs::types::Service {
    aws.ecs()
        .describe_services()
        .cluster(cluster)
        .services("api")
        .send()
        .await
        .unwrap()
        .services()[0]
        .clone()
}

/// The load-balancer and ECS types through their whole life: created, planned
/// again with nothing to do, changed in place, changed by hand (found, and
/// put back), replaced by a new name, protected from destroy while
/// deletion protection is on, destroyed to nothing.
#[tokio::test(flavor = "multi_thread")]
async fn every_container_type_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let apply = ["apply", LIVES_CONTAINERS, "--auto-approve"];
    let plan = ["plan", LIVES_CONTAINERS, "--detailed-exitcode"];
    let quiet = |vars: &[String]| {
        let run = test.cairn(&arguments(&plan, vars));
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    };
    test.ok(&apply);
    quiet(&[]);
    let drift = test.cairn(&["drift", LIVES_CONTAINERS]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    let service = live_service(&aws, "debate").await;
    let breaker = service
        .deployment_configuration()
        .and_then(|d| d.deployment_circuit_breaker())
        .unwrap();
    assert!(breaker.enable() && breaker.rollback());
    assert_eq!(service.health_check_grace_period_seconds(), Some(60));
    let vpc = service
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(vpc.subnets().len(), 2);
    assert_eq!(
        vpc.assign_public_ip(),
        Some(&aws_sdk_ecs::types::AssignPublicIp::Disabled)
    );
    assert_eq!(service.load_balancers()[0].container_port(), Some(8080));
    // The tasks' group, named from its prefix.
    let groups = aws
        .ec2()
        .describe_security_groups()
        .group_ids(&vpc.security_groups()[0])
        .send()
        .await
        .unwrap();
    let name = groups.security_groups()[0].group_name().unwrap();
    assert!(
        name.starts_with("tasks-") && name.len() == "tasks-".len() + 26,
        "{name}"
    );
    assert!(service.task_definition().unwrap().ends_with("/api:1"));
    let elb = aws.elbv2();
    let group = elb
        .describe_target_groups()
        .names("api")
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .clone();
    assert_eq!(group.health_check_path(), Some("/health"));
    assert_eq!(group.healthy_threshold_count(), Some(2));
    assert_eq!(group.target_type().map(|t| t.as_str()), Some("ip"));

    // In place: tags, the health check's path, the idle timeout.
    let second = vars(&[("label", "second"), ("path", "/ready"), ("idle", "120")]);
    let planned = test.ok(&arguments(&["plan", LIVES_CONTAINERS], &second));
    for address in [
        "lb_target_group.targets",
        "lb.balancer",
        "lb_listener.http",
        "ecs_cluster.cluster",
        "ecs_task_definition.task",
        "ecs_service.service",
        "lb_listener_rule.api_rule",
    ] {
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

    // By hand: the health check and the idle timeout, found and put back.
    let group_arn = group.target_group_arn().unwrap().to_owned();
    elb.modify_target_group()
        .target_group_arn(&group_arn)
        .health_check_path("/by-hand")
        .send()
        .await
        .unwrap();
    let balancer_arn = elb
        .describe_load_balancers()
        .names("web")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&balancer_arn)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                .key("idle_timeout.timeout_seconds")
                .value("33")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&balancer_arn)
        .send()
        .await
        .unwrap();
    let redirect = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(8081))
        .unwrap();
    let target = redirect.default_actions()[0].redirect_config().unwrap();
    assert_eq!(
        (target.protocol(), target.port(), target.path()),
        (Some("HTTPS"), Some("443"), Some("/#{path}"))
    );
    elb.modify_listener()
        .listener_arn(redirect.listener_arn().unwrap())
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&group_arn)
                .build(),
        )
        .send()
        .await
        .unwrap();
    aws.ecs()
        .put_cluster_capacity_providers()
        .cluster("debate")
        .capacity_providers("FARGATE")
        .set_default_capacity_provider_strategy(Some(Vec::new()))
        .send()
        .await
        .unwrap();
    let task = aws
        .ecs()
        .describe_task_definition()
        .task_definition("api")
        .send()
        .await
        .unwrap()
        .task_definition()
        .unwrap()
        .clone();
    let container = &task.container_definitions()[0];
    assert_eq!(
        container.secrets()[0].value_from(),
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf"
    );
    assert_eq!(task.cpu(), Some("512"));
    aws.ecs()
        .tag_resource()
        .resource_arn(task.task_definition_arn().unwrap())
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("label")
                .value("by-hand")
                .build(),
        )
        .send()
        .await
        .unwrap();
    aws.ecs()
        .update_service()
        .cluster("debate")
        .service("api")
        .desired_count(5)
        .send()
        .await
        .unwrap();
    let http = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(80))
        .unwrap();
    let rules = elb
        .describe_rules()
        .listener_arn(http.listener_arn().unwrap())
        .send()
        .await
        .unwrap();
    let rule = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some("10"))
        .unwrap();
    elb.modify_rule()
        .rule_arn(rule.rule_arn().unwrap())
        .conditions(
            aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                .field("path-pattern")
                .values("/by-hand/*")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&arguments(&plan, &second));
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    for address in [
        "lb_target_group.targets",
        "lb.balancer",
        "lb_listener.redirect",
        "ecs_cluster.cluster",
        "ecs_task_definition.task",
        "ecs_service.service",
        "lb_listener_rule.api_rule",
    ] {
        assert!(
            drift.stdout.contains(&format!("# {address} has changed")),
            "{address}:\n{}",
            drift.stdout
        );
    }
    test.ok(&arguments(&apply, &second));
    quiet(&second);
    assert_eq!(live_service(&aws, "debate").await.desired_count(), 2);

    // A new image: a new revision, and the service moves to it in place.
    let image = vars(&[
        ("label", "second"),
        ("path", "/ready"),
        ("idle", "120"),
        ("image", "2"),
    ]);
    let planned = test.ok(&arguments(&["plan", LIVES_CONTAINERS], &image));
    assert!(
        planned.stdout.contains("# ecs_task_definition.task must be replaced (the new one is created before the old one is destroyed)\n  # (registers a new revision of `api`; the old revision is deregistered once what uses it has moved to the new one)"),
        "{}",
        planned.stdout
    );
    assert!(
        planned
            .stdout
            .contains("# ecs_service.service will be updated in-place"),
        "{}",
        planned.stdout
    );
    test.ok(&arguments(&apply, &image));
    quiet(&image);
    assert!(live_service(&aws, "debate")
        .await
        .task_definition()
        .unwrap()
        .ends_with("/api:2"));
    assert_eq!(active_revisions(&aws).await, ["api:2"]);
    // The deregistered revision keeps its tags, and is not unmanaged.
    let drift = test.cairn(&arguments(&["drift", LIVES_CONTAINERS], &image));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);

    // Replaced: new names.
    let renamed = vars(&[
        ("label", "second"),
        ("path", "/ready"),
        ("idle", "120"),
        ("suffix", "-b"),
        ("image", "2"),
    ]);
    let planned = test.ok(&arguments(&["plan", LIVES_CONTAINERS], &renamed));
    for address in [
        "lb_target_group.targets",
        "lb.balancer",
        "lb_listener.http",
        "lb_listener.redirect",
        "ecs_cluster.cluster",
        "ecs_service.service",
        "lb_listener_rule.api_rule",
        "security_group.tasks",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} must be replaced")),
            "{address}:\n{}",
            planned.stdout
        );
    }
    test.ok(&arguments(&apply, &renamed));
    quiet(&renamed);
    assert_eq!(
        balancing_inventory(&aws).await,
        (vec!["web-b".to_owned()], vec!["api-b".to_owned()])
    );
    assert_eq!(active_clusters(&aws).await, ["debate-b"]);
    assert_eq!(active_revisions(&aws).await, ["api:2"]);

    // Deletion protection: destroy refuses, as on AWS.
    let protected = vars(&[
        ("label", "second"),
        ("path", "/ready"),
        ("idle", "120"),
        ("suffix", "-b"),
        ("image", "2"),
        ("protect", "true"),
    ]);
    test.ok(&arguments(&apply, &protected));
    let refused = test.cairn(&arguments(
        &["destroy", LIVES_CONTAINERS, "--auto-approve"],
        &protected,
    ));
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("deletion protection")
            || refused.stdout.contains("deletion protection"),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert_eq!(balancing_inventory(&aws).await.0, ["web-b"]);
    test.ok(&arguments(&apply, &renamed));
    test.ok(&arguments(
        &["destroy", LIVES_CONTAINERS, "--auto-approve"],
        &renamed,
    ));
    assert_eq!(balancing_inventory(&aws).await, (vec![], vec![]));
    assert_eq!(active_clusters(&aws).await, Vec::<String>::new());
    assert_eq!(active_revisions(&aws).await, Vec::<String>::new());
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

/// A create whose answer is lost after AWS carried it out is made once:
/// the target group's repeat is refused by name and the group adopted;
/// the load balancer and the listener (which an emulator would make
/// twice) are not sent again but looked up, by name and by port; the
/// cluster's repeat returns the cluster; a task definition's revision is
/// found by its ownership tags (the newest of its family); a service is
/// not sent again (an emulator would replace it) but read by its name; a
/// rule's repeat meets its priority taken and the rule at it is adopted. The next plan is empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_answer_makes_each_balancing_resource_once() {
    let test = Test::new();
    let aws = test.aws().await;
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("CreateTargetGroup", Fault::LoseAnswer, 1),
            ("CreateLoadBalancer", Fault::LoseAnswer, 1),
            ("CreateListener", Fault::LoseAnswer, 1),
            ("CreateCluster", Fault::LoseAnswer, 1),
            ("RegisterTaskDefinition", Fault::LoseAnswer, 1),
            ("CreateService", Fault::LoseAnswer, 1),
            ("CreateRule", Fault::LoseAnswer, 1),
        ],
    );
    let run = test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        LIVES_CONTAINERS,
        "--auto-approve",
    ]);
    assert_eq!(proxy.lost(), 7, "{}", run.stdout);
    assert_eq!(
        proxy.calls("CreateRule"),
        2,
        "a rule's repeat was not refused"
    );
    assert_eq!(proxy.calls("CreateService"), 1, "a service was sent again");
    let service = live_service(&aws, "debate").await;
    assert!(service
        .deployment_configuration()
        .and_then(|d| d.deployment_circuit_breaker())
        .is_some_and(|b| b.enable() && b.rollback()));
    assert_eq!(active_clusters(&aws).await, ["debate"]);
    assert_eq!(proxy.calls("RegisterTaskDefinition"), 1);
    assert_eq!(active_revisions(&aws).await, ["api:1"]);
    assert_eq!(
        proxy.calls("CreateLoadBalancer"),
        1,
        "a balancer was sent again"
    );
    assert_eq!(
        proxy.calls("CreateListener"),
        2,
        "a listener was sent again"
    );
    let balancer = aws
        .elbv2()
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    let listeners = aws
        .elbv2()
        .describe_listeners()
        .load_balancer_arn(balancer)
        .send()
        .await
        .unwrap();
    let mut ports: Vec<i32> = listeners
        .listeners()
        .iter()
        .filter_map(|l| l.port())
        .collect();
    ports.sort();
    assert_eq!(ports, [80, 8081]);
    assert_eq!(
        balancing_inventory(&aws).await,
        (vec!["web".to_owned()], vec!["api".to_owned()])
    );
    let again = test.cairn(&["plan", LIVES_CONTAINERS, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);

    // A new revision whose answer is lost: adopted, the old deregistered.
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("RegisterTaskDefinition", Fault::LoseAnswer, 1)],
    );
    test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        LIVES_CONTAINERS,
        "--auto-approve",
        "--var",
        "image=2",
    ]);
    assert_eq!(proxy.lost(), 1);
    assert_eq!(proxy.calls("RegisterTaskDefinition"), 1);
    assert_eq!(active_revisions(&aws).await, ["api:2"]);
    let again = test.cairn(&[
        "plan",
        LIVES_CONTAINERS,
        "--detailed-exitcode",
        "--var",
        "image=2",
    ]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    test.ok(&[
        "destroy",
        LIVES_CONTAINERS,
        "--auto-approve",
        "--var",
        "image=2",
    ]);
    assert_eq!(balancing_inventory(&aws).await, (vec![], vec![]));
}

/// Where the killed runs stop, in the order a one-at-a-time apply of
/// LIVES_CONTAINERS takes them: every container and balancing type, and
/// the group named by a prefix.
const CREATE_ORDER: &[&str] = &[
    "ecs_cluster.cluster",
    "ecs_task_definition.task",
    "lb_target_group.targets",
    "security_group.tasks",
    "lb.balancer",
    "lb_listener.http",
    "ecs_service.service",
    "lb_listener_rule.api_rule",
];

/// cairn killed (as by kill -9) right after AWS made each container and
/// balancing resource and before the state recorded it: the next apply
/// adopts what the killed runs made, the emulator holds one of each, and
/// the plan after is empty.
#[tokio::test(flavor = "multi_thread")]
async fn creates_killed_before_the_state_write_are_adopted() {
    let test = Test::new();
    let aws = test.aws().await;
    kill_after_each_create(
        &test,
        &["apply", LIVES_CONTAINERS, "--auto-approve"],
        CREATE_ORDER,
    );
    test.ok(&["apply", LIVES_CONTAINERS, "--auto-approve"]);
    assert_eq!(
        balancing_inventory(&aws).await,
        (vec!["web".to_owned()], vec!["api".to_owned()])
    );
    assert_eq!(active_clusters(&aws).await, ["debate"]);
    assert_eq!(active_revisions(&aws).await, ["api:1"]);
    let services = aws
        .ecs()
        .list_services()
        .cluster("debate")
        .send()
        .await
        .unwrap();
    assert_eq!(services.service_arns().len(), 1);
    let again = test.cairn(&["plan", LIVES_CONTAINERS, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    test.ok(&["destroy", LIVES_CONTAINERS, "--auto-approve"]);
    assert_eq!(balancing_inventory(&aws).await, (vec![], vec![]));
    assert!(active_clusters(&aws).await.is_empty());
}

/// DescribeServices answers of the service `api` in cluster `debate`, as
/// moto gives them now (tags included), with its deployment still rolling
/// out, stopped by the circuit breaker, or completed with `running` tasks:
/// moto never finishes a deployment, so the proxy tells the story AWS
/// would.
fn deployment_answers(test: &Test, running: u32) -> (&'static str, &'static str, &'static str) {
    let script = r#"
import boto3, json, sys
answer = boto3.client("ecs").describe_services(cluster="debate", services=["api"], include=["TAGS"])
answer.pop("ResponseMetadata", None)
def body(state, running):
    copy = json.loads(json.dumps(answer, default=lambda d: d.timestamp()))
    service = copy["services"][0]
    deployment = service["deployments"][0]
    deployment["rolloutState"] = state
    deployment["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start." if state == "FAILED" else "in progress"
    if running:
        for counts in (service, deployment):
            counts["desiredCount"] = counts["runningCount"] = running
            counts["pendingCount"] = 0
    return json.dumps(copy)
running = int(sys.argv[1])
print(body("IN_PROGRESS", 0))
print(body("FAILED", 0))
print(body("COMPLETED", running))
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script, &running.to_string()])
        .env("AWS_ENDPOINT_URL", test.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text: &'static str = Box::leak(String::from_utf8(output.stdout).unwrap().into_boxed_str());
    let mut lines = text.lines();
    (
        lines.next().unwrap(),
        lines.next().unwrap(),
        lines.next().unwrap(),
    )
}

/// `cairn args`, killed if it runs past `seconds`: a wait the proxy's
/// story does not end must fail the test, not hang it.
fn cairn_within(test: &Test, args: &[&str], seconds: u64) -> Run {
    let mut child = test
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() > seconds {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "cairn {args:?} still running after {seconds} s:\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// With `wait_for_steady_state`, apply waits until the service's
/// deployment has finished, polling DescribeServices, and reports a
/// deployment the circuit breaker stopped as the step's error (from which
/// the next apply finishes); without it, apply does not wait.
#[tokio::test(flavor = "multi_thread")]
async fn apply_waits_for_a_steady_service_when_asked() {
    let test = Test::new();
    test.ok(&["apply", LIVES_CONTAINERS, "--auto-approve"]);
    // Without the flag: the count changes and nothing waits. The calls it
    // makes say how many reads of the service come before its update.
    let probe = FaultProxy::start(&test.endpoint(), vec![]);
    let endpoint = probe.endpoint();
    let plain = [
        "--endpoint-url",
        &endpoint,
        "apply",
        LIVES_CONTAINERS,
        "--auto-approve",
        "--var",
        "count=3",
    ];
    cairn_within(&test, &plain, 60);
    let operations = probe.operations();
    let update = operations
        .iter()
        .position(|o| o == "UpdateService")
        .expect("the count is an update");
    let before = operations[..update]
        .iter()
        .filter(|o| *o == "DescribeServices")
        .count() as u32;

    let waiting = test.directory.path().join("waiting.yaml");
    let text = std::fs::read_to_string(Path::new(&manifest_dir()).join(LIVES_CONTAINERS))
        .unwrap()
        .replace(
            "      health_check_grace_period_seconds: 60\n",
            "      health_check_grace_period_seconds: 60\n      wait_for_steady_state: true\n",
        );
    assert!(text.contains("wait_for_steady_state"));
    std::fs::write(&waiting, text).unwrap();
    let waiting = waiting.display().to_string();
    let (in_progress, failed, completed) = deployment_answers(&test, 4);
    let apply = |endpoint: &str| -> Run {
        cairn_within(
            &test,
            &[
                "--endpoint-url",
                endpoint,
                "apply",
                &waiting,
                "--auto-approve",
                "--var",
                "count=4",
            ],
            90,
        )
    };

    // The circuit breaker stops the new deployment: the step fails with
    // AWS's reason.
    let breaking = FaultProxy::start(
        &test.endpoint(),
        vec![
            (
                "DescribeServices",
                Fault::Json("200 OK", in_progress),
                before + 1,
            ),
            ("DescribeServices", Fault::Json("200 OK", failed), 1),
        ],
    );
    let stopped = apply(&breaking.endpoint());
    assert_ne!(
        stopped.code,
        0,
        "{}\n{before} reads before the update; calls: {:?}",
        stopped.stdout,
        breaking.operations()
    );
    assert!(
        stopped.stderr.contains("circuit breaker"),
        "{}\n{}",
        stopped.stdout,
        stopped.stderr
    );

    // Rolling out, then done: apply returns once every task runs.
    let rolling = FaultProxy::start(
        &test.endpoint(),
        vec![
            (
                "DescribeServices",
                Fault::Json("200 OK", in_progress),
                before + 2,
            ),
            ("DescribeServices", Fault::Json("200 OK", completed), 1),
        ],
    );
    let run = apply(&rolling.endpoint());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let operations = rolling.operations();
    let update = operations
        .iter()
        .position(|o| o == "UpdateService")
        .expect("the count is an update");
    let polls = operations[update..]
        .iter()
        .filter(|o| *o == "DescribeServices")
        .count();
    assert!(polls >= 3, "the wait polled {polls} times: {operations:?}");
    let again = test.cairn(&["plan", &waiting, "--detailed-exitcode", "--var", "count=4"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
}

/// An HTTPS listener with a certificate ACM holds (moto refuses one it
/// does not) and a security policy: created, planned again with nothing
/// to do, its policy changed in place, destroyed.
#[tokio::test(flavor = "multi_thread")]
async fn an_https_listener_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import boto3; print(boto3.client('acm').request_certificate(DomainName='debate.example.com')['CertificateArn'])",
        ])
        .env("AWS_ENDPOINT_URL", test.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let certificate = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let stack = test.directory.path().join("https.yaml");
    std::fs::write(
        &stack,
        r#"project: cairn-test
environment: t
variables:
  certificate: {}
  policy: { default: ELBSecurityPolicy-TLS13-1-2-2021-06 }
resources:
  vpc: { type: vpc, properties: { cidr_block: 10.71.0.0/16 } }
  a: { type: subnet, properties: { vpc_id: "${vpc.id}", cidr_block: 10.71.1.0/24, availability_zone: us-east-1a } }
  b: { type: subnet, properties: { vpc_id: "${vpc.id}", cidr_block: 10.71.2.0/24, availability_zone: us-east-1b } }
  web: { type: security_group, properties: { description: the load balancer, vpc_id: "${vpc.id}" } }
  targets: { type: lb_target_group, properties: { port: 8080, vpc_id: "${vpc.id}", target_type: ip } }
  balancer: { type: lb, properties: { subnets: ["${a.id}", "${b.id}"], security_groups: ["${web.id}"] } }
  https:
    type: lb_listener
    properties:
      load_balancer_arn: ${balancer.arn}
      port: 443
      protocol: HTTPS
      certificate_arn: ${var.certificate}
      ssl_policy: ${var.policy}
      default_action: { forward: "${targets.arn}" }
"#,
    )
    .unwrap();
    let stack = stack.display().to_string();
    let certificate_var = format!("certificate={certificate}");
    let with = |extra: &[&str], command: &[&str]| -> Vec<String> {
        command
            .iter()
            .chain(["--var", &certificate_var].iter())
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        test.ok(&args)
    };
    run(with(&[], &["apply", &stack, "--auto-approve"]));
    let listener = || async {
        let balancers = aws.elbv2().describe_load_balancers().send().await.unwrap();
        let arn = balancers.load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_owned();
        aws.elbv2()
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .unwrap()
            .listeners()[0]
            .clone()
    };
    let live = listener().await;
    assert_eq!(live.port(), Some(443));
    assert_eq!(live.protocol().map(|p| p.as_str()), Some("HTTPS"));
    assert_eq!(
        live.certificates()[0].certificate_arn(),
        Some(certificate.as_str())
    );
    assert_eq!(
        live.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    let args = with(&[], &["plan", &stack, "--detailed-exitcode"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let quiet = test.cairn(&args);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    let changed = run(with(
        &["--var", "policy=ELBSecurityPolicy-TLS13-1-3-2021-06"],
        &["apply", &stack, "--auto-approve"],
    ));
    assert!(
        changed.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        changed.stdout
    );
    assert_eq!(
        listener().await.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-3-2021-06")
    );
    run(with(
        &["--var", "policy=ELBSecurityPolicy-TLS13-1-3-2021-06"],
        &["destroy", &stack, "--auto-approve"],
    ));
    assert_eq!(balancing_inventory(&aws).await, (vec![], vec![]));
}
