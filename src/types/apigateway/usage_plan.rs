//! An API Gateway usage plan: throttling, a quota per day, week or month,
//! the API stages it covers and the keys it admits.

use super::{errors, patch};
use crate::aws::{changed, int, present, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed, TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_apigateway::types::{
    ApiStage, Op, PatchOperation, QuotaPeriodType, QuotaSettings, ThrottleSettings,
};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

const STAGE: &[Field] = &[
    Field::new("api_id", K::Str).required(),
    Field::new("stage", K::Str).required(),
];

pub static USAGE_PLAN: Schema = Schema {
    type_name: "usage_plan",
    description: "API Gateway usage plan: throttling, quota, stages and API keys",
    fields: &[
        Field::new("name", K::Str).required(),
        Field::new("description", K::Str).or(F::Str("")),
        // Requests per second, and the burst above it.
        Field::new("throttle_rate_limit", K::Float),
        Field::new("throttle_burst_limit", K::Int),
        // Requests per period; absent: no quota.
        Field::new("quota_limit", K::Int),
        Field::new("quota_period", K::Str)
            .or(F::Str("DAY"))
            .one_of(&["DAY", "WEEK", "MONTH"], "a quota period"),
        Field::new("api_stages", K::ObjectSet(STAGE)).or(F::EmptyList),
        Field::new("api_key_ids", K::StrSet).or(F::EmptyList),
        TAGS,
    ],
    outputs: &["id", "arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_plan,
};

/// What API Gateway refuses, and the account's default ceiling (10,000
/// requests per second, burst 5,000).
fn validate_plan(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let rate = properties
        .get("throttle_rate_limit")
        .and_then(Value::as_f64);
    let burst = properties
        .get("throttle_burst_limit")
        .and_then(Value::as_i64);
    if let Some(rate) = rate.filter(|r| !(0.0..=10_000.0).contains(r)) {
        problems.push(Problem::new(
            "throttle_rate_limit",
            format!("a rate limit is 0 to 10000 requests per second (the account's default ceiling), got {rate}"),
        ));
    }
    if let Some(burst) = burst.filter(|b| !(0..=5_000).contains(b)) {
        problems.push(Problem::new(
            "throttle_burst_limit",
            format!("a burst limit is 0 to 5000 (the account's default ceiling), got {burst}"),
        ));
    }
    if rate.is_some() != burst.is_some() {
        problems.push(Problem::new(
            "throttle_burst_limit",
            "give both `throttle_rate_limit` and `throttle_burst_limit`, or neither",
        ));
    }
    if let Some(limit) = properties.get("quota_limit").and_then(Value::as_i64) {
        if limit < 1 {
            problems.push(Problem::new(
                "quota_limit",
                format!("a quota is at least 1 request, got {limit}"),
            ));
        }
    }
    problems
}

fn stage_value(stage: &ApiStage) -> Value {
    json!({
        "api_id": stage.api_id().unwrap_or_default(),
        "stage": stage.stage().unwrap_or_default(),
    })
}

pub struct UsagePlan;

impl UsagePlan {
    async fn read_plan(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "GetUsagePlan",
                || aws.restapi().get_usage_plan().usage_plan_id(id).send(),
                errors,
            )
            .await;
        let Some(plan) = present(found)? else {
            return Ok(None);
        };
        let keys = aws
            .send(
                "GetUsagePlanKeys",
                || {
                    aws.restapi()
                        .get_usage_plan_keys()
                        .usage_plan_id(id)
                        .limit(500)
                        .send()
                },
                errors,
            )
            .await?;
        let mut key_ids: Vec<&str> = keys.items().iter().filter_map(|k| k.id()).collect();
        key_ids.sort_unstable();
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(plan.name()));
        attributes.insert(
            "description".into(),
            json!(plan.description().unwrap_or_default()),
        );
        attributes.insert(
            "throttle_rate_limit".into(),
            json!(plan.throttle().map(|t| t.rate_limit())),
        );
        attributes.insert(
            "throttle_burst_limit".into(),
            json!(plan.throttle().map(|t| t.burst_limit())),
        );
        attributes.insert("quota_limit".into(), json!(plan.quota().map(|q| q.limit())));
        attributes.insert(
            "quota_period".into(),
            json!(plan
                .quota()
                .and_then(|q| q.period())
                .map_or("DAY", |p| p.as_str())),
        );
        attributes.insert(
            "api_stages".into(),
            crate::schema::normalize(
                K::ObjectSet(STAGE),
                &Value::Array(plan.api_stages().iter().map(stage_value).collect()),
            ),
        );
        attributes.insert("api_key_ids".into(), json!(key_ids));
        attributes.insert(
            "tags".into(),
            Value::Object(
                plan.tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                    .unwrap_or_default(),
            ),
        );
        Ok(Some(observation(
            id,
            attributes,
            [
                ("id", json!(id)),
                ("arn", json!(super::arn(aws, "usageplans", id))),
            ],
        )))
    }

    async fn read_back(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        read_back(
            self.read_plan(aws, id).await,
            After::Create,
            "GetUsagePlan",
            format!("usage plan {id} not visible yet"),
        )
    }

    /// Adds and removes keys to match `desired` (each safe to repeat).
    async fn converge_keys(
        &self,
        aws: &Aws,
        id: &str,
        observed: &Map<String, Value>,
        desired: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let have = strings(observed, "api_key_ids");
        let want = strings(desired, "api_key_ids");
        for gone in have.iter().filter(|k| !want.contains(k)) {
            aws.send_delete(
                "DeleteUsagePlanKey",
                || {
                    aws.restapi()
                        .delete_usage_plan_key()
                        .usage_plan_id(id)
                        .key_id(gone)
                        .send()
                },
                errors,
            )
            .await?;
        }
        for new in want.iter().filter(|k| !have.contains(k)) {
            let added = aws
                .send(
                    "CreateUsagePlanKey",
                    || {
                        aws.restapi()
                            .create_usage_plan_key()
                            .usage_plan_id(id)
                            .key_id(new)
                            .key_type("API_KEY")
                            .send()
                    },
                    errors,
                )
                .await;
            match added {
                Err(e) if e.class == ErrorClass::AlreadyExists => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }
}

fn stages(desired: &Map<String, Value>) -> Vec<ApiStage> {
    desired
        .get("api_stages")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|s| {
                    ApiStage::builder()
                        .api_id(s["api_id"].as_str().unwrap_or_default())
                        .stage(s["stage"].as_str().unwrap_or_default())
                        .build()
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Resource for UsagePlan {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_plan(aws, id).await
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let wanted = string_map(desired, "tags");
        let listed = aws
            .send(
                "GetUsagePlans",
                || aws.restapi().get_usage_plans().limit(500).send(),
                errors,
            )
            .await?;
        let found = listed.items().iter().find(|plan| {
            [TAG_STACK, TAG_ENVIRONMENT, TAG_ADDRESS]
                .iter()
                .all(|k| plan.tags().and_then(|t| t.get(*k)) == wanted.get(*k))
        });
        match found.and_then(|plan| plan.id()) {
            Some(id) => self.read_plan(aws, id).await,
            None => Ok(None),
        }
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let throttle = desired
            .get("throttle_rate_limit")
            .and_then(Value::as_f64)
            .map(|rate| {
                ThrottleSettings::builder()
                    .rate_limit(rate)
                    .burst_limit(int(desired, "throttle_burst_limit").unwrap_or(0) as i32)
                    .build()
            });
        let quota = int(desired, "quota_limit").map(|limit| {
            QuotaSettings::builder()
                .limit(limit as i32)
                .period(QuotaPeriodType::from(text(desired, "quota_period")))
                .build()
        });
        let created = aws
            .send_create(
                "CreateUsagePlan",
                || {
                    aws.restapi()
                        .create_usage_plan()
                        .name(text(desired, "name"))
                        .description(text(desired, "description"))
                        .set_throttle(throttle.clone())
                        .set_quota(quota.clone())
                        .set_api_stages(Some(stages(desired)))
                        .set_tags(Some(string_map(desired, "tags").into_iter().collect()))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created.id().unwrap_or_default().to_owned();
        self.converge_keys(aws, &id, &Map::new(), desired).await?;
        self.read_back(aws, &id).await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        let current = self.read_back(aws, id).await?;
        let mut patches = Vec::new();
        for (field, path) in [("name", "/name"), ("description", "/description")] {
            if changed(fields, field) {
                patches.push(patch(
                    Op::Replace,
                    path,
                    Some(text(after, field).to_owned()),
                ));
            }
        }
        let number = |key: &str| {
            after
                .get(key)
                .filter(|v| !v.is_null())
                .map(Value::to_string)
        };
        if changed(fields, "throttle_rate_limit") || changed(fields, "throttle_burst_limit") {
            match (
                number("throttle_rate_limit"),
                number("throttle_burst_limit"),
            ) {
                (Some(rate), Some(burst)) => {
                    patches.push(patch(Op::Replace, "/throttle/rateLimit", Some(rate)));
                    patches.push(patch(Op::Replace, "/throttle/burstLimit", Some(burst)));
                }
                _ => patches.push(patch(Op::Remove, "/throttle", None)),
            }
        }
        if changed(fields, "quota_limit") || changed(fields, "quota_period") {
            match number("quota_limit") {
                Some(limit) => {
                    patches.push(patch(Op::Replace, "/quota/limit", Some(limit)));
                    patches.push(patch(
                        Op::Replace,
                        "/quota/period",
                        Some(text(after, "quota_period").to_owned()),
                    ));
                }
                None => patches.push(patch(Op::Remove, "/quota", None)),
            }
        }
        if changed(fields, "api_stages") {
            let have = current
                .attributes
                .get("api_stages")
                .cloned()
                .unwrap_or(json!([]));
            let want = crate::schema::normalize(
                K::ObjectSet(STAGE),
                after.get("api_stages").unwrap_or(&json!([])),
            );
            let key = |s: &Value| {
                format!(
                    "{}:{}",
                    s["api_id"].as_str().unwrap_or_default(),
                    s["stage"].as_str().unwrap_or_default()
                )
            };
            let (have, want) = (
                have.as_array().cloned().unwrap_or_default(),
                want.as_array().cloned().unwrap_or_default(),
            );
            for gone in have.iter().filter(|s| !want.contains(s)) {
                patches.push(patch(Op::Remove, "/apiStages", Some(key(gone))));
            }
            for new in want.iter().filter(|s| !have.contains(s)) {
                patches.push(patch(Op::Add, "/apiStages", Some(key(new))));
            }
        }
        if !patches.is_empty() {
            aws.send(
                "UpdateUsagePlan",
                || {
                    aws.restapi()
                        .update_usage_plan()
                        .usage_plan_id(id)
                        .set_patch_operations(Some(patches.clone()))
                        .send()
                },
                errors,
            )
            .await?;
        }
        if changed(fields, "api_key_ids") {
            self.converge_keys(aws, id, &current.attributes, after)
                .await?;
        }
        if changed(fields, "tags") {
            let arn = super::arn(aws, "usageplans", id);
            super::Tags.retag(aws, &arn, before, after).await?;
        }
        self.read_back(aws, id).await
    }

    /// AWS refuses to delete a plan that still covers stages: they are
    /// removed first.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(current) = self.read_plan(aws, id).await? else {
            return Ok(());
        };
        let patches: Vec<PatchOperation> = current
            .attributes
            .get("api_stages")
            .and_then(Value::as_array)
            .map(|stages| {
                stages
                    .iter()
                    .map(|s| {
                        patch(
                            Op::Remove,
                            "/apiStages",
                            Some(format!(
                                "{}:{}",
                                s["api_id"].as_str().unwrap_or_default(),
                                s["stage"].as_str().unwrap_or_default()
                            )),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !patches.is_empty() {
            aws.send_delete(
                "UpdateUsagePlan",
                || {
                    aws.restapi()
                        .update_usage_plan()
                        .usage_plan_id(id)
                        .set_patch_operations(Some(patches.clone()))
                        .send()
                },
                errors,
            )
            .await?;
        }
        aws.send_delete(
            "DeleteUsagePlan",
            || aws.restapi().delete_usage_plan().usage_plan_id(id).send(),
            errors,
        )
        .await
    }
}

fn list_plans<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<crate::types::Listed, AwsError>> {
    Box::pin(async move {
        let listed = aws
            .send(
                "GetUsagePlans",
                || aws.restapi().get_usage_plans().limit(500).send(),
                errors,
            )
            .await?;
        Ok(super::listed(
            aws,
            "usageplans",
            listed.items().iter().map(|plan| (plan.id(), plan.tags())),
        ))
    })
}

/// Terraform's view: `aws_api_gateway_usage_plan`, `aws_api_gateway_usage_plan_key`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let id = v(a, "id");
    let (rate, burst, quota) = (
        v(a, "throttle_rate_limit"),
        v(a, "throttle_burst_limit"),
        v(a, "quota_limit"),
    );
    let mut out = vec![tf(
        "aws_api_gateway_usage_plan",
        tagged(
            a,
            json!({
                "id": id, "arn": v(a, "arn"), "name": v(a, "name"), "description": opt(a, "description"),
                "api_stages": a.get("api_stages").and_then(Value::as_array).into_iter().flatten()
                    .map(|s| json!({"api_id": s["api_id"], "stage": s["stage"], "throttle": []}))
                    .collect::<Vec<_>>(),
                "throttle_settings": block_if(!rate.is_null() || !burst.is_null(), json!({
                    "rate_limit": rate, "burst_limit": burst,
                })),
                "quota_settings": block_if(!quota.is_null(), json!({
                    "limit": quota, "period": v(a, "quota_period"), "offset": 0,
                })),
            }),
        ),
    )];
    for (i, key) in a
        .get("api_key_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push(each(
            "aws_api_gateway_usage_plan_key",
            i,
            json!({
                "key_id": key, "key_type": "API_KEY", "usage_plan_id": id,
            }),
        ));
    }
    out
}

pub static SPEC: Spec = Spec {
    schema: &USAGE_PLAN,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, "/usageplans/"),
    arn_example: ("arn:aws:apigateway:us-east-1::/usageplans/u1", Some("u1")),
    bulk_tagged: false,
    create_before_destroy: true,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &[
            "aws_api_gateway_usage_plan",
            "aws_api_gateway_usage_plan_key",
        ],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &UsagePlan,
    unmanaged: Unmanaged::Listed(list_plans),
};
