//! The signals that stop a command.

/// Ctrl-C, or (on Unix) the SIGTERM a CI runner sends when a job is
/// cancelled. The handlers are installed before any work starts, so a
/// signal that arrives while the first lock is being taken is caught too.
pub struct Interrupts {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Interrupts {
    pub fn install() -> Interrupts {
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

    pub async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
