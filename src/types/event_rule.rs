//! An EventBridge rule: a schedule (`cron(...)`, `rate(...)`) or an event
//! pattern, on an event bus, with its targets (a function, a queue) and the
//! constant input each one gets. A Lambda target also needs a
//! `lambda_permission` for `events.amazonaws.com` from the rule's ARN.

use super::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use crate::aws::{changed, missing, present, string_map, text, Aws, AwsError};
use crate::model::Observed;
use crate::schema::checks as c;
use crate::schema::{
    no_expansion, pending, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

static TARGET: &[Field] = &[
    Field::new("id", K::Str).required().check(target_id),
    Field::new("arn", K::Str).required().check(c::arn),
    // The constant JSON the target receives instead of the event.
    Field::new("input", K::Json),
];

pub static EVENT_RULE: Schema = Schema {
    type_name: "event_rule",
    description: "EventBridge rule: a schedule or an event pattern, with its targets",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(rule_name),
        Field::new("event_bus_name", K::Str)
            .or(F::Str("default"))
            .force_new(),
        Field::new("schedule_expression", K::Str).check(schedule),
        Field::new("event_pattern", K::Json),
        Field::new("state", K::Str)
            .or(F::Str("ENABLED"))
            .one_of(&["ENABLED", "DISABLED"], "a rule state"),
        Field::new("description", K::Str)
            .or(F::Str(""))
            .check(description),
        Field::new("targets", K::ObjectSet(TARGET)).or(F::EmptyList),
        TAGS,
    ],
    outputs: &["arn"],
    taggable: true,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_rule,
};

fn rule_name(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 64),
        "a rule name",
        "._-",
        "letters, digits and ._-",
    )
}

fn target_id(value: &Value) -> Result<(), String> {
    crate::types::checks::name(
        value,
        (1, 64),
        "a target id",
        "._-",
        "letters, digits and ._-",
    )
}

fn description(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    c::length(v, 0, 512, "a rule description")
}

/// `rate(N unit)` or `cron(6 fields)`, as EventBridge reads them.
pub fn schedule(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    if let Some(inner) = v.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        return rate(inner);
    }
    if let Some(inner) = v.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        return cron(inner);
    }
    Err(format!(
        "a schedule is `rate(N unit)` or `cron(minutes hours day-of-month month day-of-week year)`, got `{v}`"
    ))
}

fn rate(inner: &str) -> Result<(), String> {
    let parts: Vec<&str> = inner.split_whitespace().collect();
    let [count, unit] = parts[..] else {
        return Err(format!(
            "a rate is `rate(N unit)` (`rate(5 minutes)`), got `rate({inner})`"
        ));
    };
    let n: u64 = count
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("a rate's value is a positive whole number, got `{count}`"))?;
    let singular = ["minute", "hour", "day"];
    let plural = ["minutes", "hours", "days"];
    match (n, unit) {
        (1, u) if singular.contains(&u) => Ok(()),
        (1, u) if plural.contains(&u) => Err(format!(
            "a rate of 1 takes the singular unit (`rate(1 {})`), got `rate({inner})`",
            u.trim_end_matches('s')
        )),
        (_, u) if plural.contains(&u) => Ok(()),
        (_, u) if singular.contains(&u) => Err(format!(
            "a rate above 1 takes the plural unit (`rate({n} {u}s)`), got `rate({inner})`"
        )),
        _ => Err(format!(
            "a rate's unit is minute(s), hour(s) or day(s), got `{unit}`"
        )),
    }
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One of a cron expression's six fields: its name, range and names.
struct CronField {
    name: &'static str,
    low: u32,
    high: u32,
    names: &'static [&'static str],
}

const CRON_FIELDS: [CronField; 6] = [
    CronField {
        name: "minutes",
        low: 0,
        high: 59,
        names: &[],
    },
    CronField {
        name: "hours",
        low: 0,
        high: 23,
        names: &[],
    },
    CronField {
        name: "day-of-month",
        low: 1,
        high: 31,
        names: &[],
    },
    CronField {
        name: "month",
        low: 1,
        high: 12,
        names: MONTHS,
    },
    CronField {
        name: "day-of-week",
        low: 1,
        high: 7,
        names: DAYS,
    },
    CronField {
        name: "year",
        low: 1970,
        high: 2199,
        names: &[],
    },
];

fn cron(inner: &str) -> Result<(), String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "a cron expression has six fields (minutes hours day-of-month month day-of-week year), got {} in `cron({inner})`",
            fields.len()
        ));
    }
    let (day_of_month, day_of_week) = (fields[2], fields[4]);
    if (day_of_month == "?") == (day_of_week == "?") {
        return Err(format!(
            "in `cron({inner})`, exactly one of day-of-month and day-of-week must be `?` (they cannot both be given)"
        ));
    }
    for (value, field) in fields.iter().zip(&CRON_FIELDS) {
        if *value == "?" {
            continue;
        }
        for item in value.split(',') {
            cron_item(item, field).map_err(|why| {
                format!(
                    "in `cron({inner})`, the {} field `{value}`: {why}",
                    field.name
                )
            })?;
        }
    }
    Ok(())
}

fn cron_item(item: &str, field: &CronField) -> Result<(), String> {
    if item == "*" {
        return Ok(());
    }
    match field.name {
        "day-of-month" if item == "L" || item == "LW" => return Ok(()),
        "day-of-month" if item.ends_with('W') => {
            return cron_value(&item[..item.len() - 1], field).map(|_| ())
        }
        "day-of-week" if item == "L" => return Ok(()),
        "day-of-week" if item.ends_with('L') => {
            return cron_value(&item[..item.len() - 1], field).map(|_| ())
        }
        "day-of-week" if item.contains('#') => {
            let (day, nth) = item.split_once('#').unwrap_or_default();
            cron_value(day, field)?;
            return match nth.parse::<u32>() {
                Ok(1..=5) => Ok(()),
                _ => Err(format!("`{item}`: the week after `#` is 1 to 5")),
            };
        }
        _ => {}
    }
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        if !step.parse::<u32>().is_ok_and(|s| s > 0) {
            return Err(format!("`{item}`: the step after `/` is a positive number"));
        }
        if base == "*" {
            return Ok(());
        }
    }
    match base.split_once('-') {
        Some((from, to)) => {
            cron_value(from, field)?;
            cron_value(to, field)?;
            Ok(())
        }
        None => cron_value(base, field).map(|_| ()),
    }
}

fn cron_value(value: &str, field: &CronField) -> Result<u32, String> {
    if let Some(at) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(value))
    {
        return Ok(u32::try_from(at).unwrap_or(0) + field.low);
    }
    match value.parse::<u32>() {
        Ok(n) if (field.low..=field.high).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside {}-{}", field.low, field.high)),
        Err(_) if field.names.is_empty() => Err(format!(
            "`{value}` is not a number ({}-{})",
            field.low, field.high
        )),
        Err(_) => Err(format!(
            "`{value}` is neither a number ({}-{}) nor one of {}",
            field.low,
            field.high,
            field.names.join(", ")
        )),
    }
}

fn validate_rule(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let given = |key: &str| properties.get(key).is_some_and(|v| !v.is_null());
    match (given("schedule_expression"), given("event_pattern")) {
        (false, false) => problems.push(Problem::new(
            "schedule_expression",
            "a rule needs a `schedule_expression` or an `event_pattern`",
        )),
        (true, true) => problems.push(Problem::new(
            "event_pattern",
            "a rule has a `schedule_expression` or an `event_pattern`, not both",
        )),
        _ => {}
    }
    let bus = properties.get("event_bus_name").and_then(Value::as_str);
    if given("schedule_expression") && bus.is_some_and(|b| b != "default" && !b.contains("${")) {
        problems.push(Problem::new(
            "schedule_expression",
            "a scheduled rule runs only on the `default` event bus",
        ));
    }
    if let Some(pattern) = properties.get("event_pattern").filter(|p| !p.is_null()) {
        match pattern.as_object() {
            Some(fields) => pattern_problems(fields, "event_pattern", &mut problems),
            None if !pending(pattern) => problems.push(Problem::new(
                "event_pattern",
                "an event pattern is a mapping (`source: [aws.s3]`)",
            )),
            None => {}
        }
    }
    if let Some(targets) = properties.get("targets").and_then(Value::as_array) {
        if targets.len() > 5 {
            problems.push(Problem::new(
                "targets",
                format!("a rule has at most 5 targets, got {}", targets.len()),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (at, target) in targets.iter().enumerate() {
            let Some(id) = target.get("id").and_then(Value::as_str) else {
                continue;
            };
            if let Some(problem) = encoded_input(target, at) {
                problems.push(problem);
            }
            if !id.contains("${") && !seen.insert(id) {
                problems.push(Problem::new(
                    format!("targets.{at}.id"),
                    format!(
                        "target id `{id}` is given twice; each target of a rule has its own id"
                    ),
                ));
            }
        }
    }
    problems
}

/// EventBridge's grammar of a pattern: a non-empty mapping whose fields
/// are nested mappings or non-empty lists of match values (strings,
/// numbers, booleans, null, or a content filter such as `{prefix: img/}`).
/// AWS refuses the rest ("must be an object or an array", "Empty objects
/// are not allowed", "Empty arrays are not allowed").
fn pattern_problems(fields: &Map<String, Value>, path: &str, problems: &mut Vec<Problem>) {
    if fields.is_empty() {
        let message = if path == "event_pattern" {
            "an event pattern matches at least one field; AWS refuses an empty pattern (`{}`)"
        } else {
            "a nested field of a pattern matches at least one field; AWS refuses an empty mapping"
        };
        problems.push(Problem::new(path, message));
    }
    for (key, value) in fields {
        let at = format!("{path}.{key}");
        if pending(value) {
            continue;
        }
        match value {
            Value::Object(nested) => pattern_problems(nested, &at, problems),
            Value::Array(items) if items.is_empty() => problems.push(Problem::new(
                at,
                format!("`{key}` lists no match value; AWS refuses an empty list"),
            )),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let message = match item {
                        Value::Array(_) => "a match value is a string, a number, true, false, null or a content filter (`{prefix: img/}`), not a list",
                        Value::Object(filter) if filter.is_empty() => "a content filter names its test (`{prefix: img/}`, `{anything-but: [a]}`, `{exists: true}`); AWS refuses an empty mapping",
                        _ => continue,
                    };
                    problems.push(Problem::new(format!("{at}.{index}"), message));
                }
            }
            single => problems.push(Problem::new(
                at,
                format!("`{key}` takes a list of match values (`{key}: [{single}]`) or a mapping of nested fields; AWS refuses a single value (it must be an object or an array)"),
            )),
        }
    }
}

/// A target's `input` written as a string holding a JSON object or list
/// (Terraform's `jsonencode(...)`): sent as it is, AWS would get a JSON
/// string and the target would receive text, not the document. A string
/// that is not such a document is a JSON string constant, as AWS takes.
fn encoded_input(target: &Value, at: usize) -> Option<Problem> {
    let text = target.get("input")?.as_str()?;
    let parsed: Value = serde_json::from_str(text.trim()).ok()?;
    (parsed.is_object() || parsed.is_array()).then(|| {
        Problem::new(
            format!("targets.{at}.input"),
            "`input` holds a JSON document written as a string; it would reach the target as a string, encoded twice. Write it as a mapping or a list (`input: {kind: daily}`): cairn encodes it once, as Terraform's `jsonencode(...)` did",
        )
    })
}

/// A rule's id: its name on the default bus, `bus/name` on another (as in
/// its ARN, `rule/bus/name`).
fn rule_id(desired: &Map<String, Value>) -> Option<String> {
    let name = desired.get("name")?.as_str()?;
    Some(
        match desired.get("event_bus_name").and_then(Value::as_str) {
            Some(bus) if bus != "default" => format!("{bus}/{name}"),
            _ => name.to_owned(),
        },
    )
}

/// The bus and the name in an id.
fn split_id(id: &str) -> (&str, &str) {
    id.rsplit_once('/').unwrap_or(("default", id))
}

pub struct Rule;

fn targets_of(desired: &Map<String, Value>) -> Vec<Map<String, Value>> {
    desired
        .get("targets")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|t| t.as_object().cloned())
                .collect()
        })
        .unwrap_or_default()
}

fn sdk_target(target: &Map<String, Value>) -> Target {
    let input = target
        .get("input")
        .filter(|i| !i.is_null())
        .map(|i| serde_json::to_string(i).expect("documents serialize"));
    Target::builder()
        .id(text(target, "id"))
        .arn(text(target, "arn"))
        .set_input(input)
        .build()
        .expect("id and arn are set")
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

impl Rule {
    async fn read_rule(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        let (bus, name) = split_id(id);
        let found = aws
            .send(
                "DescribeRule",
                || {
                    aws.eventbridge()
                        .describe_rule()
                        .name(name)
                        .event_bus_name(bus)
                        .send()
                },
                |e| missing(e.is_resource_not_found_exception()),
            )
            .await;
        let Some(rule) = present(found)? else {
            return Ok(None);
        };
        let arn = rule.arn().unwrap_or_default().to_owned();
        let mut targets = Vec::new();
        let mut pages = aws.pages(
            "ListTargetsByRule",
            |token| {
                aws.eventbridge()
                    .list_targets_by_rule()
                    .rule(name)
                    .event_bus_name(bus)
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token(),
            |e| missing(e.is_resource_not_found_exception()),
        );
        loop {
            let Some(page) = present(pages.next_page().await)? else {
                return Ok(None);
            };
            let Some(page) = page else {
                break;
            };
            for target in page.targets() {
                let input = target
                    .input()
                    .map(|i| serde_json::from_str(i).unwrap_or_else(|_| json!(i)))
                    .unwrap_or(Value::Null);
                targets.push(json!({"id": target.id(), "arn": target.arn(), "input": input}));
            }
        }
        let tags = match aws.confirmed_tags(&arn).await {
            Some(tags) => tags,
            None => {
                let listed = aws
                    .send(
                        "ListTagsForResource",
                        || {
                            aws.eventbridge()
                                .list_tags_for_resource()
                                .resource_arn(&arn)
                                .send()
                        },
                        |e| missing(e.is_resource_not_found_exception()),
                    )
                    .await;
                let Some(listed) = present(listed)? else {
                    return Ok(None);
                };
                crate::aws::tags_value(listed.tags().iter().map(|t| (t.key(), t.value())))
            }
        };
        let pattern = rule
            .event_pattern()
            .map(|p| serde_json::from_str(p).unwrap_or_else(|_| json!(p)))
            .unwrap_or(Value::Null);
        let state = rule.state().map_or("ENABLED", RuleState::as_str);
        let mut observed = Map::new();
        observed.insert("name".into(), json!(name));
        observed.insert("event_bus_name".into(), json!(bus));
        observed.insert(
            "schedule_expression".into(),
            rule.schedule_expression().map_or(Value::Null, |s| json!(s)),
        );
        observed.insert("event_pattern".into(), pattern);
        observed.insert("state".into(), json!(state));
        observed.insert(
            "description".into(),
            json!(rule.description().unwrap_or_default()),
        );
        observed.insert("targets".into(), Value::Array(targets));
        observed.insert("tags".into(), tags);
        Ok(Some(observation(id, observed, [("arn", json!(arn))])))
    }

    /// PutRule creates the rule or sets every setting of one that exists:
    /// safe to repeat. Tags go with a create only (AWS ignores them on an
    /// existing rule; `retag` changes those).
    async fn put_rule(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
        tags: Option<Vec<Tag>>,
    ) -> Result<(), AwsError> {
        let pattern = desired
            .get("event_pattern")
            .filter(|p| !p.is_null())
            .map(|p| serde_json::to_string(p).expect("documents serialize"));
        let schedule = Some(text(desired, "schedule_expression"))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        aws.send(
            "PutRule",
            || {
                aws.eventbridge()
                    .put_rule()
                    .name(text(desired, "name"))
                    .event_bus_name(text(desired, "event_bus_name"))
                    .set_schedule_expression(schedule.clone())
                    .set_event_pattern(pattern.clone())
                    .state(RuleState::from(text(desired, "state")))
                    .description(text(desired, "description"))
                    .set_tags(tags.clone())
                    .send()
            },
            |_| None,
        )
        .await?;
        Ok(())
    }

    /// From the targets `before` to `after`: those whose id goes are
    /// removed, the new and changed ones put (PutTargets replaces a target
    /// of the same id).
    async fn put_targets(
        &self,
        aws: &Aws,
        id: &str,
        before: &[Map<String, Value>],
        after: &[Map<String, Value>],
    ) -> Result<(), AwsError> {
        let (bus, name) = split_id(id);
        let kept: Vec<&str> = after.iter().map(|t| text(t, "id")).collect();
        let remove: Vec<String> = before
            .iter()
            .map(|t| text(t, "id"))
            .filter(|t| !kept.contains(t))
            .map(str::to_owned)
            .collect();
        if !remove.is_empty() {
            self.remove_targets(aws, bus, name, remove).await?;
        }
        let put: Vec<Target> = after
            .iter()
            .filter(|t| !before.contains(t))
            .map(sdk_target)
            .collect();
        if put.is_empty() {
            return Ok(());
        }
        let answer = aws
            .send(
                "PutTargets",
                || {
                    aws.eventbridge()
                        .put_targets()
                        .rule(name)
                        .event_bus_name(bus)
                        .set_targets(Some(put.clone()))
                        .send()
                },
                |_| None,
            )
            .await?;
        match answer.failed_entries().first() {
            Some(failed) => Err(AwsError::new(
                crate::model::ErrorClass::Validation,
                "PutTargets",
                format!(
                    "target `{}`: {}: {}",
                    failed.target_id().unwrap_or_default(),
                    failed.error_code().unwrap_or_default(),
                    failed.error_message().unwrap_or_default()
                ),
            )),
            None => Ok(()),
        }
    }

    async fn remove_targets(
        &self,
        aws: &Aws,
        bus: &str,
        name: &str,
        ids: Vec<String>,
    ) -> Result<(), AwsError> {
        aws.send_delete(
            "RemoveTargets",
            || {
                aws.eventbridge()
                    .remove_targets()
                    .rule(name)
                    .event_bus_name(bus)
                    .set_ids(Some(ids.clone()))
                    .send()
            },
            |e| missing(e.is_resource_not_found_exception()),
        )
        .await
    }
}

impl Tagging for Rule {
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
                aws.eventbridge()
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
                aws.eventbridge()
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

impl Resource for Rule {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_rule(aws, id).await
    }

    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let id = rule_id(desired).unwrap_or_default();
        self.put_rule(aws, desired, Some(sdk_tags(&string_map(desired, "tags"))))
            .await?;
        // A repeat after a lost answer finds what the first attempt put.
        let present: Vec<Map<String, Value>> = match self.read_rule(aws, &id).await? {
            Some(observed) => targets_of(&observed.attributes),
            None => Vec::new(),
        };
        self.put_targets(aws, &id, &present, &targets_of(desired))
            .await?;
        read_back(
            self.read_rule(aws, &id).await,
            After::Create,
            "DescribeRule",
            "rule not visible after create",
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
        if [
            "schedule_expression",
            "event_pattern",
            "state",
            "description",
        ]
        .iter()
        .any(|f| changed(fields, f))
        {
            self.put_rule(aws, after, None).await?;
        }
        if changed(fields, "targets") {
            self.put_targets(aws, id, &targets_of(before), &targets_of(after))
                .await?;
        }
        if changed(fields, "tags") {
            let arn = before_arn(aws, id);
            self.retag(aws, &arn, before, after).await?;
        }
        read_back(
            self.read_rule(aws, id).await,
            After::Update,
            "DescribeRule",
            "rule disappeared",
        )
    }

    /// A rule with targets cannot be deleted: they are removed first (the
    /// ones AWS lists, whoever put them).
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(observed) = self.read_rule(aws, id).await? else {
            return Ok(());
        };
        let (bus, name) = split_id(id);
        let ids: Vec<String> = targets_of(&observed.attributes)
            .iter()
            .map(|t| text(t, "id").to_owned())
            .collect();
        if !ids.is_empty() {
            self.remove_targets(aws, bus, name, ids).await?;
        }
        aws.send_delete(
            "DeleteRule",
            || {
                aws.eventbridge()
                    .delete_rule()
                    .name(name)
                    .event_bus_name(bus)
                    .send()
            },
            |e| missing(e.is_resource_not_found_exception()),
        )
        .await
    }
}

/// A rule's ARN from its id.
fn before_arn(aws: &Aws, id: &str) -> String {
    format!(
        "arn:{}:events:{}:{}:rule/{id}",
        aws.partition(),
        aws.region,
        aws.account()
    )
}

/// Every rule on every event bus, with its tags (the tagging API of
/// emulators misses rules).
fn list_rules<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<super::Listed, AwsError>> {
    Box::pin(async move {
        let buses = aws
            .send(
                "ListEventBuses",
                || aws.eventbridge().list_event_buses().send(),
                |_| None,
            )
            .await?;
        let mut names: Vec<String> = buses
            .event_buses()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect();
        if !names.iter().any(|n| n == "default") {
            names.push("default".to_owned());
        }
        let mut out = Vec::new();
        for bus in &names {
            let mut pages = aws.pages(
                "ListRules",
                |token| {
                    aws.eventbridge()
                        .list_rules()
                        .event_bus_name(bus)
                        .set_next_token(token)
                        .send()
                },
                |page| page.next_token(),
                |_| None,
            );
            while let Some(page) = pages.next_page().await? {
                for rule in page.rules() {
                    let arn = rule.arn().unwrap_or_default();
                    let tags = aws
                        .send(
                            "ListTagsForResource",
                            || {
                                aws.eventbridge()
                                    .list_tags_for_resource()
                                    .resource_arn(arn)
                                    .send()
                            },
                            |e| missing(e.is_resource_not_found_exception()),
                        )
                        .await;
                    // A rule deleted since the listing has no tags to read.
                    if let Some(tags) = present(tags)? {
                        out.push((
                            arn.to_owned(),
                            tags.tags()
                                .iter()
                                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                                .collect(),
                        ));
                    }
                }
            }
        }
        Ok(out)
    })
}

/// Terraform's view: `aws_cloudwatch_event_rule`, and an
/// `aws_cloudwatch_event_target` per target.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    let mut out = vec![tf(
        "aws_cloudwatch_event_rule",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "name": v(a, "name"), "event_bus_name": v(a, "event_bus_name"),
                "schedule_expression": opt(a, "schedule_expression"),
                "event_pattern": json_string(&v(a, "event_pattern")),
                "state": v(a, "state"), "description": opt(a, "description"),
            }),
        ),
    )];
    for target in targets_of(a) {
        out.push(each(
            "aws_cloudwatch_event_target",
            v(&target, "id"),
            json!({
                "rule": v(a, "name"), "event_bus_name": v(a, "event_bus_name"),
                "target_id": v(&target, "id"), "arn": v(&target, "arn"),
                "input": json_string(&v(&target, "input")),
            }),
        ));
    }
    out
}

pub static SPEC: Spec = Spec {
    schema: &EVENT_RULE,
    planned_id: rule_id,
    id_from_arn: |arn| super::after(arn, ":rule/"),
    arn_example: (
        "arn:aws:events:us-east-1:1:rule/bus/nightly",
        Some("bus/nightly"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity {
        field: "name",
        of: |written| {
            let name = written.text("name")?;
            match written.raw("event_bus_name") {
                None | Some("default") => Some(name),
                Some(_) => Some(format!("{}/{name}", written.text("event_bus_name")?)),
            }
        },
    }),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_cloudwatch_event_rule", "aws_cloudwatch_event_target"],
        map: terraform,
        import: import_id,
        parts: Parts::NONE,
    },
};

/// Terraform's id is cairn's: `name`, or `bus/name` off the default bus.
fn import_id(a: &Map<String, Value>) -> Result<String, String> {
    super::terraform::attribute(a, "id")
}

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Rule,
    unmanaged: Unmanaged::Listed(list_rules),
};

#[cfg(test)]
mod tests {
    use super::{schedule, validate_rule};
    use serde_json::json;

    #[test]
    fn schedules_are_read_as_eventbridge_reads_them() {
        for good in [
            "rate(1 minute)",
            "rate(5 minutes)",
            "rate(1 day)",
            "rate(12 hours)",
            "cron(0 12 * * ? *)",
            "cron(0/15 8-17 ? * MON-FRI *)",
            "cron(0 9 L * ? 2026)",
            "cron(30 6 ? * 6#3 *)",
            "cron(0 0 15W * ? *)",
            "cron(0 18 ? JAN,JUL 5L *)",
        ] {
            assert_eq!(schedule(&json!(good)), Ok(()), "{good}");
        }
        let refused: Vec<String> = [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "cron(0 12 * * * *)",
            "cron(0 12 ? * ? *)",
            "cron(0 12 * *)",
            "cron(60 12 * * ? *)",
            "cron(0 12 * FOO ? *)",
            "cron(bogus)",
            "at(2026-01-01T00:00:00)",
        ]
        .iter()
        .map(|bad| schedule(&json!(bad)).unwrap_err())
        .collect();
        insta::assert_snapshot!(refused.join("\n"));
    }

    /// What EventBridge takes validates: a pattern's content filters
    /// (whose values are not match lists), `$or`, null and numbers; a
    /// target's input as a document, or as text that is a JSON string
    /// constant (AWS's Input is any JSON text).
    #[test]
    fn patterns_and_inputs_eventbridge_takes_validate() {
        let rule = json!({
            "name": "r",
            "event_pattern": {
                "source": ["aws.s3"],
                "detail": {
                    "key": [{"prefix": "img/"}, {"suffix": ".png"}],
                    "size": [{"numeric": [">", 0, "<=", 5]}],
                    "gone": [{"exists": false}],
                    "state": [null, 1, true, {"anything-but": ["deleted"]}],
                },
                "$or": [{"account": ["123456789012"]}, {"region": ["us-east-1"]}],
                "resources": "${var.resources}",
            },
            "targets": [
                {"id": "a", "arn": "arn:aws:sqs:us-east-1:1:q", "input": {"job": "daily"}},
                {"id": "b", "arn": "arn:aws:sqs:us-east-1:1:r", "input": "daily"},
                {"id": "c", "arn": "arn:aws:sqs:us-east-1:1:s", "input": "{not json"},
            ],
        });
        assert_eq!(validate_rule(rule.as_object().unwrap()), Vec::new());
    }
}
