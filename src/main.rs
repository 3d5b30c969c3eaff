//! `entire`: records which AI coding-agent session made each git commit.
//!
//! `main` only parses arguments, dispatches and maps errors to exit codes;
//! every subcommand lives in `cmd/`.

mod checkpoint;
mod cli;
mod cmd;
mod error;
mod fsutil;
mod git;
mod hooks;
mod process;
mod resolve;
mod session;
mod settings;
mod supervise;

use clap::Parser;

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
