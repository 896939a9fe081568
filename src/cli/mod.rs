//! The commands. Parse, validate, execute; errors become exit codes here
//! and nowhere else.

use crate::aws::{Aws, Settings};
use crate::engine::{self, Report};
use crate::graph::Graph;
use crate::model::ErrorClass;
use crate::output::Printer;
use crate::plan::{self, Options, Plan};
use crate::stack::{self, Stack, VariableOverrides};
use crate::state::{self, LocalStore, State, StateStore};
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
/// With --detailed-exitcode: the plan has changes.
pub const EXIT_CHANGES: i32 = 2;
/// Stopped by an interrupt (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

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
    Graph { environment: String },
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

/// A failure to report: what went wrong, and what to do. Its class, when
/// AWS gave one, travels with it to `run`, which alone turns failures into
/// words and exit statuses.
pub struct Failure {
    pub message: String,
    pub class: Option<ErrorClass>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            class: None,
        }
    }
}

macro_rules! plain_failure {
    ($($error:ty),*) => {$(
        impl From<$error> for Failure {
            fn from(error: $error) -> Failure {
                Failure::new(error.to_string())
            }
        }
    )*};
}
plain_failure!(
    String,
    state::StateError,
    plan::PlanError,
    crate::package::PackageError,
    std::io::Error
);

impl From<crate::aws::AwsError> for Failure {
    fn from(error: crate::aws::AwsError) -> Failure {
        Failure {
            class: Some(error.class),
            message: error.to_string(),
        }
    }
}

impl From<engine::EngineError> for Failure {
    fn from(error: engine::EngineError) -> Failure {
        match error {
            engine::EngineError::Aws(error) => error.into(),
            engine::EngineError::State(error) => error.into(),
        }
    }
}

/// What to do about a failure of this class.
fn advice(class: ErrorClass) -> Option<&'static str> {
    Some(match class {
        ErrorClass::Throttled => "AWS kept throttling after every retry: run again later, or with a lower --parallelism and CAIRN_SERVICE_CONCURRENCY",
        ErrorClass::Unreachable => "no connection could be made: check --endpoint-url / AWS_ENDPOINT_URL, the region and the network",
        ErrorClass::Transient => "AWS kept failing or its answers were lost after every retry: run the command again; it continues from the state",
        ErrorClass::Conflict => "another change to the same resource was under way: run again when it has finished",
        ErrorClass::EventualConsistency => "AWS had not caught up after the retries (a new role, a resource just made): run again in a minute",
        ErrorClass::NotImplemented => "the endpoint does not implement this operation (an emulator?)",
        ErrorClass::Validation => "AWS refused the input: fix the stack",
        ErrorClass::InUse => "AWS still had something using the resource when the wait ended (network interfaces of a deleted function take up to 45 minutes to go): run again later; the state keeps what is left to delete",
        ErrorClass::AlreadyExists
        | ErrorClass::NotFound
        | ErrorClass::PreconditionFailed
        | ErrorClass::Fatal => return None,
    })
}

/// The exit status of a failure. Every failure is 1, as Terraform's are
/// (CI scripts read 0, 1 and 2); the class changes the advice, not the status.
fn exit_status(_class: Option<ErrorClass>) -> i32 {
    EXIT_ERROR
}

pub fn stack_file(global: &Global, environment: &str) -> PathBuf {
    let direct = Path::new(environment);
    if environment.ends_with(".yaml") || environment.ends_with(".yml") {
        direct.to_path_buf()
    } else {
        global.stack_dir.join(format!("{environment}.yaml"))
    }
}

fn overrides(global: &Global) -> Result<VariableOverrides, Failure> {
    let mut out = VariableOverrides::new();
    for (key, value) in std::env::vars() {
        if let Some(name) = key.strip_prefix("CAIRN_VAR_") {
            out.insert(name.to_owned(), value);
        }
    }
    for pair in &global.variables {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| Failure::new(format!("--var expects NAME=VALUE, got `{pair}`")))?;
        out.insert(name.to_owned(), value.to_owned());
    }
    Ok(out)
}

fn load_stack(global: &Global, environment: &str, printer: &Printer) -> Result<Stack, Failure> {
    let file = stack_file(global, environment);
    let stack = stack::load(crate::types::catalog(), &file, &overrides(global)?).map_err(|d| {
        Failure::new(format!(
            "{d}\n\nThe stack is not valid; nothing was changed."
        ))
    })?;
    printer.add_secrets(&stack.secrets);
    Ok(stack)
}

/// Where this environment's state lives: the stack's shared backend, or
/// files in --state-dir.
async fn store(global: &Global, stack: &Stack) -> Result<Box<dyn StateStore>, Failure> {
    match (&stack.state, global.local_state) {
        (Some(backend), false) => {
            let aws = backend_connection(global, stack, backend).await?;
            Ok(Box::new(state::DynamoStore::new(
                std::sync::Arc::new(aws),
                backend,
            )))
        }
        _ => Ok(Box::new(
            LocalStore::new(&global.state_dir, &stack.environment).for_project(&stack.project),
        )),
    }
}

async fn backend_connection(
    global: &Global,
    stack: &Stack,
    backend: &crate::stack::StateBackend,
) -> Result<Aws, Failure> {
    let settings = Settings {
        region: backend
            .region
            .clone()
            .or_else(|| global.region.clone())
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| stack.region.clone()),
        endpoint_url: global.endpoint_url.clone(),
    };
    Aws::connect(&settings)
        .await
        .map_err(|e| Failure::new(format!("state backend: {e}")))
}

async fn connect(global: &Global, stack: &Stack) -> Result<Aws, Failure> {
    let settings = Settings {
        region: global
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| stack.region.clone()),
        endpoint_url: global.endpoint_url.clone(),
    };
    Aws::connect(&settings).await.map_err(Failure::new)
}

/// Holds the state lock for the duration of a command.
struct Lock<'a> {
    store: &'a dyn StateStore,
    id: String,
    printer: &'a Printer,
}

impl<'a> Lock<'a> {
    fn take(
        store: &'a dyn StateStore,
        operation: &str,
        global: &Global,
        printer: &'a Printer,
    ) -> Result<Lock<'a>, Failure> {
        let info = store
            .lock(operation, Duration::from_secs(global.lock_timeout))
            .map_err(|e| match &e {
                // A local lock is the OS's and dies with its holder; a
                // shared one outlives a holder on another machine.
                state::StateError::Locked(held) if held.expires.is_some() => Failure::new(format!(
                    "{e}\nIf that cairn is no longer running: cairn force-unlock ENV {}",
                    held.id
                )),
                _ => Failure::new(e.to_string()),
            })?;
        Ok(Lock {
            store,
            id: info.id,
            printer,
        })
    }
}

impl Drop for Lock<'_> {
    fn drop(&mut self) {
        // A lock left behind blocks the next run: say so, and how to clear it.
        if let Err(error) = self.store.unlock(&self.id) {
            self.printer.err(&format!(
                "{} could not release the state lock {} on {}: {error}\nIf no cairn is running on it, clear it with: cairn force-unlock ENV {}",
                self.printer.paint("33", "Warning:"),
                self.id,
                self.store.describe(),
                self.id
            ));
        }
    }
}

/// Ctrl-C, or (on Unix) the SIGTERM a CI runner sends when a job is
/// cancelled. The handlers are installed before any work starts, so a
/// signal that arrives while the first lock is being taken is caught too.
struct Interrupts {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn install() -> Interrupts {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Interrupts {
                interrupt: signal(SignalKind::interrupt()).expect("installing a SIGINT handler"),
                terminate: signal(SignalKind::terminate()).expect("installing a SIGTERM handler"),
            }
        }
        #[cfg(not(unix))]
        Interrupts {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn run(global: Global, command: Command) -> i32 {
    let printer = Printer::new(global.no_color);
    let mut interrupts = Interrupts::install();
    let work = execute(&global, command, &printer);
    tokio::pin!(work);
    let mut result = tokio::select! {
        result = &mut work => Some(result),
        _ = interrupts.next() => None,
    };
    // During an apply the first interrupt lets the steps under way finish
    // (each is saved as it ends); a second one stops at once.
    if result.is_none() && engine::request_stop() {
        printer.err("Interrupt received: no new step will start; waiting for the steps under way to finish and be saved. Interrupt again to stop at once.");
        result = tokio::select! {
            result = &mut work => Some(result),
            _ = interrupts.next() => None,
        };
    }
    match result {
        Some(Ok(code)) => code,
        Some(Err(failure)) => {
            printer.err(&format!(
                "{} {}",
                printer.paint("31;1", "Error:"),
                failure.message
            ));
            if let Some(advice) = failure.class.and_then(advice) {
                printer.err(&format!("({advice})"));
            }
            exit_status(failure.class)
        }
        None => {
            // Locks are released by their guards as the work future drops;
            // the state already records every finished step and any create
            // that was under way.
            printer.err(
                "Interrupted: state holds every finished step; run the command again to continue.",
            );
            EXIT_INTERRUPTED
        }
    }
}

async fn execute(global: &Global, command: Command, printer: &Printer) -> Result<i32, Failure> {
    match command {
        Command::Validate { environment } => {
            let stack = load_stack(global, &environment, printer)?;
            printer.out(&format!(
                "Success! {} is valid: {} resources.",
                stack.file.display(),
                stack.resources.len()
            ));
            Ok(EXIT_OK)
        }
        Command::Plan {
            environment,
            json,
            out,
            detailed_exitcode,
            destroy,
            flags,
        } => {
            let stack = load_stack(global, &environment, printer)?;
            let store = store(global, &stack).await?;
            let _lock = Lock::take(&*store, "plan", global, printer)?;
            let aws = connect(global, &stack).await?;
            let state = store
                .load()?
                .unwrap_or_else(|| State::new(&stack.project, &stack.environment));
            let plan = make_plan(&aws, &stack, &state, &flags, destroy, printer).await?;
            print_plan(&plan, json.as_deref(), printer);
            if let Some(path) = out {
                save_plan(&plan, &path)?;
                if json.is_none() {
                    printer.out(&format!("Saved the plan to {}. Apply exactly this plan with: cairn apply {environment} --plan {}", path.display(), path.display()));
                }
            }
            stats(&aws, printer, flags.stats);
            Ok(if detailed_exitcode && plan.has_changes() {
                EXIT_CHANGES
            } else {
                EXIT_OK
            })
        }
        Command::Apply {
            environment,
            auto_approve,
            refresh_only: true,
            ..
        } => {
            let stack = load_stack(global, &environment, printer)?;
            self::refresh_only(global, &stack, auto_approve, printer).await
        }
        Command::Apply {
            environment,
            plan: saved,
            auto_approve,
            flags,
            ..
        } => {
            let stack = load_stack(global, &environment, printer)?;
            apply_command(
                global,
                &stack,
                saved.as_deref(),
                auto_approve,
                &flags,
                false,
                printer,
            )
            .await
        }
        Command::Destroy {
            environment,
            auto_approve,
            flags,
        } => {
            let stack = load_stack(global, &environment, printer)?;
            apply_command(global, &stack, None, auto_approve, &flags, true, printer).await
        }
        Command::Drift {
            environment,
            format,
            parallelism: _,
            skip_unmanaged,
        } => {
            let stack = load_stack(global, &environment, printer)?;
            let store = store(global, &stack).await?;
            let _lock = Lock::take(&*store, "drift", global, printer)?;
            let aws = connect(global, &stack).await?;
            let state = store
                .load()?
                .unwrap_or_else(|| State::new(&stack.project, &stack.environment));
            let role_prefix = format!("{}-", stack.project);
            let search = async {
                if skip_unmanaged {
                    return Ok(Vec::new());
                }
                crate::types::owned::find(&aws, &stack.project, &stack.environment, &role_prefix)
                    .await
            };
            let (refreshed, found) = tokio::join!(engine::refresh(&aws, &state), search);
            let refreshed = refreshed?;
            let found = found.map_err(|e| {
                Failure::new(format!("looking for unmanaged resources by their ownership tags: {e}\n(--skip-unmanaged checks the state's resources only)"))
            })?;
            let report = crate::drift::apply_ignores(
                crate::drift::Report {
                    environment: stack.environment.clone(),
                    checked: state.resources.len(),
                    drift: plan::drift(crate::types::catalog(), &state, &refreshed),
                    unmanaged: crate::drift::unmanaged(found, &state, &stack),
                    ignored: 0,
                },
                &stack.drift_ignore,
            );
            let text = match format.as_str() {
                "json" => serde_json::to_string_pretty(&report.json()).expect("json"),
                "markdown" => report.markdown(),
                _ => report.text(),
            };
            printer.out(text.trim_end());
            Ok(if report.in_sync() {
                EXIT_OK
            } else {
                EXIT_CHANGES
            })
        }
        Command::Build { environment } => {
            let stack = load_stack(global, &environment, printer)?;
            let artifacts = build(&stack, printer)?;
            for (address, artifact) in &artifacts {
                printer.out(&format!(
                    "{address}: {} ({} bytes, sha256 {})",
                    artifact.path.display(),
                    artifact.size,
                    artifact.sha256
                ));
            }
            if artifacts.is_empty() {
                printer.out("No function code to build in this stack.");
            }
            Ok(EXIT_OK)
        }
        Command::Graph { environment } => {
            let stack = load_stack(global, &environment, printer)?;
            let graph = Graph::from_resources(&stack.resources);
            printer.out(
                graph
                    .dot(|name| {
                        stack
                            .resource(name)
                            .map_or(name.to_owned(), |r| r.address())
                    })
                    .trim_end(),
            );
            Ok(EXIT_OK)
        }
        Command::Output {
            environment,
            name,
            json,
        } => {
            let stack = load_stack(global, &environment, printer)?;
            let state = store(global, &stack).await?.load()?.ok_or_else(|| {
                Failure::new(format!(
                    "no state for {}: apply it first",
                    stack.environment
                ))
            })?;
            let shown = |v: &serde_json::Value| {
                if state::is_redacted(v) {
                    "(sensitive value)".to_owned()
                } else {
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                }
            };
            match name {
                Some(name) => {
                    let value = state
                        .outputs
                        .get(&name)
                        .ok_or_else(|| Failure::new(format!("no output `{name}` in the state")))?;
                    printer.out(&if json {
                        value.to_string()
                    } else {
                        shown(value)
                    });
                }
                None if json => {
                    printer.out(&serde_json::to_string_pretty(&state.outputs).expect("json"))
                }
                None => {
                    for (k, v) in &state.outputs {
                        printer.out(&format!("{k} = {}", shown(v)));
                    }
                }
            }
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::List { environment }) => {
            let stack = load_stack(global, &environment, printer)?;
            if let Some(state) = store(global, &stack).await?.load()? {
                for (address, entry) in &state.resources {
                    let suffix = if entry.status == state::Status::Creating {
                        "  (create interrupted)"
                    } else {
                        ""
                    };
                    printer.out(&format!("{address}{suffix}"));
                }
            }
            Ok(EXIT_OK)
        }
        Command::Show { plan, json } => {
            let plan = load_saved_plan(&plan)?;
            print_plan(&plan, json.as_deref(), printer);
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::Show {
            environment,
            address,
        }) => {
            let stack = load_stack(global, &environment, printer)?;
            let state = store(global, &stack)
                .await?
                .load()?
                .ok_or_else(|| Failure::new("no state yet"))?;
            let entry = state
                .resources
                .get(&address)
                .ok_or_else(|| Failure::new(format!("no {address} in the state")))?;
            printer.out(&serde_json::to_string_pretty(entry).expect("json"));
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::Rm {
            environment,
            address,
        }) => {
            let stack = load_stack(global, &environment, printer)?;
            let store = store(global, &stack).await?;
            let _lock = Lock::take(&*store, "state rm", global, printer)?;
            let mut state = store.load()?.ok_or_else(|| Failure::new("no state yet"))?;
            let entry = state
                .resources
                .remove(&address)
                .ok_or_else(|| Failure::new(format!("no {address} in the state")))?;
            state.serial += 1;
            store.save(&state)?;
            printer.out(&format!(
                "Removed {address} from the state. It still exists in AWS{}; cairn no longer manages it.",
                entry.id.map(|id| format!(" (id {id})")).unwrap_or_default()
            ));
            Ok(EXIT_OK)
        }
        Command::Import { merge, .. } if !merge.is_empty() => import_merge(global, &merge, printer),
        Command::Import {
            environment: Some(environment),
            from_terraform: Some(tfstate),
            project,
            allow_missing,
            ..
        } => {
            import_terraform(
                global,
                &environment,
                &tfstate,
                &project,
                allow_missing,
                printer,
            )
            .await
        }
        Command::Import {
            environment: Some(environment),
            address: Some(address),
            id: Some(id),
            ..
        } => {
            let stack = load_stack(global, &environment, printer)?;
            let resource = stack
                .resources
                .iter()
                .find(|r| r.address() == address)
                .ok_or_else(|| {
                    Failure::new(format!(
                        "{address} is not in the stack: add it to {} first, then import",
                        stack.file.display()
                    ))
                })?;
            let store = store(global, &stack).await?;
            let _lock = Lock::take(&*store, "import", global, printer)?;
            let aws = connect(global, &stack).await?;
            aws.identity().await?;
            let mut state = store
                .load()?
                .unwrap_or_else(|| State::new(&stack.project, &stack.environment));
            if state.resources.contains_key(&address) {
                return Err(Failure::new(format!("{address} is already in the state; `cairn state rm` it first to import another")));
            }
            let provider = crate::types::provider(resource.type_name());
            let observed = crate::aws::CURRENT_ADDRESS
                .scope(address.clone(), provider.read(&aws, &id))
                .await?
                .ok_or_else(|| {
                    Failure::new(format!("AWS has no {} with id {id}", resource.type_name()))
                })?;
            let mut attributes = (*observed.attributes).clone();
            // What AWS cannot report (a key's deletion window, say) is taken
            // from the stack, as a create would have recorded it.
            for (field, value) in resource.properties.iter() {
                let literal = !crate::model::expr::contains_unknown(value)
                    && !value.to_string().contains("${");
                if !attributes.contains_key(field) && literal {
                    attributes.insert(field.clone(), value.clone());
                }
            }
            state::redact_fields(&mut attributes, &resource.sensitive);
            state.resources.insert(
                address.clone(),
                state::ResourceState {
                    type_name: resource.type_name().to_owned(),
                    name: resource.name.clone(),
                    status: state::Status::Created,
                    id: Some(observed.id.clone()),
                    attributes: attributes.into(),
                    outputs: observed.outputs,
                    dependencies: resource.depends_on.clone(),
                    protect: resource.protect,
                    sensitive: resource.sensitive.clone(),
                    region: resource.region.clone(),
                },
            );
            state.serial += 1;
            store.save(&state)?;
            printer.out(&format!("Imported {address} [id={}]. `cairn plan {environment}` shows how it differs from the stack.", observed.id));
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::InitBackend { environment }) => {
            let stack = load_stack(global, &environment, printer)?;
            let backend = stack.state.as_ref().ok_or_else(|| {
                Failure::new(format!("{} keeps state in local files: add `state: {{backend: dynamodb, table: NAME}}` to it first", stack.file.display()))
            })?;
            let aws = backend_connection(global, &stack, backend).await?;
            let created = state::init_backend(&aws, &backend.table)
                .await
                .map_err(|e| Failure::new(format!("cannot create the state table: {e}")))?;
            printer.out(&if created {
                format!("Created the state table {} (on-demand, point-in-time recovery, KMS encryption, deletion protection). {} now keeps its state under {}.", backend.table, stack.environment, backend.key)
            } else {
                format!("The state table {} already exists; nothing to do.", backend.table)
            });
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::Migrate { environment }) => {
            let stack = load_stack(global, &environment, printer)?;
            if stack.state.is_none() || global.local_state {
                return Err(Failure::new(format!("{} names no shared backend to migrate to: add `state: {{backend: dynamodb, table: NAME}}` to it", stack.file.display())));
            }
            let local =
                LocalStore::new(&global.state_dir, &stack.environment).for_project(&stack.project);
            let shared = store(global, &stack).await?;
            let _local_lock = Lock::take(&local, "state migrate", global, printer)?;
            let _shared_lock = Lock::take(&*shared, "state migrate", global, printer)?;
            let state = local.load()?.ok_or_else(|| {
                Failure::new(format!("no local state at {} to migrate", local.describe()))
            })?;
            if let Some(existing) = shared.load()? {
                return Err(Failure::new(format!("{} already holds a state (serial {}, lineage {}); migrate never overwrites one", shared.describe(), existing.serial, existing.lineage)));
            }
            shared.save(&state)?;
            let moved = local.path().with_extension("json.migrated");
            std::fs::rename(local.path(), &moved).map_err(|e| {
                Failure::new(format!(
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
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::History { environment, json }) => {
            let stack = load_stack(global, &environment, printer)?;
            let versions = store(global, &stack).await?.history()?;
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
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::Restore {
            environment,
            serial,
        }) => {
            let stack = load_stack(global, &environment, printer)?;
            let store = store(global, &stack).await?;
            let _lock = Lock::take(&*store, "state restore", global, printer)?;
            // The current version may be what is damaged: then the newest
            // kept version's record stands in for it.
            let (current_serial, current_lineage) = match store.load() {
                Ok(Some(current)) => (current.serial, current.lineage),
                Ok(None) => return Err(Failure::new("no state yet")),
                Err(damaged @ state::StateError::Corrupt { .. }) => {
                    let newest = store.history()?.into_iter().next().ok_or_else(|| {
                        Failure::new(format!("{damaged}, and no version is kept to restore"))
                    })?;
                    printer.err(&format!(
                        "The current state is damaged ({damaged}); restoring on top of serial {}.",
                        newest.serial
                    ));
                    (newest.serial, newest.lineage)
                }
                Err(other) => return Err(other.into()),
            };
            let mut restored = store.load_version(serial)?;
            if restored.lineage != current_lineage {
                return Err(Failure::new(format!("version {serial} belongs to lineage {}, the current state to {current_lineage}: not restoring across lineages", restored.lineage)));
            }
            restored.serial = current_serial + 1;
            store.save(&restored)?;
            printer.out(&format!("Restored version {serial} ({} resources) as serial {}. `cairn plan {environment}` shows what AWS now differs in.", restored.resources.len(), restored.serial));
            Ok(EXIT_OK)
        }
        Command::State(StateCommand::Verify { environment }) => {
            let stack = load_stack(global, &environment, printer)?;
            let store = store(global, &stack).await?;
            let checked = store.verify()?;
            let damaged = checked.iter().filter(|(_, r)| r.is_err()).count();
            for (serial, result) in &checked {
                match result {
                    Ok(()) => printer.out(&format!("serial {serial}: ok")),
                    Err(problem) => printer.out(&format!("serial {serial}: DAMAGED: {problem}")),
                }
            }
            printer.out(&format!(
                "{}: {} version(s) checked, {damaged} damaged.",
                store.describe(),
                checked.len()
            ));
            Ok(if damaged == 0 { EXIT_OK } else { EXIT_ERROR })
        }
        Command::Import { .. } => Err(Failure::new(
            "cairn import needs ADDRESS and ID, or --from-terraform STATE_FILE",
        )),
        Command::ForceUnlock { environment, id } => {
            let stack = load_stack(global, &environment, printer)?;
            store(global, &stack).await?.unlock(&id)?;
            printer.out(&format!("Released lock {id} on {}.", stack.environment));
            Ok(EXIT_OK)
        }
    }
}

async fn make_plan(
    aws: &Aws,
    stack: &Stack,
    state: &State,
    flags: &PlanFlags,
    destroy: bool,
    printer: &Printer,
) -> Result<Plan, Failure> {
    let mut refreshed = engine::refresh(aws, state).await?;
    if !destroy {
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

/// Builds and packages every function's code (stderr shows progress, so
/// `--json` stays clean on stdout).
fn build(
    stack: &Stack,
    printer: &Printer,
) -> Result<std::collections::BTreeMap<String, crate::package::Artifact>, Failure> {
    Ok(crate::package::prepare(stack, |line| printer.err(line))?)
}

/// The saved form never holds secret values: they are re-derived from the
/// (unchanged) stack at apply time.
fn redacted(plan: &Plan) -> Plan {
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

/// `cairn import --merge ENV...`: one base and a values-only file per
/// environment, checked before anything is replaced.
fn import_merge(
    global: &Global,
    environments: &[String],
    printer: &Printer,
) -> Result<i32, Failure> {
    use crate::import;
    let mut docs = Vec::new();
    let mut originals = Vec::new();
    for environment in environments {
        let file = stack_file(global, environment);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", file.display())))?;
        if !text.starts_with("# Imported by `cairn import --from-terraform") {
            return Err(Failure::new(format!(
                "{} was not written by `cairn import --from-terraform`; merge works on imported stacks",
                file.display()
            )));
        }
        let doc: serde_json::Value = serde_saphyr::from_str(&text)
            .map_err(|e| Failure::new(format!("{}: {e}", file.display())))?;
        let name = doc["environment"]
            .as_str()
            .unwrap_or(environment)
            .to_owned();
        docs.push((name, doc));
        originals.push((file, text));
    }
    let (base, files) = import::merge(&docs).map_err(Failure::new)?;
    let base_file = originals[0].0.with_file_name("base.yaml");
    if base_file.exists()
        || originals
            .iter()
            .any(|(f, _)| f.parent() != base_file.parent())
    {
        return Err(Failure::new(format!(
            "{} exists, or the stacks are in different directories; merge writes base.yaml beside them",
            base_file.display()
        )));
    }
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
    };
    write(&base_file, &import::yaml(&base))?;
    for ((file, _), (_, doc)) in originals.iter().zip(&files) {
        write(file, &import::yaml(doc))?;
    }
    // Each environment must compile as before; otherwise put everything back.
    let mut values = overrides(global)?;
    if let Some(serde_json::Value::Object(variables)) = base.get("variables") {
        for (name, decl) in variables {
            if decl["sensitive"] == true {
                values
                    .entry(name.clone())
                    .or_insert_with(|| "PlaceholderForImportValidation0123456789".into());
            }
        }
    }
    for (file, _) in &originals {
        if let Err(d) = stack::load(crate::types::catalog(), file, &values) {
            for (file, text) in &originals {
                let _ = std::fs::write(file, text);
            }
            let _ = std::fs::remove_file(&base_file);
            return Err(Failure::new(format!("{d}\n\nThe merged stacks do not compile; the imported files are back as they were.")));
        }
    }
    printer.out(&format!(
        "Wrote {} and {} (each sets only `values:`). Plan each environment: nothing in the plan should change.",
        base_file.display(),
        originals.iter().map(|(f, _)| f.display().to_string()).collect::<Vec<_>>().join(", ")
    ));
    Ok(EXIT_OK)
}

/// `cairn import --from-terraform`: the stack file and the state.
async fn import_terraform(
    global: &Global,
    environment: &str,
    tfstate: &Path,
    project: &str,
    allow_missing: bool,
    printer: &Printer,
) -> Result<i32, Failure> {
    use crate::import;
    let file = stack_file(global, environment);
    if file.exists() {
        return Err(Failure::new(format!(
            "{} exists; import writes a new stack file (name another environment, or move it away)",
            file.display()
        )));
    }
    // `-`: what `terraform state pull` prints, piped in.
    let text = if tfstate == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Failure::new(format!("cannot read the state from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(tfstate)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", tfstate.display())))?
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::new(format!("{}: not JSON: {e}", tfstate.display())))?;
    let classified = import::classify(&value)
        .map_err(|e| Failure::new(format!("{}: {e}", tfstate.display())))?;
    let environment_name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(environment)
        .to_owned();
    let settings = Settings {
        region: global
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok()),
        endpoint_url: global.endpoint_url.clone(),
    };
    let aws = Aws::connect(&settings).await.map_err(Failure::new)?;
    aws.identity().await?;
    let mut imported = Vec::new();
    let mut missing = Vec::new();
    for candidate in &classified.candidates {
        let provider = crate::types::provider(candidate.type_name);
        let address = stack::address(candidate.type_name, &candidate.name);
        let observed = crate::aws::CURRENT_ADDRESS
            .scope(address, provider.read(&aws, &candidate.id))
            .await?;
        match observed {
            Some(observed) => imported.push(import::Imported::new(
                candidate.name.clone(),
                candidate.type_name,
                observed,
                &candidate.attributes,
            )),
            None => missing.push(candidate),
        }
    }
    // Only what Terraform's state says a resource depends on may stand for
    // its values by name.
    let cairn_name_of: std::collections::BTreeMap<String, String> = classified
        .candidates
        .iter()
        .map(|c| (import::resource_of(&c.tf_address), c.name.clone()))
        .collect();
    for (r, c) in imported.iter_mut().zip(
        classified
            .candidates
            .iter()
            .filter(|c| !missing.iter().any(|m| m.name == c.name)),
    ) {
        r.depends_on = c
            .dependencies
            .iter()
            .filter_map(|d| cairn_name_of.get(d).cloned())
            .collect();
    }
    let missing: Vec<import::Missing> = missing
        .iter()
        .map(|m| import::Missing {
            tf_address: m.tf_address.clone(),
            why: format!("AWS has no {} with id {}", m.type_name, m.id),
            referred_by: classified
                .candidates
                .iter()
                .filter(|c| c.dependencies.contains(&import::resource_of(&m.tf_address)))
                .map(|c| stack::address(c.type_name, &c.name))
                .collect(),
        })
        .collect();
    if !missing.is_empty() && !allow_missing {
        let mut text =
            String::from("Missing from AWS (in Terraform's state, deleted outside it):\n");
        for m in &missing {
            text.push_str(&format!("  {}: {}\n", m.tf_address, m.why));
            for r in &m.referred_by {
                text.push_str(&format!("    {r} refers to it\n"));
            }
        }
        text.push_str("Nothing was written. Bring Terraform's state up to date (`terraform plan -refresh-only`), or import the rest with --allow-missing: references to what is missing then hold its last value as a literal.");
        return Err(Failure::new(text));
    }
    let tf_addresses: std::collections::BTreeMap<String, String> = classified
        .candidates
        .iter()
        .map(|c| (c.name.clone(), c.tf_address.clone()))
        .collect();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::new(format!("cannot create {}: {e}", parent.display())))?;
    }
    let store: Box<dyn StateStore> =
        Box::new(LocalStore::new(&global.state_dir, &environment_name).for_project(project));
    let _lock = Lock::take(&*store, "import", global, printer)?;
    if store.load()?.is_some() {
        return Err(Failure::new(format!(
            "{environment_name} already has a state; import adopts resources into a new one"
        )));
    }
    let written = import::write_stack(
        &file,
        (
            project,
            &environment_name,
            &aws.region,
            &tfstate.display().to_string(),
        ),
        imported,
        &tf_addresses,
        &overrides(global)?,
    )
    .map_err(Failure::new)?;
    let secrets = &written.sensitive_variables;
    let mut state = State::new(project, &environment_name);
    for r in &written.imported {
        let schema = crate::types::of(r.type_name).schema;
        let sensitive: Vec<String> = schema
            .fields
            .iter()
            .filter(|f| f.sensitive)
            .map(|f| f.name.to_owned())
            .collect();
        let address = stack::address(r.type_name, &r.name);
        state.resources.insert(
            address,
            state::ResourceState {
                type_name: r.type_name.to_owned(),
                name: r.name.clone(),
                status: state::Status::Created,
                id: Some(r.observed.id.clone()),
                attributes: import::recorded(r, &sensitive).into(),
                outputs: r.observed.outputs.clone(),
                dependencies: Vec::new(),
                protect: false,
                sensitive,
                region: None,
            },
        );
    }
    state.serial += 1;
    if let Err(e) = store.save(&state) {
        // A failed import leaves nothing: import again once it is fixed.
        let _ = std::fs::remove_file(&file);
        return Err(e.into());
    }
    printer.out(&import::report(&classified, &written, &missing));
    printer.out(&format!(
        "Wrote {} and the state of {environment_name}. Next: cairn plan {} (it shows only cairn's ownership tags to add).",
        file.display(),
        file.display()
    ));
    if !secrets.is_empty() {
        printer.out(&format!(
            "Set these sensitive variables first (CAIRN_VAR_NAME): {}",
            secrets.join(", ")
        ));
    }
    Ok(EXIT_OK)
}

/// A plan as text, Terraform's JSON plan (one line) or cairn's own JSON,
/// written as it is made. A broken pipe (the reader stopped) is not the
/// plan's failure.
fn print_plan(plan: &Plan, json: Option<&str>, printer: &Printer) {
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

fn save_plan(plan: &Plan, path: &Path) -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure::new(format!("cannot write {}: {e}", path.display()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    serde_json::to_writer_pretty(&mut file, &redacted(plan)).map_err(|e| failed(e.into()))?;
    file.flush().map_err(failed)
}

fn load_saved_plan(path: &Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::new(format!("{} is not a cairn plan: {e}", path.display())))
}

fn stats(aws: &Aws, printer: &Printer, enabled: bool) {
    if !enabled {
        return;
    }
    let snapshot = aws.counter.snapshot();
    let mut per_address: std::collections::BTreeMap<String, Vec<String>> = Default::default();
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

fn confirm(printer: &Printer, question: &str) -> Result<bool, Failure> {
    let unattended = std::env::var_os("CI").is_some() || !std::io::stdin().is_terminal();
    if unattended {
        return Err(Failure::new("this needs approval, and there is no terminal to ask (or CI is set): pass --auto-approve, or apply a reviewed plan with --plan FILE"));
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
async fn refresh_only(
    global: &Global,
    stack: &Stack,
    auto_approve: bool,
    printer: &Printer,
) -> Result<i32, Failure> {
    let store = store(global, stack).await?;
    let _lock = Lock::take(&*store, "apply --refresh-only", global, printer)?;
    let aws = connect(global, stack).await?;
    let mut state = store
        .load()?
        .unwrap_or_else(|| State::new(&stack.project, &stack.environment));
    let refreshed = engine::refresh(&aws, &state).await?;
    let drift = plan::drift(crate::types::catalog(), &state, &refreshed);
    printer.out(
        crate::drift::Report {
            environment: stack.environment.clone(),
            checked: state.resources.len(),
            drift: drift.clone(),
            unmanaged: Vec::new(),
            ignored: 0,
        }
        .text()
        .trim_end(),
    );
    if drift.is_empty() {
        return Ok(EXIT_OK);
    }
    if !auto_approve
        && !confirm(
            printer,
            "Do you want to record these live values in the state?",
        )?
    {
        printer.out("Refresh cancelled.");
        return Ok(EXIT_ERROR);
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
                    entry.attributes = d.live.clone().unwrap_or_default().into();
                    entry.outputs = observed.outputs.clone();
                    updated += 1;
                }
            }
            _ => {}
        }
    }
    state.serial += 1;
    store.save(&state)?;
    printer.out(&printer.paint("32;1", &format!("Refresh complete! Resources: {updated} updated in the state, {removed} removed from it.")));
    Ok(EXIT_OK)
}

async fn apply_command(
    global: &Global,
    stack: &Stack,
    saved: Option<&Path>,
    auto_approve: bool,
    flags: &PlanFlags,
    destroy: bool,
    printer: &Printer,
) -> Result<i32, Failure> {
    let store = store(global, stack).await?;
    let _lock = Lock::take(
        &*store,
        if destroy { "destroy" } else { "apply" },
        global,
        printer,
    )?;
    let aws = connect(global, stack).await?;
    let existing = store.load()?;
    let mut state = existing
        .clone()
        .unwrap_or_else(|| State::new(&stack.project, &stack.environment));
    let plan = match saved {
        Some(path) => {
            let saved = load_saved_plan(path)?;
            if existing.is_none() && saved.state_serial == 0 {
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
            if saved.stack_hash != stack.hash {
                reasons.push("the stack (or a variable) changed since".to_owned());
            }
            if saved.state_lineage != state.lineage || saved.state_serial != state.serial {
                reasons.push(format!(
                    "the state changed since (serial {} then, {} now)",
                    saved.state_serial, state.serial
                ));
            }
            let fresh = make_plan(&aws, stack, &state, flags, saved.destroy, printer).await?;
            if reasons.is_empty() && redacted(&fresh).changes != saved.changes {
                reasons.push("AWS changed since: planning now gives a different plan".to_owned());
            }
            if !reasons.is_empty() {
                return Err(Failure::new(format!(
                    "refusing to apply {}: {}. Make a new plan.",
                    path.display(),
                    reasons.join("; ")
                )));
            }
            print_plan(&fresh, None, printer);
            fresh
        }
        None => {
            let plan = make_plan(&aws, stack, &state, flags, destroy, printer).await?;
            print_plan(&plan, None, printer);
            if plan.has_changes() && !auto_approve {
                let question = if destroy {
                    "Do you really want to destroy all resources?"
                } else {
                    "Do you want to perform these actions?"
                };
                if !confirm(printer, question)? {
                    printer.out("Apply cancelled.");
                    return Ok(EXIT_ERROR);
                }
            }
            plan
        }
    };
    // Resources found after an interrupted create and needing no change
    // are adopted into the state as they are.
    let adopted: Vec<&plan::Change> = plan
        .changes
        .iter()
        .filter(|c| {
            c.action == plan::Action::NoOp
                && state
                    .resources
                    .get(&c.address)
                    .is_some_and(|r| r.status == state::Status::Creating)
        })
        .collect();
    if !adopted.is_empty() {
        for change in adopted {
            if let Some(entry) = state.resources.get_mut(&change.address) {
                entry.status = state::Status::Created;
                entry.id = change.id.clone();
                entry.outputs = change.outputs.clone();
                entry.attributes = change.before.clone().unwrap_or_default();
                state::redact_values(&mut entry.attributes, &change.sensitive);
                printer.out(&format!(
                    "{}: adopted [id={}]",
                    change.address,
                    change.id.clone().unwrap_or_default()
                ));
            }
        }
        state.serial += 1;
        store.save(&state)?;
    }
    let (report, mut state) = if plan.has_changes() {
        engine::apply(&aws, &*store, state, &plan, flags.parallelism, printer).await
    } else {
        (Report::default(), state)
    };
    let outputs = if destroy {
        Default::default()
    } else {
        engine::outputs(stack, &state, &plan).map_err(Failure::new)?
    };
    if outputs != state.outputs {
        state.outputs = outputs;
        state.serial += 1;
        store.save(&state)?;
    }
    for warning in &report.warnings {
        printer.err(&format!("{} {warning}", printer.paint("33", "Warning:")));
    }
    stats(&aws, printer, flags.stats);
    if !report.not_started.is_empty() {
        let mut message = format!(
            "Apply interrupted: {} added, {} changed, {} destroyed; {} step(s) not started. The state records every finished step: run apply again to finish.",
            report.added, report.changed, report.destroyed, report.not_started.len()
        );
        for (address, error) in &report.errors {
            message.push_str(&format!("\n  {address}: {error}"));
        }
        for address in &report.not_started {
            message.push_str(&format!("\n  {address}: not started"));
        }
        printer.err(&message);
        return Ok(EXIT_INTERRUPTED);
    }
    if !report.errors.is_empty() {
        let mut message = String::from("apply failed; the state records everything that finished, so running apply again continues from here.");
        for (address, error) in &report.errors {
            message.push_str(&format!("\n  {address}: {error}"));
        }
        for (address, root) in &report.skipped {
            message.push_str(&format!("\n  {address}: skipped, because {root} failed"));
        }
        // One class for all the root errors: its advice applies.
        let mut classes: Vec<Option<ErrorClass>> =
            report.errors.iter().map(|(_, e)| e.class()).collect();
        classes.dedup();
        return Err(Failure {
            message,
            class: if classes.len() == 1 { classes[0] } else { None },
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
        if !state.outputs.is_empty() {
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
    }
    Ok(EXIT_OK)
}
