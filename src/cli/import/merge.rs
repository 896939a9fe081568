//! `cairn import --merge ENV...`: stacks imported one environment at a
//! time merged into `base.yaml` and one values-only file each.

use crate::cli::session::{overrides, stack_file, Context};
use crate::cli::{Failure, Outcome};
use crate::{import, stack};
use std::path::Path;

/// `cairn import --merge ENV...`: one base and a values-only file per
/// environment, checked before anything is replaced.
pub fn run(context: &Context<'_>, environments: &[String]) -> Result<Outcome, Failure> {
    let (global, printer) = (context.global, context.printer);
    let mut docs = Vec::new();
    let mut originals = Vec::new();
    for environment in environments {
        let file = stack_file(global, environment);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Failure::refused(format!("cannot read {}: {e}", file.display())))?;
        if !text.starts_with("# Imported by `cairn import --from-terraform") {
            return Err(Failure::refused(format!(
                "{} was not written by `cairn import --from-terraform`; merge works on imported stacks",
                file.display()
            )));
        }
        let doc: serde_json::Value = serde_saphyr::from_str(&text)
            .map_err(|e| Failure::refused(format!("{}: {e}", file.display())))?;
        let name = doc["environment"]
            .as_str()
            .unwrap_or(environment)
            .to_owned();
        docs.push((name, doc));
        originals.push((file, text));
    }
    let (base, files) = import::merge(&docs).map_err(Failure::Refused)?;
    let base_file = originals[0].0.with_file_name("base.yaml");
    if base_file.exists()
        || originals
            .iter()
            .any(|(f, _)| f.parent() != base_file.parent())
    {
        return Err(Failure::refused(format!(
            "{} exists, or the stacks are in different directories; merge writes base.yaml beside them",
            base_file.display()
        )));
    }
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| Failure::refused(format!("cannot write {}: {e}", path.display())))
    };
    write(&base_file, &import::yaml(&base))?;
    for ((file, _), (_, doc)) in originals.iter().zip(&files) {
        write(file, &import::yaml(doc))?;
    }
    // Each environment must compile as before; otherwise put everything back.
    let mut values = overrides(global)?;
    if let Some(serde_json::Value::Object(variables)) = base.get("variables") {
        for (name, decl) in variables {
            if decl["sensitive"] == true {
                values
                    .entry(name.clone())
                    .or_insert_with(|| "PlaceholderForImportValidation0123456789".into());
            }
        }
    }
    for (file, _) in &originals {
        if let Err(d) = stack::load(crate::types::catalog(), file, &values) {
            for (file, text) in &originals {
                let _ = std::fs::write(file, text);
            }
            let _ = std::fs::remove_file(&base_file);
            return Err(Failure::MergedStacks(d));
        }
    }
    printer.out(&format!(
        "Wrote {} and {} (each sets only `values:`). Plan each environment: nothing in the plan should change.",
        base_file.display(),
        originals.iter().map(|(f, _)| f.display().to_string()).collect::<Vec<_>>().join(", ")
    ));
    Ok(Outcome::Done)
}
