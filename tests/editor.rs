//! Editor support: the JSON Schema of stack files read by a real validator
//! (check-jsonschema, installed from PyPI into a virtualenv in the target
//! directory, as editors' YAML plugins read it), `cairn fmt`, and shell
//! completions checked by bash.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const CHECK_JSONSCHEMA: &str = "check-jsonschema==0.39.0";
const SCHEMA: &str = "stacks/stack.schema.json";

fn validator() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| python_tools("schema-consumers", &[CHECK_JSONSCHEMA]))
        .join("bin/check-jsonschema")
}

/// check-jsonschema on stack files: (passed, what it said).
fn validate(files: &[PathBuf]) -> (bool, String) {
    let output = Command::new(validator())
        .arg("--schemafile")
        .arg(Path::new(&manifest_dir()).join(SCHEMA))
        .args(files)
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Every `*.yaml` under `dir`, in depth, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            out.extend(yaml_files(&entry));
        } else if entry.extension().is_some_and(|e| e == "yaml") {
            out.push(entry);
        }
    }
    out
}

fn shipped_stacks() -> Vec<PathBuf> {
    yaml_files(&Path::new(&manifest_dir()).join("stacks"))
}

/// The stacks the tests use, but the one written to be refused.
fn test_stacks() -> Vec<PathBuf> {
    yaml_files(&Path::new(&manifest_dir()).join("tests/stacks"))
        .into_iter()
        .filter(|p| !p.ends_with("invalid.yaml"))
        .collect()
}

#[test]
fn cairn_schema_prints_the_checked_in_schema() {
    let run = Test::offline().ok(&["schema"]);
    let kept = std::fs::read_to_string(Path::new(&manifest_dir()).join(SCHEMA)).unwrap();
    assert!(
        run.stdout == kept,
        "{SCHEMA} is not what `cairn schema` prints: run `cairn schema > {SCHEMA}`"
    );
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

#[test]
fn the_schema_accepts_every_shipped_and_test_stack() {
    let mut files = shipped_stacks();
    files.extend(test_stacks());
    assert!(files.len() > 30, "{files:?}");
    let (passed, said) = validate(&files);
    assert!(passed, "the schema refuses a valid stack:\n{said}");
}

#[test]
fn the_schema_refuses_unknown_keys_unknown_types_and_wrong_kinds() {
    let invalid = Path::new(&manifest_dir()).join("tests/stacks/invalid.yaml");
    let (passed, said) = validate(&[invalid]);
    assert!(!passed);
    assert!(
        said.contains("'retention_in_dayz' was unexpected"),
        "{said}"
    );
    assert!(said.contains("'dynamodb_tabel' is not one of"), "{said}");

    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("top-level key", "project: p\nenvironment: dev\nresourcez: {}\n", "'resourcez' was unexpected"),
        ("resource key", "project: p\nresources:\n  t:\n    type: log_group\n    protects: true\n", "'protects' was unexpected"),
        ("nested field", "project: p\nresources:\n  t:\n    type: dynamodb_table\n    properties: { hash_key: { name: pk, typ: S } }\n", "'typ' was unexpected"),
        ("missing required field", "project: p\nresources:\n  a:\n    type: kms_alias\n    properties: { name: alias/x }\n", "'target_key_id' is a required property"),
        ("enum", "project: p\nresources:\n  v:\n    type: vpc\n    properties: { cidr_block: 10.0.0.0/16, instance_tenancy: shared }\n", "instance_tenancy"),
        ("policy element", "project: p\nresources:\n  k:\n    type: kms_key\n    properties:\n      key_policy: { Version: \"2012-10-17\", Statement: [{ Effect: Allow, Actions: \"kms:*\" }] }\n", "key_policy"),
        ("variable key", "project: p\nvariables:\n  a: { defualt: 1 }\n", "'defualt' was unexpected"),
    ];
    for (case, text, expected) in cases {
        let path = dir.path().join(format!("{}.yaml", case.replace(' ', "-")));
        std::fs::write(&path, text).unwrap();
        let (passed, said) = validate(std::slice::from_ref(&path));
        assert!(!passed, "{case}: accepted");
        assert!(said.contains(expected), "{case}: {said}");
    }
    // Expressions stand wherever a value does.
    let path = dir.path().join("expressions.yaml");
    std::fs::write(
        &path,
        "project: p\nvariables: { days: { default: 7 }, on: { default: true } }\nresources:\n  t:\n    type: log_group\n    protect: ${var.on}\n    properties: { retention_in_days: \"${var.days}\" }\n",
    )
    .unwrap();
    let (passed, said) = validate(&[path]);
    assert!(passed, "{said}");
}

#[test]
fn fmt_check_passes_on_every_shipped_stack_and_formatting_is_idempotent() {
    let test = Test::offline();
    let run = test.cairn(&["fmt", "--check", "stacks"]);
    assert_eq!(
        run.code, 0,
        "shipped stacks are not formatted (run `cairn fmt stacks`):\n{}{}",
        run.stdout, run.stderr
    );
    for file in shipped_stacks().into_iter().chain(test_stacks()) {
        let text = std::fs::read_to_string(&file).unwrap();
        let once = cairn::stack::format::format(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let twice = cairn::stack::format::format(&once).unwrap();
        assert_eq!(once, twice, "{}", file.display());
    }
}

/// Keys out of order, single quotes, stray blank lines and trailing
/// spaces, with comments everywhere.
const MESSY: &str = "# A stack written in a hurry.

resources:
  # The logs.
  logs:
    properties:
      retention_in_days: 7   # a week
      name: '/app/logs'
    type: log_group


  # The key, protected.
  key:
    protect: true
    properties:
      description: 'Keeps the ''logs'' safe'
    depends_on: [logs]
    type: kms_key
outputs:
  group:
    description: The log group
    value: ${logs.name}
variables:
  days:
    description: 'Retention'   
    default: 7
environment: dev
project: messy
";

#[test]
fn fmt_writes_a_messy_stack_canonically_and_it_compiles_to_the_same_hash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dev.yaml");
    std::fs::write(&file, MESSY).unwrap();
    let load = |path: &Path| {
        cairn::stack::load(
            cairn::types::catalog(),
            path,
            &cairn::stack::VariableOverrides::new(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .hash
    };
    let before = load(&file);

    let test = Test::offline();
    let path = file.to_str().unwrap();
    let check = test.cairn(&["fmt", "--check", path]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains(path), "{}", check.stdout);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        MESSY,
        "--check wrote"
    );

    test.ok(&["fmt", path]);
    let formatted = std::fs::read_to_string(&file).unwrap();
    insta::assert_snapshot!("messy_stack_formatted", formatted);
    assert_eq!(
        load(&file),
        before,
        "formatting changed what the stack asks for"
    );
    test.ok(&["fmt", "--check", path]);
}

#[test]
fn fmt_refuses_what_it_cannot_format_safely_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dev.yaml");
    let text = "environment: dev\nproject: 'a multi-line\n  quoted name'\n";
    std::fs::write(&file, text).unwrap();
    let run = Test::offline().cairn(&["fmt", file.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("line 2: a single-quoted string continues on the next line"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}

#[test]
fn bash_completions_parse_and_name_the_subcommands() {
    let run = Test::offline().ok(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("cairn.bash");
    std::fs::write(&script, &run.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    for subcommand in [
        "validate",
        "plan",
        "apply",
        "destroy",
        "drift",
        "fmt",
        "schema",
        "completions",
        "state",
        "force-unlock",
    ] {
        assert!(run.stdout.contains(subcommand), "{subcommand} missing");
    }
    // Sourced, it registers the completion for `cairn`.
    let registered = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p cairn", script.display()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&registered.stdout).contains("cairn"),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    for shell in ["zsh", "fish"] {
        let run = Test::offline().ok(&["completions", shell]);
        assert!(run.stdout.contains("force-unlock"), "{shell}");
    }
}

/// Every test stack with each line deleted, doubled, or indented further:
/// fmt never panics, refuses only what is not YAML, and what it formats
/// means what it meant and keeps its comments.
#[test]
fn fmt_never_changes_what_a_damaged_stack_means() {
    use cairn::stack::{format::format, yaml::parse};
    let mut formatted = 0;
    let mut refused = 0;
    for file in test_stacks() {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for index in 0..lines.len() {
            let indented = format!("  {}", lines[index]);
            let variants = [
                (0..lines.len())
                    .filter(|&i| i != index)
                    .map(|i| lines[i])
                    .collect::<Vec<_>>(),
                (0..lines.len())
                    .flat_map(|i| {
                        if i == index {
                            vec![lines[i], lines[i]]
                        } else {
                            vec![lines[i]]
                        }
                    })
                    .collect(),
                (0..lines.len())
                    .map(|i| {
                        if i == index {
                            indented.as_str()
                        } else {
                            lines[i]
                        }
                    })
                    .collect(),
            ];
            for variant in variants {
                let variant = variant.join("\n") + "\n";
                let result = std::panic::catch_unwind(|| format(&variant)).unwrap_or_else(|_| {
                    panic!("{} line {}: fmt panicked", file.display(), index + 1)
                });
                match result {
                    Ok(out) => {
                        formatted += 1;
                        let (before, after) = (parse(&variant).unwrap(), parse(&out).unwrap());
                        assert_eq!(before.to_json(), after.to_json(), "{}", file.display());
                        let comments = |t: &str| {
                            t.lines()
                                .filter(|l| l.trim_start().starts_with('#'))
                                .count()
                        };
                        assert_eq!(
                            comments(&variant),
                            comments(&out),
                            "{}:\n{out}",
                            file.display()
                        );
                        // `format` itself refuses a result that is not its own form.
                    }
                    // Only what is not YAML at all is refused here.
                    Err(refusal) => {
                        assert!(
                            refusal.message.starts_with("not valid YAML"),
                            "{} line {}: {refusal}",
                            file.display(),
                            index + 1
                        );
                        refused += 1;
                    }
                }
            }
        }
    }
    assert!(
        formatted > 800 && refused > 0,
        "{formatted} formatted, {refused} refused"
    );
}
