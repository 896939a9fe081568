//! `moved: [{from: ADDRESS, to: ADDRESS}]`: a resource renamed in the
//! stack keeps its AWS object. The state's entry at `from` is re-addressed
//! to `to` when the state is read (`state::apply_moves`), so nothing in
//! AWS is made or deleted for the rename.

use super::{join, suggest, Compiler, Scope};
use crate::stack::expr;
use crate::stack::yaml::{Node, Position, Tree};
use crate::stack::{Moved, Resource};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const MOVED_KEYS: &[&str] = &["from", "to"];

/// One entry as written.
struct Written {
    from: (String, String, Position),
    to: (String, String, Position),
    path: String,
    file: PathBuf,
}

/// Every file's `moved:` entries, checked against the stack's resources.
/// A chain (`a` to `b`, then `b` to `c`, so a stack that is behind
/// catches up) moves `a` straight to `c`. A `to` that this environment
/// leaves out (its `when` is false, or its `for_each` lacks the key) is
/// kept: the object moved there is then deleted as no longer in the
/// stack, as for any resource left out.
pub(super) fn compile(
    c: &mut Compiler,
    lists: &[(PathBuf, Node)],
    resources: &[Resource],
    scope: &Scope,
) -> Vec<Moved> {
    let live: BTreeSet<String> = resources.iter().map(Resource::address).collect();
    let written = entries(c, lists, &live);
    let next: BTreeMap<&str, &Written> = written.iter().map(|w| (w.from.0.as_str(), w)).collect();
    let mut out = Vec::new();
    let mut refused_ends = BTreeSet::new();
    for entry in &written {
        c.file = entry.file.clone();
        // Follow the chain to its end.
        let mut end = entry;
        let mut seen = BTreeSet::from([entry.from.0.as_str()]);
        while let Some(following) = next.get(end.to.0.as_str()) {
            if !seen.insert(following.from.0.as_str()) {
                c.error(
                    entry.from.2,
                    join(&entry.path, "from"),
                    format!("the moves from `{}` go round in a circle", entry.from.0),
                    Some("each address may be the `to` of one move and the `from` of one".into()),
                );
                break;
            }
            end = following;
        }
        if seen.contains(end.to.0.as_str()) {
            continue;
        }
        let to = &end.to;
        if !live.contains(&to.0) && !left_out_here(scope, &to.0, &to.1) {
            if !refused_ends.insert(end.path.clone()) {
                continue;
            }
            c.file = end.file.clone();
            c.error(
                to.2,
                join(&end.path, "to"),
                format!(
                    "`{}` is not in the stack: a move's `to` is a resource of it",
                    to.0
                ),
                suggest(&to.0, live.iter().map(String::as_str)),
            );
            continue;
        }
        out.push(Moved {
            from: entry.from.0.clone(),
            to: to.0.clone(),
            file: entry.file.clone(),
            line: entry.from.2.line,
        });
    }
    out
}

/// Whether `address` is a resource of the stack that this environment
/// leaves out: its `when` is false, or it is a key its `for_each` lacks.
fn left_out_here(scope: &Scope, address: &str, type_name: &str) -> bool {
    let Some((_, name)) = address.split_once('.') else {
        return false;
    };
    let (base, index) = expr::split_instance(name);
    let declared = scope
        .types
        .get(base)
        .is_some_and(|schema| schema.type_name == type_name);
    let expansion = scope.expansion;
    declared
        && match index {
            expr::Index::None => expansion.absent.contains_key(base),
            expr::Index::Key(_) => {
                expansion.absent.contains_key(base) || expansion.for_each.contains_key(base)
            }
            _ => false,
        }
}

/// The entries, each checked on its own and against the others: a `from`
/// still in the stack, a change of type, an address that is the `from`
/// (or the `to`) of two moves.
fn entries(c: &mut Compiler, lists: &[(PathBuf, Node)], live: &BTreeSet<String>) -> Vec<Written> {
    let mut out: Vec<Written> = Vec::new();
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
            if let Some(first) = out.iter().find(|m| m.from.0 == from.0 || m.to.0 == to.0) {
                let (what, address) = if first.from.0 == from.0 {
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
                        first.from.2.line
                    )),
                );
                continue;
            }
            out.push(Written {
                from,
                to,
                path,
                file: file.clone(),
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
