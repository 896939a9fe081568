//! A subscription to an SNS topic: email, Lambda, SQS or HTTPS.

use super::{read_back, After, Resource, ResourceType, Unmanaged};
use crate::aws::{changed, present, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use serde_json::{json, Map, Value};

pub static SNS_SUBSCRIPTION: Schema = Schema {
    type_name: "sns_subscription",
    description: "Subscription of an email address, function, queue or URL to an SNS topic",
    fields: &[
        Field::new("topic_arn", K::Str)
            .required()
            .force_new()
            .check(c::arn),
        Field::new("protocol", K::Str)
            .required()
            .force_new()
            .one_of(PROTOCOLS, "protocol"),
        Field::new("endpoint", K::Str).required().force_new(),
        Field::new("raw_message_delivery", K::Bool).or(F::Bool(false)),
        // Absent: every message is delivered.
        Field::new("filter_policy", K::Json),
    ],
    outputs: &["arn"],
    taggable: false,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: validate_subscription,
};

const PROTOCOLS: &[&str] = &[
    "email",
    "email-json",
    "lambda",
    "sqs",
    "https",
    "http",
    "sms",
    "firehose",
    "application",
];

/// What SNS refuses: raw delivery where there is no envelope to drop.
fn validate_subscription(properties: &Map<String, Value>) -> Vec<Problem> {
    let protocol = properties
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("");
    let raw = properties
        .get("raw_message_delivery")
        .and_then(Value::as_bool)
        == Some(true);
    if raw && !["sqs", "http", "https", "firehose"].contains(&protocol) {
        return vec![Problem::new(
            "raw_message_delivery",
            format!("raw message delivery is for sqs, http, https and firehose subscriptions, not {protocol}"),
        )];
    }
    Vec::new()
}

pub struct Subscription;

fn not_found(
    e: &aws_sdk_sns::operation::get_subscription_attributes::GetSubscriptionAttributesError,
) -> Option<ErrorClass> {
    crate::aws::missing(e.is_not_found_exception())
}

impl Subscription {
    async fn read_subscription(&self, aws: &Aws, arn: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "GetSubscriptionAttributes",
                || {
                    aws.sns()
                        .get_subscription_attributes()
                        .subscription_arn(arn)
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
        let mut observed = Map::new();
        observed.insert("topic_arn".into(), json!(get("TopicArn")));
        observed.insert("protocol".into(), json!(get("Protocol")));
        observed.insert("endpoint".into(), json!(get("Endpoint")));
        observed.insert(
            "raw_message_delivery".into(),
            json!(get("RawMessageDelivery") == "true"),
        );
        observed.insert(
            "filter_policy".into(),
            serde_json::from_str(&get("FilterPolicy")).unwrap_or(Value::Null),
        );
        Ok(Some(observation(arn, observed, [("arn", json!(arn))])))
    }

    async fn set_attribute(
        &self,
        aws: &Aws,
        arn: &str,
        name: &str,
        value: String,
    ) -> Result<(), AwsError> {
        aws.send(
            "SetSubscriptionAttributes",
            || {
                aws.sns()
                    .set_subscription_attributes()
                    .subscription_arn(arn)
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

impl Resource for Subscription {
    fn finds_by_properties(&self) -> bool {
        true
    }

    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_subscription(aws, id).await
    }

    /// A subscription has no tags: it is the one on its topic with its
    /// protocol and endpoint.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let topic = text(desired, "topic_arn");
        let mut pages = aws.pages(
            "ListSubscriptionsByTopic",
            |token| {
                aws.sns()
                    .list_subscriptions_by_topic()
                    .topic_arn(topic)
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token(),
            |e| crate::aws::missing(e.is_not_found_exception()),
        );
        while let Some(page) = present(pages.next_page().await)?.flatten() {
            for subscription in page.subscriptions() {
                if subscription.protocol() == Some(text(desired, "protocol"))
                    && subscription.endpoint() == Some(text(desired, "endpoint"))
                {
                    if let Some(arn) = subscription
                        .subscription_arn()
                        .filter(|a| a.starts_with("arn:"))
                    {
                        return self.read_subscription(aws, arn).await;
                    }
                }
            }
        }
        Ok(None)
    }

    /// Subscribe with the same topic, protocol and endpoint returns the
    /// existing subscription: a repeat after a lost answer is harmless.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let mut attributes = std::collections::HashMap::new();
        if crate::aws::flag(desired, "raw_message_delivery") {
            attributes.insert("RawMessageDelivery".to_owned(), "true".to_owned());
        }
        if let Some(policy) = desired.get("filter_policy").filter(|p| !p.is_null()) {
            attributes.insert("FilterPolicy".to_owned(), policy.to_string());
        }
        // A subscription lives inside its topic and carries no tags:
        // after a failure that may have followed success, the engine
        // looks for it (topic, protocol, endpoint) before sending again,
        // rather than trusting Subscribe's idempotence everywhere.
        let created = aws
            .send_create(
                "Subscribe",
                || {
                    aws.sns()
                        .subscribe()
                        .topic_arn(text(desired, "topic_arn"))
                        .protocol(text(desired, "protocol"))
                        .endpoint(text(desired, "endpoint"))
                        .set_attributes(Some(attributes.clone()))
                        // An email subscription awaiting confirmation
                        // still has an ARN to record.
                        .return_subscription_arn(true)
                        .send()
                },
                |_| None,
            )
            .await?;
        let arn = created.subscription_arn().unwrap_or_default().to_owned();
        read_back(
            self.read_subscription(aws, &arn).await,
            After::Create,
            "GetSubscriptionAttributes",
            "subscription not visible after create",
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
        if changed(fields, "raw_message_delivery") {
            let raw = crate::aws::flag(after, "raw_message_delivery");
            self.set_attribute(aws, id, "RawMessageDelivery", raw.to_string())
                .await?;
        }
        if changed(fields, "filter_policy") {
            if let Some(policy) = after.get("filter_policy").filter(|p| !p.is_null()) {
                self.set_attribute(aws, id, "FilterPolicy", policy.to_string())
                    .await?;
            }
        }
        read_back(
            self.read_subscription(aws, id).await,
            After::Update,
            "GetSubscriptionAttributes",
            "subscription disappeared",
        )
    }

    /// Unsubscribing what is already gone succeeds.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "Unsubscribe",
            || aws.sns().unsubscribe().subscription_arn(id).send(),
            |e| crate::aws::missing(e.is_not_found_exception()),
        )
        .await
    }
}

/// Terraform's view: `aws_sns_topic_subscription`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    vec![tf(
        "aws_sns_topic_subscription",
        json!({
            "arn": v(a, "arn"), "topic_arn": v(a, "topic_arn"), "protocol": v(a, "protocol"),
            "endpoint": v(a, "endpoint"), "raw_message_delivery": v(a, "raw_message_delivery"),
            "filter_policy": json_string(&v(a, "filter_policy")),
        }),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &SNS_SUBSCRIPTION,
    planned_id: super::assigned,
    // arn:aws:sns:REGION:ACCOUNT:TOPIC:SUBSCRIPTION-ID: the whole ARN.
    id_from_arn: |arn| Some(arn.to_owned()),
    arn_example: (
        "arn:aws:sns:us-east-1:1:alerts:0f1e",
        Some("arn:aws:sns:us-east-1:1:alerts:0f1e"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_sns_topic_subscription"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Subscription,
    unmanaged: Unmanaged::NotTaggable,
};
