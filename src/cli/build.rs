//! `cairn build ENV`: the stack's function code built and packaged.

use super::session::{Context, Needs, Session};
use super::{Failure, Outcome};

pub async fn run(context: &Context<'_>, environment: &str) -> Result<Outcome, Failure> {
    let session = Session::open(context, environment, Needs::STACK).await?;
    let printer = context.printer;
    let artifacts = super::plan::build(&session.stack, printer)?;
    for (address, artifact) in &artifacts {
        printer.out(&format!(
            "{address}: {} ({} bytes, sha256 {})",
            artifact.path.display(),
            artifact.size,
            artifact.sha256
        ));
    }
    if artifacts.is_empty() {
        printer.out("No function code to build in this stack.");
    }
    Ok(Outcome::Done)
}
