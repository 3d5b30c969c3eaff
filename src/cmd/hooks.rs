//! `entire hooks …`: what installed hooks call.

use crate::agents::{claude, gemini};
use crate::cli::{HookCommand, HooksArgs};
use crate::error::Result;
use crate::hooks::agent;

pub fn run(args: HooksArgs) -> Result<i32> {
    Ok(match args.command {
        HookCommand::Git { hook, args } => crate::hooks::git::run(&hook, &args),
        HookCommand::ClaudeCode { event } => agent::run(&claude::SPEC, &event),
        HookCommand::Gemini { event } => agent::run(&gemini::SPEC, &event),
    })
}
