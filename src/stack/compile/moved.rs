//! `moved: [{from: ADDRESS, to: ADDRESS}]`: a resource renamed in the
//! stack keeps its AWS object. The state's entry at `from` is re-addressed
//! to `to` when the state is read (`state::apply_moves`), so nothing in
//! AWS is made or deleted for the rename.

use super::{join, suggest, Compiler};
use crate::stack::expr;
use crate::stack::yaml::{Node, Tree};
use crate::stack::{Moved, Resource};
use std::collections::BTreeSet;
use std::path::PathBuf;

const MOVED_KEYS: &[&str] = &["from", "to"];

/// Every file's `moved:` entries, checked against the stack's resources.
pub(super) fn compile(
    c: &mut Compiler,
    lists: &[(PathBuf, Node)],
    resources: &[Resource],
) -> Vec<Moved> {
    let live: BTreeSet<String> = resources.iter().map(Resource::address).collect();
    let mut out: Vec<Moved> = Vec::new();
    for (file, list) in lists {
        c.file = file.clone();
        let Tree::Seq(items) = &list.tree else {
            c.error(
                list.position,
                "moved",
                format!(
                    "expected a list of {{from, to}}, found {}",
                    list.kind_name()
                ),
                None,
            );
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("moved.{i}");
            c.check_keys(item, MOVED_KEYS, &path);
            let address = |c: &mut Compiler, key: &str| {
                let Some(node) = item.get(key) else {
                    c.error(
                        item.position,
                        &path,
                        format!("a move needs `{key}`"),
                        Some("moved: [{from: log_group.logs, to: log_group.api_logs}]".into()),
                    );
                    return None;
                };
                let text = c.text(node, &join(&path, key))?;
                match parse_address(c, &text) {
                    Ok(type_name) => Some((text, type_name, node.position)),
                    Err(message) => {
                        c.error(node.position, join(&path, key), message, None);
                        None
                    }
                }
            };
            let (Some(from), Some(to)) = (address(c, "from"), address(c, "to")) else {
                continue;
            };
            if !live.contains(&to.0) {
                c.error(
                    to.2,
                    join(&path, "to"),
                    format!(
                        "`{}` is not in the stack: a move's `to` is a resource of it",
                        to.0
                    ),
                    suggest(&to.0, live.iter().map(String::as_str)),
                );
                continue;
            }
            if live.contains(&from.0) {
                c.error(
                    from.2,
                    join(&path, "from"),
                    format!("`{}` is still in the stack: a move's `from` is an address it no longer has", from.0),
                    Some("remove the move, or rename the resource".into()),
                );
                continue;
            }
            if from.1 != to.1 {
                c.error(
                    to.2,
                    join(&path, "to"),
                    format!(
                        "a move keeps the type: `{}` is a {}, `{}` a {}",
                        from.0, from.1, to.0, to.1
                    ),
                    None,
                );
                continue;
            }
            if let Some(first) = out.iter().find(|m| m.from == from.0 || m.to == to.0) {
                let (what, address) = if first.from == from.0 {
                    ("from", &from)
                } else {
                    ("to", &to)
                };
                c.error(
                    address.2,
                    join(&path, what),
                    format!("`{}` is in two moves", address.0),
                    Some(format!(
                        "{} has the first at line {}",
                        first.file.display(),
                        first.line
                    )),
                );
                continue;
            }
            out.push(Moved {
                from: from.0,
                to: to.0,
                file: file.clone(),
                line: from.2.line,
            });
        }
    }
    out
}

/// `type.name` or `type.name["key"]`; its type.
fn parse_address(c: &Compiler, text: &str) -> Result<String, String> {
    let form = "an address is `TYPE.NAME` or `TYPE.NAME[\"KEY\"]`";
    let Some((type_name, name)) = text.split_once('.') else {
        return Err(format!("`{text}` is not an address: {form}"));
    };
    if c.catalog.schema(type_name).is_none() {
        return Err(format!("unknown resource type `{type_name}` in `{text}`"));
    }
    let (base, index) = expr::split_instance(name);
    let base_ok = !base.is_empty()
        && base
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
    let index_ok = match index {
        expr::Index::None => !name.contains(']'),
        expr::Index::Key(key) => expr::is_key(key) && name == expr::instance_name(base, key),
        _ => false,
    };
    if base_ok && index_ok {
        Ok(type_name.to_owned())
    } else {
        Err(format!("`{text}` is not an address: {form}"))
    }
}
