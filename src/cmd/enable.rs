//! `entire enable` and `entire disable`.

use std::io::Write;
use std::path::PathBuf;

use crate::agents::settings::{Change, SettingsFile};
use crate::agents::{self, Spec};
use crate::cli::{DisableArgs, EnableArgs};
use crate::error::{Context, Result};
use crate::git::Repo;
use crate::git::hooks_install::{self, HOOKS, Installed};
use crate::settings;

pub fn enable(args: EnableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let binary = current_binary()?;
    // Every agent settings file is checked before anything is written.
    let agent_changes = specs(&args.agent)
        .into_iter()
        .map(|spec| SettingsFile::new(&repo, spec, args.local)?.plan_install(&binary))
        .collect::<Result<Vec<_>>>()?;
    settings::set_enabled(&repo.worktree, true)?;
    let dir = hooks_install::hooks_dir(&repo)?;
    let mut out = std::io::stdout().lock();
    for hook in HOOKS {
        match hooks_install::install(&dir, hook, &binary, args.force)? {
            Installed::Chained => {
                writeln!(out, "{hook}: kept your hook as {hook}.pre-entire; it still runs")?
            }
            Installed::Replaced(aside) => {
                writeln!(out, "{hook}: moved your hook aside to {}", aside.display())?
            }
            Installed::Fresh | Installed::Updated | Installed::Unchanged => {}
        }
    }
    for change in agent_changes {
        let done = if change.changes_file() { "installed in" } else { "already installed in" };
        writeln!(out, "{}: hooks {done} {}", change.agent, relative(&repo, &change))?;
        change.apply()?;
    }
    writeln!(out, "entire is enabled in {} (hooks in {})", repo.worktree.display(), dir.display())?;
    Ok(0)
}

/// Without `--agent`: the git hooks and every agent's hooks. With it: only
/// those agents' hooks, from their project and local settings files.
pub fn disable(args: DisableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let agents = if args.agent.is_empty() { agents::with_hooks().collect() } else { specs(&args.agent) };
    let agent_changes = agents
        .into_iter()
        .flat_map(|spec| SettingsFile::all(&repo, spec))
        .map(|file| file.plan_uninstall())
        .collect::<Result<Vec<_>>>()?;
    let mut out = std::io::stdout().lock();
    if args.agent.is_empty() {
        let dir = hooks_install::hooks_dir(&repo)?;
        for hook in HOOKS {
            hooks_install::uninstall(&dir, hook)?;
        }
        if settings::Settings::path(&repo.worktree).exists() {
            settings::set_enabled(&repo.worktree, false)?;
        }
    }
    for change in agent_changes {
        if change.changes_file() {
            writeln!(out, "{}: hooks removed from {}", change.agent, relative(&repo, &change))?;
        }
        change.apply()?;
    }
    if args.agent.is_empty() {
        writeln!(out, "entire is disabled in {}", repo.worktree.display())?;
    }
    Ok(0)
}

/// The agents named on the command line, each once.
fn specs(named: &[&'static Spec]) -> Vec<&'static Spec> {
    let mut specs: Vec<&'static Spec> = Vec::new();
    for &spec in named {
        if !specs.iter().any(|s| s.name == spec.name) {
            specs.push(spec);
        }
    }
    specs
}

fn relative(repo: &Repo, change: &Change) -> String {
    change.path.strip_prefix(&repo.worktree).unwrap_or(&change.path).display().to_string()
}

/// The binary the shims should run: this one, by absolute path.
pub fn current_binary() -> Result<PathBuf> {
    std::env::current_exe().and_then(|p| p.canonicalize()).context("finding the entire binary")
}
