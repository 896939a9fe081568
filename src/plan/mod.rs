//! Planning: a pure function of (stack, state, observed). Everything a user
//! sees about a plan is rendered from the `Plan` value.

mod imported;
mod json;
mod render;
mod replacements;
pub mod resolve;

pub use imported::{imported_fields, substitute as imported_substitute, Given};
pub use json::{terraform_json, write_terraform_json};
pub use render::{render, render_to, summary};

use crate::graph::Graph;
use crate::model::expr::{self, Lookup, Reference};
use crate::model::lookup::Found;
use crate::schema::{self, Schema};
use crate::spec::{Catalog, Spec};
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
    /// Other stacks' outputs this stack imports, read from their states:
    /// by import name, then output.
    pub imports: BTreeMap<String, Map<String, Value>>,
    /// What the stack's lookups found, by lookup name.
    pub lookups: BTreeMap<String, Found>,
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
    /// The changed fields whose value comes from another stack, with the
    /// imports (`network.vpc_id`) it comes from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<String, Vec<String>>,
    /// The address the state held it at before a `moved:` entry of the
    /// stack re-addressed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
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
    /// The outputs the state recorded at the last apply (a sensitive one
    /// as its hash): what the plan's outputs change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous_outputs: BTreeMap<String, Value>,
    /// The imported values it was made with, for the outputs apply
    /// records. Never saved: a saved plan is made again at apply.
    #[serde(skip)]
    pub imports: BTreeMap<String, Map<String, Value>>,
    /// What the lookups found when it was made: a saved plan is applied
    /// only while they find the same.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lookups: BTreeMap<String, Found>,
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
        self.changes
            .iter()
            .any(|c| c.action != Action::NoOp || c.moved_from.is_some())
    }
    /// Whether an output would be recorded with another value, or added
    /// or removed, by applying this plan.
    pub fn has_output_changes(&self) -> bool {
        self.output_changes()
            .iter()
            .any(|change| change.action != Action::NoOp)
    }
    /// Each output of the stack or of the state, by name, against what the
    /// state recorded.
    pub fn output_changes(&self) -> Vec<OutputChange<'_>> {
        let mut names: Vec<&String> = self
            .outputs
            .keys()
            .chain(self.previous_outputs.keys())
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let before = self.previous_outputs.get(name);
                let after = self.outputs.get(name);
                let sensitive = self.sensitive_outputs.contains(name);
                let action = match (before, after) {
                    (None, _) => Action::Create,
                    (Some(_), None) => Action::Delete,
                    (Some(_), Some(after)) if expr::contains_unknown(after) => Action::Update,
                    (Some(before), Some(after)) => {
                        // The state keeps a sensitive output as its hash.
                        let recorded = if sensitive {
                            crate::state::redact(after)
                        } else {
                            after.clone()
                        };
                        if &recorded == before {
                            Action::NoOp
                        } else {
                            Action::Update
                        }
                    }
                };
                OutputChange {
                    name,
                    action,
                    before,
                    after,
                    sensitive: sensitive || before.is_some_and(crate::state::is_redacted),
                }
            })
            .collect()
    }
    pub fn moved(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.moved_from.is_some())
            .count()
    }
}

/// What applying a plan does to one output.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputChange<'a> {
    pub name: &'a str,
    /// Create, update, delete or no-op.
    pub action: Action,
    /// What the state recorded (a hash when sensitive).
    pub before: Option<&'a Value>,
    /// The planned value, with markers where it is known only after apply.
    pub after: Option<&'a Value>,
    /// Never shown: sensitive now or when it was recorded.
    pub sensitive: bool,
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
    /// `at` is `FILE:LINE:COLUMN: `, where the stack writes it.
    #[error("{at}{address}: {message}")]
    Evaluation {
        at: String,
        address: String,
        message: String,
    },
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
    pub fn given(&self) -> Given<'_> {
        Given {
            imports: &self.imports,
            lookups: &self.lookups,
        }
    }
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
        let referenced = referenced_names(stack);
        let by_name: BTreeMap<&str, &stack::Resource> = stack
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r))
            .collect();
        let graph = Graph::from_resources(&stack.resources);
        let mut old_first = Vec::new();
        for name in graph.order() {
            let resource = by_name[name.as_str()];
            let address = resource.address();
            let observed = observed_all.remove(&address).flatten();
            let mut change = plan_resource(
                stack.catalog,
                resource,
                &by_name,
                state,
                observed,
                &|r| lookup_known(&known, refreshed, r),
                refreshed,
            )?;
            change.moved_from = state.moved.get(&address).cloned();
            if change.action == Action::Replace
                && resource.protect
                && !options.allow_replace.contains(&address)
            {
                protected.push(PlanError::Protected {
                    address,
                    action: "replace",
                    flag: "--allow-replace",
                });
            }
            if referenced.contains(name.as_str()) {
                known.insert(name, known_values(&change));
            }
            if change.action == Action::Replace
                && (resource.create_before_destroy == Some(false)
                    || keeps_its_name(stack.catalog.of(&change.type_name), &change))
            {
                old_first.push(changes.len());
            }
            changes.push(change);
        }
        replacements::order(&mut changes, &old_first);
    }

    let in_stack: BTreeMap<String, &stack::Resource> =
        stack.resources.iter().map(|r| (r.address(), r)).collect();
    for (address, recorded) in &state.resources {
        if !options.destroy && in_stack.contains_key(address) {
            continue;
        }
        let observed = observed_all.remove(address).flatten();
        let change = plan_removal(
            address,
            recorded,
            observed,
            in_stack.get(address).copied(),
            state,
            options.destroy,
        );
        if change.protect && !options.allow_destroy.contains(address) {
            protected.push(PlanError::Protected {
                address: address.clone(),
                action: "destroy",
                flag: "--allow-destroy",
            });
        }
        changes.push(change);
    }
    if let Some(error) = protected.into_iter().next() {
        return Err(error);
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));

    let (outputs, sensitive_outputs) = if options.destroy {
        (BTreeMap::new(), Vec::new())
    } else {
        plan_outputs(stack, &refreshed.given(), &|r| {
            lookup_known(&known, refreshed, r)
        })?
    };
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
        previous_outputs: state.outputs.clone(),
        imports: refreshed.imports.clone(),
        lookups: refreshed.lookups.clone(),
    })
}

/// The stack's outputs as far as they are known now, and the names of
/// the sensitive ones.
fn plan_outputs(
    stack: &Stack,
    given: &Given,
    lookup: &dyn Fn(&Reference) -> Lookup,
) -> Result<(BTreeMap<String, Value>, Vec<String>), PlanError> {
    let mut outputs = BTreeMap::new();
    let mut sensitive_outputs = Vec::new();
    for (name, output) in &stack.outputs {
        let failed = |message| PlanError::Evaluation {
            at: place(&output.file, output.line, output.column),
            address: format!("output.{name}"),
            message,
        };
        let value = imported::substitute(&output.value, given).map_err(failed)?;
        let value = expr::evaluate_value(&value, &mut |r| lookup(r)).map_err(failed)?;
        outputs.insert(name.clone(), value);
        if output.sensitive {
            sensitive_outputs.push(name.clone());
        }
    }
    Ok((outputs, sensitive_outputs))
}

/// `FILE:LINE:COLUMN: ` as validation writes a place.
fn place(file: &std::path::Path, line: u64, column: u64) -> String {
    format!("{}:{line}:{column}: ", file.display())
}

/// The names of the resources something in the stack refers to. Values
/// are kept for lookups only for these: a stack of thousands of resources
/// that refer to few holds one copy of each resource's values, in its
/// change, not two.
fn referenced_names(stack: &Stack) -> std::collections::BTreeSet<String> {
    let mut references = Vec::new();
    for resource in &stack.resources {
        for value in resource.properties.values() {
            expr::collect_references(value, &mut references);
        }
    }
    for output in stack.outputs.values() {
        expr::collect_references(&output.value, &mut references);
    }
    references.into_iter().map(|r| r.root).collect()
}

/// The change for one resource of the stack: what it should be (`after`,
/// references resolved through `lookup`, which answers for the resources
/// planned before it), against what the state recorded and AWS holds.
fn plan_resource(
    catalog: &Catalog,
    resource: &stack::Resource,
    by_name: &BTreeMap<&str, &stack::Resource>,
    state: &State,
    observed: Option<Observed>,
    lookup: &dyn Fn(&Reference) -> Lookup,
    refreshed: &Refreshed,
) -> Result<Change, PlanError> {
    let address = resource.address();
    let schema = resource.schema;
    let after = desired(resource, &address, lookup, refreshed)?;
    let recorded = state
        .resources
        .get(&address)
        .filter(|s| s.type_name == schema.type_name);
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
        name: resource.name.clone(),
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
            .filter_map(|n| by_name.get(n.as_str()).map(|r| r.address()))
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
        imports: BTreeMap::new(),
        moved_from: None,
    };
    match (recorded, observed) {
        (Some(recorded), Some(observed)) => {
            compare(
                catalog.of(schema.type_name),
                &mut change,
                resource,
                recorded,
                observed,
                &after,
            );
        }
        (Some(recorded), None) => {
            change.reason = Some(match recorded.status {
                Status::Created => "it was deleted outside cairn".into(),
                Status::Creating => "an earlier create was interrupted before AWS made it".into(),
            });
        }
        (None, _) => {}
    }
    change.imports = imported_fields(resource, &change.changed);
    if let Some((field, message)) = refused_when_set(schema, &change, &after) {
        return Err(PlanError::RefusedWhenSet {
            address,
            field,
            message,
        });
    }
    change.after = Some(after);
    Ok(change)
}

/// The resource's properties with what can be known now resolved, and a
/// function's built package. Properties that evaluate to themselves are
/// shared with the stack, not copied.
fn desired(
    resource: &stack::Resource,
    address: &str,
    lookup: &dyn Fn(&Reference) -> Lookup,
    refreshed: &Refreshed,
) -> Result<Values, PlanError> {
    let mut after = if resource.properties.values().all(expr::is_constant) {
        Arc::clone(&resource.properties)
    } else {
        let mut after = Map::new();
        for (key, value) in resource.properties.iter() {
            let failed = |message| PlanError::Evaluation {
                at: place(&resource.file, resource.line, resource.column),
                address: address.to_owned(),
                message: format!("{key}: {message}"),
            };
            let substituted = imported::substitute(value, &refreshed.given()).map_err(failed)?;
            if let (Some(field), Value::String(text)) = (resource.schema.field(key), value) {
                if imported::is_whole(text) || expr::is_whole_call(text) {
                    imported::check_kind(field.kind, &substituted).map_err(failed)?;
                }
            }
            let value = expr::evaluate_value(&substituted, &mut |r| lookup(r)).map_err(failed)?;
            after.insert(key.clone(), value);
        }
        Arc::new(after)
    };
    if let Some(artifact) = refreshed.artifacts.get(address) {
        let after = Arc::make_mut(&mut after);
        after.insert("code_sha256".into(), Value::String(artifact.sha256.clone()));
        after.insert(
            "code_zip".into(),
            Value::String(artifact.path.display().to_string()),
        );
    }
    Ok(after)
}

/// A resource that exists: no-op, update of the fields that differ, or
/// replacement when one of them cannot change in place.
fn compare(
    spec: &Spec,
    change: &mut Change,
    resource: &stack::Resource,
    recorded: &ResourceState,
    observed: Observed,
    after: &Values,
) {
    let schema = resource.schema;
    let Observed {
        id,
        attributes,
        outputs,
    } = observed;
    let before = with_recorded(attributes, recorded);
    let changed = schema::changed_fields(schema, after, &before);
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
        // Two at once only when the name that identifies it changes (or
        // AWS assigns the id).
        let wanted = resource
            .create_before_destroy
            .unwrap_or(spec.create_before_destroy);
        change.create_before_destroy =
            wanted && !replacements::keeps_its_name(spec, &before, after);
    }
    if matches!(change.action, Action::Update | Action::Replace) {
        change.reason = (spec.update_note)(&before, after);
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

/// Whether a replacement keeps the name that identifies it.
fn keeps_its_name(spec: &Spec, change: &Change) -> bool {
    match (&change.before, &change.after) {
        (Some(before), Some(after)) => replacements::keeps_its_name(spec, before, after),
        _ => false,
    }
}

/// What a resource planned before others offers their references: its
/// desired values, with its outputs and, for a field left to AWS (null),
/// what AWS holds, when it exists and stays.
fn known_values(change: &Change) -> Map<String, Value> {
    let mut visible = change.after.as_deref().cloned().unwrap_or_default();
    if matches!(change.action, Action::NoOp | Action::Update) {
        for (k, v) in &change.outputs {
            visible.insert(k.clone(), v.clone());
        }
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
    visible
}

/// The delete of a recorded resource the stack no longer has (or of every
/// one, when destroying). Gone already: only the state entry goes, with
/// no call to AWS (a delete of what is not there is not always a clean
/// "not found": moto answers some with a 500).
/// What a delete reads of a resource: its values, with the fields read
/// only at delete (`force_destroy`, a final snapshot) as `stack` says them
/// where it says them (set and known). A bucket refused for holding
/// objects is then deleted by setting `force_destroy` and running the
/// destroy or the replacement again, with no apply of it in between.
pub fn with_delete_settings(
    schema: &Schema,
    before: Values,
    stack: Option<&Map<String, Value>>,
) -> Values {
    let Some(stack) = stack else {
        return before;
    };
    let settings: Vec<(&str, &Value)> = schema
        .fields
        .iter()
        .filter(|f| f.at_delete)
        .filter_map(|f| Some((f.name, stack.get(f.name)?)))
        .filter(|(name, value)| {
            !value.is_null() && !expr::contains_unknown(value) && before.get(*name) != Some(value)
        })
        .collect();
    if settings.is_empty() {
        return before;
    }
    let mut before = before;
    let values = Arc::make_mut(&mut before);
    for (name, value) in settings {
        values.insert(name.to_owned(), value.clone());
    }
    before
}

fn plan_removal(
    address: &str,
    recorded: &ResourceState,
    observed: Option<Observed>,
    in_stack: Option<&stack::Resource>,
    state: &State,
    destroy: bool,
) -> Change {
    let protected_by_stack = in_stack.is_some_and(|r| r.protect);
    let reason = match &observed {
        None => Some("it no longer exists; only the state entry goes".into()),
        Some(_) if destroy => None,
        Some(_) => Some("it is no longer in the stack".into()),
    };
    let (id, before, outputs) = match observed {
        None => (
            None,
            Arc::clone(&recorded.attributes),
            recorded.outputs.clone(),
        ),
        Some(o) => (Some(o.id), with_recorded(o.attributes, recorded), o.outputs),
    };
    let before = match in_stack {
        Some(resource) => with_delete_settings(resource.schema, before, Some(&resource.properties)),
        None => before,
    };
    Change {
        address: address.to_owned(),
        type_name: recorded.type_name.clone(),
        name: recorded.name.clone(),
        action: Action::Delete,
        reason,
        id,
        before: Some(before),
        after: None,
        changed: Vec::new(),
        replace_paths: Vec::new(),
        outputs,
        dependencies: recorded_dependencies(recorded, state),
        protect: recorded.protect || protected_by_stack,
        sensitive: recorded.sensitive.clone(),
        sensitive_keys: Vec::new(),
        create_before_destroy: false,
        region: recorded.region.clone(),
        config: None,
        imports: BTreeMap::new(),
        moved_from: None,
    }
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

#[cfg(test)]
mod tests;
