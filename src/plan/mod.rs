//! Planning: a pure function of (stack, state, observed). Everything a user
//! sees about a plan is rendered from the `Plan` value.

mod json;
mod render;
pub mod resolve;

pub use json::{terraform_json, write_terraform_json};
pub use render::{render, render_to, summary};

use crate::graph::Graph;
use crate::model::expr::{self, Lookup, Reference};
use crate::schema::{self, Schema};
use crate::spec::Catalog;
use crate::stack::{self, Stack};
use crate::state::{ResourceState, State, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::model::{Observed, Values};

#[derive(Clone, Debug, Default)]
pub struct Refreshed {
    /// By address; `None` when the resource no longer exists.
    pub resources: BTreeMap<String, Option<Observed>>,
    pub account_id: String,
    pub region: String,
    pub partition: String,
    /// Built function packages, by address: `code_sha256` and `code_zip`.
    pub artifacts: BTreeMap<String, crate::package::Artifact>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create: names are fixed by the stack, so the old
    /// resource has to go first.
    Replace,
    Delete,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Change {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    pub action: Action,
    pub id: Option<String>,
    pub before: Option<Values>,
    /// Desired attributes; values known only after apply are markers that
    /// keep their template.
    pub after: Option<Values>,
    pub changed: Vec<String>,
    pub replace_paths: Vec<String>,
    /// Outputs of the existing resource (ARNs and ids), for no-op and update.
    pub outputs: Map<String, Value>,
    pub dependencies: Vec<String>,
    pub protect: bool,
    pub sensitive: Vec<String>,
    /// `field.key` of the entries that are secret in a mapping field of
    /// `sensitive` whose other entries are not (an environment with one
    /// sensitive variable). The state keeps the whole field as a hash;
    /// plans hide only these entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_keys: Vec<String>,
    pub reason: Option<String>,
    /// A replacement that creates the new one first (`+/-`).
    #[serde(default)]
    pub create_before_destroy: bool,
    /// Where it lives when not in the stack's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The properties that refer to other resources, as the stack writes
    /// them (references unresolved; sensitive fields left out), for the
    /// Terraform plan's `configuration`. The others are `after`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Drift {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    /// `modified` or `deleted`.
    pub kind: String,
    pub changed: Vec<String>,
    pub recorded: Map<String, Value>,
    pub live: Option<Map<String, Value>>,
    pub sensitive: Vec<String>,
    /// The AWS object's id and ARN as the state records them, so a report
    /// read by a script or pasted into an incident names what drifted.
    /// Absent from plans saved before they were recorded.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub format_version: String,
    pub cairn_version: String,
    pub project: String,
    pub environment: String,
    pub destroy: bool,
    pub stack_hash: String,
    pub state_lineage: String,
    pub state_serial: u64,
    pub account_id: String,
    pub region: String,
    /// Absent from plans saved before it was recorded; apply re-plans and
    /// uses the fresh plan's.
    #[serde(default)]
    pub partition: String,
    /// Every resource in the stack or the state, sorted by address.
    pub changes: Vec<Change>,
    pub drift: Vec<Drift>,
    pub outputs: BTreeMap<String, Value>,
    pub sensitive_outputs: Vec<String>,
}

impl Plan {
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut add = 0;
        let mut change = 0;
        let mut destroy = 0;
        for c in &self.changes {
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Replace => {
                    add += 1;
                    destroy += 1;
                }
                Action::Delete => destroy += 1,
                Action::NoOp => {}
            }
        }
        (add, change, destroy)
    }
    pub fn account(&self) -> resolve::Account<'_> {
        resolve::Account {
            account_id: &self.account_id,
            region: &self.region,
            partition: &self.partition,
        }
    }
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub destroy: bool,
    /// Addresses the user named: these protected resources may be replaced.
    pub allow_replace: Vec<String>,
    pub allow_destroy: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("{address} is protected and this plan would {action} it; name it with {flag} {address} if that is really meant")]
    Protected {
        address: String,
        action: &'static str,
        flag: &'static str,
    },
    #[error("{address}: {message}")]
    Evaluation { address: String, message: String },
    #[error("{address}: {field}: {message}")]
    RefusedWhenSet {
        address: String,
        field: String,
        message: String,
    },
    #[error("{address} lives in {from} and the stack now puts it in {to}: cairn does not move resources between regions; remove it from the stack and apply, then add it back")]
    RegionChange {
        address: String,
        from: String,
        to: String,
    },
}

/// Fields of the observed resource, with the state's values standing in for
/// what AWS does not report.
fn before_attributes(state: &ResourceState, observed: &Observed) -> Values {
    with_recorded(Arc::clone(&observed.attributes), state)
}

/// `observed` completed with the state's values of the fields AWS does not
/// report; the state's own values, shared, when they are the same.
fn with_recorded(mut observed: Values, state: &ResourceState) -> Values {
    if Arc::ptr_eq(&observed, &state.attributes) {
        return observed;
    }
    let missing: Vec<(&String, &Value)> = state
        .attributes
        .iter()
        .filter(|(k, _)| !observed.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let observed = Arc::make_mut(&mut observed);
        for (k, v) in missing {
            observed.insert(k.clone(), v.clone());
        }
    }
    if observed == state.attributes {
        Arc::clone(&state.attributes)
    } else {
        observed
    }
}

/// Whether a value refers to another resource: such a property is kept as
/// the stack writes it, for the Terraform plan's `configuration`.
pub fn refers_to_resources(value: &Value) -> bool {
    let mut references = Vec::new();
    expr::collect_references(value, &mut references);
    references.iter().any(Reference::is_resource)
}

fn lookup_known(
    known: &BTreeMap<String, Map<String, Value>>,
    refreshed: &Refreshed,
    reference: &Reference,
) -> Lookup {
    resolve::lookup(reference, &refreshed.account(), |name, attribute| {
        known.get(name).and_then(|m| m.get(attribute)).cloned()
    })
}

impl Refreshed {
    pub fn account(&self) -> resolve::Account<'_> {
        resolve::Account {
            account_id: &self.account_id,
            region: &self.region,
            partition: &self.partition,
        }
    }
}

/// The plan takes what refresh observed: each resource's observed values
/// move into its change, so a plan of thousands of resources holds them
/// once.
pub fn plan(
    stack: &Stack,
    state: &State,
    mut refreshed: Refreshed,
    options: &Options,
) -> Result<Plan, PlanError> {
    let drift = drift(stack.catalog, state, &refreshed);
    let mut observed_all = std::mem::take(&mut refreshed.resources);
    let refreshed = &refreshed;
    let mut changes = Vec::new();
    let mut known: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut protected = Vec::new();

    if !options.destroy {
        // Values are kept for lookups only for what something refers to: a
        // stack of thousands of resources that refer to few holds one copy
        // of each resource's values, in its change, not two.
        let mut references = Vec::new();
        for resource in &stack.resources {
            for value in resource.properties.values() {
                expr::collect_references(value, &mut references);
            }
        }
        for output in stack.outputs.values() {
            expr::collect_references(&output.value, &mut references);
        }
        let referenced: std::collections::BTreeSet<&str> =
            references.iter().map(|r| r.root.as_str()).collect();
        let graph = Graph::from_resources(&stack.resources);
        for name in graph.order() {
            let resource = stack.resource(&name).expect("graph holds stack names");
            let address = resource.address();
            let schema = resource.schema;
            // Properties that evaluate to themselves are shared with the
            // stack, not copied.
            let mut after = if resource.properties.values().all(expr::is_constant) {
                Arc::clone(&resource.properties)
            } else {
                let mut after = Map::new();
                for (key, value) in resource.properties.iter() {
                    let value =
                        expr::evaluate_value(value, &mut |r| lookup_known(&known, refreshed, r))
                            .map_err(|message| PlanError::Evaluation {
                                address: address.clone(),
                                message,
                            })?;
                    after.insert(key.clone(), value);
                }
                Arc::new(after)
            };
            if let Some(artifact) = refreshed.artifacts.get(&address) {
                let after = Arc::make_mut(&mut after);
                after.insert("code_sha256".into(), Value::String(artifact.sha256.clone()));
                after.insert(
                    "code_zip".into(),
                    Value::String(artifact.path.display().to_string()),
                );
            }
            let recorded = state
                .resources
                .get(&address)
                .filter(|s| s.type_name == schema.type_name);
            let observed = observed_all.remove(&address).flatten();
            if let Some(recorded) = recorded {
                if recorded.region != resource.region {
                    let home = || refreshed.region.clone();
                    return Err(PlanError::RegionChange {
                        address,
                        from: recorded.region.clone().unwrap_or_else(home),
                        to: resource.region.clone().unwrap_or_else(home),
                    });
                }
            }
            let mut change = Change {
                address: address.clone(),
                type_name: schema.type_name.to_owned(),
                name: name.clone(),
                action: Action::Create,
                id: None,
                before: None,
                // Set below, once `after` is no longer needed here.
                after: None,
                changed: Vec::new(),
                replace_paths: Vec::new(),
                outputs: Map::new(),
                dependencies: resource
                    .depends_on
                    .iter()
                    .filter_map(|n| stack.resource(n).map(stack::Resource::address))
                    .collect(),
                protect: resource.protect,
                sensitive: resource.sensitive.clone(),
                sensitive_keys: resource.sensitive_keys.clone(),
                reason: None,
                create_before_destroy: false,
                region: resource.region.clone(),
                config: Some(
                    resource
                        .properties
                        .iter()
                        .filter(|(k, v)| !resource.sensitive.contains(k) && refers_to_resources(v))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
            };
            match (recorded, observed) {
                (Some(recorded), Some(observed)) => {
                    let Observed {
                        id,
                        attributes,
                        outputs,
                    } = observed;
                    let before = with_recorded(attributes, recorded);
                    let changed = schema::changed_fields(schema, &after, &before);
                    change.replace_paths = changed
                        .iter()
                        .filter(|f| schema.field(f).is_some_and(|f| f.force_new))
                        .map(|f| (*f).to_owned())
                        .collect();
                    change.action = if !change.replace_paths.is_empty() {
                        Action::Replace
                    } else if !changed.is_empty() {
                        Action::Update
                    } else {
                        Action::NoOp
                    };
                    change.changed = changed.into_iter().map(str::to_owned).collect();
                    change.id = Some(id);
                    if change.action == Action::Replace {
                        // Two at once only when the name that identifies
                        // it changes (or AWS assigns the id).
                        let wanted = resource
                            .create_before_destroy
                            .unwrap_or(stack.catalog.of(schema.type_name).create_before_destroy);
                        let identity = stack.catalog.of(schema.type_name).planned_id;
                        let same_name = identity(&after).is_some_and(|new| {
                            !expr::contains_unknown(&Value::String(new.clone()))
                                && identity(&before).as_deref() == Some(new.as_str())
                        });
                        change.create_before_destroy = wanted && !same_name;
                    }
                    if change.action == Action::Update {
                        let note = stack.catalog.of(schema.type_name).update_note;
                        change.reason = note(&before, &after);
                    }
                    change.before = Some(before);
                    change.outputs = outputs;
                    if recorded.status == Status::Creating {
                        let adopting = "found after an interrupted create; adopting it";
                        change.reason = Some(match change.reason.take() {
                            Some(note) => format!("{adopting}; {note}"),
                            None => adopting.into(),
                        });
                    }
                }
                (Some(recorded), None) => {
                    change.reason = Some(match recorded.status {
                        Status::Created => "it was deleted outside cairn".into(),
                        Status::Creating => {
                            "an earlier create was interrupted before AWS made it".into()
                        }
                    });
                }
                (None, _) => {}
            }
            if let Some((field, message)) = refused_when_set(schema, &change, &after) {
                return Err(PlanError::RefusedWhenSet {
                    address,
                    field,
                    message,
                });
            }
            if change.action == Action::Replace
                && resource.protect
                && !options.allow_replace.contains(&address)
            {
                protected.push(PlanError::Protected {
                    address: address.clone(),
                    action: "replace",
                    flag: "--allow-replace",
                });
            }
            if !referenced.contains(name.as_str()) {
                change.after = Some(after);
                changes.push(change);
                continue;
            }
            let mut visible = (*after).clone();
            change.after = Some(after);
            if matches!(change.action, Action::NoOp | Action::Update) {
                for (k, v) in &change.outputs {
                    visible.insert(k.clone(), v.clone());
                }
                // A field left to AWS (null) is what AWS holds.
                if let Some(before) = &change.before {
                    for (k, v) in visible.iter_mut() {
                        if v.is_null() {
                            if let Some(observed) = before.get(k) {
                                *v = observed.clone();
                            }
                        }
                    }
                }
            }
            known.insert(name.clone(), visible);
            changes.push(change);
        }
    }

    let stack_addresses: BTreeMap<String, &stack::Resource> =
        stack.resources.iter().map(|r| (r.address(), r)).collect();
    for (address, recorded) in &state.resources {
        let in_stack = !options.destroy && stack_addresses.contains_key(address);
        if in_stack {
            continue;
        }
        let observed = observed_all.remove(address).flatten();
        let protect = recorded.protect || stack_addresses.get(address).is_some_and(|r| r.protect);
        if protect && !options.allow_destroy.contains(address) {
            protected.push(PlanError::Protected {
                address: address.clone(),
                action: "destroy",
                flag: "--allow-destroy",
            });
        }
        let reason = match (&observed, recorded.status) {
            (None, _) => Some("it no longer exists; only the state entry goes".into()),
            (Some(_), _) if options.destroy => None,
            (Some(_), _) => Some("it is no longer in the stack".into()),
        };
        let (id, before, outputs) = match observed {
            None => (
                None,
                Arc::clone(&recorded.attributes),
                recorded.outputs.clone(),
            ),
            Some(o) => (Some(o.id), with_recorded(o.attributes, recorded), o.outputs),
        };
        changes.push(Change {
            address: address.clone(),
            type_name: recorded.type_name.clone(),
            name: recorded.name.clone(),
            action: Action::Delete,
            // Gone already: only the state entry goes, with no call to AWS
            // (a delete of what is not there is not always a clean "not
            // found": moto answers some with a 500).
            reason,
            id,
            before: Some(before),
            after: None,
            changed: Vec::new(),
            replace_paths: Vec::new(),
            outputs,
            dependencies: recorded_dependencies(recorded, state),
            protect,
            sensitive: recorded.sensitive.clone(),
            sensitive_keys: Vec::new(),
            create_before_destroy: false,
            region: recorded.region.clone(),
            config: None,
        });
    }
    if let Some(error) = protected.into_iter().next() {
        return Err(error);
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));

    let mut outputs = BTreeMap::new();
    let mut sensitive_outputs = Vec::new();
    if !options.destroy {
        for (name, output) in &stack.outputs {
            let value =
                expr::evaluate_value(&output.value, &mut |r| lookup_known(&known, refreshed, r))
                    .map_err(|message| PlanError::Evaluation {
                        address: format!("output.{name}"),
                        message,
                    })?;
            outputs.insert(name.clone(), value);
            if output.sensitive {
                sensitive_outputs.push(name.clone());
            }
        }
    }
    Ok(Plan {
        format_version: "1".into(),
        cairn_version: env!("CARGO_PKG_VERSION").into(),
        project: stack.project.clone(),
        environment: stack.environment.clone(),
        destroy: options.destroy,
        stack_hash: stack.hash.clone(),
        state_lineage: state.lineage.clone(),
        state_serial: state.serial,
        account_id: refreshed.account_id.clone(),
        region: refreshed.region.clone(),
        partition: refreshed.partition.clone(),
        changes,
        drift,
        outputs,
        sensitive_outputs,
    })
}

/// The addresses a recorded resource depended on. States written before
/// cairn kept addresses there hold names: each stands for the state's
/// resources of that name.
pub fn recorded_dependencies(recorded: &ResourceState, state: &State) -> Vec<String> {
    let mut out = Vec::new();
    for dependency in &recorded.dependencies {
        if dependency.contains('.') {
            out.push(dependency.clone());
        } else {
            out.extend(
                state
                    .resources
                    .iter()
                    .filter(|(_, r)| r.name == *dependency)
                    .map(|(address, _)| address.clone()),
            );
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The ARN a state entry records among its outputs.
fn recorded_arn(recorded: &crate::state::ResourceState) -> Option<String> {
    recorded
        .outputs
        .get("arn")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The first field this change sets anew that AWS would refuse to set
/// (`Field::set_check`), with why.
fn refused_when_set(
    schema: &Schema,
    change: &Change,
    after: &Map<String, Value>,
) -> Option<(String, String)> {
    schema.fields.iter().find_map(|field| {
        let check = field.set_check?;
        let set = match change.action {
            Action::Create | Action::Replace => true,
            Action::Update => change.changed.iter().any(|c| c == field.name),
            Action::NoOp | Action::Delete => false,
        };
        let value = after.get(field.name).filter(|_| set)?;
        check(value)
            .err()
            .map(|message| (field.name.to_owned(), message))
    })
}

/// Values kept in place that AWS would no longer accept if they were set
/// anew (a function on a deprecated runtime): a warning for each, as
/// `address: field: why`.
pub fn warnings(catalog: &Catalog, plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for change in &plan.changes {
        let (Some(schema), Some(after)) = (catalog.schema(&change.type_name), &change.after) else {
            continue;
        };
        if !matches!(change.action, Action::NoOp | Action::Update) {
            continue;
        }
        for field in schema.fields {
            let (Some(check), Some(value)) = (field.set_check, after.get(field.name)) else {
                continue;
            };
            if change.changed.iter().any(|c| c == field.name) {
                continue;
            }
            if let Err(message) = check(value) {
                out.push(format!("{}: {}: {message}", change.address, field.name));
            }
        }
    }
    out
}

/// Differences between what the state recorded and what AWS holds now.
pub fn drift(catalog: &Catalog, state: &State, refreshed: &Refreshed) -> Vec<Drift> {
    let mut out = Vec::new();
    for (address, recorded) in &state.resources {
        if recorded.status != Status::Created {
            continue;
        }
        let Some(schema) = catalog.schema(&recorded.type_name) else {
            continue;
        };
        let Some(observed) = refreshed.resources.get(address) else {
            continue;
        };
        match observed {
            None => out.push(Drift {
                address: address.clone(),
                type_name: recorded.type_name.clone(),
                name: recorded.name.clone(),
                kind: "deleted".into(),
                changed: Vec::new(),
                recorded: (*recorded.attributes).clone(),
                live: None,
                sensitive: recorded.sensitive.clone(),
                id: recorded.id.clone(),
                arn: recorded_arn(recorded),
            }),
            Some(observed) => {
                // Secrets are kept hashed: compare the live value's hash, and
                // never let the live value itself into the report.
                let mut live = before_attributes(recorded, observed);
                crate::state::redact_values(&mut live, &recorded.sensitive);
                let mut changed: Vec<String> =
                    schema::changed_fields(schema, &recorded.attributes, &live)
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                changed.sort();
                if !changed.is_empty() {
                    out.push(Drift {
                        address: address.clone(),
                        type_name: recorded.type_name.clone(),
                        name: recorded.name.clone(),
                        kind: "modified".into(),
                        changed,
                        recorded: (*recorded.attributes).clone(),
                        live: Some(Arc::unwrap_or_clone(live)),
                        sensitive: recorded.sensitive.clone(),
                        id: recorded.id.clone(),
                        arn: recorded_arn(recorded),
                    });
                }
            }
        }
    }
    out
}

/// The schema of a change's type (every type in a plan is known).
pub fn schema_of(catalog: &Catalog, change: &Change) -> &'static Schema {
    catalog.of(&change.type_name).schema
}

pub use stack::address;
