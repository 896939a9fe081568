//! How a command ends: an outcome, or a failure. `Failure::report` alone
//! turns a failure into words, advice and an exit status; `Outcome::code`
//! alone turns an outcome into an exit status.

use crate::aws::{AwsError, ConnectError};
use crate::engine::{EngineError, StepError};
use crate::model::ErrorClass;
use crate::package::PackageError;
use crate::plan::PlanError;
use crate::stack::Diagnostics;
use crate::store::{InitBackendError, StateError};

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
/// With --detailed-exitcode: the plan has changes.
pub const EXIT_CHANGES: i32 = 2;
/// Stopped by an interrupt (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// A command that ran to its end, and what its exit status says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Changes to make, or drift found (`--detailed-exitcode`, `drift`).
    Changes,
    /// The person asked declined (`apply` without a `yes`).
    Declined,
    /// `state verify` found a damaged version.
    Damaged,
    /// An interrupt stopped an apply between its steps.
    Interrupted,
}

impl Outcome {
    pub fn code(self) -> i32 {
        match self {
            Outcome::Done => EXIT_OK,
            Outcome::Changes => EXIT_CHANGES,
            Outcome::Declined | Outcome::Damaged => EXIT_ERROR,
            Outcome::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

/// Why a command failed, typed up to here.
#[derive(Debug)]
pub enum Failure {
    /// The stack does not compile.
    Stack(Diagnostics),
    /// The stacks `import --merge` wrote do not compile (they are put back).
    MergedStacks(Diagnostics),
    Aws(AwsError),
    Connect(ConnectError),
    /// The connection for the state backend's region.
    BackendConnect(ConnectError),
    State(StateError),
    InitBackend(InitBackendError),
    Plan(PlanError),
    Package(PackageError),
    Io(std::io::Error),
    /// `drift`'s search by ownership tags.
    UnmanagedSearch(AwsError),
    /// Steps of an apply failed: the root errors, and what they skipped.
    Steps {
        /// `apply` or `destroy`: what to run again.
        command: &'static str,
        errors: Vec<(String, StepError)>,
        skipped: Vec<(String, String)>,
    },
    /// A command's own refusal, in its words.
    Refused(String),
}

/// What is said about a failure, and the exit status.
pub struct Report {
    pub message: String,
    pub advice: Option<&'static str>,
    pub code: i32,
}

impl Failure {
    pub fn refused(message: impl Into<String>) -> Failure {
        Failure::Refused(message.into())
    }

    /// The one place a failure becomes words and an exit status. Every
    /// failure is 1, as Terraform's are (CI scripts read 0, 1 and 2); an
    /// AWS error's class changes the advice, not the status.
    pub fn report(&self) -> Report {
        let (message, class) = match self {
            Failure::Stack(diagnostics) => (
                format!("{diagnostics}\n\nThe stack is not valid; nothing was changed."),
                None,
            ),
            Failure::MergedStacks(diagnostics) => (
                format!("{diagnostics}\n\nThe merged stacks do not compile; the imported files are back as they were."),
                None,
            ),
            Failure::Aws(error) => (error.to_string(), Some(error.class)),
            Failure::Connect(error) => (error.to_string(), None),
            Failure::BackendConnect(error) => (format!("state backend: {error}"), None),
            // A local lock is the OS's and dies with its holder; a shared
            // one outlives a holder on another machine.
            Failure::State(error @ StateError::Locked(held)) if held.expires.is_some() => (
                format!(
                    "{error}\nIf that cairn is no longer running: cairn force-unlock ENV {}",
                    held.id
                ),
                None,
            ),
            Failure::State(error) => (error.to_string(), None),
            Failure::InitBackend(error) => {
                (format!("cannot create the state table: {error}"), None)
            }
            Failure::Plan(error) => (error.to_string(), None),
            Failure::Package(error) => (error.to_string(), None),
            Failure::Io(error) => (error.to_string(), None),
            Failure::UnmanagedSearch(error) => (
                format!("looking for unmanaged resources by their ownership tags: {error}\n(--skip-unmanaged checks the state's resources only)"),
                None,
            ),
            Failure::Steps {
                command,
                errors,
                skipped,
            } => steps_failed(command, errors, skipped),
            Failure::Refused(message) => (message.clone(), None),
        };
        Report {
            message,
            advice: class.and_then(advice),
            code: EXIT_ERROR,
        }
    }
}

fn steps_failed(
    command: &str,
    errors: &[(String, StepError)],
    skipped: &[(String, String)],
) -> (String, Option<ErrorClass>) {
    let mut message = format!("{command} failed; the state records everything that finished, so running {command} again continues from here.");
    for (address, error) in errors {
        message.push_str(&format!("\n  {address}: {error}"));
    }
    for (address, root) in skipped {
        if address == root {
            // A replacement whose old one could not be deleted first.
            message.push_str(&format!(
                "\n  {address}: its replacement was not created, as the old one's delete failed"
            ));
        } else {
            message.push_str(&format!("\n  {address}: skipped, because {root} failed"));
        }
    }
    // One class for all the root errors: its advice applies.
    let mut classes: Vec<Option<ErrorClass>> = errors.iter().map(|(_, e)| e.class()).collect();
    classes.dedup();
    let class = if classes.len() == 1 { classes[0] } else { None };
    (message, class)
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
        ErrorClass::Unsettled => "the change reached AWS but did not settle (see the service's events): fix the cause and apply again; the state records what AWS holds",
        ErrorClass::NotEmpty => "a bucket that still holds objects is deleted only with `force_destroy: true` on it: set it in the stack and run the same command again (the delete takes it from the stack and deletes every object version first), or empty the bucket yourself",
        ErrorClass::AlreadyExists
        | ErrorClass::NotFound
        | ErrorClass::PreconditionFailed
        | ErrorClass::Fatal => return None,
    })
}

macro_rules! failure_from {
    ($($variant:ident($error:ty)),*) => {$(
        impl From<$error> for Failure {
            fn from(error: $error) -> Failure {
                Failure::$variant(error)
            }
        }
    )*};
}
failure_from!(
    Aws(AwsError),
    Connect(ConnectError),
    State(StateError),
    InitBackend(InitBackendError),
    Plan(PlanError),
    Package(PackageError),
    Io(std::io::Error)
);

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Failure {
        match error {
            EngineError::Aws(error) => Failure::Aws(error),
            EngineError::State(error) => Failure::State(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_shared_lock_says_how_to_clear_it_and_a_local_one_does_not() {
        let mut held = crate::store::LockInfo::new("apply");
        let local = Failure::State(StateError::Locked(Box::new(held.clone()))).report();
        assert!(!local.message.contains("force-unlock"), "{}", local.message);
        held.expires = Some("2026-01-01T00:00:00Z".into());
        let shared = Failure::State(StateError::Locked(Box::new(held.clone()))).report();
        assert!(
            shared.message.ends_with(&format!(
                "\nIf that cairn is no longer running: cairn force-unlock ENV {}",
                held.id
            )),
            "{}",
            shared.message
        );
        assert_eq!(shared.code, EXIT_ERROR);
    }

    #[test]
    fn an_aws_error_carries_its_class_advice_and_every_failure_exits_1() {
        let throttled = Failure::Aws(AwsError::new(ErrorClass::Throttled, "PutItem", "slow down"));
        let report = throttled.report();
        assert_eq!(report.message, "PutItem: slow down");
        assert!(report.advice.is_some_and(|a| a.contains("throttling")));
        assert_eq!(report.code, EXIT_ERROR);
        // Searching for unmanaged resources keeps its own words, no advice.
        let search =
            Failure::UnmanagedSearch(AwsError::new(ErrorClass::Throttled, "GetResources", "slow"));
        assert_eq!(search.report().advice, None);
        assert_eq!(Outcome::Interrupted.code(), EXIT_INTERRUPTED);
        assert_eq!(Outcome::Changes.code(), EXIT_CHANGES);
    }
}
