//! `cairn state init-backend ENV`: the shared state table, created.

use crate::cli::session::{backend_connection, Context, Needs, Session};
use crate::cli::{Failure, Outcome};
use crate::store;

pub async fn run(context: &Context<'_>, environment: &str) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STACK).await?;
    let stack = &session.stack;
    let backend = stack.state.as_ref().ok_or_else(|| {
        Failure::refused(format!("{} keeps state in local files: add `state: {{backend: dynamodb, table: NAME}}` to it first", stack.file.display()))
    })?;
    let aws = backend_connection(context.global, stack.region.as_deref(), backend).await?;
    let created = store::init_backend(&aws, &backend.table).await?;
    context.printer.out(&if created {
        format!("Created the state table {} (on-demand, point-in-time recovery, KMS encryption, deletion protection). {} now keeps its state under {}.", backend.table, stack.environment, backend.key)
    } else {
        format!("The state table {} already exists; nothing to do.", backend.table)
    });
    Ok(Outcome::Done)
}
