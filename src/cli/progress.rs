//! How an apply shows its progress: the engine's events as lines, and on a
//! terminal a status line redrawn under them.

use crate::engine::{Observer, Progress, Step, StepError};
use crate::output::Printer;
use std::time::Duration;

/// The engine's observer for a command: renders through the printer.
pub struct Terminal<'a>(pub &'a Printer);

impl Observer for Terminal<'_> {
    fn started(&self, address: &str, step: Step, id: Option<&str>) {
        let verb = match step {
            Step::Create => "Creating...",
            Step::Update => "Modifying...",
            Step::Delete => "Destroying...",
        };
        self.0.out(&format!("{address}: {verb}{}", with_id(id)));
    }

    fn still_running(&self, address: &str, step: Step, elapsed: Duration) {
        // On a terminal the status line shows the elapsed time.
        if self.0.live {
            return;
        }
        let still = match step {
            Step::Create => "Still creating...",
            Step::Update => "Still modifying...",
            Step::Delete => "Still destroying...",
        };
        self.0.out(&format!(
            "{address}: {still} [{}s elapsed]",
            elapsed.as_secs()
        ));
    }

    fn finished(&self, address: &str, step: Step, elapsed: Duration, id: Option<&str>) {
        let done = match step {
            Step::Create => "Creation complete",
            Step::Update => "Modifications complete",
            Step::Delete => "Destruction complete",
        };
        self.0.out(&format!(
            "{address}: {done} after {:.1}s{}",
            elapsed.as_secs_f64(),
            with_id(id)
        ));
    }

    fn failed(&self, address: &str, _step: Step, elapsed: Duration, error: &StepError) {
        self.0.err(&format!(
            "{address}: {} after {:.1}s: {error}",
            self.0.paint("31", "failed"),
            elapsed.as_secs_f64()
        ));
    }

    fn progress(&self, progress: Option<&Progress>) {
        match progress {
            Some(progress) if self.0.live => {
                self.0.status(&status_line(progress, terminal_width()))
            }
            Some(_) => {}
            None => self.0.status(""),
        }
    }

    fn adopted(&self, address: &str, id: &str) {
        self.0.out(&format!("{address}: adopted [id={id}]"));
    }
}

fn with_id(id: Option<&str>) -> String {
    id.map(|id| format!(" [id={id}]")).unwrap_or_default()
}

/// One terminal line: COLUMNS when the shell exports it, else 120.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(120)
        .max(20)
}

/// The live view's line: progress, then what is under way and for how
/// long, cut to `width`.
fn status_line(progress: &Progress, width: usize) -> String {
    let mut line = format!(
        "[{}/{} done, {} in progress]",
        progress.finished,
        progress.total,
        progress.under_way.len()
    );
    for (address, step, elapsed) in &progress.under_way {
        let verb = match step {
            Step::Create => "creating",
            Step::Update => "modifying",
            Step::Delete => "destroying",
        };
        line.push_str(&format!(" {address} ({verb} {}s)", elapsed.as_secs()));
    }
    if line.chars().count() >= width {
        line = line.chars().take(width - 2).collect::<String>() + "…";
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_lists_the_steps_under_way_and_fits_the_terminal() {
        let progress = Progress {
            finished: 3,
            total: 9,
            under_way: vec![
                (
                    "dynamodb_table.t".into(),
                    Step::Create,
                    Duration::from_secs(12),
                ),
                (
                    "iam_role.r".into(),
                    Step::Delete,
                    Duration::from_millis(900),
                ),
            ],
        };
        assert_eq!(
            status_line(&progress, 120),
            "[3/9 done, 2 in progress] dynamodb_table.t (creating 12s) iam_role.r (destroying 0s)"
        );
        assert_eq!(status_line(&progress, 20), "[3/9 done, 2 in pr…");
    }
}
