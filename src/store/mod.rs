//! Where an environment's state lives: files in a directory (`local`) or a
//! shared DynamoDB table (`dynamodb`), behind one async trait, with the
//! lock that keeps two runs from writing at once.

mod dynamodb;
mod local;

pub use dynamodb::{init_backend, DynamoStore, InitBackendError};
pub use local::LocalStore;

use crate::state::{new_id, ResourceState, State, FORMAT_VERSION};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[cfg(test)]
mod tests {
    #[test]
    fn utc_text_is_rfc3339() {
        assert_eq!(super::utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_text(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc_text(1_795_381_001), "2026-11-22T20:56:41Z");
    }
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
    #[error("{path} holds the state of project `{found}`, not `{expected}`: give this stack its own --state-dir (or a shared backend); nothing was changed")]
    OtherProject {
        path: String,
        found: String,
        expected: String,
    },
    #[error("cannot write state {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("state {path} has format version {found}; this cairn reads version {FORMAT_VERSION}")]
    Version { path: String, found: u32 },
    #[error("state is locked by {}: {} since {} (lock id {})", .0.holder, .0.operation, .0.created, .0.id)]
    Locked(Box<LockInfo>),
    #[error("no lock with id {0} is held")]
    NotLocked(String),
    #[error("the lock is held by a running cairn: {}, {} since {}; it is released when that process ends, however it ends", .0.holder, .0.operation, .0.created)]
    HeldByRunningProcess(Box<LockInfo>),
    #[error("cannot save state {path}: {message}")]
    Conflict { path: String, message: String },
    #[error("state backend {path}: {message}")]
    Backend { path: String, message: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("no state version {0} is kept; `cairn state history ENV` lists them")]
    NoVersion(u64),
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub id: String,
    pub holder: String,
    pub operation: String,
    pub created: String,
    pub pid: u32,
    /// The host the holder runs on: a holder on this host whose process is
    /// gone holds nothing.
    #[serde(default)]
    pub host: String,
    /// When the lease runs out (shared state only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl LockInfo {
    /// A lock for `operation`, held by this process from now.
    pub fn new(operation: &str) -> LockInfo {
        LockInfo {
            id: new_id(),
            holder: holder(),
            operation: operation.to_owned(),
            created: now_text(),
            pid: std::process::id(),
            host: host_name(),
            expires: None,
        }
    }

    /// A lock whose details cannot be read.
    pub fn unknown(holder: &str) -> LockInfo {
        LockInfo {
            id: "?".into(),
            holder: holder.to_owned(),
            operation: "unknown".into(),
            created: "unknown".into(),
            pid: 0,
            host: String::new(),
            expires: None,
        }
    }
}

/// One step of an apply as the journal beside the state records it: the
/// resources it writes and removes, and the serial it gives the state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JournalEntry {
    pub serial: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub put: BTreeMap<String, ResourceState>,
}

impl JournalEntry {
    /// The state after this step: removals first, then writes.
    pub fn apply_to(&self, state: &mut State) {
        for address in &self.remove {
            state.resources.remove(address);
        }
        for (address, resource) in &self.put {
            state.resources.insert(address.clone(), resource.clone());
        }
        state.serial = self.serial;
    }
}

/// One entry of `cairn state history`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Version {
    pub serial: u64,
    pub lineage: String,
    pub saved: String,
    pub holder: String,
    pub resources: u64,
    pub bytes: u64,
}

/// A stack that imports this environment's outputs, as it recorded itself
/// in this store when it applied (and removes itself when it is
/// destroyed): destroying this environment would pull its values away.
/// Each consumer writes only its own record, so no lock is taken.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Consumer {
    /// Where the consumer's state lives (`StateStore::identity`).
    pub id: String,
    /// Its stack file, as it was run.
    pub stack: String,
    /// Its import's name and the outputs it takes.
    pub import: String,
    pub outputs: Vec<String>,
    /// When it last recorded itself (RFC 3339).
    pub since: String,
}

impl Consumer {
    pub fn new(id: String, stack: &str, import: &str, outputs: &[String]) -> Consumer {
        Consumer {
            id,
            stack: stack.to_owned(),
            import: import.to_owned(),
            outputs: outputs.to_vec(),
            since: now_text(),
        }
    }
}

/// One kept version, checked: its serial, and what is wrong with it.
pub type Checked = (u64, Result<(), String>);

/// Where an environment's state lives. Async, and called through `dyn`
/// (the store is chosen at run time), so its methods return boxed futures:
/// a native `async fn` in a trait is not dyn-compatible.
pub trait StateStore: Send + Sync {
    fn describe(&self) -> String;
    /// Names this state among all others, however the command was run:
    /// a consumer is recorded under it, so two stacks of one project and
    /// environment (each with its own state) are two consumers.
    fn identity(&self) -> String {
        self.describe()
    }
    fn load(&self) -> BoxFuture<'_, Result<Option<State>, StateError>>;
    /// Saves atomically; a reader sees the old document or the new one.
    fn save<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StateError>>;
    /// Records one step of an apply durably before the next begins.
    /// `state` is the document with the step applied: a store without a
    /// journal saves it whole.
    fn append<'a>(
        &'a self,
        state: &'a State,
        _entry: &'a JournalEntry,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.save(state)
    }
    /// Folds the journal into the document (`state`, with every step
    /// applied): at the end of an apply and whenever the journal grows.
    fn compact<'a>(&'a self, _state: &'a State) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { Ok(()) })
    }
    /// Waits up to `timeout` for the lock.
    fn lock<'a>(
        &'a self,
        operation: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<LockInfo, StateError>>;
    fn unlock<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StateError>>;
    fn current_lock(&self) -> BoxFuture<'_, Result<Option<LockInfo>, StateError>>;
    /// Saved versions, newest first.
    fn history(&self) -> BoxFuture<'_, Result<Vec<Version>, StateError>> {
        let refused = StateError::Unsupported(format!(
            "{} keeps only the previous version (its .backup file); the dynamodb backend keeps a history",
            self.describe()
        ));
        Box::pin(async { Err(refused) })
    }
    /// Checks every kept version: (serial, what is wrong with it). The
    /// local store keeps the current file and its backup.
    fn verify(&self) -> BoxFuture<'_, Result<Vec<Checked>, StateError>> {
        Box::pin(async {
            Ok(match self.load().await {
                Ok(Some(state)) => vec![(state.serial, Ok(()))],
                Ok(None) => Vec::new(),
                Err(error) => vec![(0, Err(error.to_string()))],
            })
        })
    }
    /// The stacks that recorded themselves as importing this one's outputs.
    fn consumers(&self) -> BoxFuture<'_, Result<Vec<Consumer>, StateError>>;
    /// Records (or renews) `consumer`; never takes the lock.
    fn add_consumer<'a>(&'a self, consumer: &'a Consumer) -> BoxFuture<'a, Result<(), StateError>>;
    /// Removes the record of consumer `id`; one already gone is no error.
    fn remove_consumer<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StateError>>;
    fn load_version(&self, serial: u64) -> BoxFuture<'_, Result<State, StateError>> {
        let refused = StateError::Unsupported(format!(
            "{} keeps no version {serial}: only the dynamodb backend keeps a history",
            self.describe()
        ));
        Box::pin(async { Err(refused) })
    }
}

/// Parses a state document, refusing other format versions.
pub fn parse(text: &[u8], path: &str) -> Result<State, StateError> {
    let version = serde_json::from_slice::<Value>(text)
        .ok()
        .and_then(|v| v.get("version").and_then(Value::as_u64));
    if let Some(found) = version {
        if found != u64::from(FORMAT_VERSION) {
            return Err(StateError::Version {
                path: path.to_owned(),
                found: found as u32,
            });
        }
    }
    serde_json::from_slice(text).map_err(|e| StateError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

pub(crate) fn now_text() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    utc_text(seconds)
}

/// Seconds since the Unix epoch as an RFC 3339 UTC time.
pub fn utc_text(seconds: u64) -> String {
    // Days to a civil date: Howard Hinnant's algorithm.
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// This machine's name.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A lock held by a process of this host that no longer runs (killed,
/// crashed): it protects nothing. Where processes cannot be checked
/// (no /proc), a lock is never taken for dead.
pub(crate) fn holder_is_dead_here(lock: &LockInfo) -> bool {
    if lock.pid == 0 || lock.host.is_empty() || lock.host != host_name() {
        return false;
    }
    if lock.pid == std::process::id() {
        return false;
    }
    if !std::path::Path::new("/proc/self").exists() {
        return false;
    }
    // Gone, or the pid now belongs to a program that is not cairn.
    match std::fs::read_to_string(format!("/proc/{}/comm", lock.pid)) {
        Err(_) => true,
        Ok(command) => !command.trim().starts_with("cairn"),
    }
}

/// Who holds a lock: user, host and process (and the CI run, in GitHub
/// Actions).
pub(crate) fn holder() -> String {
    if let (Ok(workflow), Ok(run)) = (
        std::env::var("GITHUB_WORKFLOW"),
        std::env::var("GITHUB_RUN_ID"),
    ) {
        let actor = std::env::var("GITHUB_ACTOR").unwrap_or_else(|_| "unknown".into());
        return format!("GitHub Actions `{workflow}` run {run} (started by {actor})");
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = host_name();
    format!("{user}@{host} (pid {})", std::process::id())
}
