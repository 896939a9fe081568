//! End-to-end tests of the AI Nutritionist's edge types: EventBridge rules
//! with their targets, budgets, the WAF web ACL and its association. Each
//! test starts its own emulator on a free loopback port and keeps its own
//! state directory.

mod common;
use common::*;

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

/// A REST API made by hand, whose stage the web ACL fronts: its id.
async fn make_api(aws: &cairn::aws::Aws) -> String {
    aws.restapi()
        .create_rest_api()
        .name("chat")
        .send()
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_owned()
}

fn stage(api: &str) -> String {
    format!("arn:aws:apigateway:us-east-1::/restapis/{api}/stages/prod")
}

/// Every regional web ACL: (name, default action, rate limits by rule).
async fn acls(aws: &cairn::aws::Aws) -> Vec<(String, String, Vec<(String, i64)>)> {
    let listed = aws
        .wafv2()
        .list_web_acls()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for summary in listed.web_acls() {
        let acl = aws
            .wafv2()
            .get_web_acl()
            .scope(aws_sdk_wafv2::types::Scope::Regional)
            .name(summary.name().unwrap())
            .id(summary.id().unwrap())
            .send()
            .await
            .unwrap()
            .web_acl
            .unwrap();
        let default = if acl.default_action().unwrap().block().is_some() {
            "block"
        } else {
            "allow"
        };
        let rates = acl
            .rules()
            .iter()
            .filter_map(|r| {
                let rate = r.statement()?.rate_based_statement()?;
                Some((r.name().to_owned(), rate.limit()))
            })
            .collect();
        out.push((acl.name().to_owned(), default.to_owned(), rates));
    }
    out.sort();
    out
}

/// The name of the web ACL in front of `resource`, if any.
async fn fronting(aws: &cairn::aws::Aws, resource: &str) -> Option<String> {
    aws.wafv2()
        .get_web_acl_for_resource()
        .resource_arn(resource)
        .send()
        .await
        .unwrap()
        .web_acl
        .map(|a| a.name().to_owned())
}

fn acl(name: &str, default: &str, rate: i64) -> (String, String, Vec<(String, i64)>) {
    (
        name.to_owned(),
        default.to_owned(),
        vec![("per-ip".to_owned(), rate)],
    )
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

/// What moto cannot answer (500), served by the proxy: the subscribers of
/// every budget notification are the stack's defaults.
const SUBSCRIBERS: (&str, Fault, u32) = (
    "DescribeSubscribersForNotification",
    Fault::Json(
        "200 OK",
        r#"{"Subscribers":[{"SubscriptionType":"EMAIL","Address":"ops@example.com"},{"SubscriptionType":"EMAIL","Address":"team@example.com"},{"SubscriptionType":"SNS","Address":"arn:aws:sns:us-east-1:123456789012:alerts"}]}"#,
    ),
    100_000,
);

const ACCOUNT: &str = "123456789012";

/// Every budget with its notifications: (name, limit, [(type, threshold)]).
async fn budgets(aws: &cairn::aws::Aws) -> Vec<(String, String, Vec<(String, f64)>)> {
    let Ok(listed) = aws
        .budgets()
        .describe_budgets()
        .account_id(ACCOUNT)
        .send()
        .await
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for budget in listed.budgets() {
        let name = budget.budget_name().to_owned();
        let notifications = aws
            .budgets()
            .describe_notifications_for_budget()
            .account_id(ACCOUNT)
            .budget_name(&name)
            .send()
            .await
            .unwrap();
        let mut notifications: Vec<(String, f64)> = notifications
            .notifications()
            .iter()
            .map(|n| (n.notification_type().as_str().to_owned(), n.threshold()))
            .collect();
        notifications.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let limit = budget.budget_limit().unwrap().amount().to_owned();
        out.push((name, limit, notifications));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn alerts(actual: f64) -> Vec<(String, f64)> {
    vec![
        ("ACTUAL".to_owned(), actual),
        ("FORECASTED".to_owned(), 100.0),
    ]
}

fn input(label: &str) -> Option<String> {
    Some(format!(r#"{{"job":"plan-meals","label":"{label}"}}"#))
}

/// The rules and the budget through their whole life: created (the rule
/// with its targets and the function's permission), planned again with
/// nothing to do, changed in place (schedule, description, a target's
/// input, tags; a notification's threshold), changed by hand (a target
/// added, the rule disabled, a notification deleted: found, and put
/// back), an unmanaged rule carrying the stack's tags found by listing,
/// replaced by a new name, destroyed to nothing. The budget's subscribers,
/// which moto cannot describe, come from the proxy.
#[tokio::test(flavor = "multi_thread")]
async fn every_edge_type_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = write_zip(test.directory.path(), "a.zip", b"planner");
    let queue = make_queue(&aws).await;
    let api = make_api(&aws).await;
    let proxy = FaultProxy::start(&test.endpoint(), vec![SUBSCRIBERS]);
    let endpoint = proxy.endpoint();
    let base = [
        ("zip", zip.clone()),
        ("queue_arn", queue.clone()),
        ("api_id", api.clone()),
    ];
    let args = |first: &[&str], extra: &[(&str, &str)]| {
        let mut pairs: Vec<(&str, String)> = base.to_vec();
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut through: Vec<&str> = vec!["--endpoint-url", &endpoint];
        through.extend_from_slice(first);
        with_vars(&through, &pairs)
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
    assert_eq!(
        budgets(&aws).await,
        [(
            "cairn-test-t-monthly".to_owned(),
            "50".to_owned(),
            alerts(80.0)
        )]
    );
    assert_eq!(acls(&aws).await, [acl("cairn-test-t-api", "allow", 100)]);
    assert_eq!(
        fronting(&aws, &stage(&api)).await.as_deref(),
        Some("cairn-test-t-api")
    );

    // In place: the schedule, the description, a target's input, tags; a
    // notification's threshold.
    let second = [
        ("label", "second"),
        ("schedule", "rate(1 day)"),
        ("threshold", "90"),
        ("rate", "200"),
    ];
    let planned = test.ok(&strs(&args(&["plan", LIVES_EDGE], &second)));
    for address in [
        "event_rule.nightly",
        "budget.budget",
        "wafv2_web_acl.firewall",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} will be updated in-place")),
            "{address}:\n{}",
            planned.stdout
        );
    }
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
    assert_eq!(budgets(&aws).await[0].2, alerts(90.0));
    assert_eq!(acls(&aws).await, [acl("cairn-test-t-api", "allow", 200)]);

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
    aws.budgets()
        .delete_notification()
        .account_id(ACCOUNT)
        .budget_name("cairn-test-t-monthly")
        .notification(
            aws_sdk_budgets::types::Notification::builder()
                .notification_type(aws_sdk_budgets::types::NotificationType::Forecasted)
                .comparison_operator(aws_sdk_budgets::types::ComparisonOperator::GreaterThan)
                .threshold(100.0)
                .threshold_type(aws_sdk_budgets::types::ThresholdType::Percentage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let summary = aws
        .wafv2()
        .list_web_acls()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .send()
        .await
        .unwrap()
        .web_acls()[0]
        .clone();
    let current = aws
        .wafv2()
        .get_web_acl()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .name(summary.name().unwrap())
        .id(summary.id().unwrap())
        .send()
        .await
        .unwrap();
    let live = current.web_acl().unwrap();
    aws.wafv2()
        .update_web_acl()
        .scope(aws_sdk_wafv2::types::Scope::Regional)
        .name(live.name())
        .id(live.id())
        .lock_token(current.lock_token().unwrap())
        .default_action(
            aws_sdk_wafv2::types::DefaultAction::builder()
                .block(aws_sdk_wafv2::types::BlockAction::builder().build())
                .build(),
        )
        .set_rules(Some(live.rules().to_vec()))
        .set_visibility_config(live.visibility_config().cloned())
        .send()
        .await
        .unwrap();
    aws.wafv2()
        .disassociate_web_acl()
        .resource_arn(stage(&api))
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&strs(&args(&["drift", LIVES_EDGE], &second)));
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    for address in [
        "event_rule.nightly",
        "budget.budget",
        "wafv2_web_acl.firewall",
        "wafv2_web_acl_association.shield",
    ] {
        assert!(
            drift.stdout.contains(address),
            "{address}:\n{}",
            drift.stdout
        );
    }
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
    assert_eq!(budgets(&aws).await[0].2, alerts(90.0));
    assert_eq!(acls(&aws).await, [acl("cairn-test-t-api", "allow", 200)]);
    assert_eq!(
        fronting(&aws, &stage(&api)).await.as_deref(),
        Some("cairn-test-t-api")
    );

    // A new name replaces the rule, and the permission follows its ARN.
    let renamed = [
        ("label", "second"),
        ("schedule", "rate(1 day)"),
        ("threshold", "90"),
        ("rate", "200"),
        ("suffix", "-2"),
    ];
    let planned = test.ok(&strs(&args(&["plan", LIVES_EDGE], &renamed)));
    for address in [
        "event_rule.nightly",
        "budget.budget",
        "wafv2_web_acl.firewall",
        "wafv2_web_acl_association.shield",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} must be replaced")),
            "{address}:\n{}",
            planned.stdout
        );
    }
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
    assert_eq!(
        budgets(&aws).await,
        [(
            "cairn-test-t-monthly-2".to_owned(),
            "50".to_owned(),
            alerts(90.0)
        )]
    );
    assert_eq!(acls(&aws).await, [acl("cairn-test-t-api-2", "allow", 200)]);
    assert_eq!(
        fronting(&aws, &stage(&api)).await.as_deref(),
        Some("cairn-test-t-api-2")
    );
    let before_destroy = proxy.operations().len();

    test.ok(&strs(&args(
        &["destroy", LIVES_EDGE, "--auto-approve"],
        &renamed,
    )));
    assert_eq!(rules(&aws).await, ["cairn-test-t-stray"]);
    assert_eq!(budgets(&aws).await, []);
    assert_eq!(acls(&aws).await, []);
    assert_eq!(fronting(&aws, &stage(&api)).await, None);
    // AWS refuses to delete an associated ACL (moto does not): the
    // association went first.
    let destroyed = proxy.operations()[before_destroy..].to_vec();
    let at = |operation: &str| destroyed.iter().position(|o| o == operation).unwrap();
    assert!(
        at("DisassociateWebACL") < at("DeleteWebACL"),
        "{destroyed:?}"
    );
}

/// A lost answer to PutRule and to PutTargets: both are safe to repeat
/// (the rule is put by name, a target by id), so the apply ends with one
/// rule and its two targets. A lost CreateBudget: its repeat is refused as
/// a duplicate, and the budget is read and adopted. A lost CreateWebACL is
/// not sent again but found by name; AssociateWebACL is repeated (the same
/// pair again changes nothing). The next plan is empty.
#[tokio::test(flavor = "multi_thread")]
async fn rules_and_budgets_whose_answers_were_lost_are_made_once() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = write_zip(test.directory.path(), "a.zip", b"planner");
    let queue = make_queue(&aws).await;
    let api = make_api(&aws).await;
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("PutRule", Fault::LoseAnswer, 1),
            ("PutTargets", Fault::LoseAnswer, 1),
            ("CreateBudget", Fault::LoseAnswer, 1),
            ("CreateWebACL", Fault::LoseAnswer, 1),
            ("AssociateWebACL", Fault::LoseAnswer, 1),
            SUBSCRIBERS,
        ],
    );
    let endpoint = proxy.endpoint();
    let pairs = [("zip", zip), ("queue_arn", queue), ("api_id", api.clone())];
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
    assert_eq!(proxy.lost(), 5);
    // A second CreateWebACL would be refused as a duplicate: the ACL is
    // looked for by name instead, and adopted.
    assert_eq!(proxy.calls("CreateWebACL"), 1);
    assert_eq!(acls(&aws).await, [acl("cairn-test-t-api", "allow", 100)]);
    assert_eq!(proxy.calls("AssociateWebACL"), 2);
    assert_eq!(
        fronting(&aws, &stage(&api)).await.as_deref(),
        Some("cairn-test-t-api")
    );
    assert_eq!(proxy.calls("CreateBudget"), 2);
    assert_eq!(
        budgets(&aws).await,
        [(
            "cairn-test-t-monthly".to_owned(),
            "50".to_owned(),
            alerts(80.0)
        )]
    );
    assert!(proxy.calls("PutRule") >= 3, "PutRule was not repeated");
    assert_eq!(
        rules(&aws).await,
        ["cairn-test-t-nightly", "cairn-test-t-uploads"]
    );
    assert_eq!(targets(&aws, "cairn-test-t-nightly").await.len(), 2);
    let run = test.cairn(&strs(&with_vars(
        &[
            "--endpoint-url",
            &endpoint,
            "plan",
            LIVES_EDGE,
            "--detailed-exitcode",
        ],
        &pairs,
    )));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// moto answers 500 to UpdateBudget, CreateSubscriber and
/// DeleteSubscriber: the proxy answers them as AWS does, and what cairn
/// sent is checked: the new limit with the filters kept, and on each
/// notification the subscriber added and the one removed.
#[tokio::test(flavor = "multi_thread")]
async fn a_budget_update_sends_the_new_limit_and_subscribers() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = write_zip(test.directory.path(), "a.zip", b"planner");
    let queue = make_queue(&aws).await;
    let api = make_api(&aws).await;
    let done = Fault::Json("200 OK", "{}");
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            SUBSCRIBERS,
            ("UpdateBudget", done, 10),
            ("CreateSubscriber", done, 10),
            ("DeleteSubscriber", done, 10),
        ],
    );
    let endpoint = proxy.endpoint();
    let apply = [
        "--endpoint-url",
        &endpoint,
        "apply",
        LIVES_EDGE,
        "--auto-approve",
    ];
    let mut pairs = vec![("zip", zip), ("queue_arn", queue), ("api_id", api)];
    test.ok(&strs(&with_vars(&apply, &pairs)));
    assert_eq!(proxy.calls("UpdateBudget"), 0);
    pairs.extend([
        ("limit", "60".to_owned()),
        ("email", "new@example.com".to_owned()),
    ]);
    test.ok(&strs(&with_vars(&apply, &pairs)));
    let sent = |operation: &str| -> Vec<serde_json::Value> {
        proxy
            .bodies(operation)
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect()
    };
    let updates = sent("UpdateBudget");
    assert_eq!(updates.len(), 1);
    let budget = &updates[0]["NewBudget"];
    assert_eq!(updates[0]["AccountId"], ACCOUNT);
    assert_eq!(budget["BudgetName"], "cairn-test-t-monthly");
    assert_eq!(
        budget["BudgetLimit"],
        serde_json::json!({"Amount": "60", "Unit": "USD"})
    );
    assert_eq!(
        budget["CostFilters"],
        serde_json::json!({"Service": ["AWS Lambda"]})
    );
    assert_eq!(budget["TimeUnit"], "MONTHLY");
    let mut added: Vec<(String, String)> = sent("CreateSubscriber")
        .iter()
        .map(|b| {
            (
                b["Notification"]["NotificationType"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                b["Subscriber"]["Address"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    added.sort();
    assert_eq!(
        added,
        [
            ("ACTUAL".to_owned(), "new@example.com".to_owned()),
            ("FORECASTED".to_owned(), "new@example.com".to_owned())
        ]
    );
    let removed: Vec<String> = sent("DeleteSubscriber")
        .iter()
        .map(|b| b["Subscriber"]["Address"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(removed, ["team@example.com", "team@example.com"]);
}

/// A stale lock token: the ACL changed between cairn's read and its
/// update, and WAF refuses the update (`WAFOptimisticLockException`).
/// cairn reads the ACL again and sends the update with the new token.
#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lock_token_is_read_again_and_the_update_retried() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = write_zip(test.directory.path(), "a.zip", b"planner");
    let queue = make_queue(&aws).await;
    let api = make_api(&aws).await;
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            SUBSCRIBERS,
            (
                "UpdateWebACL",
                Fault::Json(
                    "400 Bad Request",
                    r#"{"__type":"WAFOptimisticLockException","Message":"AWS WAF couldn't save your changes because someone changed the resource after you started to edit it."}"#,
                ),
                1,
            ),
        ],
    );
    let endpoint = proxy.endpoint();
    let apply = [
        "--endpoint-url",
        &endpoint,
        "apply",
        LIVES_EDGE,
        "--auto-approve",
    ];
    let mut pairs = vec![("zip", zip), ("queue_arn", queue), ("api_id", api)];
    test.ok(&strs(&with_vars(&apply, &pairs)));
    let before = proxy.operations().len();
    pairs.push(("rate", "300".to_owned()));
    test.ok(&strs(&with_vars(&apply, &pairs)));
    assert_eq!(proxy.calls("UpdateWebACL"), 2);
    let waf: Vec<String> = proxy.operations()[before..]
        .iter()
        .filter(|o| o.ends_with("WebACL"))
        .cloned()
        .collect();
    // A read for the token before each attempt, and the read-back.
    assert_eq!(
        waf[waf.len() - 5..],
        [
            "GetWebACL",
            "UpdateWebACL",
            "GetWebACL",
            "UpdateWebACL",
            "GetWebACL"
        ]
    );
    let tokens: Vec<String> = proxy
        .bodies("UpdateWebACL")
        .iter()
        .map(|b| {
            let body: serde_json::Value = serde_json::from_str(b).unwrap();
            body["LockToken"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(tokens.iter().all(|t| !t.is_empty()), "{tokens:?}");
    assert_eq!(acls(&aws).await, [acl("cairn-test-t-api", "allow", 300)]);
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
        (
            "a target input of JSON text (Terraform's jsonencode), which would be encoded twice",
            rule("      schedule_expression: rate(1 day)\n      targets:\n        - { id: a, arn: \"arn:aws:sqs:us-east-1:1:q\", input: '{\"job\": \"daily\"}' }\n        - { id: b, arn: \"arn:aws:sqs:us-east-1:1:r\", input: '[1, 2]' }\n"),
        ),
        ("an empty event pattern", rule("      event_pattern: {}\n")),
        (
            "a pattern field with a single value, not a list",
            rule("      event_pattern: { source: aws.s3 }\n"),
        ),
        (
            "an empty match list and an empty nested field",
            rule("      event_pattern: { source: [], detail: {} }\n"),
        ),
        (
            "a list in a match list and an empty content filter",
            rule("      event_pattern: { source: [[aws.s3]], detail: { key: [{}] } }\n"),
        ),
    ];
    let budget = |properties: &str| {
        format!("  b:\n    type: budget\n    properties:\n      limit_amount: 50\n{properties}")
    };
    let alert = |extra: &str| {
        format!("      notifications:\n        - {{ notification_type: ACTUAL, threshold: 80, {extra} }}\n")
    };
    let emails: Vec<String> = (0..11).map(|i| format!("a{i}@example.com")).collect();
    let budgets = [
        ("a limit of 0", "  b:\n    type: budget\n    properties:\n      limit_amount: 0\n".to_owned()),
        ("a currency other than USD", budget("      limit_unit: EUR\n")),
        ("a cost filter on an unknown dimension", budget("      cost_filters: { Servce: [AWS Lambda] }\n")),
        ("a notification without subscribers", budget(&alert(""))),
        (
            "eleven email subscribers",
            budget(&alert(&format!("subscriber_email_addresses: [{}]", emails.join(", ")))),
        ),
        (
            "two SNS topics",
            budget(&alert("subscriber_sns_topic_arns: [\"arn:aws:sns:us-east-1:1:a\", \"arn:aws:sns:us-east-1:1:b\"]")),
        ),
        ("an email address that is not one", budget(&alert("subscriber_email_addresses: [ops]"))),
        (
            "the same notification twice",
            budget("      notifications:\n        - { notification_type: ACTUAL, threshold: 80, subscriber_email_addresses: [a@example.com] }\n        - { notification_type: ACTUAL, threshold: 80, subscriber_email_addresses: [b@example.com] }\n"),
        ),
        (
            "a forecast on a daily budget",
            budget("      time_unit: DAILY\n      notifications:\n        - { notification_type: FORECASTED, threshold: 100, subscriber_email_addresses: [a@example.com] }\n"),
        ),
    ];
    let firewall = |rules: &str| {
        format!("  w:\n    type: wafv2_web_acl\n    properties:\n      visibility_config: {{ metric_name: api }}\n      rules:\n{rules}")
    };
    let rate = |name: &str, priority: u32, limit: u32| {
        format!("        - {{ name: {name}, priority: {priority}, action: block, rate_limit: {limit}, visibility_config: {{ metric_name: {name} }} }}\n")
    };
    let group = "        - { name: common, priority: 2, managed_rule_group: { name: AWSManagedRulesCommonRuleSet }, visibility_config: { metric_name: common } }\n";
    let firewalls = [
        (
            "two rules at one priority (moto takes them)",
            firewall(&(rate("a", 1, 100) + &rate("b", 1, 100))),
        ),
        ("a rate limit under AWS's minimum of 10", firewall(&rate("a", 1, 9))),
        (
            "a rule with both a rate limit and a rule group",
            firewall("        - { name: a, priority: 1, action: block, rate_limit: 100, managed_rule_group: { name: AWSManagedRulesCommonRuleSet }, visibility_config: { metric_name: a } }\n"),
        ),
        (
            "an action on a rule group",
            firewall(&group.replace("priority: 2,", "priority: 2, action: block,")),
        ),
        (
            "a rate rule without its action",
            firewall(&rate("a", 1, 100).replace("action: block, ", "")),
        ),
        (
            "a metric name WAF keeps for itself",
            firewall(&rate("All", 1, 100)),
        ),
        (
            "an association with a CLOUDFRONT web ACL of the stack",
            "  acl:\n    type: wafv2_web_acl\n    properties:\n      scope: CLOUDFRONT\n      visibility_config: { metric_name: cdn }\n  x:\n    type: wafv2_web_acl_association\n    properties:\n      web_acl_arn: ${acl.arn}\n      resource_arn: \"arn:aws:apigateway:us-east-1::/restapis/abc/stages/dev\"\n".to_owned(),
        ),
        (
            "an association with a REST API rather than its stage",
            "  api:\n    type: rest_api\n    properties: { stage: { name: api } }\n  x:\n    type: wafv2_web_acl_association\n    properties:\n      web_acl_arn: \"arn:aws:wafv2:us-east-1:1:regional/webacl/api/1\"\n      resource_arn: ${api.arn}\n".to_owned(),
        ),
        (
            "an association with a function",
            "  role:\n    type: iam_role\n    properties:\n      assume_role_services: [lambda.amazonaws.com]\n  f:\n    type: lambda_function\n    properties:\n      code: { zip: missing.zip }\n      role_arn: ${role.arn}\n  x:\n    type: wafv2_web_acl_association\n    properties:\n      web_acl_arn: \"arn:aws:wafv2:us-east-1:1:regional/webacl/api/1\"\n      resource_arn: ${f.arn}\n".to_owned(),
        ),
        (
            "an association with something that is not a stage",
            "  x:\n    type: wafv2_web_acl_association\n    properties:\n      web_acl_arn: \"arn:aws:wafv2:us-east-1:1:regional/webacl/api/1\"\n      resource_arn: \"arn:aws:apigateway:us-east-1::/restapis/abc\"\n".to_owned(),
        ),
    ];
    let mut report = String::new();
    for (case, resources) in cases.into_iter().chain(budgets).chain(firewalls) {
        report.push_str(&format!("## {case}\n{}\n\n", refusal(&resources)));
    }
    insta::assert_snapshot!("edge_refused", report);
}
