//! `entire hooks …`: what installed hooks call. The one place `cmd/`
//! reaches the hooks' entry layer.

use crate::agents;
use crate::cli::HookCommand;
use crate::error::warn;
use crate::hooks::{agents as agent_hooks, git};

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
