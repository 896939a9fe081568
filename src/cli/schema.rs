//! `cairn schema`: the JSON Schema of stack files, for editors.

use super::session::Context;
use super::{Failure, Outcome};

pub fn run(context: &Context<'_>) -> Result<Outcome, Failure> {
    let text = crate::stack::json_schema::text(crate::types::catalog());
    context.printer.out(text.trim_end());
    Ok(Outcome::Done)
}
