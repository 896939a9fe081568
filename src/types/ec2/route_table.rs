//! A route table: its routes and the subnets that use it, both sets. The
//! local route AWS adds is not part of it.

use super::errors;
use crate::aws::{changed, present, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::Tagging;
use crate::types::{Resource, ResourceType, Unmanaged};
use aws_sdk_ec2::types::{ResourceType as Ec2Type, RouteOrigin, RouteTable as Table};
use serde_json::{json, Map, Value};

const ROUTE: &[Field] = &[
    Field::new("destination_cidr_block", K::Str)
        .required()
        .check(crate::schema::checks::any_block),
    // Exactly one target.
    Field::new("gateway_id", K::Str).or(F::Str("")),
    Field::new("nat_gateway_id", K::Str).or(F::Str("")),
];

pub static ROUTE_TABLE: Schema = Schema {
    type_name: "route_table",
    description: "Route table with its routes and subnet associations",
    fields: &[
        Field::new("vpc_id", K::Str).required().force_new(),
        Field::new("routes", K::ObjectSet(ROUTE)).or(F::EmptyList),
        Field::new("subnet_ids", K::StrSet).or(F::EmptyList),
        TAGS,
    ],
    outputs: &["id", "arn"],
    taggable: true,
    naming: Naming::Tag,
    stateful: false,
    expand: no_expansion,
    validate: validate_table,
};

fn validate_table(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(Value::Array(routes)) = properties.get("routes") else {
        return problems;
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, route) in routes.iter().enumerate() {
        let Some(route) = route.as_object() else {
            continue;
        };
        let targets = ["gateway_id", "nat_gateway_id"]
            .iter()
            .filter(|f| !text(route, f).is_empty())
            .count();
        if targets != 1 {
            problems.push(Problem::new(
                format!("routes.{i}"),
                format!(
                    "a route names exactly one of gateway_id, nat_gateway_id (found {targets})"
                ),
            ));
        }
        let destination = text(route, "destination_cidr_block");
        if !destination.contains("${") && !seen.insert(destination.to_owned()) {
            problems.push(Problem::new(
                format!("routes.{i}.destination_cidr_block"),
                format!("a second route to `{destination}`; a table has one route per destination"),
            ));
        }
    }
    problems
}

fn routes_of(table: &Table) -> Value {
    let routes: Vec<Value> = table
        .routes()
        .iter()
        .filter(|r| r.origin() == Some(&RouteOrigin::CreateRoute))
        .filter_map(|r| {
            Some(json!({
                "destination_cidr_block": r.destination_cidr_block()?,
                "gateway_id": r.gateway_id().unwrap_or_default(),
                "nat_gateway_id": r.nat_gateway_id().unwrap_or_default(),
            }))
        })
        .collect();
    crate::schema::normalize(K::ObjectSet(ROUTE), &Value::Array(routes))
}

/// (subnet, association id) of the table's subnet associations.
fn associations(table: &Table) -> Vec<(String, String)> {
    table
        .associations()
        .iter()
        .filter(|a| a.main() != Some(true))
        .filter_map(|a| {
            Some((
                a.subnet_id()?.to_owned(),
                a.route_table_association_id()?.to_owned(),
            ))
        })
        .collect()
}

pub struct RouteTable;

impl RouteTable {
    async fn describe(&self, aws: &Aws, id: &str) -> Result<Option<Table>, AwsError> {
        let found = aws
            .send(
                "DescribeRouteTables",
                || aws.ec2().describe_route_tables().route_table_ids(id).send(),
                errors,
            )
            .await;
        Ok(present(found)?.and_then(|output| output.route_tables().first().cloned()))
    }

    fn observed(&self, aws: &Aws, id: &str, table: &Table) -> Observed {
        let mut subnets: Vec<String> = associations(table).into_iter().map(|(s, _)| s).collect();
        subnets.sort();
        let mut attributes = Map::new();
        attributes.insert("vpc_id".into(), json!(table.vpc_id()));
        attributes.insert("routes".into(), routes_of(table));
        attributes.insert("subnet_ids".into(), json!(subnets));
        attributes.insert("tags".into(), super::tags_of(table.tags()));
        super::observed(aws, "route-table", id, attributes)
    }

    async fn read_back(&self, aws: &Aws, id: &str) -> Result<(Table, Observed), AwsError> {
        match self.describe(aws, id).await? {
            Some(table) => {
                let observed = self.observed(aws, id, &table);
                Ok((table, observed))
            }
            None => Err(AwsError::new(
                ErrorClass::EventualConsistency,
                "DescribeRouteTables",
                format!("route table {id} not visible yet"),
            )),
        }
    }

    /// Brings routes and associations to `desired`'s from what AWS holds.
    async fn converge(
        &self,
        aws: &Aws,
        id: &str,
        table: &Table,
        desired: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let have = routes_of(table).as_array().cloned().unwrap_or_default();
        let want = crate::schema::normalize(
            K::ObjectSet(ROUTE),
            desired.get("routes").unwrap_or(&json!([])),
        )
        .as_array()
        .cloned()
        .unwrap_or_default();
        let destination = |r: &Value| {
            r["destination_cidr_block"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        for old in have.iter().filter(|r| !want.contains(r)) {
            // Replaced in place when the destination stays.
            if want.iter().any(|w| destination(w) == destination(old)) {
                continue;
            }
            aws.send_delete(
                "DeleteRoute",
                || {
                    aws.ec2()
                        .delete_route()
                        .route_table_id(id)
                        .destination_cidr_block(destination(old))
                        .send()
                },
                errors,
            )
            .await?;
        }
        for new in want.iter().filter(|r| !have.contains(r)) {
            let target = |field: &str| {
                Some(new[field].as_str().unwrap_or_default())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            let replace = have.iter().any(|h| destination(h) == destination(new));
            if replace {
                aws.send(
                    "ReplaceRoute",
                    || {
                        aws.ec2()
                            .replace_route()
                            .route_table_id(id)
                            .destination_cidr_block(destination(new))
                            .set_gateway_id(target("gateway_id"))
                            .set_nat_gateway_id(target("nat_gateway_id"))
                            .send()
                    },
                    errors,
                )
                .await?;
                continue;
            }
            let created = aws
                .send(
                    "CreateRoute",
                    || {
                        aws.ec2()
                            .create_route()
                            .route_table_id(id)
                            .destination_cidr_block(destination(new))
                            .set_gateway_id(target("gateway_id"))
                            .set_nat_gateway_id(target("nat_gateway_id"))
                            .send()
                    },
                    errors,
                )
                .await;
            // A repeat after a lost answer: the route is there.
            match created {
                Err(e) if e.class == ErrorClass::AlreadyExists => {}
                other => {
                    other?;
                }
            }
        }

        let current = associations(table);
        let wanted = strings(desired, "subnet_ids");
        for (subnet, association) in current.iter().filter(|(s, _)| !wanted.contains(s)) {
            let _ = subnet;
            aws.send_delete(
                "DisassociateRouteTable",
                || {
                    aws.ec2()
                        .disassociate_route_table()
                        .association_id(association)
                        .send()
                },
                errors,
            )
            .await?;
        }
        for subnet in wanted
            .iter()
            .filter(|s| !current.iter().any(|(c, _)| c == *s))
        {
            self.associate(aws, id, subnet).await?;
        }
        Ok(())
    }

    /// A subnet has one route table: one that uses another table explicitly
    /// is moved with ReplaceRouteTableAssociation (AWS refuses a second
    /// association).
    async fn associate(&self, aws: &Aws, id: &str, subnet: &str) -> Result<(), AwsError> {
        let elsewhere = aws
            .send(
                "DescribeRouteTables",
                || {
                    aws.ec2()
                        .describe_route_tables()
                        .filters(super::filter("association.subnet-id", subnet))
                        .send()
                },
                errors,
            )
            .await?;
        let existing = elsewhere.route_tables().iter().find_map(|t| {
            t.associations()
                .iter()
                .find(|a| a.subnet_id() == Some(subnet) && a.main() != Some(true))
                .map(|a| {
                    (
                        t.route_table_id().unwrap_or_default().to_owned(),
                        a.route_table_association_id()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
        });
        match existing {
            Some((table, _)) if table == id => Ok(()),
            Some((_, association)) => aws
                .send(
                    "ReplaceRouteTableAssociation",
                    || {
                        aws.ec2()
                            .replace_route_table_association()
                            .association_id(&association)
                            .route_table_id(id)
                            .send()
                    },
                    errors,
                )
                .await
                .map(|_| ()),
            None => aws
                .send(
                    "AssociateRouteTable",
                    || {
                        aws.ec2()
                            .associate_route_table()
                            .route_table_id(id)
                            .subnet_id(subnet)
                            .send()
                    },
                    errors,
                )
                .await
                .map(|_| ()),
        }
    }
}

impl Resource for RouteTable {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .describe(aws, id)
            .await?
            .map(|table| self.observed(aws, id, &table)))
    }

    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let found = aws
            .send(
                "DescribeRouteTables",
                || {
                    aws.ec2()
                        .describe_route_tables()
                        .set_filters(Some(super::owned_by(desired)))
                        .send()
                },
                errors,
            )
            .await?;
        Ok(found.route_tables().first().and_then(|table| {
            let id = table.route_table_id()?;
            Some(self.observed(aws, id, table))
        }))
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let created = aws
            .send_create(
                "CreateRouteTable",
                || {
                    aws.ec2()
                        .create_route_table()
                        .vpc_id(text(desired, "vpc_id"))
                        .tag_specifications(super::tagged_at_create(Ec2Type::RouteTable, desired))
                        .send()
                },
                errors,
            )
            .await?;
        let id = created
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_owned();
        let (table, _) = self.read_back(aws, &id).await?;
        self.converge(aws, &id, &table, desired).await?;
        Ok(self.read_back(aws, &id).await?.1)
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        if changed(fields, "routes") || changed(fields, "subnet_ids") {
            let (table, _) = self.read_back(aws, id).await?;
            self.converge(aws, id, &table, after).await?;
        }
        if changed(fields, "tags") {
            super::Tags.retag(aws, id, before, after).await?;
        }
        Ok(self.read_back(aws, id).await?.1)
    }

    /// Its subnets go back to the VPC's main table first (AWS refuses to
    /// delete a table that subnets use).
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(table) = self.describe(aws, id).await? else {
            return Ok(());
        };
        for (_, association) in associations(&table) {
            aws.send_delete(
                "DisassociateRouteTable",
                || {
                    aws.ec2()
                        .disassociate_route_table()
                        .association_id(&association)
                        .send()
                },
                errors,
            )
            .await?;
        }
        super::delete_when_released(aws, "DeleteRouteTable", || {
            aws.ec2().delete_route_table().route_table_id(id).send()
        })
        .await
    }
}

/// Terraform's view: `aws_route_table`, `aws_route_table_association`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let routes: Vec<Value> = a
        .get("routes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            json!({
                "cidr_block": r["destination_cidr_block"],
                "gateway_id": r.get("gateway_id").cloned().unwrap_or(Value::Null),
                "nat_gateway_id": r.get("nat_gateway_id").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut out = vec![tf(
        "aws_route_table",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "arn": v(a, "arn"), "vpc_id": v(a, "vpc_id"), "route": routes,
            }),
        ),
    )];
    for (i, subnet) in a
        .get("subnet_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push(each(
            "aws_route_table_association",
            i,
            json!({
                "subnet_id": subnet, "route_table_id": v(a, "id"),
            }),
        ));
    }
    out
}

pub static SPEC: Spec = Spec {
    schema: &ROUTE_TABLE,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":route-table/"),
    arn_example: (
        "arn:aws:ec2:us-east-1:1:route-table/rtb-0a1",
        Some("rtb-0a1"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_route_table", "aws_route_table_association"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts {
            taken_over: &["aws_route"],
            dies_with: &[],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &RouteTable,
    unmanaged: Unmanaged::TaggingApi,
};
