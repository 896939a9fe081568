//! `cairn state verify ENV`: every kept version checked whole.

use crate::cli::session::{Context, Needs, Session};
use crate::cli::{Failure, Outcome};

pub async fn run(context: &Context<'_>, environment: &str) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STORE).await?;
    let (store, printer) = (session.store(), context.printer);
    let checked = store.verify().await?;
    let damaged = checked.iter().filter(|(_, r)| r.is_err()).count();
    for (serial, result) in &checked {
        match result {
            Ok(()) => printer.out(&format!("serial {serial}: ok")),
            Err(problem) => printer.out(&format!("serial {serial}: DAMAGED: {problem}")),
        }
    }
    printer.out(&format!(
        "{}: {} version(s) checked, {damaged} damaged.",
        store.describe(),
        checked.len()
    ));
    Ok(if damaged == 0 {
        Outcome::Done
    } else {
        Outcome::Damaged
    })
}
