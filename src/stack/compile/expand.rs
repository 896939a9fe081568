//! `for_each:` and `when:` turn the stack's resources into instances
//! before anything is compiled: each instance is a plain resource named
//! `name["key"]` (address `type.name["key"]`), so the graph, the planner,
//! the state and apply see addresses and nothing more.

use super::when::{self, Absent};
use super::{join, plan_time_value, Compiler, Scope};
use crate::schema::Schema;
use crate::stack::expr;
use crate::stack::yaml::{Key, Node, Position, Tree};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `${each.key}` and `${each.value}` of the instance being compiled.
pub(in crate::stack) struct Each {
    pub key: String,
    pub value: Value,
}

/// What references are checked against, besides the resources' types.
#[derive(Default)]
pub(in crate::stack) struct Expansion {
    /// Resources with `for_each`: their instances' keys, in key order.
    pub for_each: BTreeMap<String, Vec<String>>,
    /// Resources whose `when` is false.
    pub absent: BTreeMap<String, Absent>,
}

/// One resource to compile.
pub(super) struct Instance<'n> {
    /// `name`, or `name["key"]`.
    pub name: String,
    pub base: &'n str,
    pub each: Option<Each>,
    pub file: &'n PathBuf,
    pub key: &'n Key,
    pub node: &'n Node,
}

impl Instance<'_> {
    /// What default names and `Name` tags are made of: `name-key`, in the
    /// characters names allow, so each key's resource has its own.
    pub fn naming(&self) -> String {
        match &self.each {
            None => self.name.clone(),
            Some(each) => {
                let key: String = each
                    .key
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                format!("{}-{key}", self.base)
            }
        }
    }
}

/// The instances of the stack's resources, and what references need to
/// know about them. Problems are reported; a resource whose `when` or
/// `for_each` is refused makes no instance.
pub(super) fn expand<'n>(
    c: &mut Compiler,
    scope: &Scope,
    nodes: &'n BTreeMap<String, (PathBuf, Key, Node)>,
) -> (Vec<Instance<'n>>, Expansion) {
    let mut instances = Vec::new();
    let mut expansion = Expansion::default();
    for (name, (file, key, node)) in nodes {
        c.file = file.clone();
        let path = join("resources", name);
        if let Some(condition) = node.get("when") {
            match when::holds(c, scope, condition, &path) {
                Some(true) => {}
                Some(false) => {
                    expansion.absent.insert(
                        name.clone(),
                        Absent {
                            condition: when::written(condition),
                            file: file.clone(),
                            line: condition.position.line,
                        },
                    );
                    continue;
                }
                None => continue,
            }
        }
        let Some(over) = node.get("for_each") else {
            instances.push(Instance {
                name: name.clone(),
                base: name,
                each: None,
                file,
                key,
                node,
            });
            continue;
        };
        let entries = entries(c, scope, over, &path).unwrap_or_default();
        expansion.for_each.insert(
            name.clone(),
            entries.iter().map(|(k, _)| k.clone()).collect(),
        );
        for (each_key, value) in entries {
            instances.push(Instance {
                name: expr::instance_name(name, &each_key),
                base: name,
                each: Some(Each {
                    key: each_key,
                    value,
                }),
                file,
                key,
                node,
            });
        }
    }
    (instances, expansion)
}

/// The resources' schemas by the names references use: each instance's
/// name besides its resource's.
pub(super) fn instance_types(
    mut types: BTreeMap<String, &'static Schema>,
    expansion: &Expansion,
) -> BTreeMap<String, &'static Schema> {
    for (base, keys) in &expansion.for_each {
        if let Some(schema) = types.get(base).copied() {
            for key in keys {
                types.insert(expr::instance_name(base, key), schema);
            }
        }
    }
    types
}

/// `for_each`'s keys and values, in key order: a list of strings (each
/// its own value) or a mapping.
fn entries(
    c: &mut Compiler,
    scope: &Scope,
    node: &Node,
    path: &str,
) -> Option<Vec<(String, Value)>> {
    let path = join(path, "for_each");
    let value = plan_time_value(c, scope, node, &path, "for_each")?;
    // Where each key is written, when the list or mapping is literal.
    let at = |i: usize, key: &str| -> Position {
        match &node.tree {
            Tree::Seq(items) => items.get(i).map(|n| n.position),
            Tree::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text == key)
                .map(|(k, _)| k.position),
            _ => None,
        }
        .unwrap_or(node.position)
    };
    let pairs: Vec<(usize, Value, Value)> = match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| (i, item.clone(), item))
            .collect(),
        Value::Object(map) => map
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| (i, Value::String(k), v))
            .collect(),
        other => {
            c.error(
                node.position,
                &path,
                format!(
                    "`for_each` takes a list of strings or a mapping, found {}",
                    super::found_kind(&other)
                ),
                scope.value_origin(node),
            );
            return None;
        }
    };
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut ok = true;
    for (i, key, value) in pairs {
        let Value::String(key) = key else {
            let shown =
                super::scalar_json_text(&key).map_or(String::new(), |text| format!(" (`{text}`)"));
            c.error(
                at(i, ""),
                join(&path, &i.to_string()),
                format!(
                    "`for_each` keys are strings: this one is {}{shown}",
                    super::found_kind(&key)
                ),
                Some("quote it, or use a mapping with string keys".into()),
            );
            ok = false;
            continue;
        };
        let position = at(i, &key);
        if !expr::is_key(&key) {
            c.error(
                position,
                join(&path, &i.to_string()),
                format!(
                    "`for_each` key `{key}` must be 1 to 64 letters, digits and _ . : / = + @ -"
                ),
                Some("a key is part of the instance's address and of its ownership tag".into()),
            );
            ok = false;
        } else if out.insert(key.clone(), value).is_some() {
            c.error(
                position,
                join(&path, &i.to_string()),
                format!("duplicate `for_each` key `{key}`"),
                Some("each instance needs its own key".into()),
            );
            ok = false;
        }
    }
    ok.then(|| out.into_iter().collect())
}
