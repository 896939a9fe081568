//! Stacks that use each other's outputs: the values a stack imports, read
//! from the other stacks' states (never by planning them), and the records
//! by which a stack that is imported from learns who uses it.
//!
//! A consumer records itself in the store of each stack it imports from
//! when it applies (before it changes anything, so a crash leaves the
//! record), and removes the record once it is destroyed. Each record is
//! the consumer's own file or item: writing it never takes the other
//! stack's lock.

use super::session::{store_of, Session, StoreOf};
use super::Failure;
use crate::model::expr::{self, Reference};
use crate::output::Printer;
use crate::plan::resolve;
use crate::stack::{Import, Stack, StateBackend};
use crate::state::{self, ImportedFrom, State};
use crate::store::{Consumer, StateStore};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Where an imported stack keeps its state, as the consumer's state
/// records it.
pub fn imported_from(import: &Import) -> ImportedFrom {
    ImportedFrom {
        file: import.file.display().to_string(),
        project: import.project.clone(),
        environment: import.environment.clone(),
        region: import.region.clone(),
        table: import.backend.as_ref().map(|b| b.table.clone()),
        key: import.backend.as_ref().map(|b| b.key.clone()),
        table_region: import.backend.as_ref().and_then(|b| b.region.clone()),
        directory: import.directory.as_ref().map(|d| d.display().to_string()),
    }
}

/// What the stack imports from now, by import name.
pub fn current(stack: &Stack) -> BTreeMap<String, ImportedFrom> {
    stack
        .imports
        .iter()
        .map(|(name, import)| (name.clone(), imported_from(import)))
        .collect()
}

async fn store_from(
    session: &Session<'_>,
    from: &ImportedFrom,
) -> Result<Arc<dyn StateStore>, Failure> {
    // Only loads and consumer records go through it: the lease and the
    // versions kept are the producer's business.
    let backend = from.table.as_ref().map(|table| StateBackend {
        table: table.clone(),
        key: from.key.clone().unwrap_or_default(),
        region: from.table_region.clone(),
        lock_lease_seconds: 120,
        keep_versions: 100,
    });
    let directory = from.directory.as_ref().map(PathBuf::from);
    store_of(
        session.context.global,
        StoreOf {
            project: &from.project,
            environment: &from.environment,
            region: from.region.as_deref(),
            backend: backend.as_ref(),
            directory: directory.as_deref(),
        },
    )
    .await
}

/// Where an imported stack keeps its state.
async fn store(session: &Session<'_>, import: &Import) -> Result<Arc<dyn StateStore>, Failure> {
    store_from(session, &imported_from(import)).await
}

/// Every import's outputs, from the imported stacks' states: by import
/// name, then output. A stack with no state yet is an error naming it and
/// the command that applies it.
pub async fn read(session: &Session<'_>) -> Result<BTreeMap<String, Map<String, Value>>, Failure> {
    let stack = &session.stack;
    let mut out = BTreeMap::new();
    for import in stack.imports.values() {
        let store = store(session, import).await?;
        let Some(state) = store.load().await? else {
            return Err(Failure::refused(no_state(stack, import, &store.describe())));
        };
        let mut values = Map::new();
        for output in &import.outputs {
            let Some(value) = state.outputs.get(output) else {
                return Err(Failure::refused(format!(
                    "import `{}` ({}:{}): the state of {} holds no output `{output}`: its stack declares it, but it was not applied since. Apply it first:\n  cairn apply {}",
                    import.name,
                    import.declared_in.display(),
                    import.line,
                    import.file.display(),
                    import.file.display(),
                )));
            };
            let value = if state::is_redacted(value) {
                let found = sensitive_value(session, import, output, &state, value).await?;
                if let Some(text) = found.as_str() {
                    session.printer().add_secrets(&[text.to_owned()]);
                }
                found
            } else {
                value.clone()
            };
            values.insert(output.clone(), value);
        }
        out.insert(import.name.clone(), values);
    }
    Ok(out)
}

/// A sensitive output, whose stack's state keeps only its hash: found
/// again from the resources it is made of, read live (their recorded ids
/// from that state), and taken only if its hash is the one recorded.
async fn sensitive_value(
    session: &Session<'_>,
    import: &Import,
    output: &str,
    state: &State,
    recorded: &Value,
) -> Result<Value, Failure> {
    let cannot = |why: &str| {
        Failure::refused(format!(
            "import `{}` ({}:{}): output `{output}` of {} is sensitive, and its state keeps only a hash of it: {why}",
            import.name,
            import.declared_in.display(),
            import.line,
            import.file.display(),
        ))
    };
    let from_variable = "it is made from a sensitive variable of that stack, which cairn keeps nowhere: give this stack the value as a sensitive variable too";
    let source = import
        .sensitive_sources
        .get(output)
        .ok_or_else(|| cannot(from_variable))?;
    let mut partial = State::new(&state.project, &state.environment);
    for address in source.addresses.values() {
        if let Some(entry) = state.resources.get(address) {
            partial.resources.insert(address.clone(), entry.clone());
        }
    }
    let refreshed = crate::engine::refresh(session.aws(), &partial).await?;
    let account = refreshed.account();
    let mut lookup = |reference: &Reference| {
        resolve::lookup(reference, &account, |root, attribute| {
            let observed = refreshed
                .resources
                .get(source.addresses.get(root)?)?
                .as_ref()?;
            observed
                .outputs
                .get(attribute)
                .or_else(|| observed.attributes.get(attribute))
                .cloned()
        })
    };
    let value = expr::evaluate_value(&source.value, &mut lookup).map_err(|e| cannot(&e))?;
    if expr::contains_unknown(&value) {
        return Err(cannot(from_variable));
    }
    if state::redact(&value) != *recorded {
        return Err(cannot(&format!(
            "what AWS holds now is not what its last apply recorded. Apply it first:\n  cairn apply {}",
            import.file.display()
        )));
    }
    Ok(value)
}

fn no_state(stack: &Stack, import: &Import, place: &str) -> String {
    format!(
        "import `{}` ({}:{}): stack {} (project `{}`, environment `{}`) has no state yet ({place}): apply it before {}:\n  cairn apply {}",
        import.name,
        import.declared_in.display(),
        import.line,
        import.file.display(),
        import.project,
        import.environment,
        stack.file.display(),
        import.file.display(),
    )
}

/// Records this stack as a consumer in each imported stack's store.
pub async fn record(session: &Session<'_>) -> Result<(), Failure> {
    let stack = &session.stack;
    for import in stack.imports.values() {
        let consumer = Consumer::new(
            session.store().identity(),
            &stack.file.display().to_string(),
            &import.name,
            &import.outputs,
        );
        store(session, import)
            .await?
            .add_consumer(&consumer)
            .await?;
    }
    Ok(())
}

/// Removes this stack's records from the stacks in `left`: those it was
/// destroyed from, or stopped importing from. Its own change is done
/// either way: a record that cannot be removed is a warning.
pub async fn leave(session: &Session<'_>, left: &[ImportedFrom], printer: &Printer) {
    let id = session.store().identity();
    let mut done: Vec<&ImportedFrom> = Vec::new();
    for from in left {
        if done.contains(&from) {
            continue;
        }
        done.push(from);
        let removed = match store_from(session, from).await {
            Ok(store) => store.remove_consumer(&id).await.map_err(Failure::State),
            Err(failure) => Err(failure),
        };
        if let Err(failure) = removed {
            printer.err(&format!(
                "{} could not remove this stack from the consumers of {}: {}",
                printer.paint("33", "Warning:"),
                from.file,
                failure.report().message
            ));
        }
    }
}

/// Destroy refuses while other stacks record that they use this one's
/// outputs, unless `ignore` (`--ignore-consumers`).
pub async fn check_consumers(
    session: &Session<'_>,
    ignore: bool,
    printer: &Printer,
) -> Result<(), Failure> {
    let consumers = session.store().consumers().await?;
    if consumers.is_empty() {
        return Ok(());
    }
    let list = consumers_text(&consumers);
    if ignore {
        printer.err(&format!(
            "{} destroying outputs that other stacks still use (--ignore-consumers):\n{list}\nTheir next plans fail until this stack is applied again.",
            printer.paint("33", "Warning:")
        ));
        return Ok(());
    }
    let commands: Vec<String> = consumers
        .iter()
        .map(|c| format!("  cairn destroy {}", c.stack))
        .collect();
    Err(Failure::refused(format!(
        "refusing to destroy {}: other stacks' states still use its outputs:\n{list}\nDestroy them first:\n{}\nor pass --ignore-consumers to destroy it anyway. Nothing was changed.",
        session.stack.file.display(),
        commands.join("\n")
    )))
}

/// `plan --destroy`: the plan is shown, and what would refuse it said.
pub async fn warn_consumers(session: &Session<'_>, printer: &Printer) -> Result<(), Failure> {
    let consumers = session.store().consumers().await?;
    if !consumers.is_empty() {
        printer.err(&format!(
            "{} destroy will refuse while other stacks use this one's outputs (--ignore-consumers overrides):\n{}",
            printer.paint("33", "Warning:"),
            consumers_text(&consumers)
        ));
    }
    Ok(())
}

pub fn consumers_text(consumers: &[Consumer]) -> String {
    consumers
        .iter()
        .map(|c| {
            format!(
                "  {} ({}) imports {} as `{}`",
                c.id,
                c.stack,
                c.outputs.join(", "),
                c.import
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
