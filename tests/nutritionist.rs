//! Tests of the fourth seed system, `stacks/nutritionist`: the AI
//! Nutritionist's core (a private frontend behind CloudFront, the
//! webhooks' REST API behind a firewall in prod, a queue of failed
//! messages feeding a processor, a daily planner, tables with streams,
//! alarms on the queues, a budget). Each test starts its own emulator on a
//! free loopback port.

mod common;
use common::*;
use std::path::Path;

const DEV: &str = "stacks/nutritionist/dev.yaml";
const PROD: &str = "stacks/nutritionist/prod.yaml";

/// A copy of `stacks/nutritionist` in the test's directory, to break; the
/// file of `environment`.
fn copy_stack(test: &Test, environment: &str) -> String {
    let to = test.directory.path().join("nutritionist");
    std::fs::create_dir_all(&to).unwrap();
    let from = Path::new(&manifest_dir()).join("stacks/nutritionist");
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to.join(format!("{environment}.yaml")).display().to_string()
}

/// moto answers 500 to DescribeSubscribersForNotification (a budget
/// notification's subscribers): the proxy answers with the dev stack's.
const SUBSCRIBERS: (&str, Fault, u32) = (
    "DescribeSubscribersForNotification",
    Fault::Json(
        "200 OK",
        r#"{"Subscribers":[{"SubscriptionType":"EMAIL","Address":"dev-team@example.com"},{"SubscriptionType":"SNS","Address":"arn:aws:sns:us-east-1:123456789012:ai-nutritionist-dev-alerts"}]}"#,
    ),
    1_000_000,
);

fn state(test: &Test, environment: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(test.state_dir().join(format!("{environment}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What the emulator holds of the kinds this stack makes, those above 0.
async fn leftovers(aws: &cairn::aws::Aws) -> Vec<(&'static str, usize)> {
    let buckets = aws
        .s3()
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .len();
    let distributions = aws
        .cloudfront()
        .list_distributions()
        .send()
        .await
        .unwrap()
        .distribution_list()
        .map_or(0, |list| list.items().len());
    let access_controls = aws
        .cloudfront()
        .list_origin_access_controls()
        .send()
        .await
        .unwrap()
        .origin_access_control_list()
        .map_or(0, |list| list.items().len());
    let queues = aws
        .sqs()
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls()
        .len();
    let mappings = aws
        .lambda()
        .list_event_source_mappings()
        .send()
        .await
        .unwrap()
        .event_source_mappings()
        .len();
    let rules = aws
        .eventbridge()
        .list_rules()
        .send()
        .await
        .unwrap()
        .rules()
        .len();
    let mut acls = 0;
    for (scope, region) in [
        (aws_sdk_wafv2::types::Scope::Regional, None),
        (aws_sdk_wafv2::types::Scope::Cloudfront, Some("us-east-1")),
    ] {
        let regional = aws.in_region(region);
        let client = regional.as_deref().unwrap_or(aws).wafv2();
        acls += client
            .list_web_acls()
            .scope(scope)
            .send()
            .await
            .unwrap()
            .web_acls()
            .len();
    }
    let (account, _) = aws.identity().await.unwrap();
    let budgets = aws
        .budgets()
        .describe_budgets()
        .account_id(account)
        .send()
        .await
        .unwrap()
        .budgets()
        .len();
    let rest_apis = aws
        .restapi()
        .get_rest_apis()
        .send()
        .await
        .unwrap()
        .items()
        .len();
    let mut found = vec![
        ("buckets", buckets),
        ("distributions", distributions),
        ("origin access controls", access_controls),
        ("queues", queues),
        ("event source mappings", mappings),
        ("rules", rules),
        ("web ACLs", acls),
        ("budgets", budgets),
        ("REST APIs", rest_apis),
    ];
    found.extend(
        inventory(aws)
            .await
            .into_iter()
            .filter(|(kind, _)| *kind != "kms keys"),
    );
    found.retain(|(_, count)| *count > 0);
    found
}

/// The AI Nutritionist, end to end in dev: apply; the frontend is
/// encrypted with its key, blocked from the public and readable only by
/// this distribution; the failed-messages queue sends to the dead-letter
/// queue after 3 receives and feeds the processor; the planner runs every
/// morning; the next plan is empty; a queue and the bucket's policy
/// changed by hand are drift that apply puts back; destroy refuses a
/// frontend with objects while `force_destroy` is off, saying what to do,
/// and with it on leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_nutritionist_lives_its_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let proxy = FaultProxy::keeping_function_settings(&test.endpoint(), vec![SUBSCRIBERS]);
    let endpoint = proxy.endpoint();
    let cairn = |args: &[&str]| test.cairn(&[&["--endpoint-url", &endpoint][..], args].concat());
    let ok = |args: &[&str]| {
        let run = cairn(args);
        assert_eq!(
            run.code, 0,
            "cairn {args:?}:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    };
    let dev = DEV;
    ok(&["apply", dev, "--auto-approve"]);
    let again = cairn(&["plan", dev, "--detailed-exitcode", "--stats"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    // A plan reads and changes nothing (S3's HeadBucket is a read).
    assert!(again.stderr.contains(" 0 mutating"), "{}", again.stderr);
    // What moto does not keep (the proxy answers with it, as AWS would)
    // was sent: three handlers send their failures to the dead-letter
    // queue, all four encrypt their environment with the app's key.
    let created: Vec<serde_json::Value> = proxy
        .bodies("CreateFunction")
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    let dead_letters = created
        .iter()
        .filter(|body| {
            body["DeadLetterConfig"]["TargetArn"]
                .as_str()
                .is_some_and(|arn| arn.ends_with("-dead-letters"))
        })
        .count();
    let encrypted = created
        .iter()
        .filter(|body| {
            body["KMSKeyArn"]
                .as_str()
                .is_some_and(|arn| arn.contains(":key/"))
        })
        .count();
    assert_eq!((created.len(), dead_letters, encrypted), (4, 3, 4));

    let state = state(&test, "dev");
    let output = |address: &str, name: &str| -> String {
        state["resources"][address]["outputs"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{address} has no output {name}"))
            .to_owned()
    };
    let bucket = state["resources"]["s3_bucket.frontend"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s3 = aws.s3();
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(
        default.kms_master_key_id(),
        Some(output("kms_key.frontend_key", "arn").as_str())
    );
    let blocked = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let blocked = blocked.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            blocked.block_public_acls(),
            blocked.ignore_public_acls(),
            blocked.block_public_policy(),
            blocked.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let policy = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let distribution_arn = output("cloudfront_distribution.cdn", "arn");
    assert_eq!(
        policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"],
        distribution_arn.as_str()
    );

    let sqs = aws.sqs();
    let failed_url = output("sqs_queue.failed_messages", "url");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&failed_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attribute = |name: aws_sdk_sqs::types::QueueAttributeName| {
        attributes.attributes().unwrap()[&name].clone()
    };
    let redrive: serde_json::Value = serde_json::from_str(&attribute(
        aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
    ))
    .unwrap();
    assert_eq!(
        redrive["deadLetterTargetArn"],
        output("sqs_queue.dead_letters", "arn").as_str()
    );
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "3"
    );
    assert_eq!(
        attribute(aws_sdk_sqs::types::QueueAttributeName::KmsMasterKeyId),
        output("kms_key.queue_key", "arn")
    );
    let mappings = aws
        .lambda()
        .list_event_source_mappings()
        .send()
        .await
        .unwrap();
    let mapping = &mappings.event_source_mappings()[0];
    assert_eq!(
        mapping.event_source_arn(),
        Some(output("sqs_queue.failed_messages", "arn").as_str())
    );
    assert_eq!(
        mapping.function_arn(),
        Some(output("lambda_function.processor", "arn").as_str())
    );
    assert_eq!(mapping.batch_size(), Some(10));
    let rules = aws.eventbridge().list_rules().send().await.unwrap();
    assert_eq!(
        rules.rules()[0].schedule_expression(),
        Some("cron(0 9 * * ? *)")
    );
    // dev has the CDN's firewall only; the budget is 50 USD.
    assert!(!state["resources"]
        .as_object()
        .unwrap()
        .contains_key("wafv2_web_acl.api_firewall"));
    let (account, _) = aws.identity().await.unwrap();
    let budgets = aws
        .budgets()
        .describe_budgets()
        .account_id(account)
        .send()
        .await
        .unwrap();
    let limit = budgets.budgets()[0].budget_limit().unwrap();
    assert_eq!((limit.amount(), limit.unit()), ("50", "USD"));

    // Out of band: the queue's visibility shortened, the bucket opened to
    // another distribution.
    sqs.set_queue_attributes()
        .queue_url(&failed_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "30",
        )
        .send()
        .await
        .unwrap();
    let opened = serde_json::to_string(&serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Elsewhere", "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/EOTHER"}}
        }]
    }))
    .unwrap();
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(opened)
        .send()
        .await
        .unwrap();
    // The bucket itself changed too (its versioning suspended), so that
    // apply updates it while its policy, kept apart, is still the one
    // written by hand: the bucket's state must not take that policy in.
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = cairn(&["drift", dev]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("s3_bucket.frontend"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("sqs_queue.failed_messages"),
        "{}",
        drift.stdout
    );
    assert!(
        drift.stdout.contains("s3_bucket_policy.frontend_policy"),
        "{}",
        drift.stdout
    );
    ok(&["apply", dev, "--auto-approve"]);
    // Put back: nothing left to plan, no drift, and no note of changes
    // made outside cairn.
    let settled = cairn(&["plan", dev, "--detailed-exitcode"]);
    assert_eq!(settled.code, 0, "{}{}", settled.stdout, settled.stderr);
    assert!(
        !settled.stdout.contains("changed outside"),
        "{}",
        settled.stdout
    );
    let drift = cairn(&["drift", dev]);
    assert_eq!(drift.code, 0, "{}{}", drift.stdout, drift.stderr);
    let visibility = sqs
        .get_queue_attributes()
        .queue_url(&failed_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    assert_eq!(
        visibility.attributes().unwrap()
            [&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout],
        "300",
        "apply put the stack's visibility timeout back"
    );
    let policy = s3.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"],
        distribution_arn.as_str(),
        "apply put the policy of this distribution back"
    );

    // A frontend with objects, force_destroy off: destroy stops there,
    // saying what to do, and the next destroy with it on finishes.
    s3.put_object()
        .bucket(&bucket)
        .key("index.html")
        .body(b"<h1>plans</h1>".to_vec().into())
        .send()
        .await
        .unwrap();
    let keep = ["--var", "force_destroy_frontend=false"];
    ok(&[&["apply", dev, "--auto-approve"][..], &keep].concat());
    let refused = cairn(&[&["destroy", dev, "--auto-approve"][..], &keep].concat());
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("force_destroy"),
        "{}",
        refused.stderr
    );
    assert!(
        state_has(&test, "dev", "s3_bucket.frontend"),
        "the bucket left the state"
    );
    ok(&["apply", dev, "--auto-approve"]);
    ok(&["destroy", dev, "--auto-approve"]);
    assert_eq!(leftovers(&aws).await, Vec::<(&str, usize)>::new());
}

fn state_has(test: &Test, environment: &str, address: &str) -> bool {
    state(test, environment)["resources"]
        .as_object()
        .is_some_and(|resources| resources.contains_key(address))
}

/// prod has the firewall in front of the API, on its stage; dev does not.
#[tokio::test(flavor = "multi_thread")]
async fn prod_puts_a_firewall_in_front_of_the_api() {
    let test = Test::new();
    let dev_plan = test.ok(&["plan", DEV]).stdout;
    let prod_plan = test.ok(&["plan", PROD]).stdout;
    for address in [
        "wafv2_web_acl.api_firewall",
        "wafv2_web_acl_association.api_firewall_on_stage",
    ] {
        assert!(!dev_plan.contains(address), "{dev_plan}");
        assert!(
            prod_plan.contains(&format!("# {address} will be created")),
            "{prod_plan}"
        );
    }
}

/// What AWS would refuse in the shipped stack is refused at validate,
/// naming the file, line and field.
#[test]
fn validate_refuses_what_aws_would() {
    let test = Test::offline();
    let dev = copy_stack(&test, "dev");
    let base = Path::new(&dev).with_file_name("base.yaml");
    let shipped = std::fs::read_to_string(&base).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "a bucket name S3 refuses",
            "      versioning: true\n",
            "      name: Frontend_Bucket\n      versioning: true\n",
        ),
        (
            "a bucket policy that names another bucket",
            "Resource: ${frontend.arn}/*",
            "Resource: arn:aws:s3:::someone-elses-bucket/*",
        ),
        (
            "a public bucket policy while public access is blocked",
            "Principal: { Service: cloudfront.amazonaws.com }\n            Action: s3:GetObject",
            "Principal: \"*\"\n            Action: s3:GetObject",
        ),
        (
            "a transition to STANDARD_IA under 30 days",
            "        - id: tidy\n",
            "        - id: tidy\n          transitions: [{ days: 7, storage_class: STANDARD_IA }]\n",
        ),
        (
            "a retention SQS refuses",
            "message_retention_seconds: 604800",
            "message_retention_seconds: 30",
        ),
        (
            "a FIFO queue sending to a standard dead-letter queue",
            "      visibility_timeout_seconds: 300\n",
            "      name: ${project}-${env}-failed.fifo\n      fifo_queue: true\n      visibility_timeout_seconds: 300\n",
        ),
        (
            "a schedule EventBridge cannot read",
            "daily_planning: { default: \"cron(0 9 * * ? *)\" }",
            "daily_planning: { default: \"cron(0 9 * * * *)\" }",
        ),
        (
            "two firewall rules of one priority",
            "          priority: 2\n          managed_rule_group: { name: AWSManagedRulesCommonRuleSet }\n          visibility_config: { metric_name: \"${project}-cf-common",
            "          priority: 1\n          managed_rule_group: { name: AWSManagedRulesCommonRuleSet }\n          visibility_config: { metric_name: \"${project}-cf-common",
        ),
        (
            "a rate limit under AWS's minimum",
            "cdn_rate_limit: { default: 10000",
            "cdn_rate_limit: { default: 5",
        ),
        (
            "a processor that outlives its queue's visibility",
            "      memory_size: 512\n      timeout: 300\n",
            "      memory_size: 512\n      timeout: 900\n",
        ),
    ];
    let mut report = String::new();
    for (name, from, to) in cases {
        assert!(
            shipped.contains(from),
            "{name}: `{from}` is not in the stack"
        );
        std::fs::write(&base, shipped.replacen(from, to, 1)).unwrap();
        let run = test.cairn(&["validate", &dev]);
        assert_eq!(run.code, 1, "{name}: {}\n{}", run.stdout, run.stderr);
        let root = test.directory.path().display().to_string();
        report.push_str(&format!(
            "== {name}\n{}\n",
            run.stderr.replace(&root, "[dir]")
        ));
    }
    std::fs::write(&base, &shipped).unwrap();
    test.ok(&["validate", &dev]);
    insta::assert_snapshot!(report);
}

/// `scripts/nutritionist.sh`, the README's command for this seed, runs to
/// its end on a fresh emulator of its own.
#[test]
fn the_nutritionist_script_runs_end_to_end() {
    let output = std::process::Command::new("bash")
        .arg("scripts/nutritionist.sh")
        .current_dir(manifest_dir())
        .env("CAIRN_BIN", env!("CARGO_BIN_EXE_cairn"))
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("nothing left"), "{stdout}");
}
