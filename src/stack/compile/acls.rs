//! What WAF and CloudFront refuse about web ACLs across resources, where
//! the stack holds the ACL: a distribution takes an ACL of scope
//! CLOUDFRONT by its ARN; an association puts a REGIONAL one in front of
//! a regional resource (a REST API's stage, not the API itself).

use super::queues::{referenced, refuse};
use super::Compiler;
use crate::stack::Resource;

/// A web ACL's scope as written (AWS's default, REGIONAL, when absent);
/// none when it is known only at apply.
fn scope(acl: &Resource) -> Option<&str> {
    let scope = acl
        .properties
        .get("scope")
        .and_then(|s| s.as_str())
        .unwrap_or("REGIONAL");
    (!crate::model::expr::is_template(scope)).then_some(scope)
}

pub(super) fn check_web_acls(c: &mut Compiler, resources: &[Resource]) {
    for resource in resources {
        match resource.type_name() {
            "cloudfront_distribution" => check_distribution(c, resources, resource),
            "wafv2_web_acl_association" => check_association(c, resources, resource),
            _ => {}
        }
    }
}

fn check_distribution(c: &mut Compiler, resources: &[Resource], distribution: &Resource) {
    let Some((acl, attribute)) = referenced(resources, distribution.properties.get("web_acl_id"))
    else {
        return;
    };
    if acl.type_name() != "wafv2_web_acl" {
        return;
    }
    let message = if attribute != "arn" {
        format!(
            "CloudFront takes a WAFv2 web ACL by its ARN: write `${{{}.arn}}`",
            acl.name
        )
    } else if let Some(other) = scope(acl).filter(|s| *s != "CLOUDFRONT") {
        format!(
            "web ACL `{}` has scope {other}; a distribution takes one of scope CLOUDFRONT (`scope: CLOUDFRONT`, made in us-east-1)",
            acl.name
        )
    } else {
        return;
    };
    refuse(c, distribution, "web_acl_id", message, acl);
}

fn check_association(c: &mut Compiler, resources: &[Resource], association: &Resource) {
    let properties = &association.properties;
    if let Some((acl, _)) = referenced(resources, properties.get("web_acl_arn")) {
        if acl.type_name() == "wafv2_web_acl" && scope(acl) == Some("CLOUDFRONT") {
            let message = format!(
                "web ACL `{}` has scope CLOUDFRONT; an association takes a REGIONAL one (a CLOUDFRONT ACL goes in a distribution's `web_acl_id`)",
                acl.name
            );
            refuse(c, association, "web_acl_arn", message, acl);
        }
    }
    let Some((target, attribute)) = referenced(resources, properties.get("resource_arn")) else {
        return;
    };
    let message = match (target.type_name(), attribute.as_str()) {
        ("rest_api", "stage_arn") | ("lb", "arn") => return,
        ("rest_api", _) => format!(
            "WAF protects a REST API through its stage: write `${{{}.stage_arn}}`",
            target.name
        ),
        (other, _) => format!(
            "WAF protects a REST API stage (`${{API.stage_arn}}`), an application load balancer (`${{LB.arn}}`), an AppSync API, a Cognito user pool, an App Runner service or a Verified Access instance; `{}` is a {other}",
            target.name
        ),
    };
    refuse(c, association, "resource_arn", message, target);
}
