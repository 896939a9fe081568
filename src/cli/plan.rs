//! `cairn plan ENV`: what apply would do; and what apply and show share
//! with it (making, printing, saving and reading plans).

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome, PlanFlags};
use crate::aws::Aws;
use crate::engine;
use crate::output::Printer;
use crate::package::Artifact;
use crate::plan::{self, Options, Plan};
use crate::stack::Stack;
use crate::state::{self, State};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// What `cairn plan` was asked for besides the flags it shares with apply.
pub struct Request<'a> {
    pub json: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub detailed_exitcode: bool,
    pub destroy: bool,
}

pub async fn run(
    context: &Context<'_>,
    environment: &str,
    request: Request<'_>,
    flags: &PlanFlags,
) -> Result<Outcome, Failure> {
    let mut session = Session::open(context, environment, Needs::locked("plan")).await?;
    let printer = context.printer;
    let state = session.state_or_new();
    let imports = if request.destroy {
        super::imports::warn_consumers(&session, printer).await?;
        Default::default()
    } else {
        super::imports::read(&session).await?
    };
    let plan = make(
        session.aws(),
        &session.stack,
        &state,
        flags,
        request.destroy,
        imports,
        printer,
    )
    .await?;
    print(&plan, request.json, printer);
    if let Some(path) = request.out {
        save(&plan, path)?;
        if request.json.is_none() {
            printer.out(&format!("Saved the plan to {}. Apply exactly this plan with: cairn apply {environment} --plan {}", path.display(), path.display()));
        }
    }
    stats(session.aws(), printer, flags.stats);
    Ok(
        if request.detailed_exitcode && (plan.has_changes() || plan.has_output_changes()) {
            Outcome::Changes
        } else {
            Outcome::Done
        },
    )
}

/// Refreshes, builds the code (unless destroying) and plans.
pub async fn make(
    aws: &Aws,
    stack: &Stack,
    state: &State,
    flags: &PlanFlags,
    destroy: bool,
    imports: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    printer: &Printer,
) -> Result<Plan, Failure> {
    let mut refreshed = engine::refresh(aws, state).await?;
    refreshed.imports = imports;
    if !destroy {
        refreshed.lookups = read_lookups(aws, stack).await?;
        refreshed.artifacts = build(stack, printer)?;
    }
    let options = Options {
        destroy,
        allow_replace: flags.allow_replace.clone(),
        allow_destroy: flags.allow_destroy.clone(),
    };
    let plan = plan::plan(stack, state, refreshed, &options)?;
    for warning in plan::warnings(crate::types::catalog(), &plan) {
        printer.err(&format!("{} {warning}", printer.paint("33", "Warning:")));
    }
    Ok(plan)
}

/// What the stack's lookups find now. None is read for a destroy: what
/// is not the stack's is left as it is.
async fn read_lookups(
    aws: &Aws,
    stack: &Stack,
) -> Result<BTreeMap<String, crate::model::lookup::Found>, Failure> {
    if stack.lookups.is_empty() {
        return Ok(BTreeMap::new());
    }
    // Lookups that build ARNs need the account.
    aws.identity().await?;
    engine::lookups::read(aws, &stack.lookups)
        .await
        .map_err(|error| match error {
            engine::lookups::LookupError::Aws(error) => Failure::Aws(error),
            engine::lookups::LookupError::NotOne(message) => Failure::refused(message),
        })
}

/// Builds and packages every function's code (stderr shows progress, so
/// `--json` stays clean on stdout).
pub fn build(stack: &Stack, printer: &Printer) -> Result<BTreeMap<String, Artifact>, Failure> {
    Ok(crate::package::prepare(stack, |line| printer.err(line))?)
}

/// The saved form never holds secret values: they are re-derived from the
/// (unchanged) stack at apply time.
pub fn redacted(plan: &Plan) -> Plan {
    let mut plan = plan.clone();
    for change in &mut plan.changes {
        if change.sensitive.is_empty() {
            continue;
        }
        for values in [&mut change.before, &mut change.after]
            .into_iter()
            .flatten()
        {
            state::redact_entries(values, &change.sensitive, &change.sensitive_keys);
        }
    }
    for name in &plan.sensitive_outputs {
        if let Some(value) = plan.outputs.get_mut(name) {
            *value = state::redact(value);
        }
    }
    plan
}

/// A plan as text, Terraform's JSON plan (one line) or cairn's own JSON,
/// written as it is made. A broken pipe (the reader stopped) is not the
/// plan's failure.
pub fn print(plan: &Plan, json: Option<&str>, printer: &Printer) {
    match json {
        None => {
            let _ = printer.out_written(|out| {
                let mut written = Ok(());
                plan::render_to(crate::types::catalog(), plan, printer.color, &mut |piece| {
                    if written.is_ok() {
                        written = out.write_all(piece.as_bytes());
                    }
                });
                written
            });
        }
        Some("cairn") => {
            let _ = printer.out_written(|out| {
                serde_json::to_writer_pretty(out, &redacted(plan)).map_err(std::io::Error::from)
            });
        }
        Some(_) => {
            let _ = printer
                .out_written(|out| plan::write_terraform_json(crate::types::catalog(), plan, out));
        }
    }
}

fn save(plan: &Plan, path: &Path) -> Result<(), Failure> {
    let failed =
        |e: std::io::Error| Failure::refused(format!("cannot write {}: {e}", path.display()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    serde_json::to_writer_pretty(&mut file, &redacted(plan)).map_err(|e| failed(e.into()))?;
    file.flush().map_err(failed)
}

pub fn load_saved(path: &Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::refused(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::refused(format!("{} is not a cairn plan: {e}", path.display())))
}

/// `--stats`: AWS API calls per resource, and the lanes AWS throttled.
pub fn stats(aws: &Aws, printer: &Printer, enabled: bool) {
    if !enabled {
        return;
    }
    let snapshot = aws.counter.snapshot();
    let mut per_address: BTreeMap<String, Vec<String>> = Default::default();
    for ((address, operation), count) in &snapshot {
        per_address
            .entry(address.clone())
            .or_default()
            .push(format!("{operation}×{count}"));
    }
    printer.err(&format!(
        "API calls: {} in all, {} mutating",
        aws.counter.total(),
        aws.counter.mutating()
    ));
    for (address, operations) in per_address {
        printer.err(&format!("  {address}: {}", operations.join(" ")));
    }
    for lane in aws.throttled_lanes() {
        printer.err(&format!(
            "Throttled: {} ({} answers; settled at {:.1} requests/s)",
            lane.key,
            lane.throttled,
            lane.rate.unwrap_or_default()
        ));
    }
}
