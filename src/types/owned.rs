//! Finding resources by their ownership tags, whatever the state says: the
//! search behind `cairn drift`'s "unmanaged" resources.
//!
//! The Resource Groups Tagging API finds most types in one paginated call.
//! It does not return IAM roles (AWS documents this), and emulators cover
//! fewer services than AWS, so roles, ECR repositories and HTTP APIs are
//! also listed through their own services; results are merged by ARN.
//! Dashboards, aliases and Lambda permissions cannot carry tags and so
//! cannot be found this way.

pub use crate::aws::normalize_arn;
use crate::aws::{Aws, AwsError};
use crate::model::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A resource carrying one stack environment's ownership tags.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owned {
    pub arn: String,
    /// The `cairn:address` tag, if it has one.
    pub address: Option<String>,
}

/// The id `cairn import` takes for a resource of this type, from its ARN.
pub fn id_from_arn(type_name: &str, arn: &str) -> String {
    let arn = normalize_arn(arn);
    super::catalog()
        .find(type_name)
        .and_then(|t| (t.id_from_arn)(arn))
        .unwrap_or_else(|| arn.to_owned())
}

fn matches(tags: &BTreeMap<String, String>, project: &str, environment: &str) -> bool {
    tags.get(TAG_STACK).map(String::as_str) == Some(project)
        && tags.get(TAG_ENVIRONMENT).map(String::as_str) == Some(environment)
}

/// Whether a refresh can take this type's tags from one bulk read.
pub fn bulk_tagged(type_name: &str) -> bool {
    super::catalog()
        .find(type_name)
        .is_some_and(|t| t.bulk_tagged)
}

/// Tags of every resource the Resource Groups Tagging API finds with this
/// environment's ownership tags, by (normalized) ARN.
pub async fn tagged(
    aws: &Aws,
    project: &str,
    environment: &str,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AwsError> {
    let filter = |key: &str, value: &str| {
        aws_sdk_resourcegroupstagging::types::TagFilter::builder()
            .key(key)
            .values(value)
            .build()
    };
    let mut out = BTreeMap::new();
    let pages = aws
        .pages(
            "GetResources",
            |token| {
                aws.tagging()
                    .get_resources()
                    .tag_filters(filter(TAG_STACK, project))
                    .tag_filters(filter(TAG_ENVIRONMENT, environment))
                    .resources_per_page(100)
                    .set_pagination_token(token)
                    .send()
            },
            |page| page.pagination_token(),
            |_| None,
        )
        .all()
        .await?;
    for mapping in pages
        .iter()
        .flat_map(|page| page.resource_tag_mapping_list())
    {
        let tags = mapping
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        out.insert(
            normalize_arn(mapping.resource_arn().unwrap_or_default()).to_owned(),
            tags,
        );
    }
    Ok(out)
}

/// The bulk-read tags that equal what the state records. Only those stand
/// in for a per-resource tag read: the tagging API is eventually
/// consistent, so a difference (cairn just changed the tags, or someone
/// else did) is always checked against the resource's own API. By ARN: the
/// recorded values (shared with the state), whose `tags` were confirmed.
pub fn confirmed_tags(
    state: &crate::state::State,
    bulk: &BTreeMap<String, BTreeMap<String, String>>,
) -> BTreeMap<String, crate::model::Values> {
    let mut out = BTreeMap::new();
    for recorded in state.resources.values() {
        let Some(arn) = recorded
            .outputs
            .get("arn")
            .and_then(serde_json::Value::as_str)
        else {
            continue;
        };
        let arn = normalize_arn(arn);
        let Some(live) = bulk.get(arn) else {
            continue;
        };
        let live = crate::aws::tags_value(live.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if recorded.attributes.get("tags") == Some(&live) {
            out.insert(arn.to_owned(), Arc::clone(&recorded.attributes));
        }
    }
    out
}

/// Every resource tagged as belonging to `project`/`environment`.
/// `role_prefix` narrows the IAM role listing (roles need one tag call
/// each): roles whose names start with it are checked.
pub async fn find(
    aws: &Aws,
    project: &str,
    environment: &str,
    role_prefix: &str,
) -> Result<Vec<Owned>, AwsError> {
    let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut add = |arn: &str, tags: BTreeMap<String, String>| {
        if matches(&tags, project, environment) {
            found.insert(
                normalize_arn(arn).to_owned(),
                tags.get(TAG_ADDRESS).cloned(),
            );
        }
    };

    for (arn, tags) in tagged(aws, project, environment).await? {
        add(&arn, tags);
    }

    for resource_type in super::registry() {
        if let super::Unmanaged::Listed(list) = resource_type.unmanaged {
            for (arn, tags) in list(aws, role_prefix).await? {
                add(&arn, tags);
            }
        }
    }

    let mut out = Vec::new();
    for (arn, address) in found {
        // AWS copies a resource's tags onto what it makes from it (an RDS
        // snapshot carries its instance's): an ARN that is not of the
        // address's type is such a copy, not a second resource.
        let type_name = address
            .as_deref()
            .and_then(|a| a.split_once('.'))
            .map(|(t, _)| t);
        if let Some(resource_type) = type_name.and_then(|t| super::catalog().find(t)) {
            if (resource_type.id_from_arn)(&arn).is_none() {
                continue;
            }
        }
        let mut lingering = false;
        for resource_type in super::registry() {
            lingering = lingering || resource_type.provider.lingers(aws, &arn).await?;
        }
        if lingering {
            continue;
        }
        out.push(Owned { arn, address });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bulk_tags_equal_to_the_record_stand_in_for_a_tag_read() {
        use crate::state::{ResourceState, State, Status};
        use serde_json::json;
        let mut state = State::new("p", "dev");
        let entry = |arn: &str, tags: serde_json::Value| ResourceState {
            type_name: "log_group".into(),
            name: "x".into(),
            status: Status::Created,
            id: Some("x".into()),
            attributes: json!({ "tags": tags }).as_object().unwrap().clone().into(),
            outputs: json!({ "arn": arn }).as_object().unwrap().clone(),
            dependencies: vec![],
            protect: false,
            sensitive: vec![],
            region: None,
        };
        let arn = |name: &str| format!("arn:aws:logs:us-east-1:1:log-group:{name}");
        state.resources.insert(
            "log_group.same".into(),
            entry(&format!("{}:*", arn("same")), json!({"team": "a"})),
        );
        state.resources.insert(
            "log_group.changed".into(),
            entry(&arn("changed"), json!({"team": "a"})),
        );
        state.resources.insert(
            "log_group.unseen".into(),
            entry(&arn("unseen"), json!({"team": "a"})),
        );
        let tags = |team: &str| BTreeMap::from([("team".to_owned(), team.to_owned())]);
        let bulk = BTreeMap::from([(arn("same"), tags("a")), (arn("changed"), tags("b"))]);
        let confirmed = confirmed_tags(&state, &bulk);
        assert_eq!(confirmed.keys().collect::<Vec<_>>(), vec![&arn("same")]);
        assert_eq!(confirmed[&arn("same")]["tags"], json!({"team": "a"}));
    }

    #[test]
    fn ids_come_from_arns_as_import_takes_them() {
        let cases = [
            (
                "iam_role",
                "arn:aws:iam::1:role/service/p-dev-fn",
                "p-dev-fn",
            ),
            (
                "dynamodb_table",
                "arn:aws:dynamodb:us-east-1:1:table/p-dev-t",
                "p-dev-t",
            ),
            (
                "log_group",
                "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/x:*",
                "/aws/lambda/x",
            ),
            ("kms_key", "arn:aws:kms:us-east-1:1:key/1234-ab", "1234-ab"),
            (
                "ecr_repository",
                "arn:aws:ecr:us-east-1:1:repository/p/images",
                "p/images",
            ),
            (
                "cloudwatch_alarm",
                "arn:aws:cloudwatch:us-east-1:1:alarm:p-dev-5xx",
                "p-dev-5xx",
            ),
            (
                "lambda_function",
                "arn:aws:lambda:us-east-1:1:function:p-dev-chat",
                "p-dev-chat",
            ),
            (
                "http_api",
                "arn:aws:apigateway:us-east-1::/apis/a1b2c3",
                "a1b2c3",
            ),
        ];
        for (type_name, arn, id) in cases {
            assert_eq!(id_from_arn(type_name, arn), id, "{type_name}");
        }
    }
}
