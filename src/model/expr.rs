//! `${...}` interpolation. A compiled stack keeps every string in template
//! form (`$${` is a literal `${`); evaluation turns it into literal form.

use super::functions::{self, Call};
use serde_json::Value;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// `var`, `aws`, `project`, `env`, `import`, `lookup`, or a resource
    /// name.
    pub root: String,
    /// The attribute after the first dot; empty for `project` and `env`.
    pub attribute: String,
}

impl Reference {
    /// A reference to a resource's attribute (not a variable, the stack's
    /// names or the account's).
    pub fn is_resource(&self) -> bool {
        !matches!(
            self.root.as_str(),
            "var" | "aws" | "project" | "env" | "stack" | "import" | "each" | "lookup"
        )
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.attribute.is_empty() {
            write!(f, "{}", self.root)
        } else {
            write!(f, "{}.{}", self.root, self.attribute)
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Literal(String),
    Reference(Reference),
    /// `${join(",", var.zones)}`.
    Call(Call),
}

impl Part {
    /// The references it uses: itself, or a call's arguments.
    pub fn references(&self) -> Vec<&Reference> {
        match self {
            Part::Literal(_) => Vec::new(),
            Part::Reference(reference) => vec![reference],
            Part::Call(call) => call.references(),
        }
    }
}

pub fn is_template(text: &str) -> bool {
    text.contains("${")
}

/// A text that is exactly one call: its value keeps its type
/// (`${tonumber(lookup.days.value)}` is a number).
pub fn is_whole_call(text: &str) -> bool {
    matches!(parse(text).as_deref(), Ok([Part::Call(_)]))
}

pub fn parse(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 && rest.as_bytes()[start - 1] == b'$' {
            literal.push_str(&rest[..start - 1]);
            literal.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(call) = functions::parse_call(after) {
            let (call, used) = call?;
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Call(call));
            rest = &after[used..];
            continue;
        }
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
        let inner = after[..end].trim();
        if inner.is_empty() {
            return Err(format!("empty `${{}}` in `{text}`"));
        }
        let reference = parse_reference(inner).ok_or_else(|| {
            format!(
                "`${{{inner}}}` is not a reference: write `${{name.attribute}}`, `${{name[\"key\"].attribute}}` or `${{var.name}}`"
            )
        })?;
        if !literal.is_empty() {
            parts.push(Part::Literal(std::mem::take(&mut literal)));
        }
        parts.push(Part::Reference(reference));
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'
}

/// `root.attribute`, where the root may carry an index: `name["key"]`,
/// `name[*]` or `name[each.key]`.
pub(crate) fn parse_reference(inner: &str) -> Option<Reference> {
    let Some(open) = inner.find('[') else {
        if !inner.chars().all(is_word) {
            return None;
        }
        let (root, attribute) = inner.split_once('.').unwrap_or((inner, ""));
        return Some(Reference {
            root: root.to_owned(),
            attribute: attribute.to_owned(),
        });
    };
    let base = &inner[..open];
    let close = open + inner[open..].find(']')?;
    let index = inner[open + 1..close].trim();
    let rest = &inner[close + 1..];
    let index = match index {
        "*" | "each.key" => index.to_owned(),
        quoted => {
            let key = quoted.strip_prefix('"')?.strip_suffix('"')?;
            if !is_key(key) {
                return None;
            }
            format!("\"{key}\"")
        }
    };
    let attribute = match rest {
        "" => "",
        _ => rest.strip_prefix('.')?,
    };
    let ok = !base.is_empty()
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && attribute.chars().all(is_word);
    ok.then(|| Reference {
        root: format!("{base}[{index}]"),
        attribute: attribute.to_owned(),
    })
}

/// What a `for_each` key may be: it is part of addresses, of the
/// ownership tag (AWS's tag characters) and of default names.
pub fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:/=+@-".contains(c))
}

/// The name of one instance of a resource with `for_each`.
pub fn instance_name(base: &str, key: &str) -> String {
    format!("{base}[\"{key}\"]")
}

/// Which instances a reference's root names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index<'a> {
    /// A resource without `for_each` (or a variable, `aws`, ...).
    None,
    Key(&'a str),
    All,
    /// `[each.key]`: the instance with the key of the one being compiled.
    EachKey,
}

/// A resource name and the instance it names: `private["a"]` is
/// (`private`, `Key("a")`).
pub fn split_instance(name: &str) -> (&str, Index<'_>) {
    let Some((base, index)) = name.split_once('[') else {
        return (name, Index::None);
    };
    let index = index.strip_suffix(']').unwrap_or(index);
    let index = match index {
        "*" => Index::All,
        "each.key" => Index::EachKey,
        quoted => Index::Key(quoted.trim_matches('"')),
    };
    (base, index)
}

/// An address as its ownership tag carries it: AWS allows no brackets or
/// quotes in tag values, so `subnet.private["a"]` is written
/// `subnet.private/a` (a base name never holds `/`).
pub fn address_tag(address: &str) -> String {
    let (base, index) = split_instance(address);
    match index {
        Index::Key(key) => format!("{base}/{key}"),
        _ => address.to_owned(),
    }
}

/// The address an ownership tag names.
pub fn address_of_tag(tag: &str) -> String {
    match tag.split_once('/') {
        Some((base, key)) => instance_name(base, key),
        None => tag.to_owned(),
    }
}

/// The template with each reference replaced by what `rewrite` makes of
/// it (literal text stays as it was).
pub fn rewrite_references(
    text: &str,
    mut rewrite: impl FnMut(&Reference) -> Reference,
) -> Result<String, String> {
    let mut out = String::new();
    for part in parse(text)? {
        match part {
            Part::Literal(literal) => out.push_str(&escape(&literal)),
            Part::Reference(reference) => {
                out.push_str("${");
                out.push_str(&rewrite(&reference).to_string());
                out.push('}');
            }
            Part::Call(mut call) => {
                for argument in &mut call.arguments {
                    argument.rewrite(&mut |reference| {
                        functions::Argument::Reference(rewrite(reference))
                    });
                }
                out.push_str("${");
                out.push_str(&call.to_string());
                out.push('}');
            }
        }
    }
    Ok(out)
}

/// The template with each reference in a call's arguments replaced by
/// the argument `rewrite` makes of it (a list, for `name[*].attribute`).
pub fn rewrite_call_arguments(
    text: &str,
    mut rewrite: impl FnMut(&Reference) -> functions::Argument,
) -> Result<String, String> {
    let mut out = String::new();
    for part in parse(text)? {
        match part {
            Part::Literal(literal) => out.push_str(&escape(&literal)),
            Part::Reference(reference) => {
                out.push_str("${");
                out.push_str(&reference.to_string());
                out.push('}');
            }
            Part::Call(mut call) => {
                for argument in &mut call.arguments {
                    argument.rewrite(&mut rewrite);
                }
                out.push_str("${");
                out.push_str(&call.to_string());
                out.push('}');
            }
        }
    }
    Ok(out)
}

pub fn references(text: &str) -> Vec<Reference> {
    parse(text)
        .unwrap_or_default()
        .iter()
        .flat_map(|part| part.references().into_iter().cloned())
        .collect()
}

/// What a lookup knows about one reference.
pub enum Lookup {
    Known(Value),
    /// Not known yet (for example the ARN of a resource still to be created).
    Unknown,
}

pub enum Evaluated {
    Known(Value),
    Unknown,
}

fn escape(text: &str) -> String {
    text.replace("${", "$${")
}

fn scalar_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("cannot interpolate {other} into a string")),
    }
}

/// Replaces the references that `lookup` resolves and keeps the others, so
/// the result is still a template. A template that is exactly one resolved
/// reference keeps the referenced value's type.
pub fn substitute(
    text: &str,
    mut lookup: impl FnMut(&Reference) -> Option<Value>,
) -> Result<Value, String> {
    let parts = parse(text)?;
    if let [Part::Reference(reference)] = parts.as_slice() {
        if let Some(value) = lookup(reference) {
            return Ok(match value {
                Value::String(s) => Value::String(escape(&s)),
                other => other,
            });
        }
    }
    if let [Part::Call(call)] = parts.as_slice() {
        if let Some(value) = call_value(&call.with_known(&mut lookup)) {
            return Ok(match value? {
                Value::String(s) => Value::String(escape(&s)),
                other => other,
            });
        }
    }
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(text) => out.push_str(&escape(&text)),
            Part::Call(call) => {
                let call = call.with_known(&mut lookup);
                match call_value(&call) {
                    Some(value) => out.push_str(&escape(&scalar_text(&value?)?)),
                    None => {
                        out.push_str("${");
                        out.push_str(&call.to_string());
                        out.push('}');
                    }
                }
            }
            Part::Reference(reference) => match lookup(&reference) {
                Some(value) => out.push_str(&escape(&scalar_text(&value)?)),
                None => {
                    out.push_str("${");
                    out.push_str(&reference.to_string());
                    out.push('}');
                }
            },
        }
    }
    Ok(Value::String(out))
}

/// Evaluates a template completely.
pub fn evaluate(
    text: &str,
    mut lookup: impl FnMut(&Reference) -> Lookup,
) -> Result<Evaluated, String> {
    let parts = parse(text)?;
    if let [Part::Reference(reference)] = parts.as_slice() {
        return Ok(match lookup(reference) {
            Lookup::Known(value) => Evaluated::Known(value),
            Lookup::Unknown => Evaluated::Unknown,
        });
    }
    if let [Part::Call(call)] = parts.as_slice() {
        let mut unknown = false;
        let call = call.with_known(|reference| match lookup(reference) {
            Lookup::Known(value) => Some(value),
            Lookup::Unknown => {
                unknown = true;
                None
            }
        });
        return Ok(match call_value(&call) {
            Some(value) if !unknown => Evaluated::Known(value?),
            _ => Evaluated::Unknown,
        });
    }
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(text) => out.push_str(&text),
            Part::Reference(reference) => match lookup(&reference) {
                Lookup::Known(value) => out.push_str(&scalar_text(&value)?),
                Lookup::Unknown => return Ok(Evaluated::Unknown),
            },
            Part::Call(call) => {
                let mut unknown = false;
                let call = call.with_known(|reference| match lookup(reference) {
                    Lookup::Known(value) => Some(value),
                    Lookup::Unknown => {
                        unknown = true;
                        None
                    }
                });
                if unknown {
                    return Ok(Evaluated::Unknown);
                }
                match call_value(&call) {
                    Some(value) => out.push_str(&scalar_text(&value?)?),
                    None => return Ok(Evaluated::Unknown),
                }
            }
        }
    }
    Ok(Evaluated::Known(Value::String(out)))
}

/// A call's value once every argument is a value; `None` before.
fn call_value(call: &Call) -> Option<Result<Value, String>> {
    let arguments: Option<Vec<Value>> = call.arguments.iter().map(|a| a.value()).collect();
    Some(functions::apply(call, &arguments?))
}

/// Marker for a value that is known only after apply; it keeps its template
/// so apply can evaluate it once the referenced resources exist.
pub const UNKNOWN_KEY: &str = "$unknown";

pub fn unknown(template: &str) -> Value {
    serde_json::json!({ UNKNOWN_KEY: template })
}

pub fn unknown_template(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(UNKNOWN_KEY).and_then(Value::as_str),
        _ => None,
    }
}

pub fn contains_unknown(value: &Value) -> bool {
    if unknown_template(value).is_some() {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().any(contains_unknown),
        Value::Object(map) => map.values().any(contains_unknown),
        _ => false,
    }
}

/// Evaluates every template inside a value; unknown parts become markers.
pub fn evaluate_value(
    value: &Value,
    lookup: &mut dyn FnMut(&Reference) -> Lookup,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) if is_template(text) => match evaluate(text, &mut *lookup)? {
            Evaluated::Known(value) => value,
            Evaluated::Unknown => unknown(text),
        },
        Value::String(text) => Value::String(text.clone()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| evaluate_value(item, lookup))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            if let Some(template) = unknown_template(value) {
                return evaluate_value(&Value::String(template.to_owned()), lookup);
            }
            let mut out = serde_json::Map::new();
            for (key, item) in map {
                out.insert(key.clone(), evaluate_value(item, lookup)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Whether `evaluate_value` gives the value back unchanged: no string is a
/// template (an escaped `$${` is one: it evaluates to `${`) and no mapping
/// is an unknown marker.
pub fn is_constant(value: &Value) -> bool {
    match value {
        Value::String(text) => !is_template(text),
        Value::Array(items) => items.iter().all(is_constant),
        Value::Object(map) => unknown_template(value).is_none() && map.values().all(is_constant),
        _ => true,
    }
}

/// Every reference in a compiled value.
pub fn collect_references(value: &Value, out: &mut Vec<Reference>) {
    match value {
        Value::String(text) => out.extend(references(text)),
        Value::Array(items) => items.iter().for_each(|item| collect_references(item, out)),
        Value::Object(map) => map.values().for_each(|item| collect_references(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_constant_evaluates_to_itself_and_a_template_does_not() {
        let mut lookup = |_: &Reference| Lookup::Known(json!("v"));
        for value in [
            json!({"a": [1, {"b": "plain $ {x}"}], "c": null}),
            json!("no template"),
        ] {
            assert!(is_constant(&value));
            assert_eq!(evaluate_value(&value, &mut lookup).unwrap(), value);
        }
        for value in [
            json!({"a": ["${aws.region}"]}),
            json!({"a": "escaped $${x}"}),
            unknown("${table.arn}"),
        ] {
            assert!(!is_constant(&value), "{value}");
            assert_ne!(evaluate_value(&value, &mut lookup).unwrap(), value);
        }
    }

    #[test]
    fn whole_reference_keeps_type() {
        let value = substitute("${var.n}", |_| Some(json!(5))).unwrap();
        assert_eq!(value, json!(5));
    }

    #[test]
    fn partial_substitution_keeps_other_references_and_escapes() {
        let value = substitute("${project}-${table.arn}-$${x}", |r| {
            (r.root == "project").then(|| json!("a${b"))
        })
        .unwrap();
        assert_eq!(value, json!("a$${b-${table.arn}-$${x}"));
        let Evaluated::Known(done) =
            evaluate(value.as_str().unwrap(), |_| Lookup::Known(json!("arn:x"))).unwrap()
        else {
            panic!("unknown")
        };
        assert_eq!(done, json!("a${b-arn:x-${x}"));
    }

    #[test]
    fn unknown_reference_makes_a_marker() {
        let value =
            evaluate_value(&json!({"a": ["${t.arn}/*"]}), &mut |_| Lookup::Unknown).unwrap();
        assert_eq!(value, json!({"a": [{"$unknown": "${t.arn}/*"}]}));
        assert!(contains_unknown(&value));
    }

    #[test]
    fn instance_references_parse_and_print_back() {
        let parts =
            parse(r#"${private["us-east-1a"].id}/${private[*].arn}${net[each.key].id}"#).unwrap();
        let roots: Vec<String> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Reference(r) => Some(r.to_string()),
                Part::Literal(_) | Part::Call(_) => None,
            })
            .collect();
        assert_eq!(
            roots,
            [
                r#"private["us-east-1a"].id"#,
                "private[*].arn",
                "net[each.key].id"
            ]
        );
        assert_eq!(
            split_instance(r#"private["a"]"#),
            ("private", Index::Key("a"))
        );
        assert_eq!(split_instance("private[*]"), ("private", Index::All));
        for bad in [
            r#"${a["b c"].id}"#,
            "${a[].id}",
            r#"${a["x"]id}"#,
            "${[*].id}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let tag = address_tag(r#"subnet.private["us-east-1a"]"#);
        assert_eq!(tag, "subnet.private/us-east-1a");
        assert_eq!(address_of_tag(&tag), r#"subnet.private["us-east-1a"]"#);
        assert_eq!(address_tag("subnet.a"), "subnet.a");
    }

    #[test]
    fn malformed_templates_are_errors() {
        assert!(parse("${").is_err());
        assert!(parse("${}").is_err());
        assert!(parse("${a b}").is_err());
    }
}

#[cfg(test)]
mod call_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_call_is_worked_out_once_its_arguments_are_known() {
        // Variables known, an attribute not: the call stays, its known
        // arguments put in.
        let value = substitute(
            r#"${cidrsubnet(var.cidr, 8, 1)}-${format("%s/%s", var.name, vpc.id)}"#,
            |r| {
                (r.root == "var").then(|| {
                    json!(if r.attribute == "cidr" {
                        "10.0.0.0/16"
                    } else {
                        "api"
                    })
                })
            },
        )
        .unwrap();
        assert_eq!(
            value,
            json!(r#"10.0.1.0/24-${format("%s/%s", "api", vpc.id)}"#)
        );
        assert_eq!(
            references(value.as_str().unwrap()),
            [Reference {
                root: "vpc".into(),
                attribute: "id".into()
            }]
        );
        let Evaluated::Known(done) =
            evaluate(value.as_str().unwrap(), |_| Lookup::Known(json!("vpc-1"))).unwrap()
        else {
            panic!("unknown")
        };
        assert_eq!(done, json!("10.0.1.0/24-api/vpc-1"));
        assert!(matches!(
            evaluate(value.as_str().unwrap(), |_| Lookup::Unknown).unwrap(),
            Evaluated::Unknown
        ));
        let error = substitute("${lower(var.n)}", |_| Some(json!(["a"]))).unwrap_err();
        assert!(error.contains("argument 1 must be text"), "{error}");
    }

    #[test]
    fn instances_and_lists_of_references_are_arguments() {
        let text = r#"${format("%s!", a["x"].name)}/${join(",", [a["x"].name, a["y"].name])}/${lower(a[*].name)}"#;
        let parts = parse(text).unwrap();
        let written: Vec<String> = parts
            .iter()
            .map(|p| match p {
                Part::Call(call) => call.to_string(),
                Part::Literal(literal) => literal.clone(),
                Part::Reference(reference) => reference.to_string(),
            })
            .collect();
        assert_eq!(
            written,
            [
                r#"format("%s!", a["x"].name)"#,
                "/",
                r#"join(",", [a["x"].name, a["y"].name])"#,
                "/",
                "lower(a[*].name)"
            ]
        );
        let names = |r: &Reference| match r.root.as_str() {
            r#"a["x"]"# => Lookup::Known(json!("X")),
            r#"a["y"]"# => Lookup::Known(json!("Y")),
            _ => Lookup::Unknown,
        };
        let first = r#"${format("%s!", a["x"].name)}-${join(",", [a["x"].name, a["y"].name])}"#;
        let Evaluated::Known(done) = evaluate(first, names).unwrap() else {
            panic!("unknown")
        };
        assert_eq!(done, json!("X!-X,Y"));
        // One item unknown: the call waits for apply, keeping its template.
        let partly = substitute(r#"${join(",", [a["x"].name, b.name])}"#, |r| {
            (r.root == r#"a["x"]"#).then(|| json!("X"))
        })
        .unwrap();
        assert_eq!(partly, json!(r#"${join(",", ["X", b.name])}"#));
    }

    #[test]
    fn a_nested_call_is_refused_as_one() {
        let error = parse(r#"${lower(join("-", var.names))}"#).unwrap_err();
        assert!(error.contains("calls do not nest"), "{error}");
        assert!(!error.contains("is not closed"), "{error}");
    }
}
