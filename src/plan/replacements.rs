//! Which replacements make the new one before the old one goes.

use super::{Action, Change, Values};
use crate::model::expr;
use crate::spec::Spec;
use serde_json::Value;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};

/// Whether a replacement keeps the name that identifies it, so the new
/// one cannot exist beside the old (an id AWS assigns always differs).
pub(super) fn keeps_its_name(spec: &Spec, before: &Values, after: &Values) -> bool {
    let identity = spec.planned_id;
    identity(after).is_some_and(|new| {
        !expr::contains_unknown(&Value::String(new.clone()))
            && identity(before).as_deref() == Some(new.as_str())
    })
}

/// Terraform's rule: what a replacement made new before old depends on,
/// and is replaced too, is made new before old as well (and so on down),
/// so the new dependency exists before the new dependent and the old
/// dependent goes before the old dependency. The other order would be a
/// cycle. A replacement that must go old first (`old_first`, by index:
/// it keeps its name, or the stack says so) makes what is replaced and
/// depends on it go old first too. Each change whose order this moves
/// says why.
pub(super) fn order(changes: &mut [Change], old_first: &[usize]) {
    let replaced: BTreeMap<&str, usize> = changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action == Action::Replace)
        .map(|(i, c)| (c.address.as_str(), i))
        .collect();
    // For each replacement, the replacements it depends on.
    let depends_on: Vec<Vec<usize>> = changes
        .iter()
        .map(|c| match c.action {
            Action::Replace => c
                .dependencies
                .iter()
                .filter_map(|d| replaced.get(d.as_str()).copied())
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut dependents = vec![Vec::new(); changes.len()];
    for (dependent, dependencies) in depends_on.iter().enumerate() {
        for &dependency in dependencies {
            dependents[dependency].push(dependent);
        }
    }

    // Old first, up through what depends on it: each with the dependency
    // that made it so.
    let mut old: BTreeMap<usize, Option<usize>> = old_first.iter().map(|&i| (i, None)).collect();
    let mut queue: VecDeque<usize> = old_first.iter().copied().collect();
    while let Some(dependency) = queue.pop_front() {
        for &dependent in &dependents[dependency] {
            if let Entry::Vacant(entry) = old.entry(dependent) {
                entry.insert(Some(dependency));
                queue.push_back(dependent);
            }
        }
    }
    for (&i, because) in &old {
        if let (Some(dependency), true) = (because, changes[i].create_before_destroy) {
            let note = format!(
                "the old one is destroyed first, as for {}, which it depends on",
                changes[*dependency].address
            );
            changes[i].create_before_destroy = false;
            add_reason(&mut changes[i], note);
        }
    }

    // New first, down through what it depends on.
    let mut queue: VecDeque<usize> = (0..changes.len())
        .filter(|&i| changes[i].create_before_destroy && changes[i].action == Action::Replace)
        .collect();
    while let Some(dependent) = queue.pop_front() {
        for &dependency in &depends_on[dependent] {
            if !changes[dependency].create_before_destroy && !old.contains_key(&dependency) {
                let note = format!("as for {}, which depends on it", changes[dependent].address);
                changes[dependency].create_before_destroy = true;
                add_reason(&mut changes[dependency], note);
                queue.push_back(dependency);
            }
        }
    }
}

fn add_reason(change: &mut Change, note: String) {
    change.reason = Some(match change.reason.take() {
        Some(reason) => format!("{reason}; {note}"),
        None => note,
    });
}
