//! A bucket's policy as a resource of its own: for a policy that names
//! what itself names the bucket (a CloudFront distribution allowed by its
//! ARN, `AWS:SourceArn`), which inside the bucket would be a cycle.

use super::{bucket_name, bucket_policy_problems, Owner};
use crate::aws::{text, Aws, AwsError};
use crate::model::Observed;
use crate::schema::{no_expansion, Field, Kind as K, Naming, Problem, Schema};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use serde_json::{json, Map, Value};

pub static S3_BUCKET_POLICY: Schema = Schema {
    type_name: "s3_bucket_policy",
    description: "The policy of an S3 bucket, apart from the bucket",
    fields: &[
        Field::new("bucket", K::Str)
            .required()
            .force_new()
            .check(bucket_name),
        Field::new("policy", K::Policy).required(),
    ],
    outputs: &[],
    taggable: false,
    naming: Naming::None,
    stateful: false,
    expand: no_expansion,
    validate: validate_policy,
};

/// The grammar and the resources here; whether it is public while the
/// bucket blocks public policies is checked with the bucket, across the
/// stack (`crate::stack`'s bucket policy check).
fn validate_policy(properties: &Map<String, Value>) -> Vec<Problem> {
    let bucket = properties
        .get("bucket")
        .and_then(Value::as_str)
        .unwrap_or("");
    match properties.get("policy").filter(|p| !p.is_null()) {
        Some(policy) => bucket_policy_problems("policy", policy, &Owner::of(bucket), false),
        None => Vec::new(),
    }
}

pub struct BucketPolicy;

impl BucketPolicy {
    async fn read_policy(&self, aws: &Aws, bucket: &str) -> Result<Option<Observed>, AwsError> {
        let Some(policy) = super::read_policy(aws, bucket).await? else {
            return Ok(None);
        };
        let mut attributes = Map::new();
        attributes.insert("bucket".into(), json!(bucket));
        attributes.insert("policy".into(), policy);
        Ok(Some(Observed {
            id: bucket.to_owned(),
            attributes: attributes.into(),
            outputs: Map::new(),
        }))
    }
}

impl Resource for BucketPolicy {
    fn finds_by_properties(&self) -> bool {
        true
    }

    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_policy(aws, id).await
    }

    /// A bucket holds one policy: the one on its bucket.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        self.read_policy(aws, text(desired, "bucket")).await
    }

    /// PutBucketPolicy replaces the policy: safe to repeat.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let bucket = text(desired, "bucket");
        let policy = desired.get("policy").unwrap_or(&Value::Null);
        super::put_policy(aws, bucket, policy).await?;
        read_back(
            self.read_policy(aws, bucket).await,
            After::Create,
            "GetBucketPolicy",
            "bucket policy not visible after create",
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
        let policy = after.get("policy").unwrap_or(&Value::Null);
        super::put_policy(aws, id, policy).await?;
        read_back(
            self.read_policy(aws, id).await,
            After::Update,
            "GetBucketPolicy",
            "bucket policy disappeared",
        )
    }

    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        super::delete_policy(aws, id).await
    }
}

/// Terraform's view: `aws_s3_bucket_policy`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::spec::terraform::Tf> {
    use crate::spec::terraform::prelude::*;
    vec![tf(
        "aws_s3_bucket_policy",
        json!({"bucket": v(a, "bucket"), "policy": json_string(&v(a, "policy"))}),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &S3_BUCKET_POLICY,
    // The bucket's name, once it is known.
    planned_id: |desired| {
        desired
            .get("bucket")
            .filter(|b| !crate::model::expr::contains_unknown(b))
            .and_then(Value::as_str)
            .map(str::to_owned)
    },
    id_from_arn: crate::spec::no_arn,
    arn_example: ("arn:aws:s3:::site-frontend", None),
    bulk_tagged: false,
    create_before_destroy: false,
    // One policy per bucket: two would overwrite each other.
    identity: Some(Identity {
        field: "bucket",
        of: |written| written.raw("bucket").map(str::to_owned),
    }),
    update_note: crate::spec::no_note,
    terraform: crate::spec::terraform::Mapping {
        types: &["aws_s3_bucket_policy"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "bucket"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &BucketPolicy,
    unmanaged: Unmanaged::NotTaggable,
};
