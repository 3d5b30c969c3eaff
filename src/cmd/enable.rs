//! `entire enable` and `entire disable`.

use std::io::Write;

use crate::agents::settings::{Change, SettingsFile};
use crate::agents::{self, Spec};
use crate::checkpoint;
use crate::cli::{DisableArgs, EnableArgs};
use crate::error::Result;
use crate::git::Repo;
use crate::hookdir;
use crate::settings;

pub fn enable(args: EnableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let binary = hookdir::current_binary()?;
    let _ = args.force; // hooks that were there are always chained now
    // Every agent settings file is checked before anything is written.
    let agent_changes = specs(&args.agent)
        .into_iter()
        .map(|spec| SettingsFile::new(&repo, spec, args.local)?.plan_install(&binary))
        .collect::<Result<Vec<_>>>()?;
    settings::set_enabled(&repo.worktree, true)?;
    settings::set_clone_enabled(&repo.common_dir, true)?;
    settings::clear_local_enabled(&repo.worktree)?;
    let done = hookdir::install(&repo, &binary)?;
    let mut out = std::io::stdout().lock();
    for line in done.lines() {
        writeln!(out, "{line}")?;
    }
    let added = checkpoint::remote::ensure_fetch(&repo)?;
    if !added.is_empty() {
        hookdir::record_refspecs(&repo, &added)?;
        for (remote, _) in &added {
            writeln!(out, "git fetch from {remote} now brings {}", checkpoint::BRANCH)?;
        }
    }
    for change in agent_changes {
        let done = if change.changes_file() { "installed in" } else { "already installed in" };
        writeln!(out, "{}: hooks {done} {}", change.agent, relative(&repo, &change))?;
        change.apply()?;
    }
    writeln!(out, "entire is enabled in {} (hooks in {})", repo.worktree.display(), done.dir.display())?;
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
        let (state, left) = hookdir::uninstall(&repo)?;
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
        settings::set_clone_enabled(&repo.common_dir, false)?;
        settings::clear_local_enabled(&repo.worktree)?;
        if args.project && settings::Settings::path(&repo.worktree).exists() {
            settings::set_enabled(&repo.worktree, false)?;
            writeln!(
                out,
                "wrote \"enabled\": false to {} (committed: the default of every clone that has not run \
                 `entire enable` or `entire disable` itself)",
                settings::FILE_PATH
            )?;
        } else {
            writeln!(
                out,
                "wrote \"enabled\": false to {} (this clone only, whatever is checked out; \
                 `--project` turns it off for everyone)",
                repo.common_dir.join(settings::CLONE_FILE).display()
            )?;
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
