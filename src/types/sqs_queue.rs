//! An SQS queue, standard or FIFO: timeouts, retention, encryption (SQS's
//! own key or a KMS key), redrive to a dead-letter queue and who may
//! redrive to it, and its access policy.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{changed, flag, int, present, string_map, tags_value, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_sqs::types::QueueAttributeName as Attribute;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

const REDRIVE_POLICY: &[Field] = &[
    Field::new("dead_letter_target_arn", K::Str)
        .required()
        .check(c::arn),
    Field::new("max_receive_count", K::Int)
        .required()
        .check(max_receive_count),
];

const REDRIVE_ALLOW_POLICY: &[Field] = &[
    Field::new("permission", K::Str)
        .required()
        .one_of(&["allowAll", "denyAll", "byQueue"], "redrive permission"),
    Field::new("source_queue_arns", K::StrSet)
        .or(F::EmptyList)
        .check(c::each_arn),
];

/// AWS's defaults for a queue's numbers, as it reports them.
const VISIBILITY_TIMEOUT: i64 = 30;
const RETENTION: i64 = 345_600;
const MAX_MESSAGE_SIZE: i64 = 1_048_576;
const DATA_KEY_REUSE: i64 = 300;

pub static SQS_QUEUE: Schema = Schema {
    type_name: "sqs_queue",
    description: "SQS queue, standard or FIFO, encrypted, with redrive to a dead-letter queue and an access policy",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(queue_name),
        Field::new("fifo_queue", K::Bool)
            .or(F::Bool(false))
            .force_new(),
        // FIFO only; absent on a standard queue (not compared there).
        Field::new("content_based_deduplication", K::Bool),
        Field::new("deduplication_scope", K::Str)
            .one_of(&["queue", "messageGroup"], "deduplication scope"),
        Field::new("fifo_throughput_limit", K::Str)
            .one_of(&["perQueue", "perMessageGroupId"], "FIFO throughput limit"),
        Field::new("visibility_timeout_seconds", K::Int)
            .or(F::Int(VISIBILITY_TIMEOUT))
            .check(visibility_timeout),
        Field::new("message_retention_seconds", K::Int)
            .or(F::Int(RETENTION))
            .check(retention),
        Field::new("max_message_size", K::Int)
            .or(F::Int(MAX_MESSAGE_SIZE))
            .check(max_message_size),
        Field::new("delay_seconds", K::Int)
            .or(F::Int(0))
            .check(delay),
        Field::new("receive_wait_time_seconds", K::Int)
            .or(F::Int(0))
            .check(receive_wait),
        // Encrypted at rest: by SQS's own key (SSE-SQS) unless
        // `kms_master_key_id` names a KMS key (SSE-KMS).
        Field::new("encrypted", K::Bool).or(F::Bool(true)),
        Field::new("kms_master_key_id", K::Str).or(F::Str("")),
        Field::new("kms_data_key_reuse_period_seconds", K::Int)
            .or(F::Int(DATA_KEY_REUSE))
            .check(data_key_reuse),
        // `{}`: no dead-letter queue (so one added by hand is drift).
        Field::new("redrive_policy", K::Object(REDRIVE_POLICY)).or(F::EmptyMap),
        Field::new("redrive_allow_policy", K::Object(REDRIVE_ALLOW_POLICY)).or(F::EmptyMap),
        // `{}`: no access policy (only the owner's IAM policies apply).
        Field::new("policy", K::Policy).or(F::EmptyMap),
        TAGS,
    ],
    outputs: &["arn", "url"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: true,
    expand: fifo_defaults,
    validate: validate_queue,
};

/// 1 to 80 letters, digits, - and _, with `.fifo` at the end of a FIFO
/// queue's (counted in the 80).
fn queue_name(value: &Value) -> Result<(), String> {
    let name = c::text(value)?;
    c::length(name, 1, 80, "a queue name")?;
    c::charset(
        name.strip_suffix(".fifo").unwrap_or(name),
        |c| c.is_ascii_alphanumeric() || "-_".contains(c),
        "a queue name",
        "letters, digits, - and _ (and a `.fifo` suffix)",
    )
}

fn max_receive_count(value: &Value) -> Result<(), String> {
    c::int_range(value, 1, 1000, "max_receive_count")
}

fn visibility_timeout(value: &Value) -> Result<(), String> {
    c::int_range(value, 0, 43_200, "visibility_timeout_seconds")
}

fn retention(value: &Value) -> Result<(), String> {
    c::int_range(value, 60, 1_209_600, "message_retention_seconds")
}

fn max_message_size(value: &Value) -> Result<(), String> {
    c::int_range(value, 1024, 1_048_576, "max_message_size (bytes)")
}

fn delay(value: &Value) -> Result<(), String> {
    c::int_range(value, 0, 900, "delay_seconds")
}

fn receive_wait(value: &Value) -> Result<(), String> {
    c::int_range(value, 0, 20, "receive_wait_time_seconds")
}

fn data_key_reuse(value: &Value) -> Result<(), String> {
    c::int_range(value, 60, 86_400, "kms_data_key_reuse_period_seconds")
}

const FIFO_ONLY: &[&str] = &[
    "content_based_deduplication",
    "deduplication_scope",
    "fifo_throughput_limit",
];

/// A FIFO queue's settings AWS defaults, made explicit so a change by hand
/// is drift; a standard queue has none of them.
fn fifo_defaults(properties: &mut Map<String, Value>) {
    if properties.get("fifo_queue") != Some(&Value::Bool(true)) {
        return;
    }
    for (field, default) in [
        ("content_based_deduplication", json!(false)),
        ("deduplication_scope", json!("queue")),
        ("fifo_throughput_limit", json!("perQueue")),
    ] {
        if properties.get(field).is_none_or(Value::is_null) {
            properties.insert(field.into(), default);
        }
    }
}

/// A literal (not `${...}`) string value of `key` in `map`.
fn literal<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|text| !crate::model::expr::is_template(text))
}

fn validate_queue(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let fifo = properties.get("fifo_queue") == Some(&Value::Bool(true));
    if let Some(name) = literal(properties, "name") {
        if fifo != name.ends_with(".fifo") {
            problems.push(Problem::new(
                "name",
                format!("a FIFO queue's name ends in `.fifo`, and only a FIFO queue's does (`{name}`, fifo_queue: {fifo}); give `name` explicitly or set `fifo_queue` to match"),
            ));
        }
    }
    if !fifo {
        for field in FIFO_ONLY {
            if properties.get(*field).is_some_and(|v| !v.is_null()) {
                problems.push(Problem::new(
                    *field,
                    format!("`{field}` is for FIFO queues (fifo_queue: true)"),
                ));
            }
        }
    }
    if literal(properties, "fifo_throughput_limit") == Some("perMessageGroupId")
        && literal(properties, "deduplication_scope") != Some("messageGroup")
    {
        problems.push(Problem::new(
            "fifo_throughput_limit",
            "a throughput limit per message group needs `deduplication_scope: messageGroup` (AWS's high-throughput FIFO)",
        ));
    }
    let keyed = properties
        .get("kms_master_key_id")
        .and_then(Value::as_str)
        .is_some_and(|key| !key.is_empty());
    if keyed && properties.get("encrypted") == Some(&Value::Bool(false)) {
        problems.push(Problem::new(
            "encrypted",
            "a queue with a KMS key (`kms_master_key_id`) is encrypted; remove `encrypted: false` or the key",
        ));
    }
    if !keyed
        && properties
            .get("kms_data_key_reuse_period_seconds")
            .and_then(Value::as_i64)
            .is_some_and(|period| period != DATA_KEY_REUSE)
    {
        problems.push(Problem::new(
            "kms_data_key_reuse_period_seconds",
            "the data key reuse period applies to a KMS key: set `kms_master_key_id` too",
        ));
    }
    if let Some(Value::Object(redrive)) = properties.get("redrive_policy") {
        if !redrive.is_empty() {
            if let Some(target) = literal(redrive, "dead_letter_target_arn") {
                if target.ends_with(".fifo") != fifo {
                    let message = if fifo {
                        "a FIFO queue's dead-letter queue must be a FIFO queue too (its name ends in `.fifo`)"
                    } else {
                        "a standard queue's dead-letter queue must be a standard queue (not `.fifo`)"
                    };
                    problems.push(Problem::new(
                        "redrive_policy.dead_letter_target_arn",
                        message,
                    ));
                }
                if !target.contains(":sqs:") {
                    problems.push(Problem::new(
                        "redrive_policy.dead_letter_target_arn",
                        format!(
                            "a dead-letter queue is an SQS queue (arn:aws:sqs:...), got `{target}`"
                        ),
                    ));
                }
            }
        }
    }
    if let Some(Value::Object(allow)) = properties.get("redrive_allow_policy") {
        let sources = allow
            .get("source_queue_arns")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let by_queue = allow.get("permission").and_then(Value::as_str) == Some("byQueue");
        if by_queue && !(1..=10).contains(&sources) {
            problems.push(Problem::new(
                "redrive_allow_policy.source_queue_arns",
                format!("`byQueue` names 1 to 10 source queues, got {sources}"),
            ));
        }
        if !by_queue && sources > 0 {
            problems.push(Problem::new(
                "redrive_allow_policy.source_queue_arns",
                "source queues are named only with `permission: byQueue`",
            ));
        }
    }
    if let Some(policy) = properties
        .get("policy")
        .filter(|p| p.as_object().is_none_or(|p| !p.is_empty()))
    {
        problems.extend(crate::schema::policy::policy_problems(
            "policy",
            policy,
            crate::schema::policy::PolicyKind::Resource,
        ));
    }
    problems
}

pub struct Queue;

/// The attributes SQS takes for the stack's queue, as it reports them
/// back. On create, `FifoQueue` too (it cannot change).
fn queue_attributes(desired: &Map<String, Value>) -> HashMap<Attribute, String> {
    let mut out = HashMap::new();
    let number = |key: &str, default: i64| int(desired, key).unwrap_or(default).to_string();
    out.insert(
        Attribute::VisibilityTimeout,
        number("visibility_timeout_seconds", VISIBILITY_TIMEOUT),
    );
    out.insert(
        Attribute::MessageRetentionPeriod,
        number("message_retention_seconds", RETENTION),
    );
    out.insert(
        Attribute::MaximumMessageSize,
        number("max_message_size", MAX_MESSAGE_SIZE),
    );
    out.insert(Attribute::DelaySeconds, number("delay_seconds", 0));
    out.insert(
        Attribute::ReceiveMessageWaitTimeSeconds,
        number("receive_wait_time_seconds", 0),
    );
    out.extend(encryption(desired));
    out.insert(
        Attribute::RedrivePolicy,
        document_text(redrive_policy_document(desired)),
    );
    out.insert(
        Attribute::RedriveAllowPolicy,
        document_text(redrive_allow_policy_document(desired)),
    );
    out.insert(Attribute::Policy, document_text(policy_document(desired)));
    if flag(desired, "fifo_queue") {
        out.insert(
            Attribute::ContentBasedDeduplication,
            flag(desired, "content_based_deduplication").to_string(),
        );
        for (attribute, field) in [
            (Attribute::DeduplicationScope, "deduplication_scope"),
            (Attribute::FifoThroughputLimit, "fifo_throughput_limit"),
        ] {
            out.insert(attribute, text(desired, field).to_owned());
        }
    }
    out
}

fn encryption(desired: &Map<String, Value>) -> HashMap<Attribute, String> {
    let key = text(desired, "kms_master_key_id");
    let mut out = HashMap::new();
    if key.is_empty() {
        out.insert(
            Attribute::SqsManagedSseEnabled,
            flag(desired, "encrypted").to_string(),
        );
        // "" takes a KMS key off (a create leaves empty values out).
        out.insert(Attribute::KmsMasterKeyId, String::new());
    } else {
        out.insert(Attribute::KmsMasterKeyId, key.to_owned());
        out.insert(
            Attribute::KmsDataKeyReusePeriodSeconds,
            int(desired, "kms_data_key_reuse_period_seconds")
                .unwrap_or(DATA_KEY_REUSE)
                .to_string(),
        );
    }
    out
}

/// SQS's JSON for the redrive policy, `None` for none.
fn redrive_policy_document(desired: &Map<String, Value>) -> Option<Value> {
    let redrive = desired.get("redrive_policy")?.as_object()?;
    (!redrive.is_empty()).then(|| {
        json!({
            "deadLetterTargetArn": redrive.get("dead_letter_target_arn"),
            "maxReceiveCount": redrive.get("max_receive_count"),
        })
    })
}

fn redrive_allow_policy_document(desired: &Map<String, Value>) -> Option<Value> {
    let allow = desired.get("redrive_allow_policy")?.as_object()?;
    (!allow.is_empty()).then(|| {
        let mut policy = json!({"redrivePermission": allow.get("permission")});
        if allow
            .get("source_queue_arns")
            .is_some_and(|s| s.as_array().is_none_or(|s| !s.is_empty()))
        {
            policy["sourceQueueArns"] = allow["source_queue_arns"].clone();
        }
        policy
    })
}

fn policy_document(desired: &Map<String, Value>) -> Option<Value> {
    desired
        .get("policy")
        .filter(|p| !p.is_null() && p.as_object().is_none_or(|p| !p.is_empty()))
        .cloned()
}

/// A document as SQS takes it: "" removes it (SetQueueAttributes).
fn document_text(document: Option<Value>) -> String {
    document.map_or_else(String::new, |d| crate::aws::policy_text(&d))
}

/// A number SQS reports as text (some emulators as a JSON number).
fn number_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The stack's form of the redrive policy SQS reports.
fn redrive_policy_value(text: Option<&String>) -> Value {
    let Some(policy) = text.and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
        return json!({});
    };
    json!({
        "dead_letter_target_arn": policy.get("deadLetterTargetArn").cloned().unwrap_or(Value::Null),
        "max_receive_count": number_of(policy.get("maxReceiveCount")),
    })
}

fn redrive_allow_policy_value(text: Option<&String>) -> Value {
    let Some(policy) = text.and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
        return json!({});
    };
    let mut sources: Vec<String> = policy
        .get("sourceQueueArns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    sources.sort();
    json!({
        "permission": policy.get("redrivePermission").cloned().unwrap_or(Value::Null),
        "source_queue_arns": sources,
    })
}

fn does_not_exist(
    e: &aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError,
) -> Option<ErrorClass> {
    crate::aws::missing(e.is_queue_does_not_exist())
}

impl Queue {
    async fn url(&self, aws: &Aws, name: &str) -> Result<Option<String>, AwsError> {
        let found = aws
            .send(
                "GetQueueUrl",
                || aws.sqs().get_queue_url().queue_name(name).send(),
                does_not_exist,
            )
            .await;
        Ok(present(found)?.and_then(|output| output.queue_url))
    }

    async fn read_queue(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(url) = self.url(aws, name).await? else {
            return Ok(None);
        };
        let found = aws
            .send(
                "GetQueueAttributes",
                || {
                    aws.sqs()
                        .get_queue_attributes()
                        .queue_url(&url)
                        .attribute_names(Attribute::All)
                        .send()
                },
                |e| crate::aws::missing(e.is_queue_does_not_exist()),
            )
            .await;
        let Some(output) = present(found)? else {
            return Ok(None);
        };
        let attributes: BTreeMap<&str, &String> = output
            .attributes()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let get = |key: &str| attributes.get(key).copied();
        let number = |key: &str, default: i64| {
            get(key)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(default)
        };
        let truth = |key: &str| get(key).is_some_and(|v| v == "true");
        let arn = get("QueueArn").cloned().unwrap_or_default();
        let tags = aws
            .send(
                "ListQueueTags",
                || aws.sqs().list_queue_tags().queue_url(&url).send(),
                |e| crate::aws::missing(e.is_queue_does_not_exist()),
            )
            .await?;
        let key = get("KmsMasterKeyId").cloned().unwrap_or_default();
        let fifo = truth("FifoQueue");
        let mut observed = Map::new();
        observed.insert("name".into(), json!(name));
        observed.insert("fifo_queue".into(), json!(fifo));
        if fifo {
            observed.insert(
                "content_based_deduplication".into(),
                json!(truth("ContentBasedDeduplication")),
            );
            observed.insert(
                "deduplication_scope".into(),
                json!(get("DeduplicationScope").map_or("queue", String::as_str)),
            );
            observed.insert(
                "fifo_throughput_limit".into(),
                json!(get("FifoThroughputLimit").map_or("perQueue", String::as_str)),
            );
        }
        observed.insert(
            "visibility_timeout_seconds".into(),
            json!(number("VisibilityTimeout", VISIBILITY_TIMEOUT)),
        );
        observed.insert(
            "message_retention_seconds".into(),
            json!(number("MessageRetentionPeriod", RETENTION)),
        );
        observed.insert(
            "max_message_size".into(),
            json!(number("MaximumMessageSize", MAX_MESSAGE_SIZE)),
        );
        observed.insert("delay_seconds".into(), json!(number("DelaySeconds", 0)));
        observed.insert(
            "receive_wait_time_seconds".into(),
            json!(number("ReceiveMessageWaitTimeSeconds", 0)),
        );
        observed.insert(
            "encrypted".into(),
            json!(!key.is_empty() || truth("SqsManagedSseEnabled")),
        );
        // The reuse period means something only with a KMS key.
        let reuse = if key.is_empty() {
            DATA_KEY_REUSE
        } else {
            number("KmsDataKeyReusePeriodSeconds", DATA_KEY_REUSE)
        };
        observed.insert("kms_master_key_id".into(), json!(key));
        observed.insert("kms_data_key_reuse_period_seconds".into(), json!(reuse));
        observed.insert(
            "redrive_policy".into(),
            redrive_policy_value(get("RedrivePolicy")),
        );
        observed.insert(
            "redrive_allow_policy".into(),
            redrive_allow_policy_value(get("RedriveAllowPolicy")),
        );
        observed.insert(
            "policy".into(),
            get("Policy")
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_else(|| json!({})),
        );
        observed.insert(
            "tags".into(),
            tags_value(
                tags.tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            ),
        );
        Ok(Some(observation(
            name,
            observed,
            [("arn", json!(arn)), ("url", json!(url))],
        )))
    }
}

impl Tagging for Queue {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "TagQueue",
            || {
                aws.sqs()
                    .tag_queue()
                    .queue_url(target)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
    async fn untag(&self, aws: &Aws, target: &str, remove: &[String]) -> Result<(), AwsError> {
        aws.send(
            "UntagQueue",
            || {
                aws.sqs()
                    .untag_queue()
                    .queue_url(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

/// How long AWS keeps a deleted queue's name from a new queue: 60
/// seconds; the checks of `wait_for` span a little more.
const NAME_RELEASE_CHECKS: u32 = 40;

impl Resource for Queue {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_queue(aws, id).await
    }

    /// CreateQueue with a queue's own name and attributes answers that
    /// queue, so a repeat after a lost answer is harmless; with other
    /// attributes it is `QueueNameExists`, and the engine reads what holds
    /// the name. A name deleted less than 60 seconds ago is refused
    /// (`QueueDeletedRecently`, which moto never says): it waits that out.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let mut attributes = queue_attributes(desired);
        // Empty texts mean "none" to SetQueueAttributes only.
        attributes.retain(|_, value| !value.is_empty());
        if flag(desired, "fifo_queue") {
            attributes.insert(Attribute::FifoQueue, "true".into());
        }
        let tags: HashMap<String, String> = string_map(desired, "tags").into_iter().collect();
        crate::aws::wait_for("CreateQueue", NAME_RELEASE_CHECKS, || async {
            let created = aws
                .send(
                    "CreateQueue",
                    || {
                        aws.sqs()
                            .create_queue()
                            .queue_name(name)
                            .set_attributes(Some(attributes.clone()))
                            .set_tags(Some(tags.clone()))
                            .send()
                    },
                    |e: &aws_sdk_sqs::operation::create_queue::CreateQueueError| {
                        if e.is_queue_deleted_recently() {
                            Some(ErrorClass::InUse)
                        } else if e.is_queue_name_exists() {
                            Some(ErrorClass::AlreadyExists)
                        } else {
                            None
                        }
                    },
                )
                .await;
            match created {
                Ok(_) => Ok(Some(())),
                Err(error) if error.class == ErrorClass::InUse => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await?;
        read_back(
            self.read_queue(aws, name).await,
            After::Create,
            "GetQueueAttributes",
            "queue not visible after create",
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
        let Some(url) = self.url(aws, id).await? else {
            return Err(AwsError::new(
                ErrorClass::NotFound,
                "GetQueueUrl",
                format!("queue {id} disappeared"),
            ));
        };
        let wanted = queue_attributes(after);
        let mut touched: HashMap<Attribute, String> = wanted
            .iter()
            .filter(|(attribute, _)| {
                attribute_fields(attribute)
                    .iter()
                    .any(|field| changed(fields, field))
            })
            .map(|(attribute, value)| (attribute.clone(), value.clone()))
            .collect();
        if !touched.is_empty() {
            // The policy goes with every change: moto drops a policy that a
            // SetQueueAttributes leaves out (AWS keeps it; resending it is
            // harmless there).
            touched.insert(Attribute::Policy, wanted[&Attribute::Policy].clone());
            aws.send(
                "SetQueueAttributes",
                || {
                    aws.sqs()
                        .set_queue_attributes()
                        .queue_url(&url)
                        .set_attributes(Some(touched.clone()))
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        if changed(fields, "tags") {
            self.retag(aws, &url, before, after).await?;
        }
        read_back(
            self.read_queue(aws, id).await,
            After::Update,
            "GetQueueAttributes",
            "queue disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(url) = self.url(aws, id).await? else {
            return Ok(());
        };
        aws.send_delete(
            "DeleteQueue",
            || aws.sqs().delete_queue().queue_url(&url).send(),
            |e| crate::aws::missing(e.is_queue_does_not_exist()),
        )
        .await
    }
}

/// The stack's fields an SQS attribute carries.
fn attribute_fields(attribute: &Attribute) -> &'static [&'static str] {
    match attribute {
        Attribute::VisibilityTimeout => &["visibility_timeout_seconds"],
        Attribute::MessageRetentionPeriod => &["message_retention_seconds"],
        Attribute::MaximumMessageSize => &["max_message_size"],
        Attribute::DelaySeconds => &["delay_seconds"],
        Attribute::ReceiveMessageWaitTimeSeconds => &["receive_wait_time_seconds"],
        Attribute::SqsManagedSseEnabled | Attribute::KmsMasterKeyId => {
            &["encrypted", "kms_master_key_id"]
        }
        Attribute::KmsDataKeyReusePeriodSeconds => {
            &["kms_master_key_id", "kms_data_key_reuse_period_seconds"]
        }
        Attribute::RedrivePolicy => &["redrive_policy"],
        Attribute::RedriveAllowPolicy => &["redrive_allow_policy"],
        Attribute::Policy => &["policy"],
        Attribute::ContentBasedDeduplication => &["content_based_deduplication"],
        Attribute::DeduplicationScope => &["deduplication_scope"],
        Attribute::FifoThroughputLimit => &["fifo_throughput_limit"],
        _ => &[],
    }
}

/// Terraform's view: `aws_sqs_queue`, its policies as its attributes (as
/// provider 5.x allows).
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    let key = opt(a, "kms_master_key_id");
    let fifo = v(a, "fifo_queue") == json!(true);
    let document = |made: Option<Value>| json_string(&made.unwrap_or(Value::Null));
    vec![tf(
        "aws_sqs_queue",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "url": v(a, "url"), "name": v(a, "name"),
                "fifo_queue": v(a, "fifo_queue"),
                "content_based_deduplication": if fifo { v(a, "content_based_deduplication") } else { json!(false) },
                "deduplication_scope": if fifo { v(a, "deduplication_scope") } else { Value::Null },
                "fifo_throughput_limit": if fifo { v(a, "fifo_throughput_limit") } else { Value::Null },
                "visibility_timeout_seconds": v(a, "visibility_timeout_seconds"),
                "message_retention_seconds": v(a, "message_retention_seconds"),
                "max_message_size": v(a, "max_message_size"),
                "delay_seconds": v(a, "delay_seconds"),
                "receive_wait_time_seconds": v(a, "receive_wait_time_seconds"),
                "sqs_managed_sse_enabled": key.is_null() && v(a, "encrypted") == json!(true),
                "kms_master_key_id": key,
                "kms_data_key_reuse_period_seconds": v(a, "kms_data_key_reuse_period_seconds"),
                "redrive_policy": document(redrive_policy_document(a)),
                "redrive_allow_policy": document(redrive_allow_policy_document(a)),
                "policy": document(policy_document(a)),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &SQS_QUEUE,
    planned_id: super::by_name,
    id_from_arn: |arn| arn.rsplit(':').next().map(str::to_owned),
    arn_example: ("arn:aws:sqs:us-east-1:1:orders", Some("orders")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_sqs_queue"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
        parts: Parts {
            taken_over: &[
                "aws_sqs_queue_policy",
                "aws_sqs_queue_redrive_policy",
                "aws_sqs_queue_redrive_allow_policy",
            ],
            dies_with: &[],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Queue,
    unmanaged: Unmanaged::TaggingApi,
};
