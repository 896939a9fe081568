//! The GitHub Actions workflows in `.github/`: they parse, their jobs are
//! complete, the local action they use exists, and every `cairn` command
//! they run is one this cairn accepts, with those flags and values.

use clap::Parser;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The package's directory as cargo gives it when it runs the test: a test
/// binary built in another checkout of the same target directory (cargo
/// reuses it when the sources are older) must not look there.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

fn root() -> PathBuf {
    PathBuf::from(manifest_dir())
}

fn yaml_files(directory: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap_or_else(|e| panic!("{}: {e}", directory.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

fn parse(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Words of a shell script, quote-aware, with operators as their own words.
fn words(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut chars = script.chars().peekable();
    let flush = |word: &mut String, quoted: &mut bool, out: &mut Vec<String>| {
        if !word.is_empty() || *quoted {
            out.push(std::mem::take(word));
        }
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
            }
            '\\' => word.extend(chars.next()),
            '\'' => {
                quoted = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                quoted = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\n' | ';' | '|' | '&' | '(' | ')' | '>' | '<' => {
                flush(&mut word, &mut quoted, &mut out);
                out.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut word, &mut quoted, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut quoted, &mut out);
    out
}

const OPERATORS: &[&str] = &["\n", ";", "|", "&", "(", ")", ">", "<"];

/// The argument lists of `cairn` commands in a script: `cairn` in command
/// position (first word, or after an operator), up to the next operator.
fn cairn_commands(script: &str) -> Vec<Vec<String>> {
    let words = words(script);
    let mut commands = Vec::new();
    let mut at_start = true;
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if OPERATORS.contains(&word.as_str()) {
            at_start = true;
        } else if at_start && word == "cairn" {
            let mut command = vec!["cairn".to_owned()];
            i += 1;
            while i < words.len() && !OPERATORS.contains(&words[i].as_str()) {
                command.push(words[i].clone());
                i += 1;
            }
            commands.push(command);
            continue;
        } else {
            at_start = ["then", "do", "else", "if", "!"].contains(&word.as_str());
        }
        i += 1;
    }
    commands
}

/// GitHub expressions and shell variables take the values the workflows
/// give them.
fn substitute(script: &str) -> String {
    script
        .replace("${{ matrix.environment }}", "dev")
        .replace("${{ inputs.plan_run_id }}", "1234")
        .replace("$ENVIRONMENT", "dev")
}

struct Step {
    file: PathBuf,
    job: String,
    step: Value,
}

fn steps() -> Vec<Step> {
    let github = root().join(".github");
    let mut out = Vec::new();
    for file in yaml_files(&github.join("workflows")) {
        let doc = parse(&file);
        assert!(
            doc.get("on").is_some(),
            "{}: no `on:` trigger",
            file.display()
        );
        let jobs = doc["jobs"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no jobs", file.display()));
        assert!(!jobs.is_empty());
        for (name, job) in jobs {
            assert!(
                job["runs-on"].is_string(),
                "{}: job {name} has no runs-on",
                file.display()
            );
            for step in job["steps"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: job {name} has no steps", file.display()))
            {
                out.push(Step {
                    file: file.clone(),
                    job: name.clone(),
                    step: step.clone(),
                });
            }
        }
    }
    for directory in std::fs::read_dir(github.join("actions")).unwrap() {
        let file = directory.unwrap().path().join("action.yml");
        let doc = parse(&file);
        assert_eq!(doc["runs"]["using"], "composite", "{}", file.display());
        for step in doc["runs"]["steps"].as_array().unwrap() {
            out.push(Step {
                file: file.clone(),
                job: "(action)".into(),
                step: step.clone(),
            });
        }
    }
    out
}

#[test]
fn workflows_parse_and_every_step_is_complete() {
    let steps = steps();
    assert!(steps.len() > 10);
    for Step { file, job, step } in &steps {
        let uses = step.get("uses").and_then(Value::as_str);
        let run = step.get("run").and_then(Value::as_str);
        assert!(
            uses.is_some() != run.is_some(),
            "{} job {job}: a step needs exactly one of `uses` and `run`: {step}",
            file.display()
        );
        if let Some(local) = uses.and_then(|u| u.strip_prefix("./")) {
            assert!(
                root().join(local).join("action.yml").exists(),
                "{}: {local} does not exist",
                file.display()
            );
        }
        if let Some(uses) = uses.filter(|u| !u.starts_with("./")) {
            assert!(
                uses.contains('@'),
                "{}: pin {uses} to a version",
                file.display()
            );
        }
    }
}

#[test]
fn every_cairn_command_in_the_workflows_exists_with_its_flags() {
    let mut seen = Vec::new();
    for Step { file, job, step } in steps() {
        let Some(script) = step.get("run").and_then(Value::as_str) else {
            continue;
        };
        for arguments in cairn_commands(&substitute(script)) {
            let command = &arguments;
            if let Err(error) = cairn::cli::Arguments::try_parse_from(&arguments) {
                panic!(
                    "{} job {job}: `{}` is not a valid cairn command:\n{error}",
                    file.display(),
                    command.join(" ")
                );
            }
            // The environment it names has a stack.
            if let Some(environment) = arguments
                .iter()
                .skip(1)
                .find(|a| ["dev", "prod"].contains(&a.as_str()))
            {
                assert!(root()
                    .join("stacks")
                    .join(format!("{environment}.yaml"))
                    .exists());
            }
            seen.push((
                file.file_name().unwrap().to_string_lossy().into_owned(),
                arguments.join(" "),
            ));
        }
    }
    let has = |file: &str, needles: &[&str]| {
        seen.iter()
            .any(|(f, c)| f == file && needles.iter().all(|n| c.contains(n)))
    };
    // What the issue asks of each workflow.
    assert!(has("cairn-pr.yml", &["cairn validate"]), "{seen:#?}");
    assert!(
        has(
            "cairn-pr.yml",
            &["cairn plan", "--out", "--detailed-exitcode"]
        ),
        "{seen:#?}"
    );
    assert!(
        has("cairn-dev.yml", &["cairn apply dev", "--auto-approve"]),
        "{seen:#?}"
    );
    assert!(
        has("cairn-prod.yml", &["cairn apply prod", "--plan"]),
        "{seen:#?}"
    );
    assert!(
        !has("cairn-prod.yml", &["--auto-approve"]),
        "prod applies only a reviewed plan"
    );
    assert!(
        has("cairn-drift.yml", &["cairn drift", "--format markdown"]),
        "{seen:#?}"
    );
}

#[test]
fn the_script_reader_finds_commands_only_where_a_shell_would_run_them() {
    let script = "echo \"### cairn plan: x\"\ncairn plan dev --out p.json > plan.txt\nif true; then cairn drift \\\n  prod --format markdown; fi\nx=1 | cairn validate dev";
    assert_eq!(
        cairn_commands(script),
        vec![
            vec!["cairn", "plan", "dev", "--out", "p.json"],
            vec!["cairn", "drift", "prod", "--format", "markdown"],
            vec!["cairn", "validate", "dev"],
        ]
    );
    // And the check they go through does refuse what cairn does not accept.
    assert!(
        cairn::cli::Arguments::try_parse_from(["cairn", "apply", "dev", "--no-such-flag"]).is_err()
    );
    assert!(
        cairn::cli::Arguments::try_parse_from(["cairn", "drift", "dev", "--format", "yaml"])
            .is_err()
    );
    assert!(cairn::cli::Arguments::try_parse_from([
        "cairn", "drift", "dev", "--format", "markdown"
    ])
    .is_ok());
}
