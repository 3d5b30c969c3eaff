//! `entire hooks …`: what installed hooks call.

use crate::cli::{HookCommand, HooksArgs};
use crate::error::{Error, Result};

pub fn run(args: HooksArgs) -> Result<i32> {
    match args.command {
        HookCommand::Git { hook, args } => Ok(crate::hooks::git::run(&hook, &args)),
        HookCommand::ClaudeCode { .. } | HookCommand::Gemini { .. } => {
            Err(Error::new("agent hooks are not built yet"))
        }
    }
}
