//! `imports:`: another stack's outputs. Compiling reads the other stack's
//! files (its outputs, names and where its state lives), never its state:
//! validation stays free of I/O beyond files, and the values come from
//! that state at plan time.

use super::super::expr::{self, Part};
use super::super::{Import, SensitiveSource};
use super::{
    compile_outputs, in_order, join, merge_layer, naming, read_layers, resource_schemas,
    state_backend, state_directory, Compiler, Merged, Scope,
};
use crate::model::suggest;
use crate::stack::yaml::{Key, Node, Tree};
use crate::stack::{Diagnostics, StateBackend};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::stack::language::IMPORT as IMPORT_KEYS;

/// What an imported stack declares: its names, where its state lives, and
/// its outputs (name → sensitive).
#[derive(Debug)]
pub(super) struct Declared {
    project: String,
    environment: String,
    region: Option<String>,
    backend: Option<StateBackend>,
    directory: Option<PathBuf>,
    outputs: BTreeMap<String, bool>,
    sensitive_sources: BTreeMap<String, SensitiveSource>,
}

/// The other stack's file for `environment`: `stack:` names its directory
/// (holding `ENV.yaml`) or the file itself.
pub fn producer_file(declared_in: &Path, stack: &str, environment: &str) -> PathBuf {
    let named = declared_in.parent().unwrap_or(Path::new("")).join(stack);
    let file = if stack.ends_with(".yaml") || stack.ends_with(".yml") {
        named
    } else {
        named.join(format!("{environment}.yaml"))
    };
    lexical(&file)
}

/// `a/b/../c` as `a/c`, so messages and commands name the file plainly
/// (and one stack reached two ways is one node of the stacks' graph).
pub(super) fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// A stack's imports as its files declare them, each checked against the
/// stack it names, with the stack's project and environment: what `cairn
/// graph --stacks` follows from stack to stack.
pub fn stack_imports(
    catalog: &'static crate::spec::Catalog,
    file: &Path,
) -> Result<(String, String, BTreeMap<String, Import>), Diagnostics> {
    let layers = read_layers(file)?;
    let mut c = Compiler {
        catalog,
        diagnostics: Vec::new(),
        file: file.to_path_buf(),
    };
    let mut merged = Merged::default();
    for layer in &layers {
        merge_layer(&mut c, &mut merged, layer);
    }
    let Some((project, environment)) = naming(
        &mut c,
        file,
        merged.project.take(),
        merged.environment.take(),
    ) else {
        return Err(in_order(c.diagnostics));
    };
    let imports = resolve(&mut c, &merged.imports, &environment);
    if !c.diagnostics.is_empty() {
        return Err(in_order(c.diagnostics));
    }
    Ok((project, environment, imports))
}

/// Reads an imported stack's declarations. Its variables need no values
/// here (its sensitive ones are set where it is applied), and its own
/// imports are not followed.
fn declarations(c: &Compiler, file: &Path) -> Result<Declared, Diagnostics> {
    let layers = read_layers(file)?;
    let mut other = Compiler {
        catalog: c.catalog,
        diagnostics: Vec::new(),
        file: file.to_path_buf(),
    };
    let mut merged = Merged::default();
    for layer in &layers {
        merge_layer(&mut other, &mut merged, layer);
    }
    let Some((project, environment)) = naming(
        &mut other,
        file,
        merged.project.take(),
        merged.environment.take(),
    ) else {
        return Err(in_order(other.diagnostics));
    };
    let types = resource_schemas(other.catalog, &merged.resources);
    let no_expansion = super::expand::Expansion::default();
    let lookups = super::lookups::kinds(&merged.lookups);
    let scope = Scope {
        project: &project,
        environment: &environment,
        variables: &merged.variables,
        types: &types,
        region: merged.region.as_deref(),
        imports: None,
        expansion: &no_expansion,
        each: None,
        lookups: &lookups,
    };
    // Its outputs may name instances (`${subnet.private[*].id}`).
    let (_, expansion) = super::expand::expand(&mut other, &scope, &merged.resources);
    let types = super::expand::instance_types(types.clone(), &expansion);
    let scope = Scope {
        types: &types,
        expansion: &expansion,
        ..scope
    };
    let outputs = compile_outputs(&mut other, &scope, &merged.outputs);
    let backend = state_backend(
        &mut other,
        &merged.state,
        merged.state_position.clone(),
        &project,
        &environment,
    );
    let directory = state_directory(&mut other, &merged.state);
    if !other.diagnostics.is_empty() {
        return Err(in_order(other.diagnostics));
    }
    let addresses: BTreeMap<String, String> = types
        .iter()
        .map(|(name, schema)| (name.clone(), crate::stack::address(schema.type_name, name)))
        .collect();
    let sensitive_sources = outputs
        .iter()
        .filter(|(_, output)| output.sensitive)
        .map(|(name, output)| {
            let mut references = Vec::new();
            expr::collect_references(&output.value, &mut references);
            let named = references
                .iter()
                .filter_map(|r| Some((r.root.clone(), addresses.get(&r.root)?.clone())))
                .collect();
            (
                name.clone(),
                SensitiveSource {
                    value: output.value.clone(),
                    addresses: named,
                },
            )
        })
        .collect();
    Ok(Declared {
        project,
        environment,
        region: merged.region,
        backend,
        directory,
        outputs: outputs
            .into_iter()
            .map(|(name, output)| (name, output.sensitive))
            .collect(),
        sensitive_sources,
    })
}

/// Every `imports:` entry, each checked against the stack it names.
pub(super) fn resolve(
    c: &mut Compiler,
    nodes: &BTreeMap<String, (PathBuf, Key, Node)>,
    environment: &str,
) -> BTreeMap<String, Import> {
    let mut imports = BTreeMap::new();
    for (name, (file, key, node)) in nodes {
        c.file = file.clone();
        if let Some(import) = resolve_one(c, name, key, node, environment) {
            imports.insert(name.clone(), import);
        }
    }
    imports
}

fn resolve_one(
    c: &mut Compiler,
    name: &str,
    key: &Key,
    node: &Node,
    environment: &str,
) -> Option<Import> {
    let path = join("imports", name);
    let identifier = name
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        && !name.is_empty();
    if !identifier {
        c.error(
            key.position,
            &path,
            format!("import name `{name}` must be letters, digits, _ and -"),
            None,
        );
        return None;
    }
    if !matches!(node.tree, Tree::Map(_)) {
        c.error(
            node.position,
            &path,
            format!(
                "expected a mapping with `stack` and `outputs`, found {}",
                node.kind_name()
            ),
            None,
        );
        return None;
    }
    c.check_keys(node, IMPORT_KEYS, &path);
    let stack_path = join(&path, "stack");
    let Some(stack_node) = node.get("stack") else {
        c.error(
            node.position,
            &path,
            "an import needs `stack`: the other stack's directory (holding ENV.yaml) or its file",
            None,
        );
        return None;
    };
    let stack = c.text(stack_node, &stack_path)?;
    let outputs = wanted_outputs(c, node, &path)?;
    let file = producer_file(&c.file, &stack, environment);
    // Where the other stack cannot be read, the import still stands for
    // the outputs it lists (the stack is refused anyway): its references
    // are not reported again as unknown.
    let unread = |c: &Compiler, file: PathBuf| Import {
        name: name.to_owned(),
        file,
        project: String::new(),
        environment: String::new(),
        region: None,
        backend: None,
        directory: None,
        outputs: outputs.iter().map(|(o, _)| o.clone()).collect(),
        sensitive: Vec::new(),
        sensitive_sources: BTreeMap::new(),
        declared_in: c.file.clone(),
        line: key.position.line,
        column: key.position.column,
    };
    if !file.is_file() {
        c.error(
            stack_node.position,
            &stack_path,
            format!(
                "no stack file {} for environment `{environment}`",
                file.display()
            ),
            Some("`stack` names the other stack's directory (holding ENV.yaml) or its file, relative to this file".into()),
        );
        return Some(unread(c, file));
    }
    let declared = match declarations(c, &file) {
        Ok(declared) => declared,
        Err(Diagnostics(problems)) => {
            c.error(
                stack_node.position,
                &stack_path,
                format!(
                    "the imported stack {} is not valid (its problems follow)",
                    file.display()
                ),
                None,
            );
            c.diagnostics.extend(problems);
            return Some(unread(c, file));
        }
    };
    if !declares_all(c, &path, &file, &declared, &outputs) {
        return Some(unread(c, file));
    }
    let names: Vec<String> = outputs.into_iter().map(|(o, _)| o).collect();
    Some(Import {
        name: name.to_owned(),
        sensitive: names
            .iter()
            .filter(|o| declared.outputs.get(*o) == Some(&true))
            .cloned()
            .collect(),
        sensitive_sources: declared
            .sensitive_sources
            .into_iter()
            .filter(|(output, _)| names.contains(output))
            .collect(),
        outputs: names,
        file,
        project: declared.project,
        environment: declared.environment,
        region: declared.region,
        backend: declared.backend,
        directory: declared.directory,
        declared_in: c.file.clone(),
        line: key.position.line,
        column: key.position.column,
    })
}

/// Whether the other stack declares every output listed; each it does not
/// is reported where it is listed, with the name meant.
fn declares_all(
    c: &mut Compiler,
    path: &str,
    file: &Path,
    declared: &Declared,
    outputs: &[(String, crate::stack::yaml::Position)],
) -> bool {
    let mut ok = true;
    for (i, (output, at)) in outputs.iter().enumerate() {
        if declared.outputs.contains_key(output) {
            continue;
        }
        let help = suggest(output, declared.outputs.keys().map(String::as_str)).or_else(|| {
            Some(if declared.outputs.is_empty() {
                "it declares no outputs".to_owned()
            } else {
                format!(
                    "it declares: {}",
                    declared
                        .outputs
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        });
        c.error(
            *at,
            join(&join(path, "outputs"), &i.to_string()),
            format!("{} declares no output `{output}`", file.display()),
            help,
        );
        ok = false;
    }
    ok
}

/// An imported stack whose state lives where this one's does would be one
/// state for two stacks, each planning to delete the other's resources.
pub(super) fn check_state_places(
    c: &mut Compiler,
    imports: &BTreeMap<String, Import>,
    (backend, directory): (Option<&StateBackend>, Option<&Path>),
    environment: &str,
) {
    for import in imports.values() {
        let shared = match (backend, &import.backend) {
            (Some(own), Some(theirs)) => own.table == theirs.table && own.key == theirs.key,
            (None, None) => {
                directory == import.directory.as_deref() && environment == import.environment
            }
            _ => false,
        };
        if shared && !import.project.is_empty() {
            c.file = import.declared_in.clone();
            c.error(
                crate::stack::yaml::Position {
                    line: import.line,
                    column: import.column,
                },
                join("imports", &import.name),
                format!(
                    "{} keeps its state where this stack does: one state cannot hold two stacks",
                    import.file.display()
                ),
                Some("give each stack its own `state: {backend: local, directory: DIR}`, or its own `key` in the shared table".into()),
            );
        }
    }
}

/// `outputs:`: a list of names, each with its place.
fn wanted_outputs(
    c: &mut Compiler,
    node: &Node,
    path: &str,
) -> Option<Vec<(String, crate::stack::yaml::Position)>> {
    let outputs_path = join(path, "outputs");
    let Some(list) = node.get("outputs") else {
        c.error(
            node.position,
            path,
            "an import needs `outputs`: the names of the other stack's outputs it takes",
            None,
        );
        return None;
    };
    let Tree::Seq(items) = &list.tree else {
        c.error(
            list.position,
            &outputs_path,
            format!(
                "expected a list of output names, found {}",
                list.kind_name()
            ),
            None,
        );
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = c.text(item, &join(&outputs_path, &i.to_string()))?;
        out.push((name, item.position));
    }
    Some(out)
}

/// `${import.NAME.OUTPUT}`: a declared import, and an output it takes.
pub(super) fn check_reference(
    imports: &BTreeMap<String, Import>,
    attribute: &str,
) -> Result<(), (String, Option<String>)> {
    let Some((name, output)) = attribute.split_once('.') else {
        return Err((
            format!("`${{import.{attribute}}}` names no output"),
            Some("write `${import.NAME.OUTPUT}`".into()),
        ));
    };
    let import = super::declared(
        imports,
        "import",
        "with the other stack and the outputs taken",
        name,
    )?;
    if import.outputs.iter().any(|o| o == output) {
        return Ok(());
    }
    let help = suggest(output, import.outputs.iter().map(String::as_str)).or_else(|| {
        Some(format!(
            "add it to `imports.{name}.outputs` (it takes: {})",
            import.outputs.join(", ")
        ))
    });
    Err((
        format!("import `{name}` does not take output `{output}`"),
        help,
    ))
}

/// Whether `${import.NAME.OUTPUT}` is one the other stack keeps secret.
pub(super) fn is_sensitive(imports: &BTreeMap<String, Import>, attribute: &str) -> bool {
    attribute.split_once('.').is_some_and(|(name, output)| {
        imports
            .get(name)
            .is_some_and(|i| i.sensitive.iter().any(|s| s == output))
    })
}

/// A text that is exactly one `${import.…}` reference.
pub(super) fn is_whole_import(text: &str) -> bool {
    matches!(
        expr::parse(text).as_deref(),
        Ok([Part::Reference(reference)]) if reference.root == "import"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network() -> BTreeMap<String, Import> {
        BTreeMap::from([(
            "network".to_owned(),
            Import {
                name: "network".into(),
                file: "stacks/network/dev.yaml".into(),
                project: "net".into(),
                environment: "dev".into(),
                region: None,
                backend: None,
                directory: None,
                outputs: vec!["vpc_id".into(), "db_password".into()],
                sensitive: vec!["db_password".into()],
                sensitive_sources: BTreeMap::new(),
                declared_in: "stacks/app/dev.yaml".into(),
                line: 3,
                column: 3,
            },
        )])
    }

    #[test]
    fn the_other_stack_is_its_directory_for_this_environment_or_its_file() {
        let here = Path::new("stacks/app/base.yaml");
        assert_eq!(
            producer_file(here, "../network", "dev"),
            Path::new("stacks/network/dev.yaml")
        );
        assert_eq!(
            producer_file(here, "./../network/prod.yaml", "dev"),
            Path::new("stacks/network/prod.yaml")
        );
        assert_eq!(
            producer_file(Path::new("dev.yaml"), "../network", "dev"),
            Path::new("../network/dev.yaml")
        );
    }

    #[test]
    fn references_name_a_declared_import_and_an_output_it_takes() {
        let imports = network();
        assert!(check_reference(&imports, "network.vpc_id").is_ok());
        let (message, help) = check_reference(&imports, "netwrok.vpc_id").unwrap_err();
        assert_eq!(message, "no import `netwrok` is declared");
        assert!(help.unwrap().contains("network"));
        let (message, help) = check_reference(&imports, "network.vpc").unwrap_err();
        assert_eq!(message, "import `network` does not take output `vpc`");
        assert!(help.unwrap().contains("vpc_id"));
        let (message, _) = check_reference(&imports, "network").unwrap_err();
        assert!(message.contains("names no output"), "{message}");
        let (_, help) = check_reference(&BTreeMap::new(), "network.vpc_id").unwrap_err();
        assert!(help.unwrap().contains("imports:"));
    }

    #[test]
    fn a_sensitive_output_stays_sensitive_and_whole_references_are_recognised() {
        let imports = network();
        assert!(is_sensitive(&imports, "network.db_password"));
        assert!(!is_sensitive(&imports, "network.vpc_id"));
        assert!(is_whole_import("${import.network.vpc_id}"));
        assert!(!is_whole_import("x-${import.network.vpc_id}"));
        assert!(!is_whole_import("${vpc.id}"));
    }
}
