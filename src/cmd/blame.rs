//! `entire blame FILE [REV]`: `git blame`, each line with the session and
//! agent of its commit (docs/spec.md §8). One `git blame --porcelain`, one
//! `git log` over the distinct commits, each checkpoint read once.

use std::collections::HashMap;
use std::io::Write;

use serde_json::{Value, json};

use super::attributed::{Owners, named_checkpoints};
use super::current_dir;
use crate::checkpoint::Metadata;
use crate::cli::BlameArgs;
use crate::error::{Error, Result};
use crate::git::{CommitId, Repo, checked};
use crate::session::CheckpointId;

/// The SHA git blame gives lines not committed yet.
const NOT_COMMITTED: &str = "0000000000000000000000000000000000000000";

/// One line of the file.
#[derive(Debug, PartialEq)]
struct Line {
    number: usize,
    commit: String,
    content: String,
}

pub fn run(args: BlameArgs) -> Result<i32> {
    let cwd = current_dir()?;
    let repo = Repo::require(&cwd)?;
    if args.file.starts_with('-') || args.rev.as_deref().is_some_and(|r| r.starts_with('-')) {
        return Err(Error::usage("FILE and REV cannot start with '-'"));
    }
    let mut cmd = repo.git();
    cmd.current_dir(&cwd).args(["blame", "--porcelain"]).args(&args.rev).args(["--", &args.file]);
    let porcelain = checked(&mut cmd).map_err(|e| e.context(format_args!("cannot blame {}", args.file)))?;
    let lines = parse_porcelain(&String::from_utf8_lossy(&porcelain));

    let mut commits: Vec<&str> =
        lines.iter().map(|l| l.commit.as_str()).filter(|c| *c != NOT_COMMITTED).collect();
    commits.sort_unstable();
    commits.dedup();
    let named = named_by(&repo, &commits)?;
    let mut owners = Owners::open(&repo)?;
    let mut owner_of: HashMap<&str, Option<Metadata>> = HashMap::new();
    for commit in &commits {
        let ids = named.get(*commit).map(Vec::as_slice).unwrap_or_default();
        let owner = CommitId::parse(commit).and_then(|sha| owners.owner(&sha, ids));
        owner_of.insert(commit, owner);
    }
    let owner = |line: &Line| owner_of.get(line.commit.as_str()).and_then(Option::as_ref);

    let out = &mut std::io::stdout().lock();
    if args.json {
        let all: Vec<Value> = lines
            .iter()
            .map(|line| {
                let meta = owner(line);
                json!({
                    "line": line.number,
                    "commit": (line.commit != NOT_COMMITTED).then_some(&line.commit),
                    "checkpoint_id": meta.map(|m| &m.checkpoint_id),
                    "session_id": meta.map(|m| &m.session_id),
                    "agent": meta.and_then(|m| m.agent.as_deref()),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(0);
    }
    // Sessions are numbered in order of first appearance, then listed with
    // their agent and first prompt: a line stays short.
    let width = lines.last().map_or(1, |l| l.number.to_string().len());
    let mut sessions: Vec<&Metadata> = Vec::new();
    for line in &lines {
        let commit = if line.commit == NOT_COMMITTED { "-" } else { &line.commit[..8] };
        let (agent, session) = match owner(line) {
            Some(meta) => {
                let n = match sessions.iter().position(|s| s.session_id == meta.session_id) {
                    Some(n) => n,
                    None => {
                        sessions.push(meta);
                        sessions.len() - 1
                    }
                };
                (meta.agent.as_deref().unwrap_or("?"), format!("#{}", n + 1))
            }
            None => ("human", "-".to_owned()),
        };
        writeln!(out, "{commit:<8} {agent:<12} {session:<3} {:>width$}) {}", line.number, line.content)?;
    }
    if !sessions.is_empty() {
        writeln!(out, "\nsessions:")?;
    }
    for (n, meta) in sessions.into_iter().enumerate() {
        let prompt = owners.prompt(meta).map(|p| format!("  \"{}\"", one_line(&p, 60))).unwrap_or_default();
        let agent = meta.agent.as_deref().unwrap_or("?");
        writeln!(out, "  #{}  {}  {agent}{prompt}", n + 1, meta.session_id)?;
    }
    Ok(0)
}

/// The checkpoint IDs each commit's message names: one `git log`.
fn named_by(repo: &Repo, commits: &[&str]) -> Result<HashMap<String, Vec<CheckpointId>>> {
    if commits.is_empty() {
        return Ok(HashMap::new());
    }
    let mut cmd = repo.git();
    cmd.args(["log", "--encoding=UTF-8", "--no-walk=unsorted", "--format=%H%x1f%B%x1e"])
        .args(commits)
        .arg("--");
    let out = checked(&mut cmd)?;
    let mut named = HashMap::new();
    for record in String::from_utf8_lossy(&out).split('\x1e') {
        if let Some((sha, message)) = record.trim_start_matches('\n').split_once('\x1f') {
            named.insert(sha.to_owned(), named_checkpoints(message));
        }
    }
    Ok(named)
}

/// The lines of `git blame --porcelain`: a header `<sha> <orig> <final>
/// [<count>]` before each line, commit details the first time a commit
/// appears, and the line itself after a tab.
fn parse_porcelain(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for raw in text.split_inclusive('\n') {
        if let Some(content) = raw.strip_prefix('\t') {
            if let Some((commit, number)) = current.take() {
                let content = content.strip_suffix('\n').unwrap_or(content).to_owned();
                lines.push(Line { number, commit, content });
            }
            continue;
        }
        let mut words = raw.split_whitespace();
        if let (Some(sha), Some(_), Some(number)) = (words.next(), words.next(), words.next())
            && sha.len() == 40
            && sha.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(number) = number.parse()
        {
            current = Some((sha.to_owned(), number));
        }
    }
    lines
}

fn one_line(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_gives_each_line_its_commit() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let text = format!(
            "{a} 1 1 2\nauthor A\nsummary one\nfilename f\n\tfirst\n{a} 2 2\n\t\tindented\n\
             {b} 1 3 1\nauthor B\nfilename f\n\t{b} 9 9 looks like a header\n"
        );
        let lines = parse_porcelain(&text);
        let got: Vec<(usize, &str, &str)> =
            lines.iter().map(|l| (l.number, &l.commit[..1], l.content.as_str())).collect();
        assert_eq!(
            got,
            [(1, "a", "first"), (2, "a", "\tindented"), (3, "b", &format!("{b} 9 9 looks like a header"))]
        );
    }
}
