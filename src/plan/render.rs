//! The plan as text, in Terraform's habits.

use super::{Action, Change, Drift, OutputChange, Plan};
use crate::model::expr;
use crate::spec::Catalog;
use crate::state::is_redacted;
use serde_json::{Map, Value};
use std::fmt::Write;

/// How the text is written, and the types' specs it is written with.
struct Style<'a> {
    color: bool,
    catalog: &'a Catalog,
}

impl Style<'_> {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn symbol(&self, action: Action) -> String {
        match action {
            Action::Create => self.paint("32", "+"),
            Action::Update => self.paint("33", "~"),
            Action::Replace => self.paint("31", "-/+"),
            Action::Delete => self.paint("31", "-"),
            Action::NoOp => " ".into(),
        }
    }
}

const UNKNOWN: &str = "(known after apply)";
const SENSITIVE: &str = "(sensitive value)";

fn scalar(value: &Value) -> String {
    if expr::unknown_template(value).is_some() {
        return UNKNOWN.into();
    }
    if is_redacted(value) {
        return SENSITIVE.into();
    }
    match value {
        Value::String(s) => serde_json::to_string(s).expect("strings serialize"),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Object(map) if map.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

/// Multi-line text of a value, each line after the first indented by `indent`.
fn block(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Array(items) if !items.is_empty() && expr::unknown_template(value).is_none() => {
            let mut out = String::from("[\n");
            for item in items {
                let _ = writeln!(out, "{pad}    {},", block(item, indent + 4));
            }
            let _ = write!(out, "{pad}]");
            out
        }
        Value::Object(map)
            if !map.is_empty()
                && expr::unknown_template(value).is_none()
                && !is_redacted(value) =>
        {
            let mut out = String::from("{\n");
            let width = map.keys().map(|k| quoted_key(k).len()).max().unwrap_or(0);
            for (key, item) in map {
                let _ = writeln!(
                    out,
                    "{pad}    {:width$} = {}",
                    quoted_key(key),
                    block(item, indent + 4)
                );
            }
            let _ = write!(out, "{pad}}}");
            out
        }
        other => scalar(other),
    }
}

fn quoted_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_owned()
    } else {
        serde_json::to_string(key).expect("strings serialize")
    }
}

fn shown(change: &Change, field: &str, value: &Value) -> Value {
    if change.sensitive.iter().any(|s| s == field) && !value.is_null() {
        crate::state::redact(value)
    } else {
        value.clone()
    }
}

fn header(style: &Style, change: &Change) -> String {
    let what = match change.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace if change.create_before_destroy => {
            "must be replaced (the new one is created before the old one is destroyed)"
        }
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::NoOp => "has no changes",
    };
    if let (Action::NoOp, Some(from)) = (change.action, &change.moved_from) {
        return format!(
            "  # {} has moved to {}",
            style.paint("1", from),
            style.paint("1", &change.address)
        );
    }
    let mut out = format!("  # {} {}", style.paint("1", &change.address), what);
    if let Some(from) = &change.moved_from {
        let _ = write!(out, "\n  # (moved from {from})");
    }
    if let Some(region) = &change.region {
        let _ = write!(out, " (in {region})");
    }
    if let Some(reason) = &change.reason {
        let _ = write!(out, "\n  # ({reason})");
    }
    if change.protect && matches!(change.action, Action::Replace | Action::Delete) {
        out.push_str("\n  # (protected: allowed by the command line)");
    }
    out
}

fn attribute_lines(style: &Style, change: &Change, out: &mut String) {
    let pad = "      ";
    let schema = super::schema_of(style.catalog, change);
    match change.action {
        Action::Create | Action::Delete => {
            let (symbol, values) = if change.action == Action::Create {
                (style.symbol(Action::Create), change.after.as_deref())
            } else {
                (style.symbol(Action::Delete), change.before.as_deref())
            };
            let mut entries: Vec<(String, Value)> = values
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), shown(change, k, v)))
                        .collect()
                })
                .unwrap_or_default();
            if change.action == Action::Create {
                for output in schema.outputs {
                    entries.push(((*output).to_owned(), expr::unknown("")));
                }
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let width = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in entries {
                let _ = writeln!(
                    out,
                    "{pad}{symbol} {key:width$} = {}",
                    block(&value, pad.len() + 2)
                );
            }
        }
        Action::Update | Action::Replace => {
            let before = change.before.clone().unwrap_or_default();
            let after = change.after.as_deref().cloned().unwrap_or_default();
            let width = change.changed.iter().map(String::len).max().unwrap_or(0);
            for field in &change.changed {
                // Compared as the planner compares them: sets sorted, policies
                // canonical, so only real differences show.
                let kind = schema
                    .field(field)
                    .map_or(crate::schema::Kind::Json, |f| f.kind);
                let normalized = |value: Option<&Value>| {
                    let value = value.unwrap_or(&Value::Null);
                    if expr::contains_unknown(value) {
                        value.clone()
                    } else {
                        crate::schema::normalize(kind, value)
                    }
                };
                let old = shown(change, field, &normalized(before.get(field)));
                let new = shown(change, field, &normalized(after.get(field)));
                let from = change.imports.get(field).map_or(String::new(), |imports| {
                    format!(" (from import {})", imports.join(", import "))
                });
                let forces = if change.replace_paths.contains(field) {
                    format!("{from}{}", style.paint("31", " # forces replacement"))
                } else {
                    from
                };
                let is_set = matches!(
                    kind,
                    crate::schema::Kind::StrSet
                        | crate::schema::Kind::ObjectList(_)
                        | crate::schema::Kind::ObjectSet(_)
                );
                match (&old, &new) {
                    // A set shows the elements added and removed, not the
                    // whole list twice: one security group rule, one route.
                    (Value::Array(a), Value::Array(b)) if is_set && !a.is_empty() => {
                        let _ = writeln!(
                            out,
                            "{pad}{} {field:width$} = [{forces}",
                            style.symbol(Action::Update)
                        );
                        set_diff(style, a, b, out, pad.len() + 4);
                        let _ = writeln!(out, "{pad}  ]");
                    }
                    (Value::Object(a), Value::Object(b)) if is_document(a) && is_document(b) => {
                        let _ = writeln!(
                            out,
                            "{pad}{} {field:width$} = {{{forces}",
                            style.symbol(Action::Update)
                        );
                        map_diff(style, a, b, out, pad.len() + 4);
                        let _ = writeln!(out, "{pad}  }}");
                    }
                    _ if is_multiline(&old) || is_multiline(&new) => {
                        let _ = writeln!(
                            out,
                            "{pad}{} {field:width$} = {}{forces}",
                            style.symbol(Action::Update),
                            block(&old, pad.len() + 2)
                        );
                        let _ = writeln!(
                            out,
                            "{pad}  {:width$}   -> {}",
                            "",
                            block(&new, pad.len() + 2)
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "{pad}{} {field:width$} = {} -> {}{forces}",
                            style.symbol(Action::Update),
                            scalar(&old),
                            scalar(&new)
                        );
                    }
                }
            }
            let unchanged = after
                .iter()
                .filter(|(k, v)| !v.is_null() && !change.changed.contains(k))
                .count();
            if unchanged > 0 {
                let noun = if unchanged == 1 {
                    "attribute"
                } else {
                    "attributes"
                };
                let _ = writeln!(out, "{pad}  # ({unchanged} unchanged {noun} hidden)");
            }
        }
        Action::NoOp => {}
    }
}

/// The elements of a set that go and come, and how many stay.
fn set_diff(style: &Style, before: &[Value], after: &[Value], out: &mut String, indent: usize) {
    let pad = " ".repeat(indent);
    for old in before.iter().filter(|v| !after.contains(v)) {
        let _ = writeln!(
            out,
            "{pad}{} {},",
            style.symbol(Action::Delete),
            block(old, indent + 2)
        );
    }
    for new in after.iter().filter(|v| !before.contains(v)) {
        let _ = writeln!(
            out,
            "{pad}{} {},",
            style.symbol(Action::Create),
            block(new, indent + 2)
        );
    }
    let kept = after.iter().filter(|v| before.contains(v)).count();
    if kept > 0 {
        let noun = if kept == 1 { "element" } else { "elements" };
        let _ = writeln!(out, "{pad}  # ({kept} unchanged {noun} hidden)");
    }
}

/// An object shown key by key in a diff: not a secret, not a value that
/// is known only after apply.
fn is_document(map: &Map<String, Value>) -> bool {
    let value = Value::Object(map.clone());
    !is_redacted(&value) && expr::unknown_template(&value).is_none()
}

fn is_multiline(value: &Value) -> bool {
    matches!(value, Value::Array(a) if !a.is_empty())
        || matches!(value, Value::Object(m) if !m.is_empty() && !is_redacted(value) && expr::unknown_template(value).is_none())
}

fn map_diff(
    style: &Style,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    out: &mut String,
    indent: usize,
) {
    let pad = " ".repeat(indent);
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let width = keys.iter().map(|k| quoted_key(k).len()).max().unwrap_or(0);
    for key in keys {
        let k = quoted_key(key);
        match (before.get(key), after.get(key)) {
            (None, Some(new)) => {
                let _ = writeln!(
                    out,
                    "{pad}{} {k:width$} = {}",
                    style.symbol(Action::Create),
                    scalar(new)
                );
            }
            (Some(old), None) => {
                let _ = writeln!(
                    out,
                    "{pad}{} {k:width$} = {} -> null",
                    style.symbol(Action::Delete),
                    scalar(old)
                );
            }
            (Some(Value::Object(a)), Some(Value::Object(b)))
                if a != b && is_document(a) && is_document(b) =>
            {
                let _ = writeln!(out, "{pad}{} {k:width$} = {{", style.symbol(Action::Update));
                map_diff(style, a, b, out, indent + 4);
                let _ = writeln!(out, "{pad}  }}");
            }
            (Some(old), Some(new)) if old != new && (is_multiline(old) || is_multiline(new)) => {
                let _ = writeln!(
                    out,
                    "{pad}{} {k:width$} = {}",
                    style.symbol(Action::Update),
                    block(old, indent + 2)
                );
                let _ = writeln!(out, "{pad}  {:width$}   -> {}", "", block(new, indent + 2));
            }
            (Some(old), Some(new)) if old != new => {
                let _ = writeln!(
                    out,
                    "{pad}{} {k:width$} = {} -> {}",
                    style.symbol(Action::Update),
                    scalar(old),
                    scalar(new)
                );
            }
            _ => {}
        }
    }
}

fn drift_lines(style: &Style, drift: &Drift, out: &mut String) {
    let pad = "      ";
    if drift.kind == "deleted" {
        let _ = writeln!(
            out,
            "  # {} has been deleted",
            style.paint("1", &drift.address)
        );
        let _ = writeln!(
            out,
            "  {} resource \"{}\" \"{}\" {{ ... }}\n",
            style.symbol(Action::Delete),
            drift.type_name,
            drift.name
        );
        return;
    }
    let _ = writeln!(out, "  # {} has changed", style.paint("1", &drift.address));
    let _ = writeln!(
        out,
        "  {} resource \"{}\" \"{}\" {{",
        style.symbol(Action::Update),
        drift.type_name,
        drift.name
    );
    let live = drift.live.clone().unwrap_or_default();
    let kind = |field: &str| {
        style
            .catalog
            .schema(&drift.type_name)
            .and_then(|schema| schema.field(field))
            .map(|f| f.kind)
    };
    for field in &drift.changed {
        let old = drift.recorded.get(field).unwrap_or(&Value::Null);
        let new = live.get(field).unwrap_or(&Value::Null);
        let set = kind(field).filter(|k| {
            matches!(
                k,
                crate::schema::Kind::StrSet
                    | crate::schema::Kind::ObjectList(_)
                    | crate::schema::Kind::ObjectSet(_)
            )
        });
        if let (Some(kind), Value::Array(_), Value::Array(_)) = (set, old, new) {
            // A set shows the elements that came and went, as in a plan.
            let (old, new) = (
                crate::schema::normalize(kind, old),
                crate::schema::normalize(kind, new),
            );
            let _ = writeln!(out, "{pad}{} {field} = [", style.symbol(Action::Update));
            set_diff(
                style,
                old.as_array().map_or(&[][..], Vec::as_slice),
                new.as_array().map_or(&[][..], Vec::as_slice),
                out,
                pad.len() + 4,
            );
            let _ = writeln!(out, "{pad}  ]");
        } else if is_multiline(old) || is_multiline(new) {
            let _ = writeln!(
                out,
                "{pad}{} {field} = {}",
                style.symbol(Action::Update),
                block(old, pad.len() + 2)
            );
            let _ = writeln!(
                out,
                "{pad}  {:w$}   -> {}",
                "",
                block(new, pad.len() + 2),
                w = field.len()
            );
        } else {
            let _ = writeln!(
                out,
                "{pad}{} {field} = {} -> {}",
                style.symbol(Action::Update),
                scalar(old),
                scalar(new)
            );
        }
    }
    let _ = writeln!(out, "    }}\n");
}

/// What the lookups found, each attribute on a line: read now, never
/// changed by cairn.
fn lookup_lines(style: &Style, plan: &Plan, out: &mut String) {
    if plan.lookups.is_empty() {
        return;
    }
    out.push_str("Lookups (read now; cairn never changes them):\n\n");
    for (name, found) in &plan.lookups {
        let _ = writeln!(
            out,
            "  {} lookup \"{}\" \"{name}\" {{",
            style.paint("36", "<="),
            found.kind.name()
        );
        let width = found.values.keys().map(String::len).max().unwrap_or(0);
        for (attribute, value) in &found.values {
            let _ = writeln!(out, "      {attribute:width$} = {}", block(value, 6));
        }
        out.push_str("    }\n\n");
    }
}

pub fn summary(plan: &Plan) -> String {
    if !plan.has_changes() {
        return if plan.has_output_changes() {
            "You can apply this plan to save these new output values to the cairn state, without changing any real infrastructure.".into()
        } else {
            "No changes. Your infrastructure matches the configuration.".into()
        };
    }
    let (add, change, destroy) = plan.counts();
    match plan.moved() {
        0 => format!("Plan: {add} to add, {change} to change, {destroy} to destroy."),
        moved => {
            format!("Plan: {add} to add, {change} to change, {destroy} to destroy, {moved} moved.")
        }
    }
}

/// "Changes to Outputs": each output added, changed or removed, against
/// what the state recorded; a sensitive one never shows its value.
fn output_lines(style: &Style, plan: &Plan, out: &mut String) {
    let changes: Vec<OutputChange> = plan
        .output_changes()
        .into_iter()
        .filter(|change| change.action != Action::NoOp)
        .collect();
    if changes.is_empty() {
        return;
    }
    out.push_str("Changes to Outputs:\n");
    let width = changes.iter().map(|c| c.name.len()).max().unwrap_or(0);
    // The `->` of a value on several lines goes under the `=`'s value.
    let pad = 4 + width + 3;
    for change in changes {
        let text = |value: Option<&Value>| match value {
            None => "null".to_owned(),
            Some(_) if change.sensitive => SENSITIVE.to_owned(),
            Some(value) => block(value, 4),
        };
        let (before, after) = (text(change.before), text(change.after));
        let symbol = style.symbol(change.action);
        let name = change.name;
        let _ = match change.action {
            Action::Create => writeln!(out, "  {symbol} {name:width$} = {after}"),
            _ if before.contains('\n') || after.contains('\n') => writeln!(
                out,
                "  {symbol} {name:width$} = {before}\n{:pad$}-> {after}",
                ""
            ),
            _ => writeln!(out, "  {symbol} {name:width$} = {before} -> {after}"),
        };
    }
}

pub fn render(catalog: &Catalog, plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    render_to(catalog, plan, color, &mut |piece| out.push_str(piece));
    out
}

/// `render`, handed over in pieces of at most one resource each: a plan of
/// thousands of resources is written as it is rendered, never held whole.
pub fn render_to(catalog: &Catalog, plan: &Plan, color: bool, emit: &mut dyn FnMut(&str)) {
    let style = Style { color, catalog };
    let mut out = String::new();
    lookup_lines(&style, plan, &mut out);
    if !plan.drift.is_empty() {
        out.push_str("Note: Objects have changed outside of cairn\n\ncairn detected the following changes made outside of cairn since the last apply:\n\n");
        for drift in &plan.drift {
            drift_lines(&style, drift, &mut out);
            emit(&out);
            out.clear();
        }
    }
    if plan.has_changes() {
        out.push_str("cairn will perform the following actions:\n\n");
        for change in plan
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp || c.moved_from.is_some())
        {
            let _ = writeln!(out, "{}", header(&style, change));
            if change.action == Action::NoOp {
                out.push('\n');
                emit(&out);
                out.clear();
                continue;
            }
            let _ = writeln!(
                out,
                "{:>3} resource \"{}\" \"{}\" {{",
                if change.create_before_destroy {
                    style.paint("31", "+/-")
                } else {
                    style.symbol(change.action)
                },
                change.type_name,
                expr::split_instance(&change.name).0
            );
            attribute_lines(&style, change, &mut out);
            out.push_str("    }\n\n");
            emit(&out);
            out.clear();
        }
    }
    if plan.has_changes() {
        out.push_str(&style.paint("1", &summary(plan)));
        out.push('\n');
        if plan.has_output_changes() {
            out.push('\n');
            output_lines(&style, plan, &mut out);
        }
    } else {
        // Terraform's order when only outputs change: them, then why.
        output_lines(&style, plan, &mut out);
        if plan.has_output_changes() {
            out.push('\n');
        }
        out.push_str(&style.paint("1", &summary(plan)));
        out.push('\n');
    }
    emit(&out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn a_set_shows_only_the_elements_that_change() {
        let before = json!({"routes": ["GET /health", "POST /chat", "GET /ready"]});
        let after = json!({"routes": ["GET /health", "POST /chat", "GET /v2/ready"]});
        let change = Change {
            address: "http_api.api".into(),
            type_name: "http_api".into(),
            name: "api".into(),
            action: Action::Update,
            id: Some("a1".into()),
            before: before.as_object().cloned().map(std::sync::Arc::new),
            after: after.as_object().cloned().map(std::sync::Arc::new),
            changed: vec!["routes".into()],
            replace_paths: Vec::new(),
            outputs: Map::new(),
            dependencies: Vec::new(),
            protect: false,
            sensitive: Vec::new(),
            sensitive_keys: Vec::new(),
            reason: None,
            create_before_destroy: false,
            region: None,
            config: None,
            imports: BTreeMap::from([("routes".into(), vec!["api.routes".into()])]),
            moved_from: None,
        };
        let mut out = String::new();
        let style = Style {
            color: false,
            catalog: crate::types::catalog(),
        };
        attribute_lines(&style, &change, &mut out);
        assert_eq!(
            out,
            "      ~ routes = [ (from import api.routes)\n          - \"GET /ready\",\n          + \"GET /v2/ready\",\n            # (2 unchanged elements hidden)\n        ]\n"
        );
    }
}
