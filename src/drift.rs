//! The drift report: what AWS holds that differs from the state, as text,
//! JSON (a stable, documented schema) or Markdown (for a pull request or an
//! issue). Built from the plan's drift, so it is pure.

use crate::plan::Drift;
use crate::state::is_redacted;
use serde_json::{json, Value};
use std::fmt::Write;

/// The JSON report's schema version; bump it on any incompatible change.
pub const FORMAT_VERSION: &str = "1";

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

pub fn json(environment: &str, checked: usize, drift: &[Drift]) -> Value {
    let count = |kind: &str| drift.iter().filter(|d| d.kind == kind).count();
    json!({
        "format_version": FORMAT_VERSION,
        "environment": environment,
        "in_sync": drift.is_empty(),
        "checked": checked,
        "summary": {"modified": count("modified"), "deleted": count("deleted")},
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

pub fn text(environment: &str, checked: usize, drift: &[Drift]) -> String {
    if drift.is_empty() {
        return format!("No drift in {environment}: {checked} resources match the state.\n");
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

pub fn markdown(environment: &str, checked: usize, drift: &[Drift]) -> String {
    if drift.is_empty() {
        return format!(
            "### No drift in `{environment}`\n\n{checked} resources match the state.\n"
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
    out.push_str("\nRun `cairn apply` to put AWS back to the stack.\n");
    out
}
