//! Lookups (`lookups:`): objects that exist and are not the stack's,
//! read at plan time and never changed. What each kind takes, what it
//! offers to `${lookup.NAME.ATTRIBUTE}`, and what Terraform calls it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupKind {
    /// One VPC: by `id`, by `tags`, or the region's `default: true`.
    Vpc,
    /// The subnets of a VPC (`vpc_id`), narrowed by `tags`: a list.
    Subnets,
    /// The region's availability zones that are available.
    AvailabilityZones,
    /// A Secrets Manager secret by `name`: its ARN, never its value.
    Secret,
    /// An IAM role by `name`: its ARN.
    IamRole,
    /// An SSM parameter by `name`: its ARN, and its value unless it is a
    /// SecureString (never read).
    SsmParameter,
}

/// What a parameter holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterKind {
    Str,
    Bool,
    /// Tag name → value.
    Tags,
}

impl ParameterKind {
    pub fn describe(self) -> &'static str {
        match self {
            ParameterKind::Str => "a string",
            ParameterKind::Bool => "a boolean",
            ParameterKind::Tags => "a mapping of tag names to values",
        }
    }
}

pub const KINDS: &[LookupKind] = &[
    LookupKind::Vpc,
    LookupKind::Subnets,
    LookupKind::AvailabilityZones,
    LookupKind::Secret,
    LookupKind::IamRole,
    LookupKind::SsmParameter,
];

impl LookupKind {
    pub fn name(self) -> &'static str {
        match self {
            LookupKind::Vpc => "vpc",
            LookupKind::Subnets => "subnets",
            LookupKind::AvailabilityZones => "availability_zones",
            LookupKind::Secret => "secret",
            LookupKind::IamRole => "iam_role",
            LookupKind::SsmParameter => "ssm_parameter",
        }
    }

    pub fn from_name(name: &str) -> Option<LookupKind> {
        KINDS.iter().copied().find(|k| k.name() == name)
    }

    /// The parameters it takes besides `type`.
    pub fn parameters(self) -> &'static [(&'static str, ParameterKind)] {
        use ParameterKind::*;
        match self {
            LookupKind::Vpc => &[("id", Str), ("tags", Tags), ("default", Bool)],
            LookupKind::Subnets => &[("vpc_id", Str), ("tags", Tags)],
            LookupKind::AvailabilityZones => &[],
            LookupKind::Secret | LookupKind::IamRole | LookupKind::SsmParameter => &[("name", Str)],
        }
    }

    /// The parameters of which it needs at least one.
    pub fn needs_one_of(self) -> &'static [&'static str] {
        match self {
            LookupKind::Vpc => &["id", "tags", "default"],
            LookupKind::Subnets => &["vpc_id"],
            LookupKind::AvailabilityZones => &[],
            LookupKind::Secret | LookupKind::IamRole | LookupKind::SsmParameter => &["name"],
        }
    }

    /// What `${lookup.NAME.…}` may name; the list-valued ones are lists
    /// of strings, the others strings.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            LookupKind::Vpc => &["id", "arn", "cidr_block"],
            LookupKind::Subnets => &["ids", "cidr_blocks", "availability_zones"],
            LookupKind::AvailabilityZones => &["names", "zone_ids"],
            LookupKind::Secret => &["arn", "name"],
            LookupKind::IamRole => &["arn", "name", "id"],
            LookupKind::SsmParameter => &["arn", "name", "type", "value", "version"],
        }
    }

    /// Terraform's data source of the same meaning, for its JSON plan.
    pub fn terraform_type(self) -> &'static str {
        match self {
            LookupKind::Vpc => "aws_vpc",
            LookupKind::Subnets => "aws_subnets",
            LookupKind::AvailabilityZones => "aws_availability_zones",
            LookupKind::Secret => "aws_secretsmanager_secret",
            LookupKind::IamRole => "aws_iam_role",
            LookupKind::SsmParameter => "aws_ssm_parameter",
        }
    }
}

/// Kind names, for messages.
pub fn kind_names() -> String {
    KINDS
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a lookup found when it was read: its kind and the values of its
/// attributes. Plans record it, so a saved plan is applied only while
/// the lookups still find the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Found {
    #[serde(rename = "type")]
    pub kind: LookupKind,
    pub values: serde_json::Map<String, serde_json::Value>,
}
