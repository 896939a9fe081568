//! An interrupt, handed to the engine as a value: the CLI requests it (from
//! its Ctrl-C / SIGTERM handler), an apply's walk asks it before starting
//! each step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared by the CLI and the apply it started. Two bits: whether a stop
/// was asked for, and whether a walk is under way that can stop gently (let
/// its steps under way finish and be saved); with none, the caller stops
/// at once.
#[derive(Clone, Default)]
pub struct Cancellation(Arc<Flags>);

#[derive(Default)]
struct Flags {
    requested: AtomicBool,
    walking: AtomicBool,
}

impl Cancellation {
    pub fn new() -> Cancellation {
        Cancellation::default()
    }

    /// Asks a walk under way to stop starting steps. False when no walk is
    /// under way (the caller then stops at once).
    pub fn request(&self) -> bool {
        if self.0.walking.load(Ordering::SeqCst) {
            self.0.requested.store(true, Ordering::SeqCst);
            true
        } else {
            false
        }
    }

    pub fn is_requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Marks a walk under way until the returned guard is dropped.
    pub(crate) fn walking(&self) -> Walking<'_> {
        self.0.walking.store(true, Ordering::SeqCst);
        Walking(self)
    }
}

pub(crate) struct Walking<'a>(&'a Cancellation);

impl Drop for Walking<'_> {
    fn drop(&mut self) {
        self.0 .0.walking.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::Cancellation;

    #[test]
    fn a_stop_is_taken_only_while_a_walk_is_under_way() {
        let cancellation = Cancellation::new();
        assert!(!cancellation.request());
        assert!(!cancellation.is_requested());
        let walking = cancellation.walking();
        assert!(cancellation.clone().request());
        assert!(cancellation.is_requested());
        drop(walking);
        assert!(!Cancellation::new().request());
    }
}
