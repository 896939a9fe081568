//! End-to-end tests of the AI Nutritionist's edge types: EventBridge rules
//! with their targets, budgets, the WAF web ACL and its association. Each
//! test starts its own emulator on a free loopback port and keeps its own
//! state directory.

mod common;
use common::*;
use std::path::Path;

const LIVES_EDGE: &str = "tests/stacks/lives-edge.yaml";

/// `first` then `--var k=v` for each pair.
fn with_vars(first: &[&str], pairs: &[(&str, String)]) -> Vec<String> {
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

/// A queue made by hand, as the rule's second target: its ARN.
async fn make_queue(aws: &cairn::aws::Aws) -> String {
    let url = aws
        .sqs()
        .create_queue()
        .queue_name("cairn-test-t-jobs")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    aws.sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone()
}

/// The rules on the default bus, by name.
async fn rules(aws: &cairn::aws::Aws) -> Vec<String> {
    let listed = aws.eventbridge().list_rules().send().await.unwrap();
    let mut names: Vec<String> = listed
        .rules()
        .iter()
        .filter_map(|r| r.name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// A rule's targets: (id, arn, input).
async fn targets(aws: &cairn::aws::Aws, rule: &str) -> Vec<(String, String, Option<String>)> {
    let listed = aws
        .eventbridge()
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .unwrap();
    let mut out: Vec<(String, String, Option<String>)> = listed
        .targets()
        .iter()
        .map(|t| {
            (
                t.id().to_owned(),
                t.arn().to_owned(),
                t.input().map(str::to_owned),
            )
        })
        .collect();
    out.sort();
    out
}

/// The planner function's policy statements: (principal, source ARN).
async fn permissions(aws: &cairn::aws::Aws) -> Vec<(String, String)> {
    let policy = aws
        .lambda()
        .get_policy()
        .function_name("cairn-test-t-planner")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Principal"]["Service"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                s["Condition"]["ArnLike"]["AWS:SourceArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn input(label: &str) -> Option<String> {
    Some(format!(r#"{{"job":"plan-meals","label":"{label}"}}"#))
}

/// The rules through their whole life: created with their targets and the
/// function's permission, planned again with nothing to do, changed in
/// place (schedule, description, a target's input, tags), changed by hand
/// (a target added, the rule disabled: found, and put back), an unmanaged
/// rule carrying the stack's tags found by listing, replaced by a new name,
/// destroyed to nothing.
#[tokio::test(flavor = "multi_thread")]
async fn every_edge_type_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = write_zip(test.directory.path(), "a.zip", b"planner");
    let queue = make_queue(&aws).await;
    let base = [("zip", zip.clone()), ("queue_arn", queue.clone())];
    let args = |first: &[&str], extra: &[(&str, &str)]| {
        let mut pairs: Vec<(&str, String)> = base.to_vec();
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        with_vars(first, &pairs)
    };
    let apply = ["apply", LIVES_EDGE, "--auto-approve"];
    let plan = ["plan", LIVES_EDGE, "--detailed-exitcode"];
    let quiet = |extra: &[(&str, &str)]| {
        let run = test.cairn(&strs(&args(&plan, extra)));
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    };
    test.ok(&strs(&args(&apply, &[])));
    quiet(&[]);
    assert_eq!(
        rules(&aws).await,
        ["cairn-test-t-nightly", "cairn-test-t-uploads"]
    );
    let nightly = aws
        .eventbridge()
        .describe_rule()
        .name("cairn-test-t-nightly")
        .send()
        .await
        .unwrap();
    assert_eq!(nightly.schedule_expression(), Some("cron(0 6 * * ? *)"));
    assert_eq!(nightly.description(), Some("first"));
    let function_arn = aws
        .lambda()
        .get_function()
        .function_name("cairn-test-t-planner")
        .send()
        .await
        .unwrap()
        .configuration()
        .unwrap()
        .function_arn()
        .unwrap()
        .to_owned();
    assert_eq!(
        targets(&aws, "cairn-test-t-nightly").await,
        [
            ("planner".to_owned(), function_arn.clone(), input("first")),
            ("queue".to_owned(), queue.clone(), None),
        ]
    );
    assert_eq!(
        permissions(&aws).await,
        [(
            "events.amazonaws.com".to_owned(),
            nightly.arn().unwrap().to_owned()
        )]
    );
    let uploads = aws
        .eventbridge()
        .describe_rule()
        .name("cairn-test-t-uploads")
        .send()
        .await
        .unwrap();
    assert_eq!(
        uploads.state(),
        Some(&aws_sdk_eventbridge::types::RuleState::Disabled)
    );
    let pattern: serde_json::Value =
        serde_json::from_str(uploads.event_pattern().unwrap()).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({"source": ["aws.s3"], "detail-type": ["Object Created"]})
    );

    // In place: the schedule, the description, a target's input, tags.
    let second = [("label", "second"), ("schedule", "rate(1 day)")];
    let planned = test.ok(&strs(&args(&["plan", LIVES_EDGE], &second)));
    assert!(
        planned
            .stdout
            .contains("# event_rule.nightly will be updated in-place"),
        "{}",
        planned.stdout
    );
    test.ok(&strs(&args(&apply, &second)));
    quiet(&second);
    let nightly = aws
        .eventbridge()
        .describe_rule()
        .name("cairn-test-t-nightly")
        .send()
        .await
        .unwrap();
    assert_eq!(nightly.schedule_expression(), Some("rate(1 day)"));
    assert_eq!(
        targets(&aws, "cairn-test-t-nightly").await[0].2,
        input("second")
    );
    let tags = aws
        .eventbridge()
        .list_tags_for_resource()
        .resource_arn(nightly.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == "label" && t.value() == "second"));

    // By hand: a target added, the rule disabled; and a rule of nobody's
    // carrying the stack's tags, which only a listing of rules finds.
    aws.eventbridge()
        .put_targets()
        .rule("cairn-test-t-nightly")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("by-hand")
                .arn(&queue)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    aws.eventbridge()
        .disable_rule()
        .name("cairn-test-t-nightly")
        .send()
        .await
        .unwrap();
    let mut stray = aws
        .eventbridge()
        .put_rule()
        .name("cairn-test-t-stray")
        .schedule_expression("rate(5 minutes)");
    for (k, v) in [
        ("cairn:stack", "cairn-test"),
        ("cairn:environment", "t"),
        ("cairn:address", "event_rule.stray"),
    ] {
        stray = stray.tags(
            aws_sdk_eventbridge::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .unwrap(),
        );
    }
    stray.send().await.unwrap();
    let drift = test.cairn(&strs(&args(&["drift", LIVES_EDGE], &second)));
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("event_rule.nightly"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("rule/cairn-test-t-stray"),
        "{}",
        drift.stdout
    );
    test.ok(&strs(&args(&apply, &second)));
    quiet(&second);
    assert_eq!(targets(&aws, "cairn-test-t-nightly").await.len(), 2);
    let nightly = aws
        .eventbridge()
        .describe_rule()
        .name("cairn-test-t-nightly")
        .send()
        .await
        .unwrap();
    assert_eq!(
        nightly.state(),
        Some(&aws_sdk_eventbridge::types::RuleState::Enabled)
    );

    // A new name replaces the rule, and the permission follows its ARN.
    let renamed = [
        ("label", "second"),
        ("schedule", "rate(1 day)"),
        ("suffix", "-2"),
    ];
    let planned = test.ok(&strs(&args(&["plan", LIVES_EDGE], &renamed)));
    assert!(
        planned
            .stdout
            .contains("# event_rule.nightly must be replaced"),
        "{}",
        planned.stdout
    );
    test.ok(&strs(&args(&apply, &renamed)));
    quiet(&renamed);
    assert_eq!(
        rules(&aws).await,
        [
            "cairn-test-t-nightly-2",
            "cairn-test-t-stray",
            "cairn-test-t-uploads"
        ]
    );
    let arn = aws
        .eventbridge()
        .describe_rule()
        .name("cairn-test-t-nightly-2")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    assert_eq!(
        permissions(&aws).await,
        [("events.amazonaws.com".to_owned(), arn)]
    );

    test.ok(&strs(&args(
        &["destroy", LIVES_EDGE, "--auto-approve"],
        &renamed,
    )));
    assert_eq!(rules(&aws).await, ["cairn-test-t-stray"]);
    assert!(Path::new(&test.state_dir()).exists());
}

/// A lost answer to PutRule and to PutTargets: both are safe to repeat
/// (the rule is put by name, a target by id), so the apply ends with one
/// rule and its two targets, and the next plan is empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_rule_whose_answers_were_lost_is_made_once() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = write_zip(test.directory.path(), "a.zip", b"planner");
    let queue = make_queue(&aws).await;
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("PutRule", Fault::LoseAnswer, 1),
            ("PutTargets", Fault::LoseAnswer, 1),
        ],
    );
    let endpoint = proxy.endpoint();
    let pairs = [("zip", zip), ("queue_arn", queue)];
    test.ok(&strs(&with_vars(
        &[
            "--endpoint-url",
            &endpoint,
            "apply",
            LIVES_EDGE,
            "--auto-approve",
        ],
        &pairs,
    )));
    assert_eq!(proxy.lost(), 2);
    assert!(proxy.calls("PutRule") >= 3, "PutRule was not repeated");
    assert_eq!(
        rules(&aws).await,
        ["cairn-test-t-nightly", "cairn-test-t-uploads"]
    );
    assert_eq!(targets(&aws, "cairn-test-t-nightly").await.len(), 2);
    let run = test.cairn(&strs(&with_vars(
        &["plan", LIVES_EDGE, "--detailed-exitcode"],
        &pairs,
    )));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// Compiles a stack of `resources` in-process: its diagnostics, with the
/// temporary directory left out.
fn refusal(resources: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(
        &path,
        format!("project: p\nenvironment: dev\nresources:\n{resources}"),
    )
    .unwrap();
    match cairn::stack::load(
        cairn::types::catalog(),
        &path,
        &cairn::stack::VariableOverrides::new(),
    ) {
        Ok(_) => panic!("accepted:\n{resources}"),
        Err(diagnostics) => diagnostics
            .to_string()
            .replace(&format!("{}/", dir.path().display()), ""),
    }
}

/// What EventBridge, Budgets and WAF would refuse (and moto takes), refused
/// at validate with the file, line and field.
#[test]
fn what_aws_would_refuse_is_refused_at_validate() {
    let rule =
        |properties: &str| format!("  r:\n    type: event_rule\n    properties:\n{properties}");
    let cases = [
        (
            "a cron expression moto takes",
            rule("      schedule_expression: cron(bogus)\n"),
        ),
        (
            "day-of-month and day-of-week both given",
            rule("      schedule_expression: cron(0 12 * * MON *)\n"),
        ),
        (
            "an hour out of range",
            rule("      schedule_expression: cron(0 24 * * ? *)\n"),
        ),
        (
            "a plural unit for 1",
            rule("      schedule_expression: rate(1 hours)\n"),
        ),
        (
            "a singular unit for 5",
            rule("      schedule_expression: rate(5 minute)\n"),
        ),
        ("neither schedule nor pattern", rule("      description: idle\n")),
        (
            "both schedule and pattern",
            rule("      schedule_expression: rate(1 day)\n      event_pattern: { source: [aws.s3] }\n"),
        ),
        (
            "a schedule on another bus",
            rule("      schedule_expression: rate(1 day)\n      event_bus_name: orders\n"),
        ),
        (
            "a target id given twice",
            rule("      schedule_expression: rate(1 day)\n      targets:\n        - { id: a, arn: \"arn:aws:sqs:us-east-1:1:q\" }\n        - { id: a, arn: \"arn:aws:sqs:us-east-1:1:r\" }\n"),
        ),
        (
            "a target that is not an ARN",
            rule("      schedule_expression: rate(1 day)\n      targets: [{ id: a, arn: my-queue }]\n"),
        ),
        (
            "a state EventBridge does not have",
            rule("      schedule_expression: rate(1 day)\n      state: PAUSED\n"),
        ),
    ];
    let mut report = String::new();
    for (case, resources) in cases {
        report.push_str(&format!("## {case}\n{}\n\n", refusal(&resources)));
    }
    insta::assert_snapshot!("edge_refused", report);
}
