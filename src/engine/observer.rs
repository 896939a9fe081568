//! What an apply reports as it goes. The engine prints nothing: the CLI
//! renders these events (a line each, and on a terminal a status line).

use super::StepError;
use std::time::Duration;

/// One step of a change: a replacement is a delete and a create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Create,
    Update,
    Delete,
}

/// The walk as it stands, for a status line.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub finished: usize,
    pub total: usize,
    /// The steps under way, the longest running first.
    pub under_way: Vec<(String, Step, Duration)>,
}

pub trait Observer: Send + Sync {
    /// A step begins; `id` is the object it acts on (not for a create).
    fn started(&self, address: &str, step: Step, id: Option<&str>);
    /// A step still runs: every `CAIRN_PROGRESS_SECONDS` (10 s) of it.
    fn still_running(&self, address: &str, step: Step, elapsed: Duration);
    fn finished(&self, address: &str, step: Step, elapsed: Duration, id: Option<&str>);
    fn failed(&self, address: &str, step: Step, elapsed: Duration, error: &StepError);
    /// Twice a second while the walk runs; `None` once it has ended.
    fn progress(&self, progress: Option<&Progress>);
    /// A resource whose create was interrupted, found as the stack wants
    /// it and adopted into the state.
    fn adopted(&self, address: &str, id: &str);
}
