//! Finding resources by their ownership tags, whatever the state says: the
//! search behind `cairn drift`'s "unmanaged" resources.
//!
//! The Resource Groups Tagging API finds most types in one paginated call.
//! It does not return IAM roles (AWS documents this), and emulators cover
//! fewer services than AWS, so roles, ECR repositories and HTTP APIs are
//! also listed through their own services; results are merged by ARN.
//! Dashboards, aliases and Lambda permissions cannot carry tags and so
//! cannot be found this way.

use super::{Aws, AwsError};
use crate::stack::{TAG_ADDRESS, TAG_ENVIRONMENT, TAG_STACK};
use std::collections::BTreeMap;

/// A resource carrying one stack environment's ownership tags.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owned {
    pub arn: String,
    /// The `cairn:address` tag, if it has one.
    pub address: Option<String>,
}

/// Log group ARNs come with and without a trailing `:*`.
pub fn normalize_arn(arn: &str) -> &str {
    arn.strip_suffix(":*").unwrap_or(arn)
}

/// The id `cairn import` takes for a resource of this type, from its ARN.
pub fn id_from_arn(type_name: &str, arn: &str) -> String {
    let arn = normalize_arn(arn);
    let after = |marker: &str| arn.rsplit_once(marker).map(|(_, id)| id.to_owned());
    match type_name {
        "iam_role" => arn.rsplit('/').next().map(str::to_owned),
        "dynamodb_table" => after(":table/"),
        "log_group" => after(":log-group:"),
        "kms_key" => after(":key/"),
        "ecr_repository" => after(":repository/"),
        "cloudwatch_alarm" => after(":alarm:"),
        "lambda_function" => after(":function:"),
        "http_api" => after("/apis/"),
        _ => None,
    }
    .unwrap_or_else(|| arn.to_owned())
}

fn matches(tags: &BTreeMap<String, String>, project: &str, environment: &str) -> bool {
    tags.get(TAG_STACK).map(String::as_str) == Some(project)
        && tags.get(TAG_ENVIRONMENT).map(String::as_str) == Some(environment)
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

    let filter = |key: &str, value: &str| {
        aws_sdk_resourcegroupstagging::types::TagFilter::builder()
            .key(key)
            .values(value)
            .build()
    };
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .send(
                "GetResources",
                || {
                    aws.tagging
                        .get_resources()
                        .tag_filters(filter(TAG_STACK, project))
                        .tag_filters(filter(TAG_ENVIRONMENT, environment))
                        .set_pagination_token(token.clone())
                        .send()
                },
                |_| None,
            )
            .await?;
        for mapping in page.resource_tag_mapping_list() {
            let tags = mapping
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            add(mapping.resource_arn().unwrap_or_default(), tags);
        }
        match page.pagination_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }

    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .send(
                "ListRoles",
                || aws.iam.list_roles().set_marker(marker.clone()).send(),
                |_| None,
            )
            .await?;
        for role in page.roles() {
            if !role.role_name().starts_with(role_prefix) {
                continue;
            }
            let tags = aws
                .send(
                    "ListRoleTags",
                    || aws.iam.list_role_tags().role_name(role.role_name()).send(),
                    |e| super::missing(e.is_no_such_entity_exception()),
                )
                .await;
            match tags {
                Ok(tags) => add(
                    role.arn(),
                    tags.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned()))
                        .collect(),
                ),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        match page.marker() {
            Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
            _ => break,
        }
    }

    let mut next: Option<String> = None;
    loop {
        let page = aws
            .send(
                "DescribeRepositories",
                || {
                    aws.ecr
                        .describe_repositories()
                        .set_next_token(next.clone())
                        .send()
                },
                |_| None,
            )
            .await?;
        for repository in page.repositories() {
            let arn = repository.repository_arn().unwrap_or_default();
            let tags = aws
                .send(
                    "ListTagsForResource",
                    || aws.ecr.list_tags_for_resource().resource_arn(arn).send(),
                    |e| super::missing(e.is_repository_not_found_exception()),
                )
                .await;
            match tags {
                Ok(tags) => add(
                    arn,
                    tags.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned()))
                        .collect(),
                ),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }

    let mut next: Option<String> = None;
    loop {
        let page = aws
            .send(
                "GetApis",
                || {
                    aws.apigateway
                        .get_apis()
                        .set_next_token(next.clone())
                        .send()
                },
                |_| None,
            )
            .await?;
        for api in page.items() {
            let arn = format!(
                "arn:{}:apigateway:{}::/apis/{}",
                aws.partition(),
                aws.region,
                api.api_id().unwrap_or_default()
            );
            let tags = api
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            add(&arn, tags);
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }

    Ok(found
        .into_iter()
        .map(|(arn, address)| Owned { arn, address })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
