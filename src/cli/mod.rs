//! The commands, one module each. Parse, validate, execute: each command
//! opens a `Session` (its stack, state store, lock, AWS clients and state)
//! and returns an `Outcome` or a `Failure`; `error.rs` alone turns those
//! into words and exit statuses.

mod apply;
mod build;
mod completions;
mod drift;
mod error;
mod fmt;
mod force_unlock;
mod graph;
mod import;
mod imports;
mod interrupts;
mod output;
mod plan;
mod progress;
mod schema;
mod session;
mod show;
mod state;
mod validate;

pub use error::{Failure, Outcome, EXIT_CHANGES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
pub use session::stack_file;

use crate::engine::Cancellation;
use crate::output::Printer;
use clap::{Args, Subcommand};
use interrupts::Interrupts;
use session::{Context, Locks};
use std::path::PathBuf;

/// Infrastructure for AWS chat backends, from YAML stacks, without Terraform.
#[derive(clap::Parser)]
#[command(name = "cairn", version, about)]
pub struct Arguments {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Directory holding ENV.yaml stack files.
    #[arg(long, global = true, default_value = "stacks", env = "CAIRN_STACK_DIR")]
    pub stack_dir: PathBuf,
    /// Directory for local state files.
    #[arg(long, global = true, default_value = "state", env = "CAIRN_STATE_DIR")]
    pub state_dir: PathBuf,
    /// AWS endpoint (an emulator, for example); the SDK's AWS_ENDPOINT_URL also works.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS region; overrides the stack's `region:` and AWS_REGION.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Set a variable: --var name=value (repeatable; wins over CAIRN_VAR_name).
    #[arg(long = "var", global = true, value_name = "NAME=VALUE")]
    pub variables: Vec<String>,
    /// Seconds to wait for the state lock.
    #[arg(long, global = true, default_value_t = 10)]
    pub lock_timeout: u64,
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Keep state in --state-dir even when the stack names a shared
    /// backend: for experiments, never for a shared environment.
    #[arg(long, global = true, env = "CAIRN_LOCAL_STATE", value_parser = clap::builder::FalseyValueParser::new())]
    pub local_state: bool,
}

#[derive(Args, Clone, Default)]
pub struct PlanFlags {
    /// Allow replacing this protected resource (repeatable).
    #[arg(long = "allow-replace", value_name = "ADDRESS")]
    pub allow_replace: Vec<String>,
    /// Allow destroying this protected resource (repeatable).
    #[arg(long = "allow-destroy", value_name = "ADDRESS")]
    pub allow_destroy: Vec<String>,
    /// Resource steps under way at once in apply and destroy. AWS calls
    /// are paced per service (or per operation, where AWS's quotas are per
    /// operation), adapting to throttling; reads are not bound by this.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// Report AWS API calls per resource on stderr.
    #[arg(long)]
    pub stats: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check a stack completely, without calling AWS.
    Validate { environment: String },
    /// Show what apply would do.
    Plan {
        environment: String,
        /// Print the plan as JSON: Terraform's JSON plan format (the
        /// default, one line, what `terraform show -json` writes), or
        /// `--json=cairn`, cairn's own plan document.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "terraform", value_parser = ["terraform", "cairn"])]
        json: Option<String>,
        /// Save the plan for `apply --plan`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan the destruction of everything in the state.
        #[arg(long)]
        destroy: bool,
        #[command(flatten)]
        flags: PlanFlags,
    },
    /// Show a saved plan (`plan --out`): as text, or as JSON like `plan
    /// --json`. Reads only the file.
    Show {
        plan: PathBuf,
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "terraform", value_parser = ["terraform", "cairn"])]
        json: Option<String>,
    },
    /// Make AWS match the stack.
    Apply {
        environment: String,
        /// Apply this saved plan, and only if nothing changed since it was made.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Accept what is live into the state (drift becomes the record);
        /// changes nothing in AWS.
        #[arg(long, conflicts_with = "plan")]
        refresh_only: bool,
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        flags: PlanFlags,
    },
    /// Delete everything the state holds, in reverse dependency order.
    Destroy {
        environment: String,
        #[arg(long)]
        auto_approve: bool,
        /// Destroy even though other stacks import this one's outputs (their
        /// next plans fail until it is applied again).
        #[arg(long)]
        ignore_consumers: bool,
        #[command(flatten)]
        flags: PlanFlags,
    },
    /// Compare live AWS with the state, changing nothing. Exit 0 in sync,
    /// 2 with drift, 1 on error.
    Drift {
        environment: String,
        /// text, json or markdown.
        #[arg(long, default_value = "text", value_parser = ["text", "json", "markdown"])]
        format: String,
        /// Accepted for scripts written before reads were paced per AWS
        /// service; it has no effect.
        #[arg(long, hide = true)]
        parallelism: Option<usize>,
        /// Compare the state's resources only; do not search for resources
        /// carrying this stack's ownership tags that the state lacks.
        #[arg(long)]
        skip_unmanaged: bool,
    },
    /// Build and package the stack's function code only (for CI caching).
    Build { environment: String },
    /// Print the dependency graph as DOT.
    Graph {
        environment: String,
        /// Draw the stacks and their imports instead of the resources:
        /// this stack, the stacks it imports from, and theirs.
        #[arg(long)]
        stacks: bool,
    },
    /// Print outputs from the state.
    Output {
        environment: String,
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Inspect the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Adopt an existing AWS resource into the state, under an address the
    /// stack defines (its id: a name, a KMS key id, an API id, function/sid).
    /// With --from-terraform STATE_FILE: write the stack file for ENV and a
    /// state adopting every AWS resource of a Terraform state that cairn
    /// can describe (a `terraform.tfstate`; `-` reads `terraform state
    /// pull | cairn import --from-terraform - ENV` from stdin).
    Import {
        #[arg(required_unless_present = "merge")]
        environment: Option<String>,
        #[arg(required_unless_present_any = ["from_terraform", "merge"])]
        address: Option<String>,
        #[arg(required_unless_present_any = ["from_terraform", "merge"])]
        id: Option<String>,
        #[arg(long, value_name = "STATE_FILE", conflicts_with_all = ["address", "id"])]
        from_terraform: Option<PathBuf>,
        /// The project name of the stack written (with --from-terraform).
        #[arg(long, default_value = "imported")]
        project: String,
        /// Import what AWS still holds when resources in the Terraform
        /// state are gone from AWS (with --from-terraform); without it,
        /// such a state is refused and nothing is written.
        #[arg(long, requires = "from_terraform")]
        allow_missing: bool,
        /// Merge stacks imported one environment at a time (`--merge dev
        /// prod`) into `base.yaml` and one file per environment that sets
        /// only `values:`.
        #[arg(long, num_args = 2.., value_name = "ENV", conflicts_with_all = ["environment", "address", "id", "from_terraform"])]
        merge: Vec<String>,
    },
    /// Remove a lock left by a cairn that died.
    ForceUnlock { environment: String, id: String },
    /// Print the JSON Schema of stack files, for editors' YAML plugins
    /// (the repository keeps a copy: stacks/stack.schema.json).
    Schema,
    /// Write stack files in canonical form: keys in the language's order,
    /// double quotes, comments kept. Without paths: every stack under
    /// --stack-dir.
    Fmt {
        /// Stack files, or directories searched for *.yaml.
        paths: Vec<PathBuf>,
        /// Change nothing; list the files that would change and exit 1 if
        /// any would.
        #[arg(long)]
        check: bool,
    },
    /// Print a completion script for a shell: `cairn completions bash >
    /// /etc/bash_completion.d/cairn`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
pub enum StateCommand {
    /// List the addresses in the state.
    List { environment: String },
    /// Show one resource's recorded attributes.
    Show {
        environment: String,
        address: String,
    },
    /// Forget a resource without deleting it from AWS.
    Rm {
        environment: String,
        address: String,
    },
    /// Create the stack's shared state table (on-demand, point-in-time
    /// recovery, KMS encryption, deletion protection).
    InitBackend { environment: String },
    /// Move the local state file into the stack's shared backend.
    Migrate { environment: String },
    /// List the saved versions of the state, newest first.
    History {
        environment: String,
        #[arg(long)]
        json: bool,
    },
    /// Make an earlier version current again (saved as a new version).
    /// Works when the current version is damaged.
    Restore { environment: String, serial: u64 },
    /// Check every kept version of the state: all its pieces present and
    /// matching their checksum. Exit 1 if any is damaged.
    Verify { environment: String },
}

pub async fn run(global: Global, command: Command) -> i32 {
    let printer = Printer::new(global.no_color);
    let mut interrupts = Interrupts::install();
    let context = Context {
        global: &global,
        printer: &printer,
        locks: Locks::default(),
        cancellation: Cancellation::new(),
    };
    let mut work = Box::pin(execute(&context, command));
    let mut result = tokio::select! {
        result = &mut work => Some(result),
        _ = interrupts.next() => None,
    };
    // During an apply the first interrupt lets the steps under way finish
    // (each is saved as it ends); a second one stops at once.
    if result.is_none() && context.cancellation.request() {
        printer.err("Interrupt received: no new step will start; waiting for the steps under way to finish and be saved. Interrupt again to stop at once.");
        result = tokio::select! {
            result = &mut work => Some(result),
            _ = interrupts.next() => None,
        };
    }
    // However the command ended, what it was doing stops here and its
    // locks are released.
    drop(work);
    context.locks.release(&printer).await;
    match result {
        Some(Ok(outcome)) => outcome.code(),
        Some(Err(failure)) => {
            let report = failure.report();
            printer.err(&format!(
                "{} {}",
                printer.paint("31;1", "Error:"),
                report.message
            ));
            if let Some(advice) = report.advice {
                printer.err(&format!("({advice})"));
            }
            report.code
        }
        None => {
            // The state already records every finished step and any create
            // that was under way.
            printer.err(
                "Interrupted: state holds every finished step; run the command again to continue.",
            );
            EXIT_INTERRUPTED
        }
    }
}

/// Each command's future is boxed: nested in one another, the futures of
/// every command made a type too deep for the compiler to lay out without
/// incremental compilation (the error CI met).
async fn execute(context: &Context<'_>, command: Command) -> Result<Outcome, Failure> {
    match command {
        Command::Validate { environment } => validate::run(context, &environment).await,
        Command::Plan {
            environment,
            json,
            out,
            detailed_exitcode,
            destroy,
            flags,
        } => {
            let request = plan::Request {
                json: json.as_deref(),
                out: out.as_deref(),
                detailed_exitcode,
                destroy,
            };
            Box::pin(plan::run(context, &environment, request, &flags)).await
        }
        Command::Show { plan, json } => show::run(context, &plan, json.as_deref()),
        Command::Apply {
            environment,
            auto_approve,
            refresh_only: true,
            ..
        } => Box::pin(apply::refresh_only(context, &environment, auto_approve)).await,
        Command::Apply {
            environment,
            plan: saved,
            auto_approve,
            flags,
            ..
        } => {
            Box::pin(apply::apply(
                context,
                &environment,
                saved.as_deref(),
                auto_approve,
                &flags,
            ))
            .await
        }
        Command::Destroy {
            environment,
            auto_approve,
            ignore_consumers,
            flags,
        } => {
            Box::pin(apply::destroy(
                context,
                &environment,
                auto_approve,
                ignore_consumers,
                &flags,
            ))
            .await
        }
        Command::Drift {
            environment,
            format,
            parallelism: _,
            skip_unmanaged,
        } => Box::pin(drift::run(context, &environment, &format, skip_unmanaged)).await,
        Command::Build { environment } => build::run(context, &environment).await,
        Command::Graph {
            environment,
            stacks,
        } => graph::run(context, &environment, stacks).await,
        Command::Output {
            environment,
            name,
            json,
        } => output::run(context, &environment, name.as_deref(), json).await,
        Command::State(command) => state::run(context, command).await,
        Command::Import { .. } => import::run(context, command).await,
        Command::ForceUnlock { environment, id } => {
            force_unlock::run(context, &environment, &id).await
        }
        Command::Schema => schema::run(context),
        Command::Fmt { paths, check } => fmt::run(context, &paths, check),
        Command::Completions { shell } => completions::run(context, shell),
    }
}
