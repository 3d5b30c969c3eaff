use clap::Parser;
use entire::{cli, cmd};

fn main() {
    let cli = cli::Cli::parse();
    let code = match cmd::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            err.report();
            err.exit_code()
        }
    };
    std::process::exit(code);
}
