//! `cairn graph ENV`: the dependency graph as DOT; with `--stacks`, the
//! stacks and their imports.

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome};
use crate::graph::Graph;
use std::collections::BTreeSet;
use std::path::PathBuf;

pub async fn run(
    context: &Context<'_>,
    environment: &str,
    stacks: bool,
) -> Result<Outcome, Failure> {
    if stacks {
        let file = super::session::stack_file(context.global, environment);
        context.printer.out(stacks_dot(&file)?.trim_end());
        return Ok(Outcome::Done);
    }
    let session = Session::open(context, environment, Needs::STACK).await?;
    context
        .printer
        .out(resources_dot(&session.stack).trim_end());
    Ok(Outcome::Done)
}

/// The resources and, as nodes of their own (`lookup.NAME (KIND)`), the
/// lookups they read: each edge from what uses to what is used.
fn resources_dot(stack: &crate::stack::Stack) -> String {
    let node = |name: &str| format!("lookup.{name}");
    let mut nodes: Vec<(String, Vec<String>)> = stack
        .resources
        .iter()
        .map(|resource| {
            let mut references = Vec::new();
            for value in resource.properties.values() {
                crate::model::expr::collect_references(value, &mut references);
            }
            let mut uses = resource.depends_on.clone();
            uses.extend(
                references
                    .iter()
                    .filter(|r| r.root == "lookup")
                    .filter_map(|r| r.attribute.split_once('.'))
                    .map(|(name, _)| node(name)),
            );
            (resource.name.clone(), uses)
        })
        .collect();
    nodes.extend(
        stack
            .lookups
            .values()
            .map(|l| (node(&l.name), l.after.iter().map(|a| node(a)).collect())),
    );
    let graph = Graph::new(nodes.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
    graph.dot(|name| match name.strip_prefix("lookup.") {
        Some(lookup) => stack
            .lookups
            .get(lookup)
            .map_or(name.to_owned(), |l| format!("{name} ({})", l.kind.name())),
        None => stack
            .resource(name)
            .map_or(name.to_owned(), |r| r.address()),
    })
}

/// Each stack a node (its project, environment and file), each import an
/// edge from the stack that imports to the stack it imports from, labelled
/// with the import's name and outputs; followed from stack to stack.
fn stacks_dot(file: &std::path::Path) -> Result<String, Failure> {
    let mut nodes = BTreeSet::new();
    let mut edges = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut next: Vec<PathBuf> = vec![file.to_path_buf()];
    while let Some(file) = next.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let (project, environment, imports) =
            crate::stack::stack_imports(crate::types::catalog(), &file).map_err(Failure::Stack)?;
        let node = file.display().to_string();
        nodes.insert(format!(
            "  \"{node}\" [label = \"{project} ({environment})\\n{node}\"];\n"
        ));
        for import in imports.values() {
            edges.insert(format!(
                "  \"{node}\" -> \"{}\" [label = \"{}: {}\"];\n",
                import.file.display(),
                import.name,
                import.outputs.join(", ")
            ));
            next.push(import.file.clone());
        }
    }
    let mut out = String::from("digraph stacks {\n  rankdir = \"RL\";\n  node [shape = box];\n");
    out.extend(nodes);
    out.extend(edges);
    out.push_str("}\n");
    Ok(out)
}
