//! A CloudWatch dashboard.

use super::{ResourceType, Unmanaged};
use crate::aws::{ignore_missing, missing, text, Aws, AwsError, Provider};
use crate::canonical;
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{no_expansion, no_validation, Field, Kind as K, Naming, Schema};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

pub static CLOUDWATCH_DASHBOARD: Schema = Schema {
    type_name: "cloudwatch_dashboard",
    description: "CloudWatch dashboard; widgets written as YAML",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(c::dashboard_name),
        Field::new("widgets", K::Json).required().check(widgets),
    ],
    outputs: &["arn"],
    taggable: false,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn widgets(value: &Value) -> Result<(), String> {
    let items = value.as_array().ok_or("widgets must be a list")?;
    for (i, widget) in items.iter().enumerate() {
        let kind = widget.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("metric" | "text" | "log" | "alarm" | "explorer")) {
            return Err(format!(
                "widget {i} needs `type`: metric, text, log, alarm or explorer"
            ));
        }
        if widget.get("properties").is_none() {
            return Err(format!("widget {i} needs `properties`"));
        }
        // The dashboard grid is 24 columns wide.
        let x = widget.get("x").and_then(Value::as_i64).unwrap_or(0);
        let width = widget.get("width").and_then(Value::as_i64).unwrap_or(6);
        if !(1..=24).contains(&width) || x < 0 || x + width > 24 {
            return Err(format!(
                "widget {i} spans columns {x} to {}; the dashboard grid has 24 (width 1 to 24, x + width at most 24)",
                x + width
            ));
        }
    }
    Ok(())
}

pub struct Dashboard;

impl Dashboard {
    async fn read_dashboard(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let output = match aws
            .send(
                "GetDashboard",
                || aws.cloudwatch().get_dashboard().dashboard_name(name).send(),
                |e: &aws_sdk_cloudwatch::operation::get_dashboard::GetDashboardError| {
                    missing(e.is_dashboard_not_found_error())
                },
            )
            .await
        {
            Ok(output) => output,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
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
        let mut outputs = Map::new();
        outputs.insert(
            "arn".into(),
            Value::String(output.dashboard_arn().unwrap_or_default().to_owned()),
        );
        Ok(Some(Observed {
            id: name.to_owned(),
            attributes: attributes.into(),
            outputs,
        }))
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
        self.read_dashboard(aws, name).await?.ok_or_else(|| {
            AwsError::new(
                ErrorClass::EventualConsistency,
                "GetDashboard",
                "dashboard not visible after put",
            )
        })
    }
}

impl Provider for Dashboard {
    fn read<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(self.read_dashboard(aws, id))
    }
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(self.put(aws, desired))
    }
    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        _id: &'a str,
        _before: &'a Map<String, Value>,
        after: &'a Map<String, Value>,
        _fields: &'a [String],
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(self.put(aws, after))
    }
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        _before: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            ignore_missing(
                aws.send("DeleteDashboards", || aws.cloudwatch().delete_dashboards().dashboard_names(id).send(), |e: &aws_sdk_cloudwatch::operation::delete_dashboards::DeleteDashboardsError| missing(e.is_dashboard_not_found_error()))
                    .await,
            )
        })
    }
}

/// Terraform's view: `aws_cloudwatch_dashboard`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    #[allow(unused_imports)]
    use super::terraform::*;
    #[allow(unused_imports)]
    use crate::model::expr;
    use serde_json::json;
    vec![tf(
        "aws_cloudwatch_dashboard",
        json!({
            "dashboard_arn": v(a, "arn"), "dashboard_name": v(a, "name"),
            "dashboard_body": json_string(&json!({"widgets": v(a, "widgets")})),
        }),
    )]
}

pub static TYPE: ResourceType = ResourceType {
    schema: &CLOUDWATCH_DASHBOARD,
    provider: &Dashboard,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":dashboard/"),
    bulk_tagged: false,
    unmanaged: Unmanaged::NotTaggable,
    create_before_destroy: false,
    terraform: super::terraform::Mapping {
        types: &["aws_cloudwatch_dashboard"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "dashboard_name"),
    },
};
