//! End-to-end tests of the services with lives of their own: notifications,
//! secrets, databases, REST and HTTP APIs and their stages, key replacement,
//! regions, table indexes.
//! Each test starts its own emulator on a free loopback port and keeps
//! its own state directory.

mod common;
use common::*;

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
    kill_after_each_create(
        &test,
        &["apply", TOPIC, "--auto-approve"],
        &["sns_topic.alerts", "sns_subscription.oncall"],
    );
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
    kill_after_each_create(
        &test,
        &[&["apply", KEYS, "--auto-approve"][..], &third].concat(),
        &["api_key.key"],
    );
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

/// A patch replacing `path` with `value`, for API Gateway's updates.
fn replace(path: &str, value: &str) -> aws_sdk_apigateway::types::PatchOperation {
    aws_sdk_apigateway::types::PatchOperation::builder()
        .op(aws_sdk_apigateway::types::Op::Replace)
        .path(path)
        .value(value)
        .build()
}

const LIVES: &str = "tests/stacks/lives.yaml";

/// kms_alias, lambda_function, lambda_permission, http_api, sns_topic,
/// sns_subscription, log_metric_filter, secretsmanager_secret, rest_api,
/// api_key and usage_plan, each through its whole life: created, planned
/// again with nothing to do, changed in place (the alias moved to a new
/// key), changed or deleted by hand (found, and put back), replaced where
/// a field forces it, destroyed to nothing.
#[tokio::test(flavor = "multi_thread")]
async fn every_service_type_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let zip = write_zip(test.directory.path(), "function.zip", b"code");
    let vars = |more: &[&str]| -> Vec<String> {
        let mut vars = vec!["--var".to_owned(), format!("zip={zip}")];
        for var in more {
            vars.push("--var".to_owned());
            vars.push((*var).to_owned());
        }
        vars
    };
    let apply = ["apply", LIVES, "--auto-approve"];
    let quiet = |vars: &[String]| {
        let run = test.cairn(&arguments(&["plan", LIVES, "--detailed-exitcode"], vars));
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    };
    let first = vars(&[]);
    let created = test.ok(&arguments(&apply, &first));
    assert!(
        created.stdout.contains("Resources: 14 added"),
        "{}",
        created.stdout
    );
    quiet(&first);

    // In place: every one's description, pattern, filter or display name,
    // and the alias's key (the key is replaced).
    let second = vars(&["label=second", "key_spec=RSA_2048"]);
    let planned = test.ok(&arguments(&["plan", LIVES], &second));
    for address in [
        "kms_alias.alias",
        "lambda_function.function",
        "http_api.http",
        "sns_topic.topic",
        "sns_subscription.subscription",
        "log_metric_filter.filter",
        "secretsmanager_secret.secret",
        "rest_api.api",
        "api_key.key",
        "usage_plan.usage",
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

    // By hand: each changed or deleted, found as that resource's change.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    let id = |address: &str| {
        state["resources"][address]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    aws.kms()
        .delete_alias()
        .alias_name("alias/cairn-test-t-lives")
        .send()
        .await
        .unwrap();
    aws.lambda()
        .update_function_configuration()
        .function_name("cairn-test-t-function")
        .description("by hand")
        .send()
        .await
        .unwrap();
    aws.lambda()
        .remove_permission()
        .function_name("cairn-test-t-function")
        .statement_id("allow-topic")
        .send()
        .await
        .unwrap();
    aws.apigateway()
        .update_api()
        .api_id(id("http_api.http"))
        .description("by hand")
        .send()
        .await
        .unwrap();
    aws.sns()
        .set_topic_attributes()
        .topic_arn("arn:aws:sns:us-east-1:123456789012:cairn-test-t-topic")
        .attribute_name("DisplayName")
        .attribute_value("by hand")
        .send()
        .await
        .unwrap();
    aws.sns()
        .unsubscribe()
        .subscription_arn(id("sns_subscription.subscription"))
        .send()
        .await
        .unwrap();
    // moto keeps a filter put again under its name beside the old one
    // (AWS replaces it): deleted until none is left, as one is on AWS.
    while metric_filters(&aws).await > 0 {
        aws.logs()
            .delete_metric_filter()
            .log_group_name("/cairn-test/t/lives")
            .filter_name("errors")
            .send()
            .await
            .unwrap();
    }
    aws.secretsmanager()
        .update_secret()
        .secret_id("cairn-test-t-secret")
        .description("by hand")
        .send()
        .await
        .unwrap();
    let rest = aws.restapi();
    rest.update_rest_api()
        .rest_api_id(id("rest_api.api"))
        .patch_operations(replace("/description", "by hand"))
        .send()
        .await
        .unwrap();
    rest.update_api_key()
        .api_key(id("api_key.key"))
        .patch_operations(replace("/description", "by hand"))
        .send()
        .await
        .unwrap();
    rest.update_usage_plan()
        .usage_plan_id(id("usage_plan.usage"))
        .patch_operations(replace("/description", "by hand"))
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&arguments(&["plan", LIVES, "--detailed-exitcode"], &second));
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    for (address, found) in [
        ("kms_alias.alias", "has been deleted"),
        ("lambda_function.function", "has changed"),
        ("lambda_permission.permission", "has been deleted"),
        ("http_api.http", "has changed"),
        ("sns_topic.topic", "has changed"),
        ("sns_subscription.subscription", "has been deleted"),
        ("log_metric_filter.filter", "has been deleted"),
        ("secretsmanager_secret.secret", "has changed"),
        ("rest_api.api", "has changed"),
        ("api_key.key", "has changed"),
        ("usage_plan.usage", "has changed"),
    ] {
        assert!(
            drift.stdout.contains(&format!("# {address} {found}")),
            "{address} {found}:\n{}",
            drift.stdout
        );
    }
    test.ok(&arguments(&apply, &second));
    quiet(&second);

    // Replaced: a field of each that AWS cannot change.
    let renamed = vars(&["label=second", "key_spec=RSA_2048", "suffix=-b"]);
    let planned = test.ok(&arguments(&["plan", LIVES], &renamed));
    for address in [
        "kms_alias.alias",
        "lambda_function.function",
        "lambda_permission.permission",
        "sns_topic.topic",
        "sns_subscription.subscription",
        "log_metric_filter.filter",
        "secretsmanager_secret.secret",
        "rest_api.api",
        "api_key.key",
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
        (
            topics(&aws).await,
            subscriptions(&aws).await,
            metric_filters(&aws).await
        ),
        (1, 1, 1)
    );

    test.ok(&arguments(&["destroy", LIVES, "--auto-approve"], &renamed));
    assert_eq!(inventory(&aws).await, NOTHING);
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
    let secrets = aws.secretsmanager().list_secrets().send().await.unwrap();
    assert!(secrets.secret_list().is_empty());
}

/// A tag the stack stops giving is removed from every taggable type, and
/// a changed one is set anew (each type's `Tagging`: untag, then tag): the
/// plan after is empty, as it reads every resource's tags back from AWS.
#[tokio::test(flavor = "multi_thread")]
async fn a_tag_left_out_of_the_stack_leaves_every_type() {
    let test = Test::new();
    // Not `lives.yaml`: moto answers API Gateway's UntagResource on an
    // API's or a key's ARN with 404 (tags work there on stage ARNs only).
    for (stack, taggable) in [
        ("tests/stacks/all.yaml", 7),
        ("tests/stacks/lives-network.yaml", 10),
    ] {
        let text = std::fs::read_to_string(stack).unwrap();
        let file = test.directory.path().join("tagged.yaml");
        let file = file.to_str().unwrap();
        let with_tags = |tags: &str| {
            std::fs::write(file, format!("{text}\ntags: {tags}\n")).unwrap();
        };
        let variables: &[String] = &[];
        with_tags("{ team: first, gone: soon }");
        test.ok(&arguments(&["apply", file, "--auto-approve"], variables));
        with_tags("{ team: second }");
        let changed = test.ok(&arguments(&["apply", file, "--auto-approve"], variables));
        assert!(
            changed.stdout.contains(&format!(
                "Resources: 0 added, {taggable} changed, 0 destroyed"
            )),
            "{stack}: {}",
            changed.stdout
        );
        let after = test.cairn(&arguments(
            &["plan", file, "--detailed-exitcode"],
            variables,
        ));
        assert_eq!(after.code, 0, "{stack}: {}{}", after.stdout, after.stderr);
        test.ok(&arguments(&["destroy", file, "--auto-approve"], variables));
    }
}
