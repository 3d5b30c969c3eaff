//! Gathers what the pure resolver needs (docs/spec.md §5) from the stores and the
//! process table, and adopts the owner into this repo's store.
//!
//! The env path reads one record and one live entry, never the whole store.
//! The PID and recency paths read this repository's index of its live
//! sessions (`<store>/live/`) and the live registry that the environment
//! names, one small file per running session, never every record ever
//! written. When no session found that way owns one of the hook's
//! ancestors, the ancestors' initial environments are read for
//! `ENTIRE_SESSION_ID`: an agent that clears its commands' variables still
//! started with it (docs/design.md).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use crate::error::warn;
use crate::git::Repo;
use crate::process::{MAX_ANCESTRY, ProcId, ProcessTable, System, own_ancestors_until};
use crate::resolve::{self, Candidate, Liveness, Policy, Verdict, agent_var::AGENT_SESSION_VARS};
use crate::session::{
    FoundIn, LiveEntry, LiveRegistry, LockState, ResolvedBy, SESSION_ENV, SessionId, SessionRecord, Source,
    Store,
};

/// A session known to this lookup, and whether this repo's store has it.
struct Known {
    record: SessionRecord,
    in_store: bool,
    found_in: FoundIn,
    /// Its liveness, told once per lookup: each check reads its processes.
    liveness: Cell<Option<Liveness>>,
}

impl Known {
    fn new(record: SessionRecord, in_store: bool, found_in: FoundIn) -> Known {
        Known { record, in_store, found_in, liveness: Cell::new(None) }
    }
}

pub struct OwnerLookup<'a> {
    repo: &'a Repo,
    store: &'a Store,
    registry: Option<LiveRegistry>,
    known: BTreeMap<SessionId, Known>,
}

/// The lookup's evidence, read as the resolver asks for it: the env step
/// reads one record and one live entry; only past it does the PID step read
/// the live registry and walk the process tree.
struct Lazy<'l, 'a, F> {
    lookup: &'l mut OwnerLookup<'a>,
    env: Option<OsString>,
    worktree: String,
    recency: bool,
    staged: Option<F>,
    /// What the walk of the ancestors' environments found, for the trace.
    notes: Vec<String>,
}

impl<F: FnOnce() -> Option<Vec<String>>> resolve::Evidence for Lazy<'_, '_, F> {
    fn env(&self) -> Option<&OsStr> {
        self.env.as_deref()
    }
    fn named(&mut self, id: &SessionId) -> Option<Candidate> {
        self.lookup.learn_id(id);
        self.lookup.known.get(id).map(|k| self.lookup.candidate(k))
    }
    fn ancestry(&mut self) -> Vec<ProcId> {
        own_ancestors_until(MAX_ANCESTRY, |_| false)
    }
    fn ancestry_until(&mut self, stop: &mut dyn FnMut(ProcId) -> bool) -> Vec<ProcId> {
        own_ancestors_until(MAX_ANCESTRY, stop)
    }
    /// The repo's index, then the registry; when no session there owns an
    /// ancestor, the sessions named in the ancestors' initial environments.
    /// The ancestors are walked only as far as the first that a known live
    /// session owns.
    fn candidates(&mut self) -> Vec<Candidate> {
        let index = LiveRegistry::repo_index(self.lookup.store);
        self.lookup.learn_live(&index, FoundIn::RepoIndex);
        if let Some(registry) = self.lookup.registry.clone() {
            self.lookup.learn_live(&registry, FoundIn::Registry);
        }
        let lookup = &*self.lookup;
        let owned = |p: ProcId| lookup.known.values().any(|k| lookup.owns_one_of(k, &[p]));
        let to_owner = own_ancestors_until(MAX_ANCESTRY, owned);
        if !to_owner.last().is_some_and(|&p| owned(p)) {
            self.notes = self.lookup.learn_from_environ(&to_owner);
        }
        self.lookup.candidates()
    }
    fn agent_vars(&self) -> Vec<(&'static str, OsString)> {
        AGENT_SESSION_VARS
            .iter()
            .filter_map(|name| Some((*name, std::env::var_os(name).filter(|v| !v.is_empty())?)))
            .collect()
    }
    fn terminal(&mut self) -> Option<u64> {
        System.own_stat().map(|s| s.tty).filter(|&t| t != 0)
    }
    fn staged(&mut self) -> Option<Vec<String>> {
        self.staged.take().and_then(|staged| staged())
    }
    fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }
    fn worktree(&self) -> &str {
        &self.worktree
    }
    fn recency(&self) -> bool {
        self.recency
    }
}

/// Who owns what is happening now, and that session's record (adopted into
/// this repo's store when it was only in the live registry).
pub struct Found {
    pub verdict: Verdict,
    pub owner: Option<SessionRecord>,
}

impl<'a> OwnerLookup<'a> {
    pub fn new(repo: &'a Repo, store: &'a Store) -> Self {
        OwnerLookup { repo, store, registry: LiveRegistry::from_env(), known: BTreeMap::new() }
    }

    /// Resolves for the current process by `policy`. `staged` is called
    /// only when the recency step could use it (a live session here has
    /// `files_touched`).
    pub fn find(
        mut self,
        policy: &Policy,
        recency: bool,
        staged: impl FnOnce() -> Option<Vec<String>>,
    ) -> Found {
        let mut evidence = Lazy {
            env: std::env::var_os(SESSION_ENV),
            worktree: self.repo.worktree_str(),
            recency,
            staged: Some(staged),
            notes: Vec::new(),
            lookup: &mut self,
        };
        let verdict = resolve::resolve_from(policy, &mut evidence);
        if std::env::var_os("ENTIRE_DEBUG").is_some_and(|v| v == "1") {
            for line in &verdict.trace {
                warn(format_args!("resolve ({}): {line}", policy.caller));
            }
        }
        let owner = verdict.owner.as_ref().and_then(|o| self.adopt(&o.session_id, o.method));
        Found { verdict, owner }
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.known.values().map(|k| self.candidate(k)).collect()
    }

    fn candidate(&self, known: &Known) -> Candidate {
        let r = &known.record;
        Candidate {
            session_id: r.session_id.clone(),
            launcher: r.launcher(),
            agent: r.agent_proc(),
            liveness: self.liveness_of(known),
            worktree_path: r.worktree_path.clone(),
            last_interaction_time: r.last_interaction_time,
            started_at: r.started_at,
            files_touched: r.files_touched.clone(),
            agent_session_id: r.agent_session_id.clone(),
            terminal: r.terminal,
            found_in: known.found_in,
        }
    }

    fn liveness_of(&self, known: &Known) -> Liveness {
        if let Some(told) = known.liveness.get() {
            return told;
        }
        let told = self.liveness(&known.record);
        known.liveness.set(Some(told));
        told
    }

    /// Live when not ended and its launcher or agent is alive as recorded,
    /// or its launcher's lock is held (which crosses PID namespaces). A
    /// session recorded in another PID namespace without a held lock is
    /// `Unseen`: its PIDs mean nothing here.
    fn liveness(&self, record: &SessionRecord) -> Liveness {
        if record.ended_at.is_some() {
            return Liveness::Ended;
        }
        if record.is_live(&System) {
            return Liveness::Live;
        }
        let id = &record.session_id;
        let registries = [Some(LiveRegistry::repo_index(self.store)), self.registry.clone()];
        if registries.iter().flatten().any(|r| r.probe(id) == LockState::Held) {
            return Liveness::Live;
        }
        let elsewhere = record.pid_namespace.is_some_and(|ns| System.pid_namespace() != Some(ns));
        if elsewhere { Liveness::Unseen } else { Liveness::Ended }
    }

    fn learn_id(&mut self, id: &SessionId) {
        match self.store.load_without_checkpoints(id) {
            Ok(Some(record)) => {
                let known = Known::new(record, true, FoundIn::Store);
                self.known.insert(known.record.session_id.clone(), known);
                return;
            }
            Ok(None) => {}
            Err(err) => warn(err),
        }
        let entry = self.registry.as_ref().map(|r| r.get(id));
        match entry {
            Some(Ok(Some(entry))) => self.learn_entry(entry, FoundIn::Registry),
            Some(Err(err)) => warn(err),
            _ => {}
        }
    }

    /// Every entry of a live registry (or of this repo's index) whose
    /// session is not known yet.
    fn learn_live(&mut self, registry: &LiveRegistry, found_in: FoundIn) {
        let (entries, warnings) = registry.list_except(|id| self.known.contains_key(id));
        warnings.into_iter().for_each(warn);
        for entry in entries {
            // Launcher and agent both gone as recorded: a leftover for
            // `entire clean`, which can own nothing; its record is not worth
            // reading (after a crash there may be thousands).
            if self.known.contains_key(&entry.session.session_id) {
                continue;
            }
            let gone =
                entry.session.agent_proc().is_some() && self.liveness(&entry.session) == Liveness::Ended;
            if !gone {
                self.learn_entry(entry, found_in);
            }
        }
    }

    /// The ancestors' initial environments, nearest first: an agent that
    /// strips `ENTIRE_SESSION_ID` from its commands (Codex with
    /// `shell_environment_policy.inherit = "core"`, `env -i`, sandboxes)
    /// was itself started with it, and with the state directory of its
    /// launcher. A session named there is only a candidate: the PID step
    /// still needs one of the ancestors to be its launcher or agent by PID
    /// and start time, so a stale or forged value cannot win. Stops at the
    /// first session that does own an ancestor. Returns trace lines.
    fn learn_from_environ(&mut self, ancestry: &[ProcId]) -> Vec<String> {
        let mut notes = Vec::new();
        let mut tried = std::collections::HashSet::new();
        for ancestor in ancestry {
            let Some(environ) = System.environ(ancestor.pid) else { continue };
            // The PID might have been reused since the walk read it.
            if !System.alive_as_recorded(*ancestor) {
                continue;
            }
            let Some(raw) = environ.get(SESSION_ENV) else { continue };
            let Some(id) = raw.to_str().and_then(SessionId::parse) else { continue };
            if self.known.contains_key(&id) || !tried.insert(id.clone()) {
                continue;
            }
            let stored = match self.store.load_without_checkpoints(&id) {
                Ok(stored) => stored,
                Err(err) => {
                    warn(err);
                    continue;
                }
            };
            let learned = match stored {
                Some(record) => {
                    let known = Known::new(record, true, FoundIn::AncestorEnviron);
                    self.known.insert(id.clone(), known);
                    "this repository's store".to_owned()
                }
                None => {
                    let registry = LiveRegistry::from_vars(|name| environ.get(name).map(OsStr::to_os_string));
                    match registry.as_ref().map(|r| (r, r.get(&id))) {
                        Some((registry, Ok(Some(entry)))) => {
                            self.learn_entry(entry, FoundIn::AncestorEnviron);
                            format!("the live registry {}", registry.dir().display())
                        }
                        Some((_, Err(err))) => {
                            warn(err);
                            continue;
                        }
                        _ => continue,
                    }
                }
            };
            notes.push(format!(
                "ancestor {} was started with ENTIRE_SESSION_ID={id}, found in {learned}",
                ancestor.pid
            ));
            if self.known.get(&id).is_some_and(|k| self.owns_one_of(k, ancestry)) {
                break;
            }
        }
        notes
    }

    /// A live entry reads its fresher record from this repo's store when
    /// that has one: a session started here, or one adopted here before
    /// (which otherwise would be adopted, and written, at every commit).
    fn learn_entry(&mut self, entry: LiveEntry, found_in: FoundIn) {
        let stored = self.store.load_without_checkpoints(&entry.session.session_id).ok().flatten();
        let known = match stored {
            Some(record) => Known::new(record, true, found_in),
            None => Known::new(entry.session, false, found_in),
        };
        self.known.insert(known.record.session_id.clone(), known);
    }

    /// The owner's record, copied into this repo's store if it was only in
    /// a live registry (an agent started in another directory or repo), and
    /// put in this repo's index of live sessions when it was found by PID or
    /// recency elsewhere: the next commit finds it whatever its environment.
    fn adopt(&self, session_id: &SessionId, method: ResolvedBy) -> Option<SessionRecord> {
        let known = self.known.get(session_id)?;
        let record = if known.in_store {
            known.record.clone()
        } else {
            let mut adopted = known.record.clone();
            adopted.source = Some(Source::Adopted);
            adopted.worktree_path.get_or_insert_with(|| self.repo.worktree_str());
            match self.store.modify(session_id, |current| Some(current.unwrap_or(adopted))) {
                Ok(Some(record)) => record,
                Ok(None) => return None,
                Err(err) => {
                    warn(format_args!("could not adopt session {session_id}: {err:#}"));
                    return Some(known.record.clone());
                }
            }
        };
        let unindexed =
            !known.in_store || (method != ResolvedBy::Env && known.found_in != FoundIn::RepoIndex);
        if unindexed && record.ended_at.is_none() {
            let entry = LiveEntry { store: Some(self.store.dir().to_path_buf()), session: record.clone() };
            if let Err(err) = LiveRegistry::repo_index(self.store).index(&entry) {
                warn(format_args!("could not index session {session_id}: {err:#}"));
            }
        }
        Some(record)
    }

    /// Whether `known` is live and its launcher or agent is one of
    /// `ancestry` (as recorded: PID and start time), so the PID step will
    /// find it.
    fn owns_one_of(&self, known: &Known, ancestry: &[ProcId]) -> bool {
        let procs = [known.record.launcher(), known.record.agent_proc()];
        procs.iter().flatten().any(|p| ancestry.contains(p)) && self.liveness_of(known) == Liveness::Live
    }
}
