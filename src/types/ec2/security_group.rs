//! A VPC security group and its rules. Each rule is one element of a set
//! (one protocol, one port range, one source), so a plan shows the one
//! rule added or removed. Name, description and VPC force a new group, as
//! on AWS.

use super::errors;
use crate::aws::{present, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType as Ec2Type, UserIdGroupPair,
};
use serde_json::{json, Map, Value};

const RULE: &[Field] = &[
    // tcp, udp, icmp, icmpv6, a protocol number, or -1 (all).
    Field::new("protocol", K::Str).or(F::Str("tcp")),
    Field::new("from_port", K::Int).or(F::Int(0)),
    Field::new("to_port", K::Int).or(F::Int(0)),
    // Exactly one source (ingress) or destination (egress).
    Field::new("cidr_ipv4", K::Str)
        .or(F::Str(""))
        .check(crate::schema::checks::any_block),
    Field::new("cidr_ipv6", K::Str).or(F::Str("")),
    Field::new("security_group_id", K::Str).or(F::Str("")),
    Field::new("prefix_list_id", K::Str).or(F::Str("")),
    Field::new("description", K::Str)
        .or(F::Str(""))
        .check(description_text),
];

pub static SECURITY_GROUP: Schema = Schema {
    type_name: "security_group",
    description: "VPC security group with ingress and egress rules as sets",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(group_name),
        // Instead of a name: AWS gets this prefix and a unique suffix of
        // 26 digits, so a new group can exist beside the old one.
        Field::new("name_prefix", K::Str)
            .force_new()
            .check(name_prefix),
        Field::new("description", K::Str)
            .or(F::Str("Managed by cairn"))
            .force_new()
            .check(description_text),
        Field::new("vpc_id", K::Str).required().force_new(),
        Field::new("ingress", K::ObjectSet(RULE)).or(F::EmptyList),
        // Absent: AWS's default (all traffic out) is left alone.
        Field::new("egress", K::ObjectSet(RULE)),
        TAGS,
    ],
    outputs: &["id", "arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: expand_rules,
    validate: validate_group,
};

/// What AWS allows in a VPC group's name and descriptions.
fn vpc_text(text: &str) -> Option<char> {
    text.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(*c)))
}

fn group_name(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if name.contains("${") {
        return Ok(());
    }
    if name.is_empty() || name.chars().count() > 255 {
        return Err("a security group name is 1 to 255 characters long".into());
    }
    if name.to_ascii_lowercase().starts_with("sg-") {
        return Err(format!(
            "a security group name cannot start with `sg-` (`{name}`)"
        ));
    }
    match vpc_text(name) {
        Some(bad) => Err(format!(
            "a security group name `{name}` contains `{bad}`; AWS allows letters, digits, spaces and ._-:/()#,@[]+=&;{{}}!$*"
        )),
        None => Ok(()),
    }
}

fn name_prefix(value: &Value) -> Result<(), String> {
    crate::schema::checks::name_prefix(value, 255, group_name)
}

fn description_text(value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("expected a string")?;
    if text.contains("${") {
        return Ok(());
    }
    if text.chars().count() > 255 {
        return Err("a description is at most 255 characters".into());
    }
    match vpc_text(text) {
        Some(bad) => Err(format!(
            "`{bad}` is not allowed in a security group description; AWS allows letters, digits, spaces and ._-:/()#,@[]+=&;{{}}!$*"
        )),
        None => Ok(()),
    }
}

/// `all` is AWS's `-1`, whose rules carry no ports.
fn expand_rules(properties: &mut Map<String, Value>) {
    for key in ["ingress", "egress"] {
        if let Some(Value::Array(rules)) = properties.get_mut(key) {
            for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
                if rule.get("protocol").and_then(Value::as_str) == Some("all") {
                    rule.insert("protocol".into(), json!("-1"));
                }
            }
        }
    }
}

fn validate_group(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for key in ["ingress", "egress"] {
        let Some(Value::Array(rules)) = properties.get(key) else {
            continue;
        };
        for (i, rule) in rules.iter().enumerate() {
            let Some(rule) = rule.as_object() else {
                continue;
            };
            let at = |field: &str| format!("{key}.{i}.{field}");
            let protocol = text(rule, "protocol");
            let from = rule.get("from_port").and_then(Value::as_i64);
            let to = rule.get("to_port").and_then(Value::as_i64);
            match protocol {
                "tcp" | "udp" | "6" | "17" => {
                    for (field, port) in [("from_port", from), ("to_port", to)] {
                        if let Some(port) = port.filter(|p| !(0..=65535).contains(p)) {
                            problems.push(Problem::new(
                                at(field),
                                format!("a port is 0 to 65535, got {port}"),
                            ));
                        }
                    }
                    if let (Some(from), Some(to)) = (from, to) {
                        if from > to {
                            problems.push(Problem::new(
                                at("to_port"),
                                format!("the range ends ({to}) before it starts ({from})"),
                            ));
                        }
                    }
                }
                "-1" | "all" => {
                    if from.unwrap_or(0) != 0 || to.unwrap_or(0) != 0 {
                        problems.push(Problem::new(
                            at("from_port"),
                            "a rule for all protocols covers every port: leave the ports out (or 0)",
                        ));
                    }
                }
                "icmp" | "icmpv6" | "1" | "58" => {
                    for (field, value) in [("from_port", from), ("to_port", to)] {
                        if let Some(value) = value.filter(|v| !(-1..=255).contains(v)) {
                            problems.push(Problem::new(
                                at(field),
                                format!("an ICMP type or code is -1 to 255, got {value}"),
                            ));
                        }
                    }
                }
                other if other.contains("${") => {}
                other if other.parse::<u8>().is_ok() => {}
                other => problems.push(Problem::new(
                    at("protocol"),
                    format!(
                        "`{other}` is not a protocol; use tcp, udp, icmp, icmpv6, all (-1) or a protocol number"
                    ),
                )),
            }
            let sources = [
                "cidr_ipv4",
                "cidr_ipv6",
                "security_group_id",
                "prefix_list_id",
            ]
            .iter()
            .filter(|f| !text(rule, f).is_empty())
            .count();
            if sources != 1 {
                problems.push(Problem::new(
                    format!("{key}.{i}"),
                    format!(
                        "a rule names exactly one of cidr_ipv4, cidr_ipv6, security_group_id, prefix_list_id (found {sources})"
                    ),
                ));
            }
        }
    }
    problems
}

/// The rules of AWS's permissions, one element per source.
fn flatten(permissions: &[IpPermission]) -> Value {
    let mut rules = Vec::new();
    for permission in permissions {
        let protocol = permission.ip_protocol().unwrap_or("-1");
        let (from, to) = if protocol == "-1" {
            (0, 0)
        } else {
            (
                permission.from_port().unwrap_or(0),
                permission.to_port().unwrap_or(0),
            )
        };
        let rule = |source: &str, value: &str, description: Option<&str>| {
            let mut rule = Map::new();
            rule.insert("protocol".into(), json!(protocol));
            rule.insert("from_port".into(), json!(from));
            rule.insert("to_port".into(), json!(to));
            for field in [
                "cidr_ipv4",
                "cidr_ipv6",
                "security_group_id",
                "prefix_list_id",
            ] {
                rule.insert(
                    field.into(),
                    json!(if field == source { value } else { "" }),
                );
            }
            rule.insert("description".into(), json!(description.unwrap_or("")));
            Value::Object(rule)
        };
        for range in permission.ip_ranges() {
            rules.push(rule(
                "cidr_ipv4",
                range.cidr_ip().unwrap_or_default(),
                range.description(),
            ));
        }
        for range in permission.ipv6_ranges() {
            rules.push(rule(
                "cidr_ipv6",
                range.cidr_ipv6().unwrap_or_default(),
                range.description(),
            ));
        }
        for pair in permission.user_id_group_pairs() {
            rules.push(rule(
                "security_group_id",
                pair.group_id().unwrap_or_default(),
                pair.description(),
            ));
        }
        for list in permission.prefix_list_ids() {
            rules.push(rule(
                "prefix_list_id",
                list.prefix_list_id().unwrap_or_default(),
                list.description(),
            ));
        }
    }
    crate::schema::normalize(K::ObjectSet(RULE), &Value::Array(rules))
}

/// One rule as AWS's permission.
fn permission(rule: &Value) -> IpPermission {
    let rule = rule.as_object().cloned().unwrap_or_default();
    let protocol = text(&rule, "protocol");
    let description = Some(text(&rule, "description"))
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let mut builder = IpPermission::builder().ip_protocol(protocol);
    if protocol != "-1" {
        builder = builder
            .from_port(rule.get("from_port").and_then(Value::as_i64).unwrap_or(0) as i32)
            .to_port(rule.get("to_port").and_then(Value::as_i64).unwrap_or(0) as i32);
    }
    let source = |field: &str| Some(text(&rule, field)).filter(|v| !v.is_empty());
    if let Some(cidr) = source("cidr_ipv4") {
        builder = builder.ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .set_description(description)
                .build(),
        );
    } else if let Some(cidr) = source("cidr_ipv6") {
        builder = builder.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(cidr)
                .set_description(description)
                .build(),
        );
    } else if let Some(group) = source("security_group_id") {
        builder = builder.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(group)
                .set_description(description)
                .build(),
        );
    } else if let Some(list) = source("prefix_list_id") {
        builder = builder.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(list)
                .set_description(description)
                .build(),
        );
    }
    builder.build()
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Ingress,
    Egress,
}

pub struct SecurityGroup;

impl SecurityGroup {
    async fn read_group(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeSecurityGroups",
                || aws.ec2().describe_security_groups().group_ids(id).send(),
                errors,
            )
            .await;
        let Some(group) =
            present(found)?.and_then(|output| output.security_groups().first().cloned())
        else {
            return Ok(None);
        };
        let mut attributes = Map::new();
        attributes.insert("name".into(), json!(group.group_name()));
        attributes.insert(
            "name_prefix".into(),
            json!(group.group_name().and_then(crate::schema::prefix_of)),
        );
        attributes.insert("description".into(), json!(group.description()));
        attributes.insert("vpc_id".into(), json!(group.vpc_id()));
        attributes.insert("ingress".into(), flatten(group.ip_permissions()));
        attributes.insert("egress".into(), flatten(group.ip_permissions_egress()));
        attributes.insert("tags".into(), super::tags_of(group.tags()));
        Ok(Some(super::observed(aws, "security-group", id, attributes)))
    }

    async fn read_back(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        read_back(
            self.read_group(aws, id).await,
            After::Create,
            "DescribeSecurityGroups",
            format!("security group {id} not visible yet"),
        )
    }

    /// Authorizes rules. A repeat after a lost answer meets
    /// `InvalidPermission.Duplicate`, which fails the whole call: then
    /// each rule is sent alone and its duplicate taken as done.
    async fn authorize(
        &self,
        aws: &Aws,
        id: &str,
        direction: Direction,
        rules: &[Value],
    ) -> Result<(), AwsError> {
        if rules.is_empty() {
            return Ok(());
        }
        let send = |permissions: Vec<IpPermission>| async move {
            match direction {
                Direction::Ingress => aws
                    .send(
                        "AuthorizeSecurityGroupIngress",
                        || {
                            aws.ec2()
                                .authorize_security_group_ingress()
                                .group_id(id)
                                .set_ip_permissions(Some(permissions.clone()))
                                .send()
                        },
                        errors,
                    )
                    .await
                    .map(|_| ()),
                Direction::Egress => aws
                    .send(
                        "AuthorizeSecurityGroupEgress",
                        || {
                            aws.ec2()
                                .authorize_security_group_egress()
                                .group_id(id)
                                .set_ip_permissions(Some(permissions.clone()))
                                .send()
                        },
                        errors,
                    )
                    .await
                    .map(|_| ()),
            }
        };
        let all: Vec<IpPermission> = rules.iter().map(permission).collect();
        match send(all.clone()).await {
            Err(e) if e.class == ErrorClass::AlreadyExists => {
                for one in all {
                    match send(vec![one]).await {
                        Err(e) if e.class == ErrorClass::AlreadyExists => {}
                        other => other?,
                    }
                }
                Ok(())
            }
            other => other,
        }
    }

    /// Revokes rules; a rule already gone is not an error.
    async fn revoke(
        &self,
        aws: &Aws,
        id: &str,
        direction: Direction,
        rules: &[Value],
    ) -> Result<(), AwsError> {
        if rules.is_empty() {
            return Ok(());
        }
        let permissions: Vec<IpPermission> = rules.iter().map(permission).collect();
        let revoked = match direction {
            Direction::Ingress => aws
                .send(
                    "RevokeSecurityGroupIngress",
                    || {
                        aws.ec2()
                            .revoke_security_group_ingress()
                            .group_id(id)
                            .set_ip_permissions(Some(permissions.clone()))
                            .send()
                    },
                    errors,
                )
                .await
                .map(|_| ()),
            Direction::Egress => aws
                .send(
                    "RevokeSecurityGroupEgress",
                    || {
                        aws.ec2()
                            .revoke_security_group_egress()
                            .group_id(id)
                            .set_ip_permissions(Some(permissions.clone()))
                            .send()
                    },
                    errors,
                )
                .await
                .map(|_| ()),
        };
        crate::aws::ignore_missing(revoked)
    }

    /// Brings the group's rules to `desired`'s, from what AWS holds now:
    /// removed rules first (a changed description is the same rule to
    /// AWS, so it must go before it can come back), then added ones.
    async fn converge_rules(
        &self,
        aws: &Aws,
        id: &str,
        observed: &Map<String, Value>,
        desired: &Map<String, Value>,
    ) -> Result<bool, AwsError> {
        let mut changed = false;
        for (key, direction) in [
            ("ingress", Direction::Ingress),
            ("egress", Direction::Egress),
        ] {
            let Some(want) = desired.get(key).filter(|v| !v.is_null()) else {
                continue;
            };
            let want = crate::schema::normalize(K::ObjectSet(RULE), want);
            let have = observed.get(key).cloned().unwrap_or(json!([]));
            let (want, have) = (
                want.as_array().cloned().unwrap_or_default(),
                have.as_array().cloned().unwrap_or_default(),
            );
            let gone: Vec<Value> = have.iter().filter(|r| !want.contains(r)).cloned().collect();
            let new: Vec<Value> = want.iter().filter(|r| !have.contains(r)).cloned().collect();
            changed |= !gone.is_empty() || !new.is_empty();
            self.revoke(aws, id, direction, &gone).await?;
            self.authorize(aws, id, direction, &new).await?;
        }
        Ok(changed)
    }
}

impl Resource for SecurityGroup {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_group(aws, id).await
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeSecurityGroups",
                || {
                    aws.ec2()
                        .describe_security_groups()
                        .set_filters(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        match found.security_groups().first().and_then(|g| g.group_id()) {
            Some(id) => self.read_group(aws, id).await,
            None => Ok(None),
        }
    }

    /// The name is unique in its VPC, so a repeated create meets
    /// `InvalidGroup.Duplicate` and the engine adopts the group by its tags.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let name = text(desired, "name");
        let created = aws
            .send(
                "CreateSecurityGroup",
                || {
                    aws.ec2()
                        .create_security_group()
                        .group_name(name)
                        .description(text(desired, "description"))
                        .vpc_id(text(desired, "vpc_id"))
                        .tag_specifications(super::tagged_at_create(
                            Ec2Type::SecurityGroup,
                            desired,
                        ))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created.group_id().unwrap_or_default().to_owned();
        let observed = self.read_back(aws, &id).await?;
        if self
            .converge_rules(aws, &id, &observed.attributes, desired)
            .await?
        {
            return self.read_back(aws, &id).await;
        }
        Ok(observed)
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        if crate::aws::changed(fields, "ingress") || crate::aws::changed(fields, "egress") {
            let current = self.read_back(aws, id).await?;
            self.converge_rules(aws, id, &current.attributes, after)
                .await?;
        }
        if crate::aws::changed(fields, "tags") {
            super::Tags.retag(aws, id, before, after).await?;
        }
        self.read_back(aws, id).await
    }

    /// AWS refuses while network interfaces use the group or another
    /// group's rule names it (`DependencyViolation`); the delete waits.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        super::delete_when_released(aws, "DeleteSecurityGroup", || {
            aws.ec2().delete_security_group().group_id(id).send()
        })
        .await
    }
}

/// Terraform's view: `aws_security_group`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let rules = |key: &str| -> Value {
        match a.get(key) {
            Some(Value::Array(rules)) => Value::Array(rules.iter().map(|r| {
                let one = |k: &str| match r.get(k) {
                    Some(x) if !x.is_null() && x.as_str() != Some("") => json!([x]),
                    _ => json!([]),
                };
                let port = |k: &str| match r.get(k) {
                    Some(x) if !x.is_null() => x.clone(),
                    _ => json!(0),
                };
                json!({
                    "from_port": port("from_port"), "to_port": port("to_port"), "protocol": r["protocol"],
                    "cidr_blocks": one("cidr_ipv4"), "ipv6_cidr_blocks": one("cidr_ipv6"),
                    "prefix_list_ids": one("prefix_list_id"), "security_groups": one("security_group_id"),
                    "self": false, "description": r.get("description").cloned().unwrap_or(json!("")),
                })
            }).collect()),
            // Left alone: what AWS gives a new group, all traffic out.
            None | Some(Value::Null) if key == "egress" => json!([{
                "from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"],
                "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false,
                "description": "",
            }]),
            Some(other) => other.clone(),
            None => json!([]),
        }
    };
    vec![tf(
        "aws_security_group",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "arn": v(a, "arn"), "name": v(a, "name"),
                "name_prefix": v(a, "name_prefix"),
                "description": v(a, "description"), "vpc_id": v(a, "vpc_id"),
                "ingress": rules("ingress"), "egress": rules("egress"), "revoke_rules_on_delete": false,
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &SECURITY_GROUP,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":security-group/"),
    arn_example: (
        "arn:aws:ec2:us-east-1:1:security-group/sg-0a1",
        Some("sg-0a1"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity {
        field: "name",
        // A group's name is unique in its VPC.
        of: |w| Some(format!("{} in {}", w.text("name")?, w.raw("vpc_id")?)),
    }),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_security_group"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts {
            taken_over: &[
                "aws_security_group_rule",
                "aws_vpc_security_group_ingress_rule",
                "aws_vpc_security_group_egress_rule",
            ],
            dies_with: &[],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &SecurityGroup,
    unmanaged: Unmanaged::TaggingApi,
};
