//! `cairn import --from-terraform STATE_FILE ENV`: the stack file and the
//! state, written from a Terraform state and what AWS holds.

use crate::aws::Aws;
use crate::cli::session::{overrides, settings, stack_file, Context};
use crate::cli::{Failure, Outcome};
use crate::import::{self, Candidate, Classified, Imported, Missing, Written};
use crate::state::{ResourceState, State, Status};
use crate::store::{LocalStore, StateStore};
use crate::{stack, types};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub struct Request<'a> {
    pub environment: &'a str,
    pub tfstate: &'a Path,
    pub project: &'a str,
    pub allow_missing: bool,
}

pub async fn run(context: &Context<'_>, request: Request<'_>) -> Result<Outcome, Failure> {
    let (global, printer) = (context.global, context.printer);
    let Request {
        environment,
        tfstate,
        project,
        allow_missing,
    } = request;
    let file = stack_file(global, environment);
    if file.exists() {
        return Err(Failure::refused(format!(
            "{} exists; import writes a new stack file (name another environment, or move it away)",
            file.display()
        )));
    }
    let classified = classified(tfstate)?;
    let environment_name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(environment)
        .to_owned();
    let aws = Aws::connect(&settings(global, None)).await?;
    aws.identity().await?;
    let (imported, missing) = read(&aws, &classified).await?;
    if !missing.is_empty() && !allow_missing {
        return Err(Failure::Refused(missing_text(&missing)));
    }
    let tf_addresses: BTreeMap<String, String> = classified
        .candidates
        .iter()
        .map(|c| (c.name.clone(), c.tf_address.clone()))
        .collect();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::refused(format!("cannot create {}: {e}", parent.display())))?;
    }
    let store: Arc<dyn StateStore> =
        Arc::new(LocalStore::new(&global.state_dir, &environment_name).for_project(project));
    context.locks.take(&store, "import", global).await?;
    if store.load().await?.is_some() {
        return Err(Failure::refused(format!(
            "{environment_name} already has a state; import adopts resources into a new one"
        )));
    }
    let written = import::write_stack(
        &file,
        (
            project,
            &environment_name,
            &aws.region,
            &tfstate.display().to_string(),
        ),
        imported,
        &tf_addresses,
        &overrides(global)?,
    )
    .map_err(Failure::Refused)?;
    let state = state_of(project, &environment_name, &written);
    if let Err(e) = store.save(&state).await {
        // A failed import leaves nothing: import again once it is fixed.
        let _ = std::fs::remove_file(&file);
        return Err(e.into());
    }
    printer.out(&import::report(&classified, &written, &missing));
    printer.out(&format!(
        "Wrote {} and the state of {environment_name}. Next: cairn plan {} (it shows only cairn's ownership tags to add).",
        file.display(),
        file.display()
    ));
    let secrets = &written.sensitive_variables;
    if !secrets.is_empty() {
        printer.out(&format!(
            "Set these sensitive variables first (CAIRN_VAR_NAME): {}",
            secrets.join(", ")
        ));
    }
    Ok(Outcome::Done)
}

/// The Terraform state (`-`: what `terraform state pull` prints, piped
/// in), sorted into what cairn can describe.
fn classified(tfstate: &Path) -> Result<Classified, Failure> {
    let text = if tfstate == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Failure::refused(format!("cannot read the state from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(tfstate)
            .map_err(|e| Failure::refused(format!("cannot read {}: {e}", tfstate.display())))?
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::refused(format!("{}: not JSON: {e}", tfstate.display())))?;
    import::classify(&value).map_err(|e| Failure::refused(format!("{}: {e}", tfstate.display())))
}

/// Each candidate read from AWS: what is there, with the dependencies
/// Terraform's state gives it, and what is missing.
async fn read(
    aws: &Aws,
    classified: &Classified,
) -> Result<(Vec<Imported>, Vec<Missing>), Failure> {
    let mut imported = Vec::new();
    let mut missing: Vec<&Candidate> = Vec::new();
    for candidate in &classified.candidates {
        let provider = crate::types::provider(candidate.type_name);
        let address = stack::address(candidate.type_name, &candidate.name);
        let observed = crate::aws::CURRENT_ADDRESS
            .scope(address, provider.read(aws, &candidate.id))
            .await?;
        match observed {
            Some(observed) => imported.push(Imported::new(
                candidate.name.clone(),
                candidate.type_name,
                observed,
                &candidate.attributes,
            )),
            None => missing.push(candidate),
        }
    }
    // Only what Terraform's state says a resource depends on may stand for
    // its values by name.
    let cairn_name_of: BTreeMap<String, String> = classified
        .candidates
        .iter()
        .map(|c| (import::resource_of(&c.tf_address), c.name.clone()))
        .collect();
    for (r, c) in imported.iter_mut().zip(
        classified
            .candidates
            .iter()
            .filter(|c| !missing.iter().any(|m| m.name == c.name)),
    ) {
        r.depends_on = c
            .dependencies
            .iter()
            .filter_map(|d| cairn_name_of.get(d).cloned())
            .collect();
    }
    import::leave_held_apart(&mut imported, &classified.candidates);
    let missing = missing
        .iter()
        .map(|m| Missing {
            tf_address: m.tf_address.clone(),
            why: format!("AWS has no {} with id {}", m.type_name, m.id),
            referred_by: classified
                .candidates
                .iter()
                .filter(|c| c.dependencies.contains(&import::resource_of(&m.tf_address)))
                .map(|c| stack::address(c.type_name, &c.name))
                .collect(),
        })
        .collect();
    Ok((imported, missing))
}

fn missing_text(missing: &[Missing]) -> String {
    let mut text = String::from("Missing from AWS (in Terraform's state, deleted outside it):\n");
    for m in missing {
        text.push_str(&format!("  {}: {}\n", m.tf_address, m.why));
        for r in &m.referred_by {
            text.push_str(&format!("    {r} refers to it\n"));
        }
    }
    text.push_str("Nothing was written. Bring Terraform's state up to date (`terraform plan -refresh-only`), or import the rest with --allow-missing: references to what is missing then hold its last value as a literal.");
    text
}

/// The new state, adopting every resource written into the stack.
fn state_of(project: &str, environment: &str, written: &Written) -> State {
    let mut state = State::new(project, environment);
    for r in &written.imported {
        let schema = types::of(r.type_name).schema;
        let sensitive: Vec<String> = schema
            .fields
            .iter()
            .filter(|f| f.sensitive)
            .map(|f| f.name.to_owned())
            .collect();
        let address = stack::address(r.type_name, &r.name);
        state.resources.insert(
            address,
            ResourceState {
                type_name: r.type_name.to_owned(),
                name: r.name.clone(),
                status: Status::Created,
                id: Some(r.observed.id.clone()),
                attributes: import::recorded(r, &sensitive).into(),
                outputs: r.observed.outputs.clone(),
                dependencies: Vec::new(),
                protect: false,
                sensitive,
                region: None,
            },
        );
    }
    state.serial += 1;
    state
}
