//! End-to-end tests of drift: reports, accepted drift, refresh-only, import,
//! and quiet after apply.
//! Each test starts its own emulator on a free loopback port and keeps
//! its own state directory.

mod common;
use common::*;

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
