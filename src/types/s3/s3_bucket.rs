//! An S3 bucket with its settings: versioning, default encryption, public
//! access block, policy, lifecycle rules, CORS, object ownership, tags.
//! AWS keeps each setting as its own sub-resource of the bucket; cairn
//! reads and writes them as one resource, as Terraform's split resources
//! describe them (see `terraform`).

use super::{bucket_name, bucket_policy_problems, gone, Owner};
use crate::aws::{changed, flag, int, present, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_s3::types as s3;
use serde_json::{json, Map, Value};

/// The classes a lifecycle rule moves objects to, in the order S3 lets
/// them follow one another (its "waterfall": a transition may only go
/// down this list).
const STORAGE_CLASSES: &[&str] = &[
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
];

const TRANSITION: &[Field] = &[
    Field::new("days", K::Int).required().check(days_from_zero),
    Field::new("storage_class", K::Str)
        .required()
        .one_of(STORAGE_CLASSES, "a storage class"),
];

const LIFECYCLE_RULE: &[Field] = &[
    Field::new("id", K::Str).required().check(rule_id),
    Field::new("enabled", K::Bool).or(F::Bool(true)),
    // Which objects it covers: those whose key starts with it ("" is all).
    Field::new("prefix", K::Str).or(F::Str("")),
    Field::new("transitions", K::ObjectList(TRANSITION)).or(F::EmptyList),
    Field::new("expiration_days", K::Int).check(days_from_one),
    Field::new("noncurrent_transitions", K::ObjectList(TRANSITION)).or(F::EmptyList),
    Field::new("noncurrent_expiration_days", K::Int).check(days_from_one),
    Field::new("abort_incomplete_upload_days", K::Int).check(days_from_one),
];

const CORS_RULE: &[Field] = &[
    Field::new("allowed_methods", K::StrList)
        .required()
        .check(cors_methods),
    Field::new("allowed_origins", K::StrList)
        .required()
        .check(cors_origins),
    Field::new("allowed_headers", K::StrList).or(F::EmptyList),
    Field::new("expose_headers", K::StrList).or(F::EmptyList),
    Field::new("max_age_seconds", K::Int).check(c::positive),
];

pub static S3_BUCKET: Schema = Schema {
    type_name: "s3_bucket",
    description: "S3 bucket: versioning, default encryption, public access block, policy, lifecycle, CORS, ownership",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(bucket_name),
        Field::new("versioning", K::Bool).or(F::Bool(false)),
        Field::new("encryption", K::Str)
            .or(F::Str("AES256"))
            .one_of(&["AES256", "aws:kms"], "an encryption (SSE-S3 or SSE-KMS)"),
        // Empty with `aws:kms`: the account's AWS managed key (aws/s3).
        Field::new("kms_key_arn", K::Str).or(F::Str("")),
        Field::new("bucket_key_enabled", K::Bool).or(F::Bool(false)),
        // All four on unless the stack says otherwise: a bucket is private
        // until someone decides it should not be.
        Field::new("block_public_acls", K::Bool).or(F::Bool(true)),
        Field::new("block_public_policy", K::Bool).or(F::Bool(true)),
        Field::new("ignore_public_acls", K::Bool).or(F::Bool(true)),
        Field::new("restrict_public_buckets", K::Bool).or(F::Bool(true)),
        // Absent: not managed here (an `s3_bucket_policy` may hold it).
        Field::new("policy", K::Policy),
        Field::new("lifecycle_rules", K::ObjectList(LIFECYCLE_RULE)).or(F::EmptyList),
        Field::new("cors_rules", K::ObjectList(CORS_RULE)).or(F::EmptyList),
        Field::new("object_ownership", K::Str)
            .or(F::Str("BucketOwnerEnforced"))
            .one_of(
                &["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"],
                "an object ownership",
            ),
        // Lives only in cairn (AWS never reports it): whether destroy
        // deletes every object version first.
        Field::new("force_destroy", K::Bool).or(F::Bool(false)).at_delete(),
        TAGS,
    ],
    outputs: &["arn", "regional_domain_name"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: true,
    expand: no_expansion,
    validate: validate_bucket,
};

fn days_from_zero(value: &Value) -> Result<(), String> {
    c::int_range(value, 0, i64::from(i32::MAX), "a number of days")
}

fn days_from_one(value: &Value) -> Result<(), String> {
    c::int_range(value, 1, i64::from(i32::MAX), "a number of days")
}

fn rule_id(value: &Value) -> Result<(), String> {
    c::length(c::text(value)?, 1, 255, "a lifecycle rule id")
}

fn cors_methods(value: &Value) -> Result<(), String> {
    let methods = value.as_array().map(Vec::as_slice).unwrap_or_default();
    if methods.is_empty() {
        return Err("a CORS rule allows at least one method".into());
    }
    methods.iter().try_for_each(|method| {
        c::one_of(
            method,
            &["GET", "PUT", "POST", "DELETE", "HEAD"],
            "a CORS method",
        )
    })
}

/// S3's CORSRule: "one or more origins" (AllowedOrigins, required).
fn cors_origins(value: &Value) -> Result<(), String> {
    match value.as_array() {
        Some(origins) if origins.is_empty() => Err(
            "a CORS rule allows at least one origin (`[\"https://example.com\"]`, or `[\"*\"]` for any)".into(),
        ),
        _ => Ok(()),
    }
}

fn validate_bucket(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let kms_key = properties.get("kms_key_arn").and_then(Value::as_str);
    if kms_key.is_some_and(|key| !key.is_empty())
        && properties.get("encryption").and_then(Value::as_str) != Some("aws:kms")
    {
        problems.push(Problem::new(
            "kms_key_arn",
            "a KMS key is used only with `encryption: aws:kms`",
        ));
    }
    if let Some(policy) = properties.get("policy").filter(|p| !p.is_null()) {
        let name = properties.get("name").and_then(Value::as_str).unwrap_or("");
        let blocked = properties.get("block_public_policy") != Some(&Value::Bool(false));
        problems.extend(bucket_policy_problems(
            "policy",
            policy,
            &Owner::of(name),
            blocked,
        ));
    }
    if let Some(Value::Array(rules)) = properties.get("lifecycle_rules") {
        let mut ids: Vec<&str> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let at = format!("lifecycle_rules.{index}");
            if let Some(id) = rule.get("id").and_then(Value::as_str) {
                if ids.contains(&id) {
                    problems.push(Problem::new(
                        format!("{at}.id"),
                        format!("lifecycle rule id `{id}` is used twice; S3 wants each unique"),
                    ));
                }
                ids.push(id);
            }
            if let Some(rule) = rule.as_object() {
                problems.extend(lifecycle_problems(&at, rule));
            }
        }
        if rules.len() > 1000 {
            problems.push(Problem::new(
                "lifecycle_rules",
                format!("S3 takes at most 1000 lifecycle rules, got {}", rules.len()),
            ));
        }
    }
    problems
}

/// What S3 refuses in one lifecycle rule: no action at all; a transition
/// to an infrequent-access class before day 30; two transitions to one
/// class; a later transition to a class above an earlier one (the
/// waterfall goes one way); a class after an infrequent-access class less
/// than 30 days after it; an expiration not after every transition.
/// Checked for current and noncurrent versions alike.
fn lifecycle_problems(at: &str, rule: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let actions = ["transitions", "noncurrent_transitions"].iter().any(|key| {
        rule.get(*key)
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty())
    }) || [
        "expiration_days",
        "noncurrent_expiration_days",
        "abort_incomplete_upload_days",
    ]
    .iter()
    .any(|key| rule.get(*key).is_some_and(|v| !v.is_null()));
    if !actions {
        problems.push(Problem::new(
            at,
            "a lifecycle rule needs an action: transitions, an expiration or abort_incomplete_upload_days",
        ));
    }
    for (list, expiration, what) in [
        ("transitions", "expiration_days", "days"),
        (
            "noncurrent_transitions",
            "noncurrent_expiration_days",
            "noncurrent days",
        ),
    ] {
        let mut steps: Vec<(i64, usize, usize)> = Vec::new();
        for (index, transition) in rule
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = format!("{at}.{list}.{index}");
            let days = transition.get("days").and_then(Value::as_i64);
            let class = transition.get("storage_class").and_then(Value::as_str);
            let (Some(days), Some(rank)) = (
                days,
                class.and_then(|c| STORAGE_CLASSES.iter().position(|s| *s == c)),
            ) else {
                continue;
            };
            if is_infrequent(rank) && days < 30 {
                problems.push(Problem::new(
                    format!("{path}.days"),
                    format!(
                        "S3 moves objects to {} after at least 30 {what}, got {days}",
                        STORAGE_CLASSES[rank]
                    ),
                ));
            }
            if let Some((_, _, first)) = steps.iter().find(|(_, r, _)| *r == rank) {
                problems.push(Problem::new(
                    format!("{path}.storage_class"),
                    format!(
                        "two transitions to {} in one rule (the first is {list}.{first})",
                        STORAGE_CLASSES[rank]
                    ),
                ));
            }
            steps.push((days, rank, index));
        }
        steps.sort();
        for pair in steps.windows(2) {
            let ((early_days, early, _), (late_days, late, index)) = (pair[0], pair[1]);
            let path = format!("{at}.{list}.{index}");
            if late < early {
                problems.push(Problem::new(
                    format!("{path}.storage_class"),
                    format!(
                        "a transition to {} on day {late_days} comes after one to {} on day {early_days}; S3 moves objects only down the order {}",
                        STORAGE_CLASSES[late],
                        STORAGE_CLASSES[early],
                        STORAGE_CLASSES.join(", ")
                    ),
                ));
            } else if late != early && is_infrequent(early) && late_days < early_days + 30 {
                problems.push(Problem::new(
                    format!("{path}.days"),
                    format!(
                        "S3 keeps objects in {} at least 30 days before moving them on: the transition to {} needs day {} or later, got {late_days}",
                        STORAGE_CLASSES[early],
                        STORAGE_CLASSES[late],
                        early_days + 30
                    ),
                ));
            }
        }
        let expires = rule.get(expiration).and_then(Value::as_i64);
        if let (Some(expires), Some((last, rank, _))) = (expires, steps.last()) {
            if expires <= *last {
                problems.push(Problem::new(
                    format!("{at}.{expiration}"),
                    format!(
                        "the expiration ({expires} {what}) must come after the last transition (to {} after {last})",
                        STORAGE_CLASSES[*rank]
                    ),
                ));
            }
        }
    }
    problems
}

/// STANDARD_IA and ONEZONE_IA: 30 days' minimum before and in them.
fn is_infrequent(rank: usize) -> bool {
    matches!(STORAGE_CLASSES[rank], "STANDARD_IA" | "ONEZONE_IA")
}

pub struct Bucket;

fn arn(aws: &Aws, name: &str) -> String {
    format!("arn:{}:s3:::{name}", aws.partition())
}

fn s3_error<E: std::fmt::Debug>(operation: &'static str, error: E) -> AwsError {
    AwsError::new(ErrorClass::Fatal, operation, format!("{error:?}"))
}

impl Bucket {
    async fn read_bucket(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let s3 = aws.s3();
        let found = aws
            .send(
                "HeadBucket",
                || s3.head_bucket().bucket(name).send(),
                |e| crate::aws::missing(e.is_not_found()),
            )
            .await;
        if present(found)?.is_none() {
            return Ok(None);
        }
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(name));
        let versioning = aws
            .send(
                "GetBucketVersioning",
                || get_versioning(aws, name),
                |e| gone(e, ""),
            )
            .await?;
        attributes.insert(
            "versioning".into(),
            json!(versioning.status() == Some(&s3::BucketVersioningStatus::Enabled)),
        );
        self.read_encryption(aws, name, &mut attributes).await?;
        let block = present(
            aws.send(
                "GetPublicAccessBlock",
                || s3.get_public_access_block().bucket(name).send(),
                |e| gone(e, "NoSuchPublicAccessBlockConfiguration"),
            )
            .await,
        )?;
        let block = block.and_then(|b| b.public_access_block_configuration);
        let block = block.as_ref();
        for (field, value) in [
            ("block_public_acls", block.and_then(|b| b.block_public_acls)),
            (
                "block_public_policy",
                block.and_then(|b| b.block_public_policy),
            ),
            (
                "ignore_public_acls",
                block.and_then(|b| b.ignore_public_acls),
            ),
            (
                "restrict_public_buckets",
                block.and_then(|b| b.restrict_public_buckets),
            ),
        ] {
            attributes.insert(field.into(), json!(value.unwrap_or(false)));
        }
        attributes.insert(
            "policy".into(),
            super::read_policy(aws, name).await?.unwrap_or(Value::Null),
        );
        attributes.insert("lifecycle_rules".into(), read_lifecycle(aws, name).await?);
        attributes.insert("cors_rules".into(), read_cors(aws, name).await?);
        let ownership = present(
            aws.send(
                "GetBucketOwnershipControls",
                || s3.get_bucket_ownership_controls().bucket(name).send(),
                |e| gone(e, "OwnershipControlsNotFoundError"),
            )
            .await,
        )?;
        // No controls: objects belong to whoever wrote them.
        let ownership = ownership
            .and_then(|o| o.ownership_controls)
            .and_then(|o| o.rules.into_iter().next())
            .map_or("ObjectWriter".to_owned(), |r| {
                r.object_ownership.as_str().to_owned()
            });
        attributes.insert("object_ownership".into(), json!(ownership));
        attributes.insert("tags".into(), read_tags(aws, name).await?);
        Ok(Some(observation(
            name,
            attributes,
            [
                ("arn", json!(arn(aws, name))),
                (
                    "regional_domain_name",
                    json!(format!("{name}.s3.{}.amazonaws.com", aws.region)),
                ),
            ],
        )))
    }

    /// Default encryption. No configuration reads as SSE-S3: AWS encrypts
    /// every bucket so and answers it; moto answers "not found" instead.
    async fn read_encryption(
        &self,
        aws: &Aws,
        name: &str,
        attributes: &mut Map<String, Value>,
    ) -> Result<(), AwsError> {
        let found = present(
            aws.send(
                "GetBucketEncryption",
                || aws.s3().get_bucket_encryption().bucket(name).send(),
                |e| gone(e, "ServerSideEncryptionConfigurationNotFoundError"),
            )
            .await,
        )?;
        let rule = found
            .and_then(|f| f.server_side_encryption_configuration)
            .and_then(|c| c.rules.into_iter().next());
        let default = rule
            .as_ref()
            .and_then(|r| r.apply_server_side_encryption_by_default.as_ref());
        attributes.insert(
            "encryption".into(),
            json!(default.map_or("AES256", |d| d.sse_algorithm.as_str())),
        );
        attributes.insert(
            "kms_key_arn".into(),
            json!(default
                .and_then(|d| d.kms_master_key_id.as_deref())
                .unwrap_or("")),
        );
        attributes.insert(
            "bucket_key_enabled".into(),
            json!(rule.and_then(|r| r.bucket_key_enabled).unwrap_or(false)),
        );
        Ok(())
    }

    /// Writes the settings `fields` names (all of them when `None`), in an
    /// order S3 accepts: a policy that is public only once its block is
    /// lifted goes after the block, and one made private before a block
    /// goes on goes first.
    async fn put_settings(
        &self,
        aws: &Aws,
        name: &str,
        desired: &Map<String, Value>,
        fields: Option<&[String]>,
    ) -> Result<(), AwsError> {
        let wants = |field: &str| fields.is_none_or(|fields| changed(fields, field));
        let s3 = aws.s3();
        if wants("tags") {
            put_tags(aws, name, desired).await?;
        }
        if wants("object_ownership") {
            let rule = s3::OwnershipControlsRule::builder()
                .object_ownership(s3::ObjectOwnership::from(text(desired, "object_ownership")))
                .build()
                .map_err(|e| s3_error("PutBucketOwnershipControls", e))?;
            let controls = s3::OwnershipControls::builder()
                .rules(rule)
                .build()
                .map_err(|e| s3_error("PutBucketOwnershipControls", e))?;
            aws.send(
                "PutBucketOwnershipControls",
                || {
                    s3.put_bucket_ownership_controls()
                        .bucket(name)
                        .ownership_controls(controls.clone())
                        .send()
                },
                |e| gone(e, ""),
            )
            .await?;
        }
        let policy = desired.get("policy").filter(|p| !p.is_null());
        let policy_first = flag(desired, "block_public_policy");
        if policy_first && wants("policy") {
            if let Some(policy) = policy {
                super::put_policy(aws, name, policy).await?;
            }
        }
        let block_fields = [
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ];
        if block_fields.iter().any(|f| wants(f)) {
            // Every flag is sent, false ones too: the SDK leaves out only
            // unset ones, and S3 replaces the whole configuration.
            let block = s3::PublicAccessBlockConfiguration::builder()
                .block_public_acls(flag(desired, "block_public_acls"))
                .block_public_policy(flag(desired, "block_public_policy"))
                .ignore_public_acls(flag(desired, "ignore_public_acls"))
                .restrict_public_buckets(flag(desired, "restrict_public_buckets"))
                .build();
            aws.send(
                "PutPublicAccessBlock",
                || {
                    s3.put_public_access_block()
                        .bucket(name)
                        .public_access_block_configuration(block.clone())
                        .send()
                },
                |e| gone(e, ""),
            )
            .await?;
        }
        if wants("versioning") {
            put_versioning(aws, name, desired, fields.is_none()).await?;
        }
        if ["encryption", "kms_key_arn", "bucket_key_enabled"]
            .iter()
            .any(|f| wants(f))
        {
            put_encryption(aws, name, desired).await?;
        }
        if wants("lifecycle_rules") {
            put_lifecycle(aws, name, desired, fields.is_none()).await?;
        }
        if wants("cors_rules") {
            put_cors(aws, name, desired, fields.is_none()).await?;
        }
        if !policy_first && wants("policy") {
            if let Some(policy) = policy {
                super::put_policy(aws, name, policy).await?;
            }
        }
        Ok(())
    }

    /// Deletes every object version and delete marker, a page of at most
    /// 1000 at a time, until a listing finds none.
    async fn empty(&self, aws: &Aws, name: &str) -> Result<(), AwsError> {
        loop {
            let listed = present(
                aws.send(
                    "ListObjectVersions",
                    || aws.s3().list_object_versions().bucket(name).send(),
                    |e| gone(e, ""),
                )
                .await,
            )?;
            let Some(listed) = listed else {
                return Ok(());
            };
            let mut objects = Vec::new();
            let versions = listed.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = listed
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                objects.push(
                    s3::ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.map(str::to_owned))
                        .build()
                        .map_err(|e| s3_error("DeleteObjects", e))?,
                );
            }
            if objects.is_empty() {
                return Ok(());
            }
            let batch = s3::Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| s3_error("DeleteObjects", e))?;
            let deleted = aws
                .send(
                    "DeleteObjects",
                    || {
                        aws.s3()
                            .delete_objects()
                            .bucket(name)
                            .delete(batch.clone())
                            .send()
                    },
                    |e| gone(e, ""),
                )
                .await?;
            if let Some(failed) = deleted.errors().first() {
                return Err(AwsError::new(
                    ErrorClass::Fatal,
                    "DeleteObjects",
                    format!(
                        "could not delete `{}`: {}",
                        failed.key().unwrap_or_default(),
                        failed.code().unwrap_or_default()
                    ),
                ));
            }
        }
    }

    /// A bucket that exists already (a repeat after a lost answer, which
    /// S3 answers with success or "already owned by you") is this stack's
    /// only if it carries no other stack's ownership tags.
    async fn claim(
        &self,
        aws: &Aws,
        name: &str,
        desired: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let live = read_tags(aws, name).await?;
        let wanted = crate::aws::string_map(desired, "tags");
        let foreign = [
            crate::stack::TAG_STACK,
            crate::stack::TAG_ENVIRONMENT,
            crate::stack::TAG_ADDRESS,
        ]
        .iter()
        .find(|key| {
            live.get(**key)
                .and_then(Value::as_str)
                .is_some_and(|value| wanted.get(**key).map(String::as_str) != Some(value))
        });
        match foreign {
            Some(key) => Err(AwsError::new(
                ErrorClass::AlreadyExists,
                "CreateBucket",
                format!("bucket `{name}` exists and is not this stack's (its `{key}` tag differs); choose another name"),
            )),
            None => Ok(()),
        }
    }
}

type VersioningAnswer = Result<
    aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput,
    aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
>;

/// GetBucketVersioning. moto answers it under a root element S3's model
/// does not know (`GetBucketVersioningResponse`), which the SDK reports
/// as an error without a code although the answer is a success: such a
/// success is read by hand (its `Status`, or none).
async fn get_versioning(aws: &Aws, name: &str) -> VersioningAnswer {
    use aws_smithy_runtime_api::client::result::SdkError;
    match aws.s3().get_bucket_versioning().bucket(name).send().await {
        Err(SdkError::ServiceError(context)) if context.raw().status().is_success() => {
            let body = context
                .raw()
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let status = body
                .split_once("<Status>")
                .and_then(|(_, rest)| rest.split_once("</Status>"))
                .map(|(status, _)| s3::BucketVersioningStatus::from(status));
            Ok(
                aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput::builder()
                    .set_status(status)
                    .build(),
            )
        }
        other => other,
    }
}

async fn read_tags(aws: &Aws, name: &str) -> Result<Value, AwsError> {
    let found = present(
        aws.send(
            "GetBucketTagging",
            || aws.s3().get_bucket_tagging().bucket(name).send(),
            |e| gone(e, "NoSuchTagSet"),
        )
        .await,
    )?;
    Ok(crate::aws::tags_value(
        found
            .iter()
            .flat_map(|f| f.tag_set())
            .map(|t| (t.key(), t.value())),
    ))
}

/// S3 replaces a bucket's whole tag set; an empty one is deleted.
async fn put_tags(aws: &Aws, name: &str, desired: &Map<String, Value>) -> Result<(), AwsError> {
    let tags = crate::aws::string_map(desired, "tags");
    let s3 = aws.s3();
    if tags.is_empty() {
        aws.send(
            "DeleteBucketTagging",
            || s3.delete_bucket_tagging().bucket(name).send(),
            |e| gone(e, ""),
        )
        .await?;
        return Ok(());
    }
    let mut set = Vec::new();
    for (key, value) in &tags {
        set.push(
            s3::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| s3_error("PutBucketTagging", e))?,
        );
    }
    let tagging = s3::Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(|e| s3_error("PutBucketTagging", e))?;
    aws.send(
        "PutBucketTagging",
        || {
            s3.put_bucket_tagging()
                .bucket(name)
                .tagging(tagging.clone())
                .send()
        },
        |e| gone(e, ""),
    )
    .await?;
    Ok(())
}

/// Versioning on, or suspended (a bucket once versioned cannot go back to
/// never versioned). A new bucket that is not versioned needs no call.
async fn put_versioning(
    aws: &Aws,
    name: &str,
    desired: &Map<String, Value>,
    creating: bool,
) -> Result<(), AwsError> {
    let on = flag(desired, "versioning");
    if creating && !on {
        return Ok(());
    }
    let status = if on {
        s3::BucketVersioningStatus::Enabled
    } else {
        s3::BucketVersioningStatus::Suspended
    };
    let configuration = s3::VersioningConfiguration::builder()
        .status(status)
        .build();
    aws.send(
        "PutBucketVersioning",
        || {
            aws.s3()
                .put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(configuration.clone())
                .send()
        },
        |e| gone(e, ""),
    )
    .await?;
    Ok(())
}

async fn put_encryption(
    aws: &Aws,
    name: &str,
    desired: &Map<String, Value>,
) -> Result<(), AwsError> {
    let key = text(desired, "kms_key_arn");
    let default = s3::ServerSideEncryptionByDefault::builder()
        .sse_algorithm(s3::ServerSideEncryption::from(text(desired, "encryption")))
        .set_kms_master_key_id((!key.is_empty()).then(|| key.to_owned()))
        .build()
        .map_err(|e| s3_error("PutBucketEncryption", e))?;
    let rule = s3::ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(flag(desired, "bucket_key_enabled"))
        .build();
    let configuration = s3::ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| s3_error("PutBucketEncryption", e))?;
    aws.send(
        "PutBucketEncryption",
        || {
            aws.s3()
                .put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(configuration.clone())
                .send()
        },
        |e| gone(e, ""),
    )
    .await?;
    Ok(())
}

fn object_list<'a>(map: &'a Map<String, Value>, key: &str) -> Vec<&'a Map<String, Value>> {
    map.get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

fn days(map: &Map<String, Value>, key: &str) -> Option<i32> {
    int(map, key).and_then(|d| i32::try_from(d).ok())
}

fn lifecycle_rule(rule: &Map<String, Value>) -> Result<s3::LifecycleRule, AwsError> {
    let operation = "PutBucketLifecycleConfiguration";
    let transitions = object_list(rule, "transitions")
        .into_iter()
        .map(|t| {
            s3::Transition::builder()
                .set_days(days(t, "days"))
                .storage_class(s3::TransitionStorageClass::from(text(t, "storage_class")))
                .build()
        })
        .collect();
    let noncurrent = object_list(rule, "noncurrent_transitions")
        .into_iter()
        .map(|t| {
            s3::NoncurrentVersionTransition::builder()
                .set_noncurrent_days(days(t, "days"))
                .storage_class(s3::TransitionStorageClass::from(text(t, "storage_class")))
                .build()
        })
        .collect();
    let status = if flag(rule, "enabled") {
        s3::ExpirationStatus::Enabled
    } else {
        s3::ExpirationStatus::Disabled
    };
    s3::LifecycleRule::builder()
        .id(text(rule, "id"))
        .status(status)
        .filter(
            s3::LifecycleRuleFilter::builder()
                .prefix(text(rule, "prefix"))
                .build(),
        )
        .set_transitions(Some(transitions))
        .set_noncurrent_version_transitions(Some(noncurrent))
        .set_expiration(
            days(rule, "expiration_days")
                .map(|d| s3::LifecycleExpiration::builder().days(d).build()),
        )
        .set_noncurrent_version_expiration(days(rule, "noncurrent_expiration_days").map(|d| {
            s3::NoncurrentVersionExpiration::builder()
                .noncurrent_days(d)
                .build()
        }))
        .set_abort_incomplete_multipart_upload(days(rule, "abort_incomplete_upload_days").map(
            |d| {
                s3::AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(d)
                    .build()
            },
        ))
        .build()
        .map_err(|e| s3_error(operation, e))
}

async fn put_lifecycle(
    aws: &Aws,
    name: &str,
    desired: &Map<String, Value>,
    creating: bool,
) -> Result<(), AwsError> {
    let rules = object_list(desired, "lifecycle_rules");
    let s3 = aws.s3();
    if rules.is_empty() {
        if !creating {
            aws.send(
                "DeleteBucketLifecycle",
                || s3.delete_bucket_lifecycle().bucket(name).send(),
                |e| gone(e, ""),
            )
            .await?;
        }
        return Ok(());
    }
    let rules = rules
        .into_iter()
        .map(lifecycle_rule)
        .collect::<Result<Vec<_>, _>>()?;
    let configuration = s3::BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| s3_error("PutBucketLifecycleConfiguration", e))?;
    aws.send(
        "PutBucketLifecycleConfiguration",
        || {
            s3.put_bucket_lifecycle_configuration()
                .bucket(name)
                .lifecycle_configuration(configuration.clone())
                .send()
        },
        |e| gone(e, ""),
    )
    .await?;
    Ok(())
}

async fn read_lifecycle(aws: &Aws, name: &str) -> Result<Value, AwsError> {
    let found = present(
        aws.send(
            "GetBucketLifecycleConfiguration",
            || {
                aws.s3()
                    .get_bucket_lifecycle_configuration()
                    .bucket(name)
                    .send()
            },
            |e| gone(e, "NoSuchLifecycleConfiguration"),
        )
        .await,
    )?;
    let rules = found.iter().flat_map(|f| f.rules()).map(|rule| {
        let transitions: Vec<Value> = rule
            .transitions()
            .iter()
            .map(|t| json!({"days": t.days(), "storage_class": t.storage_class().map(|s| s.as_str())}))
            .collect();
        let noncurrent: Vec<Value> = rule
            .noncurrent_version_transitions()
            .iter()
            .map(|t| json!({"days": t.noncurrent_days(), "storage_class": t.storage_class().map(|s| s.as_str())}))
            .collect();
        #[allow(deprecated)]
        let prefix = rule
            .filter()
            .and_then(|f| f.prefix())
            .or(rule.prefix())
            .unwrap_or("");
        json!({
            "id": rule.id().unwrap_or_default(),
            "enabled": rule.status() == &s3::ExpirationStatus::Enabled,
            "prefix": prefix,
            "transitions": transitions,
            "expiration_days": rule.expiration().and_then(|e| e.days()),
            "noncurrent_transitions": noncurrent,
            "noncurrent_expiration_days": rule.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()),
            "abort_incomplete_upload_days": rule.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()),
        })
    });
    Ok(Value::Array(rules.collect()))
}

async fn put_cors(
    aws: &Aws,
    name: &str,
    desired: &Map<String, Value>,
    creating: bool,
) -> Result<(), AwsError> {
    let rules = object_list(desired, "cors_rules");
    let s3 = aws.s3();
    if rules.is_empty() {
        if !creating {
            aws.send(
                "DeleteBucketCors",
                || s3.delete_bucket_cors().bucket(name).send(),
                |e| gone(e, ""),
            )
            .await?;
        }
        return Ok(());
    }
    let mut cors = Vec::new();
    for rule in rules {
        let list = |key: &str| Some(crate::aws::strings(rule, key));
        cors.push(
            s3::CorsRule::builder()
                .set_allowed_methods(list("allowed_methods"))
                .set_allowed_origins(list("allowed_origins"))
                .set_allowed_headers(list("allowed_headers"))
                .set_expose_headers(list("expose_headers"))
                .set_max_age_seconds(days(rule, "max_age_seconds"))
                .build()
                .map_err(|e| s3_error("PutBucketCors", e))?,
        );
    }
    let configuration = s3::CorsConfiguration::builder()
        .set_cors_rules(Some(cors))
        .build()
        .map_err(|e| s3_error("PutBucketCors", e))?;
    aws.send(
        "PutBucketCors",
        || {
            s3.put_bucket_cors()
                .bucket(name)
                .cors_configuration(configuration.clone())
                .send()
        },
        |e| gone(e, ""),
    )
    .await?;
    Ok(())
}

async fn read_cors(aws: &Aws, name: &str) -> Result<Value, AwsError> {
    let found = present(
        aws.send(
            "GetBucketCors",
            || aws.s3().get_bucket_cors().bucket(name).send(),
            |e| gone(e, "NoSuchCORSConfiguration"),
        )
        .await,
    )?;
    let rules = found.iter().flat_map(|f| f.cors_rules()).map(|rule| {
        json!({
            "allowed_methods": rule.allowed_methods(),
            "allowed_origins": rule.allowed_origins(),
            "allowed_headers": rule.allowed_headers(),
            "expose_headers": rule.expose_headers(),
            "max_age_seconds": rule.max_age_seconds(),
        })
    });
    Ok(Value::Array(rules.collect()))
}

impl Resource for Bucket {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_bucket(aws, id).await
    }

    /// Bucket names are global: a repeat after a lost answer finds the
    /// bucket made (S3 answers success in us-east-1, "already owned by
    /// you" elsewhere), which is claimed if no other stack's tags say
    /// otherwise; someone else's bucket of that name is `AlreadyExists`.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let location = (aws.region != "us-east-1").then(|| {
            s3::CreateBucketConfiguration::builder()
                .location_constraint(s3::BucketLocationConstraint::from(aws.region.as_str()))
                .build()
        });
        let made = aws
            .send(
                "CreateBucket",
                || {
                    aws.s3()
                        .create_bucket()
                        .bucket(name)
                        .set_create_bucket_configuration(location.clone())
                        .send()
                },
                |e| {
                    (e.is_bucket_already_exists() || e.is_bucket_already_owned_by_you())
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await;
        match made {
            Ok(_) => {}
            // Ours if we can read its tags and no other stack's are there.
            Err(error) if error.class == ErrorClass::AlreadyExists => {
                if read_tags(aws, name).await.is_err() {
                    return Err(error);
                }
            }
            Err(error) => return Err(error),
        }
        self.claim(aws, name, desired).await?;
        self.put_settings(aws, name, desired, None).await?;
        read_back(
            self.read_bucket(aws, name).await,
            After::Create,
            "HeadBucket",
            "bucket not visible after create",
        )
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        self.put_settings(aws, id, after, Some(fields)).await?;
        read_back(
            self.read_bucket(aws, id).await,
            After::Update,
            "HeadBucket",
            "bucket disappeared",
        )
    }

    /// With `force_destroy`, every object version goes first. Without it,
    /// a bucket that still holds objects is refused by S3 (`BucketNotEmpty`),
    /// an error of its own class that says what to do.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        if flag(before, "force_destroy") {
            self.empty(aws, id).await?;
        }
        let deleted = aws
            .send(
                "DeleteBucket",
                || aws.s3().delete_bucket().bucket(id).send(),
                |e| {
                    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
                    match e.code() {
                        Some("BucketNotEmpty") => Some(ErrorClass::NotEmpty),
                        _ => gone(e, ""),
                    }
                },
            )
            .await;
        match deleted {
            Err(error) if error.class == ErrorClass::NotEmpty => Err(AwsError::new(
                ErrorClass::NotEmpty,
                error.operation,
                format!("bucket `{id}` still holds objects, so S3 will not delete it; set `force_destroy: true` on it in the stack and run this again (the delete then takes every object version first), or empty it yourself"),
            )),
            other => crate::aws::ignore_missing(other),
        }
    }
}

/// Terraform's view: `aws_s3_bucket` and, as provider 5.x writes them,
/// its settings as resources of their own (a setting left at what a new
/// bucket has anyway is left out where Terraform users leave it out).
fn terraform(a: &Map<String, Value>) -> Vec<super::super::terraform::Tf> {
    use super::super::terraform::prelude::*;
    let bucket = v(a, "name");
    let mut out = vec![tf(
        "aws_s3_bucket",
        tagged(
            a,
            json!({
                "bucket": bucket, "arn": v(a, "arn"), "force_destroy": v(a, "force_destroy"),
                "bucket_regional_domain_name": v(a, "regional_domain_name"),
            }),
        ),
    )];
    if a.is_empty() {
        return out;
    }
    if a.get("versioning") == Some(&Value::Bool(true)) {
        out.push(tf(
            "aws_s3_bucket_versioning",
            json!({"bucket": bucket, "versioning_configuration": block(json!({"status": "Enabled"}))}),
        ));
    }
    out.push(tf(
        "aws_s3_bucket_server_side_encryption_configuration",
        json!({"bucket": bucket, "rule": block(json!({
            "apply_server_side_encryption_by_default": block(json!({
                "sse_algorithm": v(a, "encryption"), "kms_master_key_id": opt(a, "kms_key_arn"),
            })),
            "bucket_key_enabled": v(a, "bucket_key_enabled"),
        }))}),
    ));
    out.push(tf(
        "aws_s3_bucket_public_access_block",
        json!({
            "bucket": bucket, "block_public_acls": v(a, "block_public_acls"),
            "block_public_policy": v(a, "block_public_policy"),
            "ignore_public_acls": v(a, "ignore_public_acls"),
            "restrict_public_buckets": v(a, "restrict_public_buckets"),
        }),
    ));
    out.push(tf(
        "aws_s3_bucket_ownership_controls",
        json!({"bucket": bucket, "rule": block(json!({"object_ownership": v(a, "object_ownership")}))}),
    ));
    if a.get("policy").is_some_and(|p| !p.is_null()) {
        out.push(tf(
            "aws_s3_bucket_policy",
            json!({"bucket": bucket, "policy": json_string(&v(a, "policy"))}),
        ));
    }
    if let Some(Value::Array(rules)) = a.get("lifecycle_rules").filter(|r| r != &&json!([])) {
        let rules: Vec<Value> = rules.iter().map(terraform_lifecycle_rule).collect();
        out.push(tf(
            "aws_s3_bucket_lifecycle_configuration",
            json!({"bucket": bucket, "rule": rules}),
        ));
    }
    if let Some(Value::Array(rules)) = a.get("cors_rules").filter(|r| r != &&json!([])) {
        out.push(tf(
            "aws_s3_bucket_cors_configuration",
            json!({"bucket": bucket, "cors_rule": rules}),
        ));
    }
    // Each setting names its bucket as Terraform users write it:
    // `bucket = aws_s3_bucket.NAME.id`.
    let main = out.remove(0);
    std::iter::once(main)
        .chain(out.into_iter().map(|part| part.part_of("bucket", "id")))
        .collect()
}

fn terraform_lifecycle_rule(rule: &Value) -> Value {
    let transitions = |key: &str, days: &str| -> Value {
        rule.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| json!({days: t.get("days"), "storage_class": t.get("storage_class")}))
            .collect()
    };
    let single = |key: &str, name: &str| -> Value {
        match rule.get(key).filter(|d| !d.is_null()) {
            Some(days) => json!([{name: days}]),
            None => json!([]),
        }
    };
    json!({
        "id": rule.get("id"),
        "status": if rule.get("enabled") == Some(&Value::Bool(false)) { "Disabled" } else { "Enabled" },
        "filter": [{"prefix": rule.get("prefix")}],
        "transition": transitions("transitions", "days"),
        "noncurrent_version_transition": transitions("noncurrent_transitions", "noncurrent_days"),
        "expiration": single("expiration_days", "days"),
        "noncurrent_version_expiration": single("noncurrent_expiration_days", "noncurrent_days"),
        "abort_incomplete_multipart_upload": single("abort_incomplete_upload_days", "days_after_initiation"),
    })
}

/// A bucket in a Terraform state: its name, unless it holds what cairn
/// does not describe (then it is left out of an import, with its parts).
/// Terraform's provider 3 keeps the settings inline; from 4 on they are
/// resources of their own, checked by `part_not_described`.
fn import_bucket(attributes: &Map<String, Value>) -> Result<String, String> {
    let locked = attributes.get("object_lock_enabled") == Some(&Value::Bool(true))
        || attributes
            .get("object_lock_configuration")
            .is_some_and(|c| c.as_array().is_some_and(|c| !c.is_empty()));
    if locked {
        return Err("the bucket has object lock, which cairn does not describe yet".into());
    }
    if let Some(why) = attributes
        .get("lifecycle_rule")
        .and_then(lifecycle_not_described)
    {
        return Err(format!(
            "its lifecycle rules have {why}, which cairn does not describe yet"
        ));
    }
    crate::types::terraform::attribute(attributes, "bucket")
}

/// What a Terraform part of a bucket holds that cairn's bucket cannot say,
/// so that importing it would drop it at the next change.
fn part_not_described(tf_type: &str, attributes: &Map<String, Value>) -> Option<String> {
    let first = |key: &str| {
        attributes
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned()
            .unwrap_or(Value::Null)
    };
    match tf_type {
        "aws_s3_bucket_lifecycle_configuration" => {
            attributes.get("rule").and_then(lifecycle_not_described)
        }
        "aws_s3_bucket_versioning" => {
            let configuration = first("versioning_configuration");
            (configuration["mfa_delete"] == "Enabled").then(|| "MFA delete".to_owned())
        }
        "aws_s3_bucket_server_side_encryption_configuration" => {
            let rule = first("rule");
            let default = &rule["apply_server_side_encryption_by_default"][0];
            (default["sse_algorithm"] == "aws:kms:dsse")
                .then(|| "dual-layer (DSSE) encryption".to_owned())
        }
        "aws_s3_bucket_object_lock_configuration" => Some("object lock".to_owned()),
        _ => None,
    }
}

/// In lifecycle rules as Terraform's state holds them (inline or in their
/// resource), the first condition cairn's rules cannot say: filters by tag
/// or size, dates, delete-marker expiry, a count of newer versions.
fn lifecycle_not_described(rules: &Value) -> Option<String> {
    const NOT_DESCRIBED: [(&str, &str); 8] = [
        ("and", "filters combining conditions"),
        ("tag", "filters by tag"),
        ("tags", "filters by tag"),
        ("object_size_greater_than", "filters by object size"),
        ("object_size_less_than", "filters by object size"),
        ("date", "dates"),
        ("expired_object_delete_marker", "expiry of delete markers"),
        (
            "newer_noncurrent_versions",
            "a count of newer versions to keep",
        ),
    ];
    fn set(value: &Value) -> bool {
        match value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty() && s != "0",
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }
    match rules {
        Value::Array(items) => items.iter().find_map(lifecycle_not_described),
        Value::Object(map) => {
            map.iter().find_map(
                |(key, value)| match NOT_DESCRIBED.iter().find(|(k, _)| k == key) {
                    Some((_, what)) if set(value) => Some((*what).to_owned()),
                    _ => lifecycle_not_described(value),
                },
            )
        }
        _ => None,
    }
}

/// The settings Terraform writes as resources of their own. A policy is
/// imported as an `s3_bucket_policy` (its main type).
const SETTINGS: &[&str] = &[
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_cors_configuration",
];

pub static SPEC: Spec = Spec {
    schema: &S3_BUCKET,
    planned_id: crate::spec::by_name,
    id_from_arn: |arn| {
        arn.split_once(":s3:::")
            .map(|(_, rest)| rest)
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_owned)
    },
    arn_example: ("arn:aws:s3:::site-frontend", Some("site-frontend")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::spec::terraform::Mapping {
        types: &[
            "aws_s3_bucket",
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_cors_configuration",
        ],
        map: terraform,
        import: import_bucket,
        parts: Parts {
            taken_over: SETTINGS,
            // What cairn does not describe of a bucket yet: S3 deletes it
            // with the bucket, and Terraform keeps managing it meanwhile.
            dies_with: &[
                "aws_s3_bucket_acl",
                "aws_s3_bucket_website_configuration",
                "aws_s3_bucket_logging",
                "aws_s3_bucket_notification",
                "aws_s3_bucket_accelerate_configuration",
                "aws_s3_bucket_request_payment_configuration",
                "aws_s3_bucket_replication_configuration",
                "aws_s3_bucket_analytics_configuration",
                "aws_s3_bucket_intelligent_tiering_configuration",
                "aws_s3_bucket_inventory",
                "aws_s3_bucket_metric",
                "aws_s3_bucket_object_lock_configuration",
                "aws_s3_object",
            ],
            not_described: part_not_described,
            held_apart: &[("aws_s3_bucket_policy", "policy")],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Bucket,
    unmanaged: Unmanaged::TaggingApi,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(rule: Value) -> Vec<String> {
        lifecycle_problems("lifecycle_rules.0", rule.as_object().unwrap())
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn lifecycle_rules_follow_s3s_order_of_classes() {
        let fine = json!({"transitions": [
            {"days": 30, "storage_class": "STANDARD_IA"},
            {"days": 60, "storage_class": "GLACIER"},
            {"days": 180, "storage_class": "DEEP_ARCHIVE"}],
            "expiration_days": 365});
        assert_eq!(problems(fine), Vec::<String>::new());
        let early = problems(json!({"transitions": [{"days": 10, "storage_class": "ONEZONE_IA"}]}));
        assert!(early[0].contains("at least 30 days"), "{early:?}");
        let upward = problems(json!({"transitions": [
            {"days": 30, "storage_class": "GLACIER"},
            {"days": 90, "storage_class": "STANDARD_IA"}]}));
        assert!(upward[0].contains("only down the order"), "{upward:?}");
        let soon = problems(json!({"transitions": [
            {"days": 30, "storage_class": "STANDARD_IA"},
            {"days": 45, "storage_class": "GLACIER"}]}));
        assert!(soon[0].contains("day 60 or later"), "{soon:?}");
        let expiring = problems(
            json!({"transitions": [{"days": 90, "storage_class": "GLACIER"}], "expiration_days": 90}),
        );
        assert!(
            expiring[0].contains("must come after the last transition"),
            "{expiring:?}"
        );
        let twice = problems(json!({"noncurrent_transitions": [
            {"days": 1, "storage_class": "GLACIER"},
            {"days": 5, "storage_class": "GLACIER"}]}));
        assert!(twice[0].contains("two transitions to GLACIER"), "{twice:?}");
        let idle = problems(json!({"transitions": []}));
        assert!(idle[0].contains("needs an action"), "{idle:?}");
    }
}
