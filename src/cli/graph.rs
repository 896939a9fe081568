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
    let stack = &session.stack;
    let graph = Graph::from_resources(&stack.resources);
    context.printer.out(
        graph
            .dot(|name| {
                stack
                    .resource(name)
                    .map_or(name.to_owned(), |r| r.address())
            })
            .trim_end(),
    );
    Ok(Outcome::Done)
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
