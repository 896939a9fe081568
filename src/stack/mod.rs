//! Stacks: YAML files compiled into typed, validated resources. Reads files
//! and nothing else; no AWS here.

mod compile;
pub mod diagnostic;
pub mod format;
pub mod json_schema;
pub mod language;
pub use crate::model::expr;
pub mod yaml;

#[cfg(test)]
pub(crate) use compile::from_text;
pub use compile::{load, stack_imports, VariableOverrides};
pub use diagnostic::{Diagnostic, Diagnostics};

use crate::schema::Schema;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use crate::model::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};

pub struct Stack {
    /// The types' specs it was compiled against.
    pub catalog: &'static crate::spec::Catalog,
    pub project: String,
    pub environment: String,
    pub region: Option<String>,
    pub file: PathBuf,
    /// Sorted by name.
    pub resources: Vec<Resource>,
    pub outputs: BTreeMap<String, Output>,
    /// Values of sensitive variables, so output can redact them.
    pub secrets: Vec<String>,
    /// SHA-256 of the compiled stack: a saved plan is applied only to the
    /// stack it was made from.
    pub hash: String,
    /// Drift that is known and accepted, left out of drift reports.
    pub drift_ignore: Vec<IgnoreRule>,
    /// Shared state in DynamoDB; `None` keeps state in local files.
    pub state: Option<StateBackend>,
    /// `state: {backend: local, directory: DIR}`: where its local state
    /// lives (relative paths are the stack file's), instead of --state-dir.
    pub state_directory: Option<PathBuf>,
    /// Other stacks whose outputs this one takes (`${import.NAME.OUTPUT}`),
    /// by import name.
    pub imports: BTreeMap<String, Import>,
    /// `moved:`: state addresses to re-address before planning.
    pub moved: Vec<Moved>,
    /// Objects that exist and are not this stack's
    /// (`${lookup.NAME.ATTRIBUTE}`), by name.
    pub lookups: BTreeMap<String, Lookup>,
}

/// `moved: [{from, to}]`: the resource the state holds at `from` is the
/// stack's `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Moved {
    pub from: String,
    pub to: String,
    pub file: PathBuf,
    pub line: u64,
}

/// `lookups: {NAME: {type: KIND, ...}}`: read at plan time, never created,
/// changed or destroyed.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub name: String,
    pub kind: crate::model::lookup::LookupKind,
    /// Its parameters, compiled: variables resolved, other lookups'
    /// values (`${lookup.vpc.id}`) left to read time.
    pub parameters: serde_json::Map<String, Value>,
    /// The other lookups it uses, read before it.
    pub after: Vec<String>,
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

/// A sensitive output as its stack writes it, and the addresses of the
/// resources it names: read live, its value is found again and checked
/// against the hash that stack's state keeps.
#[derive(Clone, PartialEq)]
pub struct SensitiveSource {
    pub value: Value,
    /// Resource name → address, in the stack that declares the output.
    pub addresses: BTreeMap<String, String>,
}

impl std::fmt::Debug for SensitiveSource {
    // Its template may hold a variable's secret default.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SensitiveSource")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

/// `imports: {NAME: {stack: PATH, outputs: [...]}}`: outputs of another
/// stack of the same environment, read from that stack's state at plan
/// time (never by planning it).
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub name: String,
    /// The other stack's file for this environment.
    pub file: PathBuf,
    pub project: String,
    pub environment: String,
    /// Its `region:` (its shared backend's region defaults to it).
    pub region: Option<String>,
    /// Where its state lives: its shared backend, or its local directory
    /// (`None`: --state-dir).
    pub backend: Option<StateBackend>,
    pub directory: Option<PathBuf>,
    /// The outputs taken, as listed.
    pub outputs: Vec<String>,
    /// Those of them the other stack declares sensitive (or makes from a
    /// secret): they stay sensitive here.
    pub sensitive: Vec<String>,
    /// How each sensitive output taken is found again, as its stack's
    /// state keeps only a hash of it.
    pub sensitive_sources: BTreeMap<String, SensitiveSource>,
    /// Where `imports.NAME` is written.
    pub declared_in: PathBuf,
    pub line: u64,
    pub column: u64,
}

/// `state: {backend: dynamodb, table, key}`: one table holds many
/// environments' states, each under its own key.
#[derive(Clone, Debug, PartialEq)]
pub struct StateBackend {
    pub table: String,
    /// Defaults to `PROJECT/ENV`.
    pub key: String,
    /// Defaults to the stack's region.
    pub region: Option<String>,
    /// A lock not renewed for this long belongs to a cairn that died; the
    /// next cairn may take it over.
    pub lock_lease_seconds: u64,
    /// State versions kept for `cairn state history` and `restore`.
    pub keep_versions: u64,
}

/// `resource` and `attribute` are patterns where `*` matches any run of
/// characters; `attribute: "*"` (the default) ignores the whole resource.
#[derive(Clone, Debug, PartialEq)]
pub struct IgnoreRule {
    pub resource: String,
    pub attribute: String,
    pub reason: String,
}

impl IgnoreRule {
    pub fn matches(&self, address: &str, attribute: &str) -> bool {
        glob(&self.resource, address) && glob(&self.attribute, attribute)
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(remaining) = text.strip_prefix(head) else {
                return false;
            };
            (0..=remaining.len())
                .filter(|i| remaining.is_char_boundary(*i))
                .any(|i| glob(rest, &remaining[i..]))
        }
    }
}

pub struct Resource {
    pub name: String,
    pub schema: &'static Schema,
    /// Every field present, defaults filled in, strings in template form.
    /// Shared with the plan's `after` where planning leaves them as they
    /// are (no references): thousands of resources hold their values once.
    pub properties: crate::model::Values,
    pub protect: bool,
    /// `create_before_destroy` as the stack sets it; `None`: the type's.
    pub create_before_destroy: Option<bool>,
    /// `region:` on the resource, when it differs from the stack's.
    pub region: Option<String>,
    /// Names of the resources this one references or names in `depends_on`.
    pub depends_on: Vec<String>,
    /// Top-level fields whose value comes from a sensitive variable.
    pub sensitive: Vec<String>,
    /// `field.key` of the secret entries of a mapping field in `sensitive`
    /// whose other entries are not (see `plan::Change::sensitive_keys`).
    pub sensitive_keys: Vec<String>,
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl crate::graph::Graph {
    pub fn from_resources(resources: &[Resource]) -> crate::graph::Graph {
        crate::graph::Graph::new(
            resources
                .iter()
                .map(|r| (r.name.as_str(), r.depends_on.as_slice())),
        )
    }
}

impl Resource {
    pub fn address(&self) -> String {
        address(self.schema.type_name, &self.name)
    }
    pub fn type_name(&self) -> &'static str {
        self.schema.type_name
    }
}

pub fn address(type_name: &str, name: &str) -> String {
    format!("{type_name}.{name}")
}

pub struct Output {
    pub value: Value,
    pub description: String,
    pub sensitive: bool,
    /// Where its value is written, for errors found at plan time.
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl Stack {
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }
}
