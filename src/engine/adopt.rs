//! Resources whose create was interrupted (the state says `creating`) and
//! that refresh found exactly as the stack wants them: adopted as they are.

use super::Observer;
use crate::plan::{Action, Change, Plan};
use crate::state::{self, State, Status};
use crate::store::{StateError, StateStore};

/// Resources found after an interrupted create and needing no change are
/// adopted into the state as they are, and saved, before any step runs.
pub async fn adopt_interrupted(
    store: &dyn StateStore,
    state: &mut State,
    plan: &Plan,
    observer: &dyn Observer,
) -> Result<(), StateError> {
    let adopted: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| {
            c.action == Action::NoOp
                && state
                    .resources
                    .get(&c.address)
                    .is_some_and(|r| r.status == Status::Creating)
        })
        .collect();
    if adopted.is_empty() {
        return Ok(());
    }
    for change in adopted {
        if let Some(entry) = state.resources.get_mut(&change.address) {
            entry.status = Status::Created;
            entry.id = change.id.clone();
            entry.outputs = change.outputs.clone();
            entry.attributes = change.before.clone().unwrap_or_default();
            state::redact_values(&mut entry.attributes, &change.sensitive);
            observer.adopted(&change.address, change.id.as_deref().unwrap_or_default());
        }
    }
    state.serial += 1;
    store.save(state).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Progress, Step, StepError};
    use crate::store::LocalStore;
    use serde_json::json;
    use std::sync::Mutex;
    use std::time::Duration;

    #[derive(Default)]
    struct Adopted(Mutex<Vec<(String, String)>>);

    impl Observer for Adopted {
        fn started(&self, _: &str, _: Step, _: Option<&str>) {}
        fn still_running(&self, _: &str, _: Step, _: Duration) {}
        fn finished(&self, _: &str, _: Step, _: Duration, _: Option<&str>) {}
        fn failed(&self, _: &str, _: Step, _: Duration, _: &StepError) {}
        fn progress(&self, _: Option<&Progress>) {}
        fn adopted(&self, address: &str, id: &str) {
            self.0.lock().unwrap().push((address.into(), id.into()));
        }
    }

    fn change(address: &str, action: &str, id: &str) -> serde_json::Value {
        let (type_name, name) = address.split_once('.').unwrap();
        json!({
            "address": address, "type": type_name, "name": name, "action": action,
            "id": id, "before": {"name": id, "password": "hunter2"}, "after": null,
            "changed": [], "replace_paths": [], "outputs": {"arn": format!("arn:{id}")},
            "dependencies": [], "protect": false, "sensitive": ["password"], "reason": null
        })
    }

    /// A `creating` entry whose resource refresh found unchanged is
    /// recorded as created (id, outputs, live values with secrets hashed)
    /// and saved; an entry that needs a change is left to the walk.
    #[tokio::test]
    async fn an_interrupted_create_found_unchanged_is_adopted_and_saved() {
        let directory = tempfile::tempdir().unwrap();
        let store = LocalStore::new(directory.path(), "dev");
        let mut state = State::new("p", "dev");
        for (address, name) in [("log_group.found", "found"), ("log_group.other", "other")] {
            state.resources.insert(
                address.into(),
                state::ResourceState {
                    type_name: "log_group".into(),
                    name: name.into(),
                    status: Status::Creating,
                    id: None,
                    attributes: Default::default(),
                    outputs: Default::default(),
                    dependencies: Vec::new(),
                    protect: false,
                    sensitive: vec!["password".into()],
                    region: None,
                },
            );
        }
        let plan: Plan = serde_json::from_value(json!({
            "format_version": "1", "cairn_version": "0", "project": "p", "environment": "dev",
            "destroy": false, "stack_hash": "", "state_lineage": state.lineage,
            "state_serial": 0, "account_id": "123456789012", "region": "us-east-1",
            "changes": [change("log_group.found", "no_op", "/found"), change("log_group.other", "create", "/other")],
            "drift": [], "outputs": {}, "sensitive_outputs": []
        }))
        .unwrap();
        let observer = Adopted::default();
        adopt_interrupted(&store, &mut state, &plan, &observer)
            .await
            .unwrap();
        assert_eq!(
            *observer.0.lock().unwrap(),
            [("log_group.found".to_owned(), "/found".to_owned())]
        );
        let found = &state.resources["log_group.found"];
        assert_eq!(found.status, Status::Created);
        assert_eq!(found.id.as_deref(), Some("/found"));
        assert_eq!(found.outputs["arn"], "arn:/found");
        assert!(state::is_redacted(&found.attributes["password"]));
        assert_eq!(state.resources["log_group.other"].status, Status::Creating);
        assert_eq!(state.serial, 1);
        assert_eq!(store.load().await.unwrap().unwrap(), state);
    }
}
