//! A listener of an application load balancer: a port and protocol (HTTP,
//! or HTTPS with a certificate and a security policy), and what it does
//! with a request no rule takes: forward it to a target group, or redirect
//! it (HTTP to HTTPS, say).

use super::{elb_tags, read_tags, Tags};
use crate::aws::{changed, int, string_map, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener as Live, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};
use serde_json::{json, Map, Value};

/// AWS's defaults keep each part of the request.
pub const REDIRECT: &[Field] = &[
    Field::new("protocol", K::Str)
        .or(F::Str("#{protocol}"))
        .one_of(&["HTTP", "HTTPS", "#{protocol}"], "a redirect protocol"),
    Field::new("port", K::Str).or(F::Str("#{port}")),
    Field::new("host", K::Str).or(F::Str("#{host}")),
    Field::new("path", K::Str).or(F::Str("/#{path}")),
    Field::new("query", K::Str).or(F::Str("#{query}")),
    Field::new("status_code", K::Str)
        .or(F::Str("HTTP_301"))
        .one_of(&["HTTP_301", "HTTP_302"], "a redirect status code"),
];

/// Exactly one of: `forward` (a target group's ARN), `redirect`.
pub const ACTION: &[Field] = &[
    Field::new("forward", K::Str),
    Field::new("redirect", K::Object(REDIRECT)),
];

pub static LB_LISTENER: Schema = Schema {
    type_name: "lb_listener",
    description: "Listener of an application load balancer (HTTP, or HTTPS with a certificate)",
    fields: &[
        Field::new("load_balancer_arn", K::Str)
            .required()
            .force_new(),
        Field::new("port", K::Int)
            .required()
            .check(|v| c::int_range(v, 1, 65535, "a port")),
        Field::new("protocol", K::Str)
            .or(F::Str("HTTP"))
            .one_of(&["HTTP", "HTTPS"], "a listener protocol"),
        Field::new("certificate_arn", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        // Absent on HTTPS: AWS's default policy, not compared.
        Field::new("ssl_policy", K::Str),
        Field::new("default_action", K::Object(ACTION)).required(),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: validate_listener,
};

/// The problems of an action (a listener's default, or a rule's) at `path`.
pub fn action_problems(action: Option<&Value>, path: &str) -> Vec<Problem> {
    let Some(action) = action.and_then(Value::as_object) else {
        return Vec::new();
    };
    let given = |k: &str| action.get(k).is_some_and(|v| !v.is_null());
    if given("forward") == given("redirect") {
        return vec![Problem::new(
            path,
            "an action is exactly one of `forward` (a target group's ARN) and `redirect`",
        )];
    }
    Vec::new()
}

/// AWS refuses HTTPS without a certificate (an emulator may not), and a
/// security policy on plain HTTP means nothing.
fn validate_listener(properties: &Map<String, Value>) -> Vec<Problem> {
    let text = |k: &str| properties.get(k).and_then(Value::as_str).unwrap_or("");
    let mut problems = action_problems(properties.get("default_action"), "default_action");
    let policy = properties.get("ssl_policy").is_some_and(|v| !v.is_null());
    match text("protocol") {
        "HTTPS" if text("certificate_arn").is_empty() => problems.push(Problem::new(
            "certificate_arn",
            "an HTTPS listener needs `certificate_arn` (an ACM certificate)",
        )),
        "HTTP" if !text("certificate_arn").is_empty() || policy => problems.push(Problem::new(
            "protocol",
            "a certificate and an SSL policy belong to an HTTPS listener; this one is HTTP",
        )),
        _ => {}
    }
    problems
}

/// An action as ELBv2 takes it.
pub fn action_of(action: &Map<String, Value>) -> Action {
    match action.get("redirect").and_then(Value::as_object) {
        Some(redirect) => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol(text(redirect, "protocol"))
                    .port(text(redirect, "port"))
                    .host(text(redirect, "host"))
                    .path(text(redirect, "path"))
                    .query(text(redirect, "query"))
                    .status_code(RedirectActionStatusCodeEnum::from(text(
                        redirect,
                        "status_code",
                    )))
                    .build(),
            )
            .build(),
        None => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(text(action, "forward"))
            .build(),
    }
}

/// An action as the `default_action` field (or a rule's `action`) holds it.
pub fn action_value(actions: &[Action]) -> Value {
    let Some(action) = actions.first() else {
        return Value::Null;
    };
    match action.redirect_config() {
        Some(r) if action.r#type() == Some(&ActionTypeEnum::Redirect) => json!({
            "forward": null,
            "redirect": {
                "protocol": r.protocol(), "port": r.port(), "host": r.host(),
                "path": r.path(), "query": r.query(),
                "status_code": r.status_code().map(RedirectActionStatusCodeEnum::as_str),
            },
        }),
        _ => json!({
            "forward": action.target_group_arn().map(str::to_owned).or_else(|| {
                action
                    .forward_config()
                    .and_then(|f| f.target_groups().first())
                    .and_then(|t| t.target_group_arn().map(str::to_owned))
            }),
            "redirect": null,
        }),
    }
}

pub struct Listener;

impl Listener {
    async fn describe(&self, aws: &Aws, arn: &str) -> Result<Option<Live>, AwsError> {
        let found = aws
            .send(
                "DescribeListeners",
                || aws.elbv2().describe_listeners().listener_arns(arn).send(),
                |e| crate::aws::missing(e.is_listener_not_found_exception()),
            )
            .await;
        match found {
            Ok(output) => Ok(output.listeners().first().cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn observed(&self, aws: &Aws, listener: &Live) -> Result<Observed, AwsError> {
        let arn = listener.listener_arn().unwrap_or_default();
        let https = listener.protocol() == Some(&ProtocolEnum::Https);
        let mut attributes = Map::new();
        attributes.insert(
            "load_balancer_arn".into(),
            json!(listener.load_balancer_arn()),
        );
        attributes.insert("port".into(), json!(listener.port()));
        attributes.insert(
            "protocol".into(),
            json!(listener.protocol().map(ProtocolEnum::as_str)),
        );
        attributes.insert(
            "certificate_arn".into(),
            json!(listener
                .certificates()
                .first()
                .and_then(|c| c.certificate_arn())
                .unwrap_or_default()),
        );
        // An emulator reports a policy on plain HTTP too; AWS does not.
        attributes.insert(
            "ssl_policy".into(),
            json!(if https { listener.ssl_policy() } else { None }),
        );
        attributes.insert(
            "default_action".into(),
            action_value(listener.default_actions()),
        );
        attributes.insert("tags".into(), read_tags(aws, arn).await?);
        Ok(observation(arn, attributes, [("arn", json!(arn))]))
    }

    async fn read_listener(&self, aws: &Aws, arn: &str) -> Result<Option<Observed>, AwsError> {
        match self.describe(aws, arn).await? {
            Some(listener) => Ok(Some(self.observed(aws, &listener).await?)),
            None => Ok(None),
        }
    }
}

fn certificates(desired: &Map<String, Value>) -> Option<Vec<Certificate>> {
    let arn = text(desired, "certificate_arn");
    (!arn.is_empty()).then(|| vec![Certificate::builder().certificate_arn(arn).build()])
}

fn ssl_policy(desired: &Map<String, Value>) -> Option<String> {
    desired
        .get("ssl_policy")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn default_action(desired: &Map<String, Value>) -> Action {
    action_of(
        desired
            .get("default_action")
            .and_then(Value::as_object)
            .unwrap_or(&Map::new()),
    )
}

impl Resource for Listener {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_listener(aws, id).await
    }

    /// The listener on the balancer's port: a balancer has one per port.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeListeners",
                || {
                    aws.elbv2()
                        .describe_listeners()
                        .load_balancer_arn(text(desired, "load_balancer_arn"))
                        .send()
                },
                |e| crate::aws::missing(e.is_load_balancer_not_found_exception()),
            )
            .await;
        let listeners = match found {
            Ok(output) => output.listeners().to_vec(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let port = int(desired, "port").map(|p| p as i32);
        match listeners.iter().find(|l| l.port() == port) {
            Some(listener) => Ok(Some(self.observed(aws, listener).await?)),
            None => Ok(None),
        }
    }

    /// Sent once: AWS refuses a second listener on a port, but an emulator
    /// makes one; after a lost answer the engine finds it by its port.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let created = aws
            .send_create(
                "CreateListener",
                || {
                    aws.elbv2()
                        .create_listener()
                        .load_balancer_arn(text(desired, "load_balancer_arn"))
                        .port(int(desired, "port").unwrap_or_default() as i32)
                        .protocol(ProtocolEnum::from(text(desired, "protocol")))
                        .set_certificates(certificates(desired))
                        .set_ssl_policy(ssl_policy(desired))
                        .default_actions(default_action(desired))
                        .set_tags(Some(elb_tags(&string_map(desired, "tags"))))
                        .send()
                },
                |e| {
                    e.is_duplicate_listener_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
        let arn = created
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .unwrap_or_default()
            .to_owned();
        read_back(
            self.read_listener(aws, &arn).await,
            After::Create,
            "DescribeListeners",
            format!("listener {arn} not visible yet"),
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
        let modified = [
            "port",
            "protocol",
            "certificate_arn",
            "ssl_policy",
            "default_action",
        ];
        if modified.iter().any(|f| changed(fields, f)) {
            aws.send(
                "ModifyListener",
                || {
                    aws.elbv2()
                        .modify_listener()
                        .listener_arn(id)
                        .port(int(after, "port").unwrap_or_default() as i32)
                        .protocol(ProtocolEnum::from(text(after, "protocol")))
                        .set_certificates(certificates(after))
                        .set_ssl_policy(ssl_policy(after))
                        .default_actions(default_action(after))
                        .send()
                },
                |e| crate::aws::missing(e.is_listener_not_found_exception()),
            )
            .await?;
        }
        if changed(fields, "tags") {
            Tags.retag(aws, id, before, after).await?;
        }
        read_back(
            self.read_listener(aws, id).await,
            After::Update,
            "DescribeListeners",
            format!("listener {id} disappeared during update"),
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteListener",
            || aws.elbv2().delete_listener().listener_arn(id).send(),
            |e| crate::aws::missing(e.is_listener_not_found_exception()),
        )
        .await
    }
}

/// An action as the provider's `default_action` (or a rule's `action`)
/// block shows it.
pub fn terraform_action(action: &Value) -> Value {
    use crate::types::terraform::prelude::*;
    let Some(action) = action.as_object() else {
        return json!([]);
    };
    match action.get("redirect").and_then(Value::as_object) {
        Some(redirect) => block(json!({
            "type": "redirect",
            "redirect": block(json!({
                "protocol": v(redirect, "protocol"), "port": v(redirect, "port"),
                "host": v(redirect, "host"), "path": v(redirect, "path"),
                "query": v(redirect, "query"), "status_code": v(redirect, "status_code"),
            })),
        })),
        None => block(json!({"type": "forward", "target_group_arn": v(action, "forward")})),
    }
}

/// Terraform's view: `aws_lb_listener`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_lb_listener",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "id": v(a, "arn"),
                "load_balancer_arn": v(a, "load_balancer_arn"), "port": v(a, "port"),
                "protocol": v(a, "protocol"), "certificate_arn": opt(a, "certificate_arn"),
                "ssl_policy": v(a, "ssl_policy"),
                "default_action": terraform_action(&v(a, "default_action")),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &LB_LISTENER,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| arn.contains(":listener/").then(|| arn.to_owned()),
    arn_example: (
        "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2",
        Some("arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    // One listener per port of a balancer.
    identity: Some(Identity {
        field: "port",
        of: |w| {
            let port = w.properties.get("port")?;
            Some(format!("{} port {port}", w.raw("load_balancer_arn")?))
        },
    }),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_lb_listener"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "arn"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Listener,
    unmanaged: Unmanaged::TaggingApi,
};
