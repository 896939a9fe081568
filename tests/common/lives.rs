//! Which test runs each resource type's whole life on the emulator:
//! create, a plan with no changes, an update in place, a replacement where
//! a field forces one, drift made by hand and found, destroy.
//! `every_type_has_a_test_of_its_whole_life` checks that every registered
//! type has an entry, that every test named here exists, and that a step
//! said not to exist really does not (by the type's fields).

/// Where a step of a type's life runs.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// In the entry's own test.
    There,
    /// In this other test.
    In(&'static str),
    /// The type has no such step: no field it changes in place (update),
    /// or no field that forces a replacement (replace). Checked against
    /// the type's fields.
    Impossible,
    /// moto cannot run it; why.
    NotOnMoto(&'static str),
}

pub struct Life {
    pub type_name: &'static str,
    /// The test that creates it, plans again with no changes, and
    /// destroys it.
    pub test: &'static str,
    pub update: Step,
    pub replace: Step,
    pub drift: Step,
}

/// The registered types, each with whether it has a field that changes in
/// place (tags count) and one that forces a replacement. The only place
/// these tests read the type registry.
pub fn registered_types() -> Vec<(&'static str, bool, bool)> {
    cairn::types::all()
        .iter()
        .map(|resource_type| {
            let schema = resource_type.schema;
            let updatable = schema.taggable || schema.fields.iter().any(|field| !field.force_new);
            let replaceable = schema.fields.iter().any(|field| field.force_new);
            (schema.type_name, updatable, replaceable)
        })
        .collect()
}

const GENERIC: &str = "every_type_creates_no_ops_updates_replaces_detects_drift_and_destroys";
const GENERIC_REPLACED: &str = "every_type_is_replaced_when_a_field_forces_it";
const SERVICES: &str = "every_service_type_lives_its_whole_life";
const NETWORK: &str = "every_network_type_lives_its_whole_life";
const CONTAINERS: &str = "every_container_type_lives_its_whole_life";
const CDN: &str = "cloudfront_types_live_their_whole_life";
const QUEUES: &str = "every_queue_type_lives_its_whole_life";
const EDGE: &str = "every_edge_type_lives_its_whole_life";
const STORAGE: &str = "every_storage_type_lives_its_whole_life";

/// A type of `all.yaml`, whose life the generic test runs.
const fn generic(type_name: &'static str) -> Life {
    Life {
        type_name,
        test: GENERIC,
        update: Step::There,
        replace: Step::In(GENERIC_REPLACED),
        drift: Step::There,
    }
}

/// A type whose whole life runs in one test.
const fn whole(type_name: &'static str, test: &'static str) -> Life {
    Life {
        type_name,
        test,
        update: Step::There,
        replace: Step::There,
        drift: Step::There,
    }
}

pub const LIVES: &[Life] = &[
    generic("iam_role"),
    Life {
        // The generic test's update of the table is its drift's repair;
        // the indexes' test changes it in place as a stack does.
        update: Step::In("global_secondary_indexes_change_one_at_a_time"),
        replace: Step::There,
        ..generic("dynamodb_table")
    },
    generic("log_group"),
    generic("kms_key"),
    whole("kms_alias", SERVICES),
    generic("ecr_repository"),
    generic("cloudwatch_alarm"),
    generic("cloudwatch_dashboard"),
    whole("lambda_function", SERVICES),
    Life {
        update: Step::Impossible,
        ..whole("lambda_permission", SERVICES)
    },
    Life {
        replace: Step::Impossible,
        ..whole("http_api", SERVICES)
    },
    whole("sns_topic", SERVICES),
    whole("sns_subscription", SERVICES),
    whole("log_metric_filter", SERVICES),
    whole("vpc", NETWORK),
    whole("subnet", NETWORK),
    Life {
        replace: Step::Impossible,
        ..whole("internet_gateway", NETWORK)
    },
    whole("route_table", NETWORK),
    Life {
        replace: Step::In("network_changes_in_place_and_by_replacement"),
        ..whole("security_group", "networks_live_their_whole_life")
    },
    whole("nat_gateway", NETWORK),
    whole("vpc_endpoint", NETWORK),
    whole("secretsmanager_secret", SERVICES),
    whole("db_subnet_group", NETWORK),
    whole("db_instance", NETWORK),
    whole("rest_api", SERVICES),
    whole("api_key", SERVICES),
    Life {
        replace: Step::Impossible,
        ..whole("usage_plan", SERVICES)
    },
    whole("lb_target_group", CONTAINERS),
    whole("lb", CONTAINERS),
    whole("lb_listener", CONTAINERS),
    whole("lb_listener_rule", CONTAINERS),
    whole("ecs_cluster", CONTAINERS),
    whole("ecs_task_definition", CONTAINERS),
    whole("ecs_service", CONTAINERS),
    Life {
        replace: Step::Impossible,
        ..whole("cloudfront_origin_access_control", CDN)
    },
    Life {
        replace: Step::Impossible,
        ..whole("cloudfront_distribution", CDN)
    },
    whole("sqs_queue", QUEUES),
    whole("lambda_event_source_mapping", QUEUES),
    whole("event_rule", EDGE),
    whole("budget", EDGE),
    whole("wafv2_web_acl", EDGE),
    Life {
        update: Step::Impossible,
        ..whole("wafv2_web_acl_association", EDGE)
    },
    whole("s3_bucket", STORAGE),
    whole("s3_bucket_policy", STORAGE),
];
