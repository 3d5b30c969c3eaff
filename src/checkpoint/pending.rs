//! The checkpoint write pipeline behind post-commit (docs/spec.md §6), in two
//! halves so that the commit returns at once.
//!
//! The hook itself only hands each checkpoint the commit made pending over
//! to a writer: it writes the commit's SHA into the pending file and forks
//! a detached writer. No git process runs while the user waits. The writer
//! checks the commit against git, records the checkpoint in the session and
//! writes it to the branch (in process, `checkpoint::objects`), refills the
//! pool of checked checkpoint IDs (see `checkpoint::id`), and removes the pending
//! file.
//!
//! Whatever reads checkpoints, or sessions' lists of them, first calls
//! [`complete`], which writes every handed-off checkpoint that is not
//! written yet and waits for those a writer holds. Each checkpoint is
//! written under a lock on its pending file, by one process, once.

use std::fs::File;

use nix::unistd::{ForkResult, dup2_stderr, dup2_stdin, dup2_stdout, fork, setsid};

use super::Attribution;
use crate::checkpoint;
use crate::error::{Error, Result, warn};
use crate::git::Repo;
use crate::git::trailers::{self, CHECKPOINT_KEY};
use crate::session::{CheckpointId, Committed, Pending, Store};
use crate::settings::Settings;

/// The hook: hands the checkpoints named in the commit's message over to a
/// detached writer.
///
/// The message is read from `COMMIT_EDITMSG`, the file `git commit` hands
/// to prepare-commit-msg (where the trailer was added) and reads the
/// message back from; HEAD and its branch are read from files. Other
/// commands that run post-commit (cherry-pick, rebase…) may leave an older
/// message there: the writer compares every checkpoint with the trailers
/// git committed, and gives back the ones that are not there.
pub fn hand_off(repo: &Repo) -> Result<()> {
    let store = Store::new(repo.store_dir());
    if !store.has_pending() {
        return Ok(()); // nothing waits: a commit outside any session
    }
    let Some(commit) = repo.head() else { return Ok(()) };
    let Some(message) = crate::fsutil::read_optional(&repo.git_dir.join("COMMIT_EDITMSG"))? else {
        return Ok(());
    };
    let mut handed = false;
    for checkpoint_id in mentioned(&String::from_utf8_lossy(&message)) {
        let Some(pending) = store.pending(&checkpoint_id)? else { continue };
        if pending.committed.is_some() {
            continue; // an amended commit keeps the trailer of the first one
        }
        store.commit_pending(&checkpoint_id, &Committed { commit: commit.clone(), branch: repo.branch() })?;
        handed = true;
    }
    if handed {
        detach_writer(repo);
    }
    Ok(())
}

/// Checkpoint IDs on the lines of a message that look like our trailer.
/// Loose on purpose (any line, any case of the key): the writer holds each
/// against the trailers git committed.
fn mentioned(message: &str) -> Vec<CheckpointId> {
    message
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(CHECKPOINT_KEY).then(|| CheckpointId::parse(value.trim()))?
        })
        .collect()
}

/// Forks the writer off, not waited for: a fork returns at once, where
/// starting a program would wait for its exec. The child is a session of
/// its own (the terminal's signals are not for it), runs at the lowest
/// priority (the rest of the commit and the user's next command come
/// first), and has its stdio on /dev/null (whoever reads git's output does
/// not wait for it). Its failures stay pending for the next writer or
/// reader. When it cannot be forked, the commit waits for the write.
fn detach_writer(repo: &Repo) {
    let Ok(null) = File::options().read(true).write(true).open("/dev/null") else {
        return complete(repo);
    };
    // SAFETY: a hook process has a single thread, so the child finds the
    // heap and every lock as the parent left them; it leaves by `_exit`,
    // running none of the parent's exit handlers.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => {}
        Ok(ForkResult::Child) => {
            let _ = setsid();
            let _ = (dup2_stdin(&null), dup2_stdout(&null), dup2_stderr(&null));
            // SAFETY: nice(2) only lowers this process's priority.
            unsafe { libc::nice(19) };
            let _ = write_all(repo, Writer::Detached);
            // SAFETY: ends this process, whose work is done, without unwinding.
            unsafe { libc::_exit(0) }
        }
        Err(_) => complete(repo),
    }
}

/// Who writes handed-off checkpoints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// The detached writer: skips a checkpoint another process is writing,
    /// and after each write, with the branch just moved, refills the pool of
    /// checked checkpoint IDs off the commit's path.
    Detached,
    /// A reader: waits for every checkpoint to be written.
    Reader,
}

/// What readers call first: writes every handed-off checkpoint, waiting for
/// those another process is writing. A failure is a warning; its checkpoint
/// stays pending and the next writer or reader tries again.
pub fn complete(repo: &Repo) {
    write_all(repo, Writer::Reader).into_iter().for_each(warn);
}

/// Writes every handed-off checkpoint, oldest first; returns the failures.
fn write_all(repo: &Repo, writer: Writer) -> Vec<Error> {
    let store = Store::new(repo.store_dir());
    let mut handed: Vec<Pending> =
        store.list_pending().into_iter().filter(|p| p.committed.is_some()).collect();
    if handed.is_empty() {
        return Vec::new();
    }
    handed.sort_by(|a, b| (a.created_at, &a.checkpoint_id).cmp(&(b.created_at, &b.checkpoint_id)));
    let max_transcript_bytes = match Settings::for_repo(repo) {
        Ok(settings) => settings.transcript_max_bytes,
        Err(err) => return vec![err],
    };
    let mut failures = Vec::new();
    for id in handed.into_iter().map(|p| p.checkpoint_id) {
        let written = match store.lock_pending(&id, writer == Writer::Reader) {
            Ok(Some((_lock, pending))) => write_one(repo, &store, pending, max_transcript_bytes, writer),
            Ok(None) => Ok(()), // written, or being written by another process
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            failures.push(err.context(format_args!("writing checkpoint {id}")));
        }
    }
    failures
}

/// Writes one checkpoint whose pending file the caller holds locked: checks
/// its commit carries the trailer, adds it to the session's record, writes
/// it to the branch, and removes the pending file.
fn write_one(
    repo: &Repo,
    store: &Store,
    pending: Pending,
    max_transcript_bytes: u64,
    writer: Writer,
) -> Result<()> {
    let Some(committed) = pending.committed.clone() else { return Ok(()) };
    let commit = Commit::read(repo, &committed.commit)?;
    let checkpoint_id = pending.checkpoint_id.clone();
    if !trailers::values(&commit.message, CHECKPOINT_KEY).iter().any(|v| checkpoint_id == *v.as_str()) {
        // post-commit read a message that was not this commit's: give the
        // checkpoint back to wait for the commit that carries it.
        return store.put_pending(&Pending { committed: None, ..pending });
    }
    let attribution = Attribution {
        checkpoint_id: checkpoint_id.clone(),
        commit: committed.commit,
        session_id: pending.session_id,
        resolved_by: pending.resolved_by,
        resolution: pending.resolution,
        created_at: pending.created_at,
        branch: committed.branch,
        files_changed: commit.files,
        extra: Default::default(),
    };
    checkpoint::record(repo, store, attribution, max_transcript_bytes)?;
    if writer == Writer::Detached {
        // Before the pending file goes: whoever waits for that finds the
        // pool filled. Without one, the next commit checks an ID itself.
        let _ = checkpoint::refill_ids(repo);
    }
    store.remove_pending(&checkpoint_id);
    Ok(())
}

struct Commit {
    message: String,
    files: Vec<String>,
}

impl Commit {
    /// Message and changed paths, read in process.
    fn read(repo: &Repo, sha: &str) -> Result<Commit> {
        if !checkpoint::is_full_sha(sha) {
            return Err(Error::new(format!("not a full commit SHA: {sha:?}")));
        }
        let (message, files) = checkpoint::commit_summary(repo, sha)?;
        Ok(Commit { message, files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_trailer_shaped_lines_anywhere() {
        let message = "subject\n\nbody\n# Entire-Checkpoint: 00000000000a\n\
                       entire-checkpoint:00000000000b\nEntire-Checkpoint: not-an-id\n\
                       Other: 00000000000c\nEntire-Checkpoint: 00000000000d \n";
        let ids: Vec<String> = mentioned(message).into_iter().map(String::from).collect();
        assert_eq!(ids, ["00000000000b", "00000000000d"]);
    }
}
