//! The keys of the stack language, each once: the compiler accepts these
//! and no others, `cairn schema` describes them to editors, and `cairn fmt`
//! writes them in this order. A new key is one line in its list.

use serde_json::{json, Value};

/// A key of the stack language and the JSON Schema of its value (which may
/// refer to `#/definitions/...` of `json_schema::generate`).
#[derive(Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: fn() -> Value,
}

impl Key {
    const fn new(name: &'static str, description: &'static str, schema: fn() -> Value) -> Key {
        Key {
            name,
            description,
            schema,
        }
    }
}

/// A list of allowed keys: plain names, or the language's keys.
pub trait Named {
    fn name(&self) -> &str;
}

impl Named for &str {
    fn name(&self) -> &str {
        self
    }
}

impl Named for Key {
    fn name(&self) -> &str {
        self.name
    }
}

/// A `${...}` expression: written where any value is, it is checked when
/// the stack compiles.
pub fn expression() -> Value {
    json!({"$ref": "#/definitions/expression"})
}

/// `shape`, or an expression standing for a value of that shape.
pub fn or_expression(shape: Value) -> Value {
    json!({"anyOf": [shape, expression()]})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn boolean() -> Value {
    or_expression(json!({"type": "boolean"}))
}

fn integer() -> Value {
    or_expression(json!({"type": "integer"}))
}

fn anything() -> Value {
    json!({})
}

fn definition(name: &str) -> Value {
    json!({"$ref": format!("#/definitions/{name}")})
}

fn named(name: &str) -> Value {
    json!({"type": ["object", "null"], "additionalProperties": definition(name)})
}

fn texts() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

// One line a key (hence no rustfmt): a new key is a new line.

/// The stack file, in the order `cairn fmt` writes it.
#[rustfmt::skip]
pub const TOP_LEVEL: &[Key] = &[
    Key::new("extends", "A stack file this one builds on (its keys first, this file's over them)", text),
    Key::new("project", "The project's name: part of every default name and tag", text),
    Key::new("environment", "The environment's name (dev, prod): part of every default name and tag", text),
    Key::new("region", "The AWS region of the stack's resources", text),
    Key::new("description", "What the stack is for", text),
    Key::new("state", "Where the state lives: local files, or a shared DynamoDB table", || definition("state")),
    Key::new("imports", "Other stacks whose outputs this one takes: `${import.NAME.OUTPUT}`", || named("import")),
    Key::new("lookups", "Objects that exist and are not this stack's, read at plan: `${lookup.NAME.ATTRIBUTE}`", || named("lookup")),
    Key::new("variables", "Variables, `${var.NAME}`: each with a default, a description, and whether it is sensitive", || named("variable")),
    Key::new("values", "Values of variables declared in this file or one it extends", || json!({"type": "object"})),
    Key::new("tags", "Tags on every taggable resource", || definition("tags")),
    Key::new("resources", "The resources, by name: `${NAME.ATTRIBUTE}` refers to one", || named("resource")),
    Key::new("outputs", "Values other stacks and `cairn output` read: a value, or a mapping with `value`", || named("output")),
    Key::new("drift", "Drift that is known and accepted", || definition("drift")),
    Key::new("moved", "Renames: the state's `from` address becomes `to`, without touching AWS", || json!({"type": "array", "items": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}}, "required": ["from", "to"], "additionalProperties": false}})),
];

/// A resource, in the order `cairn fmt` writes it. `properties` are its
/// type's (see `json_schema`).
#[rustfmt::skip]
pub const RESOURCE: &[Key] = &[
    Key::new("type", "The resource type", text),
    Key::new("region", "The resource's region, when it differs from the stack's", text),
    Key::new("depends_on", "Resources created before this one besides those it refers to", || or_expression(texts())),
    Key::new("protect", "Refuse to destroy or replace it unless named with --allow-destroy/--allow-replace", boolean),
    Key::new("create_before_destroy", "On a replacement, create the new one before deleting the old", boolean),
    Key::new("for_each", "One instance per element of a list or entry of a map: `${each.key}`, `${each.value}`", || or_expression(json!({"type": ["array", "object"]}))),
    Key::new("when", "The resource exists only when this is true", boolean),
    Key::new("properties", "The type's fields", || json!({"type": "object"})),
];

/// A repeated block: in a list property's place, or as one of its items,
/// it stands for one `content` per element (`json_schema` gives `content`
/// the schema of the list's items).
#[rustfmt::skip]
pub const BLOCK: &[Key] = &[
    Key::new("for_each", "One item per element of a list or entry of a map known when planning: `${each.key}`, `${each.value}`", || or_expression(json!({"type": ["array", "object"]}))),
    Key::new("content", "The item made for each element", || json!({})),
];

#[rustfmt::skip]
pub const VARIABLE: &[Key] = &[
    Key::new("default", "The value when no `values:`, --var or CAIRN_VAR_NAME sets one", anything),
    Key::new("description", "What the variable sets", text),
    Key::new("sensitive", "Kept out of plans, state and logs", || json!({"type": "boolean"})),
];

#[rustfmt::skip]
pub const OUTPUT: &[Key] = &[
    Key::new("value", "The output's value", anything),
    Key::new("description", "What the output is", text),
    Key::new("sensitive", "Kept out of plans and `cairn output` unless asked by name", || json!({"type": "boolean"})),
    Key::new("when", "The output exists only when this is true", boolean),
];

#[rustfmt::skip]
pub const STATE: &[Key] = &[
    Key::new("backend", "`local` (files) or `dynamodb` (shared)", || json!({"enum": ["local", "dynamodb"]})),
    Key::new("table", "The DynamoDB table (`cairn state init-backend ENV` creates it)", text),
    Key::new("key", "The state's key in the table; defaults to PROJECT/ENV", text),
    Key::new("region", "The table's region; defaults to the stack's", text),
    Key::new("lock_lease_seconds", "A lock not renewed for this long may be taken over (10 to 3600)", integer),
    Key::new("keep_versions", "State versions kept for history and restore (1 to 10000)", integer),
    Key::new("directory", "With `backend: local`: the state files' directory, relative to this file", text),
];

#[rustfmt::skip]
pub const IMPORT: &[Key] = &[
    Key::new("stack", "The other stack's directory (holding ENV.yaml) or its file", text),
    Key::new("outputs", "The outputs taken", texts),
];

#[rustfmt::skip]
pub const DRIFT: &[Key] = &[
    Key::new("ignore", "Rules for drift left out of reports", || json!({"type": "array", "items": definition("ignore")})),
];

#[rustfmt::skip]
pub const IGNORE: &[Key] = &[
    Key::new("resource", "Addresses the rule covers (`*` matches any run of characters)", text),
    Key::new("attribute", "Attributes the rule covers; `*` (the default) is the whole resource", text),
    Key::new("reason", "Why this drift is accepted", text),
];

/// The names of a list of keys.
pub fn names(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}
