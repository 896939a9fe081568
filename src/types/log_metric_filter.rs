//! A CloudWatch Logs metric filter: log lines matching a pattern become a
//! metric (which an alarm can watch).

use super::{read_back, After, Resource, ResourceType, Unmanaged};
use crate::aws::{string_map, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use aws_sdk_cloudwatchlogs::types::{MetricFilter, MetricTransformation, StandardUnit};
use serde_json::{json, Map, Value};

const TRANSFORMATION: &[Field] = &[
    Field::new("metric_name", K::Str)
        .required()
        .check(metric_name),
    Field::new("namespace", K::Str)
        .required()
        .check(c::metric_namespace),
    Field::new("value", K::Str).or(F::Str("1")),
    // Absent: no value is published when nothing matches.
    Field::new("default_value", K::Float),
    Field::new("unit", K::Str)
        .or(F::Str("None"))
        .check(c::metric_unit),
    Field::new("dimensions", K::StrMap)
        .or(F::EmptyMap)
        .check(filter_dimensions),
];

pub static LOG_METRIC_FILTER: Schema = Schema {
    type_name: "log_metric_filter",
    description: "CloudWatch Logs metric filter: matching log lines become a metric",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(filter_name),
        Field::new("log_group_name", K::Str)
            .required()
            .force_new()
            .check(c::log_group_name),
        Field::new("pattern", K::Str).or(F::Str("")).check(pattern),
        Field::new("metric", K::Object(TRANSFORMATION)).required(),
    ],
    outputs: &[],
    taggable: false,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn filter_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if name.is_empty() || name.chars().count() > 512 || name.contains([':', '*']) {
        return Err(format!(
            "a metric filter name is 1 to 512 characters without `:` or `*` (`{name}`)"
        ));
    }
    Ok(())
}

fn metric_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if name.is_empty() || name.chars().count() > 255 || name.contains([':', '*', '$']) {
        return Err(format!(
            "a metric name is 1 to 255 characters without `:`, `*` or `$` (`{name}`)"
        ));
    }
    Ok(())
}

fn pattern(value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("expected a string")?;
    if text.chars().count() > 1024 {
        return Err("a filter pattern is at most 1024 characters".into());
    }
    Ok(())
}

fn filter_dimensions(value: &Value) -> Result<(), String> {
    let count = value.as_object().map_or(0, Map::len);
    if count > 3 {
        return Err(format!(
            "a metric filter publishes at most 3 dimensions, got {count}"
        ));
    }
    Ok(())
}

pub struct Filter;

/// `LOG_GROUP:NAME`: log group names cannot hold a colon.
fn split_id(id: &str) -> (&str, &str) {
    id.split_once(':').unwrap_or((id, ""))
}

fn filter_id(desired: &Map<String, Value>) -> Option<String> {
    Some(format!(
        "{}:{}",
        text(desired, "log_group_name"),
        text(desired, "name")
    ))
}

fn transformation(desired: &Map<String, Value>) -> MetricTransformation {
    let metric = desired
        .get("metric")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let dimensions = string_map(&metric, "dimensions");
    MetricTransformation::builder()
        .metric_name(text(&metric, "metric_name"))
        .metric_namespace(text(&metric, "namespace"))
        .metric_value(text(&metric, "value"))
        .set_default_value(metric.get("default_value").and_then(Value::as_f64))
        .unit(StandardUnit::from(text(&metric, "unit")))
        .set_dimensions((!dimensions.is_empty()).then(|| dimensions.into_iter().collect()))
        .build()
        .expect("name, namespace and value are set")
}

fn attributes(filter: &MetricFilter) -> Map<String, Value> {
    let metric = filter.metric_transformations().first();
    let mut dimensions: Vec<(&String, &String)> = metric
        .and_then(|m| m.dimensions())
        .map(|d| d.iter().collect())
        .unwrap_or_default();
    dimensions.sort();
    let mut out = Map::new();
    out.insert("name".into(), json!(filter.filter_name()));
    out.insert("log_group_name".into(), json!(filter.log_group_name()));
    out.insert(
        "pattern".into(),
        json!(filter.filter_pattern().unwrap_or_default()),
    );
    out.insert(
        "metric".into(),
        json!({
            "metric_name": metric.map(|m| m.metric_name()),
            "namespace": metric.map(|m| m.metric_namespace()),
            "value": metric.map(|m| m.metric_value()),
            "default_value": metric.and_then(|m| m.default_value()),
            "unit": metric.and_then(|m| m.unit()).map_or("None", |u| u.as_str()),
            "dimensions": dimensions.into_iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<String, Value>>(),
        }),
    );
    out
}

impl Filter {
    /// Every filter of the group with exactly this name (one on AWS; an
    /// emulator may keep the replaced ones too, oldest first).
    async fn find_named(&self, aws: &Aws, id: &str) -> Result<Vec<MetricFilter>, AwsError> {
        let (group, name) = split_id(id);
        let output = aws
            .send(
                "DescribeMetricFilters",
                || {
                    aws.logs()
                        .describe_metric_filters()
                        .log_group_name(group)
                        .filter_name_prefix(name)
                        .send()
                },
                |e| crate::aws::missing(e.is_resource_not_found_exception()),
            )
            .await;
        match output {
            Ok(output) => Ok(output
                .metric_filters()
                .iter()
                .filter(|f| f.filter_name() == Some(name))
                .cloned()
                .collect()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn read_filter(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        // The last one is the one in force.
        Ok(self
            .find_named(aws, id)
            .await?
            .last()
            .map(|filter| Observed {
                id: id.to_owned(),
                attributes: attributes(filter).into(),
                outputs: Map::new(),
            }))
    }

    /// PutMetricFilter creates or replaces by name: safe to repeat.
    async fn put(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let id = filter_id(desired).expect("a filter is named");
        let metric = transformation(desired);
        aws.send(
            "PutMetricFilter",
            || {
                aws.logs()
                    .put_metric_filter()
                    .log_group_name(text(desired, "log_group_name"))
                    .filter_name(text(desired, "name"))
                    .filter_pattern(text(desired, "pattern"))
                    .metric_transformations(metric.clone())
                    .send()
            },
            |_| None,
        )
        .await?;
        read_back(
            self.read_filter(aws, &id).await,
            After::Create,
            "DescribeMetricFilters",
            "metric filter not visible after it was put",
        )
    }
}

impl Resource for Filter {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_filter(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        self.put(aws, desired).await
    }

    async fn update(
        &self,
        aws: &Aws,
        _id: &str,
        _before: &Map<String, Value>,
        after: &Map<String, Value>,
        _fields: &[String],
    ) -> Result<Observed, AwsError> {
        self.put(aws, after).await
    }

    /// Deletes until no filter of that name is left (one call on AWS),
    /// checking after each; deleting what is gone succeeds.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let (group, name) = split_id(id);
        for _ in 0..5 {
            if self.find_named(aws, id).await?.is_empty() {
                return Ok(());
            }
            aws.send_delete(
                "DeleteMetricFilter",
                || {
                    aws.logs()
                        .delete_metric_filter()
                        .log_group_name(group)
                        .filter_name(name)
                        .send()
                },
                |e| crate::aws::missing(e.is_resource_not_found_exception()),
            )
            .await?;
        }
        Err(AwsError::new(
            ErrorClass::Fatal,
            "DeleteMetricFilter",
            format!("metric filter {name} in {group} is still listed after 5 deletes"),
        ))
    }
}

/// Terraform's view: `aws_cloudwatch_log_metric_filter`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    let m = v(a, "metric");
    let field = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    vec![tf(
        "aws_cloudwatch_log_metric_filter",
        json!({
            "name": v(a, "name"), "pattern": v(a, "pattern"), "log_group_name": v(a, "log_group_name"),
            "metric_transformation": block(json!({
                "name": field("metric_name"), "namespace": field("namespace"), "value": field("value"),
                "default_value": field("default_value"), "unit": field("unit"),
                "dimensions": field("dimensions"),
            })),
        }),
    )]
}

fn import_filter(a: &Map<String, Value>) -> Result<String, String> {
    Ok(format!(
        "{}:{}",
        super::terraform::attribute(a, "log_group_name")?,
        super::terraform::attribute(a, "name")?
    ))
}

pub static SPEC: Spec = Spec {
    schema: &LOG_METRIC_FILTER,
    planned_id: filter_id,
    id_from_arn: super::no_arn,
    arn_example: ("arn:aws:logs:us-east-1:1:log-group:/g", None),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_cloudwatch_log_metric_filter"],
        map: terraform,
        import: import_filter,
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Filter,
    unmanaged: Unmanaged::NotTaggable,
};
