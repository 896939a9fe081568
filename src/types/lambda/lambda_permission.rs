//! A statement in a Lambda function's resource policy, letting a service invoke it.

use super::conflict_or_throttle;
use crate::aws::{missing, present, text, Aws, AwsError};
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::{no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use serde_json::{json, Map, Value};

pub static LAMBDA_PERMISSION: Schema = Schema {
    type_name: "lambda_permission",
    description: "Lets a service (the HTTP API) invoke a function, scoped to a source ARN",
    fields: &[
        Field::new("function_name", K::Str).required().force_new(),
        Field::new("statement_id", K::Str)
            .required()
            .force_new()
            .check(statement_id),
        Field::new("action", K::Str)
            .or(F::Str("lambda:InvokeFunction"))
            .force_new(),
        Field::new("principal", K::Str)
            .or(F::Str("apigateway.amazonaws.com"))
            .force_new()
            .check(principal),
        Field::new("source_arn", K::Str).force_new(),
    ],
    outputs: &[],
    taggable: false,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn statement_id(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 100),
        "a statement id",
        "-_",
        "letters, digits, - and _",
    )
}

/// Lambda's pattern for a permission's principal is `[^\s]+`: a service
/// (`events.amazonaws.com`), an account id, an ARN, or `*`.
fn principal(value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("expected a string")?;
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(format!(
            "a principal is a service such as `apigateway.amazonaws.com`, an account id or an ARN, without blanks, got `{text}`"
        ));
    }
    Ok(())
}

pub struct Permission;

/// `function/statement` is a permission's id.
fn split_id(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or((id, ""))
}

impl Permission {
    async fn read_permission(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let (function, sid) = split_id(id);
        let Some(policy) = present(
            aws.send(
                "GetPolicy",
                || aws.lambda().get_policy().function_name(function).send(),
                |e: &aws_sdk_lambda::operation::get_policy::GetPolicyError| {
                    missing(e.is_resource_not_found_exception())
                },
            )
            .await,
        )?
        .map(|output| {
            output
                .policy()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .unwrap_or(Value::Null)
        }) else {
            return Ok(None);
        };
        let statements = match &policy["Statement"] {
            Value::Array(items) => items.clone(),
            item @ Value::Object(_) => vec![item.clone()],
            _ => Vec::new(),
        };
        let Some(statement) = statements.iter().find(|s| s["Sid"] == sid) else {
            return Ok(None);
        };
        let principal = match &statement["Principal"] {
            Value::String(s) => s.clone(),
            other => other["Service"]
                .as_str()
                .or(other["AWS"].as_str())
                .unwrap_or_default()
                .to_owned(),
        };
        let source_arn = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .map_or(Value::Null, |s| json!(s));
        let action = match &statement["Action"] {
            Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let mut attributes = Map::new();
        attributes.insert("function_name".into(), json!(function));
        attributes.insert("statement_id".into(), json!(sid));
        attributes.insert("action".into(), action);
        attributes.insert("principal".into(), json!(principal));
        attributes.insert("source_arn".into(), source_arn);
        Ok(Some(Observed {
            id: id.to_owned(),
            attributes: attributes.into(),
            outputs: Map::new(),
        }))
    }
}

impl Resource for Permission {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_permission(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let function = text(desired, "function_name");
        let sid = text(desired, "statement_id");
        let source = desired
            .get("source_arn")
            .and_then(Value::as_str)
            .map(str::to_owned);
        // The statement lives inside the function's policy: AWS refuses
        // a repeat of its id, but an emulator may hold it twice. So a
        // failure that may have followed success goes back to the
        // engine, which looks for the statement before sending again.
        aws.send_create(
            "AddPermission",
            || {
                aws.lambda()
                    .add_permission()
                    .function_name(function)
                    .statement_id(sid)
                    .action(text(desired, "action"))
                    .principal(text(desired, "principal"))
                    .set_source_arn(source.clone())
                    .send()
            },
            |e: &aws_sdk_lambda::operation::add_permission::AddPermissionError| {
                if e.is_resource_conflict_exception() {
                    // The statement id is taken.
                    Some(ErrorClass::AlreadyExists)
                } else {
                    conflict_or_throttle(
                        e.is_precondition_failed_exception(),
                        e.is_too_many_requests_exception(),
                    )
                }
            },
        )
        .await?;
        let id = format!("{function}/{sid}");
        read_back(
            self.read_permission(aws, &id).await,
            After::Create,
            "GetPolicy",
            "permission not visible after create",
        )
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
        _after: &Map<String, Value>,
        _fields: &[String],
    ) -> Result<Observed, AwsError> {
        // Every field forces replacement; nothing to update in place.
        read_back(
            self.read_permission(aws, id).await,
            After::Update,
            "GetPolicy",
            "permission disappeared",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let (function, sid) = split_id(id);
        aws.send_delete(
            "RemovePermission",
            || {
                aws.lambda()
                    .remove_permission()
                    .function_name(function)
                    .statement_id(sid)
                    .send()
            },
            |e: &aws_sdk_lambda::operation::remove_permission::RemovePermissionError| {
                missing(e.is_resource_not_found_exception())
            },
        )
        .await
    }
}

/// A permission is known by its function and statement id.
fn permission_id(desired: &Map<String, Value>) -> Option<String> {
    Some(format!(
        "{}/{}",
        text(desired, "function_name"),
        text(desired, "statement_id")
    ))
}

/// Terraform's view: `aws_lambda_permission`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_lambda_permission",
        json!({
            "statement_id": v(a, "statement_id"), "action": v(a, "action"),
            "function_name": v(a, "function_name"), "principal": v(a, "principal"),
            "source_arn": opt(a, "source_arn"),
        }),
    )]
}

/// Terraform's `function_name` may be the function's ARN; cairn's id is
/// `FUNCTION/STATEMENT`.
fn import_permission(a: &Map<String, Value>) -> Result<String, String> {
    let function = crate::types::terraform::attribute(a, "function_name")?;
    let function = function.rsplit(':').next().unwrap_or(&function).to_owned();
    if !crate::types::terraform::attribute(a, "qualifier")
        .unwrap_or_default()
        .is_empty()
    {
        return Err(
            "it is on a function version or alias, which cairn does not describe yet".into(),
        );
    }
    Ok(format!(
        "{function}/{}",
        crate::types::terraform::attribute(a, "statement_id")?
    ))
}

pub static SPEC: Spec = Spec {
    schema: &LAMBDA_PERMISSION,
    planned_id: permission_id,
    id_from_arn: crate::types::no_arn,
    arn_example: ("arn:aws:lambda:us-east-1:1:function:f", None),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity {
        field: "statement_id",
        of: |w| {
            Some(format!(
                "{} statement {}",
                w.text("function_name")?,
                w.text("statement_id")?
            ))
        },
    }),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_lambda_permission"],
        map: terraform,
        import: import_permission,
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Permission,
    unmanaged: Unmanaged::NotTaggable,
};
