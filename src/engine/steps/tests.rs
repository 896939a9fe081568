use super::*;
use crate::state::{ResourceState, Status};
use serde_json::Map;
use std::sync::Arc;

fn change(address: &str, action: Action, dependencies: &[&str]) -> Change {
    let (type_name, name) = address.split_once('.').unwrap();
    Change {
        address: address.into(),
        type_name: type_name.into(),
        name: name.into(),
        action,
        id: None,
        before: None,
        after: None,
        changed: Vec::new(),
        replace_paths: Vec::new(),
        outputs: Map::new(),
        dependencies: dependencies.iter().map(|d| (*d).to_owned()).collect(),
        protect: false,
        sensitive: Vec::new(),
        sensitive_keys: Vec::new(),
        reason: None,
        create_before_destroy: false,
        region: None,
        config: None,
        imports: Default::default(),
        moved_from: None,
    }
}

fn create_first(mut change: Change) -> Change {
    change.create_before_destroy = true;
    change
}

fn plan(mut changes: Vec<Change>) -> Plan {
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    Plan {
        format_version: "1".into(),
        cairn_version: "test".into(),
        project: "p".into(),
        environment: "dev".into(),
        destroy: false,
        stack_hash: String::new(),
        state_lineage: String::new(),
        state_serial: 0,
        account_id: String::new(),
        region: String::new(),
        partition: String::new(),
        changes,
        drift: Vec::new(),
        outputs: BTreeMap::new(),
        sensitive_outputs: Vec::new(),
        previous_outputs: Default::default(),
        imports: BTreeMap::new(),
        lookups: BTreeMap::new(),
    }
}

/// A state whose entries depended on what `recorded` says, as addresses
/// or (states written before addresses were kept) as names.
fn state(recorded: &[(&str, &[&str])]) -> State {
    let mut state = State::new("p", "dev");
    for (address, dependencies) in recorded {
        let (type_name, name) = address.split_once('.').unwrap();
        state.resources.insert(
            (*address).to_owned(),
            ResourceState {
                type_name: type_name.into(),
                name: name.into(),
                status: Status::Created,
                id: Some(name.into()),
                attributes: Arc::new(Map::new()),
                outputs: Map::new(),
                dependencies: dependencies.iter().map(|d| (*d).to_owned()).collect(),
                protect: false,
                sensitive: Vec::new(),
                region: None,
            },
        );
    }
    state
}

/// Each step as `step address`, with the steps it waits for.
fn order(steps: &Steps) -> Vec<String> {
    let show = |node: usize| {
        let (i, step) = steps.nodes[node];
        format!(
            "{} {}",
            format!("{step:?}").to_lowercase(),
            steps.changes[i].address
        )
    };
    (0..steps.nodes.len())
        .map(|node| {
            let waits: Vec<String> = steps.dependencies[node].iter().map(|&d| show(d)).collect();
            if waits.is_empty() {
                show(node)
            } else {
                format!("{} after {}", show(node), waits.join(", "))
            }
        })
        .collect()
}

#[test]
fn creates_and_updates_run_after_what_they_depend_on_and_no_ops_are_no_steps() {
    let plan = plan(vec![
        change("iam_role.role", Action::Create, &[]),
        change(
            "lambda_function.function",
            Action::Create,
            &["iam_role.role", "log_group.logs"],
        ),
        change("log_group.logs", Action::NoOp, &[]),
        change(
            "lambda_permission.invoke",
            Action::Update,
            &["lambda_function.function"],
        ),
    ]);
    assert_eq!(
        order(&steps(&plan, &state(&[]))),
        [
            "create iam_role.role",
            "create lambda_function.function after create iam_role.role",
            "update lambda_permission.invoke after create lambda_function.function",
        ]
    );
}

#[test]
fn a_delete_waits_for_the_deletes_of_what_depended_on_it() {
    let plan = plan(vec![
        change("dynamodb_table.table", Action::Delete, &[]),
        change("iam_role.role", Action::Delete, &["dynamodb_table.table"]),
        change("log_group.logs", Action::Delete, &[]),
    ]);
    assert_eq!(
        order(&steps(&plan, &state(&[]))),
        [
            "delete dynamodb_table.table after delete iam_role.role",
            "delete iam_role.role",
            "delete log_group.logs",
        ]
    );
}

#[test]
fn a_replacement_deletes_its_old_self_first_and_its_dependents_wait_for_the_new_one() {
    let plan = plan(vec![
        change("log_group.logs", Action::Replace, &[]),
        change(
            "log_metric_filter.errors",
            Action::Update,
            &["log_group.logs"],
        ),
    ]);
    assert_eq!(
        order(&steps(&plan, &state(&[]))),
        [
            "delete log_group.logs",
            "create log_group.logs after delete log_group.logs",
            "update log_metric_filter.errors after create log_group.logs",
        ]
    );
}

#[test]
fn a_replacement_made_before_it_is_destroyed_deletes_once_its_dependents_moved() {
    let plan = plan(vec![
        create_first(change("api_key.key", Action::Replace, &[])),
        change("usage_plan.plan", Action::Update, &["api_key.key"]),
        change("sns_topic.old", Action::Delete, &["api_key.key"]),
    ]);
    assert_eq!(
        order(&steps(&plan, &state(&[]))),
        [
            "create api_key.key",
            "delete api_key.key after create api_key.key, update usage_plan.plan, delete sns_topic.old",
            "delete sns_topic.old",
            "update usage_plan.plan after create api_key.key",
        ]
    );
}

#[test]
fn a_chain_made_new_before_old_creates_each_dependency_first_and_deletes_it_last() {
    // As the planner leaves a chain under a replacement made new before
    // old: the new VPC, route table and endpoint in that order, then the
    // old ones in the reverse.
    let plan = plan(vec![
        create_first(change("vpc.vpc", Action::Replace, &[])),
        create_first(change("route_table.routes", Action::Replace, &["vpc.vpc"])),
        create_first(change(
            "vpc_endpoint.endpoint",
            Action::Replace,
            &["vpc.vpc", "route_table.routes"],
        )),
    ]);
    let steps = steps(&plan, &state(&[]));
    assert_eq!(
        order(&steps),
        [
            "create route_table.routes after create vpc.vpc",
            "delete route_table.routes after create route_table.routes, create vpc_endpoint.endpoint, delete vpc_endpoint.endpoint",
            "create vpc.vpc",
            "delete vpc.vpc after create vpc.vpc, create route_table.routes, create vpc_endpoint.endpoint, delete route_table.routes, delete vpc_endpoint.endpoint",
            "create vpc_endpoint.endpoint after create vpc.vpc, create route_table.routes",
            "delete vpc_endpoint.endpoint after create vpc_endpoint.endpoint",
        ]
    );
    assert_eq!(
        super::super::walk::first_in_cycle(&steps.dependencies),
        None
    );
}

#[test]
fn a_replacement_made_new_before_old_over_one_made_old_first_would_be_a_cycle() {
    // What the planner never leaves: the new endpoint needs the new route
    // table, which needs the old one gone, which needs the old endpoint
    // gone, which needs the new endpoint.
    let plan = plan(vec![
        change("route_table.routes", Action::Replace, &[]),
        create_first(change(
            "vpc_endpoint.endpoint",
            Action::Replace,
            &["route_table.routes"],
        )),
    ]);
    let steps = steps(&plan, &state(&[]));
    assert!(super::super::walk::first_in_cycle(&steps.dependencies).is_some());
}

#[test]
fn what_leaves_the_stack_waits_for_what_the_state_says_depended_on_it() {
    // The role no longer names the table, but its last applied policy did
    // (recorded by address); the subnet's instance recorded it by name.
    let plan = plan(vec![
        change("dynamodb_table.table", Action::Delete, &[]),
        change("iam_role.role", Action::Update, &[]),
        change("subnet.private", Action::Delete, &[]),
        change("db_instance.db", Action::Replace, &[]),
        change("log_group.logs", Action::Create, &[]),
    ]);
    let state = state(&[
        ("dynamodb_table.table", &[]),
        ("iam_role.role", &["dynamodb_table.table"]),
        ("subnet.private", &[]),
        ("db_instance.db", &["private"]),
        ("log_group.logs", &["subnet.private"]),
    ]);
    assert_eq!(
        order(&steps(&plan, &state)),
        [
            "delete db_instance.db",
            "create db_instance.db after delete db_instance.db",
            "delete dynamodb_table.table after update iam_role.role",
            "update iam_role.role",
            "create log_group.logs",
            "delete subnet.private after delete db_instance.db",
        ]
    );
}

/// The order as apply built it before the maps: by scanning every node
/// for every node. Kept to show the maps give the same graph.
fn scanned(plan: &Plan, state: &State) -> Vec<Vec<usize>> {
    let changes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    let nodes = nodes(&changes);
    let find = |address: &str, step: Step| -> Option<usize> {
        nodes
            .iter()
            .position(|(i, s)| changes[*i].address == address && *s == step)
    };
    let mut dependencies = vec![Vec::new(); nodes.len()];
    for (node, (i, step)) in nodes.iter().enumerate() {
        let change = changes[*i];
        match step {
            Step::Create | Step::Update => {
                for dependency in &change.dependencies {
                    if let Some(d) =
                        find(dependency, Step::Create).or_else(|| find(dependency, Step::Update))
                    {
                        dependencies[node].push(d);
                    }
                }
                if *step == Step::Create && !change.create_before_destroy {
                    if let Some(d) = find(&change.address, Step::Delete) {
                        dependencies[node].push(d);
                    }
                }
            }
            Step::Delete => {
                if change.create_before_destroy {
                    if let Some(d) = find(&change.address, Step::Create) {
                        dependencies[node].push(d);
                    }
                    for (other, (j, other_step)) in nodes.iter().enumerate() {
                        if matches!(other_step, Step::Create | Step::Update)
                            && changes[*j].dependencies.contains(&change.address)
                            && other != node
                        {
                            dependencies[node].push(other);
                        }
                    }
                }
                for (other, (j, other_step)) in nodes.iter().enumerate() {
                    if *other_step == Step::Delete
                        && changes[*j].dependencies.contains(&change.address)
                        && other != node
                    {
                        dependencies[node].push(other);
                    }
                }
            }
        }
    }
    for (node, (i, step)) in nodes.iter().enumerate() {
        if *step != Step::Delete || changes[*i].action != Action::Delete {
            continue;
        }
        let leaving = &changes[*i].address;
        for (other, (j, other_step)) in nodes.iter().enumerate() {
            let depended = state
                .resources
                .get(&changes[*j].address)
                .is_some_and(|r| plan::recorded_dependencies(r, state).contains(leaving));
            if other != node
                && depended
                && matches!(other_step, Step::Update | Step::Delete)
                && !dependencies[node].contains(&other)
            {
                dependencies[node].push(other);
            }
        }
    }
    dependencies
}

#[test]
fn the_maps_give_the_graph_that_scanning_gave() {
    let mut random = fastrand::Rng::with_seed(22);
    for round in 0..20 {
        let count = 5 + round * 10;
        let address = |i: usize| format!("log_group.r{i}");
        let mut changes = Vec::new();
        let mut recorded: Vec<(String, Vec<String>)> = Vec::new();
        for i in 0..count {
            let action = [
                Action::NoOp,
                Action::Create,
                Action::Update,
                Action::Replace,
                Action::Delete,
            ][random.usize(..5)];
            // Dependencies on earlier resources only: a plan has no cycle.
            let pick = |random: &mut fastrand::Rng| -> Vec<String> {
                (0..random.usize(..4).min(i))
                    .map(|_| address(random.usize(..i)))
                    .collect()
            };
            let mut change = change(&address(i), action, &[]);
            change.dependencies = pick(&mut random);
            change.create_before_destroy = action == Action::Replace && random.bool();
            changes.push(change);
            if action != Action::Create {
                let mut was = pick(&mut random);
                if random.bool() && i > 0 {
                    was.push(format!("r{}", random.usize(..i)));
                }
                recorded.push((address(i), was));
            }
        }
        let plan = plan(changes);
        let recorded: Vec<(&str, Vec<&str>)> = recorded
            .iter()
            .map(|(a, d)| (a.as_str(), d.iter().map(String::as_str).collect()))
            .collect();
        let entries: Vec<(&str, &[&str])> =
            recorded.iter().map(|(a, d)| (*a, d.as_slice())).collect();
        let state = state(&entries);
        assert_eq!(
            steps(&plan, &state).dependencies,
            scanned(&plan, &state),
            "round {round}"
        );
    }
}
