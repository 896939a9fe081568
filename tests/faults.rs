//! End-to-end tests under faults: throttling and unavailable answers, lost
//! answers, crashes mid-apply, failures and interruptions.
//! Each test starts its own emulator on a free loopback port and keeps
//! its own state directory.

mod common;
use common::*;
use std::process::{Command, Stdio};

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

/// cairn killed at any moment of an apply (with no chance to save state or
/// release its lock) never loses track of what it created: the next apply
/// adopts it instead of creating a duplicate.
#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_apply_the_next_apply_finishes_without_duplicates() {
    let test = Test::new();
    let aws = test.aws().await;
    // The worst moments: right after AWS created a resource, before the
    // state says so.
    kill_after_each_create(
        &test,
        &["apply", ALL, "--auto-approve"],
        &["dynamodb_table.table", "kms_key.key", "log_group.logs"],
    );
    // Their steps are in the journal beside the state, which the next run
    // replays.
    assert!(test.state_dir().join("t.journal.jsonl").exists());
    test.ok(&["apply", ALL, "--auto-approve"]);
    // A finished apply folds its journal into the document.
    assert!(!test.state_dir().join("t.journal.jsonl").exists());
    assert_eq!(test.cairn(&["plan", ALL, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, ONE_STACK);

    // And at moments chosen by the clock: SIGKILL during a full apply.
    test.ok(&["destroy", ALL, "--auto-approve"]);
    kill_after_each_delay(
        &test,
        &["apply", ALL, "--auto-approve"],
        &[150, 300, 450, 600],
    );
    test.ok(&["apply", ALL, "--auto-approve"]);
    assert_eq!(test.cairn(&["plan", ALL, "--detailed-exitcode"]).code, 0);
    assert_eq!(inventory(&aws).await, ONE_STACK);
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
