//! entire's git hooks directory (docs/spec.md §6, docs/hooks.md): what it
//! records (`state`), what can be wrong with it (`diagnosis`), and
//! installing, repairing and removing it (`install`).
//!
//! entire keeps a hooks directory of its own, `<git-common-dir>/entire-hooks`,
//! and points the repository's `core.hooksPath` at it. Each of entire's
//! hooks there is a hard link to `.entire`, a **private copy of the entire
//! binary** (not a link to the installed one), which sees the hook's name in
//! `argv[0]`, does entire's work in process and then `exec`s the hook git
//! would have run before: the one of the same name in the previous hooks
//! directory (the previous `core.hooksPath`, or the default `hooks/`), by
//! the path git would have used, with the same arguments, stdin,
//! environment and cwd. Every other hook name that the previous directory
//! holds gets a two-line `#!/bin/sh` script there that `exec`s it the same
//! way. Nothing of the user's or of a hook manager's is renamed or
//! rewritten. commit-msg is linked only when it has work ([`ON_DEMAND`]):
//! every hook git finds costs the commit a process start.
//!
//! Why copies and not symlinks to the installed binary: hook managers write
//! hooks into `core.hooksPath` (simple-git-hooks with `writeFileSync`,
//! scripts with `cp` or `>`), which writes *through* a symlink and would
//! overwrite the installed `entire` binary itself. The private copy takes
//! that write instead, where `status` and `doctor` see it (a manager also
//! deletes the names it does not install, which tells which hook it
//! meant). A copy also keeps the user's chained hooks running when the
//! installed binary is removed; when the installed binary is replaced (an
//! upgrade), a hook re-executes it (see `hooks::chain`).

pub mod diagnosis;
pub mod install;
pub mod location;
pub mod state;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use diagnosis::{HookState, Problem, problems, states};
pub use install::{Installed, before_session, current_binary, install, record_refspecs, uninstall};
pub use state::State;

use crate::error::{Context, Error, Result};
use crate::git::{Repo, checked};

/// The marker of the `#!/bin/sh` scripts that chain the hooks entire has no
/// work in.
pub const CHAIN_MARKER: &str = "# entire-hook v2: chains the hook git ran before `entire enable`";
pub const HOOKS: [&str; 4] = ["prepare-commit-msg", "commit-msg", "post-commit", "pre-push"];
/// The one of [`HOOKS`] linked only when it has work: a hook of the user's
/// to chain, or a commit under a session whose message an editor will
/// show (the user may empty it but for our trailer, which commit-msg then
/// removes so that git aborts). prepare-commit-msg links it before git
/// looks for it (`hooks::chain`), and it stays; without an editor,
/// prepare-commit-msg does commit-msg's work itself, on the final message.
pub const ON_DEMAND: &str = "commit-msg";
/// entire's hooks directory, under the git common dir.
pub const DIR_NAME: &str = "entire-hooks";
/// What `disable` restores and what the hooks chain to.
pub const STATE_FILE: &str = "state.json";
/// The private copy of the binary that the hooks are hard links to.
pub const COPY: &str = ".entire";

/// Every hook name git runs (githooks(5)): those the previous hooks
/// directory holds are chained.
pub const GIT_HOOKS: [&str; 28] = [
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "pre-merge-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "pre-rebase",
    "post-checkout",
    "post-merge",
    "pre-push",
    "pre-receive",
    "update",
    "proc-receive",
    "post-receive",
    "post-update",
    "reference-transaction",
    "push-to-checkout",
    "pre-auto-gc",
    "post-rewrite",
    "sendemail-validate",
    "fsmonitor-watchman",
    "p4-changelist",
    "p4-prepare-changelist",
    "p4-post-changelist",
    "p4-pre-submit",
    "post-index-change",
];

pub fn is_entire_hook(name: &str) -> bool {
    HOOKS.contains(&name)
}

/// entire's own hooks directory for `repo`.
pub fn our_dir(repo: &Repo) -> PathBuf {
    let common = repo.common_dir.canonicalize().unwrap_or_else(|_| repo.common_dir.clone());
    common.join(DIR_NAME)
}

/// Where git runs hooks from now (honours `core.hooksPath`), absolute.
/// Read in process when the repository's own configuration points at
/// entire's directory, the case of every `entire run` (a `git` process
/// costs more than the rest of the launcher's start); git is asked for
/// anything else, with every config scope and expansion it knows.
pub fn hooks_dir(repo: &Repo) -> Result<PathBuf> {
    hooks_dir_given(repo, &our_dir(repo))
}

/// [`hooks_dir`], given [`our_dir`].
fn hooks_dir_given(repo: &Repo, ours: &Path) -> Result<PathBuf> {
    // `ours` is canonical: a path that spells it is it, with no link to resolve.
    if repo_hooks_path(repo).is_some_and(|dir| dir == ours || dir.canonicalize().is_ok_and(|dir| dir == ours))
    {
        return Ok(ours.to_path_buf());
    }
    // Not `repo.git()`: that one turns hooks off, and we want the real path.
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).args(["rev-parse", "--git-path", "hooks"]).stdin(Stdio::null());
    let out = checked(&mut cmd)?;
    let rel = String::from_utf8_lossy(&out).trim().to_owned();
    let dir = repo.worktree.join(rel);
    Ok(dir.canonicalize().unwrap_or(dir))
}

/// `core.hooksPath` as the repository's own configuration sets it: its
/// `config` with the files it includes, `config.worktree`, and the
/// `GIT_CONFIG_COUNT` variables. These come after the system's and the
/// user's files, so when one of them sets it, git uses that value. None
/// when none does, when git would expand the value (`~/`, `%(prefix)/`),
/// when `git -c` settings are in the environment, or when an include needs
/// more than this reads (git then answers).
fn repo_hooks_path(repo: &Repo) -> Option<PathBuf> {
    use gix::config::file::{Metadata, includes, init};
    use gix::config::{File, Source, path::interpolate};

    if std::env::var_os("GIT_CONFIG_PARAMETERS").is_some() {
        return None;
    }
    let branch = repo.branch().and_then(|b| gix::refs::FullName::try_from(format!("refs/heads/{b}")).ok());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let options = init::Options {
        includes: includes::Options::follow(
            interpolate::Context { home_dir: home.as_deref(), ..Default::default() },
            includes::conditional::Context {
                git_dir: Some(&repo.git_dir),
                branch_name: branch.as_ref().map(|b| b.as_ref()),
            },
        ),
        ..Default::default()
    };
    let read = |path: PathBuf, source| {
        let meta = Metadata { path: Some(path.clone()), source, level: 0, trust: gix::sec::Trust::Full };
        File::from_paths_metadata(std::iter::once(meta), options).ok().flatten()
    };
    let mut config = read(repo.common_dir.join("config"), Source::Local)?;
    if config.boolean("extensions.worktreeConfig").ok().flatten() == Some(true)
        && let Some(worktree) = read(repo.git_dir.join("config.worktree"), Source::Worktree)
    {
        config.append(worktree).ok()?;
    }
    if let Some(env) = File::from_env(options).ok()? {
        config.append(env).ok()?;
    }
    let value = config.string("core.hooksPath")?;
    let value = gix::path::from_bstring(value).ok()?;
    if value.starts_with("~") || value.to_string_lossy().starts_with("%(") {
        return None;
    }
    Some(repo.worktree.join(value))
}

/// `git config [scope] --get core.hooksPath`, without entire's override.
fn hooks_path_config(repo: &Repo, scope: Option<&str>) -> Result<Option<String>> {
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).arg("config");
    cmd.args(scope);
    cmd.args(["--get", "core.hooksPath"]).stdin(Stdio::null());
    let out = cmd.output().context("running git config")?;
    match out.status.code() {
        Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_owned())),
        Some(1) => Ok(None),
        _ => Err(Error::internal(format!("git config: {}", String::from_utf8_lossy(&out.stderr).trim()))),
    }
}

/// Every `core.hooksPath` of every config scope, in git's order (the last
/// one is the one git uses).
fn hooks_path_values(repo: &Repo) -> Result<Vec<String>> {
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).args(["config", "--get-all", "core.hooksPath"]).stdin(Stdio::null());
    let out = cmd.output().context("running git config")?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
}

fn set_local_hooks_path(repo: &Repo, value: Option<&str>) -> Result<()> {
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).args(["config", "--local"]).stdin(Stdio::null());
    match value {
        Some(v) => cmd.args(["core.hooksPath", v]),
        None => cmd.args(["--unset-all", "core.hooksPath"]),
    };
    let out = cmd.output().context("running git config")?;
    // 5: unsetting a key that is not set.
    if out.status.success() || (value.is_none() && out.status.code() == Some(5)) {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "git config core.hooksPath: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Whether a `core.hooksPath` value names an entire hooks directory (this
/// repository's or, after a move or copy, the one it was copied from):
/// never a hooks path of the user's to chain to or to restore.
pub fn is_entire_dir(value: &str) -> bool {
    Path::new(value.trim_end_matches('/')).file_name().is_some_and(|name| name == DIR_NAME)
}
