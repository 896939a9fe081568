//! A rule of a listener: requests whose path or host match go, in the
//! order of the rules' priorities, to a target group (or a redirect)
//! instead of the listener's default action.

use super::lb_listener::{action_of, action_problems, action_value, terraform_action, ACTION};
use super::{elb_tags, read_tags, Tags};
use crate::aws::{changed, int, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, PathPatternConditionConfig, Rule as Live, RuleCondition,
    RulePriorityPair,
};
use serde_json::{json, Map, Value};

pub static LB_LISTENER_RULE: Schema = Schema {
    type_name: "lb_listener_rule",
    description: "Rule of a load balancer listener: path or host conditions, forward or redirect",
    fields: &[
        Field::new("listener_arn", K::Str).required().force_new(),
        Field::new("priority", K::Int)
            .required()
            .check(|v| c::int_range(v, 1, 50000, "a rule priority")),
        Field::new("path_patterns", K::StrSet).or(F::EmptyList),
        Field::new("host_headers", K::StrSet).or(F::EmptyList),
        Field::new("action", K::Object(ACTION)).required(),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: validate_rule,
};

/// A rule matches on something, and AWS counts at most five values across
/// its conditions.
fn validate_rule(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = action_problems(properties.get("action"), "action");
    let count = |k: &str| {
        properties
            .get(k)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let values = count("path_patterns") + count("host_headers");
    if values == 0 {
        problems.push(Problem::new(
            "path_patterns",
            "a rule needs `path_patterns` or `host_headers` to match on",
        ));
    } else if values > 5 {
        problems.push(Problem::new(
            "path_patterns",
            format!("a rule's conditions have at most 5 values in all, got {values}"),
        ));
    }
    problems
}

fn conditions_of(desired: &Map<String, Value>) -> Vec<RuleCondition> {
    let mut conditions = Vec::new();
    let paths = strings(desired, "path_patterns");
    if !paths.is_empty() {
        conditions.push(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(paths))
                        .build(),
                )
                .build(),
        );
    }
    let hosts = strings(desired, "host_headers");
    if !hosts.is_empty() {
        conditions.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(hosts))
                        .build(),
                )
                .build(),
        );
    }
    conditions
}

/// The values of the condition on `field`, from its config or (the older
/// form, which an emulator answers with) its `values`.
fn condition_values(rule: &Live, field: &str) -> Vec<String> {
    let mut values: Vec<String> = rule
        .conditions()
        .iter()
        .filter(|c| c.field() == Some(field))
        .flat_map(|c| {
            let configured = match field {
                "path-pattern" => c.path_pattern_config().map(|p| p.values().to_vec()),
                _ => c.host_header_config().map(|h| h.values().to_vec()),
            };
            configured
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| c.values().to_vec())
        })
        .collect();
    values.sort();
    values.dedup();
    values
}

pub struct ListenerRule;

impl ListenerRule {
    async fn describe(&self, aws: &Aws, arn: &str) -> Result<Option<Live>, AwsError> {
        let found = aws
            .send(
                "DescribeRules",
                || aws.elbv2().describe_rules().rule_arns(arn).send(),
                |e| crate::aws::missing(e.is_rule_not_found_exception()),
            )
            .await;
        match found {
            Ok(output) => Ok(output.rules().first().cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn observed(&self, aws: &Aws, listener: &str, rule: &Live) -> Result<Observed, AwsError> {
        let arn = rule.rule_arn().unwrap_or_default();
        let mut attributes = Map::new();
        attributes.insert("listener_arn".into(), json!(listener));
        attributes.insert(
            "priority".into(),
            json!(rule.priority().and_then(|p| p.parse::<i64>().ok())),
        );
        attributes.insert(
            "path_patterns".into(),
            json!(condition_values(rule, "path-pattern")),
        );
        attributes.insert(
            "host_headers".into(),
            json!(condition_values(rule, "host-header")),
        );
        attributes.insert("action".into(), action_value(rule.actions()));
        attributes.insert("tags".into(), read_tags(aws, arn).await?);
        Ok(observation(arn, attributes, [("arn", json!(arn))]))
    }

    async fn read_rule(&self, aws: &Aws, arn: &str) -> Result<Option<Observed>, AwsError> {
        let Some(rule) = self.describe(aws, arn).await? else {
            return Ok(None);
        };
        Ok(Some(self.observed(aws, &listener_of(arn), &rule).await?))
    }
}

/// The listener's ARN inside a rule's:
/// `...:listener-rule/app/NAME/LB/LISTENER/RULE` is in
/// `...:listener/app/NAME/LB/LISTENER`.
fn listener_of(rule_arn: &str) -> String {
    let listener = rule_arn.replacen(":listener-rule/", ":listener/", 1);
    listener
        .rsplit_once('/')
        .map_or(listener.clone(), |(base, _)| base.to_owned())
}

impl Resource for ListenerRule {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_rule(aws, id).await
    }

    /// The rule of the listener at this priority: a listener has one per
    /// priority.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let listener = text(desired, "listener_arn");
        let found = aws
            .send(
                "DescribeRules",
                || aws.elbv2().describe_rules().listener_arn(listener).send(),
                |e| crate::aws::missing(e.is_listener_not_found_exception()),
            )
            .await;
        let rules = match found {
            Ok(output) => output.rules().to_vec(),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let priority = int(desired, "priority").map(|p| p.to_string());
        match rules
            .iter()
            .find(|r| r.priority().map(str::to_owned) == priority)
        {
            Some(rule) => Ok(Some(self.observed(aws, listener, rule).await?)),
            None => Ok(None),
        }
    }

    /// A repeat after a lost answer meets its own priority taken, and the
    /// engine finds the rule at that priority.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let action = desired
            .get("action")
            .and_then(Value::as_object)
            .map(action_of);
        let created = aws
            .send(
                "CreateRule",
                || {
                    aws.elbv2()
                        .create_rule()
                        .listener_arn(text(desired, "listener_arn"))
                        .priority(int(desired, "priority").unwrap_or_default() as i32)
                        .set_conditions(Some(conditions_of(desired)))
                        .set_actions(action.clone().map(|a| vec![a]))
                        .set_tags(Some(elb_tags(&string_map(desired, "tags"))))
                        .send()
                },
                |e| {
                    e.is_priority_in_use_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
        let arn = created
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .unwrap_or_default()
            .to_owned();
        read_back(
            self.read_rule(aws, &arn).await,
            After::Create,
            "DescribeRules",
            format!("rule {arn} not visible yet"),
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
        if ["path_patterns", "host_headers", "action"]
            .iter()
            .any(|f| changed(fields, f))
        {
            let action = after
                .get("action")
                .and_then(Value::as_object)
                .map(action_of);
            aws.send(
                "ModifyRule",
                || {
                    aws.elbv2()
                        .modify_rule()
                        .rule_arn(id)
                        .set_conditions(Some(conditions_of(after)))
                        .set_actions(action.clone().map(|a| vec![a]))
                        .send()
                },
                |e| crate::aws::missing(e.is_rule_not_found_exception()),
            )
            .await?;
        }
        if changed(fields, "priority") {
            let pair = RulePriorityPair::builder()
                .rule_arn(id)
                .priority(int(after, "priority").unwrap_or_default() as i32)
                .build();
            aws.send(
                "SetRulePriorities",
                || {
                    aws.elbv2()
                        .set_rule_priorities()
                        .rule_priorities(pair.clone())
                        .send()
                },
                |e| {
                    if e.is_rule_not_found_exception() {
                        Some(ErrorClass::NotFound)
                    } else if e.is_priority_in_use_exception() {
                        Some(ErrorClass::Conflict)
                    } else {
                        None
                    }
                },
            )
            .await?;
        }
        if changed(fields, "tags") {
            Tags.retag(aws, id, before, after).await?;
        }
        read_back(
            self.read_rule(aws, id).await,
            After::Update,
            "DescribeRules",
            format!("rule {id} disappeared during update"),
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "DeleteRule",
            || aws.elbv2().delete_rule().rule_arn(id).send(),
            |e| crate::aws::missing(e.is_rule_not_found_exception()),
        )
        .await
    }
}

/// Terraform's view: `aws_lb_listener_rule`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let mut conditions = Vec::new();
    let values = |k: &str| a.get(k).and_then(Value::as_array).filter(|v| !v.is_empty());
    if let Some(paths) = values("path_patterns") {
        conditions.push(json!({"path_pattern": block(json!({"values": paths}))}));
    }
    if let Some(hosts) = values("host_headers") {
        conditions.push(json!({"host_header": block(json!({"values": hosts}))}));
    }
    vec![tf(
        "aws_lb_listener_rule",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "id": v(a, "arn"), "listener_arn": v(a, "listener_arn"),
                "priority": v(a, "priority"), "condition": conditions,
                "action": terraform_action(&v(a, "action")),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &LB_LISTENER_RULE,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| arn.contains(":listener-rule/").then(|| arn.to_owned()),
    arn_example: (
        "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
        Some("arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    // One rule per priority of a listener.
    identity: Some(Identity {
        field: "priority",
        of: |w| {
            let priority = w.properties.get("priority")?;
            Some(format!("{} priority {priority}", w.raw("listener_arn")?))
        },
    }),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_lb_listener_rule"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "arn"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &ListenerRule,
    unmanaged: Unmanaged::TaggingApi,
};

#[cfg(test)]
mod tests {
    #[test]
    fn a_rule_names_its_listener_in_its_arn() {
        assert_eq!(
            super::listener_of(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/5d/f2/96"
            ),
            "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/5d/f2"
        );
    }
}
