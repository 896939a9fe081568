//! What cairn knows about each resource type without talking to AWS: its
//! schema, its identity, the id in its ARN, how it is replaced, what an
//! update note says and how it shows in Terraform's terms. Pure data and
//! pure functions. The types (`crate::types`) define one `Spec` each; the
//! caller hands the `Catalog` of them to the stack, the plan and its
//! renderings, so nothing here reaches the providers.

pub mod terraform;

use crate::schema::Schema;
use serde_json::{Map, Value};

/// From (before, after) of an update, what it does that its diff does not
/// say.
pub type UpdateNote = fn(&Map<String, Value>, &Map<String, Value>) -> Option<String>;

/// A resource type's pure part.
pub struct Spec {
    pub schema: &'static Schema,
    /// The id AWS knows it by, when the stack decides it; `None` when AWS
    /// assigns it (it is then found again by ownership tags).
    pub planned_id: fn(&Map<String, Value>) -> Option<String>,
    /// The id inside one of its ARNs (`cairn import`, drift).
    pub id_from_arn: fn(&str) -> Option<String>,
    /// An ARN of its kind and the id `id_from_arn` finds in it: the ARN's
    /// shape, for the reader, and checked by a test.
    pub arn_example: (&'static str, Option<&'static str>),
    /// A refresh may take its tags from the tagging API's bulk read.
    pub bulk_tagged: bool,
    /// A replacement makes the new one before deleting the old, so what
    /// references it moves over first (the stack's `create_before_destroy`
    /// overrides it). Only where two can exist at once: not when the name
    /// that identifies it stays the same (the planner checks).
    pub create_before_destroy: bool,
    /// What names it in AWS where the stack decides it; `None` where AWS
    /// assigns the id, so two resources cannot clash.
    pub identity: Option<Identity>,
    /// What an update (or a replacement) does in AWS that the diff of its
    /// fields does not say (a part of the resource made anew, a revision
    /// registered), for the plan to tell.
    pub update_note: UpdateNote,
    /// The hashicorp/aws provider's types and attributes for it.
    pub terraform: terraform::Mapping,
}

impl Spec {
    pub fn type_name(&self) -> &'static str {
        self.schema.type_name
    }
}

/// What identifies a resource in AWS, where the stack decides it: two
/// resources of one stack with one identity would fight over one object.
#[derive(Clone, Copy)]
pub struct Identity {
    /// The field a clash is reported on.
    pub field: &'static str,
    /// The identity from the properties as the stack writes them; `None`
    /// while a part of it is not known before apply.
    pub of: fn(&Written) -> Option<String>,
}

impl Identity {
    /// The resource's `name`.
    pub const NAME: Identity = Identity {
        field: "name",
        of: |written| written.text("name"),
    };
}

/// A resource's properties as the stack writes them (references not
/// resolved), for `Identity::of`.
pub struct Written<'a> {
    pub properties: &'a Map<String, Value>,
    /// The value with its references' text joined, `None` if it holds one.
    pub literal: fn(&Value) -> Option<Value>,
}

impl Written<'_> {
    /// A field's text, when the stack gives it without references.
    pub fn text(&self, key: &str) -> Option<String> {
        match (self.literal)(self.properties.get(key)?)? {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// A field's text as written, references and all.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.properties.get(key)?.as_str()
    }
}

/// Every type's spec, handed by the caller to what needs one.
pub struct Catalog {
    specs: Vec<&'static Spec>,
}

impl Catalog {
    pub fn new(specs: impl IntoIterator<Item = &'static Spec>) -> Catalog {
        Catalog {
            specs: specs.into_iter().collect(),
        }
    }

    pub fn all(&self) -> &[&'static Spec] {
        &self.specs
    }

    pub fn find(&self, type_name: &str) -> Option<&'static Spec> {
        self.specs
            .iter()
            .copied()
            .find(|s| s.schema.type_name == type_name)
    }

    /// The spec of a name the stack or the state holds; every such name
    /// was checked against the catalog when it was read.
    pub fn of(&self, type_name: &str) -> &'static Spec {
        self.find(type_name)
            .unwrap_or_else(|| panic!("`{type_name}` is not a registered type"))
    }

    pub fn schema(&self, type_name: &str) -> Option<&'static Schema> {
        self.find(type_name).map(|s| s.schema)
    }

    pub fn type_names(&self) -> Vec<&'static str> {
        self.specs.iter().map(|s| s.schema.type_name).collect()
    }
}

/// For `planned_id`: the resource's `name`.
pub fn by_name(desired: &Map<String, Value>) -> Option<String> {
    desired
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// For `planned_id`: AWS assigns the id.
pub fn assigned(_: &Map<String, Value>) -> Option<String> {
    None
}

/// For `id_from_arn`: what follows `marker` in the ARN.
pub fn after(arn: &str, marker: &str) -> Option<String> {
    let arn = arn.strip_suffix(":*").unwrap_or(arn);
    arn.rsplit_once(marker).map(|(_, id)| id.to_owned())
}

/// For `id_from_arn` of types whose id is not in an ARN of their own.
pub fn no_arn(_: &str) -> Option<String> {
    None
}

/// For `update_note`: the diff says it all.
pub fn no_note(_: &Map<String, Value>, _: &Map<String, Value>) -> Option<String> {
    None
}
