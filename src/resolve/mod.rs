//! Ownership resolution (docs/spec.md §5): which session made this commit.
//!
//! A pure function of its [`Evidence`]: the process table and the stores are
//! read behind that trait (`owner.rs`), or handed in as [`Inputs`], so every
//! branch is testable without processes. The steps ask for evidence in the
//! spec's order and only as they need it: a commit the env step settles reads
//! one record and nothing else. Every ordering ends in the session ID, so
//! the answer never depends on the order candidates were listed in — the bug
//! this project exists to avoid.

pub mod owner;

use std::collections::HashSet;
use std::ffi::OsStr;

use chrono::{DateTime, Utc};

use crate::process::{MAX_ANCESTRY, ProcId};
use crate::session::{EnvRejected, FoundIn, Resolution, ResolvedBy, SessionId};

#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub session_id: SessionId,
    pub launcher: Option<ProcId>,
    pub agent: Option<ProcId>,
    /// Not ended, and its launcher or agent alive as recorded.
    pub live: bool,
    pub worktree_path: Option<String>,
    pub last_interaction_time: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub files_touched: Vec<String>,
    /// Where the lookup found this session (recorded with the owner).
    pub found_in: FoundIn,
}

/// What resolution reads, each part asked for only by the step that needs it.
pub trait Evidence {
    /// The raw `ENTIRE_SESSION_ID`, if set.
    fn env(&self) -> Option<&OsStr>;
    /// The candidate of that ID, for the env step.
    fn named(&mut self, id: &SessionId) -> Option<Candidate>;
    /// The hook's ancestors, nearest (its parent) first.
    fn ancestry(&mut self) -> Vec<ProcId>;
    /// Every candidate, for the PID and recency steps.
    fn candidates(&mut self) -> Vec<Candidate>;
    /// Staged paths, when known; asked for only when a live session in this
    /// worktree recorded the files it touched.
    fn staged(&mut self) -> Option<Vec<String>>;
    /// The commit's worktree (canonical path).
    fn worktree(&self) -> &str;
    /// `resolution.recency` setting.
    fn recency(&self) -> bool;
}

/// Evidence gathered beforehand.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The raw `ENTIRE_SESSION_ID`, if set.
    pub env: Option<&'a OsStr>,
    /// The hook's ancestors, nearest (its parent) first.
    pub ancestry: &'a [ProcId],
    pub candidates: &'a [Candidate],
    /// The commit's worktree (canonical path).
    pub worktree: &'a str,
    /// Staged paths, when known.
    pub staged: Option<&'a [String]>,
    /// `resolution.recency` setting.
    pub recency: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub session_id: SessionId,
    /// `env`, `pid` or `recent`: the resolver never links post hoc.
    pub method: ResolvedBy,
    /// For `pid`: how many steps above the hook the match was (parent = 1).
    pub depth: Option<usize>,
    pub found_in: FoundIn,
}

impl Owner {
    fn of(c: &Candidate, method: ResolvedBy, depth: Option<usize>) -> Owner {
        Owner { session_id: c.session_id.clone(), method, depth, found_in: c.found_in }
    }
}

/// What the resolver decided, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub owner: Option<Owner>,
    pub env_rejected: Option<EnvRejected>,
    /// Human-readable steps, printed under `ENTIRE_DEBUG=1`.
    pub trace: Vec<String>,
}

impl Verdict {
    /// The `resolution` object stored with a checkpoint (docs/spec.md §7).
    pub fn details(&self) -> Resolution {
        Resolution {
            method: self.owner.as_ref().map(|o| o.method),
            depth: self.owner.as_ref().and_then(|o| o.depth),
            env_rejected: self.env_rejected,
            found_in: self.owner.as_ref().map(|o| o.found_in),
            ..Resolution::default()
        }
    }
}

impl Evidence for Inputs<'_> {
    fn env(&self) -> Option<&OsStr> {
        self.env
    }
    fn named(&mut self, id: &SessionId) -> Option<Candidate> {
        self.candidates.iter().find(|c| c.session_id == *id).cloned()
    }
    fn ancestry(&mut self) -> Vec<ProcId> {
        self.ancestry.to_vec()
    }
    fn candidates(&mut self) -> Vec<Candidate> {
        self.candidates.to_vec()
    }
    fn staged(&mut self) -> Option<Vec<String>> {
        self.staged.map(<[String]>::to_vec)
    }
    fn worktree(&self) -> &str {
        self.worktree
    }
    fn recency(&self) -> bool {
        self.recency
    }
}

pub fn resolve(inputs: &Inputs) -> Verdict {
    let mut inputs = *inputs;
    resolve_from(&mut inputs)
}

/// The spec's steps in order, each reading its evidence when it runs.
pub fn resolve_from(evidence: &mut impl Evidence) -> Verdict {
    let mut res = Verdict::default();
    let found = by_env(evidence, &mut res).or_else(|| {
        let candidates = evidence.candidates();
        by_pid(&evidence.ancestry(), &candidates, &mut res)
            .or_else(|| by_recency(evidence, &candidates, &mut res))
    });
    if found.is_none() {
        res.trace.push("no owner: the commit is not attributed".into());
    }
    res.owner = found;
    res
}

fn by_env(evidence: &mut impl Evidence, res: &mut Verdict) -> Option<Owner> {
    let raw = evidence.env().filter(|v| !v.is_empty())?;
    let rejected = match raw.to_str().and_then(SessionId::parse) {
        None => EnvRejected::Malformed,
        Some(id) => match evidence.named(&id) {
            None => EnvRejected::Unknown,
            Some(c) if !c.live => EnvRejected::Ended,
            Some(c) => {
                res.trace.push(format!(
                    "env: ENTIRE_SESSION_ID={} is live (found in {})",
                    c.session_id,
                    c.found_in.as_str()
                ));
                return Some(Owner::of(&c, ResolvedBy::Env, None));
            }
        },
    };
    res.trace.push(format!("env: ENTIRE_SESSION_ID rejected, env_rejected: {}", rejected.as_str()));
    res.env_rejected = Some(rejected);
    None
}

fn by_pid(ancestry: &[ProcId], candidates: &[Candidate], res: &mut Verdict) -> Option<Owner> {
    for (index, ancestor) in ancestry.iter().take(MAX_ANCESTRY).enumerate() {
        let depth = index + 1;
        let on_this_process = candidates
            .iter()
            .filter(|c| c.live && (c.launcher == Some(*ancestor) || c.agent == Some(*ancestor)));
        if let Some(best) = on_this_process.max_by(|a, b| {
            (a.last_interaction_time, &a.session_id).cmp(&(b.last_interaction_time, &b.session_id))
        }) {
            res.trace.push(format!(
                "pid: ancestor {} at depth {depth} is session {} (found in {})",
                ancestor.pid,
                best.session_id,
                best.found_in.as_str()
            ));
            return Some(Owner::of(best, ResolvedBy::Pid, Some(depth)));
        }
    }
    res.trace.push(format!("pid: no live session among {} ancestors", ancestry.len().min(MAX_ANCESTRY)));
    None
}

fn by_recency(evidence: &mut impl Evidence, candidates: &[Candidate], res: &mut Verdict) -> Option<Owner> {
    if !evidence.recency() {
        res.trace.push("recent: disabled by resolution.recency".into());
        return None;
    }
    let worktree = evidence.worktree().to_owned();
    let here = |c: &&Candidate| c.live && c.worktree_path.as_deref() == Some(worktree.as_str());
    let staged = match candidates.iter().filter(here).any(|c| !c.files_touched.is_empty()) {
        true => evidence.staged(),
        false => None,
    };
    let staged: Option<HashSet<&str>> = staged.as_ref().map(|s| s.iter().map(String::as_str).collect());
    let touched_staged = |c: &Candidate| match &staged {
        Some(staged) if !c.files_touched.is_empty() => {
            c.files_touched.iter().any(|f| staged.contains(f.as_str()))
        }
        _ => true,
    };
    let best = candidates.iter().filter(here).filter(|c| touched_staged(c)).max_by(|a, b| {
        (a.last_interaction_time, a.started_at, &a.session_id).cmp(&(
            b.last_interaction_time,
            b.started_at,
            &b.session_id,
        ))
    })?;
    res.trace.push(format!(
        "recent: most recent live session in this worktree is {} (found in {})",
        best.session_id,
        best.found_in.as_str()
    ));
    Some(Owner::of(best, ResolvedBy::Recent, None))
}

#[cfg(test)]
mod tests;
