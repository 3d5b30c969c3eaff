//! Gathers what the pure resolver needs (docs/spec.md §5) from the stores and the
//! process table, and adopts the owner into this repo's store.
//!
//! The env path reads one record and one live entry, never the whole store;
//! the PID and recency paths read only the live registry (one small file per
//! running session), never every record ever written.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use crate::error::warn;
use crate::git::Repo;
use crate::process::{ProcId, ProcessTable, System};
use crate::resolve::{self, Candidate, Verdict};
use crate::session::{LiveEntry, LiveRegistry, SESSION_ENV, SessionId, SessionRecord, Source, Store};

/// A session known to this lookup, and whether this repo's store has it.
struct Known {
    record: SessionRecord,
    in_store: bool,
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
}

impl<F: FnOnce() -> Option<Vec<String>>> resolve::Evidence for Lazy<'_, '_, F> {
    fn env(&self) -> Option<&OsStr> {
        self.env.as_deref()
    }
    fn named(&mut self, id: &SessionId) -> Option<Candidate> {
        self.lookup.learn_id(id);
        self.lookup.known.get(id).map(candidate)
    }
    fn ancestry(&mut self) -> Vec<ProcId> {
        System.ancestry(std::process::id() as i32)
    }
    fn candidates(&mut self) -> Vec<Candidate> {
        self.lookup.learn_live();
        self.lookup.candidates()
    }
    fn staged(&mut self) -> Option<Vec<String>> {
        self.staged.take().and_then(|staged| staged())
    }
    fn worktree(&self) -> &str {
        &self.worktree
    }
    fn recency(&self) -> bool {
        self.recency
    }
}

fn candidate(known: &Known) -> Candidate {
    let r = &known.record;
    Candidate {
        session_id: r.session_id.clone(),
        launcher: r.launcher(),
        agent: r.agent_proc(),
        live: r.is_live(&System),
        worktree_path: r.worktree_path.clone(),
        last_interaction_time: r.last_interaction_time,
        started_at: r.started_at,
        files_touched: r.files_touched.clone(),
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

    /// Resolves for the current process. `staged` is called only when the
    /// recency step could use it (a live session here has `files_touched`).
    pub fn find(mut self, recency: bool, staged: impl FnOnce() -> Option<Vec<String>>) -> Found {
        let mut evidence = Lazy {
            env: std::env::var_os(SESSION_ENV),
            worktree: self.repo.worktree_str(),
            recency,
            staged: Some(staged),
            lookup: &mut self,
        };
        let verdict = resolve::resolve_from(&mut evidence);
        if std::env::var_os("ENTIRE_DEBUG").is_some_and(|v| v == "1") {
            for line in &verdict.trace {
                warn(format_args!("resolve: {line}"));
            }
        }
        let owner = verdict.owner.as_ref().and_then(|o| self.adopt(&o.session_id));
        Found { verdict, owner }
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.known.values().map(candidate).collect()
    }

    fn learn_id(&mut self, id: &SessionId) {
        match self.store.load(id) {
            Ok(Some(record)) => {
                self.known.insert(record.session_id.clone(), Known { record, in_store: true });
                return;
            }
            Ok(None) => {}
            Err(err) => warn(err),
        }
        let entry = self.registry.as_ref().map(|r| r.get(id));
        match entry {
            Some(Ok(Some(entry))) => self.learn_entry(entry),
            Some(Err(err)) => warn(err),
            _ => {}
        }
    }

    fn learn_live(&mut self) {
        let Some(registry) = &self.registry else { return };
        let (entries, warnings) = registry.list();
        warnings.into_iter().for_each(warn);
        for entry in entries {
            // Launcher and agent both gone as recorded: a leftover for
            // `entire clean`, which can own nothing; its record is not worth
            // reading (after a crash there may be thousands).
            let gone = entry.session.agent_proc().is_some() && !entry.session.is_live(&System);
            if !gone && !self.known.contains_key(&entry.session.session_id) {
                self.learn_entry(entry);
            }
        }
    }

    /// A live entry reads its fresher record from this repo's store when
    /// that has one: a session started here, or one adopted here before
    /// (which otherwise would be adopted, and written, at every commit).
    fn learn_entry(&mut self, entry: LiveEntry) {
        let stored = self.store.load(&entry.session.session_id).ok().flatten();
        let known = match stored {
            Some(record) => Known { record, in_store: true },
            None => Known { record: entry.session, in_store: false },
        };
        self.known.insert(known.record.session_id.clone(), known);
    }

    /// The owner's record, copied into this repo's store if it was only in
    /// the live registry (an agent started in another directory or repo).
    fn adopt(&self, session_id: &SessionId) -> Option<SessionRecord> {
        let known = self.known.get(session_id)?;
        if known.in_store {
            return Some(known.record.clone());
        }
        let mut adopted = known.record.clone();
        adopted.source = Some(Source::Adopted);
        adopted.worktree_path.get_or_insert_with(|| self.repo.worktree_str());
        match self.store.modify(session_id, |current| Some(current.unwrap_or(adopted))) {
            Ok(record) => record,
            Err(err) => {
                warn(format_args!("could not adopt session {session_id}: {err:#}"));
                Some(known.record.clone())
            }
        }
    }
}
