//! A VPC endpoint: a gateway endpoint (DynamoDB, S3) on route tables, or
//! an interface endpoint in subnets with security groups and private DNS.

use super::errors;
use crate::aws::{present, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{ListFn, Listed, Resource, ResourceType, Unmanaged};
use aws_sdk_ec2::types::{ResourceType as Ec2Type, VpcEndpoint as Endpoint, VpcEndpointType};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

pub static VPC_ENDPOINT: Schema = Schema {
    type_name: "vpc_endpoint",
    description: "VPC endpoint: gateway (DynamoDB, S3) or interface with private DNS",
    fields: &[
        Field::new("vpc_id", K::Str).required().force_new(),
        Field::new("service_name", K::Str).required().force_new(),
        Field::new("vpc_endpoint_type", K::Str)
            .or(F::Str("Gateway"))
            .force_new()
            .one_of(&["Gateway", "Interface"], "an endpoint type"),
        Field::new("route_table_ids", K::StrSet).or(F::EmptyList),
        Field::new("subnet_ids", K::StrSet).or(F::EmptyList),
        Field::new("security_group_ids", K::StrSet).or(F::EmptyList),
        Field::new("private_dns_enabled", K::Bool).or(F::Bool(false)),
        // Absent: AWS's default policy (full access), not compared.
        Field::new("policy", K::Policy),
        TAGS,
    ],
    // `prefix_list_id`: a gateway endpoint's service addresses, for
    // security group rules.
    outputs: &["id", "arn", "prefix_list_id"],
    taggable: true,
    naming: Naming::Tag,
    stateful: false,
    expand: no_expansion,
    validate: validate_endpoint,
};

fn validate_endpoint(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let listed = |key: &str| {
        properties
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|items| !items.is_empty())
    };
    match text(properties, "vpc_endpoint_type") {
        "Gateway" => {
            for key in ["subnet_ids", "security_group_ids"] {
                if listed(key) {
                    problems.push(Problem::new(
                        key,
                        format!("a gateway endpoint has route tables, not `{key}` (those are for `vpc_endpoint_type: Interface`)"),
                    ));
                }
            }
            if properties.get("private_dns_enabled") == Some(&json!(true)) {
                problems.push(Problem::new(
                    "private_dns_enabled",
                    "private DNS is for interface endpoints",
                ));
            }
        }
        "Interface" => {
            if listed("route_table_ids") {
                problems.push(Problem::new(
                    "route_table_ids",
                    "an interface endpoint lives in subnets, not route tables (those are for gateway endpoints)",
                ));
            }
            if !listed("subnet_ids") {
                problems.push(Problem::new(
                    "subnet_ids",
                    "an interface endpoint needs at least one subnet",
                ));
            }
        }
        _ => {}
    }
    if let Some(policy) = properties.get("policy").filter(|p| !p.is_null()) {
        problems.extend(crate::schema::policy::policy_problems(
            "policy",
            policy,
            crate::schema::policy::PolicyKind::Resource,
        ));
    }
    problems
}

/// The endpoint's state in lower case: AWS answers `available`, the SDK's
/// enum spells `Available` (Terraform's provider compares lower case too).
fn state(endpoint: &Endpoint) -> String {
    endpoint
        .state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_gone(endpoint: &Endpoint) -> bool {
    matches!(
        state(endpoint).as_str(),
        "deleted" | "deleting" | "rejected" | "failed"
    )
}

fn sorted(items: impl IntoIterator<Item = String>) -> Value {
    let mut items: Vec<String> = items.into_iter().collect();
    items.sort();
    json!(items)
}

pub struct VpcEndpoint;

impl VpcEndpoint {
    async fn describe(&self, aws: &Aws, id: &str) -> Result<Option<Endpoint>, AwsError> {
        let found = aws
            .send(
                "DescribeVpcEndpoints",
                || {
                    aws.ec2()
                        .describe_vpc_endpoints()
                        .vpc_endpoint_ids(id)
                        .send()
                },
                errors,
            )
            .await;
        Ok(present(found)?.and_then(|output| output.vpc_endpoints().first().cloned()))
    }

    fn observed(&self, aws: &Aws, endpoint: &Endpoint) -> Observed {
        let id = endpoint.vpc_endpoint_id().unwrap_or_default();
        let mut attributes = Map::new();
        attributes.insert("vpc_id".into(), json!(endpoint.vpc_id()));
        attributes.insert("service_name".into(), json!(endpoint.service_name()));
        attributes.insert(
            "vpc_endpoint_type".into(),
            json!(endpoint
                .vpc_endpoint_type()
                .map_or("Gateway", |t| t.as_str())),
        );
        attributes.insert(
            "route_table_ids".into(),
            sorted(endpoint.route_table_ids().iter().cloned()),
        );
        attributes.insert(
            "subnet_ids".into(),
            sorted(endpoint.subnet_ids().iter().cloned()),
        );
        attributes.insert(
            "security_group_ids".into(),
            sorted(
                endpoint
                    .groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_owned)),
            ),
        );
        // Private DNS exists only for interface endpoints (moto reports it
        // true for gateway endpoints too; AWS reports false).
        let interface = endpoint.vpc_endpoint_type() == Some(&VpcEndpointType::Interface);
        attributes.insert(
            "private_dns_enabled".into(),
            json!(interface && endpoint.private_dns_enabled().unwrap_or(false)),
        );
        attributes.insert(
            "policy".into(),
            endpoint
                .policy_document()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null),
        );
        attributes.insert("tags".into(), super::tags_of(endpoint.tags()));
        super::observed(aws, "vpc-endpoint", id, attributes)
    }

    /// The AWS-managed prefix list of a gateway endpoint's service.
    async fn with_prefix_list(
        &self,
        aws: &Aws,
        mut observed: Observed,
    ) -> Result<Observed, AwsError> {
        let mut prefix_list = String::new();
        if text(&observed.attributes, "vpc_endpoint_type") == "Gateway" {
            let service = text(&observed.attributes, "service_name").to_owned();
            let lists = aws
                .send(
                    "DescribePrefixLists",
                    || {
                        aws.ec2()
                            .describe_prefix_lists()
                            .filters(super::filter("prefix-list-name", &service))
                            .send()
                    },
                    errors,
                )
                .await?;
            if let Some(id) = lists
                .prefix_lists()
                .first()
                .and_then(|l| l.prefix_list_id())
            {
                prefix_list = id.to_owned();
            }
        }
        observed
            .outputs
            .insert("prefix_list_id".into(), json!(prefix_list));
        Ok(observed)
    }

    async fn wait_available(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        let endpoint =
            crate::aws::wait_for("DescribeVpcEndpoints", super::PENDING_CHECKS, || async {
                let endpoint = self.describe(aws, id).await?;
                match endpoint.as_ref().map(state).as_deref() {
                    Some("failed" | "rejected") => Err(AwsError::new(
                        ErrorClass::Fatal,
                        "CreateVpcEndpoint",
                        format!("VPC endpoint {id} did not come up"),
                    )),
                    Some("available") => Ok(endpoint),
                    _ => Ok(None),
                }
            })
            .await?;
        self.with_prefix_list(aws, self.observed(aws, &endpoint))
            .await
    }
}

/// Differences of a set field: (added, removed).
fn set_change(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    key: &str,
) -> (Vec<String>, Vec<String>) {
    let old = strings(before, key);
    let new = strings(after, key);
    (
        new.iter().filter(|v| !old.contains(v)).cloned().collect(),
        old.iter().filter(|v| !new.contains(v)).cloned().collect(),
    )
}

fn list_endpoints<'a>(aws: &'a Aws, _prefix: &'a str) -> BoxFuture<'a, Result<Listed, AwsError>> {
    Box::pin(async move {
        let mut listed = Listed::new();
        let pages = aws
            .pages(
                "DescribeVpcEndpoints",
                |token| {
                    aws.ec2()
                        .describe_vpc_endpoints()
                        .set_next_token(token)
                        .send()
                },
                |page| page.next_token(),
                errors,
            )
            .all()
            .await?;
        for endpoint in pages
            .iter()
            .flat_map(|page| page.vpc_endpoints())
            .filter(|e| !is_gone(e))
        {
            let id = endpoint.vpc_endpoint_id().unwrap_or_default();
            let tags = endpoint
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            listed.push((super::arn(aws, "vpc-endpoint", id), tags));
        }
        Ok(listed)
    })
}

const LIST: ListFn = list_endpoints;

impl Resource for VpcEndpoint {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        match self.describe(aws, id).await?.filter(|e| !is_gone(e)) {
            Some(endpoint) => self
                .with_prefix_list(aws, self.observed(aws, &endpoint))
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeVpcEndpoints",
                || {
                    aws.ec2()
                        .describe_vpc_endpoints()
                        .set_filters(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        match found
            .vpc_endpoints()
            .iter()
            .find(|e| !is_gone(e))
            .and_then(|e| e.vpc_endpoint_id())
        {
            Some(id) => self.wait_available(aws, id).await.map(Some),
            None => Ok(None),
        }
    }

    /// Sent once, with a client token: after a lost answer the engine
    /// finds the endpoint by its tags rather than repeating the call (moto
    /// ignores the token; AWS would return the same endpoint).
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let token = format!("cairn-{:016x}", fastrand::u64(..));
        let list = |key: &str| Some(strings(desired, key)).filter(|l| !l.is_empty());
        let policy = desired
            .get("policy")
            .filter(|p| !p.is_null())
            .map(crate::aws::policy_text);
        let interface = text(desired, "vpc_endpoint_type") == "Interface";
        let created = aws
            .send_create(
                "CreateVpcEndpoint",
                || {
                    aws.ec2()
                        .create_vpc_endpoint()
                        .vpc_id(text(desired, "vpc_id"))
                        .service_name(text(desired, "service_name"))
                        .vpc_endpoint_type(VpcEndpointType::from(text(
                            desired,
                            "vpc_endpoint_type",
                        )))
                        .set_route_table_ids(list("route_table_ids"))
                        .set_subnet_ids(list("subnet_ids"))
                        .set_security_group_ids(list("security_group_ids"))
                        .set_private_dns_enabled(
                            interface.then(|| crate::aws::flag(desired, "private_dns_enabled")),
                        )
                        .set_policy_document(policy.clone())
                        .client_token(&token)
                        .tag_specifications(super::tagged_at_create(Ec2Type::VpcEndpoint, desired))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .unwrap_or_default()
            .to_owned();
        self.wait_available(aws, &id).await
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
            "route_table_ids",
            "subnet_ids",
            "security_group_ids",
            "private_dns_enabled",
            "policy",
        ]
        .iter()
        .any(|f| crate::aws::changed(fields, f));
        if modified {
            let (add_tables, remove_tables) = set_change(before, after, "route_table_ids");
            let (add_subnets, remove_subnets) = set_change(before, after, "subnet_ids");
            let (add_groups, remove_groups) = set_change(before, after, "security_group_ids");
            let nonempty = |l: Vec<String>| Some(l).filter(|l| !l.is_empty());
            let policy = crate::aws::changed(fields, "policy")
                .then(|| after.get("policy").filter(|p| !p.is_null()))
                .flatten()
                .map(crate::aws::policy_text);
            let dns = crate::aws::changed(fields, "private_dns_enabled")
                .then(|| crate::aws::flag(after, "private_dns_enabled"));
            aws.send(
                "ModifyVpcEndpoint",
                || {
                    aws.ec2()
                        .modify_vpc_endpoint()
                        .vpc_endpoint_id(id)
                        .set_add_route_table_ids(nonempty(add_tables.clone()))
                        .set_remove_route_table_ids(nonempty(remove_tables.clone()))
                        .set_add_subnet_ids(nonempty(add_subnets.clone()))
                        .set_remove_subnet_ids(nonempty(remove_subnets.clone()))
                        .set_add_security_group_ids(nonempty(add_groups.clone()))
                        .set_remove_security_group_ids(nonempty(remove_groups.clone()))
                        .set_policy_document(policy.clone())
                        .set_private_dns_enabled(dns)
                        .send()
                },
                errors,
            )
            .await?;
        }
        if crate::aws::changed(fields, "tags") {
            super::Tags.retag(aws, id, before, after).await?;
        }
        self.wait_available(aws, id).await
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let answer = aws
            .send(
                "DeleteVpcEndpoints",
                || aws.ec2().delete_vpc_endpoints().vpc_endpoint_ids(id).send(),
                errors,
            )
            .await;
        let answer = match answer {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        };
        // Refusals come back per endpoint, with an EC2 error code.
        if let Some(error) = answer.unsuccessful().first().and_then(|u| u.error()) {
            let code = error.code().unwrap_or_default();
            let class = super::class_of(code).unwrap_or(ErrorClass::Fatal);
            if class != ErrorClass::NotFound {
                return Err(AwsError::new(
                    class,
                    "DeleteVpcEndpoints",
                    format!("{code}: {}", error.message().unwrap_or_default()),
                ));
            }
        }
        crate::aws::wait_for("DescribeVpcEndpoints", super::PENDING_CHECKS, || async {
            Ok(self
                .describe(aws, id)
                .await?
                .is_none_or(|e| state(&e) == "deleted")
                .then_some(()))
        })
        .await
    }
}

/// Terraform's view: `aws_vpc_endpoint`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_vpc_endpoint",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "arn": v(a, "arn"), "prefix_list_id": v(a, "prefix_list_id"),
                "vpc_id": v(a, "vpc_id"), "service_name": v(a, "service_name"),
                "vpc_endpoint_type": v(a, "vpc_endpoint_type"), "route_table_ids": v(a, "route_table_ids"),
                "subnet_ids": v(a, "subnet_ids"), "security_group_ids": v(a, "security_group_ids"),
                "private_dns_enabled": v(a, "private_dns_enabled"),
                "policy": json_string(&v(a, "policy")),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &VPC_ENDPOINT,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":vpc-endpoint/"),
    arn_example: (
        "arn:aws:ec2:us-east-1:1:vpc-endpoint/vpce-0a1",
        Some("vpce-0a1"),
    ),
    bulk_tagged: false,
    // The tagging API finds endpoints on AWS but not on moto: listed too.
    create_before_destroy: true,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_vpc_endpoint"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &VpcEndpoint,
    unmanaged: Unmanaged::Listed(LIST),
};
