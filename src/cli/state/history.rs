//! `cairn state history ENV`: the saved versions, newest first.

use crate::cli::session::{Context, Needs, Session};
use crate::cli::{Failure, Outcome};

pub async fn run(context: &Context<'_>, environment: &str, json: bool) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STORE).await?;
    let printer = context.printer;
    let versions = session.store().history().await?;
    if json {
        printer.out(&serde_json::to_string_pretty(&versions).expect("json"));
    } else {
        printer.out("SERIAL  SAVED                       RESOURCES  BYTES     BY");
        for v in &versions {
            printer.out(&format!(
                "{:<7} {:<27} {:<10} {:<9} {}",
                v.serial, v.saved, v.resources, v.bytes, v.holder
            ));
        }
    }
    Ok(Outcome::Done)
}
