//! An SNS topic: display name, KMS encryption, access policy, FIFO; what
//! alarms notify.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{changed, present, tags_value, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_sns::types::Tag;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub static SNS_TOPIC: Schema = Schema {
    type_name: "sns_topic",
    description: "SNS topic with optional KMS encryption and access policy",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(topic_name),
        Field::new("display_name", K::Str)
            .or(F::Str(""))
            .check(display_name),
        Field::new("kms_key_id", K::Str).or(F::Str("")),
        // Absent: AWS's default policy (the owner may publish), not compared.
        Field::new("policy", K::Policy),
        Field::new("fifo_topic", K::Bool)
            .or(F::Bool(false))
            .force_new(),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_topic,
};

fn topic_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if base.is_empty() || name.chars().count() > 256 {
        return Err(format!(
            "a topic name must be 1 to 256 characters long (`{name}`)"
        ));
    }
    match base
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(bad) => Err(format!(
            "a topic name `{name}` contains `{bad}`; allowed: letters, digits, - and _ (and a `.fifo` suffix)"
        )),
        None => Ok(()),
    }
}

fn display_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if name.chars().count() > 100 {
        return Err(format!(
            "a display name is at most 100 characters, got {}",
            name.chars().count()
        ));
    }
    Ok(())
}

fn validate_topic(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let name = properties.get("name").and_then(Value::as_str).unwrap_or("");
    let fifo = properties.get("fifo_topic").and_then(Value::as_bool) == Some(true);
    if !name.contains("${") && fifo != name.ends_with(".fifo") {
        problems.push(Problem::new(
            "name",
            "a FIFO topic's name ends in `.fifo`, and only a FIFO topic's does (set `fifo_topic` to match)",
        ));
    }
    if let Some(policy) = properties.get("policy").filter(|p| !p.is_null()) {
        problems.extend(crate::schema::policy::policy_problems(
            "policy",
            policy,
            crate::schema::policy::PolicyKind::Resource,
        ));
    }
    problems
}

pub struct Topic;

fn arn(aws: &Aws, name: &str) -> String {
    format!(
        "arn:{}:sns:{}:{}:{name}",
        aws.partition(),
        aws.region,
        aws.account()
    )
}

fn not_found(
    e: &aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesError,
) -> Option<ErrorClass> {
    crate::aws::missing(e.is_not_found_exception())
}

impl Topic {
    async fn read_topic(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let topic_arn = arn(aws, name);
        let found = aws
            .send(
                "GetTopicAttributes",
                || {
                    aws.sns()
                        .get_topic_attributes()
                        .topic_arn(&topic_arn)
                        .send()
                },
                not_found,
            )
            .await;
        let Some(attributes) = present(found)?.map(|output| output.attributes.unwrap_or_default())
        else {
            return Ok(None);
        };
        let get = |key: &str| attributes.get(key).cloned().unwrap_or_default();
        let tags = match aws.confirmed_tags(&topic_arn).await {
            Some(tags) => tags,
            None => {
                let listed = aws
                    .send(
                        "ListTagsForResource",
                        || {
                            aws.sns()
                                .list_tags_for_resource()
                                .resource_arn(&topic_arn)
                                .send()
                        },
                        |e| crate::aws::missing(e.is_resource_not_found_exception()),
                    )
                    .await?;
                tags_value(listed.tags().iter().map(|t| (t.key(), t.value())))
            }
        };
        let mut observed = Map::new();
        observed.insert("name".into(), json!(name));
        observed.insert("display_name".into(), json!(get("DisplayName")));
        observed.insert("kms_key_id".into(), json!(get("KmsMasterKeyId")));
        observed.insert(
            "policy".into(),
            serde_json::from_str(&get("Policy")).unwrap_or(Value::Null),
        );
        observed.insert("fifo_topic".into(), json!(get("FifoTopic") == "true"));
        observed.insert("tags".into(), tags);
        Ok(Some(observation(
            name,
            observed,
            [("arn", json!(topic_arn))],
        )))
    }

    async fn set_attribute(
        &self,
        aws: &Aws,
        topic_arn: &str,
        name: &str,
        value: String,
    ) -> Result<(), AwsError> {
        aws.send(
            "SetTopicAttributes",
            || {
                aws.sns()
                    .set_topic_attributes()
                    .topic_arn(topic_arn)
                    .attribute_name(name)
                    .attribute_value(&value)
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

fn sns_tags(tags: &std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect()
}

fn policy_text(desired: &Map<String, Value>) -> Option<String> {
    desired
        .get("policy")
        .filter(|p| !p.is_null())
        .map(crate::aws::policy_text)
}

impl Tagging for Topic {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags = sns_tags(set);
        aws.send(
            "TagResource",
            || {
                aws.sns()
                    .tag_resource()
                    .resource_arn(target)
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
                aws.sns()
                    .untag_resource()
                    .resource_arn(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

impl Resource for Topic {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_topic(aws, id).await
    }

    /// CreateTopic with the same name and attributes returns the existing
    /// topic: a repeat after a lost answer is harmless.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let mut attributes = std::collections::HashMap::new();
        for (key, field) in [
            ("DisplayName", "display_name"),
            ("KmsMasterKeyId", "kms_key_id"),
        ] {
            let value = text(desired, field);
            if !value.is_empty() {
                attributes.insert(key.to_owned(), value.to_owned());
            }
        }
        if let Some(policy) = policy_text(desired) {
            attributes.insert("Policy".to_owned(), policy);
        }
        if crate::aws::flag(desired, "fifo_topic") {
            attributes.insert("FifoTopic".to_owned(), "true".to_owned());
        }
        let tags = sns_tags(&crate::aws::string_map(desired, "tags"));
        aws.send(
            "CreateTopic",
            || {
                aws.sns()
                    .create_topic()
                    .name(name)
                    .set_attributes(Some(attributes.clone()))
                    .set_tags(Some(tags.clone()))
                    .send()
            },
            |_| None,
        )
        .await?;
        read_back(
            self.read_topic(aws, name).await,
            After::Create,
            "GetTopicAttributes",
            "topic not visible after create",
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
        let topic_arn = arn(aws, id);
        for (key, field) in [
            ("DisplayName", "display_name"),
            ("KmsMasterKeyId", "kms_key_id"),
        ] {
            if changed(fields, field) {
                self.set_attribute(aws, &topic_arn, key, text(after, field).to_owned())
                    .await?;
            }
        }
        if changed(fields, "policy") {
            if let Some(policy) = policy_text(after) {
                self.set_attribute(aws, &topic_arn, "Policy", policy)
                    .await?;
            }
        }
        if changed(fields, "tags") {
            self.retag(aws, &topic_arn, before, after).await?;
        }
        read_back(
            self.read_topic(aws, id).await,
            After::Update,
            "GetTopicAttributes",
            "topic disappeared",
        )
    }

    /// DeleteTopic of a topic already gone succeeds.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let topic_arn = arn(aws, id);
        aws.send_delete(
            "DeleteTopic",
            || aws.sns().delete_topic().topic_arn(&topic_arn).send(),
            |e| crate::aws::missing(e.is_not_found_exception()),
        )
        .await
    }
}

/// Terraform's view: `aws_sns_topic`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    vec![tf(
        "aws_sns_topic",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "name": v(a, "name"), "display_name": opt(a, "display_name"),
                "kms_master_key_id": opt(a, "kms_key_id"), "policy": json_string(&v(a, "policy")),
                "fifo_topic": v(a, "fifo_topic"),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &SNS_TOPIC,
    planned_id: super::by_name,
    id_from_arn: |arn| arn.rsplit(':').next().map(str::to_owned),
    arn_example: ("arn:aws:sns:us-east-1:1:alerts", Some("alerts")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_sns_topic"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
        parts: Parts {
            taken_over: &["aws_sns_topic_policy"],
            dies_with: &[],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Topic,
    unmanaged: Unmanaged::TaggingApi,
};
