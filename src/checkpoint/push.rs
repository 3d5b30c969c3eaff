//! What pre-push does for the branch: with the user's consent
//! (`checkpoints.push`, docs/privacy.md), sends the local
//! `refs/entire/checkpoints/v1` to the remote's
//! `refs/heads/entire/checkpoints/v1` when it moved since our last
//! successful push there (docs/spec.md §6): to `checkpoints.remote` when
//! set, else to the remote being pushed to. One `entire:` line says what
//! went where. A remote that refuses the branch (a pre-receive policy) is
//! reported once and not tried again until `entire enable --push`. Every
//! other failure is returned; the hook turns it into one warning, never a
//! blocked push.
//!
//! The tip last pushed to each remote is kept in
//! `<common-dir>/entire-sessions/pushed/<remote, percent-encoded>`, and a
//! refusal next to it in `<that>.refused`: files rather than refs, because
//! the "remote" may be a URL, which no ref name can hold.

use std::path::PathBuf;

use super::{BRANCH, REMOTE_REF};
use crate::checkpoint;
use crate::error::{Error, Result, warn};
use crate::fsutil::{STATE_LINE_CAP, atomic_write, private_dir, read_own};
use crate::git::{CHECKPOINTS_REF, Repo};
use crate::settings::Settings;

/// Where a diverged remote branch is fetched to before the merge.
const FETCHED_REF: &str = "refs/entire/fetched-checkpoints";

/// Rounds of fetch, merge and push when other clones keep pushing first.
const ATTEMPTS: u32 = 5;

/// `remote`: what git passes pre-push; `pushed_refs`: what git hands it
/// on stdin, one `<local ref> <local sha> <remote ref> <remote sha>` line
/// per ref.
pub fn follow(repo: &Repo, settings: &Settings, remote: &str, pushed_refs: &[u8]) -> Result<()> {
    if pushes_checkpoints(pushed_refs) {
        return Ok(()); // the user is pushing it already
    }
    let target = settings.checkpoint_remote.as_deref().unwrap_or(remote);
    if !settings.push.allows(target) && !settings.push.allows(remote) {
        return Ok(());
    }
    let Some(tip) = repo.resolve_ref(CHECKPOINTS_REF) else { return Ok(()) };
    let marker = marker_path(repo, target);
    let refused = refusal_path(&marker);
    if refused.exists() {
        return Ok(()); // said once, with how to change it
    }
    let last = read_own(&marker, STATE_LINE_CAP)?.map(|b| String::from_utf8_lossy(&b).trim().to_owned());
    if last.as_deref() == Some(tip.as_str()) {
        return Ok(());
    }
    private_dir(marker.parent().expect("marker has a parent"))?;
    match push_merging(repo, target, tip)? {
        Pushed::Done(sha) => {
            atomic_write(&marker, format!("{sha}\n").as_bytes(), 0o600)?;
            warn(format_args!("pushed checkpoints ({BRANCH}) to {target}"));
        }
        Pushed::Refused(reason) => {
            atomic_write(&refused, format!("{reason}\n").as_bytes(), 0o600)?;
            warn(format_args!(
                "{target} refused {BRANCH} ({reason}); entire will not push it there again. \
                 To stop asking for it: `entire enable --no-push`; to try again: `entire enable --push`"
            ));
        }
    }
    Ok(())
}

/// Forgets every remote's refusal: `enable --push` asks to try again.
pub fn forget_refusals(repo: &Repo) {
    let Ok(entries) = std::fs::read_dir(repo.store_dir().join("pushed")) else { return };
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_some_and(|e| e == "refused") {
            let _ = std::fs::remove_file(path);
        }
    }
}

enum Pushed {
    Done(String),
    Refused(String),
}

/// Pushes `tip`; when another clone pushed first, fetches theirs, merges
/// (both sides' checkpoints kept), moves the local branch by
/// compare-and-swap and pushes again.
fn push_merging(repo: &Repo, remote: &str, mut tip: String) -> Result<Pushed> {
    for _ in 0..ATTEMPTS {
        match push(repo, remote, &tip)? {
            Push::Done => return Ok(Pushed::Done(tip)),
            Push::Refused(reason) => return Ok(Pushed::Refused(reason)),
            Push::Behind => {}
        }
        fetch(repo, remote)?;
        let theirs = repo
            .resolve_ref(FETCHED_REF)
            .ok_or_else(|| Error::internal(format!("fetching {BRANCH} from {remote} gave nothing")))?;
        let merged = checkpoint::merge(repo, &tip, &theirs)?;
        if checkpoint::update_ref(repo, &merged, Some(&tip), "entire: merge remote checkpoints").is_err() {
            // A writer moved the branch meanwhile: merge on top of that.
            tip = repo.resolve_ref(CHECKPOINTS_REF).unwrap_or(tip);
            continue;
        }
        tip = merged;
    }
    Err(Error::internal(format!(
        "{remote} kept moving {BRANCH} while entire merged it; the next push tries again"
    )))
}

/// Whether one of git's `<local ref> <local sha> <remote ref> <remote sha>`
/// lines targets the checkpoints branch.
fn pushes_checkpoints(refs: &[u8]) -> bool {
    String::from_utf8_lossy(refs).lines().any(|line| line.split(' ').nth(2) == Some(REMOTE_REF))
}

fn marker_path(repo: &Repo, remote: &str) -> PathBuf {
    // Percent-encoding leaves no '/', no "..", no hidden name, no '.'.
    let name: String = remote
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    repo.store_dir().join("pushed").join(name)
}

fn refusal_path(marker: &std::path::Path) -> PathBuf {
    marker.with_extension("refused")
}

enum Push {
    Done,
    /// Not a fast-forward: the remote branch has commits we lack.
    Behind,
    /// The remote declined the ref (a hook, a protection rule).
    Refused(String),
}

fn push(repo: &Repo, remote: &str, commit: &str) -> Result<Push> {
    let refspec = format!("{commit}:{REMOTE_REF}");
    // Hooks are off in repo.git(): this push does not run us again.
    let mut cmd = repo.git();
    cmd.args(["push", "--no-verify", "--quiet", "--porcelain", "--", remote, &refspec]);
    let out = cmd.output().map_err(|e| crate::git::not_started(&cmd, e))?;
    if out.status.success() {
        return Ok(Push::Done);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `!\t<from>:<to>\t[rejected] (fetch first)` or `[remote rejected] (<why>)`.
    for line in stdout.lines().filter(|l| l.starts_with("!\t")) {
        let status = line.rsplit('\t').next().unwrap_or("");
        if status.starts_with("[rejected]") {
            return Ok(Push::Behind);
        }
        if let Some(why) = status.strip_prefix("[remote rejected]") {
            let why = why.trim().trim_start_matches('(').trim_end_matches(')');
            // Another push updating the ref at the same moment: a race, not a policy.
            if ["lock", "failed to update ref", "incorrect old value"].iter().any(|w| why.contains(w)) {
                return Ok(Push::Behind);
            }
            return Ok(Push::Refused(if why.is_empty() { "remote rejected".into() } else { why.into() }));
        }
    }
    Err(Error::internal(format!("could not push {BRANCH} to {remote}: {}", git_reason(&out.stderr))))
}

/// What git said went wrong, in one line: its `fatal:` line when there is
/// one, else its last line (never the generic "failed to push some refs").
fn git_reason(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("failed to push some refs"))
        .collect();
    let fatal = lines.iter().find_map(|l| l.strip_prefix("fatal: "));
    fatal.or(lines.last().copied()).unwrap_or("git gave no reason").to_owned()
}

fn fetch(repo: &Repo, remote: &str) -> Result<()> {
    let refspec = format!("+{REMOTE_REF}:{FETCHED_REF}");
    repo.git_output(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--", remote, &refspec])
        .map(drop)
        .map_err(|e| e.context(format_args!("fetching {BRANCH} from {remote}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_the_checkpoints_branch_among_pushed_refs() {
        let zero = "0".repeat(40);
        let line = |remote_ref: &str| format!("refs/heads/x {} {remote_ref} {zero}\n", "a".repeat(40));
        assert!(pushes_checkpoints(line(REMOTE_REF).as_bytes()));
        assert!(!pushes_checkpoints(line(CHECKPOINTS_REF).as_bytes()));
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
        let marker = marker_path(&repo, "origin");
        assert_eq!(refusal_path(&marker).file_name().unwrap(), "origin.refused");
    }

    #[test]
    fn git_failures_read_as_one_line_of_git_reason() {
        let stderr =
            b"error: failed to push some refs to 'x'\nfatal: could not read from remote repository\n";
        assert_eq!(git_reason(stderr), "could not read from remote repository");
        assert_eq!(git_reason(b"error: failed to push some refs to 'x'\n"), "git gave no reason");
    }
}
