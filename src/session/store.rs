//! The repo session store: `<git-common-dir>/entire-sessions/<id>.json`,
//! shared by all worktrees. Writes are atomic; read-modify-write holds an
//! exclusive lock on `<id>.lock`. A file that does not parse is reported and
//! left exactly as it is.

use std::collections::HashSet;
use std::fs::{self, File, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{CheckpointId, Resolution, ResolvedBy, SessionId, SessionRecord};
use crate::error::{Context, Error, Result};
use crate::fsutil::{
    PENDING_CAP, RECORD_CAP, atomic_write, atomic_write_volatile, create_new, file_mode_in, json_files,
    lock_with_deadline, open_lock, read_own, shared_dir,
};
use crate::process::ProcId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A checkpoint whose trailer was written by prepare-commit-msg and that is
/// not on the branch yet. One small file per checkpoint: a line of JSON,
/// and once post-commit has seen the commit, a second line, [`Committed`].
/// The `git commit` process that runs both hooks is its key: post-commit
/// takes the checkpoints its own git process made pending.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Pending {
    pub checkpoint_id: CheckpointId,
    pub session_id: SessionId,
    pub resolved_by: ResolvedBy,
    /// How it was resolved: depth, env_rejected… (section 7 `resolution`).
    pub resolution: Resolution,
    pub created_at: DateTime<Utc>,
    /// The `git` process making the commit (absent in files written before
    /// it was recorded: taken as gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<ProcId>,
    /// The git dir of the worktree the commit is made in, whose HEAD and
    /// reflog show the commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dir: Option<PathBuf>,
    /// Set by post-commit: the commit was made, and HEAD was then at
    /// `commit` (the commit itself, or a later one of the same worktree, of
    /// which it is an ancestor). From then on the checkpoint only waits to
    /// be written.
    #[serde(skip)]
    pub committed: Option<Committed>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Committed {
    pub commit: crate::git::CommitId,
    /// The branch HEAD was on at the commit; None when detached.
    pub branch: Option<String>,
}

/// A session's lock file, open; taken by [`Store::modify_with`] and let go
/// when dropped.
#[derive(Debug)]
pub struct SessionLock {
    file: File,
    path: PathBuf,
}

#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

/// The record [`Store::modify_kept`] last wrote, with the identity of the
/// file it wrote (device, inode, size, modification time): a file another
/// process wrote since is a new file (records are replaced by rename) or
/// one with another size or time.
#[derive(Default)]
pub struct Kept(Option<(PathBuf, FileStamp, SessionRecord)>);

/// Device, inode, size, modification time (seconds, nanoseconds).
type FileStamp = (u64, u64, u64, i64, i64);

impl Kept {
    fn stamp(path: &Path) -> Option<FileStamp> {
        Self::stamp_of(&std::fs::symlink_metadata(path).ok()?)
    }

    fn stamp_of(meta: &fs::Metadata) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec()))
    }

    /// The kept record when it is still what `path` holds.
    fn take(&mut self, path: &Path) -> Option<SessionRecord> {
        let (kept_path, stamp, record) = self.0.take()?;
        (kept_path == path && Self::stamp(path) == Some(stamp)).then_some(record)
    }

    fn keep(&mut self, path: &Path, record: &SessionRecord) {
        self.0 = Self::stamp(path).map(|stamp| (path.to_path_buf(), stamp, record.clone()));
    }
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

    fn pending_path(&self, checkpoint_id: &CheckpointId) -> PathBuf {
        self.dir.join("pending").join(format!("{checkpoint_id}.json"))
    }

    /// Creates or checks the store (or one of its directories), shared
    /// with the group as `core.sharedRepository` says; returns the mode its
    /// files get.
    fn ensure_dir(&self, dir: &Path) -> Result<u32> {
        let common_dir = self.dir.parent().unwrap_or(&self.dir);
        let dir_mode = shared_dir(dir, || crate::git::shared_repository_mode(common_dir))?;
        Ok(file_mode_in(dir_mode))
    }

    /// [`ensure_dir`](Self::ensure_dir) of a directory inside the store.
    pub(crate) fn ensure_subdir(&self, dir: &Path) -> Result<u32> {
        self.ensure_dir(&self.dir)?;
        self.ensure_dir(dir)
    }

    pub fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        let path = self.record_path(id);
        read_own(&path, RECORD_CAP)?.map(|bytes| parse_record::<SessionRecord>(&path, &bytes)).transpose()
    }

    /// The record with its `checkpoints` skipped unparsed (left empty): what
    /// a hook reads to resolve a commit, at a cost that barely grows with
    /// the session's commits (each parsed reference costs more than the
    /// rest of the record). Never to be written back: [`modify`](Self::modify)
    /// reads the whole.
    pub fn load_without_checkpoints(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        /// `checkpoints` taken out before the record sees it.
        #[derive(serde::Deserialize)]
        struct WithoutCheckpoints {
            #[serde(flatten)]
            record: SessionRecord,
            #[serde(default, rename = "checkpoints")]
            _skipped: serde::de::IgnoredAny,
        }
        impl From<WithoutCheckpoints> for SessionRecord {
            fn from(parsed: WithoutCheckpoints) -> SessionRecord {
                parsed.record
            }
        }
        let path = self.record_path(id);
        read_own(&path, RECORD_CAP)?
            .map(|bytes| parse_record::<WithoutCheckpoints>(&path, &bytes))
            .transpose()
    }

    /// Read-modify-write under the session's lock. `f` sees the current
    /// record (None when absent) and returns what to write (None: write
    /// nothing). A file that does not parse is an error and is not touched.
    pub fn modify(
        &self,
        id: &SessionId,
        f: impl FnOnce(Option<SessionRecord>) -> Option<SessionRecord>,
    ) -> Result<Option<SessionRecord>> {
        self.modify_with(self.session_lock(id)?, id, None, f)
    }

    /// [`modify`](Self::modify) for a process that modifies the same
    /// records again and again (the checkpoint writer, one checkpoint after
    /// another): `kept` holds the last record it wrote, which stands for
    /// the file as long as no other process replaced it, so that a record
    /// listing many checkpoints is not parsed again for each.
    pub fn modify_kept(
        &self,
        id: &SessionId,
        kept: &mut Kept,
        f: impl FnOnce(Option<SessionRecord>) -> Option<SessionRecord>,
    ) -> Result<Option<SessionRecord>> {
        self.modify_locked(self.session_lock(id)?, id, Some(kept), f)
    }

    /// The session's lock file, opened (created if need be) but not taken:
    /// for a [`modify_with`](Self::modify_with) later, which then creates
    /// no file (the launcher opens it while its agent runs, for the end).
    pub fn session_lock(&self, id: &SessionId) -> Result<SessionLock> {
        let mode = self.ensure_dir(&self.dir)?;
        let path = self.dir.join(format!("{id}.lock"));
        Ok(SessionLock { file: open_lock(&path, mode)?, path })
    }

    /// [`session_lock`](Self::session_lock) for the launcher that created
    /// the record: when the session has no lock file yet, the record's
    /// file gets that second name (a hard link), so that the lock takes no
    /// inode of its own and the record's first version none when it is
    /// replaced (on ext4 an inode allocated soon after many were freed
    /// costs over a millisecond here). What a lock file holds is never
    /// read; the record's own name moves on to each new version.
    pub fn session_lock_sharing_record(&self, id: &SessionId) -> Result<SessionLock> {
        let _ = fs::hard_link(self.record_path(id), self.dir.join(format!("{id}.lock")));
        self.session_lock(id)
    }

    /// [`modify`](Self::modify) with the session's lock file already open
    /// (and, if `kept` holds it, the record as last written).
    pub fn modify_with(
        &self,
        lock: SessionLock,
        id: &SessionId,
        kept: Option<&mut Kept>,
        f: impl FnOnce(Option<SessionRecord>) -> Option<SessionRecord>,
    ) -> Result<Option<SessionRecord>> {
        self.modify_locked(lock, id, kept, f)
    }

    fn modify_locked(
        &self,
        lock: SessionLock,
        id: &SessionId,
        mut kept: Option<&mut Kept>,
        f: impl FnOnce(Option<SessionRecord>) -> Option<SessionRecord>,
    ) -> Result<Option<SessionRecord>> {
        lock_with_deadline(&lock.file, &lock.path)?;
        let path = self.record_path(id);
        let current = match kept.as_deref_mut().and_then(|kept| kept.take(&path)) {
            Some(record) => Some(record),
            None => self.load(id)?,
        };
        let Some(next) = f(current) else { return Ok(None) };
        self.write_unlocked(&next)?;
        if let Some(kept) = kept {
            kept.keep(&path, &next);
        }
        Ok(Some(next))
    }

    /// Writes a record whose ID nobody else can hold yet (a fresh UUIDv7),
    /// refusing to replace one; fsynced only if it lists checkpoints, as
    /// every record. Returns the file, open.
    pub fn create(&self, record: &SessionRecord) -> Result<File> {
        let mode = self.ensure_dir(&self.dir)?;
        let durable = !record.checkpoints.is_empty();
        let sync = |file: &File| if durable { file.sync_all() } else { Ok(()) };
        create_new(&self.record_path(&record.session_id), &record_json(record)?, mode, sync)
    }

    /// What [`create`](Self::create) wrote to `file`, kept for a
    /// [`modify_with`](Self::modify_with) later: as long as the caller
    /// keeps `file` open, no other file can take its inode, so a record of
    /// that identity is still the one created and is not read again.
    pub fn kept_as_created(&self, file: &File, record: &SessionRecord) -> Kept {
        let stamp = file.metadata().ok().as_ref().and_then(Kept::stamp_of);
        Kept(stamp.map(|stamp| (self.record_path(&record.session_id), stamp, record.clone())))
    }

    /// A record that lists checkpoints is fsynced: a crash must not take
    /// them with it. One without is not (docs/performance.md): it holds what
    /// a launcher and its hooks know of a session that the crash ended.
    fn write_unlocked(&self, record: &SessionRecord) -> Result<()> {
        let mode = self.ensure_dir(&self.dir)?;
        let json = record_json(record)?;
        let path = self.record_path(&record.session_id);
        if record.checkpoints.is_empty() {
            atomic_write_volatile(&path, &json, mode)
        } else {
            atomic_write(&path, &json, mode)
        }
    }

    /// Every parseable record, and one warning per file that was skipped.
    pub fn list(&self) -> (Vec<SessionRecord>, Vec<String>) {
        let mut records = Vec::new();
        let mut warnings = Vec::new();
        for path in json_files(&self.dir) {
            match read_own(&path, RECORD_CAP)
                .and_then(|b| parse_record::<SessionRecord>(&path, &b.unwrap_or_default()))
            {
                Ok(record) => records.push(record),
                Err(err) => warnings.push(format!("{err:#}")),
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

    /// Without fsync: git does not fsync the commit this file belongs to
    /// either (docs/performance.md).
    pub fn put_pending(&self, pending: &Pending) -> Result<()> {
        self.put_pending_into(None, pending)
    }

    /// [`Store::put_pending`] into `spare`, an empty file of the store's
    /// that no other process writes (a pooled ID's, `checkpoint::Claimed`):
    /// written, then renamed into place, so that no file is created. Without
    /// one, or when it cannot be used (it is then removed), a new file.
    pub fn put_pending_into(&self, spare: Option<PathBuf>, pending: &Pending) -> Result<()> {
        let path = self.pending_path(&pending.checkpoint_id);
        let prepared = self.ensure_subdir(path.parent().expect("pending dir")).and_then(|mode| {
            let mut text = serde_json::to_vec(pending)?;
            text.push(b'\n');
            if let Some(committed) = &pending.committed {
                text.extend(serde_json::to_vec(committed)?);
                text.push(b'\n');
            }
            Ok((mode, text))
        });
        let (mode, text) = match prepared {
            Ok(prepared) => prepared,
            Err(err) => {
                if let Some(spare) = spare {
                    let _ = fs::remove_file(spare);
                }
                return Err(err);
            }
        };
        if let Some(spare) = spare {
            let filled = File::options()
                .write(true)
                .truncate(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(&spare)
                .and_then(|mut file| {
                    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
                    file.write_all(&text)
                })
                .and_then(|()| fs::rename(&spare, &path));
            if filled.is_ok() {
                return Ok(());
            }
            let _ = fs::remove_file(&spare);
        }
        atomic_write_volatile(&path, &text, mode)
    }

    /// Adds the commit to a pending checkpoint: one line appended in one
    /// write, so no new file and, on a full disk, no new block. A reader
    /// that sees part of the line takes the checkpoint as not committed yet.
    pub fn commit_pending(&self, checkpoint_id: &CheckpointId, committed: &Committed) -> Result<()> {
        let path = self.pending_path(checkpoint_id);
        let mut line = serde_json::to_vec(committed)?;
        line.push(b'\n');
        // Like every file of the store: never through a planted link, never
        // blocking on a FIFO.
        File::options()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .and_then(|mut file| file.write_all(&line))
            .context(format_args!("writing {}", path.display()))
    }

    /// Whether a checkpoint is pending (one stat).
    pub fn is_pending(&self, checkpoint_id: &CheckpointId) -> bool {
        self.pending_path(checkpoint_id).exists()
    }

    /// The lock the one checkpoint writer of the repository holds while it
    /// writes (`writer.lock`), taken without waiting: None when another
    /// process holds it. Released when the returned file is closed in every
    /// process that shares it (a forked writer keeps it).
    pub fn lock_writer(&self) -> Result<Option<File>> {
        self.try_store_lock("writer.lock", File::try_lock)
    }

    /// Says that a reader waits for the writer lock, for as long as the
    /// returned file stays open: a shared lock on `readers.lock`. None when
    /// it cannot be taken at this instant (a writer looking, see
    /// [`reader_waiting`](Self::reader_waiting)): ask again.
    pub fn announce_reader(&self) -> Result<Option<File>> {
        self.try_store_lock("readers.lock", File::try_lock_shared)
    }

    /// Whether a reader waits for the writer lock (holds `readers.lock`).
    pub fn reader_waiting(&self) -> bool {
        matches!(self.try_store_lock("readers.lock", File::try_lock), Ok(None))
    }

    /// Opens the store's lock file `name` and takes it with `take` without
    /// waiting: None when another process holds it.
    fn try_store_lock(
        &self,
        name: &str,
        take: fn(&File) -> std::result::Result<(), TryLockError>,
    ) -> Result<Option<File>> {
        let mode = self.ensure_dir(&self.dir)?;
        let path = self.dir.join(name);
        let file = open_lock(&path, mode)?;
        match take(&file) {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => {
                Err(Error::from(e).context(format_args!("locking {}", path.display())))
            }
        }
    }

    /// The names of the pending checkpoint files (one directory read).
    pub fn pending_names(&self) -> HashSet<std::ffi::OsString> {
        let Ok(entries) = fs::read_dir(self.dir.join("pending")) else { return HashSet::new() };
        entries.flatten().map(|e| e.file_name()).collect()
    }

    pub fn pending(&self, checkpoint_id: &CheckpointId) -> Result<Option<Pending>> {
        let path = self.pending_path(checkpoint_id);
        let Some(bytes) = read_own(&path, PENDING_CAP)? else { return Ok(None) };
        parse_pending(&bytes).map(Some).context(path.display())
    }

    pub fn remove_pending(&self, checkpoint_id: &CheckpointId) {
        let _ = fs::remove_file(self.pending_path(checkpoint_id));
    }

    /// Whether any checkpoint waits for post-commit (one directory read).
    pub fn has_pending(&self) -> bool {
        fs::read_dir(self.dir.join("pending")).is_ok_and(|mut d| d.next().is_some())
    }

    /// Every pending checkpoint, oldest first.
    pub fn list_pending(&self) -> Vec<Pending> {
        let Ok(entries) = fs::read_dir(self.dir.join("pending")) else { return Vec::new() };
        let mut pending = entries
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".json") && !n.starts_with('.')))
            .filter_map(|e| read_own(&e.path(), PENDING_CAP).ok().flatten())
            .filter_map(|b| parse_pending(&b).ok())
            .collect::<Vec<_>>();
        pending.sort_by(|a, b| (a.created_at, &a.checkpoint_id).cmp(&(b.created_at, &b.checkpoint_id)));
        pending
    }
}

/// A record as its file holds it.
fn record_json(record: &SessionRecord) -> Result<Vec<u8>> {
    let mut json = serde_json::to_vec_pretty(record)?;
    json.push(b'\n');
    Ok(json)
}

fn parse_pending(bytes: &[u8]) -> Result<Pending> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let mut pending: Pending = serde_json::from_slice(lines.next().unwrap_or_default())?;
    pending.committed = lines.next().and_then(|line| serde_json::from_slice(line).ok());
    Ok(pending)
}

/// A record file parsed as `R` (the record, or a lighter read of it).
fn parse_record<R>(path: &Path, bytes: &[u8]) -> Result<SessionRecord>
where
    R: serde::de::DeserializeOwned + Into<SessionRecord>,
{
    let parsed: R = serde_json::from_slice(bytes)
        .map_err(|e| Error::internal(format!("skipping unreadable session file {}: {e}", path.display())))?;
    let record = parsed.into();
    let stem = path.file_stem().map(|s| s.to_string_lossy());
    if stem.as_deref() != Some(record.session_id.as_str()) {
        return Err(Error::internal(format!(
            "skipping session file {}: its session_id {:?} does not match its name",
            path.display(),
            record.session_id.as_str()
        )));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("entire-sessions"));
        (dir, store)
    }

    #[test]
    fn a_kept_record_stands_for_its_file_until_another_process_replaces_it() {
        let (_dir, store) = store();
        let id = SessionId::parse("s1").unwrap();
        store.create(&SessionRecord::new(id.clone())).unwrap();
        let mut kept = Kept::default();
        let set = |cwd: &'static str| {
            move |r: Option<SessionRecord>| Some(SessionRecord { cwd: Some(cwd.into()), ..r.unwrap() })
        };
        store.modify_kept(&id, &mut kept, set("/a")).unwrap();
        // What the file holds is not read again while it is the one kept...
        assert!(kept.take(&store.record_path(&id)).is_some());
        store.modify_kept(&id, &mut kept, set("/b")).unwrap();
        // ...and is once another writer replaced it.
        std::thread::sleep(std::time::Duration::from_millis(5));
        store.modify(&id, |r| Some(SessionRecord { agent: Some("codex".into()), ..r.unwrap() })).unwrap();
        let seen = store.modify_kept(&id, &mut kept, |r| r).unwrap().unwrap();
        assert_eq!((seen.cwd.as_deref(), seen.agent.as_deref()), (Some("/b"), Some("codex")));
    }

    #[test]
    fn a_created_record_is_not_read_back_until_another_process_replaces_it() {
        let (_dir, store) = store();
        let id = SessionId::parse("s1").unwrap();
        let created = SessionRecord::new(id.clone());
        let file = store.create(&created).unwrap();
        assert!(store.create(&created).is_err(), "never over another record");
        let end = |kept: &mut Kept| {
            let lock = store.session_lock(&id).unwrap();
            let end = |r: Option<SessionRecord>| Some(SessionRecord { exit_code: Some(3), ..r.unwrap() });
            store.modify_with(lock, &id, Some(kept), end).unwrap().unwrap()
        };
        let mut kept = store.kept_as_created(&file, &created);
        // Made unreadable in place (as no process of entire writes a
        // record), its size and time kept: the kept record stands for it.
        let path = store.record_path(&id);
        let meta = fs::metadata(&path).unwrap();
        fs::write(&path, vec![b' '; meta.len() as usize]).unwrap();
        File::options().write(true).open(&path).unwrap().set_modified(meta.modified().unwrap()).unwrap();
        assert_eq!(end(&mut kept).exit_code, Some(3));
        // Replaced by another process: read again.
        let replaced = SessionRecord { agent: Some("codex".into()), ..created.clone() };
        store.modify(&id, |_| Some(replaced)).unwrap();
        let mut kept = store.kept_as_created(&file, &created);
        assert_eq!(end(&mut kept).agent.as_deref(), Some("codex"));
    }

    #[test]
    fn a_lock_that_shares_the_records_file_locks_as_any_and_outlives_its_version() {
        use std::os::unix::fs::MetadataExt;
        let (_dir, store) = store();
        let id = SessionId::parse("s1").unwrap();
        let created = store.create(&SessionRecord::new(id.clone())).unwrap();
        let lock = store.session_lock_sharing_record(&id).unwrap();
        let lock_path = store.dir().join("s1.lock");
        assert_eq!(fs::metadata(&lock_path).unwrap().ino(), created.metadata().unwrap().ino());
        lock_with_deadline(&lock.file, &lock.path).unwrap();
        assert!(store.session_lock(&id).unwrap().file.try_lock().is_err(), "held through the lock's name");
        drop(lock);
        let next = |r: Option<SessionRecord>| Some(SessionRecord { exit_code: Some(1), ..r.unwrap() });
        store.modify(&id, next).unwrap();
        assert_eq!(store.load(&id).unwrap().unwrap().exit_code, Some(1));
        assert_eq!(
            fs::metadata(&lock_path).unwrap().ino(),
            created.metadata().unwrap().ino(),
            "the lock stays"
        );
        // One already there is taken as it is.
        fs::remove_file(&lock_path).unwrap();
        let other = store.session_lock(&id).unwrap();
        let again = store.session_lock_sharing_record(&id).unwrap();
        assert_eq!(again.file.metadata().unwrap().ino(), other.file.metadata().unwrap().ino());
    }

    /// A pending checkpoint of session s1, not yet committed.
    fn pending(resolved_by: ResolvedBy, depth: Option<usize>) -> Pending {
        Pending {
            checkpoint_id: id(),
            session_id: SessionId::parse("s1").unwrap(),
            resolved_by,
            resolution: Resolution { method: Some(resolved_by), depth, ..Resolution::default() },
            created_at: Utc::now(),
            git: Some(ProcId { pid: 42, start_time: 7 }),
            git_dir: Some("/r/.git".into()),
            committed: None,
        }
    }

    fn id() -> CheckpointId {
        CheckpointId::parse("0123456789ab").unwrap()
    }

    fn record(id: &str) -> SessionRecord {
        SessionRecord::new(SessionId::parse(id).unwrap())
    }

    #[test]
    fn a_lookup_reads_the_record_but_its_checkpoints() {
        let (_dir, store) = store();
        let id = SessionId::parse("s1").unwrap();
        std::fs::create_dir_all(store.dir()).unwrap();
        let raw = r#"{"session_id":"s1","agent":"codex","future":{"x":1},"checkpoints":[
            {"checkpoint_id":"0123456789ab","commit":"0123456789abcdef0123456789abcdef01234567",
             "resolved_by":"env","created_at":"2025-01-01T00:10:00Z"}],"launcher_pid":7}"#;
        std::fs::write(store.dir().join("s1.json"), raw).unwrap();
        let whole = store.load(&id).unwrap().unwrap();
        assert_eq!(whole.checkpoints.len(), 1);
        let light = store.load_without_checkpoints(&id).unwrap().unwrap();
        assert!(light.checkpoints.is_empty());
        assert!(!light.extra.contains_key("checkpoints"), "not kept as an unknown field");
        assert_eq!(SessionRecord { checkpoints: whole.checkpoints.clone(), ..light }, whole);
        std::fs::write(store.dir().join("s1.json"), raw.replace("\"s1\"", "\"s2\"")).unwrap();
        assert!(store.load_without_checkpoints(&id).is_err(), "checked against its name as a load is");
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
        crate::fsutil::private_dir(store.dir()).unwrap();
        fs::write(store.dir().join("a.json"), br#"{"session_id":"b"}"#).unwrap();
        let (records, warnings) = store.list();
        assert!(records.is_empty());
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn pending_round_trip() {
        let (_tmp, store) = store();
        let p = pending(ResolvedBy::Env, None);
        store.put_pending(&p).unwrap();
        assert_eq!(store.pending(&id()).unwrap(), Some(p.clone()));
        let committed = Committed {
            commit: crate::git::CommitId::parse(&"c".repeat(40)).unwrap(),
            branch: Some("main".into()),
        };
        store.commit_pending(&id(), &committed).unwrap();
        let with_commit = Pending { committed: Some(committed), ..p.clone() };
        assert_eq!(store.pending(&id()).unwrap(), Some(with_commit.clone()));
        assert_eq!(store.list_pending(), std::slice::from_ref(&with_commit));
        store.put_pending(&with_commit).unwrap();
        assert_eq!(store.pending(&id()).unwrap(), Some(with_commit));
        store.remove_pending(&id());
        assert_eq!(store.pending(&id()).unwrap(), None);
    }

    #[test]
    fn a_commit_line_cut_short_is_no_commit_yet() {
        let (_tmp, store) = store();
        let p = pending(ResolvedBy::Pid, Some(1));
        store.put_pending(&p).unwrap();
        let path = store.dir().join("pending/0123456789ab.json");
        let mut file = File::options().append(true).open(&path).unwrap();
        file.write_all(br#"{"commit":"abab"#).unwrap();
        assert_eq!(store.pending(&id()).unwrap(), Some(p));
    }

    #[test]
    fn one_writer_at_a_time() {
        let (_tmp, store) = store();
        let held = store.lock_writer().unwrap().expect("free");
        // flock is per open file: a second open, as another process makes, is refused.
        assert!(store.lock_writer().unwrap().is_none(), "held elsewhere");
        drop(held);
        assert!(store.lock_writer().unwrap().is_some(), "released");
    }

    #[test]
    fn a_writer_sees_a_waiting_reader_until_it_stops_waiting() {
        let (_tmp, store) = store();
        assert!(!store.reader_waiting());
        let first = store.announce_reader().unwrap().expect("free");
        let second = store.announce_reader().unwrap().expect("readers share it");
        assert!(store.reader_waiting());
        drop(first);
        assert!(store.reader_waiting(), "one still waits");
        drop(second);
        assert!(!store.reader_waiting());
    }
}
