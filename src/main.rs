use cairn::cli::{self, Command, Global};
use clap::Parser;

/// Infrastructure for AWS chat backends, from YAML stacks, without Terraform.
#[derive(Parser)]
#[command(name = "cairn", version, about)]
struct Arguments {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

fn main() {
    let arguments = Arguments::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(cli::run(arguments.global, arguments.command));
    std::process::exit(code);
}
