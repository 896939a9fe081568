//! S3: what its types share. Bucket names and bucket policies checked as
//! AWS checks them (moto checks neither), S3's error codes (most of its
//! errors are not modeled, so they are told apart by code, never by
//! message), and a bucket's policy calls.

use crate::aws::{Aws, AwsError};
use crate::model::ErrorClass;
use crate::schema::policy::{policy_problems, public_statement, PolicyKind, PUBLIC_UNDER_BLOCK};
use crate::schema::{pending, Problem};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

pub mod s3_bucket;
pub mod s3_bucket_policy;

/// For `Aws::send`'s `specific`: the bucket, or the part of it asked for
/// (`absent`, such as `NoSuchBucketPolicy`), does not exist.
pub fn gone<E: ProvideErrorMetadata>(error: &E, absent: &str) -> Option<ErrorClass> {
    let code = error.code().unwrap_or_default();
    crate::aws::missing(code == "NoSuchBucket" || (!absent.is_empty() && code == absent))
}

/// Names AWS keeps for itself: access point aliases, Object Lambda, multi-
/// region access points, directory and table buckets, its own examples.
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// A general purpose bucket's name, as S3 checks it.
pub fn bucket_name(value: &Value) -> Result<(), String> {
    let name = crate::schema::checks::text(value)?;
    crate::schema::checks::length(name, 3, 63, "a bucket name")?;
    crate::schema::checks::charset(
        name,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-',
        "a bucket name",
        "lowercase letters, digits, `.` and `-`",
    )?;
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge(name.chars().next()) || !edge(name.chars().last()) {
        return Err(format!(
            "a bucket name starts and ends with a letter or digit (`{name}`)"
        ));
    }
    if name.contains("..") {
        return Err(format!("a bucket name has no two dots in a row (`{name}`)"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(format!("a bucket name cannot be an IP address (`{name}`)"));
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Err(format!(
            "bucket names starting with `{prefix}` are reserved by AWS (`{name}`)"
        ));
    }
    if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Err(format!(
            "bucket names ending with `{suffix}` are reserved by AWS (`{name}`)"
        ));
    }
    Ok(())
}

/// The bucket a policy belongs to, as the stack writes it: its name, or a
/// reference to a bucket of the stack (`${site.name}`).
pub enum Owner<'a> {
    Named(&'a str),
    Referenced(&'a str),
    /// Not known at validate (a reference of another shape).
    Unknown,
}

impl<'a> Owner<'a> {
    pub fn of(written: &'a str) -> Owner<'a> {
        if !written.contains("${") {
            return Owner::Named(written);
        }
        written
            .strip_prefix("${")
            .and_then(|rest| {
                rest.strip_suffix(".name}")
                    .or_else(|| rest.strip_suffix(".id}"))
            })
            .filter(|root| !root.contains(['$', '{', '}', '.']))
            .map_or(Owner::Unknown, Owner::Referenced)
    }
}

/// What S3 refuses in a bucket's policy: IAM's grammar, a resource that is
/// not this bucket or its objects, and a public policy while
/// `block_public_policy` holds.
pub fn bucket_policy_problems(
    path: &str,
    policy: &Value,
    owner: &Owner,
    block_public_policy: bool,
) -> Vec<Problem> {
    let mut problems = policy_problems(path, policy, PolicyKind::Resource);
    if !problems.is_empty() || pending(policy) {
        return problems;
    }
    let statements: Vec<(String, &Value)> = match policy.get("Statement") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("{path}.Statement.{i}"), s))
            .collect(),
        Some(one) => vec![(format!("{path}.Statement"), one)],
        None => Vec::new(),
    };
    for (at, statement) in &statements {
        if statement.get("Principal").is_none() && statement.get("NotPrincipal").is_none() {
            problems.push(Problem::new(
                at,
                "a statement of a bucket policy needs `Principal` (who it applies to)",
            ));
        }
        for key in ["Resource", "NotResource"] {
            let resources: Vec<&str> = match statement.get(key) {
                Some(Value::String(one)) => vec![one.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for resource in resources {
                if let Some(message) = foreign_resource(resource, owner) {
                    problems.push(Problem::new(format!("{at}.{key}"), message));
                }
            }
        }
        if block_public_policy && public_statement(statement) {
            problems.push(Problem::new(at, PUBLIC_UNDER_BLOCK));
        }
    }
    problems
}

/// Why `resource` is not the bucket `owner` or one of its objects.
fn foreign_resource(resource: &str, owner: &Owner) -> Option<String> {
    if resource == "*" {
        return None;
    }
    if let Some(root) = resource
        .strip_prefix("${")
        .and_then(|rest| rest.split_once(['.', '}']))
        .map(|(root, _)| root)
    {
        return match owner {
            Owner::Referenced(bucket) if *bucket != root && !is_context(root) => Some(format!(
                "`{resource}` is not this bucket (`${{{bucket}.arn}}`) or its objects (`${{{bucket}.arn}}/*`); a bucket's policy covers only its own bucket"
            )),
            _ => None,
        };
    }
    let rest = resource
        .strip_prefix("arn:")?
        .split_once(":s3:::")
        .map(|(_, rest)| rest);
    let Some(rest) = rest else {
        return Some(format!(
            "`{resource}` is not an S3 resource; a bucket's policy covers only its bucket (`arn:aws:s3:::BUCKET`) and objects (`arn:aws:s3:::BUCKET/*`)"
        ));
    };
    let named = rest.split('/').next().unwrap_or_default();
    match owner {
        Owner::Named(bucket) if !named.contains("${") && named != *bucket => Some(format!(
            "`{resource}` names the bucket `{named}`, not this one (`{bucket}`); a bucket's policy covers only its own bucket and objects"
        )),
        _ => None,
    }
}

/// References that are not resources: the stack's own names and values.
fn is_context(root: &str) -> bool {
    ["aws", "var", "project", "env", "stack", "each"].contains(&root)
}

/// The bucket's policy document, or `None` when it has none.
pub async fn read_policy(aws: &Aws, bucket: &str) -> Result<Option<Value>, AwsError> {
    let found = aws
        .send(
            "GetBucketPolicy",
            || aws.s3().get_bucket_policy().bucket(bucket).send(),
            |e| gone(e, "NoSuchBucketPolicy"),
        )
        .await;
    Ok(crate::aws::present(found)?
        .and_then(|output| output.policy().map(str::to_owned))
        .and_then(|text| serde_json::from_str(&text).ok()))
}

pub async fn put_policy(aws: &Aws, bucket: &str, policy: &Value) -> Result<(), AwsError> {
    let text = crate::aws::policy_text(policy);
    aws.send(
        "PutBucketPolicy",
        || {
            aws.s3()
                .put_bucket_policy()
                .bucket(bucket)
                .policy(&text)
                .send()
        },
        |e| gone(e, ""),
    )
    .await?;
    Ok(())
}

/// Deleting a policy already gone (or its bucket) succeeds.
pub async fn delete_policy(aws: &Aws, bucket: &str) -> Result<(), AwsError> {
    aws.send_delete(
        "DeleteBucketPolicy",
        || aws.s3().delete_bucket_policy().bucket(bucket).send(),
        |e| gone(e, "NoSuchBucketPolicy"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bucket_names_are_checked_as_s3_checks_them() {
        for good in ["my-bucket", "a.b.c", "abc", "0-site-9", &"a".repeat(63)] {
            assert_eq!(bucket_name(&json!(good)), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("ab", "3 to 63"),
            (&"a".repeat(64) as &str, "3 to 63"),
            ("My-Bucket", "contains `M`"),
            ("my_bucket", "contains `_`"),
            ("-bucket", "starts and ends"),
            ("bucket.", "starts and ends"),
            ("my..bucket", "two dots"),
            ("192.168.5.4", "IP address"),
            ("xn--bucket", "`xn--`"),
            ("sthree-data", "`sthree-`"),
            ("amzn-s3-demo-bucket", "`amzn-s3-demo-`"),
            ("data-s3alias", "`-s3alias`"),
            ("data--ol-s3", "`--ol-s3`"),
            ("data.mrap", "`.mrap`"),
            ("data--x-s3", "`--x-s3`"),
            ("data--table-s3", "`--table-s3`"),
        ] {
            let message = bucket_name(&json!(bad)).unwrap_err();
            assert!(message.contains(why), "{bad}: {message}");
        }
    }

    fn statement(principal: Value, condition: Option<Value>) -> Value {
        let mut s = json!({"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        if let Some(c) = condition {
            s["Condition"] = c;
        }
        s
    }

    #[test]
    fn public_is_what_s3_calls_public() {
        assert!(public_statement(&statement(json!("*"), None)));
        assert!(public_statement(&statement(json!({"AWS": "*"}), None)));
        assert!(public_statement(&statement(
            json!({"AWS": ["123456789012", "*"]}),
            None
        )));
        let pinned =
            json!({"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::1:distribution/E1"}});
        assert!(!public_statement(&statement(json!("*"), Some(pinned))));
        let wildcard =
            json!({"StringLike": {"aws:SourceArn": "arn:aws:cloudfront::1:distribution/*"}});
        assert!(public_statement(&statement(json!("*"), Some(wildcard))));
        let if_exists = json!({"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}});
        assert!(public_statement(&statement(json!("*"), Some(if_exists))));
        let network = json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}});
        assert!(!public_statement(&statement(json!("*"), Some(network))));
        let everyone = json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}});
        assert!(public_statement(&statement(json!("*"), Some(everyone))));
        let unrelated = json!({"Bool": {"aws:SecureTransport": "true"}});
        assert!(public_statement(&statement(json!("*"), Some(unrelated))));
        assert!(!public_statement(&statement(
            json!({"Service": "cloudfront.amazonaws.com"}),
            None
        )));
        let mut deny = statement(json!("*"), None);
        deny["Effect"] = json!("Deny");
        assert!(!public_statement(&deny));
    }

    #[test]
    fn a_bucket_policy_covers_its_own_bucket_only() {
        let policy = |resource: Value| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": resource}]});
        let named = Owner::of("site");
        assert!(bucket_policy_problems(
            "policy",
            &policy(json!(["arn:aws:s3:::site", "arn:aws:s3:::site/*"])),
            &named,
            true
        )
        .is_empty());
        let other = bucket_policy_problems(
            "policy",
            &policy(json!("arn:aws:s3:::other/*")),
            &named,
            true,
        );
        assert_eq!(other.len(), 1, "{other:?}");
        assert!(other[0].message.contains("names the bucket `other`"));
        let referenced = Owner::of("${site.name}");
        assert!(bucket_policy_problems(
            "policy",
            &policy(json!("${site.arn}/*")),
            &referenced,
            true
        )
        .is_empty());
        let foreign =
            bucket_policy_problems("policy", &policy(json!("${logs.arn}/*")), &referenced, true);
        assert_eq!(foreign.len(), 1, "{foreign:?}");
        let table = bucket_policy_problems(
            "policy",
            &policy(json!("arn:aws:dynamodb:us-east-1:1:table/t")),
            &named,
            true,
        );
        assert!(table[0].message.contains("not an S3 resource"), "{table:?}");
    }
}
