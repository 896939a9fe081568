//! Changes made out of band, as a person with the console would make them.

use super::*;

/// Out of band, as a person with the console would: all.yaml's log group
/// kept 90 days instead of 7.
pub async fn out_of_band_retention_90(aws: &cairn::aws::Aws) {
    aws.logs()
        .put_retention_policy()
        .log_group_name("/cairn-test/t/logs")
        .retention_in_days(90)
        .send()
        .await
        .unwrap();
}

/// Out of band: all.yaml's table with its TTL turned off.
pub async fn out_of_band_ttl_off(aws: &cairn::aws::Aws) {
    aws.dynamodb()
        .update_time_to_live()
        .table_name("cairn-test-t-table")
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// all.yaml's KMS key id, as the local state holds it.
pub fn key_id(test: &Test) -> String {
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.state_dir().join("t.json")).unwrap())
            .unwrap();
    state["resources"]["kms_key.key"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
