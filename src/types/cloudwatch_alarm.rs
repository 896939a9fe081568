//! A CloudWatch metric or metric-math alarm.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{changed, flag, int, missing, tags_value, text, Aws, AwsError};
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, StandardUnit,
    Statistic, Tag,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const METRIC_STAT: &[Field] = &[
    Field::new("namespace", K::Str)
        .required()
        .check(c::metric_namespace),
    Field::new("metric_name", K::Str).required(),
    Field::new("dimensions", K::StrMap)
        .or(F::EmptyMap)
        .check(dimension_count),
    Field::new("period", K::Int).required().check(alarm_period),
    Field::new("stat", K::Str).required(),
    Field::new("unit", K::Str).check(c::metric_unit),
];

const METRIC_QUERY: &[Field] = &[
    Field::new("id", K::Str).required().check(metric_query_id),
    Field::new("expression", K::Str).check(metric_expression),
    Field::new("label", K::Str),
    Field::new("return_data", K::Bool),
    Field::new("metric", K::Object(METRIC_STAT)),
];

/// A metric-math expression: CloudWatch takes 1 to 2048 characters.
fn metric_expression(value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("expected a string")?;
    let length = text.chars().count();
    if text.trim().is_empty() {
        return Err(
            "a metric-math expression cannot be empty (write one such as `100 * errors / invocations`, or use `metric`)".into(),
        );
    }
    if length > 2048 {
        return Err(format!(
            "a metric-math expression is at most 2048 characters, got {length}"
        ));
    }
    Ok(())
}

pub static CLOUDWATCH_ALARM: Schema = Schema {
    type_name: "cloudwatch_alarm",
    description: "CloudWatch metric or metric-math alarm",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(alarm_name),
        Field::new("description", K::Str).or(F::Str("")),
        Field::new("namespace", K::Str).check(c::metric_namespace),
        Field::new("metric_name", K::Str),
        Field::new("statistic", K::Str).check(statistic),
        Field::new("dimensions", K::StrMap)
            .or(F::EmptyMap)
            .check(dimension_count),
        Field::new("period", K::Int).check(alarm_period),
        Field::new("unit", K::Str).check(c::metric_unit),
        Field::new("metrics", K::ObjectList(METRIC_QUERY)).or(F::EmptyList),
        Field::new("evaluation_periods", K::Int)
            .required()
            .check(c::positive),
        Field::new("datapoints_to_alarm", K::Int).check(c::positive),
        Field::new("threshold", K::Float).required(),
        Field::new("comparison_operator", K::Str)
            .required()
            .check(comparison_operator),
        Field::new("treat_missing_data", K::Str)
            .or(F::Str("missing"))
            .check(treat_missing_data),
        Field::new("actions_enabled", K::Bool).or(F::Bool(true)),
        Field::new("alarm_actions", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        Field::new("ok_actions", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        Field::new("insufficient_data_actions", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_alarm,
};

fn alarm_name(value: &Value) -> Result<(), String> {
    c::length(c::text(value)?, 1, 255, "an alarm name")
}

fn statistic(value: &Value) -> Result<(), String> {
    c::one_of(
        value,
        &["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
        "statistic",
    )
}

fn comparison_operator(value: &Value) -> Result<(), String> {
    c::one_of(
        value,
        &[
            "GreaterThanOrEqualToThreshold",
            "GreaterThanThreshold",
            "LessThanThreshold",
            "LessThanOrEqualToThreshold",
            "LessThanLowerOrGreaterThanUpperThreshold",
            "LessThanLowerThreshold",
            "GreaterThanUpperThreshold",
        ],
        "comparison_operator",
    )
}

fn treat_missing_data(value: &Value) -> Result<(), String> {
    c::one_of(
        value,
        &["breaching", "notBreaching", "ignore", "missing"],
        "treat_missing_data",
    )
}

/// CloudWatch accepts 10, 20 and 30 seconds (high resolution) or any
/// multiple of 60.
fn alarm_period(value: &Value) -> Result<(), String> {
    match value.as_i64() {
        Some(10 | 20 | 30) => Ok(()),
        Some(n) if n >= 60 && n % 60 == 0 => Ok(()),
        Some(n) => Err(format!(
            "period must be 10, 20, 30 or a multiple of 60 seconds, got {n}"
        )),
        None => Err("expected an integer".to_owned()),
    }
}

fn metric_query_id(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    c::length(v, 1, 255, "a metric query id")?;
    if !v.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "a metric query id must start with a lowercase letter, got `{v}`"
        ));
    }
    c::charset(
        v,
        |c| c.is_ascii_alphanumeric() || c == '_',
        "a metric query id",
        "letters, digits and _",
    )
}

fn dimension_count(value: &Value) -> Result<(), String> {
    let count = value.as_object().map_or(0, |m| m.len());
    if count > 30 {
        return Err(format!("an alarm takes at most 30 dimensions, got {count}"));
    }
    Ok(())
}

fn validate_alarm(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let has = |k: &str| properties.get(k).is_some_and(|v| !v.is_null());
    let metrics = properties
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let single = ["namespace", "metric_name", "statistic", "period"];
    if metrics.is_empty() {
        for key in single {
            if !has(key) {
                problems.push(Problem::new(
                    "",
                    format!("a metric alarm needs `{key}` (or use `metrics` for metric math)"),
                ));
            }
        }
    } else {
        for key in single.iter().chain(["dimensions"].iter()) {
            let set = match properties.get(*key) {
                Some(Value::Object(m)) => !m.is_empty(),
                Some(v) => !v.is_null(),
                None => false,
            };
            if set {
                problems.push(Problem::new(
                    *key,
                    format!("`{key}` cannot be combined with `metrics`"),
                ));
            }
        }
        let returning = metrics
            .iter()
            .filter(|m| m.get("return_data") == Some(&Value::Bool(true)))
            .count();
        if returning != 1 {
            problems.push(Problem::new(
                "metrics",
                "exactly one entry of `metrics` must have `return_data: true`",
            ));
        }
        for (i, metric) in metrics.iter().enumerate() {
            let expression = metric.get("expression").is_some_and(|v| !v.is_null());
            let stat = metric.get("metric").is_some_and(|v| !v.is_null());
            if expression == stat {
                problems.push(Problem::new(
                    format!("metrics.{i}"),
                    "each entry has exactly one of `expression` and `metric`",
                ));
            }
        }
    }
    let period = properties
        .get("period")
        .and_then(Value::as_i64)
        .unwrap_or(60);
    let evaluations = properties
        .get("evaluation_periods")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if period * evaluations > 86_400 {
        problems.push(Problem::new(
            "evaluation_periods",
            format!(
                "period × evaluation_periods may be at most one day (86400 s), got {}",
                period * evaluations
            ),
        ));
    }
    if let Some(datapoints) = properties
        .get("datapoints_to_alarm")
        .and_then(Value::as_i64)
    {
        if datapoints > evaluations {
            problems.push(Problem::new(
                "datapoints_to_alarm",
                "datapoints_to_alarm may not exceed evaluation_periods",
            ));
        }
    }
    problems
}

pub struct Alarm;

/// DescribeAlarms takes at most 100 names.
const BATCH: usize = 100;

fn dimensions_json(dimensions: &[Dimension]) -> Value {
    Value::Object(
        dimensions
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_owned(),
                    Value::String(d.value().unwrap_or_default().to_owned()),
                )
            })
            .collect(),
    )
}

fn dimensions(map: &Map<String, Value>) -> Vec<Dimension> {
    crate::aws::string_map(map, "dimensions")
        .into_iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect()
}

fn query_json(query: &MetricDataQuery) -> Value {
    let metric = query.metric_stat().map_or(Value::Null, |stat| {
        let metric = stat.metric();
        json!({
            "namespace": metric.and_then(|m| m.namespace()).unwrap_or_default(),
            "metric_name": metric.and_then(|m| m.metric_name()).unwrap_or_default(),
            "dimensions": dimensions_json(metric.map(|m| m.dimensions()).unwrap_or_default()),
            "period": stat.period(),
            "stat": stat.stat(),
            "unit": stat.unit().map(|u| u.as_str()),
        })
    });
    json!({
        "id": query.id(),
        "expression": query.expression(),
        "label": query.label(),
        "return_data": query.return_data(),
        "metric": metric,
    })
}

fn query(value: &Value) -> MetricDataQuery {
    let map = value.as_object().cloned().unwrap_or_default();
    let stat = map.get("metric").and_then(Value::as_object).map(|m| {
        MetricStat::builder()
            .metric(
                Metric::builder()
                    .namespace(text(m, "namespace"))
                    .metric_name(text(m, "metric_name"))
                    .set_dimensions(Some(dimensions(m)))
                    .build(),
            )
            .period(int(m, "period").unwrap_or(60) as i32)
            .stat(text(m, "stat"))
            .set_unit(
                m.get("unit")
                    .and_then(Value::as_str)
                    .map(StandardUnit::from),
            )
            .build()
    });
    MetricDataQuery::builder()
        .id(text(&map, "id"))
        .set_expression(
            map.get("expression")
                .and_then(Value::as_str)
                .map(str::to_owned),
        )
        .set_label(map.get("label").and_then(Value::as_str).map(str::to_owned))
        .set_return_data(map.get("return_data").and_then(Value::as_bool))
        .set_metric_stat(stat)
        .build()
}

fn attributes(alarm: &MetricAlarm, tags: Value) -> Map<String, Value> {
    let mut a = Map::new();
    a.insert("name".into(), json!(alarm.alarm_name()));
    a.insert(
        "description".into(),
        json!(alarm.alarm_description().unwrap_or_default()),
    );
    a.insert("namespace".into(), json!(alarm.namespace()));
    a.insert("metric_name".into(), json!(alarm.metric_name()));
    a.insert(
        "statistic".into(),
        json!(alarm.statistic().map(|s| s.as_str())),
    );
    a.insert("dimensions".into(), dimensions_json(alarm.dimensions()));
    a.insert("period".into(), json!(alarm.period()));
    a.insert("unit".into(), json!(alarm.unit().map(|u| u.as_str())));
    a.insert(
        "metrics".into(),
        Value::Array(alarm.metrics().iter().map(query_json).collect()),
    );
    a.insert(
        "evaluation_periods".into(),
        json!(alarm.evaluation_periods()),
    );
    a.insert(
        "datapoints_to_alarm".into(),
        json!(alarm.datapoints_to_alarm()),
    );
    a.insert("threshold".into(), json!(alarm.threshold()));
    a.insert(
        "comparison_operator".into(),
        json!(alarm.comparison_operator().map(|c| c.as_str())),
    );
    a.insert(
        "treat_missing_data".into(),
        json!(alarm.treat_missing_data().unwrap_or("missing")),
    );
    a.insert(
        "actions_enabled".into(),
        json!(alarm.actions_enabled().unwrap_or(true)),
    );
    let sorted = |items: &[String]| {
        let mut items = items.to_vec();
        items.sort();
        json!(items)
    };
    a.insert("alarm_actions".into(), sorted(alarm.alarm_actions()));
    a.insert("ok_actions".into(), sorted(alarm.ok_actions()));
    a.insert(
        "insufficient_data_actions".into(),
        sorted(alarm.insufficient_data_actions()),
    );
    a.insert("tags".into(), tags);
    a
}

impl Alarm {
    async fn describe(&self, aws: &Aws, names: &[String]) -> Result<Vec<MetricAlarm>, AwsError> {
        let pages = aws
            .pages(
                "DescribeAlarms",
                |token| {
                    aws.cloudwatch()
                        .describe_alarms()
                        .set_alarm_names(Some(names.to_vec()))
                        .set_next_token(token)
                        .send()
                },
                |page| page.next_token(),
                |_| None,
            )
            .all()
            .await?;
        Ok(pages
            .iter()
            .flat_map(|page| page.metric_alarms())
            .cloned()
            .collect())
    }

    async fn observe(&self, aws: &Aws, alarm: &MetricAlarm) -> Result<Observed, AwsError> {
        let arn = alarm.alarm_arn().unwrap_or_default().to_owned();
        let tags = match aws.confirmed_tags(&arn).await {
            Some(tags) => tags,
            None => {
                let tags = aws
                    .send(
                        "ListTagsForResource",
                        || {
                            aws.cloudwatch()
                                .list_tags_for_resource()
                                .resource_arn(&arn)
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                tags_value(
                    tags.tags()
                        .iter()
                        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
                )
            }
        };
        Ok(observation(
            alarm.alarm_name().unwrap_or_default(),
            attributes(alarm, tags),
            [("arn", Value::String(arn))],
        ))
    }

    async fn read_one(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let found = self.describe(aws, &[name.to_owned()]).await?;
        match found.iter().find(|a| a.alarm_name() == Some(name)) {
            Some(alarm) => Ok(Some(self.observe(aws, alarm).await?)),
            None => Ok(None),
        }
    }

    async fn put(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
        tags: Option<Vec<Tag>>,
    ) -> Result<(), AwsError> {
        let metrics: Vec<MetricDataQuery> = desired
            .get("metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(query)
            .collect();
        let optional = |key: &str| desired.get(key).and_then(Value::as_str).map(str::to_owned);
        aws.send(
            "PutMetricAlarm",
            || {
                aws.cloudwatch()
                    .put_metric_alarm()
                    .alarm_name(text(desired, "name"))
                    .alarm_description(text(desired, "description"))
                    .set_namespace(optional("namespace"))
                    .set_metric_name(optional("metric_name"))
                    .set_statistic(optional("statistic").map(|s| Statistic::from(s.as_str())))
                    .set_dimensions((!dimensions(desired).is_empty()).then(|| dimensions(desired)))
                    .set_period(int(desired, "period").map(|p| p as i32))
                    .set_unit(optional("unit").map(|u| StandardUnit::from(u.as_str())))
                    .set_metrics((!metrics.is_empty()).then(|| metrics.clone()))
                    .evaluation_periods(int(desired, "evaluation_periods").unwrap_or(1) as i32)
                    .set_datapoints_to_alarm(int(desired, "datapoints_to_alarm").map(|d| d as i32))
                    .threshold(
                        desired
                            .get("threshold")
                            .and_then(Value::as_f64)
                            .unwrap_or(0.0),
                    )
                    .comparison_operator(ComparisonOperator::from(text(
                        desired,
                        "comparison_operator",
                    )))
                    .treat_missing_data(text(desired, "treat_missing_data"))
                    .actions_enabled(flag(desired, "actions_enabled"))
                    .set_alarm_actions(Some(crate::aws::strings(desired, "alarm_actions")))
                    .set_ok_actions(Some(crate::aws::strings(desired, "ok_actions")))
                    .set_insufficient_data_actions(Some(crate::aws::strings(
                        desired,
                        "insufficient_data_actions",
                    )))
                    .set_tags(tags.clone())
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

impl Tagging for Alarm {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags: Vec<Tag> = set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        aws.send(
            "TagResource",
            || {
                aws.cloudwatch()
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
                aws.cloudwatch()
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

impl Resource for Alarm {
    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_one(aws, id).await
    }

    async fn read_many(
        &self,
        aws: &Aws,
        ids: &[String],
    ) -> Result<BTreeMap<String, Option<Observed>>, AwsError> {
        let mut out: BTreeMap<String, Option<Observed>> =
            ids.iter().map(|id| (id.clone(), None)).collect();
        for chunk in ids.chunks(BATCH) {
            for alarm in self.describe(aws, chunk).await? {
                let observed = self.observe(aws, &alarm).await?;
                if let Some(slot) = out.get_mut(&observed.id) {
                    *slot = Some(observed);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let tags: Vec<Tag> = crate::aws::string_map(desired, "tags")
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.put(aws, desired, Some(tags)).await?;
        let name = text(desired, "name");
        read_back(
            self.read_one(aws, name).await,
            After::Create,
            "DescribeAlarms",
            "alarm not visible after create",
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
        if fields.iter().any(|f| f != "tags") {
            self.put(aws, after, None).await?;
        }
        if changed(fields, "tags") {
            let current = read_back(
                self.read_one(aws, id).await,
                After::Update,
                "DescribeAlarms",
                "alarm disappeared",
            )?;
            let arn = text(&current.outputs, "arn").to_owned();
            self.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_one(aws, id).await,
            After::Update,
            "DescribeAlarms",
            "alarm disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteAlarms",
            || aws.cloudwatch().delete_alarms().alarm_names(id).send(),
            |e: &aws_sdk_cloudwatch::operation::delete_alarms::DeleteAlarmsError| {
                missing(e.is_resource_not_found())
            },
        )
        .await
    }
}

/// Terraform's view: `aws_cloudwatch_metric_alarm`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    let queries: Vec<Value> =
        a.get("metrics")
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |metrics| {
                metrics.iter().map(|q| {
            let m = q.get("metric").filter(|m| !m.is_null());
            json!({
                "id": q["id"], "expression": q.get("expression").cloned().unwrap_or(Value::Null),
                "label": q.get("label").cloned().unwrap_or(Value::Null),
                "return_data": q.get("return_data").cloned().unwrap_or(Value::Null),
                "account_id": null,
                "metric": m.map_or_else(|| json!([]), |m| block(json!({
                    "namespace": m["namespace"], "metric_name": m["metric_name"],
                    "dimensions": m["dimensions"], "period": m["period"], "stat": m["stat"],
                    "unit": m.get("unit").cloned().unwrap_or(Value::Null),
                }))),
            })
        }).collect()
            });
    vec![tf(
        "aws_cloudwatch_metric_alarm",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "alarm_name": v(a, "name"), "alarm_description": opt(a, "description"),
                "namespace": opt(a, "namespace"), "metric_name": opt(a, "metric_name"),
                "statistic": opt(a, "statistic"), "dimensions": v(a, "dimensions"), "period": v(a, "period"),
                "unit": opt(a, "unit"), "metric_query": queries,
                "evaluation_periods": v(a, "evaluation_periods"), "datapoints_to_alarm": v(a, "datapoints_to_alarm"),
                "threshold": v(a, "threshold"), "comparison_operator": v(a, "comparison_operator"),
                "treat_missing_data": v(a, "treat_missing_data"), "actions_enabled": v(a, "actions_enabled"),
                "alarm_actions": v(a, "alarm_actions"), "ok_actions": v(a, "ok_actions"),
                "insufficient_data_actions": v(a, "insufficient_data_actions"),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &CLOUDWATCH_ALARM,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":alarm:"),
    arn_example: ("arn:aws:cloudwatch:us-east-1:1:alarm:a", Some("a")),
    bulk_tagged: true,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_cloudwatch_metric_alarm"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "alarm_name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Alarm,
    unmanaged: Unmanaged::TaggingApi,
};
