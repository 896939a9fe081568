//! `cairn import`: one AWS resource adopted under an address the stack
//! defines; or, `--from-terraform`, a stack and state written from a
//! Terraform state (`terraform.rs`); or, `--merge`, imported stacks
//! merged into a base and values-only files (`merge.rs`).

mod merge;
mod terraform;

use super::session::{Context, Needs, Session};
use super::{Command, Failure, Outcome};
use crate::state::{self, ResourceState, Status};

pub async fn run(context: &Context<'_>, command: Command) -> Result<Outcome, Failure> {
    let Command::Import {
        environment,
        address,
        id,
        from_terraform,
        project,
        allow_missing,
        merge,
    } = command
    else {
        unreachable!("import::run is given the import command")
    };
    match (environment, address, id, from_terraform) {
        _ if !merge.is_empty() => merge::run(context, &merge),
        (Some(environment), _, _, Some(tfstate)) => {
            let request = terraform::Request {
                environment: &environment,
                tfstate: &tfstate,
                project: &project,
                allow_missing,
            };
            terraform::run(context, request).await
        }
        (Some(environment), Some(address), Some(id), None) => {
            one(context, &environment, &address, &id).await
        }
        _ => Err(Failure::refused(
            "cairn import needs ADDRESS and ID, or --from-terraform STATE_FILE",
        )),
    }
}

/// `cairn import ENV ADDRESS ID`.
async fn one(
    context: &Context<'_>,
    environment: &str,
    address: &str,
    id: &str,
) -> Result<Outcome, Failure> {
    let session = Session::load(context, environment)?;
    if !session
        .stack
        .resources
        .iter()
        .any(|r| r.address() == address)
    {
        return Err(Failure::refused(format!(
            "{address} is not in the stack: add it to {} first, then import",
            session.stack.file.display()
        )));
    }
    let needs = Needs {
        state: false,
        ..Needs::locked("import")
    };
    let mut session = session.with(needs).await?;
    let aws = session.aws();
    aws.identity().await?;
    session.state = session.store().load().await?;
    let mut state = session.state_or_new();
    if state.resources.contains_key(address) {
        return Err(Failure::refused(format!(
            "{address} is already in the state; `cairn state rm` it first to import another"
        )));
    }
    let resource = session
        .stack
        .resources
        .iter()
        .find(|r| r.address() == address)
        .expect("checked above");
    let provider = crate::types::provider(resource.type_name());
    let observed = crate::aws::CURRENT_ADDRESS
        .scope(address.to_owned(), provider.read(session.aws(), id))
        .await?
        .ok_or_else(|| {
            Failure::refused(format!("AWS has no {} with id {id}", resource.type_name()))
        })?;
    let mut attributes = (*observed.attributes).clone();
    // What AWS cannot report (a key's deletion window, say) is taken
    // from the stack, as a create would have recorded it.
    for (field, value) in resource.properties.iter() {
        let literal =
            !crate::model::expr::contains_unknown(value) && !value.to_string().contains("${");
        if !attributes.contains_key(field) && literal {
            attributes.insert(field.clone(), value.clone());
        }
    }
    state::redact_fields(&mut attributes, &resource.sensitive);
    state.resources.insert(
        address.to_owned(),
        ResourceState {
            type_name: resource.type_name().to_owned(),
            name: resource.name.clone(),
            status: Status::Created,
            id: Some(observed.id.clone()),
            attributes: attributes.into(),
            outputs: observed.outputs,
            dependencies: resource.depends_on.clone(),
            protect: resource.protect,
            sensitive: resource.sensitive.clone(),
            region: resource.region.clone(),
        },
    );
    state.serial += 1;
    session.store().save(&state).await?;
    context.printer.out(&format!("Imported {address} [id={}]. `cairn plan {environment}` shows how it differs from the stack.", observed.id));
    Ok(Outcome::Done)
}
