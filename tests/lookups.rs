//! Lookups (`lookups:`): what exists and is not the stack's, read at plan
//! time, on the emulator. The network, the secret and the role are made
//! here by hand, as another team would have made them.

mod common;
use common::*;

/// A VPC tagged `Name: shared` with two private subnets and one public,
/// a secret and a role: (VPC id, private subnet ids sorted).
async fn shared_network(aws: &cairn::aws::Aws) -> (String, Vec<String>) {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let tagged = |kind: ResourceType, pairs: &[(&str, &str)]| {
        let mut spec = TagSpecification::builder().resource_type(kind);
        for (k, v) in pairs {
            spec = spec.tags(Tag::builder().key(*k).value(*v).build());
        }
        spec.build()
    };
    let vpc = aws
        .ec2()
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .tag_specifications(tagged(ResourceType::Vpc, &[("Name", "shared")]))
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut private = Vec::new();
    for (cidr, zone, tier) in [
        ("10.40.1.0/24", "us-east-1a", "private"),
        ("10.40.2.0/24", "us-east-1b", "private"),
        ("10.40.3.0/24", "us-east-1a", "public"),
    ] {
        let id = subnet(aws, &vpc, cidr, zone, tier).await;
        if tier == "private" {
            private.push(id);
        }
    }
    private.sort();
    aws.secretsmanager()
        .create_secret()
        .name("shared/openai")
        .secret_string("sk-not-to-be-read")
        .send()
        .await
        .unwrap();
    aws.iam()
        .create_role()
        .role_name("shared-runner")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    (vpc, private)
}

async fn subnet(aws: &cairn::aws::Aws, vpc: &str, cidr: &str, zone: &str, tier: &str) -> String {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    aws.ec2()
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Subnet)
                .tags(Tag::builder().key("Tier").value(tier).build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .subnet
        .unwrap()
        .subnet_id
        .unwrap()
}

const STACK: &str = r#"project: lk
environment: dev
variables:
  zip: { description: Path of the function's zip }
  team: { default: Platform }
lookups:
  network: { type: vpc, tags: { Name: shared } }
  private: { type: subnets, vpc_id: "${lookup.network.id}", tags: { Tier: private } }
  zones: { type: availability_zones }
  openai: { type: secret, name: shared/openai }
  runner: { type: iam_role, name: shared-runner }
resources:
  app:
    type: security_group
    properties: { vpc_id: "${lookup.network.id}", description: the function }
  extra:
    type: subnet
    properties:
      vpc_id: ${lookup.network.id}
      cidr_block: ${cidrsubnet(lookup.network.cidr_block, 8, 9)}
      availability_zone: us-east-1a
      tags:
        Name: ${format("%s-extra-%d", stack, 9)}
        Team: ${lower(var.team)}
  function:
    type: lambda_function
    properties:
      code: { zip: "${var.zip}" }
      role_arn: ${lookup.runner.arn}
      environment:
        OPENAI_SECRET_ARN: ${lookup.openai.arn}
      vpc_config:
        subnet_ids: ${lookup.private.ids}
        security_group_ids: ["${app.id}"]
outputs:
  zones: ${lookup.zones.names}
  network: ${lookup.network.cidr_block}
"#;

fn write(test: &Test, name: &str, text: &str) -> String {
    let path = test.directory.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// AWS ids as `vpc-ID`, `subnet-ID`, `sg-ID`, the test's directory as
/// `[TMP]`: what a snapshot may hold.
fn scrubbed(test: &Test, text: &str) -> String {
    let mut out = text.replace(test.directory.path().to_str().unwrap(), "[TMP]");
    for prefix in ["vpc-", "subnet-", "sg-"] {
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(prefix) {
            result.push_str(&rest[..at + prefix.len()]);
            rest = &rest[at + prefix.len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(rest.len());
            if end >= 8 {
                result.push_str("ID");
                rest = &rest[end..];
            }
        }
        result.push_str(rest);
        out = result;
    }
    out
}

async fn function_subnets(aws: &cairn::aws::Aws) -> Vec<String> {
    let configuration = aws
        .lambda()
        .get_function_configuration()
        .function_name("lk-dev-function")
        .send()
        .await
        .unwrap();
    let mut ids = configuration.vpc_config().unwrap().subnet_ids().to_vec();
    ids.sort();
    ids
}

/// A function placed in subnets a lookup finds deploys there, with the
/// looked-up role and secret ARN; the plan shows the lookups, so do its
/// JSON and the graph; a saved plan refuses once a matching subnet is
/// added; destroy leaves every looked-up object.
#[tokio::test(flavor = "multi_thread")]
async fn a_function_in_looked_up_subnets_deploys_and_what_was_looked_up_survives_destroy() {
    let test = Test::new();
    let aws = test.aws().await;
    let (vpc, private) = shared_network(&aws).await;
    let zip = write_zip(test.directory.path(), "a.zip", b"a build");
    let stack = write(&test, "dev.yaml", STACK);
    let var = format!("zip={zip}");

    let plan = test.ok(&["plan", &stack, "--var", &var]);
    assert!(
        plan.stdout.contains("<= lookup \"subnets\" \"private\""),
        "{}",
        plan.stdout
    );
    for id in &private {
        assert!(plan.stdout.contains(id.as_str()), "{}", plan.stdout);
    }
    assert!(!plan.stdout.contains("sk-not-to-be-read"));
    let json = test.ok(&["plan", &stack, "--var", &var, "--json"]);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let data: Vec<&serde_json::Value> = document["prior_state"]["values"]["root_module"]
        ["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mode"] == "data")
        .collect();
    let addresses: Vec<&str> = data
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [
            "data.aws_vpc.network",
            "data.aws_secretsmanager_secret.openai",
            "data.aws_subnets.private",
            "data.aws_iam_role.runner",
            "data.aws_availability_zones.zones",
        ]
    );
    assert_eq!(data[2]["values"]["ids"], serde_json::json!(private));

    let graph = test.ok(&["graph", &stack, "--var", &var]);
    assert!(
        graph
            .stdout
            .contains("\"lambda_function.function\" -> \"lookup.private (subnets)\""),
        "{}",
        graph.stdout
    );
    assert!(graph
        .stdout
        .contains("\"lookup.private (subnets)\" -> \"lookup.network (vpc)\""));

    test.ok(&["apply", &stack, "--var", &var, "--auto-approve"]);
    assert_eq!(function_subnets(&aws).await, private);
    // Functions: a block worked out from the looked-up VPC's at plan
    // time, a name and a tag from the stack's names and a variable.
    let extra = aws
        .ec2()
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:Name")
                .values("lk-dev-extra-9")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let extra = &extra.subnets()[0];
    assert_eq!(extra.cidr_block(), Some("10.40.9.0/24"));
    assert_eq!(extra.vpc_id(), Some(vpc.as_str()));
    assert!(extra
        .tags()
        .iter()
        .any(|t| t.key() == Some("Team") && t.value() == Some("platform")));
    let configuration = aws
        .lambda()
        .get_function_configuration()
        .function_name("lk-dev-function")
        .send()
        .await
        .unwrap();
    assert_eq!(
        configuration.role(),
        Some("arn:aws:iam::123456789012:role/shared-runner")
    );
    let secret_arn =
        &configuration.environment().unwrap().variables().unwrap()["OPENAI_SECRET_ARN"];
    assert!(secret_arn
        .starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:shared/openai"));
    let again = test.ok(&["plan", &stack, "--var", &var, "--detailed-exitcode"]);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // A plan saved, then a subnet with matching tags added: the plan was
    // decided on the subnets found then, and is refused.
    let saved = test.directory.path().join("saved.json");
    test.ok(&[
        "plan",
        &stack,
        "--var",
        &var,
        "--out",
        saved.to_str().unwrap(),
    ]);
    let added = subnet(&aws, &vpc, "10.40.4.0/24", "us-east-1c", "private").await;
    let refused = test.cairn(&[
        "apply",
        &stack,
        "--var",
        &var,
        "--plan",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    insta::assert_snapshot!("saved_plan_refused", scrubbed(&test, &refused.stderr));
    assert_eq!(function_subnets(&aws).await, private);

    // Planned again, the function moves into all three.
    test.ok(&["apply", &stack, "--var", &var, "--auto-approve"]);
    let mut all = private.clone();
    all.push(added);
    all.sort();
    assert_eq!(function_subnets(&aws).await, all);

    // Destroy takes the stack's own and leaves what it looked up.
    test.ok(&["destroy", &stack, "--var", &var, "--auto-approve"]);
    let functions = aws.lambda().list_functions().send().await.unwrap();
    assert!(functions.functions().is_empty());
    let vpcs = aws
        .ec2()
        .describe_vpcs()
        .vpc_ids(&vpc)
        .send()
        .await
        .unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
    let subnets = aws
        .ec2()
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(subnets.subnets().len(), 4);
    aws.secretsmanager()
        .describe_secret()
        .secret_id("shared/openai")
        .send()
        .await
        .unwrap();
    aws.iam()
        .get_role()
        .role_name("shared-runner")
        .send()
        .await
        .unwrap();
}

/// A lookup that must find one object and finds none or several says
/// what it found, and nothing is changed.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_that_finds_none_or_several_says_what_it_found() {
    let test = Test::new();
    let aws = test.aws().await;
    let (_, _) = shared_network(&aws).await;
    // A second VPC with the same tag.
    aws.ec2()
        .create_vpc()
        .cidr_block("10.41.0.0/16")
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("Name")
                        .value("shared")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let cases = [
        ("several_vpcs", "network: { type: vpc, tags: { Name: shared } }"),
        ("no_vpc", "network: { type: vpc, tags: { Name: nowhere } }"),
        ("no_vpc_by_id", "network: { type: vpc, id: vpc-0123456789abcdef0 }"),
        (
            "no_subnets",
            "network: { type: vpc, default: true }\n  private: { type: subnets, vpc_id: \"${lookup.network.id}\", tags: { Tier: nowhere } }",
        ),
        ("no_secret", "openai: { type: secret, name: shared/nowhere }"),
        ("no_role", "runner: { type: iam_role, name: nobody }"),
        ("no_parameter", "ami: { type: ssm_parameter, name: /shared/nowhere }"),
    ];
    for (name, lookups) in cases {
        let stack = write(
            &test,
            &format!("{name}.yaml"),
            &format!("project: lk\nenvironment: dev\nlookups:\n  {lookups}\n"),
        );
        let run = test.cairn(&["plan", &stack]);
        assert_eq!(run.code, 1, "{name}: {}", run.stdout);
        insta::assert_snapshot!(name, scrubbed(&test, &run.stderr));
    }
    // The default VPC alone is one; a parameter's value is read, a
    // SecureString's never.
    for (name, kind, value) in [
        (
            "/shared/ami",
            aws_sdk_ssm::types::ParameterType::String,
            "ami-0abc",
        ),
        (
            "/shared/token",
            aws_sdk_ssm::types::ParameterType::SecureString,
            "tok-secret",
        ),
    ] {
        aws.ssm()
            .put_parameter()
            .name(name)
            .r#type(kind)
            .value(value)
            .send()
            .await
            .unwrap();
    }
    let lookups = "lookups:\n  network: { type: vpc, default: true }\n  ami: { type: ssm_parameter, name: /shared/ami }\n  token: { type: ssm_parameter, name: /shared/token }\n";
    let stack = write(
        &test,
        "default.yaml",
        &format!("project: lk\nenvironment: dev\n{lookups}outputs:\n  cidr: ${{lookup.network.cidr_block}}\n  ami: ${{lookup.ami.value}}\n  token_arn: ${{lookup.token.arn}}\n  token_type: ${{lookup.token.type}}\n"),
    );
    let applied = test.ok(&["apply", &stack, "--auto-approve"]);
    assert!(
        applied.stdout.contains("ami = \"ami-0abc\""),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains("token_type = \"SecureString\""),
        "{}",
        applied.stdout
    );
    assert!(applied
        .stdout
        .contains("token_arn = \"arn:aws:ssm:us-east-1:123456789012:parameter/shared/token\""));
    let json = test.ok(&["plan", &stack, "--json=cairn"]);
    assert!(!json.stdout.contains("tok-secret"), "{}", json.stdout);
    let secret = write(
        &test,
        "secret.yaml",
        &format!(
            "project: lk\nenvironment: dev\n{lookups}outputs:\n  token: ${{lookup.token.value}}\n"
        ),
    );
    let run = test.cairn(&["plan", &secret]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(!run.stderr.contains("tok-secret"));
    insta::assert_snapshot!("secure_string_value", scrubbed(&test, &run.stderr));

    // A parameter's value is text: a number field takes it through
    // `tonumber`, and without it the plan says where the field is.
    aws.ssm()
        .put_parameter()
        .name("/shared/days")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .value("14")
        .send()
        .await
        .unwrap();
    let days = |value: &str| {
        write(
            &test,
            "days.yaml",
            &format!("project: lk\nenvironment: days\nlookups:\n  days: {{ type: ssm_parameter, name: /shared/days }}\nresources:\n  lg:\n    type: log_group\n    properties:\n      retention_in_days: '{value}'\n"),
        )
    };
    let run = test.cairn(&["plan", &days("${lookup.days.value}")]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    insta::assert_snapshot!("text_for_a_number", scrubbed(&test, &run.stderr));
    let stack_days = days("${tonumber(lookup.days.value)}");
    let planned = test.ok(&["plan", &stack_days]).stdout;
    assert!(planned.contains("retention_in_days = 14"), "{planned}");
    test.ok(&["apply", &stack_days, "--auto-approve"]);
    let retention = aws
        .logs()
        .describe_log_groups()
        .log_group_name_prefix("/lk/days/lg")
        .send()
        .await
        .unwrap()
        .log_groups()[0]
        .retention_in_days();
    assert_eq!(retention, Some(14));
    test.ok(&["destroy", &stack_days, "--auto-approve"]);

    // A lookup that only an output uses changes no resource's plan: the
    // saved plan is refused for the lookup itself.
    let saved = test.directory.path().join("outputs.json");
    test.ok(&["plan", &stack, "--out", saved.to_str().unwrap()]);
    aws.ssm()
        .put_parameter()
        .name("/shared/ami")
        .value("ami-0def")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let refused = test.cairn(&["apply", &stack, "--plan", saved.to_str().unwrap()]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    insta::assert_snapshot!(
        "saved_plan_refused_for_an_output",
        scrubbed(&test, &refused.stderr)
    );

    // Destroy reads no lookup: one that finds nothing now stops nothing.
    aws.ssm()
        .delete_parameter()
        .name("/shared/ami")
        .send()
        .await
        .unwrap();
    assert_eq!(test.cairn(&["plan", &stack]).code, 1);
    test.ok(&["destroy", &stack, "--auto-approve"]);
}

/// Lookups are checked with the rest of the stack, before any call.
#[test]
fn malformed_lookups_are_reported_with_their_place() {
    let test = Test::offline();
    let stack = write(
        &test,
        "dev.yaml",
        r#"project: lk
lookups:
  network: { type: vcp, tags: { Name: shared } }
  private: { type: subnets, tags: { Tier: private } }
  zones: { type: availability_zones, region: us-east-1 }
  role: { type: iam_role, name: "${app.arn}" }
  loop_a: { type: vpc, id: "${lookup.loop_b.id}" }
  loop_b: { type: vpc, id: "${lookup.loop_a.id}" }
resources:
  app:
    type: security_group
    properties: { vpc_id: "${lookup.zones.ids}", description: d }
"#,
    );
    let run = test.cairn(&["validate", &stack]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    insta::assert_snapshot!("malformed_lookups", scrubbed(&test, &run.stderr));
}

/// Functions are checked where they are written: an unknown one, a wrong
/// number of arguments, and a wrong argument once its value is known,
/// each with file, line and field.
#[test]
fn malformed_function_calls_are_reported_with_their_place() {
    let test = Test::offline();
    let stack = write(
        &test,
        "dev.yaml",
        r#"project: lk
variables:
  cidr: { default: 10.0.0.0/16 }
  zones: { default: [a, b] }
resources:
  vpc:
    type: vpc
    properties: { cidr_block: "${var.cidr}" }
  too_far:
    type: subnet
    properties: { vpc_id: "${vpc.id}", cidr_block: "${cidrsubnet(var.cidr, 8, 256)}" }
  few:
    type: subnet
    properties: { vpc_id: "${vpc.id}", cidr_block: "${cidrsubnet(var.cidr, 8)}" }
  typed:
    type: subnet
    properties: { vpc_id: "${vpc.id}", cidr_block: "${cidrsubnet(var.cidr, \"8\", 1)}" }
  group:
    type: security_group
    properties: { vpc_id: "${vpc.id}", description: "${upper(var.cidr)} ${join(var.zones)} ${lower(var.zones)} ${join(\",\", var.zone)}" }
  nested:
    type: security_group
    properties: { vpc_id: "${vpc.id}", description: "${lower(join(\"-\", var.zones))}" }
"#,
    );
    let run = test.cairn(&["validate", &stack]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    insta::assert_snapshot!("malformed_calls", scrubbed(&test, &run.stderr));
}
