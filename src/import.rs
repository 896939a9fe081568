//! `cairn import --from-terraform`: a Terraform state (format 4) becomes a
//! cairn stack file and a cairn state that adopts the same AWS resources as
//! they are.
//!
//! Each resource of a Terraform type that is a cairn type's main type
//! (`types::terraform::Mapping`) is read from AWS by the id its mapping
//! finds in Terraform's attributes, and its stack properties are what AWS
//! reports: the plan after an import shows no change but cairn's ownership
//! tags. Terraform resources that a cairn type covers as part of another
//! (an HTTP API's routes) are folded into it. Everything else is listed and
//! left out, never half-imported. Terraform's state holds secrets in plain
//! text; none of its values is written anywhere: properties come from AWS,
//! and a sensitive one becomes a sensitive variable with no default.

use crate::model::Observed;
use crate::spec::terraform::Parts;
use crate::types;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A Terraform resource instance cairn can describe.
pub struct Candidate {
    pub tf_address: String,
    pub type_name: &'static str,
    pub name: String,
    pub id: String,
    /// Terraform's attributes, for what AWS does not report.
    pub attributes: Map<String, Value>,
    /// The Terraform resources this one refers to (the state's
    /// `dependencies`, without instance keys).
    pub dependencies: Vec<String>,
}

/// A Terraform resource that goes with an imported one.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub tf_address: String,
    /// The cairn address of the resource it goes with.
    pub with: String,
}

#[derive(Default)]
pub struct Classified {
    pub candidates: Vec<Candidate>,
    /// Terraform resources that an imported cairn resource takes over: it
    /// reads them from AWS as part of itself, changes them and deletes them
    /// (an HTTP API's routes, a role's inline policies).
    pub folded: Vec<Part>,
    /// Terraform resources cairn does not describe that AWS deletes with an
    /// imported resource (a function's URL): `cairn destroy` of that
    /// resource takes them too.
    pub dies_with: Vec<Part>,
    /// (Terraform address, why it is left out)
    pub left_out: Vec<(String, String)>,
    pub serial: u64,
    pub lineage: String,
}

/// The main Terraform type of the cairn type whose mapping's parts
/// (`spec::terraform::Parts`) list `tf_type` where `list` looks.
fn parent_of(tf_type: &str, list: fn(&Parts) -> &'static [&'static str]) -> Option<&'static str> {
    types::all()
        .iter()
        .find(|t| list(&t.terraform.parts).contains(&tf_type))
        .map(|t| t.terraform.main_type())
}

/// One managed AWS resource instance of a Terraform state.
struct Instance<'a> {
    address: String,
    tf_type: &'a str,
    attributes: Map<String, Value>,
    dependencies: Vec<String>,
}

/// The Terraform state's managed AWS resources, sorted into what cairn
/// imports, what goes with an imported resource, and what it leaves out.
pub fn classify(tfstate: &Value) -> Result<Classified, String> {
    if tfstate.get("version").and_then(Value::as_u64) != Some(4) {
        return Err(
            "not a Terraform state of format 4 (`\"version\": 4`; Terraform 0.12 and later)".into(),
        );
    }
    let mut out = Classified {
        serial: tfstate["serial"].as_u64().unwrap_or(0),
        lineage: tfstate["lineage"].as_str().unwrap_or_default().to_owned(),
        ..Classified::default()
    };
    let mut names: Vec<String> = Vec::new();
    // Parts wait until every candidate is known.
    let mut parts: Vec<(Instance, &'static str, bool)> = Vec::new();
    for resource in tfstate["resources"].as_array().into_iter().flatten() {
        if resource["mode"] != "managed" {
            continue;
        }
        let tf_type = resource["type"].as_str().unwrap_or_default();
        let tf_name = resource["name"].as_str().unwrap_or_default();
        let module = resource["module"].as_str();
        let mut resource_address = format!("{tf_type}.{tf_name}");
        if let Some(module) = module {
            resource_address = format!("{module}.{resource_address}");
        }
        for instance in resource["instances"].as_array().into_iter().flatten() {
            let mut address = resource_address.clone();
            if let Some(key) = instance.get("index_key") {
                address = format!("{address}[{key}]");
            }
            if instance.get("deposed").is_some() {
                out.left_out.push((
                    address,
                    "a deposed object Terraform still has to delete".into(),
                ));
                continue;
            }
            if !tf_type.starts_with("aws_") {
                out.left_out.push((address, "not an AWS resource".into()));
                continue;
            }
            let this = Instance {
                address,
                tf_type,
                attributes: instance["attributes"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                dependencies: instance["dependencies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            };
            if let Some(t) = types::all()
                .iter()
                .find(|t| t.terraform.main_type() == tf_type)
            {
                match (t.terraform.import)(&this.attributes) {
                    Ok(id) => {
                        let name = cairn_name(
                            module,
                            tf_name,
                            instance.get("index_key"),
                            &names,
                            t.schema.type_name,
                        );
                        names.push(name.clone());
                        out.candidates.push(Candidate {
                            tf_address: this.address,
                            type_name: t.schema.type_name,
                            name,
                            id,
                            attributes: this.attributes,
                            dependencies: this.dependencies,
                        });
                    }
                    Err(why) => out.left_out.push((this.address, why)),
                }
            } else if let Some(t) = types::all()
                .iter()
                .find(|t| t.terraform.types[1..].contains(&tf_type))
            {
                parts.push((this, t.terraform.main_type(), true));
            } else if let Some(parent) = parent_of(tf_type, |p| p.taken_over) {
                parts.push((this, parent, true));
            } else if let Some(parent) = parent_of(tf_type, |p| p.dies_with) {
                parts.push((this, parent, false));
            } else {
                out.left_out
                    .push((this.address, "cairn has no type for it yet".into()));
            }
        }
    }
    settle_parts(&mut out, parts);
    Ok(out)
}

/// Each part with the candidate it belongs to (folded into it, or left to
/// Terraform beside it); a candidate with a part it cannot describe is left
/// out with all its parts.
fn settle_parts(out: &mut Classified, parts: Vec<(Instance, &'static str, bool)>) {
    let candidate_resources: Vec<String> = out
        .candidates
        .iter()
        .map(|c| resource_of(&c.tf_address))
        .collect();
    let mut counted: BTreeMap<(String, &str), usize> = BTreeMap::new();
    // Owners that cannot be described, with why (the first reason found).
    let mut refused: BTreeMap<String, String> = BTreeMap::new();
    for (part, parent_type, taken_over) in parts {
        match owner(&part, parent_type, &out.candidates, &candidate_resources) {
            Some(c) => {
                let with = crate::stack::address(c.type_name, &c.name);
                let owned_by = &types::of(c.type_name).terraform.parts;
                if let Some(why) = (owned_by.not_described)(part.tf_type, &part.attributes) {
                    refused.entry(with.clone()).or_insert(format!(
                        "its {} has {why}, which cairn does not describe yet",
                        part.address
                    ));
                }
                if let Some((_, what)) = owned_by
                    .at_most_one
                    .iter()
                    .find(|(t, _)| *t == part.tf_type)
                {
                    *counted.entry((with.clone(), what)).or_default() += 1;
                }
                let part = Part {
                    tf_address: part.address,
                    with,
                };
                if taken_over {
                    out.folded.push(part);
                } else {
                    out.dies_with.push(part);
                }
            }
            None => out.left_out.push((
                part.address,
                format!(
                    "its {parent_type} is not imported{}",
                    if taken_over {
                        ""
                    } else {
                        " (Terraform keeps managing it)"
                    }
                ),
            )),
        }
    }
    for ((with, what), count) in counted {
        if count > 1 {
            refused
                .entry(with)
                .or_insert(format!("it has {count} {what}; cairn describes one"));
        }
    }
    for (with, why) in refused {
        let Some(at) = out
            .candidates
            .iter()
            .position(|c| crate::stack::address(c.type_name, &c.name) == with)
        else {
            continue;
        };
        let c = out.candidates.remove(at);
        out.left_out.push((c.tf_address, why));
        for parts in [&mut out.folded, &mut out.dies_with] {
            parts.retain(|p| {
                let keep = p.with != with;
                if !keep {
                    out.left_out.push((
                        p.tf_address.clone(),
                        format!("part of {with}, which is left out"),
                    ));
                }
                keep
            });
        }
    }
}

/// A Terraform address without its instance key.
pub fn resource_of(address: &str) -> String {
    address
        .split_once('[')
        .map_or(address, |(resource, _)| resource)
        .to_owned()
}

/// The imported resource a part belongs to: the one whose id, name or ARN
/// one of its attributes holds (`role`, `function_name`, `route_table_id`),
/// else the one of that type its `dependencies` name, when only one.
fn owner<'a>(
    part: &Instance,
    parent_type: &str,
    candidates: &'a [Candidate],
    candidate_resources: &[String],
) -> Option<&'a Candidate> {
    let of_type = || {
        candidates
            .iter()
            .zip(candidate_resources)
            .filter(move |(c, _)| types::of(c.type_name).terraform.main_type() == parent_type)
    };
    let held: Vec<&str> = part
        .attributes
        .values()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let by_attribute = of_type().find(|(c, _)| {
        ["id", "name", "arn"].iter().any(|key| {
            c.attributes
                .get(*key)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty() && held.contains(&v))
        })
    });
    if let Some((c, _)) = by_attribute {
        return Some(c);
    }
    let mut named = of_type().filter(|(_, resource)| part.dependencies.contains(resource));
    match (named.next(), named.next()) {
        (Some((c, _)), None) => Some(c),
        _ => None,
    }
}

/// A cairn resource name from Terraform's (module and index folded in),
/// unique in the stack.
fn cairn_name(
    module: Option<&str>,
    name: &str,
    index: Option<&Value>,
    taken: &[String],
    type_name: &str,
) -> String {
    let mut raw = String::new();
    if let Some(module) = module {
        raw.push_str(&module.replace("module.", ""));
        raw.push('_');
    }
    raw.push_str(name);
    if let Some(index) = index {
        raw.push('_');
        raw.push_str(&index.to_string());
    }
    let mut clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    clean = clean.trim_matches('_').to_owned();
    while clean.contains("__") {
        clean = clean.replace("__", "_");
    }
    if !clean.starts_with(|c: char| c.is_ascii_lowercase()) {
        clean = format!("r_{clean}");
    }
    if taken.contains(&clean) {
        clean = format!("{clean}_{type_name}");
    }
    clean
}

/// One imported resource: its cairn name and type, and what AWS reports.
pub struct Imported {
    pub name: String,
    pub type_name: &'static str,
    pub observed: Observed,
    /// Where the function's zip goes, from Terraform's `filename`.
    pub zip: Option<String>,
    /// The imported resources Terraform's state says this one depends on:
    /// only these may stand for a value that is not an ARN or an id AWS
    /// assigned (a name is not unique across types: a role and a function
    /// may share one).
    pub depends_on: Vec<String>,
}

impl Imported {
    /// What AWS reports, completed where it reports nothing (a KMS key's
    /// deletion window) by Terraform's attribute of the same name. A
    /// sensitive one (a database password Terraform set) is taken only to
    /// be kept as its hash in the state: the stack gets a sensitive
    /// variable for it, and no file gets the value.
    pub fn new(
        name: String,
        type_name: &'static str,
        mut observed: Observed,
        terraform: &Map<String, Value>,
    ) -> Imported {
        let schema = types::of(type_name).schema;
        for field in schema.fields {
            // The stack names what it imports by the name AWS holds; a
            // prefix Terraform made it from (or its "" when none) would
            // stand beside that name.
            if !field.compared
                || field.name == "name_prefix"
                || observed.attributes.contains_key(field.name)
            {
                continue;
            }
            let scalar = matches!(
                field.kind,
                crate::schema::Kind::Str | crate::schema::Kind::Int | crate::schema::Kind::Bool
            );
            // Terraform writes "" or false for an optional setting it
            // leaves unset (a standard queue's FIFO settings): not a value
            // to keep where the stack's own absence means AWS's default.
            let unset = |v: &Value| {
                v.as_str() == Some("")
                    || (*v == Value::Bool(false) && field.fallback.value() == Some(Value::Null))
            };
            let given = terraform.get(field.name).filter(|v| scalar && !unset(v));
            let value = match given {
                Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
                // Neither AWS nor Terraform holds it (a final snapshot's
                // name is given only at delete): what the stack defaults to.
                _ => match field.fallback.value() {
                    Some(default) if !default.is_null() => default,
                    _ => continue,
                },
            };
            Arc::make_mut(&mut observed.attributes).insert(field.name.into(), value);
        }
        let zip = terraform
            .get("filename")
            .and_then(Value::as_str)
            .filter(|_| schema.fields.iter().any(|f| f.built))
            .map(str::to_owned);
        Imported {
            name,
            type_name,
            observed,
            zip,
            depends_on: Vec::new(),
        }
    }
}

/// A field Terraform held in a resource of its own, which is imported as
/// a cairn resource of its own too (a bucket's policy beside its
/// `aws_s3_bucket_policy`), is left to that resource: written in both, the
/// stack would say it twice.
pub fn leave_held_apart(imported: &mut [Imported], candidates: &[Candidate]) {
    let names: Vec<String> = imported.iter().map(|r| r.name.clone()).collect();
    for r in imported.iter_mut() {
        for (tf_type, field) in types::of(r.type_name).terraform.parts.held_apart {
            let apart = candidates.iter().any(|c| {
                types::of(c.type_name).terraform.main_type() == *tf_type
                    && names.contains(&c.name)
                    && c.attributes
                        .values()
                        .any(|v| v.as_str() == Some(r.observed.id.as_str()))
            });
            if apart {
                Arc::make_mut(&mut r.observed.attributes).remove(*field);
            }
        }
    }
}

/// The stack document and the sensitive variables it declares.
pub fn stack_document(
    project: &str,
    environment: &str,
    region: &str,
    source: &str,
    imported: &[Imported],
) -> (Value, Vec<String>) {
    // Values another resource's attribute stands for: its ARN, or an id
    // AWS assigned (unique wherever it appears); its name or an id the
    // stack gives only for the resources that depend on it in Terraform's
    // state.
    let mut stands_for: Vec<StandsFor> = Vec::new();
    for r in imported {
        let t = types::of(r.type_name);
        let named = (t.planned_id)(&r.observed.attributes).is_some();
        for (output, value) in &r.observed.outputs {
            if let Some(v) = value.as_str().filter(|v| !v.is_empty()) {
                stands_for.push(StandsFor {
                    literal: v.to_owned(),
                    reference: format!("${{{}.{output}}}", r.name),
                    target: &r.name,
                    unique: v.starts_with("arn:") || !named,
                });
            }
        }
        if named {
            if let Some(v) = r.observed.attributes.get("name").and_then(Value::as_str) {
                stands_for.push(StandsFor {
                    literal: v.to_owned(),
                    reference: format!("${{{}.name}}", r.name),
                    target: &r.name,
                    unique: false,
                });
            }
        }
    }
    // Longest first, so an ARN is replaced before an id inside it.
    stands_for.sort_by_key(|s| std::cmp::Reverse(s.literal.len()));
    let mut edges: Vec<(String, String)> = Vec::new();
    let mut variables = Map::new();
    let mut sensitive_variables = Vec::new();
    let mut resources = Map::new();
    for r in imported {
        let schema = types::of(r.type_name).schema;
        let mut properties = Map::new();
        for field in schema.fields {
            if !field.compared || field.name == "code_sha256" {
                continue;
            }
            let Some(value) = r.observed.attributes.get(field.name) else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            if field.sensitive {
                let variable = format!("{}_{}", r.name, field.name);
                variables.insert(
                    variable.clone(),
                    json!({
                        "sensitive": true,
                        "description": format!("{}'s {} (set CAIRN_VAR_{variable}; the Terraform state held it in plain text, cairn does not copy it)", r.name, field.name),
                    }),
                );
                sensitive_variables.push(variable.clone());
                properties.insert(field.name.into(), json!(format!("${{var.{variable}}}")));
                continue;
            }
            // What the stack would default to anyway is left out.
            if field.fallback.value().as_ref() == Some(value) {
                continue;
            }
            let mut value = value.clone();
            if field.name == "tags" {
                if let Value::Object(tags) = &mut value {
                    tags.retain(|k, _| !k.starts_with("cairn:"));
                }
            }
            // What AWS holds beside a mapping's declared keys (a stage's
            // own tags) is not the stack's to say.
            if let (crate::schema::Kind::Object(declared), Value::Object(map)) =
                (&field.kind, &mut value)
            {
                map.retain(|k, _| declared.iter().any(|f| f.name == k));
            }
            without_nulls(&mut value);
            let value = refer(&value, r, &stands_for, &mut edges);
            properties.insert(field.name.into(), value);
        }
        if let Some(built) = schema.fields.iter().find(|f| f.built) {
            properties.insert(
                built.name.into(),
                json!({ "zip": r.zip.clone().unwrap_or_else(|| format!("{}.zip", r.name)) }),
            );
        }
        resources.insert(
            r.name.clone(),
            json!({ "type": r.type_name, "properties": properties }),
        );
    }
    let mut doc = Map::new();
    doc.insert(
        "#".into(),
        json!(format!(
            "Imported by `cairn import --from-terraform {source}`: each resource as AWS reports it. Review it; the first apply adds cairn's ownership tags."
        )),
    );
    doc.insert("project".into(), json!(project));
    doc.insert("environment".into(), json!(environment));
    doc.insert("region".into(), json!(region));
    if !variables.is_empty() {
        doc.insert("variables".into(), Value::Object(variables));
    }
    doc.insert("resources".into(), Value::Object(resources));
    (Value::Object(doc), sensitive_variables)
}

/// A value with its mappings' null entries taken out: AWS reports an
/// unset optional part (a secondary index's sort key) as null, which the
/// stack says by leaving it out.
fn without_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(without_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(without_nulls),
        _ => {}
    }
}

/// A value another resource's attribute holds, and the reference to it.
struct StandsFor<'a> {
    literal: String,
    reference: String,
    target: &'a str,
    /// An ARN or an id AWS assigned: it can be no other resource's value.
    unique: bool,
}

/// A value with the other resources' ARNs, ids and names as references
/// (names only where Terraform's state had the dependency), unless the
/// reference would close a cycle.
fn refer(
    value: &Value,
    own: &Imported,
    stands_for: &[StandsFor],
    edges: &mut Vec<(String, String)>,
) -> Value {
    match value {
        Value::String(text) => {
            // A literal `${` is written `$${` in a stack.
            let mut out = text.replace("${", "$${");
            for s in stands_for {
                if s.target == own.name
                    || edges.contains(&(s.target.to_owned(), own.name.clone()))
                    || !(s.unique || own.depends_on.iter().any(|d| d == s.target))
                {
                    continue;
                }
                let whole = out == s.literal;
                let inside = s.literal.starts_with("arn:") && out.contains(s.literal.as_str());
                if whole || inside {
                    out = out.replace(s.literal.as_str(), &s.reference);
                    let edge = (own.name.clone(), s.target.to_owned());
                    if !edges.contains(&edge) {
                        edges.push(edge);
                    }
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| refer(i, own, stands_for, edges))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), refer(v, own, stands_for, edges)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// YAML for a JSON value: block style, every string double-quoted (JSON's
/// escapes are YAML's), a key `#` written as a comment.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        // A stack's sections in the order people write them.
        Value::Object(map) => {
            let order = [
                "#",
                "project",
                "environment",
                "region",
                "variables",
                "resources",
            ];
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
            for k in keys {
                let mut one = Map::new();
                one.insert(k.clone(), map[k].clone());
                emit(&Value::Object(one), 0, &mut out);
            }
        }
        other => emit(other, 0, &mut out),
    }
    out
}

fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !k.starts_with(['-', '.'])
    {
        k.to_owned()
    } else {
        serde_json::to_string(k).expect("json")
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => serde_json::to_string(other).expect("json"),
    }
}

fn nested(value: &Value) -> bool {
    matches!(value, Value::Object(m) if !m.is_empty())
        || matches!(value, Value::Array(a) if !a.is_empty())
}

fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "#" {
                    for line in v.as_str().unwrap_or_default().lines() {
                        out.push_str(&format!("{pad}# {line}\n"));
                    }
                    continue;
                }
                if nested(v) {
                    out.push_str(&format!("{pad}{}:\n", key(k)));
                    emit(v, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{}: {}\n", key(k), scalar(v)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if nested(item) {
                    let mut inner = String::new();
                    emit(item, indent + 2, &mut inner);
                    // The first line of the item goes after its dash.
                    let inner = inner.trim_start_matches(' ');
                    out.push_str(&format!("{pad}- {inner}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// The state's attributes for an imported resource: what AWS reports,
/// sensitive values kept only as their hash.
pub fn recorded(imported: &Imported, sensitive: &[String]) -> Map<String, Value> {
    let mut attributes = (*imported.observed.attributes).clone();
    crate::state::redact_fields(&mut attributes, sensitive);
    attributes
}

/// A stack file for the imported resources that compiles: a resource whose
/// description does not compile (a construct cairn cannot say yet) is left
/// out with the reason, and the rest written again without it, so that no
/// single resource stops an import. Written to `file` only once it
/// compiles; nothing is left behind when no stack compiles at all.
pub struct Written {
    pub imported: Vec<Imported>,
    /// (Terraform address, why its description did not compile)
    pub not_compiled: Vec<(String, String)>,
    pub sensitive_variables: Vec<String>,
}

pub fn write_stack(
    file: &std::path::Path,
    header: (&str, &str, &str, &str),
    mut imported: Vec<Imported>,
    tf_addresses: &BTreeMap<String, String>,
    overrides: &crate::stack::VariableOverrides,
) -> Result<Written, String> {
    let (project, environment, region, source) = header;
    let draft = file.with_file_name(format!(
        ".{}.importing",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("stack")
    ));
    let mut not_compiled = Vec::new();
    // What AWS reports beside a mapping's declared keys is what the stack
    // cannot say: such a resource would lose it on the first apply (an
    // HTTP API's other stages), so it is left out. Its own tags are only
    // retagged.
    imported.retain(|r| {
        let schema = types::of(r.type_name).schema;
        let extra = schema.fields.iter().find_map(|field| {
            let crate::schema::Kind::Object(declared) = field.kind else {
                return None;
            };
            let map = r.observed.attributes.get(field.name)?.as_object()?;
            map.iter()
                .find(|(k, v)| {
                    k.as_str() != "tags"
                        && !declared.iter().any(|f| f.name == k.as_str())
                        && !(v.is_null() || v.as_array().is_some_and(Vec::is_empty))
                })
                .map(|(k, v)| {
                    format!(
                        "AWS holds {k} {v} in its {}, which cairn describes one of",
                        field.name
                    )
                })
        });
        match extra {
            Some(why) => {
                let address = tf_addresses.get(&r.name).cloned().unwrap_or_default();
                not_compiled.push((address, why));
                false
            }
            None => true,
        }
    });
    loop {
        let (document, secrets) = stack_document(project, environment, region, source, &imported);
        std::fs::write(&draft, yaml(&document))
            .map_err(|e| format!("cannot write {}: {e}", draft.display()))?;
        // The stack is read back as any stack is: what it says must hold (a
        // sensitive variable not set yet stands in as a placeholder).
        let mut values = overrides.clone();
        for name in &secrets {
            values
                .entry(name.clone())
                .or_insert_with(|| "PlaceholderForImportValidation0123456789".into());
        }
        let diagnostics = match crate::stack::load(types::catalog(), &draft, &values) {
            Ok(_) => {
                std::fs::rename(&draft, file).map_err(|e| {
                    let _ = std::fs::remove_file(&draft);
                    format!("cannot write {}: {e}", file.display())
                })?;
                return Ok(Written {
                    imported,
                    not_compiled,
                    sensitive_variables: secrets,
                });
            }
            Err(d) => d,
        };
        // Each problem names the resource it is in.
        let mut failing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut unplaced = Vec::new();
        for d in &diagnostics.0 {
            let name = d
                .path
                .strip_prefix("resources.")
                .map(|rest| rest.split('.').next().unwrap_or(rest).to_owned())
                .filter(|name| imported.iter().any(|r| &r.name == name));
            let mut why = format!("{}: {}", d.path, d.message);
            if let Some(help) = &d.help {
                why.push_str(&format!(" ({help})"));
            }
            match name {
                Some(name) => failing.entry(name).or_default().push(why),
                None => unplaced.push(why),
            }
        }
        if failing.is_empty() || !unplaced.is_empty() {
            let _ = std::fs::remove_file(&draft);
            return Err(format!(
                "the stack cairn wrote from the Terraform state does not compile, and not because of one resource:\n{}\nNothing was written. Report it, with the state's resource types.",
                diagnostics
            ));
        }
        imported.retain(|r| match failing.get(&r.name) {
            Some(problems) => {
                let address = tf_addresses.get(&r.name).cloned().unwrap_or_default();
                not_compiled.push((
                    address,
                    format!(
                        "cairn cannot describe it as AWS has it yet: {}",
                        problems.join("; ")
                    ),
                ));
                false
            }
            None => true,
        });
    }
}

/// An imported resource's Terraform dependency that AWS no longer holds.
pub struct Missing {
    pub tf_address: String,
    pub why: String,
    /// Imported resources whose Terraform configuration referred to it:
    /// the stack holds its old value as a literal there.
    pub referred_by: Vec<String>,
}

/// The report: what came over, what goes with it, what is missing, what
/// was left and why.
pub fn report(classified: &Classified, written: &Written, missing: &[Missing]) -> String {
    let mut out = String::new();
    let imported: Vec<&str> = written.imported.iter().map(|i| i.name.as_str()).collect();
    let kept: Vec<String> = written
        .imported
        .iter()
        .map(|i| crate::stack::address(i.type_name, &i.name))
        .collect();
    out.push_str(&format!("Imported {} resources:\n", written.imported.len()));
    for c in &classified.candidates {
        if imported.contains(&c.name.as_str()) {
            out.push_str(&format!(
                "  {} -> {}.{}\n",
                c.tf_address, c.type_name, c.name
            ));
        }
    }
    let mut left_out: Vec<(String, String)> = classified.left_out.clone();
    left_out.extend(written.not_compiled.iter().cloned());
    let mut section = |title: &str, parts: &[Part], word: &str| {
        let (with, without): (Vec<&Part>, Vec<&Part>) =
            parts.iter().partition(|p| kept.contains(&p.with));
        for p in without {
            left_out.push((
                p.tf_address.clone(),
                format!("it goes with {}, which is not imported", p.with),
            ));
        }
        if !with.is_empty() {
            out.push_str(title);
            for p in with {
                out.push_str(&format!("  {} ({word} {})\n", p.tf_address, p.with));
            }
        }
    };
    section(
        "Taken over with an imported resource (cairn reads, changes and deletes them as part of it):\n",
        &classified.folded,
        "in",
    );
    section(
        "Deleted with an imported resource (cairn does not describe them; AWS deletes them when cairn destroys it):\n",
        &classified.dies_with,
        "with",
    );
    if !missing.is_empty() {
        out.push_str("Missing from AWS (in Terraform's state, deleted outside it):\n");
        for m in missing {
            out.push_str(&format!("  {}: {}\n", m.tf_address, m.why));
            for r in &m.referred_by {
                out.push_str(&format!(
                    "    {r} referred to it: the stack holds its last value as a literal\n"
                ));
            }
        }
    }
    if !left_out.is_empty() {
        out.push_str("Left out (Terraform keeps managing them, or delete them from its state once cairn covers them):\n");
        for (address, why) in &left_out {
            out.push_str(&format!("  {address}: {why}\n"));
        }
    }
    out
}

/// Stacks imported one environment at a time (same project, same
/// resources) made into a base stack and one file per environment: what is
/// equal stays in the base, a name that differs only by the environment's
/// name becomes `${env}`, anything else a variable each environment sets.
/// Gives the base and each environment's file.
pub fn merge(envs: &[(String, Value)]) -> Result<(Value, Vec<(String, Value)>), String> {
    let [(first_env, first), rest @ ..] = envs else {
        return Err("nothing to merge".into());
    };
    if rest.is_empty() {
        return Err("merge needs two environments or more".into());
    }
    for (env, doc) in rest {
        if doc["project"] != first["project"] {
            return Err(format!(
                "{env} is project {} and {first_env} is {}: one project's environments merge",
                doc["project"], first["project"]
            ));
        }
        let names = |d: &Value| -> Vec<String> {
            d["resources"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default()
        };
        if names(doc) != names(first) {
            let only = |a: &Value, b: &Value| -> Vec<String> {
                names(a)
                    .into_iter()
                    .filter(|n| !names(b).contains(n))
                    .collect()
            };
            return Err(format!(
                "the environments hold different resources (only in {first_env}: {:?}; only in {env}: {:?}); a resource cairn leaves out of one would be deleted from it",
                only(first, doc),
                only(doc, first)
            ));
        }
    }
    let mut base = Map::new();
    base.insert("#".into(), json!(format!("Merged by `cairn import --merge` from {}: what they share. Each environment's file sets `values:`.", envs.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>().join(", "))));
    base.insert("project".into(), first["project"].clone());
    let same_region = envs.iter().all(|(_, d)| d["region"] == first["region"]);
    if same_region {
        base.insert("region".into(), first["region"].clone());
    }
    let mut variables = Map::new();
    for (_, doc) in envs {
        if let Some(Value::Object(v)) = doc.get("variables") {
            for (k, decl) in v {
                variables.insert(k.clone(), decl.clone());
            }
        }
    }
    let mut values: Vec<Map<String, Value>> = vec![Map::new(); envs.len()];
    let mut resources = Map::new();
    for (name, resource) in first["resources"].as_object().into_iter().flatten() {
        let mut properties = Map::new();
        let all: Vec<&Map<String, Value>> = envs
            .iter()
            .map(|(_, d)| {
                d["resources"][name]["properties"]
                    .as_object()
                    .expect("properties")
            })
            .collect();
        let mut keys: Vec<&String> = all.iter().flat_map(|p| p.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            // Left out of one file: the stack's default, as the import wrote it.
            let default = resource["type"]
                .as_str()
                .and_then(types::find)
                .and_then(|t| t.schema.field(key))
                .and_then(|f| f.fallback.value())
                .unwrap_or(Value::Null);
            let each: Vec<Value> = all
                .iter()
                .map(|p| p.get(key).cloned().unwrap_or_else(|| default.clone()))
                .collect();
            if each.iter().all(|v| *v == each[0]) {
                properties.insert(key.clone(), each[0].clone());
                continue;
            }
            // `app-dev-table` and `app-prod-table` are `app-${env}-table`.
            let templated: Vec<Option<String>> = each
                .iter()
                .zip(envs)
                .map(|(v, (env, _))| {
                    v.as_str()
                        .filter(|s| s.contains(env.as_str()))
                        .map(|s| s.replace(env.as_str(), "${env}"))
                })
                .collect();
            if templated.iter().all(|t| t.is_some() && *t == templated[0]) {
                properties.insert(key.clone(), json!(templated[0]));
                continue;
            }
            let variable = format!("{name}_{key}");
            variables.insert(
                variable.clone(),
                json!({ "description": format!("{name}'s {key}, which differs between environments") }),
            );
            for (i, v) in each.into_iter().enumerate() {
                values[i].insert(variable.clone(), v);
            }
            properties.insert(key.clone(), json!(format!("${{var.{variable}}}")));
        }
        resources.insert(
            name.clone(),
            json!({ "type": resource["type"], "properties": properties }),
        );
    }
    if !variables.is_empty() {
        base.insert("variables".into(), Value::Object(variables));
    }
    base.insert("resources".into(), Value::Object(resources));
    let files = envs
        .iter()
        .zip(values)
        .map(|((env, doc), values)| {
            let mut file = Map::new();
            file.insert("extends".into(), json!("base.yaml"));
            file.insert("environment".into(), doc["environment"].clone());
            if !same_region {
                file.insert("region".into(), doc["region"].clone());
            }
            if !values.is_empty() {
                file.insert("values".into(), Value::Object(values));
            }
            (env.clone(), Value::Object(file))
        })
        .collect();
    Ok((Value::Object(base), files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_state_sorts_into_imported_folded_and_left_out() {
        let state: Value =
            serde_json::from_str(include_str!("../tests/terraform/states/warehouse.tfstate"))
                .unwrap();
        let c = classify(&state).unwrap();
        let imported: Vec<(&str, &str, &str)> = c
            .candidates
            .iter()
            .map(|c| (c.tf_address.as_str(), c.type_name, c.id.as_str()))
            .collect();
        assert_eq!(
            imported,
            vec![
                (
                    "aws_api_gateway_api_key.warehouse_api_key",
                    "api_key",
                    "w4u8gdrivi"
                ),
                (
                    "aws_api_gateway_usage_plan.warehouse_usage_plan",
                    "usage_plan",
                    "i1gmk4"
                ),
                (
                    "aws_dynamodb_table.warehouse_robot_logs",
                    "dynamodb_table",
                    "WarehouseRobotLogs"
                ),
                (
                    "aws_iam_role.lambda_exec_role",
                    "iam_role",
                    "lambda_exec_role"
                ),
                (
                    "aws_lambda_function.get_all_data",
                    "lambda_function",
                    "GetAllWarehouseData"
                ),
                (
                    "aws_lambda_permission.api_gateway_invoke",
                    "lambda_permission",
                    "GetAllWarehouseData/AllowAPIGatewayInvoke"
                ),
            ]
        );
        assert_eq!(
            c.folded,
            vec![
                Part {
                    tf_address: "aws_api_gateway_usage_plan_key.warehouse_usage_plan_key"
                        .to_owned(),
                    with: "usage_plan.warehouse_usage_plan".to_owned(),
                },
                // The role reads its attached policies from AWS: taken over.
                Part {
                    tf_address: "aws_iam_role_policy_attachment.lambda_exec_policy_attach"
                        .to_owned(),
                    with: "iam_role.lambda_exec_role".to_owned(),
                }
            ]
        );
        let left: Vec<&str> = c.left_out.iter().map(|(a, _)| a.as_str()).collect();
        assert!(left.contains(&"aws_api_gateway_rest_api.warehouse_api"));
        assert!(left.contains(&"aws_api_gateway_method.get_method"));
        assert!(left.contains(&"aws_iam_policy.lambda_dynamodb_policy"));
        assert_eq!(left.len(), 14, "{left:?}");
    }

    #[test]
    fn what_aws_does_not_report_comes_from_terraform_and_a_secret_only_as_its_hash() {
        let observed = Observed {
            id: "k".into(),
            attributes: json!({"description": "d"})
                .as_object()
                .cloned()
                .unwrap()
                .into(),
            outputs: Map::new(),
        };
        let terraform = json!({"deletion_window_in_days": 7, "description": "old", "policy": "{}"});
        let key = Imported::new(
            "key".into(),
            "kms_key",
            observed,
            terraform.as_object().unwrap(),
        );
        assert_eq!(key.observed.attributes["deletion_window_in_days"], 7);
        assert_eq!(
            key.observed.attributes["description"], "d",
            "AWS's word wins"
        );
        // A password Terraform set (RDS reports none): the stack gets a
        // sensitive variable, the state its hash, no file the value.
        let observed = Observed {
            id: "db".into(),
            attributes: json!({"manage_master_user_password": false, "username": "admin"})
                .as_object()
                .cloned()
                .unwrap()
                .into(),
            outputs: Map::new(),
        };
        let terraform = json!({"password": "plain-text-secret", "username": "admin"});
        let db = Imported::new(
            "db".into(),
            "db_instance",
            observed,
            terraform.as_object().unwrap(),
        );
        let (document, secrets) = stack_document("p", "dev", "us-east-1", "tf", &[db]);
        assert_eq!(secrets, vec!["db_password".to_owned()]);
        assert_eq!(
            document["resources"]["db"]["properties"]["password"],
            "${var.db_password}"
        );
        assert!(!yaml(&document).contains("plain-text-secret"));
        let db = Imported::new(
            "db".into(),
            "db_instance",
            Observed {
                id: "db".into(),
                attributes: Map::new().into(),
                outputs: Map::new(),
            },
            terraform.as_object().unwrap(),
        );
        let recorded = recorded(&db, &["password".to_owned()]);
        assert!(crate::state::is_redacted(&recorded["password"]));
        assert!(!serde_json::to_string(&recorded)
            .unwrap()
            .contains("plain-text-secret"));
    }

    #[test]
    fn environments_merge_into_a_base_and_their_values() {
        let doc = |env: &str, memory: i64, extra: bool| {
            let mut resources = json!({
                "table": {"type": "dynamodb_table", "properties": {"name": format!("app-{env}-t"), "hash_key": {"name": "id", "type": "S"}}},
                "f": {"type": "lambda_function", "properties": {"memory_size": memory, "role_arn": "${r.arn}"}},
            });
            if extra {
                resources["x"] = json!({"type": "log_group", "properties": {}});
            }
            json!({"project": "app", "environment": env, "region": "us-east-1", "resources": resources})
        };
        let (base, files) = merge(&[
            ("dev".into(), doc("dev", 128, false)),
            ("prod".into(), doc("prod", 1024, false)),
        ])
        .unwrap();
        assert_eq!(
            base["resources"]["table"]["properties"]["name"],
            "app-${env}-t"
        );
        assert_eq!(
            base["resources"]["f"]["properties"]["memory_size"],
            "${var.f_memory_size}"
        );
        assert_eq!(base["resources"]["f"]["properties"]["role_arn"], "${r.arn}");
        assert_eq!(base["region"], "us-east-1");
        assert_eq!(
            files[0].1,
            json!({"extends": "base.yaml", "environment": "dev", "values": {"f_memory_size": 128}})
        );
        assert_eq!(files[1].1["values"]["f_memory_size"], 1024);
        // A resource in one environment only is refused, not dropped.
        let error = merge(&[
            ("dev".into(), doc("dev", 1, true)),
            ("prod".into(), doc("prod", 1, false)),
        ])
        .unwrap_err();
        assert!(error.contains("only in dev: [\"x\"]"), "{error}");
    }

    #[test]
    fn only_format_4_is_read() {
        assert!(classify(&json!({"version": 3, "modules": []})).is_err());
    }

    #[test]
    fn names_are_cairn_names_and_unique() {
        assert_eq!(
            cairn_name(
                Some("module.api"),
                "Main-Table",
                Some(&json!("a b")),
                &[],
                "t"
            ),
            "api_main_table_a_b"
        );
        assert_eq!(
            cairn_name(None, "x", None, &["x".into()], "iam_role"),
            "x_iam_role"
        );
        assert_eq!(cairn_name(None, "1st", None, &[], "t"), "r_1st");
    }

    #[test]
    fn yaml_reads_back_as_the_same_value() {
        let value = json!({
            "project": "p",
            "resources": {
                "t": {"type": "dynamodb_table", "properties": {
                    "hash_key": {"name": "id", "type": "S"},
                    "tags": {},
                    "list": [{"a": 1, "b": [true, null]}, "x: y", "quote \" and \\ and ${x}"],
                    "weird key": 1.5,
                }},
            },
        });
        let text = yaml(&value);
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
    }

    fn imported(name: &str, depends_on: &[&str]) -> Imported {
        Imported {
            name: name.into(),
            type_name: "lambda_function",
            observed: Observed {
                id: name.into(),
                attributes: Map::new().into(),
                outputs: Map::new(),
            },
            zip: None,
            depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn stands_for<'a>(literal: &str, reference: &str, target: &'a str) -> StandsFor<'a> {
        StandsFor {
            literal: literal.into(),
            reference: reference.into(),
            target,
            unique: literal.starts_with("arn:"),
        }
    }

    #[test]
    fn other_resources_values_become_references_without_cycles() {
        let stands_for = vec![
            stands_for("arn:aws:dynamodb:r:1:table/T", "${t.arn}", "t"),
            stands_for("arn:aws:iam::1:role/r", "${r.arn}", "r"),
            stands_for("T", "${t.name}", "t"),
        ];
        let mut edges = Vec::new();
        let value = json!({
            "Resource": "arn:aws:dynamodb:r:1:table/T/index/*",
            "Table": "T",
            "Other": "Tx",
            "Literal": "${not a reference}",
        });
        assert_eq!(
            refer(&value, &imported("f", &["t"]), &stands_for, &mut edges),
            json!({
                "Resource": "${t.arn}/index/*",
                "Table": "${t.name}",
                "Other": "Tx",
                "Literal": "$${not a reference}",
            })
        );
        // t refers to f already: f's reference to t would close a cycle.
        let mut edges = vec![("t".to_owned(), "f".to_owned())];
        assert_eq!(
            refer(&json!("T"), &imported("f", &["t"]), &stands_for, &mut edges),
            json!("T")
        );
    }

    #[test]
    fn a_name_becomes_a_reference_only_where_terraform_had_the_dependency() {
        // A role and a function that share a name: the role does not
        // depend on the function, so its name stays a literal; an ARN is a
        // reference wherever it appears.
        let stands_for = vec![
            stands_for("arn:aws:lambda:r:1:function:auth", "${auth.arn}", "auth"),
            stands_for("auth", "${auth.name}", "auth"),
        ];
        let mut edges = Vec::new();
        let role = imported("auth_role", &[]);
        assert_eq!(
            refer(
                &json!({"name": "auth", "Resource": "arn:aws:lambda:r:1:function:auth"}),
                &role,
                &stands_for,
                &mut edges
            ),
            json!({"name": "auth", "Resource": "${auth.arn}"})
        );
    }
}
