//! An IAM role with its trust policy, inline policies, managed policy attachments and permissions boundary.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{changed, missing, policy_text, present, tags_value, text, Aws, AwsError};
use crate::canonical;
use crate::model::ErrorClass;
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::policy::{policy_problems, policy_strings, PolicyKind};
use crate::schema::{Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_iam::types::Tag;
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub static IAM_ROLE: Schema = Schema {
    type_name: "iam_role",
    description: "IAM role with inline policies and managed policy attachments",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(role_name),
        // Instead of a name: cairn makes one from it and a unique suffix,
        // so a replacement can exist beside the old one.
        Field::new("name_prefix", K::Str)
            .force_new()
            .check(name_prefix),
        Field::new("path", K::Str)
            .or(F::Str("/"))
            .force_new()
            .check(iam_path),
        Field::new("description", K::Str)
            .or(F::Str(""))
            .check(role_description),
        Field::new("assume_role_policy", K::Policy),
        Field::new("assume_role_services", K::StrSet),
        // Shorthand: the inline policy `lambda-vpc-access` with exactly the
        // network-interface actions a function in a VPC needs.
        Field::new("lambda_vpc_access", K::Bool),
        Field::new("max_session_duration", K::Int)
            .or(F::Int(3600))
            .check(max_session_duration),
        Field::new("permissions_boundary", K::Str)
            .or(F::Str(""))
            .check(c::arn_or_empty),
        Field::new("inline_policies", K::PolicyMap).or(F::EmptyMap),
        Field::new("managed_policy_arns", K::StrSet)
            .or(F::EmptyList)
            .check(c::each_arn),
        TAGS,
    ],
    outputs: &["arn", "unique_id"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: expand_role,
    validate: validate_role,
};

fn name_prefix(value: &Value) -> Result<(), String> {
    crate::schema::checks::name_prefix(value, 64, role_name)
}

fn role_name(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 64),
        "an IAM role name",
        "+=,.@_-",
        "letters, digits and +=,.@_-",
    )
}

fn iam_path(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    c::length(v, 1, 512, "an IAM path")?;
    if !v.starts_with('/') || !v.ends_with('/') {
        return Err(format!(
            "an IAM path must begin and end with `/`, got `{v}`"
        ));
    }
    Ok(())
}

fn role_description(value: &Value) -> Result<(), String> {
    c::length(c::text(value)?, 0, 1000, "a role description")
}

fn max_session_duration(value: &Value) -> Result<(), String> {
    c::int_range(value, 3600, 43200, "max_session_duration (seconds)")
}

/// The inline policy `lambda_vpc_access: true` stands for.
pub const LAMBDA_VPC_POLICY: &str = "lambda-vpc-access";

fn expand_role(properties: &mut Map<String, Value>) {
    expand_trust_services(properties);
    if properties.remove("lambda_vpc_access") == Some(Value::Bool(true)) {
        let policies = properties
            .entry("inline_policies")
            .or_insert_with(|| json!({}));
        if let Value::Object(policies) = policies {
            // The actions of AWS's AWSLambdaENIManagementAccess; EC2 does
            // not scope the Describe actions to a resource.
            policies.insert(
                LAMBDA_VPC_POLICY.into(),
                json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "NetworkInterfaces",
                        "Effect": "Allow",
                        "Action": [
                            "ec2:AssignPrivateIpAddresses",
                            "ec2:CreateNetworkInterface",
                            "ec2:DeleteNetworkInterface",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DescribeSubnets",
                            "ec2:UnassignPrivateIpAddresses"
                        ],
                        "Resource": "*"
                    }]
                }),
            );
        }
    }
}

/// `assume_role_services: [lambda.amazonaws.com]` is shorthand for the
/// usual trust policy.
fn expand_trust_services(properties: &mut Map<String, Value>) {
    let Some(Value::Array(services)) = properties.remove("assume_role_services") else {
        properties.remove("assume_role_services");
        return;
    };
    let principal = if services.len() == 1 {
        services[0].clone()
    } else {
        Value::Array(services)
    };
    properties.insert(
        "assume_role_policy".to_owned(),
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]
        }),
    );
}

fn validate_role(properties: &Map<String, Value>) -> Vec<Problem> {
    let has = |k: &str| properties.get(k).is_some_and(|v| !v.is_null());
    let mut problems = Vec::new();
    match (has("assume_role_policy"), has("assume_role_services")) {
        (false, false) => problems.push(Problem::new(
            "",
            "give `assume_role_services` (for example [lambda.amazonaws.com]) or `assume_role_policy`",
        )),
        (true, true) => problems.push(Problem::new(
            "assume_role_services",
            "give either `assume_role_services` or `assume_role_policy`, not both",
        )),
        _ => {}
    }
    if let Some(services) = properties
        .get("assume_role_services")
        .filter(|v| !v.is_null())
    {
        if let Err(message) = policy_strings(services, |service| {
            service.ends_with(".amazonaws.com") && service.len() > ".amazonaws.com".len()
        }) {
            problems.push(Problem::new(
                "assume_role_services",
                format!("{message} (a service principal is its full name, such as `lambda.amazonaws.com`)"),
            ));
        }
    }
    if let Some(policy) = properties.get("assume_role_policy") {
        problems.extend(policy_problems(
            "assume_role_policy",
            policy,
            PolicyKind::Trust,
        ));
    }
    if let Some(Value::Object(policies)) = properties.get("inline_policies") {
        if properties.get("lambda_vpc_access") == Some(&Value::Bool(true))
            && policies.contains_key(LAMBDA_VPC_POLICY)
        {
            problems.push(Problem::new(
                format!("inline_policies.{LAMBDA_VPC_POLICY}"),
                format!("`lambda_vpc_access: true` writes the inline policy `{LAMBDA_VPC_POLICY}`; rename this one"),
            ));
        }
        for (name, policy) in policies {
            problems.extend(policy_problems(
                &format!("inline_policies.{name}"),
                policy,
                PolicyKind::Identity,
            ));
        }
    }
    problems
}

pub struct Role;

impl Role {
    async fn read_role(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let Some(role) = present(
            aws.send(
                "GetRole",
                || aws.iam().get_role().role_name(name).send(),
                |e: &aws_sdk_iam::operation::get_role::GetRoleError| {
                    missing(e.is_no_such_entity_exception())
                },
            )
            .await,
        )?
        .and_then(|output| output.role) else {
            return Ok(None);
        };
        let inline = aws
            .send(
                "ListRolePolicies",
                || aws.iam().list_role_policies().role_name(name).send(),
                |_| None,
            )
            .await?;
        let mut policies = Map::new();
        for policy_name in inline.policy_names() {
            let document = aws
                .send(
                    "GetRolePolicy",
                    || {
                        aws.iam()
                            .get_role_policy()
                            .role_name(name)
                            .policy_name(policy_name)
                            .send()
                    },
                    |_| None,
                )
                .await?;
            policies.insert(
                policy_name.clone(),
                canonical::policy(&canonical::decode_policy_text(document.policy_document())),
            );
        }
        let attached = aws
            .send(
                "ListAttachedRolePolicies",
                || {
                    aws.iam()
                        .list_attached_role_policies()
                        .role_name(name)
                        .send()
                },
                |_| None,
            )
            .await?;
        let mut managed: Vec<String> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        managed.sort();
        // GetRole carries the tags (up to IAM's 50), so no ListRoleTags.

        let mut attributes = Map::new();
        attributes.insert("name".into(), Value::String(role.role_name().to_owned()));
        attributes.insert("path".into(), Value::String(role.path().to_owned()));
        attributes.insert(
            "description".into(),
            Value::String(role.description().unwrap_or_default().to_owned()),
        );
        attributes.insert(
            "assume_role_policy".into(),
            role.assume_role_policy_document()
                .map(|d| canonical::policy(&canonical::decode_policy_text(d)))
                .unwrap_or(Value::Null),
        );
        attributes.insert(
            "max_session_duration".into(),
            Value::from(role.max_session_duration().unwrap_or(3600)),
        );
        attributes.insert(
            "permissions_boundary".into(),
            Value::String(
                role.permissions_boundary()
                    .and_then(|b| b.permissions_boundary_arn())
                    .unwrap_or_default()
                    .to_owned(),
            ),
        );
        attributes.insert("inline_policies".into(), Value::Object(policies));
        attributes.insert("managed_policy_arns".into(), Value::from(managed));
        attributes.insert(
            "tags".into(),
            tags_value(role.tags().iter().map(|t| (t.key(), t.value()))),
        );
        Ok(Some(observation(
            name,
            attributes,
            [
                ("arn", Value::String(role.arn().to_owned())),
                ("unique_id", Value::String(role.role_id().to_owned())),
            ],
        )))
    }

    async fn put_inline(
        &self,
        aws: &Aws,
        name: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let old = before
            .get("inline_policies")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let new = after
            .get("inline_policies")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (policy_name, document) in &new {
            if old.get(policy_name).map(canonical::policy) != Some(canonical::policy(document)) {
                let body = policy_text(document);
                aws.send(
                    "PutRolePolicy",
                    || {
                        aws.iam()
                            .put_role_policy()
                            .role_name(name)
                            .policy_name(policy_name)
                            .policy_document(&body)
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
        }
        for policy_name in old.keys().filter(|k| !new.contains_key(*k)) {
            match aws
                .send(
                    "DeleteRolePolicy",
                    || {
                        aws.iam()
                            .delete_role_policy()
                            .role_name(name)
                            .policy_name(policy_name)
                            .send()
                    },
                    |e: &aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyError| {
                        missing(e.is_no_such_entity_exception())
                    },
                )
                .await
            {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    async fn attach_managed(
        &self,
        aws: &Aws,
        name: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let old = crate::aws::strings(before, "managed_policy_arns");
        let new = crate::aws::strings(after, "managed_policy_arns");
        for arn in new.iter().filter(|a| !old.contains(a)) {
            aws.send(
                "AttachRolePolicy",
                || {
                    aws.iam()
                        .attach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        for arn in old.iter().filter(|a| !new.contains(a)) {
            match aws
                .send(
                    "DetachRolePolicy",
                    || {
                        aws.iam()
                            .detach_role_policy()
                            .role_name(name)
                            .policy_arn(arn)
                            .send()
                    },
                    |e: &aws_sdk_iam::operation::detach_role_policy::DetachRolePolicyError| {
                        missing(e.is_no_such_entity_exception())
                    },
                )
                .await
            {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .expect("key and value are set")
}

fn gone(e: &AwsError) -> Option<()> {
    e.is_not_found().then_some(())
}

impl Tagging for Role {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags: Vec<Tag> = set.iter().map(|(k, v)| tag(k, v)).collect();
        aws.send(
            "TagRole",
            || {
                aws.iam()
                    .tag_role()
                    .role_name(target)
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
            "UntagRole",
            || {
                aws.iam()
                    .untag_role()
                    .role_name(target)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }
}

impl Resource for Role {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_role(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let trust = policy_text(&desired["assume_role_policy"]);
        let tags: Vec<Tag> = crate::aws::string_map(desired, "tags")
            .iter()
            .map(|(k, v)| tag(k, v))
            .collect();
        let boundary = text(desired, "permissions_boundary");
        aws.send(
            "CreateRole",
            || {
                aws.iam()
                    .create_role()
                    .role_name(name)
                    .path(text(desired, "path"))
                    .description(text(desired, "description"))
                    .assume_role_policy_document(&trust)
                    .max_session_duration(
                        crate::aws::int(desired, "max_session_duration").unwrap_or(3600) as i32,
                    )
                    .set_permissions_boundary((!boundary.is_empty()).then(|| boundary.to_owned()))
                    .set_tags(Some(tags.clone()))
                    .send()
            },
            |e: &aws_sdk_iam::operation::create_role::CreateRoleError| {
                e.is_entity_already_exists_exception()
                    .then_some(ErrorClass::AlreadyExists)
            },
        )
        .await?;
        self.put_inline(aws, name, &Map::new(), desired).await?;
        self.attach_managed(aws, name, &Map::new(), desired).await?;
        read_back(
            self.read_role(aws, name).await,
            After::Create,
            "GetRole",
            "role not visible after create",
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
        if changed(fields, "description") || changed(fields, "max_session_duration") {
            aws.send(
                "UpdateRole",
                || {
                    aws.iam()
                        .update_role()
                        .role_name(id)
                        .description(text(after, "description"))
                        .max_session_duration(
                            crate::aws::int(after, "max_session_duration").unwrap_or(3600) as i32,
                        )
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        if changed(fields, "assume_role_policy") {
            let trust = policy_text(&after["assume_role_policy"]);
            aws.send(
                "UpdateAssumeRolePolicy",
                || {
                    aws.iam()
                        .update_assume_role_policy()
                        .role_name(id)
                        .policy_document(&trust)
                        .send()
                },
                |_| None,
            )
            .await?;
        }
        if changed(fields, "permissions_boundary") {
            let boundary = text(after, "permissions_boundary");
            if boundary.is_empty() {
                aws.send(
                    "DeleteRolePermissionsBoundary",
                    || {
                        aws.iam()
                            .delete_role_permissions_boundary()
                            .role_name(id)
                            .send()
                    },
                    |_| None,
                )
                .await?;
            } else {
                aws.send(
                    "PutRolePermissionsBoundary",
                    || {
                        aws.iam()
                            .put_role_permissions_boundary()
                            .role_name(id)
                            .permissions_boundary(boundary)
                            .send()
                    },
                    |_| None,
                )
                .await?;
            }
        }
        if changed(fields, "inline_policies") {
            self.put_inline(aws, id, before, after).await?;
        }
        if changed(fields, "managed_policy_arns") {
            self.attach_managed(aws, id, before, after).await?;
        }
        if changed(fields, "tags") {
            self.retag(aws, id, before, after).await?;
        }
        read_back(
            self.read_role(aws, id).await,
            After::Update,
            "GetRole",
            "role disappeared during update",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        // What is attached now, not what the state remembers: IAM refuses
        // to delete a role with anything attached.
        let Some(current) = self.read_role(aws, id).await? else {
            return Ok(());
        };
        self.attach_managed(aws, id, &current.attributes, &Map::new())
            .await?;
        self.put_inline(aws, id, &current.attributes, &Map::new())
            .await?;
        let result = aws
            .send(
                "DeleteRole",
                || aws.iam().delete_role().role_name(id).send(),
                |e: &aws_sdk_iam::operation::delete_role::DeleteRoleError| {
                    if e.is_no_such_entity_exception() {
                        Some(ErrorClass::NotFound)
                    } else if e.is_delete_conflict_exception() {
                        Some(ErrorClass::Conflict)
                    } else {
                        None
                    }
                },
            )
            .await;
        match result {
            Err(e) if gone(&e).is_none() => Err(e),
            _ => Ok(()),
        }
    }
}

/// Roles named with `prefix`, with their tags: the tagging API never
/// returns IAM roles, and each role's tags take a call.
fn list_roles<'a>(aws: &'a Aws, prefix: &'a str) -> BoxFuture<'a, Result<super::Listed, AwsError>> {
    Box::pin(async move {
        let mut out = Vec::new();
        let mut pages = aws.pages(
            "ListRoles",
            |marker| aws.iam().list_roles().set_marker(marker).send(),
            |page| page.marker().filter(|_| page.is_truncated()),
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            for role in page.roles() {
                if !role.role_name().starts_with(prefix) {
                    continue;
                }
                let tags = aws
                    .send(
                        "ListRoleTags",
                        || {
                            aws.iam()
                                .list_role_tags()
                                .role_name(role.role_name())
                                .send()
                        },
                        |e| crate::aws::missing(e.is_no_such_entity_exception()),
                    )
                    .await;
                match tags {
                    Ok(tags) => out.push((
                        role.arn().to_owned(),
                        tags.tags()
                            .iter()
                            .map(|t| (t.key().to_owned(), t.value().to_owned()))
                            .collect(),
                    )),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    })
}

/// Terraform's view: `aws_iam_role`, with each inline policy an
/// `aws_iam_role_policy` and each managed policy an
/// `aws_iam_role_policy_attachment` (the role's deprecated `inline_policy`
/// and `managed_policy_arns` are what policy checkers do not read).
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    let role = v(a, "name");
    let mut out = vec![tf(
        "aws_iam_role",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "unique_id": v(a, "unique_id"), "id": role,
                "name": role, "name_prefix": v(a, "name_prefix"), "path": v(a, "path"), "description": opt(a, "description"),
                "assume_role_policy": json_string(&v(a, "assume_role_policy")),
                "max_session_duration": v(a, "max_session_duration"),
                "permissions_boundary": opt(a, "permissions_boundary"),
                "force_detach_policies": false,
            }),
        ),
    )];
    if let Some(Value::Object(policies)) = a.get("inline_policies") {
        for (name, document) in policies {
            let id = role.as_str().map(|r| json!(format!("{r}:{name}")));
            out.push(each(
                "aws_iam_role_policy",
                name.as_str(),
                json!({
                    "id": id, "role": role, "name": name, "policy": json_string(document),
                }),
            ));
        }
    }
    for arn in a
        .get("managed_policy_arns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = arn
            .as_str()
            .or_else(|| expr::unknown_template(arn))
            .unwrap_or_default();
        out.push(each(
            "aws_iam_role_policy_attachment",
            key,
            json!({"role": role, "policy_arn": arn}),
        ));
    }
    out
}

pub static SPEC: Spec = Spec {
    schema: &IAM_ROLE,
    planned_id: super::by_name,
    id_from_arn: |arn| arn.rsplit('/').next().map(str::to_owned),
    arn_example: ("arn:aws:iam::1:role/svc/r", Some("r")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity {
        field: "name",
        // IAM names ignore case.
        of: |w| Some(w.text("name")?.to_lowercase()),
    }),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &[
            "aws_iam_role",
            "aws_iam_role_policy",
            "aws_iam_role_policy_attachment",
        ],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
        parts: Parts {
            taken_over: &["aws_iam_role_policy", "aws_iam_role_policy_attachment"],
            dies_with: &[
                "aws_iam_role_policies_exclusive",
                "aws_iam_role_policy_attachments_exclusive",
            ],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Role,
    unmanaged: Unmanaged::Listed(list_roles),
};
