//! Values imported from other stacks' states (`${import.NAME.OUTPUT}`)
//! and what lookups found (`${lookup.NAME.ATTRIBUTE}`): known before
//! planning starts, so they are put in first and everything after sees
//! plain values.

use crate::model::expr::{self, Reference};
use crate::model::lookup::Found;
use crate::schema::Kind;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The values known before planning: imported outputs by import name,
/// and what each lookup found.
#[derive(Clone, Copy)]
pub struct Given<'a> {
    pub imports: &'a BTreeMap<String, Map<String, Value>>,
    pub lookups: &'a BTreeMap<String, Found>,
}

impl Given<'_> {
    fn find(&self, reference: &Reference) -> Option<Value> {
        let (name, attribute) = reference.attribute.split_once('.')?;
        match reference.root.as_str() {
            "import" => self.imports.get(name)?.get(attribute).cloned(),
            "lookup" => self.lookups.get(name)?.values.get(attribute).cloned(),
            _ => None,
        }
    }
}

fn is_given(reference: &Reference) -> bool {
    matches!(reference.root.as_str(), "import" | "lookup")
}

/// `value` with every import and lookup reference replaced by its value.
/// A string that is exactly one reference takes the value's own type (a
/// list of subnet ids).
pub fn substitute(value: &Value, given: &Given) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) if uses_given(text) => {
            let mut missing = None;
            let substituted = expr::substitute(text, |reference| {
                if !is_given(reference) {
                    return None;
                }
                let found = given.find(reference);
                if found.is_none() {
                    missing = Some(reference.clone());
                }
                found.map(|v| match v {
                    Value::String(_) => v,
                    other => escaped(&other),
                })
            })?;
            match missing {
                Some(reference) if reference.root == "import" => {
                    return Err(format!(
                        "`${{{reference}}}`: the imported state holds no such output"
                    ))
                }
                Some(reference) => {
                    return Err(format!(
                        "`${{{reference}}}`: what the lookup found has no such value (a SecureString parameter's value is never read: give its ARN and read it at run time)"
                    ))
                }
                None => {}
            }
            substituted
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute(item, given))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute(v, given)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A text that is exactly one `${import.…}` or `${lookup.…}` reference.
pub fn is_whole(text: &str) -> bool {
    matches!(
        expr::parse(text).as_deref(),
        Ok([expr::Part::Reference(reference)]) if is_given(reference)
    )
}

fn uses_given(text: &str) -> bool {
    expr::is_template(text) && expr::references(text).iter().any(is_given)
}

/// Strings inside an imported list or mapping stay literal text when the
/// result is evaluated as a template.
fn escaped(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace("${", "$${")),
        Value::Array(items) => Value::Array(items.iter().map(escaped).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), escaped(v))).collect())
        }
        other => other.clone(),
    }
}

/// An imported value put whole into a field must be of the field's kind:
/// the other stack's output may be a list where a text is wanted.
pub fn check_kind(kind: Kind, value: &Value) -> Result<(), String> {
    if !expr::is_constant(value) && matches!(value, Value::String(_)) {
        return Ok(());
    }
    let all_strings = |items: &[Value]| items.iter().all(Value::is_string);
    let ok = match kind {
        Kind::Str => value.is_string() || value.is_null(),
        Kind::StrList | Kind::StrSet => value.as_array().is_some_and(|a| all_strings(a)),
        Kind::Int => value.is_i64(),
        Kind::Float => value.is_number(),
        Kind::Bool => value.is_boolean(),
        Kind::StrMap => value
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string)),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("the value {value} is not {}", kind.describe()))
    }
}

/// The changed fields of a resource whose value refers to imports, each
/// with the imports it uses (`network.vpc_id`).
pub fn imported_fields(
    resource: &crate::stack::Resource,
    changed: &[String],
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for field in changed {
        let Some(value) = resource.properties.get(field) else {
            continue;
        };
        let mut references: Vec<Reference> = Vec::new();
        expr::collect_references(value, &mut references);
        let mut imports: Vec<String> = references
            .into_iter()
            .filter(|r| r.root == "import")
            .map(|r| r.attribute)
            .collect();
        imports.sort();
        imports.dedup();
        if !imports.is_empty() {
            out.insert(field.clone(), imports);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn substitute(
        value: &Value,
        imports: &BTreeMap<String, Map<String, Value>>,
    ) -> Result<Value, String> {
        super::substitute(
            value,
            &Given {
                imports,
                lookups: &BTreeMap::new(),
            },
        )
    }

    fn network() -> BTreeMap<String, Map<String, Value>> {
        BTreeMap::from([(
            "network".to_owned(),
            json!({"vpc_id": "vpc-1", "subnets": ["subnet-a", "x${y}"], "port": 8080})
                .as_object()
                .cloned()
                .unwrap(),
        )])
    }

    #[test]
    fn a_whole_reference_keeps_the_imported_type_and_text_stays_literal() {
        let value = json!({
            "vpc_id": "${import.network.vpc_id}",
            "subnet_ids": "${import.network.subnets}",
            "name": "${project}-${import.network.vpc_id}-${table.arn}",
            "port": "${import.network.port}",
        });
        let out = substitute(&value, &network()).unwrap();
        assert_eq!(
            out,
            json!({
                "vpc_id": "vpc-1",
                "subnet_ids": ["subnet-a", "x$${y}"],
                "name": "${project}-vpc-1-${table.arn}",
                "port": 8080,
            })
        );
        // Evaluated as a template, the escaped text is the imported text.
        let evaluated =
            expr::evaluate_value(&out["subnet_ids"], &mut |_| expr::Lookup::Unknown).unwrap();
        assert_eq!(evaluated, json!(["subnet-a", "x${y}"]));
    }

    #[test]
    fn an_output_the_state_lacks_is_an_error() {
        let error = substitute(&json!("${import.network.nope}"), &network()).unwrap_err();
        assert!(error.contains("import.network.nope"), "{error}");
        let error = substitute(&json!("a-${import.other.vpc_id}"), &network()).unwrap_err();
        assert!(error.contains("import.other.vpc_id"), "{error}");
    }

    #[test]
    fn kinds_are_checked_once_values_are_in() {
        assert!(check_kind(Kind::StrSet, &json!(["a", "b"])).is_ok());
        assert!(check_kind(Kind::StrSet, &json!("a")).is_err());
        assert!(check_kind(Kind::Str, &json!(["a"])).is_err());
        assert!(check_kind(Kind::Int, &json!(8080)).is_ok());
        assert!(check_kind(Kind::Bool, &json!("true")).is_err());
        // Still a template (another resource's attribute): left to apply.
        assert!(check_kind(Kind::StrSet, &json!("${table.arn}")).is_ok());
    }
}
