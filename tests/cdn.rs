//! End-to-end tests of the CDN types: an origin access control and a
//! CloudFront distribution. Each test starts its own emulator on a free
//! loopback port and keeps its own state directory. What moto does not do
//! (a new ETag after each change, a distribution that deploys for minutes,
//! refusing to delete an enabled one) is made by the fault proxy.

mod common;
use common::*;

const LIVES_CDN: &str = "tests/stacks/lives-cdn.yaml";

fn label(value: &str) -> String {
    format!("label={value}")
}

/// Every distribution's id and every origin access control's id.
async fn cdn_inventory(aws: &cairn::aws::Aws) -> (Vec<String>, Vec<String>) {
    let cloudfront = aws.cloudfront();
    let distributions = cloudfront.list_distributions().send().await.unwrap();
    let distributions = distributions
        .distribution_list()
        .map(|l| l.items().iter().map(|d| d.id().to_owned()).collect())
        .unwrap_or_default();
    let controls = cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    let controls = controls
        .origin_access_control_list()
        .map(|l| l.items().iter().map(|o| o.id().to_owned()).collect())
        .unwrap_or_default();
    (distributions, controls)
}

async fn only_distribution(aws: &cairn::aws::Aws) -> aws_sdk_cloudfront::types::Distribution {
    let (distributions, _) = cdn_inventory(aws).await;
    assert_eq!(distributions.len(), 1, "{distributions:?}");
    aws.cloudfront()
        .get_distribution()
        .id(&distributions[0])
        .send()
        .await
        .unwrap()
        .distribution
        .unwrap()
}

/// Created as the stack says; planned again with nothing to do; changed in
/// place (a description, the comment, a TTL, tags); changed by hand and
/// found by `cairn drift`, then put back by apply; destroyed to nothing.
/// Neither type has a field that forces a replacement.
#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_types_live_their_whole_life() {
    let test = Test::new();
    let aws = test.aws().await;
    let quiet = |value: &str| {
        let run = test.cairn(&[
            "plan",
            LIVES_CDN,
            "--detailed-exitcode",
            "--var",
            &label(value),
        ]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    };
    test.ok(&["apply", LIVES_CDN, "--auto-approve"]);
    quiet("first");
    let distribution = only_distribution(&aws).await;
    let config = distribution.distribution_config().unwrap();
    assert!(config.caller_reference().starts_with("cairn-"));
    assert!(config.enabled());
    assert_eq!(config.comment(), "frontend (first)");
    assert_eq!(config.origins().unwrap().items().len(), 2);
    assert_eq!(config.cache_behaviors().unwrap().items().len(), 2);
    assert_eq!(
        config.web_acl_id(),
        Some("arn:aws:wafv2:us-east-1:123456789012:global/webacl/frontend/a1b2c3d4")
    );
    let tags = aws
        .cloudfront()
        .list_tags_for_resource()
        .resource(distribution.arn())
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = tags
        .tags()
        .unwrap()
        .items()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
        .collect();
    assert!(tags.contains(&("label".into(), "first".into())), "{tags:?}");
    assert!(
        tags.contains(&("cairn:address".into(), "cloudfront_distribution.cdn".into())),
        "{tags:?}"
    );

    // In place.
    let planned = test.ok(&["plan", LIVES_CDN, "--var", &label("second")]);
    for address in [
        "cloudfront_origin_access_control.access",
        "cloudfront_distribution.cdn",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} will be updated in-place")),
            "{address}:\n{}",
            planned.stdout
        );
    }
    test.ok(&[
        "apply",
        LIVES_CDN,
        "--auto-approve",
        "--var",
        &label("second"),
        "--var",
        "ttl=60",
    ]);
    let run = test.cairn(&[
        "plan",
        LIVES_CDN,
        "--detailed-exitcode",
        "--var",
        &label("second"),
        "--var",
        "ttl=60",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let distribution = only_distribution(&aws).await;
    let config = distribution.distribution_config().unwrap().clone();
    assert_eq!(config.comment(), "frontend (second)");
    #[allow(deprecated)]
    let ttl = config.default_cache_behavior().unwrap().default_ttl();
    assert_eq!(ttl, Some(60));

    // By hand: the comment and a restriction, found and put back.
    let current = aws
        .cloudfront()
        .get_distribution_config()
        .id(distribution.id())
        .send()
        .await
        .unwrap();
    let mut changed = current.distribution_config().unwrap().clone();
    changed.comment = "by hand".into();
    aws.cloudfront()
        .update_distribution()
        .id(distribution.id())
        .if_match(current.e_tag().unwrap())
        .distribution_config(changed)
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&[
        "drift",
        LIVES_CDN,
        "--var",
        &label("second"),
        "--var",
        "ttl=60",
    ]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift.stdout.contains("cloudfront_distribution.cdn"),
        "{}",
        drift.stdout
    );
    assert!(drift.stdout.contains("by hand"), "{}", drift.stdout);
    test.ok(&[
        "apply",
        LIVES_CDN,
        "--auto-approve",
        "--var",
        &label("second"),
        "--var",
        "ttl=60",
    ]);
    let distribution = only_distribution(&aws).await;
    assert_eq!(
        distribution.distribution_config().unwrap().comment(),
        "frontend (second)"
    );

    test.ok(&["destroy", LIVES_CDN, "--auto-approve"]);
    assert_eq!(cdn_inventory(&aws).await, (vec![], vec![]));
}

/// A create whose answer is lost after AWS made it: the repeat makes no
/// second distribution (the caller reference is the same) and no second
/// access control (found by its name), and the next plan is empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_answer_makes_no_second_distribution() {
    let test = Test::new();
    let aws = test.aws().await;
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("CreateOriginAccessControl", Fault::LoseAnswer, 1),
            ("CreateDistributionWithTags", Fault::LoseAnswer, 1),
        ],
    );
    let endpoint = proxy.endpoint();
    until_ok(
        &test,
        &[
            "--endpoint-url",
            &endpoint,
            "apply",
            LIVES_CDN,
            "--auto-approve",
        ],
        3,
    );
    assert_eq!(proxy.lost(), 2);
    assert_eq!(
        proxy.calls("CreateDistributionWithTags"),
        2,
        "{:?}",
        proxy.operations()
    );
    let (distributions, controls) = cdn_inventory(&aws).await;
    assert_eq!((distributions.len(), controls.len()), (1, 1));
    let run = test.cairn(&["plan", LIVES_CDN, "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

const PRECONDITION_FAILED: &str = r#"<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>PreconditionFailed</Code><Message>The request failed because it didn't meet the preconditions in one or more request-header fields.</Message></Error><RequestId>fault</RequestId></ErrorResponse>"#;

/// moto never changes an ETag and takes a stale one: the proxy gives each
/// read a new ETag and refuses the first update as AWS refuses a stale
/// one. The update carries the ETag of the read just before it, and after
/// the refusal reads again and sends the new one.
#[tokio::test(flavor = "multi_thread")]
async fn updates_carry_the_etag_of_the_latest_read() {
    let test = Test::new();
    test.ok(&["apply", LIVES_CDN, "--auto-approve"]);
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("GetDistributionConfig", Fault::Header("ETag", "E-FIRST"), 1),
            (
                "UpdateDistribution",
                Fault::Xml("412 Precondition Failed", PRECONDITION_FAILED),
                1,
            ),
            (
                "GetDistributionConfig",
                Fault::Header("ETag", "E-SECOND"),
                10,
            ),
            (
                "GetOriginAccessControl",
                Fault::Header("ETag", "O-LATEST"),
                100,
            ),
        ],
    );
    let endpoint = proxy.endpoint();
    test.ok(&[
        "--endpoint-url",
        &endpoint,
        "apply",
        LIVES_CDN,
        "--auto-approve",
        "--var",
        &label("second"),
    ]);
    assert_eq!(
        proxy.headers("UpdateDistribution", "If-Match"),
        vec![Some("E-FIRST".to_owned()), Some("E-SECOND".to_owned())],
        "{:?}",
        proxy.operations()
    );
    // Read again and sent again at once, not left to the engine's
    // recovery from a failed update (a whole read and a converge).
    let operations = proxy.operations();
    let updates: Vec<usize> = (0..operations.len())
        .filter(|i| operations[*i] == "UpdateDistribution")
        .collect();
    assert_eq!(
        operations[updates[0] + 1..updates[1]],
        ["GetDistributionConfig"],
        "{operations:?}"
    );
    assert_eq!(
        proxy.headers("UpdateOriginAccessControl", "If-Match"),
        vec![Some("O-LATEST".to_owned())]
    );
    let run = test.cairn(&[
        "plan",
        LIVES_CDN,
        "--detailed-exitcode",
        "--var",
        &label("second"),
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// moto deletes an enabled distribution at once; AWS refuses until it is
/// disabled and deployed. Through the proxy, the disabled distribution
/// reports `InProgress` twice, then `Deployed`: cairn disables it, waits,
/// and only then deletes it, with the ETag of its last read.
#[tokio::test(flavor = "multi_thread")]
async fn a_distribution_is_disabled_and_deployed_before_it_is_deleted() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", LIVES_CDN, "--auto-approve"]);
    // How many reads come before the disable.
    let probe = FaultProxy::start(&test.endpoint(), vec![]);
    let endpoint = probe.endpoint();
    test.ok(&[
        "--endpoint-url",
        &endpoint,
        "destroy",
        LIVES_CDN,
        "--auto-approve",
    ]);
    let operations = probe.operations();
    let disable = operations
        .iter()
        .position(|o| o == "UpdateDistribution")
        .expect("disabled");
    let before = operations[..disable]
        .iter()
        .filter(|o| *o == "GetDistribution")
        .count() as u32;

    test.ok(&["apply", LIVES_CDN, "--auto-approve"]);
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![
            ("GetDistribution", Fault::Header("ETag", "E-READ"), before),
            (
                "GetDistribution",
                Fault::Rewrite("<Status>Deployed</Status>", "<Status>InProgress</Status>"),
                2,
            ),
            ("GetDistribution", Fault::Header("ETag", "E-DEPLOYED"), 1),
        ],
    );
    let endpoint = proxy.endpoint();
    test.ok(&[
        "--endpoint-url",
        &endpoint,
        "destroy",
        LIVES_CDN,
        "--auto-approve",
    ]);
    let operations = proxy.operations();
    let disable = operations
        .iter()
        .position(|o| o == "UpdateDistribution")
        .expect("disabled");
    let delete = operations
        .iter()
        .position(|o| o == "DeleteDistribution")
        .expect("deleted");
    assert!(disable < delete, "{operations:?}");
    let polls = operations[disable..delete]
        .iter()
        .filter(|o| *o == "GetDistribution")
        .count();
    assert_eq!(polls, 3, "{operations:?}");
    let body = &proxy.bodies("UpdateDistribution")[0];
    assert!(body.contains("<Enabled>false</Enabled>"), "{body}");
    assert_eq!(
        proxy.headers("DeleteDistribution", "If-Match"),
        vec![Some("E-DEPLOYED".to_owned())]
    );
    // The access control goes after the distribution that used it.
    let control = operations
        .iter()
        .position(|o| o == "DeleteOriginAccessControl")
        .unwrap();
    assert!(delete < control, "{operations:?}");
    assert_eq!(cdn_inventory(&aws).await, (vec![], vec![]));
}

/// moto's distributions are `Deployed` at once; through the proxy a new
/// one reports `InProgress` twice. An apply waits for `Deployed` (the
/// polls after the create), and with `wait_for_deployment: false` returns
/// after one read.
#[tokio::test(flavor = "multi_thread")]
async fn creates_wait_for_deployed_unless_told_not_to() {
    let polls_after_create = |wait: &str| -> usize {
        let test = Test::new();
        let proxy = FaultProxy::start(
            &test.endpoint(),
            vec![(
                "GetDistribution",
                Fault::Rewrite("<Status>Deployed</Status>", "<Status>InProgress</Status>"),
                2,
            )],
        );
        let endpoint = proxy.endpoint();
        let wait = format!("wait={wait}");
        test.ok(&[
            "--endpoint-url",
            &endpoint,
            "apply",
            LIVES_CDN,
            "--auto-approve",
            "--var",
            &wait,
        ]);
        let operations = proxy.operations();
        let create = operations
            .iter()
            .position(|o| o == "CreateDistributionWithTags")
            .expect("created");
        operations[create..]
            .iter()
            .filter(|o| *o == "GetDistribution")
            .count()
    };
    assert_eq!(polls_after_create("true"), 4);
    assert_eq!(polls_after_create("false"), 1);
}

/// An ACM certificate for an alias, with SNI and a minimum protocol
/// version: kept as written (the next plan is empty), its version changed
/// in place, destroyed.
#[test]
fn an_acm_viewer_certificate_lives_its_whole_life() {
    let test = Test::new();
    let write = |version: &str| -> String {
        let extra = format!(
            "      aliases: [www.example.com]\n      viewer_certificate:\n        acm_certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c\n        minimum_protocol_version: {version}\n"
        );
        let path = test.directory.path().join(format!("acm-{version}.yaml"));
        let text =
            distribution_stack(NO_CHANGE, &extra).replace("environment: dev", "environment: t");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let first = write("TLSv1.2_2021");
    test.ok(&["apply", &first, "--auto-approve"]);
    let run = test.cairn(&["plan", &first, "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let second = write("TLSv1.2_2019");
    let planned = test.ok(&["plan", &second]);
    assert!(
        planned
            .stdout
            .contains("# cloudfront_distribution.cdn will be updated in-place"),
        "{}",
        planned.stdout
    );
    test.ok(&["apply", &second, "--auto-approve"]);
    let run = test.cairn(&["plan", &second, "--detailed-exitcode"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    test.ok(&["destroy", &second, "--auto-approve"]);
}

/// A distribution with `extra` lines under its properties (after valid
/// origins and a default behaviour), or with `replace` swapped in.
fn distribution_stack(replace: (&str, &str), extra: &str) -> String {
    let base = r#"project: p
environment: dev
resources:
  access:
    type: cloudfront_origin_access_control
    properties: {}
  cdn:
    type: cloudfront_distribution
    properties:
      origins:
        - id: frontend
          domain_name: b.s3.us-east-1.amazonaws.com
          origin_access_control_id: ${access.id}
        - id: api
          domain_name: api.example.com
          custom_origin: {}
      default_cache_behavior:
        target_origin_id: frontend
        cache_policy_id: 658327ea-f89d-4fab-a63d-7e88639e58f6
"#;
    format!("{}{extra}", base.replace(replace.0, replace.1))
}

const NO_CHANGE: (&str, &str) = ("", "");

/// What AWS refuses, refused at validate with its file, line and field.
#[test]
fn malformed_distributions_are_refused_at_validate() {
    let cases: Vec<(&str, String)> = vec![
        (
            "an ACM certificate outside us-east-1",
            distribution_stack(NO_CHANGE, "      viewer_certificate: { acm_certificate_arn: \"arn:aws:acm:eu-west-1:123456789012:certificate/abc\" }\n"),
        ),
        (
            "a regional web ACL",
            distribution_stack(NO_CHANGE, "      web_acl_id: arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/api/abc\n"),
        ),
        (
            "a behaviour naming no origin",
            distribution_stack(("target_origin_id: frontend", "target_origin_id: frontnd"), ""),
        ),
        (
            "both a cache policy and forwarded values",
            distribution_stack(NO_CHANGE, "      ordered_cache_behaviors:\n        - path_pattern: /api/*\n          target_origin_id: api\n          cache_policy_id: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad\n          forwarded_values: { query_string: true }\n"),
        ),
        (
            "neither a cache policy nor forwarded values",
            distribution_stack(("        cache_policy_id: 658327ea-f89d-4fab-a63d-7e88639e58f6\n", ""), ""),
        ),
        (
            "TTLs beside a cache policy",
            distribution_stack(NO_CHANGE, "      ordered_cache_behaviors:\n        - path_pattern: /api/*\n          target_origin_id: api\n          cache_policy_id: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad\n          max_ttl: 10\n"),
        ),
        (
            "TTLs out of order",
            distribution_stack(NO_CHANGE, "      ordered_cache_behaviors:\n        - path_pattern: /api/*\n          target_origin_id: api\n          forwarded_values: {}\n          min_ttl: 100\n          default_ttl: 10\n"),
        ),
        (
            "methods CloudFront does not offer",
            distribution_stack(NO_CHANGE, "      ordered_cache_behaviors:\n        - path_pattern: /api/*\n          target_origin_id: api\n          cache_policy_id: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad\n          allowed_methods: [GET, HEAD, POST]\n          cached_methods: [GET, HEAD, OPTIONS]\n"),
        ),
        (
            "duplicate path patterns",
            distribution_stack(NO_CHANGE, "      ordered_cache_behaviors:\n        - { path_pattern: /a, target_origin_id: api, cache_policy_id: x }\n        - { path_pattern: /a, target_origin_id: api, cache_policy_id: x }\n"),
        ),
        (
            "duplicate origin ids",
            distribution_stack(("id: api", "id: frontend"), ""),
        ),
        (
            "an access control on a custom origin",
            distribution_stack(("          custom_origin: {}\n", "          custom_origin: {}\n          origin_access_control_id: ${access.id}\n"), ""),
        ),
        (
            "aliases without a certificate",
            distribution_stack(NO_CHANGE, "      aliases: [www.example.com]\n"),
        ),
        (
            "an error code CloudFront does not take",
            distribution_stack(NO_CHANGE, "      custom_error_responses:\n        - { error_code: 418, response_code: 200, response_page_path: /index.html }\n"),
        ),
        (
            "a response page path without its leading slash",
            distribution_stack(NO_CHANGE, "      custom_error_responses:\n        - { error_code: 404, response_code: 200, response_page_path: index.html }\n"),
        ),
        (
            "a response code CloudFront does not return",
            distribution_stack(NO_CHANGE, "      custom_error_responses:\n        - { error_code: 404, response_code: 302, response_page_path: /index.html }\n"),
        ),
        (
            "an origin's domain name with a scheme and a path",
            distribution_stack(("domain_name: api.example.com", "domain_name: https://api.example.com/prod"), ""),
        ),
        (
            "an origin's domain name ending in a slash",
            distribution_stack(("domain_name: api.example.com", "domain_name: api.example.com/"), ""),
        ),
        (
            "an origin's domain name with a scheme",
            distribution_stack(("domain_name: api.example.com", "domain_name: https://api.example.com"), ""),
        ),
        (
            "an origin path without its leading slash",
            distribution_stack(("          custom_origin: {}\n", "          custom_origin: {}\n          origin_path: prod\n"), ""),
        ),
        (
            "an origin path ending in a slash",
            distribution_stack(("          custom_origin: {}\n", "          custom_origin: {}\n          origin_path: /prod/\n"), ""),
        ),
        (
            "a default root object with a leading slash",
            distribution_stack(NO_CHANGE, "      default_root_object: /index.html\n"),
        ),
        (
            "a restriction of type none with locations",
            distribution_stack(NO_CHANGE, "      geo_restriction: { type: none, locations: [US] }\n"),
        ),
        (
            "a whitelist without locations",
            distribution_stack(NO_CHANGE, "      geo_restriction: { type: whitelist }\n"),
        ),
        (
            "Terraform's cookies block",
            distribution_stack(NO_CHANGE, "      ordered_cache_behaviors:\n        - path_pattern: /api/*\n          target_origin_id: api\n          forwarded_values: { query_string: true, cookies: { forward: none } }\n"),
        ),
        (
            "no origins",
            distribution_stack(NO_CHANGE, "").replace("      origins:\n        - id: frontend\n          domain_name: b.s3.us-east-1.amazonaws.com\n          origin_access_control_id: ${access.id}\n        - id: api\n          domain_name: api.example.com\n          custom_origin: {}\n", "      origins: []\n"),
        ),
        (
            "a REGIONAL web ACL of the stack",
            distribution_stack(NO_CHANGE, "      web_acl_id: ${firewall.arn}\n  firewall:\n    type: wafv2_web_acl\n    properties:\n      visibility_config: { metric_name: cdn }\n"),
        ),
        (
            "a web ACL of the stack by its id",
            distribution_stack(NO_CHANGE, "      web_acl_id: ${firewall.id}\n  firewall:\n    type: wafv2_web_acl\n    properties:\n      scope: CLOUDFRONT\n      visibility_config: { metric_name: cdn }\n"),
        ),
        (
            "a price class that does not exist",
            distribution_stack(NO_CHANGE, "      price_class: PriceClass_50\n"),
        ),
        (
            "an origin access control name over 64 characters",
            distribution_stack(("    properties: {}\n", &format!("    properties: {{ name: {} }}\n", "n".repeat(65))), ""),
        ),
        (
            "a signing protocol other than sigv4",
            distribution_stack(("    properties: {}\n", "    properties: { signing_protocol: sigv2 }\n"), ""),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for (index, (case, text)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case-{index}.yaml"));
        std::fs::write(&path, text).unwrap();
        let loaded = cairn::stack::load(
            cairn::types::catalog(),
            &path,
            &cairn::stack::VariableOverrides::new(),
        );
        match loaded {
            Ok(_) => panic!("{case}: accepted"),
            Err(diagnostics) => {
                let errors = diagnostics
                    .to_string()
                    .replace(&format!("{}/", dir.path().display()), "");
                report.push_str(&format!("## {case}\n{errors}\n\n"));
            }
        }
    }
    insta::assert_snapshot!("refused_distributions", report);
}

/// The stack of the whole-life test, with no case above, is valid: the
/// refusals come from the cases.
#[test]
fn the_valid_distribution_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("valid.yaml");
    std::fs::write(&path, distribution_stack(NO_CHANGE, "")).unwrap();
    cairn::stack::load(
        cairn::types::catalog(),
        &path,
        &cairn::stack::VariableOverrides::new(),
    )
    .unwrap();
}

/// Terraform's `restriction_type = "none"` is no restriction: the same
/// distribution as one without `geo_restriction`, so what is sent and read
/// back (none) leaves the next plan empty. A web ACL of the stack of scope
/// CLOUDFRONT, and the values CloudFront takes, validate.
#[test]
fn what_cloudfront_takes_validates() {
    let dir = tempfile::tempdir().unwrap();
    let load = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        cairn::stack::load(
            cairn::types::catalog(),
            &path,
            &cairn::stack::VariableOverrides::new(),
        )
        .unwrap_or_else(|diagnostics| panic!("{name}: {diagnostics}"))
    };
    let properties = |stack: &cairn::stack::Stack| {
        let cdn = stack.resources.iter().find(|r| r.name == "cdn").unwrap();
        (*cdn.properties).clone()
    };
    let absent = load("absent.yaml", distribution_stack(NO_CHANGE, ""));
    let none = load(
        "none.yaml",
        distribution_stack(NO_CHANGE, "      geo_restriction: { type: none }\n"),
    );
    let listed_none = load(
        "listed-none.yaml",
        distribution_stack(
            NO_CHANGE,
            "      geo_restriction: { type: none, locations: [] }\n",
        ),
    );
    assert_eq!(properties(&none), properties(&absent));
    assert_eq!(properties(&listed_none), properties(&absent));
    assert_eq!(
        properties(&absent)["geo_restriction"],
        serde_json::Value::Null
    );
    load(
        "values.yaml",
        distribution_stack(
            ("          custom_origin: {}\n", "          custom_origin: {}\n          origin_path: /prod\n"),
            "      default_root_object: app/index.html\n      custom_error_responses:\n        - { error_code: 403, response_code: 200, response_page_path: /index.html }\n        - { error_code: 503, response_code: 503, response_page_path: /errors/503.html }\n      geo_restriction: { type: whitelist, locations: [US, CA] }\n      ordered_cache_behaviors:\n        - path_pattern: /api/*\n          target_origin_id: api\n          forwarded_values: { query_string: true, cookies: whitelist, cookie_names: [session] }\n      web_acl_id: ${firewall.arn}\n  firewall:\n    type: wafv2_web_acl\n    properties:\n      scope: CLOUDFRONT\n      visibility_config: { metric_name: cdn }\n",
        ),
    );
}
