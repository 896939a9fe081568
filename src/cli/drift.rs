//! `cairn drift ENV`: live AWS compared with the state, changing nothing.

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome};
use crate::{drift, engine, plan};

pub async fn run(
    context: &Context<'_>,
    environment: &str,
    format: &str,
    skip_unmanaged: bool,
) -> Result<Outcome, Failure> {
    let mut session = Session::open(context, environment, Needs::locked("drift")).await?;
    let state = session.state_or_new();
    let (aws, stack) = (session.aws(), &session.stack);
    let role_prefix = format!("{}-", stack.project);
    let search = async {
        if skip_unmanaged {
            return Ok(Vec::new());
        }
        crate::types::owned::find(aws, &stack.project, &stack.environment, &role_prefix).await
    };
    let (refreshed, found) = tokio::join!(engine::refresh(aws, &state), search);
    let refreshed = refreshed?;
    let found = found.map_err(Failure::UnmanagedSearch)?;
    let report = drift::apply_ignores(
        drift::Report {
            environment: stack.environment.clone(),
            checked: state.resources.len(),
            drift: plan::drift(crate::types::catalog(), &state, &refreshed),
            unmanaged: drift::unmanaged(found, &state, stack),
            ignored: 0,
        },
        &stack.drift_ignore,
    );
    let text = match format {
        "json" => serde_json::to_string_pretty(&report.json()).expect("json"),
        "markdown" => report.markdown(),
        _ => report.text(),
    };
    context.printer.out(text.trim_end());
    Ok(if report.in_sync() {
        Outcome::Done
    } else {
        Outcome::Changes
    })
}
