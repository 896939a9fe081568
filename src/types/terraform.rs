//! How a type shows in Terraform's terms: the hashicorp/aws provider's
//! resource types and attribute names. Each type's file holds its own
//! `Mapping`; `plan::json` uses it to write Terraform's JSON plan, so that
//! the tools which read those (checkov, terraform-compliance, Infracost)
//! read cairn's.
//!
//! A mapping is a plain function of the resource's attributes (its
//! properties, with its outputs beside them). Values it cannot know yet are
//! the engine's unknown markers, and it passes them through: `json_string`
//! keeps a policy that holds one unknown as a whole.

use crate::model::expr;
use serde_json::{json, Map, Value};

/// One resource of Terraform's, as a cairn resource maps to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tf {
    pub type_name: &'static str,
    /// The `for_each` key (a string) or `count` index (a number), where
    /// one cairn resource maps to several of one type (an HTTP API's
    /// routes, a route table's subnet associations).
    pub index: Option<Value>,
    pub values: Map<String, Value>,
}

pub struct Mapping {
    /// The Terraform types it maps to; the first is the main one, whose
    /// attributes a reference to the cairn resource names.
    pub types: &'static [&'static str],
    pub map: fn(&Map<String, Value>) -> Vec<Tf>,
    /// From a Terraform state's attributes of the main type: the id cairn
    /// reads it by, or why cairn cannot describe it (it is then left out of
    /// an import, never half-imported).
    pub import: fn(&Map<String, Value>) -> Result<String, String>,
}

impl Mapping {
    pub fn main_type(&self) -> &'static str {
        self.types[0]
    }
}

/// A Terraform resource from a `json!` object.
pub fn tf(type_name: &'static str, values: Value) -> Tf {
    let Value::Object(values) = values else {
        panic!("{type_name}: a mapping gives an object")
    };
    Tf {
        type_name,
        index: None,
        values,
    }
}

/// One of several resources of one type, keyed like `for_each`.
pub fn each(type_name: &'static str, key: impl Into<Value>, values: Value) -> Tf {
    Tf {
        index: Some(key.into()),
        ..tf(type_name, values)
    }
}

/// An attribute (null when absent).
pub fn v(attrs: &Map<String, Value>, key: &str) -> Value {
    attrs.get(key).cloned().unwrap_or(Value::Null)
}

/// An attribute inside an object attribute (null when absent).
pub fn v2(attrs: &Map<String, Value>, key: &str, inner: &str) -> Value {
    attrs
        .get(key)
        .and_then(|o| o.get(inner))
        .cloned()
        .unwrap_or(Value::Null)
}

/// An empty string or an absent value as null, as the provider shows an
/// optional attribute that is not set.
pub fn opt(attrs: &Map<String, Value>, key: &str) -> Value {
    match attrs.get(key) {
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// A nested block the provider models as a one-element list.
pub fn block(value: Value) -> Value {
    Value::Array(vec![value])
}

/// A block present only when `present`.
pub fn block_if(present: bool, value: Value) -> Value {
    if present {
        block(value)
    } else {
        json!([])
    }
}

/// A document the provider takes as a JSON string (policies, dashboard
/// bodies). Unknown while any part of it is.
pub fn json_string(value: &Value) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    if let Value::String(s) = value {
        return Value::String(s.clone());
    }
    if expr::contains_unknown(value) {
        let mut templates = Vec::new();
        unknown_templates(value, &mut templates);
        return expr::unknown(&templates.join(" "));
    }
    Value::String(serde_json::to_string(value).expect("json"))
}

/// The templates of every unknown marker inside a value.
pub fn unknown_templates(value: &Value, out: &mut Vec<String>) {
    if let Some(t) = expr::unknown_template(value) {
        out.push(t.to_owned());
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|i| unknown_templates(i, out)),
        Value::Object(map) => map.values().for_each(|i| unknown_templates(i, out)),
        _ => {}
    }
}

/// `tags` and `tags_all` as the provider shows them (cairn's tags already
/// hold the stack's defaults).
pub fn tagged(attrs: &Map<String, Value>, values: Value) -> Value {
    let mut values = values;
    let tags = match attrs.get("tags") {
        Some(t @ Value::Object(_)) => t.clone(),
        Some(t) if expr::unknown_template(t).is_some() => t.clone(),
        _ => json!({}),
    };
    values["tags"] = tags.clone();
    values["tags_all"] = tags;
    values
}

/// For `Mapping::import`: a non-empty string attribute of Terraform's.
pub fn attribute(attrs: &Map<String, Value>, key: &str) -> Result<String, String> {
    match attrs.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("the state has no `{key}`")),
    }
}

/// For `Mapping::import`: refuses a non-empty list attribute (a feature
/// cairn does not describe).
pub fn none_of(attrs: &Map<String, Value>, key: &str, what: &str) -> Result<(), String> {
    match attrs.get(key) {
        Some(Value::Array(items)) if !items.is_empty() => {
            Err(format!("it has {what}, which cairn does not describe yet"))
        }
        _ => Ok(()),
    }
}
