//! `entire hooks git <hook> …`: prepare-commit-msg, commit-msg, post-commit
//! and pre-push (SPEC §6).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::checkpoint::{self, Metadata};
use crate::error::{Context, Error, Result, warn};
use crate::git::Repo;
use crate::git::trailers::{self, CHECKPOINT_KEY};
use crate::hooks::owner::OwnerLookup;
use crate::process::{ProcessTable, System};
use crate::session::{CheckpointRef, Pending, SessionId, Store};
use crate::settings::Settings;

/// Runs one git hook. Always exits 0: entire never blocks a commit.
pub fn run(hook: &str, args: &[OsString]) -> i32 {
    if let Err(err) = dispatch(hook, args) {
        warn(format_args!("{hook}: {err}"));
    }
    0
}

fn dispatch(hook: &str, args: &[OsString]) -> Result<()> {
    let cwd = std::env::current_dir().context("current directory")?;
    let Some(repo) = Repo::discover(&cwd)? else { return Ok(()) };
    let settings = Settings::for_repo(&repo)?;
    if !settings.enabled {
        return Ok(());
    }
    let arg = |i: usize| args.get(i).map(PathBuf::from);
    match hook {
        "prepare-commit-msg" => {
            let file = arg(0).ok_or_else(|| Error::new("missing message file argument"))?;
            let source = args.get(1).and_then(|s| s.to_str()).unwrap_or("");
            prepare_commit_msg(&repo, &settings, &cwd.join(file), source)
        }
        "commit-msg" => {
            let file = arg(0).ok_or_else(|| Error::new("missing message file argument"))?;
            commit_msg(&repo, &cwd.join(file))
        }
        "post-commit" => post_commit(&repo, &settings),
        "pre-push" => {
            let remote = args.first().and_then(|s| s.to_str()).unwrap_or("origin");
            crate::hooks::pre_push::run(&repo, remote, &mut std::io::stdin())
        }
        other => Err(Error::new(format!("unknown git hook {other:?}"))),
    }
}

fn prepare_commit_msg(repo: &Repo, settings: &Settings, file: &Path, source: &str) -> Result<()> {
    if matches!(source, "merge" | "squash") || repo.in_sequencer_operation() || replaying_commits() {
        return Ok(());
    }
    let message = read_message(file)?;
    let comment = trailers::comment_char(repo);
    if !trailers::values_with(&message, CHECKPOINT_KEY, &comment).is_empty() {
        return Ok(()); // amend, -c/-C and templates keep their trailer
    }
    let store = Store::new(repo.store_dir());
    let found = OwnerLookup::new(repo, &store).find(settings.recency, || staged_files(repo));
    let (Some(owner), Some(record)) = (&found.resolution.owner, found.owner) else { return Ok(()) };

    let checkpoint_id = checkpoint::new_id(repo)?;
    let tagged = trailers::insert(&message, CHECKPOINT_KEY, &checkpoint_id, &comment);
    store.put_pending(&Pending {
        checkpoint_id,
        session_id: record.session_id,
        resolved_by: owner.method.as_str().to_owned(),
        resolution: found.resolution.details(),
        created_at: Utc::now(),
    })?;
    std::fs::write(file, tagged).context(format_args!("writing {}", file.display()))
}

fn commit_msg(repo: &Repo, file: &Path) -> Result<()> {
    let message = read_message(file)?;
    let comment = trailers::comment_char(repo);
    if let Some(stripped) = trailers::strip_if_only(&message, CHECKPOINT_KEY, &comment) {
        std::fs::write(file, stripped).context(format_args!("writing {}", file.display()))?;
    }
    Ok(())
}

/// Ties each pending checkpoint named in HEAD's message to HEAD: in the
/// session record and on the checkpoints branch.
fn post_commit(repo: &Repo, settings: &Settings) -> Result<()> {
    let store = Store::new(repo.store_dir());
    if !store.has_pending() {
        return Ok(()); // no git call at all when nothing is waiting
    }
    let head = HeadCommit::read(repo)?;
    for checkpoint_id in trailers::values(&head.message, CHECKPOINT_KEY) {
        let Some(pending) = store.pending(&checkpoint_id)? else { continue };
        let Some(session_id) = SessionId::parse(&pending.session_id) else { continue };
        let reference = CheckpointRef {
            checkpoint_id: checkpoint_id.clone(),
            commit: head.sha.clone(),
            resolved_by: pending.resolved_by.clone(),
            created_at: pending.created_at,
        };
        let record = store
            .modify(&session_id, |current| {
                let mut record = current?;
                record.checkpoints.retain(|c| c.checkpoint_id != checkpoint_id);
                record.checkpoints.push(reference);
                Some(record)
            })?
            .ok_or_else(|| Error::new(format!("session {session_id} has no record")))?;
        let meta = Metadata {
            checkpoint_id: checkpoint_id.clone(),
            commit: head.sha.clone(),
            session_id: record.session_id.clone(),
            agent: record.agent.clone(),
            resolved_by: pending.resolved_by,
            resolution: pending.resolution,
            created_at: pending.created_at,
            branch: repo.branch(),
            files_changed: head.files.clone(),
            agent_session_id: record.agent_session_id.clone(),
            extra: Default::default(),
        };
        checkpoint::write(repo, &meta, &record, settings.transcript_max_bytes)
            .map_err(|e| e.context(format_args!("writing checkpoint {checkpoint_id}")))?;
        store.remove_pending(&checkpoint_id);
    }
    Ok(())
}

struct HeadCommit {
    sha: String,
    message: String,
    files: Vec<String>,
}

impl HeadCommit {
    /// SHA, message and changed paths in one git call.
    fn read(repo: &Repo) -> Result<HeadCommit> {
        let out =
            repo.git_output(["log", "-1", "--no-renames", "--format=%H%x00%B%x00", "--name-only", "HEAD"])?;
        let text = String::from_utf8_lossy(&out);
        let mut parts = text.splitn(3, '\0');
        let (Some(sha), Some(message)) = (parts.next(), parts.next()) else {
            return Err(Error::new("unexpected `git log` output for HEAD"));
        };
        let files = parts.next().unwrap_or("").lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
        Ok(HeadCommit { sha: sha.trim().to_owned(), message: message.to_owned(), files })
    }
}

/// A single cherry-pick or revert leaves no state file behind while it
/// commits, so look at the `git` process that runs this hook instead.
fn replaying_commits() -> bool {
    let ancestry = System.ancestry(std::process::id() as i32);
    ancestry.iter().take(3).filter_map(|p| System.cmdline(p.pid)).any(|argv| {
        let is_git = argv.first().is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "git"));
        is_git
            && git_subcommand(&argv[1..])
                .is_some_and(|c| matches!(c, "cherry-pick" | "revert" | "rebase" | "am"))
    })
}

/// The subcommand in git's argv, past global options (`-c k=v`, `-C dir`…).
fn git_subcommand(args: &[String]) -> Option<&str> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-c" | "-C" | "--git-dir" | "--work-tree" | "--namespace" | "--exec-path" => {
                iter.next();
            }
            a if a.starts_with('-') => {}
            a => return Some(a),
        }
    }
    None
}

fn read_message(file: &Path) -> Result<String> {
    let bytes = std::fs::read(file).context(format_args!("reading {}", file.display()))?;
    String::from_utf8(bytes).map_err(|_| Error::new("commit message is not UTF-8; left as it is"))
}

fn staged_files(repo: &Repo) -> Option<Vec<String>> {
    // The commit's own index (GIT_INDEX_FILE), not the default one.
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(&repo.worktree).args(["diff", "--cached", "--name-only", "--no-renames", "-z"]);
    let out = crate::git::checked(&mut cmd).ok()?;
    Some(
        out.split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}
