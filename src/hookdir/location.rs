//! How git finds entire's hooks directory, so that it is found again after
//! the repository is moved (`mv`) or copied (`cp -r`, the original
//! deleted or not), in linked worktrees and in submodules.
//!
//! `core.hooksPath` in the repository's own config is the directory
//! *relative to the main worktree's root*: git resolves a relative hooks
//! path against the root of the worktree a hook runs in, so
//! `.git/entire-hooks` (a submodule: `../.git/modules/<name>/entire-hooks`)
//! moves with the repository, as git's own default `hooks/` does. A linked
//! worktree's root is elsewhere, so its git dir (under `<common>/worktrees/`)
//! gets the absolute path from an `[includeIf "gitdir:./worktrees/"]` of
//! the same config, whose condition and included file are both relative to
//! the common dir. A moved repository's linked worktrees need
//! `git worktree repair` anyway; the included file is rewritten by the next
//! `entire enable`, `doctor --fix`, or `entire run` with `hooks.repair`,
//! and reported by `status`, `doctor` and `entire run` until then.

use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use super::{DIR_NAME, set_local_hooks_path};
use crate::error::{Context, Result};
use crate::git::Repo;

/// The file (in entire's directory) that linked worktrees include.
pub const LINKED_CONFIG: &str = "linked-worktrees.config";
const INCLUDE_KEY: &str = "includeIf.gitdir:./worktrees/.path";

/// Points git at `ours`, for every worktree: the relative `core.hooksPath`
/// and the linked worktrees' include (each written only when it differs).
pub fn point_git_at(repo: &Repo, ours: &Path) -> Result<()> {
    let wanted = config_value(repo, ours);
    if super::hooks_path_config(repo, Some("--local"))?.as_deref() != Some(wanted.as_str()) {
        set_local_hooks_path(repo, Some(&wanted))?;
    }
    refresh_linked(ours)?;
    let include = format!("{DIR_NAME}/{LINKED_CONFIG}");
    if !local_values(repo, INCLUDE_KEY)?.contains(&include) {
        config(repo, &["--add", INCLUDE_KEY, &include])?;
    }
    Ok(())
}

/// Writes the file linked worktrees include when it does not name `ours`
/// (a moved or copied repository): entire's own file, so `entire run`
/// corrects it unasked. True when it was stale.
pub fn refresh_linked(ours: &Path) -> Result<bool> {
    let text = format!("[core]\n\thooksPath = {}\n", quote_value(&ours.to_string_lossy()));
    let file = ours.join(LINKED_CONFIG);
    if std::fs::read(&file).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    crate::fsutil::atomic_write(&file, text.as_bytes(), 0o644)?;
    Ok(true)
}

/// Takes the linked worktrees' include back out (its section too, when
/// nothing else is left in it).
pub fn remove_include(repo: &Repo) -> Result<()> {
    let include = format!("{DIR_NAME}/{LINKED_CONFIG}");
    if !local_values(repo, INCLUDE_KEY)?.contains(&include) {
        return Ok(());
    }
    config(repo, &["--fixed-value", "--unset-all", INCLUDE_KEY, &include])?;
    let rest = Command::new("git")
        .current_dir(&repo.worktree)
        .args(["config", "--local", "--get-regexp", r"^includeif\.gitdir:\./worktrees/\."])
        .stdin(Stdio::null())
        .output()
        .context("running git config")?;
    if rest.stdout.is_empty() {
        // Newer gits drop a section its last key left; older ones keep
        // the empty header, harmless, which this removes.
        let _ = config(repo, &["--remove-section", "includeIf.gitdir:./worktrees/"]);
    }
    Ok(())
}

/// `core.hooksPath` for `ours`: relative to the main worktree's root when
/// there is one, else absolute.
pub fn config_value(repo: &Repo, ours: &Path) -> String {
    match main_worktree(repo) {
        Some(root) => relative(ours, &root).to_string_lossy().into_owned(),
        None => ours.to_string_lossy().into_owned(),
    }
}

/// The main worktree's root, canonical: this one when its git dir is the
/// common dir, else the first of `git worktree list` (None when bare).
fn main_worktree(repo: &Repo) -> Option<PathBuf> {
    if repo.git_dir == repo.common_dir {
        return Some(repo.worktree.clone());
    }
    let out = repo.git_output(["worktree", "list", "--porcelain"]).ok()?;
    let text = String::from_utf8_lossy(&out);
    let mut lines = text.lines();
    let root = lines.next()?.strip_prefix("worktree ")?;
    if lines.next() == Some("bare") {
        return None;
    }
    Path::new(root).canonicalize().ok()
}

/// `path` relative to `base` (both absolute and canonical).
fn relative(path: &Path, base: &Path) -> PathBuf {
    let (path, base): (Vec<Component>, Vec<Component>) =
        (path.components().collect(), base.components().collect());
    let shared = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in shared..base.len() {
        out.push("..");
    }
    out.extend(&path[shared..]);
    out
}

/// A git config value in double quotes, with `"` and `\` escaped.
fn quote_value(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn local_values(repo: &Repo, key: &str) -> Result<Vec<String>> {
    let out = Command::new("git")
        .current_dir(&repo.worktree)
        .args(["config", "--local", "--get-all", key])
        .stdin(Stdio::null())
        .output()
        .context("running git config")?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
}

fn config(repo: &Repo, args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).args(["config", "--local"]).args(args).stdin(Stdio::null());
    crate::git::checked(&mut cmd).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_out_of_the_base() {
        assert_eq!(
            relative(Path::new("/r/.git/entire-hooks"), Path::new("/r")),
            Path::new(".git/entire-hooks")
        );
        assert_eq!(
            relative(Path::new("/s/.git/modules/a/b/entire-hooks"), Path::new("/s/a/b")),
            Path::new("../../.git/modules/a/b/entire-hooks")
        );
        assert_eq!(quote_value(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
    }
}
