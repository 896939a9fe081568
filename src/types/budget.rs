//! An AWS Budgets cost budget: a limit per period in a currency, optional
//! cost filters, and notifications (on actual or forecast spend past a
//! threshold) to email addresses and an SNS topic. Budgets are global:
//! served from us-east-1 whatever the stack's region (`aws.budgets()` is
//! pinned there), and their ARN has no region.

use super::{read_back, After, Resource, ResourceType, Unmanaged};
use crate::aws::{changed, missing, present, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{
    no_expansion, pending, Fallback as F, Field, Kind as K, Naming, Problem, Schema,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use aws_sdk_budgets::types::{
    Budget, BudgetType, ComparisonOperator, Notification, NotificationType,
    NotificationWithSubscribers, Spend, Subscriber, SubscriptionType, ThresholdType, TimeUnit,
};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};

static NOTIFICATION: &[Field] = &[
    Field::new("notification_type", K::Str)
        .required()
        .one_of(&["ACTUAL", "FORECASTED"], "a notification type"),
    Field::new("comparison_operator", K::Str)
        .or(F::Str("GREATER_THAN"))
        .one_of(
            &["GREATER_THAN", "LESS_THAN", "EQUAL_TO"],
            "a comparison operator",
        ),
    Field::new("threshold", K::Float)
        .required()
        .check(threshold),
    Field::new("threshold_type", K::Str)
        .or(F::Str("PERCENTAGE"))
        .one_of(&["PERCENTAGE", "ABSOLUTE_VALUE"], "a threshold type"),
    Field::new("subscriber_email_addresses", K::StrSet)
        .or(F::EmptyList)
        .check(emails),
    Field::new("subscriber_sns_topic_arns", K::StrSet)
        .or(F::EmptyList)
        .check(c::each_arn),
];

pub static BUDGET: Schema = Schema {
    type_name: "budget",
    description: "AWS Budgets cost budget with notifications (always in us-east-1)",
    fields: &[
        Field::new("name", K::Str)
            .required()
            .force_new()
            .check(budget_name),
        Field::new("budget_type", K::Str)
            .or(F::Str("COST"))
            .one_of(&["COST"], "a budget type"),
        Field::new("time_unit", K::Str)
            .or(F::Str("MONTHLY"))
            .one_of(
                &["DAILY", "MONTHLY", "QUARTERLY", "ANNUALLY"],
                "a time unit",
            ),
        Field::new("limit_amount", K::Float)
            .required()
            .check(amount),
        Field::new("limit_unit", K::Str)
            .or(F::Str("USD"))
            .one_of(&["USD"], "a cost budget's currency"),
        // Dimension to values (`Service: [Amazon Simple Storage Service]`).
        Field::new("cost_filters", K::Json)
            .or(F::EmptyMap)
            .check(cost_filters),
        Field::new("notifications", K::ObjectSet(NOTIFICATION)).or(F::EmptyList),
    ],
    outputs: &["arn"],
    taggable: false,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: validate_budget,
};

fn budget_name(value: &Value) -> Result<(), String> {
    let v = c::text(value)?;
    c::length(v, 1, 100, "a budget name")?;
    c::charset(
        v,
        |c| c != ':' && c != '\\',
        "a budget name",
        "any character but : and \\",
    )
}

fn amount(value: &Value) -> Result<(), String> {
    match value.as_f64() {
        Some(n) if n > 0.0 => Ok(()),
        Some(n) => Err(format!("a budget's limit is above 0, got {n}")),
        None => Err("expected a number".to_owned()),
    }
}

fn threshold(value: &Value) -> Result<(), String> {
    match value.as_f64() {
        Some(n) if n > 0.0 && n <= 1_000_000_000.0 => Ok(()),
        Some(n) => Err(format!(
            "a notification's threshold is above 0 and at most 1000000000, got {n}"
        )),
        None => Err("expected a number".to_owned()),
    }
}

fn emails(value: &Value) -> Result<(), String> {
    for address in value.as_array().into_iter().flatten() {
        let text = c::text(address)?;
        let parts: Vec<&str> = text.split('@').collect();
        if parts.len() != 2 || parts[0].is_empty() || !parts[1].contains('.') {
            return Err(format!("`{text}` is not an email address"));
        }
    }
    Ok(())
}

/// The dimensions a cost budget filters on.
const DIMENSIONS: &[&str] = &[
    "AZ",
    "BillingEntity",
    "CostCategory",
    "InstanceType",
    "InvoicingEntity",
    "LegalEntityName",
    "LinkedAccount",
    "Operation",
    "PurchaseType",
    "RecordType",
    "Region",
    "ResourceId",
    "Service",
    "TagKeyValue",
    "UsageType",
    "UsageTypeGroup",
];

fn cost_filters(value: &Value) -> Result<(), String> {
    let Some(filters) = value.as_object() else {
        return Err("cost filters are a mapping of a dimension to its values".to_owned());
    };
    for (dimension, values) in filters {
        if !DIMENSIONS.contains(&dimension.as_str()) {
            return Err(crate::schema::unknown_key(
                dimension,
                DIMENSIONS,
                "cost filter",
            ));
        }
        let ok = values
            .as_array()
            .is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string));
        if !ok {
            return Err(format!(
                "the cost filter `{dimension}` takes a list of values (`[us-east-1]`)"
            ));
        }
    }
    Ok(())
}

fn validate_budget(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(notifications) = properties.get("notifications").and_then(Value::as_array) else {
        return problems;
    };
    if notifications.len() > 5 {
        problems.push(Problem::new(
            "notifications",
            format!(
                "a budget has at most 5 notifications, got {}",
                notifications.len()
            ),
        ));
    }
    let daily = properties.get("time_unit").and_then(Value::as_str) == Some("DAILY");
    let mut seen = BTreeSet::new();
    for (at, notification) in notifications.iter().enumerate() {
        let Some(notification) = notification.as_object() else {
            continue;
        };
        let count = |key: &str| {
            notification
                .get(key)
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        };
        let (email, sns) = (
            count("subscriber_email_addresses"),
            count("subscriber_sns_topic_arns"),
        );
        let place = |key: &str| format!("notifications.{at}.{key}");
        if email > 10 {
            problems.push(Problem::new(
                place("subscriber_email_addresses"),
                format!("a notification has at most 10 email subscribers, got {email}"),
            ));
        }
        if sns > 1 {
            problems.push(Problem::new(
                place("subscriber_sns_topic_arns"),
                format!("a notification has at most 1 SNS topic, got {sns}"),
            ));
        }
        if email + sns == 0 {
            problems.push(Problem::new(
                place("subscriber_email_addresses"),
                "a notification needs a subscriber: an email address or an SNS topic",
            ));
        }
        let kind = notification
            .get("notification_type")
            .and_then(Value::as_str);
        if daily && kind == Some("FORECASTED") {
            problems.push(Problem::new(
                place("notification_type"),
                "a daily budget has no forecast to notify on (ACTUAL only)",
            ));
        }
        if !notification.values().any(pending) && !seen.insert(key_of(notification)) {
            problems.push(Problem::new(
                place("threshold"),
                "the same notification (type, operator, threshold and its type) is given twice",
            ));
        }
    }
    problems
}

/// What identifies a notification within its budget.
fn key_of(notification: &Map<String, Value>) -> (String, String, String, String) {
    let or = |key: &str, default: &str| {
        notification
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    (
        or("notification_type", ""),
        or("comparison_operator", "GREATER_THAN"),
        notification
            .get("threshold")
            .and_then(Value::as_f64)
            .map_or_else(String::new, |t| t.to_string()),
        or("threshold_type", "PERCENTAGE"),
    )
}

fn notifications_of(desired: &Map<String, Value>) -> Vec<Map<String, Value>> {
    desired
        .get("notifications")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|n| n.as_object().cloned())
                .collect()
        })
        .unwrap_or_default()
}

fn sdk_notification(notification: &Map<String, Value>) -> Notification {
    Notification::builder()
        .notification_type(NotificationType::from(text(
            notification,
            "notification_type",
        )))
        .comparison_operator(ComparisonOperator::from(text(
            notification,
            "comparison_operator",
        )))
        .threshold(
            notification
                .get("threshold")
                .and_then(Value::as_f64)
                .unwrap_or_default(),
        )
        .threshold_type(ThresholdType::from(text(notification, "threshold_type")))
        .build()
        .expect("type, operator and threshold are set")
}

fn subscribers(notification: &Map<String, Value>) -> Vec<Subscriber> {
    let of = |key: &str, kind: SubscriptionType| {
        crate::aws::strings(notification, key)
            .into_iter()
            .map(move |address| {
                Subscriber::builder()
                    .subscription_type(kind.clone())
                    .address(address)
                    .build()
                    .expect("type and address are set")
            })
    };
    of("subscriber_email_addresses", SubscriptionType::Email)
        .chain(of("subscriber_sns_topic_arns", SubscriptionType::Sns))
        .collect()
}

// CostFilters is deprecated for the newer FilterExpression, but it is what
// Terraform's `cost_filter` sets and what emulators serve.
#[allow(deprecated)]
fn sdk_budget(desired: &Map<String, Value>) -> Budget {
    let limit = desired
        .get("limit_amount")
        .and_then(Value::as_f64)
        .unwrap_or_default();
    let filters: HashMap<String, Vec<String>> = desired
        .get("cost_filters")
        .and_then(Value::as_object)
        .map(|filters| {
            filters
                .iter()
                .map(|(k, v)| {
                    let values = v
                        .as_array()
                        .map(|v| {
                            v.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    (k.clone(), values)
                })
                .collect()
        })
        .unwrap_or_default();
    Budget::builder()
        .budget_name(text(desired, "name"))
        .budget_type(BudgetType::from(text(desired, "budget_type")))
        .time_unit(TimeUnit::from(text(desired, "time_unit")))
        .budget_limit(
            Spend::builder()
                .amount(limit.to_string())
                .unit(text(desired, "limit_unit"))
                .build()
                .expect("amount and unit are set"),
        )
        .set_cost_filters(Some(filters))
        .build()
        .expect("name, type and time unit are set")
}

/// A create refused as a duplicate: a repeat after a lost answer, so
/// what it makes is there.
fn already_there(error: AwsError) -> Result<(), AwsError> {
    match error.class {
        ErrorClass::AlreadyExists => Ok(()),
        _ => Err(error),
    }
}

/// The account the budgets belong to.
async fn account(aws: &Aws) -> Result<String, AwsError> {
    if aws.account().is_empty() {
        return Ok(aws.identity().await?.0);
    }
    Ok(aws.account().to_owned())
}

pub struct Budgets;

impl Budgets {
    #[allow(deprecated)] // CostFilters: see `sdk_budget`.
    async fn read_budget(&self, aws: &Aws, name: &str) -> Result<Option<Observed>, AwsError> {
        let account = account(aws).await?;
        let found = aws
            .send(
                "DescribeBudget",
                || {
                    aws.budgets()
                        .describe_budget()
                        .account_id(&account)
                        .budget_name(name)
                        .send()
                },
                |e| missing(e.is_not_found_exception()),
            )
            .await;
        let Some(Some(budget)) = present(found)?.map(|o| o.budget) else {
            return Ok(None);
        };
        let mut notifications = Vec::new();
        let mut pages = aws.pages(
            "DescribeNotificationsForBudget",
            |token| {
                aws.budgets()
                    .describe_notifications_for_budget()
                    .account_id(&account)
                    .budget_name(name)
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token(),
            |e| missing(e.is_not_found_exception()),
        );
        loop {
            let Some(page) = present(pages.next_page().await)? else {
                return Ok(None);
            };
            let Some(page) = page else {
                break;
            };
            for notification in page.notifications() {
                notifications.push(
                    self.read_notification(aws, &account, name, notification)
                        .await?,
                );
            }
        }
        let limit = budget.budget_limit();
        let filters: Map<String, Value> = budget
            .cost_filters()
            .map(|f| f.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
            .unwrap_or_default();
        let mut observed = Map::new();
        observed.insert("name".into(), json!(name));
        observed.insert("budget_type".into(), json!(budget.budget_type().as_str()));
        observed.insert("time_unit".into(), json!(budget.time_unit().as_str()));
        observed.insert(
            "limit_amount".into(),
            limit
                .and_then(|l| l.amount().parse::<f64>().ok())
                .map_or(Value::Null, |a| json!(a)),
        );
        observed.insert(
            "limit_unit".into(),
            json!(limit.map(Spend::unit).unwrap_or_default()),
        );
        observed.insert("cost_filters".into(), Value::Object(filters));
        observed.insert("notifications".into(), Value::Array(notifications));
        Ok(Some(observation(
            name,
            observed,
            [(
                "arn",
                json!(format!(
                    "arn:{}:budgets::{account}:budget/{name}",
                    aws.partition()
                )),
            )],
        )))
    }

    async fn read_notification(
        &self,
        aws: &Aws,
        account: &str,
        name: &str,
        notification: &Notification,
    ) -> Result<Value, AwsError> {
        let mut email = Vec::new();
        let mut sns = Vec::new();
        let pages = aws
            .pages(
                "DescribeSubscribersForNotification",
                |token| {
                    aws.budgets()
                        .describe_subscribers_for_notification()
                        .account_id(account)
                        .budget_name(name)
                        .notification(notification.clone())
                        .set_next_token(token)
                        .send()
                },
                |page| page.next_token(),
                |_| None,
            )
            .all()
            .await?;
        for subscriber in pages.iter().flat_map(|page| page.subscribers()) {
            match subscriber.subscription_type() {
                SubscriptionType::Sns => sns.push(subscriber.address().to_owned()),
                _ => email.push(subscriber.address().to_owned()),
            }
        }
        email.sort();
        sns.sort();
        Ok(json!({
            "notification_type": notification.notification_type().as_str(),
            "comparison_operator": notification.comparison_operator().as_str(),
            "threshold": notification.threshold(),
            "threshold_type": notification.threshold_type().map_or("PERCENTAGE", ThresholdType::as_str),
            "subscriber_email_addresses": email,
            "subscriber_sns_topic_arns": sns,
        }))
    }

    /// From the notifications `before` to `after`: those that go are
    /// deleted, new ones created with their subscribers, and a kept one's
    /// subscribers added and removed one by one.
    async fn change_notifications(
        &self,
        aws: &Aws,
        account: &str,
        name: &str,
        before: &[Map<String, Value>],
        after: &[Map<String, Value>],
    ) -> Result<(), AwsError> {
        let find = |list: &[Map<String, Value>], n: &Map<String, Value>| {
            list.iter().find(|o| key_of(o) == key_of(n)).cloned()
        };
        for gone in before.iter().filter(|n| find(after, n).is_none()) {
            aws.send_delete(
                "DeleteNotification",
                || {
                    aws.budgets()
                        .delete_notification()
                        .account_id(account)
                        .budget_name(name)
                        .notification(sdk_notification(gone))
                        .send()
                },
                |e| missing(e.is_not_found_exception()),
            )
            .await?;
        }
        for wanted in after {
            let Some(old) = find(before, wanted) else {
                aws.send(
                    "CreateNotification",
                    || {
                        aws.budgets()
                            .create_notification()
                            .account_id(account)
                            .budget_name(name)
                            .notification(sdk_notification(wanted))
                            .set_subscribers(Some(subscribers(wanted)))
                            .send()
                    },
                    |e| {
                        e.is_duplicate_record_exception()
                            .then_some(ErrorClass::AlreadyExists)
                    },
                )
                .await
                .map_or_else(already_there, |_| Ok(()))?;
                continue;
            };
            let (had, has) = (subscribers(&old), subscribers(wanted));
            for subscriber in has.iter().filter(|s| !had.contains(s)) {
                aws.send(
                    "CreateSubscriber",
                    || {
                        aws.budgets()
                            .create_subscriber()
                            .account_id(account)
                            .budget_name(name)
                            .notification(sdk_notification(wanted))
                            .subscriber(subscriber.clone())
                            .send()
                    },
                    |e| {
                        e.is_duplicate_record_exception()
                            .then_some(ErrorClass::AlreadyExists)
                    },
                )
                .await
                .map_or_else(already_there, |_| Ok(()))?;
            }
            for subscriber in had.iter().filter(|s| !has.contains(s)) {
                aws.send_delete(
                    "DeleteSubscriber",
                    || {
                        aws.budgets()
                            .delete_subscriber()
                            .account_id(account)
                            .budget_name(name)
                            .notification(sdk_notification(wanted))
                            .subscriber(subscriber.clone())
                            .send()
                    },
                    |e| missing(e.is_not_found_exception()),
                )
                .await?;
            }
        }
        Ok(())
    }
}

impl Resource for Budgets {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_budget(aws, id).await
    }

    /// A repeat after a lost answer is refused as a duplicate
    /// (`AlreadyExists`); the engine then reads the budget and adopts it.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let account = account(aws).await?;
        let name = text(desired, "name");
        let notifications: Vec<NotificationWithSubscribers> = notifications_of(desired)
            .iter()
            .map(|n| {
                NotificationWithSubscribers::builder()
                    .notification(sdk_notification(n))
                    .set_subscribers(Some(subscribers(n)))
                    .build()
                    .expect("notification and subscribers are set")
            })
            .collect();
        aws.send(
            "CreateBudget",
            || {
                aws.budgets()
                    .create_budget()
                    .account_id(&account)
                    .budget(sdk_budget(desired))
                    .set_notifications_with_subscribers(Some(notifications.clone()))
                    .send()
            },
            |e| {
                e.is_duplicate_record_exception()
                    .then_some(ErrorClass::AlreadyExists)
            },
        )
        .await?;
        read_back(
            self.read_budget(aws, name).await,
            After::Create,
            "DescribeBudget",
            "budget not visible after create",
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
        let account = account(aws).await?;
        if [
            "budget_type",
            "time_unit",
            "limit_amount",
            "limit_unit",
            "cost_filters",
        ]
        .iter()
        .any(|f| changed(fields, f))
        {
            aws.send(
                "UpdateBudget",
                || {
                    aws.budgets()
                        .update_budget()
                        .account_id(&account)
                        .new_budget(sdk_budget(after))
                        .send()
                },
                |e| missing(e.is_not_found_exception()),
            )
            .await?;
        }
        if changed(fields, "notifications") {
            self.change_notifications(
                aws,
                &account,
                id,
                &notifications_of(before),
                &notifications_of(after),
            )
            .await?;
        }
        read_back(
            self.read_budget(aws, id).await,
            After::Update,
            "DescribeBudget",
            "budget disappeared",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let account = account(aws).await?;
        aws.send_delete(
            "DeleteBudget",
            || {
                aws.budgets()
                    .delete_budget()
                    .account_id(&account)
                    .budget_name(id)
                    .send()
            },
            |e| missing(e.is_not_found_exception()),
        )
        .await
    }
}

/// Terraform's view: `aws_budgets_budget`, its amounts as strings.
fn terraform(a: &Map<String, Value>) -> Vec<super::terraform::Tf> {
    use super::terraform::prelude::*;
    let amount = match v(a, "limit_amount") {
        Value::Number(n) => json!(n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string())),
        other => other,
    };
    let filters: Vec<Value> = a
        .get("cost_filters")
        .and_then(Value::as_object)
        .map(|f| {
            f.iter()
                .map(|(name, values)| json!({"name": name, "values": values}))
                .collect()
        })
        .unwrap_or_default();
    let notifications: Vec<Value> = notifications_of(a)
        .iter()
        .map(|n| {
            json!({
                "notification_type": v(n, "notification_type"),
                "comparison_operator": v(n, "comparison_operator"),
                "threshold": v(n, "threshold"), "threshold_type": v(n, "threshold_type"),
                "subscriber_email_addresses": v(n, "subscriber_email_addresses"),
                "subscriber_sns_topic_arns": v(n, "subscriber_sns_topic_arns"),
            })
        })
        .collect();
    vec![tf(
        "aws_budgets_budget",
        json!({
            "arn": v(a, "arn"), "name": v(a, "name"), "budget_type": v(a, "budget_type"),
            "time_unit": v(a, "time_unit"), "limit_amount": amount, "limit_unit": v(a, "limit_unit"),
            "cost_filter": filters, "notification": notifications,
        }),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &BUDGET,
    planned_id: super::by_name,
    id_from_arn: |arn| super::after(arn, ":budget/"),
    arn_example: ("arn:aws:budgets::1:budget/monthly", Some("monthly")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: super::terraform::Mapping {
        types: &["aws_budgets_budget"],
        map: terraform,
        import: |a| super::terraform::attribute(a, "name"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Budgets,
    unmanaged: Unmanaged::NotTaggable,
};
