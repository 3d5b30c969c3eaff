//! Post-hoc linking, for agents whose commits run no git hook (Gemini CLI).
//!
//! Every hook remembers HEAD in the session record (`last_seen_head`); after
//! a tool call that may have run git, the commits that appeared on HEAD
//! since then (first parent, committed no earlier than that look, without a
//! checkpoint trailer of their own) are linked to the session by a
//! checkpoint with `resolved_by: "post-hoc"`.
//!
//! A commit is claimed once, repository-wide (`<store>/post-hoc-claims/`,
//! created exclusively): one commit, at most one post-hoc checkpoint. When
//! another live session of the repository had a tool call open that could
//! have made the commit (its `open_tool`, set by BeforeTool, started no
//! later than the commit), the evidence cannot tell the two apart: the
//! commit is claimed as disputed, linked to neither, and the hook says so.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::checkpoint;
use crate::error::{Context, Error, Result, warn};
use crate::fsutil::private_dir;
use crate::git::CommitId;
use crate::git::Repo;
use crate::git::trailers::{self, CHECKPOINT_KEY};
use crate::process::System;
use crate::session::{LiveRegistry, Resolution, ResolvedBy, SessionId, SessionRecord, Store};
use crate::settings::Settings;

const SEEN_KEY: &str = "last_seen_head";
const OPEN_TOOL_KEY: &str = "open_tool";
/// Gemini CLI's built-in tools that never run git: a commit that appears
/// during one of them is not its session's.
const QUIET_TOOLS: [&str; 11] = [
    "read_file",
    "read_many_files",
    "write_file",
    "replace",
    "glob",
    "search_file_content",
    "list_directory",
    "web_fetch",
    "google_web_search",
    "save_memory",
    "write_todos",
];
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

/// A tool call in progress, as BeforeTool records it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OpenTool {
    pub name: Option<String>,
    pub started_at: DateTime<Utc>,
}

/// Whether a tool may have run git (a shell, an MCP server's tool).
pub fn may_commit(tool: &str) -> bool {
    !QUIET_TOOLS.contains(&tool)
}

/// Records the tool call that starts now.
pub fn open_tool(rec: &mut SessionRecord, name: Option<&str>, now: DateTime<Utc>) {
    let open = OpenTool { name: name.map(str::to_owned), started_at: now };
    rec.extra.insert(OPEN_TOOL_KEY.to_owned(), json!(open));
}

/// The tool call is over (and what it made is linked or disputed).
pub fn close_tool(store: &Store, session: &SessionId) -> Result<()> {
    store.modify(session, |current| {
        let mut rec = current?;
        rec.extra.remove(OPEN_TOOL_KEY)?;
        Some(rec)
    })?;
    Ok(())
}

/// The live sessions of this repository other than `me` whose open tool
/// call could have made a commit at `time` (seconds).
fn rivals(store: &Store, me: &SessionId, time: i64) -> Vec<SessionId> {
    let (entries, _) = LiveRegistry::repo_index(store).list();
    let mut rivals: Vec<SessionId> = entries
        .into_iter()
        .filter(|e| e.session.session_id != *me)
        .map(|e| store.load(&e.session.session_id).ok().flatten().unwrap_or(e.session))
        .filter(|r| r.ended_at.is_none() && r.is_live(&System))
        .filter(|r| {
            let open =
                r.extra.get(OPEN_TOOL_KEY).and_then(|v| serde_json::from_value::<OpenTool>(v.clone()).ok());
            open.is_some_and(|o| o.name.as_deref().is_none_or(may_commit) && o.started_at.timestamp() <= time)
        })
        .map(|r| r.session_id)
        .collect();
    rivals.sort();
    rivals
}

/// Claims `commit` for `owner` (a session ID, or why it is disputed),
/// repository-wide and at most once: false when it was claimed before.
fn claim(store: &Store, commit: &str, owner: &str) -> Result<bool> {
    let dir = store.dir().join("post-hoc-claims");
    private_dir(&dir)?;
    let path = dir.join(commit);
    let created = std::fs::File::options().write(true).create_new(true).open(&path);
    match created {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, owner.as_bytes())
                .context(format_args!("writing {}", path.display()))?;
            Ok(true)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(err).context(format_args!("claiming {}", path.display())),
    }
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
    for commit in new {
        let rivals = rivals(store, session, commit.time);
        if !rivals.is_empty() {
            let mut all: Vec<&str> = rivals.iter().chain([session]).map(SessionId::as_str).collect();
            all.sort_unstable();
            let all = all.join(", ");
            if claim(store, &commit.sha, &format!("disputed: {all}"))? {
                warn(format_args!(
                    "no checkpoint for commit {}: sessions {all} each had a tool call running when it was made",
                    &commit.sha[..commit.sha.len().min(12)]
                ));
            }
            continue;
        }
        // Another session's hook (a second Gemini here) may have claimed it.
        if !claim(store, &commit.sha, session.as_str())? {
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
    checkpoint::record(repo, store, attribution, &checkpoint::Batch::open(repo, settings)?)
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
    fn a_commit_is_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        assert!(claim(&store, "abc", "s1").unwrap());
        assert!(!claim(&store, "abc", "s2").unwrap());
        assert_eq!(std::fs::read_to_string(dir.path().join("post-hoc-claims/abc")).unwrap(), "s1");
        assert!(may_commit("run_shell_command") && may_commit("mcp_git_commit"));
        assert!(!may_commit("write_file") && !may_commit("read_file"));
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
