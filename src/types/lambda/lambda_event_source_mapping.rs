//! What feeds a function from an SQS queue or a DynamoDB stream: batch
//! size and window, partial batch failures, filters, concurrency, on/off.

use super::conflict_or_throttle;
use crate::aws::{changed, flag, int, present, text, Aws, AwsError};
use crate::model::{retry, ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{Fallback as F, Field, Kind as K, Naming, Problem, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_lambda::types::{
    EventSourceMappingConfiguration, EventSourcePosition, Filter, FilterCriteria,
    FunctionResponseType, ScalingConfig,
};
use serde_json::{json, Map, Value};

pub static LAMBDA_EVENT_SOURCE_MAPPING: Schema = Schema {
    type_name: "lambda_event_source_mapping",
    description:
        "Feeds a Lambda function the messages of an SQS queue or the records of a DynamoDB stream",
    fields: &[
        Field::new("event_source_arn", K::Str)
            .required()
            .force_new()
            .check(c::arn),
        Field::new("function_arn", K::Str).required().check(c::arn),
        // DynamoDB streams only: where reading starts.
        Field::new("starting_position", K::Str)
            .force_new()
            .one_of(&["TRIM_HORIZON", "LATEST"], "starting position"),
        // Absent: AWS's default for the source (10 for SQS, 100 for a
        // stream), made explicit by `expand`.
        Field::new("batch_size", K::Int).check(batch_size),
        Field::new("maximum_batching_window_in_seconds", K::Int)
            .or(F::Int(0))
            .check(batching_window),
        Field::new("function_response_types", K::StrSet)
            .or(F::EmptyList)
            .check(response_types),
        Field::new("enabled", K::Bool).or(F::Bool(true)),
        // Event patterns; a record is delivered when one matches.
        Field::new("filters", K::Json).or(F::EmptyList),
        // SQS only; 0: no limit but the function's own.
        Field::new("maximum_concurrency", K::Int)
            .or(F::Int(0))
            .check(maximum_concurrency),
    ],
    outputs: &["arn", "uuid"],
    taggable: false,
    naming: Naming::None,
    stateful: false,
    expand: default_batch_size,
    validate: validate_mapping,
};

fn batch_size(value: &Value) -> Result<(), String> {
    c::int_range(value, 1, 10_000, "batch_size")
}

fn batching_window(value: &Value) -> Result<(), String> {
    c::int_range(value, 0, 300, "maximum_batching_window_in_seconds")
}

fn response_types(value: &Value) -> Result<(), String> {
    value.as_array().map_or(Ok(()), |items| {
        items.iter().try_for_each(|item| {
            c::one_of(
                item,
                &["ReportBatchItemFailures"],
                "a function response type",
            )
        })
    })
}

fn maximum_concurrency(value: &Value) -> Result<(), String> {
    match value.as_i64() {
        Some(0) => Ok(()),
        _ => c::int_range(value, 2, 1000, "maximum_concurrency (0 for none)"),
    }
}

/// What the source is, as far as its ARN is known when planning.
#[derive(PartialEq, Clone, Copy)]
enum Source {
    Queue { fifo: bool },
    Stream,
    Unknown,
}

fn source(properties: &Map<String, Value>) -> Source {
    let Some(arn) = properties.get("event_source_arn").and_then(Value::as_str) else {
        return Source::Unknown;
    };
    if crate::model::expr::is_template(arn) {
        // `${table.stream_arn}`: a stream whatever the table is called.
        return if arn.trim_end().ends_with(".stream_arn}") {
            Source::Stream
        } else {
            Source::Unknown
        };
    }
    if arn.contains(":sqs:") {
        Source::Queue {
            fifo: arn.ends_with(".fifo"),
        }
    } else if arn.contains(":dynamodb:") && arn.contains("/stream/") {
        Source::Stream
    } else {
        Source::Unknown
    }
}

/// AWS's batch size for the source when the stack gives none.
fn default_batch_size(properties: &mut Map<String, Value>) {
    if properties.get("batch_size").is_none_or(Value::is_null) {
        let size = if source(properties) == Source::Stream {
            100
        } else {
            10
        };
        properties.insert("batch_size".into(), json!(size));
    }
}

/// The checks AWS applies to a mapping's settings for its kind of source;
/// a queue given by reference is checked by the stack's check across
/// resources (`stack/compile/queues.rs`), which knows the queue.
fn validate_mapping(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = source_problems(properties, source(properties));
    problems.extend(foreign_source(properties));
    if let Some(filters) = properties.get("filters").filter(|f| !f.is_null()) {
        match filters.as_array() {
            None => problems.push(Problem::new(
                "filters",
                "`filters` is a list of event patterns",
            )),
            Some(items) => {
                if items.len() > 10 {
                    problems.push(Problem::new(
                        "filters",
                        format!("a mapping has at most 10 filters, got {}", items.len()),
                    ));
                }
                for (i, item) in items.iter().enumerate() {
                    if !item.is_object() {
                        problems.push(Problem::new(
                            format!("filters.{i}"),
                            "a filter is an event pattern (a mapping, such as `{body: {kind: [meal]}}`)",
                        ));
                    } else if item.to_string().len() > 4096 {
                        problems.push(Problem::new(
                            format!("filters.{i}"),
                            "an event pattern is at most 4096 characters of JSON",
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// The services whose ARNs Lambda reads events from (CreateEventSourceMapping's
/// `EventSourceArn`): SQS, DynamoDB and Kinesis streams, MSK, Amazon MQ,
/// DocumentDB (an `rds` ARN).
const SOURCE_SERVICES: &[&str] = &["sqs", "dynamodb", "kinesis", "kafka", "mq", "rds"];

/// A literal ARN of what Lambda cannot read from: another service, or a
/// DynamoDB table rather than its stream.
fn foreign_source(properties: &Map<String, Value>) -> Option<Problem> {
    let arn = properties.get("event_source_arn")?.as_str()?;
    if crate::model::expr::is_template(arn) {
        return None;
    }
    let service = arn.split(':').nth(2)?;
    if service == "dynamodb" && !arn.contains("/stream/") {
        return Some(Problem::new(
            "event_source_arn",
            format!("`{arn}` is a DynamoDB table; a mapping reads its stream (an ARN ending in `/stream/LABEL`, `${{TABLE.stream_arn}}` for a table of the stack)"),
        ));
    }
    (!SOURCE_SERVICES.contains(&service)).then(|| {
        Problem::new(
            "event_source_arn",
            format!("a mapping reads an SQS queue or a DynamoDB stream (or a Kinesis stream, an MSK or Amazon MQ broker, a DocumentDB change stream); `{arn}` is an ARN of {service}"),
        )
    })
}

/// What AWS refuses for a mapping from `kind` of source: a starting
/// position is a stream's, and a queue's batch above 10 needs a window.
fn source_problems(properties: &Map<String, Value>, kind: Source) -> Vec<Problem> {
    let mut problems = Vec::new();
    let given = |key: &str| properties.get(key).is_some_and(|v| !v.is_null());
    let number = |key: &str| properties.get(key).and_then(Value::as_i64);
    match kind {
        Source::Queue { fifo } => {
            if given("starting_position") {
                problems.push(Problem::new(
                    "starting_position",
                    "a starting position is for a stream; an SQS queue has none",
                ));
            }
            let window = number("maximum_batching_window_in_seconds").unwrap_or(0);
            if fifo && window > 0 {
                problems.push(Problem::new(
                    "maximum_batching_window_in_seconds",
                    format!("a FIFO queue's mapping takes no batching window (Lambda supports none for FIFO queues); remove `maximum_batching_window_in_seconds` ({window})"),
                ));
            }
            let batch = number("batch_size").unwrap_or(10);
            if fifo && batch > 10 {
                problems.push(Problem::new(
                    "batch_size",
                    format!("a FIFO queue's batch is at most 10 messages, got {batch}"),
                ));
            } else if batch > 10 && window < 1 {
                problems.push(Problem::new(
                    "batch_size",
                    format!("a batch of more than 10 messages ({batch}) needs `maximum_batching_window_in_seconds` of at least 1"),
                ));
            }
        }
        Source::Stream => {
            if !given("starting_position") {
                problems.push(Problem::new(
                    "starting_position",
                    "a DynamoDB stream's mapping needs `starting_position` (TRIM_HORIZON or LATEST)",
                ));
            }
            if number("maximum_concurrency").unwrap_or(0) != 0 {
                problems.push(Problem::new(
                    "maximum_concurrency",
                    "maximum concurrency is for an SQS queue's mapping",
                ));
            }
        }
        Source::Unknown => {}
    }
    problems
}

pub struct Mapping;

fn filter_criteria(desired: &Map<String, Value>) -> FilterCriteria {
    let filters: Vec<Filter> = desired
        .get("filters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|pattern| Filter::builder().pattern(pattern.to_string()).build())
        .collect();
    FilterCriteria::builder().set_filters(Some(filters)).build()
}

fn response_types_of(desired: &Map<String, Value>) -> Vec<FunctionResponseType> {
    crate::aws::strings(desired, "function_response_types")
        .iter()
        .map(|t| FunctionResponseType::from(t.as_str()))
        .collect()
}

/// `None` on a create without a limit; an empty config removes one.
fn scaling(desired: &Map<String, Value>) -> ScalingConfig {
    let limit = int(desired, "maximum_concurrency").unwrap_or(0);
    ScalingConfig::builder()
        .set_maximum_concurrency((limit > 0).then_some(limit as i32))
        .build()
}

fn observed(mapping: &EventSourceMappingConfiguration) -> Observed {
    let filters: Vec<Value> = mapping
        .filter_criteria()
        .map(|f| f.filters())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.pattern())
        .map(|p| serde_json::from_str(p).unwrap_or_else(|_| json!(p)))
        .collect();
    let mut types: Vec<&str> = mapping
        .function_response_types()
        .iter()
        .map(FunctionResponseType::as_str)
        .collect();
    types.sort_unstable();
    let state = mapping.state().unwrap_or("Enabled");
    let mut attributes = Map::new();
    attributes.insert(
        "event_source_arn".into(),
        json!(mapping.event_source_arn().unwrap_or_default()),
    );
    attributes.insert(
        "function_arn".into(),
        json!(mapping.function_arn().unwrap_or_default()),
    );
    attributes.insert(
        "starting_position".into(),
        json!(mapping.starting_position().map(EventSourcePosition::as_str)),
    );
    attributes.insert("batch_size".into(), json!(mapping.batch_size()));
    attributes.insert(
        "maximum_batching_window_in_seconds".into(),
        json!(mapping.maximum_batching_window_in_seconds().unwrap_or(0)),
    );
    attributes.insert("function_response_types".into(), json!(types));
    attributes.insert(
        "enabled".into(),
        json!(matches!(state, "Enabled" | "Enabling" | "Creating")),
    );
    attributes.insert("filters".into(), Value::Array(filters));
    attributes.insert(
        "maximum_concurrency".into(),
        json!(mapping
            .scaling_config()
            .and_then(ScalingConfig::maximum_concurrency)
            .unwrap_or(0)),
    );
    let uuid = mapping.uuid().unwrap_or_default().to_owned();
    observation(
        uuid.clone(),
        attributes,
        [
            (
                "arn",
                json!(mapping.event_source_mapping_arn().unwrap_or_default()),
            ),
            ("uuid", json!(uuid)),
        ],
    )
}

/// A mapping settles in `Enabled` or `Disabled`; AWS refuses changes in
/// between.
fn settled(mapping: &EventSourceMappingConfiguration) -> bool {
    matches!(mapping.state(), Some("Enabled" | "Disabled") | None)
}

impl Mapping {
    async fn get(
        &self,
        aws: &Aws,
        uuid: &str,
    ) -> Result<Option<EventSourceMappingConfiguration>, AwsError> {
        let found = aws
            .send(
                "GetEventSourceMapping",
                || aws.lambda().get_event_source_mapping().uuid(uuid).send(),
                |e| crate::aws::missing(e.is_resource_not_found_exception()),
            )
            .await;
        Ok(present(found)?.map(|output| {
            EventSourceMappingConfiguration::builder()
                .set_uuid(output.uuid)
                .set_event_source_arn(output.event_source_arn)
                .set_function_arn(output.function_arn)
                .set_starting_position(output.starting_position)
                .set_batch_size(output.batch_size)
                .set_maximum_batching_window_in_seconds(output.maximum_batching_window_in_seconds)
                .set_function_response_types(output.function_response_types)
                .set_state(output.state)
                .set_filter_criteria(output.filter_criteria)
                .set_scaling_config(output.scaling_config)
                .set_event_source_mapping_arn(output.event_source_mapping_arn)
                .build()
        }))
    }

    /// The mapping, or `None` when it is gone or going.
    async fn read_mapping(&self, aws: &Aws, uuid: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .get(aws, uuid)
            .await?
            .filter(|m| m.state() != Some("Deleting"))
            .map(|m| observed(&m)))
    }

    async fn wait_settled(&self, aws: &Aws, uuid: &str) -> Result<Observed, AwsError> {
        crate::aws::wait_for("GetEventSourceMapping", 300, || async {
            let mapping = read_back(
                self.get(aws, uuid).await,
                After::Create,
                "GetEventSourceMapping",
                "event source mapping not visible yet",
            )?;
            Ok(settled(&mapping).then(|| observed(&mapping)))
        })
        .await
    }
}

impl Resource for Mapping {
    fn finds_by_properties(&self) -> bool {
        true
    }

    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_mapping(aws, id).await
    }

    /// A mapping carries no ownership tags here: it is the one from its
    /// source to its function (AWS allows one such mapping per queue and
    /// function).
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let source = text(desired, "event_source_arn");
        let function = text(desired, "function_arn");
        let mut pages = aws.pages(
            "ListEventSourceMappings",
            |marker| {
                aws.lambda()
                    .list_event_source_mappings()
                    .event_source_arn(source)
                    .function_name(function)
                    .set_marker(marker)
                    .send()
            },
            |page| page.next_marker(),
            |e| crate::aws::missing(e.is_resource_not_found_exception()),
        );
        while let Some(page) = present(pages.next_page().await)?.flatten() {
            if let Some(found) = page.event_source_mappings().iter().find(|m| {
                m.event_source_arn() == Some(source)
                    && m.function_arn() == Some(function)
                    && m.state() != Some("Deleting")
            }) {
                return Ok(Some(observed(found)));
            }
        }
        Ok(None)
    }

    /// AWS assigns the id, so a repeat after a lost answer would make a
    /// second mapping where AWS allows one: the create is sent once, and
    /// the engine looks for it (`find`) before sending again. A role whose
    /// new permissions to read the queue have not reached Lambda yet is
    /// refused (nothing made), and retried here.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let limit = int(desired, "maximum_concurrency").unwrap_or(0);
        let mut attempt = 0;
        let created = loop {
            let sent = aws
                .send_create(
                    "CreateEventSourceMapping",
                    || {
                        aws.lambda()
                            .create_event_source_mapping()
                            .event_source_arn(text(desired, "event_source_arn"))
                            .function_name(text(desired, "function_arn"))
                            .set_starting_position(
                                desired
                                    .get("starting_position")
                                    .and_then(Value::as_str)
                                    .map(EventSourcePosition::from),
                            )
                            .set_batch_size(int(desired, "batch_size").map(|n| n as i32))
                            .maximum_batching_window_in_seconds(
                                int(desired, "maximum_batching_window_in_seconds").unwrap_or(0)
                                    as i32,
                            )
                            .set_function_response_types(Some(response_types_of(desired)))
                            .enabled(flag(desired, "enabled"))
                            .set_filter_criteria(
                                desired
                                    .get("filters")
                                    .and_then(Value::as_array)
                                    .is_some_and(|f| !f.is_empty())
                                    .then(|| filter_criteria(desired)),
                            )
                            .set_scaling_config((limit > 0).then(|| scaling(desired)))
                            .send()
                    },
                    |e: &aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingError| {
                        if e.is_resource_conflict_exception() {
                            Some(ErrorClass::AlreadyExists)
                        } else if e.is_invalid_parameter_value_exception() {
                            Some(ErrorClass::EventualConsistency)
                        } else {
                            conflict_or_throttle(false, e.is_too_many_requests_exception())
                        }
                    },
                )
                .await;
            match sent {
                Err(error) if error.class == ErrorClass::EventualConsistency => {
                    attempt += 1;
                    match retry::delay(error.class, attempt, fastrand::f64()) {
                        Some(delay) if attempt < aws.max_attempts => {
                            tokio::time::sleep(delay).await
                        }
                        _ => return Err(error),
                    }
                }
                other => break other?,
            }
        };
        self.wait_settled(aws, created.uuid().unwrap_or_default())
            .await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        aws.send(
            "UpdateEventSourceMapping",
            || {
                aws.lambda()
                    .update_event_source_mapping()
                    .uuid(id)
                    .set_function_name(
                        changed(fields, "function_arn").then(|| text(after, "function_arn").to_owned()),
                    )
                    .set_batch_size(int(after, "batch_size").map(|n| n as i32))
                    .maximum_batching_window_in_seconds(
                        int(after, "maximum_batching_window_in_seconds").unwrap_or(0) as i32,
                    )
                    .set_function_response_types(Some(response_types_of(after)))
                    .enabled(flag(after, "enabled"))
                    .set_filter_criteria(
                        changed(fields, "filters").then(|| filter_criteria(after)),
                    )
                    .set_scaling_config(
                        changed(fields, "maximum_concurrency").then(|| scaling(after)),
                    )
                    .send()
            },
            |e: &aws_sdk_lambda::operation::update_event_source_mapping::UpdateEventSourceMappingError| {
                if e.is_resource_not_found_exception() {
                    Some(ErrorClass::NotFound)
                } else {
                    conflict_or_throttle(
                        e.is_resource_in_use_exception() || e.is_resource_conflict_exception(),
                        e.is_too_many_requests_exception(),
                    )
                }
            },
        )
        .await?;
        self.wait_settled(aws, id).await
    }

    /// AWS deletes a mapping in the background: done when it is gone.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteEventSourceMapping",
            || aws.lambda().delete_event_source_mapping().uuid(id).send(),
            |e: &aws_sdk_lambda::operation::delete_event_source_mapping::DeleteEventSourceMappingError| {
                if e.is_resource_not_found_exception() {
                    Some(ErrorClass::NotFound)
                } else {
                    conflict_or_throttle(
                        e.is_resource_in_use_exception() || e.is_resource_conflict_exception(),
                        e.is_too_many_requests_exception(),
                    )
                }
            },
        )
        .await?;
        crate::aws::wait_for("GetEventSourceMapping", 300, || async {
            Ok(self.get(aws, id).await?.is_none().then_some(()))
        })
        .await
    }
}

/// Terraform's view: `aws_lambda_event_source_mapping`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let filters: Vec<Value> = a
        .get("filters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|pattern| json!({"pattern": json_string(pattern)}))
        .collect();
    let limit = v(a, "maximum_concurrency");
    vec![tf(
        "aws_lambda_event_source_mapping",
        json!({
            "arn": v(a, "arn"), "uuid": v(a, "uuid"),
            "event_source_arn": v(a, "event_source_arn"),
            "function_name": v(a, "function_arn"), "function_arn": v(a, "function_arn"),
            "starting_position": v(a, "starting_position"),
            "batch_size": v(a, "batch_size"),
            "maximum_batching_window_in_seconds": v(a, "maximum_batching_window_in_seconds"),
            "function_response_types": v(a, "function_response_types"),
            "enabled": v(a, "enabled"),
            "filter_criteria": block_if(!filters.is_empty(), json!({"filter": filters})),
            "scaling_config": block_if(limit != json!(0), json!({"maximum_concurrency": limit})),
        }),
    )]
}

/// A mapping from a queue or a DynamoDB stream; cairn describes no other
/// source, nor a stream's retry and failure settings.
fn import_mapping(a: &Map<String, Value>) -> Result<String, String> {
    use crate::types::terraform::none_of;
    none_of(a, "destination_config", "a failure destination")?;
    none_of(a, "self_managed_event_source", "a self-managed source")?;
    none_of(a, "topics", "Kafka topics")?;
    none_of(a, "queues", "Amazon MQ queues")?;
    crate::types::terraform::attribute(a, "uuid")
}

pub static SPEC: Spec = Spec {
    schema: &LAMBDA_EVENT_SOURCE_MAPPING,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":event-source-mapping:"),
    arn_example: (
        "arn:aws:lambda:us-east-1:1:event-source-mapping:6c2a1b7e-0000-4000-8000-000000000000",
        Some("6c2a1b7e-0000-4000-8000-000000000000"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    // One mapping from a source to a function (AWS refuses a second),
    // as the stack writes both: `${queue.arn}` is one queue.
    identity: Some(Identity {
        field: "function_arn",
        of: |written| {
            Some(format!(
                "from {} to {}",
                written.raw("event_source_arn")?,
                written.raw("function_arn")?
            ))
        },
    }),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_lambda_event_source_mapping"],
        map: terraform,
        import: import_mapping,
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Mapping,
    unmanaged: Unmanaged::NotTaggable,
};
