//! The plan in the shape of Terraform's JSON plan, so tools that read those
//! (policy checks, cost estimators) can read ours.

use super::{Action, Change, Plan};
use crate::model::expr;
use serde_json::{json, Map, Value};

fn actions(action: Action) -> Vec<&'static str> {
    match action {
        Action::NoOp => vec!["no-op"],
        Action::Create => vec!["create"],
        Action::Update => vec!["update"],
        Action::Replace => vec!["delete", "create"],
        Action::Delete => vec!["delete"],
    }
}

/// Splits a value into its known part (unknowns as null) and Terraform's
/// `after_unknown` mirror (true where unknown).
fn split_unknown(value: &Value) -> (Value, Value) {
    if expr::unknown_template(value).is_some() {
        return (Value::Null, Value::Bool(true));
    }
    match value {
        Value::Object(map) => {
            let mut known = Map::new();
            let mut unknown = Map::new();
            for (k, v) in map {
                let (a, b) = split_unknown(v);
                known.insert(k.clone(), a);
                if b != Value::Bool(false) && b != json!({}) && b != json!([]) {
                    unknown.insert(k.clone(), b);
                }
            }
            (Value::Object(known), Value::Object(unknown))
        }
        Value::Array(items) => {
            let (known, unknown): (Vec<Value>, Vec<Value>) =
                items.iter().map(split_unknown).unzip();
            let any = unknown.iter().any(|u| u != &Value::Bool(false));
            (
                Value::Array(known),
                if any {
                    Value::Array(unknown)
                } else {
                    Value::Array(Vec::new())
                },
            )
        }
        other => (other.clone(), Value::Bool(false)),
    }
}

fn redact(change: &Change, map: &Option<Map<String, Value>>) -> (Value, Value) {
    let Some(map) = map else {
        return (Value::Null, json!(false));
    };
    let mut out = map.clone();
    let mut marks = Map::new();
    for field in &change.sensitive {
        if let Some(v) = out.get_mut(field) {
            if !v.is_null() {
                *v = Value::Null;
                marks.insert(field.clone(), Value::Bool(true));
            }
        }
    }
    (Value::Object(out), Value::Object(marks))
}

fn resource_change(change: &Change) -> Value {
    let (before, before_sensitive) = redact(change, &change.before);
    let (after_raw, after_sensitive) = redact(change, &change.after);
    let (mut after, after_unknown) = split_unknown(&after_raw);
    if change.action == Action::Create || change.action == Action::Replace {
        if let (Value::Object(after), Value::Object(_)) = (&mut after, &after_unknown) {
            for output in super::schema_of(change).outputs {
                after.remove(*output);
            }
        }
    }
    let mut after_unknown = after_unknown;
    if matches!(change.action, Action::Create | Action::Replace) {
        if let Value::Object(unknown) = &mut after_unknown {
            for output in super::schema_of(change).outputs {
                unknown.insert((*output).to_owned(), Value::Bool(true));
            }
        }
    }
    json!({
        "address": change.address,
        "mode": "managed",
        "type": change.type_name,
        "name": change.name,
        "provider_name": "cairn",
        "change": {
            "actions": actions(change.action),
            "before": before,
            "after": if change.action == Action::Delete { Value::Null } else { after },
            "after_unknown": after_unknown,
            "before_sensitive": before_sensitive,
            "after_sensitive": after_sensitive,
            "replace_paths": change.replace_paths.iter().map(|p| json!([p])).collect::<Vec<_>>(),
        },
        "action_reason": change.reason,
    })
}

pub fn terraform_json(plan: &Plan) -> Value {
    let drift: Vec<Value> = plan
        .drift
        .iter()
        .map(|d| {
            json!({
                "address": d.address,
                "mode": "managed",
                "type": d.type_name,
                "name": d.name,
                "change": {
                    "actions": if d.kind == "deleted" { vec!["delete"] } else { vec!["update"] },
                    "before": d.recorded,
                    "after": d.live,
                    "changed_attributes": d.changed,
                },
            })
        })
        .collect();
    let outputs: Map<String, Value> = plan
        .outputs
        .iter()
        .map(|(name, value)| {
            let sensitive = plan.sensitive_outputs.contains(name);
            let (known, unknown) = split_unknown(value);
            (
                name.clone(),
                json!({
                    "actions": [if plan.destroy { "delete" } else { "update" }],
                    "after": if sensitive { Value::Null } else { known },
                    "after_unknown": unknown == Value::Bool(true),
                    "after_sensitive": sensitive,
                }),
            )
        })
        .collect();
    let (add, change, destroy) = plan.counts();
    json!({
        "format_version": "1.2",
        "cairn_version": plan.cairn_version,
        "project": plan.project,
        "environment": plan.environment,
        "applyable": plan.has_changes(),
        "errored": false,
        "resource_changes": plan.changes.iter().map(resource_change).collect::<Vec<_>>(),
        "resource_drift": drift,
        "output_changes": outputs,
        "summary": {"add": add, "change": change, "destroy": destroy},
        "stack_hash": plan.stack_hash,
        "state_lineage": plan.state_lineage,
        "state_serial": plan.state_serial,
    })
}
