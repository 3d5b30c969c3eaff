//! Gathers what the pure resolver needs (SPEC §5) from the stores and the
//! process table, and adopts the owner into this repo's store.
//!
//! The env path reads one record and one live entry, never the whole store;
//! the PID and recency paths read only the live registry (one small file per
//! running session), never every record ever written.

use std::collections::BTreeMap;
use std::ffi::OsString;

use crate::error::warn;
use crate::git::Repo;
use crate::process::{ProcessTable, System};
use crate::resolve::{self, Candidate, Inputs, Resolution};
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
    known: BTreeMap<String, Known>,
}

/// Who owns what is happening now, and that session's record (adopted into
/// this repo's store when it was only in the live registry).
pub struct Found {
    pub resolution: Resolution,
    pub owner: Option<SessionRecord>,
}

impl<'a> OwnerLookup<'a> {
    pub fn new(repo: &'a Repo, store: &'a Store) -> Self {
        OwnerLookup { repo, store, registry: LiveRegistry::from_env(), known: BTreeMap::new() }
    }

    /// Resolves for the current process. `staged` is called only when the
    /// recency step could use it (a live session here has `files_touched`).
    pub fn find(mut self, recency: bool, staged: impl FnOnce() -> Option<Vec<String>>) -> Found {
        let env: Option<OsString> = std::env::var_os(SESSION_ENV);
        let worktree = self.repo.worktree_str();
        if let Some(id) = env.as_deref().and_then(|v| v.to_str()).and_then(SessionId::parse) {
            self.learn_id(&id);
        }
        let quick = resolve::resolve(&Inputs {
            env: env.as_deref(),
            ancestry: &[],
            candidates: &self.candidates(),
            worktree: &worktree,
            staged: None,
            recency: false,
        });
        let resolution = if quick.owner.is_some() {
            quick
        } else {
            self.learn_live();
            let ancestry = System.ancestry(std::process::id() as i32);
            let candidates = self.candidates();
            let wants_staged = recency
                && candidates.iter().any(|c| {
                    c.live && c.worktree_path.as_deref() == Some(&worktree) && !c.files_touched.is_empty()
                });
            let staged = if wants_staged { staged() } else { None };
            let (env, ancestry, candidates) = (env.as_deref(), &ancestry, &candidates);
            resolve::resolve(&Inputs {
                env,
                ancestry,
                candidates,
                worktree: &worktree,
                staged: staged.as_deref(),
                recency,
            })
        };
        if std::env::var_os("ENTIRE_DEBUG").is_some_and(|v| v == "1") {
            for line in &resolution.trace {
                eprintln!("entire: resolve: {line}");
            }
        }
        let owner = resolution.owner.as_ref().and_then(|o| self.adopt(&o.session_id));
        Found { resolution, owner }
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.known
            .values()
            .map(|k| {
                let r = &k.record;
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
            })
            .collect()
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
        let stored =
            SessionId::parse(&entry.session.session_id).and_then(|id| self.store.load(&id).ok().flatten());
        let known = match stored {
            Some(record) => Known { record, in_store: true },
            None => Known { record: entry.session, in_store: false },
        };
        self.known.insert(known.record.session_id.clone(), known);
    }

    /// The owner's record, copied into this repo's store if it was only in
    /// the live registry (an agent started in another directory or repo).
    fn adopt(&self, session_id: &str) -> Option<SessionRecord> {
        let known = self.known.get(session_id)?;
        if known.in_store {
            return Some(known.record.clone());
        }
        let id = SessionId::parse(session_id)?;
        let mut adopted = known.record.clone();
        adopted.source = Some(Source::Adopted);
        adopted.worktree_path.get_or_insert_with(|| self.repo.worktree_str());
        match self.store.modify(&id, |current| Some(current.unwrap_or(adopted))) {
            Ok(record) => record,
            Err(err) => {
                warn(format_args!("could not adopt session {session_id}: {err}"));
                Some(known.record.clone())
            }
        }
    }
}
