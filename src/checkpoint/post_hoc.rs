//! Post-hoc linking, for agents whose commits run no git hook (Gemini CLI).
//!
//! Every hook remembers HEAD in the session record (`last_seen_head`); after
//! a tool call or a turn, the commits that appeared on HEAD since then
//! (first parent, committed no earlier than that look, without a checkpoint
//! trailer of their own) are linked to the session by a checkpoint with
//! `resolved_by: "post-hoc"`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::git::CommitId;
use crate::git::Repo;
use crate::git::trailers::{self, CHECKPOINT_KEY};
use crate::session::{Resolution, ResolvedBy, SessionId, SessionRecord, Store};
use crate::settings::Settings;

const SEEN_KEY: &str = "last_seen_head";
/// Commits linked per look at most: a hook must stay quick.
const MAX_LINKED: usize = 64;

/// HEAD as one of the session's hooks last saw it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SeenHead {
    pub commit: String,
    pub seen_at: DateTime<Utc>,
}

/// Records `head` as seen now. When `link` is set and HEAD moved since the
/// previous look, returns that look and the new HEAD: the commits between
/// them are this session's to link. Recording and claiming happen in one
/// locked update, so two hooks never claim the same commits.
pub fn observe_head(
    rec: &mut SessionRecord,
    head: Option<&str>,
    now: DateTime<Utc>,
    link: bool,
) -> Option<(SeenHead, String)> {
    let head = head?;
    let previous = rec.extra.insert(SEEN_KEY.to_owned(), json!({"commit": head, "seen_at": now}))?;
    let previous: SeenHead = serde_json::from_value(previous).ok()?;
    let moved = previous.commit != head && previous.commit.bytes().all(|b| b.is_ascii_hexdigit());
    (link && moved).then(|| (previous, head.to_owned()))
}

/// Links the commits that appeared on HEAD since `since` to the session.
pub fn link_new_commits(
    repo: &Repo,
    settings: &Settings,
    store: &Store,
    session: &SessionId,
    since: &SeenHead,
    head: &str,
    found_by: &str,
) -> Result<()> {
    // Paths as named, not quoted (a name holding a newline still is).
    let out = repo.git_output([
        "-c",
        "core.quotePath=false",
        "log",
        "--first-parent",
        &format!("--max-count={MAX_LINKED}"),
        "--no-renames",
        "--format=%x1e%H%x00%ct%x00%B%x00",
        "--name-only",
        &format!("{}..{head}", since.commit),
        "--",
    ])?;
    // Older commits reached by a checkout or reset are not new work; a
    // commit with a trailer was linked by the git hooks already.
    let new: Vec<Commit> = parse_log(&String::from_utf8_lossy(&out))
        .into_iter()
        .rev()
        .filter(|c| {
            c.time >= since.seen_at.timestamp() && trailers::values(&c.message, CHECKPOINT_KEY).is_empty()
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    // Another session's hook (a second Gemini in this worktree) may have
    // linked it first.
    let mut index = checkpoint::Reader::open(repo)?;
    for commit in new {
        if let Some(index) = &mut index
            && let Some(sha) = CommitId::parse(&commit.sha)
            && !index.ids_for_commit(&sha)?.is_empty()
        {
            continue;
        }
        link(repo, settings, store, session, &commit, found_by)
            .map_err(|e| e.context(format_args!("linking commit {}", commit.sha)))?;
    }
    Ok(())
}

fn link(
    repo: &Repo,
    settings: &Settings,
    store: &Store,
    session: &SessionId,
    commit: &Commit,
    found_by: &str,
) -> Result<()> {
    let attribution = checkpoint::Attribution {
        checkpoint_id: checkpoint::new_id(repo)?,
        commit: CommitId::parse(&commit.sha)
            .ok_or_else(|| Error::internal(format!("not a full commit SHA: {:?}", commit.sha)))?,
        session_id: session.clone(),
        resolved_by: ResolvedBy::PostHoc,
        // How the hook found the session; the commit itself ran no hook.
        resolution: Resolution {
            method: Some(ResolvedBy::PostHoc),
            session_found_by: Some(found_by.to_owned()),
            ..Resolution::default()
        },
        created_at: Utc::now(),
        branch: repo.branch(),
        files_changed: commit.files.clone(),
        extra: serde_json::Map::from_iter([("linked".to_owned(), json!(ResolvedBy::PostHoc))]),
    };
    checkpoint::record(repo, store, attribution, &settings.transcripts())
}

#[derive(Debug, PartialEq)]
struct Commit {
    sha: String,
    time: i64,
    message: String,
    files: Vec<String>,
}

/// Parses `git log --format=%x1e%H%x00%ct%x00%B%x00 --name-only`.
fn parse_log(text: &str) -> Vec<Commit> {
    text.split('\x1e')
        .filter_map(|record| {
            let mut parts = record.splitn(4, '\0');
            let sha = parts.next()?.trim().to_owned();
            let time = parts.next()?.trim().parse().ok()?;
            let message = parts.next()?.to_owned();
            let files =
                parts.next().unwrap_or("").lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
            Some(Commit { sha, time, message, files })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_commits() {
        let text = "\x1eaaa\x001700000000\x00two\n\nbody\n\x00\nb.txt\nc.txt\n\x1ebbb\x001600000000\x00one\n\x00\na.txt\n";
        let commits = parse_log(text);
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].sha, "aaa");
        assert_eq!(commits[0].files, ["b.txt", "c.txt"]);
        assert_eq!(
            commits[1],
            Commit {
                sha: "bbb".into(),
                time: 1600000000,
                message: "one\n".into(),
                files: vec!["a.txt".into()]
            }
        );
    }

    #[test]
    fn only_a_moved_head_is_claimed_and_only_when_linking() {
        let mut rec = SessionRecord::new(SessionId::parse("s1").unwrap());
        let t = Utc::now();
        assert_eq!(observe_head(&mut rec, Some("aa"), t, true), None, "the first look claims nothing");
        assert_eq!(observe_head(&mut rec, Some("aa"), t, true), None, "HEAD did not move");
        assert_eq!(observe_head(&mut rec, Some("bb"), t, false), None, "a prompt only looks");
        let (since, head) = observe_head(&mut rec, Some("cc"), t, true).unwrap();
        assert_eq!((since.commit.as_str(), head.as_str()), ("bb", "cc"));
        assert_eq!(rec.extra[SEEN_KEY]["commit"], "cc");
    }
}
