//! Shared fixtures for integration tests.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private HOME and state directory; commands made here see nothing of the
/// user's environment but PATH.
pub struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::tempdir().expect("temp dir");
        for dir in ["home", "state/entire"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("sandbox dir");
        }
        Sandbox { root }
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// `$ENTIRE_STATE_DIR`; live-registry entries go to its `live/`.
    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state/entire")
    }

    /// `program` run in the sandbox: empty environment except PATH, HOME,
    /// XDG_STATE_HOME and ENTIRE_STATE_DIR; cwd is the sandbox root.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("ENTIRE_STATE_DIR", self.state_dir())
            .current_dir(self.path());
        cmd
    }
}
