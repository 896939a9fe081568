//! `cairn show PLAN`: a saved plan, read from its file only.

use super::session::Context;
use super::{Failure, Outcome};
use std::path::Path;

pub fn run(context: &Context<'_>, file: &Path, json: Option<&str>) -> Result<Outcome, Failure> {
    let plan = super::plan::load_saved(file)?;
    super::plan::print(&plan, json, context.printer);
    Ok(Outcome::Done)
}
