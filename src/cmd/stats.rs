//! `entire stats [RANGE]`: commits and lines added and removed per agent
//! and session, and by people (commits no session made), over a range of
//! commits (docs/spec.md §8). One `git log --numstat`, each checkpoint read
//! once. Merge commits are not counted: their lines are their parents'.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::attributed::{Owners, named_checkpoints};
use super::current_dir;
use crate::agents::usage::{Tokens, Usage};
use crate::cli::StatsArgs;
use crate::error::{Error, Result};
use crate::git::{CommitId, Repo, checked};

/// How far back the default range goes when the branch has no fork point.
const LAST: usize = 100;

#[derive(Serialize, Default, Debug, PartialEq)]
pub struct Counts {
    pub commits: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
}

impl Counts {
    fn add(&mut self, added: u64, removed: u64) {
        self.commits += 1;
        self.lines_added += added;
        self.lines_removed += removed;
    }
}

/// Tokens and models, where the transcripts tell them.
#[derive(Serialize, Default, Debug)]
pub struct Spent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

impl From<Usage> for Spent {
    fn from(usage: Usage) -> Spent {
        Spent { tokens: usage.tokens, models: usage.models }
    }
}

#[derive(Serialize, Default, Debug)]
pub struct SessionCounts {
    #[serde(flatten)]
    pub counts: Counts,
    /// Up to the session's newest commit in the range.
    #[serde(flatten)]
    pub spent: Spent,
}

#[derive(Serialize, Default, Debug)]
pub struct AgentCounts {
    #[serde(flatten)]
    pub counts: Counts,
    /// The sum of its sessions'.
    #[serde(flatten)]
    pub spent: Spent,
    /// Per session ID.
    pub sessions: BTreeMap<String, SessionCounts>,
}

#[derive(Serialize, Debug)]
pub struct Stats {
    pub range: String,
    pub commits: u64,
    pub by_agent: BTreeMap<String, AgentCounts>,
    pub human: Counts,
}

pub fn run(args: StatsArgs) -> Result<i32> {
    let repo = Repo::require(&current_dir()?)?;
    let (range, revs) = match args.range {
        Some(range) if range.starts_with('-') => {
            return Err(Error::usage(format!("not a revision range: {range}")));
        }
        Some(range) => (range.clone(), vec![range]),
        None => default_range(&repo),
    };
    let stats = count(&repo, range, &revs)?;
    let out = &mut std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?;
        return Ok(0);
    }
    writeln!(out, "{}: {} commit(s)", stats.range, stats.commits)?;
    writeln!(out, "{:<38} {:>7} {:>7} {:>7}", "AGENT / SESSION", "COMMITS", "ADDED", "REMOVED")?;
    let row = |out: &mut dyn Write, name: &str, c: &Counts| {
        writeln!(out, "{name:<38} {:>7} {:>7} {:>7}", c.commits, c.lines_added, c.lines_removed)
    };
    for (agent, counts) in &stats.by_agent {
        row(out, agent, &counts.counts)?;
        for (session, counts) in &counts.sessions {
            row(out, &format!("  {session}"), &counts.counts)?;
        }
    }
    row(out, "human", &stats.human)?;
    Ok(0)
}

/// The current branch since it left the default branch (`origin/HEAD`,
/// else `main` or `master`), or the last commits of HEAD.
fn default_range(repo: &Repo) -> (String, Vec<String>) {
    let current = repo.branch();
    let remote_default = repo
        .git_output(["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"])
        .ok()
        .map(|out| String::from_utf8_lossy(&out).trim().to_owned());
    let candidates = remote_default.into_iter().chain(["main".to_owned(), "master".to_owned()]);
    for base in candidates {
        let short = base.rsplit('/').next().unwrap_or(&base).to_owned();
        if current.as_deref().is_some_and(|c| c == short || c == base) {
            break; // on the default branch itself
        }
        if repo.resolve_ref(&format!("refs/heads/{base}")).is_some()
            || repo.resolve_ref(&format!("refs/remotes/{base}")).is_some()
        {
            let range = format!("{base}..HEAD");
            return (range.clone(), vec![range]);
        }
    }
    (format!("the last {LAST} commits of HEAD"), vec!["-n".into(), LAST.to_string(), "HEAD".into()])
}

fn count(repo: &Repo, range: String, revs: &[String]) -> Result<Stats> {
    let mut stats = Stats { range, commits: 0, by_agent: BTreeMap::new(), human: Counts::default() };
    if repo.head().is_none() {
        return Ok(stats);
    }
    let mut cmd = repo.git();
    cmd.args([
        "log",
        "--encoding=UTF-8",
        "--no-merges",
        "--no-renames",
        "--numstat",
        "--format=%x1e%H%x1f%B%x1f",
    ])
    .args(revs)
    .arg("--");
    let out =
        checked(&mut cmd).map_err(|e| e.context(format_args!("cannot read the range {}", stats.range)))?;
    let mut owners = Owners::open(repo)?;
    for record in String::from_utf8_lossy(&out).split('\x1e').filter(|r| !r.trim().is_empty()) {
        let mut fields = record.splitn(3, '\x1f');
        let (Some(sha), Some(message), Some(numstats)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Some(sha) = CommitId::parse(sha.trim()) else { continue };
        let (added, removed) =
            numstats.lines().filter_map(numstat).fold((0, 0), |(a, r), (x, y)| (a + x, r + y));
        stats.commits += 1;
        match owners.owner(&sha, &named_checkpoints(message)) {
            Some(meta) => {
                let agent =
                    stats.by_agent.entry(meta.agent.clone().unwrap_or_else(|| "unknown".into())).or_default();
                agent.counts.add(added, removed);
                let session = agent.sessions.entry(meta.session_id.to_string()).or_insert_with(|| {
                    // The log is newest first: this checkpoint's transcript
                    // holds the session's turns up to its last commit here.
                    SessionCounts { counts: Counts::default(), spent: owners.usage(&meta).into() }
                });
                session.counts.add(added, removed);
            }
            None => stats.human.add(added, removed),
        }
    }
    for agent in stats.by_agent.values_mut() {
        let mut sum = Usage::default();
        for session in agent.sessions.values() {
            sum.add(&Usage { tokens: session.spent.tokens, models: session.spent.models.clone() });
        }
        agent.spent = sum.into();
    }
    Ok(stats)
}

/// `<added>\t<removed>\t<path>`; a binary file (`-`) counts no lines.
fn numstat(line: &str) -> Option<(u64, u64)> {
    let mut fields = line.split('\t');
    let (added, removed) = (fields.next()?, fields.next()?);
    fields.next()?;
    Some((added.parse().unwrap_or(0), removed.parse().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_lines_count_text_and_skip_binaries() {
        assert_eq!(numstat("3\t1\tsrc/a.rs"), Some((3, 1)));
        assert_eq!(numstat("-\t-\timage.png"), Some((0, 0)));
        assert_eq!(numstat("abc"), None);
        assert_eq!(numstat(""), None);
    }
}
