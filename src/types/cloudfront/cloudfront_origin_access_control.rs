//! An origin access control: how CloudFront signs its requests to an S3
//! origin, so the bucket can stay private and allow only the distribution.
//! It has no tags; AWS assigns its id and refuses a second one with the
//! same name, by which cairn finds it again.

use super::{built, with_latest_etag};
use crate::aws::{ignore_missing, missing, present, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{no_expansion, no_validation, Fallback as F, Field, Kind as K, Naming, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes as OriginType,
    OriginAccessControlSigningBehaviors as Behavior,
    OriginAccessControlSigningProtocols as Protocol,
};
use serde_json::{json, Map, Value};

pub static CLOUDFRONT_ORIGIN_ACCESS_CONTROL: Schema = Schema {
    type_name: "cloudfront_origin_access_control",
    description: "How CloudFront signs its requests to an origin (a private S3 bucket)",
    fields: &[
        Field::new("name", K::Str).required().check(|v| {
            let name = c::text(v)?;
            c::length(name, 1, 64, "an origin access control name")
        }),
        Field::new("description", K::Str)
            .or(F::Str(""))
            .check(|v| c::length(c::text(v)?, 0, 256, "a description")),
        Field::new("origin_type", K::Str).or(F::Str("s3")).one_of(
            &["s3", "mediastore", "mediapackagev2", "lambda"],
            "an origin type",
        ),
        Field::new("signing_behavior", K::Str)
            .or(F::Str("always"))
            .one_of(&["always", "never", "no-override"], "a signing behavior"),
        Field::new("signing_protocol", K::Str)
            .or(F::Str("sigv4"))
            .one_of(&["sigv4"], "a signing protocol"),
    ],
    outputs: &["id", "etag"],
    taggable: false,
    naming: Naming::Dashed,
    stateful: false,
    expand: no_expansion,
    validate: no_validation,
};

fn config(desired: &Map<String, Value>) -> Result<OriginAccessControlConfig, AwsError> {
    built(
        "CreateOriginAccessControl",
        OriginAccessControlConfig::builder()
            .name(text(desired, "name"))
            .description(text(desired, "description"))
            .origin_access_control_origin_type(OriginType::from(text(desired, "origin_type")))
            .signing_behavior(Behavior::from(text(desired, "signing_behavior")))
            .signing_protocol(Protocol::from(text(desired, "signing_protocol")))
            .build(),
    )
}

fn observed(id: &str, etag: &str, config: Option<&OriginAccessControlConfig>) -> Observed {
    let mut attributes = Map::new();
    attributes.insert("name".into(), json!(config.map(|c| c.name())));
    attributes.insert(
        "description".into(),
        json!(config.and_then(|c| c.description()).unwrap_or_default()),
    );
    attributes.insert(
        "origin_type".into(),
        json!(config.map(|c| c.origin_access_control_origin_type().as_str())),
    );
    attributes.insert(
        "signing_behavior".into(),
        json!(config.map(|c| c.signing_behavior().as_str())),
    );
    attributes.insert(
        "signing_protocol".into(),
        json!(config.map(|c| c.signing_protocol().as_str())),
    );
    observation(id, attributes, [("id", json!(id)), ("etag", json!(etag))])
}

pub struct AccessControl;

impl AccessControl {
    /// Its configuration and the ETag of this read.
    async fn describe(
        &self,
        aws: &Aws,
        id: &str,
    ) -> Result<Option<(Option<OriginAccessControlConfig>, String)>, AwsError> {
        let got = present(
            aws.send(
                "GetOriginAccessControl",
                || aws.cloudfront().get_origin_access_control().id(id).send(),
                |e| missing(e.is_no_such_origin_access_control()),
            )
            .await,
        )?;
        Ok(got.map(|got| {
            (
                got.origin_access_control()
                    .and_then(|o| o.origin_access_control_config())
                    .cloned(),
                got.e_tag().unwrap_or_default().to_owned(),
            )
        }))
    }

    async fn read_control(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .describe(aws, id)
            .await?
            .map(|(config, etag)| observed(id, &etag, config.as_ref())))
    }

    /// The ETag of the latest read, for a change; gone is `NotFound`.
    async fn etag(&self, aws: &Aws, id: &str) -> Result<((), String), AwsError> {
        match self.describe(aws, id).await? {
            Some((_, etag)) => Ok(((), etag)),
            None => Err(AwsError::new(
                ErrorClass::NotFound,
                "GetOriginAccessControl",
                format!("origin access control {id} does not exist"),
            )),
        }
    }
}

impl Resource for AccessControl {
    fn finds_by_properties(&self) -> bool {
        true
    }

    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_control(aws, id).await
    }

    /// The one with the desired name: AWS allows one per name.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let name = text(desired, "name");
        let mut pages = aws.pages(
            "ListOriginAccessControls",
            |marker| {
                aws.cloudfront()
                    .list_origin_access_controls()
                    .set_marker(marker)
                    .send()
            },
            |page| {
                let list = page.origin_access_control_list()?;
                list.next_marker().filter(|_| list.is_truncated())
            },
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            let Some(list) = page.origin_access_control_list() else {
                break;
            };
            if let Some(found) = list.items().iter().find(|o| o.name() == name) {
                return self.read_control(aws, found.id()).await;
            }
        }
        Ok(None)
    }

    /// Sent once: AWS refuses a second one with the name, but an emulator
    /// makes it; after a lost answer the engine finds it by its name.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let config = config(desired)?;
        let created = aws
            .send_create(
                "CreateOriginAccessControl",
                || {
                    aws.cloudfront()
                        .create_origin_access_control()
                        .origin_access_control_config(config.clone())
                        .send()
                },
                |e| {
                    e.is_origin_access_control_already_exists()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
        let id = created
            .origin_access_control()
            .map(|o| o.id().to_owned())
            .unwrap_or_default();
        read_back(
            self.read_control(aws, &id).await,
            After::Create,
            "GetOriginAccessControl",
            format!("origin access control {id} not visible yet"),
        )
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
        after: &Map<String, Value>,
        _fields: &[String],
    ) -> Result<Observed, AwsError> {
        let config = config(after)?;
        with_latest_etag(
            || self.etag(aws, id),
            |(), etag| {
                let config = config.clone();
                async move {
                    aws.send(
                        "UpdateOriginAccessControl",
                        || {
                            aws.cloudfront()
                                .update_origin_access_control()
                                .id(id)
                                .if_match(&etag)
                                .origin_access_control_config(config.clone())
                                .send()
                        },
                        |e| {
                            if e.is_precondition_failed() || e.is_invalid_if_match_version() {
                                Some(ErrorClass::PreconditionFailed)
                            } else {
                                missing(e.is_no_such_origin_access_control())
                            }
                        },
                    )
                    .await
                }
            },
        )
        .await?;
        read_back(
            self.read_control(aws, id).await,
            After::Update,
            "GetOriginAccessControl",
            format!("origin access control {id} disappeared during update"),
        )
    }

    /// After the distributions that use it (they reference it, so they go
    /// first); AWS refuses while one still does, which is retried.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        ignore_missing(
            with_latest_etag(
                || self.etag(aws, id),
                |(), etag| async move {
                    aws.send(
                        "DeleteOriginAccessControl",
                        || {
                            aws.cloudfront()
                                .delete_origin_access_control()
                                .id(id)
                                .if_match(&etag)
                                .send()
                        },
                        |e| {
                            if e.is_precondition_failed() || e.is_invalid_if_match_version() {
                                Some(ErrorClass::PreconditionFailed)
                            } else if e.is_origin_access_control_in_use() {
                                Some(ErrorClass::Conflict)
                            } else {
                                missing(e.is_no_such_origin_access_control())
                            }
                        },
                    )
                    .await
                },
            )
            .await,
        )
    }
}

/// Terraform's view: `aws_cloudfront_origin_access_control`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_cloudfront_origin_access_control",
        json!({
            "id": v(a, "id"), "etag": v(a, "etag"), "name": v(a, "name"),
            "description": v(a, "description"),
            "origin_access_control_origin_type": v(a, "origin_type"),
            "signing_behavior": v(a, "signing_behavior"),
            "signing_protocol": v(a, "signing_protocol"),
        }),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &CLOUDFRONT_ORIGIN_ACCESS_CONTROL,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":origin-access-control/"),
    arn_example: (
        "arn:aws:cloudfront::1:origin-access-control/E2QWRUHAPOMQZL",
        Some("E2QWRUHAPOMQZL"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity::NAME),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_cloudfront_origin_access_control"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &AccessControl,
    unmanaged: Unmanaged::NotTaggable,
};
