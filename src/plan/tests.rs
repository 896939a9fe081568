//! The planner on small stacks, states and observed values held in memory.

use super::*;
use crate::stack::from_text;
use serde_json::json;

const STACK: &str = "project: p\nenvironment: dev\n";

fn stack(resources: &str) -> Stack {
    from_text(&format!("{STACK}resources:\n{resources}")).unwrap_or_else(|d| panic!("{d}"))
}

fn arn(name: &str) -> String {
    format!("arn:aws:logs:eu-west-1:123456789012:log-group:{name}")
}

/// What AWS would report for the resource just as the stack asks for it.
fn as_asked(stack: &Stack, name: &str) -> Observed {
    let resource = stack.resource(name).unwrap();
    let id = resource.properties["name"].as_str().unwrap().to_owned();
    Observed {
        outputs: Map::from_iter([("arn".to_owned(), json!(arn(&id)))]),
        id,
        attributes: Arc::clone(&resource.properties),
    }
}

/// `observed` with some of its attributes changed.
fn with(mut observed: Observed, changes: Value) -> Observed {
    let attributes = Arc::make_mut(&mut observed.attributes);
    for (key, value) in changes.as_object().unwrap() {
        attributes.insert(key.clone(), value.clone());
    }
    observed
}

/// The state's entry for what `observed` shows (as the last apply left it).
fn recorded(type_name: &str, name: &str, observed: &Observed) -> ResourceState {
    ResourceState {
        type_name: type_name.into(),
        name: name.into(),
        status: Status::Created,
        id: Some(observed.id.clone()),
        attributes: Arc::clone(&observed.attributes),
        outputs: observed.outputs.clone(),
        dependencies: Vec::new(),
        protect: false,
        sensitive: Vec::new(),
        region: None,
    }
}

struct World {
    state: State,
    refreshed: Refreshed,
}

impl World {
    fn new() -> World {
        World {
            state: State::new("p", "dev"),
            refreshed: Refreshed {
                account_id: "123456789012".into(),
                region: "eu-west-1".into(),
                partition: "aws".into(),
                ..Refreshed::default()
            },
        }
    }

    /// Recorded in the state as `recorded_as`, and seen in AWS as `observed`
    /// (`None`: gone).
    fn has(
        mut self,
        address: &str,
        recorded_as: ResourceState,
        observed: Option<Observed>,
    ) -> World {
        self.state.resources.insert(address.into(), recorded_as);
        self.refreshed.resources.insert(address.into(), observed);
        self
    }

    fn plan(&self, stack: &Stack, options: &Options) -> Result<Plan, PlanError> {
        plan(stack, &self.state, self.refreshed.clone(), options)
    }
}

fn only(plan: &Plan, address: &str) -> Change {
    plan.changes
        .iter()
        .find(|c| c.address == address)
        .unwrap_or_else(|| panic!("no change for {address}"))
        .clone()
}

fn actions(plan: &Plan) -> Vec<(&str, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.address.as_str(), c.action))
        .collect()
}

const LOGS: &str = "  logs:\n    type: log_group\n    properties: {retention_in_days: 14}\n";

#[test]
fn what_the_state_does_not_hold_is_created_as_the_stack_says() {
    let stack = stack(&format!("{LOGS}  key:\n    type: kms_key\n  encrypted:\n    type: log_group\n    properties: {{kms_key_arn: \"${{key.arn}}\"}}\n"));
    let plan = World::new().plan(&stack, &Options::default()).unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("kms_key.key", Action::Create),
            ("log_group.encrypted", Action::Create),
            ("log_group.logs", Action::Create),
        ]
    );
    let logs = only(&plan, "log_group.logs");
    assert_eq!(
        logs.after.as_deref(),
        Some(&*stack.resource("logs").unwrap().properties)
    );
    assert_eq!((logs.before, logs.id, logs.reason), (None, None, None));
    // What the key gets only when it is made stays unknown, and a dependency.
    let encrypted = only(&plan, "log_group.encrypted");
    assert!(expr::contains_unknown(
        &encrypted.after.unwrap()["kms_key_arn"]
    ));
    assert_eq!(encrypted.dependencies, ["kms_key.key"]);
    assert_eq!(
        encrypted.config,
        Some(Map::from_iter([(
            "kms_key_arn".to_owned(),
            json!("${key.arn}")
        )]))
    );
    assert_eq!(summary(&plan), "Plan: 3 to add, 0 to change, 0 to destroy.");
}

#[test]
fn what_aws_holds_as_the_stack_says_is_left_alone() {
    let stack = stack(LOGS);
    let observed = as_asked(&stack, "logs");
    let plan = World::new()
        .has(
            "log_group.logs",
            recorded("log_group", "logs", &observed),
            Some(observed.clone()),
        )
        .plan(&stack, &Options::default())
        .unwrap();
    let change = only(&plan, "log_group.logs");
    assert_eq!(change.action, Action::NoOp);
    assert_eq!(change.id.as_deref(), Some("/p/dev/logs"));
    assert_eq!(change.outputs, observed.outputs);
    assert!(change.changed.is_empty() && change.reason.is_none());
    assert!(!plan.has_changes());
}

#[test]
fn a_field_that_changes_in_place_is_an_update_of_exactly_it() {
    let stack = stack(LOGS);
    let observed = with(as_asked(&stack, "logs"), json!({"retention_in_days": 7}));
    let plan = World::new()
        .has(
            "log_group.logs",
            recorded("log_group", "logs", &observed),
            Some(observed),
        )
        .plan(&stack, &Options::default())
        .unwrap();
    let change = only(&plan, "log_group.logs");
    assert_eq!(change.action, Action::Update);
    assert_eq!(change.changed, ["retention_in_days"]);
    assert!(change.replace_paths.is_empty());
    assert_eq!(change.before.unwrap()["retention_in_days"], json!(7));
    assert_eq!(change.after.unwrap()["retention_in_days"], json!(14));
}

#[test]
fn a_field_that_forces_a_new_resource_is_a_replacement() {
    let renamed = |options: &str| {
        let stack = stack(&format!(
            "  logs:\n    type: log_group\n{options}    properties: {{name: /p/dev/renamed, retention_in_days: 7}}\n"
        ));
        let observed = Observed {
            id: "/p/dev/logs".into(),
            ..with(
                as_asked(&stack, "logs"),
                json!({"name": "/p/dev/logs", "retention_in_days": 14}),
            )
        };
        let plan = World::new()
            .has(
                "log_group.logs",
                recorded("log_group", "logs", &observed),
                Some(observed),
            )
            .plan(&stack, &Options::default())
            .unwrap();
        only(&plan, "log_group.logs")
    };
    let change = renamed("");
    assert_eq!(change.action, Action::Replace);
    assert_eq!(change.changed, ["name", "retention_in_days"]);
    assert_eq!(change.replace_paths, ["name"]);
    assert_eq!(change.id.as_deref(), Some("/p/dev/logs"));
    // A log group deletes first unless the stack says otherwise; a new
    // name lets the two exist at once.
    assert!(!change.create_before_destroy);
    assert!(renamed("    create_before_destroy: true\n").create_before_destroy);
}

#[test]
fn a_replacement_that_keeps_its_name_deletes_first_even_when_asked_not_to() {
    let stack = stack("  table:\n    type: dynamodb_table\n    create_before_destroy: true\n    properties: {hash_key: {name: pk, type: S}}\n");
    let observed = with(
        as_asked(&stack, "table"),
        json!({"hash_key": {"name": "id", "type": "S"}}),
    );
    let plan = World::new()
        .has(
            "dynamodb_table.table",
            recorded("dynamodb_table", "table", &observed),
            Some(observed),
        )
        .plan(&stack, &Options::default())
        .unwrap();
    let change = only(&plan, "dynamodb_table.table");
    assert_eq!(
        (change.action, change.replace_paths),
        (Action::Replace, vec!["hash_key".to_owned()])
    );
    assert!(!change.create_before_destroy);
}

#[test]
fn what_left_the_stack_is_deleted_and_what_is_gone_leaves_the_state() {
    let stack = stack(LOGS);
    let old = as_asked(&self::stack("  old:\n    type: log_group\n"), "old");
    let mut recorded_old = recorded("log_group", "old", &old);
    recorded_old.dependencies = vec!["log_group.logs".into()];
    let vanished = recorded(
        "log_group",
        "vanished",
        &with(old.clone(), json!({"name": "/p/dev/vanished"})),
    );
    let logs = as_asked(&stack, "logs");
    let plan = World::new()
        .has(
            "log_group.logs",
            recorded("log_group", "logs", &logs),
            Some(logs),
        )
        .has("log_group.old", recorded_old, Some(old.clone()))
        .has("log_group.vanished", vanished.clone(), None)
        .plan(&stack, &Options::default())
        .unwrap();
    assert_eq!(
        actions(&plan),
        [
            ("log_group.logs", Action::NoOp),
            ("log_group.old", Action::Delete),
            ("log_group.vanished", Action::Delete),
        ]
    );
    let deleted = only(&plan, "log_group.old");
    assert_eq!(
        deleted.reason.as_deref(),
        Some("it is no longer in the stack")
    );
    assert_eq!(deleted.id.as_deref(), Some("/p/dev/old"));
    assert_eq!(deleted.dependencies, ["log_group.logs"]);
    assert_eq!(deleted.after, None);
    let gone = only(&plan, "log_group.vanished");
    assert_eq!(
        gone.reason.as_deref(),
        Some("it no longer exists; only the state entry goes")
    );
    assert_eq!((gone.id, gone.before), (None, Some(vanished.attributes)));
    assert_eq!(summary(&plan), "Plan: 0 to add, 0 to change, 2 to destroy.");
}

#[test]
fn destroying_deletes_everything_without_a_reason() {
    let stack = stack(LOGS);
    let logs = as_asked(&stack, "logs");
    let destroy = Options {
        destroy: true,
        ..Options::default()
    };
    let plan = World::new()
        .has(
            "log_group.logs",
            recorded("log_group", "logs", &logs),
            Some(logs),
        )
        .plan(&stack, &destroy)
        .unwrap();
    let change = only(&plan, "log_group.logs");
    assert_eq!((change.action, change.reason), (Action::Delete, None));
    assert!(plan.outputs.is_empty());
}

#[test]
fn a_protected_resource_is_neither_replaced_nor_destroyed_unless_named() {
    let stack = stack(
        "  logs:\n    type: log_group\n    protect: true\n    properties: {name: /p/dev/renamed}\n",
    );
    let observed = with(as_asked(&stack, "logs"), json!({"name": "/p/dev/logs"}));
    let world = World::new().has(
        "log_group.logs",
        recorded("log_group", "logs", &observed),
        Some(observed),
    );
    assert_eq!(
        world.plan(&stack, &Options::default()),
        Err(PlanError::Protected {
            address: "log_group.logs".into(),
            action: "replace",
            flag: "--allow-replace",
        })
    );
    let allowed = Options {
        allow_replace: vec!["log_group.logs".into()],
        ..Options::default()
    };
    assert_eq!(
        only(&world.plan(&stack, &allowed).unwrap(), "log_group.logs").action,
        Action::Replace
    );

    let destroy = Options {
        destroy: true,
        ..Options::default()
    };
    assert_eq!(
        world.plan(&stack, &destroy).unwrap_err(),
        PlanError::Protected {
            address: "log_group.logs".into(),
            action: "destroy",
            flag: "--allow-destroy",
        }
    );
    let allowed = Options {
        destroy: true,
        allow_destroy: vec!["log_group.logs".into()],
        ..Options::default()
    };
    let change = only(&world.plan(&stack, &allowed).unwrap(), "log_group.logs");
    assert_eq!((change.action, change.protect), (Action::Delete, true));
}

#[test]
fn a_sensitive_value_is_marked_and_never_shown() {
    let stack = from_text(&format!(
        "{STACK}variables:\n  secret: {{default: hunter2-hunter2, sensitive: true}}\nresources:\n  role:\n    type: iam_role\n    properties:\n      description: ${{var.secret}}\n      assume_role_services: [lambda.amazonaws.com]\noutputs:\n  secret: ${{var.secret}}\n"
    ))
    .unwrap();
    let plan = World::new().plan(&stack, &Options::default()).unwrap();
    let change = only(&plan, "iam_role.role");
    assert_eq!(change.sensitive, ["description"]);
    assert_eq!(change.config, Some(Map::new()));
    assert_eq!(plan.sensitive_outputs, ["secret"]);
    let text = render(crate::types::catalog(), &plan, false);
    assert!(
        text.contains("description") && text.contains("(sensitive value)"),
        "{text}"
    );
    let json = terraform_json(crate::types::catalog(), &plan).to_string();
    for shown in [&text, &json] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[test]
fn a_reference_takes_what_the_resource_it_names_holds() {
    let stack = stack("  key:\n    type: kms_key\n  logs:\n    type: log_group\n    properties: {kms_key_arn: \"${key.arn}\"}\n");
    let key_arn = "arn:aws:kms:eu-west-1:123456789012:key/k1";
    let key = Observed {
        id: "k1".into(),
        attributes: Arc::clone(&stack.resource("key").unwrap().properties),
        outputs: Map::from_iter([("arn".to_owned(), json!(key_arn))]),
    };
    let plan = World::new()
        .has("kms_key.key", recorded("kms_key", "key", &key), Some(key))
        .plan(&stack, &Options::default())
        .unwrap();
    let logs = only(&plan, "log_group.logs");
    assert_eq!(logs.action, Action::Create);
    assert_eq!(logs.after.unwrap()["kms_key_arn"], json!(key_arn));
}

#[test]
fn a_resource_found_after_an_interrupted_create_is_adopted() {
    let stack = stack(LOGS);
    let observed = with(as_asked(&stack, "logs"), json!({"retention_in_days": 7}));
    let mut creating = recorded("log_group", "logs", &observed);
    creating.status = Status::Creating;
    let world = World::new().has("log_group.logs", creating.clone(), Some(observed));
    let change = only(
        &world.plan(&stack, &Options::default()).unwrap(),
        "log_group.logs",
    );
    assert_eq!(change.action, Action::Update);
    assert_eq!(
        change.reason.as_deref(),
        Some("found after an interrupted create; adopting it")
    );
    let world = World::new().has("log_group.logs", creating, None);
    let change = only(
        &world.plan(&stack, &Options::default()).unwrap(),
        "log_group.logs",
    );
    assert_eq!(change.action, Action::Create);
    assert_eq!(
        change.reason.as_deref(),
        Some("an earlier create was interrupted before AWS made it")
    );
}

#[test]
fn a_resource_is_not_moved_between_regions() {
    let stack = stack("  logs:\n    type: log_group\n    region: us-east-1\n");
    let observed = as_asked(&stack, "logs");
    let plan = World::new()
        .has(
            "log_group.logs",
            recorded("log_group", "logs", &observed),
            Some(observed),
        )
        .plan(&stack, &Options::default());
    assert_eq!(
        plan,
        Err(PlanError::RegionChange {
            address: "log_group.logs".into(),
            from: "eu-west-1".into(),
            to: "us-east-1".into(),
        })
    );
}

#[test]
fn known_values_fill_what_aws_chose_only_for_what_stays() {
    let mut change = Change {
        action: Action::NoOp,
        after: Some(Arc::new(Map::from_iter([
            ("name".to_owned(), json!("n")),
            ("kms_key_arn".to_owned(), Value::Null),
        ]))),
        before: Some(Arc::new(Map::from_iter([(
            "kms_key_arn".to_owned(),
            json!("k"),
        )]))),
        outputs: Map::from_iter([("arn".to_owned(), json!("a"))]),
        ..plan_removal(
            "log_group.x",
            &recorded("log_group", "x", &Observed::default()),
            None,
            None,
            &State::new("p", "dev"),
            false,
        )
    };
    assert_eq!(
        known_values(&change),
        Map::from_iter([
            ("arn".to_owned(), json!("a")),
            ("kms_key_arn".to_owned(), json!("k")),
            ("name".to_owned(), json!("n")),
        ])
    );
    change.action = Action::Replace;
    assert_eq!(
        known_values(&change),
        Map::from_iter([
            ("kms_key_arn".to_owned(), Value::Null),
            ("name".to_owned(), json!("n")),
        ])
    );
}

/// What AWS holds for each `(name, id, attributes)`: the stack's
/// properties with those attributes (the ids its references stood for),
/// recorded as the last apply left them.
fn holding(stack: &Stack, held: &[(&str, &str, Value)]) -> World {
    let mut world = World::new();
    for (name, id, attributes) in held {
        let resource = stack.resource(name).unwrap();
        let observed = with(
            Observed {
                id: (*id).to_owned(),
                attributes: Arc::clone(&resource.properties),
                outputs: Map::from_iter([("id".to_owned(), json!(id))]),
            },
            attributes.clone(),
        );
        let type_name = resource.schema.type_name;
        world = world.has(
            &resource.address(),
            recorded(type_name, name, &observed),
            Some(observed),
        );
    }
    world
}

/// Each replacement: whether it makes the new one first, and why.
fn replacements(plan: &Plan) -> Vec<(&str, bool, Option<&str>)> {
    plan.changes
        .iter()
        .filter(|c| c.action == Action::Replace)
        .map(|c| {
            (
                c.address.as_str(),
                c.create_before_destroy,
                c.reason.as_deref(),
            )
        })
        .collect()
}

const NETWORK: &str = "  vpc:\n    type: vpc\n    properties: {cidr_block: 10.1.0.0/16}\n  routes:\n    type: route_table\n    properties: {vpc_id: \"${vpc.id}\"}\n  endpoint:\n    type: vpc_endpoint\n    properties: {vpc_id: \"${vpc.id}\", service_name: com.amazonaws.eu-west-1.dynamodb, route_table_ids: [\"${routes.id}\"]}\n";

#[test]
fn a_chain_of_replacements_under_a_new_before_old_one_is_made_new_before_old() {
    // The endpoint's type makes the new one first; the route table and
    // the VPC it depends on, replaced with it, follow.
    let stack = stack(NETWORK);
    let plan = holding(
        &stack,
        &[
            ("vpc", "vpc-1", json!({"cidr_block": "10.0.0.0/16"})),
            ("routes", "rtb-1", json!({"vpc_id": "vpc-1"})),
            (
                "endpoint",
                "vpce-1",
                json!({"vpc_id": "vpc-1", "route_table_ids": ["rtb-1"]}),
            ),
        ],
    )
    .plan(&stack, &Options::default())
    .unwrap();
    assert_eq!(
        replacements(&plan),
        [
            (
                "route_table.routes",
                true,
                Some("as for vpc_endpoint.endpoint, which depends on it")
            ),
            (
                "vpc.vpc",
                true,
                Some("as for vpc_endpoint.endpoint, which depends on it")
            ),
            ("vpc_endpoint.endpoint", true, None),
        ]
    );
}

const SUBNET_AND_NAT: &str = "  a:\n    type: subnet\n    properties: {vpc_id: vpc-1, cidr_block: 10.1.2.0/24}\n  nat:\n    type: nat_gateway\n    properties: {subnet_id: \"${a.id}\", connectivity_type: private}\n";

#[test]
fn a_replacement_under_a_new_before_old_one_is_made_new_before_old_and_the_plan_says_why() {
    let stack = stack(SUBNET_AND_NAT);
    let held = [
        ("a", "subnet-1", json!({"cidr_block": "10.1.1.0/24"})),
        ("nat", "nat-1", json!({"subnet_id": "subnet-1"})),
    ];
    let plan = holding(&stack, &held)
        .plan(&stack, &Options::default())
        .unwrap();
    assert_eq!(
        replacements(&plan),
        [
            ("nat_gateway.nat", true, None),
            (
                "subnet.a",
                true,
                Some("as for nat_gateway.nat, which depends on it")
            ),
        ]
    );
    let text = render(crate::types::catalog(), &plan, false);
    assert!(
        text.contains("  # subnet.a must be replaced (the new one is created before the old one is destroyed)\n  # (as for nat_gateway.nat, which depends on it)\n+/- resource \"subnet\" \"a\" {\n"),
        "{text}"
    );
}

#[test]
fn what_depends_on_a_replacement_that_cannot_be_new_before_old_goes_old_first_and_says_why() {
    // The table keeps its name: two cannot exist at once. The log group
    // asked for new before old, but the old table goes first, and the
    // old log group (that depends on it) before it.
    let stack = stack("  table:\n    type: dynamodb_table\n    properties: {hash_key: {name: pk, type: S}}\n  logs:\n    type: log_group\n    create_before_destroy: true\n    depends_on: [table]\n    properties: {name: /p/dev/renamed}\n");
    let plan = holding(
        &stack,
        &[
            (
                "table",
                "p-dev-table",
                json!({"hash_key": {"name": "id", "type": "S"}}),
            ),
            ("logs", "/p/dev/logs", json!({"name": "/p/dev/logs"})),
        ],
    )
    .plan(&stack, &Options::default())
    .unwrap();
    let first =
        Some("the old one is destroyed first, as for dynamodb_table.table, which it depends on");
    assert_eq!(
        replacements(&plan),
        [
            ("dynamodb_table.table", false, None),
            ("log_group.logs", false, first),
        ]
    );
    // So does what depends on a replacement the stack makes old first.
    let stack = self::stack(&SUBNET_AND_NAT.replace(
        "    type: subnet\n",
        "    type: subnet\n    create_before_destroy: false\n",
    ));
    let plan = holding(
        &stack,
        &[
            ("a", "subnet-1", json!({"cidr_block": "10.1.1.0/24"})),
            ("nat", "nat-1", json!({"subnet_id": "subnet-1"})),
        ],
    )
    .plan(&stack, &Options::default())
    .unwrap();
    assert_eq!(
        replacements(&plan),
        [
            (
                "nat_gateway.nat",
                false,
                Some("the old one is destroyed first, as for subnet.a, which it depends on")
            ),
            ("subnet.a", false, None),
        ]
    );
}

/// An imported value that changed: the field shows the change and the
/// import it came from, and the value is the one the import holds now.
#[test]
fn a_changed_import_is_named_where_it_changes_a_field() {
    let directory = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "network",
            "project: net\nstate: {backend: local, directory: ../state/net}\nresources:\n  vpc: {type: vpc, properties: {cidr_block: 10.0.0.0/16}}\noutputs:\n  vpc_id: ${vpc.id}\n",
        ),
        (
            "app",
            "project: app\nimports:\n  network: {stack: ../network, outputs: [vpc_id]}\nresources:\n  app:\n    type: security_group\n    properties: {vpc_id: \"${import.network.vpc_id}\", description: d}\n",
        ),
    ] {
        std::fs::create_dir_all(directory.path().join(name)).unwrap();
        std::fs::write(directory.path().join(name).join("dev.yaml"), text).unwrap();
    }
    let stack = crate::stack::load(
        crate::types::catalog(),
        &directory.path().join("app/dev.yaml"),
        &Default::default(),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let resource = stack.resource("app").unwrap();
    let mut attributes = (*resource.properties).clone();
    attributes.insert("vpc_id".into(), json!("vpc-1"));
    let observed = Observed {
        id: "sg-1".into(),
        attributes: Arc::new(attributes),
        outputs: Map::new(),
    };
    let mut world = World::new().has(
        "security_group.app",
        recorded("security_group", "app", &observed),
        Some(observed.clone()),
    );
    world.refreshed.imports = BTreeMap::from([(
        "network".to_owned(),
        Map::from_iter([("vpc_id".to_owned(), json!("vpc-2"))]),
    )]);
    let plan = world.plan(&stack, &Options::default()).unwrap();
    let change = only(&plan, "security_group.app");
    assert_eq!(change.action, Action::Replace);
    assert_eq!(change.after.as_ref().unwrap()["vpc_id"], "vpc-2");
    assert_eq!(
        change.imports,
        BTreeMap::from([("vpc_id".to_owned(), vec!["network.vpc_id".to_owned()])])
    );
    let text = render(crate::types::catalog(), &plan, false);
    assert!(
        text.contains(
            "~ vpc_id = \"vpc-1\" -> \"vpc-2\" (from import network.vpc_id) # forces replacement"
        ),
        "{text}"
    );

    // Unchanged, it is no change at all; a list where text is wanted is
    // refused with the field.
    world.refreshed.imports = BTreeMap::from([(
        "network".to_owned(),
        Map::from_iter([("vpc_id".to_owned(), json!("vpc-1"))]),
    )]);
    let plan = world.plan(&stack, &Options::default()).unwrap();
    assert_eq!(only(&plan, "security_group.app").action, Action::NoOp);
    world.refreshed.imports = BTreeMap::from([(
        "network".to_owned(),
        Map::from_iter([("vpc_id".to_owned(), json!(["vpc-1"]))]),
    )]);
    let error = world.plan(&stack, &Options::default()).unwrap_err();
    assert!(error.to_string().contains("vpc_id"), "{error}");
}

/// What lookups found is put in before planning: a whole reference keeps
/// its list, the plan records what was found, and its text shows it.
#[test]
fn lookups_are_put_in_recorded_and_shown() {
    use crate::model::lookup::{Found, LookupKind};
    let stack = from_text(
        "project: p\nenvironment: dev\nlookups:\n  network: {type: vpc, default: true}\n  private: {type: subnets, vpc_id: \"${lookup.network.id}\"}\nresources:\n  db:\n    type: db_subnet_group\n    properties: {description: d, subnet_ids: \"${lookup.private.ids}\"}\n  app:\n    type: security_group\n    properties: {vpc_id: \"${lookup.network.id}\", description: \"in ${lookup.network.cidr_block}\"}\n",
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(stack.lookups["private"].after, ["network"]);
    let mut world = World::new();
    world.refreshed.lookups = BTreeMap::from([
        (
            "network".to_owned(),
            Found {
                kind: LookupKind::Vpc,
                values: Map::from_iter([
                    ("id".to_owned(), json!("vpc-1")),
                    ("cidr_block".to_owned(), json!("10.0.0.0/16")),
                ]),
            },
        ),
        (
            "private".to_owned(),
            Found {
                kind: LookupKind::Subnets,
                values: Map::from_iter([("ids".to_owned(), json!(["subnet-a", "subnet-b"]))]),
            },
        ),
    ]);
    let plan = world.plan(&stack, &Options::default()).unwrap();
    let db = only(&plan, "db_subnet_group.db");
    assert_eq!(
        db.after.as_ref().unwrap()["subnet_ids"],
        json!(["subnet-a", "subnet-b"])
    );
    let app = only(&plan, "security_group.app");
    assert_eq!(app.after.as_ref().unwrap()["vpc_id"], "vpc-1");
    assert_eq!(app.after.as_ref().unwrap()["description"], "in 10.0.0.0/16");
    assert_eq!(plan.lookups, world.refreshed.lookups);
    let text = render(crate::types::catalog(), &plan, false);
    assert!(
        text.starts_with("Lookups (read now; cairn never changes them):\n\n  <= lookup \"vpc\" \"network\" {\n      cidr_block = \"10.0.0.0/16\"\n      id         = \"vpc-1\"\n"),
        "{text}"
    );
    // A list where text is wanted is refused with the field.
    world.refreshed.lookups.get_mut("network").unwrap().values["id"] = json!(["vpc-1"]);
    let error = world.plan(&stack, &Options::default()).unwrap_err();
    assert!(error.to_string().contains("vpc_id"), "{error}");
}

/// A delete reads the fields read only at delete as the stack says them
/// now (`force_destroy` set after a destroy was refused), and every other
/// field as recorded.
#[test]
fn deletes_take_their_delete_settings_from_the_stack() {
    let stack = stack(
        "  site:\n    type: s3_bucket\n    properties: { name: site-x, force_destroy: true, versioning: true }\n",
    );
    let resource = stack.resource("site").unwrap();
    let before: Values = Arc::new(Map::from_iter([
        ("name".to_owned(), json!("site-x")),
        ("force_destroy".to_owned(), json!(false)),
        ("versioning".to_owned(), json!(false)),
    ]));
    let deleting = with_delete_settings(
        resource.schema,
        Arc::clone(&before),
        Some(&resource.properties),
    );
    assert_eq!(deleting["force_destroy"], json!(true));
    assert_eq!(deleting["versioning"], json!(false), "not a delete setting");
    // Without the stack's word (a resource it no longer has), as recorded.
    let recorded = with_delete_settings(resource.schema, Arc::clone(&before), None);
    assert!(Arc::ptr_eq(&recorded, &before));
}
