//! End-to-end tests of the queue types (issue 25): SQS queues, the
//! mappings that feed functions from queues and streams, a function's
//! dead-letter target and environment key, a table's stream. Each test
//! starts its own emulator on a free loopback port; AWS behaviour moto
//! lacks goes through the fault proxy.

mod common;
use common::*;
use std::collections::BTreeMap;

const LIVES_QUEUES: &str = "tests/stacks/lives-queues.yaml";
const STREAM: &str = "tests/stacks/lives-queues-stream.yaml";
const FUNCTION: &str = "tests/stacks/lives-queues-function.yaml";
const MALFORMED: &str = "tests/stacks/lives-queues-malformed.yaml";

/// `--var` arguments after `first`.
fn with_vars(first: &[&str], pairs: &[(&str, &str)]) -> Vec<String> {
    first
        .iter()
        .map(|s| (*s).to_owned())
        .chain(
            pairs
                .iter()
                .flat_map(|(k, v)| ["--var".to_owned(), format!("{k}={v}")]),
        )
        .collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The queues on the emulator, by name.
async fn queue_names(aws: &cairn::aws::Aws) -> Vec<String> {
    let listed = aws.sqs().list_queues().send().await.unwrap();
    let mut names: Vec<String> = listed
        .queue_urls()
        .iter()
        .filter_map(|url| url.rsplit('/').next().map(str::to_owned))
        .collect();
    names.sort();
    names
}

async fn queue_attributes(aws: &cairn::aws::Aws, name: &str) -> BTreeMap<String, String> {
    let url = aws
        .sqs()
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    aws.sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
        .collect()
}

async fn mappings(
    aws: &cairn::aws::Aws,
) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
    aws.lambda()
        .list_event_source_mappings()
        .send()
        .await
        .unwrap()
        .event_source_mappings()
        .to_vec()
}

fn zip_var(test: &Test) -> (String, String) {
    let zip = write_zip(test.directory.path(), "f.zip", b"code");
    ("zip".to_owned(), zip)
}

/// Queues, a function they feed and a table's stream through their whole
/// life: created, planned again with nothing to do, changed in place,
/// changed by hand (found, and put back), replaced by new names,
/// destroyed to nothing.
#[tokio::test(flavor = "multi_thread")]
async fn every_queue_type_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let (zip_key, zip) = zip_var(&test);
    let base = [(zip_key.as_str(), zip.as_str())];
    let apply = |pairs: &[(&str, &str)]| {
        let args = with_vars(&["apply", LIVES_QUEUES, "--auto-approve"], pairs);
        test.ok(&strs(&args));
    };
    let plan = |pairs: &[(&str, &str)]| {
        let args = with_vars(&["plan", LIVES_QUEUES, "--detailed-exitcode"], pairs);
        test.cairn(&strs(&args))
    };
    let quiet = |pairs: &[(&str, &str)]| {
        let run = plan(pairs);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    };
    apply(&base);
    quiet(&base);
    let drift = test.cairn(&strs(&with_vars(&["drift", LIVES_QUEUES], &base)));
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);

    let work = queue_attributes(&aws, "cairn-test-t-work").await;
    assert_eq!(work["VisibilityTimeout"], "60");
    assert_eq!(work["ReceiveMessageWaitTimeSeconds"], "20");
    let redrive: serde_json::Value = serde_json::from_str(&work["RedrivePolicy"]).unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        "arn:aws:sqs:us-east-1:123456789012:cairn-test-t-dead"
    );
    assert_eq!(redrive["maxReceiveCount"], 5);
    assert!(work["Policy"].contains("sqs:SendMessage"));
    let dead = queue_attributes(&aws, "cairn-test-t-dead").await;
    assert!(dead["KmsMasterKeyId"].starts_with("arn:aws:kms:"));
    assert_eq!(dead["KmsDataKeyReusePeriodSeconds"], "600");
    assert_eq!(dead["MessageRetentionPeriod"], "1209600");
    let ordered = queue_attributes(&aws, "cairn-test-t-ordered.fifo").await;
    assert_eq!(ordered["FifoQueue"], "true");
    assert_eq!(ordered["ContentBasedDeduplication"], "true");
    let found = mappings(&aws).await;
    assert_eq!(found.len(), 2);
    let from_queue = found
        .iter()
        .find(|m| m.event_source_arn().unwrap().contains(":sqs:"))
        .unwrap();
    assert_eq!(from_queue.batch_size(), Some(10));
    assert_eq!(from_queue.maximum_batching_window_in_seconds(), Some(5));
    assert_eq!(
        from_queue.scaling_config().unwrap().maximum_concurrency(),
        Some(5)
    );
    assert_eq!(
        from_queue.function_response_types(),
        [aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures]
    );
    let from_stream = found
        .iter()
        .find(|m| m.event_source_arn().unwrap().contains(":dynamodb:"))
        .unwrap();
    assert_eq!(
        from_stream.batch_size(),
        Some(100),
        "AWS's default for a stream"
    );
    let table = aws
        .dynamodb()
        .describe_table()
        .table_name("cairn-test-t-table")
        .send()
        .await
        .unwrap();
    let table = table.table().unwrap();
    assert_eq!(
        from_stream.event_source_arn(),
        table.latest_stream_arn(),
        "the mapping reads the table's stream"
    );

    // In place: tags, the visibility timeout, the batch, on/off.
    let second = [
        (zip_key.as_str(), zip.as_str()),
        ("label", "second"),
        ("visibility", "90"),
        ("batch", "20"),
        ("enabled", "false"),
    ];
    let planned = plan(&second);
    assert_eq!(planned.code, 2, "{}{}", planned.stdout, planned.stderr);
    for address in [
        "sqs_queue.dead",
        "sqs_queue.work",
        "lambda_function.function",
        "lambda_event_source_mapping.from_queue",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} will be updated in-place")),
            "{address}:\n{}",
            planned.stdout
        );
    }
    apply(&second);
    quiet(&second);
    let work = queue_attributes(&aws, "cairn-test-t-work").await;
    assert_eq!(work["VisibilityTimeout"], "90");
    assert!(
        work["Policy"].contains("sqs:SendMessage"),
        "the policy survives a change of another attribute"
    );
    let from_queue = aws
        .lambda()
        .get_event_source_mapping()
        .uuid(from_queue.uuid().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(from_queue.batch_size(), Some(20));
    assert_eq!(from_queue.state(), Some("Disabled"));

    // By hand: the queue's timeout and dead-letter queue, the mapping's
    // batch, the table's stream; found, and put back.
    let url = aws
        .sqs()
        .get_queue_url()
        .queue_name("cairn-test-t-work")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    aws.sqs()
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "45",
        )
        .attributes(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy, "")
        .send()
        .await
        .unwrap();
    aws.lambda()
        .update_event_source_mapping()
        .uuid(from_queue.uuid().unwrap())
        .batch_size(7)
        .send()
        .await
        .unwrap();
    let report = test.cairn(&strs(&with_vars(&["drift", LIVES_QUEUES], &second)));
    assert_eq!(report.code, 2, "{}{}", report.stdout, report.stderr);
    for address in ["sqs_queue.work", "lambda_event_source_mapping.from_queue"] {
        assert!(
            report.stdout.contains(address),
            "{address}:\n{}",
            report.stdout
        );
    }
    let drift = plan(&second);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    for address in ["sqs_queue.work", "lambda_event_source_mapping.from_queue"] {
        assert!(
            drift.stdout.contains(&format!("# {address} has changed")),
            "{address}:\n{}",
            drift.stdout
        );
    }
    apply(&second);
    quiet(&second);
    let work = queue_attributes(&aws, "cairn-test-t-work").await;
    assert_eq!(work["VisibilityTimeout"], "90");
    assert!(work["RedrivePolicy"].contains("cairn-test-t-dead"));

    // Replaced: new names, and the mapping from the new queue.
    let renamed = [
        (zip_key.as_str(), zip.as_str()),
        ("label", "second"),
        ("visibility", "90"),
        ("batch", "20"),
        ("enabled", "false"),
        ("suffix", "-b"),
    ];
    let planned = plan(&renamed);
    for address in [
        "sqs_queue.dead",
        "sqs_queue.work",
        "sqs_queue.ordered",
        "sqs_queue.ordered_dead",
        "lambda_event_source_mapping.from_queue",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} must be replaced")),
            "{address}:\n{}",
            planned.stdout
        );
    }
    apply(&renamed);
    quiet(&renamed);
    assert_eq!(
        queue_names(&aws).await,
        [
            "cairn-test-t-dead-b",
            "cairn-test-t-ordered-b.fifo",
            "cairn-test-t-ordered-dead-b.fifo",
            "cairn-test-t-work-b"
        ]
    );
    let found = mappings(&aws).await;
    assert_eq!(found.len(), 2, "the old queue's mapping is gone");
    assert!(found.iter().any(|m| m
        .event_source_arn()
        .unwrap()
        .ends_with(":cairn-test-t-work-b")));

    let args = with_vars(&["destroy", LIVES_QUEUES, "--auto-approve"], &renamed);
    test.ok(&strs(&args));
    assert!(queue_names(&aws).await.is_empty());
    assert!(mappings(&aws).await.is_empty());
}

/// A stream is enabled and disabled in place. (A new view type disables
/// the stream and enables another; moto refuses to enable a table's stream
/// a second time, so that is not run here.)
#[tokio::test(flavor = "multi_thread")]
async fn a_tables_stream_changes_in_place() {
    let test = Test::new();
    let aws = test.aws().await;
    let run = |args: &[&str], pairs: &[(&str, &str)]| {
        let all = with_vars(args, pairs);
        test.ok(&strs(&all))
    };
    let described = || async {
        aws.dynamodb()
            .describe_table()
            .table_name("cairn-test-t-events")
            .send()
            .await
            .unwrap()
            .table()
            .unwrap()
            .clone()
    };
    run(&["apply", STREAM, "--auto-approve"], &[]);
    assert!(described()
        .await
        .stream_specification()
        .is_none_or(|s| !s.stream_enabled()));
    for (enabled, view) in [("true", "NEW_IMAGE"), ("false", "")] {
        let pairs = [("stream", enabled), ("view", view)];
        let planned = run(&["plan", STREAM], &pairs);
        assert!(
            planned
                .stdout
                .contains("# dynamodb_table.events will be updated in-place"),
            "{}",
            planned.stdout
        );
        run(&["apply", STREAM, "--auto-approve"], &pairs);
        let table = described().await;
        let stream = table.stream_specification().filter(|s| s.stream_enabled());
        assert_eq!(stream.is_some(), enabled == "true");
        if let Some(stream) = stream {
            assert_eq!(stream.stream_view_type().unwrap().as_str(), view);
            let other = run(
                &["plan", STREAM],
                &[("stream", "true"), ("view", "KEYS_ONLY")],
            );
            assert!(
                other.stdout.contains("# (disables the stream and enables a new one with a new `stream_arn`; a mapping that reads the old stream is replaced by the next apply)"),
                "{}",
                other.stdout
            );
        }
        let quiet = test.cairn(&strs(&with_vars(
            &["plan", STREAM, "--detailed-exitcode"],
            &pairs,
        )));
        assert_eq!(quiet.code, 0, "{}{}", quiet.stdout, quiet.stderr);
    }
    run(&["destroy", STREAM, "--auto-approve"], &[]);
}

/// A queue moves from SQS's own key to a KMS key and back, in place.
#[tokio::test(flavor = "multi_thread")]
async fn a_queue_changes_its_key_in_place() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", STREAM, "--auto-approve"]);
    for key in ["alias/queues", ""] {
        let pairs = [("queue_key", key)];
        let planned = test.ok(&strs(&with_vars(&["plan", STREAM], &pairs)));
        assert!(
            planned
                .stdout
                .contains("# sqs_queue.inbox will be updated in-place"),
            "{}",
            planned.stdout
        );
        test.ok(&strs(&with_vars(
            &["apply", STREAM, "--auto-approve"],
            &pairs,
        )));
        let attributes = queue_attributes(&aws, "cairn-test-t-inbox").await;
        assert_eq!(
            attributes.get("KmsMasterKeyId").map_or("", String::as_str),
            key
        );
        let quiet = test.cairn(&strs(&with_vars(
            &["plan", STREAM, "--detailed-exitcode"],
            &pairs,
        )));
        assert_eq!(quiet.code, 0, "{}{}", quiet.stdout, quiet.stderr);
    }
}

/// AWS keeps a deleted queue's name for 60 seconds (`QueueDeletedRecently`,
/// which moto never says): cairn waits it out and creates the queue then.
#[tokio::test(flavor = "multi_thread")]
async fn a_queue_name_deleted_recently_is_waited_out() {
    let test = Test::new();
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![(
            "CreateQueue",
            Fault::Json(
                "400 Bad Request\r\nx-amzn-query-error: AWS.SimpleQueueService.QueueDeletedRecently;Sender",
                r#"{"__type":"com.amazonaws.sqs#QueueDeletedRecently","message":"You must wait 60 seconds after deleting a queue before you can create another queue with the same name."}"#,
            ),
            2,
        )],
    );
    let run = test.cairn_with(
        &["apply", STREAM, "--auto-approve"],
        &[("AWS_ENDPOINT_URL", &proxy.endpoint())],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(proxy.calls("CreateQueue"), 3, "refused twice, then made");
    let aws = test.aws().await;
    assert_eq!(queue_names(&aws).await, ["cairn-test-t-inbox"]);
}

/// Creates whose answers are lost: the queue's repeat answers the same
/// queue, and the mapping (whose id AWS assigns) is found by its source and
/// function instead of being sent again.
#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_make_no_second_queue_or_mapping() {
    let test = Test::new();
    let (zip_key, zip) = zip_var(&test);
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("CreateQueue", Fault::LoseAnswer, 2),
            ("CreateEventSourceMapping", Fault::LoseAnswer, 2),
        ],
    );
    let args = with_vars(
        &["apply", LIVES_QUEUES, "--auto-approve"],
        &[(zip_key.as_str(), zip.as_str())],
    );
    let run = test.cairn_with(&strs(&args), &[("AWS_ENDPOINT_URL", &proxy.endpoint())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(proxy.lost(), 4);
    assert_eq!(
        proxy.calls("CreateEventSourceMapping"),
        2,
        "each mapping sent once, then found"
    );
    let aws = test.aws().await;
    assert_eq!(mappings(&aws).await.len(), 2);
    assert_eq!(queue_names(&aws).await.len(), 4);
    let quiet = test.cairn(&strs(&with_vars(
        &["plan", LIVES_QUEUES, "--detailed-exitcode"],
        &[(zip_key.as_str(), zip.as_str())],
    )));
    assert_eq!(quiet.code, 0, "{}{}", quiet.stdout, quiet.stderr);
}

/// moto keeps neither a function's dead-letter target nor its
/// environment's key, nor a queue's redrive allow policy: what cairn sends
/// for them is checked in the requests.
#[tokio::test(flavor = "multi_thread")]
async fn what_moto_does_not_keep_is_sent() {
    let test = Test::new();
    let (zip_key, zip) = zip_var(&test);
    let proxy = FaultProxy::start(&test.endpoint(), Vec::new());
    let args = with_vars(
        &["apply", FUNCTION, "--auto-approve"],
        &[(zip_key.as_str(), zip.as_str())],
    );
    let run = test.cairn_with(&strs(&args), &[("AWS_ENDPOINT_URL", &proxy.endpoint())]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let created = proxy.bodies("CreateFunction");
    let body: serde_json::Value = serde_json::from_str(&created[0]).unwrap();
    assert_eq!(
        body["DeadLetterConfig"]["TargetArn"],
        "arn:aws:sqs:us-east-1:123456789012:cairn-test-t-failed"
    );
    assert!(body["KMSKeyArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:kms:us-east-1:123456789012:key/"));
    let allowed: Vec<serde_json::Value> = proxy
        .bodies("CreateQueue")
        .iter()
        .filter_map(|b| {
            let body: serde_json::Value = serde_json::from_str(b).ok()?;
            let policy = body["Attributes"]["RedriveAllowPolicy"].as_str()?;
            serde_json::from_str(policy).ok()
        })
        .collect();
    assert_eq!(
        allowed,
        [serde_json::json!({
            "redrivePermission": "byQueue",
            "sourceQueueArns": ["arn:aws:sqs:us-east-1:123456789012:cairn-test-t-plain"],
        })]
    );
}

/// What AWS refuses of queues and mappings, refused before any call, each
/// naming its file, line and field.
#[test]
fn malformed_queues_are_refused_at_validate() {
    let test = Test::offline();
    let run = test.cairn(&["validate", MALFORMED]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!("malformed_queues", run.stderr);
}

/// checkov reads the plan with a reviewer's verdicts: the queues are
/// encrypted, the function has a dead-letter queue and its environment a
/// KMS key.
#[test]
fn checkov_passes_encrypted_queues_and_a_function_with_a_dead_letter_queue() {
    let test = Test::new();
    let (zip_key, zip) = zip_var(&test);
    let args = with_vars(
        &["plan", FUNCTION, "--json"],
        &[(zip_key.as_str(), zip.as_str())],
    );
    let run = test.cairn(&strs(&args));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let file = test.directory.path().join("plan.json");
    std::fs::write(&file, &run.stdout).unwrap();
    let venv = python_tools(
        "terraform-consumers",
        &["checkov==3.3.30", "terraform-compliance==1.16.0"],
    );
    let output = std::process::Command::new(venv.join("bin/checkov"))
        .args([
            "--framework",
            "terraform_plan",
            "--skip-download",
            "-o",
            "json",
            "-f",
        ])
        .arg(&file)
        .current_dir(test.directory.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let verdicts = |kind: &str| -> Vec<(String, String)> {
        report["results"][kind]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["check_id"].as_str().unwrap().to_owned(),
                    c["resource"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let passed = verdicts("passed_checks");
    let failed = verdicts("failed_checks");
    for (check, address) in [
        ("CKV_AWS_27", "aws_sqs_queue.failed"),
        ("CKV_AWS_27", "aws_sqs_queue.plain"),
        ("CKV_AWS_116", "aws_lambda_function.worker"),
        ("CKV_AWS_173", "aws_lambda_function.worker"),
    ] {
        assert!(
            passed.contains(&(check.to_owned(), address.to_owned())),
            "{check} {address}: passed {passed:?}\nfailed {failed:?}"
        );
    }
}
