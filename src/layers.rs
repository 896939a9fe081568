//! The module graph, checked from the sources: no cycle between top-level
//! modules, and the pure ones reach neither the AWS SDK nor the modules
//! that do I/O. A scan of `crate::` paths, outside test modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules that do no I/O (beyond reading the stack's files).
const PURE: &[&str] = &[
    "model",
    "canonical",
    "schema",
    "spec",
    "stack",
    "graph",
    "plan",
    "state",
];

/// What a pure module may not name: the modules that talk to AWS or run
/// commands.
const IMPURE: &[&str] = &["aws", "types", "engine", "cli", "import", "drift", "store"];

/// Crates of the AWS SDK, by the prefix of their names.
const SDK_CRATES: &[&str] = &[
    "aws_sdk_",
    "aws_smithy_",
    "aws_config",
    "aws_runtime",
    "aws_credential_types",
];

fn rust_files(directory: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its test module (which
/// may reach further, as tests build what they check).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]" {
            if lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
            {
                break;
            }
            // A test-only item: skipped to its end (`;`, or the closing
            // brace at its indentation).
            let end = format!("{}}}", &line[..line.len() - trimmed.len()]);
            if lines
                .next()
                .is_some_and(|first| !first.trim_end().ends_with(';'))
            {
                for item in lines.by_ref() {
                    if item == end {
                        break;
                    }
                }
            }
            continue;
        }
        let without_comment = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push_str(without_comment);
        out.push('\n');
    }
    out
}

/// Files declared as test modules (`#[cfg(test)] mod tests;`).
fn test_modules(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("readable source");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "#[cfg(test)]" {
                continue;
            }
            let Some(name) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("mod "))
                .and_then(|l| l.strip_suffix(';'))
            else {
                continue;
            };
            let directory = match file.file_name().and_then(|n| n.to_str()) {
                Some("mod.rs" | "lib.rs") => file.parent().unwrap().to_path_buf(),
                _ => file.with_extension(""),
            };
            out.insert(directory.join(format!("{name}.rs")));
            out.insert(directory.join(name).join("mod.rs"));
        }
    }
    out
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules a piece of code names through `crate::`.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the names at depth one.
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start && depth == 0 => {
                        out.insert(identifier(&group[i..]).to_owned());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(identifier(rest).to_owned());
        }
    }
    out
}

/// Module to the modules it names, and per module the SDK crates named.
struct Scan {
    edges: BTreeMap<String, BTreeSet<String>>,
    sdk: BTreeMap<String, BTreeSet<String>>,
}

fn scan(source: &Path) -> Scan {
    let mut files = Vec::new();
    rust_files(source, &mut files);
    files.sort();
    let tests = test_modules(&files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_level(source, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut sdk: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !tests.contains(*f)) {
        let Some(module) = top_level(source, file) else {
            continue;
        };
        let code = code(&std::fs::read_to_string(file).expect("readable source"));
        let named = edges.entry(module.clone()).or_default();
        for reference in references(&code) {
            if reference != module && modules.contains(&reference) {
                named.insert(reference);
            }
        }
        for prefix in SDK_CRATES {
            for (at, _) in code.match_indices(prefix) {
                let before = code[..at].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    sdk.entry(module.clone())
                        .or_default()
                        .insert(identifier(&code[at..]).to_owned());
                }
            }
        }
    }
    Scan { edges, sdk }
}

/// `src/x.rs` and `src/x/...` are module `x`; the crate roots are none.
fn top_level(source: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(source).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// A cycle as a path `a -> b -> a`, if the graph has one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

/// Every way the sources break the layering, as sentences.
fn problems(source: &Path) -> Vec<String> {
    let scan = scan(source);
    let mut out = Vec::new();
    let mut edges = scan.edges.clone();
    while let Some(found) = cycle(&edges) {
        out.push(format!("module cycle: {}", found.join(" -> ")));
        // Cut the cycle's first edge to find the others.
        if let Some(targets) = edges.get_mut(&found[0]) {
            targets.remove(&found[1]);
        }
    }
    for module in PURE {
        for named in scan.edges.get(*module).into_iter().flatten() {
            if IMPURE.contains(&named.as_str()) {
                out.push(format!("pure module `{module}` names `crate::{named}`"));
            }
        }
        for krate in scan.sdk.get(*module).into_iter().flatten() {
            out.push(format!(
                "pure module `{module}` names the SDK crate `{krate}`"
            ));
        }
    }
    out
}

#[test]
fn modules_form_layers_without_cycles_and_pure_modules_stay_pure() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert_eq!(problems(&source), Vec::<String>::new());
}

#[test]
fn the_scan_sees_cycles_sdk_crates_and_impure_names() {
    let directory = std::env::temp_dir().join(format!("cairn-layers-{}", std::process::id()));
    let write = |name: &str, text: &str| {
        let path = directory.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "pub mod canonical;\npub mod model;\npub mod plan;\npub mod types;\n",
    );
    // Test modules, inline or in their own file, do not count.
    write(
        "model.rs",
        "// crate::plan in a comment does not count\n#[cfg(test)]\nuse crate::plan;\n#[cfg(test)]\nfn helper() {\n    let a = crate::plan::X;\n}\n#[cfg(test)]\nmod tests {\n    use crate::plan;\n}\n",
    );
    write("canonical.rs", "#[cfg(test)]\nmod tests;\n");
    write("canonical/tests.rs", "use crate::plan;\n");
    write(
        "plan/mod.rs",
        "use crate::{canonical, model::X, types};\nuse aws_sdk_s3::Client;\n",
    );
    write("types/mod.rs", "use crate::plan::Y;\n");
    let found = problems(&directory);
    std::fs::remove_dir_all(&directory).unwrap();
    assert_eq!(
        found,
        vec![
            "module cycle: plan -> types -> plan".to_owned(),
            "pure module `plan` names `crate::types`".to_owned(),
            "pure module `plan` names the SDK crate `aws_sdk_s3`".to_owned(),
        ]
    );
}
