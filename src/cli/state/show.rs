//! `cairn state show ENV ADDRESS`: one resource's recorded attributes.

use crate::cli::session::{Context, Needs, Session};
use crate::cli::{Failure, Outcome};

pub async fn run(
    context: &Context<'_>,
    environment: &str,
    address: &str,
) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STATE).await?;
    let state = session
        .state
        .as_ref()
        .ok_or_else(|| Failure::refused("no state yet"))?;
    let entry = state
        .resources
        .get(address)
        .ok_or_else(|| Failure::refused(format!("no {address} in the state")))?;
    context
        .printer
        .out(&serde_json::to_string_pretty(entry).expect("json"));
    Ok(Outcome::Done)
}
