//! Ownership resolution (docs/spec.md §5): which session made this commit.
//!
//! Resolution is an ordered list of [`Step`]s, one file each (`env.rs`,
//! `pid.rs`, `agent_var.rs`, `recent.rs`), chosen per caller by a
//! [`Policy`]. Each step reads what it needs from the [`Evidence`] when it
//! runs (a commit the env step settles reads one record and the ancestry),
//! and names an owner, passes to the next step, or abstains: the evidence
//! is in doubt, so no step after it may guess. Every step writes what it
//! saw and why into the [`Verdict`]'s trace.
//!
//! A pure function of its evidence: the process table and the stores are
//! read behind that trait (`owner.rs`), or handed in as [`Inputs`], so every
//! branch is testable without processes. Every ordering ends in the session
//! ID, so the answer never depends on the order candidates were listed in —
//! the bug this project exists to avoid.

pub mod agent_var;
pub mod env;
pub mod owner;
pub mod pid;
pub mod recent;

use std::ffi::{OsStr, OsString};

use chrono::{DateTime, Utc};

use crate::process::ProcId;
use crate::session::{EnvRejected, FoundIn, Resolution, ResolvedBy, SessionId};

/// Whether a session's processes still run, as far as this process can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Not ended; its launcher's lock is held, or its launcher or agent is
    /// alive as recorded.
    Live,
    /// Ended, or its processes are gone as recorded.
    Ended,
    /// Not ended, but recorded in another PID namespace and holding no
    /// lock we can probe: nothing here proves it alive or gone.
    Unseen,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub session_id: SessionId,
    pub launcher: Option<ProcId>,
    pub agent: Option<ProcId>,
    pub liveness: Liveness,
    pub worktree_path: Option<String>,
    pub last_interaction_time: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub files_touched: Vec<String>,
    /// The agent's own session ID, as its hooks reported it.
    pub agent_session_id: Option<SessionId>,
    /// The controlling terminal the session runs on (device number), when
    /// it has one.
    pub terminal: Option<u64>,
    /// Where the lookup found this session (recorded with the owner).
    pub found_in: FoundIn,
}

impl Candidate {
    pub fn live(&self) -> bool {
        self.liveness == Liveness::Live
    }

    /// Whether `proc` is this session's launcher or agent.
    pub fn runs_as(&self, proc: ProcId) -> bool {
        self.launcher == Some(proc) || self.agent == Some(proc)
    }
}

/// What resolution reads, each part asked for only by the step that needs it.
pub trait Evidence {
    /// The raw `ENTIRE_SESSION_ID`, if set.
    fn env(&self) -> Option<&OsStr>;
    /// The candidate of that ID, for the env step.
    fn named(&mut self, id: &SessionId) -> Option<Candidate>;
    /// The hook's ancestors, nearest (its parent) first.
    fn ancestry(&mut self) -> Vec<ProcId>;
    /// The same up to and including the first that `stop` accepts (all of
    /// them when none does): a step that looks only below a session's own
    /// process need not walk to init.
    fn ancestry_until(&mut self, stop: &mut dyn FnMut(ProcId) -> bool) -> Vec<ProcId> {
        up_to(self.ancestry(), stop)
    }
    /// Every candidate, for the PID, agent-variable and recency steps.
    fn candidates(&mut self) -> Vec<Candidate>;
    /// Session variables that agents publish to their commands
    /// (`CLAUDE_CODE_SESSION_ID`…), as (name, value), the set ones only.
    fn agent_vars(&self) -> Vec<(&'static str, OsString)>;
    /// The committing process's controlling terminal, when it has one.
    fn terminal(&mut self) -> Option<u64>;
    /// Staged paths, when known; asked for only when a live session in this
    /// worktree recorded the files it touched.
    fn staged(&mut self) -> Option<Vec<String>>;
    /// The commit's worktree (canonical path).
    fn worktree(&self) -> &str;
    /// `resolution.recency` setting.
    fn recency(&self) -> bool;
    /// What reading the evidence found on the way (for the trace), taken.
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Evidence gathered beforehand.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The raw `ENTIRE_SESSION_ID`, if set.
    pub env: Option<&'a OsStr>,
    /// The hook's ancestors, nearest (its parent) first.
    pub ancestry: &'a [ProcId],
    pub candidates: &'a [Candidate],
    /// Agents' session variables that are set.
    pub agent_vars: &'a [(&'static str, &'a str)],
    /// The committing process's controlling terminal.
    pub terminal: Option<u64>,
    /// The commit's worktree (canonical path).
    pub worktree: &'a str,
    /// Staged paths, when known.
    pub staged: Option<&'a [String]>,
    /// `resolution.recency` setting.
    pub recency: bool,
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
    fn agent_vars(&self) -> Vec<(&'static str, OsString)> {
        self.agent_vars.iter().map(|(name, value)| (*name, OsString::from(value))).collect()
    }
    fn terminal(&mut self) -> Option<u64> {
        self.terminal
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub session_id: SessionId,
    /// `env`, `pid` or `recent`: the resolver never links post hoc.
    pub method: ResolvedBy,
    /// For `pid`: how many steps above the hook the match was (parent = 1).
    pub depth: Option<usize>,
    pub found_in: FoundIn,
    /// The agent's session variable that named it, if one did.
    pub variable: Option<&'static str>,
}

impl Owner {
    fn of(c: &Candidate, method: ResolvedBy, depth: Option<usize>) -> Owner {
        Owner { session_id: c.session_id.clone(), method, depth, found_in: c.found_in, variable: None }
    }
}

/// What one step made of its evidence.
pub enum Outcome {
    /// This session owns the commit; the note says why. `notice` is a line
    /// for the user (a guess says so).
    Owner { owner: Owner, note: String, notice: Option<String> },
    /// Nothing here decides; the next step runs.
    Pass(String),
    /// The evidence is in doubt: no owner, and no later step may guess.
    /// `notice` says why, for the user.
    Abstain { note: String, notice: String },
}

/// One rule of resolution: one file in `resolve/`, one line in a policy.
pub trait Step: Sync {
    /// Its name in the trace (`env`, `pid`…).
    fn name(&self) -> &'static str;
    fn run(&self, ctx: &mut Context<'_>) -> Outcome;
}

/// Which steps run, in which order, for one kind of caller.
pub struct Policy {
    pub caller: &'static str,
    pub steps: &'static [&'static dyn Step],
}

/// Git hooks: a commit being made now, by any process.
pub const GIT_HOOK: Policy =
    Policy { caller: "git hook", steps: &[&env::Env, &pid::Pid, &agent_var::AgentVar, &recent::Recent] };

/// Agent hooks: the session of the agent that runs the hook. Never a guess,
/// so one agent's hooks cannot land in another agent's session.
pub const AGENT_HOOK: Policy = Policy { caller: "agent hook", steps: &[&env::Env, &pid::Pid] };

/// The session that links commits made without git hooks (Gemini CLI)
/// after the fact: which commits it may claim is `checkpoint::post_hoc`'s.
pub const POST_HOC: Policy = Policy { caller: "post-hoc link", steps: &[&env::Env, &pid::Pid] };

/// What a step decided, in the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Evidence read on the way (an ancestor's environment…).
    Saw,
    Owner,
    Pass,
    Abstain,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    pub step: &'static str,
    pub decision: Decision,
    pub note: String,
}

impl std::fmt::Display for TraceLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.note)
    }
}

/// What the resolver decided, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub owner: Option<Owner>,
    pub env_rejected: Option<EnvRejected>,
    /// What each step saw and decided, printed under `ENTIRE_DEBUG=1`.
    pub trace: Vec<TraceLine>,
    /// Lines for the user: a guess that tagged the commit, or why it got
    /// no owner although something claimed it (one per cause).
    pub notices: Vec<String>,
}

impl Verdict {
    /// The `resolution` object stored with a checkpoint (docs/spec.md §7).
    pub fn details(&self) -> Resolution {
        Resolution {
            method: self.owner.as_ref().map(|o| o.method),
            depth: self.owner.as_ref().and_then(|o| o.depth),
            env_rejected: self.env_rejected,
            found_in: self.owner.as_ref().map(|o| o.found_in),
            variable: self.owner.as_ref().and_then(|o| o.variable).map(str::to_owned),
            ..Resolution::default()
        }
    }
}

/// The evidence as the steps of one resolution share it: what one step
/// read, the next does not read again.
pub struct Context<'e> {
    evidence: &'e mut dyn Evidence,
    ancestry: Option<Vec<ProcId>>,
    candidates: Option<Vec<Candidate>>,
    /// Why `ENTIRE_SESSION_ID` was set but not used.
    pub env_rejected: Option<EnvRejected>,
    /// Lines for the user, shown only when no step names an owner.
    pub if_unowned: Vec<String>,
}

impl Context<'_> {
    pub fn evidence(&mut self) -> &mut dyn Evidence {
        self.evidence
    }

    pub fn ancestry(&mut self) -> Vec<ProcId> {
        self.ancestry.get_or_insert_with(|| self.evidence.ancestry()).clone()
    }

    /// [`Evidence::ancestry_until`], from the whole chain when a step read it.
    pub fn ancestry_until(&mut self, mut stop: impl FnMut(ProcId) -> bool) -> Vec<ProcId> {
        match &self.ancestry {
            Some(all) => up_to(all.clone(), &mut stop),
            None => self.evidence.ancestry_until(&mut stop),
        }
    }

    pub fn candidates(&mut self) -> Vec<Candidate> {
        self.candidates.get_or_insert_with(|| self.evidence.candidates()).clone()
    }
}

/// `chain` up to and including the first process that `stop` accepts.
fn up_to(mut chain: Vec<ProcId>, stop: &mut dyn FnMut(ProcId) -> bool) -> Vec<ProcId> {
    if let Some(found) = chain.iter().position(|&p| stop(p)) {
        chain.truncate(found + 1);
    }
    chain
}

/// [`resolve_from`] with the git hooks' policy over in-memory evidence.
pub fn resolve(inputs: &Inputs) -> Verdict {
    let mut inputs = *inputs;
    resolve_from(&GIT_HOOK, &mut inputs)
}

/// Runs `policy`'s steps in order, each reading its evidence when it runs,
/// until one names an owner or abstains.
pub fn resolve_from(policy: &Policy, evidence: &mut dyn Evidence) -> Verdict {
    let mut ctx =
        Context { evidence, ancestry: None, candidates: None, env_rejected: None, if_unowned: Vec::new() };
    let mut verdict = Verdict::default();
    let mut settled = false;
    for step in policy.steps {
        let outcome = step.run(&mut ctx);
        let name = step.name();
        let saw = ctx.evidence.take_notes().into_iter();
        verdict.trace.extend(saw.map(|note| TraceLine { step: name, decision: Decision::Saw, note }));
        let (decision, note) = match outcome {
            Outcome::Owner { owner, note, notice } => {
                verdict.owner = Some(owner);
                verdict.notices.extend(notice);
                settled = true;
                (Decision::Owner, note)
            }
            Outcome::Pass(note) => (Decision::Pass, note),
            Outcome::Abstain { note, notice } => {
                verdict.notices.push(notice);
                settled = true;
                (Decision::Abstain, note)
            }
        };
        verdict.trace.push(TraceLine { step: name, decision, note });
        if settled {
            break;
        }
    }
    if verdict.owner.is_none() {
        verdict.notices.splice(0..0, std::mem::take(&mut ctx.if_unowned));
        let note = "the commit is not attributed".to_owned();
        verdict.trace.push(TraceLine { step: "no owner", decision: Decision::Pass, note });
    }
    verdict.env_rejected = ctx.env_rejected;
    verdict
}

#[cfg(test)]
mod tests;
