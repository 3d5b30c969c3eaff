//! `entire enable` and `entire disable`.

use std::io::Write;
use std::path::PathBuf;

use crate::agents::settings::{Change, Scope, SettingsFile};
use crate::agents::{self, Spec};
use crate::checkpoint;
use crate::cli::{DisableArgs, EnableArgs};
use crate::error::{Context, Result};
use crate::git::Repo;
use crate::git::hooks_install;
use crate::settings;

pub fn enable(args: EnableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let binary = current_binary()?;
    let _ = (args.force, args.local); // the defaults now
    let scope = if args.project { Scope::Project } else { Scope::Local };
    // Every agent settings file is checked before anything is written.
    let agent_changes = specs(&args.agent)
        .into_iter()
        .map(|spec| SettingsFile::new(&repo, spec, scope).plan_install(&repo, &binary))
        .collect::<Result<Vec<_>>>()?;
    settings::set_enabled(&repo.worktree, true)?;
    settings::clear_local_disable(&repo.worktree)?;
    let done = hooks_install::install(&repo, &binary)?;
    let mut out = std::io::stdout().lock();
    for line in install_lines(&done) {
        writeln!(out, "{line}")?;
    }
    let added = checkpoint::remote::ensure_fetch(&repo)?;
    if !added.is_empty() {
        hooks_install::record_refspecs(&repo, &added)?;
        for (remote, _) in &added {
            writeln!(out, "git fetch from {remote} now brings {}", checkpoint::BRANCH)?;
        }
    }
    for change in agent_changes {
        let done = if change.changes_file() { "installed in" } else { "already installed in" };
        let whose = match change.scope {
            Scope::Local => "not committed; `--project` installs them for everyone",
            Scope::Project => "committed: they run entire for everyone who has it installed",
        };
        writeln!(out, "{}: hooks {done} {} ({whose})", change.agent, relative(&repo, &change))?;
        if let Some(note) = agents::hooks_of(change.agent).and_then(|spec| spec.note) {
            writeln!(out, "  {note}")?;
        }
        change.apply()?;
    }
    writeln!(out, "entire is enabled in {} (hooks in {})", repo.worktree.display(), done.dir.display())?;
    Ok(0)
}

/// What `install` did with the hooks that were there, for the user.
pub fn install_lines(done: &hooks_install::Installed) -> Vec<String> {
    let mut lines = Vec::new();
    if done.migrated {
        lines.push("removed entire's old hook shims and put back the hooks they had renamed".to_owned());
    }
    for (hook, target) in &done.adopted {
        lines.push(format!(
            "{hook}: moved the hook found in entire's hooks directory to {}, where it runs",
            target.display()
        ));
    }
    for aside in &done.moved_aside {
        lines.push(format!("  (the one that was there is kept as {})", aside.display()));
    }
    if !done.chained.is_empty() {
        let from = done.previous.as_deref().unwrap_or("the default hooks directory");
        lines.push(format!(
            "core.hooksPath was {from}; its hooks still run, after entire's, by their own path: {}",
            done.chained.join(", ")
        ));
    }
    lines
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
        let (state, left) = hooks_install::uninstall(&repo)?;
        if let Some(state) = &state {
            checkpoint::remote::remove_fetch(&repo, &state.added_refspecs);
            match &state.previous_local {
                Some(path) => writeln!(out, "core.hooksPath is {path} again")?,
                None => writeln!(out, "core.hooksPath is unset again")?,
            }
        }
        for path in left {
            writeln!(out, "left {} in place: it is not entire's", path.display())?;
        }
        if settings::Settings::path(&repo.worktree).exists() {
            if args.project {
                settings::set_enabled(&repo.worktree, false)?;
                writeln!(
                    out,
                    "wrote \"enabled\": false to {} (committed: this turns entire off for everyone who pulls it)",
                    settings::FILE_PATH
                )?;
            } else {
                settings::set_local_disable(&repo.worktree)?;
                writeln!(
                    out,
                    "wrote \"enabled\": false to {} (not committed: entire is off in this clone only; \
                     `--project` turns it off for everyone)",
                    settings::LOCAL_FILE_PATH
                )?;
            }
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

/// The binary the hooks are copied from: this one, by absolute path.
pub fn current_binary() -> Result<PathBuf> {
    std::env::current_exe().and_then(|p| p.canonicalize()).context("finding the entire binary")
}
