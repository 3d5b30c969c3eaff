//! `entire run [--agent NAME] [--] CMD [ARGS…]` (docs/spec.md §4).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::agents;
use crate::checkpoint;
use crate::cli::RunArgs;
use crate::error::{Error, Result, warn};
use crate::fsutil::is_executable;
use crate::git::Repo;
use crate::process::{ProcessTable, System};
use crate::session::{
    self, LiveEntry, LiveRegistry, SESSION_ENV, SessionId, SessionLock, SessionRecord, Source, Store,
};
use crate::settings::Settings;
use crate::supervise::{self, Supervisor};

pub fn run(args: RunArgs) -> Result<i32> {
    let (program, _) = args.command.split_first().expect("clap requires CMD");
    let path = find_program(program)?;
    let agent = args.agent.unwrap_or_else(|| agents::session_name(program));

    let mut supervisor =
        Supervisor::new().map_err(|e| Error::internal(format!("installing signal handlers: {e}")))?;
    let mut launch = Launch::begin(agent, &args.command);
    let id = launch.as_ref().map(|l| l.record.session_id.clone());
    let env: Vec<(&str, &str)> = id.iter().map(|id| (SESSION_ENV, id.as_str())).collect();
    let code = |e: &std::io::Error| if e.kind() == std::io::ErrorKind::PermissionDenied { 126 } else { 127 };
    let cannot_run = |e: std::io::Error| {
        Error::internal(format!("cannot run {}: {e}", program.to_string_lossy())).with_code(code(&e))
    };
    let held = supervisor.fork_held(&path, &args.command, &env).map_err(cannot_run)?;
    // Everything a hook of the agent reads is in place before its exec.
    if let Some(launch) = &mut launch {
        launch.start(held.pid());
    }
    let agent = held.release();
    if let Some(launch) = &mut launch {
        launch.agent_running();
    }
    let exit =
        supervisor.wait(agent.pid).map_err(|e| Error::internal(format!("waiting for the agent: {e}")))?;
    if let Some(err) = agent.exec_error() {
        if let Some(launch) = launch {
            launch.finish(supervise::Exit::Code(code(&err)));
        }
        return Err(cannot_run(err));
    }
    if let Some(launch) = launch {
        launch.finish(exit);
    }
    if let Some(file) = &args.status_file {
        let status = match exit {
            supervise::Exit::Code(code) => code,
            supervise::Exit::Signal(sig) => 128 + sig,
        };
        if let Err(err) = std::fs::write(file, format!("{status}\n")) {
            warn(format_args!("writing the exit status to {}: {err}", file.display()));
        }
    }
    supervise::exit_like(exit)
}

/// Finds CMD as a shell would: 127 when it is nowhere, 126 when only a
/// non-executable file of that name exists.
fn find_program(program: &OsStr) -> Result<PathBuf> {
    let name = program.to_string_lossy();
    let not_found = || Error::user(format!("command not found: {name}")).with_code(127);
    let not_executable = |p: &Path| Error::user(format!("permission denied: {}", p.display())).with_code(126);

    if name.contains('/') {
        let path = PathBuf::from(program);
        return match path.exists() {
            false => Err(not_found()),
            true if is_executable(&path) => Ok(path),
            true => Err(not_executable(&path)),
        };
    }
    if let Ok(path) = which::which(program) {
        return Ok(path);
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    match std::env::split_paths(&search).map(|dir| dir.join(program)).find(|p| p.exists()) {
        Some(path) => Err(not_executable(&path)),
        None => Err(not_found()),
    }
}

/// The session being recorded. Every failure here is entire's own and
/// never stops the agent: it is reported once and the agent runs anyway.
struct Launch {
    record: SessionRecord,
    registry: Option<LiveRegistry>,
    /// The repository, when entire is enabled in it, and its store.
    repo: Option<Repo>,
    store: Option<Store>,
    /// The live entries, locked until the launcher exits: hooks in other
    /// PID namespaces probe them to tell that the session is live.
    locks: Vec<std::fs::File>,
    /// The record's lock file, opened while the agent runs so that the
    /// session's end creates no file.
    end_lock: Option<SessionLock>,
    /// The record as created, open until the end: if no hook replaced it
    /// meanwhile, the end need not read it back.
    created: Option<std::fs::File>,
    /// Where HEAD's reflog ended when the session started.
    reflog_at_start: u64,
    warned: bool,
}

impl Launch {
    fn begin(agent: String, argv: &[OsString]) -> Option<Launch> {
        let id = session::new_session_id();
        let me = System.own_stat();
        let cwd = std::env::current_dir().ok();
        let registry = LiveRegistry::from_env();
        let parent = std::env::var(SESSION_ENV).ok().and_then(|raw| live_parent(registry.as_ref(), &raw));

        let repo = cwd.as_deref().and_then(|cwd| Repo::discover(cwd).ok().flatten());
        let settings = repo.as_ref().and_then(|r| Settings::for_repo(r).ok()).filter(|s| s.enabled);
        let enabled_repo = repo.clone().filter(|_| settings.is_some());
        if let (Some(repo), Some(settings)) = (&enabled_repo, &settings) {
            check_hooks(repo, settings.hooks_repair);
        }
        let store = enabled_repo.as_ref().map(|r| Store::new(r.store_dir()));

        let now = Utc::now();
        let record = SessionRecord {
            parent_session_id: parent,
            agent: Some(agent),
            command: Some(argv.iter().map(|a| a.to_string_lossy().into_owned()).collect()),
            cwd: cwd.map(|c| c.to_string_lossy().into_owned()),
            worktree_path: repo.as_ref().map(Repo::worktree_str),
            base_commit: repo.as_ref().and_then(Repo::head).map(String::from),
            started_at: Some(now),
            last_interaction_time: Some(now),
            launcher_pid: me.map(|p| p.pid),
            launcher_start_time: me.map(|p| p.start_time),
            pid_namespace: System.pid_namespace(),
            terminal: me.map(|p| p.tty).filter(|&t| t != 0),
            source: Some(Source::Launcher),
            ..SessionRecord::new(id)
        };
        let reflog_at_start = enabled_repo.as_ref().map_or(0, crate::git::reflog::end);
        let mut launch = Launch {
            record,
            registry,
            repo: enabled_repo,
            store,
            locks: Vec::new(),
            end_lock: None,
            created: None,
            reflog_at_start,
            warned: false,
        };
        if launch.registry.is_none() {
            launch.warn("no state directory (set ENTIRE_STATE_DIR or HOME); the session is not recorded; running the agent anyway");
            return None;
        }
        Some(launch)
    }

    /// Records the session with its agent, forked and not yet exec'd as
    /// `pid`: the one write of the session before the agent runs.
    fn start(&mut self, pid: i32) {
        self.record.agent_pid = Some(pid);
        self.record.agent_start_time = System.start_time(pid);
        self.save();
    }

    /// While the agent runs: what the end would otherwise create first.
    fn agent_running(&mut self) {
        let id = &self.record.session_id;
        self.end_lock = self.store.as_ref().and_then(|s| match self.created {
            Some(_) => s.session_lock_sharing_record(id).ok(),
            None => s.session_lock(id).ok(),
        });
    }

    fn finish(mut self, exit: supervise::Exit) {
        let store = self.store.as_ref();
        let mut kept =
            store.zip(self.created.as_ref()).map(|(s, file)| s.kept_as_created(file, &self.record));
        self.record.ended_at = Some(Utc::now());
        match exit {
            supervise::Exit::Code(code) => self.record.exit_code = Some(code),
            supervise::Exit::Signal(sig) => self.record.exit_signal = Some(sig),
        }
        if let Some(store) = &self.store {
            let id = self.record.session_id.clone();
            let (ended_at, exit_code, exit_signal) =
                (self.record.ended_at, self.record.exit_code, self.record.exit_signal);
            // Hooks may have added checkpoints and prompts meanwhile: merge
            // into the stored record rather than overwrite it.
            let lock = match self.end_lock.take() {
                Some(lock) => Ok(lock),
                None => store.session_lock(&id),
            };
            let result = lock.and_then(|lock| {
                store.modify_with(lock, &id, kept.as_mut(), |current| {
                    let mut rec = current.unwrap_or_else(|| self.record.clone());
                    rec.ended_at = ended_at;
                    rec.exit_code = exit_code;
                    rec.exit_signal = exit_signal;
                    Some(rec)
                })
            });
            if let Err(err) = result {
                self.warn(&format!("could not record the end of the session: {err:#}"));
            }
        }
        if let Some(store) = &self.store {
            LiveRegistry::repo_index(store).remove(&self.record.session_id);
        }
        if let Some(registry) = &self.registry {
            registry.remove(&self.record.session_id);
        }
        if let Some(repo) = &self.repo {
            // The session is ended: only waiting is left, and Ctrl-C or a
            // SIGTERM may cut it short (what is not written stays pending).
            supervise::default_interrupts();
            // When `entire run` returns, the session's checkpoints are written.
            checkpoint::pending::complete(repo);
            report_untagged(repo, self.reflog_at_start);
        }
    }

    /// Writes the record (when entire is enabled here) first, then the live
    /// entries that point to it (the repository's index, the registry),
    /// each locked for the launcher's lifetime: a launcher killed in
    /// between leaves no entry ahead of its record. The ID is fresh (no
    /// hook can know it before the agent runs), so nothing to merge and no
    /// lock to take.
    fn save(&mut self) {
        let created = self.store.as_ref().map(|s| s.create(&self.record)).transpose();
        let mut result = created.map(|file| self.created = file);
        let entry = LiveEntry {
            store: self.store.as_ref().map(|s| s.dir().to_path_buf()),
            session: self.record.clone(),
        };
        // The repository's own index of its live sessions: hooks find the
        // session there whatever their environment says (docs/design.md).
        let index = self.store.as_ref().map(LiveRegistry::repo_index);
        match serde_json::to_vec(&entry) {
            Ok(json) => {
                for registry in [index.as_ref(), self.registry.as_ref()].into_iter().flatten() {
                    match registry.publish(&self.record.session_id, &json) {
                        Ok(lock) => self.locks.push(lock),
                        Err(err) => result = result.and(Err(err)),
                    }
                }
            }
            Err(err) => result = result.and(Err(err.into())),
        }
        if let Err(err) = result {
            self.warn(&format!("could not record the session: {err:#}; running the agent anyway"));
        }
    }

    /// Warns once per session: a store that failed at the start fails at
    /// the end for the same reason.
    fn warn(&mut self, message: &str) {
        if !self.warned {
            warn(message);
            self.warned = true;
        }
    }
}

/// Git will run entire's hooks in this worktree, or one line says why not
/// and what fixes it (docs/hooks.md).
fn check_hooks(repo: &Repo, repair: bool) {
    match crate::hookdir::before_session(repo, repair) {
        Ok(None) => {}
        Ok(Some(line)) => warn(line),
        Err(err) => warn(format_args!("could not check entire's git hooks: {err:#}")),
    }
}

/// Commits the worktree gained during the session without a checkpoint:
/// one line, so that a session whose hooks did not run is never silent.
fn report_untagged(repo: &Repo, reflog_at_start: u64) {
    let commits = crate::git::reflog::commits_since(repo, reflog_at_start);
    if commits.is_empty() {
        return;
    }
    // In process: a `git log` would cost more than the launcher's start.
    let Ok(objects) = checkpoint::Objects::open(repo) else { return };
    let untagged =
        crate::git::reflog::without_checkpoint(&commits, |sha| objects.message(sha).ok().flatten());
    if untagged.is_empty() {
        return;
    }
    let shown: Vec<&str> = untagged.iter().take(5).map(|sha| &sha[..sha.len().min(7)]).collect();
    let more = if untagged.len() > shown.len() { ", …" } else { "" };
    warn(format_args!(
        "{} commit(s) made in {} during this session have no checkpoint ({}{more}): entire's hooks did not \
         run or found no owner (run: entire doctor)",
        untagged.len(),
        repo.worktree.display(),
        shown.join(", ")
    ));
}

/// The parent session, when we run inside a live one.
fn live_parent(registry: Option<&LiveRegistry>, raw: &str) -> Option<SessionId> {
    let id = SessionId::parse(raw)?;
    let entry = registry?.get(&id).ok()??;
    entry.session.is_live(&System).then_some(id)
}
