//! `cairn completions SHELL`: a completion script for the shell.

use super::session::Context;
use super::{Arguments, Failure, Outcome};
use clap::CommandFactory;

pub fn run(context: &Context<'_>, shell: clap_complete::Shell) -> Result<Outcome, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Arguments::command(), "cairn", &mut script);
    context
        .printer
        .out(String::from_utf8_lossy(&script).trim_end());
    Ok(Outcome::Done)
}
