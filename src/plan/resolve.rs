//! The one place a reference becomes a value. Planning, apply and outputs
//! all resolve through here, so they cannot disagree.

use crate::model::expr::{self, Lookup, Reference};
use serde_json::Value;

/// What `${aws.*}` refers to: found by refresh, carried in the plan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Account<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub partition: &'a str,
}

/// Resolves one reference. `attribute(name, attribute)` gives a resource's
/// value; a value still unknown, or kept only as a hash, is unknown.
pub fn lookup(
    reference: &Reference,
    account: &Account,
    attribute: impl FnOnce(&str, &str) -> Option<Value>,
) -> Lookup {
    match reference.root.as_str() {
        "aws" => {
            let value = match reference.attribute.as_str() {
                "account_id" => account.account_id,
                "region" => account.region,
                "partition" => account.partition,
                // Validation refuses any other; nothing to guess here.
                _ => return Lookup::Unknown,
            };
            if value.is_empty() {
                Lookup::Unknown
            } else {
                Lookup::Known(Value::String(value.to_owned()))
            }
        }
        name => match attribute(name, &reference.attribute) {
            // Null: a field left to AWS, known once AWS has made it.
            Some(value)
                if !value.is_null()
                    && !expr::contains_unknown(&value)
                    && !crate::state::is_redacted(&value) =>
            {
                Lookup::Known(value)
            }
            _ => Lookup::Unknown,
        },
    }
}

/// Fills in what a plan left unknown. A planned value holds literal text
/// wherever it was known at plan time (an IAM policy's `${aws:username}`
/// stays as written) and a marker with its template elsewhere: only the
/// markers are evaluated.
pub fn fill_unknowns(
    value: &Value,
    lookup: &mut dyn FnMut(&Reference) -> Lookup,
) -> Result<Value, String> {
    if let Some(template) = expr::unknown_template(value) {
        return expr::evaluate_value(&Value::String(template.to_owned()), lookup);
    }
    Ok(match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| fill_unknowns(item, lookup))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill_unknowns(v, lookup)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literal_text_stays_literal_and_markers_are_filled() {
        let planned = json!({
            "policy": "arn:aws:s3:::home/${aws:username}/*",
            "arn": {"$unknown": "${table.arn}/index/*"},
        });
        let account = Account {
            account_id: "1",
            region: "r",
            partition: "aws",
        };
        let filled = fill_unknowns(&planned, &mut |r| {
            lookup(r, &account, |_, _| Some(json!("arn:t")))
        })
        .unwrap();
        assert_eq!(
            filled,
            json!({"policy": "arn:aws:s3:::home/${aws:username}/*", "arn": "arn:t/index/*"})
        );
    }

    #[test]
    fn aws_values_come_from_the_account() {
        let account = Account {
            account_id: "123",
            region: "eu-west-1",
            partition: "aws-cn",
        };
        let reference = |attribute: &str| Reference {
            root: "aws".into(),
            attribute: attribute.into(),
        };
        for (attribute, expected) in [
            ("account_id", "123"),
            ("region", "eu-west-1"),
            ("partition", "aws-cn"),
        ] {
            let Lookup::Known(value) = lookup(&reference(attribute), &account, |_, _| None) else {
                panic!("{attribute} unknown")
            };
            assert_eq!(value, json!(expected));
        }
    }
}
