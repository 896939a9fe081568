use cairn::cli::{self, Arguments};
use clap::Parser;

fn main() {
    let arguments = Arguments::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(cli::run(arguments.global, arguments.command));
    std::process::exit(code);
}
