//! All user output goes through the printer: colour only on a terminal and
//! never with NO_COLOR, and secret values scrubbed from every line.

use std::io::{IsTerminal, Write};

pub struct Printer {
    pub color: bool,
    secrets: std::sync::RwLock<Vec<String>>,
}

impl Printer {
    pub fn new(force_no_color: bool) -> Printer {
        let color = !force_no_color
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal();
        Printer {
            color,
            secrets: std::sync::RwLock::new(Vec::new()),
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
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", self.scrub(text));
    }

    pub fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", self.scrub(text));
    }

    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}
