//! cairn killed mid-apply, with no chance to save its state or release
//! its lock: the one crash loop every crash test runs.

use super::*;
use std::process::Stdio;
use std::time::Duration;

/// Runs `apply` (`["apply", stack, ...]`) one step at a time, once per
/// address, each run killed right after AWS created that address and before
/// the state recorded it (`CAIRN_FAULT_ABORT_AFTER_CREATE` aborts the
/// process, as kill -9 would). The addresses go in the order the walk takes
/// them, so each run dies at the next one. Every run must die having
/// started that create; the runs are returned for the test's own checks.
/// The apply that finishes the job is the test's: it checks what the
/// crashes left first.
pub fn kill_after_each_create(test: &Test, apply: &[&str], addresses: &[&str]) -> Vec<Run> {
    let mut runs = Vec::new();
    for address in addresses {
        let run = test.cairn_with(
            &[apply, &["--parallelism", "1"]].concat(),
            &[("CAIRN_FAULT_ABORT_AFTER_CREATE", address)],
        );
        assert_ne!(run.code, 0, "{address} did not crash:\n{}", run.stdout);
        assert!(
            run.stdout.contains(&format!("{address}: Creating")),
            "{}",
            run.stdout
        );
        runs.push(run);
    }
    runs
}

/// Starts `apply` once per delay and kills it (SIGKILL) that many
/// milliseconds later: crashes at moments chosen by the clock rather than
/// by the walk.
pub fn kill_after_each_delay(test: &Test, apply: &[&str], delays_in_milliseconds: &[u64]) {
    for delay in delays_in_milliseconds {
        let mut child = test
            .command(apply)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay));
        let _ = child.kill();
        let _ = child.wait();
    }
}
