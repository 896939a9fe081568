//! `cairn state list ENV`: the addresses in the state.

use crate::cli::session::{Context, Needs, Session};
use crate::cli::{Failure, Outcome};
use crate::state::Status;

pub async fn run(context: &Context<'_>, environment: &str) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STATE).await?;
    if let Some(state) = &session.state {
        for (address, entry) in &state.resources {
            let suffix = if entry.status == Status::Creating {
                "  (create interrupted)"
            } else {
                ""
            };
            context.printer.out(&format!("{address}{suffix}"));
        }
    }
    Ok(Outcome::Done)
}
