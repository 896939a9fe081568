//! What AWS refuses about queues across resources, where the stack holds
//! both ends: a dead-letter queue of the other kind (FIFO or standard),
//! a mapping whose function may run longer than its queue hides a message
//! (the message would be handed out again mid-run), a mapping from what is
//! neither a queue nor a table's stream, and a batching window on a FIFO
//! queue's mapping.

use super::{literal_value, Compiler};
use crate::model::expr::{self, Part};
use crate::stack::{Diagnostic, Resource};
use serde_json::Value;

/// The resource of the stack a whole `${NAME.ATTRIBUTE}` names, and the
/// attribute.
pub(super) fn referenced<'a>(
    resources: &'a [Resource],
    value: Option<&Value>,
) -> Option<(&'a Resource, String)> {
    let parts = expr::parse(value?.as_str()?).ok()?;
    let [Part::Reference(reference)] = parts.as_slice() else {
        return None;
    };
    let resource = resources.iter().find(|r| r.name == reference.root)?;
    Some((resource, reference.attribute.clone()))
}

/// The resource of `type_name` a whole `${NAME.arn}` names.
fn named<'a>(
    resources: &'a [Resource],
    value: Option<&Value>,
    type_name: &str,
) -> Option<&'a Resource> {
    let text = value?.as_str()?;
    let name = text.strip_prefix("${")?.strip_suffix(".arn}")?;
    resources
        .iter()
        .find(|r| r.name == name && r.type_name() == type_name)
}

fn number(resource: &Resource, field: &str) -> Option<i64> {
    literal_value(resource.properties.get(field)?)?.as_i64()
}

fn fifo(queue: &Resource) -> bool {
    queue.properties.get("fifo_queue") == Some(&Value::Bool(true))
}

pub(super) fn refuse(
    c: &mut Compiler,
    at: &Resource,
    field: &str,
    message: String,
    other: &Resource,
) {
    c.diagnostics.push(Diagnostic {
        file: at.file.clone(),
        line: at.line,
        column: at.column,
        path: format!("resources.{}.properties.{field}", at.name),
        message,
        help: Some(format!(
            "{} defines `{}` at line {}",
            other.file.display(),
            other.name,
            other.line
        )),
    });
}

pub(super) fn check_queues(c: &mut Compiler, resources: &[Resource]) {
    for resource in resources {
        match resource.type_name() {
            "sqs_queue" => {
                let target = resource
                    .properties
                    .get("redrive_policy")
                    .and_then(|r| r.get("dead_letter_target_arn"));
                if let Some(dead) = named(resources, target, "sqs_queue") {
                    if fifo(dead) != fifo(resource) {
                        let message = if fifo(resource) {
                            format!("a FIFO queue's dead-letter queue must be a FIFO queue too; `{}` is a standard queue", dead.name)
                        } else {
                            format!("a standard queue's dead-letter queue must be a standard queue; `{}` is a FIFO queue", dead.name)
                        };
                        refuse(
                            c,
                            resource,
                            "redrive_policy.dead_letter_target_arn",
                            message,
                            dead,
                        );
                    }
                }
            }
            "lambda_event_source_mapping" => check_mapping(c, resources, resource),
            _ => {}
        }
    }
}

/// A mapping from a queue of the stack: what AWS refuses for that queue.
fn check_mapping(c: &mut Compiler, resources: &[Resource], mapping: &Resource) {
    let properties = &mapping.properties;
    if let Some((source, attribute)) = referenced(resources, properties.get("event_source_arn")) {
        let streaming = source.properties.get("stream_enabled") != Some(&Value::Bool(false));
        let message = match (source.type_name(), attribute.as_str()) {
            ("sqs_queue", "arn") => None,
            ("dynamodb_table", "stream_arn") if streaming => None,
            ("dynamodb_table", "stream_arn") => Some(format!(
                "table `{}` has no stream to read: set `stream_enabled: true` (and a `stream_view_type`) on it",
                source.name
            )),
            ("dynamodb_table", _) => Some(format!(
                "a mapping reads a table's stream, not the table: write `${{{}.stream_arn}}` (the table needs `stream_enabled: true`)",
                source.name
            )),
            ("sqs_queue", _) => Some(format!(
                "a mapping takes the queue's ARN: write `${{{}.arn}}`",
                source.name
            )),
            (other, _) => Some(format!(
                "a mapping reads an SQS queue (`${{QUEUE.arn}}`) or a DynamoDB table's stream (`${{TABLE.stream_arn}}`); `{}` is a {other}",
                source.name
            )),
        };
        if let Some(message) = message {
            refuse(c, mapping, "event_source_arn", message, source);
            return;
        }
    }
    let Some(queue) = named(resources, properties.get("event_source_arn"), "sqs_queue") else {
        return;
    };
    if properties
        .get("starting_position")
        .is_some_and(|v| !v.is_null())
    {
        refuse(
            c,
            mapping,
            "starting_position",
            "a starting position is for a stream; an SQS queue has none".into(),
            queue,
        );
    }
    let window = number(mapping, "maximum_batching_window_in_seconds").unwrap_or(0);
    if fifo(queue) && window > 0 {
        refuse(
            c,
            mapping,
            "maximum_batching_window_in_seconds",
            format!("a FIFO queue's mapping takes no batching window (Lambda supports none for FIFO queues); remove `maximum_batching_window_in_seconds` ({window})"),
            queue,
        );
    }
    let batch = number(mapping, "batch_size").unwrap_or(10);
    if fifo(queue) && batch > 10 {
        refuse(
            c,
            mapping,
            "batch_size",
            format!("a FIFO queue's batch is at most 10 messages, got {batch}"),
            queue,
        );
    } else if batch > 10 && window < 1 {
        refuse(
            c,
            mapping,
            "batch_size",
            format!("a batch of more than 10 messages ({batch}) needs `maximum_batching_window_in_seconds` of at least 1"),
            queue,
        );
    }
    if let Some(function) = named(resources, properties.get("function_arn"), "lambda_function") {
        let timeout = number(function, "timeout");
        let visibility = number(queue, "visibility_timeout_seconds");
        if let (Some(timeout), Some(visibility)) = (timeout, visibility) {
            if timeout > visibility {
                refuse(
                    c,
                    mapping,
                    "event_source_arn",
                    format!(
                        "function `{}`'s timeout ({timeout} s) is longer than queue `{}`'s visibility timeout ({visibility} s); AWS refuses the mapping: raise `visibility_timeout_seconds` (AWS advises six times the timeout) or lower the function's `timeout`",
                        function.name, queue.name
                    ),
                    queue,
                );
            }
        }
    }
}
