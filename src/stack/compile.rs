use super::diagnostic::{suggest, Diagnostic, Diagnostics};
use super::expr::{self, Reference};
use super::language::{
    Named, DRIFT as DRIFT_KEYS, IGNORE as IGNORE_KEYS, OUTPUT as OUTPUT_KEYS,
    RESOURCE as RESOURCE_KEYS, STATE as STATE_KEYS, TOP_LEVEL, VARIABLE as VARIABLE_KEYS,
};
use super::yaml::{self, Key, Node, Position, Tree};
use super::{Output, Resource, Stack, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use crate::model::functions::Argument;
use crate::schema::{checks, Fallback, Field, Kind, Schema};
use crate::spec::{Catalog, Written};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod acls;
mod blocks;
mod buckets;
mod expand;
mod imports;
mod lookups;
mod moved;
mod queues;
mod when;
pub use imports::stack_imports;

const RESERVED_NAMES: &[&str] = &[
    "var", "aws", "project", "env", "stack", "import", "each", "lookup",
];

/// The longest environment name: it is part of every default name and
/// tag, and an environment beyond AWS's shortest name limits (64, for
/// roles and functions) could name none of them.
const ENVIRONMENT_LENGTH: usize = 64;

/// AWS's limit on a tag value, which cairn's own tags must keep to.
const TAG_VALUE_LENGTH: usize = 256;

const AWS_ATTRIBUTES: &[&str] = &["account_id", "region", "partition"];
const MAX_EXTENDS_DEPTH: usize = 8;

/// Variable values given outside the files: `--var name=value` and
/// `CAIRN_VAR_name` (the flag wins), by name. A `--var` the stack does not
/// declare is an error; a `CAIRN_VAR_` is not, as with Terraform's
/// `TF_VAR_`: the environment is shared by every stack a job runs.
#[derive(Clone, Debug, Default)]
pub struct VariableOverrides {
    values: BTreeMap<String, String>,
    from_environment: std::collections::BTreeSet<String>,
}

impl VariableOverrides {
    pub fn new() -> VariableOverrides {
        VariableOverrides::default()
    }
    /// `CAIRN_VAR_name`: used where the stack declares `name`.
    pub fn insert_from_environment(&mut self, name: String, value: String) {
        self.from_environment.insert(name.clone());
        self.values.insert(name, value);
    }
    /// `--var name=value`: wins over `CAIRN_VAR_name`.
    pub fn insert(&mut self, name: String, value: String) {
        self.from_environment.remove(&name);
        self.values.insert(name, value);
    }
    fn is_from_environment(&self, name: &str) -> bool {
        self.from_environment.contains(name)
    }
}

impl std::ops::Deref for VariableOverrides {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.values
    }
}

impl std::ops::DerefMut for VariableOverrides {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.values
    }
}

impl<const N: usize> From<[(String, String); N]> for VariableOverrides {
    fn from(pairs: [(String, String); N]) -> VariableOverrides {
        VariableOverrides {
            values: BTreeMap::from(pairs),
            from_environment: Default::default(),
        }
    }
}

struct Layer {
    file: PathBuf,
    root: Node,
}

struct Variable {
    value: Option<Value>,
    sensitive: bool,
    /// Where it is declared, for "has no value".
    declared: (PathBuf, Position),
    /// Where its value was set, when not by its default.
    set_at: Option<SetAt>,
}

/// Where a variable's value was set.
#[derive(Clone, Debug, PartialEq)]
enum SetAt {
    /// A `values:` entry.
    File(PathBuf, Position),
    /// `--var NAME=...`.
    Flag,
    /// `CAIRN_VAR_NAME`.
    Environment,
}

struct Compiler {
    catalog: &'static Catalog,
    diagnostics: Vec<Diagnostic>,
    file: PathBuf,
}

impl Compiler {
    fn error(
        &mut self,
        at: Position,
        path: impl Into<String>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            path: path.into(),
            message: message.into(),
            help,
        });
    }

    fn check_keys(&mut self, node: &Node, allowed: &[impl Named], path: &str) {
        if let Tree::Map(entries) = &node.tree {
            let allowed: Vec<&str> = allowed.iter().map(Named::name).collect();
            for (key, _) in entries {
                if !allowed.contains(&key.text.as_str()) {
                    let help = suggest(&key.text, allowed.iter().copied())
                        .or_else(|| Some(format!("expected one of: {}", allowed.join(", "))));
                    self.error(
                        key.position,
                        join(path, &key.text),
                        format!("unknown field `{}`", key.text),
                        help,
                    );
                }
            }
        }
    }

    fn entries<'n>(&mut self, node: &'n Node, path: &str) -> &'n [(Key, Node)] {
        match &node.tree {
            Tree::Map(entries) => entries,
            Tree::Null => &[],
            _ => {
                self.error(
                    node.position,
                    path,
                    format!("expected a mapping, found {}", node.kind_name()),
                    None,
                );
                &[]
            }
        }
    }

    fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.tree {
            Tree::Str(s) => Some(s.clone()),
            _ => {
                self.error(
                    node.position,
                    path,
                    format!("expected a string, found {}", node.kind_name()),
                    None,
                );
                None
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// A stack file larger than this is not a stack (and `extends: /dev/zero`
/// must not read forever).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read stack file: {e}"))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read stack file: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "larger than {} KiB: not a stack file",
            MAX_FILE_BYTES / 1024
        ));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

fn read_layers(file: &Path) -> Result<Vec<Layer>, Diagnostics> {
    let mut layers = Vec::new();
    let mut next = Some(file.to_path_buf());
    // Where the file being read was named: the `extends` of the layer
    // before it (file, position), so a failure points at that line.
    let mut named_at: Option<(PathBuf, Position)> = None;
    while let Some(path) = next.take() {
        let failed_at = |line: u64, column: u64, message: String| {
            Diagnostics(vec![Diagnostic {
                file: path.clone(),
                line,
                column,
                path: String::new(),
                message,
                help: None,
            }])
        };
        let fail = |message: String| match &named_at {
            Some((parent, at)) => Diagnostics(vec![Diagnostic {
                file: parent.clone(),
                line: at.line,
                column: at.column,
                path: "extends".into(),
                message: format!("{}: {message}", path.display()),
                help: None,
            }]),
            None => failed_at(1, 1, message),
        };
        if layers.len() >= MAX_EXTENDS_DEPTH || layers.iter().any(|l: &Layer| l.file == path) {
            return Err(fail("`extends` forms a loop or is nested too deep".into()));
        }
        let text = read_bounded(&path).map_err(fail)?;
        let root = yaml::parse(&text)
            .map_err(|(at, message)| failed_at(at.line.max(1), at.column.max(1), message))?;
        if !matches!(root.tree, Tree::Map(_)) {
            return Err(failed_at(
                root.position.line.max(1),
                root.position.column.max(1),
                "a stack file is a mapping".into(),
            ));
        }
        if let Some(Node {
            tree: Tree::Str(base),
            position,
        }) = root.get("extends")
        {
            next = Some(path.parent().unwrap_or(Path::new(".")).join(base));
            named_at = Some((path.clone(), *position));
        }
        layers.push(Layer { file: path, root });
    }
    layers.reverse();
    Ok(layers)
}

/// What the stack's files say, merged in order: a file's scalars replace
/// those of the file it extends, and its maps add to them.
#[derive(Default)]
struct Merged {
    /// The name, with the file and place that set it.
    project: Option<(String, PathBuf, Position)>,
    environment: Option<(String, PathBuf, Position)>,
    region: Option<String>,
    variables: BTreeMap<String, Variable>,
    tags: BTreeMap<String, String>,
    resources: BTreeMap<String, (PathBuf, Key, Node)>,
    outputs: BTreeMap<String, (PathBuf, Node)>,
    /// `values:` entries, applied to the variables once all are declared.
    values: Vec<(PathBuf, Key, Node)>,
    drift_ignore: Vec<super::IgnoreRule>,
    /// `state:` keys merge across layers, so a base file can name the
    /// table and each environment keeps its own key.
    state: BTreeMap<String, (PathBuf, Node)>,
    state_position: Option<(PathBuf, Position)>,
    /// `imports:` entries by name; a later file's entry replaces an
    /// earlier one's.
    imports: BTreeMap<String, (PathBuf, Key, Node)>,
    /// `moved:` lists, every file's.
    moved: Vec<(PathBuf, Node)>,
    /// `lookups:` entries by name, replaced like imports.
    lookups: BTreeMap<String, (PathBuf, Key, Node)>,
}

/// Reads a stack file (and the files it extends), checks it completely and
/// compiles it. Every problem found is reported, each with its place.
pub fn load(
    catalog: &'static Catalog,
    file: &Path,
    overrides: &VariableOverrides,
) -> Result<Stack, Diagnostics> {
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
    set_values(
        &mut c,
        file,
        &mut merged.variables,
        std::mem::take(&mut merged.values),
        overrides,
    );
    let Some((project, environment)) = naming(
        &mut c,
        file,
        merged.project.take(),
        merged.environment.take(),
    ) else {
        // Every name made from it would be refused too: said once.
        return Err(in_order(c.diagnostics));
    };

    let imports = imports::resolve(&mut c, &merged.imports, &environment);
    let types = resource_schemas(c.catalog, &merged.resources);
    let no_expansion = expand::Expansion::default();
    let lookup_kinds = lookups::kinds(&merged.lookups);
    let scope = Scope {
        project: &project,
        environment: &environment,
        variables: &merged.variables,
        types: &types,
        region: merged.region.as_deref(),
        imports: Some(&imports),
        expansion: &no_expansion,
        each: None,
        lookups: &lookup_kinds,
    };
    let (instances, expansion) = expand::expand(&mut c, &scope, &merged.resources);
    let types = expand::instance_types(types.clone(), &expansion);
    let scope = Scope {
        types: &types,
        expansion: &expansion,
        ..scope
    };
    let lookups = lookups::resolve(&mut c, &scope, &merged.lookups);
    let resources = compile_resources(&mut c, &scope, &instances, &merged.tags);
    check_physical_names(&mut c, &resources);
    check_networks(&mut c, &resources);
    check_route_tables(&mut c, &resources);
    queues::check_queues(&mut c, &resources);
    buckets::check_bucket_policies(&mut c, &resources);
    acls::check_web_acls(&mut c, &resources);
    let outputs = compile_outputs(&mut c, &scope, &merged.outputs);
    let moved = moved::compile(&mut c, &merged.moved, &resources, &scope);
    if c.diagnostics.is_empty() {
        check_cycles(&mut c, file, &resources);
    }
    let state = state_backend(
        &mut c,
        &merged.state,
        merged.state_position.clone(),
        &project,
        &environment,
    );
    let state_directory = state_directory(&mut c, &merged.state);
    imports::check_state_places(
        &mut c,
        &imports,
        (state.as_ref(), state_directory.as_deref()),
        &environment,
    );
    if !c.diagnostics.is_empty() {
        return Err(in_order(c.diagnostics));
    }

    let hash = stack_hash(
        &project,
        &environment,
        merged.region.as_deref(),
        (&resources, &lookups),
        &outputs,
    );
    Ok(Stack {
        catalog: c.catalog,
        project,
        environment,
        region: merged.region,
        file: file.to_path_buf(),
        resources,
        outputs,
        secrets: secrets(&merged.variables),
        hash,
        drift_ignore: merged.drift_ignore,
        state,
        state_directory,
        imports,
        moved,
        lookups,
    })
}

/// Adds one file's top-level fields to what the files before it said.
fn merge_layer(c: &mut Compiler, merged: &mut Merged, layer: &Layer) {
    c.file = layer.file.clone();
    let root = &layer.root;
    c.check_keys(root, TOP_LEVEL, "");
    if let Some(node) = root.get("extends") {
        c.text(node, "extends");
    }
    if let Some(node) = root.get("project") {
        merged.project = c
            .text(node, "project")
            .map(|p| (p, layer.file.clone(), node.position));
    }
    if let Some(node) = root.get("environment") {
        merged.environment = c
            .text(node, "environment")
            .map(|e| (e, layer.file.clone(), node.position));
    }
    if let Some(node) = root.get("region") {
        merged.region = c.text(node, "region");
        if let Some(Err(message)) = merged
            .region
            .as_ref()
            .map(|r| checks::region(&Value::String(r.clone())))
        {
            c.error(node.position, "region", message, None);
        }
    }
    if let Some(node) = root.get("description") {
        c.text(node, "description");
    }
    if let Some(node) = root.get("variables") {
        declare_variables(c, &mut merged.variables, &layer.file, node);
    }
    if let Some(node) = root.get("values") {
        for (key, value) in c.entries(node, "values").to_vec() {
            merged.values.push((layer.file.clone(), key, value));
        }
    }
    if let Some(node) = root.get("tags") {
        merge_tags(c, &mut merged.tags, node);
    }
    if let Some(node) = root.get("resources") {
        for (key, value) in c.entries(node, "resources").to_vec() {
            if let Some((first, _, _)) = merged.resources.get(&key.text) {
                let message = format!(
                    "resource `{}` is already defined in {}",
                    key.text,
                    first.display()
                );
                c.error(key.position, join("resources", &key.text), message, None);
                continue;
            }
            merged
                .resources
                .insert(key.text.clone(), (layer.file.clone(), key, value));
        }
    }
    if let Some(node) = root.get("outputs") {
        for (key, value) in c.entries(node, "outputs").to_vec() {
            merged
                .outputs
                .insert(key.text.clone(), (layer.file.clone(), value));
        }
    }
    if let Some(node) = root.get("state") {
        c.check_keys(node, STATE_KEYS, "state");
        merged.state_position = Some((layer.file.clone(), node.position));
        for (key, value) in c.entries(node, "state").to_vec() {
            merged
                .state
                .insert(key.text.clone(), (layer.file.clone(), value));
        }
    }
    if let Some(node) = root.get("imports") {
        for (key, value) in c.entries(node, "imports").to_vec() {
            merged
                .imports
                .insert(key.text.clone(), (layer.file.clone(), key, value));
        }
    }
    if let Some(node) = root.get("moved") {
        merged.moved.push((layer.file.clone(), node.clone()));
    }
    if let Some(node) = root.get("lookups") {
        for (key, value) in c.entries(node, "lookups").to_vec() {
            merged
                .lookups
                .insert(key.text.clone(), (layer.file.clone(), key, value));
        }
    }
    if let Some(node) = root.get("drift") {
        c.check_keys(node, DRIFT_KEYS, "drift");
        if let Some(list) = node.get("ignore") {
            drift_ignore_rules(c, &mut merged.drift_ignore, list);
        }
    }
}

/// `variables:`: each a mapping of `default`, `description`, `sensitive`.
fn declare_variables(
    c: &mut Compiler,
    variables: &mut BTreeMap<String, Variable>,
    file: &Path,
    node: &Node,
) {
    for (key, decl) in c.entries(node, "variables").to_vec() {
        let path = join("variables", &key.text);
        c.check_keys(&decl, VARIABLE_KEYS, &path);
        if !matches!(decl.tree, Tree::Map(_) | Tree::Null) {
            c.error(
                decl.position,
                &path,
                "a variable is declared as a mapping with `default`, `description`, `sensitive`",
                Some("set values in `values:`".into()),
            );
            continue;
        }
        let sensitive = match decl.get("sensitive") {
            Some(Node {
                tree: Tree::Bool(b),
                ..
            }) => *b,
            Some(item) => {
                c.error(
                    item.position,
                    join(&path, "sensitive"),
                    "expected a boolean",
                    None,
                );
                false
            }
            None => false,
        };
        let value = decl.get("default").map(Node::to_json);
        variables.insert(
            key.text.clone(),
            Variable {
                value,
                sensitive,
                declared: (file.to_path_buf(), key.position),
                set_at: None,
            },
        );
    }
}

/// `tags:` of the stack: each value taken as its text.
fn merge_tags(c: &mut Compiler, tags: &mut BTreeMap<String, String>, node: &Node) {
    for (key, value) in c.entries(node, "tags").to_vec() {
        let path = join("tags", &key.text);
        if let Err(message) = checks::tag_key(&key.text) {
            c.error(key.position, &path, message, None);
        }
        match scalar_text(&value) {
            Some(text) => {
                if let Err(message) = checks::tag_value(&text) {
                    c.error(value.position, &path, message, None);
                }
                tags.insert(key.text.clone(), text);
            }
            None => c.error(value.position, &path, "a tag value is a string", None),
        }
    }
}

/// `drift.ignore`: a list of rules, each naming a resource and a reason.
fn drift_ignore_rules(c: &mut Compiler, rules: &mut Vec<super::IgnoreRule>, list: &Node) {
    let Tree::Seq(items) = &list.tree else {
        c.error(
            list.position,
            "drift.ignore",
            "expected a list of rules",
            None,
        );
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("drift.ignore.{i}");
        c.check_keys(item, IGNORE_KEYS, &path);
        let field =
            |c: &mut Compiler, key: &str| item.get(key).and_then(|n| c.text(n, &join(&path, key)));
        let resource = field(c, "resource");
        let attribute = field(c, "attribute").unwrap_or_else(|| "*".to_owned());
        let reason = field(c, "reason");
        match (resource, reason) {
            (Some(resource), Some(reason)) => rules.push(super::IgnoreRule {
                resource,
                attribute,
                reason,
            }),
            _ => c.error(
                item.position,
                &path,
                "an ignore rule needs `resource` (a pattern such as log_group.*) and `reason`",
                None,
            ),
        }
    }
}

/// Gives the variables their values: the files' `values:` first, then
/// `CAIRN_VAR_` and `--var` (already merged by the caller). A variable
/// left without one is reported where it is declared.
fn set_values(
    c: &mut Compiler,
    file: &Path,
    variables: &mut BTreeMap<String, Variable>,
    values: Vec<(PathBuf, Key, Node)>,
    overrides: &VariableOverrides,
) {
    for (value_file, key, node) in values {
        c.file = value_file;
        match variables.get_mut(&key.text) {
            Some(variable) => {
                variable.value = Some(node.to_json());
                variable.set_at = Some(SetAt::File(c.file.clone(), node.position));
            }
            None => {
                let help = suggest(&key.text, variables.keys().map(String::as_str));
                c.error(
                    key.position,
                    join("values", &key.text),
                    format!("no variable `{}` is declared", key.text),
                    help,
                );
            }
        }
    }
    c.file = file.to_path_buf();
    for (name, text) in overrides.iter() {
        match variables.get_mut(name) {
            Some(variable) => {
                variable.value = Some(parse_override(text, variable.value.as_ref()));
                variable.set_at = Some(if overrides.is_from_environment(name) {
                    SetAt::Environment
                } else {
                    SetAt::Flag
                });
            }
            None if overrides.is_from_environment(name) => {}
            None => c.error(
                Position::default(),
                format!("--var {name}"),
                format!("no variable `{name}` is declared"),
                suggest(name, variables.keys().map(String::as_str)),
            ),
        }
    }
    for (name, variable) in variables.iter() {
        if variable.value.is_none() {
            c.file = variable.declared.0.clone();
            c.error(
                variable.declared.1,
                join("variables", name),
                format!("variable `{name}` has no default and no value"),
                Some(format!(
                    "set it in `values:`, with --var {name}=..., or CAIRN_VAR_{name}"
                )),
            );
        }
    }
    c.file = file.to_path_buf();
}

/// The project's and the environment's names, which every default name
/// and tag is made of. The environment's comes from its field, or else
/// the file's name. `None` when the environment is too long to name
/// anything: nothing more is worth checking.
fn naming(
    c: &mut Compiler,
    file: &Path,
    project: Option<(String, PathBuf, Position)>,
    environment: Option<(String, PathBuf, Position)>,
) -> Option<(String, String)> {
    let environment_at = environment
        .as_ref()
        .map_or((file.to_path_buf(), Position { line: 1, column: 1 }), |e| {
            (e.1.clone(), e.2)
        });
    let (project, environment) = match (project, environment) {
        (Some(p), e) => {
            let environment = e.map(|e| e.0).unwrap_or_else(|| {
                file.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            c.file = p.1.clone();
            check_identifier(c, &p.0, p.2, "project");
            (p.0, environment)
        }
        (None, _) => {
            c.file = file.to_path_buf();
            c.error(
                Position { line: 1, column: 1 },
                "project",
                "a stack needs `project` (in the file or a file it extends)",
                None,
            );
            (String::new(), "unnamed".to_owned())
        }
    };
    let environment_length = environment.chars().count();
    if environment_length > ENVIRONMENT_LENGTH {
        c.file = environment_at.0.clone();
        let start: String = environment.chars().take(16).collect();
        c.error(
            environment_at.1,
            "environment",
            format!("environment `{start}…` is {environment_length} characters long; it may have at most {ENVIRONMENT_LENGTH}"),
            Some("every default name is `{project}-{env}-{name}`, and AWS allows 64 characters in a role's or a function's name".into()),
        );
        return None;
    } else if !environment
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        || environment.is_empty()
    {
        c.file = environment_at.0.clone();
        c.error(
            environment_at.1,
            "environment",
            format!("environment `{environment}` must be letters, digits and -"),
            None,
        );
    }
    c.file = file.to_path_buf();
    Some((project, environment))
}

/// The schema of each resource whose type is known, by resource name:
/// what references are checked against.
fn resource_schemas(
    catalog: &Catalog,
    nodes: &BTreeMap<String, (PathBuf, Key, Node)>,
) -> BTreeMap<String, &'static Schema> {
    nodes
        .iter()
        .filter_map(
            |(name, (_, _, node))| match node.get("type").map(|n| &n.tree) {
                Some(Tree::Str(t)) => catalog.schema(t).map(|s| (name.clone(), s)),
                _ => None,
            },
        )
        .collect()
}

/// Every instance that compiles, sorted by name; the others are reported.
fn compile_resources(
    c: &mut Compiler,
    scope: &Scope,
    instances: &[expand::Instance],
    stack_tags: &BTreeMap<String, String>,
) -> Vec<Resource> {
    let mut resources = Vec::new();
    for instance in instances {
        c.file = instance.file.clone();
        let scope = Scope {
            each: instance.each.as_ref(),
            ..*scope
        };
        if let Some(resource) = compile_resource(c, &scope, instance, stack_tags) {
            resources.push(resource);
        }
    }
    resources.sort_by(|a, b| a.name.cmp(&b.name));
    resources
}

/// `outputs:`: a value, or a mapping of `value`, `description`,
/// `sensitive`. An output made from a secret is sensitive.
fn compile_outputs(
    c: &mut Compiler,
    scope: &Scope,
    nodes: &BTreeMap<String, (PathBuf, Node)>,
) -> BTreeMap<String, Output> {
    let mut outputs = BTreeMap::new();
    for (name, (output_file, node)) in nodes {
        c.file = output_file.clone();
        let path = join("outputs", name);
        let (value_node, description, sensitive) = match &node.tree {
            Tree::Map(_) => {
                c.check_keys(node, OUTPUT_KEYS, &path);
                let description = node
                    .get("description")
                    .and_then(|n| c.text(n, &join(&path, "description")))
                    .unwrap_or_default();
                let sensitive = matches!(
                    node.get("sensitive").map(|n| &n.tree),
                    Some(Tree::Bool(true))
                );
                match node.get("value") {
                    Some(v) => (v, description, sensitive),
                    None => {
                        c.error(node.position, &path, "an output needs `value`", None);
                        continue;
                    }
                }
            }
            _ => (node, String::new(), false),
        };
        if let Some(condition) = node
            .get("when")
            .filter(|_| matches!(node.tree, Tree::Map(_)))
        {
            if when::holds(c, scope, condition, &path) != Some(true) {
                continue;
            }
        }
        let mut uses_secret = false;
        let value = scope.value(c, value_node, Kind::Json, &path, &mut uses_secret);
        if let Some(value) = value {
            outputs.insert(
                name.clone(),
                Output {
                    value,
                    description,
                    sensitive: sensitive || uses_secret,
                    file: output_file.clone(),
                    line: value_node.position.line,
                    column: value_node.position.column,
                },
            );
        }
    }
    outputs
}

/// A dependency cycle, reported once as the path of addresses around it,
/// at the first resource on it.
fn check_cycles(c: &mut Compiler, file: &Path, resources: &[Resource]) {
    let Some(cycle) = crate::graph::Graph::from_resources(resources).cycle() else {
        return;
    };
    let by_name: BTreeMap<&str, &Resource> =
        resources.iter().map(|r| (r.name.as_str(), r)).collect();
    let first = by_name.get(cycle[0].as_str());
    let at = first.map_or_else(Position::default, |r| Position {
        line: r.line,
        column: r.column,
    });
    let path: Vec<String> = cycle
        .iter()
        .map(|name| {
            by_name
                .get(name.as_str())
                .map_or(name.clone(), |r| r.address())
        })
        .collect();
    c.file = first.map_or(file.to_path_buf(), |r| r.file.clone());
    c.error(
        at,
        join("resources", &cycle[0]),
        format!("dependency cycle: {}", path.join(" -> ")),
        Some("remove one of these references or depends_on entries".into()),
    );
}

/// The values of the sensitive variables, so output can redact them.
fn secrets(variables: &BTreeMap<String, Variable>) -> Vec<String> {
    variables
        .values()
        .filter(|v| v.sensitive)
        .filter_map(|v| v.value.as_ref().and_then(scalar_json_text))
        .filter(|s| !s.is_empty())
        .collect()
}

fn in_order(mut diagnostics: Vec<Diagnostic>) -> Diagnostics {
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    diagnostics.dedup();
    Diagnostics(diagnostics)
}

/// The `state:` block: absent or `backend: local` keeps state in files.
fn state_backend(
    c: &mut Compiler,
    nodes: &BTreeMap<String, (PathBuf, Node)>,
    position: Option<(PathBuf, Position)>,
    project: &str,
    environment: &str,
) -> Option<super::StateBackend> {
    let text = |c: &mut Compiler, key: &str| {
        nodes.get(key).and_then(|(file, node)| {
            c.file = file.clone();
            c.text(node, &join("state", key))
                .map(|t| (t, node.position))
        })
    };
    let backend = text(c, "backend");
    match backend.as_ref().map(|(b, _)| b.as_str()) {
        None | Some("local") => {
            if backend.is_none() && !nodes.is_empty() {
                let (file, at) = position.expect("a state block was read");
                c.file = file;
                c.error(
                    at,
                    "state.backend",
                    "`backend` is missing",
                    Some(
                        "backend: dynamodb (shared) or backend: local (files in --state-dir)"
                            .into(),
                    ),
                );
            }
            return None;
        }
        Some("dynamodb") => {}
        Some(other) => {
            let (_, at) = backend.clone().expect("matched");
            c.file = nodes["backend"].0.clone();
            let help = suggest(other, ["dynamodb", "local"])
                .or_else(|| Some("expected `dynamodb` or `local`".into()));
            c.error(
                at,
                "state.backend",
                format!("unknown state backend `{other}`"),
                help,
            );
            return None;
        }
    }
    let table = text(c, "table");
    if let Some((name, at)) = &table {
        if let Err(message) = checks::table_name(&Value::String(name.clone())) {
            c.error(*at, "state.table", message, None);
        }
    }
    let key = text(c, "key").map_or_else(|| format!("{project}/{environment}"), |(k, _)| k);
    let region = text(c, "region").map(|(r, _)| r);
    let number =
        |c: &mut Compiler, key: &str, min: i64, max: i64, default: u64| match nodes.get(key) {
            None => default,
            Some((file, node)) => {
                c.file = file.clone();
                match checks::int_range(&node.to_json(), min, max, key) {
                    Ok(()) => node.to_json().as_u64().unwrap_or(default),
                    Err(message) => {
                        c.error(node.position, join("state", key), message, None);
                        default
                    }
                }
            }
        };
    let lock_lease_seconds = number(c, "lock_lease_seconds", 10, 3600, 120);
    let keep_versions = number(c, "keep_versions", 1, 10_000, 100);
    let Some((table, _)) = table else {
        let (file, at) = position.expect("a state block was read");
        c.file = file;
        c.error(
            at,
            "state.table",
            "the dynamodb backend needs `table`",
            Some("create one with: cairn state init-backend ENV".into()),
        );
        return None;
    };
    Some(super::StateBackend {
        table,
        key,
        region,
        lock_lease_seconds,
        keep_versions,
    })
}

/// `state.directory` (local state only), relative to the file that says it.
fn state_directory(c: &mut Compiler, nodes: &BTreeMap<String, (PathBuf, Node)>) -> Option<PathBuf> {
    let (file, node) = nodes.get("directory")?;
    c.file = file.clone();
    let text = c.text(node, "state.directory")?;
    let backend = nodes.get("backend").map(|(_, n)| &n.tree);
    if matches!(backend, Some(Tree::Str(b)) if b == "dynamodb") {
        c.error(
            node.position,
            "state.directory",
            "`directory` is where local state lives; the dynamodb backend keeps state in its table",
            Some("remove `directory`, or use backend: local".into()),
        );
        return None;
    }
    Some(imports::lexical(
        &file.parent().unwrap_or(Path::new("")).join(text),
    ))
}

/// The `kind` (`import`, `lookup`) called `name` among those the stack
/// declares under `{kind}s:`, or why not: did-you-mean, else what is
/// declared, else how to declare one (`how`).
fn declared<'a, T>(
    entries: &'a BTreeMap<String, T>,
    kind: &str,
    how: &str,
    name: &str,
) -> Result<&'a T, (String, Option<String>)> {
    entries.get(name).ok_or_else(|| {
        let help = suggest(name, entries.keys().map(String::as_str)).unwrap_or_else(|| {
            if entries.is_empty() {
                format!("declare it under `{kind}s:` {how}")
            } else {
                let names: Vec<&str> = entries.keys().map(String::as_str).collect();
                format!("{kind}s declared: {}", names.join(", "))
            }
        });
        (format!("no {kind} `{name}` is declared"), Some(help))
    })
}

fn check_identifier(c: &mut Compiler, value: &str, at: Position, path: &str) {
    let ok = !value.is_empty()
        && value.len() <= 32
        && value
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        && value.starts_with(|ch: char| ch.is_ascii_lowercase());
    if !ok {
        c.error(at, path, format!("`{value}` must be 1 to 32 lowercase letters, digits and -, starting with a letter (it becomes part of every resource name)"), None);
    }
}

fn scalar_text(node: &Node) -> Option<String> {
    match &node.tree {
        Tree::Str(s) => Some(s.clone()),
        Tree::Int(i) => Some(i.to_string()),
        Tree::Float(f) => Some(f.to_string()),
        Tree::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar_json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_override(text: &str, default: Option<&Value>) -> Value {
    match default {
        Some(Value::String(_)) | None => Value::String(text.to_owned()),
        Some(_) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
    }
}

#[derive(Clone, Copy)]
struct Scope<'a> {
    project: &'a str,
    environment: &'a str,
    variables: &'a BTreeMap<String, Variable>,
    types: &'a BTreeMap<String, &'static Schema>,
    /// The stack's region, if it names one.
    region: Option<&'a str>,
    /// The stack's imports; `None` when only an imported stack's
    /// declarations are read (its own imports are not followed).
    imports: Option<&'a BTreeMap<String, super::Import>>,
    /// Resources with `for_each` and those left out by `when`.
    expansion: &'a expand::Expansion,
    /// The instance being compiled, in a resource with `for_each`.
    each: Option<&'a expand::Each>,
    /// The kinds of the stack's lookups, by name.
    lookups: &'a BTreeMap<String, crate::model::lookup::LookupKind>,
}

impl Scope<'_> {
    /// Resolves what is known when compiling (variables, project, env) and
    /// checks the references left for plan time.
    fn substitute(
        &self,
        c: &mut Compiler,
        text: &str,
        at: Position,
        path: &str,
        uses_secret: &mut bool,
    ) -> Option<Value> {
        let text = &match self.each_keys_filled(text) {
            Ok(text) => text,
            Err((message, help)) => {
                c.error(at, path, message, help);
                return None;
            }
        };
        let parts = match expr::parse(text) {
            Ok(parts) => parts,
            Err(message) => {
                c.error(at, path, message, None);
                return None;
            }
        };
        let mut ok = true;
        for part in &parts {
            if let expr::Part::Call(call) = part {
                if let Err(message) = call.check() {
                    c.error(at, path, message, None);
                    ok = false;
                }
            }
            for reference in part.references() {
                if let Err((message, help)) = self.check_reference(reference) {
                    c.error(at, path, message, help);
                    ok = false;
                } else if self.is_secret(reference) {
                    *uses_secret = true;
                }
            }
        }
        if !ok {
            return None;
        }
        if let Some(all) = self.all_instances(c, &parts, at, path) {
            return all;
        }
        let text = &self.all_instances_in_calls(text, &parts);
        expr::substitute(text, |reference| self.known(reference))
            .map_err(|m| c.error(at, path, m, None))
            .ok()
    }

    /// `name[each.key]` becomes the instance of `name` with this
    /// instance's key.
    fn each_keys_filled(&self, text: &str) -> Result<String, (String, Option<String>)> {
        if !text.contains("[each.key]") {
            return Ok(text.to_owned());
        }
        let Some(each) = self.each else {
            return Err(each_outside("[each.key]"));
        };
        expr::rewrite_references(text, |reference| {
            match expr::split_instance(&reference.root) {
                (base, expr::Index::EachKey) => Reference {
                    root: expr::instance_name(base, &each.key),
                    attribute: reference.attribute.clone(),
                },
                _ => reference.clone(),
            }
        })
        .map_err(|message| (message, None))
    }

    /// `${name[*].attribute}`: the list of every instance's attribute, in
    /// key order. `None` when the text has no such reference; `Some(None)`
    /// when it is refused (reported).
    fn all_instances(
        &self,
        c: &mut Compiler,
        parts: &[expr::Part],
        at: Position,
        path: &str,
    ) -> Option<Option<Value>> {
        let is_all = |part: &expr::Part| {
            matches!(part, expr::Part::Reference(r)
                if expr::split_instance(&r.root).1 == expr::Index::All)
        };
        let reference = match parts {
            [expr::Part::Reference(reference)] if is_all(&parts[0]) => reference,
            _ if parts.iter().any(is_all) => {
                c.error(
                    at,
                    path,
                    "`[*]` makes a list: it can be a whole value, not part of a text",
                    Some("name one instance, `${name[\"KEY\"].attribute}`".into()),
                );
                return Some(None);
            }
            _ => return None,
        };
        let (base, _) = expr::split_instance(&reference.root);
        let keys = self.expansion.for_each.get(base)?;
        Some(Some(Value::Array(
            keys.iter()
                .map(|key| {
                    Value::String(format!(
                        "${{{}.{}}}",
                        expr::instance_name(base, key),
                        reference.attribute
                    ))
                })
                .collect(),
        )))
    }

    /// `name[*].attribute` in a call's arguments becomes the list of each
    /// instance's, in key order: `join(",", [name["a"].id, name["b"].id])`.
    fn all_instances_in_calls(&self, text: &str, parts: &[expr::Part]) -> String {
        let in_a_call = parts.iter().any(|part| {
            matches!(part, expr::Part::Call(call) if call.references().iter()
                .any(|r| expr::split_instance(&r.root).1 == expr::Index::All))
        });
        if !in_a_call {
            return text.to_owned();
        }
        expr::rewrite_call_arguments(text, |reference| {
            let (base, index) = expr::split_instance(&reference.root);
            match (index, self.expansion.for_each.get(base)) {
                (expr::Index::All, Some(keys)) => Argument::List(
                    keys.iter()
                        .map(|key| {
                            Argument::Reference(Reference {
                                root: expr::instance_name(base, key),
                                attribute: reference.attribute.clone(),
                            })
                        })
                        .collect(),
                ),
                _ => Argument::Reference(reference.clone()),
            }
        })
        // It parsed as these parts just before.
        .expect("the text parses")
    }

    /// A sensitive variable, or another resource's secret (an API key's
    /// value), which stays one. The reference is a valid one.
    fn is_secret(&self, reference: &Reference) -> bool {
        if reference.root == "import" {
            return self
                .imports
                .is_some_and(|imports| imports::is_sensitive(imports, &reference.attribute));
        }
        if reference.root == "var" {
            return self
                .variables
                .get(&reference.attribute)
                .is_some_and(|v| v.sensitive);
        }
        self.types
            .get(expr::split_instance(&reference.root).0)
            .and_then(|schema| schema.field(&reference.attribute))
            .is_some_and(|field| field.sensitive)
    }

    /// The entries of a mapping written in the stack whose text refers to a
    /// secret, when others do not: only those are hidden in plans.
    fn secret_entries(&self, node: &Node) -> Vec<String> {
        let Tree::Map(entries) = &node.tree else {
            return Vec::new();
        };
        let secret = |item: &Node| match &item.tree {
            Tree::Str(text) => expr::parse(text).is_ok_and(|parts| {
                parts.iter().any(|part| {
                    part.references()
                        .into_iter()
                        .any(|reference| self.is_secret(reference))
                })
            }),
            _ => false,
        };
        let keys: Vec<String> = entries
            .iter()
            .filter(|(_, item)| secret(item))
            .map(|(key, _)| key.text.clone())
            .collect();
        if keys.len() == entries.len() {
            Vec::new()
        } else {
            keys
        }
    }

    fn known(&self, reference: &Reference) -> Option<Value> {
        match (reference.root.as_str(), reference.attribute.as_str()) {
            ("project", "") => Some(Value::String(self.project.to_owned())),
            ("env", "") => Some(Value::String(self.environment.to_owned())),
            ("stack", "") => Some(Value::String(format!(
                "{}-{}",
                self.project, self.environment
            ))),
            ("var", name) => self.variables.get(name).and_then(|v| v.value.clone()),
            ("each", "key") => self.each.map(|e| Value::String(e.key.clone())),
            ("each", attribute) => {
                let each = self.each?;
                let mut value = &each.value;
                for field in attribute.split('.').skip(1) {
                    value = value.get(field)?;
                }
                Some(value.clone())
            }
            _ => None,
        }
    }

    /// `${each.key}`, `${each.value}` or `${each.value.FIELD...}` of the
    /// instance being compiled.
    fn check_each(&self, attribute: &str) -> Result<(), (String, Option<String>)> {
        let Some(each) = self.each else {
            return Err(each_outside(&format!("each.{attribute}")));
        };
        let mut fields = attribute.split('.');
        match fields.next() {
            Some("key") if attribute == "key" => return Ok(()),
            Some("value") => {}
            _ => {
                return Err((
                    format!("`each.{attribute}` is not known"),
                    Some("use each.key, each.value or each.value.FIELD".into()),
                ))
            }
        }
        let mut value = &each.value;
        let mut walked = String::from("each.value");
        for field in fields {
            match value.get(field) {
                Some(inner) => value = inner,
                None => {
                    let has = match value {
                        Value::Object(map) => format!(
                            "it has: {}",
                            map.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                        other => format!("it is {}", found_kind(other)),
                    };
                    return Err((
                        format!("`{walked}` of key `{}` has no field `{field}`", each.key),
                        Some(has),
                    ));
                }
            }
            walked = format!("{walked}.{field}");
        }
        Ok(())
    }

    /// A reference to an instance of a resource with `for_each`, or to a
    /// resource left out by `when`, refused with what to write.
    fn check_instance(&self, root: &str) -> Result<(), (String, Option<String>)> {
        let (base, index) = expr::split_instance(root);
        if let Some(absent) = self.expansion.absent.get(base) {
            return Err(absent.refused(base));
        }
        let keys = self.expansion.for_each.get(base);
        match (index, keys) {
            (expr::Index::None, Some(_)) => Err((
                format!("`{base}` has `for_each`: name one instance or all of them"),
                Some(format!(
                    "write `${{{base}[\"KEY\"].ATTRIBUTE}}` or `${{{base}[*].ATTRIBUTE}}`"
                )),
            )),
            (expr::Index::Key(key), Some(keys)) if !keys.iter().any(|k| k == key) => Err((
                format!("`{base}` has no instance `{key}`"),
                suggest(key, keys.iter().map(String::as_str))
                    .or_else(|| Some(format!("its keys: {}", keys.join(", ")))),
            )),
            (expr::Index::Key(_) | expr::Index::All, None) if self.types.contains_key(base) => {
                Err((
                    format!("`{base}` has no `for_each`: it is one resource"),
                    Some(format!("write `${{{base}.ATTRIBUTE}}`")),
                ))
            }
            (expr::Index::EachKey, _) => Err(each_outside("[each.key]")),
            _ => Ok(()),
        }
    }

    fn check_reference(&self, reference: &Reference) -> Result<(), (String, Option<String>)> {
        let root = reference.root.as_str();
        let attribute = reference.attribute.as_str();
        match root {
            "project" | "env" | "stack" if attribute.is_empty() => Ok(()),
            "project" | "env" | "stack" => Err((format!("`${{{root}}}` has no attributes"), None)),
            "import" => match self.imports {
                Some(imports) => imports::check_reference(imports, attribute),
                None => Ok(()),
            },
            "each" => self.check_each(attribute),
            "lookup" => lookups::check_reference(self.lookups, attribute),
            "var" => {
                if self.variables.contains_key(attribute) {
                    Ok(())
                } else {
                    Err((
                        format!("no variable `{attribute}` is declared"),
                        suggest(attribute, self.variables.keys().map(String::as_str)),
                    ))
                }
            }
            "aws" => {
                if AWS_ATTRIBUTES.contains(&attribute) {
                    Ok(())
                } else {
                    Err((
                        format!("`aws.{attribute}` is not known"),
                        Some(format!(
                            "use one of: {}",
                            AWS_ATTRIBUTES
                                .iter()
                                .map(|a| format!("aws.{a}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    ))
                }
            }
            name => match self
                .check_instance(name)
                .map(|()| self.types.get(expr::split_instance(name).0))?
            {
                Some(schema) if schema.has_output(attribute) => Ok(()),
                Some(schema) => {
                    let mut available: Vec<&str> = schema.outputs.to_vec();
                    available.extend(schema.fields.iter().map(|f| f.name));
                    let help = suggest(attribute, available.iter().copied()).or_else(|| {
                        Some(format!(
                            "{} has: {}",
                            schema.type_name,
                            available.join(", ")
                        ))
                    });
                    Err((
                        format!(
                            "`{name}` ({}) has no attribute `{attribute}`",
                            schema.type_name
                        ),
                        help,
                    ))
                }
                None => {
                    let mut names: Vec<&str> = self
                        .types
                        .keys()
                        .map(String::as_str)
                        .filter(|n| !n.contains('['))
                        .collect();
                    names.extend(RESERVED_NAMES);
                    Err((
                        format!("reference to unknown resource `{name}`"),
                        suggest(name, names),
                    ))
                }
            },
        }
    }

    /// Converts a node of the given kind, reporting every mismatch.
    fn value(
        &self,
        c: &mut Compiler,
        node: &Node,
        kind: Kind,
        path: &str,
        uses_secret: &mut bool,
    ) -> Option<Value> {
        if let Kind::Str = kind {
            return self.string(c, node, path, uses_secret, false);
        }
        if let Some(item) = blocks::item_kind(kind).filter(|_| blocks::is_block(node)) {
            return self
                .block(c, node, item, path, uses_secret)
                .map(Value::Array);
        }
        // An imported value is whatever the other stack's state holds (a
        // list of subnets, a number), and a lookup's is what it finds: its
        // kind is checked at plan time.
        if let Tree::Str(text) = &node.tree {
            if imports::is_whole_import(text) || is_whole_lookup(text) {
                return self.substitute(c, text, node.position, path, uses_secret);
            }
        }
        let scalar = match &node.tree {
            Tree::Str(text) if expr::is_template(text) => {
                Some(self.substitute(c, text, node.position, path, uses_secret)?)
            }
            Tree::Str(text) => Some(Value::String(text.clone())),
            Tree::Int(i) => Some(Value::from(*i)),
            Tree::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
            Tree::Bool(b) => Some(Value::Bool(*b)),
            Tree::Null => Some(Value::Null),
            _ => None,
        };
        if let (Tree::Str(text), Some(Value::String(left))) = (&node.tree, &scalar) {
            // A call whose arguments are known only at plan or apply
            // (`tonumber` of a lookup's value): its value is checked then.
            if expr::is_whole_call(text) && expr::is_template(left) {
                return scalar;
            }
        }
        // A scalar (or a variable's value) that is not of the kind.
        let refuse = |c: &mut Compiler, scalar: Option<Value>| {
            let found = scalar.as_ref().map_or(node.kind_name(), found_kind);
            mismatch(c, node, kind, path, found)
        };
        match kind {
            Kind::Str => unreachable!("strings are read by `string`"),
            Kind::Int => match scalar {
                Some(v @ Value::Number(_)) if v.is_i64() => Some(v),
                other => refuse(c, other),
            },
            Kind::Float => match scalar {
                Some(Value::Number(n)) => n
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number),
                other => refuse(c, other),
            },
            Kind::Bool => match scalar {
                Some(v @ Value::Bool(_)) => Some(v),
                other => refuse(c, other),
            },
            Kind::StrList | Kind::StrSet => match &node.tree {
                Tree::Seq(items) => self.items(c, items, Kind::Str, path, uses_secret),
                _ => match scalar {
                    // A list-valued variable.
                    Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                        Some(Value::Array(items))
                    }
                    other => refuse(c, other),
                },
            },
            Kind::StrMap => match &node.tree {
                Tree::Map(entries) => self.string_map(c, entries, path, uses_secret),
                _ => match scalar {
                    Some(Value::Object(map)) => Some(Value::Object(map)),
                    other => refuse(c, other),
                },
            },
            Kind::Policy | Kind::Json => {
                if kind_is_policy(kind)
                    && !matches!(node.tree, Tree::Map(_))
                    && !matches!(&node.tree, Tree::Str(s) if expr::is_template(s))
                {
                    return mismatch(c, node, kind, path, node.kind_name());
                }
                self.document(c, node, path, uses_secret)
            }
            Kind::PolicyMap => match &node.tree {
                Tree::Map(entries) => {
                    let mut out = Map::new();
                    for (key, item) in entries {
                        out.insert(
                            key.text.clone(),
                            self.value(c, item, Kind::Policy, &join(path, &key.text), uses_secret)?,
                        );
                    }
                    Some(Value::Object(out))
                }
                Tree::Null => Some(Value::Object(Map::new())),
                _ => mismatch(c, node, kind, path, node.kind_name()),
            },
            Kind::Object(fields) => match &node.tree {
                Tree::Map(_) => self
                    .object(c, node, fields, path, None, uses_secret)
                    .map(Value::Object),
                _ => mismatch(c, node, kind, path, node.kind_name()),
            },
            Kind::ObjectList(fields) | Kind::ObjectSet(fields) => match &node.tree {
                Tree::Seq(items) => self.object_items(c, items, fields, path, uses_secret),
                _ => mismatch(c, node, kind, path, node.kind_name()),
            },
        }
    }

    /// A list's items, each of `kind`; the first that fails stops it.
    fn items(
        &self,
        c: &mut Compiler,
        items: &[Node],
        kind: Kind,
        path: &str,
        uses_secret: &mut bool,
    ) -> Option<Value> {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = join(path, &i.to_string());
            if blocks::is_block(item) {
                out.extend(self.block(c, item, kind, &item_path, uses_secret)?);
                continue;
            }
            out.push(self.value(c, item, kind, &item_path, uses_secret)?);
        }
        Some(Value::Array(out))
    }

    /// A map's values (tags, variables) are taken as their text: `PORT:
    /// 8080` means "8080".
    fn string_map(
        &self,
        c: &mut Compiler,
        entries: &[(Key, Node)],
        path: &str,
        uses_secret: &mut bool,
    ) -> Option<Value> {
        let mut out = Map::new();
        for (key, item) in entries {
            let value = self.string(c, item, &join(path, &key.text), uses_secret, true)?;
            out.insert(key.text.clone(), value);
        }
        Some(Value::Object(out))
    }

    /// A list of mappings, each checked against `fields`.
    fn object_items(
        &self,
        c: &mut Compiler,
        items: &[Node],
        fields: &'static [Field],
        path: &str,
        uses_secret: &mut bool,
    ) -> Option<Value> {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = join(path, &i.to_string());
            if blocks::is_block(item) {
                let kind = Kind::Object(fields);
                out.extend(self.block(c, item, kind, &item_path, uses_secret)?);
                continue;
            }
            if !matches!(item.tree, Tree::Map(_)) {
                c.error(
                    item.position,
                    &item_path,
                    format!("expected a mapping, found {}", item.kind_name()),
                    None,
                );
                return None;
            }
            out.push(Value::Object(self.object(
                c,
                item,
                fields,
                &item_path,
                None,
                uses_secret,
            )?));
        }
        Some(Value::Array(out))
    }

    /// A string field. A number or boolean (or a variable holding one) is
    /// taken as its text only where `take_scalars` (a map's values);
    /// elsewhere AWS takes text, and YAML has already changed what was
    /// written (`1.50` is 1.5, `010` may be 8), so it is not guessed back.
    fn string(
        &self,
        c: &mut Compiler,
        node: &Node,
        path: &str,
        uses_secret: &mut bool,
        take_scalars: bool,
    ) -> Option<Value> {
        let scalar = match &node.tree {
            Tree::Str(text) if expr::is_template(text) => {
                self.substitute(c, text, node.position, path, uses_secret)?
            }
            Tree::Str(text) => Value::String(text.clone()),
            Tree::Int(i) => Value::from(*i),
            Tree::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => Value::Number(n),
                None => Value::Null,
            },
            Tree::Bool(b) => Value::Bool(*b),
            Tree::Null => Value::Null,
            _ => {
                c.error(
                    node.position,
                    path,
                    format!("expected a string, found {}", node.kind_name()),
                    None,
                );
                return None;
            }
        };
        let described = match &scalar {
            Value::String(_) => return Some(scalar),
            Value::Number(_) | Value::Bool(_) if take_scalars => {
                return Some(Value::String(scalar_json_text(&scalar)?));
            }
            Value::Number(n) if n.is_i64() => "an integer",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
            Value::Array(_) => "a list",
            Value::Object(_) => "a mapping",
        };
        let help = match &scalar {
            Value::Number(_) | Value::Bool(_) => Some(format!(
                "AWS takes text here: quote it (\"{}\") if that is what you mean",
                scalar_json_text(&scalar)?
            )),
            _ => None,
        };
        let shown = scalar_json_text(&scalar).map_or(String::new(), |text| format!(" (`{text}`)"));
        c.error(
            node.position,
            path,
            format!("expected a string, found {described}{shown}"),
            self.value_origin(node).or(help),
        );
        None
    }

    fn document(
        &self,
        c: &mut Compiler,
        node: &Node,
        path: &str,
        uses_secret: &mut bool,
    ) -> Option<Value> {
        match &node.tree {
            // A policy's statements, or any list of a document, from a list.
            Tree::Map(_) if blocks::is_block(node) => self
                .block(c, node, Kind::Json, path, uses_secret)
                .map(Value::Array),
            Tree::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let item_path = join(path, &i.to_string());
                    if blocks::is_block(item) {
                        out.extend(self.block(c, item, Kind::Json, &item_path, uses_secret)?);
                        continue;
                    }
                    out.push(self.document(c, item, &item_path, uses_secret)?);
                }
                Some(Value::Array(out))
            }
            Tree::Map(entries) => {
                let mut out = Map::new();
                for (key, item) in entries {
                    out.insert(
                        key.text.clone(),
                        self.document(c, item, &join(path, &key.text), uses_secret)?,
                    );
                }
                Some(Value::Object(out))
            }
            Tree::Str(text) if expr::is_template(text) => {
                self.substitute(c, text, node.position, path, uses_secret)
            }
            _ => Some(node.to_json()),
        }
    }

    /// Where the variables a value uses were set, when another file set
    /// them: the place to fix is often there, not where the value is used.
    fn value_origin(&self, node: &Node) -> Option<String> {
        let Tree::Str(text) = &node.tree else {
            return None;
        };
        let places: Vec<String> = expr::references(text)
            .into_iter()
            .filter(|r| r.root == "var")
            .filter_map(|r| {
                let name = &r.attribute;
                Some(match self.variables.get(name)?.set_at.as_ref()? {
                    SetAt::File(file, at) => format!(
                        "`var.{name}` is set at {}:{}:{}",
                        file.display(),
                        at.line,
                        at.column
                    ),
                    SetAt::Flag => format!("`var.{name}` is set by --var {name}=..."),
                    SetAt::Environment => format!("`var.{name}` is set by CAIRN_VAR_{name}"),
                })
            })
            .collect();
        (!places.is_empty()).then(|| places.join("; "))
    }

    /// A mapping checked against fields: unknown keys, kinds, required
    /// fields, defaults, and each field's own check.
    fn object(
        &self,
        c: &mut Compiler,
        node: &Node,
        fields: &[Field],
        path: &str,
        default_name: Option<&str>,
        uses_secret: &mut bool,
    ) -> Option<Map<String, Value>> {
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        c.check_keys(node, &names, path);
        let mut out = Map::new();
        let mut ok = true;
        for field in fields {
            let field_path = join(path, field.name);
            let block = node.get(field.name).and_then(|item| {
                choice_as_block(field, item).map(|message| (item.position, message))
            });
            if let Some((position, message)) = block {
                c.error(position, &field_path, message, None);
                ok = false;
                continue;
            }
            match node.get(field.name) {
                Some(item) => match self.value(c, item, field.kind, &field_path, uses_secret) {
                    Some(value) => {
                        if field.verified() {
                            // Checked as AWS will see it: a name whose text
                            // still holds `${` after resolution is refused.
                            if let Some(literal) = literal_value(&value).filter(|v| !v.is_null()) {
                                if let Err(message) = field.verify(&literal) {
                                    let help = self.value_origin(item);
                                    c.error(item.position, &field_path, message, help);
                                    ok = false;
                                }
                            }
                        }
                        out.insert(field.name.to_owned(), value);
                    }
                    None => ok = false,
                },
                None => match (field.fallback, field.name, default_name) {
                    (Fallback::Required, "name", Some(name)) => {
                        let value = Value::String(name.to_owned());
                        if let Err(message) = field.verify(&value) {
                            c.error(
                                node.position,
                                &field_path,
                                format!("the default name is invalid: {message}"),
                                Some("give `name` explicitly".into()),
                            );
                            ok = false;
                        }
                        out.insert(field.name.to_owned(), value);
                    }
                    (Fallback::Required, _, _) => {
                        c.error(
                            node.position,
                            path,
                            format!("missing required field `{}`", field.name),
                            None,
                        );
                        ok = false;
                    }
                    (fallback, _, _) => {
                        out.insert(
                            field.name.to_owned(),
                            fallback.value().unwrap_or(Value::Null),
                        );
                    }
                },
            }
        }
        ok.then_some(out)
    }
}

/// `${each...}` where no `for_each` gives it a value.
fn each_outside(written: &str) -> (String, Option<String>) {
    (
        format!("`{written}` is known only in a resource or a block with `for_each`"),
        Some("add `for_each:` to this resource, or write the value itself".into()),
    )
}

/// The value of a field that decides what the stack holds (`when`,
/// `for_each`): it must be known when planning, so it may use variables
/// and the stack's names, not a resource's attributes. Literal form.
fn plan_time_value(
    c: &mut Compiler,
    scope: &Scope,
    node: &Node,
    path: &str,
    field: &str,
) -> Option<Value> {
    let mut references = Vec::new();
    expr::collect_references(&node.to_json(), &mut references);
    for reference in references {
        let why = match reference.root.as_str() {
            "var" | "project" | "env" | "stack" => None,
            // A block's `for_each` may use its resource instance's.
            "each" if scope.each.is_some() => None,
            "each" => Some("`each` is known only inside the instances `for_each` makes"),
            "import" => Some("another stack's outputs are read from its state when planning, after the stack's resources are decided"),
            "lookup" => Some("a lookup is read from AWS when planning, after the stack's resources are decided (cairn does not yet expand over a lookup)"),
            "aws" => Some("the account's values are known only once cairn has asked AWS"),
            _ => Some("a resource's attributes are known only after apply"),
        };
        if let Some(why) = why {
            c.error(
                node.position,
                path,
                format!(
                    "`{field}` must be known when planning, and `${{{reference}}}` is not: {why}"
                ),
                Some("use a variable (set per environment in `values:`) or write the value".into()),
            );
            return None;
        }
        if reference.root == "var"
            && scope
                .variables
                .get(&reference.attribute)
                .is_some_and(|v| v.sensitive)
        {
            c.error(
                node.position,
                path,
                format!(
                    "`{field}` cannot use the sensitive variable `{}`",
                    reference.attribute
                ),
                Some("what it decides is shown in plans and addresses".into()),
            );
            return None;
        }
    }
    let mut uses_secret = false;
    let value = scope.document(c, node, path, &mut uses_secret)?;
    literal_value(&value)
}

/// A choice written as a block holding it, as Terraform writes some
/// (`cookies { forward = "none" }`): what the field takes instead.
fn choice_as_block(field: &Field, item: &Node) -> Option<String> {
    let (Kind::Str, Some((choices, what)), Tree::Map(entries)) =
        (field.kind, field.choices, &item.tree)
    else {
        return None;
    };
    let chosen = entries.iter().find_map(|(_, value)| match &value.tree {
        Tree::Str(text) if choices.contains(&text.as_str()) => Some(text),
        _ => None,
    })?;
    Some(format!(
        "`{}` takes {what} itself ({}), not a mapping holding one: write `{}: {chosen}`",
        field.name,
        choices.join(", "),
        field.name
    ))
}

/// "expected KIND, found FOUND" at the node.
fn mismatch(c: &mut Compiler, node: &Node, kind: Kind, path: &str, found: &str) -> Option<Value> {
    c.error(
        node.position,
        path,
        format!("expected {}, found {found}", kind.describe()),
        None,
    );
    None
}

/// How a value read from the stack is named in "found ...".
fn found_kind(value: &Value) -> &'static str {
    match value {
        Value::String(s) if expr::is_template(s) => "a reference",
        Value::String(_) => "a string",
        Value::Number(n) if n.is_i64() => "an integer",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn kind_is_policy(kind: Kind) -> bool {
    matches!(kind, Kind::Policy)
}

/// What identifies a resource in AWS, where the stack decides it (its
/// spec says how): two resources with one identity would fight over one
/// object (the second create fails, or adopts the first). With the field a
/// clash is reported on.
fn physical_identity(catalog: &Catalog, resource: &Resource) -> Option<(String, &'static str)> {
    let type_name = resource.schema.type_name;
    let identity = catalog.of(type_name).identity?;
    let written = Written {
        properties: &resource.properties,
        literal: literal_value,
    };
    let text = (identity.of)(&written)?;
    Some((format!("{type_name} {text}"), identity.field))
}

fn check_physical_names(c: &mut Compiler, resources: &[Resource]) {
    let mut seen: BTreeMap<String, &Resource> = BTreeMap::new();
    for resource in resources {
        let Some((identity, field)) = physical_identity(c.catalog, resource) else {
            continue;
        };
        match seen.get(&identity) {
            Some(first) => {
                c.diagnostics.push(Diagnostic {
                    file: resource.file.clone(),
                    line: resource.line,
                    column: resource.column,
                    path: format!("resources.{}.properties.{field}", resource.name),
                    message: format!(
                        "`{}` and `{}` would be the same AWS resource ({identity})",
                        first.name, resource.name
                    ),
                    help: Some(format!(
                        "give one of them another `{field}` ({} defines the first at line {})",
                        first.file.display(),
                        first.line
                    )),
                });
            }
            None => {
                seen.insert(identity, resource);
            }
        }
    }
}

/// What AWS refuses about address blocks across resources: a subnet
/// outside its VPC's block, and two subnets of one VPC that overlap.
fn check_networks(c: &mut Compiler, resources: &[Resource]) {
    let block = |resource: &Resource| -> Option<(u32, u8)> {
        match literal_value(resource.properties.get("cidr_block")?)? {
            Value::String(text) => checks::parse_cidr(&text).ok(),
            _ => None,
        }
    };
    // `${NAME.id}`: the VPC resource a subnet names.
    let vpc_of = |subnet: &Resource| -> Option<&Resource> {
        let text = subnet.properties.get("vpc_id")?.as_str()?;
        let name = text.strip_prefix("${")?.strip_suffix(".id}")?;
        resources
            .iter()
            .find(|r| r.name == name && r.type_name() == "vpc")
    };
    let subnets: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.type_name() == "subnet")
        .collect();
    for (i, subnet) in subnets.iter().enumerate() {
        let (Some(vpc), Some(own)) = (vpc_of(subnet), block(subnet)) else {
            continue;
        };
        let mut problem = |message: String, help: String| {
            c.diagnostics.push(Diagnostic {
                file: subnet.file.clone(),
                line: subnet.line,
                column: subnet.column,
                path: format!("resources.{}.properties.cidr_block", subnet.name),
                message,
                help: Some(help),
            })
        };
        let show = |(address, prefix): (u32, u8)| {
            format!("{}/{prefix}", std::net::Ipv4Addr::from(address))
        };
        if let Some(outer) = block(vpc) {
            if !checks::cidr_contains(outer, own) {
                problem(
                    format!(
                        "{} is outside VPC `{}`'s block {}",
                        show(own),
                        vpc.name,
                        show(outer)
                    ),
                    format!(
                        "AWS refuses a subnet outside its VPC ({} defines the VPC at line {})",
                        vpc.file.display(),
                        vpc.line
                    ),
                );
            }
        }
        for other in &subnets[..i] {
            let same_vpc = vpc_of(other).is_some_and(|v| v.name == vpc.name);
            if let (true, Some(theirs)) = (same_vpc, block(other)) {
                if checks::cidr_overlaps(own, theirs) {
                    problem(
                        format!(
                            "{} overlaps subnet `{}` ({})",
                            show(own),
                            other.name,
                            show(theirs)
                        ),
                        format!(
                            "subnets of one VPC cannot share addresses ({} defines `{}` at line {})",
                            other.file.display(),
                            other.name,
                            other.line
                        ),
                    );
                }
            }
        }
    }
}

/// A subnet is associated with one route table: two tables of the stack
/// that both list it would take it from each other on every apply.
fn check_route_tables(c: &mut Compiler, resources: &[Resource]) {
    // The subnets a `subnet_ids` entry names: a literal id, `${NAME.id}`,
    // or every instance of `${NAME[*].id}`.
    let named = |text: &str| -> Vec<String> {
        let Some(name) = text.strip_prefix("${").and_then(|t| t.strip_suffix(".id}")) else {
            return vec![text.to_owned()];
        };
        match name.strip_suffix("[*]") {
            Some(base) => resources
                .iter()
                .filter(|r| r.type_name() == "subnet" && expr::split_instance(&r.name).0 == base)
                .map(|r| r.name.clone())
                .collect(),
            None => vec![name.to_owned()],
        }
    };
    let mut claimed: BTreeMap<String, &Resource> = BTreeMap::new();
    for table in resources.iter().filter(|r| r.type_name() == "route_table") {
        let subnets: Vec<String> = match table.properties.get("subnet_ids") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .flat_map(&named)
                .collect(),
            Some(Value::String(text)) => named(text),
            _ => Vec::new(),
        };
        for subnet in subnets {
            let Some(first) = claimed.get(&subnet).copied() else {
                claimed.insert(subnet, table);
                continue;
            };
            if first.name == table.name {
                continue;
            }
            c.diagnostics.push(Diagnostic {
                file: table.file.clone(),
                line: table.line,
                column: table.column,
                path: format!("resources.{}.properties.subnet_ids", table.name),
                message: format!(
                    "subnet `{subnet}` is also in route table `{}`: a subnet has one route table",
                    first.name
                ),
                help: Some(format!(
                    "AWS keeps one association per subnet, so the two would take it from each other on every apply ({} defines `{}` at line {})",
                    first.file.display(),
                    first.name,
                    first.line
                )),
            });
        }
    }
}

/// A text that is exactly one `${lookup.…}` reference.
fn is_whole_lookup(text: &str) -> bool {
    matches!(
        expr::parse(text).as_deref(),
        Ok([expr::Part::Reference(reference)]) if reference.root == "lookup"
    )
}

/// The value as it will reach AWS, when it holds no reference left to
/// resolve (escaped `$${` becomes `${`); `None` while one remains.
fn literal_value(value: &Value) -> Option<Value> {
    Some(match value {
        Value::String(text) if expr::is_template(text) => {
            let mut out = String::new();
            for part in expr::parse(text).ok()? {
                match part {
                    expr::Part::Literal(literal) => out.push_str(&literal),
                    expr::Part::Reference(_) | expr::Part::Call(_) => return None,
                }
            }
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(literal_value).collect::<Option<_>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Some((k.clone(), literal_value(v)?)))
                .collect::<Option<_>>()?,
        ),
        other => other.clone(),
    })
}

/// A resource's compiled fields, besides its properties.
struct Options {
    protect: bool,
    create_before_destroy: Option<bool>,
    region: Option<String>,
    depends_on: Vec<String>,
}

/// A resource's properties as compiled, and which of them hold secrets.
struct Properties {
    values: Map<String, Value>,
    sensitive: Vec<String>,
    sensitive_keys: Vec<String>,
}

fn compile_resource(
    c: &mut Compiler,
    scope: &Scope,
    instance: &expand::Instance,
    stack_tags: &BTreeMap<String, String>,
) -> Option<Resource> {
    let (name, key, node) = (instance.name.as_str(), instance.key, instance.node);
    let naming = instance.naming();
    let path = join("resources", instance.base);
    if !check_resource_name(c, instance.base, key, &path) {
        return None;
    }
    if !matches!(node.tree, Tree::Map(_)) {
        c.error(
            node.position,
            &path,
            format!(
                "expected a mapping with `type` and `properties`, found {}",
                node.kind_name()
            ),
            None,
        );
        return None;
    }
    c.check_keys(node, RESOURCE_KEYS, &path);
    let schema = resource_type(c, node, &path)?;
    let Options {
        protect,
        create_before_destroy,
        region,
        mut depends_on,
    } = resource_options(c, scope, schema, node, &path)?;

    let properties_path = join(&path, "properties");
    let empty = Node {
        tree: Tree::Map(Vec::new()),
        position: node.position,
    };
    let properties_node = node.get("properties").unwrap_or(&empty);
    if !matches!(properties_node.tree, Tree::Map(_)) {
        c.error(
            properties_node.position,
            &properties_path,
            format!("expected a mapping, found {}", properties_node.kind_name()),
            None,
        );
        return None;
    }
    let Properties {
        values: mut properties,
        mut sensitive,
        mut sensitive_keys,
    } = compile_properties(c, scope, schema, &naming, properties_node, &properties_path)?;

    // The items a block made share its `content`: a problem they all have
    // is said once, at the content.
    let mut said = std::collections::BTreeSet::new();
    for problem in (schema.validate)(&properties) {
        let at = locate(properties_node, &problem.path).unwrap_or(properties_node.position);
        if !said.insert((at.line, at.column, problem.message.clone())) {
            continue;
        }
        c.error(
            at,
            join(&properties_path, &problem.path),
            problem.message,
            None,
        );
    }
    (schema.expand)(&mut properties);

    if schema.taggable {
        let tags = resource_tags(
            c,
            scope,
            schema,
            (name, &naming, key),
            (properties_node, &properties_path),
            &properties,
            stack_tags,
        );
        properties.insert("tags".into(), Value::Object(tags.into_iter().collect()));
    }

    add_references(scope, &properties, &mut depends_on);
    sensitive.sort();
    sensitive.dedup();
    sensitive_keys.sort();
    Some(Resource {
        name: name.to_owned(),
        schema,
        properties: std::sync::Arc::new(properties),
        protect,
        create_before_destroy,
        region,
        depends_on,
        sensitive,
        sensitive_keys,
        file: c.file.clone(),
        line: key.position.line,
        column: key.position.column,
    })
}

/// A resource's name is part of references (`${name.arn}`) and of default
/// names, so it is an identifier and not one of the references' roots.
fn check_resource_name(c: &mut Compiler, name: &str, key: &Key, path: &str) -> bool {
    let ok = !RESERVED_NAMES.contains(&name)
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && name.starts_with(|ch: char| ch.is_ascii_alphabetic());
    if !ok {
        c.error(key.position, path, format!("resource name `{name}` must be letters, digits and _, start with a letter, and not be one of {}", RESERVED_NAMES.join(", ")), None);
    }
    ok
}

/// The schema of the resource's `type`, which must be given and known.
fn resource_type(c: &mut Compiler, node: &Node, path: &str) -> Option<&'static Schema> {
    let Some(type_node) = node.get("type") else {
        c.error(
            node.position,
            path,
            "missing required field `type`",
            Some(format!("types: {}", c.catalog.type_names().join(", "))),
        );
        return None;
    };
    let type_name = c.text(type_node, &join(path, "type"))?;
    let Some(schema) = c.catalog.schema(&type_name) else {
        let help = suggest(&type_name, c.catalog.type_names())
            .or_else(|| Some(format!("types: {}", c.catalog.type_names().join(", "))));
        c.error(
            type_node.position,
            join(path, "type"),
            format!("unknown resource type `{type_name}`"),
            help,
        );
        return None;
    };
    Some(schema)
}

/// `protect`, `create_before_destroy`, `region` and `depends_on`.
fn resource_options(
    c: &mut Compiler,
    scope: &Scope,
    schema: &Schema,
    node: &Node,
    path: &str,
) -> Option<Options> {
    // Options never carry secrets into a plan: what they use is not kept.
    let mut uses_secret = false;
    let mut flag = |c: &mut Compiler, key: &str| -> Option<Option<bool>> {
        match node.get(key) {
            None => Some(None),
            Some(item) => {
                match scope.value(c, item, Kind::Bool, &join(path, key), &mut uses_secret)? {
                    Value::Bool(b) => Some(Some(b)),
                    _ => None,
                }
            }
        }
    };
    let protect =
        flag(c, "protect")?.unwrap_or_else(|| schema.stateful && scope.environment == "prod");
    let create_before_destroy = flag(c, "create_before_destroy")?;
    // A region of its own; the stack's when it names the same one.
    let region = match node.get("region") {
        None => None,
        Some(item) => {
            let value = scope.value(c, item, Kind::Str, &join(path, "region"), &mut uses_secret)?;
            if let Err(message) = checks::region(&value) {
                c.error(item.position, join(path, "region"), message, None);
                return None;
            }
            value
                .as_str()
                .filter(|r| Some(*r) != scope.region)
                .map(str::to_owned)
        }
    };
    let mut depends_on = Vec::new();
    if let Some(item) = node.get("depends_on") {
        if let Value::Array(names) = scope.value(
            c,
            item,
            Kind::StrList,
            &join(path, "depends_on"),
            &mut uses_secret,
        )? {
            for (i, dependency) in names.iter().filter_map(Value::as_str).enumerate() {
                let at = match &item.tree {
                    Tree::Seq(items) => items[i].position,
                    _ => item.position,
                };
                let dependency_path = join(path, &format!("depends_on.{i}"));
                // `name` of a resource with `for_each`: all its instances.
                if let Some(keys) = scope.expansion.for_each.get(dependency) {
                    depends_on.extend(keys.iter().map(|k| expr::instance_name(dependency, k)));
                } else if let Err((message, help)) = scope.check_instance(dependency) {
                    c.error(at, dependency_path, message, help);
                } else if scope.types.contains_key(dependency) {
                    depends_on.push(dependency.to_owned());
                } else {
                    c.error(
                        at,
                        dependency_path,
                        format!("no resource `{dependency}` in this stack"),
                        suggest(dependency, scope.types.keys().map(String::as_str)),
                    );
                }
            }
        }
    }
    Some(Options {
        protect,
        create_before_destroy,
        region,
        depends_on,
    })
}

/// The schema's fields read from `properties`, each on its own so one
/// field's secret marks only that field sensitive (and, in a mapping
/// whose other entries are not secret, only its secret entries).
fn compile_properties(
    c: &mut Compiler,
    scope: &Scope,
    schema: &Schema,
    name: &str,
    properties_node: &Node,
    properties_path: &str,
) -> Option<Properties> {
    let default_name = schema
        .naming
        .default_name(scope.project, scope.environment, name);
    let mut sensitive = Vec::new();
    let mut sensitive_keys = Vec::new();
    let mut fields: Vec<Field> = schema.fields.to_vec();
    if !schema.taggable {
        fields.retain(|f| f.name != "tags");
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    c.check_keys(properties_node, &names, properties_path);
    let mut out = Map::new();
    let mut ok = true;
    // A `name_prefix` stands for the name: cairn makes the name when it
    // creates the resource (the prefix and a unique suffix), so none is
    // given or defaulted.
    let prefixed =
        schema.field("name_prefix").is_some() && properties_node.get("name_prefix").is_some();
    if prefixed {
        if let Some(item) = properties_node.get("name") {
            c.error(
                item.position,
                join(properties_path, "name"),
                "give `name` or `name_prefix`, not both",
                Some("`name_prefix` makes a name from the prefix and a unique suffix".into()),
            );
            ok = false;
        }
        out.insert("name".into(), Value::Null);
    }
    for field in &fields {
        if prefixed && field.name == "name" {
            continue;
        }
        let mut field_secret = false;
        let single = std::slice::from_ref(field);
        let probe = Node {
            tree: match properties_node.get(field.name) {
                Some(item) => Tree::Map(vec![(
                    Key {
                        text: field.name.to_owned(),
                        position: item.position,
                    },
                    item.clone(),
                )]),
                None => Tree::Map(Vec::new()),
            },
            position: properties_node.position,
        };
        match scope.object(
            c,
            &probe,
            single,
            properties_path,
            default_name.as_deref(),
            &mut field_secret,
        ) {
            Some(mut map) => {
                if let Some(value) = map.remove(field.name) {
                    out.insert(field.name.to_owned(), value);
                }
            }
            None => ok = false,
        }
        if field_secret || field.sensitive {
            sensitive.push(field.name.to_owned());
        }
        if field_secret && !field.sensitive && matches!(field.kind, Kind::StrMap) {
            if let Some(node) = properties_node.get(field.name) {
                sensitive_keys.extend(
                    scope
                        .secret_entries(node)
                        .into_iter()
                        .map(|key| format!("{}.{key}", field.name)),
                );
            }
        }
    }
    ok.then_some(Properties {
        values: out,
        sensitive,
        sensitive_keys,
    })
}

/// A taggable resource's tags: the stack's, a `Name` for types named by
/// it, the resource's own, and cairn's ownership tags last (they win).
fn resource_tags(
    c: &mut Compiler,
    scope: &Scope,
    schema: &Schema,
    (name, naming, key): (&str, &str, &Key),
    (properties_node, properties_path): (&Node, &str),
    properties: &Map<String, Value>,
    stack_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, Value> {
    let mut tags: BTreeMap<String, Value> = stack_tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if schema.naming == crate::schema::Naming::Tag {
        tags.insert(
            "Name".into(),
            Value::String(format!(
                "{}-{}-{}",
                scope.project,
                scope.environment,
                naming.replace('_', "-")
            )),
        );
    }
    if let Some(Value::Object(own)) = properties.get("tags") {
        for (k, v) in own {
            let at = || {
                locate(properties_node, &format!("tags.{k}")).unwrap_or(properties_node.position)
            };
            let value = literal_value(v);
            if let Err(message) = checks::tag_key(k).and_then(|()| match &value {
                Some(Value::String(text)) => checks::tag_value(text),
                _ => Ok(()),
            }) {
                c.error(
                    at(),
                    join(properties_path, &format!("tags.{k}")),
                    message,
                    None,
                );
            }
            if k.starts_with("cairn:") {
                c.error(
                    at(),
                    join(properties_path, &format!("tags.{k}")),
                    "tag keys starting with `cairn:` are cairn's ownership tags",
                    None,
                );
            }
            tags.insert(k.clone(), v.clone());
        }
    }
    tags.insert(TAG_STACK.into(), Value::String(scope.project.to_owned()));
    tags.insert(
        TAG_ENVIRONMENT.into(),
        Value::String(scope.environment.to_owned()),
    );
    tags.insert(
        TAG_ADDRESS.into(),
        Value::String(expr::address_tag(&super::address(schema.type_name, name))),
    );
    let named_by_stack = properties.get("tags").and_then(|t| t.get("Name")).is_some();
    check_made_tags(c, schema, naming, key, &tags, named_by_stack);
    if tags.len() > 50 {
        c.error(
            properties_node.position,
            join(properties_path, "tags"),
            "AWS allows at most 50 tags on a resource (cairn adds 3)",
            None,
        );
    }
    tags
}

/// The tags cairn writes from the resource's name must fit AWS's limit on
/// a tag value as the stack's own do; the fix is the name.
fn check_made_tags(
    c: &mut Compiler,
    schema: &Schema,
    name: &str,
    key: &Key,
    tags: &BTreeMap<String, Value>,
    named_by_stack: bool,
) {
    // The resource as written (an instance's key is not part of its path).
    let path = join("resources", &key.text);
    for tag in [TAG_ADDRESS, "Name"] {
        let made = match tag {
            TAG_ADDRESS => true,
            _ => schema.naming == crate::schema::Naming::Tag && !named_by_stack,
        };
        let length = tags
            .get(tag)
            .and_then(Value::as_str)
            .map_or(0, |v| v.chars().count());
        if made && length > TAG_VALUE_LENGTH {
            let spare = TAG_VALUE_LENGTH + name.chars().count() - length;
            c.error(
                key.position,
                &path,
                format!(
                    "resource name `{}…` is {} characters long: cairn's tag `{tag}` made from it would be {length}, and AWS allows tag values of {TAG_VALUE_LENGTH}",
                    name.chars().take(16).collect::<String>(),
                    name.chars().count()
                ),
                Some(format!("use a name of at most {spare} characters for a {}", schema.type_name)),
            );
        }
    }
}

/// Adds the resources the properties refer to to `depends_on`, sorted.
fn add_references(scope: &Scope, properties: &Map<String, Value>, depends_on: &mut Vec<String>) {
    let mut references = Vec::new();
    expr::collect_references(&Value::Object(properties.clone()), &mut references);
    for reference in references {
        if scope.types.contains_key(&reference.root) && !depends_on.contains(&reference.root) {
            depends_on.push(reference.root);
        }
    }
    depends_on.sort();
    depends_on.dedup();
}

/// The node at a dotted path below `node`, for placing a problem found on
/// compiled values.
fn locate(node: &Node, path: &str) -> Option<Position> {
    if path.is_empty() {
        return Some(node.position);
    }
    let mut current = node;
    for segment in path.split('.') {
        current = match &current.tree {
            // An item a block made is found in its `content`.
            Tree::Map(_) if blocks::is_block(current) => current.get("content")?,
            // Where blocks are among the items, the list's numbering is not
            // what is written: the list is the place.
            Tree::Seq(items) if items.iter().any(blocks::is_block) => {
                return Some(current.position)
            }
            Tree::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text == segment)
                .map(|(_, v)| v)?,
            Tree::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return Some(current.position),
        };
    }
    Some(current.position)
}

/// The hash of what the stack asks for: the JSON text of a document with
/// its keys in sorted order, written straight into the hasher (a stack of
/// thousands of resources is not copied to be hashed).
fn stack_hash(
    project: &str,
    environment: &str,
    region: Option<&str>,
    (resources, lookups): (&[Resource], &BTreeMap<String, super::Lookup>),
    outputs: &BTreeMap<String, Output>,
) -> String {
    // Fields in sorted order: the text is what `serde_json::Value` (a
    // sorted map) gives, so hashes stay those of earlier versions.
    #[derive(serde::Serialize)]
    struct Document<'a> {
        environment: &'a str,
        // Absent when there are none: the hashes of stacks without
        // lookups stay those of earlier versions.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        lookups: BTreeMap<&'a str, (&'a str, &'a Map<String, Value>)>,
        outputs: BTreeMap<&'a str, &'a Value>,
        project: &'a str,
        region: Option<&'a str>,
        resources: Vec<Entry<'a>>,
    }
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        depends_on: &'a [String],
        name: &'a str,
        properties: &'a Map<String, Value>,
        protect: bool,
        #[serde(rename = "type")]
        type_name: &'a str,
    }
    struct Hasher(Sha256);
    impl std::io::Write for Hasher {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let document = Document {
        environment,
        lookups: lookups
            .iter()
            .map(|(k, l)| (k.as_str(), (l.kind.name(), &l.parameters)))
            .collect(),
        outputs: outputs
            .iter()
            .map(|(k, o)| (k.as_str(), &o.value))
            .collect(),
        project,
        region,
        resources: resources
            .iter()
            .map(|r| Entry {
                depends_on: &r.depends_on,
                name: &r.name,
                properties: &r.properties,
                protect: r.protect,
                type_name: r.type_name(),
            })
            .collect(),
    };
    let mut hasher = Hasher(Sha256::new());
    serde_json::to_writer(&mut hasher, &document).expect("hashing cannot fail");
    let digest = hasher.0.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compiles a stack given as text, as the file `dev.yaml` of a directory
/// of its own; messages name that file without its directory.
#[cfg(test)]
pub(crate) fn from_text(text: &str) -> Result<Stack, Diagnostics> {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let file = directory.path().join("dev.yaml");
    std::fs::write(&file, text).expect("the stack is written");
    let shown = format!("{}/", directory.path().display());
    load(crate::types::catalog(), &file, &VariableOverrides::new()).map_err(|diagnostics| {
        let strip = |text: &str| text.replace(&shown, "");
        Diagnostics(
            diagnostics
                .0
                .into_iter()
                .map(|d| Diagnostic {
                    message: strip(&d.message),
                    help: d.help.as_deref().map(strip),
                    ..d
                })
                .collect(),
        )
    })
}

#[cfg(test)]
mod phases_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash is written straight into the hasher; it must stay the hash
    /// of the document's JSON text as a `serde_json::Value` gives it, so
    /// saved plans made by earlier versions keep matching their stacks.
    #[test]
    fn the_stack_hash_is_that_of_the_sorted_json_document() {
        for name in [
            "tests/stacks/all.yaml",
            "tests/stacks/database.yaml",
            "stacks/dev.yaml",
            "stacks/prod.yaml",
        ] {
            let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
            let stack = load(crate::types::catalog(), &file, &VariableOverrides::new()).unwrap();
            let document = serde_json::json!({
                "project": stack.project,
                "environment": stack.environment,
                "region": stack.region,
                "resources": stack.resources.iter().map(|r| serde_json::json!({
                    "name": r.name, "type": r.type_name(), "properties": r.properties,
                    "protect": r.protect, "depends_on": r.depends_on,
                })).collect::<Vec<_>>(),
                "outputs": stack.outputs.iter().map(|(k, o)| (k.clone(), o.value.clone())).collect::<Map<String, Value>>(),
            });
            let digest = Sha256::digest(document.to_string().as_bytes());
            let expected: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(stack.hash, expected, "{name}");
        }
    }
}
