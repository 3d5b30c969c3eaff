//! What pre-push does for the branch: sends `entire/checkpoints/v1` along
//! to the same remote when it moved since our last successful push there
//! (docs/spec.md §6). Every failure is returned; the hook turns it into a
//! warning, never a blocked push.
//!
//! The tip last pushed to each remote is kept in
//! `<common-dir>/entire-sessions/pushed/<remote, percent-encoded>`: a file
//! rather than a ref, because the "remote" may be a URL, which no ref name
//! can hold.

use std::path::PathBuf;

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::fsutil::{STATE_LINE_CAP, atomic_write, private_dir, read_own};
use crate::git::{CHECKPOINTS_REF, Repo};

/// Where a diverged remote branch is fetched to before the merge.
const FETCHED_REF: &str = "refs/entire/fetched-checkpoints";

/// `pushed_refs`: what git hands pre-push on stdin, one
/// `<local ref> <local sha> <remote ref> <remote sha>` line per ref.
pub fn follow(repo: &Repo, remote: &str, pushed_refs: &[u8]) -> Result<()> {
    if pushes_checkpoints(pushed_refs) {
        return Ok(()); // the user is pushing it already
    }
    let Some(tip) = repo.resolve_ref(CHECKPOINTS_REF) else { return Ok(()) };
    let marker = marker_path(repo, remote);
    let last = read_own(&marker, STATE_LINE_CAP)?.map(|b| String::from_utf8_lossy(&b).trim().to_owned());
    if last.as_deref() == Some(tip.as_str()) {
        return Ok(());
    }
    let pushed = match push(repo, remote, &tip)? {
        Push::Done => tip,
        Push::Rejected => {
            // Another clone pushed checkpoints first: keep both sides.
            fetch(repo, remote)?;
            let theirs = repo.resolve_ref(FETCHED_REF).ok_or_else(|| {
                Error::internal(format!("fetching {} from {remote} gave nothing", checkpoint::BRANCH))
            })?;
            let merged = checkpoint::merge(repo, &tip, &theirs)?;
            checkpoint::update_ref(repo, &merged, Some(&tip), "entire: merge remote checkpoints")?;
            match push(repo, remote, &merged)? {
                Push::Done => merged,
                Push::Rejected => {
                    return Err(Error::internal(format!(
                        "{remote} rejected {} again after a merge; the next push retries",
                        checkpoint::BRANCH
                    )));
                }
            }
        }
    };
    private_dir(marker.parent().expect("marker has a parent"))?;
    atomic_write(&marker, format!("{pushed}\n").as_bytes(), 0o600)
}

/// Whether one of git's `<local ref> <local sha> <remote ref> <remote sha>`
/// lines targets the checkpoints branch.
fn pushes_checkpoints(refs: &[u8]) -> bool {
    String::from_utf8_lossy(refs).lines().any(|line| line.split(' ').nth(2) == Some(CHECKPOINTS_REF))
}

fn marker_path(repo: &Repo, remote: &str) -> PathBuf {
    // Percent-encoding leaves no '/', no "..", no hidden name.
    let name: String = remote
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    repo.store_dir().join("pushed").join(name)
}

enum Push {
    Done,
    /// Not a fast-forward: the remote branch has commits we lack.
    Rejected,
}

fn push(repo: &Repo, remote: &str, commit: &str) -> Result<Push> {
    let refspec = format!("{commit}:{CHECKPOINTS_REF}");
    // Hooks are off in repo.git(): this push does not run us again.
    let mut cmd = repo.git();
    cmd.args(["push", "--no-verify", "--quiet", "--porcelain", "--", remote, &refspec]);
    let out = cmd.output().map_err(|e| crate::git::not_started(&cmd, e))?;
    if out.status.success() {
        return Ok(Push::Done);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.lines().any(|line| line.starts_with("!\t") && line.contains("[rejected]")) {
        return Ok(Push::Rejected);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(Error::internal(format!("pushing {} to {remote}: {}", checkpoint::BRANCH, stderr.trim())))
}

fn fetch(repo: &Repo, remote: &str) -> Result<()> {
    let refspec = format!("+{CHECKPOINTS_REF}:{FETCHED_REF}");
    repo.git_output(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", remote, &refspec])
        .map(drop)
        .map_err(|e| e.context(format_args!("fetching {} from {remote}", checkpoint::BRANCH)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_the_checkpoints_branch_among_pushed_refs() {
        let zero = "0".repeat(40);
        let line = |remote_ref: &str| format!("refs/heads/x {} {remote_ref} {zero}\n", "a".repeat(40));
        assert!(pushes_checkpoints(line(CHECKPOINTS_REF).as_bytes()));
        assert!(!pushes_checkpoints(line("refs/heads/main").as_bytes()));
        assert!(!pushes_checkpoints(b""));
    }

    #[test]
    fn marker_names_are_plain_file_names() {
        let repo = Repo { git_dir: "/g".into(), common_dir: "/g".into(), worktree: "/w".into() };
        let name = |remote| marker_path(&repo, remote).file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name("origin"), "origin");
        assert_eq!(name("../x"), "%2E%2E%2Fx");
        assert_eq!(name("https://h/r.git"), "https%3A%2F%2Fh%2Fr%2Egit");
    }
}
