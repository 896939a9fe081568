//! A CloudWatch dashboard.

use super::{read_back, After, Resource, ResourceType, Unmanaged};
use crate::aws::{missing, present, text, Aws, AwsError};
use crate::canonical;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{no_expansion, pending, Field, Kind as K, Naming, Problem, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use serde_json::{json, Map, Value};

pub static CLOUDWATCH_DASHBOARD: Schema = Schema {
    type_name: "cloudwatch_dashboard",
    description: "CloudWatch dashboard; widgets written as YAML",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(dashboard_name),
        Field::new("widgets", K::Json).required(),
    ],
    outputs: &["arn"],
    taggable: false,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_dashboard,
};

fn dashboard_name(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 255),
        "a dashboard name",
        "_-",
        "letters, digits, _ and -",
    )
}

/// What PutDashboard refuses in the widgets, after CloudWatch's
/// dashboard body grammar: each widget's type, place on the 24-column
/// grid, and the properties its type requires, of the documented kinds.
/// Values still holding a reference are not judged.
fn validate_dashboard(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(widgets) = properties.get("widgets").filter(|w| !pending(w)) else {
        return problems;
    };
    let Some(items) = widgets.as_array() else {
        problems.push(Problem::new("widgets", "widgets must be a list"));
        return problems;
    };
    if items.len() > 500 {
        problems.push(Problem::new(
            "widgets",
            format!("a dashboard holds at most 500 widgets, got {}", items.len()),
        ));
    }
    for (i, widget) in items.iter().enumerate() {
        let at = format!("widgets.{i}");
        if pending(widget) {
            continue;
        }
        let Some(widget) = widget.as_object() else {
            problems.push(Problem::new(
                &at,
                "a widget is a mapping with `type` and `properties`",
            ));
            continue;
        };
        widget_problems(&at, i, widget, &mut problems);
    }
    problems
}

/// One widget's kind-independent fields, then its type's properties.
fn widget_problems(at: &str, i: usize, widget: &Map<String, Value>, problems: &mut Vec<Problem>) {
    let kind = widget.get("type").and_then(Value::as_str);
    if !matches!(kind, Some("metric" | "text" | "log" | "alarm" | "explorer")) {
        problems.push(Problem::new(
            at,
            format!("widget {i} needs `type`: metric, text, log, alarm or explorer"),
        ));
    }
    let mut place = |key: &str, min: i64, max: i64| -> Option<i64> {
        let value = widget.get(key).filter(|v| !pending(v))?;
        match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                problems.push(Problem::new(
                    format!("{at}.{key}"),
                    format!("`{key}` is a whole number from {min} to {max}, got {value}"),
                ));
                None
            }
        }
    };
    let x = place("x", 0, 23);
    place("y", 0, i64::from(i32::MAX));
    let width = place("width", 1, 24);
    place("height", 1, 1000);
    // The dashboard grid is 24 columns wide.
    let (x, width) = (x.unwrap_or(0), width.unwrap_or(6));
    if x + width > 24 {
        problems.push(Problem::new(
            format!("{at}.width"),
            format!(
                "widget {i} spans columns {x} to {}; the dashboard grid has 24 (width 1 to 24, x + width at most 24)",
                x + width
            ),
        ));
    }
    if widget.contains_key("x") != widget.contains_key("y") {
        problems.push(Problem::new(
            at,
            "give a widget both `x` and `y`, or neither (CloudWatch then places it)",
        ));
    }
    let properties = match widget.get("properties") {
        Some(value) if pending(value) => return,
        Some(Value::Object(properties)) => properties,
        Some(other) => {
            problems.push(Problem::new(
                format!("{at}.properties"),
                format!("a widget's `properties` is a mapping, got {other}"),
            ));
            return;
        }
        None => {
            problems.push(Problem::new(at, format!("widget {i} needs `properties`")));
            return;
        }
    };
    let at = format!("{at}.properties");
    let shape = Shape {
        at: &at,
        properties,
    };
    match kind {
        Some("text") => {
            shape.string("markdown", true, problems);
            shape.one_of("background", &["solid", "transparent"], problems);
        }
        Some("metric") => {
            shape.string("region", true, problems);
            shape.string("title", false, problems);
            shape.string("stat", false, problems);
            shape.one_of(
                "view",
                &["timeSeries", "singleValue", "gauge", "bar", "pie", "table"],
                problems,
            );
            for key in ["stacked", "liveData", "sparkline"] {
                shape.boolean(key, problems);
            }
            if let Some(period) = shape.get("period") {
                if !period.as_i64().is_some_and(|p| p >= 60 && p % 60 == 0) {
                    problems.push(Problem::new(
                        format!("{at}.period"),
                        format!("a widget's `period` is a multiple of 60 seconds, got {period}"),
                    ));
                }
            }
            match shape.get("metrics") {
                Some(metrics) => metrics_problems(&format!("{at}.metrics"), metrics, problems),
                None if !properties.contains_key("metrics")
                    && !properties.contains_key("annotations") =>
                {
                    problems.push(Problem::new(
                        &at,
                        "a metric widget needs `metrics` (or an alarm in `annotations`)",
                    ));
                }
                None => {}
            }
        }
        Some("log") => {
            shape.string("query", true, problems);
            shape.string("region", true, problems);
            shape.string("title", false, problems);
            shape.one_of("view", &["table", "timeSeries", "bar", "pie"], problems);
        }
        Some("alarm") => {
            shape.string("title", false, problems);
            shape.one_of(
                "sortBy",
                &["default", "stateUpdatedTimestamp", "timestamp"],
                problems,
            );
            match shape.get("alarms") {
                Some(Value::Array(alarms))
                    if (1..=100).contains(&alarms.len())
                        && alarms.iter().all(|a| a.is_string()) => {}
                Some(other) => problems.push(Problem::new(
                    format!("{at}.alarms"),
                    format!("`alarms` is a list of 1 to 100 alarm ARNs, got {other}"),
                )),
                None if !properties.contains_key("alarms") => problems.push(Problem::new(
                    &at,
                    "an alarm widget needs `alarms` (a list of alarm ARNs)",
                )),
                None => {}
            }
        }
        Some("explorer") => {
            if let Some(metrics) = shape.get("metrics") {
                let valid = metrics.as_array().is_some_and(|items| {
                    (1..=100).contains(&items.len()) && items.iter().all(Value::is_object)
                });
                if !valid {
                    problems.push(Problem::new(
                        format!("{at}.metrics"),
                        format!("an explorer widget's `metrics` is a list of 1 to 100 mappings (metricName, resourceType, stat), got {metrics}"),
                    ));
                }
            }
        }
        _ => {}
    }
}

/// A metric widget's `metrics`: a list of entries, each
/// `[Namespace, MetricName, DimensionName, DimensionValue, ..., {options}]`
/// or `[{expression: ...}]`.
fn metrics_problems(at: &str, metrics: &Value, problems: &mut Vec<Problem>) {
    let Some(entries) = metrics.as_array() else {
        problems.push(Problem::new(
            at,
            format!("`metrics` is a list of metrics, each a list such as [AWS/Lambda, Errors, FunctionName, chat], got {metrics}"),
        ));
        return;
    };
    if entries.len() > 500 {
        problems.push(Problem::new(
            at,
            format!("a widget shows at most 500 metrics, got {}", entries.len()),
        ));
    }
    for (j, entry) in entries.iter().enumerate() {
        let Value::Array(parts) = entry else {
            continue;
        };
        let shaped = match parts.split_last() {
            None => false,
            Some((last, rest)) => {
                rest.iter().all(|p| p.is_string()) && (last.is_string() || last.is_object())
            }
        };
        if !shaped {
            problems.push(Problem::new(
                format!("{at}.{j}"),
                format!("a metric is [Namespace, MetricName, dimension names and values..., {{options}}], strings with an optional mapping last, got {entry}"),
            ));
        }
    }
}

/// The properties of one widget, for checking each field's kind.
struct Shape<'a> {
    at: &'a str,
    properties: &'a Map<String, Value>,
}

impl Shape<'_> {
    /// A field's value, unless absent or known only at apply.
    fn get(&self, key: &str) -> Option<&Value> {
        self.properties.get(key).filter(|v| !pending(v))
    }
    fn string(&self, key: &str, required: bool, problems: &mut Vec<Problem>) {
        match self.get(key) {
            Some(Value::String(_)) => {}
            Some(other) => problems.push(Problem::new(
                format!("{}.{key}", self.at),
                format!("`{key}` is a string, got {other}"),
            )),
            None if required && !self.properties.contains_key(key) => {
                problems.push(Problem::new(self.at, format!("this widget needs `{key}`")))
            }
            None => {}
        }
    }
    fn boolean(&self, key: &str, problems: &mut Vec<Problem>) {
        if let Some(value) = self.get(key).filter(|v| !v.is_boolean()) {
            problems.push(Problem::new(
                format!("{}.{key}", self.at),
                format!("`{key}` is true or false, got {value}"),
            ));
        }
    }
    fn one_of(&self, key: &str, allowed: &[&str], problems: &mut Vec<Problem>) {
        if let Some(value) = self.get(key) {
            if let Err(message) = c::one_of(value, allowed, &format!("`{key}`")) {
                problems.push(Problem::new(format!("{}.{key}", self.at), message));
            }
        }
    }
}

pub struct Dashboard;

impl Dashboard {
    async fn read_dashboard(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(output) = present(
            aws.send(
                "GetDashboard",
                || aws.cloudwatch().get_dashboard().dashboard_name(name).send(),
                |e: &aws_sdk_cloudwatch::operation::get_dashboard::GetDashboardError| {
                    missing(e.is_dashboard_not_found_error())
                },
            )
            .await,
        )?
        else {
            return Ok(None);
        };
        let body: Value = output
            .dashboard_body()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        let mut attributes = Map::new();
        attributes.insert("name".into(), Value::String(name.to_owned()));
        attributes.insert(
            "widgets".into(),
            canonical::json(body.get("widgets").unwrap_or(&Value::Null)),
        );
        Ok(Some(observation(
            name,
            attributes,
            [(
                "arn",
                Value::String(output.dashboard_arn().unwrap_or_default().to_owned()),
            )],
        )))
    }

    async fn put(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let body =
            json!({"widgets": desired.get("widgets").cloned().unwrap_or(Value::Array(Vec::new()))})
                .to_string();
        aws.send(
            "PutDashboard",
            || {
                aws.cloudwatch()
                    .put_dashboard()
                    .dashboard_name(name)
                    .dashboard_body(&body)
                    .send()
            },
            |_| None,
        )
        .await?;
        read_back(
            self.read_dashboard(aws, name).await,
            After::Create,
            "GetDashboard",
            "dashboard not visible after put",
        )
    }
}

impl Resource for Dashboard {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_dashboard(aws, id).await
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
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteDashboards",
            || {
                aws.cloudwatch()
                    .delete_dashboards()
                    .dashboard_names(id)
                    .send()
            },
            |e: &aws_sdk_cloudwatch::operation::delete_dashboards::DeleteDashboardsError| {
                missing(e.is_dashboard_not_found_error())
            },
        )
        .await
    }
}

/// Terraform's view: `aws_cloudwatch_dashboard`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    vec![tf(
        "aws_cloudwatch_dashboard",
        json!({
            "dashboard_arn": v(a, "arn"), "dashboard_name": v(a, "name"),
            "dashboard_body": json_string(&json!({"widgets": v(a, "widgets")})),
        }),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &CLOUDWATCH_DASHBOARD,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":dashboard/"),
    arn_example: ("arn:aws:cloudwatch::1:dashboard/d", Some("d")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_cloudwatch_dashboard"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "dashboard_name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Dashboard,
    unmanaged: Unmanaged::NotTaggable,
};
