//! `cairn apply ENV`, `cairn destroy ENV` and `cairn apply --refresh-only`.

use super::plan::{make, print, redacted, stats};
use super::progress::Terminal;
use super::session::{Context, Needs, Session};
use super::{Failure, Outcome, PlanFlags};
use crate::engine::{self, Report};
use crate::output::Printer;
use crate::plan::{self, Plan};
use crate::state::{self, ImportedFrom, State};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

pub async fn apply(
    context: &Context<'_>,
    environment: &str,
    saved: Option<&Path>,
    auto_approve: bool,
    flags: &PlanFlags,
) -> Result<Outcome, Failure> {
    let mut session = Session::open(context, environment, Needs::locked("apply")).await?;
    execute(&mut session, saved, auto_approve, flags, false).await
}

pub async fn destroy(
    context: &Context<'_>,
    environment: &str,
    auto_approve: bool,
    ignore_consumers: bool,
    flags: &PlanFlags,
) -> Result<Outcome, Failure> {
    let mut session = Session::open(context, environment, Needs::locked("destroy")).await?;
    super::imports::check_consumers(&session, ignore_consumers, context.printer).await?;
    // The stacks imported from: as the state recorded them, and as the
    // stack says now.
    let mut left: Vec<ImportedFrom> = session
        .state
        .as_ref()
        .map(|s| s.imported_from.values().cloned().collect())
        .unwrap_or_default();
    left.extend(super::imports::current(&session.stack).into_values());
    let outcome = execute(&mut session, None, auto_approve, flags, true).await?;
    if outcome == Outcome::Done {
        super::imports::leave(&session, &left, context.printer).await;
    }
    Ok(outcome)
}

async fn execute(
    session: &mut Session<'_>,
    saved: Option<&Path>,
    auto_approve: bool,
    flags: &PlanFlags,
    destroy: bool,
) -> Result<Outcome, Failure> {
    let context = session.context;
    let first = session.state.is_none();
    let mut state = session.state_or_new();
    let imports = if destroy {
        Default::default()
    } else {
        super::imports::read(session).await?
    };
    let plan = match saved {
        Some(path) => saved_plan(session, &mut state, first, path, flags, imports).await?,
        None => {
            let plan = make(
                session.aws(),
                &session.stack,
                &state,
                flags,
                destroy,
                imports,
                context.printer,
            )
            .await?;
            print(&plan, None, context.printer);
            if plan.has_changes() && !auto_approve && !approved(context.printer, destroy)? {
                context.printer.out("Apply cancelled.");
                return Ok(Outcome::Declined);
            }
            plan
        }
    };
    if !state.moved.is_empty() {
        // The stack's moves are saved before anything changes in AWS, so
        // the journal of the steps that follow names the new addresses.
        state.serial += 1;
        session.store().save(&state).await?;
        state.moved.clear();
    }
    if !plan.destroy {
        // Before anything changes: a crash from here on leaves the record.
        super::imports::record(session).await?;
    }
    let observer = Terminal(context.printer);
    engine::adopt_interrupted(&**session.store(), &mut state, &plan, &observer).await?;
    let (report, state) = if plan.has_changes() {
        engine::apply(
            session.aws(),
            &**session.store(),
            state,
            &plan,
            flags.parallelism,
            &observer,
            &context.cancellation,
        )
        .await
    } else {
        (Report::default(), state)
    };
    finish(session, report, state, &plan, flags, destroy).await
}

/// A saved plan, applied only if planning now gives the same plan, from
/// the same cairn, stack and state.
async fn saved_plan(
    session: &Session<'_>,
    state: &mut State,
    first: bool,
    path: &Path,
    flags: &PlanFlags,
    imports: BTreeMap<String, Map<String, Value>>,
) -> Result<Plan, Failure> {
    let printer = session.printer();
    let saved = super::plan::load_saved(path)?;
    if saved.destroy {
        super::imports::check_consumers(session, false, printer).await?;
    }
    if first && saved.state_serial == 0 {
        // A plan made before the first apply: there was no state yet.
        state.lineage = saved.state_lineage.clone();
    }
    let mut reasons = Vec::new();
    if saved.cairn_version != env!("CARGO_PKG_VERSION") {
        reasons.push(format!(
            "it was made by cairn {}, this is {}",
            saved.cairn_version,
            env!("CARGO_PKG_VERSION")
        ));
    }
    if saved.stack_hash != session.stack.hash {
        reasons.push("the stack (or a variable) changed since".to_owned());
    }
    if saved.state_lineage != state.lineage || saved.state_serial != state.serial {
        reasons.push(format!(
            "the state changed since (serial {} then, {} now)",
            saved.state_serial, state.serial
        ));
    }
    let fresh = make(
        session.aws(),
        &session.stack,
        state,
        flags,
        saved.destroy,
        imports,
        printer,
    )
    .await?;
    reasons.extend(changed_lookups(&saved, &fresh));
    if reasons.is_empty() && redacted(&fresh).changes != saved.changes {
        reasons.push("AWS changed since: planning now gives a different plan".to_owned());
    }
    if !reasons.is_empty() {
        return Err(Failure::refused(format!(
            "refusing to apply {}: {}. Make a new plan.",
            path.display(),
            reasons.join("; ")
        )));
    }
    print(&fresh, None, printer);
    Ok(fresh)
}

/// Each lookup that finds something else now than when the plan was made
/// (what the plan shows was decided on what it found then), said by the
/// first of its attributes that differs.
fn changed_lookups(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let mut names: Vec<&String> = saved.lookups.keys().chain(fresh.lookups.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let then = saved.lookups.get(name);
            let now = fresh.lookups.get(name);
            if then == now {
                return None;
            }
            let (Some(then), Some(now)) = (then, now) else {
                return Some(format!("lookup `{name}` was added or removed since"));
            };
            let attribute = then
                .kind
                .attributes()
                .iter()
                .find(|a| then.values.get(**a) != now.values.get(**a))?;
            let show = |found: &crate::model::lookup::Found| {
                found
                    .values
                    .get(*attribute)
                    .map_or("nothing".to_owned(), Value::to_string)
            };
            Some(format!(
                "lookup `{name}` finds something else now ({attribute} {} then, {} now)",
                show(then),
                show(now)
            ))
        })
        .collect()
}

/// After the walk: the outputs saved, and the run reported.
async fn finish(
    session: &Session<'_>,
    report: Report,
    mut state: State,
    plan: &Plan,
    flags: &PlanFlags,
    destroy: bool,
) -> Result<Outcome, Failure> {
    let printer = session.printer();
    // What ran, and what to run again after a failure.
    let command = if destroy || plan.destroy {
        "destroy"
    } else {
        "apply"
    };
    let (outputs, mut imported_from) = if command == "destroy" {
        Default::default()
    } else {
        (
            engine::outputs(&session.stack, &state, plan).map_err(Failure::Refused)?,
            super::imports::current(&session.stack),
        )
    };
    // Stacks imported from are let go only by a run that finished: until
    // then, what is left may still use their values.
    let complete = report.errors.is_empty() && report.not_started.is_empty();
    if !complete {
        for (name, from) in &state.imported_from {
            imported_from
                .entry(name.clone())
                .or_insert_with(|| from.clone());
        }
    }
    let stopped: Vec<ImportedFrom> = state
        .imported_from
        .values()
        .filter(|from| complete && !imported_from.values().any(|now| now == *from))
        .cloned()
        .collect();
    if outputs != state.outputs || imported_from != state.imported_from {
        state.outputs = outputs;
        state.imported_from = imported_from;
        state.serial += 1;
        session.store().save(&state).await?;
    }
    if !destroy {
        super::imports::leave(session, &stopped, printer).await;
    }
    for warning in &report.warnings {
        printer.err(&format!("{} {warning}", printer.paint("33", "Warning:")));
    }
    stats(session.aws(), printer, flags.stats);
    if !report.not_started.is_empty() {
        let mut message = format!(
            "{} interrupted: {} added, {} changed, {} destroyed; {} step(s) not started. The state records every finished step: run {command} again to finish.",
            if command == "destroy" { "Destroy" } else { "Apply" },
            report.added, report.changed, report.destroyed, report.not_started.len()
        );
        for (address, error) in &report.errors {
            message.push_str(&format!("\n  {address}: {error}"));
        }
        for address in &report.not_started {
            message.push_str(&format!("\n  {address}: not started"));
        }
        printer.err(&message);
        return Ok(Outcome::Interrupted);
    }
    if !report.errors.is_empty() {
        return Err(Failure::Steps {
            command,
            errors: report.errors,
            skipped: report.skipped,
        });
    }
    if destroy {
        printer.out(&printer.paint(
            "32;1",
            &format!(
                "Destroy complete! Resources: {} destroyed.",
                report.destroyed
            ),
        ));
    } else {
        printer.out(&printer.paint(
            "32;1",
            &format!(
                "Apply complete! Resources: {} added, {} changed, {} destroyed.",
                report.added, report.changed, report.destroyed
            ),
        ));
        print_outputs(&state, printer);
    }
    Ok(Outcome::Done)
}

fn print_outputs(state: &State, printer: &Printer) {
    if state.outputs.is_empty() {
        return;
    }
    printer.out("\nOutputs:\n");
    for (k, v) in &state.outputs {
        let text = if state::is_redacted(v) {
            "(sensitive value)".to_owned()
        } else {
            v.to_string()
        };
        printer.out(&format!("{k} = {text}"));
    }
}

fn approved(printer: &Printer, destroy: bool) -> Result<bool, Failure> {
    confirm(
        printer,
        if destroy {
            "Do you really want to destroy all resources?"
        } else {
            "Do you want to perform these actions?"
        },
    )
}

fn confirm(printer: &Printer, question: &str) -> Result<bool, Failure> {
    let unattended = std::env::var_os("CI").is_some() || !std::io::stdin().is_terminal();
    if unattended {
        return Err(Failure::refused("this needs approval, and there is no terminal to ask (or CI is set): pass --auto-approve, or apply a reviewed plan with --plan FILE"));
    }
    printer.out(&format!(
        "{question}\n  Only 'yes' will be accepted to approve.\n"
    ));
    print!("  Enter a value: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// `apply --refresh-only`: the live values become the record, for drift
/// that is meant to stay. AWS is not touched.
pub async fn refresh_only(
    context: &Context<'_>,
    environment: &str,
    auto_approve: bool,
) -> Result<Outcome, Failure> {
    let printer = context.printer;
    let mut session =
        Session::open(context, environment, Needs::locked("apply --refresh-only")).await?;
    let mut state = session.state_or_new();
    let refreshed = engine::refresh(session.aws(), &state).await?;
    let drift = plan::drift(crate::types::catalog(), &state, &refreshed);
    printer.out(
        crate::drift::Report {
            environment: session.stack.environment.clone(),
            checked: state.resources.len(),
            drift: drift.clone(),
            unmanaged: Vec::new(),
            ignored: 0,
        }
        .text()
        .trim_end(),
    );
    if drift.is_empty() {
        return Ok(Outcome::Done);
    }
    if !auto_approve
        && !confirm(
            printer,
            "Do you want to record these live values in the state?",
        )?
    {
        printer.out("Refresh cancelled.");
        return Ok(Outcome::Declined);
    }
    let (mut updated, mut removed) = (0, 0);
    for d in &drift {
        match (
            d.kind.as_str(),
            refreshed.resources.get(&d.address).and_then(Option::as_ref),
        ) {
            ("deleted", _) => {
                state.resources.remove(&d.address);
                removed += 1;
            }
            (_, Some(observed)) => {
                if let Some(entry) = state.resources.get_mut(&d.address) {
                    // What the state leaves to others (null) stays so.
                    let mut live = d.live.clone().unwrap_or_default();
                    for (field, value) in entry.attributes.iter() {
                        if value.is_null() {
                            live.insert(field.clone(), Value::Null);
                        }
                    }
                    entry.attributes = live.into();
                    entry.outputs = observed.outputs.clone();
                    updated += 1;
                }
            }
            _ => {}
        }
    }
    state.serial += 1;
    session.store().save(&state).await?;
    printer.out(&printer.paint("32;1", &format!("Refresh complete! Resources: {updated} updated in the state, {removed} removed from it.")));
    Ok(Outcome::Done)
}
