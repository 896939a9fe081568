//! `lookups:`: objects that exist and are not this stack's, read at plan
//! time (`${lookup.NAME.ATTRIBUTE}`). Compiling checks their kinds and
//! parameters; their parameters may use variables and other lookups, as
//! they are read before any resource is planned.

use super::super::expr;
use super::super::Lookup;
use super::{join, Compiler, Scope};
use crate::model::lookup::{kind_names, LookupKind, ParameterKind};
use crate::model::suggest;
use crate::stack::yaml::{Key, Node, Tree};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Each lookup's kind, by name, where its `type` is a known one: what
/// references are checked against.
pub(super) fn kinds(
    nodes: &BTreeMap<String, (PathBuf, Key, Node)>,
) -> BTreeMap<String, LookupKind> {
    nodes
        .iter()
        .filter_map(
            |(name, (_, _, node))| match node.get("type").map(|n| &n.tree) {
                Some(Tree::Str(kind)) => LookupKind::from_name(kind).map(|k| (name.clone(), k)),
                _ => None,
            },
        )
        .collect()
}

/// Every `lookups:` entry that compiles; the others are reported. A cycle
/// between lookups is reported once.
pub(super) fn resolve(
    c: &mut Compiler,
    scope: &Scope,
    nodes: &BTreeMap<String, (PathBuf, Key, Node)>,
) -> BTreeMap<String, Lookup> {
    let mut lookups = BTreeMap::new();
    for (name, (file, key, node)) in nodes {
        c.file = file.clone();
        if let Some(lookup) = resolve_one(c, scope, name, key, node) {
            lookups.insert(name.clone(), lookup);
        }
    }
    let graph = crate::graph::Graph::new(
        lookups
            .values()
            .map(|l| (l.name.as_str(), l.after.as_slice())),
    );
    if let Some(cycle) = graph.cycle() {
        let first = &lookups[&cycle[0]];
        c.file = first.file.clone();
        c.error(
            crate::stack::yaml::Position {
                line: first.line,
                column: first.column,
            },
            join("lookups", &first.name),
            format!(
                "lookups refer to each other in a cycle: {}",
                cycle
                    .iter()
                    .map(|n| format!("lookup.{n}"))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ),
            None,
        );
    }
    lookups
}

fn resolve_one(
    c: &mut Compiler,
    scope: &Scope,
    name: &str,
    key: &Key,
    node: &Node,
) -> Option<Lookup> {
    let path = join("lookups", name);
    let identifier = name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && name.starts_with(|ch: char| ch.is_ascii_alphabetic());
    if !identifier {
        c.error(
            key.position,
            &path,
            format!("lookup name `{name}` must be letters, digits and _, starting with a letter"),
            None,
        );
        return None;
    }
    if !matches!(node.tree, Tree::Map(_)) {
        c.error(
            node.position,
            &path,
            format!(
                "expected a mapping with `type` and its parameters, found {}",
                node.kind_name()
            ),
            None,
        );
        return None;
    }
    let Some(type_node) = node.get("type") else {
        c.error(
            node.position,
            &path,
            "a lookup needs `type`",
            Some(format!("lookup types: {}", kind_names())),
        );
        return None;
    };
    let type_name = c.text(type_node, &join(&path, "type"))?;
    let Some(kind) = LookupKind::from_name(&type_name) else {
        let names: Vec<&str> = crate::model::lookup::KINDS
            .iter()
            .map(|k| k.name())
            .collect();
        c.error(
            type_node.position,
            join(&path, "type"),
            format!("unknown lookup type `{type_name}`"),
            suggest(&type_name, names.iter().copied())
                .or_else(|| Some(format!("lookup types: {}", kind_names()))),
        );
        return None;
    };
    let mut allowed: Vec<&str> = vec!["type"];
    allowed.extend(kind.parameters().iter().map(|(p, _)| *p));
    c.check_keys(node, &allowed, &path);
    let mut parameters = Map::new();
    let mut ok = true;
    for (parameter, parameter_kind) in kind.parameters() {
        let Some(item) = node.get(parameter) else {
            continue;
        };
        match parameter_value(c, scope, item, *parameter_kind, &join(&path, parameter)) {
            Some(value) => {
                parameters.insert((*parameter).to_owned(), value);
            }
            None => ok = false,
        }
    }
    let needed = kind.needs_one_of();
    if ok && !needed.is_empty() && !needed.iter().any(|p| parameters.contains_key(*p)) {
        let which = if needed.len() == 1 {
            format!("`{}`", needed[0])
        } else {
            format!(
                "one of {}",
                needed
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        c.error(
            node.position,
            &path,
            format!("a `{}` lookup needs {which}", kind.name()),
            None,
        );
        ok = false;
    }
    if parameters.get("default") == Some(&Value::Bool(false)) {
        c.error(
            node.get("default").map_or(node.position, |n| n.position),
            join(&path, "default"),
            "`default: false` finds nothing: write `default: true`, or give `id` or `tags`",
            None,
        );
        ok = false;
    }
    let mut references = Vec::new();
    expr::collect_references(&Value::Object(parameters.clone()), &mut references);
    let mut after: Vec<String> = references
        .into_iter()
        .filter(|r| r.root == "lookup")
        .filter_map(|r| r.attribute.split_once('.').map(|(n, _)| n.to_owned()))
        .collect();
    after.sort();
    after.dedup();
    ok.then(|| Lookup {
        name: name.to_owned(),
        kind,
        parameters,
        after,
        file: c.file.clone(),
        line: key.position.line,
        column: key.position.column,
    })
}

/// One parameter, its variables resolved. What is left to read time may
/// only be other lookups: nothing else is known before any resource is.
fn parameter_value(
    c: &mut Compiler,
    scope: &Scope,
    node: &Node,
    kind: ParameterKind,
    path: &str,
) -> Option<Value> {
    let mut uses_secret = false;
    let value = match kind {
        ParameterKind::Str => {
            scope.value(c, node, crate::schema::Kind::Str, path, &mut uses_secret)?
        }
        ParameterKind::Bool => {
            scope.value(c, node, crate::schema::Kind::Bool, path, &mut uses_secret)?
        }
        ParameterKind::Tags => {
            if !matches!(node.tree, Tree::Map(_)) {
                c.error(
                    node.position,
                    path,
                    format!("expected {}, found {}", kind.describe(), node.kind_name()),
                    None,
                );
                return None;
            }
            scope.value(c, node, crate::schema::Kind::StrMap, path, &mut uses_secret)?
        }
    };
    if kind == ParameterKind::Str && value.is_null() {
        c.error(node.position, path, "expected a string, found null", None);
        return None;
    }
    let mut references = Vec::new();
    expr::collect_references(&value, &mut references);
    if let Some(other) = references.iter().find(|r| r.root != "lookup") {
        c.error(
            node.position,
            path,
            format!("a lookup cannot use `${{{other}}}`: it is read before anything else is known"),
            Some(
                "a lookup's parameters may use variables, `${project}`, `${env}` and other lookups"
                    .into(),
            ),
        );
        return None;
    }
    Some(value)
}

/// `${lookup.NAME.ATTRIBUTE}`: a declared lookup, and an attribute its
/// kind offers.
pub(super) fn check_reference(
    lookups: &BTreeMap<String, LookupKind>,
    attribute: &str,
) -> Result<(), (String, Option<String>)> {
    let Some((name, wanted)) = attribute.split_once('.') else {
        return Err((
            format!("`${{lookup.{attribute}}}` names no attribute"),
            Some("write `${lookup.NAME.ATTRIBUTE}`".into()),
        ));
    };
    let kind = super::declared(lookups, "lookup", "with its `type`", name)?;
    if kind.attributes().contains(&wanted) {
        return Ok(());
    }
    let help = suggest(wanted, kind.attributes().iter().copied()).or_else(|| {
        Some(format!(
            "`{}` lookups have: {}",
            kind.name(),
            kind.attributes().join(", ")
        ))
    });
    Err((
        format!(
            "lookup `{name}` ({}) has no attribute `{wanted}`",
            kind.name()
        ),
        help,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_declared_lookup_and_an_attribute_of_its_kind() {
        let lookups = BTreeMap::from([
            ("private".to_owned(), LookupKind::Subnets),
            ("main".to_owned(), LookupKind::Vpc),
        ]);
        assert!(check_reference(&lookups, "private.ids").is_ok());
        assert!(check_reference(&lookups, "main.cidr_block").is_ok());
        let (message, help) = check_reference(&lookups, "privat.ids").unwrap_err();
        assert_eq!(message, "no lookup `privat` is declared");
        assert!(help.unwrap().contains("private"));
        let (message, help) = check_reference(&lookups, "private.id").unwrap_err();
        assert_eq!(message, "lookup `private` (subnets) has no attribute `id`");
        assert!(help.unwrap().contains("ids"));
        let (message, _) = check_reference(&lookups, "main").unwrap_err();
        assert!(message.contains("names no attribute"), "{message}");
    }
}
