//! `cairn fmt [PATHS] [--check]`: stack files in canonical form (see
//! `stack::format`). A file it cannot format safely is named with why and
//! left as it is.

use super::session::Context;
use super::{Failure, Outcome};
use std::path::{Path, PathBuf};

pub fn run(context: &Context<'_>, paths: &[PathBuf], check: bool) -> Result<Outcome, Failure> {
    let roots = if paths.is_empty() {
        vec![context.global.stack_dir.clone()]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for root in &roots {
        stack_files(root, &mut files).map_err(Failure::Io)?;
    }
    let mut unformatted = Vec::new();
    let mut refused = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(Failure::Io)?;
        match crate::stack::format::format(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                if check {
                    context.printer.out(&file.display().to_string());
                } else {
                    std::fs::write(file, formatted).map_err(Failure::Io)?;
                    context
                        .printer
                        .out(&format!("formatted {}", file.display()));
                }
                unformatted.push(file);
            }
            Err(refusal) => {
                context
                    .printer
                    .err(&format!("{}: {refusal}", file.display()));
                refused += 1;
            }
        }
    }
    if refused > 0 {
        return Err(Failure::refused(format!(
            "{refused} of {} stack files could not be formatted (left as they are)",
            files.len()
        )));
    }
    if check && !unformatted.is_empty() {
        return Err(Failure::refused(format!(
            "{} of {} stack files are not formatted; run `cairn fmt`",
            unformatted.len(),
            files.len()
        )));
    }
    Ok(Outcome::Done)
}

/// A file as given, or a directory's `*.yaml` and `*.yml` files, searched
/// in depth, in name order.
fn stack_files(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        if !path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or directory", path.display()),
            ));
        }
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            stack_files(&entry, files)?;
        } else if entry.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(entry);
        }
    }
    Ok(())
}
