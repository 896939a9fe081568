//! The test stacks, by path, and stacks a test writes for itself.

use super::*;

pub const ALL: &str = "tests/stacks/all.yaml";

pub const TOPIC: &str = "tests/stacks/topic.yaml";

pub const NETWORK: &str = "tests/stacks/network.yaml";

pub const SECRETS: &str = "tests/stacks/secrets.yaml";

pub const DATABASE: &str = "tests/stacks/database.yaml";

pub const SECURE_DEV: &str = "stacks/secure-backend/dev.yaml";

pub const KEYS: &str = "tests/stacks/keys.yaml";

pub const REGIONS: &str = "tests/stacks/regions.yaml";

/// An HTTP API whose stage is named `stage`, in a stack file of the test's.
pub fn stage_stack(
    test: &Test,
    stage: &str,
    auto_deploy: bool,
    burst: i64,
    routes: &[&str],
) -> String {
    stage_stack_tagged(test, stage, auto_deploy, burst, routes, "a")
}

pub fn stage_stack_tagged(
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

/// Arguments `args` after `first`, as `&str`s.
pub fn arguments<'a>(first: &[&'a str], args: &'a [String]) -> Vec<&'a str> {
    first
        .iter()
        .copied()
        .chain(args.iter().map(String::as_str))
        .collect()
}

/// `--var NAME=VALUE` for each pair.
pub fn vars(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(k, v)| ["--var".to_owned(), format!("{k}={v}")])
        .collect()
}
