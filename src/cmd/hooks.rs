//! `entire hooks …`, and entire run as a git hook: what installed hooks
//! call. The one place `cmd/` reaches the hooks' entry layer.

use std::ffi::{OsStr, OsString};

use crate::agents;
use crate::cli::HookCommand;
use crate::error::warn;
use crate::hooks::{agents as agent_hooks, chain, git};

/// entire started by git as the hook `hook`: does entire's part, then runs
/// the hook git would have run without entire, and never returns.
pub fn as_git_hook(argv0: &OsStr, hook: &str, args: &[OsString]) -> ! {
    chain::run(argv0, hook, args)
}

/// Always 0: a hook never fails the user's operation.
pub fn run(command: HookCommand) -> i32 {
    match command {
        HookCommand::Git { hook, args } => git::run(&hook, &args),
        HookCommand::Agent(words) => {
            match (words.first().and_then(|name| agents::hooks_of(name)), words.get(1)) {
                (Some(spec), Some(event)) => agent_hooks::run(spec, event),
                _ => {
                    warn(format_args!("unknown agent hook `entire hooks {}`", words.join(" ")));
                    0
                }
            }
        }
    }
}
