//! The steps of an apply and the order they run in: a pure function of the
//! plan (and of the state, for what left the stack), so apply can touch
//! nothing the plan did not show.

use super::Step;
use crate::plan::{self, Action, Change, Plan};
use crate::state::State;
use std::collections::BTreeMap;

pub(super) struct Steps<'p> {
    /// The changes that do something, in the plan's order.
    pub changes: Vec<&'p Change>,
    /// A step of a change (its index in `changes`). A replacement is a
    /// delete then a create, or the other way round.
    pub nodes: Vec<(usize, Step)>,
    /// For each node, the nodes that must finish before it starts.
    pub dependencies: Vec<Vec<usize>>,
}

/// Creates and updates after what they depend on; deletes after what
/// depended on the thing deleted; a replacement's old self deleted before
/// its new one is created, or (create before destroy) after the new one
/// exists and what referenced the old one has moved over.
pub(super) fn steps<'p>(plan: &'p Plan, state: &State) -> Steps<'p> {
    let changes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    let nodes = nodes(&changes);
    // Each address's create, update and delete node.
    let mut node_of: BTreeMap<&str, [Option<usize>; 3]> = BTreeMap::new();
    for (node, (i, step)) in nodes.iter().enumerate() {
        node_of.entry(changes[*i].address.as_str()).or_default()[slot(*step)] = Some(node);
    }
    let find = |address: &str, step: Step| node_of.get(address).and_then(|s| s[slot(step)]);
    // The nodes whose change depends on an address, in node order.
    let mut dependents: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (node, (i, _)) in nodes.iter().enumerate() {
        let mut named: Vec<&str> = changes[*i]
            .dependencies
            .iter()
            .map(String::as_str)
            .collect();
        named.sort_unstable();
        named.dedup();
        for dependency in named {
            dependents.entry(dependency).or_default().push(node);
        }
    }
    let dependents_of = |address: &str| dependents.get(address).map_or(&[][..], Vec::as_slice);

    let mut dependencies = vec![Vec::new(); nodes.len()];
    for (node, (i, step)) in nodes.iter().enumerate() {
        let change = changes[*i];
        match step {
            Step::Create | Step::Update => {
                for dependency in &change.dependencies {
                    if let Some(d) =
                        find(dependency, Step::Create).or_else(|| find(dependency, Step::Update))
                    {
                        dependencies[node].push(d);
                    }
                }
                if *step == Step::Create && !change.create_before_destroy {
                    // A replacement: its old self goes first. (A resource of
                    // another type under the same name is another AWS
                    // object; waiting for it could close a cycle through
                    // the dependents that move from one to the other.)
                    if let Some(d) = find(&change.address, Step::Delete) {
                        dependencies[node].push(d);
                    }
                }
            }
            Step::Delete => {
                if change.create_before_destroy {
                    // The old one goes after the new one exists and what
                    // referenced it has moved over.
                    if let Some(d) = find(&change.address, Step::Create) {
                        dependencies[node].push(d);
                    }
                    dependencies[node].extend(dependents_of(&change.address).iter().filter(
                        |&&other| {
                            other != node && matches!(nodes[other].1, Step::Create | Step::Update)
                        },
                    ));
                }
                // Dependents that are going away go first.
                dependencies[node].extend(
                    dependents_of(&change.address)
                        .iter()
                        .filter(|&&other| other != node && nodes[other].1 == Step::Delete),
                );
            }
        }
    }
    after_recorded_dependents(&changes, &nodes, state, &mut dependencies);
    Steps {
        changes,
        nodes,
        dependencies,
    }
}

fn slot(step: Step) -> usize {
    match step {
        Step::Create => 0,
        Step::Update => 1,
        Step::Delete => 2,
    }
}

fn nodes(changes: &[&Change]) -> Vec<(usize, Step)> {
    let mut nodes = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        match change.action {
            Action::Create => nodes.push((i, Step::Create)),
            Action::Update => nodes.push((i, Step::Update)),
            Action::Delete => nodes.push((i, Step::Delete)),
            Action::Replace if change.create_before_destroy => {
                nodes.push((i, Step::Create));
                nodes.push((i, Step::Delete));
            }
            Action::Replace => {
                nodes.push((i, Step::Delete));
                nodes.push((i, Step::Create));
            }
            Action::NoOp => {}
        }
    }
    nodes
}

/// A resource leaving the stack goes after the resources that depended on
/// it when last applied (as the state records) are updated or deleted: a
/// table after the role whose policy named it, a subnet after what runs
/// in it.
fn after_recorded_dependents(
    changes: &[&Change],
    nodes: &[(usize, Step)],
    state: &State,
    dependencies: &mut [Vec<usize>],
) {
    // The update and delete nodes whose resource depended on an address,
    // in node order.
    let mut recorded_dependents: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (node, (i, step)) in nodes.iter().enumerate() {
        if !matches!(step, Step::Update | Step::Delete) {
            continue;
        }
        if let Some(recorded) = state.resources.get(&changes[*i].address) {
            for dependency in plan::recorded_dependencies(recorded, state) {
                recorded_dependents
                    .entry(dependency)
                    .or_default()
                    .push(node);
            }
        }
    }
    for (node, (i, step)) in nodes.iter().enumerate() {
        if *step != Step::Delete || changes[*i].action != Action::Delete {
            continue;
        }
        let Some(others) = recorded_dependents.get(&changes[*i].address) else {
            continue;
        };
        for &other in others {
            if other != node && !dependencies[node].contains(&other) {
                dependencies[node].push(other);
            }
        }
    }
}

#[cfg(test)]
mod tests;
