//! What is wrong with entire's hooks, for `status` and `doctor`: every
//! [`Problem`] is repaired by `install` (`entire enable`, `entire doctor --fix`).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::state::{Binary, State};
use super::{
    CHAIN_MARKER, COPY, GIT_HOOKS, HOOKS, ON_DEMAND, hooks_dir_given, hooks_path_config, is_entire_dir,
    is_entire_hook, our_dir,
};
use crate::error::Result;
use crate::fsutil::is_executable;
use crate::git::Repo;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HookState {
    Installed,
    /// Not linked, and linked by prepare-commit-msg when it has work
    /// ([`super::ON_DEMAND`]).
    #[serde(rename = "on-demand")]
    OnDemand,
    Missing,
    Foreign,
}

/// The state of each of our hooks, as git will run them now.
pub fn states(repo: &Repo) -> Result<Vec<(&'static str, HookState)>> {
    let ours = our_dir(repo);
    let dir = hooks_dir_given(repo, &ours)?;
    Ok(states_in(&dir, dir == ours))
}

/// The state of each of our hooks in `dir`, entire's directory or not.
/// The private copy is looked at once: a hook that is a hard link to it
/// (the usual case) is it.
fn states_in(dir: &Path, ours: bool) -> Vec<(&'static str, HookState)> {
    let copy = dir.join(COPY);
    let copy = fs::symlink_metadata(&copy).ok().filter(|_| ours && is_binary_copy(&copy));
    HOOKS
        .iter()
        .map(|&hook| {
            let path = dir.join(hook);
            let state = match fs::symlink_metadata(&path) {
                Err(_) if ours && hook == ON_DEMAND => HookState::OnDemand,
                Err(_) => HookState::Missing,
                Ok(meta) if copy.as_ref().is_some_and(|c| (c.dev(), c.ino()) == (meta.dev(), meta.ino())) => {
                    HookState::Installed
                }
                Ok(_) if ours && is_our_hook(dir, &path) => HookState::Installed,
                Ok(_) => HookState::Foreign,
            };
            (hook, state)
        })
        .collect()
}

#[derive(Debug, PartialEq)]
pub enum Problem {
    /// core.hooksPath is not entire's directory (a hook manager's install,
    /// e.g. `npx husky` or `lefthook install --reset-hooks-path`, set it).
    HooksPathChanged {
        now: Option<String>,
        manager: Option<Manager>,
    },
    /// core.hooksPath names an entire hooks directory that is not this
    /// repository's: the one it was moved or copied from (an absolute path
    /// written by an older entire, or a linked worktree's include).
    OtherCopy {
        now: String,
    },
    Missing(&'static str),
    /// Something else wrote a hook into entire's directory (a manager's
    /// install that follows core.hooksPath, e.g. `npx simple-git-hooks`).
    Foreign(String, Option<Manager>),
    /// lefthook's configuration changed since its hooks were installed: on
    /// every run lefthook tries to install them again, cannot while
    /// core.hooksPath is set, and says "custom hooks paths are not
    /// supported"; its new hooks do not run.
    LefthookOutOfDate,
    /// The binary the hooks were copied from is gone; they run their copy.
    BinaryGone(PathBuf),
    /// It changed since: the hooks run it rather than their copies.
    BinaryChanged(PathBuf),
    /// The previous hooks directory holds a hook that is not chained.
    NotChained(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::HooksPathChanged { now, manager } => {
                let now = now.as_deref().map(|p| format!("{p:?}")).unwrap_or_else(|| "unset".into());
                let who = manager.map_or("a hook manager's install (e.g. `npx husky`)", Manager::resetting);
                write!(
                    f,
                    "core.hooksPath is {now}, not entire's hooks directory: {who} changed it, so entire's hooks do not run"
                )
            }
            Problem::OtherCopy { now } => write!(
                f,
                "core.hooksPath is {now:?}, entire's hooks directory of the place this repository was \
                 moved or copied from: git runs none of this clone's hooks, yours included"
            ),
            Problem::Missing(hook) => write!(f, "git hook {hook} is missing"),
            Problem::Foreign(hook, manager) => write!(
                f,
                "git hook {hook} in entire's hooks directory is not entire's: {} wrote it there \
                 (core.hooksPath points there)",
                manager.map_or("a hook manager's install", Manager::writing)
            ),
            Problem::LefthookOutOfDate => write!(
                f,
                "lefthook's configuration changed since its hooks were installed, and lefthook cannot \
                 install them again while core.hooksPath is set (its \"custom hooks paths are not \
                 supported\" box on every commit): its new hooks do not run"
            ),
            Problem::BinaryGone(binary) => write!(
                f,
                "the git hooks were installed from {}, which is gone; they run their own copy",
                binary.display()
            ),
            Problem::BinaryChanged(binary) => {
                write!(
                    f,
                    "{} changed since the git hooks were installed from it: they run it, and its first run \
                     as a hook refreshes their copy",
                    binary.display()
                )
            }
            Problem::NotChained(hook) => {
                write!(
                    f,
                    "your git hook {hook} is not chained from entire's hooks directory, so it does not run"
                )
            }
        }
    }
}

/// What is wrong with entire's hooks in an enabled repository.
pub fn problems(repo: &Repo) -> Result<Vec<Problem>> {
    let ours = our_dir(repo);
    problems_given(repo, &ours, State::load(&ours).as_ref())
}

/// [`problems`], given [`our_dir`] and the state found there. Each
/// directory is listed once, rather than every hook name git knows looked
/// up in it (`entire run` checks this before every session).
pub(super) fn problems_given(repo: &Repo, ours: &Path, state: Option<&State>) -> Result<Vec<Problem>> {
    let dir = hooks_dir_given(repo, ours)?;
    let mut found = Vec::new();
    let Some(state) = state else {
        found.extend(HOOKS.iter().filter(|&&h| h != ON_DEMAND).map(|h| Problem::Missing(h)));
        return Ok(found);
    };
    if dir != ours {
        found.push(match hooks_path_config(repo, None)? {
            Some(now) if is_entire_dir(&now) => Problem::OtherCopy { now },
            now => {
                let manager = Manager::of_dir(&dir, now.as_deref());
                Problem::HooksPathChanged { now, manager }
            }
        });
        return Ok(found);
    }
    for (hook, hook_state) in states_in(ours, true) {
        match hook_state {
            HookState::Installed | HookState::OnDemand => {}
            HookState::Missing => found.push(Problem::Missing(hook)),
            HookState::Foreign => {
                found.push(Problem::Foreign(hook.into(), Manager::of_file(&ours.join(hook))))
            }
        }
    }
    let here = entry_names(ours);
    let previous_dir = state.previous_dir(repo);
    let previous = entry_names(&previous_dir);
    for hook in GIT_HOOKS.iter().filter(|h| !is_entire_hook(h)) {
        let path = ours.join(hook);
        if here.contains(OsStr::new(hook)) {
            if !is_chain_script(&path) {
                found.push(Problem::Foreign((*hook).into(), Manager::of_file(&path)));
            }
        } else if previous.contains(OsStr::new(hook)) && is_executable(&previous_dir.join(hook)) {
            found.push(Problem::NotChained((*hook).into()));
        }
    }
    if lefthook_out_of_date(repo, &previous_dir, &previous) {
        found.push(Problem::LefthookOutOfDate);
    }
    match state.binary_status() {
        Binary::Gone => found.push(Problem::BinaryGone(state.binary.clone())),
        Binary::Changed => found.push(Problem::BinaryChanged(state.binary.clone())),
        Binary::Same => {}
    }
    Ok(found)
}

/// The names in `dir` (none when it cannot be read).
fn entry_names(dir: &Path) -> HashSet<OsString> {
    let Ok(entries) = fs::read_dir(dir) else { return HashSet::new() };
    entries.flatten().map(|e| e.file_name()).collect()
}

impl Problem {
    /// The commands that put entire's hooks and the manager's back, in
    /// order; `entire doctor --fix` alone for all but lefthook's stale hooks.
    pub fn fix(&self) -> &'static [&'static str] {
        match self {
            Problem::LefthookOutOfDate => &["lefthook install --force", "entire doctor --fix"],
            _ => &["entire doctor --fix"],
        }
    }

    /// Not a problem, only worth knowing: the hooks run an upgraded
    /// binary, whose first run as a hook refreshes their copy.
    pub fn is_info(&self) -> bool {
        matches!(self, Problem::BinaryChanged(_))
    }

    /// Whether git runs none of entire's hooks (or a manager's) because of it.
    pub fn stops_hooks(&self) -> bool {
        matches!(
            self,
            Problem::HooksPathChanged { .. }
                | Problem::OtherCopy { .. }
                | Problem::Missing(_)
                | Problem::Foreign(..)
                | Problem::LefthookOutOfDate
        )
    }
}

/// The hook managers whose re-installs entire recognises (docs/hooks.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    Husky,
    Lefthook,
    PreCommit,
    SimpleGitHooks,
}

impl Manager {
    /// Who left `dir` (the hooks directory git runs now, `core.hooksPath`
    /// being `now`) as it is.
    fn of_dir(dir: &Path, now: Option<&str>) -> Option<Manager> {
        if now.is_some_and(|p| p.trim_end_matches('/').ends_with(".husky/_")) {
            return Some(Manager::Husky);
        }
        let entries = fs::read_dir(dir).ok()?;
        entries
            .flatten()
            .filter(|e| GIT_HOOKS.iter().any(|h| e.file_name() == *h))
            .find_map(|e| Manager::of_file(&e.path()))
    }

    /// The manager whose hook `path` is, by what it writes in its hooks.
    fn of_file(path: &Path) -> Option<Manager> {
        let bytes = fs::read(path).ok().filter(|b| b.len() < 64 * 1024)?;
        let text = String::from_utf8_lossy(&bytes);
        [
            ("File generated by pre-commit", Manager::PreCommit),
            ("call_lefthook", Manager::Lefthook),
            ("SKIP_SIMPLE_GIT_HOOKS", Manager::SimpleGitHooks),
            ("husky", Manager::Husky),
        ]
        .into_iter()
        .find_map(|(mark, manager)| text.contains(mark).then_some(manager))
    }

    fn resetting(self) -> &'static str {
        match self {
            Manager::Husky => {
                "husky's install (`npx husky`, which `npm install` runs as the `prepare` script)"
            }
            Manager::Lefthook => "lefthook (`lefthook install --reset-hooks-path`)",
            Manager::PreCommit => {
                "pre-commit's hint (`git config --unset-all core.hooksPath`, then `pre-commit install`)"
            }
            Manager::SimpleGitHooks => "simple-git-hooks",
        }
    }

    fn writing(self) -> &'static str {
        match self {
            Manager::Husky => "husky",
            Manager::Lefthook => "`lefthook install --force`",
            Manager::PreCommit => "`pre-commit install`",
            Manager::SimpleGitHooks => {
                "simple-git-hooks (`npx simple-git-hooks`, often a `postinstall` script)"
            }
        }
    }
}

/// lefthook's hooks are chained and its configuration is newer than the
/// time its install recorded in `info/lefthook.checksum`. `names`: what
/// the previous hooks directory holds.
fn lefthook_out_of_date(repo: &Repo, previous_dir: &Path, names: &HashSet<OsString>) -> bool {
    let Some(installed_at) = fs::read_to_string(repo.common_dir.join("info/lefthook.checksum"))
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<i64>().ok())
    else {
        return false;
    };
    let chained = GIT_HOOKS
        .iter()
        .filter(|h| names.contains(OsStr::new(h)))
        .any(|h| Manager::of_file(&previous_dir.join(h)) == Some(Manager::Lefthook));
    chained
        && [
            "lefthook.yml",
            ".lefthook.yml",
            "lefthook.yaml",
            ".lefthook.yaml",
            "lefthook.toml",
            "lefthook.json",
        ]
        .iter()
        .filter_map(|name| fs::metadata(repo.worktree.join(name)).ok())
        .any(|meta| meta.mtime() > installed_at)
}

pub(super) fn is_chain_script(path: &Path) -> bool {
    fs::read(path)
        .is_ok_and(|b| b.len() < 4096 && String::from_utf8_lossy(&b).lines().nth(1) == Some(CHAIN_MARKER))
}

/// A copy of an entire binary: a regular file that is an executable (ELF
/// or Mach-O), not a script a manager wrote.
pub fn is_binary_copy(path: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else { return false };
    if !meta.is_file() || meta.len() < 4096 {
        return false;
    }
    let mut head = [0u8; 4];
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && is_executable_magic(&head)
}

/// Whether `path` in entire's directory `dir` is one of entire's hooks: an
/// executable (not a script written over it) that is the private copy (a
/// hard link to it) or as large as it (a copy, where there are no hard
/// links). Another program a manager put there is not.
pub fn is_our_hook(dir: &Path, path: &Path) -> bool {
    let (Ok(hook), Ok(copy)) = (fs::symlink_metadata(path), fs::metadata(dir.join(COPY))) else {
        return false;
    };
    is_binary_copy(path)
        && ((hook.ino() == copy.ino() && hook.dev() == copy.dev()) || hook.len() == copy.len())
}

fn is_executable_magic(head: &[u8; 4]) -> bool {
    // ELF, or Mach-O (32/64-bit, either byte order, universal).
    head == b"\x7fELF"
        || matches!(u32::from_be_bytes(*head), 0xfeedface | 0xfeedfacf | 0xcefaedfe | 0xcffaedfe | 0xcafebabe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_binaries_and_not_scripts() {
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("commit-msg");
        fs::write(&script, "#!/bin/sh\nexit 0\n".repeat(500)).unwrap();
        assert!(!is_binary_copy(&script));
        let copy = tmp.path().join("post-commit");
        fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
        assert!(is_binary_copy(&copy));
    }
}
