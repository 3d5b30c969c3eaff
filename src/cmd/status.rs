//! `entire status [--json | --prompt]`.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};

use super::session_rows;
use crate::agents;
use crate::checkpoint;
use crate::cli::StatusArgs;
use crate::error::{Result, warn};
use crate::git::Repo;
use crate::hookdir::{self, HookState};
use crate::process::System;
use crate::session::{LiveRegistry, Store, live_here};
use crate::settings::Settings;
use crate::style;

pub fn run(args: StatusArgs) -> Result<i32> {
    let cwd = super::current_dir()?;
    if args.prompt {
        return prompt(&cwd);
    }
    let repo = Repo::require(&cwd)?;
    checkpoint::pending::complete(&repo);
    let settings = Settings::for_repo(&repo)?;
    let enabled = settings.enabled;
    let settings_problems: Vec<String> = settings.problems.iter().map(ToString::to_string).collect();
    let hooks: BTreeMap<&str, HookState> = hookdir::states(&repo)?.into_iter().collect();
    let problems: Vec<String> = if enabled {
        hookdir::problems(&repo)?.iter().filter(|p| !p.is_info()).map(ToString::to_string).collect()
    } else {
        Vec::new()
    };
    let agent_hooks: BTreeMap<&str, bool> = agents::settings::installed(&repo).into_iter().collect();
    let store = Store::new(repo.store_dir());
    let (live, warnings) = live_here(LiveRegistry::from_env().as_ref(), &store, &System);
    warnings.into_iter().for_each(warn);

    let mut out = std::io::stdout().lock();
    if args.json {
        let sessions: Vec<Value> = live.iter().map(|r| session_rows::with_live(r, true)).collect();
        let status = json!({
            "enabled": enabled,
            "hooks": hooks,
            "hook_problems": problems,
            "settings_problems": settings_problems,
            "agent_hooks": agent_hooks,
            "live_sessions": sessions,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
        return Ok(0);
    }
    let state = if enabled { style::green("enabled") } else { style::yellow("not enabled") };
    writeln!(out, "entire is {state} in {}", repo.worktree.display())?;
    for (hook, hook_state) in &hooks {
        let shown = match hook_state {
            HookState::Installed => style::green("installed"),
            HookState::OnDemand => style::green("on demand (linked when a commit needs it)"),
            HookState::Missing => style::yellow("missing"),
            HookState::Foreign => style::yellow("foreign (not entire's)"),
        };
        writeln!(out, "  {hook:<20} {shown}")?;
    }
    let agents: Vec<&str> = agent_hooks.iter().filter(|(_, on)| **on).map(|(agent, _)| *agent).collect();
    let agents = if agents.is_empty() {
        let names: Vec<&str> = agents::with_hooks().map(|spec| spec.name).collect();
        format!("none (entire enable --agent {})", names.join("|"))
    } else {
        agents.join(", ")
    };
    writeln!(out, "  {:<20} {agents}", "agent hooks")?;
    for problem in &problems {
        writeln!(out, "{} {}", style::yellow("problem:"), style::printable(problem))?;
    }
    if !problems.is_empty() {
        writeln!(out, "hint: run `entire doctor --fix` (or `entire enable`) to repair the git hooks")?;
    }
    for problem in &settings_problems {
        writeln!(out, "{} {}", style::yellow("problem:"), style::printable(problem))?;
    }
    if !enabled {
        writeln!(out, "hint: run `entire enable` to attribute commits here")?;
    }
    if live.is_empty() {
        writeln!(out, "No live sessions.")?;
    } else {
        writeln!(out, "Live sessions:")?;
        let rows: Vec<_> = live.into_iter().map(|r| (r, true)).collect();
        session_rows::print_table(&mut out, &rows)?;
    }
    Ok(0)
}

/// A prompt segment: `entire:N` with N live sessions here, nothing when none or
/// outside a repository. Never fails: a prompt must not print errors.
fn prompt(cwd: &std::path::Path) -> Result<i32> {
    let Ok(Some(repo)) = Repo::discover(cwd) else { return Ok(0) };
    let store = Store::new(repo.store_dir());
    let (live, _) = live_here(LiveRegistry::from_env().as_ref(), &store, &System);
    if !live.is_empty() {
        writeln!(std::io::stdout().lock(), "entire:{}", live.len())?;
    }
    Ok(0)
}
