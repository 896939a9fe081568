//! `cairn graph ENV`: the dependency graph as DOT.

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome};
use crate::graph::Graph;

pub async fn run(context: &Context<'_>, environment: &str) -> Result<Outcome, Failure> {
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
