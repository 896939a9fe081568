//! The I/O part of a resource type: its create, read, update and delete,
//! which only the engine, drift and import call.

use crate::aws::{Aws, AwsError};
use crate::model::Observed;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One resource type's create, read, update and delete.
pub trait Provider: Send + Sync {
    /// `None` when the resource does not exist.
    fn read<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>>;
    /// How many ids one `read_many` call should take; more than one only
    /// for types with a batch read in AWS.
    fn batch_size(&self) -> usize {
        1
    }
    /// Reads several at once; types with a batch API override this.
    fn read_many<'a>(
        &'a self,
        aws: &'a Aws,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<BTreeMap<String, Option<Observed>>, AwsError>> {
        Box::pin(async move {
            let mut out = BTreeMap::new();
            for id in ids {
                out.insert(id.clone(), self.read(aws, id).await?);
            }
            Ok(out)
        })
    }
    /// Finds a resource whose id AWS assigns, after a create that was
    /// interrupted before its id was recorded: by the ownership tags in
    /// `desired["tags"]`, or, for types that cannot carry tags, by the
    /// properties that make it unique (a subscription's topic, protocol
    /// and endpoint).
    fn find<'a>(
        &'a self,
        _aws: &'a Aws,
        _desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Option<Observed>, AwsError>> {
        Box::pin(async { Ok(None) })
    }
    fn create<'a>(
        &'a self,
        aws: &'a Aws,
        desired: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<Observed, AwsError>>;
    fn update<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
        after: &'a Map<String, Value>,
        changed: &'a [String],
    ) -> BoxFuture<'a, Result<Observed, AwsError>>;
    /// Deleting what is already gone succeeds.
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        id: &'a str,
        before: &'a Map<String, Value>,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
}
