//! `cairn state migrate ENV`: the local state file moved into the shared
//! backend.

use crate::cli::session::{Context, Needs, Session};
use crate::cli::{Failure, Outcome};
use crate::store::{LocalStore, StateStore};
use std::sync::Arc;

pub async fn run(context: &Context<'_>, environment: &str) -> Result<Outcome, Failure> {
    let (global, printer) = (context.global, context.printer);
    let session = Session::load(context, environment)?;
    let stack = &session.stack;
    if stack.state.is_none() || global.local_state {
        return Err(Failure::refused(format!("{} names no shared backend to migrate to: add `state: {{backend: dynamodb, table: NAME}}` to it", stack.file.display())));
    }
    let local = Arc::new(
        LocalStore::new(&global.state_dir, &stack.environment).for_project(&stack.project),
    );
    let session = session.with(Needs::STORE).await?;
    let shared = session.store();
    // Both locks, the local one first.
    let local_store: Arc<dyn StateStore> = local.clone();
    context
        .locks
        .take(&local_store, "state migrate", global)
        .await?;
    context.locks.take(shared, "state migrate", global).await?;
    let state = local.load().await?.ok_or_else(|| {
        Failure::refused(format!("no local state at {} to migrate", local.describe()))
    })?;
    if let Some(existing) = shared.load().await? {
        return Err(Failure::refused(format!(
            "{} already holds a state (serial {}, lineage {}); migrate never overwrites one",
            shared.describe(),
            existing.serial,
            existing.lineage
        )));
    }
    shared.save(&state).await?;
    let moved = local.path().with_extension("json.migrated");
    std::fs::rename(local.path(), &moved).map_err(|e| {
        Failure::refused(format!(
            "migrated, but cannot rename {}: {e}",
            local.describe()
        ))
    })?;
    printer.out(&format!(
        "Migrated {} resources (serial {}) from {} to {}. The local file is now {}.",
        state.resources.len(),
        state.serial,
        local.describe(),
        shared.describe(),
        moved.display()
    ));
    Ok(Outcome::Done)
}
