//! State: what cairn created, as it last saw it. One document per
//! environment, saved after every resource operation (by a store in
//! `crate::store`). Pure data: the planner reads it, nothing here does I/O.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
    /// The stacks this one imported from when it last applied, by import
    /// name: it is recorded among their consumers, and leaves them when it
    /// is destroyed or stops importing from them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imported_from: BTreeMap<String, ImportedFrom>,
    /// Entries the stack's `moved:` re-addressed when this state was read,
    /// new address → old: plans say "moved", and apply saves the state so
    /// before it changes anything.
    #[serde(skip)]
    pub moved: BTreeMap<String, String>,
}

/// Where an imported stack's state lives, as the stack importing from it
/// last saw it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportedFrom {
    pub file: String,
    pub project: String,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Its shared backend's table, key and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_region: Option<String>,
    /// Its local state directory, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
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
    pub attributes: crate::model::Values,
    pub outputs: Map<String, Value>,
    /// Names of resources this one depended on when last applied: destroy
    /// order when the stack no longer says.
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub protect: bool,
    /// Fields stored as hashes because their values are secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<String>,
    /// The region it lives in, where the stack put it outside the stack's
    /// own (budgets and CloudFront certificates live in us-east-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
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
            imported_from: BTreeMap::new(),
            moved: BTreeMap::new(),
        }
    }

    /// Re-addresses the entries that moves `(from, to)` name, and the
    /// dependencies recorded on them. A move whose `from` the state does
    /// not hold (made before, or never applied) does nothing, nor one whose
    /// `to` it already holds.
    pub fn apply_moves<'a>(&mut self, moves: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (from, to) in moves {
            if self.resources.contains_key(to) {
                continue;
            }
            let Some(mut entry) = self.resources.remove(from) else {
                continue;
            };
            let old_name = std::mem::take(&mut entry.name);
            entry.name = to.split_once('.').map_or(to, |(_, name)| name).to_owned();
            for other in self.resources.values_mut() {
                for dependency in &mut other.dependencies {
                    if *dependency == old_name {
                        dependency.clone_from(&entry.name);
                    }
                }
            }
            self.resources.insert(to.to_owned(), entry);
            self.moved.insert(to.to_owned(), from.to_owned());
        }
    }
}

pub fn new_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

pub use crate::model::sensitive::{
    is_redacted, redact, redact_entries, redact_fields, redact_values,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(type_name: &str, name: &str, dependencies: &[&str]) -> ResourceState {
        ResourceState {
            type_name: type_name.into(),
            name: name.into(),
            status: Status::Created,
            id: Some(format!("id-{name}")),
            attributes: Default::default(),
            outputs: Map::new(),
            dependencies: dependencies.iter().map(|d| d.to_string()).collect(),
            protect: false,
            sensitive: Vec::new(),
            region: None,
        }
    }

    #[test]
    fn a_move_re_addresses_the_entry_and_what_depends_on_it_once() {
        let mut state = State::new("p", "dev");
        state
            .resources
            .insert("subnet.a".into(), entry("subnet", "a", &["vpc"]));
        state.resources.insert(
            "route_table.t".into(),
            entry("route_table", "t", &["a", "vpc"]),
        );
        let moves = [
            ("subnet.a", r#"subnet.private["x"]"#),
            ("subnet.gone", "subnet.b"),
        ];
        state.apply_moves(moves);
        let moved = &state.resources[r#"subnet.private["x"]"#];
        assert_eq!(
            (moved.name.as_str(), moved.id.as_deref()),
            (r#"private["x"]"#, Some("id-a"))
        );
        assert!(!state.resources.contains_key("subnet.a"));
        assert_eq!(
            state.resources["route_table.t"].dependencies,
            [r#"private["x"]"#, "vpc"]
        );
        assert_eq!(
            state.moved,
            BTreeMap::from([(r#"subnet.private["x"]"#.to_owned(), "subnet.a".to_owned())])
        );
        // Read again after the move was saved: nothing left to move.
        let mut saved = state.clone();
        saved.moved.clear();
        saved.apply_moves(moves);
        assert!(saved.moved.is_empty());
        assert_eq!(saved.resources, state.resources);
    }
}
