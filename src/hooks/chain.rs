//! A git hook as git starts it: entire's hooks directory holds copies of
//! the binary named after the hooks (src/hookdir/). [`run`] is
//! called, with no argument parsed, when the file name of `argv[0]` is one
//! of entire's hooks (`cli::parse`). It does entire's work in process, then `exec`s the
//! hook git would have run without entire, by the path git would have used,
//! with the same arguments, environment, cwd and stdin (pre-push's stdin is
//! read once and handed to both), so that hook's exit status is git's.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::warn;
use crate::fsutil::is_executable;
use crate::git::trailers;
use crate::hookdir::state::{Binary, State};
use crate::hookdir::{ON_DEMAND, shell_quote};

pub fn run(argv0: &OsStr, hook: &str, args: &[OsString]) -> ! {
    let dir = Path::new(argv0).parent().map(Path::to_path_buf).unwrap_or_default();
    let state = State::load(&dir);
    if let Some(state) = &state {
        follow_upgrade(state, &dir, argv0, hook, args);
    }
    let stdin = (hook == "pre-push").then(|| {
        let mut bytes = Vec::new();
        let _ = std::io::stdin().lock().read_to_end(&mut bytes);
        bytes
    });
    crate::hooks::git::run_with_stdin(hook, args, stdin.as_deref());
    if hook == "prepare-commit-msg"
        && let Some(state) = &state
    {
        link_commit_msg_if_needed(state, &dir, args);
    }
    match &state {
        Some(state) => chain(state, &dir, hook, args, stdin),
        None => {
            warn(format_args!(
                "{hook}: {} is missing; your own {hook} hook, if any, did not run (run: entire doctor)",
                dir.join(crate::hookdir::STATE_FILE).display()
            ));
            std::process::exit(0)
        }
    }
}

/// The installed binary replaced since the hooks were copied from it (an
/// upgrade): run it instead of this copy, and, run as that binary, refresh
/// the copy quietly. Gone: say so once per commit (prepare-commit-msg) or
/// push, with the two commands that remove entire's hooks by hand, and go
/// on with the copy.
fn follow_upgrade(state: &State, dir: &Path, argv0: &OsStr, hook: &str, args: &[OsString]) {
    match state.binary_status() {
        Binary::Gone if matches!(hook, "prepare-commit-msg" | "pre-push") => {
            let restore = match &state.previous_local {
                Some(path) => format!("git config core.hooksPath {}", shell_quote(path)),
                None => "git config --unset core.hooksPath".to_owned(),
            };
            warn(format_args!(
                "{} is gone; its hooks in this repository run their own copy; to remove them: `{restore}` \
                 and `rm -rf {}` (or reinstall entire and run `entire disable`)",
                state.binary.display(),
                shell_quote(&dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()).to_string_lossy())
            ));
        }
        Binary::Changed if std::env::current_exe().is_ok_and(|me| me == state.binary) => {
            // Best effort: `doctor` reports a copy left stale.
            let _ = crate::hookdir::install::refresh_copy(dir, state);
        }
        Binary::Changed => {
            let err = Command::new(&state.binary).arg0(argv0).args(args).exec();
            warn(format_args!("running {}: {err}; this hook runs its own copy", state.binary.display()));
        }
        _ => {}
    }
}

/// commit-msg ([`ON_DEMAND`]) has work in this commit when an editor will
/// show the message we gave a trailer (git tells its hooks that none will
/// with `GIT_EDITOR=:`), or when the user has a commit-msg hook to chain:
/// linked then, before git looks for it. Two `stat`s when it is not needed.
fn link_commit_msg_if_needed(state: &State, dir: &Path, args: &[OsString]) {
    if std::fs::symlink_metadata(dir.join(ON_DEMAND)).is_ok() {
        return;
    }
    let tagged = || {
        args.first()
            .and_then(|file| std::fs::read(file).ok())
            .is_some_and(|m| trailers::mentions_checkpoint(&m))
    };
    if !((super::git::editor_follows() && tagged()) || is_executable(&chained_path(state, dir, ON_DEMAND))) {
        return;
    }
    if let Err(err) = crate::hookdir::install::link_on_demand(dir) {
        warn(format_args!(
            "could not link entire's commit-msg hook: {err:#}; this commit runs neither it nor yours, \
             if any (run: entire doctor --fix)"
        ));
    }
}

/// The path git would have run `hook` by without entire.
fn chained_path(state: &State, dir: &Path, hook: &str) -> PathBuf {
    let common = dir.parent().unwrap_or(dir);
    let in_main = std::env::var_os("GIT_DIR").is_none() && Path::new(".git").is_dir();
    state.chained_path(hook, common, in_main)
}

fn chain(state: &State, dir: &Path, hook: &str, args: &[OsString], stdin: Option<Vec<u8>>) -> ! {
    let path = chained_path(state, dir, hook);
    if !is_executable(&path) {
        std::process::exit(0); // git would have run nothing
    }
    let mut cmd = Command::new(&path);
    cmd.args(args);
    if let Some(bytes) = stdin {
        match replay(&bytes) {
            Ok(file) => {
                cmd.stdin(file);
            }
            Err(err) => warn(format_args!("{hook}: keeping the refs for {}: {err}", path.display())),
        }
    }
    let err = cmd.exec();
    if err.raw_os_error() == Some(libc::ENOEXEC) {
        // git runs a hook without a `#!` line with the shell, so do we.
        let err = Command::new("/bin/sh").arg(&path).args(args).exec();
        fail(hook, &path, err)
    }
    fail(hook, &path, err)
}

/// Could not start the chained hook: git would have failed the operation.
fn fail(hook: &str, path: &Path, err: std::io::Error) -> ! {
    warn(format_args!("{hook}: cannot run {}: {err}", path.display()));
    std::process::exit(1)
}

/// An unlinked file holding `bytes`, positioned at the start.
fn replay(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    let mut file = tempfile::tempfile()?;
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}
