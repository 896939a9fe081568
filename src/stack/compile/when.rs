//! `when:` on a resource or an output: it is part of the stack only while
//! a condition known when planning holds (a variable, usually set per
//! environment). What refers to an absent resource is refused, naming the
//! condition that left it out.

use super::{plan_time_value, Compiler, Scope};
use crate::stack::yaml::Node;
use serde_json::Value;
use std::path::PathBuf;

/// A resource left out by its `when`, as the user is told.
pub(in crate::stack) struct Absent {
    /// The condition as written (`${var.enable_waf}`).
    pub condition: String,
    pub file: PathBuf,
    pub line: u64,
}

impl Absent {
    /// Why a reference to `name` is refused, and what to do.
    pub fn refused(&self, name: &str) -> (String, Option<String>) {
        (
            format!(
                "`{name}` is absent: its `when: {}` is false",
                self.condition
            ),
            Some(format!(
                "give what refers to it the same `when` ({} sets it at line {})",
                self.file.display(),
                self.line
            )),
        )
    }
}

/// The condition's value: `Some(true)` when the resource or output is
/// present. `None` (reported) when it is not a boolean or not known when
/// planning.
pub(super) fn holds(c: &mut Compiler, scope: &Scope, node: &Node, path: &str) -> Option<bool> {
    let path = super::join(path, "when");
    match plan_time_value(c, scope, node, &path, "when")? {
        Value::Bool(b) => Some(b),
        other => {
            let found = super::found_kind(&other);
            let shown = super::scalar_json_text(&other)
                .map_or(String::new(), |text| format!(" (`{text}`)"));
            c.error(
                node.position,
                &path,
                format!("`when` is a condition: expected a boolean, found {found}{shown}"),
                scope.value_origin(node).or_else(|| {
                    Some("write `when: ${var.NAME}` with a boolean variable, or true/false".into())
                }),
            );
            None
        }
    }
}

/// How the condition reads in messages.
pub(super) fn written(node: &Node) -> String {
    match node.to_json() {
        Value::String(text) => text,
        other => other.to_string(),
    }
}
