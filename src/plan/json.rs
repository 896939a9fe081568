//! The plan in Terraform's JSON plan format (`terraform show -json`,
//! format 1.2), with the hashicorp/aws provider's types and attribute
//! names, so that the tools which read Terraform's plans (checkov,
//! terraform-compliance, OPA, Infracost) read cairn's. Each type's file
//! maps it (`spec::terraform`); this module lays the result out as
//! Terraform does: `planned_values`, `prior_state`, `configuration`,
//! `resource_changes`, `resource_drift`, `output_changes`.
//!
//! Values known only after apply are left out of `after` and marked in
//! `after_unknown`. Sensitive values are never written: they are null and
//! marked in `before_sensitive`/`after_sensitive`.

use super::{Action, Change, Drift, Plan};
use crate::model::expr;
use crate::spec::terraform::{self, Tf};
use crate::spec::Catalog;
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The format level written: Terraform 1.9's.
pub const FORMAT_VERSION: &str = "1.2";
pub const TERRAFORM_VERSION: &str = "1.9.8";
const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// Stands for a sensitive value while a mapping runs, so that wherever the
/// value lands it is found and masked: plain ASCII, so that a JSON string
/// made of it (a policy) keeps it as it is, unescaped.
const SECRET: &str = "cairn-sensitive-value-7c0d9a51e3b2";

/// A resource of Terraform's, as one cairn resource maps to it.
struct Instance {
    type_name: &'static str,
    name: String,
    index: Option<Value>,
    values: Map<String, Value>,
    part_of: Option<(&'static str, &'static str)>,
}

impl Instance {
    fn address(&self) -> String {
        let base = format!("{}.{}", self.type_name, self.name);
        match &self.index {
            None => base,
            Some(index) => format!("{base}[{index}]"),
        }
    }
    fn key(&self) -> (&'static str, Option<&Value>) {
        (self.type_name, self.index.as_ref())
    }
}

/// The attributes a mapping sees: the properties and the outputs, with
/// sensitive fields standing in as `SECRET`.
fn attributes(
    change: &Change,
    properties: &Map<String, Value>,
    outputs: &Map<String, Value>,
) -> Map<String, Value> {
    let mut attrs = properties.clone();
    for (k, v) in outputs {
        attrs.insert(k.clone(), v.clone());
    }
    for field in &change.sensitive {
        let Some(v) = attrs.get_mut(field) else {
            continue;
        };
        // A mapping of which only some entries are secret (an environment
        // with one sensitive variable) keeps the others in clear.
        let keys: Vec<&str> = change
            .sensitive_keys
            .iter()
            .filter_map(|k| k.strip_prefix(field.as_str())?.strip_prefix('.'))
            .collect();
        let partial = !keys.is_empty() && !crate::state::is_redacted(v);
        match v {
            Value::Object(map) if partial => {
                for key in keys {
                    if let Some(entry) = map.get_mut(key) {
                        *entry = Value::String(SECRET.into());
                    }
                }
            }
            Value::Null => {}
            _ => *v = Value::String(SECRET.into()),
        }
    }
    attrs
}

/// Outputs not known until apply, as markers naming the resource's own
/// attribute (a reference in `configuration`).
fn unknown_outputs(catalog: &Catalog, change: &Change) -> Map<String, Value> {
    super::schema_of(catalog, change)
        .outputs
        .iter()
        .map(|o| {
            (
                (*o).to_owned(),
                expr::unknown(&format!("${{{}.{o}}}", change.name)),
            )
        })
        .collect()
}

fn instances(catalog: &Catalog, change: &Change, attrs: &Map<String, Value>) -> Vec<Instance> {
    (catalog.of(&change.type_name).terraform.map)(attrs)
        .into_iter()
        .map(
            |Tf {
                 type_name,
                 index,
                 values,
                 part_of,
             }| {
                let (name, index) = keyed(&change.name, index);
                Instance {
                    type_name,
                    name,
                    index,
                    values,
                    part_of,
                }
            },
        )
        .collect()
}

/// Terraform's name and index of a cairn resource name: `private["a"]` is
/// `private` at index `"a"`, as a `for_each` resource's instance is. A
/// type that maps to several indexed Terraform resources (a table's
/// associations) gets `KEY/INDEX`.
fn keyed(name: &str, index: Option<Value>) -> (String, Option<Value>) {
    match expr::split_instance(name) {
        (base, expr::Index::Key(key)) => {
            let index = match index {
                None => json!(key),
                Some(Value::String(inner)) => json!(format!("{key}/{inner}")),
                Some(inner) => json!(format!("{key}/{inner}")),
            };
            (base.to_owned(), Some(index))
        }
        _ => (name.to_owned(), index),
    }
}

/// The address the instance had in Terraform's terms before the change
/// was moved (`previous_address`).
fn previous_address(change: &Change, instance: &Instance) -> Option<String> {
    let from = change.moved_from.as_deref()?;
    let (_, from_name) = from.split_once('.')?;
    let sub_index = match expr::split_instance(&change.name).1 {
        expr::Index::Key(key) => match &instance.index {
            Some(Value::String(text)) => text
                .strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('/'))
                .map(|inner| json!(inner)),
            _ => None,
        },
        _ => instance.index.clone(),
    };
    let (name, index) = keyed(from_name, sub_index);
    Some(
        Instance {
            type_name: instance.type_name,
            name,
            index,
            values: Map::new(),
            part_of: None,
        }
        .address(),
    )
}

fn contains_secret(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(SECRET),
        Value::Array(items) => items.iter().any(contains_secret),
        Value::Object(map) => map.values().any(contains_secret),
        _ => false,
    }
}

/// Splits mapped values into what Terraform writes: the known values
/// (unknowns left out of objects, null in lists; secrets null), the
/// `*_unknown` mirror and the `*_sensitive` mirror.
fn split(value: &Value) -> (Option<Value>, Value, Value) {
    if expr::unknown_template(value).is_some() {
        return (None, Value::Bool(true), Value::Bool(false));
    }
    match value {
        Value::String(s) if s.contains(SECRET) => {
            (Some(Value::Null), Value::Bool(false), Value::Bool(true))
        }
        Value::Object(map) => {
            let (mut known, mut unknown, mut secret) = (Map::new(), Map::new(), Map::new());
            for (k, v) in map {
                let (a, u, s) = split(v);
                if let Some(a) = a {
                    known.insert(k.clone(), a);
                }
                if u != Value::Bool(false) {
                    unknown.insert(k.clone(), u);
                }
                if s != Value::Bool(false) {
                    secret.insert(k.clone(), s);
                }
            }
            (
                Some(Value::Object(known)),
                Value::Object(unknown),
                Value::Object(secret),
            )
        }
        Value::Array(items) => {
            let mut known = Vec::new();
            let mut unknown = Vec::new();
            let mut secret = Vec::new();
            for item in items {
                let (a, u, s) = split(item);
                known.push(a.unwrap_or(Value::Null));
                unknown.push(u);
                secret.push(s);
            }
            let quiet = |marks: Vec<Value>| {
                if marks.iter().all(|m| m == &Value::Bool(false)) {
                    Value::Array(Vec::new())
                } else {
                    Value::Array(marks)
                }
            };
            (Some(Value::Array(known)), quiet(unknown), quiet(secret))
        }
        other => (Some(other.clone()), Value::Bool(false), Value::Bool(false)),
    }
}

/// `split` of one resource's values, with what the provider's schema
/// marks sensitive (an API key's value, a password) hidden and marked even
/// where cairn knows it is not secret, as Terraform marks it.
fn split_values(type_name: &str, values: &Map<String, Value>) -> (Option<Value>, Value, Value) {
    let (mut known, unknown, sensitive) = split(&Value::Object(values.clone()));
    let mut sensitive = object_or_empty(sensitive);
    let schema = &terraform::schema(type_name).block;
    for name in values.keys().filter(|name| schema.sensitive(name)) {
        if let Some(Value::Object(known)) = &mut known {
            if known.contains_key(name) {
                known.insert(name.clone(), Value::Null);
            }
        }
        sensitive[name] = Value::Bool(true);
    }
    (known, unknown, sensitive)
}

/// What Terraform writes of a resource's values: every attribute of the
/// provider's schema (see `terraform::complete`).
fn completed(type_name: &str, values: &mut Map<String, Value>, creating: bool) {
    let unknown = |name: &str| expr::unknown(&format!("${{{type_name}.{name}}}"));
    terraform::complete(
        &terraform::schema(type_name).block,
        values,
        creating,
        &unknown,
    );
}

fn object_or_empty(value: Value) -> Value {
    if value.is_object() {
        value
    } else {
        json!({})
    }
}

/// Each resource's Terraform mapping, by cairn name.
type TfTypes = BTreeMap<String, &'static terraform::Mapping>;

/// Terraform's references for the templates inside a value:
/// `aws_dynamodb_table.rate_limit.arn` and `aws_dynamodb_table.rate_limit`.
fn references(value: &Value, tf_types: &TfTypes) -> Vec<Value> {
    let mut templates = Vec::new();
    terraform::unknown_templates(value, &mut templates);
    let mut out: Vec<Value> = Vec::new();
    for template in templates {
        for reference in expr::references(&template) {
            let Some(mapping) = tf_types.get(&reference.root) else {
                continue;
            };
            let mut attribute = reference
                .attribute
                .split('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            // An output Terraform holds on a part names that part.
            let mut tf_type = mapping.main_type();
            if let Some((_, part, part_attribute)) = mapping
                .parts
                .outputs
                .iter()
                .find(|(output, _, _)| *output == attribute)
            {
                tf_type = part;
                attribute = (*part_attribute).to_owned();
            }
            let resource = format!("{tf_type}.{}", reference.root);
            for r in [format!("{resource}.{attribute}"), resource] {
                if !out.contains(&Value::String(r.clone())) {
                    out.push(Value::String(r));
                }
            }
        }
    }
    out
}

/// Terraform's expression representation of mapped configuration values:
/// a constant, the references of a value known only after apply, and
/// nested blocks as lists of expression objects.
fn expressions(values: &Map<String, Value>, tf_types: &TfTypes, own: &str) -> Value {
    let mut out = Map::new();
    for (key, value) in values {
        // What the configuration does not write: secrets, and what AWS
        // assigns (the resource's own attributes).
        if contains_secret(value) || key == "tags_all" || key == "id" {
            continue;
        }
        if expr::contains_unknown(value) {
            let refs = references(value, tf_types);
            if !refs.is_empty()
                && refs.iter().all(|r| {
                    r.as_str()
                        .is_some_and(|r| r == own || r.starts_with(&format!("{own}.")))
                })
            {
                continue;
            }
        }
        let expression = if !expr::contains_unknown(value) {
            json!({ "constant_value": value })
        } else {
            match value {
                Value::Array(items)
                    if !items.is_empty()
                        && items
                            .iter()
                            .all(|i| i.is_object() && expr::unknown_template(i).is_none()) =>
                {
                    Value::Array(
                        items
                            .iter()
                            .map(|i| expressions(i.as_object().expect("object"), tf_types, own))
                            .collect(),
                    )
                }
                _ => json!({ "references": references(value, tf_types) }),
            }
        };
        out.insert(key.clone(), expression);
    }
    Value::Object(out)
}

/// What a resource's configuration is: its properties as the stack writes
/// them, where a value that refers to another resource stays a reference.
fn configuration_attributes(catalog: &Catalog, change: &Change) -> Map<String, Value> {
    let resolved = change.after.as_deref().or(change.before.as_deref());
    let mut attrs = resolved.cloned().unwrap_or_default();
    if let Some(config) = &change.config {
        for (key, value) in config {
            if super::refers_to_resources(value) {
                attrs.insert(key.clone(), mark_references(value));
            }
        }
    }
    attributes(change, &attrs, &unknown_outputs(catalog, change))
}

/// Strings that refer to resources become markers (their template kept).
fn mark_references(value: &Value) -> Value {
    match value {
        Value::String(text) if expr::references(text).iter().any(|r| r.is_resource()) => {
            expr::unknown(text)
        }
        Value::Array(items) => Value::Array(items.iter().map(mark_references).collect()),
        Value::Object(map) if expr::unknown_template(value).is_none() => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mark_references(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

struct Row {
    instance_address: String,
    type_name: &'static str,
    name: String,
    index: Option<Value>,
    actions: Vec<&'static str>,
    before: Option<Map<String, Value>>,
    after: Option<Map<String, Value>>,
    cairn_address: String,
    reason: Option<&'static str>,
    cairn_reason: Option<String>,
    /// Changed fields whose values come from other stacks: their imports.
    cairn_imports: BTreeMap<String, Vec<String>>,
    previous_address: Option<String>,
}

fn actions(action: Action, create_before_destroy: bool) -> Vec<&'static str> {
    match action {
        Action::NoOp => vec!["no-op"],
        Action::Create => vec!["create"],
        Action::Update => vec!["update"],
        Action::Replace if create_before_destroy => vec!["create", "delete"],
        Action::Replace => vec!["delete", "create"],
        Action::Delete => vec!["delete"],
    }
}

/// The Terraform resources of one cairn change, each with its own action:
/// in an update, a route added is a create and one removed a delete.
fn rows(catalog: &Catalog, change: &Change, destroy: bool) -> Vec<Row> {
    let before = change
        .before
        .as_ref()
        .filter(|_| change.action != Action::Create)
        .map(|b| instances(catalog, change, &attributes(change, b, &change.outputs)));
    let after = change.after.as_ref().map(|a| {
        let outputs = match change.action {
            Action::Create | Action::Replace => unknown_outputs(catalog, change),
            _ => change.outputs.clone(),
        };
        // A field left to AWS (null) is what AWS holds, as Terraform plans
        // an optional computed attribute from the prior state.
        let mut a = (**a).clone();
        if let (Action::Update | Action::NoOp, Some(before)) = (change.action, &change.before) {
            for (key, value) in a.iter_mut().filter(|(_, v)| v.is_null()) {
                if let Some(observed) = before.get(key) {
                    *value = observed.clone();
                }
            }
        }
        instances(catalog, change, &attributes(change, &a, &outputs))
    });
    let before = before.unwrap_or_default();
    let after = if change.action == Action::Delete {
        Vec::new()
    } else {
        after.unwrap_or_default()
    };
    let reason = match change.action {
        Action::Replace => Some("replace_because_cannot_update"),
        Action::Delete if !destroy => Some("delete_because_no_resource_config"),
        _ => None,
    };
    let mut out = Vec::new();
    let mut row =
        |i: &Instance, actions: Vec<&'static str>, b: Option<&Instance>, a: Option<&Instance>| {
            let creating = actions.contains(&"create");
            let complete = |instance: &Instance, creating: bool| {
                let mut values = instance.values.clone();
                completed(instance.type_name, &mut values, creating);
                values
            };
            out.push(Row {
                instance_address: i.address(),
                type_name: i.type_name,
                name: i.name.clone(),
                index: i.index.clone(),
                before: b.map(|b| complete(b, false)),
                after: a.map(|a| complete(a, creating)),
                actions,
                cairn_address: change.address.clone(),
                reason,
                cairn_reason: change.reason.clone(),
                cairn_imports: change.imports.clone(),
                previous_address: previous_address(change, i),
            });
        };
    for a in &after {
        let b = before.iter().find(|b| b.key() == a.key());
        let acts = match (change.action, b) {
            (Action::Update | Action::NoOp, None) => vec!["create"],
            (Action::Update, Some(b)) if b.values == a.values => vec!["no-op"],
            (action, _) => actions(action, change.create_before_destroy),
        };
        row(a, acts, b, Some(a));
    }
    for b in &before {
        if !after.iter().any(|a| a.key() == b.key()) {
            row(b, vec!["delete"], Some(b), None);
        }
    }
    out
}

fn resource_change(row: &Row) -> Value {
    let (before, _, before_sensitive) = match &row.before {
        Some(b) => split_values(row.type_name, b),
        None => (None, Value::Bool(false), Value::Bool(false)),
    };
    let (after, after_unknown, after_sensitive) = match &row.after {
        Some(a) => split_values(row.type_name, a),
        None => (None, json!({}), Value::Bool(false)),
    };
    let mut out = json!({
        "address": row.instance_address,
        "mode": "managed",
        "type": row.type_name,
        "name": row.name,
        "provider_name": PROVIDER,
        "change": {
            "actions": row.actions,
            "before": before.unwrap_or(Value::Null),
            "after": after.unwrap_or(Value::Null),
            "after_unknown": object_or_empty(after_unknown),
            "before_sensitive": if row.before.is_some() { object_or_empty(before_sensitive) } else { json!(false) },
            "after_sensitive": if row.after.is_some() { object_or_empty(after_sensitive) } else { json!(false) },
        },
        "cairn_address": row.cairn_address,
    });
    if let Some(index) = &row.index {
        out["index"] = index.clone();
    }
    if let Some(reason) = row.reason {
        out["action_reason"] = json!(reason);
    }
    if let Some(reason) = &row.cairn_reason {
        out["cairn_reason"] = json!(reason);
    }
    if !row.cairn_imports.is_empty() {
        out["cairn_imports"] = json!(row.cairn_imports);
    }
    if let Some(previous) = &row.previous_address {
        out["previous_address"] = json!(previous);
    }
    out
}

fn value_resource(
    address: &str,
    type_name: &str,
    name: &str,
    index: Option<&Value>,
    values: &Map<String, Value>,
) -> Value {
    let (known, _, sensitive) = split_values(type_name, values);
    let mut out = json!({
        "address": address,
        "mode": "managed",
        "type": type_name,
        "name": name,
        "provider_name": PROVIDER,
        "schema_version": terraform::schema(type_name).version,
        "values": known.unwrap_or_else(|| json!({})),
        "sensitive_values": object_or_empty(sensitive),
    });
    if let Some(index) = index {
        out["index"] = index.clone();
    }
    out
}

/// A lookup as Terraform writes a data source it read: in the prior
/// state, `mode: data`.
fn data_resource(name: &str, found: &crate::model::lookup::Found) -> Value {
    let type_name = found.kind.terraform_type();
    json!({
        "address": format!("data.{type_name}.{name}"),
        "mode": "data",
        "type": type_name,
        "name": name,
        "provider_name": PROVIDER,
        "schema_version": 0,
        "values": found.values,
        "sensitive_values": {},
    })
}

fn drift_rows(catalog: &Catalog, drift: &Drift, changes: &[Change]) -> Vec<Value> {
    let Some(change) = changes.iter().find(|c| c.address == drift.address) else {
        return Vec::new();
    };
    let probe = Change {
        sensitive: drift.sensitive.clone(),
        ..change.clone()
    };
    let completed_instances = |values: &Map<String, Value>| {
        let mut all = instances(
            catalog,
            &probe,
            &attributes(&probe, values, &change.outputs),
        );
        for instance in &mut all {
            completed(instance.type_name, &mut instance.values, false);
        }
        all
    };
    let recorded = completed_instances(&drift.recorded);
    let live = drift
        .live
        .as_ref()
        .map(completed_instances)
        .unwrap_or_default();
    let mut out = Vec::new();
    for r in &recorded {
        let l = live.iter().find(|l| l.key() == r.key());
        if l.is_some_and(|l| l.values == r.values) {
            continue;
        }
        let (before, _, before_sensitive) = split_values(r.type_name, &r.values);
        let (after, after_sensitive) = match l {
            Some(l) => {
                let (a, _, s) = split_values(l.type_name, &l.values);
                (a.unwrap_or(Value::Null), object_or_empty(s))
            }
            None => (Value::Null, json!(false)),
        };
        let changed: Vec<&String> = match l {
            Some(l) => r
                .values
                .keys()
                .chain(l.values.keys())
                .filter(|k| r.values.get(*k) != l.values.get(*k))
                .collect(),
            None => Vec::new(),
        };
        let mut row = json!({
            "address": r.address(),
            "mode": "managed",
            "type": r.type_name,
            "name": r.name,
            "provider_name": PROVIDER,
            "change": {
                "actions": if l.is_some() { ["update"] } else { ["delete"] },
                "before": before.unwrap_or(Value::Null),
                "after": after,
                "after_unknown": {},
                "before_sensitive": object_or_empty(before_sensitive),
                "after_sensitive": after_sensitive,
            },
            "cairn_address": drift.address,
            "relevant": changed.iter().map(|k| json!({"resource": r.address(), "attribute": [k]})).collect::<Vec<_>>(),
        });
        if let Some(index) = &r.index {
            row["index"] = index.clone();
        }
        out.push(row);
    }
    out
}

/// Terraform's JSON plan as a value.
pub fn terraform_json(catalog: &Catalog, plan: &Plan) -> Value {
    serialize_plan(catalog, plan, serde_json::value::Serializer).expect("a plan is JSON")
}

/// Terraform's JSON plan (one line), written as it is made: one resource's
/// values in memory at a time, however many the plan holds.
pub fn write_terraform_json(
    catalog: &Catalog,
    plan: &Plan,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    serialize_plan(catalog, plan, &mut serde_json::Serializer::new(out))
        .map_err(std::io::Error::from)
}

/// A JSON array made while it is written.
struct Lazy<'a>(Box<dyn Fn() -> Box<dyn Iterator<Item = Value> + 'a> + 'a>);

impl Serialize for Lazy<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

// The document's objects, their fields in sorted order: what a JSON map
// (sorted by key) of the same values writes.
#[derive(Serialize)]
struct Document<'a> {
    applyable: bool,
    cairn: Value,
    complete: bool,
    configuration: Configuration<'a>,
    errored: bool,
    format_version: &'static str,
    output_changes: Map<String, Value>,
    planned_values: PlannedValues<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prior_state: Option<PriorState<'a>>,
    relevant_attributes: Vec<Value>,
    resource_changes: Lazy<'a>,
    resource_drift: Vec<Value>,
    terraform_version: &'static str,
}

#[derive(Serialize)]
struct Configuration<'a> {
    provider_config: Value,
    root_module: ConfiguredModule<'a>,
}

#[derive(Serialize)]
struct ConfiguredModule<'a> {
    outputs: Map<String, Value>,
    resources: Lazy<'a>,
}

#[derive(Serialize)]
struct PlannedValues<'a> {
    outputs: Map<String, Value>,
    root_module: Resources<'a>,
}

#[derive(Serialize)]
struct PriorState<'a> {
    format_version: &'static str,
    terraform_version: &'static str,
    values: RootModule<'a>,
}

#[derive(Serialize)]
struct RootModule<'a> {
    root_module: Resources<'a>,
}

#[derive(Serialize)]
struct Resources<'a> {
    resources: Lazy<'a>,
}

/// Whether the change is a resource, or the first instance of a `for_each`
/// resource (the one that stands for its configuration).
fn first_instance(change: &Change, changes: &[Change]) -> bool {
    let (base, index) = expr::split_instance(&change.name);
    if index == expr::Index::None {
        return true;
    }
    changes
        .iter()
        .filter(|c| c.type_name == change.type_name && c.action != Action::Delete)
        .find(|c| expr::split_instance(&c.name).0 == base)
        .is_none_or(|c| c.address == change.address)
}

/// The configuration blocks of one change: one per Terraform resource (a
/// `for_each` one once).
fn configured(
    catalog: &Catalog,
    change: &Change,
    changes: &[Change],
    tf_types: &TfTypes,
) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut seen = Vec::new();
    let depends_on: Vec<String> = change
        .dependencies
        .iter()
        .filter_map(|address| changes.iter().find(|c| &c.address == address))
        .map(|c| {
            format!(
                "{}.{}",
                tf_types[&c.name].main_type(),
                expr::split_instance(&c.name).0
            )
        })
        .collect();
    // A `for_each` resource's keys: its instances are one block.
    let base = expr::split_instance(&change.name).0;
    let for_each_keys: Vec<Value> = changes
        .iter()
        .filter(|c| c.type_name == change.type_name && c.action != Action::Delete)
        .filter_map(|c| match expr::split_instance(&c.name) {
            (other, expr::Index::Key(key)) if other == base => Some(json!(key)),
            _ => None,
        })
        .collect();
    let all = instances(catalog, change, &configuration_attributes(catalog, change));
    for instance in &all {
        if seen.contains(&instance.type_name) {
            continue;
        }
        seen.push(instance.type_name);
        let keys: Vec<&Value> = all
            .iter()
            .filter(|i| i.type_name == instance.type_name)
            .filter_map(|i| i.index.as_ref())
            .collect();
        let mut expressions = expressions(
            &instance.values,
            tf_types,
            &format!("{}.{}", instance.type_name, instance.name),
        );
        if let Some((attribute, main_attribute)) = instance.part_of {
            let main = format!(
                "{}.{}",
                catalog.of(&change.type_name).terraform.main_type(),
                instance.name
            );
            expressions[attribute] =
                json!({ "references": [format!("{main}.{main_attribute}"), main] });
        }
        let mut block = json!({
            "address": format!("{}.{}", instance.type_name, instance.name),
            "mode": "managed",
            "type": instance.type_name,
            "name": instance.name,
            "provider_config_key": "aws",
            "expressions": expressions,
            "schema_version": terraform::schema(instance.type_name).version,
        });
        match keys.first() {
            _ if !for_each_keys.is_empty() => {
                block["for_each_expression"] = json!({ "constant_value": for_each_keys })
            }
            Some(Value::Number(_)) => {
                block["count_expression"] = json!({ "constant_value": keys.len() })
            }
            Some(_) => block["for_each_expression"] = json!({ "constant_value": keys }),
            None => {}
        }
        if !depends_on.is_empty() {
            block["depends_on"] = json!(depends_on);
        }
        blocks.push(block);
    }
    blocks
}

/// One output's change as Terraform writes it: a value partly known has
/// null for what is not, and `after_unknown` marks it item by item.
fn output_change(change: &super::OutputChange) -> Value {
    let action = match change.action {
        Action::Create => "create",
        Action::Update | Action::Replace => "update",
        Action::Delete => "delete",
        Action::NoOp => "no-op",
    };
    let before = match change.before {
        Some(value) if !change.sensitive => value.clone(),
        _ => Value::Null,
    };
    let (after, after_unknown) = match change.after {
        Some(value) if expr::contains_unknown(value) => {
            let (known, unknown, _) = split(value);
            (known.unwrap_or(Value::Null), unknown)
        }
        Some(value) => (value.clone(), Value::Bool(false)),
        None => (Value::Null, Value::Bool(false)),
    };
    json!({
        "actions": [action],
        "before": before,
        "after": if change.sensitive { Value::Null } else { after },
        "after_unknown": after_unknown,
        "before_sensitive": change.sensitive && change.before.is_some(),
        "after_sensitive": change.sensitive && change.after.is_some(),
    })
}

/// The plan's outputs as Terraform writes them: their changes, their
/// configuration, and their planned values.
fn outputs(
    plan: &Plan,
    tf_types: &TfTypes,
) -> (Map<String, Value>, Map<String, Value>, Map<String, Value>) {
    let mut output_changes = Map::new();
    for change in plan.output_changes() {
        output_changes.insert(change.name.to_owned(), output_change(&change));
    }
    let mut output_config = Map::new();
    for (name, value) in &plan.outputs {
        let sensitive = plan.sensitive_outputs.contains(name);
        let expression = if sensitive {
            json!({})
        } else if expr::contains_unknown(value) {
            json!({ "references": references(value, tf_types) })
        } else {
            json!({ "constant_value": value })
        };
        output_config.insert(
            name.clone(),
            json!({ "expression": expression, "sensitive": sensitive }),
        );
    }
    let planned_outputs: Map<String, Value> = plan
        .outputs
        .iter()
        .filter(|_| !plan.destroy)
        .filter(|(_, v)| !expr::contains_unknown(v))
        .map(|(name, value)| {
            let sensitive = plan.sensitive_outputs.contains(name);
            (
                name.clone(),
                json!({
                    "sensitive": sensitive,
                    "value": if sensitive { Value::Null } else { value.clone() },
                }),
            )
        })
        .collect();
    (output_changes, output_config, planned_outputs)
}

fn serialize_plan<S: Serializer>(
    catalog: &Catalog,
    plan: &Plan,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let tf_types: TfTypes = plan
        .changes
        .iter()
        .map(|c| (c.name.clone(), &catalog.of(&c.type_name).terraform))
        .collect();
    let tf_types = &tf_types;
    let destroy = plan.destroy;
    // Each resource's rows are made again for each part that lists them,
    // and dropped once written.
    let rows_of = move || {
        plan.changes
            .iter()
            .flat_map(move |c| rows(catalog, c, destroy))
    };
    let values_of = |row: &Row, values: &Map<String, Value>| {
        value_resource(
            &row.instance_address,
            row.type_name,
            &row.name,
            row.index.as_ref(),
            values,
        )
    };
    let resource_changes = Lazy(Box::new(move || {
        Box::new(rows_of().map(|row| resource_change(&row)))
    }));
    let planned = Lazy(Box::new(move || {
        Box::new(rows_of().filter_map(move |row| row.after.as_ref().map(|a| values_of(&row, a))))
    }));
    let has_prior = !plan.lookups.is_empty() || rows_of().any(|row| row.before.is_some());
    let prior = Lazy(Box::new(move || {
        Box::new(
            plan.lookups
                .iter()
                .map(|(name, found)| data_resource(name, found))
                .chain(
                    rows_of()
                        .filter_map(move |row| row.before.as_ref().map(|b| values_of(&row, b))),
                ),
        )
    }));
    let configured = Lazy(Box::new(move || {
        Box::new(
            plan.changes
                .iter()
                .filter(|c| c.action != Action::Delete)
                .filter(|c| first_instance(c, &plan.changes))
                .flat_map(move |c| configured(catalog, c, &plan.changes, tf_types)),
        )
    }));

    let mut drift = Vec::new();
    let mut relevant = Vec::new();
    for d in &plan.drift {
        for mut row in drift_rows(catalog, d, &plan.changes) {
            if let Some(Value::Array(r)) = row.as_object_mut().and_then(|o| o.remove("relevant")) {
                relevant.extend(r);
            }
            drift.push(row);
        }
    }

    let (output_changes, output_config, planned_outputs) = outputs(plan, tf_types);

    let (add, change, destroyed) = plan.counts();
    let mut cairn = json!({
            "version": plan.cairn_version,
            "project": plan.project,
            "environment": plan.environment,
            "destroy": plan.destroy,
            "summary": {"add": add, "change": change, "destroy": destroyed},
            "stack_hash": plan.stack_hash,
            "state_lineage": plan.state_lineage,
            "state_serial": plan.state_serial,
    });
    if !plan.lookups.is_empty() {
        cairn["lookups"] = json!(plan.lookups);
    }
    let document = Document {
        applyable: plan.has_changes() || plan.has_output_changes(),
        cairn,
        complete: true,
        configuration: Configuration {
            provider_config: json!({
                "aws": {
                    "name": "aws",
                    "full_name": PROVIDER,
                    "expressions": { "region": { "constant_value": plan.region } },
                },
            }),
            root_module: ConfiguredModule {
                outputs: output_config,
                resources: configured,
            },
        },
        errored: false,
        format_version: FORMAT_VERSION,
        output_changes,
        planned_values: PlannedValues {
            outputs: planned_outputs,
            root_module: Resources { resources: planned },
        },
        prior_state: has_prior.then_some(PriorState {
            format_version: "1.0",
            terraform_version: TERRAFORM_VERSION,
            values: RootModule {
                root_module: Resources { resources: prior },
            },
        }),
        relevant_attributes: relevant,
        resource_changes,
        resource_drift: drift,
        terraform_version: TERRAFORM_VERSION,
    };
    document.serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknowns_leave_after_and_mark_after_unknown() {
        let value = json!({
            "name": "t",
            "arn": expr::unknown("${t.arn}"),
            "block": [{"enabled": true, "kms_key_arn": expr::unknown("${key.arn}")}],
            "list": ["a", expr::unknown("${x.id}")],
        });
        let (known, unknown, secret) = split(&value);
        assert_eq!(
            known.unwrap(),
            json!({"name": "t", "block": [{"enabled": true}], "list": ["a", null]})
        );
        assert_eq!(
            unknown,
            json!({"arn": true, "block": [{"kms_key_arn": true}], "list": [false, true]})
        );
        assert_eq!(secret, json!({"block": [{}], "list": []}));
    }

    #[test]
    fn a_secret_is_masked_wherever_a_mapping_puts_it() {
        // Inside a policy's JSON string, the whole string goes.
        let policy = terraform::json_string(&json!({"Token": SECRET}));
        let value = json!({"policy": policy, "tags": {"Token": SECRET, "Team": "a"}});
        let (known, _, secret) = split(&value);
        assert_eq!(
            known.unwrap(),
            json!({"policy": null, "tags": {"Token": null, "Team": "a"}})
        );
        assert_eq!(secret, json!({"policy": true, "tags": {"Token": true}}));
    }

    #[test]
    fn unset_attributes_are_null_and_computed_ones_unknown_on_create() {
        let mut values = Map::new();
        values.insert("function_name".into(), json!("f"));
        values.insert("environment".into(), json!([{"variables": {"A": "1"}}]));
        let mut created = values.clone();
        completed("aws_lambda_function", &mut created, true);
        completed("aws_lambda_function", &mut values, false);
        let (after, unknown, _) = split_values("aws_lambda_function", &created);
        let after = after.unwrap();
        // Optional: null; a block not given: []; a single one: null.
        assert_eq!(after["kms_key_arn"], Value::Null);
        assert_eq!(after["dead_letter_config"], json!([]));
        assert_eq!(after["timeouts"], Value::Null);
        // Computed, and the id: unknown on create; so is a computed block.
        for name in ["arn", "id", "version", "tracing_config", "logging_config"] {
            assert_eq!(unknown[name], true, "{name}");
            assert!(after.get(name).is_none(), "{name}");
        }
        assert_eq!(after["environment"], json!([{"variables": {"A": "1"}}]));
        // Not a create: what is unset is null, never unknown.
        assert_eq!(values["tracing_config"], json!([]));
        assert_eq!(values["arn"], Value::Null);
        assert!(!expr::contains_unknown(&Value::Object(values)));
    }

    #[test]
    fn what_the_provider_marks_sensitive_is_hidden_and_marked() {
        let values = json!({"name": "k", "value": "given-not-secret"});
        let (known, _, sensitive) =
            split_values("aws_api_gateway_api_key", values.as_object().unwrap());
        assert_eq!(known.unwrap()["value"], Value::Null);
        assert_eq!(sensitive, json!({"value": true}));
        let generated = json!({"name": "k", "value": expr::unknown("${k.value}")});
        let (_, unknown, sensitive) =
            split_values("aws_api_gateway_api_key", generated.as_object().unwrap());
        assert_eq!(
            (unknown["value"].clone(), sensitive),
            (json!(true), json!({"value": true}))
        );
    }

    #[test]
    fn a_secret_entry_hides_only_itself() {
        let change = Change {
            sensitive: vec!["environment".into()],
            sensitive_keys: vec!["environment.DB_PASSWORD".into()],
            ..serde_json::from_value(json!({
                "address": "lambda_function.f", "type": "lambda_function", "name": "f",
                "action": "create", "id": null, "before": null, "after": null,
                "changed": [], "replace_paths": [], "outputs": {}, "dependencies": [],
                "protect": false, "sensitive": [], "reason": null,
            }))
            .unwrap()
        };
        let properties = json!({"environment": {"DB_PASSWORD": "hunter2", "KEY_ID": "AKIA"}});
        let attrs = attributes(&change, properties.as_object().unwrap(), &Map::new());
        assert_eq!(attrs["environment"]["KEY_ID"], "AKIA");
        assert!(contains_secret(&attrs["environment"]["DB_PASSWORD"]));
        // Kept by the state as one hash: all of it hidden.
        let hashed = json!({"environment": crate::state::redact(&json!({"DB_PASSWORD": "x"}))});
        let attrs = attributes(&change, hashed.as_object().unwrap(), &Map::new());
        assert!(contains_secret(&attrs["environment"]));
    }

    static KEY: terraform::Mapping = terraform::Mapping {
        types: &["aws_kms_key"],
        map: |_| Vec::new(),
        import: |_| Err(String::new()),
        parts: terraform::Parts::NONE,
    };

    static API: terraform::Mapping = terraform::Mapping {
        types: &["aws_api_gateway_rest_api", "aws_api_gateway_stage"],
        map: |_| Vec::new(),
        import: |_| Err(String::new()),
        parts: terraform::Parts {
            outputs: &[("stage_arn", "aws_api_gateway_stage", "arn")],
            ..terraform::Parts::NONE
        },
    };

    #[test]
    fn references_name_terraform_addresses() {
        let types: TfTypes = BTreeMap::from([("key".to_owned(), &KEY), ("api".to_owned(), &API)]);
        let value = terraform::json_string(&json!({
            "Resource": [expr::unknown("${key.arn}"), expr::unknown("arn:${aws.partition}:x")],
        }));
        assert_eq!(
            references(&value, &types),
            vec![json!("aws_kms_key.key.arn"), json!("aws_kms_key.key")]
        );
        // An output Terraform holds on a part (a REST API's stage) names
        // that part, as a Terraform configuration would.
        let stage = json!(expr::unknown("${api.stage_arn}"));
        assert_eq!(
            references(&stage, &types),
            vec![
                json!("aws_api_gateway_stage.api.arn"),
                json!("aws_api_gateway_stage.api")
            ]
        );
    }
}
