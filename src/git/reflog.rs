//! HEAD's reflog: the commits a worktree gained during a session, so that a
//! session whose commits got no checkpoint says so when it ends.

use super::Repo;
use super::trailers::{CHECKPOINT_KEY, every_value};

/// Where HEAD's reflog ends now: what [`commits_since`] starts from.
pub fn end(repo: &Repo) -> u64 {
    std::fs::metadata(repo.git_dir.join("logs/HEAD")).map_or(0, |m| m.len())
}

/// Commits made in this worktree since the reflog ended at `start` (its
/// entries `commit`, `commit (amend)`, `commit (merge)`…), oldest first; a
/// commit amended afterwards is left out for the one that replaced it.
/// Empty when the worktree keeps no reflog. Reads only what was added
/// since `start`, however long the reflog.
pub fn commits_since(repo: &Repo, start: u64) -> Vec<String> {
    use std::os::unix::fs::FileExt;
    let Ok(log) = std::fs::File::open(repo.git_dir.join("logs/HEAD")) else { return Vec::new() };
    let added_len = log.metadata().ok().and_then(|m| m.len().checked_sub(start)).unwrap_or(0);
    let Some(mut added) = usize::try_from(added_len).ok().filter(|&n| n > 0).map(|n| vec![0; n]) else {
        return Vec::new();
    };
    if log.read_exact_at(&mut added, start).is_err() {
        return Vec::new();
    }
    let added = added.as_slice();
    let mut commits: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(added).lines() {
        let Some((head, message)) = line.split_once('\t') else { continue };
        let mut fields = head.split(' ');
        let (Some(old), Some(new)) = (fields.next(), fields.next()) else { continue };
        if !message.starts_with("commit") {
            continue;
        }
        if message.starts_with("commit (amend)") {
            commits.retain(|c| c != old);
        }
        commits.push(new.to_owned());
    }
    commits
}

/// Those of `commits` whose message (as `message` reads it) has no
/// `Entire-Checkpoint` line, in any paragraph, as readers count them. A
/// commit whose message cannot be read is left out.
pub fn without_checkpoint(commits: &[String], message: impl Fn(&str) -> Option<String>) -> Vec<String> {
    commits
        .iter()
        .filter(|sha| message(sha).is_some_and(|m| every_value(&m, CHECKPOINT_KEY, None).is_empty()))
        .cloned()
        .collect()
}
