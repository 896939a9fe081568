//! `cairn output ENV [NAME]`: outputs from the state.

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome};
use crate::state;

pub async fn run(
    context: &Context<'_>,
    environment: &str,
    name: Option<&str>,
    json: bool,
) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STATE).await?;
    let printer = context.printer;
    let state = session.state.as_ref().ok_or_else(|| {
        Failure::refused(format!(
            "no state for {}: apply it first",
            session.stack.environment
        ))
    })?;
    let shown = |v: &serde_json::Value| {
        if state::is_redacted(v) {
            "(sensitive value)".to_owned()
        } else {
            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
        }
    };
    match name {
        Some(name) => {
            let value = state
                .outputs
                .get(name)
                .ok_or_else(|| Failure::refused(format!("no output `{name}` in the state")))?;
            printer.out(&if json {
                value.to_string()
            } else {
                shown(value)
            });
        }
        None if json => printer.out(&serde_json::to_string_pretty(&state.outputs).expect("json")),
        None => {
            for (k, v) in &state.outputs {
                printer.out(&format!("{k} = {}", shown(v)));
            }
        }
    }
    Ok(Outcome::Done)
}
