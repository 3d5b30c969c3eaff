//! Shared fixtures for integration tests.

use std::path::Path;
use std::process::Command;

/// `git` run in `home`, shut off from the developer's setup: only PATH is
/// inherited, HOME is `home`, no system config, the global config is
/// `home/.gitconfig`, and no repository above `home` is found.
pub fn git(home: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .env("GIT_CEILING_DIRECTORIES", home.parent().unwrap_or(home))
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_NAME", "A U Thor")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "C O Mitter")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com");
    cmd
}

/// Runs `cmd`, panicking with git's stderr unless it succeeds; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn git");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("git printed UTF-8")
}
