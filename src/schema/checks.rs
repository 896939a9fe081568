//! Value checks that AWS performs and moto mostly does not.

use serde_json::Value;

fn text(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "expected a string".to_owned())
}

fn length(value: &str, min: usize, max: usize, what: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(format!(
            "{what} must be {min} to {max} characters long, got {n} (`{value}`)"
        ));
    }
    Ok(())
}

fn charset(
    value: &str,
    allowed: impl Fn(char) -> bool,
    what: &str,
    described: &str,
) -> Result<(), String> {
    match value.chars().find(|c| !allowed(*c)) {
        Some(bad) => Err(format!(
            "{what} `{value}` contains `{bad}`; allowed: {described}"
        )),
        None => Ok(()),
    }
}

pub fn one_of(value: &Value, allowed: &[&str], what: &str) -> Result<(), String> {
    let v = text(value)?;
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{what} must be one of {}, got `{v}`",
            allowed.join(", ")
        ))
    }
}

pub fn int_range(value: &Value, min: i64, max: i64, what: &str) -> Result<(), String> {
    match value.as_i64() {
        Some(n) if n >= min && n <= max => Ok(()),
        Some(n) => Err(format!("{what} must be between {min} and {max}, got {n}")),
        None => Err("expected an integer".to_owned()),
    }
}

pub fn role_name(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 64, "an IAM role name")?;
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c),
        "an IAM role name",
        "letters, digits and +=,.@_-",
    )
}

pub fn iam_path(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 512, "an IAM path")?;
    if !v.starts_with('/') || !v.ends_with('/') {
        return Err(format!(
            "an IAM path must begin and end with `/`, got `{v}`"
        ));
    }
    Ok(())
}

pub fn role_description(value: &Value) -> Result<(), String> {
    length(text(value)?, 0, 1000, "a role description")
}

pub fn max_session_duration(value: &Value) -> Result<(), String> {
    int_range(value, 3600, 43200, "max_session_duration (seconds)")
}

pub fn table_name(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 3, 255, "a DynamoDB table name")?;
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || "_.-".contains(c),
        "a DynamoDB table name",
        "letters, digits and _.-",
    )
}

pub fn attribute_type(value: &Value) -> Result<(), String> {
    one_of(value, &["S", "N", "B"], "a key attribute type")
}

pub fn billing_mode(value: &Value) -> Result<(), String> {
    one_of(value, &["PAY_PER_REQUEST", "PROVISIONED"], "billing_mode")
}

pub fn projection_type(value: &Value) -> Result<(), String> {
    one_of(value, &["ALL", "KEYS_ONLY", "INCLUDE"], "projection_type")
}

pub fn capacity(value: &Value) -> Result<(), String> {
    int_range(value, 0, 40_000, "capacity units")
}

/// The values CloudWatch Logs accepts for retention; 0 is cairn's "never expire".
pub const RETENTION_DAYS: &[i64] = &[
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

pub fn retention_in_days(value: &Value) -> Result<(), String> {
    match value.as_i64() {
        Some(n) if RETENTION_DAYS.contains(&n) => Ok(()),
        Some(n) => {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
            Err(format!(
                "retention_in_days must be one of {} (0 = never expire), got {n}",
                allowed.join(", ")
            ))
        }
        None => Err("expected an integer".to_owned()),
    }
}

pub fn log_group_name(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 512, "a log group name")?;
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || "._-/#".contains(c),
        "a log group name",
        "letters, digits and ._-/#",
    )
}

pub fn deletion_window(value: &Value) -> Result<(), String> {
    int_range(value, 7, 30, "deletion_window_in_days")
}

pub fn key_usage(value: &Value) -> Result<(), String> {
    one_of(
        value,
        &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC"],
        "key_usage",
    )
}

pub fn key_spec(value: &Value) -> Result<(), String> {
    one_of(
        value,
        &[
            "SYMMETRIC_DEFAULT",
            "RSA_2048",
            "RSA_3072",
            "RSA_4096",
            "ECC_NIST_P256",
            "ECC_NIST_P384",
            "HMAC_256",
        ],
        "key_spec",
    )
}

pub fn key_description(value: &Value) -> Result<(), String> {
    length(text(value)?, 0, 8192, "a key description")
}

pub fn alias_name(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 256, "a KMS alias name")?;
    if !v.starts_with("alias/") || v.starts_with("alias/aws/") {
        return Err(format!(
            "a KMS alias name must start with `alias/` and not `alias/aws/`, got `{v}`"
        ));
    }
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || ":/_-".contains(c),
        "a KMS alias name",
        "letters, digits and :/_-",
    )
}

pub fn repository_name(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 2, 256, "an ECR repository name")?;
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && segment.starts_with(|c: char| c.is_ascii_alphanumeric())
            && segment.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    if v.split('/').all(segment_ok) {
        Ok(())
    } else {
        Err(format!(
            "an ECR repository name is lowercase letters and digits separated by ., _, - or /, got `{v}`"
        ))
    }
}

pub fn tag_mutability(value: &Value) -> Result<(), String> {
    one_of(value, &["MUTABLE", "IMMUTABLE"], "image_tag_mutability")
}

pub fn ecr_encryption(value: &Value) -> Result<(), String> {
    one_of(value, &["AES256", "KMS"], "encryption_type")
}

pub fn alarm_name(value: &Value) -> Result<(), String> {
    length(text(value)?, 1, 255, "an alarm name")
}

pub fn statistic(value: &Value) -> Result<(), String> {
    one_of(
        value,
        &["SampleCount", "Average", "Sum", "Minimum", "Maximum"],
        "statistic",
    )
}

pub fn comparison_operator(value: &Value) -> Result<(), String> {
    one_of(
        value,
        &[
            "GreaterThanOrEqualToThreshold",
            "GreaterThanThreshold",
            "LessThanThreshold",
            "LessThanOrEqualToThreshold",
            "LessThanLowerOrGreaterThanUpperThreshold",
            "LessThanLowerThreshold",
            "GreaterThanUpperThreshold",
        ],
        "comparison_operator",
    )
}

pub fn treat_missing_data(value: &Value) -> Result<(), String> {
    one_of(
        value,
        &["breaching", "notBreaching", "ignore", "missing"],
        "treat_missing_data",
    )
}

/// CloudWatch accepts 10, 20 and 30 seconds (high resolution) or any
/// multiple of 60.
pub fn alarm_period(value: &Value) -> Result<(), String> {
    match value.as_i64() {
        Some(10 | 20 | 30) => Ok(()),
        Some(n) if n >= 60 && n % 60 == 0 => Ok(()),
        Some(n) => Err(format!(
            "period must be 10, 20, 30 or a multiple of 60 seconds, got {n}"
        )),
        None => Err("expected an integer".to_owned()),
    }
}

pub fn positive(value: &Value) -> Result<(), String> {
    int_range(value, 1, i64::from(i32::MAX), "this value")
}

pub fn metric_query_id(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 255, "a metric query id")?;
    if !v.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "a metric query id must start with a lowercase letter, got `{v}`"
        ));
    }
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || c == '_',
        "a metric query id",
        "letters, digits and _",
    )
}

pub fn dashboard_name(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 255, "a dashboard name")?;
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || "_-".contains(c),
        "a dashboard name",
        "letters, digits, _ and -",
    )
}

pub fn arn_or_empty(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    if v.is_empty() || v.starts_with("arn:") {
        Ok(())
    } else {
        Err(format!("expected an ARN (arn:...), got `{v}`"))
    }
}

pub fn arn(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    if v.starts_with("arn:") {
        Ok(())
    } else {
        Err(format!("expected an ARN (arn:...), got `{v}`"))
    }
}

pub fn each_arn(value: &Value) -> Result<(), String> {
    value
        .as_array()
        .map_or(Ok(()), |items| items.iter().try_for_each(arn))
}

/// What AWS's tagging accepts in keys and values: letters, digits and
/// spaces in any script, and `_ . : / = + - @`.
fn tag_character(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

pub fn tag_key(key: &str) -> Result<(), String> {
    length(key, 1, 128, "a tag key")?;
    if key.starts_with("aws:") {
        return Err(format!(
            "tag keys starting with `aws:` are reserved (`{key}`)"
        ));
    }
    charset(
        key,
        tag_character,
        "a tag key",
        "letters, digits, spaces and _ . : / = + - @",
    )
}

pub fn tag_value(value: &str) -> Result<(), String> {
    length(value, 0, 256, "a tag value")?;
    charset(
        value,
        tag_character,
        "a tag value",
        "letters, digits, spaces and _ . : / = + - @",
    )
}

pub fn function_name(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 64, "a Lambda function name")?;
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || "-_".contains(c),
        "a Lambda function name",
        "letters, digits, - and _",
    )
}

/// Lambda's runtimes that take new functions: the OS-only ones for cairn's
/// native builds, and the managed ones for a prebuilt zip.
/// The runtimes Lambda accepts for a new function (its runtimes page,
/// late 2026).
pub const LAMBDA_RUNTIMES: &[&str] = &[
    "provided.al2023",
    "provided.al2",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "dotnet8",
    "dotnet10",
];

/// Runtimes Lambda has deprecated: functions on them still run (and real
/// Terraform states hold them), but AWS refuses them for a new function.
pub const DEPRECATED_LAMBDA_RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "java8",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet7",
    "provided",
];

/// Any runtime a function may be found on: a deprecated one is refused
/// only when it is set anew (`new_lambda_runtime`).
pub fn lambda_runtime(value: &Value) -> Result<(), String> {
    if value
        .as_str()
        .is_some_and(|r| DEPRECATED_LAMBDA_RUNTIMES.contains(&r))
    {
        return Ok(());
    }
    one_of(value, LAMBDA_RUNTIMES, "Lambda runtime")
}

/// A runtime AWS accepts for a new function, or for a change of runtime.
pub fn new_lambda_runtime(value: &Value) -> Result<(), String> {
    match value.as_str() {
        Some(runtime) if DEPRECATED_LAMBDA_RUNTIMES.contains(&runtime) => Err(format!(
            "{runtime} is a deprecated Lambda runtime: functions on it still run, but AWS no longer accepts it for a new function or a change of runtime; choose a current one ({})",
            current_runtimes_like(runtime)
        )),
        _ => Ok(()),
    }
}

/// The current runtimes of a deprecated one's language.
fn current_runtimes_like(runtime: &str) -> String {
    let language: String = runtime
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let language = match language.as_str() {
        "go" => "provided".to_owned(),
        "dotnetcore" => "dotnet".to_owned(),
        other => other.to_owned(),
    };
    let same: Vec<&str> = LAMBDA_RUNTIMES
        .iter()
        .copied()
        .filter(|r| r.starts_with(&language))
        .collect();
    if same.is_empty() {
        LAMBDA_RUNTIMES.join(", ")
    } else {
        same.join(", ")
    }
}

pub fn architecture(value: &Value) -> Result<(), String> {
    one_of(value, &["x86_64", "arm64"], "architecture")
}

pub fn tracing_mode(value: &Value) -> Result<(), String> {
    one_of(value, &["Active", "PassThrough"], "tracing")
}

pub fn memory_size(value: &Value) -> Result<(), String> {
    int_range(value, 128, 10_240, "memory_size (MB)")
}

pub fn function_timeout(value: &Value) -> Result<(), String> {
    int_range(value, 1, 900, "timeout (seconds)")
}

pub fn reserved_concurrency(value: &Value) -> Result<(), String> {
    int_range(value, -1, 100_000, "reserved_concurrency (-1 for none)")
}

pub fn statement_id(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 100, "a statement id")?;
    charset(
        v,
        |c| c.is_ascii_alphanumeric() || "-_".contains(c),
        "a statement id",
        "letters, digits, - and _",
    )
}

pub fn api_name(value: &Value) -> Result<(), String> {
    length(text(value)?, 1, 128, "an API name")
}

pub fn route_key(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    if v == "$default" {
        return Ok(());
    }
    let (method, path) = v
        .split_once(' ')
        .ok_or_else(|| format!("a route key is `METHOD /path` or `$default`, got `{v}`"))?;
    if ![
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ]
    .contains(&method)
    {
        return Err(format!("`{method}` is not an HTTP method in route `{v}`"));
    }
    if !path.starts_with('/') {
        return Err(format!("the path of route `{v}` must start with /"));
    }
    Ok(())
}

pub fn integration_timeout(value: &Value) -> Result<(), String> {
    int_range(value, 50, 30_000, "timeout_ms")
}

pub fn non_negative(value: &Value) -> Result<(), String> {
    match value.as_f64() {
        Some(n) if n >= 0.0 => Ok(()),
        _ => Err("expected a number of at least 0".into()),
    }
}

pub fn metric_namespace(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    length(v, 1, 255, "a metric namespace")?;
    if v.starts_with(':') {
        return Err(format!("a metric namespace cannot start with `:` (`{v}`)"));
    }
    Ok(())
}

pub fn dimensions(value: &Value) -> Result<(), String> {
    let count = value.as_object().map_or(0, |m| m.len());
    if count > 30 {
        return Err(format!("an alarm takes at most 30 dimensions, got {count}"));
    }
    Ok(())
}

pub fn metric_unit(value: &Value) -> Result<(), String> {
    one_of(
        value,
        &[
            "Seconds",
            "Microseconds",
            "Milliseconds",
            "Bytes",
            "Kilobytes",
            "Megabytes",
            "Gigabytes",
            "Terabytes",
            "Bits",
            "Kilobits",
            "Megabits",
            "Gigabits",
            "Terabits",
            "Percent",
            "Count",
            "Bytes/Second",
            "Kilobytes/Second",
            "Megabytes/Second",
            "Gigabytes/Second",
            "Terabytes/Second",
            "Bits/Second",
            "Kilobits/Second",
            "Megabits/Second",
            "Gigabits/Second",
            "Terabits/Second",
            "Count/Second",
            "None",
        ],
        "unit",
    )
}

pub fn cors_max_age(value: &Value) -> Result<(), String> {
    int_range(value, 0, 86_400, "CORS max_age (seconds)")
}

/// AWS regions as of late 2026 (commercial, GovCloud, China).
pub const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

pub fn region(value: &Value) -> Result<(), String> {
    let v = text(value)?;
    if REGIONS.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "`{v}` is not an AWS region cairn knows (such as us-east-1, eu-west-1)"
        ))
    }
}

/// A CIDR block's address and prefix length, as AWS reads it.
pub fn parse_cidr(text: &str) -> Result<(u32, u8), String> {
    let (address, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a CIDR block (expected like 10.0.0.0/16)"))?;
    let octets: Vec<&str> = address.split('.').collect();
    let parsed: Option<Vec<u8>> = octets.iter().map(|o| o.parse::<u8>().ok()).collect();
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to 32"))?;
    match parsed {
        Some(bytes) if bytes.len() == 4 => {
            let address = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            if address & !mask != 0 {
                return Err(format!(
                    "`{text}` has bits set after the prefix; the block starts at {}/{prefix}",
                    std::net::Ipv4Addr::from(address & mask)
                ));
            }
            Ok((address, prefix))
        }
        _ => Err(format!("`{text}` is not an IPv4 CIDR block")),
    }
}

/// Whether block `inner` lies inside block `outer`.
pub fn cidr_contains(outer: (u32, u8), inner: (u32, u8)) -> bool {
    let mask = if outer.1 == 0 {
        0
    } else {
        u32::MAX << (32 - outer.1)
    };
    inner.1 >= outer.1 && inner.0 & mask == outer.0
}

/// Whether two blocks share an address.
pub fn cidr_overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    cidr_contains(a, b) || cidr_contains(b, a)
}

/// For a field check: a VPC's or subnet's block, which AWS allows from /16
/// to /28.
pub fn network_block(value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("expected a string")?;
    if text.contains("${") {
        return Ok(());
    }
    let (_, prefix) = parse_cidr(text)?;
    if !(16..=28).contains(&prefix) {
        return Err(format!(
            "AWS allows blocks from /16 to /28 here, got /{prefix} (`{text}`)"
        ));
    }
    Ok(())
}

/// For a field check: any IPv4 CIDR block (a rule's source, a route).
pub fn any_block(value: &Value) -> Result<(), String> {
    let text = value.as_str().ok_or("expected a string")?;
    if text.is_empty() || text.contains("${") {
        return Ok(());
    }
    parse_cidr(text).map(|_| ())
}

#[cfg(test)]
mod cidr_tests {
    use super::*;

    #[test]
    fn blocks_parse_nest_and_overlap_as_aws_reads_them() {
        let vpc = parse_cidr("10.0.0.0/16").unwrap();
        let subnet = parse_cidr("10.0.1.0/24").unwrap();
        let outside = parse_cidr("10.1.0.0/24").unwrap();
        assert!(cidr_contains(vpc, subnet));
        assert!(!cidr_contains(vpc, outside));
        assert!(!cidr_contains(subnet, vpc));
        assert!(cidr_overlaps(subnet, vpc));
        assert!(!cidr_overlaps(subnet, outside));
        assert!(cidr_contains(parse_cidr("0.0.0.0/0").unwrap(), outside));
        assert!(parse_cidr("10.0.0.1/16")
            .unwrap_err()
            .contains("10.0.0.0/16"));
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.256.0/24").is_err());
        assert!(network_block(&Value::from("10.0.0.0/8"))
            .unwrap_err()
            .contains("/16 to /28"));
        assert!(network_block(&Value::from("10.0.0.0/28")).is_ok());
    }
}
