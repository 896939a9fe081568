//! `cairn force-unlock ENV ID`: a lock left by a cairn that died, removed.

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome};

pub async fn run(context: &Context<'_>, environment: &str, id: &str) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STORE).await?;
    session.store().unlock(id).await?;
    context.printer.out(&format!(
        "Released lock {id} on {}.",
        session.stack.environment
    ));
    Ok(Outcome::Done)
}
