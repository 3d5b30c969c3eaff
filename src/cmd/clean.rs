//! `entire clean [--older-than AGE] [--dry-run]`: forgets what is safe to
//! forget. Records of sessions that are stale (processes gone, never ended)
//! or that ended longer than AGE ago (default 30 days), once their
//! checkpoints are all on the branch; pending checkpoints older than a day
//! whose commit was never made (never one a commit's trailer names);
//! entries of the live registry and of the repository's index of live
//! sessions whose processes are gone. A stale session that
//! must be kept is marked ended (docs/spec.md §3). Files that do not parse are
//! reported and left alone.

use std::collections::HashSet;
use std::io::Write;

use chrono::{DateTime, TimeDelta, Utc};

use super::current_dir;
use crate::checkpoint::{self, BRANCH, Reader};
use crate::cli::CleanArgs;
use crate::error::{Result, warn};
use crate::git::Repo;
use crate::process::System;
use crate::session::{LiveRegistry, SessionId, SessionRecord, Store};

/// A pending checkpoint older than this, whose `git` is gone and whose
/// trailer no commit carries, belongs to a commit that never happened
/// (aborted, or rejected by a commit-msg hook).
const STALE_PENDING: TimeDelta = TimeDelta::days(1);

/// What one run does, or would do under `--dry-run`.
struct Cleaner<W> {
    out: W,
    dry_run: bool,
    /// Ended sessions at least this old go.
    older_than: TimeDelta,
    now: DateTime<Utc>,
    changes: usize,
}

pub fn run(args: CleanArgs) -> Result<i32> {
    let mut cleaner = Cleaner {
        out: std::io::stdout().lock(),
        dry_run: args.dry_run,
        older_than: args.older_than,
        now: Utc::now(),
        changes: 0,
    };
    if let Some(repo) = Repo::discover(&current_dir()?)? {
        cleaner.store(&repo)?;
        let index = LiveRegistry::repo_index(&Store::new(repo.store_dir()));
        cleaner.live_entries(&index, "live-index")?;
    }
    if let Some(registry) = LiveRegistry::from_env() {
        cleaner.live_entries(&registry, "live-registry")?;
    }
    if cleaner.changes == 0 {
        writeln!(cleaner.out, "nothing to clean")?;
    }
    Ok(0)
}

impl<W: Write> Cleaner<W> {
    fn removed(&self) -> &'static str {
        if self.dry_run { "would remove" } else { "removed" }
    }

    fn store(&mut self, repo: &Repo) -> Result<()> {
        // Checkpoints handed off by post-commit decide what is safe to remove.
        checkpoint::pending::complete(repo);
        let store = Store::new(repo.store_dir());
        let (records, warnings) = store.list();
        warnings.iter().for_each(warn);
        let pending = store.list_pending();
        // A fresh pending checkpoint's commit may still be under way: its
        // post-commit needs the session record.
        let busy: HashSet<&SessionId> = pending
            .iter()
            .filter(|p| self.now - p.created_at < STALE_PENDING)
            .map(|p| &p.session_id)
            .collect();
        let mut reader = Reader::open(repo)?;
        let mut recent = 0;
        for record in &records {
            if record.is_live(&System) || busy.contains(&record.session_id) {
                continue;
            }
            if record.ended_at.is_some_and(|ended| self.now - ended < self.older_than) {
                recent += 1;
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
            self.session(&store, record, missing)?;
        }
        let abandoned: HashSet<_> =
            checkpoint::pending::abandoned(repo)?.into_iter().map(|p| p.checkpoint_id).collect();
        let stale = pending
            .iter()
            .filter(|p| self.now - p.created_at >= STALE_PENDING && abandoned.contains(&p.checkpoint_id));
        for p in stale {
            if !self.dry_run {
                store.remove_pending(&p.checkpoint_id);
            }
            let when = p.created_at.format("%Y-%m-%d %H:%M UTC");
            let verb = self.removed();
            writeln!(
                self.out,
                "{verb} pending checkpoint {} of session {} (from {when})",
                p.checkpoint_id, p.session_id
            )?;
            self.changes += 1;
        }
        if recent > 0 {
            writeln!(
                self.out,
                "kept {recent} session(s) that ended within the last {} (--older-than changes this)",
                age(self.older_than)
            )?;
        }
        Ok(())
    }

    /// A stale or old session: removed when its checkpoints are all on the
    /// branch, else kept (and marked ended when it never was).
    fn session(&mut self, store: &Store, record: &SessionRecord, missing: usize) -> Result<()> {
        let id = &record.session_id;
        if missing == 0 {
            if !self.dry_run {
                store.remove(id)?;
            }
            let verb = self.removed();
            writeln!(
                self.out,
                "{verb} session {id} ({}, {} checkpoint(s))",
                ended(record),
                record.checkpoints.len()
            )?;
            self.changes += 1;
            return Ok(());
        }
        writeln!(self.out, "kept session {id}: {missing} checkpoint(s) not on the local {BRANCH} branch")?;
        if record.ended_at.is_none() {
            if !self.dry_run {
                mark_ended(store, id)?;
            }
            let verb = if self.dry_run { "would mark" } else { "marked" };
            writeln!(self.out, "{verb} session {id} as ended: its processes are gone")?;
            self.changes += 1;
        }
        Ok(())
    }

    /// Entries of a live registry, or of a repository's index of its live
    /// sessions (`what` says which), whose processes are gone.
    fn live_entries(&mut self, registry: &LiveRegistry, what: &str) -> Result<()> {
        let (entries, warnings) = registry.list();
        warnings.iter().for_each(warn);
        for entry in entries.iter().filter(|e| !e.session.is_live(&System)) {
            let id = &entry.session.session_id;
            if !self.dry_run {
                registry.remove(id);
            }
            let verb = self.removed();
            writeln!(self.out, "{verb} {what} entry {id} (its processes are gone)")?;
            self.changes += 1;
        }
        Ok(())
    }
}

fn ended(record: &SessionRecord) -> String {
    match record.ended_at {
        Some(at) => format!("ended {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => "processes gone".to_owned(),
    }
}

/// `30d`, `12h`, `5m`, `0s`: the largest unit that divides it.
fn age(delta: TimeDelta) -> String {
    let secs = delta.num_seconds();
    match [(86400, "d"), (3600, "h"), (60, "m")].into_iter().find(|(unit, _)| secs != 0 && secs % unit == 0) {
        Some((unit, suffix)) => format!("{}{suffix}", secs / unit),
        None => format!("{secs}s"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_whole_unit() {
        let cases =
            [(TimeDelta::days(30), "30d"), (TimeDelta::hours(36), "36h"), (TimeDelta::minutes(90), "90m")];
        for (delta, text) in cases {
            assert_eq!(age(delta), text);
        }
        assert_eq!(age(TimeDelta::seconds(61)), "61s");
        assert_eq!(age(TimeDelta::zero()), "0s");
    }
}
