//! Value checks that AWS performs and moto mostly does not.

use serde_json::Value;

/// A `name_prefix`, to which cairn adds `NAME_SUFFIX` digits: room for
/// them in a name of at most `longest` characters, and the type's own
/// name check on a name made from it.
pub fn name_prefix(value: &Value, longest: usize, name: super::Check) -> Result<(), String> {
    use super::NAME_SUFFIX;
    let prefix = text(value)?;
    if prefix.contains("${") {
        return Ok(());
    }
    let room = longest - NAME_SUFFIX;
    if prefix.chars().count() > room {
        return Err(format!(
            "a name prefix is at most {room} characters here (`{prefix}`): cairn adds {NAME_SUFFIX} digits, and the name is at most {longest}"
        ));
    }
    let made = format!("{prefix}{}", "0".repeat(NAME_SUFFIX));
    name(&Value::String(made.clone()))
        .map_err(|message| message.replace(&made, &format!("{prefix}…")))
}

pub fn text(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "expected a string".to_owned())
}

pub fn length(value: &str, min: usize, max: usize, what: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(format!(
            "{what} must be {min} to {max} characters long, got {n} (`{value}`)"
        ));
    }
    Ok(())
}

pub fn charset(
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

pub fn positive(value: &Value) -> Result<(), String> {
    int_range(value, 1, i64::from(i32::MAX), "this value")
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

pub fn reserved_concurrency(value: &Value) -> Result<(), String> {
    int_range(value, -1, 100_000, "reserved_concurrency (-1 for none)")
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
