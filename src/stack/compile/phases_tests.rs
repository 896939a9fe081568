//! Each phase of `load` on its own: small stacks given as text.

use super::*;
use serde_json::json;

fn compiler() -> Compiler {
    Compiler {
        catalog: crate::types::catalog(),
        diagnostics: Vec::new(),
        file: PathBuf::from("stacks/dev.yaml"),
    }
}

fn node(text: &str) -> Node {
    yaml::parse(text).unwrap()
}

fn layer(file: &str, text: &str) -> Layer {
    Layer {
        file: PathBuf::from(file),
        root: node(text),
    }
}

fn merged(layers: &[Layer]) -> (Merged, Compiler) {
    let mut c = compiler();
    let mut merged = Merged::default();
    for layer in layers {
        merge_layer(&mut c, &mut merged, layer);
    }
    (merged, c)
}

/// Each problem as `file:line:column path: message (help)`, in file order.
fn said(diagnostics: &[Diagnostic]) -> Vec<String> {
    in_order(diagnostics.to_vec())
        .0
        .iter()
        .map(|d| {
            let file = d.file.file_name().unwrap_or_default().to_string_lossy();
            let help = d.help.as_ref().map_or(String::new(), |h| format!(" ({h})"));
            format!(
                "{file}:{}:{} {}: {}{help}",
                d.line, d.column, d.path, d.message
            )
        })
        .collect()
}

fn errors(text: &str) -> Vec<String> {
    match from_text(text) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => said(&diagnostics.0),
    }
}

fn stack(text: &str) -> Stack {
    from_text(text).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn a_later_layer_replaces_scalars_and_adds_to_maps() {
    let (merged, c) = merged(&[
        layer(
            "base.yaml",
            "project: p\nregion: eu-west-1\ntags: {team: a}\nstate: {backend: dynamodb, table: t}\n",
        ),
        layer(
            "dev.yaml",
            "extends: base.yaml\nenvironment: dev\nregion: us-east-1\ntags: {cost: 5}\nstate: {key: k}\n",
        ),
    ]);
    assert_eq!(said(&c.diagnostics), Vec::<String>::new());
    let (project, project_file, _) = merged.project.unwrap();
    assert_eq!((project.as_str(), project_file), ("p", "base.yaml".into()));
    assert_eq!(merged.environment.unwrap().0, "dev");
    assert_eq!(merged.region.as_deref(), Some("us-east-1"));
    assert_eq!(
        merged.tags,
        BTreeMap::from([("cost".into(), "5".into()), ("team".into(), "a".into())])
    );
    let state: Vec<(&str, &str)> = merged
        .state
        .iter()
        .map(|(key, (file, _))| (key.as_str(), file.to_str().unwrap()))
        .collect();
    assert_eq!(
        state,
        [
            ("backend", "base.yaml"),
            ("key", "dev.yaml"),
            ("table", "base.yaml")
        ]
    );
    assert_eq!(merged.state_position.unwrap().0, PathBuf::from("dev.yaml"));
}

#[test]
fn a_resource_in_two_layers_is_refused_where_it_comes_again() {
    let resource = "resources:\n  logs:\n    type: log_group\n";
    let (merged, c) = merged(&[
        layer("base.yaml", &format!("project: p\n{resource}")),
        layer("dev.yaml", resource),
    ]);
    assert_eq!(
        said(&c.diagnostics),
        ["dev.yaml:2:3 resources.logs: resource `logs` is already defined in base.yaml"]
    );
    assert_eq!(merged.resources["logs"].0, PathBuf::from("base.yaml"));
}

#[test]
fn drift_ignore_rules_need_a_resource_and_a_reason() {
    let (merged, c) = merged(&[layer(
        "dev.yaml",
        "drift:\n  ignore:\n    - {resource: log_group.*, reason: retention set by hand}\n    - {resource: iam_role.x, attribute: tags}\n",
    )]);
    assert_eq!(
        merged.drift_ignore,
        [super::super::IgnoreRule {
            resource: "log_group.*".into(),
            attribute: "*".into(),
            reason: "retention set by hand".into(),
        }]
    );
    assert_eq!(
        said(&c.diagnostics),
        ["dev.yaml:4:7 drift.ignore.1: an ignore rule needs `resource` (a pattern such as log_group.*) and `reason`"]
    );
    let (_, c) = self::merged(&[layer("dev.yaml", "drift:\n  ignore: everything\n")]);
    assert_eq!(
        said(&c.diagnostics),
        ["dev.yaml:2:11 drift.ignore: expected a list of rules"]
    );
}

#[test]
fn variables_are_mappings_with_a_boolean_sensitive() {
    let (merged, c) = merged(&[layer(
        "dev.yaml",
        "variables:\n  size: 3\n  token: {sensitive: yes}\n  limit: {default: 5, sensitive: true}\n",
    )]);
    assert_eq!(
        said(&c.diagnostics),
        [
            "dev.yaml:2:9 variables.size: a variable is declared as a mapping with `default`, `description`, `sensitive` (set values in `values:`)",
            "dev.yaml:3:22 variables.token.sensitive: expected a boolean",
        ]
    );
    let names: Vec<&str> = merged.variables.keys().map(String::as_str).collect();
    assert_eq!(names, ["limit", "token"]);
    assert!(merged.variables["limit"].sensitive);
    assert_eq!(merged.variables["limit"].value, Some(json!(5)));
    assert!(!merged.variables["token"].sensitive);
}

#[test]
fn values_then_overrides_set_the_variables() {
    let (mut merged, mut c) = merged(&[
        layer(
            "base.yaml",
            "variables:\n  size: {default: 1}\n  name: {}\n  label: {default: text}\n",
        ),
        layer("dev.yaml", "values:\n  name: chat\n"),
    ]);
    let overrides = VariableOverrides::from([
        ("size".to_owned(), "5".to_owned()),
        ("label".to_owned(), "7".to_owned()),
    ]);
    let values = std::mem::take(&mut merged.values);
    set_values(
        &mut c,
        Path::new("dev.yaml"),
        &mut merged.variables,
        values,
        &overrides,
    );
    assert_eq!(said(&c.diagnostics), Vec::<String>::new());
    let value = |name: &str| merged.variables[name].value.clone().unwrap();
    // An override takes the kind of the default it replaces.
    assert_eq!(
        (value("size"), value("label"), value("name")),
        (json!(5), json!("7"), json!("chat"))
    );
    assert_eq!(
        merged.variables["name"].set_at,
        Some(SetAt::File(
            PathBuf::from("dev.yaml"),
            Position { line: 2, column: 9 }
        ))
    );
    assert_eq!(merged.variables["size"].set_at, Some(SetAt::Flag));
}

#[test]
fn a_value_for_no_variable_and_a_variable_without_value_are_refused() {
    let (mut merged, mut c) = merged(&[layer(
        "dev.yaml",
        "variables:\n  limit: {}\nvalues:\n  limt: 3\n",
    )]);
    let values = std::mem::take(&mut merged.values);
    let overrides = VariableOverrides::from([("nope".to_owned(), "1".to_owned())]);
    set_values(
        &mut c,
        Path::new("dev.yaml"),
        &mut merged.variables,
        values,
        &overrides,
    );
    assert_eq!(
        said(&c.diagnostics),
        [
            "dev.yaml:0:0 --var nope: no variable `nope` is declared",
            "dev.yaml:2:3 variables.limit: variable `limit` has no default and no value (set it in `values:`, with --var limit=..., or CAIRN_VAR_limit)",
            "dev.yaml:4:3 values.limt: no variable `limt` is declared (did you mean `limit`?)",
        ]
    );
}

#[test]
fn the_environment_is_named_by_the_file_unless_it_says() {
    let mut c = compiler();
    let project = Some((
        "p".to_owned(),
        PathBuf::from("base.yaml"),
        Position::default(),
    ));
    let file = Path::new("stacks/staging.yaml");
    assert_eq!(
        naming(&mut c, file, project.clone(), None),
        Some(("p".to_owned(), "staging".to_owned()))
    );
    let environment = Some((
        "dev".to_owned(),
        PathBuf::from("dev.yaml"),
        Position::default(),
    ));
    assert_eq!(
        naming(&mut c, file, project, environment),
        Some(("p".to_owned(), "dev".to_owned()))
    );
    assert!(c.diagnostics.is_empty());
}

#[test]
fn an_environment_too_long_to_name_anything_stops_compiling() {
    let mut c = compiler();
    let project = Some((
        "p".to_owned(),
        PathBuf::from("dev.yaml"),
        Position::default(),
    ));
    let long = "e".repeat(65);
    let at = Position {
        line: 2,
        column: 14,
    };
    let environment = Some((long, PathBuf::from("dev.yaml"), at));
    assert_eq!(
        naming(&mut c, Path::new("dev.yaml"), project, environment),
        None
    );
    assert_eq!(
        said(&c.diagnostics),
        ["dev.yaml:2:14 environment: environment `eeeeeeeeeeeeeeee…` is 65 characters long; it may have at most 64 (every default name is `{project}-{env}-{name}`, and AWS allows 64 characters in a role's or a function's name)"]
    );
}

#[test]
fn a_missing_project_and_an_environment_of_other_characters_are_refused() {
    let mut c = compiler();
    let environment = Some((
        "dev_1".to_owned(),
        PathBuf::from("dev.yaml"),
        Position {
            line: 1,
            column: 14,
        },
    ));
    assert_eq!(
        naming(&mut c, Path::new("dev.yaml"), None, environment),
        Some((String::new(), "unnamed".to_owned()))
    );
    assert_eq!(
        said(&c.diagnostics),
        ["dev.yaml:1:1 project: a stack needs `project` (in the file or a file it extends)"]
    );
    let mut c = compiler();
    let project = Some((
        "Chat".to_owned(),
        PathBuf::from("dev.yaml"),
        Position {
            line: 1,
            column: 10,
        },
    ));
    let environment = Some((
        "dev_1".to_owned(),
        PathBuf::from("dev.yaml"),
        Position {
            line: 2,
            column: 14,
        },
    ));
    naming(&mut c, Path::new("dev.yaml"), project, environment);
    assert_eq!(
        said(&c.diagnostics),
        [
            "dev.yaml:1:10 project: `Chat` must be 1 to 32 lowercase letters, digits and -, starting with a letter (it becomes part of every resource name)",
            "dev.yaml:2:14 environment: environment `dev_1` must be letters, digits and -",
        ]
    );
}

#[test]
fn a_resource_gets_its_default_name_the_stacks_tags_and_cairns() {
    let stack = stack(
        "project: p\nenvironment: dev\ntags: {team: chat}\nresources:\n  app_logs:\n    type: log_group\n    properties:\n      tags: {team: web}\n",
    );
    let logs = &stack.resources[0];
    assert_eq!(logs.properties["name"], json!("/p/dev/app-logs"));
    assert_eq!(logs.properties["retention_in_days"], json!(0));
    assert_eq!(
        logs.properties["tags"],
        json!({"team": "web", "cairn:stack": "p", "cairn:environment": "dev", "cairn:address": "log_group.app_logs"})
    );
    assert!(!logs.protect);
    assert_eq!((logs.line, logs.column), (5, 3));
}

#[test]
fn references_and_depends_on_become_sorted_dependencies() {
    let stack = stack(
        "project: p\nenvironment: dev\nresources:\n  key:\n    type: kms_key\n  alpha:\n    type: log_group\n  logs:\n    type: log_group\n    depends_on: [key, alpha]\n    properties:\n      kms_key_arn: ${key.arn}\n",
    );
    let logs = stack.resource("logs").unwrap();
    assert_eq!(logs.depends_on, ["alpha", "key"]);
    assert_eq!(logs.properties["kms_key_arn"], json!("${key.arn}"));
}

#[test]
fn production_protects_what_holds_data_unless_the_stack_says() {
    let table = "    type: dynamodb_table\n    properties:\n      hash_key: {name: pk, type: S}\n";
    let stack = stack(&format!(
        "project: p\nenvironment: prod\nresources:\n  kept:\n{table}  free:\n{table}    protect: false\n  logs:\n    type: log_group\n"
    ));
    let protect: Vec<(&str, bool)> = stack
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.protect))
        .collect();
    assert_eq!(protect, [("free", false), ("kept", true), ("logs", false)]);
}

#[test]
fn a_secret_marks_only_its_field_and_its_own_entries_sensitive() {
    let stack = stack(
        "project: p\nenvironment: dev\nvariables:\n  password: {default: hunter2, sensitive: true}\nresources:\n  role:\n    type: iam_role\n    properties:\n      assume_role_services: [lambda.amazonaws.com]\n  function:\n    type: lambda_function\n    properties:\n      code: { zip: f.zip }\n      role_arn: ${role.arn}\n      environment:\n        DB_PASSWORD: ${var.password}\n        REGION: eu-west-1\n",
    );
    let function = stack.resource("function").unwrap();
    assert_eq!(function.sensitive, ["environment"]);
    assert_eq!(function.sensitive_keys, ["environment.DB_PASSWORD"]);
    assert_eq!(stack.secrets, ["hunter2"]);
    assert!(stack.resource("role").unwrap().sensitive.is_empty());
}

#[test]
fn a_resource_of_no_known_type_or_name_is_refused() {
    assert_eq!(
        errors("project: p\nenvironment: dev\nresources:\n  logs:\n    type: log_grup\n  var:\n    type: log_group\n  ok:\n    properties: {}\n"),
        [
            "dev.yaml:5:11 resources.logs.type: unknown resource type `log_grup` (did you mean `log_group`?)",
            "dev.yaml:6:3 resources.var: resource name `var` must be letters, digits and _, start with a letter, and not be one of var, aws, project, env, stack, import, each, lookup",
            &format!("dev.yaml:9:5 resources.ok: missing required field `type` (types: {})", crate::types::catalog().type_names().join(", ")),
        ]
    );
}

#[test]
fn the_stack_cannot_write_cairns_own_tags() {
    assert_eq!(
        errors("project: p\nenvironment: dev\nresources:\n  logs:\n    type: log_group\n    properties:\n      tags:\n        \"cairn:stack\": other\n"),
        ["dev.yaml:8:24 resources.logs.properties.tags.cairn:stack: tag keys starting with `cairn:` are cairn's ownership tags"]
    );
}

#[test]
fn an_output_made_from_a_secret_is_sensitive() {
    let stack = stack(
        "project: p\nenvironment: dev\nvariables:\n  token: {default: t0k3n, sensitive: true}\nresources:\n  logs:\n    type: log_group\noutputs:\n  plain: ${logs.arn}\n  described: {value: \"${var.token}\", description: the token}\n",
    );
    let outputs: Vec<(&str, &Value, &str, bool)> = stack
        .outputs
        .iter()
        .map(|(name, o)| (name.as_str(), &o.value, o.description.as_str(), o.sensitive))
        .collect();
    assert_eq!(
        outputs,
        [
            ("described", &json!("t0k3n"), "the token", true),
            ("plain", &json!("${logs.arn}"), "", false),
        ]
    );
    assert_eq!(
        errors("project: p\nenvironment: dev\noutputs:\n  nothing: {description: x}\n"),
        ["dev.yaml:4:12 outputs.nothing: an output needs `value`"]
    );
}

#[test]
fn a_dependency_cycle_is_reported_as_the_path_around_it() {
    assert_eq!(
        errors("project: p\nenvironment: dev\nresources:\n  first:\n    type: log_group\n    depends_on: [second]\n  second:\n    type: log_group\n    depends_on: [first]\n"),
        ["dev.yaml:4:3 resources.first: dependency cycle: log_group.first -> log_group.second -> log_group.first (remove one of these references or depends_on entries)"]
    );
}

#[test]
fn two_resources_that_would_be_one_aws_object_are_refused() {
    let role = |name: &str| {
        format!("    type: iam_role\n    properties: {{name: {name}, assume_role_services: [lambda.amazonaws.com]}}\n")
    };
    assert_eq!(
        errors(&format!("project: p\nenvironment: dev\nresources:\n  a:\n{}  b:\n{}", role("Same"), role("same"))),
        ["dev.yaml:7:3 resources.b.properties.name: `a` and `b` would be the same AWS resource (iam_role same) (give one of them another `name` (dev.yaml defines the first at line 4))"]
    );
}

#[test]
fn a_subnet_outside_its_vpc_or_over_another_is_refused() {
    let subnet = |block: &str| {
        format!("    type: subnet\n    properties: {{vpc_id: \"${{network.id}}\", cidr_block: {block}, availability_zone: eu-west-1a}}\n")
    };
    assert_eq!(
        errors(&format!(
            "project: p\nenvironment: dev\nresources:\n  network:\n    type: vpc\n    properties: {{cidr_block: 10.0.0.0/16}}\n  a:\n{}  b:\n{}  c:\n{}",
            subnet("10.0.0.0/24"),
            subnet("10.0.0.128/25"),
            subnet("10.1.0.0/24"),
        )),
        [
            "dev.yaml:10:3 resources.b.properties.cidr_block: 10.0.0.128/25 overlaps subnet `a` (10.0.0.0/24) (subnets of one VPC cannot share addresses (dev.yaml defines `a` at line 7))",
            "dev.yaml:13:3 resources.c.properties.cidr_block: 10.1.0.0/24 is outside VPC `network`'s block 10.0.0.0/16 (AWS refuses a subnet outside its VPC (dev.yaml defines the VPC at line 4))",
        ]
    );
}

#[test]
fn a_dynamodb_backend_is_keyed_by_project_and_environment_unless_told() {
    let stack =
        stack("project: p\nenvironment: dev\nstate: {backend: dynamodb, table: cairn-state}\n");
    assert_eq!(
        stack.state,
        Some(super::super::StateBackend {
            table: "cairn-state".into(),
            key: "p/dev".into(),
            region: None,
            lock_lease_seconds: 120,
            keep_versions: 100,
        })
    );
    let local = self::stack("project: p\nenvironment: dev\nstate: {backend: local}\n");
    assert_eq!(local.state, None);
}

#[test]
fn a_backend_unknown_or_without_what_it_needs_is_refused() {
    assert_eq!(
        errors("project: p\nenvironment: dev\nstate: {backend: dynamo}\n"),
        ["dev.yaml:3:18 state.backend: unknown state backend `dynamo` (did you mean `dynamodb`?)"]
    );
    assert_eq!(
        errors("project: p\nenvironment: dev\nstate: {backend: dynamodb, lock_lease_seconds: 5}\n"),
        [
            "dev.yaml:3:8 state.table: the dynamodb backend needs `table` (create one with: cairn state init-backend ENV)",
            "dev.yaml:3:48 state.lock_lease_seconds: lock_lease_seconds must be between 10 and 3600, got 5",
        ]
    );
    assert_eq!(
        errors("project: p\nenvironment: dev\nstate: {table: t}\n"),
        ["dev.yaml:3:8 state.backend: `backend` is missing (backend: dynamodb (shared) or backend: local (files in --state-dir))"]
    );
}

#[test]
fn the_hash_follows_what_the_stack_asks_for_and_nothing_else() {
    let text = |retention: u32, description: &str| {
        format!("project: p\nenvironment: dev\ndescription: {description}\nresources:\n  logs:\n    type: log_group\n    properties: {{retention_in_days: {retention}}}\noutputs:\n  arn: {{value: \"${{logs.arn}}\", description: {description}}}\n")
    };
    let hash = |retention, description| stack(&text(retention, description)).hash;
    assert_eq!(hash(7, "one"), hash(7, "one"));
    assert_eq!(hash(7, "one"), hash(7, "two"));
    assert_ne!(hash(7, "one"), hash(14, "one"));
    assert_eq!(hash(7, "one").len(), 64);
}

fn scope_test<T>(test: impl FnOnce(&Scope, &mut Compiler) -> T) -> (T, Vec<String>) {
    let variables = BTreeMap::from([(
        "port".to_owned(),
        Variable {
            value: Some(json!(8080)),
            sensitive: false,
            declared: (PathBuf::from("dev.yaml"), Position { line: 2, column: 3 }),
            set_at: Some(SetAt::File(
                PathBuf::from("values.yaml"),
                Position { line: 3, column: 9 },
            )),
        },
    )]);
    let types = BTreeMap::new();
    let lookups = BTreeMap::new();
    let scope = Scope {
        project: "p",
        environment: "dev",
        variables: &variables,
        types: &types,
        region: None,
        imports: None,
        expansion: &expand::Expansion::default(),
        each: None,
        lookups: &lookups,
    };
    let mut c = compiler();
    let result = test(&scope, &mut c);
    (result, said(&c.diagnostics))
}

fn value_of(text: &str, kind: Kind) -> (Option<Value>, Vec<String>) {
    scope_test(|scope, c| scope.value(c, &node(text), kind, "properties.field", &mut false))
}

#[test]
fn a_value_of_another_kind_names_what_it_found() {
    assert_eq!(value_of("3", Kind::Int), (Some(json!(3)), vec![]));
    assert_eq!(
        value_of("${var.port}", Kind::Int),
        (Some(json!(8080)), vec![])
    );
    assert_eq!(
        value_of("three", Kind::Int).1,
        ["dev.yaml:1:1 properties.field: expected an integer, found a string"]
    );
    assert_eq!(
        value_of("[1]", Kind::Bool).1,
        ["dev.yaml:1:1 properties.field: expected a boolean, found a list"]
    );
    assert_eq!(
        value_of("${var.port}", Kind::StrList).1,
        ["dev.yaml:1:1 properties.field: expected a list of strings, found an integer"]
    );
    assert_eq!(
        value_of("[a, [b]]", Kind::StrList).1,
        ["dev.yaml:1:5 properties.field.1: expected a string, found a list"]
    );
    assert_eq!(value_of("2.5", Kind::Float), (Some(json!(2.5)), vec![]));
    assert_eq!(
        value_of("a: {b: 1}", Kind::Json),
        (Some(json!({"a": {"b": 1}})), vec![])
    );
    assert_eq!(
        value_of("[x]", Kind::Policy).1,
        ["dev.yaml:1:1 properties.field: expected a policy document (mapping), found a list"]
    );
    assert_eq!(value_of("", Kind::PolicyMap), (Some(json!({})), vec![]));
}

#[test]
fn a_map_takes_numbers_as_text_where_a_string_field_does_not() {
    assert_eq!(
        value_of(
            "{PORT: 8080, DEBUG: true, URL: \"${var.port}\"}",
            Kind::StrMap
        ),
        (
            Some(json!({"PORT": "8080", "DEBUG": "true", "URL": "8080"})),
            vec![]
        )
    );
    assert_eq!(
        value_of("1.50", Kind::Str).1,
        ["dev.yaml:1:1 properties.field: expected a string, found a number (`1.5`) (AWS takes text here: quote it (\"1.5\") if that is what you mean)"]
    );
    // A variable's value of the wrong kind points at where it was set.
    assert_eq!(
        value_of("${var.port}", Kind::Str).1,
        ["dev.yaml:1:1 properties.field: expected a string, found an integer (`8080`) (`var.port` is set at values.yaml:3:9)"]
    );
}

#[test]
fn a_list_of_mappings_refuses_an_item_of_another_kind() {
    static FIELDS: &[Field] = &[Field::new("name", Kind::Str).required()];
    assert_eq!(
        value_of("[{name: a}, b]", Kind::ObjectList(FIELDS)).1,
        ["dev.yaml:1:13 properties.field.1: expected a mapping, found a string"]
    );
    assert_eq!(
        value_of("[{name: a}, {name: b}]", Kind::ObjectList(FIELDS)),
        (Some(json!([{"name": "a"}, {"name": "b"}])), vec![])
    );
    assert_eq!(
        value_of("[{nam: a}]", Kind::ObjectList(FIELDS)).1,
        [
            "dev.yaml:1:2 properties.field.0: missing required field `name`",
            "dev.yaml:1:3 properties.field.0.nam: unknown field `nam` (did you mean `name`?)",
        ]
    );
}

/// `CAIRN_VAR_name` for a variable this stack does not declare is left
/// alone (the environment is shared by every stack of a job, as with
/// Terraform's `TF_VAR_`); a `--var` of that name is still refused.
#[test]
fn an_environment_value_for_no_variable_is_ignored_and_a_flag_is_not() {
    let (mut merged, mut c) = merged(&[layer("dev.yaml", "variables:\n  limit: {default: 1}\n")]);
    let mut overrides = VariableOverrides::new();
    overrides.insert_from_environment("database_url".into(), "postgres://x".into());
    overrides.insert_from_environment("limit".into(), "4".into());
    let values = std::mem::take(&mut merged.values);
    set_values(
        &mut c,
        Path::new("dev.yaml"),
        &mut merged.variables,
        values,
        &overrides,
    );
    assert_eq!(said(&c.diagnostics), Vec::<String>::new());
    assert_eq!(merged.variables["limit"].value, Some(serde_json::json!(4)));

    overrides.insert("database_url".into(), "postgres://x".into());
    let values = std::mem::take(&mut merged.values);
    set_values(
        &mut c,
        Path::new("dev.yaml"),
        &mut merged.variables,
        values,
        &overrides,
    );
    assert_eq!(
        said(&c.diagnostics),
        ["dev.yaml:0:0 --var database_url: no variable `database_url` is declared"]
    );
}

const ZONES: &str = r#"project: p
environment: dev
variables:
  zones: { default: [us-east-1a, us-east-1b] }
  enable_nat: { default: false }
resources:
  vpc: { type: vpc, properties: { cidr_block: 10.0.0.0/16 } }
  private:
    type: subnet
    for_each:
      us-east-1a: { cidr: 10.0.1.0/24 }
      us-east-1b: { cidr: 10.0.2.0/24 }
    properties:
      vpc_id: ${vpc.id}
      cidr_block: ${each.value.cidr}
      availability_zone: ${each.key}
  routes:
    type: route_table
    for_each: ${var.zones}
    properties:
      vpc_id: ${vpc.id}
      subnet_ids: ["${private[each.key].id}"]
  logs:
    type: log_group
    for_each: [api, worker]
    properties: { retention_in_days: 7 }
  nat:
    type: nat_gateway
    when: ${var.enable_nat}
    properties: { subnet_id: '${private["us-east-1a"].id}', connectivity_type: private }
  endpoint:
    type: vpc_endpoint
    depends_on: [routes]
    properties:
      vpc_id: ${vpc.id}
      service_name: com.amazonaws.us-east-1.dynamodb
      route_table_ids: ${routes[*].id}
outputs:
  subnets: ${private[*].id}
  nat: { value: "${nat.id}", when: "${var.enable_nat}" }
"#;

#[test]
fn for_each_makes_one_resource_per_key_addressed_by_it() {
    let stack = stack(ZONES);
    let addresses: Vec<String> = stack.resources.iter().map(|r| r.address()).collect();
    assert_eq!(
        addresses,
        [
            "vpc_endpoint.endpoint",
            r#"log_group.logs["api"]"#,
            r#"log_group.logs["worker"]"#,
            r#"subnet.private["us-east-1a"]"#,
            r#"subnet.private["us-east-1b"]"#,
            r#"route_table.routes["us-east-1a"]"#,
            r#"route_table.routes["us-east-1b"]"#,
            "vpc.vpc",
        ]
    );
    let subnet = stack.resource(r#"private["us-east-1b"]"#).unwrap();
    assert_eq!(subnet.properties["cidr_block"], json!("10.0.2.0/24"));
    assert_eq!(subnet.properties["availability_zone"], json!("us-east-1b"));
    assert_eq!(
        subnet.properties["tags"]["cairn:address"],
        json!("subnet.private/us-east-1b")
    );
    assert_eq!(
        subnet.properties["tags"]["Name"],
        json!("p-dev-private-us-east-1b")
    );
    let routes = stack.resource(r#"routes["us-east-1b"]"#).unwrap();
    assert_eq!(
        routes.properties["subnet_ids"],
        json!([r#"${private["us-east-1b"].id}"#])
    );
    assert_eq!(routes.depends_on, [r#"private["us-east-1b"]"#, "vpc"]);
    let logs = stack.resource(r#"logs["worker"]"#).unwrap();
    assert_eq!(logs.properties["name"], json!("/p/dev/logs-worker"));
    let endpoint = stack.resource("endpoint").unwrap();
    assert_eq!(
        endpoint.properties["route_table_ids"],
        json!([
            r#"${routes["us-east-1a"].id}"#,
            r#"${routes["us-east-1b"].id}"#
        ])
    );
    assert_eq!(
        endpoint.depends_on,
        [r#"routes["us-east-1a"]"#, r#"routes["us-east-1b"]"#, "vpc"]
    );
    assert_eq!(
        stack.outputs["subnets"].value,
        json!([
            r#"${private["us-east-1a"].id}"#,
            r#"${private["us-east-1b"].id}"#
        ])
    );
    assert!(stack.resource("nat").is_none());
    assert!(!stack.outputs.contains_key("nat"));
}

#[test]
fn a_flag_that_holds_keeps_the_resource_and_its_output() {
    let stack = stack(&ZONES.replace(
        "enable_nat: { default: false }",
        "enable_nat: { default: true }",
    ));
    assert!(stack.resource("nat").is_some());
    assert!(stack.outputs.contains_key("nat"));
}

#[test]
fn what_refers_to_an_absent_resource_is_refused_naming_the_flag() {
    let text = ZONES.replace(
        "  nat: { value: \"${nat.id}\", when: \"${var.enable_nat}\" }\n",
        "  nat: ${nat.id}\n",
    ) + "  # end\n";
    let text = text.replace(
        "  endpoint:\n    type: vpc_endpoint\n    depends_on: [routes]",
        "  endpoint:\n    type: vpc_endpoint\n    depends_on: [routes, nat]",
    );
    assert_eq!(
        errors(&text),
        [
            "dev.yaml:33:26 resources.endpoint.depends_on.1: `nat` is absent: its `when: ${var.enable_nat}` is false (give what refers to it the same `when` (dev.yaml sets it at line 29))",
            "dev.yaml:40:8 outputs.nat: `nat` is absent: its `when: ${var.enable_nat}` is false (give what refers to it the same `when` (dev.yaml sets it at line 29))",
        ]
    );
}

#[test]
fn for_each_and_when_are_refused_with_why() {
    let cases = [
        (
            "  a: { type: log_group, for_each: '${b.arn}' }\n  b: { type: log_group }\n",
            "dev.yaml:4:35 resources.a.for_each: `for_each` must be known when planning, and `${b.arn}` is not: a resource's attributes are known only after apply (use a variable (set per environment in `values:`) or write the value)",
        ),
        (
            "  a: { type: log_group, for_each: [x, y, x] }\n",
            "dev.yaml:4:42 resources.a.for_each.2: duplicate `for_each` key `x` (each instance needs its own key)",
        ),
        (
            "  a: { type: log_group, for_each: [x, 5] }\n",
            "dev.yaml:4:39 resources.a.for_each.1: `for_each` keys are strings: this one is an integer (`5`) (quote it, or use a mapping with string keys)",
        ),
        (
            "  a: { type: log_group, for_each: ['a b'] }\n",
            "dev.yaml:4:36 resources.a.for_each.0: `for_each` key `a b` must be 1 to 64 letters, digits and _ . : / = + @ - (a key is part of the instance's address and of its ownership tag)",
        ),
        (
            "  a: { type: log_group, for_each: 5 }\n",
            "dev.yaml:4:35 resources.a.for_each: `for_each` takes a list of strings or a mapping, found an integer",
        ),
        (
            "  a: { type: log_group, properties: { name: '${each.key}' } }\n",
            "dev.yaml:4:45 resources.a.properties.name: `each.key` is known only in a resource or a block with `for_each` (add `for_each:` to this resource, or write the value itself)",
        ),
        (
            "  a: { type: log_group, when: 'yes' }\n",
            "dev.yaml:4:31 resources.a.when: `when` is a condition: expected a boolean, found a string (`yes`) (write `when: ${var.NAME}` with a boolean variable, or true/false)",
        ),
        (
            "  a: { type: log_group, for_each: [x], properties: { name: '${each.value.n}' } }\n",
            "dev.yaml:4:60 resources.a.properties.name: `each.value` of key `x` has no field `n` (it is a string)",
        ),
        (
            "  a: { type: log_group, for_each: [x] }\n  b: { type: log_group, properties: { name: '${a.name}' } }\n",
            "dev.yaml:5:45 resources.b.properties.name: `a` has `for_each`: name one instance or all of them (write `${a[\"KEY\"].ATTRIBUTE}` or `${a[*].ATTRIBUTE}`)",
        ),
        (
            "  a: { type: log_group, for_each: [x] }\n  b: { type: log_group, properties: { name: '${a[\"y\"].name}' } }\n",
            "dev.yaml:5:45 resources.b.properties.name: `a` has no instance `y` (did you mean `x`?)",
        ),
        (
            "  a: { type: log_group, for_each: [x] }\n  b: { type: log_group, properties: { name: '${a[*].name}-x' } }\n",
            "dev.yaml:5:45 resources.b.properties.name: `[*]` makes a list: it can be a whole value, not part of a text (name one instance, `${name[\"KEY\"].attribute}`)",
        ),
    ];
    let said: Vec<Vec<String>> = cases
        .iter()
        .map(|(resources, _)| {
            errors(&format!(
                "project: p\nenvironment: dev\nresources:\n{resources}"
            ))
        })
        .collect();
    let expected: Vec<Vec<String>> = cases.iter().map(|(_, e)| vec![e.to_string()]).collect();
    assert_eq!(said, expected);
}

#[test]
fn moves_name_addresses_the_stack_no_longer_has_and_ones_it_has() {
    let base = "project: p\nenvironment: dev\nresources:\n  api_logs: { type: log_group }\n  zone: { type: log_group, for_each: [a] }\nmoved:\n";
    let stack = stack(&format!(
        "{base}  - {{from: log_group.logs, to: log_group.api_logs}}\n  - {{from: log_group.old, to: 'log_group.zone[\"a\"]'}}\n"
    ));
    let moves: Vec<(&str, &str)> = stack
        .moved
        .iter()
        .map(|m| (m.from.as_str(), m.to.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            ("log_group.logs", "log_group.api_logs"),
            ("log_group.old", r#"log_group.zone["a"]"#)
        ]
    );
    for (moves, expected) in [
        (
            "  - {from: log_group.logs, to: log_group.api_log}\n",
            "dev.yaml:7:32 moved.0.to: `log_group.api_log` is not in the stack: a move's `to` is a resource of it (did you mean `log_group.api_logs`?)",
        ),
        (
            "  - {from: log_group.api_logs, to: 'log_group.zone[\"a\"]'}\n",
            "dev.yaml:7:12 moved.0.from: `log_group.api_logs` is still in the stack: a move's `from` is an address it no longer has (remove the move, or rename the resource)",
        ),
        (
            "  - {from: subnet.logs, to: log_group.api_logs}\n",
            "dev.yaml:7:29 moved.0.to: a move keeps the type: `subnet.logs` is a subnet, `log_group.api_logs` a log_group",
        ),
        (
            "  - {from: logs, to: log_group.api_logs}\n",
            "dev.yaml:7:12 moved.0.from: `logs` is not an address: an address is `TYPE.NAME` or `TYPE.NAME[\"KEY\"]`",
        ),
    ] {
        assert_eq!(errors(&format!("{base}{moves}")), [expected], "{moves}");
    }
}

/// A chain moves its first address straight to its last (a stack behind
/// by two renames catches up); a circle is refused. A move into what this
/// environment leaves out (a false `when`, a key its `for_each` lacks) is
/// kept, not refused: another environment has it.
#[test]
fn moves_chain_and_may_end_where_this_environment_has_nothing() {
    let base = "project: p\nenvironment: dev\nvariables:\n  audit: { default: false }\nresources:\n  c: { type: log_group }\n  audit: { type: log_group, when: '${var.audit}' }\n  zone: { type: log_group, for_each: [a] }\nmoved:\n";
    let stack = stack(&format!(
        "{base}  - {{from: log_group.b, to: log_group.c}}\n  - {{from: log_group.a, to: log_group.b}}\n  - {{from: log_group.audit_logs, to: log_group.audit}}\n  - {{from: log_group.old, to: 'log_group.zone[\"b\"]'}}\n"
    ));
    let moves: Vec<(&str, &str)> = stack
        .moved
        .iter()
        .map(|m| (m.from.as_str(), m.to.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            ("log_group.b", "log_group.c"),
            ("log_group.a", "log_group.c"),
            ("log_group.audit_logs", "log_group.audit"),
            ("log_group.old", r#"log_group.zone["b"]"#)
        ]
    );
    assert_eq!(
        errors(&format!(
            "{base}  - {{from: log_group.x, to: log_group.y}}\n  - {{from: log_group.y, to: log_group.x}}\n"
        )),
        [
            "dev.yaml:10:12 moved.0.from: the moves from `log_group.x` go round in a circle (each address may be the `to` of one move and the `from` of one)",
            "dev.yaml:11:12 moved.1.from: the moves from `log_group.y` go round in a circle (each address may be the `to` of one move and the `from` of one)",
        ]
    );
    // A chain's end that is not in the stack is said at that move.
    assert_eq!(
        errors(&format!(
            "{base}  - {{from: log_group.x, to: log_group.y}}\n  - {{from: log_group.y, to: log_group.z}}\n"
        )),
        ["dev.yaml:11:29 moved.1.to: `log_group.z` is not in the stack: a move's `to` is a resource of it (did you mean `log_group.c`?)"]
    );
}

const GROUP: &str = "project: p\nenvironment: dev\nvariables:\n  ports: { default: [443, 80] }\n  peers: { default: { office: 10.1.0.0/16, home: 10.2.0.0/16 } }\n  zones: { default: [a, b] }\nresources:\n  vpc: { type: vpc, properties: { cidr_block: 10.0.0.0/16 } }\n";

/// The properties of `web`, a security group whose `ingress` is written.
fn web_ingress(ingress: &str) -> Value {
    let stack = stack(&format!(
        "{GROUP}  web:\n    type: security_group\n    properties:\n      vpc_id: ${{vpc.id}}\n      ingress:\n{ingress}"
    ));
    let web = stack.resources.iter().find(|r| r.name == "web").unwrap();
    web.properties["ingress"].clone()
}

fn rule(port: i64, cidr: &str, description: &str) -> Value {
    json!({"protocol": "tcp", "from_port": port, "to_port": port, "cidr_ipv4": cidr,
        "cidr_ipv6": "", "security_group_id": "", "prefix_list_id": "", "description": description})
}

#[test]
fn a_block_makes_one_item_per_element_in_the_plain_list() {
    // Over a list: `each.value` keeps its kind (a port is a number).
    assert_eq!(
        web_ingress(
            "        for_each: ${var.ports}\n        content: { from_port: '${each.value}', to_port: '${each.value}', cidr_ipv4: 0.0.0.0/0, description: 'rule ${each.key}' }\n"
        ),
        json!([rule(443, "0.0.0.0/0", "rule 0"), rule(80, "0.0.0.0/0", "rule 1")])
    );
    // Over a mapping, in key order, beside a plain item.
    assert_eq!(
        web_ingress(
            "        - { from_port: 22, to_port: 22, cidr_ipv4: 10.9.0.0/16, description: ssh }\n        - for_each: ${var.peers}\n          content: { from_port: 443, to_port: 443, cidr_ipv4: '${each.value}', description: '${each.key}' }\n"
        ),
        json!([
            rule(22, "10.9.0.0/16", "ssh"),
            rule(443, "10.2.0.0/16", "home"),
            rule(443, "10.1.0.0/16", "office")
        ])
    );
    // An empty list makes no item.
    assert_eq!(
        web_ingress("        for_each: []\n        content: { from_port: 1 }\n"),
        json!([])
    );
}

#[test]
fn a_block_in_a_resource_with_for_each_may_use_the_instance_s_each() {
    let stack = stack(&format!(
        "{GROUP}  web:\n    type: security_group\n    for_each: {{ a: [1, 2], b: [3] }}\n    properties:\n      vpc_id: ${{vpc.id}}\n      ingress:\n        for_each: ${{each.value}}\n        content: {{ from_port: '${{each.value}}', to_port: '${{each.value}}', cidr_ipv4: 0.0.0.0/0 }}\n"
    ));
    let ports: Vec<(String, Vec<i64>)> = stack
        .resources
        .iter()
        .filter(|r| r.type_name() == "security_group")
        .map(|r| {
            let ports = r.properties["ingress"].as_array().unwrap();
            (
                r.name.clone(),
                ports
                    .iter()
                    .map(|p| p["from_port"].as_i64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            (r#"web["a"]"#.to_owned(), vec![1, 2]),
            (r#"web["b"]"#.to_owned(), vec![3])
        ]
    );
}

#[test]
fn blocks_are_refused_with_file_line_and_field() {
    let cases = [
        (
            "        for_each: ${vpc.id}\n        content: { from_port: 1 }\n",
            "dev.yaml:14:19 resources.web.properties.ingress.for_each: `for_each` must be known when planning, and `${vpc.id}` is not: a resource's attributes are known only after apply (use a variable (set per environment in `values:`) or write the value)",
        ),
        (
            "        for_each: ${var.ports}\n",
            "dev.yaml:14:9 resources.web.properties.ingress: a block with `for_each` needs `content`: the item made for each element",
        ),
        (
            "        for_each: ${var.ports}\n        content: { from_port: 1 }\n        to_port: 2\n",
            "dev.yaml:16:9 resources.web.properties.ingress.to_port: unknown field `to_port` (expected one of: for_each, content)",
        ),
        (
            "        for_each: ${var.ports}\n        content: { from_port: 1, to_port: 2 }\n",
            "dev.yaml:15:18 resources.web.properties.ingress.0: a rule names exactly one of cidr_ipv4, cidr_ipv6, security_group_id, prefix_list_id (found 0)",
        ),
        (
            "        for_each: 5\n        content: { from_port: 1 }\n",
            "dev.yaml:14:19 resources.web.properties.ingress.for_each: `for_each` takes a list or a mapping, found an integer",
        ),
        (
            "        - { from_port: '${each.value}' }\n",
            "dev.yaml:14:24 resources.web.properties.ingress.0.from_port: `each.value` is known only in a resource or a block with `for_each` (add `for_each:` to this resource, or write the value itself)",
        ),
        (
            "        for_each: ${var.zones}\n        content: { from_port: '${each.value}' }\n",
            "dev.yaml:15:31 resources.web.properties.ingress.content.from_port: expected an integer, found a string (in the item made for `each.key` 0, `each.value` \"a\")",
        ),
    ];
    for (ingress, expected) in cases {
        let said = errors(&format!(
            "{GROUP}  web:\n    type: security_group\n    properties:\n      vpc_id: ${{vpc.id}}\n      ingress:\n{ingress}"
        ));
        assert_eq!(said, [expected], "{ingress}");
    }
}

#[test]
fn a_block_makes_a_policy_s_statements() {
    let stack = stack(&format!(
        "{GROUP}  role:\n    type: iam_role\n    properties:\n      assume_role_services: [lambda.amazonaws.com]\n      inline_policies:\n        read:\n          Version: '2012-10-17'\n          Statement:\n            - {{ Effect: Allow, Action: [logs:PutLogEvents], Resource: '*' }}\n            - for_each: ${{var.zones}}\n              content: {{ Effect: Allow, Action: [s3:GetObject], Resource: 'arn:aws:s3:::${{each.value}}/*' }}\n"
    ));
    let role = stack.resources.iter().find(|r| r.name == "role").unwrap();
    assert_eq!(
        role.properties["inline_policies"]["read"]["Statement"],
        json!([
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::a/*"},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}
        ])
    );
}

/// Two route tables that list one subnet (by reference, through `[*]`, or
/// by id) are refused at the second.
#[test]
fn a_subnet_is_in_one_route_table() {
    let base = "project: p\nenvironment: dev\nresources:\n  vpc: { type: vpc, properties: { cidr_block: 10.0.0.0/16 } }\n  private:\n    type: subnet\n    for_each: { a: 10.0.1.0/24, b: 10.0.2.0/24 }\n    properties: { vpc_id: '${vpc.id}', cidr_block: '${each.value}', availability_zone: 'us-east-1${each.key}' }\n  routes:\n    type: route_table\n    for_each: [a, b]\n    properties: { vpc_id: '${vpc.id}', subnet_ids: ['${private[each.key].id}'] }\n";
    assert_eq!(errors(base), Vec::<String>::new());
    assert_eq!(
        errors(&format!(
            "{base}  shared:\n    type: route_table\n    properties: {{ vpc_id: '${{vpc.id}}', subnet_ids: '${{private[*].id}}' }}\n"
        )),
        [
            "dev.yaml:13:3 resources.shared.properties.subnet_ids: subnet `private[\"a\"]` is also in route table `routes[\"a\"]`: a subnet has one route table (AWS keeps one association per subnet, so the two would take it from each other on every apply (dev.yaml defines `routes[\"a\"]` at line 9))",
            "dev.yaml:13:3 resources.shared.properties.subnet_ids: subnet `private[\"b\"]` is also in route table `routes[\"b\"]`: a subnet has one route table (AWS keeps one association per subnet, so the two would take it from each other on every apply (dev.yaml defines `routes[\"b\"]` at line 9))",
        ]
    );
}
