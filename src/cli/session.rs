//! What a command works on, built once by `Session::open`: the stack, the
//! state store and its lock, the AWS clients and the state.

use super::{Failure, Global};
use crate::aws::{Aws, Settings};
use crate::engine::Cancellation;
use crate::output::Printer;
use crate::stack::{self, Stack, StateBackend, VariableOverrides};
use crate::state::State;
use crate::store::{DynamoStore, LocalStore, StateStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What every command is given: the options, the printer, and the locks
/// it takes (released by `run`).
pub struct Context<'a> {
    pub global: &'a Global,
    pub printer: &'a Printer,
    pub locks: Locks,
    /// Requested by the first interrupt; an apply's walk then starts no
    /// new step.
    pub cancellation: Cancellation,
}

/// The state locks a command holds. `run` releases them when the command
/// ends, however it ends (done, failed, or dropped at an interrupt):
/// releasing is a request to the store, which no `Drop` could wait for.
#[derive(Clone, Default)]
pub struct Locks(Arc<std::sync::Mutex<Vec<HeldLock>>>);

/// A store, and the id of the lock this run holds on it.
type HeldLock = (Arc<dyn StateStore>, String);

impl Locks {
    /// Takes `store`'s lock for `operation`, held until `release`.
    pub async fn take(
        &self,
        store: &Arc<dyn StateStore>,
        operation: &str,
        global: &Global,
    ) -> Result<(), Failure> {
        let info = store
            .lock(operation, Duration::from_secs(global.lock_timeout))
            .await?;
        self.0
            .lock()
            .expect("locks")
            .push((Arc::clone(store), info.id));
        Ok(())
    }

    /// Releases every lock taken, the last taken first.
    pub async fn release(&self, printer: &Printer) {
        let held = std::mem::take(&mut *self.0.lock().expect("locks"));
        for (store, id) in held.into_iter().rev() {
            // A lock left behind blocks the next run: say so, and how to clear it.
            if let Err(error) = store.unlock(&id).await {
                printer.err(&format!(
                    "{} could not release the state lock {id} on {}: {error}\nIf no cairn is running on it, clear it with: cairn force-unlock ENV {id}",
                    printer.paint("33", "Warning:"),
                    store.describe(),
                ));
            }
        }
    }
}

/// What a command needs besides its stack. `Session::open` takes them in
/// this order: the store, its lock, the AWS clients, the state.
#[derive(Clone, Copy)]
pub struct Needs {
    pub store: bool,
    /// The state lock, for this operation.
    pub lock: Option<&'static str>,
    pub aws: bool,
    pub state: bool,
}

impl Needs {
    pub const STACK: Needs = Needs {
        store: false,
        lock: None,
        aws: false,
        state: false,
    };
    pub const STORE: Needs = Needs {
        store: true,
        ..Needs::STACK
    };
    pub const STATE: Needs = Needs {
        state: true,
        ..Needs::STORE
    };
    /// The store under the lock for `operation`, AWS and the state.
    pub const fn locked(operation: &'static str) -> Needs {
        Needs {
            store: true,
            lock: Some(operation),
            aws: true,
            state: true,
        }
    }
}

pub struct Session<'a> {
    pub context: &'a Context<'a>,
    pub stack: Stack,
    store: Option<Arc<dyn StateStore>>,
    aws: Option<Aws>,
    /// The state, when asked for; `None` when there is none yet.
    pub state: Option<State>,
}

impl<'a> Session<'a> {
    /// The stack of `environment`, and what `needs` asks for.
    pub async fn open(
        context: &'a Context<'a>,
        environment: &str,
        needs: Needs,
    ) -> Result<Session<'a>, Failure> {
        Session::load(context, environment)?.with(needs).await
    }

    /// The stack alone, for a command that checks it before it goes on
    /// with `with`.
    pub fn load(context: &'a Context<'a>, environment: &str) -> Result<Session<'a>, Failure> {
        let file = stack_file(context.global, environment);
        let stack = stack::load(crate::types::catalog(), &file, &overrides(context.global)?)
            .map_err(Failure::Stack)?;
        context.printer.add_secrets(&stack.secrets);
        Ok(Session {
            context,
            stack,
            store: None,
            aws: None,
            state: None,
        })
    }

    pub async fn with(mut self, needs: Needs) -> Result<Session<'a>, Failure> {
        let global = self.context.global;
        if needs.store || needs.lock.is_some() || needs.state {
            let store = store(global, &self.stack).await?;
            if let Some(operation) = needs.lock {
                self.context.locks.take(&store, operation, global).await?;
            }
            self.store = Some(store);
        }
        if needs.aws {
            self.aws = Some(Aws::connect(&settings(global, self.stack.region.as_deref())).await?);
        }
        if needs.state {
            self.state = self.store().load().await?;
            if let Some(state) = self.state.as_mut() {
                let moves = self.stack.moved.iter();
                state.apply_moves(moves.map(|m| (m.from.as_str(), m.to.as_str())));
            }
        }
        Ok(self)
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        self.store
            .as_ref()
            .expect("a command uses the store it asked for")
    }

    pub fn aws(&self) -> &Aws {
        self.aws
            .as_ref()
            .expect("a command uses the AWS clients it asked for")
    }

    /// The state loaded, or a new one when there is none yet.
    pub fn state_or_new(&mut self) -> State {
        self.state
            .take()
            .unwrap_or_else(|| State::new(&self.stack.project, &self.stack.environment))
    }

    pub fn printer(&self) -> &'a Printer {
        self.context.printer
    }
}

pub fn stack_file(global: &Global, environment: &str) -> PathBuf {
    let direct = Path::new(environment);
    if environment.ends_with(".yaml") || environment.ends_with(".yml") {
        direct.to_path_buf()
    } else {
        global.stack_dir.join(format!("{environment}.yaml"))
    }
}

pub fn overrides(global: &Global) -> Result<VariableOverrides, Failure> {
    let mut out = VariableOverrides::new();
    for (key, value) in std::env::vars() {
        if let Some(name) = key.strip_prefix("CAIRN_VAR_") {
            out.insert_from_environment(name.to_owned(), value);
        }
    }
    for pair in &global.variables {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| Failure::refused(format!("--var expects NAME=VALUE, got `{pair}`")))?;
        out.insert(name.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// Where AWS is: --region, then AWS_REGION, then the stack's `region:`.
pub fn settings(global: &Global, stack_region: Option<&str>) -> Settings {
    Settings {
        region: global
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| stack_region.map(str::to_owned)),
        endpoint_url: global.endpoint_url.clone(),
    }
}

/// Where this environment's state lives: the stack's shared backend, or
/// files in its `state.directory` or --state-dir.
pub async fn store(global: &Global, stack: &Stack) -> Result<Arc<dyn StateStore>, Failure> {
    store_of(
        global,
        StoreOf {
            project: &stack.project,
            environment: &stack.environment,
            region: stack.region.as_deref(),
            backend: stack.state.as_ref(),
            directory: stack.state_directory.as_deref(),
        },
    )
    .await
}

/// What says where a stack's state lives: its own, or an imported one's.
pub struct StoreOf<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub region: Option<&'a str>,
    pub backend: Option<&'a StateBackend>,
    pub directory: Option<&'a Path>,
}

pub async fn store_of(global: &Global, of: StoreOf<'_>) -> Result<Arc<dyn StateStore>, Failure> {
    match (of.backend, global.local_state) {
        (Some(backend), false) => {
            let aws = backend_connection(global, of.region, backend).await?;
            Ok(Arc::new(DynamoStore::new(Arc::new(aws), backend)))
        }
        _ => Ok(Arc::new(
            LocalStore::new(of.directory.unwrap_or(&global.state_dir), of.environment)
                .for_project(of.project),
        )),
    }
}

/// The connection for the state backend: its own region first, then the
/// stack's.
pub async fn backend_connection(
    global: &Global,
    stack_region: Option<&str>,
    backend: &StateBackend,
) -> Result<Aws, Failure> {
    let mut settings = settings(global, stack_region);
    if let Some(region) = &backend.region {
        settings.region = Some(region.clone());
    }
    Aws::connect(&settings)
        .await
        .map_err(Failure::BackendConnect)
}
