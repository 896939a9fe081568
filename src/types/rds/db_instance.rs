//! An RDS database instance (MariaDB, MySQL, PostgreSQL): class, storage,
//! encryption, backups, multi-AZ, deletion protection, a final snapshot on
//! destroy, and a master password that RDS keeps in Secrets Manager or
//! that comes from a sensitive variable (never shown, kept as a hash).
//! AWS takes minutes to create, change and delete one: each step waits for
//! `available` (or gone), with the engine's progress lines meanwhile.

use super::{rds_tags, Tags};
use crate::aws::{changed, flag, int, missing, present, string_map, strings, text, Aws, AwsError};
use crate::model::{ErrorClass, Observed};
use crate::schema::{
    checks, no_expansion, Fallback as F, Field, Kind as K, Naming, Problem, Schema, TAGS,
};
use crate::spec::terraform::Parts;
use crate::spec::{Identity, Spec};
use crate::types::observation;
use crate::types::Tagging;
use crate::types::{read_back, After, Resource, ResourceType, Unmanaged};
use aws_sdk_rds::types::DbInstance as Instance;
use serde_json::{json, Map, Value};

pub static DB_INSTANCE: Schema = Schema {
    type_name: "db_instance",
    description: "RDS database instance with encrypted storage, backups and a managed password",
    fields: &[
        Field::new("identifier", K::Str)
            .required()
            .force_new()
            .check(identifier),
        Field::new("engine", K::Str)
            .required()
            .force_new()
            .one_of(&["mariadb", "mysql", "postgres"], "an engine"),
        // The full version (10.11.6, 16.3): minor upgrades are the stack's
        // to make, so what runs is what the stack says.
        Field::new("engine_version", K::Str).required(),
        Field::new("auto_minor_version_upgrade", K::Bool).or(F::Bool(false)),
        Field::new("instance_class", K::Str)
            .required()
            .check(instance_class),
        Field::new("allocated_storage", K::Int).or(F::Int(20)),
        Field::new("storage_type", K::Str)
            .or(F::Str("gp3"))
            .check(|v| {
                checks::one_of(
                    v,
                    &["gp2", "gp3", "io1", "io2", "standard"],
                    "a storage type",
                )
            }),
        Field::new("iops", K::Int),
        Field::new("storage_encrypted", K::Bool)
            .or(F::Bool(true))
            .force_new(),
        // Absent: the account's `aws/rds` key (AWS's default, not compared).
        Field::new("kms_key_id", K::Str).force_new(),
        Field::new("db_name", K::Str).or(F::Str("")).force_new(),
        Field::new("username", K::Str).required().force_new(),
        // RDS generates the password and keeps it in Secrets Manager.
        Field::new("manage_master_user_password", K::Bool).or(F::Bool(true)),
        // Or: from a sensitive variable (compared by the state's hash).
        Field::new("password", K::Str).sensitive(),
        // Absent: AWS's defaults (the default VPC and its group), not compared.
        Field::new("db_subnet_group_name", K::Str).force_new(),
        Field::new("vpc_security_group_ids", K::StrSet),
        Field::new("publicly_accessible", K::Bool).or(F::Bool(false)),
        Field::new("multi_az", K::Bool).or(F::Bool(false)),
        Field::new("backup_retention_period", K::Int)
            .or(F::Int(7))
            .check(|v| checks::int_range(v, 0, 35, "a backup retention (days)")),
        // Absent: AWS picks a window.
        Field::new("preferred_backup_window", K::Str).check(backup_window),
        Field::new("deletion_protection", K::Bool).or(F::Bool(false)),
        // What destroy does; AWS does not report these, so they are
        // compared with what the state recorded.
        Field::new("skip_final_snapshot", K::Bool)
            .or(F::Bool(false))
            .at_delete(),
        Field::new("final_snapshot_identifier", K::Str)
            .or(F::Str(""))
            .at_delete(),
        TAGS,
    ],
    outputs: &["arn", "address", "port", "master_user_secret_arn"],
    taggable: true,
    naming: Naming::None,
    stateful: true,
    expand: no_expansion,
    validate: validate_instance,
};

fn identifier(value: &Value) -> Result<(), String> {
    let name = value.as_str().ok_or("expected a string")?;
    if name.contains("${") {
        return Ok(());
    }
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "a DB instance identifier is 1 to 63 lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen (`{name}`)"
        ))
    }
}

fn instance_class(value: &Value) -> Result<(), String> {
    let class = value.as_str().ok_or("expected a string")?;
    if class.contains("${") || (class.starts_with("db.") && class.matches('.').count() == 2) {
        Ok(())
    } else {
        Err(format!(
            "`{class}` is not an instance class (like db.t4g.micro)"
        ))
    }
}

fn backup_window(value: &Value) -> Result<(), String> {
    let Some(window) = value.as_str() else {
        return Ok(());
    };
    let time = |t: &str| {
        let (h, m) = t.split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (t.len() == 5 && h < 24 && m < 60).then_some(h * 60 + m)
    };
    match window.split_once('-').map(|(a, b)| (time(a), time(b))) {
        Some((Some(start), Some(end))) => {
            let length = (end + 24 * 60 - start) % (24 * 60);
            if length < 30 {
                Err(format!(
                    "a backup window lasts at least 30 minutes (`{window}`)"
                ))
            } else {
                Ok(())
            }
        }
        _ => Err(format!(
            "a backup window is hh24:mi-hh24:mi in UTC, like 03:00-04:00 (`{window}`)"
        )),
    }
}

fn validate_instance(properties: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let int = |k: &str| properties.get(k).and_then(Value::as_i64);
    let text = |k: &str| properties.get(k).and_then(Value::as_str).unwrap_or("");
    let managed = properties.get("manage_master_user_password") == Some(&json!(true));
    let password = properties.get("password").is_some_and(|v| !v.is_null());
    if managed == password {
        problems.push(Problem::new(
            "password",
            "give `password` (from a sensitive variable) with `manage_master_user_password: false`, or neither (RDS manages it in Secrets Manager)",
        ));
    }
    if let Some(password) = properties.get("password").and_then(Value::as_str) {
        if !password.contains("${") && !(8..=128).contains(&password.chars().count()) {
            problems.push(Problem::new(
                "password",
                "a master password is 8 to 128 characters",
            ));
        }
    }
    let storage_type = text("storage_type");
    if let Some(storage) = int("allocated_storage") {
        let (min, max) = match storage_type {
            "io1" | "io2" => (100, 65536),
            "standard" => (5, 3072),
            _ => (20, 65536),
        };
        if !(min..=max).contains(&storage) {
            problems.push(Problem::new(
                "allocated_storage",
                format!("{storage_type} storage is {min} to {max} GiB, got {storage}"),
            ));
        }
    }
    let iops = properties.get("iops").is_some_and(|v| !v.is_null());
    match storage_type {
        "io1" | "io2" if !iops => problems.push(Problem::new(
            "iops",
            format!("{storage_type} storage needs `iops`"),
        )),
        "gp2" | "standard" if iops => problems.push(Problem::new(
            "iops",
            format!("{storage_type} storage takes no `iops`"),
        )),
        "gp3" if iops && int("allocated_storage").is_some_and(|s| s < 400) => {
            problems.push(Problem::new(
                "iops",
                "gp3 storage takes `iops` only from 400 GiB (below, it is fixed at 3000)",
            ))
        }
        _ => {}
    }
    let username = text("username");
    if !username.contains("${") {
        let max = if text("engine") == "postgres" { 63 } else { 16 };
        let valid = username.starts_with(|c: char| c.is_ascii_alphabetic())
            && username.len() <= max
            && username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            problems.push(Problem::new(
                "username",
                format!("a master user name is 1 to {max} letters, digits and _, starting with a letter (`{username}`)"),
            ));
        } else if username == "rdsadmin" {
            problems.push(Problem::new("username", "`rdsadmin` is reserved by RDS"));
        }
    }
    let db_name = text("db_name");
    if !db_name.is_empty() && !db_name.contains("${") {
        let valid = db_name.starts_with(|c: char| c.is_ascii_alphabetic())
            && db_name.len() <= 63
            && db_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            problems.push(Problem::new(
                "db_name",
                format!("a database name is 1 to 63 letters, digits and _, starting with a letter (`{db_name}`)"),
            ));
        }
    }
    let skip = properties.get("skip_final_snapshot") == Some(&json!(true));
    if skip && !text("final_snapshot_identifier").is_empty() {
        problems.push(Problem::new(
            "final_snapshot_identifier",
            "a final snapshot is named only when it is taken (`skip_final_snapshot: false`)",
        ));
    }
    problems
}

/// How many status checks a create, change or delete waits (about 45
/// minutes, polls growing to 5 s): RDS takes 5 to 20 minutes.
const STATUS_CHECKS: u32 = 560;

pub struct DbInstance;

impl DbInstance {
    async fn describe(&self, aws: &Aws, id: &str) -> Result<Option<Instance>, AwsError> {
        let found = aws
            .send(
                "DescribeDBInstances",
                || {
                    aws.rds()
                        .describe_db_instances()
                        .db_instance_identifier(id)
                        .send()
                },
                |e| missing(e.is_db_instance_not_found_fault()),
            )
            .await;
        Ok(present(found)?.and_then(|output| output.db_instances().first().cloned()))
    }

    fn observed(&self, instance: &Instance) -> Observed {
        let id = instance.db_instance_identifier().unwrap_or_default();
        let mut groups: Vec<&str> = instance
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect();
        groups.sort_unstable();
        let mut attributes = Map::new();
        attributes.insert("identifier".into(), json!(id));
        attributes.insert("engine".into(), json!(instance.engine()));
        attributes.insert("engine_version".into(), json!(instance.engine_version()));
        attributes.insert(
            "auto_minor_version_upgrade".into(),
            json!(instance.auto_minor_version_upgrade().unwrap_or(false)),
        );
        attributes.insert("instance_class".into(), json!(instance.db_instance_class()));
        attributes.insert(
            "allocated_storage".into(),
            json!(instance.allocated_storage()),
        );
        attributes.insert("storage_type".into(), json!(instance.storage_type()));
        attributes.insert("iops".into(), json!(instance.iops()));
        attributes.insert(
            "storage_encrypted".into(),
            json!(instance.storage_encrypted().unwrap_or(false)),
        );
        attributes.insert(
            "kms_key_id".into(),
            json!(instance.kms_key_id().unwrap_or_default()),
        );
        attributes.insert(
            "db_name".into(),
            json!(instance.db_name().unwrap_or_default()),
        );
        attributes.insert("username".into(), json!(instance.master_username()));
        attributes.insert(
            "manage_master_user_password".into(),
            json!(instance.master_user_secret().is_some()),
        );
        attributes.insert(
            "db_subnet_group_name".into(),
            json!(instance
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .unwrap_or_default()),
        );
        attributes.insert("vpc_security_group_ids".into(), json!(groups));
        attributes.insert(
            "publicly_accessible".into(),
            json!(instance.publicly_accessible().unwrap_or(false)),
        );
        attributes.insert(
            "multi_az".into(),
            json!(instance.multi_az().unwrap_or(false)),
        );
        attributes.insert(
            "backup_retention_period".into(),
            json!(instance.backup_retention_period()),
        );
        attributes.insert(
            "preferred_backup_window".into(),
            json!(instance.preferred_backup_window()),
        );
        attributes.insert(
            "deletion_protection".into(),
            json!(instance.deletion_protection().unwrap_or(false)),
        );
        attributes.insert(
            "tags".into(),
            crate::aws::tags_value(
                instance
                    .tag_list()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            ),
        );
        observation(
            id,
            attributes,
            [
                ("arn", json!(instance.db_instance_arn())),
                (
                    "address",
                    json!(instance
                        .endpoint()
                        .and_then(|e| e.address())
                        .unwrap_or_default()),
                ),
                ("port", json!(instance.endpoint().and_then(|e| e.port()))),
                (
                    "master_user_secret_arn",
                    json!(instance
                        .master_user_secret()
                        .and_then(|s| s.secret_arn())
                        .unwrap_or_default()),
                ),
            ],
        )
    }

    /// Waits until the instance is `available` with nothing pending.
    async fn wait_available(&self, aws: &Aws, id: &str) -> Result<Observed, AwsError> {
        let instance = crate::aws::wait_for("DescribeDBInstances", STATUS_CHECKS, || async {
            let instance = read_back(
                self.describe(aws, id).await,
                After::Create,
                "DescribeDBInstances",
                format!("DB instance {id} not visible yet"),
            )?;
            match instance.db_instance_status() {
                Some("available") => Ok(Some(instance)),
                Some(
                    status @ ("failed"
                    | "incompatible-parameters"
                    | "incompatible-network"
                    | "storage-full"
                    | "inaccessible-encryption-credentials"),
                ) => Err(AwsError::new(
                    ErrorClass::Fatal,
                    "DescribeDBInstances",
                    format!("DB instance {id} is {status}"),
                )),
                _ => Ok(None),
            }
        })
        .await?;
        Ok(self.observed(&instance))
    }
}

fn optional_text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl Resource for DbInstance {
    async fn read(&self, aws: &Aws, id: &str) -> Result<Option<Observed>, AwsError> {
        Ok(self
            .describe(aws, id)
            .await?
            .filter(|i| i.db_instance_status() != Some("deleting"))
            .map(|i| self.observed(&i)))
    }

    /// The identifier is unique: a repeat meets
    /// `DBInstanceAlreadyExists`, and the engine adopts the instance by its
    /// ownership tags.
    async fn create(&self, aws: &Aws, desired: &Map<String, Value>) -> Result<Observed, AwsError> {
        let id = text(desired, "identifier");
        let managed = flag(desired, "manage_master_user_password");
        aws.send(
            "CreateDBInstance",
            || {
                aws.rds()
                    .create_db_instance()
                    .db_instance_identifier(id)
                    .engine(text(desired, "engine"))
                    .engine_version(text(desired, "engine_version"))
                    .auto_minor_version_upgrade(flag(desired, "auto_minor_version_upgrade"))
                    .db_instance_class(text(desired, "instance_class"))
                    .allocated_storage(int(desired, "allocated_storage").unwrap_or(20) as i32)
                    .storage_type(text(desired, "storage_type"))
                    .set_iops(int(desired, "iops").map(|i| i as i32))
                    .storage_encrypted(flag(desired, "storage_encrypted"))
                    .set_kms_key_id(optional_text(desired, "kms_key_id"))
                    .set_db_name(optional_text(desired, "db_name"))
                    .master_username(text(desired, "username"))
                    .manage_master_user_password(managed)
                    .set_master_user_password(optional_text(desired, "password"))
                    .set_db_subnet_group_name(optional_text(desired, "db_subnet_group_name"))
                    .set_vpc_security_group_ids(
                        Some(strings(desired, "vpc_security_group_ids")).filter(|g| !g.is_empty()),
                    )
                    .publicly_accessible(flag(desired, "publicly_accessible"))
                    .multi_az(flag(desired, "multi_az"))
                    .backup_retention_period(
                        int(desired, "backup_retention_period").unwrap_or(7) as i32
                    )
                    .set_preferred_backup_window(optional_text(desired, "preferred_backup_window"))
                    .deletion_protection(flag(desired, "deletion_protection"))
                    .copy_tags_to_snapshot(true)
                    .set_tags(Some(rds_tags(&string_map(desired, "tags"))))
                    .send()
            },
            |e| {
                e.is_db_instance_already_exists_fault()
                    .then_some(ErrorClass::AlreadyExists)
            },
        )
        .await?;
        self.wait_available(aws, id).await
    }

    /// One ModifyDBInstance, applied at once (not in the next maintenance
    /// window: the plan said now), then a wait for `available`.
    async fn update(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        fields: &[String],
    ) -> Result<Observed, AwsError> {
        let modified = [
            "engine_version",
            "auto_minor_version_upgrade",
            "instance_class",
            "allocated_storage",
            "storage_type",
            "iops",
            "manage_master_user_password",
            "password",
            "vpc_security_group_ids",
            "publicly_accessible",
            "multi_az",
            "backup_retention_period",
            "preferred_backup_window",
            "deletion_protection",
        ];
        if modified.iter().any(|f| changed(fields, f)) {
            let when = |f: &str| changed(fields, f);
            let major = |v: &str| {
                let parts: Vec<&str> = v.split('.').collect();
                if text(after, "engine") == "postgres" {
                    parts.first().map(|p| (*p).to_owned())
                } else {
                    Some(parts.iter().take(2).copied().collect::<Vec<_>>().join("."))
                }
            };
            let major_upgrade = when("engine_version")
                && major(text(before, "engine_version")) != major(text(after, "engine_version"));
            aws.send(
                "ModifyDBInstance",
                || {
                    let mut call = aws
                        .rds()
                        .modify_db_instance()
                        .db_instance_identifier(id)
                        .apply_immediately(true);
                    if when("engine_version") {
                        call = call
                            .engine_version(text(after, "engine_version"))
                            .allow_major_version_upgrade(major_upgrade);
                    }
                    if when("auto_minor_version_upgrade") {
                        call = call
                            .auto_minor_version_upgrade(flag(after, "auto_minor_version_upgrade"));
                    }
                    if when("instance_class") {
                        call = call.db_instance_class(text(after, "instance_class"));
                    }
                    if when("allocated_storage") {
                        call =
                            call.allocated_storage(
                                int(after, "allocated_storage").unwrap_or(20) as i32
                            );
                    }
                    if when("storage_type") || when("iops") {
                        call = call
                            .storage_type(text(after, "storage_type"))
                            .set_iops(int(after, "iops").map(|i| i as i32));
                    }
                    if when("manage_master_user_password") {
                        call = call.manage_master_user_password(flag(
                            after,
                            "manage_master_user_password",
                        ));
                    }
                    if when("password") || when("manage_master_user_password") {
                        call = call.set_master_user_password(optional_text(after, "password"));
                    }
                    if when("vpc_security_group_ids") {
                        call = call.set_vpc_security_group_ids(Some(strings(
                            after,
                            "vpc_security_group_ids",
                        )));
                    }
                    if when("publicly_accessible") {
                        call = call.publicly_accessible(flag(after, "publicly_accessible"));
                    }
                    if when("multi_az") {
                        call = call.multi_az(flag(after, "multi_az"));
                    }
                    if when("backup_retention_period") {
                        call = call.backup_retention_period(
                            int(after, "backup_retention_period").unwrap_or(7) as i32,
                        );
                    }
                    if when("preferred_backup_window") {
                        call = call.set_preferred_backup_window(optional_text(
                            after,
                            "preferred_backup_window",
                        ));
                    }
                    if when("deletion_protection") {
                        call = call.deletion_protection(flag(after, "deletion_protection"));
                    }
                    call.send()
                },
                |e| {
                    e.is_invalid_db_instance_state_fault()
                        .then_some(ErrorClass::Conflict)
                },
            )
            .await?;
        }
        if changed(fields, "tags") {
            let arn = self
                .describe(aws, id)
                .await?
                .and_then(|i| i.db_instance_arn().map(str::to_owned))
                .unwrap_or_default();
            Tags.retag(aws, &arn, before, after).await?;
        }
        self.wait_available(aws, id).await
    }

    /// Refused while deletion protection is on (as on AWS: turn it off and
    /// apply first). Takes a final snapshot unless told to skip it, named
    /// `final_snapshot_identifier` or `{identifier}-final`.
    async fn delete(
        &self,
        aws: &Aws,
        id: &str,
        before: &Map<String, Value>,
    ) -> Result<(), AwsError> {
        let Some(instance) = self.describe(aws, id).await? else {
            return Ok(());
        };
        if instance.deletion_protection() == Some(true) {
            return Err(AwsError::new(
                ErrorClass::Validation,
                "DeleteDBInstance",
                format!("DB instance {id} has deletion protection on: set `deletion_protection: false` and apply before destroying it"),
            ));
        }
        if instance.db_instance_status() != Some("deleting") {
            let skip = flag(before, "skip_final_snapshot");
            let snapshot = optional_text(before, "final_snapshot_identifier")
                .unwrap_or_else(|| format!("{id}-final"));
            let deleted = aws
                .send(
                    "DeleteDBInstance",
                    || {
                        let call = aws
                            .rds()
                            .delete_db_instance()
                            .db_instance_identifier(id)
                            .skip_final_snapshot(skip);
                        if skip {
                            call.send()
                        } else {
                            call.final_db_snapshot_identifier(&snapshot).send()
                        }
                    },
                    |e| {
                        if e.is_db_instance_not_found_fault() {
                            Some(ErrorClass::NotFound)
                        } else if e.is_invalid_db_instance_state_fault() {
                            // Already being deleted (a repeat after a lost answer).
                            Some(ErrorClass::AlreadyExists)
                        } else {
                            None
                        }
                    },
                )
                .await;
            match deleted {
                Err(e) if e.is_not_found() || e.class == ErrorClass::AlreadyExists => {}
                other => {
                    other?;
                }
            }
        }
        crate::aws::wait_for("DescribeDBInstances", STATUS_CHECKS, || async {
            Ok(self.describe(aws, id).await?.is_none().then_some(()))
        })
        .await
    }
}

/// Terraform's view: `aws_db_instance`.
fn terraform(a: &Map<String, Value>) -> Vec<crate::types::terraform::Tf> {
    use crate::types::terraform::prelude::*;
    vec![tf(
        "aws_db_instance",
        tagged(
            a,
            json!({
                "arn": v(a, "arn"), "address": v(a, "address"), "port": v(a, "port"),
                "identifier": v(a, "identifier"), "engine": v(a, "engine"), "engine_version": v(a, "engine_version"),
                "auto_minor_version_upgrade": v(a, "auto_minor_version_upgrade"),
                "instance_class": v(a, "instance_class"), "allocated_storage": v(a, "allocated_storage"),
                "storage_type": v(a, "storage_type"), "iops": v(a, "iops"),
                "storage_encrypted": v(a, "storage_encrypted"), "kms_key_id": opt(a, "kms_key_id"),
                "db_name": opt(a, "db_name"), "username": v(a, "username"),
                "manage_master_user_password": v(a, "manage_master_user_password"), "password": v(a, "password"),
                "master_user_secret": match a.get("master_user_secret_arn") {
                    Some(arn) if !arn.is_null() => block(json!({"secret_arn": arn})),
                    _ => json!([]),
                },
                "db_subnet_group_name": opt(a, "db_subnet_group_name"),
                "vpc_security_group_ids": v(a, "vpc_security_group_ids"),
                "publicly_accessible": v(a, "publicly_accessible"), "multi_az": v(a, "multi_az"),
                "backup_retention_period": v(a, "backup_retention_period"),
                "backup_window": opt(a, "preferred_backup_window"),
                "deletion_protection": v(a, "deletion_protection"),
                "skip_final_snapshot": v(a, "skip_final_snapshot"),
                "final_snapshot_identifier": opt(a, "final_snapshot_identifier"),
                // Left at AWS's defaults: cairn sets none of these.
                "iam_database_authentication_enabled": false, "monitoring_interval": 0,
                "performance_insights_enabled": false, "enabled_cloudwatch_logs_exports": [],
                // cairn creates it so.
                "copy_tags_to_snapshot": true,
            }),
        ),
    )]
}

pub static SPEC: Spec = Spec {
    schema: &DB_INSTANCE,
    planned_id: |desired| {
        desired
            .get("identifier")
            .and_then(Value::as_str)
            .map(str::to_owned)
    },
    id_from_arn: |arn| crate::types::after(arn, ":db:"),
    arn_example: ("arn:aws:rds:us-east-1:1:db:chat", Some("chat")),
    bulk_tagged: false,
    create_before_destroy: false,
    identity: Some(Identity {
        field: "name",
        of: |w| w.text("identifier"),
    }),
    update_note: crate::spec::no_note,
    terraform: crate::types::terraform::Mapping {
        types: &["aws_db_instance"],
        map: terraform,
        import: |a| crate::types::terraform::attribute(a, "identifier"),
        parts: Parts {
            taken_over: &[],
            dies_with: &["aws_db_instance_role_association"],
            ..Parts::NONE
        },
    },
};

pub static TYPE: ResourceType = ResourceType {
    spec: &SPEC,
    provider: &DbInstance,
    unmanaged: Unmanaged::TaggingApi,
};
