//! Every registered type has all its parts, and its code reads only the
//! fields its schema declares.

use super::{all, registry, Unmanaged};
use crate::schema::{Field, Kind, Schema};
use std::collections::BTreeSet;

/// Keys the code may read that are not schema fields: what the planner
/// adds (the built package) and what reads put in attributes.
const EXTRA_KEYS: &[&str] = &["code_sha256", "code_zip"];

fn field_names(fields: &[Field], out: &mut BTreeSet<&'static str>) {
    for field in fields {
        out.insert(field.name);
        if let Kind::Object(inner) | Kind::ObjectList(inner) | Kind::ObjectSet(inner) = field.kind {
            field_names(inner, out);
        }
    }
}

fn all_fields(schema: &Schema) -> BTreeSet<&'static str> {
    let mut out: BTreeSet<&'static str> = schema.outputs.iter().copied().collect();
    field_names(schema.fields, &mut out);
    out
}

#[test]
fn every_type_is_registered_once_with_all_its_parts() {
    let names: BTreeSet<&str> = all().iter().map(|t| t.schema.type_name).collect();
    assert_eq!(names.len(), all().len(), "a type is registered twice");
    for registered in registry() {
        let t = registered.spec;
        let schema = t.schema;
        let name = schema.type_name;
        assert!(!schema.description.is_empty(), "{name}: no description");
        // Tags: a field exactly on taggable types, and what drift can find.
        let has_tags = schema.fields.iter().any(|f| f.name == "tags" && f.compared);
        assert_eq!(has_tags, schema.taggable, "{name}: tags field vs taggable");
        assert_eq!(
            matches!(registered.unmanaged, Unmanaged::NotTaggable),
            !schema.taggable,
            "{name}: drift search vs taggable"
        );
        assert!(
            !t.bulk_tagged || schema.taggable,
            "{name}: bulk tags of an untaggable type"
        );
        // Identity: a type AWS names is found again by ownership tags, or
        // by the properties that make it unique (its `find` says how).
        let named = serde_json::json!({"name": "n", "function_name": "f", "statement_id": "s"});
        let id = (t.planned_id)(named.as_object().unwrap());
        assert!(
            id.is_some() || schema.taggable || registered.provider.finds_by_properties(),
            "{name}: an assigned id needs ownership tags (or a `find` by properties) to be found again"
        );
        if id.is_some() && name != "lambda_permission" {
            assert!(
                schema.field("name").is_some(),
                "{name}: named by a field it lacks"
            );
        }
        let (arn, expected) = t.arn_example;
        assert_eq!(
            (t.id_from_arn)(arn).as_deref(),
            expected,
            "{name}: id in its ARN"
        );
    }
}

/// A misspelt key would read as "" or nothing: every key the type's code
/// reads by name is one its schema declares (a field at any depth, or an
/// output).
#[test]
fn type_code_reads_only_declared_fields() {
    let pattern = |source: &str| -> Vec<String> {
        let mut keys = Vec::new();
        for call in [
            "text(",
            "int(",
            "flag(",
            "strings(",
            "string_map(",
            "object(",
        ] {
            for (i, _) in source.match_indices(call) {
                // `text(desired, "key")`: the first string literal in the call.
                let rest = &source[i + call.len()..];
                let Some(close) = rest.find(')') else {
                    continue;
                };
                let args = &rest[..close];
                if let Some(start) = args.find(", \"") {
                    let key = &args[start + 3..];
                    if let Some(end) = key.find('"') {
                        keys.push(key[..end].to_owned());
                    }
                }
            }
        }
        keys
    };
    for (t, source) in all().iter().zip(super::SOURCES) {
        let name = t.schema.type_name;
        let schema = t.schema;
        let fields = all_fields(schema);
        for key in pattern(source) {
            assert!(
                fields.contains(key.as_str()) || EXTRA_KEYS.contains(&key.as_str()),
                "{name}: the code reads `{key}`, which its schema does not declare"
            );
        }
    }
}

/// Every type maps to Terraform's types (the Terraform JSON plan needs it),
/// and names only the types it declares, the main one first.
#[test]
fn every_type_has_a_terraform_mapping() {
    for t in all() {
        let name = t.schema.type_name;
        let mapping = &t.terraform;
        assert!(!mapping.types.is_empty(), "{name}: no Terraform types");
        for tf in mapping.types {
            assert!(tf.starts_with("aws_"), "{name}: {tf} is not an aws_ type");
        }
        let mapped = (mapping.map)(&serde_json::Map::new());
        assert_eq!(
            mapped.first().map(|m| m.type_name),
            Some(mapping.main_type()),
            "{name}: the main Terraform type comes first"
        );
        for m in &mapped {
            assert!(
                mapping.types.contains(&m.type_name),
                "{name}: maps to {} but does not declare it",
                m.type_name
            );
        }
    }
    // No two cairn types claim one Terraform type as their main one: an
    // import must know which cairn type a Terraform resource becomes.
    let mut mains: Vec<&str> = all().iter().map(|t| t.terraform.main_type()).collect();
    mains.sort_unstable();
    let count = mains.len();
    mains.dedup();
    assert_eq!(
        mains.len(),
        count,
        "a Terraform type is the main type of two cairn types"
    );
}

/// The README's mapping table lists every type as its mapping declares it.
#[test]
fn the_readme_lists_every_terraform_mapping() {
    let readme = include_str!("../../README.md");
    for t in all() {
        let row = format!(
            "| `{}` | {} |",
            t.schema.type_name,
            t.terraform
                .types
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(readme.contains(&row), "README.md lacks the row:\n{row}");
    }
}

/// The paragraphs of the README's "What works" whose title names types
/// (`- **Resource types**: ...`, `- **Network types** ...`), joined.
fn readme_type_paragraphs(readme: &str) -> String {
    let works = readme
        .split("\n## What works\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has a \"What works\" section");
    let mut out = String::new();
    let mut inside = false;
    for line in works.lines() {
        if line.starts_with("- ") {
            let title = line
                .strip_prefix("- **")
                .and_then(|rest| rest.split_once("**"))
                .map_or("", |(title, _)| title);
            inside = title.ends_with("types");
        } else if !line.starts_with(' ') {
            inside = false;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Every registered type is written, in backticks, in a paragraph of the
/// README's "What works" that lists types: its row there is documentation
/// a new type must not forget.
#[test]
fn the_readme_says_what_every_type_does() {
    let paragraphs = readme_type_paragraphs(include_str!("../../README.md"));
    let missing: Vec<&str> = all()
        .iter()
        .map(|t| t.schema.type_name)
        .filter(|name| !paragraphs.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's \"What works\" does not list {missing:?}: write each in backticks, with what it does, in a `- **... types**` paragraph"
    );
}

/// A value of a field's kind, with every nested field set: what makes a
/// mapping write every block it can.
fn example(kind: Kind) -> serde_json::Value {
    use serde_json::json;
    let object = |fields: &[Field]| {
        serde_json::Value::Object(
            fields
                .iter()
                .map(|f| (f.name.to_owned(), example(f.kind)))
                .collect(),
        )
    };
    match kind {
        Kind::Str => json!("x"),
        Kind::Int => json!(1),
        Kind::Float => json!(1.5),
        Kind::Bool => json!(true),
        Kind::StrList | Kind::StrSet => json!(["x"]),
        Kind::StrMap => json!({"k": "v"}),
        Kind::Policy | Kind::Json => {
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        }
        Kind::PolicyMap => json!({"p": example(Kind::Policy)}),
        Kind::Object(fields) => object(fields),
        Kind::ObjectList(fields) | Kind::ObjectSet(fields) => json!([object(fields)]),
    }
}

/// Each mapping writes only what the hashicorp/aws provider's schema has
/// (`terraform_schema.json`), with nothing set and with everything set,
/// and the schema lists every Terraform type a mapping declares.
#[test]
fn every_mapping_writes_only_the_providers_attributes() {
    for t in all() {
        let name = t.schema.type_name;
        for tf_type in t.terraform.types {
            super::terraform::schema(tf_type);
        }
        let mut full = serde_json::Map::new();
        for field in t.schema.fields {
            full.insert(field.name.to_owned(), example(field.kind));
        }
        for output in t.schema.outputs {
            full.insert((*output).to_owned(), serde_json::json!("x"));
        }
        for attributes in [serde_json::Map::new(), full] {
            for mapped in (t.terraform.map)(&attributes) {
                let schema = super::terraform::schema(mapped.type_name);
                let unknown = super::terraform::unknown_names(&schema.block, &mapped.values, "");
                assert!(
                    unknown.is_empty(),
                    "{name}: {} has no {unknown:?} in the provider's schema",
                    mapped.type_name
                );
            }
        }
    }
}
