//! `entire clean`: forgets what is safe to forget. Records of ended
//! sessions whose checkpoints are all on the branch, pending checkpoints
//! older than a day, and entries of the live registry and of the repository's
//! index of live sessions whose processes are gone.
//! A session whose process is gone but that must be kept is marked ended
//! (SPEC §3). Files that do not parse are reported and left alone.

use std::collections::HashSet;

use chrono::{TimeDelta, Utc};

use super::current_dir;
use crate::checkpoint::{self, BRANCH, Reader};
use crate::cli::CleanArgs;
use crate::error::{Result, warn};
use crate::git::Repo;
use crate::process::System;
use crate::session::{LiveRegistry, SessionId, SessionRecord, Store};

/// A pending checkpoint older than this belongs to a commit that never
/// happened (aborted, or made with hooks off).
const STALE_PENDING: TimeDelta = TimeDelta::days(1);

pub fn run(args: CleanArgs) -> Result<i32> {
    let verb = if args.dry_run { "would remove" } else { "removed" };
    let mut changes = 0;
    if let Some(repo) = Repo::discover(&current_dir()?)? {
        changes += clean_store(&repo, args.dry_run, verb)?;
        let index = LiveRegistry::repo_index(&Store::new(repo.store_dir()));
        changes += clean_live(&index, "live-index", args.dry_run, verb);
    }
    if let Some(registry) = LiveRegistry::from_env() {
        changes += clean_live(&registry, "live-registry", args.dry_run, verb);
    }
    if changes == 0 {
        println!("nothing to clean");
    }
    Ok(0)
}

fn clean_store(repo: &Repo, dry_run: bool, verb: &str) -> Result<usize> {
    // Checkpoints handed off by post-commit decide what is safe to remove.
    checkpoint::pending::complete(repo);
    let store = Store::new(repo.store_dir());
    let (records, warnings) = store.list();
    warnings.iter().for_each(warn);
    let now = Utc::now();
    let pending = store.list_pending();
    // A fresh pending checkpoint's commit may still be under way: its
    // post-commit needs the session record.
    let busy: HashSet<&str> = pending
        .iter()
        .filter(|p| now - p.created_at < STALE_PENDING)
        .map(|p| p.session_id.as_str())
        .collect();
    let mut reader = Reader::open(repo)?;
    let mut changes = 0;
    for record in &records {
        let id = &record.session_id;
        if record.is_live(&System) || busy.contains(id.as_str()) {
            continue;
        }
        let mut missing = 0;
        for c in &record.checkpoints {
            let on_branch = match &mut reader {
                Some(reader) => reader.contains(&c.checkpoint_id)?,
                None => false,
            };
            missing += usize::from(!on_branch);
        }
        if missing == 0 {
            if !dry_run {
                store.remove(id)?;
            }
            println!("{verb} session {id} ({}, {} checkpoint(s))", ended(record), record.checkpoints.len());
            changes += 1;
            continue;
        }
        println!("kept session {id}: {missing} checkpoint(s) not on the local {BRANCH} branch");
        if record.ended_at.is_none() {
            if !dry_run {
                mark_ended(&store, id)?;
            }
            println!(
                "{} session {id} as ended: its processes are gone",
                if dry_run { "would mark" } else { "marked" }
            );
            changes += 1;
        }
    }
    for p in pending.iter().filter(|p| now - p.created_at >= STALE_PENDING) {
        if !dry_run {
            store.remove_pending(&p.checkpoint_id);
        }
        let when = p.created_at.format("%Y-%m-%d %H:%M UTC");
        println!("{verb} pending checkpoint {} of session {} (from {when})", p.checkpoint_id, p.session_id);
        changes += 1;
    }
    Ok(changes)
}

fn ended(record: &SessionRecord) -> String {
    match record.ended_at {
        Some(at) => format!("ended {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => "processes gone".to_owned(),
    }
}

/// Writes down `ended_at`, under the session's lock, unless the session
/// ended or came back to life meanwhile.
fn mark_ended(store: &Store, id: &SessionId) -> Result<()> {
    store
        .modify(id, |current| {
            let mut record = current.filter(|r| r.ended_at.is_none() && !r.is_live(&System))?;
            record.ended_at = Some(Utc::now());
            Some(record)
        })
        .map(drop)
}

/// Entries of a live registry, or of a repository's index of its live
/// sessions (`what` says which), whose processes are gone.
fn clean_live(registry: &LiveRegistry, what: &str, dry_run: bool, verb: &str) -> usize {
    let (entries, warnings) = registry.list();
    warnings.iter().for_each(warn);
    let mut changes = 0;
    for entry in entries.iter().filter(|e| !e.session.is_live(&System)) {
        let id = &entry.session.session_id;
        if !dry_run {
            registry.remove(id);
        }
        println!("{verb} {what} entry {id} (its processes are gone)");
        changes += 1;
    }
    changes
}
