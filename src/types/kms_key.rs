//! A KMS key: usage, spec, policy, rotation, deletion window.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{
    changed, flag, ignore_missing, int, missing, policy_text, present, tags_value, text, Aws,
    AwsError,
};
use crate::canonical;
use crate::model::Observed;
use crate::model::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use crate::schema::checks as c;
use crate::schema::policy::{policy_problems, PolicyKind};
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::Spec;
use crate::types::observation;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub static KMS_KEY: Schema = Schema {
    type_name: "kms_key",
    description: "KMS key; destroy schedules deletion after the window",
    fields: &[
        Field::new("description", K::Str)
            .or(F::Str(""))
            .check(key_description),
        Field::new("key_usage", K::Str)
            .or(F::Str("ENCRYPT_DECRYPT"))
            .force_new()
            .check(key_usage),
        Field::new("key_spec", K::Str)
            .or(F::Str("SYMMETRIC_DEFAULT"))
            .force_new()
            .check(key_spec),
        Field::new("enable_key_rotation", K::Bool).or(F::Bool(true)),
        Field::new("deletion_window_in_days", K::Int)
            .or(F::Int(30))
            .check(deletion_window)
            .at_delete(),
        Field::new("key_policy", K::Policy),
        TAGS,
    ],
    outputs: &["arn", "key_id"],
    taggable: true,
    naming: Naming::None,
    stateful: true,
    expand: no_expansion,
    validate: validate_key,
};

fn deletion_window(value: &Value) -> Result<(), String> {
    c::int_range(value, 7, 30, "deletion_window_in_days")
}

fn key_usage(value: &Value) -> Result<(), String> {
    c::one_of(
        value,
        &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC"],
        "key_usage",
    )
}

fn key_spec(value: &Value) -> Result<(), String> {
    c::one_of(
        value,
        &[
            "SYMMETRIC_DEFAULT",
            "RSA_2048",
            "RSA_3072",
            "RSA_4096",
            "ECC_NIST_P256",
            "ECC_NIST_P384",
            "HMAC_256",
        ],
        "key_spec",
    )
}

fn key_description(value: &Value) -> Result<(), String> {
    c::length(c::text(value)?, 0, 8192, "a key description")
}

fn validate_key(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(policy) = properties.get("key_policy") {
        problems.extend(policy_problems("key_policy", policy, PolicyKind::Resource));
    }
    let symmetric = properties.get("key_spec").and_then(Value::as_str) == Some("SYMMETRIC_DEFAULT");
    if !symmetric && properties.get("enable_key_rotation") == Some(&Value::Bool(true)) {
        problems.push(Problem::new(
            "enable_key_rotation",
            "automatic rotation exists only for symmetric keys",
        ));
    }
    problems
}

pub struct Key;

fn kms_tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .expect("set")
}

impl Key {
    async fn read_key(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let Some(described) = present(
            aws.send(
                "DescribeKey",
                || aws.kms().describe_key().key_id(id).send(),
                |e: &aws_sdk_kms::operation::describe_key::DescribeKeyError| {
                    missing(e.is_not_found_exception())
                },
            )
            .await,
        )?
        else {
            return Ok(None);
        };
        let Some(metadata) = described.key_metadata else {
            return Ok(None);
        };
        // A key scheduled for deletion is gone as far as the stack goes.
        if matches!(
            metadata.key_state(),
            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)
        ) {
            return Ok(None);
        }
        let key_id = metadata.key_id().to_owned();
        let rotation = aws
            .send(
                "GetKeyRotationStatus",
                || aws.kms().get_key_rotation_status().key_id(&key_id).send(),
                |_| None,
            )
            .await?;
        let policy = aws
            .send(
                "GetKeyPolicy",
                || {
                    aws.kms()
                        .get_key_policy()
                        .key_id(&key_id)
                        .policy_name("default")
                        .send()
                },
                |_| None,
            )
            .await?;
        let tags = match aws.confirmed_tags(metadata.arn().unwrap_or_default()).await {
            Some(tags) => tags,
            None => {
                let tags = aws
                    .send(
                        "ListResourceTags",
                        || aws.kms().list_resource_tags().key_id(&key_id).send(),
                        |_| None,
                    )
                    .await?;
                tags_value(tags.tags().iter().map(|t| (t.tag_key(), t.tag_value())))
            }
        };
        let mut attributes = Map::new();
        attributes.insert(
            "description".into(),
            Value::String(metadata.description().unwrap_or_default().to_owned()),
        );
        attributes.insert(
            "key_usage".into(),
            Value::String(
                metadata
                    .key_usage()
                    .map_or("ENCRYPT_DECRYPT", |u| u.as_str())
                    .to_owned(),
            ),
        );
        attributes.insert(
            "key_spec".into(),
            Value::String(
                metadata
                    .key_spec()
                    .map_or("SYMMETRIC_DEFAULT", |s| s.as_str())
                    .to_owned(),
            ),
        );
        attributes.insert(
            "enable_key_rotation".into(),
            Value::Bool(rotation.key_rotation_enabled()),
        );
        attributes.insert(
            "key_policy".into(),
            policy.policy().map_or(Value::Null, |p| {
                canonical::policy(&Value::String(p.to_owned()))
            }),
        );
        attributes.insert("tags".into(), tags);
        Ok(Some(observation(
            key_id.clone(),
            attributes,
            [
                (
                    "arn",
                    Value::String(metadata.arn().unwrap_or_default().to_owned()),
                ),
                ("key_id", Value::String(key_id)),
            ],
        )))
    }

    async fn set_rotation(&self, aws: &Aws, id: &str, enabled: bool) -> Result<(), AwsError> {
        if enabled {
            aws.send(
                "EnableKeyRotation",
                || aws.kms().enable_key_rotation().key_id(id).send(),
                |_| None,
            )
            .await?;
        } else {
            aws.send(
                "DisableKeyRotation",
                || aws.kms().disable_key_rotation().key_id(id).send(),
                |_| None,
            )
            .await?;
        }
        Ok(())
    }
}

impl Tagging for Key {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags: Vec<Tag> = set.iter().map(|(k, v)| kms_tag(k, v)).collect();
        aws.send(
            "TagResource",
            || {
                aws.kms()
                    .tag_resource()
                    .key_id(target)
                    .set_tags(Some(tags.clone()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        aws.send(
            "UntagResource",
            || {
                aws.kms()
                    .untag_resource()
                    .key_id(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

impl Resource for Key {
    /// A deleted key lingers, tags and all, for its waiting period: it is
    /// gone as far as the stack is concerned.
    async fn lingers(&self, aws: &Aws, arn: &str) -> Result<bool, AwsError> {
        if !(arn.contains(":kms:") && arn.contains(":key/")) {
            return Ok(false);
        }
        let key = (SPEC.id_from_arn)(crate::aws::normalize_arn(arn))
            .unwrap_or_else(|| crate::aws::normalize_arn(arn).to_owned());
        let described = aws
            .send(
                "DescribeKey",
                || aws.kms().describe_key().key_id(&key).send(),
                |e| missing(e.is_not_found_exception()),
            )
            .await;
        match described {
            Ok(d) => {
                let state = d.key_metadata().and_then(|m| m.key_state()).cloned();
                Ok(state == Some(KeyState::PendingDeletion))
            }
            Err(e) if e.is_not_found() => Ok(true),
            Err(e) => Err(e),
        }
    }

    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_key(aws, id).await
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let tags = crate::aws::string_map(desired, "tags");
        let wanted: Vec<(&str, &str)> = [TAG_STACK, TAG_ENVIRONMENT, TAG_ADDRESS]
            .iter()
            .map(|k| (*k, tags.get(*k).map_or("", String::as_str)))
            .collect();
        let mut pages = aws.pages(
            "ListKeys",
            |marker| aws.kms().list_keys().set_marker(marker).send(),
            |page| page.next_marker().filter(|_| page.truncated()),
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            for entry in page.keys() {
                let Some(key_id) = entry.key_id() else {
                    continue;
                };
                let found = aws
                    .send(
                        "ListResourceTags",
                        || aws.kms().list_resource_tags().key_id(key_id).send(),
                        |_| None,
                    )
                    .await?;
                let matches = wanted.iter().all(|(k, v)| {
                    found
                        .tags()
                        .iter()
                        .any(|t| t.tag_key() == *k && t.tag_value() == *v)
                });
                if matches {
                    if let Some(observed) = self.read_key(aws, key_id).await? {
                        return Ok(Some(observed));
                    }
                }
            }
        }
        Ok(None)
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let tags: Vec<Tag> = crate::aws::string_map(desired, "tags")
            .iter()
            .map(|(k, v)| kms_tag(k, v))
            .collect();
        let policy = desired
            .get("key_policy")
            .filter(|p| !p.is_null())
            .map(policy_text);
        let created = aws
            .send_create(
                "CreateKey",
                || {
                    aws.kms()
                        .create_key()
                        .description(text(desired, "description"))
                        .key_usage(KeyUsageType::from(text(desired, "key_usage")))
                        .key_spec(KeySpec::from(text(desired, "key_spec")))
                        .set_policy(policy.clone())
                        .set_tags(Some(tags.clone()))
                        .send()
                },
                |_| None,
            )
            .await?;
        let key_id = created
            .key_metadata()
            .map(|m| m.key_id().to_owned())
            .unwrap_or_default();
        if flag(desired, "enable_key_rotation") {
            self.set_rotation(aws, &key_id, true).await?;
        }
        read_back(
            self.read_key(aws, &key_id).await,
            After::Create,
            "DescribeKey",
            "key not visible after create",
        )
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        if changed(fields, "description") {
            aws.send(
                "UpdateKeyDescription",
                || {
                    aws.kms()
                        .update_key_description()
                        .key_id(id)
                        .description(text(after, "description"))
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        if changed(fields, "enable_key_rotation") {
            self.set_rotation(aws, id, flag(after, "enable_key_rotation"))
                .await?;
        }
        if changed(fields, "key_policy") {
            let policy = policy_text(&after["key_policy"]);
            aws.send(
                "PutKeyPolicy",
                || {
                    aws.kms()
                        .put_key_policy()
                        .key_id(id)
                        .policy_name("default")
                        .policy(&policy)
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        if changed(fields, "tags") {
            self.retag(aws, id, before, after).await?;
        }
        read_back(
            self.read_key(aws, id).await,
            After::Update,
            "DescribeKey",
            "key disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let window = int(before, "deletion_window_in_days").unwrap_or(30) as i32;
        let result = aws
            .send(
                "ScheduleKeyDeletion",
                || {
                    aws.kms()
                        .schedule_key_deletion()
                        .key_id(id)
                        .pending_window_in_days(window)
                        .send()
                },
                |e: &aws_sdk_kms::operation::schedule_key_deletion::ScheduleKeyDeletionError| {
                    // Already pending deletion counts as deleted.
                    missing(e.is_not_found_exception() || e.is_kms_invalid_state_exception())
                },
            )
            .await;
        ignore_missing(result)
    }
}

/// Terraform's view: `aws_kms_key`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    vec![tf(
        "aws_kms_key",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "key_id": v(a, "key_id"), "description": opt(a, "description"),
                "key_usage": v(a, "key_usage"), "customer_master_key_spec": v(a, "key_spec"),
                "enable_key_rotation": v(a, "enable_key_rotation"),
                "deletion_window_in_days": v(a, "deletion_window_in_days"),
                "policy": json_string(&v(a, "key_policy")), "is_enabled": true, "multi_region": false,
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &KMS_KEY,
    planned_id: super::assigned,
    id_from_arn: |arn| super::after(arn, ":key/"),
    arn_example: ("arn:aws:kms:us-east-1:1:key/k-1", Some("k-1")),
    bulk_tagged: true,
    create_before_destroy: false,
    identity: None,
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_kms_key"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "id"),
        parts: Parts {
            taken_over: &["aws_kms_key_policy"],
            dies_with: &[],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Key,
    unmanaged: Unmanaged::TaggingApi,
};
