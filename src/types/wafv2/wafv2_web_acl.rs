//! A WAFv2 web ACL: a default action, rules (a rate limit per IP, or an
//! AWS managed rule group with rules excluded or their actions
//! overridden), each with its priority and visibility config, the ACL's
//! own visibility config, tags. Every change carries the lock token of the
//! latest read; a stale one is read again and retried.

use super::super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use super::for_scope;
use crate::aws::{changed, ignore_missing, missing, present, string_map, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{pending, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::Spec;
use crate::types::observation;
use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, CountAction, DefaultAction, ExcludedRule, ManagedRuleGroupStatement,
    NoneAction, OverrideAction, RateBasedStatement, RateBasedStatementAggregateKeyType, Rule,
    RuleAction, RuleActionOverride, Scope, Statement, Tag, VisibilityConfig, WebAcl,
};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The smallest rate limit AWS takes (lowered from 100 to 10 in 2024).
pub const MINIMUM_RATE_LIMIT: i64 = 10;

static VISIBILITY: &[Field] = &[
    Field::new("metric_name", K::Str)
        .required()
        .check(metric_name),
    Field::new("sampled_requests_enabled", K::Bool).or(F::Bool(true)),
    Field::new("cloudwatch_metrics_enabled", K::Bool).or(F::Bool(true)),
];

static OVERRIDE: &[Field] = &[
    Field::new("name", K::Str).required(),
    Field::new("action", K::Str)
        .required()
        .one_of(&["allow", "block", "count"], "a rule action"),
];

static MANAGED: &[Field] = &[
    Field::new("vendor_name", K::Str)
        .or(F::Str("AWS"))
        .one_of(&["AWS"], "a managed rule group vendor"),
    Field::new("name", K::Str).required(),
    // Rules of the group that only count (AWS's ExcludedRules).
    Field::new("excluded_rules", K::StrList).or(F::EmptyList),
    Field::new("rule_action_overrides", K::ObjectList(OVERRIDE)).or(F::EmptyList),
];

static RULE: &[Field] = &[
    Field::new("name", K::Str).required().check(acl_name),
    Field::new("priority", K::Int)
        .required()
        .check(c::non_negative),
    // A rate-based rule's action.
    Field::new("action", K::Str).one_of(&["allow", "block", "count"], "a rule action"),
    // A rule group's: `none` keeps the group's own actions.
    Field::new("override_action", K::Str).one_of(&["none", "count"], "an override action"),
    // Requests per 5 minutes from one IP address.
    Field::new("rate_limit", K::Int).check(rate_limit),
    Field::new("managed_rule_group", K::Object(MANAGED)),
    Field::new("visibility_config", K::Object(VISIBILITY)).required(),
];

pub static WAFV2_WEB_ACL: Schema = Schema {
    type_name: "wafv2_web_acl",
    description: "WAFv2 web ACL: rate limits per IP and AWS managed rule groups",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(acl_name),
        Field::new("scope", K::Str)
            .or(F::Str("REGIONAL"))
            .force_new()
            .one_of(&["REGIONAL", "CLOUDFRONT"], "a scope"),
        Field::new("description", K::Str)
            .or(F::Str(""))
            .check(description),
        Field::new("default_action", K::Str)
            .or(F::Str("allow"))
            .one_of(&["allow", "block"], "a default action"),
        Field::new("rules", K::ObjectSet(RULE)).or(F::EmptyList),
        Field::new("visibility_config", K::Object(VISIBILITY)).required(),
        TAGS,
    ],
    outputs: &["arn", "id"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: expand_acl,
    validate: validate_acl,
};

fn acl_name(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 128),
        "a WAF name",
        "_-",
        "letters, digits, _ and -",
    )
}

fn metric_name(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 255),
        "a metric name",
        "_-",
        "letters, digits, _ and -",
    )?;
    let v = c::text(value)?;
    if v == "All" || v == "Default_Action" {
        return Err(format!("`{v}` is a metric name WAF keeps for itself"));
    }
    Ok(())
}

fn description(value: &Value) -> Result<(), String> {
    c::length(c::text(value)?, 0, 256, "a web ACL description")
}

fn rate_limit(value: &Value) -> Result<(), String> {
    c::int_range(
        value,
        MINIMUM_RATE_LIMIT,
        2_000_000_000,
        "a rate limit (requests per 5 minutes)",
    )
}

/// A rule group's override action defaults to `none`, as AWS reads it back.
fn expand_acl(properties: &mut Map<String, Value>) {
    let Some(Value::Array(rules)) = properties.get_mut("rules") else {
        return;
    };
    for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
        let managed = rule.get("managed_rule_group").is_some_and(|g| !g.is_null());
        let unset = rule.get("override_action").is_none_or(Value::is_null);
        if managed && unset {
            rule.insert("override_action".into(), json!("none"));
        }
    }
}

fn validate_acl(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(rules) = properties.get("rules").and_then(Value::as_array) else {
        return problems;
    };
    let mut priorities = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (at, rule) in rules.iter().enumerate() {
        let Some(rule) = rule.as_object() else {
            continue;
        };
        let place = |key: &str| format!("rules.{at}.{key}");
        let given = |key: &str| rule.get(key).is_some_and(|v| !v.is_null());
        match (given("rate_limit"), given("managed_rule_group")) {
            (true, true) | (false, false) => problems.push(Problem::new(
                place("rate_limit"),
                "a rule has a `rate_limit` or a `managed_rule_group`, one of the two",
            )),
            (true, false) => {
                if !given("action") {
                    problems.push(Problem::new(
                        place("action"),
                        "a rate-based rule needs an `action` (block, count or allow)",
                    ));
                }
                if given("override_action") {
                    problems.push(Problem::new(
                        place("override_action"),
                        "only a rule group takes an `override_action`; a rate-based rule has an `action`",
                    ));
                }
            }
            (false, true) => {
                if given("action") {
                    problems.push(Problem::new(
                        place("action"),
                        "a rule group takes an `override_action` (none or count), not an `action`",
                    ));
                }
            }
        }
        if let Some(priority) = rule.get("priority").filter(|p| !pending(p)) {
            if let Some(first) = priorities.insert(priority.to_string(), at) {
                problems.push(Problem::new(
                    place("priority"),
                    format!("rules {first} and {at} both have priority {priority}; each rule's priority is its own"),
                ));
            }
        }
        if let Some(name) = rule.get("name").and_then(Value::as_str) {
            if !name.contains("${") && !names.insert(name) {
                problems.push(Problem::new(
                    place("name"),
                    format!("two rules are named `{name}`"),
                ));
            }
        }
    }
    problems
}

/// An ACL's id: `ID/NAME/SCOPE`, as Terraform imports it.
fn split_id(id: &str) -> (&str, &str, &str) {
    let mut parts = id.splitn(3, '/');
    let acl = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    let scope = parts.next().unwrap_or("REGIONAL");
    (acl, name, scope)
}

fn sdk_visibility(config: &Map<String, Value>) -> VisibilityConfig {
    let enabled = |key: &str| config.get(key).and_then(Value::as_bool).unwrap_or(true);
    VisibilityConfig::builder()
        .metric_name(text(config, "metric_name"))
        .sampled_requests_enabled(enabled("sampled_requests_enabled"))
        .cloud_watch_metrics_enabled(enabled("cloudwatch_metrics_enabled"))
        .build()
        .expect("metric name and flags are set")
}

fn object(map: &Map<String, Value>, key: &str) -> Map<String, Value> {
    map.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn rule_action(action: &str) -> RuleAction {
    let builder = RuleAction::builder();
    match action {
        "allow" => builder.allow(AllowAction::builder().build()),
        "count" => builder.count(CountAction::builder().build()),
        _ => builder.block(BlockAction::builder().build()),
    }
    .build()
}

fn action_name(action: Option<&RuleAction>) -> Value {
    match action {
        Some(a) if a.allow().is_some() => json!("allow"),
        Some(a) if a.count().is_some() => json!("count"),
        Some(a) if a.block().is_some() => json!("block"),
        _ => Value::Null,
    }
}

fn sdk_rule(rule: &Map<String, Value>) -> Rule {
    let mut statement = Statement::builder();
    let group = object(rule, "managed_rule_group");
    if let Some(limit) = rule.get("rate_limit").and_then(Value::as_i64) {
        statement = statement.rate_based_statement(
            RateBasedStatement::builder()
                .limit(limit)
                .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                .build()
                .expect("limit and key are set"),
        );
    } else {
        let excluded = crate::aws::strings(&group, "excluded_rules")
            .into_iter()
            .map(|n| {
                ExcludedRule::builder()
                    .name(n)
                    .build()
                    .expect("name is set")
            })
            .collect();
        let overrides = group
            .get("rule_action_overrides")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|o| {
                RuleActionOverride::builder()
                    .name(text(o, "name"))
                    .action_to_use(rule_action(text(o, "action")))
                    .build()
                    .expect("name and action are set")
            })
            .collect();
        statement = statement.managed_rule_group_statement(
            ManagedRuleGroupStatement::builder()
                .vendor_name(text(&group, "vendor_name"))
                .name(text(&group, "name"))
                .set_excluded_rules(Some(excluded))
                .set_rule_action_overrides(Some(overrides))
                .build()
                .expect("vendor and name are set"),
        );
    }
    let mut built = Rule::builder()
        .name(text(rule, "name"))
        .priority(
            rule.get("priority")
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or_default(),
        )
        .statement(statement.build())
        .visibility_config(sdk_visibility(&object(rule, "visibility_config")));
    match rule.get("override_action").and_then(Value::as_str) {
        Some("count") => {
            built = built.override_action(
                OverrideAction::builder()
                    .count(CountAction::builder().build())
                    .build(),
            );
        }
        Some(_) => {
            built = built.override_action(
                OverrideAction::builder()
                    .none(NoneAction::builder().build())
                    .build(),
            );
        }
        None => {}
    }
    if let Some(action) = rule.get("action").and_then(Value::as_str) {
        built = built.action(rule_action(action));
    }
    built
        .build()
        .expect("name, statement and visibility are set")
}

fn sdk_rules(desired: &Map<String, Value>) -> Vec<Rule> {
    desired
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(sdk_rule)
        .collect()
}

fn default_action(desired: &Map<String, Value>) -> DefaultAction {
    match text(desired, "default_action") {
        "block" => DefaultAction::builder().block(BlockAction::builder().build()),
        _ => DefaultAction::builder().allow(AllowAction::builder().build()),
    }
    .build()
}

fn visibility_value(config: Option<&VisibilityConfig>) -> Value {
    config.map_or(Value::Null, |v| {
        json!({
            "metric_name": v.metric_name(),
            "sampled_requests_enabled": v.sampled_requests_enabled(),
            "cloudwatch_metrics_enabled": v.cloud_watch_metrics_enabled(),
        })
    })
}

fn rule_value(rule: &Rule) -> Value {
    let statement = rule.statement();
    let rate = statement
        .and_then(Statement::rate_based_statement)
        .map_or(Value::Null, |r| json!(r.limit()));
    let group = statement
        .and_then(Statement::managed_rule_group_statement)
        .map_or(Value::Null, |g| {
            json!({
                "vendor_name": g.vendor_name(),
                "name": g.name(),
                "excluded_rules": g.excluded_rules().iter().map(ExcludedRule::name).collect::<Vec<_>>(),
                "rule_action_overrides": g.rule_action_overrides().iter().map(|o| json!({
                    "name": o.name(), "action": action_name(o.action_to_use()),
                })).collect::<Vec<_>>(),
            })
        });
    let override_action = match rule.override_action() {
        Some(o) if o.count().is_some() => json!("count"),
        Some(_) => json!("none"),
        None => Value::Null,
    };
    json!({
        "name": rule.name(),
        "priority": rule.priority(),
        "action": action_name(rule.action()),
        "override_action": override_action,
        "rate_limit": rate,
        "managed_rule_group": group,
        "visibility_config": visibility_value(rule.visibility_config()),
    })
}

pub struct WebAclType;

impl WebAclType {
    /// The ACL and the lock token of this read.
    async fn get(&self, aws: &Aws, id: &str) -> Result<Option<(WebAcl, String)>, AwsError> {
        let (acl, name, scope) = split_id(id);
        let found = aws
            .send(
                "GetWebACL",
                || {
                    aws.wafv2()
                        .get_web_acl()
                        .id(acl)
                        .name(name)
                        .scope(Scope::from(scope))
                        .send()
                },
                |e| missing(e.is_waf_nonexistent_item_exception()),
            )
            .await;
        Ok(present(found)?.and_then(|o| {
            let token = o.lock_token().unwrap_or_default().to_owned();
            o.web_acl.map(|acl| (acl, token))
        }))
    }

    async fn read_acl(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let (_, _, scope) = split_id(id);
        let regional = for_scope(aws, scope);
        let aws: &Aws = regional.as_deref().unwrap_or(aws);
        let Some((acl, _)) = self.get(aws, id).await? else {
            return Ok(None);
        };
        let tags = match aws.confirmed_tags(acl.arn()).await {
            Some(tags) => tags,
            None => {
                let listed = aws
                    .send(
                        "ListTagsForResource",
                        || {
                            aws.wafv2()
                                .list_tags_for_resource()
                                .resource_arn(acl.arn())
                                .send()
                        },
                        |e| missing(e.is_waf_nonexistent_item_exception()),
                    )
                    .await;
                let Some(listed) = present(listed)? else {
                    return Ok(None);
                };
                let pairs = listed
                    .tag_info_for_resource()
                    .map(|t| t.tag_list())
                    .unwrap_or_default();
                crate::aws::tags_value(pairs.iter().map(|t| (t.key(), t.value())))
            }
        };
        let default = match acl.default_action() {
            Some(d) if d.block().is_some() => "block",
            _ => "allow",
        };
        let mut rules: Vec<&Rule> = acl.rules().iter().collect();
        rules.sort_by_key(|r| r.priority());
        let mut observed = Map::new();
        observed.insert("name".into(), json!(acl.name()));
        observed.insert("scope".into(), json!(scope));
        observed.insert(
            "description".into(),
            json!(acl.description().unwrap_or_default()),
        );
        observed.insert("default_action".into(), json!(default));
        observed.insert(
            "rules".into(),
            Value::Array(rules.into_iter().map(rule_value).collect()),
        );
        observed.insert(
            "visibility_config".into(),
            visibility_value(acl.visibility_config()),
        );
        observed.insert("tags".into(), tags);
        Ok(Some(observation(
            id,
            observed,
            [("arn", json!(acl.arn())), ("id", json!(acl.id()))],
        )))
    }

    /// UpdateWebACL with the lock token of a fresh read; a stale token
    /// (someone changed it between the read and the update) is read again
    /// and retried, a few times.
    async fn put(&self, aws: &Aws, id: &str, after: &Map<String, Value>) -> Result<(), AwsError> {
        let (acl, name, scope) = split_id(id);
        let mut attempt = 0;
        loop {
            let Some((_, token)) = self.get(aws, id).await? else {
                return Err(AwsError::new(
                    ErrorClass::NotFound,
                    "GetWebACL",
                    "web ACL disappeared",
                ));
            };
            let rules = sdk_rules(after);
            let description = Some(text(after, "description"))
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
            let answer = aws
                .send(
                    "UpdateWebACL",
                    || {
                        aws.wafv2()
                            .update_web_acl()
                            .id(acl)
                            .name(name)
                            .scope(Scope::from(scope))
                            .lock_token(&token)
                            .default_action(default_action(after))
                            .set_description(description.clone())
                            .set_rules(Some(rules.clone()))
                            .visibility_config(sdk_visibility(&object(after, "visibility_config")))
                            .send()
                    },
                    |e| {
                        e.is_waf_optimistic_lock_exception()
                            .then_some(ErrorClass::PreconditionFailed)
                    },
                )
                .await;
            match answer {
                Err(e) if e.class == ErrorClass::PreconditionFailed && attempt < 4 => attempt += 1,
                other => return other.map(|_| ()),
            }
        }
    }

    async fn find_by_name(
        &self,
        aws: &Aws,
        name: &str,
        scope: &str,
    ) -> Result<Option<String>, AwsError> {
        let mut pages = aws.pages(
            "ListWebACLs",
            |marker| {
                aws.wafv2()
                    .list_web_acls()
                    .scope(Scope::from(scope))
                    .set_next_marker(marker)
                    .send()
            },
            // An empty page ends the listing whatever marker it carries, so
            // a marker that never runs out cannot loop.
            |page| page.next_marker().filter(|_| !page.web_acls().is_empty()),
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            if let Some(found) = page.web_acls().iter().find(|a| a.name() == Some(name)) {
                return Ok(Some(format!(
                    "{}/{name}/{scope}",
                    found.id().unwrap_or_default()
                )));
            }
        }
        Ok(None)
    }
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect()
}

impl Tagging for WebAclType {
    async fn tag(
        &self,
        aws: &Aws,
        target: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tags = sdk_tags(set);
        aws.send(
            "TagResource",
            || {
                aws.wafv2()
                    .tag_resource()
                    .resource_arn(target)
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
            "UntagResource",
            || {
                aws.wafv2()
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

impl Resource for WebAclType {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_acl(aws, id).await
    }

    /// After a lost answer the engine looks for the ACL by its name (a
    /// repeat would be refused as a duplicate) and adopts it when its
    /// ownership tags are this stack's.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let scope = text(desired, "scope");
        let regional = for_scope(aws, scope);
        let home: &Aws = regional.as_deref().unwrap_or(aws);
        match self
            .find_by_name(home, text(desired, "name"), scope)
            .await?
        {
            Some(id) => self.read_acl(aws, &id).await,
            None => Ok(None),
        }
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let scope = text(desired, "scope");
        let regional = for_scope(aws, scope);
        let home: &Aws = regional.as_deref().unwrap_or(aws);
        let rules = sdk_rules(desired);
        let tags = sdk_tags(&string_map(desired, "tags"));
        let description = Some(text(desired, "description"))
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        let made = home
            .send_create(
                "CreateWebACL",
                || {
                    home.wafv2()
                        .create_web_acl()
                        .name(text(desired, "name"))
                        .scope(Scope::from(scope))
                        .default_action(default_action(desired))
                        .set_description(description.clone())
                        .set_rules(Some(rules.clone()))
                        .visibility_config(sdk_visibility(&object(desired, "visibility_config")))
                        .set_tags(Some(tags.clone()))
                        .send()
                },
                |e| {
                    e.is_waf_duplicate_item_exception()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
        let acl = made.summary().and_then(|s| s.id()).unwrap_or_default();
        let id = format!("{acl}/{}/{scope}", text(desired, "name"));
        read_back(
            self.read_acl(aws, &id).await,
            After::Create,
            "GetWebACL",
            "web ACL not visible after create",
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
        let (_, _, scope) = split_id(id);
        let regional = for_scope(aws, scope);
        let home: &Aws = regional.as_deref().unwrap_or(aws);
        if [
            "description",
            "default_action",
            "rules",
            "visibility_config",
        ]
        .iter()
        .any(|f| changed(fields, f))
        {
            self.put(home, id, after).await?;
        }
        if changed(fields, "tags") {
            if let Some(observed) = self.read_acl(aws, id).await? {
                let arn = observed
                    .outputs
                    .get("arn")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.retag(home, arn, before, after).await?;
            }
        }
        read_back(
            self.read_acl(aws, id).await,
            After::Update,
            "GetWebACL",
            "web ACL disappeared",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let (acl, name, scope) = split_id(id);
        let regional = for_scope(aws, scope);
        let aws: &Aws = regional.as_deref().unwrap_or(aws);
        let mut attempt = 0;
        loop {
            let Some((_, token)) = self.get(aws, id).await? else {
                return Ok(());
            };
            let answer = aws
                .send(
                    "DeleteWebACL",
                    || {
                        aws.wafv2()
                            .delete_web_acl()
                            .id(acl)
                            .name(name)
                            .scope(Scope::from(scope))
                            .lock_token(&token)
                            .send()
                    },
                    |e| {
                        if e.is_waf_nonexistent_item_exception() {
                            Some(ErrorClass::NotFound)
                        } else {
                            e.is_waf_optimistic_lock_exception()
                                .then_some(ErrorClass::PreconditionFailed)
                        }
                    },
                )
                .await;
            match answer {
                Err(e) if e.class == ErrorClass::PreconditionFailed && attempt < 4 => attempt += 1,
                other => return ignore_missing(other),
            }
        }
    }
}

/// Every web ACL (regional here, CloudFront's in us-east-1) with its tags.
fn list_acls<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<super::super::Listed, AwsError>> {
    Box::pin(async move {
        let mut out = Vec::new();
        for scope in ["REGIONAL", "CLOUDFRONT"] {
            let regional = for_scope(aws, scope);
            let home: &Aws = regional.as_deref().unwrap_or(aws);
            let listed = home
                .send(
                    "ListWebACLs",
                    || {
                        home.wafv2()
                            .list_web_acls()
                            .scope(Scope::from(scope))
                            .send()
                    },
                    |_| None,
                )
                .await?;
            for acl in listed.web_acls() {
                let arn = acl.arn().unwrap_or_default();
                let tags = home
                    .send(
                        "ListTagsForResource",
                        || {
                            home.wafv2()
                                .list_tags_for_resource()
                                .resource_arn(arn)
                                .send()
                        },
                        |e| missing(e.is_waf_nonexistent_item_exception()),
                    )
                    .await;
                // An ACL deleted since the listing has no tags to read.
                if let Some(tags) = present(tags)? {
                    let pairs = tags
                        .tag_info_for_resource()
                        .map(|t| t.tag_list())
                        .unwrap_or_default();
                    out.push((
                        arn.to_owned(),
                        pairs
                            .iter()
                            .map(|t| (t.key().to_owned(), t.value().to_owned()))
                            .collect(),
                    ));
                }
            }
        }
        Ok(out)
    })
}

/// An empty block of Terraform's (`allow {}`).
fn empty() -> Value {
    json!([{}])
}

fn tf_visibility(config: &Value) -> Value {
    if config.is_null() {
        return json!([]);
    }
    json!([{
        "metric_name": config.get("metric_name"),
        "sampled_requests_enabled": config.get("sampled_requests_enabled"),
        "cloudwatch_metrics_enabled": config.get("cloudwatch_metrics_enabled"),
    }])
}

/// An action as its block (`block { }`); a name WAF lacks writes none.
fn tf_action(action: Option<&str>) -> Value {
    match action {
        Some(name @ ("allow" | "block" | "count" | "none")) => json!([{ name: empty() }]),
        _ => json!([]),
    }
}

/// Terraform's view: `aws_wafv2_web_acl` (an excluded rule is a rule
/// action override to count, as provider v5 writes it).
fn terraform(a: &Map<String, Value>) -> Vec<super::super::terraform::Tf> {
    use super::super::terraform::prelude::*;
    let rules: Vec<Value> = a
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|r| {
            let statement = match r.get("managed_rule_group").and_then(Value::as_object) {
                Some(g) => {
                    let mut overrides: Vec<Value> = crate::aws::strings(g, "excluded_rules")
                        .iter()
                        .map(|n| json!({"name": n, "action_to_use": tf_action(Some("count"))}))
                        .collect();
                    overrides.extend(
                        g.get("rule_action_overrides")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_object)
                            .map(|o| json!({"name": v(o, "name"), "action_to_use": tf_action(o.get("action").and_then(Value::as_str))})),
                    );
                    json!([{"managed_rule_group_statement": [{
                        "name": v(g, "name"), "vendor_name": v(g, "vendor_name"),
                        "rule_action_override": overrides,
                    }]}])
                }
                None => json!([{"rate_based_statement": [{
                    "limit": v(r, "rate_limit"), "aggregate_key_type": "IP",
                }]}]),
            };
            json!({
                "name": v(r, "name"), "priority": v(r, "priority"),
                "action": tf_action(r.get("action").and_then(Value::as_str)),
                "override_action": tf_action(r.get("override_action").and_then(Value::as_str)),
                "statement": statement,
                "visibility_config": tf_visibility(&v(r, "visibility_config")),
            })
        })
        .collect();
    let default = match a.get("default_action").and_then(Value::as_str) {
        Some(action @ ("allow" | "block")) => json!([{ action: empty() }]),
        _ => json!([]),
    };
    vec![tf(
        "aws_wafv2_web_acl",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "id": v(a, "id"), "name": v(a, "name"), "scope": v(a, "scope"),
                "description": opt(a, "description"), "default_action": default, "rule": rules,
                "visibility_config": tf_visibility(&v(a, "visibility_config")),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &WAFV2_WEB_ACL,
    planned_id: super::super::assigned,
    id_from_arn: |arn| {
        // arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID
        let (kind, rest) = arn.split_once(":regional/webacl/").map_or_else(
            || {
                arn.split_once(":global/webacl/")
                    .map(|(_, r)| ("CLOUDFRONT", r))
            },
            |(_, r)| Some(("REGIONAL", r)),
        )?;
        let (name, id) = rest.split_once('/')?;
        Some(format!("{id}/{name}/{kind}"))
    },
    arn_example: (
        "arn:aws:wafv2:us-east-1:1:regional/webacl/api/a1b2",
        Some("a1b2/api/REGIONAL"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: None,
    update_note: crate::spec::no_note,
    terraform: super::super::terraform::Mapping {
        types: &["aws_wafv2_web_acl"],
        map: terraform,
        import: |a| {
            let id = super::super::terraform::attribute(a, "id")?;
            let name = super::super::terraform::attribute(a, "name")?;
            let scope = super::super::terraform::attribute(a, "scope")?;
            Ok(format!("{id}/{name}/{scope}"))
        },
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &WebAclType,
    unmanaged: Unmanaged::Listed(list_acls),
};
