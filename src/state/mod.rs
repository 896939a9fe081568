//! State: what cairn created, as it last saw it. One document per
//! environment, saved after every resource operation.

mod local;

pub use local::LocalStore;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub version: u32,
    /// Identifies one environment's history; a plan is applied only to the
    /// lineage it was made against.
    pub lineage: String,
    /// Increases with every save.
    pub serial: u64,
    pub cairn_version: String,
    pub project: String,
    pub environment: String,
    pub resources: BTreeMap<String, ResourceState>,
    pub outputs: BTreeMap<String, Value>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// cairn is about to create it, or was when it stopped: the next
    /// refresh looks for it (by name or ownership tags) and adopts it.
    Creating,
    Created,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ResourceState {
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    pub status: Status,
    /// The id AWS knows it by (a name, or a key id); absent while creating
    /// a resource whose id AWS assigns.
    pub id: Option<String>,
    pub attributes: Map<String, Value>,
    pub outputs: Map<String, Value>,
    /// Names of resources this one depended on when last applied: destroy
    /// order when the stack no longer says.
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub protect: bool,
    /// Fields stored as hashes because their values are secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
}

impl State {
    pub fn new(project: &str, environment: &str) -> State {
        State {
            version: FORMAT_VERSION,
            lineage: new_id(),
            serial: 0,
            cairn_version: env!("CARGO_PKG_VERSION").to_owned(),
            project: project.to_owned(),
            environment: environment.to_owned(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }
}

pub fn new_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// Secret values are kept as a salted-free SHA-256: enough to see a change,
/// useless to read.
pub fn redact(value: &Value) -> Value {
    let digest = Sha256::digest(value.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({ "$sensitive": format!("sha256:{hex}") })
}

pub fn redact_fields(attributes: &mut Map<String, Value>, fields: &[String]) {
    for field in fields {
        if let Some(value) = attributes.get_mut(field) {
            if !is_redacted(value) {
                *value = redact(value);
            }
        }
    }
}

pub fn is_redacted(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$sensitive"))
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("state {path} is not valid: {message}")]
    Corrupt { path: String, message: String },
    #[error("cannot write state {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("state {path} has format version {found}; this cairn reads version {FORMAT_VERSION}")]
    Version { path: String, found: u32 },
    #[error("state is locked by {}: {} since {} (lock id {})", .0.holder, .0.operation, .0.created, .0.id)]
    Locked(LockInfo),
    #[error("no lock with id {0} is held")]
    NotLocked(String),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub id: String,
    pub holder: String,
    pub operation: String,
    pub created: String,
    pub pid: u32,
}

/// Where an environment's state lives.
pub trait StateStore: Send + Sync {
    fn describe(&self) -> String;
    fn load(&self) -> Result<Option<State>, StateError>;
    /// Saves atomically; a reader sees the old document or the new one.
    fn save(&self, state: &State) -> Result<(), StateError>;
    /// Waits up to `timeout` for the lock.
    fn lock(&self, operation: &str, timeout: Duration) -> Result<LockInfo, StateError>;
    fn unlock(&self, id: &str) -> Result<(), StateError>;
    fn current_lock(&self) -> Result<Option<LockInfo>, StateError>;
}
