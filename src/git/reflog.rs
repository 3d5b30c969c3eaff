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
/// Empty when the worktree keeps no reflog.
pub fn commits_since(repo: &Repo, start: u64) -> Vec<String> {
    let Ok(log) = std::fs::read(repo.git_dir.join("logs/HEAD")) else { return Vec::new() };
    let Some(added) = usize::try_from(start).ok().and_then(|start| log.get(start..)) else {
        return Vec::new();
    };
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

/// Those of `commits` whose message has no `Entire-Checkpoint` line (in any
/// paragraph, as readers count them; one git process for all of them).
pub fn without_checkpoint(repo: &Repo, commits: &[String]) -> Vec<String> {
    if commits.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["log", "--no-walk=unsorted", "--encoding=UTF-8", "--format=%H%x1f%B%x1e"];
    args.extend(commits.iter().map(String::as_str));
    let Ok(out) = repo.git_output(args) else { return Vec::new() };
    String::from_utf8_lossy(&out)
        .split('\x1e')
        .filter_map(|entry| entry.trim_start_matches('\n').split_once('\x1f'))
        .filter(|(_, message)| every_value(message, CHECKPOINT_KEY, None).is_empty())
        .map(|(sha, _)| sha.to_owned())
        .collect()
}
