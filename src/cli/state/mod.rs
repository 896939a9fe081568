//! `cairn state ...`: the state inspected, repaired and moved.

mod history;
mod init_backend;
mod list;
mod migrate;
mod restore;
mod rm;
mod show;
mod verify;

use super::session::Context;
use super::{Failure, Outcome, StateCommand};

pub async fn run(context: &Context<'_>, command: StateCommand) -> Result<Outcome, Failure> {
    match command {
        StateCommand::List { environment } => list::run(context, &environment).await,
        StateCommand::Show {
            environment,
            address,
        } => show::run(context, &environment, &address).await,
        StateCommand::Rm {
            environment,
            address,
        } => rm::run(context, &environment, &address).await,
        StateCommand::InitBackend { environment } => init_backend::run(context, &environment).await,
        StateCommand::Migrate { environment } => migrate::run(context, &environment).await,
        StateCommand::History { environment, json } => {
            history::run(context, &environment, json).await
        }
        StateCommand::Restore {
            environment,
            serial,
        } => restore::run(context, &environment, serial).await,
        StateCommand::Verify { environment } => verify::run(context, &environment).await,
    }
}
