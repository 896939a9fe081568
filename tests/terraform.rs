//! cairn's plans read by the tools that read Terraform's: checkov and
//! terraform-compliance, installed from PyPI by the test run itself into a
//! virtualenv in the target directory (kept between runs), and the JSON
//! Output Format's structure (format 1.2) as a JSON Schema.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const CHECKOV: &str = "checkov==3.3.30";
const TERRAFORM_COMPLIANCE: &str = "terraform-compliance==1.16.0";
const STACK: &str = "tests/stacks/terraform.yaml";

/// The virtualenv with the consumers, made once per target directory.
fn consumers() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| python_tools("terraform-consumers", &[CHECKOV, TERRAFORM_COMPLIANCE]))
}

struct Checkov {
    code: i32,
    resource_count: u64,
    parsing_errors: u64,
    /// (check id, Terraform address)
    passed: Vec<(String, String)>,
    failed: Vec<(String, String)>,
}

impl Checkov {
    fn passed(&self, check: &str, address: &str) -> bool {
        self.passed.contains(&(check.into(), address.into()))
    }
    fn failed(&self, check: &str, address: &str) -> bool {
        self.failed.contains(&(check.into(), address.into()))
    }
}

/// checkov on a plan file, offline, as a CI job runs it.
fn checkov(plan: &Path) -> Checkov {
    let output = Command::new(consumers().join("bin/checkov"))
        .args([
            "--framework",
            "terraform_plan",
            "--skip-download",
            "-o",
            "json",
            "-f",
        ])
        .arg(plan)
        .current_dir(plan.parent().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov wrote no JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    // A report with no resources is only the summary.
    let summary = report.get("summary").unwrap_or(&report);
    let checks = |kind: &str| -> Vec<(String, String)> {
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
    Checkov {
        code: output.status.code().unwrap_or(-1),
        resource_count: summary["resource_count"].as_u64().unwrap(),
        parsing_errors: summary["parsing_errors"].as_u64().unwrap(),
        passed: checks("passed_checks"),
        failed: checks("failed_checks"),
    }
}

/// terraform-compliance with one feature file; true when every scenario
/// passes.
fn compliance(plan: &Path, feature: &str) -> (bool, String) {
    let output = Command::new(consumers().join("bin/terraform-compliance"))
        .arg("--no-ansi")
        .arg("-p")
        .arg(plan)
        .arg("-f")
        .arg(
            Path::new(&manifest_dir())
                .join("tests/terraform/features")
                .join(feature),
        )
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !text.contains("not a valid terraform plan"),
        "terraform-compliance refused the plan:\n{text}"
    );
    (output.status.success(), text)
}

/// The plan against the JSON Output Format's structure; panics with every
/// violation.
fn assert_terraform_format(plan: &Path) {
    let schema = Path::new(&manifest_dir()).join("tests/terraform/plan-format-1.2.schema.json");
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1])); plan = json.load(open(sys.argv[2]))\n\
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(plan))\n\
        [print(list(e.absolute_path), e.message[:300]) for e in errors[:20]]\n\
        sys.exit(1 if errors else 0)\n";
    let output = Command::new(consumers().join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(schema)
        .arg(plan)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} does not follow the JSON Output Format:\n{}{}",
        plan.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `cairn plan … --json` written to a file, as CI keeps it; the text is one
/// line, as Terraform writes it.
fn plan_file(test: &Test, args: &[&str], file: &str) -> (PathBuf, Value) {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    all.push("--json");
    let run = test.cairn(&all);
    assert!(
        run.code == 0,
        "cairn {all:?} failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.stdout.trim_end().lines().count(), 1, "one line");
    let path = test.directory.path().join(file);
    std::fs::write(&path, &run.stdout).unwrap();
    (path, serde_json::from_str(&run.stdout).unwrap())
}

fn planned_addresses(plan: &Value) -> Vec<String> {
    plan["planned_values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_owned())
        .collect()
}

fn change<'a>(plan: &'a Value, address: &str) -> &'a Value {
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no {address} in the plan"))
}

#[test]
fn checkov_and_terraform_compliance_judge_the_shipped_stacks() {
    let test = Test::new();
    test.ok(&["state", "init-backend", "dev"]);
    let (dev_file, dev) = plan_file(&test, &["dev"], "dev.json");
    let (prod_file, prod) = plan_file(&test, &["prod"], "prod.json");
    for (file, plan) in [(&dev_file, &dev), (&prod_file, &prod)] {
        assert_terraform_format(file);
        let report = checkov(file);
        assert_eq!(report.parsing_errors, 0);
        // checkov sees every resource of the plan, and fails the gate on
        // what it finds.
        assert_eq!(report.resource_count, planned_addresses(plan).len() as u64);
        assert_eq!(report.code, 1, "findings fail the gate");
        // What the stack does right.
        assert!(report.passed("CKV_AWS_119", "aws_dynamodb_table.rate_limit"));
        assert!(report.passed("CKV_AWS_158", "aws_cloudwatch_log_group.function_logs"));
        assert!(report.passed("CKV_AWS_158", "aws_cloudwatch_log_group.api_access_logs"));
        assert!(report.passed("CKV_AWS_163", "aws_ecr_repository.images"));
        assert!(report.passed("CKV_AWS_115", "aws_lambda_function.chat"));
        assert!(report.passed("CKV_AWS_7", "aws_kms_key.key"));
        assert!(report.passed("CKV_AWS_33", "aws_kms_key.key"));
        assert!(report.passed("CKV_AWS_45", "aws_lambda_function.chat"));
        assert!(report.passed("CKV_AWS_76", "aws_apigatewayv2_stage.api"));
    }
    // The pull-request workflow's gate: green on the shipped stacks, each
    // finding they take accepted with its reason in .checkov/ENV.yaml.
    for (file, environment) in [(&dev_file, "dev"), (&prod_file, "prod")] {
        let config = Path::new(&manifest_dir()).join(format!(".checkov/{environment}.yaml"));
        let gate = Command::new(consumers().join("bin/checkov"))
            .arg("-f")
            .arg(file)
            .arg("--config-file")
            .arg(&config)
            .current_dir(test.directory.path())
            .output()
            .unwrap();
        assert!(
            gate.status.success(),
            "the {environment} gate fails:\n{}",
            String::from_utf8_lossy(&gate.stdout)
        );
    }
    // What dev leaves out and prod has: point-in-time recovery.
    assert!(checkov(&dev_file).failed("CKV_AWS_28", "aws_dynamodb_table.rate_limit"));
    assert!(checkov(&prod_file).passed("CKV_AWS_28", "aws_dynamodb_table.rate_limit"));

    let (ok, text) = compliance(&dev_file, "encryption");
    assert!(ok, "{text}");
    let (ok, text) = compliance(&prod_file, "encryption");
    assert!(ok, "{text}");
    let (ok, text) = compliance(&prod_file, "backups");
    assert!(ok, "{text}");
    let (ok, text) = compliance(&dev_file, "backups");
    assert!(!ok, "dev has no point-in-time recovery:\n{text}");
    assert!(text.contains("aws_dynamodb_table.rate_limit"), "{text}");
}

#[test]
fn checkov_catches_what_a_stack_plants() {
    let test = Test::new();
    let zip = test.directory.path().join("f.zip");
    std::fs::write(
        &zip,
        cairn::package::reproducible_zip(&[("bootstrap", b"code", true)]),
    )
    .unwrap();
    let zip = format!("zip={}", zip.display());
    let args = [
        "tests/stacks/planted.yaml",
        "--var",
        &zip,
        "--var",
        "db_password=planted-password-never-shown",
    ];
    let (file, plan) = plan_file(&test, &args, "planted.json");
    assert_terraform_format(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("planted-password"), "the secret is nowhere");
    let report = checkov(&file);
    assert_eq!(report.resource_count, planned_addresses(&plan).len() as u64);
    assert!(
        report.failed("CKV_AWS_33", "aws_kms_key.open"),
        "a \"*\" principal in a key policy"
    );
    // The sensitive variable hides only its own entry: the access keys
    // beside it are seen.
    assert!(
        report.failed("CKV_AWS_45", "aws_lambda_function.leaky"),
        "an access key in a function's environment"
    );
    let leaky = change(&plan, "aws_lambda_function.leaky");
    assert_eq!(
        leaky["change"]["after_sensitive"]["environment"],
        serde_json::json!([{"variables": {"DB_PASSWORD": true}}])
    );
    let variables = &leaky["change"]["after"]["environment"][0]["variables"];
    assert_eq!(variables["DB_PASSWORD"], Value::Null);
    assert_eq!(variables["UPSTREAM_KEY_ID"], "AKIAIOSFODNN7EXAMPLE");
    // Each inline policy is an aws_iam_role_policy and each managed
    // policy an aws_iam_role_policy_attachment, which checkov's IAM
    // checks read.
    let policy = "aws_iam_role_policy.role[\"everything\"]";
    assert_eq!(
        change(&plan, policy)["change"]["after"]["role"],
        "cairn-test-t-role"
    );
    for check in ["CKV_AWS_63", "CKV_AWS_286", "CKV_AWS_355"] {
        assert!(report.failed(check, policy), "{check} on {policy}");
    }
    assert!(report.failed(
        "CKV_AWS_274",
        "aws_iam_role_policy_attachment.role[\"arn:aws:iam::aws:policy/AdministratorAccess\"]"
    ));
    assert_eq!(report.code, 1);
    // A saved plan shows the same: the secret's entry hidden, the rest not.
    let saved = test.directory.path().join("planted.plan");
    let saved_arg = saved.to_str().unwrap();
    test.ok(&[&["plan"][..], &args, &["--out", saved_arg]].concat());
    assert!(!std::fs::read_to_string(&saved)
        .unwrap()
        .contains("planted-password"));
    let shown: Value =
        serde_json::from_str(&test.ok(&["show", saved_arg, "--json"]).stdout).unwrap();
    assert_eq!(shown["resource_changes"], plan["resource_changes"]);
    // The workflow's gate does not accept them.
    let config = Path::new(&manifest_dir()).join(".checkov/prod.yaml");
    let gate = Command::new(consumers().join("bin/checkov"))
        .arg("-f")
        .arg(&file)
        .arg("--config-file")
        .arg(&config)
        .current_dir(test.directory.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&gate.stdout);
    assert_eq!(gate.status.code(), Some(1), "{text}");
    assert!(
        text.contains("CKV_AWS_33") && text.contains("CKV_AWS_45"),
        "{text}"
    );
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_drift_and_destroy_read_as_terraform_writes_them() {
    let test = Test::new();
    let zip = test.directory.path().join("f.zip");
    std::fs::write(
        &zip,
        cairn::package::reproducible_zip(&[("bootstrap", b"code", true)]),
    )
    .unwrap();
    let zip = format!("zip={}", zip.display());
    let secret = "secret=hunter2-never-shown";
    let base = ["--var", zip.as_str(), "--var", secret];
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut args = vec![STACK.to_owned()];
        args.extend(base.iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    // From nothing: every attribute AWS assigns is unknown; references
    // are kept in the configuration; the secret is nowhere.
    let args = with(&[]);
    let (file, created) = plan_file(&test, &refs(&args), "create.json");
    assert_terraform_format(&file);
    assert!(!std::fs::read_to_string(&file).unwrap().contains("hunter2"));
    let table = change(&created, "aws_dynamodb_table.table");
    assert_eq!(table["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(table["change"]["after_unknown"]["arn"], true);
    assert!(
        table["change"]["after"].get("arn").is_none(),
        "unknown values are left out of after"
    );
    assert_eq!(table["cairn_address"], "dynamodb_table.table");
    let version = change(&created, "aws_secretsmanager_secret_version.secret");
    assert_eq!(version["change"]["after"]["secret_string"], Value::Null);
    assert_eq!(version["change"]["after_sensitive"]["secret_string"], true);
    let config = created["configuration"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "aws_dynamodb_table.table")
        .unwrap();
    assert_eq!(
        config["expressions"]["server_side_encryption"][0]["kms_key_arn"]["references"],
        serde_json::json!(["aws_kms_key.key.arn", "aws_kms_key.key"])
    );
    // Every attribute of the provider's schema is written, null where
    // unset; what AWS decides on create is unknown, as Terraform plans it:
    // a function's tracing, so checkov asks for X-Ray.
    let function = change(&created, "aws_lambda_function.function");
    assert_eq!(function["change"]["after"]["kms_key_arn"], Value::Null);
    assert_eq!(
        function["change"]["after"]["dead_letter_config"],
        serde_json::json!([])
    );
    assert_eq!(function["change"]["after_unknown"]["tracing_config"], true);
    assert!(function["change"]["after"].get("tracing_config").is_none());
    let policy = change(&created, "aws_iam_role_policy.role[\"table\"]");
    assert_eq!(policy["change"]["actions"], serde_json::json!(["create"]));
    assert_eq!(policy["change"]["after"]["name"], "table");
    assert_eq!(policy["change"]["after_unknown"]["policy"], true);
    let report = checkov(&file);
    assert_eq!(
        report.resource_count,
        planned_addresses(&created).len() as u64
    );
    assert!(report.passed("CKV_AWS_119", "aws_dynamodb_table.table"));
    assert!(report.failed("CKV_AWS_28", "aws_dynamodb_table.table"));
    assert!(report.failed("CKV_AWS_50", "aws_lambda_function.function"));
    test.ok(&[&["apply"][..], &refs(&args), &["--auto-approve"]].concat());

    // A route added and memory changed: the route is a create of its own,
    // the API a no-op, the function an update with its old value before.
    let args = with(&["--var", "memory=256", "--var", "extra_route=GET /status"]);
    let (file, changed) = plan_file(&test, &refs(&args), "change.json");
    assert_terraform_format(&file);
    let function = change(&changed, "aws_lambda_function.function");
    assert_eq!(function["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(function["change"]["before"]["memory_size"], 128);
    assert_eq!(function["change"]["after"]["memory_size"], 256);
    // Left to AWS, tracing is what AWS holds once the function exists.
    assert_eq!(
        function["change"]["after"]["tracing_config"],
        serde_json::json!([{"mode": "PassThrough"}])
    );
    assert_eq!(
        change(&changed, "aws_iam_role_policy.role[\"table\"]")["change"]["actions"],
        serde_json::json!(["no-op"])
    );
    assert_eq!(
        change(&changed, "aws_apigatewayv2_route.api[\"GET /status\"]")["change"]["actions"],
        serde_json::json!(["create"])
    );
    assert_eq!(
        change(&changed, "aws_apigatewayv2_route.api[\"POST /chat\"]")["change"]["actions"],
        serde_json::json!(["no-op"])
    );
    assert_eq!(
        change(&changed, "aws_apigatewayv2_api.api")["change"]["actions"],
        serde_json::json!(["no-op"])
    );
    assert_eq!(
        change(&changed, "aws_dynamodb_table.table")["change"]["after"]["arn"]
            .as_str()
            .map(|a| a.contains(":table/")),
        Some(true)
    );
    assert!(
        changed["prior_state"]["values"]["root_module"]["resources"]
            .as_array()
            .unwrap()
            .len()
            > 5
    );
    let report = checkov(&file);
    assert_eq!(report.parsing_errors, 0);
    assert_eq!(
        report.resource_count,
        planned_addresses(&changed).len() as u64
    );
    // A saved plan shows as the same JSON.
    let saved = test.directory.path().join("saved.json");
    let saved_arg = saved.to_str().unwrap();
    test.ok(&[&["plan"][..], &refs(&args), &["--out", saved_arg]].concat());
    let shown: Value =
        serde_json::from_str(&test.ok(&["show", saved_arg, "--json"]).stdout).unwrap();
    assert_eq!(shown["resource_changes"], changed["resource_changes"]);
    assert!(!test
        .ok(&["show", saved_arg, "--json=cairn"])
        .stdout
        .contains("hunter2"));

    // Drift: what changed outside shows in resource_drift and
    // relevant_attributes.
    let aws = test.aws().await;
    aws.logs()
        .put_retention_policy()
        .log_group_name("/cairn-test/t/tf-logs")
        .retention_in_days(90)
        .send()
        .await
        .unwrap();
    let args = with(&[]);
    let (file, drifted) = plan_file(&test, &refs(&args), "drift.json");
    assert_terraform_format(&file);
    let drift = drifted["resource_drift"].as_array().unwrap();
    let logs = drift
        .iter()
        .find(|d| d["address"] == "aws_cloudwatch_log_group.logs")
        .expect("the log group drifted");
    assert_eq!(logs["change"]["before"]["retention_in_days"], 7);
    assert_eq!(logs["change"]["after"]["retention_in_days"], 90);
    assert!(drifted["relevant_attributes"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"resource": "aws_cloudwatch_log_group.logs", "attribute": ["retention_in_days"]})));

    // Destroy: every resource a delete, nothing planned, all in the prior
    // state; checkov reads it without error (and, as for Terraform's,
    // checks nothing).
    let args = with(&["--destroy"]);
    let (file, destroy) = plan_file(&test, &refs(&args), "destroy.json");
    assert_terraform_format(&file);
    for c in destroy["resource_changes"].as_array().unwrap() {
        assert_eq!(c["change"]["actions"], serde_json::json!(["delete"]), "{c}");
        assert!(c.get("action_reason").is_none());
    }
    assert!(planned_addresses(&destroy).is_empty());
    assert_eq!(
        destroy["prior_state"]["values"]["root_module"]["resources"]
            .as_array()
            .unwrap()
            .len(),
        destroy["resource_changes"].as_array().unwrap().len()
    );
    let report = checkov(&file);
    assert_eq!(
        (report.parsing_errors, report.resource_count, report.code),
        (0, 0, 0)
    );
}

/// Plans that hold every type, each read by checkov whole, and each
/// resource in the Terraform types its cairn type declares.
#[test]
fn every_type_reads_in_terraform_terms() {
    let test = Test::new();
    let zip = test.directory.path().join("f.zip");
    std::fs::write(
        &zip,
        cairn::package::reproducible_zip(&[("bootstrap", b"code", true)]),
    )
    .unwrap();
    let zip = format!("zip={}", zip.display());
    let plans: [&[&str]; 9] = [
        &["dev", "--local-state"],
        &["tests/stacks/lives-cdn.yaml"],
        &["stacks/secure-backend/prod.yaml", "--local-state"],
        &["tests/stacks/network.yaml"],
        &["tests/stacks/lives-containers.yaml"],
        &["tests/stacks/topic.yaml"],
        &[STACK, "--var", &zip, "--var", "secret=s"],
        &["tests/stacks/lives-storage.yaml"],
        &["stacks/nutritionist/prod.yaml"],
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (i, args) in plans.iter().enumerate() {
        let (file, plan) = plan_file(&test, args, &format!("plan-{i}.json"));
        assert_terraform_format(&file);
        let report = checkov(&file);
        assert_eq!(report.parsing_errors, 0, "{args:?}");
        assert_eq!(
            report.resource_count,
            planned_addresses(&plan).len() as u64,
            "{args:?}"
        );
        for change in plan["resource_changes"].as_array().unwrap() {
            // A key AWS generates: unknown and sensitive, never a known null.
            if change["type"] == "aws_api_gateway_api_key" {
                assert_eq!(change["change"]["after_unknown"]["value"], true, "{change}");
                assert_eq!(
                    change["change"]["after_sensitive"]["value"], true,
                    "{change}"
                );
            }
            let cairn_type = change["cairn_address"]
                .as_str()
                .unwrap()
                .split('.')
                .next()
                .unwrap();
            let declared = cairn::types::of(cairn_type).terraform.types;
            assert!(
                declared.contains(&change["type"].as_str().unwrap()),
                "{change}"
            );
            seen.insert(cairn_type.to_owned());
        }
    }
    let all: std::collections::BTreeSet<String> = cairn::types::all()
        .iter()
        .map(|t| t.schema.type_name.to_owned())
        .collect();
    assert_eq!(seen, all, "a type no plan here shows");
}

const WAREHOUSE: &str = "tests/terraform/states/warehouse.tfstate";
const FAKE_KEY: &str = "FakeKeyValueReplacedByCairnTests0123456";

/// The state's attributes of one resource.
fn tf_attributes<'a>(state: &'a Value, tf_type: &str, name: &str) -> &'a Value {
    &state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == tf_type && r["name"] == name)
        .unwrap_or_else(|| panic!("no {tf_type}.{name}"))["instances"][0]["attributes"]
}

/// Creates the warehouse state's resources on the emulator from the
/// state's own attributes; gives the state as it would read for them.
async fn seed_warehouse(test: &Test, zip: &[u8]) -> String {
    let text = std::fs::read_to_string(Path::new(&manifest_dir()).join(WAREHOUSE)).unwrap();
    let state: Value = serde_json::from_str(&text).unwrap();
    let aws = test.aws().await;
    let s = |v: &Value| v.as_str().unwrap().to_owned();

    let table = tf_attributes(&state, "aws_dynamodb_table", "warehouse_robot_logs");
    use aws_sdk_dynamodb::types as ddb;
    aws.dynamodb()
        .create_table()
        .table_name(s(&table["name"]))
        .billing_mode(ddb::BillingMode::PayPerRequest)
        .attribute_definitions(
            ddb::AttributeDefinition::builder()
                .attribute_name(s(&table["attribute"][0]["name"]))
                .attribute_type(ddb::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            ddb::KeySchemaElement::builder()
                .attribute_name(s(&table["hash_key"]))
                .key_type(ddb::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let policy = tf_attributes(&state, "aws_iam_policy", "lambda_dynamodb_policy");
    let policy_arn = aws
        .iam()
        .create_policy()
        .policy_name(s(&policy["name"]))
        .policy_document(s(&policy["policy"]))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    let role = tf_attributes(&state, "aws_iam_role", "lambda_exec_role");
    let role_arn = aws
        .iam()
        .create_role()
        .role_name(s(&role["name"]))
        .path(s(&role["path"]))
        .assume_role_policy_document(s(&role["assume_role_policy"]))
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    aws.iam()
        .attach_role_policy()
        .role_name(s(&role["name"]))
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();

    let function = tf_attributes(&state, "aws_lambda_function", "get_all_data");
    use aws_sdk_lambda::types as lambda;
    let mut variables = std::collections::HashMap::new();
    for (k, v) in function["environment"][0]["variables"].as_object().unwrap() {
        variables.insert(k.clone(), s(v));
    }
    aws.lambda()
        .create_function()
        .function_name(s(&function["function_name"]))
        .runtime(lambda::Runtime::from(function["runtime"].as_str().unwrap()))
        .handler(s(&function["handler"]))
        .role(&role_arn)
        .memory_size(function["memory_size"].as_i64().unwrap() as i32)
        .timeout(function["timeout"].as_i64().unwrap() as i32)
        .architectures(lambda::Architecture::X8664)
        .environment(
            lambda::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .code(
            lambda::FunctionCode::builder()
                .zip_file(zip.to_vec().into())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let api = tf_attributes(&state, "aws_api_gateway_rest_api", "warehouse_api");
    use aws_sdk_apigateway::types as apigw;
    let api_id = aws
        .restapi()
        .create_rest_api()
        .name(s(&api["name"]))
        .description(s(&api["description"]))
        .endpoint_configuration(
            apigw::EndpointConfiguration::builder()
                .types(apigw::EndpointType::Edge)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .id
        .unwrap();
    let root = aws
        .restapi()
        .get_resources()
        .rest_api_id(&api_id)
        .send()
        .await
        .unwrap()
        .items
        .unwrap()[0]
        .id
        .clone()
        .unwrap();
    aws.restapi()
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    aws.restapi()
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(apigw::IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    aws.restapi()
        .create_deployment()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();

    let permission = tf_attributes(&state, "aws_lambda_permission", "api_gateway_invoke");
    let account = "123456789012";
    aws.lambda()
        .add_permission()
        .function_name(s(&function["function_name"]))
        .statement_id(s(&permission["statement_id"]))
        .action(s(&permission["action"]))
        .principal(s(&permission["principal"]))
        .source_arn(format!(
            "arn:aws:execute-api:us-east-1:{account}:{api_id}/*"
        ))
        .send()
        .await
        .unwrap();

    let key = tf_attributes(&state, "aws_api_gateway_api_key", "warehouse_api_key");
    let key_id = aws
        .restapi()
        .create_api_key()
        .name(s(&key["name"]))
        .description(s(&key["description"]))
        .enabled(true)
        .value(s(&key["value"]))
        .send()
        .await
        .unwrap()
        .id
        .unwrap();
    let plan = tf_attributes(&state, "aws_api_gateway_usage_plan", "warehouse_usage_plan");
    let throttle = &plan["throttle_settings"][0];
    let plan_id = aws
        .restapi()
        .create_usage_plan()
        .name(s(&plan["name"]))
        .api_stages(
            apigw::ApiStage::builder()
                .api_id(&api_id)
                .stage("prod")
                .build(),
        )
        .throttle(
            apigw::ThrottleSettings::builder()
                .burst_limit(throttle["burst_limit"].as_i64().unwrap() as i32)
                .rate_limit(throttle["rate_limit"].as_f64().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .id
        .unwrap();
    aws.restapi()
        .create_usage_plan_key()
        .usage_plan_id(&plan_id)
        .key_id(&key_id)
        .key_type("API_KEY")
        .send()
        .await
        .unwrap();

    // The ids AWS gave, where the state has the original account's.
    let old = |t: &str, n: &str| s(&tf_attributes(&state, t, n)["id"]);
    text.replace("851725272326", account)
        .replace(&old("aws_api_gateway_rest_api", "warehouse_api"), &api_id)
        .replace(
            &old("aws_api_gateway_api_key", "warehouse_api_key"),
            &key_id,
        )
        .replace(
            &old("aws_api_gateway_usage_plan", "warehouse_usage_plan"),
            &plan_id,
        )
}

fn files_under(directory: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.push_str(&files_under(&path));
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            all.push_str(&text);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terraform_state_is_imported_without_recreating_anything() {
    let test = Test::new();
    let zip = cairn::package::reproducible_zip(&[(
        "lambda_function.py",
        b"def lambda_handler(e, c): pass",
        false,
    )]);
    let tfstate = seed_warehouse(&test, &zip).await;
    let dir = test.directory.path();
    let tfstate_file = dir.join("terraform.tfstate");
    std::fs::write(&tfstate_file, &tfstate).unwrap();
    let stacks = dir.join("stacks");
    std::fs::create_dir_all(stacks.join("lambda_functions")).unwrap();
    std::fs::write(stacks.join("lambda_functions/get_all_data.zip"), &zip).unwrap();
    let stack = stacks.join("warehouse.yaml");
    let stack_arg = stack.to_str().unwrap();

    let run = test.ok(&[
        "import",
        "--from-terraform",
        tfstate_file.to_str().unwrap(),
        stack_arg,
        "--project",
        "warehouse",
    ]);
    let report = run.stdout;
    for imported in [
        "aws_dynamodb_table.warehouse_robot_logs -> dynamodb_table.warehouse_robot_logs",
        "aws_iam_role.lambda_exec_role -> iam_role.lambda_exec_role",
        "aws_lambda_function.get_all_data -> lambda_function.get_all_data",
        "aws_lambda_permission.api_gateway_invoke -> lambda_permission.api_gateway_invoke",
        "aws_api_gateway_api_key.warehouse_api_key -> api_key.warehouse_api_key",
        "aws_api_gateway_usage_plan.warehouse_usage_plan -> usage_plan.warehouse_usage_plan",
    ] {
        assert!(report.contains(imported), "{imported}:\n{report}");
    }
    assert!(
        report.contains(
            "aws_api_gateway_usage_plan_key.warehouse_usage_plan_key (in usage_plan.warehouse_usage_plan)"
        ),
        "{report}"
    );
    // A managed policy's attachment is part of its role (the role is read
    // with its attachments).
    assert!(
        report
            .contains("aws_iam_role_policy_attachment.lambda_exec_policy_attach (in iam_role.lambda_exec_role)"),
        "{report}"
    );
    // What cairn cannot describe is named and left out, parts with it.
    for left in [
        "aws_api_gateway_rest_api.warehouse_api: its endpoint is [\"EDGE\"]",
        "aws_api_gateway_method.get_method: its aws_api_gateway_rest_api is not imported",
        "aws_iam_policy.lambda_dynamodb_policy: cairn has no type for it yet",
        "aws_servicecatalogappregistry_application.API_Lambda_Dynamodb_AWS: cairn has no type",
    ] {
        assert!(report.contains(left), "{left}:\n{report}");
    }
    // The state's secret is in none of cairn's files.
    assert!(!files_under(dir.join("stacks").as_path()).contains(FAKE_KEY));
    assert!(!files_under(&test.state_dir()).contains(FAKE_KEY));
    let written = std::fs::read_to_string(&stack).unwrap();
    assert!(
        written.contains("${warehouse_robot_logs.name}"),
        "references are kept:\n{written}"
    );
    assert!(written.contains("${lambda_exec_role.arn}"), "{written}");

    // `terraform state pull | cairn import --from-terraform - ENV` reads
    // the same state from stdin and writes the same stack.
    let piped = stacks.join("piped.yaml");
    let mut child = test
        .command(&[
            "import",
            "--from-terraform",
            "-",
            piped.to_str().unwrap(),
            "--project",
            "piped",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), tfstate.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let body = |text: &str| -> String {
        text.lines()
            .filter(|l| {
                !l.starts_with('#') && !l.starts_with("project:") && !l.starts_with("environment:")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        body(&std::fs::read_to_string(&piped).unwrap()),
        body(&written)
    );

    // The plan adds cairn's ownership tags and changes nothing else.
    let key = format!("CAIRN_VAR_warehouse_api_key_value={FAKE_KEY}");
    let (name, value) = key.split_once('=').unwrap();
    let with = [(name, value)];
    let plan = test.cairn_with(
        &["plan", stack_arg, "--json=cairn", "--detailed-exitcode"],
        &with,
    );
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let mut tagged = 0;
    for change in plan["changes"].as_array().unwrap() {
        if change["action"] == "update" {
            assert_eq!(change["changed"], serde_json::json!(["tags"]), "{change}");
            tagged += 1;
        } else {
            // A Lambda permission carries no tags.
            assert_eq!(
                (&change["action"], &change["type"]),
                (
                    &serde_json::json!("no_op"),
                    &serde_json::json!("lambda_permission")
                ),
                "{change}"
            );
        }
    }
    assert_eq!((plan["changes"].as_array().unwrap().len(), tagged), (6, 5));
    // moto has no TagResource for API keys and usage plans (README, "Where
    // cairn acts differently because of moto"): those two stay to tag; on
    // AWS the apply tags them too.
    let apply = test.cairn_with(&["apply", stack_arg, "--auto-approve"], &with);
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stderr
            .contains("api_key.warehouse_api_key: TagResource: HTTP 404"),
        "{}",
        apply.stderr
    );
    let again = test.cairn_with(
        &["plan", stack_arg, "--json=cairn", "--detailed-exitcode"],
        &with,
    );
    assert_eq!(again.code, 2, "{}\n{}", again.stdout, again.stderr);
    let again: Value = serde_json::from_str(&again.stdout).unwrap();
    let left: Vec<&str> = again["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        left,
        [
            "api_key.warehouse_api_key",
            "usage_plan.warehouse_usage_plan"
        ]
    );

    let destroy = test.cairn_with(&["destroy", stack_arg, "--auto-approve"], &with);
    assert_eq!(destroy.code, 0, "{}\n{}", destroy.stdout, destroy.stderr);
    let aws = test.aws().await;
    assert!(aws
        .dynamodb()
        .describe_table()
        .table_name("WarehouseRobotLogs")
        .send()
        .await
        .is_err());
    // What was left out is still there.
    assert_eq!(
        aws.restapi()
            .get_rest_apis()
            .send()
            .await
            .unwrap()
            .items
            .unwrap()
            .len(),
        1
    );
}

const WEB_NETWORK: &str = "tests/terraform/states/web-network.tfstate";

/// Creates the web-network state's VPC, subnets, gateway, route table,
/// security group, load balancer, target group and listener on the
/// emulator from the state's own attributes (not its instances); gives
/// the state as it would read for them.
async fn seed_web_network(test: &Test) -> String {
    let text = std::fs::read_to_string(Path::new(&manifest_dir()).join(WEB_NETWORK)).unwrap();
    let state: Value = serde_json::from_str(&text).unwrap();
    let aws = test.aws().await;
    let ec2 = aws.ec2();
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let mut ids: Vec<(String, String)> = Vec::new();

    let vpc = tf_attributes(&state, "aws_vpc", "myvpc");
    let vpc_id = ec2
        .create_vpc()
        .cidr_block(s(&vpc["cidr_block"]))
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    ids.push((s(&vpc["id"]), vpc_id.clone()));
    for name in ["sub1", "sub2"] {
        let subnet = tf_attributes(&state, "aws_subnet", name);
        let id = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(s(&subnet["cidr_block"]))
            .availability_zone(s(&subnet["availability_zone"]))
            .send()
            .await
            .unwrap()
            .subnet
            .unwrap()
            .subnet_id
            .unwrap();
        ec2.modify_subnet_attribute()
            .subnet_id(&id)
            .map_public_ip_on_launch(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(subnet["map_public_ip_on_launch"].as_bool().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ids.push((s(&subnet["id"]), id));
    }
    let igw = tf_attributes(&state, "aws_internet_gateway", "igw");
    let igw_id = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .unwrap()
        .internet_gateway_id
        .unwrap();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw_id)
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    ids.push((s(&igw["id"]), igw_id.clone()));
    let table = tf_attributes(&state, "aws_route_table", "RT");
    let table_id = ec2
        .create_route_table()
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap()
        .route_table
        .unwrap()
        .route_table_id
        .unwrap();
    ec2.create_route()
        .route_table_id(&table_id)
        .destination_cidr_block(s(&table["route"][0]["cidr_block"]))
        .gateway_id(&igw_id)
        .send()
        .await
        .unwrap();
    ids.push((s(&table["id"]), table_id.clone()));
    for name in ["rta1", "rta2"] {
        let association = tf_attributes(&state, "aws_route_table_association", name);
        let subnet = ids
            .iter()
            .find(|(old, _)| *old == s(&association["subnet_id"]))
            .unwrap()
            .1
            .clone();
        ec2.associate_route_table()
            .route_table_id(&table_id)
            .subnet_id(subnet)
            .send()
            .await
            .unwrap();
    }
    let group = tf_attributes(&state, "aws_security_group", "webSg");
    let group_id = ec2
        .create_security_group()
        .group_name(s(&group["name"]))
        .description(s(&group["description"]))
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    use aws_sdk_ec2::types as ec2t;
    for rule in group["ingress"].as_array().unwrap() {
        ec2.authorize_security_group_ingress()
            .group_id(&group_id)
            .ip_permissions(
                ec2t::IpPermission::builder()
                    .ip_protocol(s(&rule["protocol"]))
                    .from_port(rule["from_port"].as_i64().unwrap() as i32)
                    .to_port(rule["to_port"].as_i64().unwrap() as i32)
                    .ip_ranges(
                        ec2t::IpRange::builder()
                            .cidr_ip(s(&rule["cidr_blocks"][0]))
                            .description(s(&rule["description"]))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    // The load balancer, its target group and listener, under their names.
    let elb = aws.elbv2();
    use aws_sdk_elasticloadbalancingv2::types as elbt;
    let tg = tf_attributes(&state, "aws_lb_target_group", "tg");
    let check = &tg["health_check"][0];
    let seconds = |v: &Value| v.as_i64().unwrap() as i32;
    let tg_arn = elb
        .create_target_group()
        .name(s(&tg["name"]))
        .port(seconds(&tg["port"]))
        .protocol(elbt::ProtocolEnum::Http)
        .target_type(elbt::TargetTypeEnum::from(s(&tg["target_type"]).as_str()))
        .vpc_id(&vpc_id)
        .health_check_path(s(&check["path"]))
        .health_check_interval_seconds(seconds(&check["interval"]))
        .health_check_timeout_seconds(seconds(&check["timeout"]))
        .healthy_threshold_count(seconds(&check["healthy_threshold"]))
        .unhealthy_threshold_count(seconds(&check["unhealthy_threshold"]))
        .matcher(
            elbt::Matcher::builder()
                .http_code(s(&check["matcher"]))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned();
    let lb = tf_attributes(&state, "aws_lb", "myalb");
    let subnets: Vec<String> = ["sub1", "sub2"]
        .iter()
        .map(|name| {
            let old = s(&tf_attributes(&state, "aws_subnet", name)["id"]);
            ids.iter().find(|(o, _)| *o == old).unwrap().1.clone()
        })
        .collect();
    let lb_arn = elb
        .create_load_balancer()
        .name(s(&lb["name"]))
        .set_subnets(Some(subnets))
        .security_groups(&group_id)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    let listener = tf_attributes(&state, "aws_lb_listener", "listener");
    let listener_arn = elb
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .port(seconds(&listener["port"]))
        .protocol(elbt::ProtocolEnum::Http)
        .default_actions(
            elbt::Action::builder()
                .r#type(elbt::ActionTypeEnum::Forward)
                .target_group_arn(&tg_arn)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_owned();
    // The bucket beside the network, by its name.
    let bucket = tf_attributes(&state, "aws_s3_bucket", "example");
    aws.s3()
        .create_bucket()
        .bucket(s(&bucket["bucket"]))
        .send()
        .await
        .unwrap();
    // Longest first: the balancer's ARN is not inside the listener's, but
    // its suffix is.
    let ours = |v: &Value| s(v).replace("992382495618", "123456789012");
    ids.push((ours(&listener["arn"]), listener_arn));
    ids.push((ours(&lb["arn"]), lb_arn));
    ids.push((ours(&tg["arn"]), tg_arn));
    ids.push((s(&group["id"]), group_id));
    let mut text = text.replace("992382495618", "123456789012");
    for (old, new) in ids {
        text = text.replace(&old, &new);
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terraform_network_is_imported_with_its_parts_and_without_its_instances() {
    let test = Test::new();
    let tfstate = seed_web_network(&test).await;
    let dir = test.directory.path();
    let tfstate_file = dir.join("terraform.tfstate.backup");
    std::fs::write(&tfstate_file, &tfstate).unwrap();
    let stack = dir.join("stacks/web.yaml");
    let stack_arg = stack.to_str().unwrap();
    let report = test
        .ok(&[
            "import",
            "--from-terraform",
            tfstate_file.to_str().unwrap(),
            stack_arg,
            "--project",
            "web",
        ])
        .stdout;
    for line in [
        "aws_vpc.myvpc -> vpc.myvpc",
        "aws_subnet.sub1 -> subnet.sub1",
        "aws_subnet.sub2 -> subnet.sub2",
        "aws_internet_gateway.igw -> internet_gateway.igw",
        "aws_route_table.RT -> route_table.rt",
        "aws_security_group.webSg -> security_group.websg",
        "aws_route_table_association.rta1 (in route_table.rt)",
        "aws_instance.webserver1: cairn has no type for it yet",
        "aws_lb.myalb -> lb.myalb",
        "aws_lb_target_group.tg -> lb_target_group.tg",
        "aws_lb_listener.listener -> lb_listener.listener",
        "aws_lb_target_group_attachment.attach1: cairn has no type for it yet",
        "aws_s3_bucket.example -> s3_bucket.example",
    ] {
        assert!(report.contains(line), "{line}:\n{report}");
    }
    let written = std::fs::read_to_string(&stack).unwrap();
    for reference in ["${myvpc.id}", "${igw.id}", "${sub1.id}"] {
        assert!(written.contains(reference), "{reference}:\n{written}");
    }

    let plan = test.cairn(&["plan", stack_arg, "--json=cairn", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    for change in plan["changes"].as_array().unwrap() {
        assert_eq!(change["action"], "update", "{change}");
        assert_eq!(change["changed"], serde_json::json!(["tags"]), "{change}");
    }
    assert_eq!(plan["changes"].as_array().unwrap().len(), 10);
    test.ok(&["apply", stack_arg, "--auto-approve"]);
    let again = test.cairn(&["plan", stack_arg, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    test.ok(&["destroy", stack_arg, "--auto-approve"]);
    let aws = test.aws().await;
    let vpcs = aws
        .ec2()
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs
        .unwrap();
    assert!(
        vpcs.iter()
            .all(|v| v.cidr_block.as_deref() != Some("10.0.0.0/16") || v.is_default == Some(true)),
        "{vpcs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn environments_imported_one_at_a_time_merge_into_a_base() {
    let test = Test::new();
    let zip = cairn::package::reproducible_zip(&[(
        "lambda_function.py",
        b"def lambda_handler(e, c): pass",
        false,
    )]);
    let tfstate = seed_warehouse(&test, &zip).await;
    let dir = test.directory.path();
    let tfstate_file = dir.join("terraform.tfstate");
    std::fs::write(&tfstate_file, &tfstate).unwrap();
    let stacks = dir.join("stacks");
    std::fs::create_dir_all(stacks.join("lambda_functions")).unwrap();
    std::fs::write(stacks.join("lambda_functions/get_all_data.zip"), &zip).unwrap();
    let stack_dir = stacks.to_str().unwrap();
    let import = |env: &str| {
        test.ok(&[
            "--stack-dir",
            stack_dir,
            "import",
            "--from-terraform",
            tfstate_file.to_str().unwrap(),
            env,
            "--project",
            "warehouse",
        ]);
    };
    // dev is imported, then the function grows before prod is.
    import("dev");
    let aws = test.aws().await;
    aws.lambda()
        .update_function_configuration()
        .function_name("GetAllWarehouseData")
        .memory_size(256)
        .send()
        .await
        .unwrap();
    import("prod");
    let merged = test.ok(&["--stack-dir", stack_dir, "import", "--merge", "dev", "prod"]);
    assert!(merged.stdout.contains("base.yaml"), "{}", merged.stdout);
    let base = std::fs::read_to_string(stacks.join("base.yaml")).unwrap();
    assert!(
        base.contains("memory_size: \"${var.get_all_data_memory_size}\""),
        "{base}"
    );
    let dev = std::fs::read_to_string(stacks.join("dev.yaml")).unwrap();
    assert!(
        dev.contains("extends: \"base.yaml\"") && dev.contains("get_all_data_memory_size: 128"),
        "{dev}"
    );
    let prod = std::fs::read_to_string(stacks.join("prod.yaml")).unwrap();
    assert!(prod.contains("get_all_data_memory_size: 256"), "{prod}");
    assert!(!base.contains(FAKE_KEY) && !dev.contains(FAKE_KEY) && !prod.contains(FAKE_KEY));

    // Each environment plans as it did before the merge: prod (as AWS is
    // now) only adds tags; dev still says what it said at its import.
    let with = [("CAIRN_VAR_warehouse_api_key_value", FAKE_KEY)];
    let changes = |env: &str| -> Vec<(String, Value)> {
        let run = test.cairn_with(
            &["--stack-dir", stack_dir, "plan", env, "--json=cairn"],
            &with,
        );
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let plan: Value = serde_json::from_str(&run.stdout).unwrap();
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] != "no_op")
            .map(|c| {
                (
                    c["address"].as_str().unwrap().to_owned(),
                    c["changed"].clone(),
                )
            })
            .collect()
    };
    for (address, changed) in changes("prod") {
        assert_eq!(changed, serde_json::json!(["tags"]), "{address}");
    }
    let dev_changes = changes("dev");
    assert!(
        dev_changes.contains(&(
            "lambda_function.get_all_data".to_owned(),
            serde_json::json!(["memory_size", "tags"])
        )),
        "{dev_changes:?}"
    );
}

/// A real state (tests/terraform/states/), its objects made on this test's
/// emulator by `seed.py` from the state's own attributes, less `skip`:
/// where the imported stacks go, and the state as it reads for them.
struct RealState {
    stacks: PathBuf,
    tfstate: PathBuf,
}

fn seed_real_state(test: &Test, file: &str, skip: &[&str]) -> RealState {
    let path = Path::new(&manifest_dir())
        .join("tests/terraform/states")
        .join(file);
    seed_state_file(test, &path, skip)
}

fn seed_state_file(test: &Test, path: &Path, skip: &[&str]) -> RealState {
    let file = path.file_name().unwrap().to_str().unwrap();
    let dir = test.directory.path();
    let stacks = dir.join("stacks/imported");
    let zips = dir.join("zips");
    std::fs::create_dir_all(&stacks).unwrap();
    std::fs::create_dir_all(&zips).unwrap();
    let root = Path::new(&manifest_dir()).to_owned();
    let mut seed = Command::new("python3");
    seed.arg(root.join("tests/terraform/seed.py"))
        .args(["--endpoint", &test.endpoint(), "--zips"])
        .arg(&zips)
        .arg(path);
    for address in skip {
        seed.args(["--skip", address]);
    }
    let output = seed.output().expect("python3 runs seed.py");
    assert!(
        output.status.success(),
        "seed.py {file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tfstate = dir.join(file);
    std::fs::write(&tfstate, &output.stdout).unwrap();
    // The functions' code where Terraform's `filename` puts it, relative
    // to the stack: what the README asks a user to do.
    let state: Value = serde_json::from_slice(&output.stdout).unwrap();
    for resource in state["resources"].as_array().unwrap() {
        if resource["type"] != "aws_lambda_function" {
            continue;
        }
        for instance in resource["instances"].as_array().unwrap() {
            let a = &instance["attributes"];
            let (Some(filename), Some(name)) =
                (a["filename"].as_str(), a["function_name"].as_str())
            else {
                continue;
            };
            let code = zips.join(format!("{name}.zip"));
            if code.exists() {
                let target = stacks.join(filename);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(code, target).unwrap();
            }
        }
    }
    RealState { stacks, tfstate }
}

impl RealState {
    fn stack(&self, environment: &str) -> PathBuf {
        self.stacks.join(format!("{environment}.yaml"))
    }
    fn import(&self, test: &Test, environment: &str, extra: &[&str]) -> Run {
        let stack = self.stack(environment);
        let mut args = vec![
            "import",
            "--from-terraform",
            self.tfstate.to_str().unwrap(),
            stack.to_str().unwrap(),
            "--project",
            "real",
        ];
        args.extend(extra);
        test.cairn(&args)
    }
}

/// The plan after an import: cairn's ownership tags to add, and nothing
/// else (every variable the import asks for set to `values`).
fn assert_only_tags_to_add(test: &Test, stack: &Path, values: &[(&str, &str)]) -> Run {
    let plan = test.cairn_with(&["plan", stack.to_str().unwrap(), "--json=cairn"], values);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let value: Value = serde_json::from_str(&plan.stdout).unwrap();
    for change in value["changes"].as_array().unwrap() {
        match change["action"].as_str().unwrap() {
            "no_op" => {}
            "update" => assert_eq!(change["changed"], serde_json::json!(["tags"]), "{change}"),
            other => panic!("{other}: {change}"),
        }
    }
    plan
}

fn report_has(run: &Run, lines: &[&str]) {
    for line in lines {
        assert!(
            run.stdout.contains(line),
            "{line}\n---\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// An RDS instance whose password Terraform set: the stack takes it from a
/// sensitive variable, the state keeps only its hash, and a wrong value is
/// a change of password in the plan. Names that merely equal another
/// resource's (the database's name, its user) stay literals.
#[test]
fn a_real_rds_state_imports_with_its_password_as_a_sensitive_variable() {
    let test = Test::new();
    let real = seed_real_state(&test, "rds-mysql.tfstate", &[]);
    let run = real.import(&test, "dev", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_db_instance.mysql -> db_instance.mysql",
            "aws_db_subnet_group.db_subnet_group -> db_subnet_group.db_subnet_group",
            "Set these sensitive variables first (CAIRN_VAR_NAME): mysql_password",
        ],
    );
    let stack = std::fs::read_to_string(real.stack("dev")).unwrap();
    assert!(
        stack.contains("password: \"${var.mysql_password}\""),
        "{stack}"
    );
    assert!(!stack.contains("FakePassword"), "{stack}");
    assert!(!files_under(&test.state_dir()).contains("FakePassword"));
    assert!(
        stack.contains("db_subnet_group_name: \"${db_subnet_group.name}\""),
        "the instance depends on its subnet group in Terraform's state:\n{stack}"
    );
    let password = "FakePasswordReplacedByCairnTests01";
    assert_only_tags_to_add(
        &test,
        &real.stack("dev"),
        &[("CAIRN_VAR_mysql_password", password)],
    );
    let other = test.cairn_with(
        &["plan", real.stack("dev").to_str().unwrap(), "--json=cairn"],
        &[("CAIRN_VAR_mysql_password", "AnotherPassword0123")],
    );
    let value: Value = serde_json::from_str(&other.stdout).unwrap();
    let db = value["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "db_instance.mysql")
        .unwrap();
    assert!(
        db["changed"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("password")),
        "{db}"
    );
}

/// A role with inline policies (its `inline_policy` blocks and an
/// `aws_iam_role_policy`) and an attachment, a function with a URL: the
/// policies are taken over in the role (cairn deletes them with it), the URL
/// is named as dying with the function. A table deleted outside Terraform
/// is refused (nothing written) unless --allow-missing, which then names
/// what referred to it.
#[test]
fn a_real_state_names_what_is_taken_over_what_dies_with_it_and_what_is_missing() {
    let test = Test::new();
    let real = seed_real_state(
        &test,
        "function-url-inline-policies.tfstate",
        &["aws_dynamodb_table.tokens"],
    );
    let refused = real.import(&test, "dev", &[]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    for line in [
        "aws_dynamodb_table.tokens: AWS has no dynamodb_table with id",
        "lambda_function.authorizer_lambda_function refers to it",
        "Nothing was written",
    ] {
        assert!(refused.stderr.contains(line), "{line}\n{}", refused.stderr);
    }
    // A failed import leaves nothing behind: importing again works.
    assert!(!real.stack("dev").exists());
    assert!(!test.state_dir().join("dev.json").exists());
    assert!(std::fs::read_dir(&real.stacks).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("importing")));

    let run = real.import(&test, "dev", &["--allow-missing"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "Imported 4 resources:",
            "aws_iam_role.authorizer -> iam_role.authorizer",
            "aws_lambda_function.authorizer -> lambda_function.authorizer_lambda_function",
            "Taken over with an imported resource (cairn reads, changes and deletes them as part of it):\n  aws_iam_role_policy.authorizer_authorizer (in iam_role.authorizer)\n  aws_iam_role_policy_attachment.authorizer_AWSLambdaBasicExecutionRole (in iam_role.authorizer)\n",
            "Deleted with an imported resource (cairn does not describe them; AWS deletes them when cairn destroys it):\n  aws_lambda_function_url.authorizer (with lambda_function.authorizer_lambda_function)\n",
            "Missing from AWS (in Terraform's state, deleted outside it):\n  aws_dynamodb_table.tokens: AWS has no dynamodb_table with id",
            "    lambda_function.authorizer_lambda_function referred to it: the stack holds its last value as a literal",
            "random_uuid.client_secret_store: not an AWS resource",
        ],
    );
    assert!(!run.stdout.contains("Left out (Terraform keeps managing them, or delete them from its state once cairn covers them):\n  aws_iam_role_policy"), "{}", run.stdout);
    let stack = std::fs::read_to_string(real.stack("dev")).unwrap();
    assert!(stack.contains("${authorization_states.name}"), "{stack}");
    assert_only_tags_to_add(&test, &real.stack("dev"), &[]);
}

/// A function on a runtime AWS has deprecated (go1.x) imports and plans as
/// it is, with a warning; a new function on it is refused by the plan.
#[test]
fn a_real_state_with_a_deprecated_runtime_imports_and_plans_with_a_warning() {
    let test = Test::new();
    let real = seed_real_state(&test, "lambda-go1x.tfstate", &[]);
    let run = real.import(&test, "dev", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_lambda_function.func -> lambda_function.func",
            "aws_lambda_permission.allow_bucket -> lambda_permission.allow_bucket",
            "aws_s3_bucket.bucket -> s3_bucket.bucket",
            "aws_s3_bucket_notification.bucket_notification (with s3_bucket.bucket)",
        ],
    );
    let plan = assert_only_tags_to_add(&test, &real.stack("dev"), &[]);
    assert!(
        plan.stderr.contains("Warning: lambda_function.func: runtime: go1.x is a deprecated Lambda runtime: functions on it still run, but AWS no longer accepts it for a new function or a change of runtime; choose a current one (provided.al2023, provided.al2)"),
        "{}",
        plan.stderr
    );
    // The same function under another name is a new one: refused before
    // any call.
    let stack = std::fs::read_to_string(real.stack("dev")).unwrap();
    let renamed = stack.replace(
        "name: \"example_lambda_name\"",
        "name: \"example_lambda_name_2\"",
    );
    assert_ne!(renamed, stack);
    std::fs::write(
        real.stacks.join("renamed.yaml"),
        renamed.replace("environment: \"dev\"", "environment: \"renamed\""),
    )
    .unwrap();
    let refused = test.cairn(&["plan", real.stacks.join("renamed.yaml").to_str().unwrap()]);
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("lambda_function.func: runtime: go1.x is a deprecated Lambda runtime"),
        "{}",
        refused.stderr
    );
}

/// A Terraform 0.12 state of nested modules whose database engine cairn
/// does not describe (Oracle): that instance is left out with why, and the
/// rest is imported.
#[test]
fn a_real_state_with_one_resource_cairn_cannot_describe_imports_the_rest() {
    let test = Test::new();
    let real = seed_real_state(&test, "rds-oracle-tf012.tfstate", &[]);
    let run = real.import(&test, "dev", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "Imported 1 resources:",
            "module.db.module.db_subnet_group.aws_db_subnet_group.this[0] -> db_subnet_group.db_db_subnet_group_this_0",
            "module.db.module.db_instance.aws_db_instance.this[0]: cairn cannot describe it as AWS has it yet: resources.db_db_instance_this_0.properties.engine:",
            "module.db.module.db_parameter_group.aws_db_parameter_group.this[0]: cairn has no type for it yet",
        ],
    );
    assert!(!run.stdout.contains("FakePassword"));
    assert!(!files_under(&test.state_dir()).contains("FakePassword"));
    assert_only_tags_to_add(&test, &real.stack("dev"), &[]);
}

/// HTTP APIs as real states hold them: one with two named stages (each
/// `auto_deploy = false`) is left out with its parts, as cairn's
/// `http_api` holds one stage; the function behind it imports, its aliases
/// named as dying with it.
#[test]
fn a_real_http_api_with_two_stages_is_left_out_with_its_parts() {
    let test = Test::new();
    let real = seed_real_state(&test, "http-api-stages.tfstate", &[]);
    let run = real.import(&test, "dev", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_lambda_function.api -> lambda_function.api_lambda_function",
            "aws_apigatewayv2_api.lambda: its aws_apigatewayv2_stage.dev has stage variables, which cairn does not describe yet",
            "aws_apigatewayv2_stage.prod: part of http_api.lambda, which is left out",
            "aws_apigatewayv2_route.api: part of http_api.lambda, which is left out",
            "aws_lambda_alias.alias_dev (with lambda_function.api_lambda_function)",
            "aws_iam_role_policy_attachment.lambda_policy (in iam_role.lambda_exec)",
        ],
    );
    assert_only_tags_to_add(&test, &real.stack("dev"), &[]);
}

/// An HTTP API with one named stage (`prod`, auto-deploy off, access logs,
/// payload 1.0) served only through a custom domain: left out, as cairn
/// does not describe a disabled default endpoint. The same state without
/// its custom domain (the domain, its mapping and DNS record removed, the
/// default endpoint on) imports with its stage as it is; its deployment is
/// taken over.
#[test]
fn a_real_http_api_with_a_named_stage_imports_as_it_is() {
    let test = Test::new();
    let real = seed_real_state(&test, "http-api-prod-stage.tfstate", &[]);
    let run = real.import(&test, "prod", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_apigatewayv2_api.api: its default endpoint is disabled",
            "aws_apigatewayv2_stage.stage: its aws_apigatewayv2_api is not imported",
        ],
    );

    let test = Test::new();
    let path =
        Path::new(&manifest_dir()).join("tests/terraform/states/http-api-prod-stage.tfstate");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resources = state["resources"].as_array_mut().unwrap();
    resources.retain(|r| {
        !matches!(
            r["type"].as_str(),
            Some(
                "aws_apigatewayv2_domain_name"
                    | "aws_apigatewayv2_api_mapping"
                    | "aws_route53_record"
            )
        )
    });
    for r in resources
        .iter_mut()
        .filter(|r| r["type"] == "aws_apigatewayv2_api")
    {
        r["instances"][0]["attributes"]["disable_execute_api_endpoint"] = Value::Bool(false);
    }
    let edited = test
        .directory
        .path()
        .join("http-api-prod-stage-no-domain.tfstate");
    std::fs::write(&edited, state.to_string()).unwrap();
    let real = seed_state_file(&test, &edited, &[]);
    let run = real.import(&test, "prod", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_apigatewayv2_api.api -> http_api.api",
            "aws_apigatewayv2_stage.stage (in http_api.api)",
            "aws_apigatewayv2_route.api (in http_api.api)",
            "aws_apigatewayv2_deployment.deployment (in http_api.api)",
        ],
    );
    let stack = std::fs::read_to_string(real.stack("prod")).unwrap();
    assert!(stack.contains("name: \"prod\""), "{stack}");
    assert!(stack.contains("auto_deploy: false"), "{stack}");
    assert!(stack.contains("payload_format_version: \"1.0\""), "{stack}");
    assert_only_tags_to_add(&test, &real.stack("prod"), &[]);
}

/// terraform-compliance sees every taggable resource's tags, the HTTP API's
/// stage's among them: a scenario on tags judges the stage, where a plan
/// without the stage's tags has it skipped.
#[test]
fn terraform_compliance_sees_every_resources_tags() {
    let test = Test::new();
    let (file, mut plan) = plan_file(&test, &["dev", "--local-state"], "dev.json");
    let stage = change(&plan, "aws_apigatewayv2_stage.api");
    assert_eq!(stage["change"]["after"]["tags"]["cairn:stack"], "mta-chat");
    let (ok, text) = compliance(&file, "tags");
    assert!(ok, "{text}");
    // No resource has a Team tag: the scenario fails on each one it
    // judges, and names them.
    let (ok, text) = compliance(&file, "owner");
    assert!(!ok, "{text}");
    assert!(text.contains("aws_apigatewayv2_stage.api"), "{text}");
    assert!(text.contains("aws_apigatewayv2_api.api"), "{text}");

    fn strip_tags(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("tags");
                map.remove("tags_all");
                map.values_mut().for_each(strip_tags);
            }
            Value::Array(items) => items.iter_mut().for_each(strip_tags),
            _ => {}
        }
    }
    fn untag_stage(value: &mut Value) {
        if value.get("type").and_then(Value::as_str) == Some("aws_apigatewayv2_stage") {
            strip_tags(value);
            return;
        }
        match value {
            Value::Object(map) => map.values_mut().for_each(untag_stage),
            Value::Array(items) => items.iter_mut().for_each(untag_stage),
            _ => {}
        }
    }
    untag_stage(&mut plan);
    let untagged = test.directory.path().join("untagged.json");
    std::fs::write(&untagged, serde_json::to_string(&plan).unwrap()).unwrap();
    let (_, text) = compliance(&untagged, "owner");
    assert!(text.contains("aws_apigatewayv2_api.api"), "{text}");
    assert!(!text.contains("aws_apigatewayv2_stage.api"), "{text}");
}

/// An HTTP API routing five routes to five functions (stage `v1`,
/// auto-deployed): cairn's `http_api` holds one integration, so the API is
/// left out with its parts and the five functions, their table and role
/// import.
#[test]
fn a_real_http_api_with_an_integration_per_route_is_left_out_and_its_functions_import() {
    let test = Test::new();
    let real = seed_real_state(&test, "http-api-v1.tfstate", &[]);
    let run = real.import(&test, "dev", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_apigatewayv2_api.http_api: it has 5 integrations; cairn describes one",
            "aws_apigatewayv2_stage.default: part of http_api.http_api, which is left out",
            "aws_lambda_function.get_function -> lambda_function.get_function",
            "aws_dynamodb_table.example -> dynamodb_table.example",
            "aws_iam_role_policy_attachment.lambda_dynamodb_policy_attach (in iam_role.lambda_role_testing_part)",
            "aws_iam_policy.lambda_dynamodb_policy: cairn has no type for it yet",
        ],
    );
    assert_only_tags_to_add(&test, &real.stack("dev"), &[]);
}

/// checkov on the AI Nutritionist's dev plan: what the stack does right
/// passes (an encrypted, versioned frontend with public access blocked,
/// encrypted queues, functions with a dead-letter queue and an encrypted
/// environment, a CDN behind a firewall), and what it leaves out fails
/// (no access logs on the bucket or the CDN, no origin failover, and the
/// queue-fed processor, whose dead-letter queue is its queue's redrive).
#[test]
fn checkov_judges_the_nutritionist_as_a_reviewer_would() {
    let test = Test::new();
    let (file, plan) = plan_file(
        &test,
        &["stacks/nutritionist/dev.yaml"],
        "nutritionist.json",
    );
    assert_terraform_format(&file);
    let report = checkov(&file);
    assert_eq!(report.parsing_errors, 0);
    assert_eq!(report.resource_count, planned_addresses(&plan).len() as u64);
    for (check, address) in [
        ("CKV_AWS_145", "aws_s3_bucket.frontend"),
        ("CKV2_AWS_6", "aws_s3_bucket.frontend"),
        ("CKV_AWS_21", "aws_s3_bucket.frontend"),
        ("CKV_AWS_27", "aws_sqs_queue.failed_messages"),
        ("CKV_AWS_27", "aws_sqs_queue.dead_letters"),
        ("CKV_AWS_116", "aws_lambda_function.message_handler"),
        ("CKV_AWS_173", "aws_lambda_function.message_handler"),
        ("CKV_AWS_68", "aws_cloudfront_distribution.cdn"),
    ] {
        assert!(report.passed(check, address), "{check} {address}");
    }
    for (check, address) in [
        ("CKV_AWS_18", "aws_s3_bucket.frontend"),
        ("CKV_AWS_86", "aws_cloudfront_distribution.cdn"),
        ("CKV_AWS_116", "aws_lambda_function.processor"),
        // dev has no firewall in front of the API's stage; prod has.
        ("CKV2_AWS_29", "aws_api_gateway_stage.api"),
    ] {
        assert!(report.failed(check, address), "{check} {address}");
    }
    // prod's association names the stage as Terraform would
    // (`aws_api_gateway_stage.api.arn`), so checkov's graph joins them.
    let (file, _) = plan_file(
        &test,
        &["stacks/nutritionist/prod.yaml"],
        "nutritionist-prod.json",
    );
    let report = checkov(&file);
    assert!(
        report.passed("CKV2_AWS_29", "aws_api_gateway_stage.api"),
        "CKV2_AWS_29 aws_api_gateway_stage.api"
    );
}

/// A real S3 state (a Terraform state bucket: versioning, encryption, a
/// public access block and a policy, each a resource of its own): the
/// bucket imports with its settings taken over and the policy as an
/// `s3_bucket_policy` (left out of the bucket, which would say it twice),
/// and the plan adds only cairn's tags. After the apply, a policy changed
/// by hand is the policy's drift, not the bucket's, and apply puts it back.
#[tokio::test(flavor = "multi_thread")]
async fn a_real_s3_state_imports_the_bucket_with_its_settings() {
    let test = Test::new();
    let aws = test.aws().await;
    let real = seed_real_state(&test, "s3-state-bucket.tfstate", &[]);
    let run = real.import(&test, "dev", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "Imported 3 resources:",
            "aws_s3_bucket.terraform_state -> s3_bucket.terraform_state",
            "aws_s3_bucket_policy.terraform_state -> s3_bucket_policy.terraform_state_s3_bucket_policy",
            "aws_s3_bucket_versioning.this (in s3_bucket.terraform_state)",
            "aws_s3_bucket_server_side_encryption_configuration.this (in s3_bucket.terraform_state)",
            "aws_s3_bucket_public_access_block.this (in s3_bucket.terraform_state)",
        ],
    );
    let stack = std::fs::read_to_string(real.stack("dev")).unwrap();
    let document: Value = serde_saphyr::from_str(&stack).unwrap();
    let bucket = &document["resources"]["terraform_state"]["properties"];
    assert_eq!(bucket["versioning"], true, "{stack}");
    assert_eq!(
        bucket["force_destroy"], true,
        "Terraform's own setting: {stack}"
    );
    assert!(bucket.get("policy").is_none(), "{stack}");
    let policy = &document["resources"]["terraform_state_s3_bucket_policy"]["properties"];
    assert_eq!(policy["bucket"], "${terraform_state.name}");
    assert_eq!(
        policy["policy"]["Statement"][0]["Resource"],
        "${terraform_state.arn}/*"
    );
    let stack = real.stack("dev");
    let stack = stack.to_str().unwrap();
    assert_only_tags_to_add(&test, Path::new(stack), &[]);
    test.ok(&["apply", stack, "--auto-approve"]);

    aws.s3()
        .put_bucket_policy()
        .bucket("terraform-s3-cheonsangyeon")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::terraform-s3-cheonsangyeon/*"}]}"#)
        .send()
        .await
        .unwrap();
    let drift = test.cairn(&["drift", stack, "--skip-unmanaged"]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(
        drift
            .stdout
            .contains("s3_bucket_policy.terraform_state_s3_bucket_policy"),
        "{}",
        drift.stdout
    );
    assert!(
        !drift.stdout.contains("s3_bucket.terraform_state\n"),
        "{}",
        drift.stdout
    );
    test.ok(&["apply", stack, "--auto-approve"]);
    let settled = test.cairn(&["drift", stack, "--skip-unmanaged"]);
    assert_eq!(settled.code, 0, "{}{}", settled.stdout, settled.stderr);
}

/// A real static site's bucket (public on purpose: its public access
/// block all off, a public-read policy, objects, an ACL and a website):
/// the bucket imports as public as it is, what cairn does not describe of
/// it (ACL, website, objects) is named as deleted with it, and the plan adds
/// only cairn's tags. A lifecycle rule filtered by tag, which cairn's rules
/// cannot say, leaves the bucket out with why, rather than dropping the
/// filter at the next change.
#[test]
fn a_real_static_site_bucket_imports_as_public_as_it_is() {
    let test = Test::new();
    // Its function, role and API are not this test's: left out of AWS.
    let real = seed_real_state(
        &test,
        "s3-website.tfstate",
        &[
            "aws_iam_role.role",
            "aws_lambda_function.update_visitor_count",
            "aws_lambda_permission.apigw",
        ],
    );
    let run = real.import(&test, "dev", &["--allow-missing"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_s3_bucket.subdomain -> s3_bucket.subdomain",
            "aws_s3_bucket_policy.bucket_policy -> s3_bucket_policy.bucket_policy",
            "aws_s3_bucket_ownership_controls.subdomaincontrols (in s3_bucket.subdomain)",
            "aws_s3_bucket_public_access_block.subdomainaccess (in s3_bucket.subdomain)",
            "aws_s3_bucket_acl.subdomainacl (with s3_bucket.subdomain)",
            "aws_s3_bucket_website_configuration.subdomainconfig (with s3_bucket.subdomain)",
            "aws_s3_object.styles (with s3_bucket.subdomain)",
        ],
    );
    let stack = std::fs::read_to_string(real.stack("dev")).unwrap();
    for line in [
        "block_public_acls: false",
        "block_public_policy: false",
        "ignore_public_acls: false",
        "restrict_public_buckets: false",
        "object_ownership: \"BucketOwnerPreferred\"",
        "name: \"marcellusb.com\"",
    ] {
        assert!(stack.contains(line), "{line}\n{stack}");
    }
    assert_only_tags_to_add(&test, &real.stack("dev"), &[]);

    // The same state with a lifecycle rule that filters by tag.
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(&real.tfstate).unwrap()).unwrap();
    state["resources"].as_array_mut().unwrap().push(serde_json::json!({
        "mode": "managed", "type": "aws_s3_bucket_lifecycle_configuration", "name": "logs",
        "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
        "instances": [{"schema_version": 0, "attributes": {
            "bucket": "marcellusb.com", "id": "marcellusb.com", "expected_bucket_owner": "",
            "rule": [{"id": "old-logs", "status": "Enabled", "prefix": "",
                "filter": [{"and": [], "object_size_greater_than": null, "object_size_less_than": null,
                            "prefix": "", "tag": [{"key": "kind", "value": "log"}]}],
                "expiration": [{"date": null, "days": 30, "expired_object_delete_marker": false}],
                "transition": [], "noncurrent_version_expiration": [], "noncurrent_version_transition": [],
                "abort_incomplete_multipart_upload": []}]}}]
    }));
    let filtered = test.directory.path().join("filtered.tfstate");
    std::fs::write(&filtered, state.to_string()).unwrap();
    let stack = real.stacks.join("filtered.yaml");
    let run = test.cairn(&[
        "import",
        "--from-terraform",
        filtered.to_str().unwrap(),
        stack.to_str().unwrap(),
        "--project",
        "filtered",
        "--allow-missing",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "aws_s3_bucket.subdomain: its aws_s3_bucket_lifecycle_configuration.logs has filters by tag, which cairn does not describe yet",
            "aws_s3_bucket_lifecycle_configuration.logs: part of s3_bucket.subdomain, which is left out",
        ],
    );
}

/// A real state's queue and its dead-letter queue (standard queues, whose
/// FIFO settings Terraform's state holds as "" and false): both import,
/// the redrive names the dead-letter queue by reference, and the plan adds
/// only cairn's tags. Before, the FIFO settings' empty values stopped the
/// queues' import.
#[test]
fn a_real_queue_imports_with_its_dead_letter_queue() {
    let test = Test::new();
    let real = seed_real_state(&test, "sqs-dead-letters.tfstate", &[]);
    let run = real.import(&test, "dev", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    report_has(
        &run,
        &[
            "Imported 4 resources:",
            "aws_sqs_queue.dlq -> sqs_queue.dlq",
            "aws_sqs_queue.ingest -> sqs_queue.ingest",
            "aws_s3_bucket.uploads -> s3_bucket.uploads",
            "aws_s3_bucket_versioning.uploads (in s3_bucket.uploads)",
        ],
    );
    let stack = std::fs::read_to_string(real.stack("dev")).unwrap();
    let document: Value = serde_saphyr::from_str(&stack).unwrap();
    let ingest = &document["resources"]["ingest"]["properties"];
    assert_eq!(
        ingest["redrive_policy"]["dead_letter_target_arn"], "${dlq.arn}",
        "{stack}"
    );
    assert_eq!(ingest["redrive_policy"]["max_receive_count"], 5, "{stack}");
    for fifo_only in [
        "content_based_deduplication",
        "deduplication_scope",
        "fifo_throughput_limit",
    ] {
        assert!(ingest.get(fifo_only).is_none(), "{fifo_only}: {stack}");
    }
    assert_only_tags_to_add(&test, &real.stack("dev"), &[]);
}
