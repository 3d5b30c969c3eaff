//! `entire hooks …`, and entire run as a git hook: what installed hooks
//! call. The one place `cmd/` reaches the hooks' entry layer.

use std::ffi::{OsStr, OsString};

use crate::agents;
use crate::cli::HookCommand;
use crate::error::{Error, Result, warn};
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
        HookCommand::Redact => match redact_stdin() {
            Ok(()) => 0,
            Err(err) => {
                err.report();
                1
            }
        },
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

/// `entire hooks redact`: stdin to stdout through the writer's redaction.
fn redact_stdin() -> Result<()> {
    use std::io::{Read, Write};
    let mut input = Vec::new();
    std::io::stdin().lock().read_to_end(&mut input)?;
    let in_repo = match crate::git::Repo::discover(&super::current_dir()?)? {
        Some(repo) => Some(crate::settings::Settings::for_repo(&repo)?.redactor()?),
        None => None,
    };
    let redactor = in_repo.as_deref().unwrap_or(crate::redact::Redactor::builtin());
    let out = redactor
        .jsonl(&input)
        .map_err(|_| Error::user("stdin is not UTF-8 text: a checkpoint would not copy it"))?;
    std::io::stdout().lock().write_all(&out)?;
    Ok(())
}
