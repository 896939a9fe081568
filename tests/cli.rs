//! End-to-end tests: the cairn binary against moto, each test with its own
//! emulator on a free loopback port and its own state directory.

mod common;
use common::*;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ALL: &str = "tests/stacks/all.yaml";

fn mutating_calls(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("API calls:"))
        .expect("--stats line");
    line.split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn validation_reports_every_error_with_its_place() {
    let test = Test::offline();
    let run = test.cairn(&["validate", "tests/stacks/invalid.yaml"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("invalid_stack", run.stderr);
}

#[test]
fn validation_prints_cycles_as_paths() {
    let test = Test::offline();
    let run = test.cairn(&["validate", "tests/stacks/cycle.yaml"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("cycle", run.stderr);
}

#[test]
fn invalid_stack_makes_no_aws_call() {
    // The endpoint is a closed port: any call would fail differently.
    let test = Test::offline();
    let run = test.cairn(&["apply", "tests/stacks/invalid.yaml", "--auto-approve"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(!test.state_dir().join("bad.json").exists());
}

#[test]
fn unreachable_endpoint_is_a_clear_error() {
    let test = Test::offline();
    let run = test.cairn(&["plan", ALL]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot reach the AWS endpoint"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn dev_plan_from_empty_text_and_json() {
    let test = Test::new();
    // The shipped stacks keep their state in a shared table.
    test.ok(&["state", "init-backend", "dev"]);
    let text = test.ok(&["plan", "dev"]);
    insta::assert_snapshot!("dev_plan_text", without_package(&text.stdout));
    let json = test.ok(&["plan", "dev", "--json"]);
    let mut value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    // Written as it is made, and still exactly what the document as one
    // value writes: one line, every object's keys in order.
    assert_eq!(
        json.stdout,
        format!("{}\n", serde_json::to_string(&value).unwrap())
    );
    value["cairn"]["state_lineage"] = "[random per new state]".into();
    // The chat backend's 17 resources are 28 of Terraform's: the HTTP API
    // is an API, an integration, a stage and three routes, the image
    // repository's lifecycle policy is a resource of its own, and so is
    // each of the function role's five inline policies.
    assert_eq!(value["resource_changes"].as_array().unwrap().len(), 28);
    let package = |values: &mut serde_json::Value| {
        for key in ["source_code_hash", "filename"] {
            if values.get(key).is_some() {
                values[key] = "[package]".into();
            }
        }
    };
    for change in value["resource_changes"].as_array_mut().unwrap() {
        if change["type"] == "aws_lambda_function" {
            package(&mut change["change"]["after"]);
        }
    }
    for resource in value["planned_values"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap()
    {
        if resource["type"] == "aws_lambda_function" {
            package(&mut resource["values"]);
        }
    }
    for resource in value["configuration"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap()
    {
        if resource["type"] == "aws_lambda_function" {
            package(&mut resource["expressions"]);
        }
    }
    assert_eq!(value["format_version"], "1.2");
    assert_eq!(value["terraform_version"], "1.9.8");
    insta::assert_json_snapshot!("dev_plan_json", value);
}

/// The package's hash and path depend on the toolchain and the target
/// directory, not on cairn.
fn without_package(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(" = ") {
            Some((name, _)) if name.trim_end().ends_with("code_sha256") => {
                format!("{name} = [package hash]")
            }
            Some((name, _)) if name.trim_end().ends_with("code_zip") => {
                format!("{name} = [package path]")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_creates_no_ops_updates_replaces_detects_drift_and_destroys() {
    let test = Test::new();
    // Create.
    let created = test.ok(&["apply", ALL, "--auto-approve"]);
    assert!(
        created
            .stdout
            .contains("Apply complete! Resources: 9 added, 0 changed, 0 destroyed."),
        "{}",
        created.stdout
    );

    // No-op: no changes and not one mutating request.
    let again = test.ok(&["plan", ALL, "--detailed-exitcode", "--stats"]);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(mutating_calls(&again.stderr), 0, "{}", again.stderr);
    let applied = test.ok(&["apply", ALL, "--auto-approve", "--stats"]);
    assert_eq!(mutating_calls(&applied.stderr), 0, "{}", applied.stderr);

    // In-place updates on every type that has updatable fields.
    let vars = [
        "--var",
        "retention=30",
        "--var",
        "threshold=9",
        "--var",
        "mutability=IMMUTABLE",
        "--var",
        "description=second",
    ];
    let mut plan_args = vec!["plan", ALL, "--detailed-exitcode"];
    plan_args.extend(vars);
    let plan = test.cairn(&plan_args);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    insta::assert_snapshot!("updates_plan", plan.stdout);
    let mut apply_args = vec!["apply", ALL, "--auto-approve"];
    apply_args.extend(vars);
    test.ok(&apply_args);
    let mut settled = vec!["plan", ALL, "--detailed-exitcode"];
    settled.extend(vars);
    assert_eq!(test.cairn(&settled).code, 0);

    // Replacement: the table's range key type forces it.
    let replace = test.cairn(&["plan", ALL, "--var", "range_type=N"]);
    assert!(
        replace
            .stdout
            .contains("-/+ resource \"dynamodb_table\" \"table\""),
        "{}",
        replace.stdout
    );
    assert!(
        replace.stdout.contains("# forces replacement"),
        "{}",
        replace.stdout
    );
    test.ok(&["apply", ALL, "--auto-approve", "--var", "range_type=N"]);

    // Out-of-band changes are drift, and apply puts them back.
    let aws = test.aws().await;
    out_of_band_retention_90(&aws).await;
    out_of_band_ttl_off(&aws).await;
    // The same policy, reordered: not drift.
    let role = aws
        .iam()
        .get_role_policy()
        .role_name("cairn-test-t-role")
        .policy_name("table")
        .send()
        .await
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_str(&percent(role.policy_document())).unwrap();
    let statement = &document["Statement"][0];
    let reordered = serde_json::json!({"Statement": [{"Resource": statement["Resource"], "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Effect": "Allow"}], "Version": "2012-10-17"});
    aws.iam()
        .put_role_policy()
        .role_name("cairn-test-t-role")
        .policy_name("table")
        .policy_document(reordered.to_string())
        .send()
        .await
        .unwrap();
    aws.kms()
        .update_key_description()
        .key_id(key_id(&test))
        .description("edited by hand")
        .send()
        .await
        .unwrap();
    aws.ecr()
        .put_image_tag_mutability()
        .repository_name("cairn-test-t-repository")
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
        .send()
        .await
        .unwrap();
    aws.iam()
        .update_role()
        .role_name("cairn-test-t-role")
        .description("edited by hand")
        .send()
        .await
        .unwrap();
    aws.cloudwatch()
        .put_dashboard()
        .dashboard_name("cairn-test-t-dashboard")
        .dashboard_body(r#"{"widgets":[]}"#)
        .send()
        .await
        .unwrap();
    aws.kms()
        .delete_alias()
        .alias_name("alias/cairn-test-t-alias")
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&["plan", ALL, "--var", "range_type=N", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2);
    insta::assert_snapshot!("drift_plan", without_ids(&drift.stdout));
    assert!(
        drift.stdout.contains("retention_in_days = 7 -> 90"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .stdout
            .contains("ttl_attribute = \"expires_at\" -> \"\""),
        "{}",
        drift.stdout
    );
    assert!(
        !drift.stdout.contains("inline_policies"),
        "reordered policy reported as drift:\n{}",
        drift.stdout
    );
    test.ok(&["apply", ALL, "--auto-approve", "--var", "range_type=N"]);
    assert_eq!(
        test.cairn(&["plan", ALL, "--var", "range_type=N", "--detailed-exitcode"])
            .code,
        0
    );

    // Deleted out of band: planned as a create.
    aws.cloudwatch()
        .delete_alarms()
        .alarm_names("cairn-test-t-alarm")
        .send()
        .await
        .unwrap();
    let gone = test.cairn(&["plan", ALL, "--var", "range_type=N"]);
    assert!(
        gone.stdout
            .contains("cloudwatch_alarm.alarm has been deleted"),
        "{}",
        gone.stdout
    );
    assert!(
        gone.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        gone.stdout
    );

    // Destroy leaves nothing behind.
    let destroyed = test.ok(&["destroy", ALL, "--auto-approve"]);
    assert!(
        destroyed.stdout.contains("Destroy complete!"),
        "{}",
        destroyed.stdout
    );
    assert_eq!(inventory(&aws).await, NOTHING);
    let state = test.ok(&["state", "list", ALL]);
    assert_eq!(state.stdout, "");
}

fn percent(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn saved_plan_applies_only_to_the_world_it_saw() {
    let test = Test::new();
    let file = test.directory.path().join("plan.json");
    let file = file.to_str().unwrap();
    test.ok(&["plan", ALL, "--out", file]);
    // The stack changes: the saved plan is refused.
    let refused = test.cairn(&["apply", ALL, "--plan", file, "--var", "retention=30"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("the stack (or a variable) changed since"),
        "{}",
        refused.stderr
    );
    // Unchanged: applied exactly.
    let applied = test.ok(&["apply", ALL, "--plan", file]);
    assert!(applied.stdout.contains("9 added"), "{}", applied.stdout);
    // Applying it twice: the state moved on.
    let twice = test.cairn(&["apply", ALL, "--plan", file]);
    assert_eq!(twice.code, 1);
    assert!(
        twice.stderr.contains("the state changed since"),
        "{}",
        twice.stderr
    );
}

#[test]
fn apply_without_a_terminal_needs_approval() {
    let test = Test::new();
    let run = test.cairn(&["apply", ALL]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("pass --auto-approve"), "{}", run.stderr);
    assert_eq!(test.ok(&["state", "list", ALL]).stdout, "");
}

#[test]
fn a_held_lock_names_its_holder() {
    let test = Test::new();
    use cairn::store::StateStore;
    let store = cairn::store::LocalStore::new(test.state_dir(), "t");
    let lock = futures::executor::block_on(store.lock("apply", Duration::ZERO)).unwrap();
    let run = test.cairn(&["plan", ALL, "--lock-timeout", "1"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("state is locked by") && run.stderr.contains(&lock.id),
        "{}",
        run.stderr
    );
    // A local lock is the OS's: only its holder releases it, and does
    // when it ends, however it ends (Terraform's local backend too).
    let refused = test.cairn(&["force-unlock", ALL, &lock.id]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("held by a running cairn"),
        "{}",
        refused.stderr
    );
    futures::executor::block_on(store.unlock(&lock.id)).unwrap();
    test.ok(&["plan", ALL]);
}

#[test]
fn protected_resources_are_destroyed_only_when_named() {
    let test = Test::new();
    test.ok(&[
        "apply",
        ALL,
        "--auto-approve",
        "--var",
        "protect_table=true",
    ]);
    let refused = test.cairn(&[
        "destroy",
        ALL,
        "--auto-approve",
        "--var",
        "protect_table=true",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("dynamodb_table.table is protected"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("--allow-destroy dynamodb_table.table"),
        "{}",
        refused.stderr
    );
    test.ok(&[
        "destroy",
        ALL,
        "--auto-approve",
        "--var",
        "protect_table=true",
        "--allow-destroy",
        "dynamodb_table.table",
    ]);
}

/// A create that AWS carried out but whose result cairn never recorded (it
/// was killed in between) is found and adopted, not created twice.
#[tokio::test(flavor = "multi_thread")]
async fn interrupted_creates_are_adopted() {
    let test = Test::new();
    test.ok(&["apply", ALL, "--auto-approve"]);
    // Rewind the state to "about to create" for the log group (found by
    // name) and the key (found by its ownership tags), as after a kill -9.
    let path = test.state_dir().join("t.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for address in ["log_group.logs", "kms_key.key"] {
        let entry = &mut state["resources"][address];
        entry["status"] = "creating".into();
        entry["outputs"] = serde_json::json!({});
        if address == "kms_key.key" {
            entry["id"] = serde_json::Value::Null;
        }
    }
    std::fs::write(&path, state.to_string()).unwrap();
    // Drift finds both by their ownership tags and says apply adopts them.
    let drift = test.cairn(&["drift", ALL]);
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    for address in ["log_group.logs", "kms_key.key"] {
        assert!(
            drift.stdout.contains(&format!(
                "? {address}: unmanaged, tagged for this stack but not in the state"
            )),
            "{}",
            drift.stdout
        );
    }
    assert_eq!(
        drift
            .stdout
            .matches("an interrupted create: `cairn apply` adopts it")
            .count(),
        2,
        "{}",
        drift.stdout
    );
    let plan = test.ok(&["plan", ALL, "--detailed-exitcode"]);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    test.ok(&["apply", ALL, "--auto-approve"]);
    let aws = test.aws().await;
    let keys = aws.kms().list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 1, "a second key was created");
    let listed = test.ok(&["state", "list", ALL]);
    assert!(!listed.stdout.contains("interrupted"), "{}", listed.stdout);
}

/// What moto holds, by type: duplicates and leftovers both show.
async fn inventory(aws: &cairn::aws::Aws) -> Vec<(&'static str, usize)> {
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
async fn permission_statements(aws: &cairn::aws::Aws) -> usize {
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
async fn routes(aws: &cairn::aws::Aws) -> usize {
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
const NOTHING: &[(&str, usize)] = &[
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
const ONE_STACK: &[(&str, usize)] = &[
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

/// cairn killed at any moment of an apply (with no chance to save state or
/// release its lock) never loses track of what it created: the next apply
/// adopts it instead of creating a duplicate.
#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_apply_the_next_apply_finishes_without_duplicates() {
    let test = Test::new();
    let aws = test.aws().await;
    // The worst moments: right after AWS created a resource, before the
    // state says so. One step at a time, each run dies at the next one.
    for address in ["dynamodb_table.table", "kms_key.key", "log_group.logs"] {
        let run = test.cairn_with(
            &["apply", ALL, "--auto-approve", "--parallelism", "1"],
            &[("CAIRN_FAULT_ABORT_AFTER_CREATE", address)],
        );
        assert_ne!(
            run.code, 0,
            "cairn should have died after creating {address}"
        );
        // Its steps so far are in the journal beside the state, which the
        // next run replays.
        assert!(test.state_dir().join("t.journal.jsonl").exists());
    }
    test.ok(&["apply", ALL, "--auto-approve"]);
    // A finished apply folds its journal into the document.
    assert!(!test.state_dir().join("t.journal.jsonl").exists());
    assert_eq!(test.cairn(&["plan", ALL, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, ONE_STACK);

    // And at moments chosen by the clock: SIGKILL during a full apply.
    test.ok(&["destroy", ALL, "--auto-approve"]);
    for delay in [150, 300, 450, 600] {
        let mut child = test
            .command(&["apply", ALL, "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    test.ok(&["apply", ALL, "--auto-approve"]);
    assert_eq!(test.cairn(&["plan", ALL, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, ONE_STACK);
}

/// Out of band, as a person with the console would: all.yaml's log group
/// kept 90 days instead of 7.
async fn out_of_band_retention_90(aws: &cairn::aws::Aws) {
    aws.logs()
        .put_retention_policy()
        .log_group_name("/cairn-test/t/logs")
        .retention_in_days(90)
        .send()
        .await
        .unwrap();
}

/// Out of band: all.yaml's table with its TTL turned off.
async fn out_of_band_ttl_off(aws: &cairn::aws::Aws) {
    aws.dynamodb()
        .update_time_to_live()
        .table_name("cairn-test-t-table")
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A proxy in front of moto that answers chosen operations with a failure a
/// given number of times before letting them through: moto itself never
/// throttles, fails transiently or lags.
struct FaultProxy {
    port: u16,
    /// Requests seen, by operation.
    seen: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Mutating requests done upstream whose answer the client never got.
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Every request as it came: (operation, body).
    log: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

/// What a lossy proxy does to a share of the mutating requests: the
/// emulator carries them out, and the client never gets the real answer.
#[derive(Clone, Copy)]
enum Loss {
    /// HTTP 500 (InternalFailure) instead of the answer: the commit
    /// happened, the answer says otherwise.
    ServerError,
    /// Half the answer, then the connection closes.
    CutOff,
}

/// Reads, by name and by HTTP method for the REST services.
fn is_mutating(operation: &str, method: &str) -> bool {
    if operation.is_empty() {
        return method != "GET" && method != "HEAD";
    }
    !["Describe", "Get", "List", "Query", "Scan", "BatchGet"]
        .iter()
        .any(|p| operation.starts_with(p))
}

#[derive(Clone, Copy)]
enum Fault {
    /// HTTP 400 with the service's throttling error code.
    Throttle,
    /// HTTP 503.
    Unavailable,
    /// What Lambda answers while a new role is not yet assumable.
    RoleNotAssumable,
    /// A function still being set up (moto's are ready at once).
    FunctionPending,
    /// HTTP 501 with the NotImplemented error code: how an AWS service
    /// says it lacks an operation (moto answers an HTML 500 instead).
    NotImplemented,
    /// HTTP 400 with an EC2 error code, in EC2's error format.
    Ec2Error(&'static str),
    /// HTTP 200 with this XML answer (a resource still being built).
    Answer(&'static str),
    /// This status line and JSON answer, for an operation the emulator
    /// lacks (API Gateway v2's CreateDeployment).
    Json(&'static str, &'static str),
    /// The emulator carries the request out; the client gets a 500
    /// instead of its answer.
    LoseAnswer,
}

impl FaultProxy {
    fn start(upstream: &str, faults: Vec<(&'static str, Fault, u32)>) -> FaultProxy {
        FaultProxy::start_with(upstream, faults, None)
    }

    /// Loses the answer of about `rate` of the mutating requests (seeded,
    /// so a failure can be replayed), after the emulator carried them out.
    fn lossy(upstream: &str, rate: f64, loss: Loss, seed: u64) -> FaultProxy {
        FaultProxy::start_with(upstream, Vec::new(), Some((rate, loss, seed)))
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn calls(&self, operation: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The operations of the requests seen so far, in order.
    fn operations(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(o, _)| o.clone())
            .collect()
    }

    /// The bodies of `operation`'s requests so far, in order.
    fn bodies(&self, operation: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == operation)
            .map(|(_, b)| b.clone())
            .collect()
    }

    fn start_with(
        upstream: &str,
        faults: Vec<(&'static str, Fault, u32)>,
        lossy: Option<(f64, Loss, u64)>,
    ) -> FaultProxy {
        use std::io::{Read, Write};
        use std::sync::{Arc, Mutex};
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Mutex::new(faults));
        let lost = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let random = Arc::new(Mutex::new(lossy.map_or(1, |(_, _, seed)| seed | 1)));
        let counter = lost.clone();
        let seen = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let calls = seen.clone();
        let log = Arc::new(Mutex::new(Vec::new()));
        let requests = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let calls = calls.clone();
                let requests = requests.clone();
                let upstream = upstream.clone();
                let faults = faults.clone();
                let random = random.clone();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    // One request per connection; both sides are closed after it.
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let header = |name: &str| {
                        text.lines().find_map(|l| {
                            l.split_once(':')
                                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                                .map(|(_, v)| v.trim().to_owned())
                        })
                    };
                    let length: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    client.read_exact(&mut body).unwrap();
                    let form = String::from_utf8_lossy(&body).into_owned();
                    let json_protocol = header("x-amz-target").is_some();
                    let request_line = text.lines().next().unwrap_or_default().to_owned();
                    // restJson services name the operation by method and path.
                    let rest_operation = match request_line
                        .split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .as_slice()
                    {
                        ["POST", path] if path.ends_with("/functions") => {
                            Some("CreateFunction".to_owned())
                        }
                        ["GET", path]
                            if path.contains("/functions/") && path.split('/').count() == 4 =>
                        {
                            Some("GetFunction".to_owned())
                        }
                        // API Gateway v2: a stage's tags (its ARN's slashes
                        // are escaped in the path), deployments, routes.
                        ["POST", path]
                            if path.contains("/tags/") && path.contains("%2Fstages%2F") =>
                        {
                            Some("TagStage".to_owned())
                        }
                        ["DELETE", path]
                            if path.contains("/tags/") && path.contains("%2Fstages%2F") =>
                        {
                            Some("UntagStage".to_owned())
                        }
                        ["POST", path] if path.ends_with("/deployments") => {
                            Some("CreateDeployment".to_owned())
                        }
                        ["POST", path] if path.ends_with("/routes") => {
                            Some("CreateRoute".to_owned())
                        }
                        ["PATCH", path] if path.contains("/stages/") => {
                            Some("UpdateStage".to_owned())
                        }
                        ["PUT", path]
                            if path.contains("/functions/") && path.ends_with("/configuration") =>
                        {
                            Some("UpdateFunctionConfiguration".to_owned())
                        }
                        ["DELETE", path] if path.contains("/stages/") => {
                            Some("DeleteStage".to_owned())
                        }
                        ["POST", path] if path.ends_with("/stages") => {
                            Some("CreateStage".to_owned())
                        }
                        _ => None,
                    };
                    let operation = rest_operation
                        .or_else(|| {
                            header("x-amz-target")
                                .and_then(|t| t.rsplit('.').next().map(str::to_owned))
                        })
                        .or_else(|| {
                            form.split('&')
                                .find_map(|p| p.strip_prefix("Action=").map(str::to_owned))
                        })
                        .unwrap_or_default();
                    *calls.lock().unwrap().entry(operation.clone()).or_insert(0) += 1;
                    requests
                        .lock()
                        .unwrap()
                        .push((operation.clone(), form.clone()));
                    let injected = {
                        let mut faults = faults.lock().unwrap();
                        faults
                            .iter_mut()
                            .find(|(op, _, left)| *op == operation && *left > 0)
                            .map(|(_, fault, left)| {
                                *left -= 1;
                                *fault
                            })
                    };
                    let lose = matches!(injected, Some(Fault::LoseAnswer));
                    if let Some(fault) = injected.filter(|_| !lose) {
                        let (status, content_type, body) = match (fault, json_protocol) {
                            (Fault::Throttle, true) => ("400 Bad Request", "application/x-amz-json-1.1", r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned()),
                            (Fault::Throttle, false) => ("400 Bad Request", "text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>".to_owned()),
                            (Fault::Unavailable, _) => ("503 Service Unavailable", "text/plain", "try later".to_owned()),
                            (Fault::FunctionPending, _) => (
                                "200 OK",
                                "application/json",
                                r#"{"Configuration":{"FunctionName":"cairn-test-t-function","State":"Pending","LastUpdateStatus":"InProgress"}}"#.to_owned(),
                            ),
                            (Fault::NotImplemented, _) => (
                                "501 Not Implemented\r\nx-amzn-errortype: NotImplemented",
                                "application/json",
                                r#"{"message":"UpdateStage is not implemented"}"#.to_owned(),
                            ),
                            (Fault::Ec2Error(code), _) => (
                                "400 Bad Request",
                                "text/xml",
                                format!("<Response><Errors><Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error></Errors><RequestID>fault</RequestID></Response>"),
                            ),
                            (Fault::Answer(body), _) => ("200 OK", "text/xml", body.to_owned()),
                            (Fault::Json(status, body), _) => (status, "application/json", body.to_owned()),
                            (Fault::LoseAnswer, _) => unreachable!("passed upstream"),
                            (Fault::RoleNotAssumable, _) => (
                                "400 Bad Request\r\nx-amzn-errortype: InvalidParameterValueException",
                                "application/json",
                                r#"{"Type":"User","message":"The role defined for the function cannot be assumed by Lambda."}"#.to_owned(),
                            ),
                        };
                        let response = format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                        let _ = client.write_all(response.as_bytes());
                        return;
                    }
                    let method = request_line.split(' ').next().unwrap_or_default();
                    let lossy = if lose {
                        Some((1.0, Loss::ServerError, 1))
                    } else {
                        lossy
                    };
                    let loss = lossy.filter(|(rate, _, _)| {
                        is_mutating(&operation, method) && {
                            // xorshift64: deterministic for a seed.
                            let mut x = random.lock().unwrap();
                            *x ^= *x << 13;
                            *x ^= *x >> 7;
                            *x ^= *x << 17;
                            (*x % 10_000) as f64 / 10_000.0 < *rate
                        }
                    });
                    let mut server = std::net::TcpStream::connect(&upstream).unwrap();
                    let rewritten: String = text
                        .split("\r\n")
                        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                        .collect::<Vec<_>>()
                        .join("\r\n")
                        .trim_end()
                        .to_owned()
                        + "\r\nConnection: close\r\n\r\n";
                    server.write_all(rewritten.as_bytes()).unwrap();
                    server.write_all(&body).unwrap();
                    let mut response = Vec::new();
                    let _ = server.read_to_end(&mut response);
                    match loss {
                        None => {
                            let _ = client.write_all(&response);
                        }
                        Some((_, Loss::ServerError, _)) => {
                            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let body = if json_protocol {
                                r#"{"__type":"InternalFailure","message":"answer lost by the test proxy"}"#.to_owned()
                            } else {
                                "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>answer lost by the test proxy</Message></Error><RequestId>fault</RequestId></ErrorResponse>".to_owned()
                            };
                            let response = format!("HTTP/1.1 500 Internal Server Error\r\nContent-Type: {}\r\nx-amzn-errortype: InternalFailure\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", if json_protocol { "application/x-amz-json-1.0" } else { "text/xml" }, body.len());
                            let _ = client.write_all(response.as_bytes());
                        }
                        Some((_, Loss::CutOff, _)) => {
                            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let _ = client.write_all(&response[..response.len() / 2]);
                        }
                    }
                });
            }
        });
        FaultProxy {
            port,
            seen,
            lost,
            log,
        }
    }
}

fn calls_of(stderr: &str, address: &str, operation: &str) -> u64 {
    // The --stats lines are indented; progress lines are not.
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("  {address}:")))
        .unwrap_or("");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{operation}×")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn throttling_and_unavailable_answers_are_retried_with_backoff() {
    let test = Test::new();
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("CreateLogGroup", Fault::Throttle, 2),
            ("PutMetricAlarm", Fault::Throttle, 1),
            ("CreateTable", Fault::Unavailable, 2),
        ],
    );
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let run = test.ok(&[
        "--endpoint-url",
        &endpoint,
        "apply",
        ALL,
        "--auto-approve",
        "--stats",
    ]);
    assert!(run.stdout.contains("9 added"), "{}", run.stdout);
    assert_eq!(
        calls_of(&run.stderr, "log_group.logs", "CreateLogGroup"),
        3,
        "{}",
        run.stderr
    );
    assert_eq!(
        calls_of(&run.stderr, "dynamodb_table.table", "CreateTable"),
        3,
        "{}",
        run.stderr
    );
    let alarms = calls_of(&run.stderr, "cloudwatch_alarm.alarm", "PutMetricAlarm")
        + calls_of(&run.stderr, "cloudwatch_alarm.math_alarm", "PutMetricAlarm");
    assert_eq!(alarms, 3, "{}", run.stderr);
    assert_eq!(test.cairn(&["plan", ALL, "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_failure_skips_only_its_dependents() {
    let test = Test::new();
    // The table never gets created: its dependent role is skipped, the rest
    // is created, and the next apply finishes the job.
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("CreateTable", Fault::Throttle, 100)],
    );
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let run = test.cairn_with(
        &["--endpoint-url", &endpoint, "apply", ALL, "--auto-approve"],
        &[("CAIRN_RETRY_ATTEMPTS", "3")],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("dynamodb_table.table: CreateTable: ThrottlingException: Rate exceeded"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("iam_role.role: skipped, because dynamodb_table.table failed"),
        "{}",
        run.stderr
    );
    // The class survives to the CLI, which gives its advice.
    assert!(
        run.stderr
            .contains("(AWS kept throttling after every retry"),
        "{}",
        run.stderr
    );
    let listed = test.ok(&["state", "list", ALL]).stdout;
    assert!(
        listed.contains("log_group.logs") && listed.contains("kms_alias.alias"),
        "{listed}"
    );
    assert!(!listed.contains("iam_role.role"), "{listed}");
    let finished = test.ok(&["apply", ALL, "--auto-approve"]);
    assert!(finished.stdout.contains("2 added"), "{}", finished.stdout);
}

fn key_id(test: &Test) -> String {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    state["resources"]["kms_key.key"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_is_replaced_when_a_field_forces_it() {
    let test = Test::new();
    test.ok(&["apply", ALL, "--auto-approve"]);
    let vars = [
        "--var",
        "suffix=-b",
        "--var",
        "key_spec=RSA_2048",
        "--var",
        "rotation=false",
    ];
    let mut plan = vec!["plan", ALL];
    plan.extend(vars);
    let planned = test.ok(&plan);
    for address in [
        "cloudwatch_alarm.alarm",
        "cloudwatch_alarm.math_alarm",
        "cloudwatch_dashboard.dashboard",
        "dynamodb_table.table",
        "ecr_repository.repository",
        "iam_role.role",
        "kms_alias.alias",
        "kms_key.key",
        "log_group.logs",
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
            .contains("Plan: 9 to add, 0 to change, 9 to destroy."),
        "{}",
        planned.stdout
    );
    let mut apply = vec!["apply", ALL, "--auto-approve"];
    apply.extend(vars);
    test.ok(&apply);
    plan.push("--detailed-exitcode");
    assert_eq!(test.cairn(&plan).code, 0);
    let aws = test.aws().await;
    assert_eq!(inventory(&aws).await, ONE_STACK);
    assert_eq!(
        aws.dynamodb()
            .list_tables()
            .send()
            .await
            .unwrap()
            .table_names(),
        ["cairn-test-t-table-b"]
    );
}

/// Replaces the ids AWS assigns at random (UUIDs) so plans snapshot stably.
fn without_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let shape = |i: usize| -> bool {
        let groups = [8, 4, 4, 4, 12];
        let mut at = i;
        for (n, len) in groups.iter().enumerate() {
            if at + len > bytes.len()
                || !bytes[at..at + len]
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return false;
            }
            at += len;
            if n < 4 {
                if bytes.get(at) != Some(&b'-') {
                    return false;
                }
                at += 1;
            }
        }
        true
    };
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if shape(i) {
            out.push_str("[uuid]");
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// AWS takes one index created or deleted per UpdateTable: three changes
/// are three calls, each waiting for the table to be ACTIVE again.
#[tokio::test(flavor = "multi_thread")]
async fn global_secondary_indexes_change_one_at_a_time() {
    let test = Test::new();
    test.ok(&["apply", "tests/stacks/indexes-1.yaml", "--auto-approve"]);
    let run = test.ok(&[
        "apply",
        "tests/stacks/indexes-2.yaml",
        "--auto-approve",
        "--stats",
    ]);
    assert_eq!(
        calls_of(&run.stderr, "dynamodb_table.table", "UpdateTable"),
        3,
        "{}",
        run.stderr
    );
    assert_eq!(
        test.cairn(&["plan", "tests/stacks/indexes-2.yaml", "--detailed-exitcode"])
            .code,
        0
    );
    let aws = test.aws().await;
    let table = aws
        .dynamodb()
        .describe_table()
        .table_name("cairn-test-t-table")
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = table
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    names.sort();
    assert_eq!(names, ["by-created", "by-status"]);
}

#[test]
fn graph_is_dot_with_addresses() {
    let test = Test::offline();
    let run = test.ok(&["graph", ALL]);
    insta::assert_snapshot!("graph", run.stdout);
}

#[test]
fn missing_credentials_say_so() {
    let test = Test::new();
    let home = tempfile::tempdir().unwrap();
    let run = test
        .command(&["plan", ALL])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("no AWS credentials: set AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
    assert!(!test.state_dir().join("t.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_plans_state_and_output() {
    let test = Test::new();
    let secret = "s3cr3t-token-value";
    let saved = test.directory.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    let with = [("CAIRN_VAR_token", secret)];
    let mut seen = String::new();
    for args in [
        vec!["plan", "tests/stacks/secret.yaml", "--out", saved],
        vec!["plan", "tests/stacks/secret.yaml", "--json"],
        vec!["plan", "tests/stacks/secret.yaml", "--json=cairn"],
        vec!["apply", "tests/stacks/secret.yaml", "--auto-approve"],
        vec!["output", "tests/stacks/secret.yaml"],
        vec!["output", "tests/stacks/secret.yaml", "--json"],
        vec![
            "state",
            "show",
            "tests/stacks/secret.yaml",
            "log_group.logs",
        ],
    ] {
        let run = test.cairn_with(&args, &with);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        seen.push_str(&run.stdout);
        seen.push_str(&run.stderr);
    }
    seen.push_str(&std::fs::read_to_string(saved).unwrap());
    seen.push_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap());
    assert!(!seen.contains(secret), "the secret leaked:\n{seen}");
    assert!(seen.contains("(sensitive value)"), "{seen}");
    // It did reach AWS, and a changed secret is a planned change.
    let changed = test.cairn_with(
        &["plan", "tests/stacks/secret.yaml", "--detailed-exitcode"],
        &[("CAIRN_VAR_token", "another-secret")],
    );
    assert_eq!(changed.code, 2, "{}", changed.stdout);
    assert!(
        !changed.stdout.contains("another-secret"),
        "{}",
        changed.stdout
    );
    assert_eq!(
        test.cairn_with(
            &["plan", "tests/stacks/secret.yaml", "--detailed-exitcode"],
            &with
        )
        .code,
        0
    );
    // A secret changed in AWS is drift, reported without its value.
    let aws = test.aws().await;
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/cairn-test/t/logs";
    aws.logs()
        .tag_resource()
        .resource_arn(arn)
        .tags("Token", "leaked-elsewhere")
        .send()
        .await
        .unwrap();
    let drift = test.cairn_with(
        &["drift", "tests/stacks/secret.yaml", "--format", "json"],
        &with,
    );
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(
        drift.stdout.contains("(sensitive value)"),
        "{}",
        drift.stdout
    );
    assert!(
        !drift.stdout.contains("leaked-elsewhere") && !drift.stdout.contains(secret),
        "{}",
        drift.stdout
    );
}

fn write_zip(directory: &std::path::Path, name: &str, content: &[u8]) -> String {
    let path = directory.join(name);
    std::fs::write(
        &path,
        cairn::package::reproducible_zip(&[("bootstrap", content, true)]),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_change_is_a_code_update_and_code_changed_elsewhere_is_drift() {
    let test = Test::new();
    let first = write_zip(test.directory.path(), "a.zip", b"first build");
    let second = write_zip(test.directory.path(), "b.zip", b"second build");
    let stack = "tests/stacks/function.yaml";
    test.ok(&[
        "apply",
        stack,
        "--auto-approve",
        "--var",
        &format!("zip={first}"),
    ]);
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={first}")
        ])
        .code,
        0
    );
    // The same bytes from another path: nothing to do.
    let copy = write_zip(test.directory.path(), "copy.zip", b"first build");
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={copy}")
        ])
        .code,
        0
    );
    let plan = test.ok(&["plan", stack, "--var", &format!("zip={second}")]);
    assert!(plan.stdout.contains("~ code_sha256 = "), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stdout.matches("# (").count(),
        1,
        "only the code changes:\n{}",
        plan.stdout
    );
    let applied = test.ok(&[
        "apply",
        stack,
        "--auto-approve",
        "--stats",
        "--var",
        &format!("zip={second}"),
    ]);
    assert_eq!(
        calls_of(
            &applied.stderr,
            "lambda_function.function",
            "UpdateFunctionCode"
        ),
        1,
        "{}",
        applied.stderr
    );
    assert_eq!(
        calls_of(
            &applied.stderr,
            "lambda_function.function",
            "UpdateFunctionConfiguration"
        ),
        0,
        "{}",
        applied.stderr
    );
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={second}")
        ])
        .code,
        0
    );
    // Someone uploads other code by hand: drift, and apply puts ours back.
    let aws = test.aws().await;
    let other = cairn::package::reproducible_zip(&[("bootstrap", b"hand-made", true)]);
    aws.lambda()
        .update_function_code()
        .function_name("cairn-test-t-function")
        .zip_file(aws_smithy_types::Blob::new(other))
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&[
        "plan",
        stack,
        "--detailed-exitcode",
        "--var",
        &format!("zip={second}"),
    ]);
    assert_eq!(drift.code, 2);
    assert!(
        drift
            .stdout
            .contains("lambda_function.function has changed"),
        "{}",
        drift.stdout
    );
    test.ok(&[
        "apply",
        stack,
        "--auto-approve",
        "--var",
        &format!("zip={second}"),
    ]);
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={second}")
        ])
        .code,
        0
    );
    // A package edited between plan and apply is refused.
    let saved = test.directory.path().join("plan.json");
    let third = write_zip(test.directory.path(), "c.zip", b"third build");
    test.ok(&[
        "plan",
        stack,
        "--var",
        &format!("zip={third}"),
        "--out",
        saved.to_str().unwrap(),
    ]);
    write_zip(test.directory.path(), "c.zip", b"third build, edited");
    let refused = test.cairn(&[
        "apply",
        stack,
        "--plan",
        saved.to_str().unwrap(),
        "--var",
        &format!("zip={third}"),
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
}

/// The whole chat backend of the seed: the runtime built by cairn, the
/// function, its permission and the HTTP API, with everything around them.
#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_applies_reconciles_and_destroys_completely() {
    let test = Test::new();
    test.ok(&["state", "init-backend", "dev"]);
    let applied = test.ok(&["apply", "dev", "--auto-approve"]);
    assert!(
        applied
            .stdout
            .contains("Apply complete! Resources: 17 added, 0 changed, 0 destroyed."),
        "{}",
        applied.stdout
    );
    let endpoint = test.ok(&["output", "dev", "api_endpoint"]).stdout;
    assert!(
        endpoint.starts_with("https://") && endpoint.contains(".execute-api.us-east-1."),
        "{endpoint}"
    );
    assert_eq!(test.cairn(&["plan", "dev", "--detailed-exitcode"]).code, 0);

    // The function's binary names no path of this machine (the checkout,
    // the Cargo home), so another machine builds the same zip.
    let built = test.ok(&["build", "dev"]).stdout;
    let zip = built
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(" ("))
        .map(|(path, _)| path.to_owned())
        .unwrap_or_else(|| panic!("{built}"));
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
    let found = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\ndata = zipfile.ZipFile(sys.argv[1]).read('bootstrap')\nprint(len(data), [p for p in sys.argv[2:] if p.encode() in data])",
            &zip,
            &manifest_dir(),
            &cargo_home,
        ])
        .output()
        .unwrap();
    let found = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    assert!(
        found.ends_with(" []") && found.len() > 8,
        "paths in the binary: {found}"
    );

    // A clean rebuild of the runtime gives the same zip: still nothing to do.
    let clean = Command::new(env!("CARGO"))
        .args([
            "clean",
            "--release",
            "--target",
            "x86_64-unknown-linux-gnu",
            "-p",
            "chat-runtime",
        ])
        .current_dir(manifest_dir())
        .status()
        .unwrap();
    assert!(clean.success());
    // An empty package cache, or the kept package would be used as it is.
    let empty = test.directory.path().join("no-packages");
    assert_eq!(
        test.cairn_with(
            &["plan", "dev", "--detailed-exitcode"],
            &[("CAIRN_PACKAGE_CACHE", empty.to_str().unwrap())]
        )
        .code,
        0,
        "a rebuild changed the package"
    );

    // Memory changed by hand is found and put back.
    let aws = test.aws().await;
    aws.lambda()
        .update_function_configuration()
        .function_name("mta-chat-dev-chat")
        .memory_size(256)
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&["plan", "dev", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2);
    assert!(
        drift.stdout.contains("~ memory_size = 256 -> 512"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        drift.stdout
    );
    test.ok(&["apply", "dev", "--auto-approve"]);
    assert_eq!(test.cairn(&["plan", "dev", "--detailed-exitcode"]).code, 0);

    // Stage throttling: the plan shows only what changes inside the stage.
    let stage_plan = test.ok(&["plan", "dev", "--var", "stage_burst_limit=7"]);
    insta::assert_snapshot!("stage_plan", without_package(&stage_plan.stdout));
    // A throttled or failing UpdateStage is transient on AWS: cairn gives
    // up with the error and never touches the live stage. (The proxy
    // answers UpdateStage itself, so moto's missing UpdateStage is not hit.)
    for fault in [Fault::Throttle, Fault::Unavailable] {
        let proxy = FaultProxy::start(&test.endpoint(), vec![("UpdateStage", fault, 100)]);
        let failed = test.cairn_with(
            &[
                "--endpoint-url",
                &proxy.endpoint(),
                "apply",
                "dev",
                "--auto-approve",
                "--var",
                "stage_burst_limit=7",
            ],
            &[("CAIRN_RETRY_ATTEMPTS", "2")],
        );
        assert_eq!(failed.code, 1, "{}", failed.stderr);
        assert!(failed.stderr.contains("UpdateStage"), "{}", failed.stderr);
        assert!(!failed.stderr.contains("re-created"), "{}", failed.stderr);
        assert_eq!(proxy.calls("DeleteStage") + proxy.calls("CreateStage"), 0);
    }
    // Only an endpoint that says it lacks UpdateStage (501 NotImplemented)
    // gets the stage re-created, with a warning.
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("UpdateStage", Fault::NotImplemented, 100)],
    );
    let recreated = test.cairn(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        "dev",
        "--auto-approve",
        "--var",
        "stage_burst_limit=7",
    ]);
    assert_eq!(recreated.code, 0, "{}", recreated.stderr);
    assert!(
        recreated.stderr.contains("re-created the $default stage"),
        "{}",
        recreated.stderr
    );
    assert_eq!(
        proxy.calls("UpdateStage"),
        1,
        "a NotImplemented answer is not retried"
    );
    assert_eq!(
        test.cairn(&[
            "plan",
            "dev",
            "--detailed-exitcode",
            "--var",
            "stage_burst_limit=7"
        ])
        .code,
        0
    );

    // Prod plans with its own values (against its own, empty state).
    let prod = test.ok(&["plan", "prod"]);
    let squeeze = |text: &str| {
        text.split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let prod_text = squeeze(&prod.stdout);
    for expected in [
        "\"mta-chat-prod-chat\"",
        "memory_size          = 1024",
        "reserved_concurrency = 20",
        "RATE_LIMIT_MAX_REQUESTS   = \"15\"",
        "CORS_ALLOW_ORIGINS        = \"https://medical-tech-aesthetic.com\"",
        "throttling_burst_limit = 10",
        "throttling_rate_limit  = 2.0",
        "point_in_time_recovery = true",
        "deletion_protection    = true",
        "retention_in_days = 30",
    ] {
        assert!(
            prod_text.contains(&squeeze(expected)),
            "prod plan lacks {expected}:\n{}",
            prod.stdout
        );
    }

    // Destroy leaves nothing behind.
    test.ok(&[
        "destroy",
        "dev",
        "--auto-approve",
        "--var",
        "stage_burst_limit=7",
    ]);
    assert_eq!(inventory(&aws).await, with_state_table(NOTHING.to_vec()));
    let permission = aws
        .lambda()
        .get_policy()
        .function_name("mta-chat-dev-chat")
        .send()
        .await;
    assert!(permission.is_err(), "the function's policy survived");
}

/// IAM is eventually consistent: Lambda may refuse a role created a moment
/// ago. cairn retries the create instead of failing the apply.
#[test]
fn a_role_not_yet_assumable_is_retried_and_a_pending_function_awaited() {
    let test = Test::new();
    let zip = write_zip(test.directory.path(), "a.zip", b"code");
    // Refused twice, then Pending three times: cairn retries, then waits for Active.
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("CreateFunction", Fault::RoleNotAssumable, 2),
            ("GetFunction", Fault::FunctionPending, 3),
        ],
    );
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let run = test.ok(&[
        "--endpoint-url",
        &endpoint,
        "apply",
        "tests/stacks/function.yaml",
        "--auto-approve",
        "--stats",
        "--var",
        &format!("zip={zip}"),
    ]);
    assert!(run.stdout.contains("2 added"), "{}", run.stdout);
    assert_eq!(
        calls_of(&run.stderr, "lambda_function.function", "CreateFunction"),
        3,
        "{}",
        run.stderr
    );
    // Three Pending answers, the Active one, and the read after create.
    assert_eq!(
        calls_of(&run.stderr, "lambda_function.function", "GetFunction"),
        5,
        "{}",
        run.stderr
    );
}

#[test]
fn arm64_without_its_rust_target_is_a_clear_error() {
    let test = Test::offline();
    let installed = Command::new("rustc")
        .args([
            "--print",
            "target-libdir",
            "--target",
            "aarch64-unknown-linux-gnu",
        ])
        .output()
        .map(|o| {
            o.status.success()
                && std::path::Path::new(String::from_utf8_lossy(&o.stdout).trim()).exists()
        })
        .unwrap_or(false);
    let run = test.cairn(&["build", "dev", "--var", "function_architecture=arm64"]);
    if installed {
        // With the target (and a linker) present it builds; without a
        // linker cargo's own error is shown. Either way no x86_64 code.
        assert!(
            run.code == 0 || run.stderr.contains("aarch64-unknown-linux-gnu"),
            "{}",
            run.stderr
        );
    } else {
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(
            run.stderr
                .contains("rustup target add aarch64-unknown-linux-gnu"),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_reports_in_text_json_and_markdown_with_exit_codes() {
    let test = Test::new();
    test.ok(&["apply", ALL, "--auto-approve"]);
    let quiet = test.cairn(&["drift", ALL]);
    assert_eq!(quiet.code, 0, "{}{}", quiet.stdout, quiet.stderr);
    assert_eq!(
        quiet.stdout,
        "No drift in t: 9 resources match the state.\n"
    );
    let aws = test.aws().await;
    // What the issue lists: a changed alarm threshold, a deleted log
    // group, a policy rewritten in another order that means the same (no
    // drift), a table's TTL turned off, unmanaged tagged resources.
    aws.cloudwatch()
        .put_metric_alarm()
        .alarm_name("cairn-test-t-alarm")
        .namespace("Test")
        .metric_name("Hits")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(300)
        .evaluation_periods(1)
        .threshold(50.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    aws.logs()
        .delete_log_group()
        .log_group_name("/cairn-test/t/logs")
        .send()
        .await
        .unwrap();
    let table_arn = test
        .ok(&["state", "show", ALL, "dynamodb_table.table"])
        .stdout;
    let table_arn: serde_json::Value = serde_json::from_str(&table_arn).unwrap();
    let reordered = format!(
        r#"{{"Statement": [{{"Resource": "{}", "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Effect": "Allow"}}], "Version": "2012-10-17"}}"#,
        table_arn["outputs"]["arn"].as_str().unwrap()
    );
    aws.iam()
        .put_role_policy()
        .role_name("cairn-test-t-role")
        .policy_name("table")
        .policy_document(reordered)
        .send()
        .await
        .unwrap();
    fn copied(address: &str) -> [(&str, &str); 3] {
        [
            ("cairn:stack", "cairn-test"),
            ("cairn:environment", "t"),
            ("cairn:address", address),
        ]
    }
    // Found through the tagging API ...
    let mut orphan = aws
        .logs()
        .create_log_group()
        .log_group_name("/cairn-test/t/orphan");
    for (k, v) in copied("log_group.old") {
        orphan = orphan.tags(k, v);
    }
    orphan.send().await.unwrap();
    // ... and through ECR's own listing, which moto's tagging API lacks.
    let mut stray = aws
        .ecr()
        .create_repository()
        .repository_name("cairn-test-t-stray");
    for (k, v) in copied("ecr_repository.repository") {
        stray = stray.tags(
            aws_sdk_ecr::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .unwrap(),
        );
    }
    stray.send().await.unwrap();
    // A tag changed by hand: the bulk tag read differs from the record, so
    // the table's own tag API is asked, and the drift shows.
    aws.dynamodb()
        .tag_resource()
        .resource_arn(table_arn["outputs"]["arn"].as_str().unwrap())
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key("owner")
                .value("someone")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Tagged for another environment: not this one's business.
    aws.logs()
        .create_log_group()
        .log_group_name("/cairn-test/prod/other")
        .tags("cairn:stack", "cairn-test")
        .tags("cairn:environment", "prod")
        .send()
        .await
        .unwrap();
    out_of_band_ttl_off(&aws).await;
    let text = test.cairn(&["drift", ALL]);
    assert_eq!(text.code, 2);
    insta::assert_snapshot!("drift_text", text.stdout);
    let json = test.cairn(&["drift", ALL, "--format", "json"]);
    assert_eq!(json.code, 2);
    insta::assert_json_snapshot!(
        "drift_json",
        serde_json::from_str::<serde_json::Value>(&json.stdout).unwrap()
    );
    let markdown = test.cairn(&["drift", ALL, "--format", "markdown"]);
    assert_eq!(markdown.code, 2);
    // And 1 when it cannot check at all.
    let unreachable = test.cairn_with(
        &["drift", ALL],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
    );
    assert_eq!(unreachable.code, 1, "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot reach the AWS endpoint"),
        "{}",
        unreachable.stderr
    );
    insta::assert_snapshot!("drift_markdown", markdown.stdout);
    // Drift changes nothing: the state is as it was.
    assert!(test
        .ok(&["state", "list", ALL])
        .stdout
        .contains("log_group.logs"));
    // Apply puts AWS back; the unmanaged resources are cairn's to report,
    // not to delete, so drift keeps naming them until someone does.
    test.ok(&["apply", ALL, "--auto-approve"]);
    let left = test.cairn(&["drift", ALL]);
    assert_eq!(left.code, 2);
    assert!(
        !left.stdout.contains("modified") && !left.stdout.contains("deleted"),
        "{}",
        left.stdout
    );
    assert_eq!(test.cairn(&["drift", ALL, "--skip-unmanaged"]).code, 0);
    aws.logs()
        .delete_log_group()
        .log_group_name("/cairn-test/t/orphan")
        .send()
        .await
        .unwrap();
    aws.ecr()
        .delete_repository()
        .repository_name("cairn-test-t-stray")
        .send()
        .await
        .unwrap();
    assert_eq!(test.cairn(&["drift", ALL]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_drift_is_ignored_and_counted() {
    let test = Test::new();
    test.ok(&["apply", ALL, "--auto-approve"]);
    let aws = test.aws().await;
    out_of_band_retention_90(&aws).await;
    let ignoring = test.cairn(&["drift", "tests/stacks/ignored.yaml"]);
    assert_eq!(ignoring.code, 0, "{}", ignoring.stdout);
    assert_eq!(ignoring.stdout, "No drift in t: 9 resources match the state (1 accepted difference ignored, see drift.ignore).\n");
    let json = test.cairn(&["drift", "tests/stacks/ignored.yaml", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["summary"]["ignored"], 1);
    assert_eq!(
        test.cairn(&["drift", ALL]).code,
        2,
        "without the rule it is drift"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_only_records_live_values_and_import_adopts_what_state_rm_forgot() {
    let test = Test::new();
    test.ok(&["apply", ALL, "--auto-approve"]);
    let aws = test.aws().await;
    out_of_band_retention_90(&aws).await;
    let refreshed = test.ok(&["apply", ALL, "--refresh-only", "--auto-approve"]);
    assert!(
        refreshed
            .stdout
            .contains("Refresh complete! Resources: 1 updated in the state, 0 removed from it."),
        "{}",
        refreshed.stdout
    );
    assert_eq!(test.cairn(&["drift", ALL]).code, 0);
    // The stack still says 7: the next plan would put it back.
    let plan = test.ok(&["plan", ALL]);
    assert!(
        plan.stdout.contains("retention_in_days = 90 -> 7"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan
            .stdout
            .contains("Objects have changed outside of cairn"),
        "{}",
        plan.stdout
    );

    // Forget two resources, then adopt them again by id.
    let key_id = key_id(&test);
    for address in ["log_group.logs", "kms_key.key"] {
        let removed = test.ok(&["state", "rm", ALL, address]);
        assert!(
            removed.stdout.contains("still exists in AWS"),
            "{}",
            removed.stdout
        );
    }
    let forgotten = test.ok(&["plan", ALL]);
    assert!(
        forgotten
            .stdout
            .contains("# log_group.logs will be created"),
        "{}",
        forgotten.stdout
    );
    test.ok(&["import", ALL, "log_group.logs", "/cairn-test/t/logs"]);
    test.ok(&["import", ALL, "kms_key.key", &key_id]);
    let missing = test.cairn(&[
        "import",
        ALL,
        "ecr_repository.repository",
        "no-such-repository",
    ]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("already in the state") || missing.stderr.contains("AWS has no"),
        "{}",
        missing.stderr
    );
    let adopted = test.ok(&["plan", ALL]);
    assert!(
        adopted
            .stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        adopted.stdout
    );
    assert!(
        adopted.stdout.contains("retention_in_days = 90 -> 7"),
        "{}",
        adopted.stdout
    );
    assert_eq!(inventory(&aws).await, ONE_STACK);
}

const SHARED: &str = "tests/stacks/shared.yaml";
const SHARED_TABLE: &str = "cairn-test-state";
const SHARED_KEY: &str = "cairn-test/t";

/// The lock item of the shared state, as moto holds it.
async fn shared_lock(
    aws: &cairn::aws::Aws,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    aws.dynamodb()
        .get_item()
        .table_name(SHARED_TABLE)
        .key("pk", S(SHARED_KEY.into()))
        .key("sk", S("lock".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

async fn wait_for_shared_lock(aws: &cairn::aws::Aws) -> String {
    let started = Instant::now();
    loop {
        if let Some(item) = shared_lock(aws).await {
            return item["id"].as_s().unwrap().clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no lock was taken"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn shared_backend(key: &str, keep_versions: u64) -> cairn::stack::StateBackend {
    cairn::stack::StateBackend {
        table: SHARED_TABLE.into(),
        key: key.into(),
        region: None,
        lock_lease_seconds: 60,
        keep_versions,
    }
}

/// A state table on this test's moto, and a store for `key` in it.
async fn shared_store(
    test: &Test,
    key: &str,
    keep_versions: u64,
) -> (
    std::sync::Arc<cairn::aws::Aws>,
    cairn::stack::StateBackend,
    cairn::store::DynamoStore,
) {
    let aws = std::sync::Arc::new(test.aws().await);
    cairn::store::init_backend(&aws, SHARED_TABLE)
        .await
        .unwrap();
    let backend = shared_backend(key, keep_versions);
    let store = cairn::store::DynamoStore::new(aws.clone(), &backend);
    (aws, backend, store)
}

/// How many document chunks the state table holds under `key`.
async fn chunk_items(aws: &cairn::aws::Aws, key: &str) -> i32 {
    items_with_prefix(aws, key, "chunk#").await
}

/// How many items under `key` have a sort key starting with `prefix`.
async fn items_with_prefix(aws: &cairn::aws::Aws, key: &str, prefix: &str) -> i32 {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    aws.dynamodb()
        .query()
        .table_name(SHARED_TABLE)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", S(key.into()))
        .expression_attribute_values(":prefix", S(prefix.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .count()
}

/// Journaled apply steps through the same lossy proxy: a third of the
/// mutating answers lost after moto did the write. Every other round ends
/// without folding its steps in (as a killed apply), and the next round's
/// load must replay them; nothing is lost or applied twice.
#[tokio::test(flavor = "multi_thread")]
async fn journaled_steps_survive_lost_answers() {
    use cairn::state::State;
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, _) = shared_store(&test, SHARED_KEY, 5).await;
    let proxy = FaultProxy::lossy(&test.endpoint(), 0.33, Loss::ServerError, 3);
    let lossy = std::sync::Arc::new(aws_at(&proxy.endpoint()).await);
    let mut state = State::new("cairn-test", "t");
    for round in 0..6 {
        let store = cairn::store::DynamoStore::new(lossy.clone(), &backend);
        if let Some(loaded) = store.load().await.unwrap() {
            assert_eq!(loaded, state, "round {round} lost a step");
        }
        let lock = store.lock("apply", Duration::from_secs(5)).await.unwrap();
        state.serial += 1;
        store.save(&state).await.unwrap();
        // Apply steps through the journal; every other round ends without
        // folding them in, as a killed apply would, and the next round's
        // load must replay them.
        for step in 0..3 {
            let entry = cairn::store::JournalEntry {
                serial: state.serial + 1,
                remove: Vec::new(),
                put: [(
                    format!("log_group.r{round}s{step}"),
                    cairn::state::ResourceState {
                        type_name: "log_group".into(),
                        name: format!("r{round}s{step}"),
                        status: cairn::state::Status::Created,
                        id: Some(format!("/r{round}/s{step}")),
                        attributes: Default::default(),
                        outputs: Default::default(),
                        dependencies: Vec::new(),
                        protect: false,
                        sensitive: Vec::new(),
                        region: None,
                    },
                )]
                .into(),
            };
            entry.apply_to(&mut state);
            store.append(&state, &entry).await.unwrap();
        }
        if round % 2 == 0 {
            store.compact(&state).await.unwrap();
        }
        store.unlock(&lock.id).await.unwrap();
    }
    assert!(proxy.lost() >= 3, "only {} answers lost", proxy.lost());
    let clean = cairn::store::DynamoStore::new(aws.clone(), &backend);
    assert_eq!(clean.load().await.unwrap().unwrap(), state);
    assert_eq!(state.resources.len(), 18);

    // Steps left on top of a document by one process (killed after its
    // second step); another saves a document over the same head with a
    // serial below the second step's (as `state restore` does on top of the
    // newest version when the steps cannot be read): the leftover step is
    // not replayed on a document it was not made on.
    let killed = cairn::store::DynamoStore::new(aws.clone(), &backend);
    killed.load().await.unwrap();
    let lock = killed.lock("apply", Duration::from_secs(5)).await.unwrap();
    let mut stepped = state.clone();
    for address in ["log_group.r0s0", "log_group.r0s1"] {
        let entry = cairn::store::JournalEntry {
            serial: stepped.serial + 1,
            remove: vec![address.into()],
            put: Default::default(),
        };
        entry.apply_to(&mut stepped);
        killed.append(&stepped, &entry).await.unwrap();
    }
    killed.unlock(&lock.id).await.unwrap();
    assert_eq!(clean.load().await.unwrap().unwrap(), stepped);
    let lock = clean
        .lock("state restore", Duration::from_secs(5))
        .await
        .unwrap();
    let mut restored = state.clone();
    restored.serial = state.serial + 1;
    clean.save(&restored).await.unwrap();
    clean.unlock(&lock.id).await.unwrap();
    let reader = cairn::store::DynamoStore::new(aws.clone(), &backend);
    assert_eq!(reader.load().await.unwrap().unwrap(), restored);
}

/// Issue 13: on the shared state an apply's steps are `step#` items after
/// `head`, not a saved document each. A cairn killed mid-apply leaves its
/// steps, which the next load replays (nothing is created twice); a
/// finished apply saves one version and deletes them.
#[tokio::test(flavor = "multi_thread")]
async fn shared_state_journals_steps_and_replays_a_killed_apply() {
    let test = Test::new();
    test.ok(&["state", "init-backend", SHARED]);
    let aws = test.aws().await;
    let killed = test.cairn_with(
        &["apply", SHARED, "--auto-approve", "--parallelism", "1"],
        &[("CAIRN_FAULT_ABORT_AFTER_CREATE", "log_group.logs")],
    );
    assert_ne!(killed.code, 0, "cairn should have died");
    let steps = items_with_prefix(&aws, SHARED_KEY, "step#").await;
    assert!(
        steps >= 2,
        "the steps before the kill are journaled: {steps}"
    );
    // The state as any reader sees it holds the steps: the log group as
    // being created, everything finished before it as created.
    let shown = test.ok(&["state", "list", SHARED]).stdout;
    assert!(shown.contains("log_group.logs"), "{shown}");
    let versions_before = items_with_prefix(&aws, SHARED_KEY, "version#").await;

    test.ok(&["apply", SHARED, "--auto-approve"]);
    assert_eq!(items_with_prefix(&aws, SHARED_KEY, "step#").await, 0);
    let versions_after = items_with_prefix(&aws, SHARED_KEY, "version#").await;
    // Saved whole: the adoption of the interrupted create, the steps at
    // the end, the outputs. (Without the journal: two per create.)
    assert!(
        versions_after - versions_before <= 3,
        "{versions_before} -> {versions_after} versions"
    );
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, with_state_table(ONE_STACK.to_vec()));
}

/// The state table is one more table in moto's inventory, and its
/// encryption one more (AWS-managed) KMS key.
fn with_state_table(mut inventory: Vec<(&'static str, usize)>) -> Vec<(&'static str, usize)> {
    for entry in &mut inventory {
        if entry.0 == "tables" || entry.0 == "kms keys" {
            entry.1 += 1;
        }
    }
    inventory
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_state_is_created_migrated_versioned_and_restored() {
    let test = Test::new();
    let aws = test.aws().await;
    let created = test.ok(&["state", "init-backend", SHARED]);
    assert!(
        created.stdout.contains("Created the state table"),
        "{}",
        created.stdout
    );
    let again = test.ok(&["state", "init-backend", SHARED]);
    assert!(again.stdout.contains("already exists"), "{}", again.stdout);
    let table = aws
        .dynamodb()
        .describe_table()
        .table_name(SHARED_TABLE)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        table.billing_mode_summary.unwrap().billing_mode,
        Some(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
    );
    assert_eq!(
        table.sse_description.unwrap().status,
        Some(aws_sdk_dynamodb::types::SseStatus::Enabled)
    );
    assert_eq!(table.deletion_protection_enabled, Some(true));
    let backups = aws
        .dynamodb()
        .describe_continuous_backups()
        .table_name(SHARED_TABLE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        backups
            .continuous_backups_description
            .unwrap()
            .point_in_time_recovery_description
            .unwrap()
            .point_in_time_recovery_status,
        Some(aws_sdk_dynamodb::types::PointInTimeRecoveryStatus::Enabled)
    );

    // A team starts with local state, then moves it to the shared table.
    test.ok(&["--local-state", "apply", SHARED, "--auto-approve"]);
    let local_serial = test.ok(&["--local-state", "state", "list", SHARED]).stdout;
    let migrated = test.ok(&["state", "migrate", SHARED]);
    assert!(migrated.stdout.contains("Migrated"), "{}", migrated.stdout);
    assert!(!test.state_dir().join("t.json").exists());
    assert!(test.state_dir().join("t.json.migrated").exists());
    assert_eq!(test.ok(&["state", "list", SHARED]).stdout, local_serial);
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    let refused = test.cairn(&["state", "migrate", SHARED]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);

    // Every save is a version; an earlier one can be made current again.
    let before: serde_json::Value =
        serde_json::from_str(&test.ok(&["state", "history", SHARED, "--json"]).stdout).unwrap();
    let migrated_serial = before[0]["serial"].as_u64().unwrap();
    test.ok(&["apply", SHARED, "--auto-approve", "--var", "retention=30"]);
    let history: serde_json::Value =
        serde_json::from_str(&test.ok(&["state", "history", SHARED, "--json"]).stdout).unwrap();
    let serials: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["serial"].as_u64().unwrap())
        .collect();
    assert!(
        serials.windows(2).all(|w| w[0] > w[1]),
        "newest first: {serials:?}"
    );
    assert!(serials[0] > migrated_serial);
    let shown = |test: &Test| -> serde_json::Value {
        serde_json::from_str(&test.ok(&["state", "show", SHARED, "log_group.logs"]).stdout).unwrap()
    };
    assert_eq!(shown(&test)["attributes"]["retention_in_days"], 30);
    let restored = test.ok(&["state", "restore", SHARED, &migrated_serial.to_string()]);
    assert!(
        restored
            .stdout
            .contains(&format!("as serial {}", serials[0] + 1)),
        "{}",
        restored.stdout
    );
    assert_eq!(shown(&test)["attributes"]["retention_in_days"], 7);
    // The record says 7, AWS says 30: drift, which a plan shows.
    assert_eq!(test.cairn(&["drift", SHARED]).code, 2);

    // A command that fails after taking the lock still releases it.
    let failed = test.cairn(&["import", SHARED, "log_group.logs", "/no/such/group"]);
    assert_eq!(failed.code, 1);
    assert!(
        shared_lock(&aws).await.is_none(),
        "the lock outlived a failed command"
    );
    test.ok(&["destroy", SHARED, "--auto-approve"]);
    assert!(shared_lock(&aws).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_applies_on_shared_state_never_corrupt_it() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);
    let first = test
        .command(&["apply", SHARED, "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let holder = wait_for_shared_lock(&aws).await;
    // One that will not wait fails and names the holder ...
    let impatient = test.cairn(&["apply", SHARED, "--auto-approve", "--lock-timeout", "0"]);
    assert_eq!(impatient.code, 1);
    assert!(
        impatient.stderr.contains("state is locked by") && impatient.stderr.contains(&holder),
        "{}",
        impatient.stderr
    );
    // ... one that waits goes after it, and finds nothing left to do.
    let patient = test.ok(&["apply", SHARED, "--auto-approve", "--lock-timeout", "60"]);
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        patient.stdout.contains("No changes") || patient.stdout.contains("0 added"),
        "{}",
        patient.stdout
    );
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, with_state_table(ONE_STACK.to_vec()));

    // Two writers that read the same version: the second save is refused,
    // and the first one's document is what remains.
    use cairn::store::StateStore;
    let backend = shared_backend(SHARED_KEY, 100);
    let aws = std::sync::Arc::new(aws);
    let one = cairn::store::DynamoStore::new(aws.clone(), &backend);
    let two = cairn::store::DynamoStore::new(aws.clone(), &backend);
    let mut a = one.load().await.unwrap().unwrap();
    let mut b = two.load().await.unwrap().unwrap();
    a.serial += 1;
    a.outputs.insert("writer".into(), "one".into());
    one.save(&a).await.unwrap();
    b.serial += 1;
    b.outputs.insert("writer".into(), "two".into());
    let refused = two.save(&b).await.unwrap_err().to_string();
    assert!(refused.contains("the state changed since"), "{refused}");
    let now = cairn::store::DynamoStore::new(aws.clone(), &backend)
        .load()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now, a);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_apply_releases_the_shared_lock_and_a_dead_holders_lock_is_taken_over() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);

    // Ctrl-C: the lock goes with the process.
    let mut child = test
        .command(&["apply", SHARED, "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_shared_lock(&aws).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        shared_lock(&aws).await.is_none(),
        "Ctrl-C left the lock behind"
    );

    // SIGKILL: the lock stays, but its holder ran on this host and is
    // gone, so the next run takes it over at once.
    let mut child = test
        .command(&["apply", SHARED, "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dead = wait_for_shared_lock(&aws).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        shared_lock(&aws)
            .await
            .map(|l| l["id"].as_s().unwrap().clone()),
        Some(dead)
    );
    test.ok(&["plan", SHARED, "--lock-timeout", "1"]);

    // A holder on another host cannot be checked: its lock blocks until
    // its lease runs out or someone force-unlocks it.
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let id = "0123456789abcdef0123456789abcdef".to_owned();
    aws.dynamodb()
        .put_item()
        .table_name(SHARED_TABLE)
        .item("pk", S(SHARED_KEY.into()))
        .item("sk", S("lock".into()))
        .item("id", S(id.clone()))
        .item("holder", S("ci@another-host (pid 4242)".into()))
        .item("host", S("another-host".into()))
        .item("pid", N("4242".into()))
        .item("operation", S("apply".into()))
        .item("created", S("2026-01-01T00:00:00Z".into()))
        .item("expires", N("99999999999".into()))
        .send()
        .await
        .unwrap();
    let blocked = test.cairn(&["plan", SHARED, "--lock-timeout", "1"]);
    assert_eq!(blocked.code, 1);
    assert!(
        blocked
            .stderr
            .contains(&format!("cairn force-unlock ENV {id}")),
        "{}",
        blocked.stderr
    );
    let wrong = test.cairn(&["force-unlock", SHARED, "not-the-id"]);
    assert_eq!(wrong.code, 1);
    test.ok(&["force-unlock", SHARED, &id]);
    test.ok(&["apply", SHARED, "--auto-approve"]);
    assert_eq!(test.cairn(&["plan", SHARED, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, with_state_table(ONE_STACK.to_vec()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_resource_state_round_trips_through_shared_state() {
    use cairn::state::{ResourceState, State, Status};
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, store) = shared_store(&test, "big/prod", 100).await;
    let mut state = State::new("big", "prod");
    for i in 0..1000 {
        // Random text does not compress: the document stays larger than
        // one DynamoDB item (400 KB) even gzipped.
        let noise: String = (0..600).map(|_| fastrand::alphanumeric()).collect();
        let mut attributes = serde_json::Map::new();
        attributes.insert("name".into(), format!("group-{i}").into());
        attributes.insert("noise".into(), noise.into());
        state.resources.insert(
            format!("log_group.g{i}"),
            ResourceState {
                type_name: "log_group".into(),
                name: format!("g{i}"),
                status: Status::Created,
                id: Some(format!("group-{i}")),
                attributes: attributes.into(),
                outputs: serde_json::Map::new(),
                dependencies: vec![],
                protect: false,
                sensitive: vec![],
                region: None,
            },
        );
    }
    state.serial = 1;
    store.save(&state).await.unwrap();
    let history = store.history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].bytes > 600_000, "{:?}", history[0]);
    // It was split: more than one chunk item under the key.
    let chunks = chunk_items(&aws, "big/prod").await;
    assert!(chunks >= 2, "{chunks} chunk(s)");
    let fresh = cairn::store::DynamoStore::new(aws, &backend);
    assert_eq!(fresh.load().await.unwrap().unwrap(), state);
}

#[test]
fn on_a_terminal_apply_redraws_a_status_line_and_elsewhere_it_does_not() {
    let test = Test::new();
    // `script` runs cairn on a pseudo-terminal, as a person would.
    let line = format!(
        "{} --state-dir {} --no-color apply {ALL} --auto-approve",
        env!("CARGO_BIN_EXE_cairn"),
        test.state_dir().display()
    );
    let output = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(manifest_dir())
        .env("AWS_ENDPOINT_URL", test.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("\r\x1b[2K[0/"),
        "no status line drawn:\n{shown:?}"
    );
    assert!(shown.contains(" in progress]"), "{shown:?}");
    assert!(shown.contains("Apply complete!"), "{shown}");
    // Piped, the same apply is plain lines.
    let piped = test.ok(&["destroy", ALL, "--auto-approve"]);
    assert!(!piped.stdout.contains('\x1b'), "{:?}", piped.stdout);
}

#[test]
fn an_interrupted_apply_finishes_the_steps_under_way_and_saves_them() {
    use std::io::BufRead;
    let test = Test::new();
    // CreateTable is throttled four times, so its step lasts seconds: long
    // enough to interrupt while it is under way.
    let proxy = FaultProxy::start(&test.endpoint(), vec![("CreateTable", Fault::Throttle, 4)]);
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let mut child = test
        .command(&[
            "--endpoint-url",
            &endpoint,
            "apply",
            ALL,
            "--auto-approve",
            "--parallelism",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "apply ended early:\n{seen}"
        );
        seen.push_str(&line);
        if line.starts_with("dynamodb_table.table: Creating...") {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    seen.push_str(&rest);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}\n{stderr}");
    assert!(
        stderr.contains("Interrupt received: no new step will start"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Apply interrupted:") && stderr.contains("not started"),
        "{stderr}"
    );
    // The step under way finished and is in the state; nothing began after it.
    assert!(
        seen.contains("dynamodb_table.table: Creation complete"),
        "{seen}"
    );
    let after = seen
        .split("dynamodb_table.table: Creating...")
        .nth(1)
        .unwrap();
    assert!(
        !after.contains("Creating..."),
        "a step started after the interrupt:\n{seen}"
    );
    let listed = test.ok(&["state", "list", ALL]).stdout;
    assert!(listed.contains("dynamodb_table.table\n"), "{listed}");
    assert!(!listed.contains("interrupted"), "{listed}");
    assert_eq!(
        futures::executor::block_on(cairn::store::StateStore::current_lock(
            &cairn::store::LocalStore::new(test.state_dir(), "t")
        ))
        .unwrap(),
        None,
        "the lock outlived the interrupt"
    );
    // The next apply does the rest, and nothing is duplicated.
    let rest = test.ok(&["apply", ALL, "--auto-approve"]);
    assert!(
        !rest.stdout.contains("dynamodb_table.table: Creating"),
        "{}",
        rest.stdout
    );
    assert_eq!(test.cairn(&["plan", ALL, "--detailed-exitcode"]).code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_state_keeps_only_the_newest_versions() {
    use cairn::state::State;
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, store) = shared_store(&test, "small/dev", 3).await;
    let mut state = State::new("small", "dev");
    for serial in 1..=40 {
        state.serial = serial;
        state.outputs.insert("serial".into(), serial.into());
        store.save(&state).await.unwrap();
    }
    // Pruned at serial 40: versions 38, 39 and 40 remain, each with its chunk.
    let serials: Vec<u64> = store
        .history()
        .await
        .unwrap()
        .iter()
        .map(|v| v.serial)
        .collect();
    assert_eq!(serials, vec![40, 39, 38]);
    let chunks = chunk_items(&aws, "small/dev").await;
    assert_eq!(chunks, 3);
    assert_eq!(store.load_version(38).await.unwrap().outputs["serial"], 38);
    assert!(store.load_version(37).await.is_err());
    assert_eq!(
        cairn::store::DynamoStore::new(aws, &backend)
            .load()
            .await
            .unwrap()
            .unwrap(),
        state
    );
}

#[test]
fn without_the_tagging_api_a_plan_reads_each_resources_tags() {
    let test = Test::new();
    test.ok(&["apply", ALL, "--auto-approve"]);
    let bulk = test.ok(&["plan", ALL, "--stats"]);
    assert!(bulk.stderr.contains("GetResources"), "{}", bulk.stderr);
    assert_eq!(
        calls_of(&bulk.stderr, "log_group.logs", "ListTagsForResource"),
        0,
        "{}",
        bulk.stderr
    );
    // An endpoint where GetResources always fails (or a caller without
    // tag:GetResources): the plan is the same, from per-resource reads.
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("GetResources", Fault::Unavailable, 1000)],
    );
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let fallback = test.ok(&["--endpoint-url", &endpoint, "plan", ALL, "--stats"]);
    assert!(
        fallback.stdout.contains("No changes."),
        "{}",
        fallback.stdout
    );
    assert_eq!(
        calls_of(&fallback.stderr, "log_group.logs", "ListTagsForResource"),
        1,
        "{}",
        fallback.stderr
    );
    // drift cannot look for unmanaged resources there, and says so.
    let drift = test.cairn(&["--endpoint-url", &endpoint, "drift", ALL]);
    assert_eq!(drift.code, 1);
    assert!(
        drift.stderr.contains("--skip-unmanaged"),
        "{}",
        drift.stderr
    );
    assert_eq!(
        test.cairn(&[
            "--endpoint-url",
            &endpoint,
            "drift",
            ALL,
            "--skip-unmanaged"
        ])
        .code,
        0
    );
}

/// Runs `args` until it succeeds, as a user would re-run an apply that
/// failed: at most `tries` times. Returns the runs' outputs.
fn until_ok(test: &Test, args: &[&str], tries: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..tries {
        let run = test.cairn(args);
        // Shown when the test fails.
        eprintln!(
            "cairn {args:?}: exit {}\n{}\n{}",
            run.code, run.stdout, run.stderr
        );
        let done = run.code == 0;
        runs.push(run);
        if done {
            return runs;
        }
    }
    let last = runs.last().unwrap();
    panic!(
        "cairn {args:?} did not succeed in {tries} runs; last:\n{}\n{}",
        last.stdout, last.stderr
    );
}

/// On AWS a request can take effect while its answer is lost. Through a
/// proxy that lets the emulator carry out about one mutating request in
/// ten and then loses its answer (a 500, or an answer cut off halfway),
/// the dev stack applies, imports and destroys; the emulator then holds
/// exactly what a clean apply makes, the state (shared, in DynamoDB,
/// through the same proxy) is intact, and the next plan is empty.
#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_never_duplicate_or_lose_anything() {
    // What a clean apply makes, on an emulator of its own.
    let clean = Test::new();
    clean.ok(&["state", "init-backend", "dev"]);
    clean.ok(&["apply", "dev", "--auto-approve"]);
    let expected = inventory(&clean.aws().await).await;
    drop(clean);

    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", "dev"]);
    let mut lost = 0;
    for (seed, loss) in [(7, Loss::ServerError), (11, Loss::CutOff)] {
        let proxy = FaultProxy::lossy(&test.endpoint(), 0.1, loss, seed);
        let endpoint = proxy.endpoint();
        let runs = until_ok(
            &test,
            &[
                "--endpoint-url",
                &endpoint,
                "apply",
                "dev",
                "--auto-approve",
            ],
            4,
        );
        lost += proxy.lost();
        assert!(
            runs.len() <= 2,
            "apply took {} runs to converge",
            runs.len()
        );
        assert_eq!(inventory(&aws).await, expected);
        // A route's key is its identity inside the API: each once.
        let mut keys = live_route_keys(&aws).await;
        let count = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), count, "a route was made twice: {keys:?}");
        let again = test.cairn(&["plan", "dev", "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
        let drift = test.cairn(&["drift", "dev"]);
        assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);

        // Forget a resource and import it again, answers still being lost.
        test.ok(&["state", "rm", "dev", "log_group.function_logs"]);
        until_ok(
            &test,
            &[
                "--endpoint-url",
                &endpoint,
                "import",
                "dev",
                "log_group.function_logs",
                "/aws/lambda/mta-chat-dev-chat",
            ],
            3,
        );
        assert_eq!(test.cairn(&["plan", "dev", "--detailed-exitcode"]).code, 0);
        test.ok(&["state", "verify", "dev"]);

        until_ok(
            &test,
            &[
                "--endpoint-url",
                &endpoint,
                "destroy",
                "dev",
                "--auto-approve",
            ],
            3,
        );
        lost += proxy.lost();
        assert_eq!(inventory(&aws).await, with_state_table(NOTHING.to_vec()));
        test.ok(&["state", "verify", "dev"]);
    }
    assert!(lost >= 6, "the proxy lost only {lost} answers");
}

/// The daily drift job must stay quiet when nothing changed: right after
/// an apply of each shipped stack, with local and with shared state, drift
/// lists nothing (the stack's own HTTP API is not "unmanaged").
#[test]
fn drift_right_after_apply_is_quiet_for_every_shipped_stack() {
    for (environment, local) in [("dev", true), ("prod", false)] {
        let test = Test::new();
        let mut args = vec!["apply", environment, "--auto-approve"];
        if local {
            args.push("--local-state");
        } else {
            test.ok(&["state", "init-backend", environment]);
        }
        test.ok(&args);
        let mut drift = vec!["drift", environment];
        if local {
            drift.push("--local-state");
        }
        let run = test.cairn(&drift);
        assert_eq!(
            run.code, 0,
            "{environment}:\n{}\n{}",
            run.stdout, run.stderr
        );
        assert!(run.stdout.starts_with("No drift in"), "{}", run.stdout);
    }
}

/// The inline policy `home` of the language test's role, decoded.
async fn home_policy(aws: &cairn::aws::Aws) -> serde_json::Value {
    let document = aws
        .iam()
        .get_role_policy()
        .role_name("cairn-test-t-role")
        .policy_name("home")
        .send()
        .await
        .unwrap()
        .policy_document;
    serde_json::from_str(&percent(&document)).unwrap()
}

/// IAM policy variables reach AWS literally, `${aws.*}` outputs are saved,
/// and a resource whose type changes under the same name is never what its
/// dependents resolve against while it is being deleted.
#[tokio::test(flavor = "multi_thread")]
async fn policy_variables_aws_outputs_and_a_type_change_under_one_name() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", "tests/stacks/language.yaml", "--auto-approve"]);
    let again = test.cairn(&["plan", "tests/stacks/language.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    let policy = home_policy(&aws).await;
    assert_eq!(
        policy["Statement"][0]["Resource"],
        "arn:aws:s3:::cairn-test-home/${aws:username}/*"
    );
    assert_eq!(
        test.ok(&["output", "tests/stacks/language.yaml", "region"])
            .stdout
            .trim(),
        "us-east-1"
    );
    assert_eq!(
        test.ok(&["output", "tests/stacks/language.yaml", "bucket_arn"])
            .stdout
            .trim(),
        "arn:aws:s3:::cairn-test-home"
    );

    let changed = test.ok(&["apply", "tests/stacks/language-2.yaml", "--auto-approve"]);
    assert!(
        changed.stdout.contains("1 added, 1 changed, 1 destroyed"),
        "{}",
        changed.stdout
    );
    let policy = home_policy(&aws).await;
    assert_eq!(
        policy["Statement"][1]["Resource"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/cairn-test-t-store"
    );
    let again = test.cairn(&[
        "plan",
        "tests/stacks/language-2.yaml",
        "--detailed-exitcode",
    ]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    test.ok(&["destroy", "tests/stacks/language-2.yaml", "--auto-approve"]);
    assert_eq!(inventory(&aws).await, NOTHING);
}

/// An SDK client for `endpoint` (a proxy in front of this test's moto).
async fn aws_at(endpoint: &str) -> cairn::aws::Aws {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    cairn::aws::Aws::connect(&cairn::aws::Settings {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.into()),
    })
    .await
    .unwrap()
}

/// The shared store never loses a committed version: not when the answers
/// of its lock, chunk and transaction writes are lost (the write having
/// happened), not when a save dies between its chunks and its commit, not
/// when the current version is damaged (history, verify and restore work
/// without it).
#[tokio::test(flavor = "multi_thread")]
async fn the_shared_store_never_loses_a_committed_version() {
    use cairn::state::State;
    use cairn::store::StateStore;
    let test = Test::new();
    let (aws, backend, _) = shared_store(&test, SHARED_KEY, 5).await;

    // A third of the mutating answers lost, after moto did the write.
    let proxy = FaultProxy::lossy(&test.endpoint(), 0.33, Loss::ServerError, 3);
    let lossy = std::sync::Arc::new(aws_at(&proxy.endpoint()).await);
    let mut state = State::new("cairn-test", "t");
    for round in 0..6 {
        let store = cairn::store::DynamoStore::new(lossy.clone(), &backend);
        if let Some(loaded) = store.load().await.unwrap() {
            assert_eq!(loaded, state, "round {round} lost a save");
        }
        let lock = store.lock("apply", Duration::from_secs(5)).await.unwrap();
        for _ in 0..4 {
            state.serial += 1;
            state.outputs.insert("serial".into(), state.serial.into());
            store.save(&state).await.unwrap();
        }
        store.unlock(&lock.id).await.unwrap();
    }
    assert!(proxy.lost() >= 5, "only {} answers lost", proxy.lost());
    let clean = cairn::store::DynamoStore::new(aws.clone(), &backend);
    assert_eq!(clean.load().await.unwrap().unwrap(), state);
    assert!(clean.current_lock().await.unwrap().is_none());
    assert!(clean.verify().await.unwrap().iter().all(|(_, r)| r.is_ok()));

    // A save that dies after its chunks and before its commit (here: every
    // commit refused) leaves the committed version as it was.
    let refusing = FaultProxy::start(
        &test.endpoint(),
        vec![("TransactWriteItems", Fault::Throttle, 1000)],
    );
    let mut refused = aws_at(&refusing.endpoint()).await;
    refused.max_attempts = 2;
    let store = cairn::store::DynamoStore::new(std::sync::Arc::new(refused), &backend);
    store.load().await.unwrap();
    let mut next = state.clone();
    next.serial += 1;
    assert!(store.save(&next).await.is_err());
    assert_eq!(clean.load().await.unwrap().unwrap(), state);
    assert!(clean.verify().await.unwrap().iter().all(|(_, r)| r.is_ok()));
    // Its orphaned chunks go with the next pruning, referenced ones stay.
    let store = cairn::store::DynamoStore::new(aws.clone(), &backend);
    store.load().await.unwrap();
    while state.serial < 40 {
        state.serial += 1;
        store.save(&state).await.unwrap();
    }
    assert_eq!(chunk_items(&aws, SHARED_KEY).await, 5);

    // The current version damaged (its chunk deleted): history, verify and
    // restore still work.
    let head = clean.history().await.unwrap()[0].serial;
    assert_eq!(head, 40);
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let chunks = aws
        .dynamodb()
        .query()
        .table_name(SHARED_TABLE)
        .key_condition_expression("pk = :pk AND begins_with(sk, :chunk)")
        .expression_attribute_values(":pk", S(SHARED_KEY.into()))
        .expression_attribute_values(":chunk", S(format!("chunk#{head:020}#")))
        .send()
        .await
        .unwrap();
    for chunk in chunks.items() {
        aws.dynamodb()
            .delete_item()
            .table_name(SHARED_TABLE)
            .key("pk", chunk["pk"].clone())
            .key("sk", chunk["sk"].clone())
            .send()
            .await
            .unwrap();
    }
    assert!(clean.load().await.is_err());
    let verified = test.cairn(&["state", "verify", SHARED]);
    assert_eq!(verified.code, 1, "{}", verified.stdout);
    assert!(
        verified.stdout.contains("serial 40: DAMAGED") && verified.stdout.contains("serial 39: ok"),
        "{}",
        verified.stdout
    );
    assert!(test
        .ok(&["state", "history", SHARED])
        .stdout
        .contains("\n40 "));
    test.ok(&["state", "restore", SHARED, "39"]);
    let restored = clean.load().await.unwrap().unwrap();
    assert_eq!(restored.serial, 41);
    assert_eq!(
        restored.outputs,
        clean.load_version(39).await.unwrap().outputs
    );
    // The damaged version stays in the history, and verify keeps saying so.
    let verified = test.cairn(&["state", "verify", SHARED]);
    assert!(
        verified
            .stdout
            .starts_with("serial 41: ok\nserial 40: DAMAGED"),
        "{}",
        verified.stdout
    );
}

/// A lock that cannot be released is said, with how to clear it.
#[tokio::test(flavor = "multi_thread")]
async fn a_lock_that_cannot_be_released_is_reported_with_the_way_out() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("DeleteItem", Fault::Unavailable, 1000)],
    );
    let run = test.cairn_with(
        &["--endpoint-url", &proxy.endpoint(), "plan", SHARED],
        &[("CAIRN_RETRY_ATTEMPTS", "2")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = shared_lock(&aws).await.expect("the lock stayed")["id"]
        .as_s()
        .unwrap()
        .clone();
    assert!(
        run.stderr.contains("could not release the state lock")
            && run.stderr.contains(&format!("cairn force-unlock ENV {id}")),
        "{}",
        run.stderr
    );
}

/// Clients are built on first use, one per service, and then shared.
#[tokio::test(flavor = "multi_thread")]
async fn service_clients_are_built_on_first_use() {
    let test = Test::new();
    let aws = test.aws().await;
    assert_eq!(aws.clients_built(), 0);
    aws.kms().list_keys().send().await.unwrap();
    aws.kms().list_aliases().send().await.unwrap();
    assert_eq!(aws.clients_built(), 1);
}

/// A resource that leaves the stack is deleted only after the resources
/// that depended on it (as the state records) have been updated.
#[test]
fn a_resource_leaving_the_stack_goes_after_its_dependents_change() {
    let test = Test::new();
    test.ok(&["apply", "tests/stacks/leaving.yaml", "--auto-approve"]);
    let run = test.ok(&["apply", "tests/stacks/leaving-2.yaml", "--auto-approve"]);
    let position = |text: &str| {
        run.stdout
            .find(text)
            .unwrap_or_else(|| panic!("no `{text}` in:\n{}", run.stdout))
    };
    assert!(
        position("iam_role.role: Modifications complete")
            < position("dynamodb_table.table: Destroying..."),
        "{}",
        run.stdout
    );
    assert_eq!(
        test.cairn(&["plan", "tests/stacks/leaving-2.yaml", "--detailed-exitcode"])
            .code,
        0
    );
}

const TOPIC: &str = "tests/stacks/topic.yaml";

async fn topics(aws: &cairn::aws::Aws) -> usize {
    aws.sns().list_topics().send().await.unwrap().topics().len()
}

async fn metric_filters(aws: &cairn::aws::Aws) -> usize {
    aws.logs()
        .describe_metric_filters()
        .send()
        .await
        .unwrap()
        .metric_filters()
        .len()
}

async fn subscriptions(aws: &cairn::aws::Aws) -> usize {
    aws.sns()
        .list_subscriptions()
        .send()
        .await
        .unwrap()
        .subscriptions()
        .len()
}

/// sns_topic, sns_subscription and log_metric_filter: create (KMS key,
/// policy, tags, an email subscription, a filter an alarm watches), no-op,
/// updates, drift, a crash between create and state write, lost answers,
/// destroy.
#[tokio::test(flavor = "multi_thread")]
async fn notifications_live_their_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", TOPIC, "--auto-approve"]);
    assert_eq!((topics(&aws).await, subscriptions(&aws).await), (1, 1));
    assert_eq!(test.cairn(&["plan", TOPIC, "--detailed-exitcode"]).code, 0);
    let alarm = aws
        .cloudwatch()
        .describe_alarms()
        .send()
        .await
        .unwrap()
        .metric_alarms()[0]
        .alarm_actions()
        .to_vec();
    assert_eq!(
        alarm,
        vec!["arn:aws:sns:us-east-1:123456789012:cairn-test-t-alerts"]
    );

    assert_eq!(metric_filters(&aws).await, 1);
    // The filter's pattern changes in place (moto keeps the replaced
    // filter too, which cairn's read and delete handle as AWS would).
    let pattern = test.ok(&["apply", TOPIC, "--auto-approve", "--var", "pattern=FATAL"]);
    assert!(
        pattern
            .stdout
            .contains("~ pattern = \"ERROR\" -> \"FATAL\""),
        "{}",
        pattern.stdout
    );
    let again = test.cairn(&[
        "plan",
        TOPIC,
        "--detailed-exitcode",
        "--var",
        "pattern=FATAL",
    ]);
    assert_eq!(again.code, 0, "{}", again.stdout);

    // An update in place, then drift made by hand.
    let updated = test.ok(&[
        "apply",
        TOPIC,
        "--auto-approve",
        "--var",
        "display=Pager",
        "--var",
        "pattern=FATAL",
    ]);
    assert!(
        updated
            .stdout
            .contains("~ display_name = \"Alerts\" -> \"Pager\""),
        "{}",
        updated.stdout
    );
    aws.sns()
        .set_topic_attributes()
        .topic_arn("arn:aws:sns:us-east-1:123456789012:cairn-test-t-alerts")
        .attribute_name("DisplayName")
        .attribute_value("by hand")
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&[
        "plan",
        TOPIC,
        "--detailed-exitcode",
        "--var",
        "display=Pager",
    ]);
    assert_eq!(drift.code, 2);
    assert!(
        drift
            .stdout
            .contains("~ display_name = \"by hand\" -> \"Pager\""),
        "{}",
        drift.stdout
    );
    test.ok(&["destroy", TOPIC, "--auto-approve"]);
    assert_eq!((topics(&aws).await, subscriptions(&aws).await), (0, 0));
    assert_eq!(metric_filters(&aws).await, 0);

    // Killed between the create and the state write: adopted, not doubled
    // (the topic by its name, the subscription by topic, protocol and
    // endpoint, as it cannot carry tags).
    for address in ["sns_topic.alerts", "sns_subscription.oncall"] {
        let died = test.cairn_with(
            &["apply", TOPIC, "--auto-approve"],
            &[("CAIRN_FAULT_ABORT_AFTER_CREATE", address)],
        );
        assert_ne!(died.code, 0, "{address}");
    }
    test.ok(&["apply", TOPIC, "--auto-approve"]);
    assert_eq!((topics(&aws).await, subscriptions(&aws).await), (1, 1));
    assert_eq!(test.cairn(&["plan", TOPIC, "--detailed-exitcode"]).code, 0);
    test.ok(&["destroy", TOPIC, "--auto-approve"]);

    // A fifth of the answers lost.
    let proxy = FaultProxy::lossy(&test.endpoint(), 0.2, Loss::ServerError, 5);
    until_ok(
        &test,
        &[
            "--endpoint-url",
            &proxy.endpoint(),
            "apply",
            TOPIC,
            "--auto-approve",
        ],
        3,
    );
    assert_eq!(topics(&aws).await, 1);
    assert_eq!(test.cairn(&["plan", TOPIC, "--detailed-exitcode"]).code, 0);
    assert_eq!(test.cairn(&["drift", TOPIC]).code, 0);
    until_ok(
        &test,
        &[
            "--endpoint-url",
            &proxy.endpoint(),
            "destroy",
            TOPIC,
            "--auto-approve",
        ],
        3,
    );
    assert!(proxy.lost() > 0);
    assert_eq!((topics(&aws).await, subscriptions(&aws).await), (0, 0));
    assert_eq!(metric_filters(&aws).await, 0);
}

const NETWORK: &str = "tests/stacks/network.yaml";

/// What moto holds of the network types, leaving out the default VPC and
/// what comes with it: duplicates and leftovers both show.
async fn network_inventory(aws: &cairn::aws::Aws) -> Vec<(&'static str, usize)> {
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

const NETWORK_DEPLOYED: &[(&str, usize)] = &[
    ("vpcs", 1),
    ("subnets", 3),
    ("route tables", 2),
    ("security groups", 2),
    ("internet gateways", 1),
    ("NAT gateways", 1),
    ("VPC endpoints", 1),
    ("elastic IPs", 1),
];

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
    // One step at a time, so each run dies at the next of these, in the
    // order the walk takes them.
    for address in [
        "vpc.vpc",
        "internet_gateway.gateway",
        "security_group.function",
        "subnet.public",
        "nat_gateway.nat",
        "route_table.public_routes",
        "vpc_endpoint.dynamodb",
    ] {
        let run = test.cairn_with(
            &["apply", NETWORK, "--auto-approve", "--parallelism", "1"],
            &[("CAIRN_FAULT_ABORT_AFTER_CREATE", address)],
        );
        assert_ne!(run.code, 0, "{address} did not crash:\n{}", run.stdout);
        assert!(
            run.stdout.contains(&format!("{address}: Creating")),
            "{}",
            run.stdout
        );
    }
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

const SECRETS: &str = "tests/stacks/secrets.yaml";

/// Secrets live their whole life without their values ever showing: a
/// generated one meets its rules, a given one follows its variable, a
/// value changed by hand is drift, destroy honours the recovery window,
/// and a secret of this stack still in its window is restored, not refused.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_live_their_whole_life_unseen() {
    let test = Test::new();
    let aws = test.aws().await;
    let token = [("CAIRN_VAR_api_token", "first-Token-value-1")];
    let value = |name: &'static str| {
        let aws = &aws;
        async move {
            aws.secretsmanager()
                .get_secret_value()
                .secret_id(name)
                .send()
                .await
                .unwrap()
                .secret_string()
                .unwrap()
                .to_owned()
        }
    };
    let created = test.cairn_with(&["apply", SECRETS, "--auto-approve"], &token);
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    let generated = value("cairn-test-t-database").await;
    assert_eq!(generated.chars().count(), 24);
    assert!(!generated.contains(['/', '@', '"', ' ']), "{generated}");
    assert_eq!(value("cairn-test-t-token").await, "first-Token-value-1");
    let state = std::fs::read_to_string(test.state_dir().join("t.json")).unwrap();
    for secret in [generated.as_str(), "first-Token-value-1"] {
        assert!(!created.stdout.contains(secret) && !created.stderr.contains(secret));
        assert!(!state.contains(secret), "a value is in the state");
    }
    let quiet = test.cairn_with(&["plan", SECRETS, "--detailed-exitcode"], &token);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    // The variable changes: a new version, shown only as sensitive.
    let rotated = [("CAIRN_VAR_api_token", "second-Token-value-2")];
    let changed = test.cairn_with(&["apply", SECRETS, "--auto-approve"], &rotated);
    assert!(
        changed
            .stdout
            .contains("~ value = (sensitive value) -> (sensitive value)"),
        "{}",
        changed.stdout
    );
    assert_eq!(value("cairn-test-t-token").await, "second-Token-value-2");
    assert_eq!(
        value("cairn-test-t-database").await,
        generated,
        "regenerated"
    );

    // Changed by hand: drift on the given value; the generated one is the
    // stack's only at create, so a rotation outside cairn is not undone.
    for (name, new) in [
        ("cairn-test-t-token", "by-hand"),
        ("cairn-test-t-database", "rotated"),
    ] {
        aws.secretsmanager()
            .put_secret_value()
            .secret_id(name)
            .secret_string(new)
            .send()
            .await
            .unwrap();
    }
    let drift = test.cairn_with(&["plan", SECRETS, "--detailed-exitcode"], &rotated);
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(
        drift.stdout.contains("Plan: 0 to add, 1 to change"),
        "{}",
        drift.stdout
    );
    assert!(!drift.stdout.contains("by-hand") && !drift.stdout.contains("rotated"));
    let fixed = test.cairn_with(&["apply", SECRETS, "--auto-approve"], &rotated);
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    assert_eq!(value("cairn-test-t-token").await, "second-Token-value-2");

    // A recovery window: destroy schedules, apply restores what is its own.
    let window = [
        ("CAIRN_VAR_api_token", "second-Token-value-2"),
        ("CAIRN_VAR_window", "7"),
    ];
    let scheduled = test.cairn_with(&["apply", SECRETS, "--auto-approve"], &window);
    assert_eq!(scheduled.code, 0, "{}", scheduled.stderr);
    let gone = test.cairn_with(&["destroy", SECRETS, "--auto-approve"], &window);
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    let listed = aws
        .secretsmanager()
        .list_secrets()
        .include_planned_deletion(true)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.secret_list().len(), 2);
    assert!(listed
        .secret_list()
        .iter()
        .all(|s| s.deleted_date().is_some()));
    let back = test.cairn_with(&["apply", SECRETS, "--auto-approve"], &window);
    assert_eq!(back.code, 0, "{}\n{}", back.stdout, back.stderr);
    assert_eq!(value("cairn-test-t-database").await, "rotated");
    let quiet = test.cairn_with(&["plan", SECRETS, "--detailed-exitcode"], &window);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    // Window 0: deleted at once.
    let now = [("CAIRN_VAR_api_token", "second-Token-value-2")];
    assert_eq!(
        test.cairn_with(&["apply", SECRETS, "--auto-approve"], &now)
            .code,
        0
    );
    assert_eq!(
        test.cairn_with(&["destroy", SECRETS, "--auto-approve"], &now)
            .code,
        0
    );
    let listed = aws
        .secretsmanager()
        .list_secrets()
        .include_planned_deletion(true)
        .send()
        .await
        .unwrap();
    assert!(
        listed.secret_list().is_empty(),
        "{:?}",
        listed.secret_list()
    );
}

const DATABASE: &str = "tests/stacks/database.yaml";

/// A database in the private subnets: created while AWS still says
/// `creating`, reachable only from the function's group, encrypted with
/// the stack's key, its password in Secrets Manager; a change by hand is
/// drift; deletion protection stops a destroy until the stack turns it
/// off; destroy leaves only the final snapshot.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let creating = FaultProxy::start(
        &test.endpoint(),
        vec![(
            "DescribeDBInstances",
            Fault::Answer(
                r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>cairn-test-t-chat</DBInstanceIdentifier><DBInstanceStatus>creating</DBInstanceStatus></DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>fault</RequestId></ResponseMetadata></DescribeDBInstancesResponse>"#,
            ),
            3,
        )],
    );
    test.ok(&[
        "--endpoint-url",
        &creating.endpoint(),
        "apply",
        DATABASE,
        "--auto-approve",
    ]);
    assert!(creating.calls("DescribeDBInstances") >= 4);
    let described = aws
        .rds()
        .describe_db_instances()
        .db_instance_identifier("cairn-test-t-chat")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    let id = |address: &str| {
        state["resources"][address]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(described.storage_encrypted(), Some(true));
    assert!(described
        .kms_key_id()
        .unwrap()
        .ends_with(&id("kms_key.db_key")));
    assert_eq!(described.publicly_accessible(), Some(false));
    assert_eq!(
        described.vpc_security_groups()[0].vpc_security_group_id(),
        Some(id("security_group.database").as_str())
    );
    let mut subnets: Vec<&str> = described
        .db_subnet_group()
        .unwrap()
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    subnets.sort_unstable();
    let mut private = vec![id("subnet.private_a"), id("subnet.private_b")];
    private.sort();
    assert_eq!(subnets, private);
    let secret = described
        .master_user_secret()
        .unwrap()
        .secret_arn()
        .unwrap();
    aws.secretsmanager()
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .unwrap();
    let quiet = test.cairn(&["plan", DATABASE, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    // By hand: backups cut to one day. Drift, and apply puts it back.
    aws.rds()
        .modify_db_instance()
        .db_instance_identifier("cairn-test-t-chat")
        .backup_retention_period(1)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&["plan", DATABASE, "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(
        drift.stdout.contains("~ backup_retention_period = 1 -> 7"),
        "{}",
        drift.stdout
    );
    test.ok(&["apply", DATABASE, "--auto-approve"]);

    // Protected: destroy refuses the database and keeps it in the state.
    test.ok(&["apply", DATABASE, "--auto-approve", "--var", "protect=true"]);
    let refused = test.cairn(&["destroy", DATABASE, "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("deletion protection on"),
        "{}",
        refused.stderr
    );
    assert!(test
        .ok(&["state", "list", DATABASE])
        .stdout
        .contains("db_instance.db"));
    test.ok(&[
        "apply",
        DATABASE,
        "--auto-approve",
        "--var",
        "protect=false",
    ]);
    test.ok(&["destroy", DATABASE, "--auto-approve"]);
    let snapshots = aws.rds().describe_db_snapshots().send().await.unwrap();
    let names: Vec<&str> = snapshots
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    assert_eq!(names, ["cairn-test-t-chat-last"]);
    let instances = aws.rds().describe_db_instances().send().await.unwrap();
    assert!(instances.db_instances().is_empty());
    let groups = aws.rds().describe_db_subnet_groups().send().await.unwrap();
    assert!(groups.db_subnet_groups().is_empty());
    assert!(network_inventory(&aws).await.iter().all(|(_, n)| *n == 0));
}

const SECURE_DEV: &str = "stacks/secure-backend/dev.yaml";

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

/// Two systems with a `t` environment and one state directory: the second
/// is refused before it plans, instead of planning to delete the first.
#[test]
fn a_state_of_another_project_is_refused() {
    let test = Test::new();
    test.ok(&["apply", TOPIC, "--auto-approve"]);
    let other = test.directory.path().join("other.yaml");
    std::fs::write(
        &other,
        "project: other\nenvironment: t\nresources:\n  logs:\n    type: log_group\n",
    )
    .unwrap();
    let refused = test.cairn(&["plan", other.to_str().unwrap()]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("holds the state of project `cairn-test`, not `other`"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("to destroy"), "{}", refused.stdout);
}

/// cairn killed after AWS made each of the secure backend's resources
/// whose ids AWS assigns (or that a repeat would refuse) and before the
/// state recorded it: one more apply adopts every one, nothing twice.
#[tokio::test(flavor = "multi_thread")]
async fn secure_backend_creates_killed_before_the_state_write_are_adopted() {
    let test = Test::new();
    let aws = test.aws().await;
    // In the order the walk takes them one step at a time.
    for address in [
        "api_key.key_primary",
        "db_subnet_group.db_subnets",
        "db_instance.db",
        "vpc_endpoint.model_endpoint",
        "rest_api.api",
        "usage_plan.usage",
    ] {
        let run = test.cairn_with(
            &["apply", SECURE_DEV, "--auto-approve", "--parallelism", "1"],
            &[("CAIRN_FAULT_ABORT_AFTER_CREATE", address)],
        );
        assert_ne!(run.code, 0, "{address} did not crash:\n{}", run.stdout);
        assert!(
            run.stdout.contains(&format!("{address}: Creating")),
            "{}",
            run.stdout
        );
    }
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

const KEYS: &str = "tests/stacks/keys.yaml";

/// A replacement that can coexist makes the new one first: the usage plan
/// moves to the new key before the old key goes. Killed in between, the
/// state remembers the old key as deposed, and the next apply deletes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_creates_the_new_one_before_the_old_goes() {
    let test = Test::new();
    let aws = test.aws().await;
    let rest = aws.restapi();
    test.ok(&["apply", KEYS, "--auto-approve"]);
    let plan_keys = || async {
        let plan = rest.get_usage_plans().send().await.unwrap().items()[0].clone();
        let keys = rest
            .get_usage_plan_keys()
            .usage_plan_id(plan.id().unwrap())
            .send()
            .await
            .unwrap();
        let all = rest.get_api_keys().send().await.unwrap();
        (
            keys.items()
                .iter()
                .map(|k| k.id().unwrap().to_owned())
                .collect::<Vec<_>>(),
            all.items().len(),
        )
    };
    let (first, count) = plan_keys().await;
    assert_eq!((first.len(), count), (1, 1));

    let second = ["--var", "key_value=second-key-value-0123456789"];
    let planned = test.ok(&[&["plan", KEYS][..], &second].concat());
    assert!(
        planned.stdout.contains("+/- resource \"api_key\" \"key\"")
            && planned.stdout.contains(
                "must be replaced (the new one is created before the old one is destroyed)"
            ),
        "{}",
        planned.stdout
    );
    let applied = test.ok(&[&["apply", KEYS, "--auto-approve"][..], &second].concat());
    let at = |line: &str| {
        applied
            .stdout
            .find(line)
            .unwrap_or_else(|| panic!("no `{line}` in\n{}", applied.stdout))
    };
    assert!(at("api_key.key: Creation complete") < at("usage_plan.usage: Modifications complete"));
    assert!(at("usage_plan.usage: Modifications complete") < at("api_key.key: Destroying"));
    let (moved, count) = plan_keys().await;
    assert_eq!(count, 1, "the old key is gone");
    assert_ne!(moved, first);

    // Killed after the new key exists: the old one is remembered, deposed.
    let third = ["--var", "key_value=third-key-value-0123456789"];
    let killed = test.cairn_with(
        &[&["apply", KEYS, "--auto-approve"][..], &third].concat(),
        &[("CAIRN_FAULT_ABORT_AFTER_CREATE", "api_key.key")],
    );
    assert_ne!(killed.code, 0);
    let listed = test.ok(&["state", "list", KEYS]);
    let deposed = format!("api_key.key#deposed-{}", moved[0]);
    assert!(listed.stdout.contains(&deposed), "{}", listed.stdout);
    let finish = test.ok(&[&["apply", KEYS, "--auto-approve"][..], &third].concat());
    assert!(
        finish
            .stdout
            .contains(&format!("{deposed}: Destruction complete")),
        "{}",
        finish.stdout
    );
    let (last, count) = plan_keys().await;
    assert_eq!(count, 1, "{}", finish.stdout);
    assert_ne!(last, moved);
    let quiet = test.cairn(&[&["plan", KEYS, "--detailed-exitcode"][..], &third].concat());
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
}

const REGIONS: &str = "tests/stacks/regions.yaml";

/// A resource with a region of its own is made, read and deleted there;
/// the rest stay in the stack's region; moving one is refused.
#[tokio::test(flavor = "multi_thread")]
async fn resources_can_live_in_another_region() {
    let test = Test::new();
    // Sets the emulator's credentials in the environment.
    let _ = test.aws().await;
    let planned = test.ok(&["plan", REGIONS]);
    assert!(
        planned
            .stdout
            .contains("# sns_topic.west will be created (in us-west-2)"),
        "{}",
        planned.stdout
    );
    test.ok(&["apply", REGIONS, "--auto-approve"]);
    let topics = |region: &'static str| {
        let endpoint = test.endpoint();
        async move {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region))
                .endpoint_url(endpoint)
                .load()
                .await;
            aws_sdk_sns::Client::new(&config)
                .list_topics()
                .send()
                .await
                .unwrap()
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        topics("us-west-2").await,
        ["arn:aws:sns:us-west-2:123456789012:cairn-test-t-west"]
    );
    assert_eq!(
        topics("us-east-1").await,
        ["arn:aws:sns:us-east-1:123456789012:cairn-test-t-home"]
    );
    let quiet = test.cairn(&["plan", REGIONS, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    let moved = test.cairn(&["plan", REGIONS, "--var", "west=eu-west-1"]);
    assert_eq!(moved.code, 1);
    assert!(
        moved
            .stderr
            .contains("cairn does not move resources between regions"),
        "{}",
        moved.stderr
    );
    test.ok(&["destroy", REGIONS, "--auto-approve"]);
    assert!(topics("us-west-2").await.is_empty());
    assert!(topics("us-east-1").await.is_empty());
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

/// A REST API's routes and stage change in place and are deployed: the
/// new path answers in the API, the old one is gone, the stage's limits
/// are AWS's.
#[tokio::test(flavor = "multi_thread")]
async fn rest_api_routes_and_stage_change_in_place() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", KEYS, "--auto-approve"]);
    let vars = [
        "--var",
        "path=/v2/status",
        "--var",
        "burst=40",
        "--var",
        "rate=25",
    ];
    let changed = test.ok(&[&["apply", KEYS, "--auto-approve"][..], &vars].concat());
    assert!(
        changed
            .stdout
            .contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        changed.stdout
    );
    let quiet = test.cairn(&[&["plan", KEYS, "--detailed-exitcode"][..], &vars].concat());
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    let rest = aws.restapi();
    let api = rest.get_rest_apis().send().await.unwrap().items()[0].clone();
    let id = api.id().unwrap();
    let resources = rest.get_resources().rest_api_id(id).send().await.unwrap();
    let with_methods: Vec<&str> = resources
        .items()
        .iter()
        .filter(|r| r.resource_methods().is_some_and(|m| !m.is_empty()))
        .filter_map(|r| r.path())
        .collect();
    assert_eq!(with_methods, ["/v2/status"]);
    let stage = rest
        .get_stage()
        .rest_api_id(id)
        .stage_name("api")
        .send()
        .await
        .unwrap();
    let all = &stage.method_settings().unwrap()["*/*"];
    assert_eq!(
        (all.throttling_burst_limit(), all.throttling_rate_limit()),
        (40, 25.0)
    );
}

/// A database password from a sensitive variable: sent to AWS, compared by
/// the state's hash (AWS never reports it), changed in place, never shown.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_password_from_a_variable_is_never_shown() {
    let test = Test::new();
    let aws = test.aws().await;
    let first = [("CAIRN_VAR_password", "first-Password-123")];
    let created = test.cairn_with(
        &["apply", "tests/stacks/db-password.yaml", "--auto-approve"],
        &first,
    );
    assert_eq!(created.code, 0, "{}\n{}", created.stdout, created.stderr);
    let engine = aws
        .rds()
        .describe_db_instances()
        .db_instance_identifier("cairn-test-t-pg")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .engine()
        .map(str::to_owned);
    assert_eq!(engine.as_deref(), Some("postgres"));
    let state = std::fs::read_to_string(test.state_dir().join("t.json")).unwrap();
    assert!(!state.contains("first-Password-123"));
    assert!(!created.stdout.contains("first-Password-123"));
    let quiet = test.cairn_with(
        &[
            "plan",
            "tests/stacks/db-password.yaml",
            "--detailed-exitcode",
        ],
        &first,
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    let second = [("CAIRN_VAR_password", "second-Password-456")];
    let changed = test.cairn_with(
        &["apply", "tests/stacks/db-password.yaml", "--auto-approve"],
        &second,
    );
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert!(
        changed
            .stdout
            .contains("~ password = (sensitive value) -> (sensitive value)"),
        "{}",
        changed.stdout
    );
    assert!(!changed.stdout.contains("second-Password-456"));
    let quiet = test.cairn_with(
        &[
            "plan",
            "tests/stacks/db-password.yaml",
            "--detailed-exitcode",
        ],
        &second,
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    let gone = test.cairn_with(
        &["destroy", "tests/stacks/db-password.yaml", "--auto-approve"],
        &second,
    );
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    assert!(aws
        .rds()
        .describe_db_snapshots()
        .send()
        .await
        .unwrap()
        .db_snapshots()
        .is_empty());
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

/// A function's X-Ray tracing and the HTTP API stage's tags reach AWS and
/// read back: set at create, left to AWS when the stack stops naming it,
/// and changed in place. (moto's UpdateFunctionConfiguration drops
/// `TracingConfig`, so its change is seen at a proxy.)
#[tokio::test(flavor = "multi_thread")]
async fn tracing_and_the_stages_tags_reach_aws() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = test.directory.path().join("f.zip");
    std::fs::write(
        &zip,
        cairn::package::reproducible_zip(&[("bootstrap", b"code", true)]),
    )
    .unwrap();
    let version = |tracing: &str, label: &str| {
        format!(
            r#"project: cairn-test
environment: t
resources:
  role:
    type: iam_role
    properties: {{ assume_role_services: [lambda.amazonaws.com] }}
  function:
    type: lambda_function
    properties:
      code: {{ zip: "{zip}" }}
      role_arn: ${{role.arn}}
{tracing}
  api:
    type: http_api
    properties:
      routes: ["POST /chat"]
      integration: {{ function_arn: "${{function.arn}}" }}
      stage: {{ throttling_burst_limit: 5, throttling_rate_limit: 1 }}
      tags: {{ label: {label} }}
"#,
            zip = zip.display()
        )
    };
    let file = test.directory.path().join("traced.yaml");
    let path = file.to_str().unwrap().to_owned();
    std::fs::write(&file, version("      tracing: Active", "blue")).unwrap();
    test.ok(&["apply", &path, "--auto-approve"]);
    let mode = |config: aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput| {
        config
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str().to_owned())
    };
    let configuration = aws
        .lambda()
        .get_function_configuration()
        .function_name("cairn-test-t-function")
        .send()
        .await
        .unwrap();
    assert_eq!(mode(configuration).as_deref(), Some("Active"));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    let api_id = state["resources"]["http_api.api"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stage = aws
        .apigateway()
        .get_stage()
        .api_id(&api_id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    let tags = stage.tags().cloned().unwrap_or_default();
    assert_eq!(tags.get("label").map(String::as_str), Some("blue"));
    assert_eq!(
        tags.get("cairn:address").map(String::as_str),
        Some("http_api.api")
    );
    let quiet = test.cairn(&["plan", &path, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    // No longer named: AWS's, neither sent nor compared.
    std::fs::write(&file, version("", "blue")).unwrap();
    let quiet = test.cairn(&["plan", &path, "--detailed-exitcode"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);

    // A change of tracing is sent (moto drops it, so it is seen at a
    // proxy); the stage's retag is `the_stage_carries_the_apis_tags`'s.
    std::fs::write(&file, version("      tracing: PassThrough", "blue")).unwrap();
    let plan = test.ok(&["plan", &path]);
    assert!(plan.stdout.contains("tracing"), "{}", plan.stdout);
    let proxy = FaultProxy::start(&test.endpoint(), Vec::new());
    test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        &path,
        "--auto-approve",
    ]);
    assert_eq!(proxy.calls("UpdateFunctionConfiguration"), 1);
    test.ok(&["destroy", &path, "--auto-approve"]);
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

/// A checkout of a small Cargo workspace (one binary, no dependencies) and
/// a stack `t.yaml` deploying it, under `root/name`.
fn hello_checkout(root: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("hello/src")).unwrap();
    let files = [
        ("Cargo.toml", "[workspace]\nmembers = [\"hello\"]\nresolver = \"2\"\n"),
        ("hello/Cargo.toml", "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("hello/src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n"),
        ("Cargo.lock", "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n"),
        ("t.yaml", "project: cairn-test\nenvironment: t\nresources:\n  role:\n    type: iam_role\n    properties: { assume_role_services: [lambda.amazonaws.com] }\n  function:\n    type: lambda_function\n    properties:\n      code: { cargo: hello }\n      role_arn: ${role.arn}\n"),
    ];
    for (path, text) in files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    dir
}

/// Issue 13: a package built once from these sources is used again
/// without running cargo (a `CARGO` that fails proves it), from the same
/// checkout and from another one at another path; rebuilt, it is the same
/// zip byte for byte; a changed source is never served from the cache.
#[test]
fn an_unchanged_package_is_used_without_cargo_from_any_checkout() {
    let test = Test::offline();
    let root = test.directory.path();
    let cache = root.join("packages");
    let target = root.join("target");
    let build = |checkout: &std::path::Path, no_cargo: bool| {
        let cache = cache.to_str().unwrap();
        let target = target.to_str().unwrap();
        let mut environment = vec![("CAIRN_PACKAGE_CACHE", cache), ("CARGO_TARGET_DIR", target)];
        if no_cargo {
            environment.push(("CARGO", "/bin/false"));
        }
        let run = test.cairn_with(
            &["build", "t", "--stack-dir", checkout.to_str().unwrap()],
            &environment,
        );
        // "lambda_function.function: PATH (N bytes, sha256 HASH)"
        let line = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("lambda_function.function: "))
            .map(str::to_owned);
        (run, line)
    };
    let zip_of = |line: &str| std::fs::read(line.split(" (").next().unwrap()).unwrap();

    let first = hello_checkout(root, "first");
    let (run, built) = build(&first, false);
    let built = built.unwrap_or_else(|| panic!("{}\n{}", run.stdout, run.stderr));
    let bytes = zip_of(&built);

    let (run, again) = build(&first, true);
    assert_eq!(
        run.code, 0,
        "cargo ran for an unchanged package: {}",
        run.stderr
    );
    assert_eq!(again.as_deref(), Some(built.as_str()));

    let second = hello_checkout(root, "second");
    let (run, elsewhere) = build(&second, true);
    assert_eq!(run.code, 0, "another checkout ran cargo: {}", run.stderr);
    assert_eq!(elsewhere.as_deref(), Some(built.as_str()));

    // Without the cache, a build (here from the other checkout) gives the
    // very same zip.
    std::fs::remove_dir_all(&cache).unwrap();
    let (run, rebuilt) = build(&second, false);
    let rebuilt = rebuilt.unwrap_or_else(|| panic!("{}", run.stderr));
    assert_eq!(zip_of(&rebuilt), bytes, "a rebuild gave another zip");

    // A changed source needs cargo, and then gives another package.
    std::fs::write(
        second.join("hello/src/main.rs"),
        "fn main() {\n    println!(\"hello again\");\n}\n",
    )
    .unwrap();
    let (run, _) = build(&second, true);
    assert_eq!(run.code, 1, "a changed source was served from the cache");
    let (_, changed) = build(&second, false);
    let changed = changed.unwrap();
    assert_ne!(
        changed.split("sha256 ").nth(1),
        built.split("sha256 ").nth(1)
    );
    // And the first checkout, unchanged, still finds its own.
    let (run, first_again) = build(&first, true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        first_again.unwrap().split("sha256 ").nth(1),
        built.split("sha256 ").nth(1)
    );
}

/// An HTTP API whose stage is named `stage`, in a stack file of the test's.
fn stage_stack(test: &Test, stage: &str, auto_deploy: bool, burst: i64, routes: &[&str]) -> String {
    stage_stack_tagged(test, stage, auto_deploy, burst, routes, "a")
}

fn stage_stack_tagged(
    test: &Test,
    stage: &str,
    auto_deploy: bool,
    burst: i64,
    routes: &[&str],
    team: &str,
) -> String {
    let routes: Vec<String> = routes.iter().map(|r| format!("\"{r}\"")).collect();
    let text = format!(
        r#"project: cairn-test
environment: t
resources:
  api:
    type: http_api
    properties:
      routes: [{routes}]
      integration: {{ function_arn: "arn:aws:lambda:us-east-1:123456789012:function:chat" }}
      stage: {{ name: "{stage}", auto_deploy: {auto_deploy}, throttling_burst_limit: {burst}, throttling_rate_limit: 1 }}
      tags: {{ team: {team} }}
"#,
        routes = routes.join(", ")
    );
    let file = test.directory.path().join("stages.yaml");
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_owned()
}

/// The one API's stages on the emulator: (name, auto-deploy, burst limit,
/// tags), by name.
async fn live_stages(
    aws: &cairn::aws::Aws,
) -> Vec<(
    String,
    bool,
    i32,
    std::collections::BTreeMap<String, String>,
)> {
    let apis = aws.apigateway().get_apis().send().await.unwrap();
    let id = apis.items()[0].api_id().unwrap().to_owned();
    let stages = aws
        .apigateway()
        .get_stages()
        .api_id(id)
        .send()
        .await
        .unwrap();
    let mut out: Vec<_> = stages
        .items()
        .iter()
        .map(|s| {
            (
                s.stage_name().unwrap().to_owned(),
                s.auto_deploy().unwrap_or(false),
                s.default_route_settings()
                    .and_then(|r| r.throttling_burst_limit())
                    .unwrap_or(0),
                s.tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The one API's route keys on the emulator, as many times as it holds each.
async fn live_route_keys(aws: &cairn::aws::Aws) -> Vec<String> {
    let apis = aws.apigateway().get_apis().send().await.unwrap();
    let id = apis.items()[0].api_id().unwrap().to_owned();
    let routes = aws
        .apigateway()
        .get_routes()
        .api_id(id)
        .send()
        .await
        .unwrap();
    let mut keys: Vec<String> = routes
        .items()
        .iter()
        .filter_map(|r| r.route_key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// Issue 21: an HTTP API's stage has a name (`prod`, not only `$default`)
/// and carries the API's tags. A settings change is an update; a new name
/// makes the new stage and then deletes the old one, and the plan says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_named_stage_is_created_updated_renamed_and_destroyed() {
    let test = Test::new();
    let aws = test.aws().await;
    let routes = ["POST /chat", "GET /health"];
    let stack = stage_stack(&test, "prod", true, 5, &routes);
    test.ok(&["apply", &stack, "--auto-approve"]);
    let stages = live_stages(&aws).await;
    assert_eq!(stages.len(), 1, "{stages:?}");
    let (name, auto, burst, tags) = &stages[0];
    assert_eq!((name.as_str(), *auto, *burst), ("prod", true, 5));
    assert_eq!(tags.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        tags.get("cairn:address").map(String::as_str),
        Some("http_api.api")
    );
    assert_eq!(
        test.cairn(&["plan", &stack, "--detailed-exitcode"]).code,
        0,
        "a named stage reads back as written"
    );

    // Throttling is an update of the stage. moto lacks UpdateStage: a
    // proxy answers it with 501, so the stage is re-created (see
    // `the_dev_stack_applies_reconciles_and_destroys_completely`).
    let stack = stage_stack(&test, "prod", true, 7, &routes);
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("UpdateStage", Fault::NotImplemented, 100)],
    );
    let updated = test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        &stack,
        "--auto-approve",
    ]);
    assert!(
        updated.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        updated.stdout
    );
    assert!(
        updated.stderr.contains("re-created the prod stage"),
        "{}",
        updated.stderr
    );
    let stages = live_stages(&aws).await;
    assert_eq!(
        stages
            .iter()
            .map(|s| (s.0.as_str(), s.2))
            .collect::<Vec<_>>(),
        [("prod", 7)]
    );
    assert_eq!(stages[0].3.get("team").map(String::as_str), Some("a"));
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);

    // A new name: the plan says what happens to the stage.
    let stack = stage_stack(&test, "live", true, 7, &routes);
    let plan = test.ok(&["plan", &stack]);
    insta::assert_snapshot!("stage_renamed_plan", plan.stdout);
    let renamed = test.ok(&["apply", &stack, "--auto-approve"]);
    assert!(
        renamed.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        renamed.stdout
    );
    let stages = live_stages(&aws).await;
    assert_eq!(
        stages
            .iter()
            .map(|s| (s.0.as_str(), s.1, s.2))
            .collect::<Vec<_>>(),
        [("live", true, 7)]
    );
    assert_eq!(
        stages[0].3.get("cairn:address").map(String::as_str),
        Some("http_api.api")
    );
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);

    // A stage made by hand beside it goes, as a stray route would.
    let id = aws.apigateway().get_apis().send().await.unwrap().items()[0]
        .api_id()
        .unwrap()
        .to_owned();
    aws.apigateway()
        .create_stage()
        .api_id(&id)
        .stage_name("manual")
        .send()
        .await
        .unwrap();
    let plan = test.cairn(&["plan", &stack, "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("# (the API's other stages are deleted: \"manual\")"),
        "{}",
        plan.stdout
    );
    test.ok(&["apply", &stack, "--auto-approve"]);
    assert_eq!(
        live_stages(&aws)
            .await
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        ["live"]
    );
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);

    // Back to `$default`, as every stack before named stages wrote it.
    let stack = stage_stack(&test, "$default", true, 7, &routes);
    test.ok(&["apply", &stack, "--auto-approve"]);
    assert_eq!(live_stages(&aws).await[0].0, "$default");
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);

    test.ok(&["destroy", &stack, "--auto-approve"]);
    assert!(aws
        .apigateway()
        .get_apis()
        .send()
        .await
        .unwrap()
        .items()
        .is_empty());
}

/// A stage that is not auto-deployed serves what cairn deploys: it is made
/// on a deployment of the API with its routes, and a change of routes is
/// deployed to it. moto lacks CreateDeployment: a proxy answers it and
/// keeps the requests.
#[tokio::test(flavor = "multi_thread")]
async fn a_stage_without_auto_deploy_is_deployed_after_each_change() {
    let test = Test::new();
    let aws = test.aws().await;
    let deployed = Fault::Json(
        "201 Created",
        r#"{"deploymentId":"dep1","deploymentStatus":"DEPLOYED","autoDeployed":false}"#,
    );
    let proxy = FaultProxy::start(&test.endpoint(), vec![("CreateDeployment", deployed, 100)]);
    let through = |args: &[&str]| -> Run {
        test.ok(&[&["--endpoint-url", &proxy.endpoint()][..], args].concat())
    };
    let stack = stage_stack(&test, "prod", false, 5, &["POST /chat", "GET /health"]);
    through(&["apply", &stack, "--auto-approve"]);
    // The routes, then a deployment of them, then the stage on it: a stage
    // never exists without a deployment.
    let order: Vec<String> = proxy
        .operations()
        .into_iter()
        .filter(|o| ["CreateRoute", "CreateDeployment", "CreateStage"].contains(&o.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            "CreateRoute",
            "CreateRoute",
            "CreateDeployment",
            "CreateStage"
        ]
    );
    let created: serde_json::Value = serde_json::from_str(&proxy.bodies("CreateStage")[0]).unwrap();
    assert_eq!(
        (
            &created["stageName"],
            &created["autoDeploy"],
            &created["deploymentId"]
        ),
        (
            &serde_json::json!("prod"),
            &serde_json::json!(false),
            &serde_json::json!("dep1")
        )
    );
    let stages = live_stages(&aws).await;
    assert_eq!((stages[0].0.as_str(), stages[0].1), ("prod", false));
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);

    // A route added: deployed to the stage, after the route is made.
    let before = proxy.operations().len();
    let stack = stage_stack(
        &test,
        "prod",
        false,
        5,
        &["POST /chat", "GET /health", "GET /ready"],
    );
    through(&["apply", &stack, "--auto-approve"]);
    let order: Vec<String> = proxy.operations()[before..]
        .iter()
        .filter(|o| ["CreateRoute", "CreateDeployment", "CreateStage"].contains(&o.as_str()))
        .cloned()
        .collect();
    assert_eq!(order, ["CreateRoute", "CreateDeployment"]);
    let deployment: serde_json::Value =
        serde_json::from_str(proxy.bodies("CreateDeployment").last().unwrap()).unwrap();
    assert_eq!(deployment["stageName"], "prod");
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);

    // Throttling alone changes nothing the stage serves: no deployment.
    let faults = FaultProxy::start(
        &proxy.endpoint(),
        vec![("UpdateStage", Fault::NotImplemented, 100)],
    );
    let deployments = proxy.calls("CreateDeployment");
    let stack = stage_stack(
        &test,
        "prod",
        false,
        9,
        &["POST /chat", "GET /health", "GET /ready"],
    );
    test.ok(&[
        "--endpoint-url",
        &faults.endpoint(),
        "apply",
        &stack,
        "--auto-approve",
    ]);
    assert_eq!(proxy.calls("CreateDeployment"), deployments);
    assert_eq!(live_stages(&aws).await[0].2, 9);
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);
    test.ok(&["destroy", &stack, "--auto-approve"]);

    // On bare moto the first deployment fails, and no stage is left
    // without one.
    let stack = stage_stack(&test, "prod", false, 5, &["POST /chat"]);
    let failed = test.cairn_with(
        &["apply", &stack, "--auto-approve"],
        &[("CAIRN_RETRY_ATTEMPTS", "1")],
    );
    assert_eq!(failed.code, 1, "{}", failed.stdout);
    assert!(
        failed.stderr.contains("CreateDeployment"),
        "{}",
        failed.stderr
    );
    assert!(live_stages(&aws).await.is_empty());
}

/// The stage carries the API's tags: made with them, retagged with them,
/// and a stage whose tags are not the API's is a change the plan shows.
/// moto cannot tag a stage that exists (its tag route does not match a
/// stage's ARN): a proxy answers those calls and keeps them.
#[tokio::test(flavor = "multi_thread")]
async fn the_stage_carries_the_apis_tags() {
    let test = Test::new();
    let aws = test.aws().await;
    let routes = ["POST /chat"];
    let stack = stage_stack_tagged(&test, "prod", true, 5, &routes, "a");
    test.ok(&["apply", &stack, "--auto-approve"]);
    let api = aws.apigateway().get_apis().send().await.unwrap().items()[0].clone();
    let api_tags: std::collections::BTreeMap<String, String> = api
        .tags()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(live_stages(&aws).await[0].3, api_tags);

    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("TagStage", Fault::Json("201 Created", "{}"), 100),
            ("UntagStage", Fault::Json("204 No Content", ""), 100),
        ],
    );
    let stack = stage_stack_tagged(&test, "prod", true, 5, &routes, "b");
    test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        &stack,
        "--auto-approve",
    ]);
    let tagged = proxy.bodies("TagStage");
    assert_eq!(tagged.len(), 1, "{tagged:?}");
    let body: serde_json::Value = serde_json::from_str(&tagged[0]).unwrap();
    assert_eq!(body["tags"], serde_json::json!({"team": "b"}));
    assert_eq!(proxy.calls("UntagStage"), 0);
    // moto kept the stage's old tags: the plan shows them as a change.
    let plan = test.cairn(&["plan", &stack, "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    insta::assert_snapshot!("stage_tags_plan", plan.stdout);
    test.ok(&["destroy", &stack, "--auto-approve"]);
}

/// Issue 21: a route's identity (its key) lives inside its API. When a
/// CreateRoute's answer is lost after it took effect, cairn looks before
/// it sends it again, so each route exists once, even on an emulator that
/// takes a second route with the same key.
#[tokio::test(flavor = "multi_thread")]
async fn a_route_whose_answer_was_lost_is_made_once() {
    let test = Test::new();
    let aws = test.aws().await;
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("CreateRoute", Fault::LoseAnswer, 2)],
    );
    let mut routes = vec!["POST /chat", "GET /health", "GET /ready"];
    let stack = stage_stack(&test, "$default", true, 5, &routes);
    test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        &stack,
        "--auto-approve",
    ]);
    assert_eq!(proxy.lost(), 2);
    assert_eq!(proxy.calls("CreateRoute"), 3, "a lost route was sent again");
    routes.sort();
    assert_eq!(live_route_keys(&aws).await, routes);

    // An added route, its answer lost too.
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("CreateRoute", Fault::LoseAnswer, 1)],
    );
    routes.push("GET /status");
    let stack = stage_stack(&test, "$default", true, 5, &routes);
    test.ok(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        &stack,
        "--auto-approve",
    ]);
    assert_eq!(proxy.calls("CreateRoute"), 1);
    routes.sort();
    assert_eq!(live_route_keys(&aws).await, routes);
    assert_eq!(test.cairn(&["plan", &stack, "--detailed-exitcode"]).code, 0);
}

/// However a command ends after taking the shared lock, the lock is
/// released (by the CLI once the command has ended, not by a destructor):
/// a refusal, a failure from AWS, and success.
#[tokio::test(flavor = "multi_thread")]
async fn every_way_a_command_ends_releases_the_shared_lock() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["state", "init-backend", SHARED]);
    let refused = test.cairn(&["apply", SHARED]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("pass --auto-approve"),
        "{}",
        refused.stderr
    );
    assert!(shared_lock(&aws).await.is_none(), "a refusal kept the lock");
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("GetCallerIdentity", Fault::Unavailable, 1000)],
    );
    let failed = test.cairn_with(
        &["--endpoint-url", &proxy.endpoint(), "plan", SHARED],
        &[("CAIRN_RETRY_ATTEMPTS", "2")],
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("Error: GetCallerIdentity"),
        "{}",
        failed.stderr
    );
    assert!(shared_lock(&aws).await.is_none(), "a failure kept the lock");
    test.ok(&["plan", SHARED]);
    assert!(shared_lock(&aws).await.is_none(), "a success kept the lock");
}
