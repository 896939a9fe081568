//! A DynamoDB table: keys, billing, TTL, point-in-time recovery, encryption, protection, global secondary indexes.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{
    changed, flag, ignore_missing, int, missing, present, tags_value, text, Aws, AwsError,
};
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, Projection,
    ProjectionType, ProvisionedThroughput, ScalarAttributeType, SseSpecification, SseType,
    StreamSpecification, StreamViewType, TableStatus, Tag, TimeToLiveSpecification,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const KEY: &[Field] = &[
    Field::new("name", K::Str).required(),
    Field::new("type", K::Str).required().check(attribute_type),
];

const GLOBAL_SECONDARY_INDEX: &[Field] = &[
    Field::new("name", K::Str).required().check(c::table_name),
    Field::new("hash_key", K::Object(KEY)).required(),
    Field::new("range_key", K::Object(KEY)),
    Field::new("projection_type", K::Str)
        .or(F::Str("ALL"))
        .check(projection_type),
    Field::new("non_key_attributes", K::StrSet).or(F::EmptyList),
    Field::new("read_capacity", K::Int)
        .or(F::Int(0))
        .check(capacity),
    Field::new("write_capacity", K::Int)
        .or(F::Int(0))
        .check(capacity),
];

pub static DYNAMODB_TABLE: Schema = Schema {
    type_name: "dynamodb_table",
    description: "DynamoDB table with TTL, PITR, encryption and global secondary indexes",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::table_name),
        Field::new("hash_key", K::Object(KEY))
            .required()
            .force_new(),
        Field::new("range_key", K::Object(KEY)).force_new(),
        Field::new("billing_mode", K::Str)
            .or(F::Str("PAY_PER_REQUEST"))
            .check(billing_mode),
        Field::new("read_capacity", K::Int)
            .or(F::Int(0))
            .check(capacity),
        Field::new("write_capacity", K::Int)
            .or(F::Int(0))
            .check(capacity),
        Field::new("ttl_attribute", K::Str).or(F::Str("")),
        Field::new("point_in_time_recovery", K::Bool).or(F::Bool(false)),
        Field::new("kms_key_arn", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        Field::new("deletion_protection", K::Bool).or(F::Bool(false)),
        Field::new("stream_enabled", K::Bool).or(F::Bool(false)),
        // What each stream record holds; "" while the stream is off.
        Field::new("stream_view_type", K::Str)
            .or(F::Str(""))
            .check(stream_view_type),
        Field::new(
            "global_secondary_indexes",
            K::ObjectList(GLOBAL_SECONDARY_INDEX),
        )
        .or(F::EmptyList),
        TAGS,
    ],
    outputs: &["arn", "stream_arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: true,
    expand: sort_indexes,
    validate: validate_table,
};

fn attribute_type(value: &Value) -> Result<(), String> {
    c::one_of(value, &["S", "N", "B"], "a key attribute type")
}

fn billing_mode(value: &Value) -> Result<(), String> {
    c::one_of(value, &["PAY_PER_REQUEST", "PROVISIONED"], "billing_mode")
}

fn projection_type(value: &Value) -> Result<(), String> {
    c::one_of(value, &["ALL", "KEYS_ONLY", "INCLUDE"], "projection_type")
}

fn stream_view_type(value: &Value) -> Result<(), String> {
    if value.as_str() == Some("") {
        return Ok(());
    }
    c::one_of(
        value,
        &["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"],
        "stream_view_type",
    )
}

fn capacity(value: &Value) -> Result<(), String> {
    c::int_range(value, 0, 40_000, "capacity units")
}

fn sort_indexes(properties: &mut Map<String, Value>) {
    if let Some(Value::Array(indexes)) = properties.get_mut("global_secondary_indexes") {
        indexes.sort_by_key(|i| i["name"].to_string());
    }
}

fn validate_table(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let streaming = properties.get("stream_enabled") == Some(&Value::Bool(true));
    let viewed = properties
        .get("stream_view_type")
        .and_then(Value::as_str)
        .is_some_and(|v| !v.is_empty());
    if streaming != viewed {
        problems.push(Problem::new(
            "stream_view_type",
            "a stream needs `stream_view_type` (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES), and only a stream has one (`stream_enabled: true`)",
        ));
    }
    let provisioned = properties.get("billing_mode").and_then(Value::as_str) == Some("PROVISIONED");
    let capacity =
        |map: &Map<String, Value>, key: &str| map.get(key).and_then(Value::as_i64).unwrap_or(0);
    for key in ["read_capacity", "write_capacity"] {
        let n = capacity(properties, key);
        if provisioned && n < 1 {
            problems.push(Problem::new(
                key,
                "PROVISIONED billing needs read_capacity and write_capacity of at least 1",
            ));
        }
        if !provisioned && n != 0 {
            problems.push(Problem::new(
                key,
                "capacity is set only with billing_mode: PROVISIONED",
            ));
        }
    }
    // One attribute name may not carry two types across the table's keys.
    let mut types: Vec<(String, String, String)> = Vec::new();
    let mut note = |path: String, key: Option<&Value>| {
        if let Some(Value::Object(k)) = key {
            let name = k
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let kind = k
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            types.push((name, kind, path));
        }
    };
    note("hash_key".into(), properties.get("hash_key"));
    note("range_key".into(), properties.get("range_key"));
    if let Some(Value::Array(indexes)) = properties.get("global_secondary_indexes") {
        if indexes.len() > 20 {
            problems.push(Problem::new(
                "global_secondary_indexes",
                "a table has at most 20 global secondary indexes",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, index) in indexes.iter().enumerate() {
            if let Some(name) = index.get("name").and_then(Value::as_str) {
                if !names.insert(name.to_owned()) {
                    problems.push(Problem::new(
                        format!("global_secondary_indexes.{i}.name"),
                        format!("index `{name}` is declared twice"),
                    ));
                }
            }
            note(
                format!("global_secondary_indexes.{i}.hash_key"),
                index.get("hash_key"),
            );
            note(
                format!("global_secondary_indexes.{i}.range_key"),
                index.get("range_key"),
            );
            for key in ["read_capacity", "write_capacity"] {
                let n = index.get(key).and_then(Value::as_i64).unwrap_or(0);
                if provisioned && n < 1 {
                    problems.push(Problem::new(
                        format!("global_secondary_indexes.{i}.{key}"),
                        "indexes of a PROVISIONED table need capacity of at least 1",
                    ));
                }
                if !provisioned && n != 0 {
                    problems.push(Problem::new(
                        format!("global_secondary_indexes.{i}.{key}"),
                        "capacity is set only with billing_mode: PROVISIONED",
                    ));
                }
            }
            let include = index.get("projection_type").and_then(Value::as_str) == Some("INCLUDE");
            let has_attributes = index
                .get("non_key_attributes")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if include != has_attributes {
                problems.push(Problem::new(
                    format!("global_secondary_indexes.{i}.non_key_attributes"),
                    "non_key_attributes is given exactly when projection_type is INCLUDE",
                ));
            }
        }
    }
    for (i, (name, kind, path)) in types.iter().enumerate() {
        if let Some((_, other, first)) = types[..i].iter().find(|(n, k, _)| n == name && k != kind)
        {
            problems.push(Problem::new(
                path.clone(),
                format!("attribute `{name}` is `{kind}` here but `{other}` at {first}"),
            ));
        }
    }
    problems
}

pub struct Table;

fn key_json(name: &str, definitions: &[AttributeDefinition]) -> Value {
    let kind = definitions
        .iter()
        .find(|d| d.attribute_name() == name)
        .map(|d| d.attribute_type().as_str().to_owned())
        .unwrap_or_default();
    json!({"name": name, "type": kind})
}

fn keys_json(schema: &[KeySchemaElement], definitions: &[AttributeDefinition]) -> (Value, Value) {
    let find = |kind: KeyType| {
        schema
            .iter()
            .find(|k| *k.key_type() == kind)
            .map_or(Value::Null, |k| key_json(k.attribute_name(), definitions))
    };
    (find(KeyType::Hash), find(KeyType::Range))
}

fn key_schema(hash: &Value, range: &Value) -> Vec<KeySchemaElement> {
    let mut out = Vec::new();
    for (key, kind) in [(hash, KeyType::Hash), (range, KeyType::Range)] {
        if let Some(name) = key.get("name").and_then(Value::as_str) {
            out.push(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .expect("name and type set"),
            );
        }
    }
    out
}

fn attribute_definitions(desired: &Map<String, Value>) -> Vec<AttributeDefinition> {
    let mut types = BTreeMap::new();
    let mut add = |key: Option<&Value>| {
        if let Some(Value::Object(k)) = key {
            types.insert(text(k, "name").to_owned(), text(k, "type").to_owned());
        }
    };
    add(desired.get("hash_key"));
    add(desired.get("range_key"));
    for index in desired
        .get("global_secondary_indexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add(index.get("hash_key"));
        add(index.get("range_key"));
    }
    types
        .into_iter()
        .map(|(name, kind)| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .expect("set")
        })
        .collect()
}

fn throughput(map: &Map<String, Value>) -> Option<ProvisionedThroughput> {
    let read = int(map, "read_capacity").unwrap_or(0);
    let write = int(map, "write_capacity").unwrap_or(0);
    (read > 0 || write > 0).then(|| {
        ProvisionedThroughput::builder()
            .read_capacity_units(read)
            .write_capacity_units(write)
            .build()
            .expect("set")
    })
}

fn index(value: &Value) -> GlobalSecondaryIndex {
    let map = value.as_object().cloned().unwrap_or_default();
    let projection_type = ProjectionType::from(text(&map, "projection_type"));
    let non_key = crate::aws::strings(&map, "non_key_attributes");
    GlobalSecondaryIndex::builder()
        .index_name(text(&map, "name"))
        .set_key_schema(Some(key_schema(
            &map["hash_key"],
            map.get("range_key").unwrap_or(&Value::Null),
        )))
        .projection(
            Projection::builder()
                .projection_type(projection_type)
                .set_non_key_attributes((!non_key.is_empty()).then_some(non_key))
                .build(),
        )
        .set_provisioned_throughput(throughput(&map))
        .build()
        .expect("name and keys set")
}

/// The stack's stream, `None` when it has none.
fn stream(desired: &Map<String, Value>) -> Option<StreamSpecification> {
    flag(desired, "stream_enabled").then(|| {
        StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::from(text(desired, "stream_view_type")))
            .build()
            .expect("enabled is set")
    })
}

fn sse(desired: &Map<String, Value>) -> SseSpecification {
    let key = text(desired, "kms_key_arn");
    if key.is_empty() {
        SseSpecification::builder().enabled(false).build()
    } else {
        SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .kms_master_key_id(key)
            .build()
    }
}

impl Table {
    async fn describe(
        &self,
        aws: &Aws,
        name: &str,
    ) -> Result<Option<aws_sdk_dynamodb::types::TableDescription>, AwsError> {
        Ok(present(
            aws.send(
                "DescribeTable",
                || aws.dynamodb().describe_table().table_name(name).send(),
                |e: &aws_sdk_dynamodb::operation::describe_table::DescribeTableError| {
                    missing(e.is_resource_not_found_exception())
                },
            )
            .await,
        )?
        .and_then(|output| output.table))
    }

    /// Waits until the table and all its indexes are ACTIVE (AWS allows one
    /// index change at a time, and none while the table is updating).
    async fn wait_active(&self, aws: &Aws, name: &str) -> Result<(), AwsError> {
        crate::aws::wait_for("DescribeTable", 600, || async {
            let table = read_back(
                self.describe(aws, name).await,
                After::Create,
                "DescribeTable",
                format!("table {name} not visible yet"),
            )?;
            let active = table.table_status() == Some(&TableStatus::Active)
                && table
                    .global_secondary_indexes()
                    .iter()
                    .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active));
            Ok(active.then_some(()))
        })
        .await
    }

    async fn read_table(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(table) = self.describe(aws, name).await? else {
            return Ok(None);
        };
        let arn = table.table_arn().unwrap_or_default().to_owned();
        let definitions = table.attribute_definitions();
        let (hash, range) = keys_json(table.key_schema(), definitions);
        let billing = table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or("PROVISIONED".to_owned(), |b| b.as_str().to_owned());
        let provisioned = billing == "PROVISIONED";
        let capacity = |units: Option<i64>| if provisioned { units.unwrap_or(0) } else { 0 };
        let throughput = table.provisioned_throughput();
        let mut indexes: Vec<Value> = table
            .global_secondary_indexes()
            .iter()
            .map(|i| {
                let (hash, range) = keys_json(i.key_schema(), definitions);
                let projection = i.projection();
                let mut non_key: Vec<String> = projection.map(|p| p.non_key_attributes().to_vec()).unwrap_or_default();
                non_key.sort();
                let t = i.provisioned_throughput();
                json!({
                    "name": i.index_name().unwrap_or_default(),
                    "hash_key": hash,
                    "range_key": range,
                    "projection_type": projection.and_then(|p| p.projection_type()).map_or("ALL", |p| p.as_str()),
                    "non_key_attributes": non_key,
                    "read_capacity": capacity(t.and_then(|t| t.read_capacity_units())),
                    "write_capacity": capacity(t.and_then(|t| t.write_capacity_units())),
                })
            })
            .collect();
        indexes.sort_by_key(|i| i["name"].to_string());
        let kms_key = table
            .sse_description()
            .filter(|s| s.sse_type() == Some(&SseType::Kms))
            .and_then(|s| s.kms_master_key_arn())
            .unwrap_or_default()
            .to_owned();

        // Neither needs the other: one round trip for both.
        let (ttl, backups) = tokio::try_join!(
            aws.send(
                "DescribeTimeToLive",
                || {
                    aws.dynamodb()
                        .describe_time_to_live()
                        .table_name(name)
                        .send()
                },
                |_| None,
            ),
            aws.send(
                "DescribeContinuousBackups",
                || {
                    aws.dynamodb()
                        .describe_continuous_backups()
                        .table_name(name)
                        .send()
                },
                |_| None,
            )
        )?;
        let ttl_attribute = ttl
            .time_to_live_description()
            .filter(|d| {
                d.time_to_live_status()
                    .is_some_and(|s| s.as_str() == "ENABLED" || s.as_str() == "ENABLING")
            })
            .and_then(|d| d.attribute_name())
            .unwrap_or_default()
            .to_owned();
        let pitr = backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .is_some_and(|s| s.as_str() == "ENABLED");
        let tags = match aws.confirmed_tags(&arn).await {
            Some(tags) => tags,
            None => {
                let tags = aws
                    .send(
                        "ListTagsOfResource",
                        || {
                            aws.dynamodb()
                                .list_tags_of_resource()
                                .resource_arn(&arn)
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                tags_value(tags.tags().iter().map(|t| (t.key(), t.value())))
            }
        };

        let mut attributes = Map::new();
        attributes.insert("name".into(), Value::String(name.to_owned()));
        attributes.insert("hash_key".into(), hash);
        attributes.insert("range_key".into(), range);
        attributes.insert("billing_mode".into(), Value::String(billing));
        attributes.insert(
            "read_capacity".into(),
            Value::from(capacity(throughput.and_then(|t| t.read_capacity_units()))),
        );
        attributes.insert(
            "write_capacity".into(),
            Value::from(capacity(throughput.and_then(|t| t.write_capacity_units()))),
        );
        attributes.insert("ttl_attribute".into(), Value::String(ttl_attribute));
        attributes.insert("point_in_time_recovery".into(), Value::Bool(pitr));
        attributes.insert("kms_key_arn".into(), Value::String(kms_key));
        attributes.insert(
            "deletion_protection".into(),
            Value::Bool(table.deletion_protection_enabled().unwrap_or(false)),
        );
        attributes.insert("global_secondary_indexes".into(), Value::Array(indexes));
        let stream = table.stream_specification().filter(|s| s.stream_enabled());
        attributes.insert("stream_enabled".into(), Value::Bool(stream.is_some()));
        attributes.insert(
            "stream_view_type".into(),
            json!(stream
                .and_then(|s| s.stream_view_type())
                .map_or("", |v| v.as_str())),
        );
        attributes.insert("tags".into(), tags);
        Ok(Some(observation(
            name,
            attributes,
            [
                ("arn", Value::String(arn)),
                (
                    "stream_arn",
                    json!(if stream.is_some() {
                        table.latest_stream_arn().unwrap_or_default()
                    } else {
                        ""
                    }),
                ),
            ],
        )))
    }

    async fn set_ttl(
        &self,
        aws: &Aws,
        name: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let old = text(before, "ttl_attribute");
        let new = text(after, "ttl_attribute");
        if old == new {
            return Ok(());
        }
        // The old attribute off first: a table has at most one.
        for (attribute, enabled) in [(old, false), (new, true)] {
            if attribute.is_empty() {
                continue;
            }
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(enabled)
                .build()
                .expect("set");
            aws.send(
                "UpdateTimeToLive",
                || {
                    aws.dynamodb()
                        .update_time_to_live()
                        .table_name(name)
                        .time_to_live_specification(spec.clone())
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        Ok(())
    }

    async fn set_pitr(&self, aws: &Aws, name: &str, enabled: bool) -> Result<(), AwsError> {
        let spec = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(enabled)
            .build()
            .expect("set");
        aws.send(
            "UpdateContinuousBackups",
            || {
                aws.dynamodb()
                    .update_continuous_backups()
                    .table_name(name)
                    .point_in_time_recovery_specification(spec.clone())
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }

    /// Enables, disables or changes the stream. AWS changes no stream's
    /// view type in place: the old stream is disabled first, and the new
    /// one (a new ARN) enabled after.
    async fn set_stream(
        &self,
        aws: &Aws,
        name: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let was = flag(before, "stream_enabled");
        if was
            && (!flag(after, "stream_enabled")
                || text(before, "stream_view_type") != text(after, "stream_view_type"))
        {
            let off = StreamSpecification::builder()
                .stream_enabled(false)
                .build()
                .expect("enabled is set");
            self.update_table(aws, name, || {
                aws.dynamodb()
                    .update_table()
                    .table_name(name)
                    .stream_specification(off.clone())
            })
            .await?;
        }
        if let Some(on) = stream(after) {
            self.update_table(aws, name, || {
                aws.dynamodb()
                    .update_table()
                    .table_name(name)
                    .stream_specification(on.clone())
            })
            .await?;
        }
        Ok(())
    }

    async fn update_table(
        &self,
        aws: &Aws,
        name: &str,
        call: impl Fn() -> aws_sdk_dynamodb::operation::update_table::builders::UpdateTableFluentBuilder,
    ) -> Result<(), AwsError> {
        aws.send(
            "UpdateTable",
            || call().send(),
            |e: &aws_sdk_dynamodb::operation::update_table::UpdateTableError| {
                (e.is_resource_in_use_exception() || e.is_limit_exceeded_exception())
                    .then_some(ErrorClass::Conflict)
            },
        )
        .await?;
        self.wait_active(aws, name).await
    }
}

impl Tagging for Table {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags: Vec<Tag> = set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("set"))
            .collect();
        aws.send(
            "TagResource",
            || {
                aws.dynamodb()
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
                aws.dynamodb()
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

impl Resource for Table {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_table(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let indexes: Vec<GlobalSecondaryIndex> = desired
            .get("global_secondary_indexes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(index)
            .collect();
        let tags: Vec<Tag> = crate::aws::string_map(desired, "tags")
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("set"))
            .collect();
        let billing = BillingMode::from(text(desired, "billing_mode"));
        let encrypted = !text(desired, "kms_key_arn").is_empty();
        aws.send(
            "CreateTable",
            || {
                aws.dynamodb()
                    .create_table()
                    .table_name(name)
                    .set_attribute_definitions(Some(attribute_definitions(desired)))
                    .set_key_schema(Some(key_schema(
                        &desired["hash_key"],
                        desired.get("range_key").unwrap_or(&Value::Null),
                    )))
                    .billing_mode(billing.clone())
                    .set_provisioned_throughput(throughput(desired))
                    .set_global_secondary_indexes((!indexes.is_empty()).then(|| indexes.clone()))
                    .set_sse_specification(encrypted.then(|| sse(desired)))
                    .set_stream_specification(stream(desired))
                    .deletion_protection_enabled(flag(desired, "deletion_protection"))
                    .set_tags((!tags.is_empty()).then(|| tags.clone()))
                    .send()
            },
            |e: &aws_sdk_dynamodb::operation::create_table::CreateTableError| {
                e.is_resource_in_use_exception()
                    .then_some(ErrorClass::AlreadyExists)
            },
        )
        .await?;
        self.wait_active(aws, name).await?;
        self.set_ttl(aws, name, &Map::new(), desired).await?;
        if flag(desired, "point_in_time_recovery") {
            self.set_pitr(aws, name, true).await?;
        }
        read_back(
            self.read_table(aws, name).await,
            After::Create,
            "DescribeTable",
            "table not visible after create",
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
        if changed(fields, "billing_mode")
            || changed(fields, "read_capacity")
            || changed(fields, "write_capacity")
        {
            let billing = BillingMode::from(text(after, "billing_mode"));
            self.update_table(aws, id, || {
                aws.dynamodb()
                    .update_table()
                    .table_name(id)
                    .billing_mode(billing.clone())
                    .set_provisioned_throughput(throughput(after))
            })
            .await?;
        }
        if changed(fields, "deletion_protection") {
            let on = flag(after, "deletion_protection");
            self.update_table(aws, id, || {
                aws.dynamodb()
                    .update_table()
                    .table_name(id)
                    .deletion_protection_enabled(on)
            })
            .await?;
        }
        if changed(fields, "kms_key_arn") {
            self.update_table(aws, id, || {
                aws.dynamodb()
                    .update_table()
                    .table_name(id)
                    .sse_specification(sse(after))
            })
            .await?;
        }
        if changed(fields, "stream_enabled") || changed(fields, "stream_view_type") {
            self.set_stream(aws, id, before, after).await?;
        }
        if changed(fields, "global_secondary_indexes") {
            // One index created or deleted per UpdateTable, waiting between.
            let list = |m: &Map<String, Value>| -> BTreeMap<String, Value> {
                m.get("global_secondary_indexes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|i| (i["name"].as_str().unwrap_or_default().to_owned(), i.clone()))
                    .collect()
            };
            let old = list(before);
            let new = list(after);
            let definitions = attribute_definitions(after);
            for (name, _) in old.iter().filter(|(n, i)| new.get(*n) != Some(*i)) {
                let update = GlobalSecondaryIndexUpdate::builder()
                    .delete(
                        DeleteGlobalSecondaryIndexAction::builder()
                            .index_name(name)
                            .build()
                            .expect("set"),
                    )
                    .build();
                self.update_table(aws, id, || {
                    aws.dynamodb()
                        .update_table()
                        .table_name(id)
                        .global_secondary_index_updates(update.clone())
                })
                .await?;
            }
            for (_, value) in new.iter().filter(|(n, i)| old.get(*n) != Some(*i)) {
                let built = index(value);
                let create = CreateGlobalSecondaryIndexAction::builder()
                    .index_name(built.index_name())
                    .set_key_schema(Some(built.key_schema().to_vec()))
                    .set_projection(built.projection().cloned())
                    .set_provisioned_throughput(built.provisioned_throughput().cloned())
                    .build()
                    .expect("set");
                let update = GlobalSecondaryIndexUpdate::builder().create(create).build();
                self.update_table(aws, id, || {
                    aws.dynamodb()
                        .update_table()
                        .table_name(id)
                        .set_attribute_definitions(Some(definitions.clone()))
                        .global_secondary_index_updates(update.clone())
                })
                .await?;
            }
        }
        if changed(fields, "ttl_attribute") {
            self.set_ttl(aws, id, before, after).await?;
        }
        if changed(fields, "point_in_time_recovery") {
            self.set_pitr(aws, id, flag(after, "point_in_time_recovery"))
                .await?;
        }
        if changed(fields, "tags") {
            let arn = self
                .describe(aws, id)
                .await?
                .and_then(|t| t.table_arn)
                .unwrap_or_default();
            self.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_table(aws, id).await,
            After::Update,
            "DescribeTable",
            "table disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let result = aws
            .send(
                "DeleteTable",
                || aws.dynamodb().delete_table().table_name(id).send(),
                |e: &aws_sdk_dynamodb::operation::delete_table::DeleteTableError| {
                    if e.is_resource_not_found_exception() {
                        Some(ErrorClass::NotFound)
                    } else if e.is_resource_in_use_exception() {
                        Some(ErrorClass::Conflict)
                    } else {
                        None
                    }
                },
            )
            .await;
        ignore_missing(result)?;
        crate::aws::wait_for("DescribeTable", 600, || async {
            Ok(self.describe(aws, id).await?.is_none().then_some(()))
        })
        .await
    }
}

/// A new view type is a new stream (AWS changes none in place), so its
/// `stream_arn` changes with this update; the plan takes the outputs of an
/// in-place update as they were, so what reads the old stream follows at
/// the next plan.
fn stream_note(before: &Map<String, Value>, after: &Map<String, Value>) -> Option<String> {
    let view = |m: &Map<String, Value>| m.get("stream_view_type").cloned().unwrap_or(Value::Null);
    (flag(before, "stream_enabled") && flag(after, "stream_enabled") && view(before) != view(after))
        .then(|| "disables the stream and enables a new one with a new `stream_arn`; a mapping that reads the old stream is replaced by the next apply".to_owned())
}

/// Terraform's view: `aws_dynamodb_table`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    let key = |k: &Value| k.get("name").cloned().unwrap_or(Value::Null);
    let mut attributes: Vec<Value> = Vec::new();
    let mut add = |k: Option<&Value>| {
        if let Some(k @ Value::Object(_)) = k {
            let attribute = json!({"name": k["name"], "type": k["type"]});
            if !attributes.contains(&attribute) {
                attributes.push(attribute);
            }
        }
    };
    add(a.get("hash_key"));
    add(a.get("range_key"));
    let indexes = a
        .get("global_secondary_indexes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for i in &indexes {
        add(i.get("hash_key"));
        add(i.get("range_key"));
    }
    attributes.sort_by_key(|x| x["name"].to_string());
    let ttl = opt(a, "ttl_attribute");
    let kms = opt(a, "kms_key_arn");
    vec![tf(
        "aws_dynamodb_table",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "name": v(a, "name"), "billing_mode": v(a, "billing_mode"),
                "hash_key": key(&v(a, "hash_key")), "range_key": key(&v(a, "range_key")),
                "attribute": attributes,
                "read_capacity": v(a, "read_capacity"), "write_capacity": v(a, "write_capacity"),
                "ttl": block(json!({"attribute_name": if ttl.is_null() { json!("") } else { ttl.clone() }, "enabled": !ttl.is_null()})),
                "point_in_time_recovery": block(json!({"enabled": v(a, "point_in_time_recovery")})),
                // No key: DynamoDB's own (AWS owned) key, which the provider shows as no block.
                "server_side_encryption": block_if(!kms.is_null(), json!({"enabled": true, "kms_key_arn": kms})),
                "deletion_protection_enabled": v(a, "deletion_protection"),
                "global_secondary_index": indexes.iter().map(|i| json!({
                    "name": i["name"], "hash_key": key(&i["hash_key"]),
                    "range_key": i.get("range_key").map_or(Value::Null, key),
                    "projection_type": i["projection_type"], "non_key_attributes": i["non_key_attributes"],
                    "read_capacity": i["read_capacity"], "write_capacity": i["write_capacity"],
                })).collect::<Vec<_>>(),
                "stream_enabled": v(a, "stream_enabled"), "stream_view_type": opt(a, "stream_view_type"),
                "stream_arn": v(a, "stream_arn"), "table_class": "STANDARD",
            }),
        ),
    )]
}

fn import_table(a: &Map<String, Value>) -> Result<String, String> {
    use super::terraform::none_of;
    none_of(a, "local_secondary_index", "local secondary indexes")?;
    none_of(a, "replica", "replicas (a global table)")?;
    super::terraform::attribute(a, "name")
}

pub static SPEC: Spec = Spec {
    schema: &DYNAMODB_TABLE,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":table/"),
    arn_example: ("arn:aws:dynamodb:us-east-1:1:table/t", Some("t")),
    bulk_tagged: true,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: stream_note,
    terraform: super::terraform::Mapping {
        types: &["aws_dynamodb_table"],
        map: terraform,
        import: import_table,
        parts: Parts {
            taken_over: &[],
            dies_with: &["aws_dynamodb_table_item"],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Table,
    unmanaged: Unmanaged::TaggingApi,
};
