//! The drift report: what AWS holds that differs from the state, as text,
//! JSON (a stable, documented schema) or Markdown (for a pull request or an
//! issue). Built from the plan's drift, so it is pure.

use crate::plan::Drift;
use crate::state::is_redacted;
use serde_json::{json, Value};
use std::fmt::Write;

/// The JSON report's schema version; bump it on any incompatible change.
pub const FORMAT_VERSION: &str = "1";

/// Removes what the stack's ignore rules accept; returns what is left and
/// how many differences (attributes, or whole deleted resources) were left out.
pub fn apply_ignores(drift: Vec<Drift>, rules: &[crate::stack::IgnoreRule]) -> (Vec<Drift>, usize) {
    let mut ignored = 0;
    let mut kept = Vec::new();
    for mut d in drift {
        if d.kind == "deleted" {
            if rules.iter().any(|r| r.matches(&d.address, "*")) {
                ignored += 1;
            } else {
                kept.push(d);
            }
            continue;
        }
        let before = d.changed.len();
        let address = d.address.clone();
        d.changed
            .retain(|field| !rules.iter().any(|r| r.matches(&address, field)));
        ignored += before - d.changed.len();
        if !d.changed.is_empty() {
            kept.push(d);
        }
    }
    (kept, ignored)
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "null".into(),
        Some(v) if is_redacted(v) => "(sensitive value)".into(),
        Some(Value::String(s)) => serde_json::to_string(s).expect("strings serialize"),
        Some(other) => other.to_string(),
    }
}

fn attributes(drift: &Drift) -> Vec<(String, String, String)> {
    let live = drift.live.clone().unwrap_or_default();
    drift
        .changed
        .iter()
        .map(|f| (f.clone(), shown(drift.recorded.get(f)), shown(live.get(f))))
        .collect()
}

pub fn json(environment: &str, checked: usize, drift: &[Drift], ignored: usize) -> Value {
    let count = |kind: &str| drift.iter().filter(|d| d.kind == kind).count();
    json!({
        "format_version": FORMAT_VERSION,
        "environment": environment,
        "in_sync": drift.is_empty(),
        "checked": checked,
        "summary": {"modified": count("modified"), "deleted": count("deleted"), "ignored": ignored},
        "resources": drift.iter().map(|d| {
            let live = d.live.clone().unwrap_or_default();
            json!({
                "address": d.address,
                "type": d.type_name,
                "name": d.name,
                "status": d.kind,
                "attributes": d.changed.iter().map(|f| json!({
                    "name": f,
                    "recorded": redacted(d.recorded.get(f)),
                    "live": redacted(live.get(f)),
                })).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    })
}

fn redacted(value: Option<&Value>) -> Value {
    match value {
        Some(v) if is_redacted(v) => json!("(sensitive value)"),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

fn ignored_note(ignored: usize) -> String {
    match ignored {
        0 => String::new(),
        1 => " (1 accepted difference ignored, see drift.ignore)".into(),
        n => format!(" ({n} accepted differences ignored, see drift.ignore)"),
    }
}

pub fn text(environment: &str, checked: usize, drift: &[Drift], ignored: usize) -> String {
    if drift.is_empty() {
        return format!(
            "No drift in {environment}: {checked} resources match the state{}.\n",
            ignored_note(ignored)
        );
    }
    let mut out = String::new();
    for d in drift {
        match d.kind.as_str() {
            "deleted" => {
                let _ = writeln!(out, "- {}: deleted outside cairn", d.address);
            }
            _ => {
                let _ = writeln!(out, "~ {}: modified outside cairn", d.address);
                for (name, recorded, live) in attributes(d) {
                    let _ = writeln!(out, "    {name}: {recorded} -> {live}");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nDrift in {environment}: {} of {checked} resources differ from the state.",
        drift.len()
    );
    out
}

fn cell(text: &str) -> String {
    let escaped = text.replace('|', "\\|").replace('\n', " ");
    if escaped.chars().count() > 80 {
        format!("`{}…`", escaped.chars().take(80).collect::<String>())
    } else {
        format!("`{escaped}`")
    }
}

pub fn markdown(environment: &str, checked: usize, drift: &[Drift], ignored: usize) -> String {
    if drift.is_empty() {
        return format!(
            "### No drift in `{environment}`\n\n{checked} resources match the state{}.\n",
            ignored_note(ignored)
        );
    }
    let mut out = format!("### Drift in `{environment}`: {} of {checked} resources\n\n| Resource | Drift | Attribute | Recorded | Live |\n|---|---|---|---|---|\n", drift.len());
    for d in drift {
        if d.kind == "deleted" {
            let _ = writeln!(out, "| `{}` | deleted | | | |", d.address);
            continue;
        }
        for (name, recorded, live) in attributes(d) {
            let _ = writeln!(
                out,
                "| `{}` | modified | `{name}` | {} | {} |",
                d.address,
                cell(&recorded),
                cell(&live)
            );
        }
    }
    if ignored > 0 {
        let _ = writeln!(
            out,
            "\n{}",
            ignored_note(ignored)
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
        );
    }
    out.push_str("\nRun `cairn apply` to put AWS back to the stack.\n");
    out
}
