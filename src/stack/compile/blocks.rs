//! Repeated blocks: in a list property's place, or as one of its items, a
//! mapping of `for_each:` (a list or mapping known when planning) and
//! `content:` stands for one `content` per element, with `${each.key}` and
//! `${each.value}` of that element. It is compiled into the plain list, so
//! the plan, the state and the graph never see it.

use super::expand::Each;
use super::{found_kind, join, plan_time_value, Compiler, Scope};
use crate::schema::Kind;
use crate::stack::language;
use crate::stack::yaml::{Node, Tree};
use serde_json::Value;

/// A mapping with `for_each` where a list or one of its items is written.
pub(super) fn is_block(node: &Node) -> bool {
    matches!(node.tree, Tree::Map(_)) && node.get("for_each").is_some()
}

/// The kind of a list's items, for the kinds a block may make.
pub(super) fn item_kind(kind: Kind) -> Option<Kind> {
    match kind {
        Kind::StrList | Kind::StrSet => Some(Kind::Str),
        Kind::ObjectList(fields) | Kind::ObjectSet(fields) => Some(Kind::Object(fields)),
        _ => None,
    }
}

impl Scope<'_> {
    /// The items a block makes, in the order of its `for_each`: a list's
    /// elements (`each.key` is the position, from 0) or a mapping's entries
    /// in key order. Inside `content`, `each` is the block's element.
    pub(super) fn block(
        &self,
        c: &mut Compiler,
        node: &Node,
        item: Kind,
        path: &str,
        uses_secret: &mut bool,
    ) -> Option<Vec<Value>> {
        let before = c.diagnostics.len();
        c.check_keys(node, language::BLOCK, path);
        if c.diagnostics.len() > before {
            return None;
        }
        let Some(content) = node.get("content") else {
            c.error(
                node.position,
                path,
                "a block with `for_each` needs `content`: the item made for each element",
                None,
            );
            return None;
        };
        let over = node.get("for_each")?;
        let over_path = join(path, "for_each");
        let entries: Vec<(String, Value)> =
            match plan_time_value(c, self, over, &over_path, "for_each")? {
                Value::Array(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, value)| (i.to_string(), value))
                    .collect(),
                Value::Object(map) => map.into_iter().collect(),
                other => {
                    c.error(
                        over.position,
                        &over_path,
                        format!(
                            "`for_each` takes a list or a mapping, found {}",
                            found_kind(&other)
                        ),
                        self.value_origin(over),
                    );
                    return None;
                }
            };
        let content_path = join(path, "content");
        let mut out = Vec::new();
        for (key, value) in entries {
            let each = Each { key, value };
            let inner = Scope {
                each: Some(&each),
                ..*self
            };
            let before = c.diagnostics.len();
            match inner.value(c, content, item, &content_path, uses_secret) {
                Some(value) => out.push(value),
                // The first element whose item is refused stops the block:
                // the others would repeat the same message at the same
                // place. Which element it was is said where nothing else is.
                None => {
                    let element = element(&each);
                    for diagnostic in &mut c.diagnostics[before..] {
                        diagnostic.help.get_or_insert_with(|| element.clone());
                    }
                    return None;
                }
            }
        }
        Some(out)
    }
}

/// The element an item was made for, as the user is told.
fn element(each: &Each) -> String {
    let mut value = each.value.to_string();
    if value.chars().count() > 60 {
        value = value.chars().take(57).collect::<String>() + "...";
    }
    format!(
        "in the item made for `each.key` {}, `each.value` {value}",
        each.key
    )
}
