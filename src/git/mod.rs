//! Git access. Discovery and HEAD are read from files where git's on-disk
//! format is stable (hooks run on every commit; each `git` call costs about a
//! millisecond). Everything else shells out to the `git` binary with hooks
//! turned off, so entire's own git calls never recurse into its hooks.

mod comment_char;
mod commit_id;
pub mod reflog;
pub mod trailers;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

pub use commit_id::{CommitId, is_object_name};

/// The ref that holds checkpoint metadata (docs/spec.md §7): outside
/// `refs/heads`, so that git never pushes it on its own.
pub const CHECKPOINTS_REF: &str = "refs/entire/checkpoints/v1";

#[derive(Clone, Debug)]
pub struct Repo {
    /// This worktree's git dir (`.git`, or `.git/worktrees/<name>`).
    pub git_dir: PathBuf,
    /// Shared by all worktrees: holds refs, objects and the session store.
    pub common_dir: PathBuf,
    /// Top of the working tree (canonical).
    pub worktree: PathBuf,
}

impl Repo {
    /// Finds the repository containing `cwd`; `Ok(None)` outside any.
    pub fn discover(cwd: &Path) -> Result<Option<Repo>> {
        match discover_from_files(cwd) {
            Found::Repo(repo) => Ok(Some(repo)),
            Found::Nothing => Ok(None),
            Found::AskGit => discover_with_git(cwd),
        }
    }

    /// Like `discover`, but outside a repository is an error with a hint.
    pub fn require(cwd: &Path) -> Result<Repo> {
        Repo::discover(cwd)?
            .ok_or_else(|| Error::user("not a git repository").with_hint("run this inside a git repository"))
    }

    pub fn store_dir(&self) -> PathBuf {
        self.common_dir.join("entire-sessions")
    }

    pub fn worktree_str(&self) -> String {
        self.worktree.to_string_lossy().into_owned()
    }

    /// A `git` command run in this worktree with hooks off.
    pub fn git(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.worktree)
            .args(["-c", "core.hooksPath=/dev/null"])
            .env("GIT_DIR", &self.git_dir)
            .env("GIT_WORK_TREE", &self.worktree)
            .env_remove("GIT_INDEX_FILE")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs git and returns stdout; a non-zero exit is an error carrying
    /// git's own message.
    pub fn git_output<I, S>(&self, args: I) -> Result<Vec<u8>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.git();
        cmd.args(args);
        checked(&mut cmd)
    }

    /// HEAD's commit, read from files; None on an unborn branch.
    pub fn head(&self) -> Option<CommitId> {
        let head = fs::read_to_string(self.git_dir.join("HEAD")).ok()?;
        match head.trim().strip_prefix("ref: ") {
            Some(name) => CommitId::parse(&self.resolve_ref(name)?),
            None => CommitId::parse(head.trim()),
        }
    }

    /// The current branch's short name; None when detached.
    pub fn branch(&self) -> Option<String> {
        let head = fs::read_to_string(self.git_dir.join("HEAD")).ok()?;
        head.trim().strip_prefix("ref: refs/heads/").map(str::to_owned)
    }

    /// A ref's value from loose refs or `packed-refs`; falls back to git
    /// for other ref storage (reftable).
    pub fn resolve_ref(&self, name: &str) -> Option<String> {
        let loose = fs::read_to_string(self.common_dir.join(name))
            .or_else(|_| fs::read_to_string(self.git_dir.join(name)));
        if let Ok(value) = loose {
            let value = value.trim();
            return match value.strip_prefix("ref: ") {
                Some(target) => self.resolve_ref(target),
                None => Some(value.to_owned()).filter(|s| is_object_name(s)),
            };
        }
        if let Ok(packed) = fs::read_to_string(self.common_dir.join("packed-refs")) {
            return packed.lines().find_map(|line| {
                let (oid, refname) = line.split_once(' ')?;
                (refname == name && is_object_name(oid)).then(|| oid.to_owned())
            });
        }
        if self.common_dir.join("reftable").is_dir() {
            let out = self.git_output(["rev-parse", "--verify", "--quiet", name]).ok()?;
            return Some(String::from_utf8_lossy(&out).trim().to_owned()).filter(|s| is_object_name(s));
        }
        None
    }

    /// A sequencer operation (rebase, cherry-pick, revert) is under way.
    pub fn in_sequencer_operation(&self) -> bool {
        ["rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD", "REVERT_HEAD"]
            .iter()
            .any(|name| self.git_dir.join(name).exists())
    }
}

/// The directory mode `core.sharedRepository` gives the directories git
/// creates in a repository whose common dir is `common_dir`, read from its
/// `config` file without starting git (only when a directory of entire's
/// there is missing or open to others): `group` 2770, `all` 2775, an octal
/// file mode that mode with `x` where it has `r`, plus setgid; None when
/// the repository is not shared (`umask`, `false`, unset).
pub fn shared_repository_mode(common_dir: &Path) -> Option<u32> {
    let config = fs::read_to_string(common_dir.join("config")).ok()?;
    let mut in_core = false;
    let mut value = None;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_core = line.trim_start_matches('[').trim_end_matches(']').trim().eq_ignore_ascii_case("core");
        } else if in_core && let Some((key, v)) = line.split_once('=') {
            if key.trim().eq_ignore_ascii_case("sharedRepository") {
                value = Some(v.trim().trim_matches('"').to_ascii_lowercase()); // the last one wins
            }
        } else if in_core && line.eq_ignore_ascii_case("sharedRepository") {
            value = Some("true".into()); // a bare key is true
        }
    }
    let file_mode = match value?.as_str() {
        "group" | "true" | "yes" | "on" | "1" => 0o660,
        "all" | "world" | "everybody" | "2" => 0o664,
        octal if octal.starts_with('0') && octal.len() > 1 => u32::from_str_radix(octal, 8).ok()? & 0o666,
        _ => return None,
    };
    Some(0o2000 | 0o700 | file_mode | ((file_mode & 0o444) >> 2))
}

pub fn checked(cmd: &mut Command) -> Result<Vec<u8>> {
    let output: Output = cmd.stderr(Stdio::piped()).output().map_err(|e| not_started(cmd, e))?;
    if output.status.success() { Ok(output.stdout) } else { Err(failed(&command_line(cmd), &output.stderr)) }
}

/// A git command as a message shows it: `git cat-file --batch`, without
/// the `-c core.hooksPath=/dev/null` every call of ours carries.
pub fn command_line(cmd: &Command) -> String {
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
    let args = match &args[..] {
        [c, off, rest @ ..] if c == "-c" && off == "core.hooksPath=/dev/null" => rest,
        all => all,
    };
    std::iter::once("git").chain(args.iter().map(|a| a.as_ref())).collect::<Vec<_>>().join(" ")
}

/// `` `git …` failed: <what git said> ``, given the [`command_line`].
pub fn failed(command_line: &str, stderr: &[u8]) -> Error {
    let said = String::from_utf8_lossy(stderr);
    let said = if said.trim().is_empty() { "no message" } else { said.trim() };
    Error::internal(format!("`{command_line}` failed: {said}"))
}

/// git could not even be started.
pub fn not_started(cmd: &Command, err: std::io::Error) -> Error {
    Error::internal(format!("running `{}`: {err}", command_line(cmd)))
}

/// What the files say about the repository around a directory.
enum Found {
    Repo(Repo),
    /// No `.git` anywhere above, and no variable pointing elsewhere: not in
    /// a work tree, which `entire run` outside repositories learns without
    /// starting git.
    Nothing,
    /// Something only git can tell.
    AskGit,
}

fn discover_from_files(cwd: &Path) -> Found {
    // Git exports GIT_DIR to hooks in linked worktrees; the files agree
    // with it in that case. Any other use of these variables (or of
    // core.worktree) follows rules subtle enough to leave to git.
    if std::env::var_os("GIT_WORK_TREE").is_some() {
        return Found::AskGit;
    }
    let env_git_dir = std::env::var_os("GIT_DIR").map(|d| fs::canonicalize(cwd.join(d)));
    for dir in cwd.ancestors() {
        let dot_git = dir.join(".git");
        let Ok(meta) = fs::symlink_metadata(&dot_git) else { continue };
        // A plain `.git` directory is resolved with the worktree: one path
        // resolved (a `readlink` per component) instead of two, per hook.
        let plain_dir = meta.is_dir();
        let meta = if meta.is_symlink() {
            let Ok(target) = fs::metadata(&dot_git) else { continue };
            target
        } else {
            meta
        };
        let git_dir = if meta.is_dir() {
            dot_git
        } else {
            let Ok(text) = fs::read_to_string(&dot_git) else { return Found::AskGit };
            let Some(target) = text.trim().strip_prefix("gitdir: ") else { return Found::AskGit };
            dir.join(target)
        };
        if !git_dir.join("HEAD").is_file() {
            return Found::AskGit;
        }
        let linked_common =
            fs::read_to_string(git_dir.join("commondir")).ok().map(|rel| git_dir.join(rel.trim()));
        let Ok(worktree) = fs::canonicalize(dir) else { return Found::AskGit };
        let git_dir = if plain_dir { Ok(worktree.join(".git")) } else { fs::canonicalize(&git_dir) };
        let Ok(git_dir) = git_dir else { return Found::AskGit };
        if env_git_dir.is_some_and(|env| env.ok().as_ref() != Some(&git_dir)) {
            return Found::AskGit;
        }
        // Without a `commondir` file the common dir is the git dir, already
        // resolved: hooks run this on every commit.
        let common_dir = match linked_common {
            Some(common) => fs::canonicalize(common),
            None => Ok(git_dir.clone()),
        };
        let Ok(common_dir) = common_dir else { return Found::AskGit };
        return Found::Repo(Repo { git_dir, common_dir, worktree });
    }
    if env_git_dir.is_some() { Found::AskGit } else { Found::Nothing }
}

fn discover_with_git(cwd: &Path) -> Result<Option<Repo>> {
    let output = Command::new("git")
        .current_dir(cwd)
        .args(["rev-parse", "--absolute-git-dir", "--git-common-dir", "--show-toplevel"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::internal(format!("running git: {e}")))?;
    if !output.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let (Some(git_dir), Some(common), Some(top)) = (lines.next(), lines.next(), lines.next()) else {
        return Ok(None); // a bare repository has no worktree to attribute
    };
    // --git-common-dir is relative to cwd unless absolute.
    let canon = |p: &Path| fs::canonicalize(cwd.join(p)).unwrap_or_else(|_| cwd.join(p));
    Ok(Some(Repo {
        git_dir: canon(Path::new(git_dir)),
        common_dir: canon(Path::new(common)),
        worktree: canon(Path::new(top)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_git_names_its_command_without_our_hooks_off_switch() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("git");
        cmd.current_dir(tmp.path()).env("GIT_DIR", tmp.path().join("none")).args([
            "-c",
            "core.hooksPath=/dev/null",
            "cat-file",
            "-t",
            "HEAD",
        ]);
        let err = checked(&mut cmd).unwrap_err().to_string();
        assert!(err.starts_with("`git cat-file -t HEAD` failed: fatal: "), "{err}");
    }
}
