//! The drift report: what AWS holds that differs from the state, and what
//! carries this stack's ownership tags without being in the state, as text,
//! JSON (a stable, documented schema) or Markdown (for a pull request or an
//! issue). Built from the plan's drift and the tag search, so it is pure.

use crate::plan::Drift;
use crate::stack::{IgnoreRule, Stack};
use crate::state::{is_redacted, State, Status};
use crate::types::owned::{id_from_arn, normalize_arn, Owned};
use serde_json::{json, Value};
use std::fmt::Write;

/// The JSON report's schema version; bump it on any incompatible change
/// (adding fields is compatible).
pub const FORMAT_VERSION: &str = "1";

/// A resource tagged as this stack environment's that the state does not
/// hold: left by a crash, or created by hand with copied tags.
#[derive(Clone, Debug, PartialEq)]
pub struct Unmanaged {
    /// Its `cairn:address` tag, when it has one.
    pub address: Option<String>,
    pub type_name: String,
    pub id: String,
    pub arn: String,
    /// What to do about it.
    pub hint: String,
}

pub struct Report {
    pub environment: String,
    /// Resources in the state that were compared.
    pub checked: usize,
    pub drift: Vec<Drift>,
    pub unmanaged: Vec<Unmanaged>,
    /// Differences left out by the stack's `drift.ignore` rules.
    pub ignored: usize,
}

/// The tagged resources no state entry records (compared by ARN).
pub fn unmanaged(found: Vec<Owned>, state: &State, stack: &Stack) -> Vec<Unmanaged> {
    let recorded: std::collections::BTreeSet<&str> = state
        .resources
        .values()
        .filter(|r| r.status == Status::Created)
        .filter_map(|r| r.outputs.get("arn").and_then(Value::as_str))
        .map(normalize_arn)
        .collect();
    // One resource has several ARN spellings (an HTTP API is
    // `apigateway:...:/apis/ID` to the tagging API and `execute-api:...:ID`
    // elsewhere): compare (type, id) too, the id taken from either form.
    let recorded_ids: std::collections::BTreeSet<(&str, &str)> = state
        .resources
        .values()
        .filter(|r| r.status == Status::Created)
        .filter_map(|r| Some((r.type_name.as_str(), r.id.as_deref()?)))
        .collect();
    let type_of = |o: &Owned| {
        o.address
            .as_deref()
            .and_then(|a| a.split_once('.'))
            .map_or("unknown", |(t, _)| t)
            .to_owned()
    };
    let environment = &stack.environment;
    found
        .into_iter()
        .map(|mut o| {
            // The tag writes an instance's key after `/`.
            o.address = o.address.map(|tag| crate::model::expr::address_of_tag(&tag));
            o
        })
        .filter(|o| {
            let type_name = type_of(o);
            let id = id_from_arn(&type_name, &o.arn);
            !recorded.contains(o.arn.as_str())
                && !recorded_ids.contains(&(type_name.as_str(), id.as_str()))
        })
        .map(|o| {
            let type_name = type_of(&o);
            let id = id_from_arn(&type_name, &o.arn);
            let hint = match o.address.as_deref() {
                Some(address) => match state.resources.get(address) {
                    Some(entry) if entry.status == Status::Creating => {
                        "an interrupted create: `cairn apply` adopts it".to_owned()
                    }
                    Some(entry) => format!(
                        "a second {address}: the state holds {}; delete this one if it is a leftover",
                        entry.id.clone().unwrap_or_default()
                    ),
                    None if stack.resources.iter().any(|r| r.address() == address) => {
                        format!("adopt it with `cairn import {environment} {address} {id}`, or delete it")
                    }
                    None => "not in the stack: delete it, or add it to the stack and import it".to_owned(),
                },
                None => "it has no cairn:address tag: delete it, or tag and import it".to_owned(),
            };
            Unmanaged {
                address: o.address,
                type_name,
                id,
                arn: o.arn,
                hint,
            }
        })
        .collect()
}

/// Removes what the stack's ignore rules accept; returns what is left and
/// how many differences (attributes, whole deleted or unmanaged resources)
/// were left out.
pub fn apply_ignores(mut report: Report, rules: &[IgnoreRule]) -> Report {
    let mut kept = Vec::new();
    for mut d in std::mem::take(&mut report.drift) {
        if d.kind == "deleted" {
            if rules.iter().any(|r| r.matches(&d.address, "*")) {
                report.ignored += 1;
            } else {
                kept.push(d);
            }
            continue;
        }
        let before = d.changed.len();
        let address = d.address.clone();
        d.changed
            .retain(|field| !rules.iter().any(|r| r.matches(&address, field)));
        report.ignored += before - d.changed.len();
        if !d.changed.is_empty() {
            kept.push(d);
        }
    }
    report.drift = kept;
    let before = report.unmanaged.len();
    report.unmanaged.retain(|u| {
        let address = u.address.as_deref().unwrap_or("");
        !rules.iter().any(|r| r.matches(address, "*"))
    });
    report.ignored += before - report.unmanaged.len();
    report
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
        .map(|f| {
            let kind = crate::types::catalog()
                .schema(&drift.type_name)
                .and_then(|schema| schema.field(f))
                .map(|field| field.kind);
            let set = kind.filter(|k| {
                matches!(
                    k,
                    crate::schema::Kind::StrSet | crate::schema::Kind::ObjectSet(_)
                )
            });
            match (set, drift.recorded.get(f), live.get(f)) {
                // A set: only the elements that went and came (one rule
                // opened by hand, not the group's whole list twice).
                (Some(kind), Some(Value::Array(_)), Some(Value::Array(_))) => {
                    let old = crate::schema::normalize(kind, &drift.recorded[f]);
                    let new = crate::schema::normalize(kind, &live[f]);
                    let (old, new) = (
                        old.as_array().cloned().unwrap_or_default(),
                        new.as_array().cloned().unwrap_or_default(),
                    );
                    let gone: Vec<&Value> = old.iter().filter(|v| !new.contains(v)).collect();
                    let came: Vec<&Value> = new.iter().filter(|v| !old.contains(v)).collect();
                    (
                        format!("{f} (elements that differ)"),
                        json!(gone).to_string(),
                        json!(came).to_string(),
                    )
                }
                _ => (f.clone(), shown(drift.recorded.get(f)), shown(live.get(f))),
            }
        })
        .collect()
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

fn cell(text: &str) -> String {
    let escaped = text.replace('|', "\\|").replace('\n', " ");
    if escaped.chars().count() > 80 {
        format!("`{}…`", escaped.chars().take(80).collect::<String>())
    } else {
        format!("`{escaped}`")
    }
}

impl Report {
    pub fn in_sync(&self) -> bool {
        self.drift.is_empty() && self.unmanaged.is_empty()
    }

    pub fn json(&self) -> Value {
        let count = |kind: &str| self.drift.iter().filter(|d| d.kind == kind).count();
        json!({
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "in_sync": self.in_sync(),
            "checked": self.checked,
            "summary": {
                "modified": count("modified"),
                "deleted": count("deleted"),
                "unmanaged": self.unmanaged.len(),
                "ignored": self.ignored,
            },
            "resources": self.drift.iter().map(|d| {
                let live = d.live.clone().unwrap_or_default();
                json!({
                    "address": d.address,
                    "type": d.type_name,
                    "name": d.name,
                    "status": d.kind,
                    "id": d.id,
                    "arn": d.arn,
                    "attributes": d.changed.iter().map(|f| json!({
                        "name": f,
                        "recorded": redacted(d.recorded.get(f)),
                        "live": redacted(live.get(f)),
                    })).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
            "unmanaged": self.unmanaged.iter().map(|u| json!({
                "address": u.address,
                "type": u.type_name,
                "id": u.id,
                "arn": u.arn,
                "hint": u.hint,
            })).collect::<Vec<_>>(),
        })
    }

    fn unmanaged_label(u: &Unmanaged) -> String {
        u.address
            .clone()
            .unwrap_or_else(|| format!("({})", u.type_name))
    }

    pub fn text(&self) -> String {
        let environment = &self.environment;
        if self.in_sync() {
            return format!(
                "No drift in {environment}: {} resources match the state{}.\n",
                self.checked,
                ignored_note(self.ignored)
            );
        }
        let mut out = String::new();
        for d in &self.drift {
            // The AWS object, as the unmanaged entries name theirs.
            let object = d.arn.as_ref().or(d.id.as_ref());
            let object = object.map(|o| format!("\n    {o}")).unwrap_or_default();
            match d.kind.as_str() {
                "deleted" => {
                    let _ = writeln!(out, "- {}: deleted outside cairn{object}", d.address);
                }
                _ => {
                    let _ = writeln!(out, "~ {}: modified outside cairn{object}", d.address);
                    for (name, recorded, live) in attributes(d) {
                        let _ = writeln!(out, "    {name}: {recorded} -> {live}");
                    }
                }
            }
        }
        for u in &self.unmanaged {
            let _ = writeln!(
                out,
                "? {}: unmanaged, tagged for this stack but not in the state\n    {}\n    {}",
                Self::unmanaged_label(u),
                u.arn,
                u.hint
            );
        }
        let _ = write!(
            out,
            "\nDrift in {environment}: {} of {} resources differ from the state",
            self.drift.len(),
            self.checked
        );
        let _ = match self.unmanaged.len() {
            0 => writeln!(out, "{}.", ignored_note(self.ignored)),
            n => writeln!(
                out,
                "; {n} unmanaged resource{} carr{} its tags{}.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "ies" } else { "y" },
                ignored_note(self.ignored)
            ),
        };
        out
    }

    pub fn markdown(&self) -> String {
        let environment = &self.environment;
        if self.in_sync() {
            return format!(
                "### No drift in `{environment}`\n\n{} resources match the state{}.\n",
                self.checked,
                ignored_note(self.ignored)
            );
        }
        let mut out = format!(
            "### Drift in `{environment}`: {} of {} resources",
            self.drift.len(),
            self.checked
        );
        if !self.unmanaged.is_empty() {
            let _ = write!(out, ", {} unmanaged", self.unmanaged.len());
        }
        out.push_str("\n\n");
        if !self.drift.is_empty() {
            out.push_str(
                "| Resource | Drift | Attribute | Recorded | Live |\n|---|---|---|---|---|\n",
            );
        }
        for d in &self.drift {
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
        if !self.unmanaged.is_empty() {
            if !self.drift.is_empty() {
                out.push('\n');
            }
            out.push_str("Tagged for this stack, not in the state:\n\n| Resource | ARN | What to do |\n|---|---|---|\n");
            for u in &self.unmanaged {
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {} |",
                    Self::unmanaged_label(u),
                    u.arn,
                    u.hint.replace('|', "\\|")
                );
            }
        }
        if self.ignored > 0 {
            let _ = writeln!(
                out,
                "\n{}",
                ignored_note(self.ignored)
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
            );
        }
        out.push_str("\nRun `cairn apply` to put AWS back to the stack.\n");
        out
    }
}
