//! What each resource type accepts: fields, kinds, defaults, which fields
//! force replacement, and the checks AWS would apply (moto applies few of
//! them, so cairn does). Pure data and pure functions: no I/O here.

pub mod checks;
pub mod policy;

use crate::canonical;
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// Ordered list of strings.
    StrList,
    /// Unordered set of strings; compared sorted.
    StrSet,
    /// String to string; scalars are taken as their text.
    StrMap,
    /// An IAM-style policy document, compared canonically.
    Policy,
    /// Name to policy document.
    PolicyMap,
    /// Any JSON document, compared with sorted keys.
    Json,
    Object(&'static [Field]),
    ObjectList(&'static [Field]),
    /// Unordered set of mappings (security group rules, routes): compared
    /// element by element, shown in a plan as the elements added and removed.
    ObjectSet(&'static [Field]),
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "an integer",
            Kind::Float => "a number",
            Kind::Bool => "a boolean",
            Kind::StrList | Kind::StrSet => "a list of strings",
            Kind::StrMap => "a mapping of strings",
            Kind::Policy => "a policy document (mapping)",
            Kind::PolicyMap => "a mapping of policy names to documents",
            Kind::Json => "a document",
            Kind::Object(_) => "a mapping",
            Kind::ObjectList(_) | Kind::ObjectSet(_) => "a list of mappings",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Fallback {
    /// Must be given.
    Required,
    /// Absent means null: AWS's own default, not compared.
    Null,
    Str(&'static str),
    Int(i64),
    Bool(bool),
    EmptyList,
    EmptyMap,
}

impl Fallback {
    pub fn value(self) -> Option<Value> {
        match self {
            Fallback::Required => None,
            Fallback::Null => Some(Value::Null),
            Fallback::Str(s) => Some(Value::String(s.to_owned())),
            Fallback::Int(i) => Some(Value::from(i)),
            Fallback::Bool(b) => Some(Value::Bool(b)),
            Fallback::EmptyList => Some(Value::Array(Vec::new())),
            Fallback::EmptyMap => Some(Value::Object(Map::new())),
        }
    }
}

pub type Check = fn(&Value) -> Result<(), String>;

/// How many digits cairn adds to a `name_prefix` to make a name no other
/// resource has (as Terraform's provider adds 26 characters).
pub const NAME_SUFFIX: usize = 26;

/// The prefix of a name made from a `name_prefix`, if it is one: the
/// name less a suffix of `NAME_SUFFIX` digits.
pub fn prefix_of(name: &str) -> Option<&str> {
    let split = name.len().checked_sub(NAME_SUFFIX)?;
    let (prefix, suffix) = name.split_at_checked(split)?;
    suffix.bytes().all(|b| b.is_ascii_digit()).then_some(prefix)
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub fallback: Fallback,
    pub force_new: bool,
    pub sensitive: bool,
    pub check: Option<Check>,
    /// Compared with AWS; false for what lives only on cairn's side (where
    /// a function's code comes from, say), which AWS never reports.
    pub compared: bool,
    /// A rule AWS applies only when the value is set anew (a create, a
    /// replacement, a change of this field), not to a value already in
    /// place: a deprecated Lambda runtime runs on, but no new function gets
    /// it. The plan refuses such a change; a value kept is a warning.
    pub set_check: Option<Check>,
    /// Code cairn builds before planning (`cargo:` or `zip:`, see
    /// `package::prepare`); its hash and zip become the computed fields.
    pub built: bool,
    /// The values AWS takes, when it takes a few named ones, and what such
    /// a value is called in an error; an editor offers them too.
    pub choices: Option<(&'static [&'static str], &'static str)>,
    /// A document's outline as a JSON Schema (for a `Json` field whose
    /// grammar the type checks), for editors.
    pub outline: Option<fn() -> Value>,
    /// Read only when the resource is deleted (`force_destroy`, a final
    /// snapshot's settings): a delete takes the stack's value where the
    /// stack says one, so setting it and running the destroy or the
    /// replacement again is enough (no apply of it first).
    pub at_delete: bool,
}

impl Field {
    pub const fn new(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            fallback: Fallback::Null,
            force_new: false,
            sensitive: false,
            check: None,
            compared: true,
            set_check: None,
            built: false,
            choices: None,
            outline: None,
            at_delete: false,
        }
    }
    pub const fn outline(mut self, outline: fn() -> Value) -> Field {
        self.outline = Some(outline);
        self
    }
    /// One of `choices`, called `what` in an error (`a tenancy`).
    pub const fn one_of(mut self, choices: &'static [&'static str], what: &'static str) -> Field {
        self.choices = Some((choices, what));
        self
    }
    /// Whether a value (without references) is one AWS takes here: among
    /// the choices, and passing the field's check.
    pub fn verify(&self, value: &Value) -> Result<(), String> {
        if let Some((choices, what)) = self.choices {
            checks::one_of(value, choices, what)?;
        }
        self.check.map_or(Ok(()), |check| check(value))
    }
    pub fn verified(&self) -> bool {
        self.check.is_some() || self.choices.is_some()
    }
    pub const fn built(mut self) -> Field {
        self.built = true;
        self
    }
    pub const fn local(mut self) -> Field {
        self.compared = false;
        self
    }
    pub const fn required(mut self) -> Field {
        self.fallback = Fallback::Required;
        self
    }
    pub const fn or(mut self, fallback: Fallback) -> Field {
        self.fallback = fallback;
        self
    }
    pub const fn at_delete(mut self) -> Field {
        self.at_delete = true;
        self
    }

    pub const fn force_new(mut self) -> Field {
        self.force_new = true;
        self
    }
    pub const fn sensitive(mut self) -> Field {
        self.sensitive = true;
        self
    }
    pub const fn check(mut self, check: Check) -> Field {
        self.check = Some(check);
        self
    }
    pub const fn set_check(mut self, check: Check) -> Field {
        self.set_check = Some(check);
        self
    }
}

/// A problem found in a resource's properties, at a dotted path below
/// `properties`.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// How a resource's physical name is made when the stack does not give one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// `{project}-{env}-{name}`, underscores as hyphens.
    Dashed,
    /// `{prefix}{project}-{env}-{name}`.
    Prefixed(&'static str),
    /// `/{project}/{env}/{name}`.
    Path,
    /// The resource has no name of its own (AWS assigns an id).
    None,
    /// No name of its own, but a `Name` tag (`{project}-{env}-{name}`,
    /// unless the stack sets one), which the EC2 console shows.
    Tag,
}

impl Naming {
    pub fn default_name(self, project: &str, environment: &str, name: &str) -> Option<String> {
        let dashed = format!("{project}-{environment}-{}", name.replace('_', "-"));
        match self {
            Naming::Dashed => Some(dashed),
            Naming::Prefixed(prefix) => Some(format!("{prefix}{dashed}")),
            Naming::Path => Some(format!(
                "/{project}/{environment}/{}",
                name.replace('_', "-")
            )),
            Naming::None | Naming::Tag => None,
        }
    }
}

pub struct Schema {
    pub type_name: &'static str,
    pub description: &'static str,
    pub fields: &'static [Field],
    /// Attributes other resources can reference, besides the fields.
    pub outputs: &'static [&'static str],
    pub taggable: bool,
    pub naming: Naming,
    /// Holds data whose loss matters: protected by default in production stacks.
    pub stateful: bool,
    /// Rewrites shorthands into the full form (pure).
    pub expand: fn(&mut Map<String, Value>),
    /// Checks across fields, on values with every template still in place.
    pub validate: fn(&Map<String, Value>) -> Vec<Problem>,
}

impl Schema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
    pub fn has_output(&self, name: &str) -> bool {
        self.outputs.contains(&name) || self.field(name).is_some()
    }
}

/// A value known only at apply (a reference, or a policy variable such as
/// `${aws:username}`): checks of a document's grammar leave it alone.
pub fn pending(value: &Value) -> bool {
    match value {
        Value::String(text) => crate::model::expr::is_template(text),
        other => crate::model::expr::unknown_template(other).is_some(),
    }
}

/// `unknown element `X``, with the element meant when it is a misspelling.
pub fn unknown_key(key: &str, allowed: &[&str], what: &str) -> String {
    match crate::model::suggest(key, allowed.iter().copied()) {
        Some(hint) => format!("unknown {what} `{key}`; {hint}"),
        None => format!(
            "unknown {what} `{key}`; expected one of {}",
            allowed.join(", ")
        ),
    }
}

pub fn no_expansion(_: &mut Map<String, Value>) {}
pub fn no_validation(_: &Map<String, Value>) -> Vec<Problem> {
    Vec::new()
}

/// Whether two values of one kind mean the same thing to AWS.
pub fn equivalent(kind: Kind, desired: &Value, observed: &Value) -> bool {
    match kind {
        Kind::Policy | Kind::PolicyMap => normalize(kind, desired) == normalize(kind, observed),
        Kind::Float => match (desired.as_f64(), observed.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            _ => desired == observed,
        },
        _ => normalize(kind, desired) == normalize(kind, observed),
    }
}

/// The canonical form of a value of a kind; used for comparison and in state.
pub fn normalize(kind: Kind, value: &Value) -> Value {
    match (kind, value) {
        (Kind::Policy, v) => canonical::policy(v),
        (Kind::PolicyMap, Value::Object(map)) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical::policy(v)))
                .collect(),
        ),
        (Kind::Json, v) => canonical::json(v),
        (Kind::StrSet, Value::Array(items)) => {
            let mut items = items.clone();
            items.sort_by_key(ToString::to_string);
            items.dedup();
            Value::Array(items)
        }
        (Kind::Float, Value::Number(n)) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        (Kind::Object(fields), Value::Object(map)) => normalize_object(fields, map),
        (Kind::ObjectList(fields), Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => normalize_object(fields, map),
                    other => other.clone(),
                })
                .collect(),
        ),
        (Kind::ObjectSet(fields), Value::Array(items)) => {
            let mut items: Vec<Value> = items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => normalize_object(fields, map),
                    other => other.clone(),
                })
                .collect();
            items.sort_by_key(ToString::to_string);
            items.dedup();
            Value::Array(items)
        }
        (_, v) => v.clone(),
    }
}

fn normalize_object(fields: &[Field], map: &Map<String, Value>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| {
                let kind = fields
                    .iter()
                    .find(|f| f.name == k)
                    .map_or(Kind::Json, |f| f.kind);
                (k.clone(), normalize(kind, v))
            })
            .collect(),
    )
}

/// Top-level fields whose desired and observed values differ. A null
/// desired value means "AWS's default" and is never a difference.
pub fn changed_fields(
    schema: &Schema,
    desired: &Map<String, Value>,
    observed: &Map<String, Value>,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    for field in schema.fields.iter().filter(|f| f.compared) {
        let want = desired.get(field.name).unwrap_or(&Value::Null);
        if want.is_null() {
            continue;
        }
        if crate::model::expr::contains_unknown(want) {
            changed.push(field.name);
            continue;
        }
        let have = observed.get(field.name).unwrap_or(&Value::Null);
        // A secret AWS never reports (a database password) is compared by
        // the hash the state recorded.
        if crate::model::sensitive::is_redacted(have) {
            let kept = if crate::model::sensitive::is_redacted(want) {
                want.clone()
            } else {
                crate::model::sensitive::redact(want)
            };
            if kept != *have {
                changed.push(field.name);
            }
            continue;
        }
        if !equivalent(field.kind, want, have) {
            changed.push(field.name);
        }
    }
    // Tags are a field (`TAGS`) of every taggable type, compared above.
    changed
}

/// The field that carries tags on every taggable type.
pub const TAGS: Field = Field::new("tags", Kind::StrMap).or(Fallback::EmptyMap);
