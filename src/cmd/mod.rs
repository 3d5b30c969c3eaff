//! One file per subcommand. Each returns the process exit code.

mod clean;
mod completions;
mod demo;
mod doctor;
mod enable;
mod explain;
mod hooks;
mod run;
mod sessions;
mod shell;
mod status;

use crate::cli::{Cli, Command};
use crate::error::Result;

pub fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Enable(args) => enable::enable(args),
        Command::Disable(args) => enable::disable(args),
        Command::Status(args) => status::run(args),
        Command::Sessions(args) => sessions::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Clean(args) => clean::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man => completions::man(),
        Command::Demo(args) => demo::run(args),
        Command::Hooks(args) => hooks::run(args),
    }
}

/// The current directory, as an error of ours when it is gone.
pub fn current_dir() -> Result<std::path::PathBuf> {
    std::env::current_dir().map_err(|e| crate::error::Error::new(format!("current directory: {e}")))
}
