//! All user output goes through the printer: colour only on a terminal and
//! never with NO_COLOR, secret values scrubbed from every line, and on a
//! terminal a status line under the log that is redrawn in place.

use std::io::{IsTerminal, Write};

pub struct Printer {
    pub color: bool,
    /// stdout is a terminal: a status line can be redrawn in place.
    pub live: bool,
    secrets: std::sync::RwLock<Vec<String>>,
    status: std::sync::Mutex<String>,
}

/// Erases the current terminal line.
const CLEAR_LINE: &str = "\r\x1b[2K";

impl Printer {
    pub fn new(force_no_color: bool) -> Printer {
        let color = !force_no_color
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal();
        let live =
            std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Printer {
            color,
            live,
            secrets: std::sync::RwLock::new(Vec::new()),
            status: std::sync::Mutex::new(String::new()),
        }
    }

    pub fn add_secrets(&self, secrets: &[String]) {
        self.secrets
            .write()
            .expect("printer lock")
            .extend(secrets.iter().filter(|s| s.len() >= 4).cloned());
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets.read().expect("printer lock").iter() {
            out = out.replace(secret.as_str(), "(sensitive value)");
        }
        out
    }

    pub fn out(&self, text: &str) {
        let status = self.status.lock().expect("status lock");
        let mut stdout = std::io::stdout().lock();
        if status.is_empty() {
            let _ = writeln!(stdout, "{}", self.scrub(text));
        } else {
            let _ = write!(stdout, "{CLEAR_LINE}{}\n{status}", self.scrub(text));
            let _ = stdout.flush();
        }
    }

    /// `out` of a text made in pieces (a plan of thousands of resources):
    /// each piece is written as it comes, the whole never held.
    pub fn out_pieces(&self, make: impl FnOnce(&mut dyn FnMut(&str))) {
        let status = self.status.lock().expect("status lock");
        let mut stdout = std::io::stdout().lock();
        if !status.is_empty() {
            let _ = write!(stdout, "{CLEAR_LINE}");
        }
        make(&mut |piece| {
            let _ = write!(stdout, "{}", self.scrub(piece));
        });
        let _ = writeln!(stdout);
        if !status.is_empty() {
            let _ = write!(stdout, "{status}");
            let _ = stdout.flush();
        }
    }

    pub fn err(&self, text: &str) {
        let status = self.status.lock().expect("status lock");
        if !status.is_empty() {
            let _ = write!(std::io::stdout().lock(), "{CLEAR_LINE}");
            let _ = std::io::stdout().flush();
        }
        let _ = writeln!(std::io::stderr().lock(), "{}", self.scrub(text));
        if !status.is_empty() {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{status}");
            let _ = stdout.flush();
        }
    }

    /// Replaces the status line (on a terminal; elsewhere it is dropped).
    /// An empty text removes it.
    pub fn status(&self, text: &str) {
        if !self.live {
            return;
        }
        let mut status = self.status.lock().expect("status lock");
        *status = self.scrub(text);
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "{CLEAR_LINE}{status}");
        let _ = stdout.flush();
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}
