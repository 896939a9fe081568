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

    /// `out` of a text a writer makes (a JSON plan of thousands of
    /// resources), passed on as it comes. Secrets are scrubbed as `out`
    /// does: the last bytes, as many as the longest secret has, wait for
    /// what follows them, so that a secret split between two writes is
    /// still found.
    pub fn out_written(
        &self,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let longest = self
            .secrets
            .read()
            .expect("printer lock")
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0);
        let mut result = Ok(());
        self.out_raw(|stdout| {
            let mut pieces = Pieces {
                printer: self,
                out: stdout,
                pending: Vec::new(),
                hold: longest,
            };
            result = write(&mut pieces).and_then(|()| pieces.pass_on(true));
        });
        result
    }

    /// Writes what `write` writes, then a newline, under the status line.
    fn out_raw(&self, write: impl FnOnce(&mut dyn Write)) {
        let status = self.status.lock().expect("status lock");
        let mut stdout = std::io::stdout().lock();
        if !status.is_empty() {
            let _ = write!(stdout, "{CLEAR_LINE}");
        }
        write(&mut stdout);
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

/// Bytes on their way to stdout, scrubbed in pieces (`Printer::out_written`).
struct Pieces<'a> {
    printer: &'a Printer,
    out: &'a mut dyn Write,
    pending: Vec<u8>,
    /// Bytes kept back: the longest secret's length.
    hold: usize,
}

/// What is gathered before it is scrubbed and passed on.
const PIECE: usize = 64 * 1024;

impl Pieces<'_> {
    /// Scrubs what is pending and writes it, but for the last `hold` bytes
    /// (a secret may begin there) unless this is the end.
    fn pass_on(&mut self, end: bool) -> std::io::Result<()> {
        let whole = match std::str::from_utf8(&self.pending) {
            Ok(text) => text.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&self.pending[..whole]).expect("valid up to here");
        let scrubbed = self.printer.scrub(text);
        let mut cut = if end {
            scrubbed.len()
        } else {
            scrubbed.len().saturating_sub(self.hold)
        };
        while !scrubbed.is_char_boundary(cut) {
            cut -= 1;
        }
        self.out.write_all(&scrubbed.as_bytes()[..cut])?;
        let mut rest = scrubbed.as_bytes()[cut..].to_vec();
        rest.extend_from_slice(&self.pending[whole..]);
        self.pending = rest;
        Ok(())
    }
}

impl Write for Pieces<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= PIECE + self.hold {
            self.pass_on(false)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_split_between_writes_is_scrubbed() {
        let printer = Printer::new(true);
        let secret = "hunter2-the-secret";
        printer.add_secrets(&[secret.to_owned()]);
        let text = format!("{}{secret}{}é", "x".repeat(PIECE - 5), "y".repeat(PIECE));
        for split in [1, 7, 4096, PIECE - 1, PIECE + 3] {
            let mut out = Vec::new();
            let mut pieces = Pieces {
                printer: &printer,
                out: &mut out,
                pending: Vec::new(),
                hold: secret.len(),
            };
            for chunk in text.as_bytes().chunks(split) {
                pieces.write_all(chunk).unwrap();
            }
            pieces.pass_on(true).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out, printer.scrub(&text), "writes of {split} bytes");
            assert!(!out.contains(secret));
        }
    }
}
