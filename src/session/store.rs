//! The repo session store: `<git-common-dir>/entire-sessions/<id>.json`,
//! shared by all worktrees. Writes are atomic; read-modify-write holds an
//! exclusive lock on `<id>.lock`. A file that does not parse is reported and
//! left exactly as it is.

use std::fs::{self, File};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{SessionId, SessionRecord};
use crate::error::{Context, Error, Result};
use crate::fsutil::{atomic_write, private_dir, read_optional};

/// A checkpoint whose trailer was written by prepare-commit-msg and that
/// post-commit has not yet tied to a commit. One small file per checkpoint,
/// so neither hook has to scan or lock anything to find it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Pending {
    pub checkpoint_id: String,
    pub session_id: String,
    pub resolved_by: String,
    /// How it was resolved: depth, env_rejected… (section 7 `resolution`).
    pub resolution: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, id: &SessionId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn pending_path(&self, checkpoint_id: &str) -> PathBuf {
        self.dir.join("pending").join(format!("{checkpoint_id}.json"))
    }

    pub fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        let path = self.record_path(id);
        read_optional(&path)?.map(|bytes| parse_record(&path, &bytes)).transpose()
    }

    /// Read-modify-write under the session's lock. `f` sees the current
    /// record (None when absent) and returns what to write (None: write
    /// nothing). A file that does not parse is an error and is not touched.
    pub fn modify(
        &self,
        id: &SessionId,
        f: impl FnOnce(Option<SessionRecord>) -> Option<SessionRecord>,
    ) -> Result<Option<SessionRecord>> {
        private_dir(&self.dir)?;
        let lock_path = self.dir.join(format!("{id}.lock"));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .context(format_args!("opening {}", lock_path.display()))?;
        lock.lock().context(format_args!("locking {}", lock_path.display()))?;
        let current = self.load(id)?;
        let Some(next) = f(current) else { return Ok(None) };
        self.write_unlocked(&next)?;
        Ok(Some(next))
    }

    /// Writes a record whose ID nobody else can hold yet (a fresh UUIDv7).
    pub fn create(&self, record: &SessionRecord) -> Result<()> {
        private_dir(&self.dir)?;
        self.write_unlocked(record)
    }

    fn write_unlocked(&self, record: &SessionRecord) -> Result<()> {
        let id = SessionId::parse(&record.session_id)
            .ok_or_else(|| Error::new(format!("invalid session id {:?}", record.session_id)))?;
        let mut json = serde_json::to_vec_pretty(record)?;
        json.push(b'\n');
        atomic_write(&self.record_path(&id), &json, 0o600)
    }

    /// Every parseable record, and one warning per file that was skipped.
    pub fn list(&self) -> (Vec<SessionRecord>, Vec<String>) {
        let mut records = Vec::new();
        let mut warnings = Vec::new();
        let Ok(entries) = fs::read_dir(&self.dir) else { return (records, warnings) };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_record = path.extension().is_some_and(|e| e == "json")
                && !entry.file_name().to_string_lossy().starts_with('.');
            if !is_record {
                continue;
            }
            match fs::read(&path).map_err(Error::from).and_then(|b| parse_record(&path, &b)) {
                Ok(record) => records.push(record),
                Err(err) => warnings.push(err.to_string()),
            }
        }
        (records, warnings)
    }

    /// Removes a record and its lock file.
    pub fn remove(&self, id: &SessionId) -> Result<()> {
        fs::remove_file(self.record_path(id))?;
        let _ = fs::remove_file(self.dir.join(format!("{id}.lock")));
        Ok(())
    }

    pub fn put_pending(&self, pending: &Pending) -> Result<()> {
        let path = self.pending_path(&pending.checkpoint_id);
        private_dir(path.parent().expect("pending dir"))?;
        atomic_write(&path, &serde_json::to_vec(pending)?, 0o600)
    }

    pub fn pending(&self, checkpoint_id: &str) -> Result<Option<Pending>> {
        let path = self.pending_path(checkpoint_id);
        let Some(bytes) = read_optional(&path)? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).context(path.display())
    }

    pub fn remove_pending(&self, checkpoint_id: &str) {
        let _ = fs::remove_file(self.pending_path(checkpoint_id));
    }

    /// Whether any checkpoint waits for post-commit (one directory read).
    pub fn has_pending(&self) -> bool {
        fs::read_dir(self.dir.join("pending")).is_ok_and(|mut d| d.next().is_some())
    }

    /// Pending checkpoints, for `clean` and `doctor`.
    pub fn list_pending(&self) -> Vec<Pending> {
        let Ok(entries) = fs::read_dir(self.dir.join("pending")) else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    }
}

fn parse_record(path: &Path, bytes: &[u8]) -> Result<SessionRecord> {
    let record: SessionRecord = serde_json::from_slice(bytes)
        .map_err(|e| Error::new(format!("skipping unreadable session file {}: {e}", path.display())))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy());
    if stem.as_deref() != Some(record.session_id.as_str()) {
        return Err(Error::new(format!(
            "skipping session file {}: its session_id {:?} does not match its name",
            path.display(),
            record.session_id
        )));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("entire-sessions"));
        (dir, store)
    }

    fn record(id: &str) -> SessionRecord {
        SessionRecord { session_id: id.into(), ..Default::default() }
    }

    #[test]
    fn create_then_modify_keeps_unknown_fields() {
        let (_tmp, store) = store();
        let id = SessionId::parse("s1").unwrap();
        let mut rec = record("s1");
        rec.extra.insert("mine".into(), Value::from(7));
        store.create(&rec).unwrap();
        store
            .modify(&id, |r| {
                let mut r = r.unwrap();
                r.agent = Some("codex".into());
                Some(r)
            })
            .unwrap();
        let back = store.load(&id).unwrap().unwrap();
        assert_eq!(back.agent.as_deref(), Some("codex"));
        assert_eq!(back.extra["mine"], 7);
    }

    #[test]
    fn corrupt_file_is_skipped_and_never_rewritten() {
        let (_tmp, store) = store();
        store.create(&record("good")).unwrap();
        let bad = store.dir().join("bad.json");
        fs::write(&bad, b"{not json").unwrap();
        let (records, warnings) = store.list();
        assert_eq!(records.len(), 1);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let id = SessionId::parse("bad").unwrap();
        assert!(store.modify(&id, |_| Some(record("bad"))).is_err());
        assert_eq!(fs::read(&bad).unwrap(), b"{not json");
    }

    #[test]
    fn file_named_for_another_session_is_skipped() {
        let (_tmp, store) = store();
        private_dir(store.dir()).unwrap();
        fs::write(store.dir().join("a.json"), br#"{"session_id":"b"}"#).unwrap();
        let (records, warnings) = store.list();
        assert!(records.is_empty());
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn pending_round_trip() {
        let (_tmp, store) = store();
        let p = Pending {
            checkpoint_id: "0123456789ab".into(),
            session_id: "s1".into(),
            resolved_by: "env".into(),
            resolution: serde_json::json!({"depth": null}),
            created_at: Utc::now(),
        };
        store.put_pending(&p).unwrap();
        assert_eq!(store.pending("0123456789ab").unwrap(), Some(p));
        store.remove_pending("0123456789ab");
        assert_eq!(store.pending("0123456789ab").unwrap(), None);
    }
}
