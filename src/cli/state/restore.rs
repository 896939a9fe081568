//! `cairn state restore ENV SERIAL`: an earlier version made current
//! again, saved as a new one.

use crate::cli::session::{Context, Needs, Session};
use crate::cli::{Failure, Outcome};
use crate::store::StateError;

pub async fn run(
    context: &Context<'_>,
    environment: &str,
    serial: u64,
) -> Result<Outcome, Failure> {
    let needs = Needs {
        aws: false,
        state: false,
        ..Needs::locked("state restore")
    };
    let session = Session::open(context, environment, needs).await?;
    let (store, printer) = (session.store(), context.printer);
    // The current version may be what is damaged: then the newest kept
    // version's record stands in for it.
    let (current_serial, current_lineage) = match store.load().await {
        Ok(Some(current)) => (current.serial, current.lineage),
        Ok(None) => return Err(Failure::refused("no state yet")),
        Err(damaged @ StateError::Corrupt { .. }) => {
            let newest = store.history().await?.into_iter().next().ok_or_else(|| {
                Failure::refused(format!("{damaged}, and no version is kept to restore"))
            })?;
            printer.err(&format!(
                "The current state is damaged ({damaged}); restoring on top of serial {}.",
                newest.serial
            ));
            (newest.serial, newest.lineage)
        }
        Err(other) => return Err(other.into()),
    };
    let mut restored = store.load_version(serial).await?;
    if restored.lineage != current_lineage {
        return Err(Failure::refused(format!("version {serial} belongs to lineage {}, the current state to {current_lineage}: not restoring across lineages", restored.lineage)));
    }
    restored.serial = current_serial + 1;
    store.save(&restored).await?;
    printer.out(&format!("Restored version {serial} ({} resources) as serial {}. `cairn plan {environment}` shows what AWS now differs in.", restored.resources.len(), restored.serial));
    Ok(Outcome::Done)
}
