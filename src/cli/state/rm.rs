//! `cairn state rm ENV ADDRESS`: a resource forgotten, not deleted.

use crate::cli::session::{Context, Needs, Session};
use crate::cli::{Failure, Outcome};

pub async fn run(
    context: &Context<'_>,
    environment: &str,
    address: &str,
) -> Result<Outcome, Failure> {
    let needs = Needs {
        aws: false,
        ..Needs::locked("state rm")
    };
    let mut session = Session::open(context, environment, needs).await?;
    let mut state = session
        .state
        .take()
        .ok_or_else(|| Failure::refused("no state yet"))?;
    let entry = state
        .resources
        .remove(address)
        .ok_or_else(|| Failure::refused(format!("no {address} in the state")))?;
    state.serial += 1;
    session.store().save(&state).await?;
    context.printer.out(&format!(
        "Removed {address} from the state. It still exists in AWS{}; cairn no longer manages it.",
        entry.id.map(|id| format!(" (id {id})")).unwrap_or_default()
    ));
    Ok(Outcome::Done)
}
