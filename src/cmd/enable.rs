//! `entire enable` and `entire disable`.

use std::io::Write;

use crate::agents::settings::{Change, Scope, SettingsFile};
use crate::agents::{self, Spec};
use crate::checkpoint;
use crate::cli::{DisableArgs, EnableArgs};
use crate::error::{Context, Result};
use crate::git::CHECKPOINTS_REF;
use crate::git::Repo;
use crate::hookdir;
use crate::session::LiveRegistry;
use crate::settings;

pub fn enable(args: EnableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let binary = hookdir::current_binary()?;
    let _ = (args.force, args.local); // what entire does anyway: accepted, nothing to do
    let scope = if args.project { Scope::Project } else { Scope::Local };
    // Every agent settings file is checked before anything is written.
    let agent_changes = specs(&args.agent)
        .into_iter()
        .map(|spec| SettingsFile::new(&repo, spec, scope).plan_install(&repo, &binary))
        .collect::<Result<Vec<_>>>()?;
    settings::set_enabled(&repo.worktree, true)?;
    settings::set_clone_enabled(&repo.common_dir, true)?;
    settings::clear_local_enabled(&repo.worktree)?;
    let done = hookdir::install(&repo, &binary)?;
    let mut out = std::io::stdout().lock();
    for line in done.lines() {
        writeln!(out, "{line}")?;
    }
    if checkpoint::remote::migrate_legacy_branch(&repo)? {
        writeln!(
            out,
            "moved the checkpoints branch to {} (git push --all no longer publishes it)",
            CHECKPOINTS_REF
        )?;
    }
    let fetch = checkpoint::remote::ensure_fetch(&repo)?;
    if !fetch.added.is_empty() {
        hookdir::record_refspecs(&repo, &fetch.added)?;
        for (remote, _) in &fetch.added {
            writeln!(out, "git fetch from {remote} now brings teammates' {}", checkpoint::BRANCH)?;
        }
    }
    consent(&repo, &args, &mut out)?;
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

/// Whether checkpoints go along with pushes: `--push`/`--no-push`, else
/// the question on a terminal, else what the settings say, and a hint
/// when they say nothing (not pushed). The answer is this clone's, in
/// `<git-common-dir>/entire-settings.json`; a team commits
/// `checkpoints.push` in `.entire/settings.json`.
fn consent(repo: &Repo, args: &EnableArgs, out: &mut impl Write) -> Result<()> {
    let current = settings::Settings::for_repo(repo)?;
    let remote = current.checkpoint_remote.clone().or_else(|| default_remote(repo));
    let to = remote.as_deref().unwrap_or("a remote");
    let answer = if args.push {
        Some(true)
    } else if args.no_push {
        Some(false)
    } else if current.push != settings::Push::Unset {
        None
    } else if remote.is_some() && on_terminal() {
        Some(ask(&format!(
            "share checkpoints with {to} when you push? prompts and transcripts are redacted [y/N] "
        ))?)
    } else {
        writeln!(
            out,
            "checkpoints stay in this clone; `entire enable --push` sends them to {to} when you push (redacted)"
        )?;
        None
    };
    match answer {
        Some(true) => {
            let value = match &remote {
                Some(remote) => serde_json::json!([remote]),
                None => serde_json::Value::Bool(true),
            };
            settings::set_clone_push(&repo.common_dir, value)?;
            checkpoint::push::forget_refusals(repo);
            writeln!(out, "checkpoints go to {to} when you push, redacted (this clone's choice)")?;
        }
        Some(false) => {
            settings::set_clone_push(&repo.common_dir, serde_json::Value::Bool(false))?;
            writeln!(out, "checkpoints stay in this clone (this clone's choice)")?;
        }
        None => {}
    }
    Ok(())
}

/// `origin`, else the only remote.
fn default_remote(repo: &Repo) -> Option<String> {
    let out = repo.git_output(["remote"]).ok()?;
    let remotes: Vec<String> = String::from_utf8_lossy(&out).lines().map(str::to_owned).collect();
    match remotes.iter().find(|r| *r == "origin") {
        Some(origin) => Some(origin.clone()),
        None if remotes.len() == 1 => remotes.into_iter().next(),
        None => None,
    }
}

fn on_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks on stderr; yes only for `y` or `yes`.
fn ask(question: &str) -> Result<bool> {
    let mut err = std::io::stderr().lock();
    err.write_all(question.as_bytes())?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
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
        if state.is_some() && left.is_empty() {
            writeln!(out, "removed {}", hookdir::our_dir(&repo).display())?;
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
    if args.purge {
        purge(&repo, args.branch, &mut out)?;
    }
    if args.agent.is_empty() {
        writeln!(out, "entire is disabled in {}", repo.worktree.display())?;
    }
    Ok(0)
}

/// `disable --purge`: everything entire keeps in the git common dir (all
/// named `entire-*`: hooks, sessions and pending checkpoints, the clone's
/// settings), this repository's entries in the
/// live registry, and with `branch` the local checkpoints branch. The
/// committed `.entire/` stays: it is the team's.
fn purge(repo: &Repo, branch: bool, out: &mut impl Write) -> Result<()> {
    let store = repo.store_dir();
    if let Some(registry) = LiveRegistry::from_env() {
        for entry in registry.list().0.into_iter().filter(|e| e.store.as_deref() == Some(store.as_path())) {
            registry.remove(&entry.session.session_id);
            writeln!(out, "removed live-registry entry {}", entry.session.session_id)?;
        }
    }
    // The clone's `"enabled": false` stays while the project's file would
    // turn entire back on here.
    let keep =
        settings::Settings::path(&repo.worktree).exists().then(|| repo.common_dir.join(settings::CLONE_FILE));
    let mut entries: Vec<_> = std::fs::read_dir(&repo.common_dir)
        .context(format_args!("reading {}", repo.common_dir.display()))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("entire-"))
        .map(|e| e.path())
        .filter(|path| Some(path) != keep.as_ref())
        .collect();
    entries.sort();
    for path in entries {
        let removed =
            if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        removed.context(format_args!("removing {}", path.display()))?;
        writeln!(out, "removed {}", path.display())?;
    }
    if let Some(kept) = keep {
        writeln!(
            out,
            "kept {}: it keeps entire off here, where {} would turn it on",
            kept.display(),
            settings::FILE_PATH
        )?;
    }
    if branch && repo.resolve_ref(CHECKPOINTS_REF).is_some() {
        repo.git_output(["update-ref", "-d", CHECKPOINTS_REF])?;
        writeln!(out, "deleted the branch {}", checkpoint::BRANCH)?;
    }
    Ok(())
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
