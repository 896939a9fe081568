//! A CloudFront distribution: origins (an S3 bucket through an origin
//! access control, an API over HTTPS), the default and ordered cache
//! behaviours, error pages, the viewer certificate, logging, geographic
//! restrictions and a WAF web ACL.
//!
//! AWS's ordering is cairn's: every change carries the ETag of the latest
//! read (a stale one is read again and retried); a distribution is
//! disabled and must be `Deployed` before it can be deleted; creates and
//! updates wait for `Deployed` unless `wait_for_deployment` is false. A
//! create names itself with a caller reference made once per request and
//! run, so its repeat after a lost answer is refused instead of making a
//! second distribution, and the engine finds the first by its ownership
//! tags.

use super::{built, cloudfront_tags, read_tags, with_latest_etag, Tags};
use crate::aws::{changed, flag, int, missing, present, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::checks as c;
use crate::schema::{pending, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS};
use crate::spec::terraform::Parts;
use crate::spec::Spec;
use crate::types::observation;
use crate::types::{read_back, After, Resource, ResourceType, Tagging, Unmanaged};
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CookieNames,
    CookiePreference, CustomErrorResponse, CustomErrorResponses, CustomOriginConfig,
    DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags, ForwardedValues,
    GeoRestriction, GeoRestrictionType, Headers, HttpVersion, ItemSelection, LoggingConfig, Method,
    MinimumProtocolVersion, Origin, OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass,
    Restrictions, S3OriginConfig, SslProtocol, SslSupportMethod, ViewerCertificate,
    ViewerProtocolPolicy,
};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

const CUSTOM_ORIGIN: &[Field] = &[
    Field::new("http_port", K::Int)
        .or(F::Int(80))
        .check(|v| c::int_range(v, 1, 65535, "a port")),
    Field::new("https_port", K::Int)
        .or(F::Int(443))
        .check(|v| c::int_range(v, 1, 65535, "a port")),
    Field::new("protocol_policy", K::Str)
        .or(F::Str("https-only"))
        .one_of(
            &["http-only", "match-viewer", "https-only"],
            "an origin protocol policy",
        ),
    // Absent: TLSv1.2 (filled in by `expand`).
    Field::new("ssl_protocols", K::StrSet),
    Field::new("read_timeout", K::Int)
        .or(F::Int(30))
        .check(|v| c::int_range(v, 1, 180, "an origin read timeout")),
    Field::new("keepalive_timeout", K::Int)
        .or(F::Int(5))
        .check(|v| c::int_range(v, 1, 180, "an origin keep-alive timeout")),
];

const ORIGIN: &[Field] = &[
    Field::new("id", K::Str).required(),
    Field::new("domain_name", K::Str)
        .required()
        .check(origin_domain),
    Field::new("origin_path", K::Str)
        .or(F::Str(""))
        .check(origin_path),
    // An S3 origin's access control (`${oac.id}`); absent on a custom origin.
    Field::new("origin_access_control_id", K::Str),
    // Absent: an S3 origin.
    Field::new("custom_origin", K::Object(CUSTOM_ORIGIN)),
    Field::new("connection_attempts", K::Int)
        .or(F::Int(3))
        .check(|v| c::int_range(v, 1, 3, "connection attempts")),
    Field::new("connection_timeout", K::Int)
        .or(F::Int(10))
        .check(|v| c::int_range(v, 1, 10, "a connection timeout")),
];

const FORWARDED_VALUES: &[Field] = &[
    Field::new("query_string", K::Bool).or(F::Bool(false)),
    Field::new("headers", K::StrSet).or(F::EmptyList),
    Field::new("cookies", K::Str)
        .or(F::Str("none"))
        .one_of(&["none", "all", "whitelist"], "a cookie forwarding"),
    Field::new("cookie_names", K::StrSet).or(F::EmptyList),
];

const VIEWER_PROTOCOL: &[&str] = &["allow-all", "https-only", "redirect-to-https"];

/// A cache behaviour's fields; an ordered one adds `path_pattern`.
macro_rules! behaviour_fields {
    ($($first:expr),*) => {
        &[
            $($first,)*
            Field::new("target_origin_id", K::Str).required(),
            Field::new("viewer_protocol_policy", K::Str)
                .or(F::Str("redirect-to-https"))
                .one_of(VIEWER_PROTOCOL, "a viewer protocol policy"),
            // Absent: GET and HEAD (filled in by `expand`).
            Field::new("allowed_methods", K::StrSet).check(allowed_methods),
            Field::new("cached_methods", K::StrSet).check(cached_methods),
            Field::new("compress", K::Bool).or(F::Bool(false)),
            // Exactly one of a cache policy and the legacy forwarded values.
            Field::new("cache_policy_id", K::Str),
            Field::new("origin_request_policy_id", K::Str),
            Field::new("forwarded_values", K::Object(FORWARDED_VALUES)),
            // With forwarded values only (the cache policy holds its own);
            // absent: AWS's 0, one day and one year (filled in by `expand`).
            Field::new("min_ttl", K::Int).check(c::non_negative),
            Field::new("default_ttl", K::Int).check(c::non_negative),
            Field::new("max_ttl", K::Int).check(c::non_negative),
        ]
    };
}

const DEFAULT_BEHAVIOUR: &[Field] = behaviour_fields!();
const ORDERED_BEHAVIOUR: &[Field] =
    behaviour_fields!(Field::new("path_pattern", K::Str).required());

const ERROR_RESPONSE: &[Field] = &[
    Field::new("error_code", K::Int)
        .required()
        .check(error_code),
    // Both or neither: the page served instead, and its status.
    Field::new("response_code", K::Int).check(response_code),
    Field::new("response_page_path", K::Str).check(page_path),
    Field::new("error_caching_min_ttl", K::Int)
        .or(F::Int(10))
        .check(c::non_negative),
];

const VIEWER_CERTIFICATE: &[Field] = &[
    Field::new("acm_certificate_arn", K::Str).required(),
    Field::new("ssl_support_method", K::Str)
        .or(F::Str("sni-only"))
        .one_of(&["sni-only", "vip", "static-ip"], "an SSL support method"),
    Field::new("minimum_protocol_version", K::Str)
        .or(F::Str("TLSv1.2_2021"))
        .one_of(
            &[
                "SSLv3",
                "TLSv1",
                "TLSv1_2016",
                "TLSv1.1_2016",
                "TLSv1.2_2018",
                "TLSv1.2_2019",
                "TLSv1.2_2021",
                "TLSv1.3_2025",
            ],
            "a minimum protocol version",
        ),
];

const LOGGING: &[Field] = &[
    // The bucket's domain name (`BUCKET.s3.amazonaws.com`).
    Field::new("bucket", K::Str).required(),
    Field::new("prefix", K::Str).or(F::Str("")),
    Field::new("include_cookies", K::Bool).or(F::Bool(false)),
];

const GEO_RESTRICTION: &[Field] = &[
    // `none` (Terraform's default) is the same as no `geo_restriction`.
    Field::new("type", K::Str)
        .required()
        .one_of(&["whitelist", "blacklist", "none"], "a restriction type"),
    // Required but for `none`, which takes none.
    Field::new("locations", K::StrSet),
];

pub static CLOUDFRONT_DISTRIBUTION: Schema = Schema {
    type_name: "cloudfront_distribution",
    description: "A CloudFront distribution (a CDN in front of a bucket and an API)",
    fields: &[
        Field::new("comment", K::Str)
            .or(F::Str(""))
            .check(|v| c::length(c::text(v)?, 0, 128, "a comment")),
        Field::new("enabled", K::Bool).or(F::Bool(true)),
        Field::new("is_ipv6_enabled", K::Bool).or(F::Bool(false)),
        Field::new("aliases", K::StrSet).or(F::EmptyList),
        Field::new("default_root_object", K::Str)
            .or(F::Str(""))
            .check(root_object),
        Field::new("price_class", K::Str)
            .or(F::Str("PriceClass_All"))
            .one_of(
                &["PriceClass_100", "PriceClass_200", "PriceClass_All"],
                "a price class",
            ),
        Field::new("http_version", K::Str)
            .or(F::Str("http2"))
            .one_of(
                &["http1.1", "http2", "http2and3", "http3"],
                "an HTTP version",
            ),
        Field::new("origins", K::ObjectList(ORIGIN)).required(),
        Field::new("default_cache_behavior", K::Object(DEFAULT_BEHAVIOUR)).required(),
        Field::new("ordered_cache_behaviors", K::ObjectList(ORDERED_BEHAVIOUR)).or(F::EmptyList),
        Field::new("custom_error_responses", K::ObjectList(ERROR_RESPONSE)).or(F::EmptyList),
        // Absent: CloudFront's own certificate (*.cloudfront.net).
        Field::new("viewer_certificate", K::Object(VIEWER_CERTIFICATE)),
        Field::new("logging", K::Object(LOGGING)),
        Field::new("geo_restriction", K::Object(GEO_RESTRICTION)),
        Field::new("web_acl_id", K::Str)
            .or(F::Str(""))
            .check(web_acl),
        // Whether apply waits until the change reached every edge location
        // (`Deployed`, minutes); a delete always waits.
        Field::new("wait_for_deployment", K::Bool)
            .or(F::Bool(true))
            .local(),
        TAGS,
    ],
    outputs: &["id", "arn", "domain_name", "hosted_zone_id"],
    taggable: true,
    naming: Naming::None,
    stateful: false,
    expand,
    validate,
};

/// The zone every distribution's domain name is in (for DNS aliases).
const HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";

const ALL_METHODS: &[&str] = &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

fn method_set(value: &Value) -> Result<Vec<String>, String> {
    let mut items: Vec<String> = value
        .as_array()
        .ok_or("expected a list of methods")?
        .iter()
        .map(|m| m.as_str().unwrap_or_default().to_owned())
        .collect();
    items.sort();
    items.dedup();
    Ok(items)
}

fn allowed_methods(value: &Value) -> Result<(), String> {
    let items = method_set(value)?;
    let ok = [
        &["GET", "HEAD"][..],
        &["GET", "HEAD", "OPTIONS"],
        ALL_METHODS,
    ]
    .iter()
    .any(|set| *set == items.as_slice());
    ok.then_some(()).ok_or_else(|| {
        format!(
            "CloudFront allows [GET, HEAD], [GET, HEAD, OPTIONS] or all seven methods, got [{}]",
            items.join(", ")
        )
    })
}

fn cached_methods(value: &Value) -> Result<(), String> {
    let items = method_set(value)?;
    let ok = [&["GET", "HEAD"][..], &["GET", "HEAD", "OPTIONS"]]
        .iter()
        .any(|set| *set == items.as_slice());
    ok.then_some(()).ok_or_else(|| {
        format!(
            "CloudFront caches [GET, HEAD] or [GET, HEAD, OPTIONS], got [{}]",
            items.join(", ")
        )
    })
}

fn error_code(value: &Value) -> Result<(), String> {
    let code = value.as_i64().ok_or("expected an HTTP status code")?;
    ERROR_CODES.contains(&code).then_some(()).ok_or_else(|| {
        format!("CloudFront takes custom error responses for 400, 403, 404, 405, 414, 416, 500, 501, 502, 503 and 504, not {code}")
    })
}

/// The codes CloudFront takes a custom error response for (the Developer
/// Guide's "Create a custom error page for specific HTTP status codes").
const ERROR_CODES: &[i64] = &[400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

/// What CloudFront returns with a custom error page: 200, or one of the
/// error codes (the console's list; AWS answers InvalidResponseCode else).
fn response_code(value: &Value) -> Result<(), String> {
    let code = value.as_i64().ok_or("expected an HTTP status code")?;
    (code == 200 || ERROR_CODES.contains(&code))
        .then_some(())
        .ok_or_else(|| {
            format!("CloudFront returns a custom error page with 200, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503 or 504, not {code}")
        })
}

fn page_path(value: &Value) -> Result<(), String> {
    let path = c::text(value)?;
    path.starts_with('/')
        .then_some(())
        .ok_or_else(|| format!("a response page path begins with `/` (`/{path}`), got `{path}`"))
}

/// An origin's host name: no scheme, no path (that goes in `origin_path`).
fn origin_domain(value: &Value) -> Result<(), String> {
    let name = c::text(value)?;
    let (scheme, host) = match name.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, name),
    };
    let (host, path) = match host.split_once('/') {
        Some((host, path)) => (host, Some(path.trim_end_matches('/'))),
        None => (host, None),
    };
    match (scheme, path) {
        (None, None) => Ok(()),
        (_, Some(path)) if !path.is_empty() => Err(format!(
            "an origin's `domain_name` is a host name (`{host}`); put the path in `origin_path: /{path}`, got `{name}`"
        )),
        (None, Some(_)) => Err(format!(
            "an origin's `domain_name` is a host name, without `/` (`{host}`), got `{name}`"
        )),
        (Some(scheme), _) => Err(format!(
            "an origin's `domain_name` is a host name, without `{scheme}://` (`{host}`; `custom_origin.protocol_policy` sets the protocol), got `{name}`"
        )),
    }
}

fn origin_path(value: &Value) -> Result<(), String> {
    let path = c::text(value)?;
    if path.is_empty() || (path.starts_with('/') && !path.ends_with('/')) {
        return Ok(());
    }
    Err(format!(
        "an origin path begins with `/` and does not end with one (`/production`), got `{path}`"
    ))
}

fn root_object(value: &Value) -> Result<(), String> {
    let object = c::text(value)?;
    match object.strip_prefix('/') {
        Some(rest) => Err(format!(
            "the default root object is an object's name without a leading `/` (`{rest}`), got `{object}`"
        )),
        None => Ok(()),
    }
}

/// A WAFv2 web ACL of scope CLOUDFRONT: in us-east-1, `global/webacl/`.
fn web_acl(value: &Value) -> Result<(), String> {
    let arn = c::text(value)?;
    if arn.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "wafv2", "us-east-1", _, resource] if resource.starts_with("global/webacl/") => Ok(()),
        _ => Err(format!("`web_acl_id` is the ARN of a WAFv2 web ACL of scope CLOUDFRONT (arn:aws:wafv2:us-east-1:ACCOUNT:global/webacl/NAME/ID), got `{arn}`")),
    }
}

fn object<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    map.get(key).and_then(Value::as_object)
}

fn objects<'a>(map: &'a Map<String, Value>, key: &str) -> Vec<&'a Map<String, Value>> {
    map.get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

fn given(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).is_some_and(|v| !v.is_null())
}

/// AWS's defaults where a default depends on another field.
fn expand(properties: &mut Map<String, Value>) {
    // Terraform's `restriction_type = "none"`: what cairn sends for, and
    // reads back as, no restriction.
    if object(properties, "geo_restriction").is_some_and(|g| text(g, "type") == "none") {
        properties.insert("geo_restriction".into(), Value::Null);
    }
    fn behaviour(b: &mut Map<String, Value>) {
        for key in ["allowed_methods", "cached_methods"] {
            if !given(b, key) {
                b.insert(key.into(), json!(["GET", "HEAD"]));
            }
        }
        if given(b, "forwarded_values") {
            for (key, default) in [
                ("min_ttl", 0),
                ("default_ttl", 86400),
                ("max_ttl", 31_536_000),
            ] {
                if !given(b, key) {
                    b.insert(key.into(), json!(default));
                }
            }
        }
    }
    if let Some(b) = properties
        .get_mut("default_cache_behavior")
        .and_then(Value::as_object_mut)
    {
        behaviour(b);
    }
    for key in ["ordered_cache_behaviors", "origins"] {
        let Some(items) = properties.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            if key == "origins" {
                if let Some(custom) = item.get_mut("custom_origin").and_then(Value::as_object_mut) {
                    if !given(custom, "ssl_protocols") {
                        custom.insert("ssl_protocols".into(), json!(["TLSv1.2"]));
                    }
                }
            } else {
                behaviour(item);
            }
        }
    }
}

/// The problems of one cache behaviour at `path`.
fn behaviour_problems(b: &Map<String, Value>, path: &str, origins: &[&str]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let target = b.get("target_origin_id").unwrap_or(&Value::Null);
    if let Some(id) = target.as_str().filter(|_| !pending(target)) {
        if !origins.contains(&id) && !origins.iter().any(|o| pending(&json!(o))) {
            problems.push(Problem::new(
                format!("{path}.target_origin_id"),
                if origins.is_empty() {
                    format!("no origin has the id `{id}`: `origins` lists none")
                } else {
                    format!(
                        "no origin has the id `{id}`; the origins are {}",
                        origins.join(", ")
                    )
                },
            ));
        }
    }
    match (given(b, "cache_policy_id"), given(b, "forwarded_values")) {
        (true, true) | (false, false) => problems.push(Problem::new(
            path,
            "a cache behaviour takes exactly one of `cache_policy_id` and `forwarded_values`",
        )),
        (true, false) => {
            if ["min_ttl", "default_ttl", "max_ttl"]
                .iter()
                .any(|k| given(b, k))
            {
                problems.push(Problem::new(
                    path,
                    "TTLs go with `forwarded_values`; with `cache_policy_id` the cache policy sets them",
                ));
            }
        }
        (false, true) => {
            // Checked before `expand` fills in AWS's defaults for those absent.
            let ttl = |k: &str, default: i64| match b.get(k) {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::Null) | None => Some(default),
                Some(_) => None,
            };
            if let (Some(min), Some(default), Some(max)) = (
                ttl("min_ttl", 0),
                ttl("default_ttl", 86400),
                ttl("max_ttl", 31_536_000),
            ) {
                if !(min <= default && default <= max) {
                    problems.push(Problem::new(
                        path,
                        format!("TTLs must be ordered min_ttl <= default_ttl <= max_ttl, got {min}, {default}, {max}"),
                    ));
                }
            }
        }
    }
    if let (Ok(allowed), Ok(cached)) = (
        method_set(b.get("allowed_methods").unwrap_or(&json!(["GET", "HEAD"]))),
        method_set(b.get("cached_methods").unwrap_or(&json!(["GET", "HEAD"]))),
    ) {
        if cached.iter().any(|m| !allowed.contains(m)) {
            problems.push(Problem::new(
                format!("{path}.cached_methods"),
                "every cached method must be an allowed method",
            ));
        }
    }
    problems
}

/// What AWS refuses across fields (an emulator takes most of it).
fn validate(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let origins = objects(properties, "origins");
    if origins.is_empty() {
        problems.push(Problem::new(
            "origins",
            "a distribution needs at least one origin",
        ));
    }
    let mut ids: Vec<&str> = Vec::new();
    for (index, origin) in origins.iter().enumerate() {
        let id = text(origin, "id");
        if ids.contains(&id) {
            problems.push(Problem::new(
                format!("origins.{index}.id"),
                format!("two origins have the id `{id}`"),
            ));
        }
        ids.push(id);
        if given(origin, "custom_origin") && given(origin, "origin_access_control_id") {
            problems.push(Problem::new(
                format!("origins.{index}.origin_access_control_id"),
                "an origin access control is for an S3 origin; this one is a custom origin",
            ));
        }
    }
    if let Some(b) = object(properties, "default_cache_behavior") {
        problems.extend(behaviour_problems(b, "default_cache_behavior", &ids));
    }
    let mut patterns: Vec<&str> = Vec::new();
    for (index, b) in objects(properties, "ordered_cache_behaviors")
        .iter()
        .enumerate()
    {
        let path = format!("ordered_cache_behaviors.{index}");
        problems.extend(behaviour_problems(b, &path, &ids));
        let pattern = text(b, "path_pattern");
        if patterns.contains(&pattern) {
            problems.push(Problem::new(
                format!("{path}.path_pattern"),
                format!("two cache behaviours have the path pattern `{pattern}`"),
            ));
        }
        patterns.push(pattern);
    }
    for (index, e) in objects(properties, "custom_error_responses")
        .iter()
        .enumerate()
    {
        if given(e, "response_code") != given(e, "response_page_path") {
            problems.push(Problem::new(
                format!("custom_error_responses.{index}"),
                "`response_code` and `response_page_path` go together (the page served, and its status)",
            ));
        }
    }
    if let Some(geo) = object(properties, "geo_restriction") {
        let kind = text(geo, "type");
        let listed = geo.get("locations").and_then(Value::as_array);
        match (kind, listed) {
            ("none", Some(items)) if !items.is_empty() => problems.push(Problem::new(
                "geo_restriction.locations",
                "a restriction of type `none` lists no locations; use `whitelist` or `blacklist` to restrict",
            )),
            ("whitelist" | "blacklist", None) if !given(geo, "locations") => {
                problems.push(Problem::new(
                    "geo_restriction",
                    format!("a `{kind}` restriction needs `locations` (ISO 3166-1 alpha-2 country codes)"),
                ));
            }
            _ => {}
        }
    }
    match object(properties, "viewer_certificate") {
        Some(certificate) => {
            let arn = certificate
                .get("acm_certificate_arn")
                .unwrap_or(&Value::Null);
            if let Some(arn) = arn.as_str().filter(|_| !pending(arn)) {
                if !arn.starts_with("arn:")
                    || arn.split(':').nth(2) != Some("acm")
                    || arn.split(':').nth(3) != Some("us-east-1")
                {
                    problems.push(Problem::new(
                        "viewer_certificate.acm_certificate_arn",
                        format!("CloudFront takes ACM certificates from us-east-1 only, whatever the stack's region; got `{arn}`"),
                    ));
                }
            }
        }
        None => {
            if properties
                .get("aliases")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                problems.push(Problem::new(
                    "aliases",
                    "aliases need a `viewer_certificate` that covers them (CloudFront's own certificate is for *.cloudfront.net)",
                ));
            }
        }
    }
    problems
}

fn methods(items: &[String]) -> Vec<Method> {
    items.iter().map(|m| Method::from(m.as_str())).collect()
}

fn allowed_of(b: &Map<String, Value>) -> Result<AllowedMethods, AwsError> {
    let allowed = strings(b, "allowed_methods");
    let cached = strings(b, "cached_methods");
    let cached = built(
        "CreateDistribution",
        CachedMethods::builder()
            .quantity(cached.len() as i32)
            .set_items(Some(methods(&cached)))
            .build(),
    )?;
    built(
        "CreateDistribution",
        AllowedMethods::builder()
            .quantity(allowed.len() as i32)
            .set_items(Some(methods(&allowed)))
            .cached_methods(cached)
            .build(),
    )
}

fn forwarded_of(b: &Map<String, Value>) -> Result<Option<ForwardedValues>, AwsError> {
    let Some(f) = object(b, "forwarded_values") else {
        return Ok(None);
    };
    let headers = strings(f, "headers");
    let names = strings(f, "cookie_names");
    let cookies = CookiePreference::builder().forward(ItemSelection::from(text(f, "cookies")));
    let cookies = if names.is_empty() {
        cookies
    } else {
        cookies.whitelisted_names(built(
            "CreateDistribution",
            CookieNames::builder()
                .quantity(names.len() as i32)
                .set_items(Some(names))
                .build(),
        )?)
    };
    Ok(Some(built(
        "CreateDistribution",
        ForwardedValues::builder()
            .query_string(flag(f, "query_string"))
            .cookies(built("CreateDistribution", cookies.build())?)
            .headers(built(
                "CreateDistribution",
                Headers::builder()
                    .quantity(headers.len() as i32)
                    .set_items(Some(headers))
                    .build(),
            )?)
            .build(),
    )?))
}

fn optional(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Sets what a default and an ordered behaviour share on either's
/// builder: two SDK types with the same setters and no common trait. The
/// legacy forwarded values and TTLs (deprecated in the SDK, still taken
/// by AWS) are what the seed's Terraform writes.
macro_rules! behaviour_settings {
    ($builder:expr, $b:expr) => {
        $builder
            .target_origin_id(text($b, "target_origin_id"))
            .viewer_protocol_policy(ViewerProtocolPolicy::from(text(
                $b,
                "viewer_protocol_policy",
            )))
            .allowed_methods(allowed_of($b)?)
            .compress(flag($b, "compress"))
            .set_cache_policy_id(optional($b, "cache_policy_id"))
            .set_origin_request_policy_id(optional($b, "origin_request_policy_id"))
            .set_forwarded_values(forwarded_of($b)?)
            .set_min_ttl(int($b, "min_ttl"))
            .set_default_ttl(int($b, "default_ttl"))
            .set_max_ttl(int($b, "max_ttl"))
    };
}

#[allow(deprecated)]
fn default_behaviour_of(b: &Map<String, Value>) -> Result<DefaultCacheBehavior, AwsError> {
    built(
        "CreateDistribution",
        behaviour_settings!(DefaultCacheBehavior::builder(), b).build(),
    )
}

#[allow(deprecated)]
fn ordered_behaviour_of(b: &Map<String, Value>) -> Result<CacheBehavior, AwsError> {
    let builder = CacheBehavior::builder().path_pattern(text(b, "path_pattern"));
    built(
        "CreateDistribution",
        behaviour_settings!(builder, b).build(),
    )
}

fn origin_of(o: &Map<String, Value>) -> Result<Origin, AwsError> {
    let origin = Origin::builder()
        .id(text(o, "id"))
        .domain_name(text(o, "domain_name"))
        .origin_path(text(o, "origin_path"))
        .set_connection_attempts(int(o, "connection_attempts").map(|n| n as i32))
        .set_connection_timeout(int(o, "connection_timeout").map(|n| n as i32));
    let origin = match object(o, "custom_origin") {
        Some(custom) => {
            let protocols = strings(custom, "ssl_protocols");
            let protocols = built(
                "CreateDistribution",
                OriginSslProtocols::builder()
                    .quantity(protocols.len() as i32)
                    .set_items(Some(
                        protocols
                            .iter()
                            .map(|p| SslProtocol::from(p.as_str()))
                            .collect(),
                    ))
                    .build(),
            )?;
            origin.custom_origin_config(built(
                "CreateDistribution",
                CustomOriginConfig::builder()
                    .http_port(int(custom, "http_port").unwrap_or(80) as i32)
                    .https_port(int(custom, "https_port").unwrap_or(443) as i32)
                    .origin_protocol_policy(OriginProtocolPolicy::from(text(
                        custom,
                        "protocol_policy",
                    )))
                    .origin_ssl_protocols(protocols)
                    .set_origin_read_timeout(int(custom, "read_timeout").map(|n| n as i32))
                    .set_origin_keepalive_timeout(
                        int(custom, "keepalive_timeout").map(|n| n as i32),
                    )
                    .build(),
            )?)
        }
        // With an access control, the legacy origin access identity is empty.
        None => origin
            .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
            .origin_access_control_id(text(o, "origin_access_control_id")),
    };
    built("CreateDistribution", origin.build())
}

/// The configuration `desired` asks for, under `caller_reference`.
fn config_of(
    desired: &Map<String, Value>,
    caller_reference: &str,
) -> Result<DistributionConfig, AwsError> {
    let origins = objects(desired, "origins")
        .into_iter()
        .map(origin_of)
        .collect::<Result<Vec<_>, _>>()?;
    let ordered = objects(desired, "ordered_cache_behaviors")
        .into_iter()
        .map(ordered_behaviour_of)
        .collect::<Result<Vec<_>, _>>()?;
    let errors = objects(desired, "custom_error_responses")
        .into_iter()
        .map(|e| {
            built(
                "CreateDistribution",
                CustomErrorResponse::builder()
                    .error_code(int(e, "error_code").unwrap_or_default() as i32)
                    .set_response_code(int(e, "response_code").map(|n| n.to_string()))
                    .set_response_page_path(optional(e, "response_page_path"))
                    .set_error_caching_min_ttl(int(e, "error_caching_min_ttl"))
                    .build(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let aliases = strings(desired, "aliases");
    let default = object(desired, "default_cache_behavior")
        .cloned()
        .unwrap_or_default();
    let config = DistributionConfig::builder()
        .caller_reference(caller_reference)
        .comment(text(desired, "comment"))
        .enabled(flag(desired, "enabled"))
        .is_ipv6_enabled(flag(desired, "is_ipv6_enabled"))
        .default_root_object(text(desired, "default_root_object"))
        .price_class(PriceClass::from(text(desired, "price_class")))
        .http_version(HttpVersion::from(text(desired, "http_version")))
        .web_acl_id(text(desired, "web_acl_id"))
        .aliases(built(
            "CreateDistribution",
            Aliases::builder()
                .quantity(aliases.len() as i32)
                .set_items(Some(aliases))
                .build(),
        )?)
        .origins(built(
            "CreateDistribution",
            Origins::builder()
                .quantity(origins.len() as i32)
                .set_items(Some(origins))
                .build(),
        )?)
        .default_cache_behavior(default_behaviour_of(&default)?)
        .cache_behaviors(built(
            "CreateDistribution",
            CacheBehaviors::builder()
                .quantity(ordered.len() as i32)
                .set_items(Some(ordered))
                .build(),
        )?)
        .custom_error_responses(built(
            "CreateDistribution",
            CustomErrorResponses::builder()
                .quantity(errors.len() as i32)
                .set_items(Some(errors))
                .build(),
        )?)
        .viewer_certificate(certificate_of(desired))
        .logging(logging_of(desired))
        .restrictions(restrictions_of(desired)?);
    built("CreateDistribution", config.build())
}

fn certificate_of(desired: &Map<String, Value>) -> ViewerCertificate {
    match object(desired, "viewer_certificate") {
        Some(v) => ViewerCertificate::builder()
            .cloud_front_default_certificate(false)
            .acm_certificate_arn(text(v, "acm_certificate_arn"))
            .ssl_support_method(SslSupportMethod::from(text(v, "ssl_support_method")))
            .minimum_protocol_version(MinimumProtocolVersion::from(text(
                v,
                "minimum_protocol_version",
            )))
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    }
}

fn logging_of(desired: &Map<String, Value>) -> LoggingConfig {
    match object(desired, "logging") {
        Some(l) => LoggingConfig::builder()
            .enabled(true)
            .bucket(text(l, "bucket"))
            .prefix(text(l, "prefix"))
            .include_cookies(flag(l, "include_cookies"))
            .build(),
        None => LoggingConfig::builder()
            .enabled(false)
            .bucket("")
            .prefix("")
            .include_cookies(false)
            .build(),
    }
}

fn restrictions_of(desired: &Map<String, Value>) -> Result<Restrictions, AwsError> {
    let (kind, locations) = match object(desired, "geo_restriction") {
        Some(g) => (text(g, "type"), strings(g, "locations")),
        None => ("none", Vec::new()),
    };
    let geo = built(
        "CreateDistribution",
        GeoRestriction::builder()
            .restriction_type(GeoRestrictionType::from(kind))
            .quantity(locations.len() as i32)
            .set_items((!locations.is_empty()).then_some(locations))
            .build(),
    )?;
    Ok(Restrictions::builder().geo_restriction(geo).build())
}

fn nonempty(value: Option<&str>) -> Value {
    value
        .filter(|v| !v.is_empty())
        .map_or(Value::Null, |v| json!(v))
}

fn sorted(items: impl IntoIterator<Item = String>) -> Value {
    let mut items: Vec<String> = items.into_iter().collect();
    items.sort();
    items.dedup();
    json!(items)
}

/// A cache behaviour's fields as cairn holds them. With a cache policy,
/// the forwarded values and TTLs an endpoint reports are not the
/// behaviour's own (AWS omits them; an emulator fills in defaults).
#[allow(clippy::too_many_arguments)]
fn behaviour_value(
    target: &str,
    viewer: &ViewerProtocolPolicy,
    allowed: Option<&AllowedMethods>,
    compress: Option<bool>,
    cache_policy: Option<&str>,
    request_policy: Option<&str>,
    forwarded: Option<&ForwardedValues>,
    ttls: [Option<i64>; 3],
) -> Map<String, Value> {
    let methods = |items: &[Method]| sorted(items.iter().map(|m| m.as_str().to_owned()));
    let policy = nonempty(cache_policy);
    let legacy = policy.is_null();
    let mut b = Map::new();
    b.insert("target_origin_id".into(), json!(target));
    b.insert("viewer_protocol_policy".into(), json!(viewer.as_str()));
    b.insert(
        "allowed_methods".into(),
        allowed.map_or(Value::Null, |a| methods(a.items())),
    );
    b.insert(
        "cached_methods".into(),
        allowed
            .and_then(|a| a.cached_methods())
            .map_or(Value::Null, |c| methods(c.items())),
    );
    b.insert("compress".into(), json!(compress.unwrap_or(false)));
    b.insert("cache_policy_id".into(), policy);
    b.insert("origin_request_policy_id".into(), nonempty(request_policy));
    let forwarded = forwarded.filter(|_| legacy).map_or(Value::Null, |f| {
        let cookies = f.cookies();
        json!({
            "query_string": f.query_string(),
            "headers": sorted(f.headers().map(|h| h.items().to_vec()).unwrap_or_default()),
            "cookies": cookies.map_or("none", |c| c.forward().as_str()),
            "cookie_names": sorted(cookies.and_then(|c| c.whitelisted_names()).map(|n| n.items().to_vec()).unwrap_or_default()),
        })
    });
    b.insert("forwarded_values".into(), forwarded);
    for (key, ttl) in ["min_ttl", "default_ttl", "max_ttl"].iter().zip(ttls) {
        b.insert((*key).into(), if legacy { json!(ttl) } else { Value::Null });
    }
    b
}

/// The origins as cairn holds them, or `None` when the answer leaves out
/// what kind an origin is. AWS always says (S3, custom or VPC origin);
/// an emulator (moto) drops an S3 origin's config and its access control
/// id, and the state's origins then stand in, instead of a change planned
/// on every run that no update could settle.
fn origins_value(origins: &[Origin]) -> Option<Value> {
    let mut out = Vec::new();
    for o in origins {
        if o.s3_origin_config().is_none()
            && o.custom_origin_config().is_none()
            && o.vpc_origin_config().is_none()
        {
            return None;
        }
        let custom = o.custom_origin_config().map_or(Value::Null, |c| {
            json!({
                "http_port": c.http_port(), "https_port": c.https_port(),
                "protocol_policy": c.origin_protocol_policy().as_str(),
                "ssl_protocols": sorted(c.origin_ssl_protocols().map(|p| p.items().iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()).unwrap_or_default()),
                "read_timeout": c.origin_read_timeout(),
                "keepalive_timeout": c.origin_keepalive_timeout(),
            })
        });
        out.push(json!({
            "id": o.id(),
            "domain_name": o.domain_name(),
            "origin_path": o.origin_path().unwrap_or_default(),
            "origin_access_control_id": nonempty(o.origin_access_control_id()),
            "custom_origin": custom,
            "connection_attempts": o.connection_attempts(),
            "connection_timeout": o.connection_timeout(),
        }));
    }
    Some(Value::Array(out))
}

// The legacy forwarded values and TTLs (deprecated in the SDK, still
// taken by AWS): what the seed's Terraform writes.
#[allow(deprecated)]
/// The fields of a configuration as cairn holds them (tags apart).
fn attributes_of(config: &DistributionConfig) -> Map<String, Value> {
    let mut a = Map::new();
    a.insert("comment".into(), json!(config.comment()));
    a.insert("enabled".into(), json!(config.enabled()));
    a.insert(
        "is_ipv6_enabled".into(),
        json!(config.is_ipv6_enabled().unwrap_or(false)),
    );
    a.insert(
        "aliases".into(),
        sorted(
            config
                .aliases()
                .map(|x| x.items().to_vec())
                .unwrap_or_default(),
        ),
    );
    a.insert(
        "default_root_object".into(),
        json!(config.default_root_object().unwrap_or_default()),
    );
    a.insert(
        "price_class".into(),
        json!(config
            .price_class()
            .map_or("PriceClass_All", |p| p.as_str())),
    );
    a.insert(
        "http_version".into(),
        json!(config.http_version().map_or("http2", |h| h.as_str())),
    );
    if let Some(origins) = origins_value(config.origins().map(|o| o.items()).unwrap_or_default()) {
        a.insert("origins".into(), origins);
    }
    let default = config.default_cache_behavior().map_or(Value::Null, |b| {
        Value::Object(behaviour_value(
            b.target_origin_id(),
            b.viewer_protocol_policy(),
            b.allowed_methods(),
            b.compress(),
            b.cache_policy_id(),
            b.origin_request_policy_id(),
            b.forwarded_values(),
            [b.min_ttl(), b.default_ttl(), b.max_ttl()],
        ))
    });
    a.insert("default_cache_behavior".into(), default);
    let ordered: Vec<Value> = config
        .cache_behaviors()
        .map(|c| c.items())
        .unwrap_or_default()
        .iter()
        .map(|b| {
            let mut value = behaviour_value(
                b.target_origin_id(),
                b.viewer_protocol_policy(),
                b.allowed_methods(),
                b.compress(),
                b.cache_policy_id(),
                b.origin_request_policy_id(),
                b.forwarded_values(),
                [b.min_ttl(), b.default_ttl(), b.max_ttl()],
            );
            value.insert("path_pattern".into(), json!(b.path_pattern()));
            Value::Object(value)
        })
        .collect();
    a.insert("ordered_cache_behaviors".into(), json!(ordered));
    let errors: Vec<Value> = config
        .custom_error_responses()
        .map(|c| c.items())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            json!({
                "error_code": e.error_code(),
                "response_code": e.response_code().and_then(|c| c.parse::<i64>().ok()),
                "response_page_path": nonempty(e.response_page_path()),
                "error_caching_min_ttl": e.error_caching_min_ttl().unwrap_or(10),
            })
        })
        .collect();
    a.insert("custom_error_responses".into(), json!(errors));
    a.insert(
        "viewer_certificate".into(),
        certificate_value(config.viewer_certificate()),
    );
    let logging = config.logging().filter(|l| l.enabled()).map_or(Value::Null, |l| {
        json!({"bucket": l.bucket(), "prefix": l.prefix(), "include_cookies": l.include_cookies()})
    });
    a.insert("logging".into(), logging);
    let geo = config
        .restrictions()
        .and_then(|r| r.geo_restriction())
        .filter(|g| g.restriction_type().as_str() != "none")
        .map_or(Value::Null, |g| {
            json!({"type": g.restriction_type().as_str(), "locations": sorted(g.items().to_vec())})
        });
    a.insert("geo_restriction".into(), geo);
    a.insert(
        "web_acl_id".into(),
        json!(config.web_acl_id().unwrap_or_default()),
    );
    a
}

fn certificate_value(certificate: Option<&ViewerCertificate>) -> Value {
    match certificate.and_then(|v| {
        v.acm_certificate_arn()
            .filter(|a| !a.is_empty())
            .map(|a| (v, a))
    }) {
        Some((v, arn)) => json!({
            "acm_certificate_arn": arn,
            "ssl_support_method": v.ssl_support_method().map(|s| s.as_str()),
            "minimum_protocol_version": v.minimum_protocol_version().map(|m| m.as_str()),
        }),
        None => Value::Null,
    }
}

/// The caller reference of a create: the same for every attempt at one
/// request in one run, so a repeat (after a lost answer) is refused as
/// already made and the first is found by its ownership tags; another run
/// (a crashed apply's is found by those tags before it creates again)
/// makes another, so a distribution made again after a delete never meets
/// the reference of the one it replaces.
fn caller_reference(desired: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    static RUN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| fastrand::u64(..));
    let mut request = desired.clone();
    request.remove("wait_for_deployment");
    let text = crate::canonical::json(&Value::Object(request)).to_string();
    let digest = Sha256::digest(format!("{run}\n{text}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("cairn-{hex}")
}

/// How many status checks a wait for `Deployed` makes (about 35 minutes,
/// polls growing to 5 s): CloudFront takes minutes to reach every edge.
const DEPLOY_CHECKS: u32 = 430;

fn stale(
    e: &aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionError,
) -> Option<ErrorClass> {
    if e.is_precondition_failed() || e.is_invalid_if_match_version() {
        Some(ErrorClass::PreconditionFailed)
    } else if e.is_no_such_distribution() {
        Some(ErrorClass::NotFound)
    } else {
        None
    }
}

pub struct Distribution;

/// What one GetDistribution says.
struct Live {
    distribution: aws_sdk_cloudfront::types::Distribution,
    etag: String,
}

impl Distribution {
    async fn describe(&self, aws: &Aws, id: &str) -> Result<Option<Live>, AwsError> {
        let got = present(
            aws.send(
                "GetDistribution",
                || aws.cloudfront().get_distribution().id(id).send(),
                |e| missing(e.is_no_such_distribution()),
            )
            .await,
        )?;
        Ok(got.and_then(|got| {
            let etag = got.e_tag().unwrap_or_default().to_owned();
            got.distribution
                .map(|distribution| Live { distribution, etag })
        }))
    }

    /// Its configuration and the ETag of this read; gone is `NotFound`.
    async fn config(&self, aws: &Aws, id: &str) -> Result<(DistributionConfig, String), AwsError> {
        let got = aws
            .send(
                "GetDistributionConfig",
                || aws.cloudfront().get_distribution_config().id(id).send(),
                |e| missing(e.is_no_such_distribution()),
            )
            .await?;
        let etag = got.e_tag().unwrap_or_default().to_owned();
        match got.distribution_config {
            Some(config) => Ok((config, etag)),
            None => Err(AwsError::new(
                ErrorClass::NotFound,
                "GetDistributionConfig",
                format!("distribution {id} has no configuration"),
            )),
        }
    }

    async fn observed(&self, aws: &Aws, live: &Live) -> Result<Observed, AwsError> {
        let d = &live.distribution;
        let mut attributes = d
            .distribution_config()
            .map(attributes_of)
            .unwrap_or_default();
        attributes.insert("tags".into(), read_tags(aws, d.arn()).await?);
        Ok(observation(
            d.id(),
            attributes,
            [
                ("id", json!(d.id())),
                ("arn", json!(d.arn())),
                ("domain_name", json!(d.domain_name())),
                ("hosted_zone_id", json!(HOSTED_ZONE_ID)),
            ],
        ))
    }

    async fn read_distribution(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        match self.describe(aws, id).await? {
            Some(live) => Ok(Some(self.observed(aws, &live).await?)),
            None => Ok(None),
        }
    }

    /// Waits until the distribution is `Deployed`; the ETag of the last read.
    async fn wait_deployed(&self, aws: &Aws, id: &str) -> Result<((), String), AwsError> {
        crate::aws::wait_for("GetDistribution", DEPLOY_CHECKS, || async {
            match self.describe(aws, id).await? {
                Some(live) if live.distribution.status() == "Deployed" => Ok(Some(((), live.etag))),
                Some(_) => Ok(None),
                None => Err(AwsError::new(
                    ErrorClass::NotFound,
                    "GetDistribution",
                    format!("distribution {id} does not exist"),
                )),
            }
        })
        .await
        .map_err(|error| match error.class {
            ErrorClass::Fatal => AwsError::new(
                ErrorClass::Unsettled,
                "GetDistribution",
                format!("distribution {id}: not Deployed: {}", error.message),
            ),
            _ => error,
        })
    }

    /// Sends `config` (made from what was read) with the ETag of the
    /// latest read, again after a stale one.
    async fn send_config(
        &self,
        aws: &Aws,
        id: &str,
        make: impl Fn(DistributionConfig) -> Result<DistributionConfig, AwsError>,
    ) -> Result<(), AwsError> {
        with_latest_etag(
            || self.config(aws, id),
            |current, etag| {
                let config = make(current);
                async move {
                    let config = config?;
                    aws.send(
                        "UpdateDistribution",
                        || {
                            aws.cloudfront()
                                .update_distribution()
                                .id(id)
                                .if_match(&etag)
                                .distribution_config(config.clone())
                                .send()
                        },
                        stale,
                    )
                    .await
                }
            },
        )
        .await?;
        Ok(())
    }

    async fn settle(
        &self,
        aws: &Aws,
        id: &str,
        desired: &Map<String, Value>,
        after: After,
    ) -> Result<Observed, AwsError> {
        if flag(desired, "wait_for_deployment") {
            self.wait_deployed(aws, id).await?;
        }
        read_back(
            self.read_distribution(aws, id).await,
            after,
            "GetDistribution",
            format!("distribution {id} not visible"),
        )
    }
}

impl Resource for Distribution {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        self.read_distribution(aws, id).await
    }

    /// The distribution with this resource's ownership tags.
    async fn find(
        &self,
        aws: &Aws,
        desired: &Map<String, Value>,
    ) -> Result<Option<Observed>, AwsError> {
        let wanted = string_map(desired, "tags");
        let keys = [
            crate::model::TAG_STACK,
            crate::model::TAG_ENVIRONMENT,
            crate::model::TAG_ADDRESS,
        ];
        for (arn, tags) in list_distributions(aws, "").await? {
            if keys
                .iter()
                .all(|k| wanted.contains_key(*k) && wanted.get(*k) == tags.get(*k))
            {
                let id = crate::types::after(&arn, ":distribution/").unwrap_or_default();
                return self.read_distribution(aws, &id).await;
            }
        }
        Ok(None)
    }

    /// Safe to repeat: the same caller reference is refused the second time.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let request = DistributionConfigWithTags::builder()
            .distribution_config(config_of(desired, &caller_reference(desired))?)
            .tags(cloudfront_tags(&string_map(desired, "tags"))?)
            .build();
        let created = aws
            .send(
                "CreateDistributionWithTags",
                || {
                    aws.cloudfront()
                        .create_distribution_with_tags()
                        .distribution_config_with_tags(request.clone())
                        .send()
                },
                |e| {
                    e.is_distribution_already_exists()
                        .then_some(ErrorClass::AlreadyExists)
                },
            )
            .await?;
        let id = created
            .distribution()
            .map(|d| d.id().to_owned())
            .unwrap_or_default();
        self.settle(aws, &id, desired, After::Create).await
    }

    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        if fields.iter().any(|f| f != "tags") {
            self.send_config(aws, id, |current| {
                config_of(after, current.caller_reference())
            })
            .await?;
        }
        if changed(fields, "tags") {
            let arn = self
                .describe(aws, id)
                .await?
                .map(|live| live.distribution.arn().to_owned())
                .unwrap_or_default();
            Tags.retag(aws, &arn, before, after).await?;
        }
        self.settle(aws, id, after, After::Update).await
    }

    /// Disabled first, then `Deployed`, then deleted with the ETag of that
    /// last read: AWS refuses to delete an enabled or deploying one.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        _before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(live) = self.describe(aws, id).await? else {
            return Ok(());
        };
        let enabled = live
            .distribution
            .distribution_config()
            .is_none_or(|c| c.enabled());
        if enabled {
            let disable = self.send_config(aws, id, |mut current| {
                current.enabled = false;
                Ok(current)
            });
            crate::aws::ignore_missing(disable.await)?;
        }
        let deleted = with_latest_etag(
            || self.wait_deployed(aws, id),
            |(), etag| async move {
                aws.send(
                    "DeleteDistribution",
                    || {
                        aws.cloudfront()
                            .delete_distribution()
                            .id(id)
                            .if_match(&etag)
                            .send()
                    },
                    |e| {
                        if e.is_precondition_failed() || e.is_invalid_if_match_version() {
                            Some(ErrorClass::PreconditionFailed)
                        } else if e.is_distribution_not_disabled() {
                            Some(ErrorClass::Conflict)
                        } else {
                            missing(e.is_no_such_distribution())
                        }
                    },
                )
                .await
            },
        )
        .await;
        crate::aws::ignore_missing(deleted)
    }
}

/// Every distribution with its tags (ListDistributions, then each one's
/// tags): the tagging API on an emulator does not list them.
fn list_distributions<'a>(
    aws: &'a Aws,
    _prefix: &'a str,
) -> BoxFuture<'a, Result<crate::types::Listed, AwsError>> {
    Box::pin(async move {
        let mut out = Vec::new();
        let mut pages = aws.pages(
            "ListDistributions",
            |marker| {
                aws.cloudfront()
                    .list_distributions()
                    .set_marker(marker)
                    .send()
            },
            |page| {
                let list = page.distribution_list()?;
                list.next_marker().filter(|_| list.is_truncated())
            },
            |_| None,
        );
        while let Some(page) = pages.next_page().await? {
            let Some(list) = page.distribution_list() else {
                break;
            };
            for summary in list.items() {
                let tags = read_tags(aws, summary.arn()).await?;
                let tags = tags
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((summary.arn().to_owned(), tags));
            }
        }
        Ok(out)
    })
}

/// A behaviour as the provider's `default_cache_behavior` or
/// `ordered_cache_behavior` block shows it.
fn terraform_behaviour(b: &Value) -> Value {
    use crate::types::terraform::prelude::*;
    let Some(b) = b.as_object() else {
        return json!([]);
    };
    let forwarded = object(b, "forwarded_values").map_or(json!([]), |f| {
        block(json!({
            "query_string": v(f, "query_string"), "headers": v(f, "headers"),
            "cookies": block(json!({"forward": v(f, "cookies"), "whitelisted_names": v(f, "cookie_names")})),
        }))
    });
    let mut out = json!({
        "target_origin_id": v(b, "target_origin_id"),
        "viewer_protocol_policy": v(b, "viewer_protocol_policy"),
        "allowed_methods": v(b, "allowed_methods"), "cached_methods": v(b, "cached_methods"),
        "compress": v(b, "compress"), "cache_policy_id": v(b, "cache_policy_id"),
        "origin_request_policy_id": v(b, "origin_request_policy_id"),
        "forwarded_values": forwarded,
        "min_ttl": v(b, "min_ttl"), "default_ttl": v(b, "default_ttl"), "max_ttl": v(b, "max_ttl"),
    });
    if b.contains_key("path_pattern") {
        out["path_pattern"] = v(b, "path_pattern");
    }
    out
}

/// Terraform's view: `aws_cloudfront_distribution`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    let origins: Vec<Value> = objects(a, "origins")
        .iter()
        .map(|o| {
            let custom = object(o, "custom_origin").map_or(json!([]), |c| {
                block(json!({
                    "http_port": v(c, "http_port"), "https_port": v(c, "https_port"),
                    "origin_protocol_policy": v(c, "protocol_policy"),
                    "origin_ssl_protocols": v(c, "ssl_protocols"),
                    "origin_read_timeout": v(c, "read_timeout"),
                    "origin_keepalive_timeout": v(c, "keepalive_timeout"),
                }))
            });
            json!({
                "origin_id": v(o, "id"), "domain_name": v(o, "domain_name"),
                "origin_path": v(o, "origin_path"),
                "origin_access_control_id": v(o, "origin_access_control_id"),
                "connection_attempts": v(o, "connection_attempts"),
                "connection_timeout": v(o, "connection_timeout"),
                "custom_origin_config": custom,
            })
        })
        .collect();
    let ordered: Vec<Value> = objects(a, "ordered_cache_behaviors")
        .iter()
        .map(|b| terraform_behaviour(&Value::Object((*b).clone())))
        .collect();
    let errors: Vec<Value> = objects(a, "custom_error_responses")
        .iter()
        .map(|e| {
            json!({
                "error_code": v(e, "error_code"), "response_code": v(e, "response_code"),
                "response_page_path": v(e, "response_page_path"),
                "error_caching_min_ttl": v(e, "error_caching_min_ttl"),
            })
        })
        .collect();
    let certificate = match object(a, "viewer_certificate") {
        Some(c) => block(json!({
            "acm_certificate_arn": v(c, "acm_certificate_arn"),
            "ssl_support_method": v(c, "ssl_support_method"),
            "minimum_protocol_version": v(c, "minimum_protocol_version"),
            "cloudfront_default_certificate": false,
        })),
        None => block(json!({"cloudfront_default_certificate": true})),
    };
    let logging = object(a, "logging").map_or(json!([]), |l| {
        block(json!({"bucket": v(l, "bucket"), "prefix": v(l, "prefix"), "include_cookies": v(l, "include_cookies")}))
    });
    let geo = match object(a, "geo_restriction") {
        Some(g) => json!({"restriction_type": v(g, "type"), "locations": v(g, "locations")}),
        None => json!({"restriction_type": "none", "locations": []}),
    };
    vec![tf(
        "aws_cloudfront_distribution",
        tagged(
            a,
            json!({
                "id": v(a, "id"), "arn": v(a, "arn"), "domain_name": v(a, "domain_name"),
                "hosted_zone_id": v(a, "hosted_zone_id"),
                "comment": v(a, "comment"), "enabled": v(a, "enabled"),
                "is_ipv6_enabled": v(a, "is_ipv6_enabled"), "aliases": v(a, "aliases"),
                "default_root_object": v(a, "default_root_object"),
                "price_class": v(a, "price_class"), "http_version": v(a, "http_version"),
                "web_acl_id": v(a, "web_acl_id"),
                "wait_for_deployment": v(a, "wait_for_deployment"),
                "origin": origins,
                "default_cache_behavior": block(terraform_behaviour(&v(a, "default_cache_behavior"))),
                "ordered_cache_behavior": ordered,
                "custom_error_response": errors,
                "viewer_certificate": certificate,
                "logging_config": logging,
                "restrictions": block(json!({"geo_restriction": block(geo)})),
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &CLOUDFRONT_DISTRIBUTION,
    planned_id: crate::types::assigned,
    id_from_arn: |arn| crate::types::after(arn, ":distribution/"),
    arn_example: (
        "arn:aws:cloudfront::1:distribution/E2QWRUHAPOMQZL",
        Some("E2QWRUHAPOMQZL"),
    ),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: None,
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_cloudfront_distribution"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "id"),
        parts: Parts::NONE,
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &Distribution,
    unmanaged: Unmanaged::Listed(list_distributions),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(kind: &str) -> Origin {
        let origin = Origin::builder()
            .id("frontend")
            .domain_name("b.s3.us-east-1.amazonaws.com");
        let origin = match kind {
            "s3" => origin
                .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
                .origin_access_control_id("E2OAC"),
            "custom" => origin.custom_origin_config(
                CustomOriginConfig::builder()
                    .http_port(80)
                    .https_port(443)
                    .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                    .build()
                    .unwrap(),
            ),
            _ => origin,
        };
        origin.build().unwrap()
    }

    /// AWS's answer (every origin says its kind) is read whole, its access
    /// control id included; moto's (an S3 origin with neither its config
    /// nor its access control id) is not read at all, so the state's
    /// origins stand in.
    #[test]
    fn origins_are_read_only_from_an_answer_that_says_their_kind() {
        let read = origins_value(&[origin("s3"), origin("custom")]).unwrap();
        assert_eq!(read[0]["origin_access_control_id"], "E2OAC");
        assert_eq!(read[1]["custom_origin"]["protocol_policy"], "https-only");
        assert_eq!(origins_value(&[origin("custom"), origin("moto")]), None);
    }

    /// The same request in one run has one caller reference (a repeat is
    /// refused as already made); another request has another.
    #[test]
    fn a_request_keeps_its_caller_reference_within_a_run() {
        let desired = |comment: &str| {
            json!({"comment": comment, "wait_for_deployment": true})
                .as_object()
                .unwrap()
                .clone()
        };
        assert_eq!(
            caller_reference(&desired("a")),
            caller_reference(&desired("a"))
        );
        assert_ne!(
            caller_reference(&desired("a")),
            caller_reference(&desired("b"))
        );
        let mut waiting = desired("a");
        waiting.insert("wait_for_deployment".into(), json!(false));
        assert_eq!(caller_reference(&waiting), caller_reference(&desired("a")));
    }
}
