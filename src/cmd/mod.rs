//! One file per subcommand. Each returns the process exit code.

mod agent_trace;
mod attributed;
mod blame;
mod clean;
mod completions;
mod demo;
mod doctor;
mod enable;
mod explain;
mod hooks;
mod man;
mod run;
mod session_rows;
mod sessions;
mod shell;
mod stats;
mod status;

use crate::cli::{Command, Invocation};
use crate::error::{Kind, Result};
use crate::supervise::{self, Exit};

/// Runs a command and returns its exit code; an error is reported on
/// stderr first. A reader that closed our stdout ends us as it ends `git
/// log`: by SIGPIPE, quietly, once whatever the command held (the demo's
/// temp dir) is cleaned up.
pub fn run(invocation: Invocation) -> i32 {
    let command = match invocation {
        Invocation::Command(command) => command,
        Invocation::Hook(hook) => return hooks::run(hook),
        Invocation::GitHook { argv0, hook, args } => hooks::as_git_hook(&argv0, &hook, &args),
    };
    match dispatch(command) {
        Ok(code) => code,
        Err(err) if err.kind() == Kind::BrokenPipe => supervise::exit_like(Exit::Signal(libc::SIGPIPE)),
        Err(err) => {
            err.report();
            err.exit_code()
        }
    }
}

fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Enable(args) => enable::enable(args),
        Command::Disable(args) => enable::disable(args),
        Command::Status(args) => status::run(args),
        Command::Sessions(args) => sessions::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Blame(args) => blame::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Clean(args) => clean::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => man::man(args),
        Command::Demo(args) => demo::run(args),
    }
}

/// The current directory, as an error of ours when it is gone.
pub fn current_dir() -> Result<std::path::PathBuf> {
    std::env::current_dir().map_err(|e| crate::error::Error::internal(format!("current directory: {e}")))
}
