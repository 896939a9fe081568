//! End-to-end tests of a stack's life: validation, plans and their output,
//! the generic lifecycle of every type in `all.yaml`, replacement, packages,
//! the dev stack; and the table of which test runs each type's whole life.
//! Each test starts its own emulator on a free loopback port and keeps
//! its own state directory.

mod common;
use common::*;
use std::process::{Command, Stdio};

fn mutating_calls(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("API calls:"))
        .expect("--stats line");
    line.split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn validation_reports_every_error_with_its_place() {
    let test = Test::offline();
    let run = test.cairn(&["validate", "tests/stacks/invalid.yaml"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("invalid_stack", run.stderr);
}

#[test]
fn validation_prints_cycles_as_paths() {
    let test = Test::offline();
    let run = test.cairn(&["validate", "tests/stacks/cycle.yaml"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("cycle", run.stderr);
}

#[test]
fn invalid_stack_makes_no_aws_call() {
    // The endpoint is a closed port: any call would fail differently.
    let test = Test::offline();
    let run = test.cairn(&["apply", "tests/stacks/invalid.yaml", "--auto-approve"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(!test.state_dir().join("bad.json").exists());
}

#[test]
fn unreachable_endpoint_is_a_clear_error() {
    let test = Test::offline();
    let run = test.cairn(&["plan", ALL]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot reach the AWS endpoint"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn dev_plan_from_empty_text_and_json() {
    let test = Test::new();
    // The shipped stacks keep their state in a shared table.
    test.ok(&["state", "init-backend", "dev"]);
    let text = test.ok(&["plan", "dev"]);
    insta::assert_snapshot!("dev_plan_text", without_package(&text.stdout));
    let json = test.ok(&["plan", "dev", "--json"]);
    let mut value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    // Written as it is made, and still exactly what the document as one
    // value writes: one line, every object's keys in order.
    assert_eq!(
        json.stdout,
        format!("{}\n", serde_json::to_string(&value).unwrap())
    );
    value["cairn"]["state_lineage"] = "[random per new state]".into();
    // The chat backend's 17 resources are 28 of Terraform's: the HTTP API
    // is an API, an integration, a stage and three routes, the image
    // repository's lifecycle policy is a resource of its own, and so is
    // each of the function role's five inline policies.
    assert_eq!(value["resource_changes"].as_array().unwrap().len(), 28);
    let package = |values: &mut serde_json::Value| {
        for key in ["source_code_hash", "filename"] {
            if values.get(key).is_some() {
                values[key] = "[package]".into();
            }
        }
    };
    for change in value["resource_changes"].as_array_mut().unwrap() {
        if change["type"] == "aws_lambda_function" {
            package(&mut change["change"]["after"]);
        }
    }
    for resource in value["planned_values"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap()
    {
        if resource["type"] == "aws_lambda_function" {
            package(&mut resource["values"]);
        }
    }
    for resource in value["configuration"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap()
    {
        if resource["type"] == "aws_lambda_function" {
            package(&mut resource["expressions"]);
        }
    }
    assert_eq!(value["format_version"], "1.2");
    assert_eq!(value["terraform_version"], "1.9.8");
    insta::assert_json_snapshot!("dev_plan_json", value);
}

/// The package's hash and path depend on the toolchain and the target
/// directory, not on cairn.
fn without_package(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(" = ") {
            Some((name, _)) if name.trim_end().ends_with("code_sha256") => {
                format!("{name} = [package hash]")
            }
            Some((name, _)) if name.trim_end().ends_with("code_zip") => {
                format!("{name} = [package path]")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_creates_no_ops_updates_replaces_detects_drift_and_destroys() {
    let test = Test::new();
    // Create.
    let created = test.ok(&["apply", ALL, "--auto-approve"]);
    assert!(
        created
            .stdout
            .contains("Apply complete! Resources: 9 added, 0 changed, 0 destroyed."),
        "{}",
        created.stdout
    );

    // No-op: no changes and not one mutating request.
    let again = test.ok(&["plan", ALL, "--detailed-exitcode", "--stats"]);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(mutating_calls(&again.stderr), 0, "{}", again.stderr);
    let applied = test.ok(&["apply", ALL, "--auto-approve", "--stats"]);
    assert_eq!(mutating_calls(&applied.stderr), 0, "{}", applied.stderr);

    // In-place updates on every type that has updatable fields.
    let vars = [
        "--var",
        "retention=30",
        "--var",
        "threshold=9",
        "--var",
        "mutability=IMMUTABLE",
        "--var",
        "description=second",
    ];
    let mut plan_args = vec!["plan", ALL, "--detailed-exitcode"];
    plan_args.extend(vars);
    let plan = test.cairn(&plan_args);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    insta::assert_snapshot!("updates_plan", plan.stdout);
    let mut apply_args = vec!["apply", ALL, "--auto-approve"];
    apply_args.extend(vars);
    test.ok(&apply_args);
    let mut settled = vec!["plan", ALL, "--detailed-exitcode"];
    settled.extend(vars);
    assert_eq!(test.cairn(&settled).code, 0);

    // Replacement: the table's range key type forces it.
    let replace = test.cairn(&["plan", ALL, "--var", "range_type=N"]);
    assert!(
        replace
            .stdout
            .contains("-/+ resource \"dynamodb_table\" \"table\""),
        "{}",
        replace.stdout
    );
    assert!(
        replace.stdout.contains("# forces replacement"),
        "{}",
        replace.stdout
    );
    test.ok(&["apply", ALL, "--auto-approve", "--var", "range_type=N"]);

    // Out-of-band changes are drift, and apply puts them back.
    let aws = test.aws().await;
    out_of_band_retention_90(&aws).await;
    out_of_band_ttl_off(&aws).await;
    // The same policy, reordered: not drift.
    let role = aws
        .iam()
        .get_role_policy()
        .role_name("cairn-test-t-role")
        .policy_name("table")
        .send()
        .await
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_str(&percent(role.policy_document())).unwrap();
    let statement = &document["Statement"][0];
    let reordered = serde_json::json!({"Statement": [{"Resource": statement["Resource"], "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Effect": "Allow"}], "Version": "2012-10-17"});
    aws.iam()
        .put_role_policy()
        .role_name("cairn-test-t-role")
        .policy_name("table")
        .policy_document(reordered.to_string())
        .send()
        .await
        .unwrap();
    aws.kms()
        .update_key_description()
        .key_id(key_id(&test))
        .description("edited by hand")
        .send()
        .await
        .unwrap();
    aws.ecr()
        .put_image_tag_mutability()
        .repository_name("cairn-test-t-repository")
        .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Mutable)
        .send()
        .await
        .unwrap();
    aws.iam()
        .update_role()
        .role_name("cairn-test-t-role")
        .description("edited by hand")
        .send()
        .await
        .unwrap();
    aws.cloudwatch()
        .put_dashboard()
        .dashboard_name("cairn-test-t-dashboard")
        .dashboard_body(r#"{"widgets":[]}"#)
        .send()
        .await
        .unwrap();
    aws.kms()
        .delete_alias()
        .alias_name("alias/cairn-test-t-alias")
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&["plan", ALL, "--var", "range_type=N", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2);
    insta::assert_snapshot!("drift_plan", without_ids(&drift.stdout));
    assert!(
        drift.stdout.contains("retention_in_days = 7 -> 90"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .stdout
            .contains("ttl_attribute = \"expires_at\" -> \"\""),
        "{}",
        drift.stdout
    );
    assert!(
        !drift.stdout.contains("inline_policies"),
        "reordered policy reported as drift:\n{}",
        drift.stdout
    );
    test.ok(&["apply", ALL, "--auto-approve", "--var", "range_type=N"]);
    assert_eq!(
        test.cairn(&["plan", ALL, "--var", "range_type=N", "--detailed-exitcode"])
            .code,
        0
    );

    // Deleted out of band: planned as a create.
    aws.cloudwatch()
        .delete_alarms()
        .alarm_names("cairn-test-t-alarm")
        .send()
        .await
        .unwrap();
    let gone = test.cairn(&["plan", ALL, "--var", "range_type=N"]);
    assert!(
        gone.stdout
            .contains("cloudwatch_alarm.alarm has been deleted"),
        "{}",
        gone.stdout
    );
    assert!(
        gone.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        gone.stdout
    );

    // Destroy leaves nothing behind.
    let destroyed = test.ok(&["destroy", ALL, "--auto-approve"]);
    assert!(
        destroyed.stdout.contains("Destroy complete!"),
        "{}",
        destroyed.stdout
    );
    assert_eq!(inventory(&aws).await, NOTHING);
    let state = test.ok(&["state", "list", ALL]);
    assert_eq!(state.stdout, "");
}

fn percent(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn saved_plan_applies_only_to_the_world_it_saw() {
    let test = Test::new();
    let file = test.directory.path().join("plan.json");
    let file = file.to_str().unwrap();
    test.ok(&["plan", ALL, "--out", file]);
    // The stack changes: the saved plan is refused.
    let refused = test.cairn(&["apply", ALL, "--plan", file, "--var", "retention=30"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("the stack (or a variable) changed since"),
        "{}",
        refused.stderr
    );
    // Unchanged: applied exactly.
    let applied = test.ok(&["apply", ALL, "--plan", file]);
    assert!(applied.stdout.contains("9 added"), "{}", applied.stdout);
    // Applying it twice: the state moved on.
    let twice = test.cairn(&["apply", ALL, "--plan", file]);
    assert_eq!(twice.code, 1);
    assert!(
        twice.stderr.contains("the state changed since"),
        "{}",
        twice.stderr
    );
}

#[test]
fn apply_without_a_terminal_needs_approval() {
    let test = Test::new();
    let run = test.cairn(&["apply", ALL]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("pass --auto-approve"), "{}", run.stderr);
    assert_eq!(test.ok(&["state", "list", ALL]).stdout, "");
}

#[test]
fn protected_resources_are_destroyed_only_when_named() {
    let test = Test::new();
    test.ok(&[
        "apply",
        ALL,
        "--auto-approve",
        "--var",
        "protect_table=true",
    ]);
    let refused = test.cairn(&[
        "destroy",
        ALL,
        "--auto-approve",
        "--var",
        "protect_table=true",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("dynamodb_table.table is protected"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("--allow-destroy dynamodb_table.table"),
        "{}",
        refused.stderr
    );
    test.ok(&[
        "destroy",
        ALL,
        "--auto-approve",
        "--var",
        "protect_table=true",
        "--allow-destroy",
        "dynamodb_table.table",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_is_replaced_when_a_field_forces_it() {
    let test = Test::new();
    test.ok(&["apply", ALL, "--auto-approve"]);
    let vars = [
        "--var",
        "suffix=-b",
        "--var",
        "key_spec=RSA_2048",
        "--var",
        "rotation=false",
    ];
    let mut plan = vec!["plan", ALL];
    plan.extend(vars);
    let planned = test.ok(&plan);
    for address in [
        "cloudwatch_alarm.alarm",
        "cloudwatch_alarm.math_alarm",
        "cloudwatch_dashboard.dashboard",
        "dynamodb_table.table",
        "ecr_repository.repository",
        "iam_role.role",
        "kms_alias.alias",
        "kms_key.key",
        "log_group.logs",
    ] {
        assert!(
            planned
                .stdout
                .contains(&format!("# {address} must be replaced")),
            "{address}:\n{}",
            planned.stdout
        );
    }
    assert!(
        planned
            .stdout
            .contains("Plan: 9 to add, 0 to change, 9 to destroy."),
        "{}",
        planned.stdout
    );
    let mut apply = vec!["apply", ALL, "--auto-approve"];
    apply.extend(vars);
    test.ok(&apply);
    plan.push("--detailed-exitcode");
    assert_eq!(test.cairn(&plan).code, 0);
    let aws = test.aws().await;
    assert_eq!(inventory(&aws).await, ONE_STACK);
    assert_eq!(
        aws.dynamodb()
            .list_tables()
            .send()
            .await
            .unwrap()
            .table_names(),
        ["cairn-test-t-table-b"]
    );
}

/// Replaces the ids AWS assigns at random (UUIDs) so plans snapshot stably.
fn without_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let shape = |i: usize| -> bool {
        let groups = [8, 4, 4, 4, 12];
        let mut at = i;
        for (n, len) in groups.iter().enumerate() {
            if at + len > bytes.len()
                || !bytes[at..at + len]
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return false;
            }
            at += len;
            if n < 4 {
                if bytes.get(at) != Some(&b'-') {
                    return false;
                }
                at += 1;
            }
        }
        true
    };
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if shape(i) {
            out.push_str("[uuid]");
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn graph_is_dot_with_addresses() {
    let test = Test::offline();
    let run = test.ok(&["graph", ALL]);
    insta::assert_snapshot!("graph", run.stdout);
}

#[test]
fn missing_credentials_say_so() {
    let test = Test::new();
    let home = tempfile::tempdir().unwrap();
    let run = test
        .command(&["plan", ALL])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("no AWS credentials: set AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
    assert!(!test.state_dir().join("t.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_plans_state_and_output() {
    let test = Test::new();
    let secret = "s3cr3t-token-value";
    let saved = test.directory.path().join("plan.json");
    let saved = saved.to_str().unwrap();
    let with = [("CAIRN_VAR_token", secret)];
    let mut seen = String::new();
    for args in [
        vec!["plan", "tests/stacks/secret.yaml", "--out", saved],
        vec!["plan", "tests/stacks/secret.yaml", "--json"],
        vec!["plan", "tests/stacks/secret.yaml", "--json=cairn"],
        vec!["apply", "tests/stacks/secret.yaml", "--auto-approve"],
        vec!["output", "tests/stacks/secret.yaml"],
        vec!["output", "tests/stacks/secret.yaml", "--json"],
        vec![
            "state",
            "show",
            "tests/stacks/secret.yaml",
            "log_group.logs",
        ],
    ] {
        let run = test.cairn_with(&args, &with);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        seen.push_str(&run.stdout);
        seen.push_str(&run.stderr);
    }
    seen.push_str(&std::fs::read_to_string(saved).unwrap());
    seen.push_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap());
    assert!(!seen.contains(secret), "the secret leaked:\n{seen}");
    assert!(seen.contains("(sensitive value)"), "{seen}");
    // It did reach AWS, and a changed secret is a planned change.
    let changed = test.cairn_with(
        &["plan", "tests/stacks/secret.yaml", "--detailed-exitcode"],
        &[("CAIRN_VAR_token", "another-secret")],
    );
    assert_eq!(changed.code, 2, "{}", changed.stdout);
    assert!(
        !changed.stdout.contains("another-secret"),
        "{}",
        changed.stdout
    );
    assert_eq!(
        test.cairn_with(
            &["plan", "tests/stacks/secret.yaml", "--detailed-exitcode"],
            &with
        )
        .code,
        0
    );
    // A secret changed in AWS is drift, reported without its value.
    let aws = test.aws().await;
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/cairn-test/t/logs";
    aws.logs()
        .tag_resource()
        .resource_arn(arn)
        .tags("Token", "leaked-elsewhere")
        .send()
        .await
        .unwrap();
    let drift = test.cairn_with(
        &["drift", "tests/stacks/secret.yaml", "--format", "json"],
        &with,
    );
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    assert!(
        drift.stdout.contains("(sensitive value)"),
        "{}",
        drift.stdout
    );
    assert!(
        !drift.stdout.contains("leaked-elsewhere") && !drift.stdout.contains(secret),
        "{}",
        drift.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_change_is_a_code_update_and_code_changed_elsewhere_is_drift() {
    let test = Test::new();
    let first = write_zip(test.directory.path(), "a.zip", b"first build");
    let second = write_zip(test.directory.path(), "b.zip", b"second build");
    let stack = "tests/stacks/function.yaml";
    test.ok(&[
        "apply",
        stack,
        "--auto-approve",
        "--var",
        &format!("zip={first}"),
    ]);
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={first}")
        ])
        .code,
        0
    );
    // The same bytes from another path: nothing to do.
    let copy = write_zip(test.directory.path(), "copy.zip", b"first build");
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={copy}")
        ])
        .code,
        0
    );
    let plan = test.ok(&["plan", stack, "--var", &format!("zip={second}")]);
    assert!(plan.stdout.contains("~ code_sha256 = "), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stdout.matches("# (").count(),
        1,
        "only the code changes:\n{}",
        plan.stdout
    );
    let applied = test.ok(&[
        "apply",
        stack,
        "--auto-approve",
        "--stats",
        "--var",
        &format!("zip={second}"),
    ]);
    assert_eq!(
        calls_of(
            &applied.stderr,
            "lambda_function.function",
            "UpdateFunctionCode"
        ),
        1,
        "{}",
        applied.stderr
    );
    assert_eq!(
        calls_of(
            &applied.stderr,
            "lambda_function.function",
            "UpdateFunctionConfiguration"
        ),
        0,
        "{}",
        applied.stderr
    );
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={second}")
        ])
        .code,
        0
    );
    // Someone uploads other code by hand: drift, and apply puts ours back.
    let aws = test.aws().await;
    let other = cairn::package::reproducible_zip(&[("bootstrap", b"hand-made", true)]);
    aws.lambda()
        .update_function_code()
        .function_name("cairn-test-t-function")
        .zip_file(aws_smithy_types::Blob::new(other))
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&[
        "plan",
        stack,
        "--detailed-exitcode",
        "--var",
        &format!("zip={second}"),
    ]);
    assert_eq!(drift.code, 2);
    assert!(
        drift
            .stdout
            .contains("lambda_function.function has changed"),
        "{}",
        drift.stdout
    );
    test.ok(&[
        "apply",
        stack,
        "--auto-approve",
        "--var",
        &format!("zip={second}"),
    ]);
    assert_eq!(
        test.cairn(&[
            "plan",
            stack,
            "--detailed-exitcode",
            "--var",
            &format!("zip={second}")
        ])
        .code,
        0
    );
    // A package edited between plan and apply is refused.
    let saved = test.directory.path().join("plan.json");
    let third = write_zip(test.directory.path(), "c.zip", b"third build");
    test.ok(&[
        "plan",
        stack,
        "--var",
        &format!("zip={third}"),
        "--out",
        saved.to_str().unwrap(),
    ]);
    write_zip(test.directory.path(), "c.zip", b"third build, edited");
    let refused = test.cairn(&[
        "apply",
        stack,
        "--plan",
        saved.to_str().unwrap(),
        "--var",
        &format!("zip={third}"),
    ]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
}

/// The whole chat backend of the seed: the runtime built by cairn, the
/// function, its permission and the HTTP API, with everything around them.
#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_applies_reconciles_and_destroys_completely() {
    let test = Test::new();
    test.ok(&["state", "init-backend", "dev"]);
    let applied = test.ok(&["apply", "dev", "--auto-approve"]);
    assert!(
        applied
            .stdout
            .contains("Apply complete! Resources: 17 added, 0 changed, 0 destroyed."),
        "{}",
        applied.stdout
    );
    let endpoint = test.ok(&["output", "dev", "api_endpoint"]).stdout;
    assert!(
        endpoint.starts_with("https://") && endpoint.contains(".execute-api.us-east-1."),
        "{endpoint}"
    );
    assert_eq!(test.cairn(&["plan", "dev", "--detailed-exitcode"]).code, 0);

    // The function's binary names no path of this machine (the checkout,
    // the Cargo home), so another machine builds the same zip.
    let built = test.ok(&["build", "dev"]).stdout;
    let zip = built
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(" ("))
        .map(|(path, _)| path.to_owned())
        .unwrap_or_else(|| panic!("{built}"));
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
    let found = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\ndata = zipfile.ZipFile(sys.argv[1]).read('bootstrap')\nprint(len(data), [p for p in sys.argv[2:] if p.encode() in data])",
            &zip,
            &manifest_dir(),
            &cargo_home,
        ])
        .output()
        .unwrap();
    let found = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    assert!(
        found.ends_with(" []") && found.len() > 8,
        "paths in the binary: {found}"
    );

    // A clean rebuild of the runtime gives the same zip: still nothing to do.
    let clean = Command::new(env!("CARGO"))
        .args([
            "clean",
            "--release",
            "--target",
            "x86_64-unknown-linux-gnu",
            "-p",
            "chat-runtime",
        ])
        .current_dir(manifest_dir())
        .status()
        .unwrap();
    assert!(clean.success());
    // An empty package cache, or the kept package would be used as it is.
    let empty = test.directory.path().join("no-packages");
    assert_eq!(
        test.cairn_with(
            &["plan", "dev", "--detailed-exitcode"],
            &[("CAIRN_PACKAGE_CACHE", empty.to_str().unwrap())]
        )
        .code,
        0,
        "a rebuild changed the package"
    );

    // Memory changed by hand is found and put back.
    let aws = test.aws().await;
    aws.lambda()
        .update_function_configuration()
        .function_name("mta-chat-dev-chat")
        .memory_size(256)
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&["plan", "dev", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2);
    assert!(
        drift.stdout.contains("~ memory_size = 256 -> 512"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .stdout
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        drift.stdout
    );
    test.ok(&["apply", "dev", "--auto-approve"]);
    assert_eq!(test.cairn(&["plan", "dev", "--detailed-exitcode"]).code, 0);

    // Stage throttling: the plan shows only what changes inside the stage.
    let stage_plan = test.ok(&["plan", "dev", "--var", "stage_burst_limit=7"]);
    insta::assert_snapshot!("stage_plan", without_package(&stage_plan.stdout));
    // A throttled or failing UpdateStage is transient on AWS: cairn gives
    // up with the error and never touches the live stage. (The proxy
    // answers UpdateStage itself, so moto's missing UpdateStage is not hit.)
    for fault in [Fault::Throttle, Fault::Unavailable] {
        let proxy = FaultProxy::start(&test.endpoint(), vec![("UpdateStage", fault, 100)]);
        let failed = test.cairn_with(
            &[
                "--endpoint-url",
                &proxy.endpoint(),
                "apply",
                "dev",
                "--auto-approve",
                "--var",
                "stage_burst_limit=7",
            ],
            &[("CAIRN_RETRY_ATTEMPTS", "2")],
        );
        assert_eq!(failed.code, 1, "{}", failed.stderr);
        assert!(failed.stderr.contains("UpdateStage"), "{}", failed.stderr);
        assert!(!failed.stderr.contains("re-created"), "{}", failed.stderr);
        assert_eq!(proxy.calls("DeleteStage") + proxy.calls("CreateStage"), 0);
    }
    // Only an endpoint that says it lacks UpdateStage (501 NotImplemented)
    // gets the stage re-created, with a warning.
    let proxy = FaultProxy::start(
        &test.endpoint(),
        vec![("UpdateStage", Fault::NotImplemented, 100)],
    );
    let recreated = test.cairn(&[
        "--endpoint-url",
        &proxy.endpoint(),
        "apply",
        "dev",
        "--auto-approve",
        "--var",
        "stage_burst_limit=7",
    ]);
    assert_eq!(recreated.code, 0, "{}", recreated.stderr);
    assert!(
        recreated.stderr.contains("re-created the $default stage"),
        "{}",
        recreated.stderr
    );
    assert_eq!(
        proxy.calls("UpdateStage"),
        1,
        "a NotImplemented answer is not retried"
    );
    assert_eq!(
        test.cairn(&[
            "plan",
            "dev",
            "--detailed-exitcode",
            "--var",
            "stage_burst_limit=7"
        ])
        .code,
        0
    );

    // Prod plans with its own values (against its own, empty state).
    let prod = test.ok(&["plan", "prod"]);
    let squeeze = |text: &str| {
        text.split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let prod_text = squeeze(&prod.stdout);
    for expected in [
        "\"mta-chat-prod-chat\"",
        "memory_size          = 1024",
        "reserved_concurrency = 20",
        "RATE_LIMIT_MAX_REQUESTS   = \"15\"",
        "CORS_ALLOW_ORIGINS        = \"https://medical-tech-aesthetic.com\"",
        "throttling_burst_limit = 10",
        "throttling_rate_limit  = 2.0",
        "point_in_time_recovery = true",
        "deletion_protection    = true",
        "retention_in_days = 30",
    ] {
        assert!(
            prod_text.contains(&squeeze(expected)),
            "prod plan lacks {expected}:\n{}",
            prod.stdout
        );
    }

    // Destroy leaves nothing behind.
    test.ok(&[
        "destroy",
        "dev",
        "--auto-approve",
        "--var",
        "stage_burst_limit=7",
    ]);
    assert_eq!(inventory(&aws).await, with_state_table(NOTHING.to_vec()));
    let permission = aws
        .lambda()
        .get_policy()
        .function_name("mta-chat-dev-chat")
        .send()
        .await;
    assert!(permission.is_err(), "the function's policy survived");
}

#[test]
fn arm64_without_its_rust_target_is_a_clear_error() {
    let test = Test::offline();
    let installed = Command::new("rustc")
        .args([
            "--print",
            "target-libdir",
            "--target",
            "aarch64-unknown-linux-gnu",
        ])
        .output()
        .map(|o| {
            o.status.success()
                && std::path::Path::new(String::from_utf8_lossy(&o.stdout).trim()).exists()
        })
        .unwrap_or(false);
    let run = test.cairn(&["build", "dev", "--var", "function_architecture=arm64"]);
    if installed {
        // With the target (and a linker) present it builds; without a
        // linker cargo's own error is shown. Either way no x86_64 code.
        assert!(
            run.code == 0 || run.stderr.contains("aarch64-unknown-linux-gnu"),
            "{}",
            run.stderr
        );
    } else {
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(
            run.stderr
                .contains("rustup target add aarch64-unknown-linux-gnu"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn on_a_terminal_apply_redraws_a_status_line_and_elsewhere_it_does_not() {
    let test = Test::new();
    // `script` runs cairn on a pseudo-terminal, as a person would.
    let line = format!(
        "{} --state-dir {} --no-color apply {ALL} --auto-approve",
        env!("CARGO_BIN_EXE_cairn"),
        test.state_dir().display()
    );
    let output = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(manifest_dir())
        .env("AWS_ENDPOINT_URL", test.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("\r\x1b[2K[0/"),
        "no status line drawn:\n{shown:?}"
    );
    assert!(shown.contains(" in progress]"), "{shown:?}");
    assert!(shown.contains("Apply complete!"), "{shown}");
    // Piped, the same apply is plain lines.
    let piped = test.ok(&["destroy", ALL, "--auto-approve"]);
    assert!(!piped.stdout.contains('\x1b'), "{:?}", piped.stdout);
}

/// The inline policy `home` of the language test's role, decoded.
async fn home_policy(aws: &cairn::aws::Aws) -> serde_json::Value {
    let document = aws
        .iam()
        .get_role_policy()
        .role_name("cairn-test-t-role")
        .policy_name("home")
        .send()
        .await
        .unwrap()
        .policy_document;
    serde_json::from_str(&percent(&document)).unwrap()
}

/// IAM policy variables reach AWS literally, `${aws.*}` outputs are saved,
/// and a resource whose type changes under the same name is never what its
/// dependents resolve against while it is being deleted.
#[tokio::test(flavor = "multi_thread")]
async fn policy_variables_aws_outputs_and_a_type_change_under_one_name() {
    let test = Test::new();
    let aws = test.aws().await;
    test.ok(&["apply", "tests/stacks/language.yaml", "--auto-approve"]);
    let again = test.cairn(&["plan", "tests/stacks/language.yaml", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    let policy = home_policy(&aws).await;
    assert_eq!(
        policy["Statement"][0]["Resource"],
        "arn:aws:s3:::cairn-test-home/${aws:username}/*"
    );
    assert_eq!(
        test.ok(&["output", "tests/stacks/language.yaml", "region"])
            .stdout
            .trim(),
        "us-east-1"
    );
    assert_eq!(
        test.ok(&["output", "tests/stacks/language.yaml", "bucket_arn"])
            .stdout
            .trim(),
        "arn:aws:s3:::cairn-test-home"
    );

    let changed = test.ok(&["apply", "tests/stacks/language-2.yaml", "--auto-approve"]);
    assert!(
        changed.stdout.contains("1 added, 1 changed, 1 destroyed"),
        "{}",
        changed.stdout
    );
    let policy = home_policy(&aws).await;
    assert_eq!(
        policy["Statement"][1]["Resource"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/cairn-test-t-store"
    );
    let again = test.cairn(&[
        "plan",
        "tests/stacks/language-2.yaml",
        "--detailed-exitcode",
    ]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    test.ok(&["destroy", "tests/stacks/language-2.yaml", "--auto-approve"]);
    assert_eq!(inventory(&aws).await, NOTHING);
}

/// Clients are built on first use, one per service, and then shared.
#[tokio::test(flavor = "multi_thread")]
async fn service_clients_are_built_on_first_use() {
    let test = Test::new();
    let aws = test.aws().await;
    assert_eq!(aws.clients_built(), 0);
    aws.kms().list_keys().send().await.unwrap();
    aws.kms().list_aliases().send().await.unwrap();
    assert_eq!(aws.clients_built(), 1);
}

/// A resource that leaves the stack is deleted only after the resources
/// that depended on it (as the state records) have been updated.
#[test]
fn a_resource_leaving_the_stack_goes_after_its_dependents_change() {
    let test = Test::new();
    test.ok(&["apply", "tests/stacks/leaving.yaml", "--auto-approve"]);
    let run = test.ok(&["apply", "tests/stacks/leaving-2.yaml", "--auto-approve"]);
    let position = |text: &str| {
        run.stdout
            .find(text)
            .unwrap_or_else(|| panic!("no `{text}` in:\n{}", run.stdout))
    };
    assert!(
        position("iam_role.role: Modifications complete")
            < position("dynamodb_table.table: Destroying..."),
        "{}",
        run.stdout
    );
    assert_eq!(
        test.cairn(&["plan", "tests/stacks/leaving-2.yaml", "--detailed-exitcode"])
            .code,
        0
    );
}

/// A checkout of a small Cargo workspace (one binary, no dependencies) and
/// a stack `t.yaml` deploying it, under `root/name`.
fn hello_checkout(root: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("hello/src")).unwrap();
    let files = [
        ("Cargo.toml", "[workspace]\nmembers = [\"hello\"]\nresolver = \"2\"\n"),
        ("hello/Cargo.toml", "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("hello/src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n"),
        ("Cargo.lock", "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n"),
        ("t.yaml", "project: cairn-test\nenvironment: t\nresources:\n  role:\n    type: iam_role\n    properties: { assume_role_services: [lambda.amazonaws.com] }\n  function:\n    type: lambda_function\n    properties:\n      code: { cargo: hello }\n      role_arn: ${role.arn}\n"),
    ];
    for (path, text) in files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    dir
}

/// Issue 13: a package built once from these sources is used again
/// without running cargo (a `CARGO` that fails proves it), from the same
/// checkout and from another one at another path; rebuilt, it is the same
/// zip byte for byte; a changed source is never served from the cache.
#[test]
fn an_unchanged_package_is_used_without_cargo_from_any_checkout() {
    let test = Test::offline();
    let root = test.directory.path();
    let cache = root.join("packages");
    let target = root.join("target");
    let build = |checkout: &std::path::Path, no_cargo: bool| {
        let cache = cache.to_str().unwrap();
        let target = target.to_str().unwrap();
        let mut environment = vec![("CAIRN_PACKAGE_CACHE", cache), ("CARGO_TARGET_DIR", target)];
        if no_cargo {
            environment.push(("CARGO", "/bin/false"));
        }
        let run = test.cairn_with(
            &["build", "t", "--stack-dir", checkout.to_str().unwrap()],
            &environment,
        );
        // "lambda_function.function: PATH (N bytes, sha256 HASH)"
        let line = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("lambda_function.function: "))
            .map(str::to_owned);
        (run, line)
    };
    let zip_of = |line: &str| std::fs::read(line.split(" (").next().unwrap()).unwrap();

    let first = hello_checkout(root, "first");
    let (run, built) = build(&first, false);
    let built = built.unwrap_or_else(|| panic!("{}\n{}", run.stdout, run.stderr));
    let bytes = zip_of(&built);

    let (run, again) = build(&first, true);
    assert_eq!(
        run.code, 0,
        "cargo ran for an unchanged package: {}",
        run.stderr
    );
    assert_eq!(again.as_deref(), Some(built.as_str()));

    let second = hello_checkout(root, "second");
    let (run, elsewhere) = build(&second, true);
    assert_eq!(run.code, 0, "another checkout ran cargo: {}", run.stderr);
    assert_eq!(elsewhere.as_deref(), Some(built.as_str()));

    // Without the cache, a build (here from the other checkout) gives the
    // very same zip.
    std::fs::remove_dir_all(&cache).unwrap();
    let (run, rebuilt) = build(&second, false);
    let rebuilt = rebuilt.unwrap_or_else(|| panic!("{}", run.stderr));
    assert_eq!(zip_of(&rebuilt), bytes, "a rebuild gave another zip");

    // A changed source needs cargo, and then gives another package.
    std::fs::write(
        second.join("hello/src/main.rs"),
        "fn main() {\n    println!(\"hello again\");\n}\n",
    )
    .unwrap();
    let (run, _) = build(&second, true);
    assert_eq!(run.code, 1, "a changed source was served from the cache");
    let (_, changed) = build(&second, false);
    let changed = changed.unwrap();
    assert_ne!(
        changed.split("sha256 ").nth(1),
        built.split("sha256 ").nth(1)
    );
    // And the first checkout, unchanged, still finds its own.
    let (run, first_again) = build(&first, true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        first_again.unwrap().split("sha256 ").nth(1),
        built.split("sha256 ").nth(1)
    );
}

/// The names of the test functions in `tests/*.rs`.
fn test_functions() -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let directory = std::path::Path::new(&manifest_dir()).join("tests");
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut attribute = false;
        for line in text.lines() {
            if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
                attribute = true;
            } else if let Some(signature) = line
                .strip_prefix("async fn ")
                .or_else(|| line.strip_prefix("fn "))
            {
                if attribute {
                    names.insert(signature.split('(').next().unwrap().to_owned());
                }
                attribute = false;
            }
        }
    }
    names
}

/// Every registered type has a test that runs its whole life on the
/// emulator (`tests/common/lives.rs`), every test named there exists, and
/// a step said impossible is: the type has no field for it.
#[test]
fn every_type_has_a_test_of_its_whole_life() {
    let tests = test_functions();
    assert!(tests.contains("every_type_has_a_test_of_its_whole_life"));
    let registered = registered_types();
    let mut problems = Vec::new();
    for (type_name, updatable, replaceable) in &registered {
        let Some(life) = LIVES.iter().find(|life| life.type_name == *type_name) else {
            problems.push(format!("{type_name}: no entry"));
            continue;
        };
        if !tests.contains(life.test) {
            problems.push(format!("{type_name}: no test `{}`", life.test));
        }
        for (step, has_field, place) in [
            ("update", *updatable, life.update),
            ("replace", *replaceable, life.replace),
            ("drift", true, life.drift),
        ] {
            match place {
                Step::There => {}
                Step::In(test) if tests.contains(test) => {}
                Step::In(test) => problems.push(format!("{type_name}: {step}: no test `{test}`")),
                Step::Impossible if !has_field => {}
                Step::Impossible => problems.push(format!(
                    "{type_name}: {step} is said impossible, but the type has a field for it"
                )),
                Step::NotOnMoto(why) if !why.trim().is_empty() => {}
                Step::NotOnMoto(_) => problems.push(format!("{type_name}: {step}: no reason")),
            }
        }
    }
    for life in LIVES {
        if !registered
            .iter()
            .any(|(name, _, _)| *name == life.type_name)
        {
            problems.push(format!("{}: not a registered type", life.type_name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
