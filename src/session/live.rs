//! The live registry: `$ENTIRE_STATE_DIR/live/<session-id>.json`, one small
//! file per running session, so a hook in any repository can find every live
//! session without reading every record ever written.
//!
//! The same files, kept in a repository's store (`<store>/live/`), are that
//! repository's index of its live sessions: found whatever the committing
//! process's environment says about the state directory.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{SessionId, SessionRecord};
use crate::error::{Error, Result};
use crate::fsutil::{
    LIVE_ENTRY_CAP, Links, atomic_write_volatile, create_new, json_files, open_regular, private_dir,
    read_own_with_owner,
};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LiveEntry {
    /// The repo store that also holds this session, if any.
    #[serde(default)]
    pub store: Option<PathBuf>,
    pub session: SessionRecord,
}

/// A launcher's lock on its live entry, as a hook finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    /// Held: the launcher runs.
    Held,
    /// An entry no process holds: its launcher is gone, or it has none (a
    /// session made by agent hooks, one adopted here).
    Free,
    /// No entry to probe (removed, a directory out of reach).
    Absent,
}

#[derive(Clone, Debug)]
pub struct LiveRegistry {
    dir: PathBuf,
    /// A repository's index lives in its store, shared as the repository
    /// is (`core.sharedRepository`); the registry is the user's alone.
    store: Option<super::Store>,
}

impl LiveRegistry {
    /// `$ENTIRE_STATE_DIR/live`, else `$XDG_STATE_HOME/entire/live`, else
    /// `~/.local/state/entire/live`.
    pub fn from_env() -> Option<LiveRegistry> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// The registry that an environment names (`var` looks a variable up):
    /// ours, or the one of a process whose initial environment we read.
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Option<LiveRegistry> {
        let non_empty = |name| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let state = non_empty("ENTIRE_STATE_DIR")
            .or_else(|| non_empty("XDG_STATE_HOME").map(|p| p.join("entire")))
            .or_else(|| non_empty("HOME").map(|p| p.join(".local/state/entire")))?;
        Some(LiveRegistry { dir: state.join("live"), store: None })
    }

    /// The per-repository index of live sessions: `<store>/live/`.
    pub fn repo_index(store: &super::Store) -> LiveRegistry {
        LiveRegistry { dir: store.dir().join("live"), store: Some(store.clone()) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &SessionId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes an entry without fsync: it describes running processes, and a
    /// crash of the machine ends them all (docs/performance.md).
    pub fn put(&self, entry: &LiveEntry) -> Result<()> {
        let mode = self.prepare()?;
        atomic_write_volatile(&self.path(&entry.session.session_id), &serde_json::to_vec(entry)?, mode)
    }

    /// Adds the entry of a session this directory has none of yet: one it
    /// has is left as it is (it may be a launcher's, locked: see
    /// [`publish`](Self::publish)).
    pub fn index(&self, entry: &LiveEntry) -> Result<()> {
        let mode = self.prepare()?;
        let path = self.path(&entry.session.session_id);
        match create_new(&path, &serde_json::to_vec(entry)?, mode, |_| Ok(())) {
            Err(_) if fs::symlink_metadata(&path).is_ok() => Ok(()),
            written => written.map(drop),
        }
    }

    /// A launcher's entry (`json`, the serialized [`LiveEntry`] of session
    /// `id`), locked for as long as the returned file is open: locks are
    /// seen across PID namespaces (the same file in a bind mount is the
    /// same lock), so a hook that cannot see the launcher's PID still tells
    /// a live session from an ended one. Locked before it gets its name, so
    /// never seen unlocked while the launcher runs. Not inherited by the
    /// agent (close-on-exec).
    pub fn publish(&self, id: &SessionId, json: &[u8]) -> Result<fs::File> {
        let mode = self.prepare()?;
        create_new(&self.path(id), json, mode, |file| file.try_lock().map_err(Into::into))
    }

    /// Makes the directory as the store or the user keeps it; returns the
    /// mode for files in it.
    fn prepare(&self) -> Result<u32> {
        Ok(match &self.store {
            Some(store) => store.ensure_subdir(&self.dir)?,
            None => {
                // The state directory too: whoever may write there could
                // swap `live/` for a directory of their own.
                private_dir(self.dir.parent().unwrap_or(&self.dir))?;
                private_dir(&self.dir)?;
                0o600
            }
        })
    }

    pub fn get(&self, id: &SessionId) -> Result<Option<LiveEntry>> {
        let path = self.path(id);
        read_entry(&path)
    }

    pub fn remove(&self, id: &SessionId) {
        let _ = fs::remove_file(self.path(id));
    }

    /// Whether a launcher holds the lock of session `id`'s entry.
    pub fn probe(&self, id: &SessionId) -> LockState {
        let Ok(Some(file)) = open_regular(&self.path(id), Links::Refuse) else {
            return LockState::Absent;
        };
        match file.try_lock_shared() {
            Ok(()) => LockState::Free,
            Err(fs::TryLockError::WouldBlock) => LockState::Held,
            Err(fs::TryLockError::Error(_)) => LockState::Absent,
        }
    }

    /// Every parseable entry, and one warning per file that was skipped.
    pub fn list(&self) -> (Vec<LiveEntry>, Vec<String>) {
        self.list_except(|_| false)
    }

    /// The same, leaving unread the entries of the sessions `known` accepts
    /// (by the file name, `<session-id>.json`): a hook has read its own
    /// session already.
    pub fn list_except(&self, known: impl Fn(&SessionId) -> bool) -> (Vec<LiveEntry>, Vec<String>) {
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        for path in json_files(&self.dir) {
            let id = path.file_stem().and_then(|stem| stem.to_str()).and_then(SessionId::parse);
            if id.is_some_and(|id| known(&id)) {
                continue;
            }
            match read_entry(&path) {
                Ok(entry) => entries.extend(entry),
                Err(err) => warnings.push(format!("{err:#}")),
            }
        }
        (entries, warnings)
    }
}

/// One entry: `Ok(None)` when it is absent or another user's. A user who
/// can write to a shared state directory or repository could otherwise
/// plant a session that looks alive (PID 1 with its real start time) and
/// have our commits, and our files, attributed to it.
fn read_entry(path: &Path) -> Result<Option<LiveEntry>> {
    let Some((bytes, owner)) = read_own_with_owner(path, LIVE_ENTRY_CAP)? else { return Ok(None) };
    if owner != nix::unistd::geteuid().as_raw() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::internal(format!("skipping unreadable live entry {}: {e}", path.display())))
}

/// The live sessions of the repository whose store is `store`: entries of
/// its index of live sessions, and registry entries written for it or
/// adopted into it. Records come from the store when it has them (hooks keep
/// them fresher than the registry).
pub fn live_here(
    registry: Option<&LiveRegistry>,
    store: &super::Store,
    procs: &dyn crate::process::ProcessTable,
) -> (Vec<SessionRecord>, Vec<String>) {
    let (mut entries, mut warnings) = LiveRegistry::repo_index(store).list();
    let indexed = entries.len();
    if let Some(registry) = registry {
        let (more, more_warnings) = registry.list();
        entries.extend(more);
        warnings.extend(more_warnings);
    }
    let mut seen = std::collections::HashSet::new();
    let mut live = Vec::new();
    for (n, entry) in entries.into_iter().enumerate() {
        if !seen.insert(entry.session.session_id.clone()) {
            continue;
        }
        let stored = match store.load(&entry.session.session_id) {
            Ok(stored) => stored,
            Err(err) => {
                warnings.push(format!("{err:#}"));
                None
            }
        };
        let ours = n < indexed || entry.store.as_deref() == Some(store.dir()) || stored.is_some();
        let record = stored.unwrap_or(entry.session);
        if ours && record.is_live(procs) {
            live.push(record);
        }
    }
    live.sort_by(|a, b| (a.started_at, &a.session_id).cmp(&(b.started_at, &b.session_id)));
    (live, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> LiveEntry {
        LiveEntry { store: None, session: SessionRecord::new(SessionId::parse(id).unwrap()) }
    }

    #[test]
    fn a_published_entry_is_held_until_its_launcher_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let registry = LiveRegistry { dir: dir.path().join("state/live"), store: None };
        let id = SessionId::parse("s1").unwrap();
        assert_eq!(registry.probe(&id), LockState::Absent);
        let json = serde_json::to_vec(&entry("s1")).unwrap();
        let held = registry.publish(&id, &json).unwrap();
        assert_eq!(registry.probe(&id), LockState::Held);
        assert_eq!(registry.get(&id).unwrap(), Some(entry("s1")), "readable while held");
        assert!(registry.publish(&id, &json).is_err(), "one entry per session");
        registry.index(&entry("s1")).unwrap();
        assert_eq!(registry.probe(&id), LockState::Held, "indexing keeps the launcher's entry");
        drop(held);
        assert_eq!(registry.probe(&id), LockState::Free);
        registry.remove(&id);
        assert_eq!(registry.probe(&id), LockState::Absent);
        registry.index(&entry("s1")).unwrap();
        assert_eq!((registry.get(&id).unwrap(), registry.probe(&id)), (Some(entry("s1")), LockState::Free));
        let names: Vec<_> = fs::read_dir(registry.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["s1.json"], "no temp file left");
    }
}
