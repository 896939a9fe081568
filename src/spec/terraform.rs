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

/// What a type's mapping function uses, in one import.
pub mod prelude {
    pub use super::{
        attribute, block, block_if, each, json_string, none_of, opt, tagged, tf, v, v2, Tf,
    };
    pub use crate::model::expr;
    pub use serde_json::json;
}

/// One resource of Terraform's, as a cairn resource maps to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tf {
    pub type_name: &'static str,
    /// The `for_each` key (a string) or `count` index (a number), where
    /// one cairn resource maps to several of one type (an HTTP API's
    /// routes, a route table's subnet associations).
    pub index: Option<Value>,
    pub values: Map<String, Value>,
    /// A part of the main resource written as its own Terraform resource
    /// (a bucket's versioning): the attribute that names the main one and
    /// the main one's attribute it takes, which a configuration writes as
    /// a reference (`bucket = aws_s3_bucket.site.id`), so tools that read
    /// the plan (checkov's graph checks) join the two.
    pub part_of: Option<(&'static str, &'static str)>,
}

impl Tf {
    /// This resource is a part of the main one, naming it by `attribute`
    /// (its `main_attribute`).
    pub fn part_of(mut self, attribute: &'static str, main_attribute: &'static str) -> Tf {
        self.part_of = Some((attribute, main_attribute));
        self
    }
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
    /// How a Terraform state's resources of other types belong to it.
    pub parts: Parts,
}

/// Terraform resources that belong to one of this type (`cairn import`
/// folds them into it, or leaves them to Terraform), beside those of
/// `Mapping::types` after the first, which it writes and takes over.
pub struct Parts {
    /// Types it reads from AWS as part of its resource: taken over.
    pub taken_over: &'static [&'static str],
    /// Types of objects inside it that AWS deletes with it and that cairn
    /// does not describe: Terraform keeps managing them.
    pub dies_with: &'static [&'static str],
    /// Parts it holds one of, with what a resource with more has (it is
    /// then left out with all its parts rather than imported as another).
    pub at_most_one: &'static [(&'static str, &'static str)],
    /// Why a part's Terraform attributes hold what it cannot describe (it
    /// is then left out with all its parts), if they do.
    pub not_described: fn(&str, &Map<String, Value>) -> Option<String>,
    /// Its fields that Terraform may hold in a resource of its own which
    /// `cairn import` makes a cairn resource of its own too: (that
    /// Terraform type, the field). With one imported, the field is left to
    /// it (a bucket's policy beside an `aws_s3_bucket_policy`).
    pub held_apart: &'static [(&'static str, &'static str)],
    /// Its outputs that Terraform holds as an attribute of a part (a REST
    /// API's `stage_arn` is `aws_api_gateway_stage.NAME.arn`): (output,
    /// the part's Terraform type, its attribute), so a plan's references
    /// name what Terraform would.
    pub outputs: &'static [(&'static str, &'static str, &'static str)],
}

impl Parts {
    pub const NONE: Parts = Parts {
        taken_over: &[],
        dies_with: &[],
        at_most_one: &[],
        not_described: |_, _| None,
        held_apart: &[],
        outputs: &[],
    };
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
        part_of: None,
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

/// A block of the provider's schema (a resource type's top level, or a
/// nested block): its attributes with their flags, and its nested blocks.
#[derive(Debug, serde::Deserialize)]
pub struct Block {
    /// Attribute name to flags: `required`, `optional`, `computed`,
    /// `sensitive`, space-separated.
    pub attributes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub blocks: std::collections::BTreeMap<String, NestedBlock>,
}

#[derive(Debug, serde::Deserialize)]
pub struct NestedBlock {
    /// `list`, `set` or `single`.
    pub nesting: String,
    /// Optional and computed: AWS decides it when the configuration does
    /// not (the provider's source says so; the schema's JSON does not).
    #[serde(default)]
    pub computed: bool,
    #[serde(flatten)]
    pub block: Block,
}

#[derive(Debug, serde::Deserialize)]
pub struct TypeSchema {
    pub version: u64,
    #[serde(flatten)]
    pub block: Block,
}

#[derive(serde::Deserialize)]
struct ProviderSchema {
    types: std::collections::BTreeMap<String, TypeSchema>,
}

impl Block {
    fn flagged(&self, attribute: &str, flag: &str) -> bool {
        self.attributes
            .get(attribute)
            .is_some_and(|flags| flags.split(' ').any(|f| f == flag))
    }
    pub fn computed(&self, attribute: &str) -> bool {
        self.flagged(attribute, "computed")
    }
    pub fn sensitive(&self, attribute: &str) -> bool {
        self.flagged(attribute, "sensitive")
    }
    pub fn has(&self, name: &str) -> bool {
        self.attributes.contains_key(name) || self.blocks.contains_key(name)
    }
}

/// The hashicorp/aws provider's schema of a Terraform type cairn maps to
/// (`terraform_schema.json`, with its provenance).
pub fn schema(type_name: &str) -> &'static TypeSchema {
    static SCHEMA: std::sync::OnceLock<ProviderSchema> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            serde_json::from_str(include_str!("terraform_schema.json"))
                .expect("terraform_schema.json is the provider's schema")
        })
        .types
        .get(type_name)
        .unwrap_or_else(|| panic!("terraform_schema.json lacks {type_name}"))
}

/// Every attribute of the provider's schema in a resource's values, as
/// Terraform writes them: what a mapping leaves out (or null) is null, a
/// block not given an empty list (a single one null); except in a resource
/// being created, where what the provider computes is unknown (`unknown`
/// makes the marker), and so is the id.
pub fn complete(
    block: &Block,
    values: &mut Map<String, Value>,
    creating: bool,
    unknown: &dyn Fn(&str) -> Value,
) {
    for name in block.attributes.keys() {
        let unset = values.get(name).is_none_or(Value::is_null);
        if creating && (name == "id" || (unset && block.computed(name))) {
            values.insert(name.clone(), unknown(name));
        } else if unset {
            values.insert(name.clone(), Value::Null);
        }
    }
    for (name, nested) in &block.blocks {
        let unset = values.get(name).is_none_or(Value::is_null);
        if unset {
            let value = if creating && nested.computed {
                unknown(name)
            } else if nested.nesting == "single" {
                Value::Null
            } else {
                json!([])
            };
            values.insert(name.clone(), value);
            continue;
        }
        let value = values.get_mut(name).expect("set");
        if expr::unknown_template(value).is_some() {
            continue;
        }
        match value {
            Value::Array(items) => {
                for item in items
                    .iter_mut()
                    .filter(|i| expr::unknown_template(i).is_none())
                {
                    if let Value::Object(inner) = item {
                        complete(&nested.block, inner, creating, unknown);
                    }
                }
            }
            Value::Object(inner) => complete(&nested.block, inner, creating, unknown),
            _ => {}
        }
    }
}

/// The names in mapped values that the provider's schema lacks, as dotted
/// paths (a mapping's mistake).
pub fn unknown_names(block: &Block, values: &Map<String, Value>, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in values {
        let path = format!("{prefix}{name}");
        if let Some(nested) = block.blocks.get(name) {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                if let Some(inner) = item
                    .as_object()
                    .filter(|_| expr::unknown_template(item).is_none())
                {
                    out.extend(unknown_names(&nested.block, inner, &format!("{path}.")));
                }
            }
        } else if !block.attributes.contains_key(name) {
            out.push(path);
        }
    }
    out
}
