//! `cairn validate ENV`: the stack checked completely, without AWS.

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome};

pub async fn run(context: &Context<'_>, environment: &str) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STACK).await?;
    context.printer.out(&format!(
        "Success! {} is valid: {} resources.",
        session.stack.file.display(),
        session.stack.resources.len()
    ));
    Ok(Outcome::Done)
}
