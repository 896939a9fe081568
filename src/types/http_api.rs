//! An API Gateway HTTP API with its Lambda proxy integration, routes and `$default` stage.

use super::{ResourceType, Unmanaged};
use crate::aws::{changed, int, missing, string_map, tag_changes, text, Aws, AwsError, Provider};
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::model::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use crate::schema::checks as c;
use crate::schema::{
    no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema, TAGS,
};
use aws_sdk_apigatewayv2::types::{
    AccessLogSettings, Cors, IntegrationType, ProtocolType, RouteSettings,
};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

const CORS: &[Field] = &[
    Field::new("allow_origins", K::StrSet).or(F::EmptyList),
    Field::new("allow_methods", K::StrSet).or(F::EmptyList),
    Field::new("allow_headers", K::StrSet).or(F::EmptyList),
    Field::new("expose_headers", K::StrSet).or(F::EmptyList),
    Field::new("max_age", K::Int)
        .or(F::Int(0))
        .check(c::cors_max_age),
];

const INTEGRATION: &[Field] = &[
    Field::new("function_arn", K::Str).required().check(c::arn),
    Field::new("timeout_ms", K::Int)
        .or(F::Int(30_000))
        .check(c::integration_timeout),
];

const STAGE_FIELDS: &[Field] = &[
    Field::new("throttling_burst_limit", K::Int)
        .or(F::Int(0))
        .check(c::reserved_concurrency),
    Field::new("throttling_rate_limit", K::Float)
        .or(F::Int(0))
        .check(c::non_negative),
    Field::new("access_log_arn", K::Str)
        .or(F::Str(""))
        .check(c::arn_or_empty),
    Field::new("access_log_format", K::Json),
];

pub static HTTP_API: Schema = Schema {
    type_name: "http_api",
    description: "API Gateway HTTP API: routes to one Lambda proxy integration (payload 2.0), CORS, and the $default stage with auto-deploy",
    fields: &[
        Field::new("name", K::Str).required().check(c::api_name),
        Field::new("description", K::Str).or(F::Str("")),
        Field::new("cors", K::Object(CORS)),
        Field::new("routes", K::StrSet).required().check(routes),
        Field::new("integration", K::Object(INTEGRATION)).required(),
        Field::new("stage", K::Object(STAGE_FIELDS)).required(),
        TAGS,
    ],
    outputs: &["id", "api_endpoint", "execution_arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn routes(value: &Value) -> Result<(), String> {
    let items = value.as_array().ok_or("routes must be a list")?;
    if items.is_empty() {
        return Err("an API needs at least one route".into());
    }
    items.iter().try_for_each(c::route_key)
}

/// The HTTP API with its one Lambda proxy integration, its routes and its
/// `$default` stage (auto-deployed: deployment ids are AWS's business).
pub struct HttpApi;

const STAGE: &str = "$default";

fn strings(map: &Map<String, Value>, key: &str) -> Vec<String> {
    let mut items = crate::aws::strings(map, key);
    items.sort();
    items
}

fn cors(desired: &Map<String, Value>) -> Option<Cors> {
    let cors = desired.get("cors").and_then(Value::as_object)?;
    Some(
        Cors::builder()
            .set_allow_origins(Some(strings(cors, "allow_origins")))
            .set_allow_methods(Some(strings(cors, "allow_methods")))
            .set_allow_headers(Some(strings(cors, "allow_headers")))
            .set_expose_headers(Some(strings(cors, "expose_headers")))
            .max_age(int(cors, "max_age").unwrap_or(0) as i32)
            .build(),
    )
}

fn object(desired: &Map<String, Value>, key: &str) -> Map<String, Value> {
    desired
        .get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn route_settings(stage: &Map<String, Value>) -> RouteSettings {
    RouteSettings::builder()
        .throttling_burst_limit(int(stage, "throttling_burst_limit").unwrap_or(0) as i32)
        .throttling_rate_limit(
            stage
                .get("throttling_rate_limit")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        )
        .build()
}

fn access_logs(stage: &Map<String, Value>) -> Option<AccessLogSettings> {
    let arn = text(stage, "access_log_arn");
    if arn.is_empty() {
        return None;
    }
    let format = stage
        .get("access_log_format")
        .filter(|f| !f.is_null())
        .map(Value::to_string);
    Some(
        AccessLogSettings::builder()
            .destination_arn(arn)
            .set_format(format)
            .build(),
    )
}

impl HttpApi {
    async fn read_api(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let api = match aws
            .send(
                "GetApi",
                || aws.apigateway().get_api().api_id(id).send(),
                |e: &aws_sdk_apigatewayv2::operation::get_api::GetApiError| {
                    missing(e.is_not_found_exception())
                },
            )
            .await
        {
            Ok(api) => api,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let integrations = aws
            .send(
                "GetIntegrations",
                || aws.apigateway().get_integrations().api_id(id).send(),
                |_| None,
            )
            .await?;
        let routes = aws
            .send(
                "GetRoutes",
                || aws.apigateway().get_routes().api_id(id).send(),
                |_| None,
            )
            .await?;
        let stage = match aws
            .send(
                "GetStage",
                || {
                    aws.apigateway()
                        .get_stage()
                        .api_id(id)
                        .stage_name(STAGE)
                        .send()
                },
                |e: &aws_sdk_apigatewayv2::operation::get_stage::GetStageError| {
                    missing(e.is_not_found_exception())
                },
            )
            .await
        {
            Ok(stage) => Some(stage),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let cors_value = api.cors_configuration().map_or(Value::Null, |c| {
            let sorted = |items: &[String]| {
                let mut items = items.to_vec();
                items.sort();
                json!(items)
            };
            json!({
                "allow_origins": sorted(c.allow_origins()),
                "allow_methods": sorted(c.allow_methods()),
                "allow_headers": sorted(c.allow_headers()),
                "expose_headers": sorted(c.expose_headers()),
                "max_age": c.max_age().unwrap_or(0),
            })
        });
        let integration = integrations.items().first().map_or(Value::Null, |i| json!({"function_arn": i.integration_uri(), "timeout_ms": i.timeout_in_millis().unwrap_or(30_000)}));
        let mut route_keys: Vec<&str> = routes
            .items()
            .iter()
            .filter_map(|r| r.route_key())
            .collect();
        route_keys.sort_unstable();
        let stage_value = stage.as_ref().map_or(Value::Null, |s| {
            let settings = s.default_route_settings();
            let logs = s.access_log_settings();
            json!({
                "throttling_burst_limit": settings.and_then(|r| r.throttling_burst_limit()).unwrap_or(0),
                "throttling_rate_limit": settings.and_then(|r| r.throttling_rate_limit()).unwrap_or(0.0),
                "access_log_arn": logs.and_then(|l| l.destination_arn()).unwrap_or_default(),
                "access_log_format": logs.and_then(|l| l.format()).and_then(|f| serde_json::from_str::<Value>(f).ok()).unwrap_or(Value::Null),
            })
        });
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(api.name().unwrap_or_default()));
        attributes.insert(
            "description".into(),
            json!(api.description().unwrap_or_default()),
        );
        attributes.insert("cors".into(), cors_value);
        attributes.insert("routes".into(), json!(route_keys));
        attributes.insert("integration".into(), integration);
        attributes.insert("stage".into(), stage_value);
        attributes.insert(
            "tags".into(),
            Value::Object(
                api.tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
                    .unwrap_or_default(),
            ),
        );
        let mut outputs = Map::new();
        outputs.insert("id".into(), json!(id));
        outputs.insert(
            "api_endpoint".into(),
            json!(api.api_endpoint().unwrap_or_default()),
        );
        outputs.insert(
            "execution_arn".into(),
            json!(format!(
                "arn:{}:execute-api:{}:{}:{id}",
                aws.partition(),
                aws.region,
                aws.account()
            )),
        );
        Ok(Some(Observed {
            id: id.to_owned(),
            attributes: attributes.into(),
            outputs,
        }))
    }

    /// The stage carries the API's tags (cost reports and tag policies
    /// look at each resource).
    async fn create_stage(
        &self,
        aws: &Aws,
        id: &str,
        stage: &Map<String, Value>,
        tags: std::collections::BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let created = aws
            .send(
                "CreateStage",
                || {
                    aws.apigateway()
                        .create_stage()
                        .api_id(id)
                        .stage_name(STAGE)
                        .auto_deploy(true)
                        .default_route_settings(route_settings(stage))
                        .set_access_log_settings(access_logs(stage))
                        .set_tags(Some(tags.clone().into_iter().collect()))
                        .send()
                },
                |e: &aws_sdk_apigatewayv2::operation::create_stage::CreateStageError| {
                    e.is_conflict_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await;
        // The stage exists: made by an attempt whose answer was lost.
        match created {
            Err(e) if e.class != ErrorClass::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    }

    async fn integration_id(&self, aws: &Aws, id: &str) -> Result<Option<String>, AwsError> {
        let integrations = aws
            .send(
                "GetIntegrations",
                || aws.apigateway().get_integrations().api_id(id).send(),
                |_| None,
            )
            .await?;
        Ok(integrations
            .items()
            .first()
            .and_then(|i| i.integration_id())
            .map(str::to_owned))
    }

    /// The API's Lambda integration: the one it has, or a new one. AWS
    /// assigns integration ids and takes no client token, so after an
    /// answer that may have been lost it looks before it creates again.
    async fn ensure_integration(
        &self,
        aws: &Aws,
        id: &str,
        integration: &Map<String, Value>,
    ) -> Result<String, AwsError> {
        if let Some(existing) = self.integration_id(aws, id).await? {
            return Ok(existing);
        }
        let mut attempt = 0;
        loop {
            let created = aws
                .send_create(
                    "CreateIntegration",
                    || {
                        aws.apigateway()
                            .create_integration()
                            .api_id(id)
                            .integration_type(IntegrationType::AwsProxy)
                            .integration_uri(text(integration, "function_arn"))
                            .integration_method("POST")
                            .payload_format_version("2.0")
                            .timeout_in_millis(
                                int(integration, "timeout_ms").unwrap_or(30_000) as i32
                            )
                            .send()
                    },
                    |_| None,
                )
                .await;
            match created {
                Ok(created) => return Ok(created.integration_id().unwrap_or_default().to_owned()),
                Err(error) => {
                    if let Some(existing) = self.integration_id(aws, id).await? {
                        return Ok(existing);
                    }
                    attempt += 1;
                    match crate::model::retry::delay(error.class, attempt, fastrand::f64()) {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => return Err(error),
                    }
                }
            }
        }
    }

    async fn create_routes(
        &self,
        aws: &Aws,
        id: &str,
        integration: &str,
        keys: &[String],
    ) -> Result<(), AwsError> {
        let target = format!("integrations/{integration}");
        for key in keys {
            let created = aws
                .send(
                    "CreateRoute",
                    || {
                        aws.apigateway()
                            .create_route()
                            .api_id(id)
                            .route_key(key)
                            .target(&target)
                            .send()
                    },
                    |e: &aws_sdk_apigatewayv2::operation::create_route::CreateRouteError| {
                        e.is_conflict_exception()
                            .then_some(ErrorClass::AlreadyExists)
                    },
                )
                .await;
            // A route key is unique in its API: a conflict on a repeat is
            // the route an earlier attempt made.
            if let Err(e) = created {
                if e.class != ErrorClass::AlreadyExists {
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Provider for HttpApi {
    fn read<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(self.read_api(aws, id))
    }

    fn find<'a>(
        &'a self,
        aws: &'a Aws,
        desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(async move {
            let tags = crate::aws::string_map(desired, "tags");
            let apis = aws
                .send("GetApis", || aws.apigateway().get_apis().send(), |_| None)
                .await?;
            let wanted: Vec<(&str, &str)> = [TAG_STACK, TAG_ENVIRONMENT, TAG_ADDRESS]
                .iter()
                .map(|k| (*k, tags.get(*k).map_or("", String::as_str)))
                .collect();
            for api in apis.items() {
                let found = api.tags();
                if wanted
                    .iter()
                    .all(|(k, v)| found.and_then(|t| t.get(*k)).map(String::as_str) == Some(*v))
                {
                    if let Some(id) = api.api_id() {
                        return self.read_api(aws, id).await;
                    }
                }
            }
            Ok(None)
        })
    }

    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(async move {
            let api = aws
                .send_create(
                    "CreateApi",
                    || {
                        aws.apigateway()
                            .create_api()
                            .name(text(desired, "name"))
                            .description(text(desired, "description"))
                            .protocol_type(ProtocolType::Http)
                            .set_cors_configuration(cors(desired))
                            .set_tags(Some(string_map(desired, "tags").into_iter().collect()))
                            .send()
                    },
                    |_| None,
                )
                .await?;
            let id = api.api_id().unwrap_or_default().to_owned();
            let integration_id = self
                .ensure_integration(aws, &id, &object(desired, "integration"))
                .await?;
            self.create_routes(aws, &id, &integration_id, &strings(desired, "routes"))
                .await?;
            self.create_stage(
                aws,
                &id,
                &object(desired, "stage"),
                string_map(desired, "tags"),
            )
            .await?;
            self.read_api(aws, &id).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::EventualConsistency,
                    "GetApi",
                    "API not visible after create",
                )
            })
        })
    }

    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
        after: &'a Map<String, Value>,
        fields: &'a [String],
    ) -> BoxFuture<'a, Result<Observed, AwsError>> {
        Box::pin(async move {
            if changed(fields, "name") || changed(fields, "description") || changed(fields, "cors")
            {
                if cors(after).is_none() && before.get("cors").is_some_and(|c| !c.is_null()) {
                    aws.send(
                        "DeleteCorsConfiguration",
                        || {
                            aws.apigateway()
                                .delete_cors_configuration()
                                .api_id(id)
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                }
                aws.send(
                    "UpdateApi",
                    || {
                        aws.apigateway()
                            .update_api()
                            .api_id(id)
                            .name(text(after, "name"))
                            .description(text(after, "description"))
                            .set_cors_configuration(cors(after))
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
            if changed(fields, "integration") || changed(fields, "routes") {
                let integration = object(after, "integration");
                let integration_id = self.ensure_integration(aws, id, &integration).await?;
                if changed(fields, "integration") {
                    aws.send(
                        "UpdateIntegration",
                        || {
                            aws.apigateway()
                                .update_integration()
                                .api_id(id)
                                .integration_id(&integration_id)
                                .integration_uri(text(&integration, "function_arn"))
                                .timeout_in_millis(
                                    int(&integration, "timeout_ms").unwrap_or(30_000) as i32,
                                )
                                .send()
                        },
                        |_| None,
                    )
                    .await?;
                }
                if changed(fields, "routes") {
                    let wanted = strings(after, "routes");
                    let existing = aws
                        .send(
                            "GetRoutes",
                            || aws.apigateway().get_routes().api_id(id).send(),
                            |_| None,
                        )
                        .await?;
                    for route in existing.items() {
                        if !wanted.iter().any(|w| Some(w.as_str()) == route.route_key()) {
                            let route_id = route.route_id().unwrap_or_default();
                            aws.send(
                                "DeleteRoute",
                                || {
                                    aws.apigateway()
                                        .delete_route()
                                        .api_id(id)
                                        .route_id(route_id)
                                        .send()
                                },
                                |_| None,
                            )
                            .await?;
                        }
                    }
                    let present: Vec<&str> = existing
                        .items()
                        .iter()
                        .filter_map(|r| r.route_key())
                        .collect();
                    let missing_routes: Vec<String> = wanted
                        .iter()
                        .filter(|w| !present.contains(&w.as_str()))
                        .cloned()
                        .collect();
                    self.create_routes(aws, id, &integration_id, &missing_routes)
                        .await?;
                }
            }
            // No stage at all (a create cut short): make it.
            if changed(fields, "stage") && before.get("stage").is_none_or(Value::is_null) {
                self.create_stage(aws, id, &object(after, "stage"), string_map(after, "tags"))
                    .await?;
            } else if changed(fields, "stage") {
                let stage = object(after, "stage");
                let updated = aws
                    .send(
                        "UpdateStage",
                        || {
                            aws.apigateway()
                                .update_stage()
                                .api_id(id)
                                .stage_name(STAGE)
                                .auto_deploy(true)
                                .default_route_settings(route_settings(&stage))
                                .set_access_log_settings(access_logs(&stage))
                                .send()
                        },
                        |_| None,
                    )
                    .await;
                if let Err(error) = updated {
                    // Only an endpoint that says it lacks UpdateStage gets the
                    // stage re-created (a moment without a stage). Throttling,
                    // a 5xx or a timeout on AWS is transient: deleting a live
                    // stage for one would be an outage of the public API.
                    if error.class != ErrorClass::NotImplemented {
                        return Err(error);
                    }
                    aws.note(format!(
                        "the endpoint does not implement UpdateStage ({}); re-created the $default stage instead",
                        error.message
                    ));
                    crate::aws::ignore_missing(
                        aws.send("DeleteStage", || aws.apigateway().delete_stage().api_id(id).stage_name(STAGE).send(), |e: &aws_sdk_apigatewayv2::operation::delete_stage::DeleteStageError| missing(e.is_not_found_exception()))
                            .await,
                    )?;
                    self.create_stage(aws, id, &stage, string_map(after, "tags"))
                        .await?;
                }
            }
            if changed(fields, "tags") {
                let api = format!(
                    "arn:{}:apigateway:{}::/apis/{id}",
                    aws.partition(),
                    aws.region
                );
                let (set, remove) = tag_changes(before, after);
                // The stage carries the API's tags too; it goes first, so
                // that a failure shows (the API's tags are what is read).
                for arn in [format!("{api}/stages/{STAGE}"), api.clone()] {
                    let retagged = async {
                        if !remove.is_empty() {
                            aws.send(
                                "UntagResource",
                                || {
                                    aws.apigateway()
                                        .untag_resource()
                                        .resource_arn(&arn)
                                        .set_tag_keys(Some(remove.clone()))
                                        .send()
                                },
                                |_| None,
                            )
                            .await?;
                        }
                        if !set.is_empty() {
                            aws.send(
                                "TagResource",
                                || {
                                    aws.apigateway()
                                        .tag_resource()
                                        .resource_arn(&arn)
                                        .set_tags(Some(set.clone().into_iter().collect()))
                                        .send()
                                },
                                |_| None,
                            )
                            .await?;
                        }
                        Ok::<(), AwsError>(())
                    };
                    match retagged.await {
                        Err(error) if error.class == ErrorClass::NotImplemented && arn != api => {
                            aws.note(format!(
                                "the endpoint does not take tags on the stage's ARN ({}); the stage keeps the tags it was created with",
                                error.message
                            ));
                        }
                        other => other?,
                    }
                }
            }
            self.read_api(aws, id).await?.ok_or_else(|| {
                AwsError::new(
                    ErrorClass::NotFound,
                    "GetApi",
                    "API disappeared during update",
                )
            })
        })
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        _before: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            crate::aws::ignore_missing(
                aws.send(
                    "DeleteApi",
                    || aws.apigateway().delete_api().api_id(id).send(),
                    |e: &aws_sdk_apigatewayv2::operation::delete_api::DeleteApiError| {
                        missing(e.is_not_found_exception())
                    },
                )
                .await,
            )
        })
    }
}

/// Every HTTP API with its tags (emulators' tagging APIs miss them).
fn list_apis<'a>(aws: &'a Aws, _prefix: &'a str) -> BoxFuture<'a, Result<super::Listed, AwsError>> {
    Box::pin(async move {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = aws
                .send(
                    "GetApis",
                    || {
                        aws.apigateway()
                            .get_apis()
                            .set_next_token(next.clone())
                            .send()
                    },
                    |_| None,
                )
                .await?;
            for api in page.items() {
                let arn = format!(
                    "arn:{}:apigateway:{}::/apis/{}",
                    aws.partition(),
                    aws.region,
                    api.api_id().unwrap_or_default()
                );
                let tags = api
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                out.push((arn, tags));
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    })
}

/// Terraform's view: `aws_apigatewayv2_api`, `aws_apigatewayv2_integration`, `aws_apigatewayv2_stage`, `aws_apigatewayv2_route`.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    #[allow(unused_imports)]
    use super::terraform::*;
    #[allow(unused_imports)]
    use crate::model::expr;
    use serde_json::json;
    let cors = v(a, "cors");
    let id = v(a, "id");
    let format = v2(a, "stage", "access_log_format");
    let log = v2(a, "stage", "access_log_arn");
    let logged = log.as_str() != Some("") && !log.is_null();
    let mut out = vec![
        tf(
            "aws_apigatewayv2_api",
            tagged(
                a,
                json!({
                    "id": id, "api_endpoint": v(a, "api_endpoint"), "execution_arn": v(a, "execution_arn"),
                    "name": v(a, "name"), "description": opt(a, "description"), "protocol_type": "HTTP",
                    "cors_configuration": block_if(cors.is_object() && expr::unknown_template(&cors).is_none(), json!({
                        "allow_origins": cors.get("allow_origins"), "allow_methods": cors.get("allow_methods"),
                        "allow_headers": cors.get("allow_headers"), "expose_headers": cors.get("expose_headers"),
                        "max_age": cors.get("max_age"), "allow_credentials": false,
                    })),
                }),
            ),
        ),
        tf(
            "aws_apigatewayv2_integration",
            json!({
                "api_id": id, "integration_type": "AWS_PROXY", "integration_method": "POST",
                "integration_uri": v2(a, "integration", "function_arn"), "payload_format_version": "2.0",
                "timeout_milliseconds": v2(a, "integration", "timeout_ms"),
            }),
        ),
        tf(
            "aws_apigatewayv2_stage",
            tagged(
                a,
                json!({
                    "api_id": id, "name": "$default", "auto_deploy": true,
                    "default_route_settings": block(json!({
                        "throttling_burst_limit": v2(a, "stage", "throttling_burst_limit"),
                        "throttling_rate_limit": v2(a, "stage", "throttling_rate_limit"),
                        "detailed_metrics_enabled": false,
                    })),
                    "access_log_settings": block_if(logged, json!({
                        "destination_arn": log, "format": json_string(&format),
                    })),
                }),
            ),
        ),
    ];
    for route in a
        .get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(key) = route.as_str() {
            out.push(each(
                "aws_apigatewayv2_route",
                key,
                json!({
                    "api_id": id, "route_key": key, "authorization_type": "NONE",
                }),
            ));
        }
    }
    out
}

fn import_http_api(a: &Map<String, Value>) -> Result<String, String> {
    if a.get("protocol_type").and_then(Value::as_str) != Some("HTTP") {
        return Err("it is a WebSocket API; cairn describes HTTP APIs".into());
    }
    super::terraform::attribute(a, "id")
}

pub static TYPE: ResourceType = ResourceType {
    schema: &HTTP_API,
    provider: &HttpApi,
    planned_id: super::assigned,
    id_from_arn: |arn| super::after(arn, "/apis/"),
    bulk_tagged: false,
    unmanaged: Unmanaged::Listed(list_apis),
    create_before_destroy: false,
    terraform: super::terraform::Mapping {
        types: &[
            "aws_apigatewayv2_api",
            "aws_apigatewayv2_integration",
            "aws_apigatewayv2_stage",
            "aws_apigatewayv2_route",
        ],
        map: terraform,
        import: import_http_api,
    },
};
