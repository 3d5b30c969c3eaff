//! `entire explain REV --format agent-trace`: the commit as an Agent Trace
//! record (Agent Trace 0.1.0, docs/json.md): the lines the commit added,
//! per file, attributed to each session that made it, with its model when
//! the transcript names one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::attributed::checkpoint_usage;
use crate::checkpoint::{Metadata, Reader};
use crate::error::Result;
use crate::git::Repo;

/// The specification's version, as its schema writes it (`major.minor`).
pub const VERSION: &str = "0.1";

/// The record for commit `sha`, made by `checkpoints` (none: `unknown`).
pub fn record(
    repo: &Repo,
    reader: Option<&mut Reader>,
    sha: &str,
    checkpoints: &[Metadata],
) -> Result<Value> {
    let diff = repo.git_output([
        "-c",
        "core.quotePath=false",
        "diff-tree",
        "-p",
        "-U0",
        "--no-renames",
        "--no-commit-id",
        "--root",
        sha,
    ])?;
    let files = added_lines(&String::from_utf8_lossy(&diff));
    let mut contributors = Vec::new();
    let mut reader = reader;
    for meta in checkpoints {
        let usage =
            reader.as_deref_mut().map(|r| checkpoint_usage(r, &meta.checkpoint_id)).unwrap_or_default();
        let mut contributor = json!({"type": "ai"});
        if let Some(model) = usage.models.first() {
            contributor["model_id"] = model_id(meta.agent.as_deref(), model).into();
        }
        contributors.push(contributor);
    }
    if contributors.is_empty() {
        contributors.push(json!({"type": "unknown"}));
    }
    let files: Vec<Value> = files
        .into_iter()
        .map(|(path, ranges)| {
            let ranges: Vec<Value> =
                ranges.iter().map(|(start, end)| json!({"start_line": start, "end_line": end})).collect();
            let conversations: Vec<Value> =
                contributors.iter().map(|c| json!({"contributor": c, "ranges": ranges})).collect();
            json!({"path": path, "conversations": conversations})
        })
        .collect();
    let recorded: DateTime<Utc> = checkpoints.iter().map(|m| m.created_at).min().unwrap_or_else(Utc::now);
    let sessions: Vec<Value> = checkpoints
        .iter()
        .map(|m| json!({"checkpoint_id": m.checkpoint_id, "session_id": m.session_id, "agent": m.agent}))
        .collect();
    Ok(json!({
        "version": VERSION,
        "id": uuid::Uuid::now_v7().hyphenated().to_string(),
        "timestamp": recorded.to_rfc3339_opts(SecondsFormat::Secs, true),
        "vcs": {"type": "git", "revision": sha},
        "tool": {"name": "entire", "version": env!("CARGO_PKG_VERSION")},
        "files": files,
        "metadata": {"dev.entire": {"checkpoints": sessions}},
    }))
}

/// The models.dev form, `provider/model`: the provider from the agent when
/// the transcript names the model alone.
fn model_id(agent: Option<&str>, model: &str) -> String {
    let provider = match agent {
        _ if model.contains('/') => return model.to_owned(),
        Some("claude-code") => "anthropic",
        Some("codex") => "openai",
        Some("gemini") => "google",
        _ => return model.to_owned(),
    };
    format!("{provider}/{model}")
}

/// Per file (in diff order), the line ranges the commit added, as
/// `git diff -U0` gives them: `@@ -a,b +start,count @@`.
fn added_lines(diff: &str) -> Vec<(String, Vec<(u64, u64)>)> {
    let mut files: Vec<(String, Vec<(u64, u64)>)> = Vec::new();
    for line in diff.lines() {
        if let Some(path) = line.strip_prefix("+++ ") {
            // `+++ /dev/null` is a deletion: no lines of its own.
            let path = path.strip_prefix("b/").filter(|_| path != "/dev/null");
            files.push((path.unwrap_or_default().to_owned(), Vec::new()));
        } else if let Some(hunk) = line.strip_prefix("@@ ") {
            let added = hunk.split(' ').find_map(|w| w.strip_prefix('+'));
            let Some((start, count)) = added.and_then(parse_range) else { continue };
            if let Some((_, ranges)) = files.last_mut()
                && count > 0
            {
                ranges.push((start, start + count - 1));
            }
        }
    }
    files.retain(|(path, ranges)| !path.is_empty() && !ranges.is_empty());
    files
}

/// `start[,count]` (count 1 when absent).
fn parse_range(text: &str) -> Option<(u64, u64)> {
    match text.split_once(',') {
        Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_ranges_come_from_the_hunks() {
        let diff = "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -3,0 +4,2 @@\n+x\n+y\n\
                    @@ -9 +11 @@\n-a\n+b\n@@ -20,2 +21,0 @@\n-c\n-d\n\
                    diff --git a/gone b/gone\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-z\n";
        assert_eq!(added_lines(diff), [("f.txt".to_owned(), vec![(4, 5), (11, 11)])]);
    }

    #[test]
    fn model_ids_follow_models_dev() {
        assert_eq!(model_id(Some("claude-code"), "claude-sonnet-4-5"), "anthropic/claude-sonnet-4-5");
        assert_eq!(model_id(Some("codex"), "openai/gpt-5"), "openai/gpt-5");
        assert_eq!(model_id(Some("aider"), "gpt-4o"), "gpt-4o");
    }
}
