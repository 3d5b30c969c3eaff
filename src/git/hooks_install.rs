//! Installing and removing entire's git hook shims (docs/spec.md §6).
//!
//! Each shim is a small `#!/bin/sh` script carrying the marker line, that
//! runs the absolute path of the installed binary and never blocks a commit
//! because of entire: if the binary is gone it warns and lets git go on. A
//! hook that was already there is kept as `<hook>.pre-entire` and runs after
//! ours, its exit status deciding the result.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Context, Error, Result};
use crate::git::{Repo, checked};

pub const MARKER: &str = "# entire-hook v1";
pub const HOOKS: [&str; 4] = ["prepare-commit-msg", "commit-msg", "post-commit", "pre-push"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HookState {
    Installed,
    Missing,
    Foreign,
}

/// Where git runs hooks from (honours `core.hooksPath` and linked worktrees).
pub fn hooks_dir(repo: &Repo) -> Result<PathBuf> {
    // Not `repo.git()`: that one turns hooks off, and we want the real path.
    let mut cmd = Command::new("git");
    cmd.current_dir(&repo.worktree).args(["rev-parse", "--git-path", "hooks"]).stdin(Stdio::null());
    let out = checked(&mut cmd)?;
    let rel = String::from_utf8_lossy(&out).trim().to_owned();
    Ok(repo.worktree.join(rel))
}

pub fn backup_path(hook_path: &Path) -> PathBuf {
    let mut name = hook_path.as_os_str().to_owned();
    name.push(".pre-entire");
    PathBuf::from(name)
}

/// The shim for `hook`, running `binary`.
pub fn shim(hook: &str, binary: &Path) -> String {
    let entire = shell_quote(&binary.to_string_lossy());
    // pre-push's stdin (the refs being pushed) belongs to the chained hook.
    let stdin = if hook == "pre-push" { " </dev/null" } else { "" };
    // `${0%/*}` rather than `$(dirname "$0")`, which costs a fork and an
    // exec (a millisecond) on every commit; git runs hooks by a path with a
    // slash in it.
    format!(
        "#!/bin/sh\n\
         {MARKER}\n\
         # Installed by `entire enable`; `entire disable` removes it.\n\
         # entire never blocks a commit: its own failures only warn.\n\
         entire={entire}\n\
         if [ -x \"$entire\" ]; then\n\
         \x20   \"$entire\" hooks git {hook} \"$@\"{stdin} || :\n\
         else\n\
         \x20   echo \"entire: $entire is missing; commit not linked to a session (run: entire doctor)\" >&2\n\
         fi\n\
         chained=\"${{0%/*}}/{hook}.pre-entire\"\n\
         if [ -x \"$chained\" ]; then\n\
         \x20   exec \"$chained\" \"$@\"\n\
         fi\n"
    )
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn is_ours(content: &str) -> bool {
    content.lines().take(3).any(|l| l.trim() == MARKER)
}

pub fn state(dir: &Path, hook: &str) -> HookState {
    match fs::read(dir.join(hook)) {
        Ok(bytes) if is_ours(&String::from_utf8_lossy(&bytes)) => HookState::Installed,
        Ok(_) => HookState::Foreign,
        Err(_) => HookState::Missing,
    }
}

/// What `install` did to one hook, for the user.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    Fresh,
    Updated,
    Unchanged,
    Chained,
    Replaced(PathBuf),
}

/// Installs one shim. An existing foreign hook is kept as `.pre-entire`
/// and chained; if that backup is taken already, only `force` replaces the
/// hook, moving it aside so nothing is lost.
pub fn install(dir: &Path, hook: &str, binary: &Path, force: bool) -> Result<Installed> {
    fs::create_dir_all(dir).context(format_args!("creating {}", dir.display()))?;
    let path = dir.join(hook);
    let wanted = shim(hook, binary);
    let outcome = match fs::read(&path) {
        Err(_) => Installed::Fresh,
        Ok(current) if current == wanted.as_bytes() => return Ok(Installed::Unchanged),
        Ok(current) if is_ours(&String::from_utf8_lossy(&current)) => Installed::Updated,
        Ok(_) => {
            let backup = backup_path(&path);
            if !backup.exists() {
                fs::rename(&path, &backup).context(format_args!("keeping {}", path.display()))?;
                Installed::Chained
            } else if force {
                let aside = path.with_extension(format!("replaced-by-entire-{}", std::process::id()));
                fs::rename(&path, &aside).context(format_args!("moving {} aside", path.display()))?;
                Installed::Replaced(aside)
            } else {
                return Err(Error::new(format!(
                    "{} is not entire's and {} is taken, so it cannot be chained",
                    path.display(),
                    backup.display()
                ))
                .with_hint("merge the two hooks by hand, or run `entire enable --force` to move it aside"));
            }
        }
    };
    crate::fsutil::atomic_write(&path, wanted.as_bytes(), 0o755)?;
    Ok(outcome)
}

/// Removes our shim and puts back what it replaced. A hook that is not
/// ours is left alone.
pub fn uninstall(dir: &Path, hook: &str) -> Result<bool> {
    let path = dir.join(hook);
    if state(dir, hook) != HookState::Installed {
        return Ok(false);
    }
    fs::remove_file(&path).context(format_args!("removing {}", path.display()))?;
    let backup = backup_path(&path);
    if backup.exists() {
        fs::rename(&backup, &path).context(format_args!("restoring {}", path.display()))?;
        let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o755));
    }
    Ok(true)
}

/// The binary path a shim of ours runs, for `doctor`.
pub fn shim_binary(dir: &Path, hook: &str) -> Option<PathBuf> {
    let content = fs::read_to_string(dir.join(hook)).ok()?;
    let line = content.lines().find_map(|l| l.strip_prefix("entire="))?;
    let inner = line.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(PathBuf::from(inner.replace(r"'\''", "'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_quotes_awkward_paths() {
        let shim = shim("commit-msg", Path::new("/opt/it's here/entire"));
        assert!(shim.contains(r"entire='/opt/it'\''s here/entire'"));
        assert_eq!(shim.lines().nth(1), Some(MARKER));
    }

    #[test]
    fn shim_starts_no_process_but_entire_and_the_chained_hook() {
        for hook in HOOKS {
            let shim = shim(hook, Path::new("/usr/bin/entire"));
            let code = shim.lines().filter(|l| !l.starts_with('#'));
            assert!(code.clone().all(|l| !l.contains("$(") && !l.contains('`')), "{shim}");
        }
    }

    #[test]
    fn install_chains_then_uninstall_restores() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join("commit-msg"), "#!/bin/sh\nexit 3\n").unwrap();
        let bin = Path::new("/usr/bin/entire");
        assert_eq!(install(dir, "commit-msg", bin, false).unwrap(), Installed::Chained);
        assert_eq!(install(dir, "commit-msg", bin, false).unwrap(), Installed::Unchanged);
        assert_eq!(shim_binary(dir, "commit-msg").as_deref(), Some(bin));
        assert!(uninstall(dir, "commit-msg").unwrap());
        assert_eq!(fs::read_to_string(dir.join("commit-msg")).unwrap(), "#!/bin/sh\nexit 3\n");
        assert!(!backup_path(&dir.join("commit-msg")).exists());
    }

    #[test]
    fn foreign_hook_with_taken_backup_needs_force() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join("post-commit"), "mine").unwrap();
        fs::write(dir.join("post-commit.pre-entire"), "older").unwrap();
        let bin = Path::new("/bin/entire");
        assert!(install(dir, "post-commit", bin, false).is_err());
        assert!(matches!(install(dir, "post-commit", bin, true).unwrap(), Installed::Replaced(_)));
        assert_eq!(state(dir, "post-commit"), HookState::Installed);
    }
}
