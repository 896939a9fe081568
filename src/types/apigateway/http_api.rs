//! An API Gateway HTTP API with its Lambda proxy integration, routes and
//! one stage (`$default` or a named one, auto-deployed or deployed by cairn).

use crate::aws::{changed, int, missing, present, string_map, text, Aws, AwsError};
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::model::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use crate::schema::checks as c;
use crate::schema::{
    no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema, TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::Spec;
use crate::types::observation;
use crate::types::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use aws_sdk_apigatewayv2::types::{
    AccessLogSettings, Cors, IntegrationType, ProtocolType, Route, RouteSettings, Stage,
};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const CORS: &[Field] = &[
    Field::new("allow_origins", K::StrSet).or(F::EmptyList),
    Field::new("allow_methods", K::StrSet).or(F::EmptyList),
    Field::new("allow_headers", K::StrSet).or(F::EmptyList),
    Field::new("expose_headers", K::StrSet).or(F::EmptyList),
    Field::new("max_age", K::Int)
        .or(F::Int(0))
        .check(cors_max_age),
];

const INTEGRATION: &[Field] = &[
    Field::new("function_arn", K::Str).required().check(c::arn),
    Field::new("timeout_ms", K::Int)
        .or(F::Int(30_000))
        .check(integration_timeout),
    // The event the function gets: 2.0 for cairn's runtime; 1.0 where an
    // imported function was written for it.
    Field::new("payload_format_version", K::Str)
        .or(F::Str("2.0"))
        .one_of(&["1.0", "2.0"], "payload format version"),
];

fn payload_version(integration: &Map<String, Value>) -> String {
    let version = text(integration, "payload_format_version");
    if version.is_empty() {
        "2.0".into()
    } else {
        version.to_owned()
    }
}

const STAGE_FIELDS: &[Field] = &[
    Field::new("name", K::Str)
        .or(F::Str(DEFAULT_STAGE))
        .check(stage_name),
    Field::new("auto_deploy", K::Bool).or(F::Bool(true)),
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
    description: "API Gateway HTTP API: routes to one Lambda proxy integration (payload 2.0), CORS, and one stage ($default or named; auto-deployed, or deployed by cairn after each change)",
    fields: &[
        Field::new("name", K::Str).required().check(api_name),
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

fn api_name(value: &Value) -> Result<(), String> {
    c::length(c::text(value)?, 1, 128, "an API name")
}

fn route_key(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    if v == "$default" {
        return Ok(());
    }
    let (method, path) = v
        .split_once(' ')
        .ok_or_else(|| format!("a route key is `METHOD /path` or `$default`, got `{v}`"))?;
    if ![
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ]
    .contains(&method)
    {
        return Err(format!("`{method}` is not an HTTP method in route `{v}`"));
    }
    if !path.starts_with('/') {
        return Err(format!("the path of route `{v}` must start with /"));
    }
    Ok(())
}

fn integration_timeout(value: &Value) -> Result<(), String> {
    c::int_range(value, 50, 30_000, "timeout_ms")
}

fn cors_max_age(value: &Value) -> Result<(), String> {
    c::int_range(value, 0, 86_400, "CORS max_age (seconds)")
}

fn routes(value: &Value) -> Result<(), String> {
    let items = value.as_array().ok_or("routes must be a list")?;
    if items.is_empty() {
        return Err("an API needs at least one route".into());
    }
    items.iter().try_for_each(route_key)
}

/// API Gateway's rule for an HTTP API's stage names.
fn stage_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    let valid = name == DEFAULT_STAGE
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "a stage name is `$default` or 1 to 128 letters, digits, _ and - (`{name}`)"
        ))
    }
}

/// The HTTP API with its one Lambda proxy integration, its routes and its
/// one stage. An auto-deployed stage's deployments are AWS's business; for
/// one that is not, cairn deploys after each change of what it serves.
pub struct HttpApi;

const DEFAULT_STAGE: &str = "$default";

/// What a read adds to the observed `stage` only when AWS holds more than
/// the stack can say, so that the plan shows it as a change and the update
/// removes it: the API's other stages (cairn describes one stage per API,
/// as it describes all of its routes), and the stage's own tags where they
/// are not the API's.
const OTHER_STAGES: &str = "other_stages";
const STAGE_TAGS: &str = "tags";

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

fn name_of(stage: &Map<String, Value>) -> &str {
    match text(stage, "name") {
        "" => DEFAULT_STAGE,
        name => name,
    }
}

fn auto_deploy(stage: &Map<String, Value>) -> bool {
    stage
        .get("auto_deploy")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn sorted_tags(
    tags: Option<&std::collections::HashMap<String, String>>,
) -> BTreeMap<String, String> {
    tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The stage cairn describes, when an API has several: the one tagged as
/// this API's (cairn tags its stage like its API), then `$default`, then
/// the newest.
fn primary<'s>(stages: &'s [Stage], api_tags: &BTreeMap<String, String>) -> Option<&'s Stage> {
    let address = api_tags.get(TAG_ADDRESS);
    stages.iter().max_by_key(|s| {
        (
            address.is_some() && s.tags().and_then(|t| t.get(TAG_ADDRESS)) == address,
            s.stage_name() == Some(DEFAULT_STAGE),
            s.created_date().map(|d| (d.secs(), d.subsec_nanos())),
            std::cmp::Reverse(s.stage_name()),
        )
    })
}

/// The observed `stage`: the stage's settings, and (see `OTHER_STAGES`)
/// what the stack cannot describe.
fn stage_value(stage: &Stage, all: &[Stage], api_tags: &BTreeMap<String, String>) -> Value {
    let settings = stage.default_route_settings();
    let logs = stage.access_log_settings();
    let mut value = json!({
        "name": stage.stage_name().unwrap_or_default(),
        "auto_deploy": stage.auto_deploy().unwrap_or(false),
        "throttling_burst_limit": settings.and_then(|r| r.throttling_burst_limit()).unwrap_or(0),
        "throttling_rate_limit": settings.and_then(|r| r.throttling_rate_limit()).unwrap_or(0.0),
        "access_log_arn": logs.and_then(|l| l.destination_arn()).unwrap_or_default(),
        "access_log_format": logs.and_then(|l| l.format()).and_then(|f| serde_json::from_str::<Value>(f).ok()).unwrap_or(Value::Null),
    });
    let own = sorted_tags(stage.tags());
    if own != *api_tags {
        value[STAGE_TAGS] = json!(own);
    }
    let mut others: Vec<&str> = all
        .iter()
        .filter_map(Stage::stage_name)
        .filter(|name| Some(*name) != stage.stage_name())
        .collect();
    others.sort_unstable();
    if !others.is_empty() {
        value[OTHER_STAGES] = json!(others);
    }
    value
}

/// The stage's settings apart from its name and what only a read adds.
fn settings_differ(before: &Map<String, Value>, after: &Map<String, Value>) -> bool {
    let strip = |stage: &Map<String, Value>| {
        let mut stage = stage.clone();
        for key in ["name", OTHER_STAGES, STAGE_TAGS] {
            stage.remove(key);
        }
        Value::Object(stage)
    };
    !crate::schema::equivalent(K::Object(STAGE_FIELDS), &strip(before), &strip(after))
}

/// What an update does to the stage that the diff of its fields does not
/// say: for the plan.
pub fn update_note(before: &Map<String, Value>, after: &Map<String, Value>) -> Option<String> {
    let old = before.get("stage").and_then(Value::as_object)?;
    let new = after.get("stage").and_then(Value::as_object)?;
    let to = new.get("name").and_then(Value::as_str)?;
    let from = name_of(old);
    let mut notes = Vec::new();
    if from != to {
        notes.push(format!(
            "its stage \"{from}\" is replaced: \"{to}\" is created, then \"{from}\" is deleted, and the invoke URL's path changes"
        ));
    }
    let others: Vec<String> = crate::aws::strings(old, OTHER_STAGES)
        .into_iter()
        .filter(|name| name != to)
        .map(|name| format!("\"{name}\""))
        .collect();
    if !others.is_empty() {
        notes.push(format!(
            "the API's other stages are deleted: {}",
            others.join(", ")
        ));
    }
    if from == to && old.contains_key(STAGE_TAGS) {
        notes.push(format!("its stage \"{to}\" takes the API's tags"));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn api_arn(aws: &Aws, id: &str) -> String {
    format!(
        "arn:{}:apigateway:{}::/apis/{id}",
        aws.partition(),
        aws.region
    )
}

fn stage_arn(aws: &Aws, id: &str, stage: &str) -> String {
    format!("{}/stages/{stage}", api_arn(aws, id))
}

impl Tagging for HttpApi {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        aws.send(
            "TagResource",
            || {
                aws.apigateway()
                    .tag_resource()
                    .resource_arn(target)
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
            "UntagResource",
            || {
                aws.apigateway()
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

impl HttpApi {
    async fn read_api(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let Some(api) = present(
            aws.send(
                "GetApi",
                || aws.apigateway().get_api().api_id(id).send(),
                |e: &aws_sdk_apigatewayv2::operation::get_api::GetApiError| {
                    missing(e.is_not_found_exception())
                },
            )
            .await,
        )?
        else {
            return Ok(None);
        };
        let integrations = aws
            .send(
                "GetIntegrations",
                || aws.apigateway().get_integrations().api_id(id).send(),
                |_| None,
            )
            .await?;
        let routes = self.routes(aws, id).await?;
        let stages = self.stages(aws, id).await?;
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
        let integration = integrations.items().first().map_or(Value::Null, |i| json!({"function_arn": i.integration_uri(), "timeout_ms": i.timeout_in_millis().unwrap_or(30_000), "payload_format_version": i.payload_format_version().unwrap_or("2.0")}));
        let mut route_keys: Vec<&str> = routes.iter().filter_map(|r| r.route_key()).collect();
        route_keys.sort_unstable();
        let api_tags = sorted_tags(api.tags());
        let stage_value =
            primary(&stages, &api_tags).map_or(Value::Null, |s| stage_value(s, &stages, &api_tags));
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
        attributes.insert("tags".into(), json!(api_tags));
        Ok(Some(observation(
            id,
            attributes,
            [
                ("id", json!(id)),
                (
                    "api_endpoint",
                    json!(api.api_endpoint().unwrap_or_default()),
                ),
                (
                    "execution_arn",
                    json!(format!(
                        "arn:{}:execute-api:{}:{}:{id}",
                        aws.partition(),
                        aws.region,
                        aws.account()
                    )),
                ),
            ],
        )))
    }

    /// Every route of the API.
    async fn routes(&self, aws: &Aws, id: &str) -> Result<Vec<Route>, AwsError> {
        let pages = aws
            .pages(
                "GetRoutes",
                |token| {
                    aws.apigateway()
                        .get_routes()
                        .api_id(id)
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
            .flat_map(|page| page.items())
            .cloned()
            .collect())
    }

    /// Every stage of the API.
    async fn stages(&self, aws: &Aws, id: &str) -> Result<Vec<Stage>, AwsError> {
        let pages = aws
            .pages(
                "GetStages",
                |token| {
                    aws.apigateway()
                        .get_stages()
                        .api_id(id)
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
            .flat_map(|page| page.items())
            .cloned()
            .collect())
    }

    /// A deployment of the API as it is now; with `stage`, that stage then
    /// serves it. Repeating one whose answer was lost makes a second
    /// deployment of the same API, which is harmless: a deployment is a
    /// snapshot, and a stage serves the last one it was given.
    async fn deploy(&self, aws: &Aws, id: &str, stage: Option<&str>) -> Result<String, AwsError> {
        let deployment = aws
            .send(
                "CreateDeployment",
                || {
                    aws.apigateway()
                        .create_deployment()
                        .api_id(id)
                        .set_stage_name(stage.map(str::to_owned))
                        .send()
                },
                |_| None,
            )
            .await?;
        Ok(deployment.deployment_id().unwrap_or_default().to_owned())
    }

    /// A stage the API does not have yet. One that is not auto-deployed is
    /// made on a deployment of the API as it is now, made first: a stage
    /// without a deployment serves nothing, and its description would not
    /// show it (nor would a create cut short between the two calls).
    async fn new_stage(
        &self,
        aws: &Aws,
        id: &str,
        stage: &Map<String, Value>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let deployment = if auto_deploy(stage) {
            None
        } else {
            Some(self.deploy(aws, id, None).await?)
        };
        self.create_stage(aws, id, stage, tags, deployment).await
    }

    async fn create_stage(
        &self,
        aws: &Aws,
        id: &str,
        stage: &Map<String, Value>,
        tags: &BTreeMap<String, String>,
        deployment: Option<String>,
    ) -> Result<(), AwsError> {
        let created = aws
            .send(
                "CreateStage",
                || {
                    aws.apigateway()
                        .create_stage()
                        .api_id(id)
                        .stage_name(name_of(stage))
                        .auto_deploy(auto_deploy(stage))
                        .set_deployment_id(deployment.clone())
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

    async fn delete_stage(&self, aws: &Aws, id: &str, name: &str) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteStage",
            || {
                aws.apigateway()
                    .delete_stage()
                    .api_id(id)
                    .stage_name(name)
                    .send()
            },
            |e: &aws_sdk_apigatewayv2::operation::delete_stage::DeleteStageError| {
                missing(e.is_not_found_exception())
            },
        )
        .await
    }

    /// The API's routes made what `wanted` says: those it lacks created,
    /// those it no longer has deleted.
    async fn converge_routes(
        &self,
        aws: &Aws,
        id: &str,
        integration_id: &str,
        wanted: Vec<String>,
    ) -> Result<(), AwsError> {
        let existing = self.routes(aws, id).await?;
        for route in &existing {
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
        let present: Vec<&str> = existing.iter().filter_map(|r| r.route_key()).collect();
        let missing_routes: Vec<String> = wanted
            .iter()
            .filter(|w| !present.contains(&w.as_str()))
            .cloned()
            .collect();
        self.create_routes(aws, id, integration_id, &missing_routes)
            .await?;
        Ok(())
    }

    /// The existing stage's settings. Returns whether the stage was made
    /// anew instead (with `tags`), which only an endpoint that says it
    /// lacks UpdateStage gets.
    async fn update_stage(
        &self,
        aws: &Aws,
        id: &str,
        stage: &Map<String, Value>,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, AwsError> {
        let name = name_of(stage);
        let updated = aws
            .send(
                "UpdateStage",
                || {
                    aws.apigateway()
                        .update_stage()
                        .api_id(id)
                        .stage_name(name)
                        .auto_deploy(auto_deploy(stage))
                        .default_route_settings(route_settings(stage))
                        .set_access_log_settings(access_logs(stage))
                        .send()
                },
                |_| None,
            )
            .await;
        let Err(error) = updated else {
            return Ok(false);
        };
        // Only an endpoint that says it lacks UpdateStage gets the stage
        // re-created (a moment without a stage). Throttling, a 5xx or a
        // timeout on AWS is transient: deleting a live stage for one would
        // be an outage of the public API.
        if error.class != ErrorClass::NotImplemented {
            return Err(error);
        }
        aws.note(format!(
            "the endpoint does not implement UpdateStage ({}); re-created the {name} stage instead",
            error.message
        ));
        // Re-created on the deployment it served, not a new one.
        let served = if auto_deploy(stage) {
            None
        } else {
            match aws
                .send(
                    "GetStage",
                    || {
                        aws.apigateway()
                            .get_stage()
                            .api_id(id)
                            .stage_name(name)
                            .send()
                    },
                    |e: &aws_sdk_apigatewayv2::operation::get_stage::GetStageError| {
                        missing(e.is_not_found_exception())
                    },
                )
                .await
            {
                Ok(found) => found.deployment_id().map(str::to_owned),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            }
        };
        self.delete_stage(aws, id, name).await?;
        self.create_stage(aws, id, stage, tags, served).await?;
        Ok(true)
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
                            .payload_format_version(payload_version(integration))
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

    /// Routes for `keys`. A route key is unique in its API, but AWS assigns
    /// the route's id and takes no client token, and an emulator may take
    /// a second route with the same key: after a failure that may have
    /// followed the create (a lost answer), the routes are read, and a key
    /// already there is done.
    async fn create_routes(
        &self,
        aws: &Aws,
        id: &str,
        integration: &str,
        keys: &[String],
    ) -> Result<(), AwsError> {
        let target = format!("integrations/{integration}");
        for key in keys {
            let mut attempt = 0;
            loop {
                let created = aws
                    .send_create(
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
                let error = match created {
                    // AWS refuses a key its API has: the earlier attempt's.
                    Ok(_) => break,
                    Err(e) if e.class == ErrorClass::AlreadyExists => break,
                    Err(e) => e,
                };
                let routes = self.routes(aws, id).await?;
                if routes.iter().any(|r| r.route_key() == Some(key.as_str())) {
                    break;
                }
                attempt += 1;
                match crate::model::retry::delay(error.class, attempt, fastrand::f64()) {
                    Some(delay) if attempt < aws.max_attempts => tokio::time::sleep(delay).await,
                    _ => return Err(error),
                }
            }
        }
        Ok(())
    }
}

impl Resource for HttpApi {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_api(aws, id).await
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
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
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
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
        self.new_stage(
            aws,
            &id,
            &object(desired, "stage"),
            &string_map(desired, "tags"),
        )
        .await?;
        read_back(
            self.read_api(aws, &id).await,
            After::Create,
            "GetApi",
            "API not visible after create",
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
        let tags = string_map(after, "tags");
        let old_stage = object(before, "stage");
        let new_stage = object(after, "stage");
        let had_stage = before.get("stage").is_some_and(|s| !s.is_null());
        let renamed = had_stage && name_of(&old_stage) != name_of(&new_stage);
        if changed(fields, "name") || changed(fields, "description") || changed(fields, "cors") {
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
        // The stage's own settings come before the routes: a stage that
        // becomes auto-deployed then deploys the route changes itself.
        let mut made_anew = false;
        if changed(fields, "stage")
            && had_stage
            && !renamed
            && settings_differ(&old_stage, &new_stage)
        {
            made_anew = self.update_stage(aws, id, &new_stage, &tags).await?;
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
                            .payload_format_version(payload_version(&integration))
                            .timeout_in_millis(
                                int(&integration, "timeout_ms").unwrap_or(30_000) as i32
                            )
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
            if changed(fields, "routes") {
                self.converge_routes(aws, id, &integration_id, strings(after, "routes"))
                    .await?;
            }
        }
        // A stage it lacks (a create cut short) or one of a new name is
        // made on the API as it now is, before the old one goes: the
        // API is never without a stage. Like Terraform's stage, whose
        // name forces a new one, but the API itself stays.
        let created = changed(fields, "stage") && (!had_stage || renamed);
        if created {
            self.new_stage(aws, id, &new_stage, &tags).await?;
        }
        if changed(fields, "stage") {
            let mut gone = crate::aws::strings(&old_stage, OTHER_STAGES);
            if renamed {
                gone.push(name_of(&old_stage).to_owned());
            }
            for name in gone.iter().filter(|n| *n != name_of(&new_stage)) {
                self.delete_stage(aws, id, name).await?;
            }
        }
        if changed(fields, "tags") {
            self.retag_between(aws, &api_arn(aws, id), &string_map(before, "tags"), &tags)
                .await?;
        }
        // The stage carries the API's tags; one just made has them.
        if had_stage
            && !created
            && !made_anew
            && (changed(fields, "tags") || old_stage.contains_key(STAGE_TAGS))
        {
            let current = if old_stage.contains_key(STAGE_TAGS) {
                string_map(&old_stage, STAGE_TAGS)
            } else {
                string_map(before, "tags")
            };
            let arn = stage_arn(aws, id, name_of(&new_stage));
            self.retag_between(aws, &arn, &current, &tags).await?;
        }
        // A stage that is not auto-deployed serves what cairn deploys to
        // it: the API as it now is, after a change of what it serves.
        let served_changed = ["routes", "integration", "cors"]
            .iter()
            .any(|f| changed(fields, f));
        if served_changed && !created && !auto_deploy(&new_stage) {
            self.deploy(aws, id, Some(name_of(&new_stage))).await?;
        }
        read_back(
            self.read_api(aws, id).await,
            After::Update,
            "GetApi",
            "API disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteApi",
            || aws.apigateway().delete_api().api_id(id).send(),
            |e: &aws_sdk_apigatewayv2::operation::delete_api::DeleteApiError| {
                missing(e.is_not_found_exception())
            },
        )
        .await
    }
}

/// Every HTTP API with its tags (emulators' tagging APIs miss them).
fn list_apis<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<crate::types::Listed, AwsError>> {
    Box::pin(async move {
        let mut out = Vec::new();
        let pages = aws
            .pages(
                "GetApis",
                |token| aws.apigateway().get_apis().set_next_token(token).send(),
                |page| page.next_token(),
                |_| None,
            )
            .all()
            .await?;
        for api in pages.iter().flat_map(|page| page.items()) {
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
        Ok(out)
    })
}

/// Terraform's view: `aws_apigatewayv2_api`, `aws_apigatewayv2_integration`, `aws_apigatewayv2_stage`, `aws_apigatewayv2_route`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
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
                "integration_uri": v2(a, "integration", "function_arn"), "payload_format_version": v2(a, "integration", "payload_format_version"),
                "timeout_milliseconds": v2(a, "integration", "timeout_ms"),
            }),
        ),
        tf(
            "aws_apigatewayv2_stage",
            tagged(
                a,
                json!({
                    "api_id": id, "name": v2(a, "stage", "name"), "auto_deploy": v2(a, "stage", "auto_deploy"),
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
    if a.get("disable_execute_api_endpoint") == Some(&Value::Bool(true)) {
        return Err(
            "its default endpoint is disabled (a custom domain serves it), which cairn does not describe yet"
                .into(),
        );
    }
    let credentials = a
        .get("cors_configuration")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("allow_credentials"));
    if credentials == Some(&Value::Bool(true)) {
        return Err("its CORS allows credentials, which cairn does not describe yet".into());
    }
    crate::types::terraform::attribute(a, "id")
}

/// For `Parts::not_described`: what of an HTTP API's parts in a Terraform
/// state cairn does not describe.
fn part_not_described(tf_type: &str, a: &Map<String, Value>) -> Option<String> {
    let set = |key: &str| match a.get(key) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(v)) => !v.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        Some(_) => true,
    };
    let text = |key: &str| a.get(key).and_then(Value::as_str).unwrap_or_default();
    let why = match tf_type {
        "aws_apigatewayv2_stage" if set("stage_variables") => "stage variables",
        "aws_apigatewayv2_stage" if set("route_settings") => "per-route settings",
        "aws_apigatewayv2_stage" if set("client_certificate_id") => "a client certificate",
        "aws_apigatewayv2_stage"
            if a.get("default_route_settings")
                .and_then(|d| d.get(0))
                .and_then(|d| d.get("detailed_metrics_enabled"))
                == Some(&Value::Bool(true)) =>
        {
            "detailed metrics"
        }
        "aws_apigatewayv2_route"
            if !matches!(text("authorization_type"), "" | "NONE")
                || set("authorizer_id")
                || set("api_key_required") =>
        {
            "a route with authorization"
        }
        "aws_apigatewayv2_integration" if text("integration_type") != "AWS_PROXY" => {
            "an integration other than a Lambda proxy"
        }
        "aws_apigatewayv2_authorizer" => "an authorizer",
        _ => return None,
    };
    Some(why.to_owned())
}

pub static SPEC: Spec = Spec {
    schema: &HTTP_API,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, "/apis/"),
    arn_example: ("arn:aws:apigateway:us-east-1::/apis/a1", Some("a1")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: None,
    update_note,
    terraform: crate::types::terraform::Mapping {
        types: &[
            "aws_apigatewayv2_api",
            "aws_apigatewayv2_integration",
            "aws_apigatewayv2_stage",
            "aws_apigatewayv2_route",
            // Folded on import: cairn makes its own deployments.
            "aws_apigatewayv2_deployment",
        ],
        map: terraform,
        import: import_http_api,
        parts: Parts {
            taken_over: &[],
            dies_with: &[
                "aws_apigatewayv2_authorizer",
                "aws_apigatewayv2_api_mapping",
            ],
            at_most_one: &[
                ("aws_apigatewayv2_integration", "integrations"),
                ("aws_apigatewayv2_stage", "stages"),
            ],
            not_described: part_not_described,
            held_apart: &[],
            outputs: &[],
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &HttpApi,
    unmanaged: Unmanaged::Listed(list_apis),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn stage_names_are_default_or_api_gateways_characters() {
        for good in [
            "$default",
            "prod",
            "apiLambdaStage",
            "v1_beta-2",
            &"s".repeat(128),
        ] {
            assert_eq!(stage_name(&json!(good)), Ok(()), "{good}");
        }
        for bad in [
            "",
            "$prod",
            "default$",
            "my stage",
            "prod/v1",
            &"s".repeat(129),
        ] {
            assert!(stage_name(&json!(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_plan_says_what_happens_to_the_stage() {
        let before = map(json!({"stage": {"name": "prod", "other_stages": ["live", "manual"]}}));
        let after = map(json!({"stage": {"name": "live"}}));
        assert_eq!(
            update_note(&before, &after).as_deref(),
            Some("its stage \"prod\" is replaced: \"live\" is created, then \"prod\" is deleted, and the invoke URL's path changes; the API's other stages are deleted: \"manual\"")
        );
        // A state from before stages had names holds `$default`'s.
        let before = map(json!({"stage": {"throttling_burst_limit": 5, "tags": {}}}));
        let after = map(json!({"stage": {"name": "$default"}}));
        assert_eq!(
            update_note(&before, &after).as_deref(),
            Some("its stage \"$default\" takes the API's tags")
        );
        let unchanged = map(json!({"stage": {"name": "prod", "throttling_burst_limit": 5}}));
        assert_eq!(update_note(&unchanged, &unchanged), None);
        // No stage yet (a create cut short), or a name known only later.
        let none = map(json!({"stage": null}));
        assert_eq!(update_note(&none, &after), None);
        let later = map(json!({"stage": {"name": crate::model::expr::unknown("${x.name}")}}));
        assert_eq!(update_note(&unchanged, &later), None);
    }

    #[test]
    fn only_the_stages_settings_make_an_update_stage() {
        let stage = map(
            json!({"name": "prod", "auto_deploy": true, "throttling_burst_limit": 5, "throttling_rate_limit": 1.0, "access_log_arn": "", "access_log_format": null}),
        );
        let mut observed = stage.clone();
        observed.insert(OTHER_STAGES.into(), json!(["old"]));
        observed.insert(STAGE_TAGS.into(), json!({}));
        assert!(!settings_differ(&observed, &stage));
        let mut renamed = stage.clone();
        renamed.insert("name".into(), json!("live"));
        assert!(!settings_differ(&stage, &renamed));
        let mut manual = stage.clone();
        manual.insert("auto_deploy".into(), json!(false));
        assert!(settings_differ(&stage, &manual));
    }

    #[test]
    fn an_api_cairn_cannot_describe_is_left_out_of_an_import() {
        let api = |extra: Value| {
            let mut a = map(json!({"id": "abc123", "protocol_type": "HTTP"}));
            a.extend(map(extra));
            import_http_api(&a)
        };
        assert_eq!(api(json!({})), Ok("abc123".into()));
        assert_eq!(
            api(
                json!({"cors_configuration": [{"allow_credentials": false}], "disable_execute_api_endpoint": false})
            ),
            Ok("abc123".into())
        );
        assert!(api(json!({"protocol_type": "WEBSOCKET"}))
            .unwrap_err()
            .contains("WebSocket"));
        assert!(api(json!({"disable_execute_api_endpoint": true}))
            .unwrap_err()
            .contains("endpoint is disabled"));
        assert!(
            api(json!({"cors_configuration": [{"allow_credentials": true}]}))
                .unwrap_err()
                .contains("credentials")
        );
    }
}
