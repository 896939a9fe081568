//! WAFv2: what its types share. A web ACL of scope CLOUDFRONT lives in
//! us-east-1 whatever the stack's region.

use crate::aws::Aws;
use std::sync::Arc;

pub mod wafv2_web_acl;
pub mod wafv2_web_acl_association;

/// The configuration to reach a web ACL of `scope` through: us-east-1 for
/// CLOUDFRONT, `None` for this one.
pub fn for_scope(aws: &Aws, scope: &str) -> Option<Arc<Aws>> {
    (scope == "CLOUDFRONT")
        .then(|| aws.in_region(Some("us-east-1")))
        .flatten()
}
