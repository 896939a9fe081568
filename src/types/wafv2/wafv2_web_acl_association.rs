//! A web ACL in front of a resource (a REST API stage:
//! `arn:aws:apigateway:REGION::/restapis/ID/stages/NAME`). It references
//! the ACL, so a destroy disassociates before it deletes the ACL, as AWS
//! requires (emulators delete an associated ACL anyway).

use super::super::{read_back, After, Resource, ResourceType, Unmanaged};
use crate::aws::{text, Aws, AwsError};
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{no_expansion, no_validation, Field, Kind as K, Naming, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use serde_json::{json, Map, Value};

pub static WAFV2_WEB_ACL_ASSOCIATION: Schema = Schema {
    type_name: "wafv2_web_acl_association",
    description: "A WAFv2 web ACL in front of a REST API stage, a load balancer or a user pool",
    fields: &[
        Field::new("web_acl_arn", K::Str)
            .required()
            .force_new()
            .check(web_acl_arn),
        Field::new("resource_arn", K::Str)
            .required()
            .force_new()
            .check(resource_arn),
    ],
    outputs: &[],
    taggable: false,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn web_acl_arn(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    if v.starts_with("arn:") && v.contains(":regional/webacl/") {
        return Ok(());
    }
    Err(format!(
        "expected a regional web ACL's ARN (arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID), got `{v}`"
    ))
}

/// What a regional web ACL can front: a REST API stage, an application
/// load balancer, a user pool, an AppSync API, an App Runner service.
fn resource_arn(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    let stage = v.starts_with("arn:")
        && v.contains(":apigateway:")
        && v.contains("::/restapis/")
        && v.contains("/stages/");
    let other = [
        ":elasticloadbalancing:",
        ":cognito-idp:",
        ":appsync:",
        ":apprunner:",
        ":ec2:",
    ]
    .iter()
    .any(|service| v.starts_with("arn:") && v.contains(service));
    if stage || other {
        return Ok(());
    }
    Err(format!(
        "expected the ARN of a REST API stage (arn:aws:apigateway:REGION::/restapis/ID/stages/NAME), a load balancer or a user pool, got `{v}`"
    ))
}

/// Its id: `WEB_ACL_ARN,RESOURCE_ARN`, as Terraform's.
fn association_id(desired: &Map<String, Value>) -> Option<String> {
    let acl = desired.get("web_acl_arn")?.as_str()?;
    let resource = desired.get("resource_arn")?.as_str()?;
    Some(format!("{acl},{resource}"))
}

pub struct Association;

impl Association {
    async fn read_association(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let Some((acl, resource)) = id.split_once(',') else {
            return Ok(None);
        };
        let found = aws
            .send(
                "GetWebACLForResource",
                || {
                    aws.wafv2()
                        .get_web_acl_for_resource()
                        .resource_arn(resource)
                        .send()
                },
                |e| crate::aws::missing(e.is_waf_nonexistent_item_exception()),
            )
            .await;
        let current = crate::aws::present(found)?
            .and_then(|o| o.web_acl)
            .map(|a| a.arn().to_owned());
        // Another ACL in front of it is this association gone.
        if current.as_deref() != Some(acl) {
            return Ok(None);
        }
        let mut observed = Map::new();
        observed.insert("web_acl_arn".into(), json!(acl));
        observed.insert("resource_arn".into(), json!(resource));
        Ok(Some(Observed {
            id: id.to_owned(),
            attributes: observed.into(),
            outputs: Map::new(),
        }))
    }
}

impl Resource for Association {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_association(aws, id).await
    }

    fn finds_by_properties(&self) -> bool {
        true
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        match association_id(desired) {
            Some(id) => self.read_association(aws, &id).await,
            None => Ok(None),
        }
    }

    /// AssociateWebACL of the same pair again changes nothing: safe to
    /// repeat after a lost answer.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        aws.send(
            "AssociateWebACL",
            || {
                aws.wafv2()
                    .associate_web_acl()
                    .web_acl_arn(text(desired, "web_acl_arn"))
                    .resource_arn(text(desired, "resource_arn"))
                    .send()
            },
            |_| None,
        )
        .await?;
        read_back(
            self.read_association(aws, &association_id(desired).unwrap_or_default())
                .await,
            After::Create,
            "GetWebACLForResource",
            "association not visible after create",
        )
    }

    /// Both fields force a replacement: nothing changes in place.
    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
        _after: &Map<String, Value>,
        _fields: &[String],
    ) -> Result<Observed, AwsError> {
        read_back(
            self.read_association(aws, id).await,
            After::Update,
            "GetWebACLForResource",
            "association disappeared",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        // Another ACL now in front of the resource is not this one's to remove.
        if self.read_association(aws, id).await?.is_none() {
            return Ok(());
        }
        let (_, resource) = id.split_once(',').unwrap_or_default();
        aws.send_delete(
            "DisassociateWebACL",
            || {
                aws.wafv2()
                    .disassociate_web_acl()
                    .resource_arn(resource)
                    .send()
            },
            |e| crate::aws::missing(e.is_waf_nonexistent_item_exception()),
        )
        .await
    }
}

/// Terraform's view: `aws_wafv2_web_acl_association`.
fn terraform(a: &Map<String, Value>) -> Vec<super::super::terraform::Tf> {
    use super::super::terraform::prelude::*;
    vec![tf(
        "aws_wafv2_web_acl_association",
        json!({"web_acl_arn": v(a, "web_acl_arn"), "resource_arn": v(a, "resource_arn")}),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &WAFV2_WEB_ACL_ASSOCIATION,
    planned_id: association_id,
    id_from_arn: super::super::no_arn,
    arn_example: ("arn:aws:wafv2:us-east-1:1:regional/webacl/api/a1b2", None),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity {
        field: "resource_arn",
        of: |written| written.text("resource_arn"),
    }),
    update_note: crate::spec::no_note,
    terraform: super::super::terraform::Mapping {
        types: &["aws_wafv2_web_acl_association"],
        map: terraform,
        import: |a| {
            let acl = super::super::terraform::attribute(a, "web_acl_arn")?;
            let resource = super::super::terraform::attribute(a, "resource_arn")?;
            Ok(format!("{acl},{resource}"))
        },
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Association,
    unmanaged: Unmanaged::NotTaggable,
};
