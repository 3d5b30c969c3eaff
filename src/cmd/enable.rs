//! `entire enable` and `entire disable`.

use std::io::Write;
use std::path::PathBuf;

use crate::agents::settings::{Change, SettingsFile};
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
    let _ = args.force; // hooks that were there are always chained now
    // Every agent settings file is checked before anything is written.
    let agent_changes = specs(&args.agent)
        .into_iter()
        .map(|spec| SettingsFile::new(&repo, spec, args.local)?.plan_install(&binary))
        .collect::<Result<Vec<_>>>()?;
    settings::set_enabled(&repo.worktree, true)?;
    settings::clear_local_disable(&repo.worktree)?;
    let done = hooks_install::install(&repo, &binary)?;
    let mut out = std::io::stdout().lock();
    for line in install_lines(&done) {
        writeln!(out, "{line}")?;
    }
    if checkpoint::remote::migrate_legacy_branch(&repo)? {
        writeln!(
            out,
            "moved the checkpoints branch to {} (git push --all no longer publishes it)",
            crate::git::CHECKPOINTS_REF
        )?;
    }
    let fetch = checkpoint::remote::ensure_fetch(&repo)?;
    if !fetch.added.is_empty() {
        hooks_install::record_refspecs(&repo, &fetch.added)?;
        for (remote, _) in &fetch.added {
            writeln!(out, "git fetch from {remote} now brings teammates' {}", checkpoint::BRANCH)?;
        }
    }
    consent(&repo, &args, &mut out)?;
    for change in agent_changes {
        let done = if change.changes_file() { "installed in" } else { "already installed in" };
        writeln!(out, "{}: hooks {done} {}", change.agent, relative(&repo, &change))?;
        change.apply()?;
    }
    writeln!(out, "entire is enabled in {} (hooks in {})", repo.worktree.display(), done.dir.display())?;
    Ok(0)
}

/// Whether checkpoints go along with pushes: `--push`/`--no-push`, else
/// the question on a terminal, else what the settings say, and a hint
/// when they say nothing (not pushed). The answer is this clone's, in
/// `.entire/settings.local.json`; a team commits `checkpoints.push` in
/// `.entire/settings.json`.
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
            settings::set_local_push(&repo.worktree, value)?;
            checkpoint::push::forget_refusals(repo);
            writeln!(out, "checkpoints go to {to} when you push, redacted ({})", settings::LOCAL_FILE_PATH)?;
        }
        Some(false) => {
            settings::set_local_push(&repo.worktree, serde_json::Value::Bool(false))?;
            writeln!(out, "checkpoints stay in this clone ({})", settings::LOCAL_FILE_PATH)?;
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
