//! The checkpoint write pipeline behind post-commit (docs/checkpoints.md),
//! in two halves so that the commit returns at once.
//!
//! prepare-commit-msg makes a checkpoint pending, keyed by the `git`
//! process that runs the commit ([`committing_git`]). post-commit runs
//! under that same process: it marks the checkpoints its own process made
//! pending as committed, with HEAD as it finds it, and starts the writer
//! unless one is running. No git process runs while the user waits.
//!
//! One writer per repository at a time (a lock held while it writes)
//! drains every checkpoint that waits, and looks again after letting the
//! lock go, so that a post-commit that found it running (and left its
//! checkpoint to it) never waits for a later writer. It finds each
//! checkpoint's commit in the objects: the commit whose message carries
//! the trailer, HEAD or a few commits below it, never a file a later
//! commit may have rewritten. It records the checkpoint in the session,
//! writes it to the branch and removes the pending file, in that order, so
//! that a writer killed at any point loses nothing.
//!
//! Whatever reads checkpoints, or sessions' lists of them, first calls
//! [`complete`], which waits for a running writer while it makes progress
//! (the writer, at the lowest priority, hands the rest over to it) and
//! writes what is left, including checkpoints whose post-commit never ran
//! (killed): the worktree's reflog shows whether their git made the commit.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::unistd::{ForkResult, dup2_stderr, dup2_stdin, dup2_stdout, fork, setsid};

use super::Attribution;
use crate::checkpoint;
use crate::error::{Error, Result, warn};
use crate::git::trailers::{self, CHECKPOINT_KEY};
use crate::git::{CommitId, Repo};
use crate::process::{ProcId, ProcessTable, System};
use crate::session::{CheckpointId, Committed, Pending, Store};
use crate::settings::Settings;

/// How far below the HEAD post-commit saw the writer looks for the commit:
/// commits made in the same worktree between the commit and its
/// post-commit (agents sharing one worktree) come first.
const NEAR_HEAD: usize = 64;

/// How many entries of a worktree's HEAD reflog are searched for a commit
/// whose post-commit never ran.
const REFLOG_DEPTH: usize = 256;

/// Temp files and dirs a killed writer left behind, once this old.
const ORPHAN_AGE: Duration = Duration::from_secs(600);

/// The `git` process running this hook: the nearest ancestor named `git`
/// (a hook may run under a shell), else the parent. prepare-commit-msg and
/// post-commit of one commit find the same one.
pub fn committing_git() -> Option<ProcId> {
    let mut git = None;
    let ancestors = crate::process::own_ancestors_until(3, |p| {
        git = git.or((System.name(p.pid).as_deref() == Some("git")).then_some(p));
        git.is_some()
    });
    git.or(ancestors.first().copied())
}

/// The hook: marks the checkpoints this commit's `git` process made pending
/// as committed, then starts the writer unless one is running (which then
/// writes them before it stops).
pub fn hand_off(repo: &Repo) -> Result<()> {
    let store = Store::new(repo.store_dir());
    if !store.has_pending() {
        return Ok(()); // nothing waits: a commit outside any session
    }
    let Some(git) = committing_git() else { return Ok(()) };
    let mine: Vec<Pending> =
        store.list_pending().into_iter().filter(|p| p.git == Some(git) && p.committed.is_none()).collect();
    let Some(commit) = repo.head().filter(|_| !mine.is_empty()) else { return Ok(()) };
    let committed = Committed { commit, branch: repo.branch() };
    for pending in &mine {
        store.commit_pending(&pending.checkpoint_id, &committed)?;
    }
    start_writer(repo, &store);
    Ok(())
}

/// The detached writer's whole life at most, in seconds.
const WRITER_DEADLINE_SECS: u32 = 120;

/// Forks the writer off, holding the writer lock, unless another process
/// holds it: that one looks for new work before it stops. A fork returns
/// at once, where starting a program would wait for its exec. The child is
/// a session of its own (the terminal's signals are not for it), runs at
/// the lowest priority (the rest of the commit and the user's next command
/// come first), and has its stdio on /dev/null (whoever reads git's output
/// does not wait for it). When it cannot be forked, the caller (a commit,
/// a reader) waits for the write.
fn start_writer(repo: &Repo, store: &Store) {
    let lock = match store.lock_writer() {
        Ok(Some(lock)) => lock,
        Ok(None) => return,
        Err(err) => return warn(err),
    };
    let Ok(null) = File::options().read(true).write(true).open("/dev/null") else {
        return drain(repo, store, lock, Writer::Reader).into_iter().for_each(warn);
    };
    // SAFETY: entire starts no thread (hooks and commands alike), so the
    // child finds the heap and every lock as the parent left them; it leaves by `_exit`,
    // running none of the parent's exit handlers.
    match unsafe { fork() } {
        // The child shares the lock's open file: the lock stays held.
        Ok(ForkResult::Parent { .. }) => drop(lock),
        Ok(ForkResult::Child) => {
            let _ = setsid();
            let _ = (dup2_stdin(&null), dup2_stdout(&null), dup2_stderr(&null));
            // SAFETY: nice(2) only lowers this process's priority.
            unsafe { libc::nice(19) };
            // Nobody waits for this process, so nothing would notice it
            // hang: SIGALRM ends it after a deadline, its locks go with it,
            // and what it did not write stays pending for the next writer.
            nix::unistd::alarm::set(WRITER_DEADLINE_SECS);
            crate::fsutil::set_lock_patience(crate::fsutil::DEFAULT_LOCK_PATIENCE);
            let _ = drain(repo, store, lock, Writer::Detached);
            // SAFETY: ends this process, whose work is done, without unwinding.
            unsafe { libc::_exit(0) }
        }
        Err(_) => drain(repo, store, lock, Writer::Reader).into_iter().for_each(warn),
    }
}

/// Who writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// The detached writer, at the lowest priority: leaves what is left to
    /// a reader that waits, and, with the branch just moved, refills the
    /// pool of checked checkpoint IDs off the commit's path.
    Detached,
    /// A reader, at its own priority: writes what waits, and leaves what
    /// came meanwhile to a detached writer.
    Reader,
}

/// What readers call first: waits for a running writer, then writes every
/// checkpoint whose commit was made. A failure is a warning; its
/// checkpoint stays pending and the next writer or reader tries again.
pub fn complete(repo: &Repo) {
    let store = Store::new(repo.store_dir());
    if !store.has_pending() {
        return;
    }
    match wait_for_writer(&store) {
        Ok(lock) => drain(repo, &store, lock, Writer::Reader).into_iter().for_each(warn),
        Err(err) => warn(err),
    }
}

/// Takes the writer lock, waiting for its holder as long as it makes
/// progress: gives up only after the lock patience passes with no pending
/// checkpoint written. Meanwhile it tells the writer that a reader waits,
/// and the detached writer, which runs at the lowest priority, stops
/// before its next checkpoint and leaves the rest to this reader, which
/// writes at its own.
fn wait_for_writer(store: &Store) -> Result<File> {
    if let Some(lock) = store.lock_writer()? {
        return Ok(lock);
    }
    let patience = crate::fsutil::lock_patience();
    let mut announced = None;
    let mut seen = store.pending_names();
    let mut progress_at = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if announced.is_none() {
            announced = store.announce_reader()?;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
        if let Some(lock) = store.lock_writer()? {
            return Ok(lock);
        }
        let now = store.pending_names();
        if seen.iter().any(|name| !now.contains(name)) {
            progress_at = Instant::now();
        } else if progress_at.elapsed() >= patience {
            return Err(Error::internal(format!(
                "another process holds {} and wrote no checkpoint meanwhile; gave up after {} ms \
                 without progress (what it has not written stays pending)",
                store.dir().join("writer.lock").display(),
                patience.as_millis()
            )));
        }
        seen = now;
    }
}

/// Writes, oldest first, every pending checkpoint whose commit was made,
/// holding `lock`; returns the failures. Each checkpoint is tried once per
/// drain. Before it stops, it looks again: a post-commit that found the
/// lock held left its checkpoint to whoever holds it.
fn drain(repo: &Repo, store: &Store, lock: File, writer: Writer) -> Vec<Error> {
    let batch =
        match Settings::for_repo(repo).and_then(|settings| checkpoint::Batch::for_writer(repo, &settings)) {
            Ok(batch) => batch,
            Err(err) => return vec![err],
        };
    sweep_orphans(repo, store, false);
    let mut tried = HashSet::new();
    let mut failures = Vec::new();
    let mut lock = lock;
    loop {
        let mut wrote = false;
        let mut found = Vec::new();
        let mut reader_waits = false;
        for pending in store.list_pending() {
            // A commit under way: its post-commit hands it over.
            if pending.committed.is_none() && git_alive(&pending) {
                continue;
            }
            // Its git is gone: read the file again, for the commit line its
            // post-commit wrote after this listing and before git exited.
            let pending = match pending.committed {
                Some(_) => pending,
                None => match store.pending(&pending.checkpoint_id) {
                    Ok(Some(again)) => again,
                    _ => continue,
                },
            };
            if tried.contains(&pending.checkpoint_id) {
                continue;
            }
            // A reader waits: it writes the rest at its own priority.
            if writer == Writer::Detached && store.reader_waiting() {
                reader_waits = true;
                break;
            }
            tried.insert(pending.checkpoint_id.clone());
            let id = pending.checkpoint_id.clone();
            match attribution(repo, pending, &batch) {
                Ok(Some(attribution)) => found.push(attribution),
                Ok(None) => {}
                Err(err) => failures.push(err.context(format_args!("writing checkpoint {id}"))),
            }
            if found.len() >= BATCH_CHECKPOINTS {
                wrote |= write_all(repo, store, std::mem::take(&mut found), &batch, &mut failures);
            }
        }
        wrote |= write_all(repo, store, found, &batch, &mut failures);
        if reader_waits {
            return failures;
        }
        if wrote && writer == Writer::Detached {
            // Before the lock goes: a reader waiting for it finds the pool
            // filled. Without one, the next commit checks an ID itself.
            let _ = checkpoint::refill_ids_with(repo, batch.objects());
        }
        if wrote {
            let _ = batch.objects().fold_packs();
        }
        drop(lock);
        let more =
            store.list_pending().iter().any(|p| p.committed.is_some() && !tried.contains(&p.checkpoint_id));
        if writer == Writer::Reader {
            // A reader has its answer: it leaves them to a writer of their
            // own rather than keep its caller waiting for later commits.
            if more {
                start_writer(repo, store);
            }
            return failures;
        }
        match store.lock_writer() {
            Ok(Some(again)) if more => lock = again,
            _ => return failures,
        }
    }
}

/// How many checkpoints go onto the branch in one move of the ref, at
/// most: a reader that waits for the detached writer waits for as many
/// before it gets the lock.
const BATCH_CHECKPOINTS: usize = 16;

/// Records `found` in their sessions, writes them to the branch as one
/// move of the ref, and removes the pending files of those written.
/// Whether any was written.
fn write_all(
    repo: &Repo,
    store: &Store,
    found: Vec<checkpoint::Attribution>,
    batch: &checkpoint::Batch,
    failures: &mut Vec<Error>,
) -> bool {
    let mut wrote = false;
    for (id, result) in checkpoint::record_all(repo, store, found, batch) {
        match result {
            Ok(()) => {
                store.remove_pending(&id);
                wrote = true;
            }
            Err(err) => failures.push(err.context(format_args!("writing checkpoint {id}"))),
        }
    }
    wrote
}

/// Whether the `git` process that made a checkpoint pending still runs.
fn git_alive(pending: &Pending) -> bool {
    pending.git.is_some_and(|git| System.alive_as_recorded(git))
}

/// What to record of a pending checkpoint whose commit can be found; None
/// when its commit was never made.
fn attribution(
    repo: &Repo,
    pending: Pending,
    batch: &checkpoint::Batch,
) -> Result<Option<checkpoint::Attribution>> {
    let Some((commit, branch)) = locate(repo, batch, &pending)? else { return Ok(None) };
    Ok(Some(Attribution {
        checkpoint_id: pending.checkpoint_id,
        commit: commit.id,
        session_id: pending.session_id,
        resolved_by: pending.resolved_by,
        resolution: pending.resolution,
        created_at: pending.created_at,
        branch,
        files_changed: commit.files,
        extra: Default::default(),
    }))
}

/// The commit a pending checkpoint belongs to, and its branch. With
/// post-commit's HEAD: that commit, or the nearest below it that carries
/// the trailer (other commits of the worktree may have come in between).
/// Without (post-commit never ran): the oldest commit carrying it in the
/// worktree's HEAD reflog; None when there is none, the commit was never
/// made.
fn locate(
    repo: &Repo,
    batch: &checkpoint::Batch,
    pending: &Pending,
) -> Result<Option<(Commit, Option<String>)>> {
    let id = &pending.checkpoint_id;
    let git_dir = pending.git_dir.as_deref();
    let Some(committed) = &pending.committed else {
        let Some(sha) = commit_carrying(repo, git_dir, id)? else { return Ok(None) };
        let branch = git_dir.map_or_else(|| repo.branch(), branch_of);
        return Ok(Some((Commit::read(repo, batch, &sha)?, branch)));
    };
    let head = Commit::read(repo, batch, &committed.commit)?;
    if carries(&head.message, id) {
        return Ok(Some((head, committed.branch.clone())));
    }
    let below = search(repo, None, &["-n", &NEAR_HEAD.to_string(), committed.commit.as_str()], id)?;
    let found = match below {
        Some(sha) => Some(sha),
        None => commit_carrying(repo, git_dir, id)?,
    };
    match found {
        Some(sha) => Ok(Some((Commit::read(repo, batch, &sha)?, committed.branch.clone()))),
        None => Err(Error::internal(format!("no commit near {} carries its trailer", committed.commit))),
    }
}

/// The oldest commit whose message carries the checkpoint's trailer in
/// the HEAD reflog of the worktree whose git dir is `git_dir` (this one's
/// when absent), or, without a reflog, in HEAD's recent history.
pub fn commit_carrying(repo: &Repo, git_dir: Option<&Path>, id: &CheckpointId) -> Result<Option<CommitId>> {
    let git_dir = git_dir.filter(|dir| dir.join("HEAD").is_file());
    let reflog = search(repo, git_dir, &["-g", "-n", &REFLOG_DEPTH.to_string(), "HEAD"], id)?;
    match reflog {
        Some(sha) => Ok(Some(sha)),
        None => search(repo, git_dir, &["-n", &NEAR_HEAD.to_string(), "HEAD"], id),
    }
}

/// The oldest commit listed by `git log <args>` whose message carries the
/// checkpoint's trailer.
fn search(repo: &Repo, git_dir: Option<&Path>, args: &[&str], id: &CheckpointId) -> Result<Option<CommitId>> {
    let mut cmd = repo.git();
    if let Some(git_dir) = git_dir {
        cmd.env("GIT_DIR", git_dir);
    }
    cmd.args(["log", "--encoding=UTF-8", "--format=%H%x1f%B%x1e"]).args(args).arg("--");
    // An unborn HEAD or a missing reflog is no commit, not a failure.
    let Ok(out) = crate::git::checked(&mut cmd) else { return Ok(None) };
    let text = String::from_utf8_lossy(&out);
    Ok(text
        .split('\x1e')
        .filter_map(|entry| entry.trim_start_matches('\n').split_once('\x1f'))
        .rev()
        .filter(|(_, message)| carries(message, id))
        .find_map(|(sha, _)| CommitId::parse(sha)))
}

/// Whether a commit message names the checkpoint on a trailer line of its
/// own, in any paragraph.
pub fn carries(message: &str, id: &CheckpointId) -> bool {
    trailers::every_value(message, CHECKPOINT_KEY, None).iter().any(|value| id == value.as_str())
}

/// The branch a worktree's HEAD is on, from its git dir.
fn branch_of(git_dir: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    head.trim().strip_prefix("ref: refs/heads/").map(str::to_owned)
}

/// Pending checkpoints whose commit was never made: their `git` is gone
/// and no commit carries their trailer (an aborted commit, a message a
/// commit-msg hook rejected). What `doctor --fix` and `clean` remove.
pub fn abandoned(repo: &Repo) -> Result<Vec<Pending>> {
    let store = Store::new(repo.store_dir());
    let mut found = Vec::new();
    for pending in store.list_pending() {
        if pending.committed.is_some() || git_alive(&pending) {
            continue;
        }
        if commit_carrying(repo, pending.git_dir.as_deref(), &pending.checkpoint_id)?.is_none() {
            found.push(pending);
        }
    }
    Ok(found)
}

/// Commits among HEAD's last `depth` whose trailer names a checkpoint that
/// is neither on the branch nor pending: lost, or never fetched.
pub fn unwritten_trailers(repo: &Repo, depth: usize) -> Result<Vec<(CommitId, CheckpointId)>> {
    if repo.head().is_none() {
        return Ok(Vec::new());
    }
    let store = Store::new(repo.store_dir());
    let out = repo.git_output([
        "log",
        "--encoding=UTF-8",
        "-n",
        &depth.to_string(),
        "--format=%H%x1f%B%x1e",
        "HEAD",
        "--",
    ])?;
    let text = String::from_utf8_lossy(&out);
    let mut reader = checkpoint::Reader::open(repo)?;
    let mut missing = Vec::new();
    for (sha, message) in text.split('\x1e').filter_map(|e| e.trim_start_matches('\n').split_once('\x1f')) {
        let Some(sha) = CommitId::parse(sha) else { continue };
        for id in
            trailers::every_value(message, CHECKPOINT_KEY, None).iter().filter_map(|v| CheckpointId::parse(v))
        {
            let on_branch = match &mut reader {
                Some(reader) => reader.contains(&id)?,
                None => false,
            };
            if !on_branch && !store.is_pending(&id) {
                missing.push((sha.clone(), id));
            }
        }
    }
    Ok(missing)
}

/// Removes what a killed writer left: the temp dirs of its blobs in the
/// git common dir, and the temp files of interrupted pending writes (with
/// `records`, of session records too: a directory as large as the number
/// of sessions, which only `doctor --fix` reads). Old ones only: a live
/// writer of post-hoc links makes them too, for milliseconds.
pub fn sweep_orphans(repo: &Repo, store: &Store, records: bool) -> usize {
    let old = |path: &Path| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| SystemTime::now().duration_since(t).is_ok_and(|age| age >= ORPHAN_AGE))
    };
    let mut removed = 0;
    let mut places: Vec<(PathBuf, &str)> =
        vec![(repo.common_dir.clone(), "entire-checkpoint-"), (store.dir().join("pending"), ".tmp-")];
    if records {
        places.push((store.dir().to_path_buf(), ".tmp-"));
    }
    for (dir, prefix) in places {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let ours = entry.file_name().to_str().is_some_and(|name| name.starts_with(prefix));
            if !ours || !old(&path) {
                continue;
            }
            let gone = match entry.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
            removed += usize::from(gone.is_ok());
        }
    }
    removed
}

struct Commit {
    id: CommitId,
    message: String,
    /// The paths it changed, as they are named (no quoting).
    files: Vec<String>,
}

impl Commit {
    /// Message and changed paths: read in process, or in one git call for
    /// a message in another encoding, which git converts.
    fn read(repo: &Repo, batch: &checkpoint::Batch, sha: &CommitId) -> Result<Commit> {
        if let Some((message, files)) = batch.objects().commit_summary(sha.as_str())? {
            return Ok(Commit { id: sha.clone(), message, files });
        }
        let out = repo.git_output([
            "log",
            "-1",
            "-z",
            "--encoding=UTF-8",
            "--no-renames",
            // A merge's changes against its first parent.
            "-m",
            "--first-parent",
            "--format=%B",
            "--name-only",
            sha.as_str(),
            "--",
        ])?;
        let text = String::from_utf8_lossy(&out);
        let (message, files) = text.split_once('\0').unwrap_or((&text, ""));
        let files = files.strip_prefix('\n').unwrap_or(files);
        Ok(Commit {
            id: sha.clone(),
            message: message.to_owned(),
            files: files.split('\0').filter(|f| !f.is_empty()).map(str::to_owned).collect(),
        })
    }
}
