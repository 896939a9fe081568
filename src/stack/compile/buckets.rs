//! What S3 refuses about a bucket's policy across resources: a policy set
//! both on the bucket and apart, one naming another bucket, and a public
//! one while the bucket blocks public policies.

use super::{literal_value, Compiler};
use crate::stack::{Diagnostic, Resource};
use serde_json::Value;

/// A bucket's policy is set in one place, on the bucket or by one
/// `s3_bucket_policy` naming it (each would overwrite the other), and a
/// policy set apart is public only where its bucket lets public policies
/// in, as S3 would refuse it.
pub(super) fn check_bucket_policies(c: &mut Compiler, resources: &[Resource]) {
    let text = |resource: &Resource, key: &str| -> Option<String> {
        resource
            .properties
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for policy in resources
        .iter()
        .filter(|r| r.schema.type_name == "s3_bucket_policy")
    {
        let written = text(policy, "bucket").unwrap_or_default();
        let referenced = written.strip_prefix("${").and_then(|rest| {
            rest.strip_suffix(".name}")
                .or_else(|| rest.strip_suffix(".id}"))
        });
        let Some(bucket) = resources.iter().find(|r| {
            r.schema.type_name == "s3_bucket"
                && match referenced {
                    Some(root) => r.name == root,
                    None => text(r, "name").as_deref() == Some(written.as_str()),
                }
        }) else {
            continue;
        };
        let at = |field: &str| format!("resources.{}.properties.{field}", policy.name);
        if bucket
            .properties
            .get("policy")
            .is_some_and(|p| !p.is_null())
        {
            c.diagnostics.push(Diagnostic {
                file: policy.file.clone(),
                line: policy.line,
                column: policy.column,
                path: at("bucket"),
                message: format!(
                    "bucket `{}` sets its own `policy`, and this `s3_bucket_policy` sets it too; each would overwrite the other",
                    bucket.name
                ),
                help: Some(format!(
                    "keep one: remove `policy` from `{}` ({} line {}), or this resource",
                    bucket.name,
                    bucket.file.display(),
                    bucket.line
                )),
            });
            continue;
        }
        let statements: Vec<(String, &Value)> = match policy
            .properties
            .get("policy")
            .and_then(|p| p.get("Statement"))
        {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("policy.Statement.{i}"), s))
                .collect(),
            Some(one) => vec![("policy.Statement".to_owned(), one)],
            None => Vec::new(),
        };
        let bucket_name = literal_value(bucket.properties.get("name").unwrap_or(&Value::Null));
        let blocks_public =
            bucket.properties.get("block_public_policy") != Some(&Value::Bool(false));
        for (path, statement) in statements {
            // A literal ARN of another bucket, where the bucket's name is
            // known (given, or cairn's default).
            if let Some(Value::String(own)) = &bucket_name {
                let resources: Vec<&str> = match statement.get("Resource") {
                    Some(Value::String(one)) => vec![one.as_str()],
                    Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                for resource in resources {
                    let named = resource
                        .split_once(":s3:::")
                        .map(|(_, rest)| rest.split('/').next().unwrap_or_default());
                    if let Some(named) = named.filter(|n| !n.contains("${") && n != own) {
                        c.diagnostics.push(Diagnostic {
                            file: policy.file.clone(),
                            line: policy.line,
                            column: policy.column,
                            path: at(&format!("{path}.Resource")),
                            message: format!(
                                "`{resource}` names the bucket `{named}`, not this one (`{own}`); a bucket's policy covers only its own bucket and objects"
                            ),
                            help: Some(format!(
                                "write `${{{}.arn}}` or `${{{}.arn}}/*`",
                                bucket.name, bucket.name
                            )),
                        });
                    }
                }
            }
            if blocks_public && crate::schema::policy::public_statement(statement) {
                c.diagnostics.push(Diagnostic {
                    file: policy.file.clone(),
                    line: policy.line,
                    column: policy.column,
                    path: at(&path),
                    message: crate::schema::policy::PUBLIC_UNDER_BLOCK.to_owned(),
                    help: Some(format!(
                        "the bucket is `{}` ({} line {})",
                        bucket.name,
                        bucket.file.display(),
                        bucket.line
                    )),
                });
            }
        }
    }
}
