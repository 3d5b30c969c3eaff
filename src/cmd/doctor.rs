//! `entire doctor [--fix]`: finds what goes stale or breaks around entire,
//! and with `--fix` repairs what is safe to repair, saying what it did.
//!
//! Checked: sessions whose processes are gone but never marked ended;
//! live-registry entries left behind or without their repo record; git
//! hooks that are missing, not ours, or run a binary that is gone; agent
//! settings that lost entire's hooks or run a binary that is gone; a
//! checkpoints branch that does not parse; session files that do not parse.
//! Unparsable files, agent settings and the checkpoints branch are only
//! ever reported, never touched.

use std::fmt::Display;
use std::io::Write;

use chrono::Utc;

use crate::agents;
use crate::checkpoint;
use crate::cli::DoctorArgs;
use crate::error::{Error, Result};
use crate::git::{CHECKPOINTS_REF, Repo};
use crate::hookdir;
use crate::process::System;
use crate::session::{CheckpointId, LiveEntry, LiveRegistry, SessionId, Store};
use crate::settings::Settings;
use crate::style::printable;

pub fn run(args: DoctorArgs) -> Result<i32> {
    let mut report =
        Report { out: std::io::stdout().lock(), failed: None, fix: args.fix, found: 0, fixed: 0 };
    let repo = Repo::discover(&super::current_dir()?)?;
    if let Some(repo) = &repo {
        checkpoint::pending::complete(repo);
        let store = Store::new(repo.store_dir());
        sessions(&store, &mut report);
        live_index(&LiveRegistry::repo_index(&store), &mut report);
        match Settings::for_repo(repo) {
            Ok(settings) => {
                settings_files(repo, &settings, &mut report);
                if settings.enabled {
                    git_hooks(repo, &mut report)?;
                }
            }
            Err(err) => report.unfixable(format_args!("{err:#}"), "make the settings files readable"),
        }
        agent_settings(repo, &mut report);
        checkpoints_branch(repo, &mut report);
        legacy_branch(repo, &mut report);
        secrets_on_branch(repo, &mut report);
        pending_checkpoints(repo, &store, &mut report);
        remote_conflicts(repo, &mut report);
    }
    match LiveRegistry::from_env() {
        Some(registry) => live_registry(&registry, &mut report),
        None => report.unfixable("no state directory for the live registry", "set ENTIRE_STATE_DIR or HOME"),
    }
    report.finish()
}

/// Problems found, and what was done about them, printed as they come.
struct Report<W> {
    out: W,
    /// The first failed write (a closed pipe): reported by `finish`, while
    /// the checks and repairs under way run to the end.
    failed: Option<std::io::Error>,
    fix: bool,
    found: usize,
    fixed: usize,
}

impl<W: Write> Report<W> {
    fn line(&mut self, text: impl Display) {
        if self.failed.is_none()
            && let Err(err) = writeln!(self.out, "{text}")
        {
            self.failed = Some(err);
        }
    }

    /// A problem with a safe repair: run under `--fix`, offered otherwise.
    fn fixable(&mut self, problem: impl Display, repair: impl FnOnce() -> Result<String>) {
        self.found += 1;
        self.line(format_args!("problem: {problem}"));
        if !self.fix {
            self.line("  `entire doctor --fix` repairs this");
            return;
        }
        match repair() {
            Ok(done) => {
                self.fixed += 1;
                self.line(format_args!("  fixed: {done}"));
            }
            Err(err) => self.line(format_args!("  not fixed: {err:#}")),
        }
    }

    /// A problem nothing here may safely repair.
    fn unfixable(&mut self, problem: impl Display, hint: &str) {
        self.found += 1;
        // Store warnings say what a reader does with the file; here it is the problem.
        let problem = problem.to_string();
        self.line(format_args!("problem: {}", problem.strip_prefix("skipping ").unwrap_or(&problem)));
        self.line(format_args!("  left as it is: {hint}"));
    }

    /// Exit 0 when nothing needs attention any more, 1 otherwise.
    fn finish(mut self) -> Result<i32> {
        match (self.found, self.found - self.fixed) {
            (0, _) => self.line("entire doctor: no problems found"),
            (found, 0) => self.line(format_args!("entire doctor: {found} problem(s), all fixed")),
            (found, left) => {
                self.line(format_args!("entire doctor: {found} problem(s), {left} need attention"))
            }
        }
        match self.failed {
            Some(err) => Err(err.into()),
            None => Ok(i32::from(self.found > self.fixed)),
        }
    }
}

/// (a) records whose processes are gone without `ended_at`, and (f) files
/// that do not parse.
fn sessions(store: &Store, report: &mut Report<impl Write>) {
    let (records, unreadable) = store.list();
    for warning in unreadable {
        report.unfixable(warning, "entire never rewrites a file it cannot read; fix or remove it by hand");
    }
    for record in records.into_iter().filter(|r| r.ended_at.is_none() && !r.is_live(&System)) {
        let id = record.session_id;
        report.fixable(format_args!("session {id} never ended, and its processes are gone"), || {
            // Under the lock, and only if it is still dead and open.
            store.modify(&id, |current| {
                let mut record = current.filter(|r| r.ended_at.is_none() && !r.is_live(&System))?;
                record.ended_at = Some(Utc::now());
                Some(record)
            })?;
            Ok("marked it ended".into())
        });
    }
}

/// (b) registry entries whose processes are gone, or whose repo record is
/// missing while they run.
fn live_registry(registry: &LiveRegistry, report: &mut Report<impl Write>) {
    let (entries, unreadable) = registry.list();
    for warning in unreadable {
        report.unfixable(warning, "remove it by hand once its session has ended");
    }
    for entry in entries {
        let id = entry.session.session_id.clone();
        if !entry.session.is_live(&System) {
            report.fixable(
                format_args!("live-registry entry {id} is left over: its processes are gone"),
                || {
                    registry.remove(&id);
                    Ok("removed it".into())
                },
            );
        } else if let Some(store) = entry.store.as_deref().map(|dir| Store::new(dir.to_path_buf())) {
            if !matches!(store.load(&id), Ok(None)) {
                continue;
            }
            let problem = format!("live session {id} has no record in {}", store.dir().display());
            report.fixable(problem, || restore_record(&store, &id, &entry));
        }
    }
}

/// (b) entries of this repository's index of live sessions whose
/// processes are gone.
fn live_index(index: &LiveRegistry, report: &mut Report<impl Write>) {
    let (entries, unreadable) = index.list();
    for warning in unreadable {
        report.unfixable(warning, "remove it by hand once its session has ended");
    }
    for entry in entries.iter().filter(|e| !e.session.is_live(&System)) {
        let id = &entry.session.session_id;
        report.fixable(format_args!("live-index entry {id} is left over: its processes are gone"), || {
            index.remove(id);
            Ok("removed it".into())
        });
    }
}

/// Writes a running session's record back from its registry entry, unless
/// its repository is gone.
fn restore_record(store: &Store, id: &SessionId, entry: &LiveEntry) -> Result<String> {
    let common_dir = store.dir().parent().filter(|d| d.is_dir());
    if common_dir.is_none() {
        return Err(Error::internal("its repository is gone"));
    }
    store.modify(id, |current| Some(current.unwrap_or_else(|| entry.session.clone())))?;
    Ok("restored it from the live registry".into())
}

/// (c) our hooks: core.hooksPath still points at entire's directory, our
/// hooks are there and ours (commit-msg when it has work), every hook of
/// the previous directory is chained, the binary they were copied from is
/// there and unchanged. One repair for all: install again, which records a
/// hooks path a manager set as the one to chain to, and moves hooks a
/// manager wrote into entire's directory to where they run.
fn git_hooks(repo: &Repo, report: &mut Report<impl Write>) -> Result<()> {
    let (info, problems): (Vec<_>, Vec<_>) = hookdir::problems(repo)?.into_iter().partition(|p| p.is_info());
    let (problems, by_hand): (Vec<_>, Vec<_>) =
        problems.into_iter().partition(|p| p.fix() == ["entire doctor --fix"]);
    for note in &info {
        report.line(format_args!("info: {note}"));
    }
    if report.fix && problems.is_empty() && !info.is_empty() {
        let refreshed = hookdir::current_binary().and_then(|binary| hookdir::install(repo, &binary));
        match refreshed {
            Ok(done) => report.line(format_args!("  refreshed the copy in {}", done.dir.display())),
            Err(err) => report.line(format_args!("  not refreshed: {err:#}")),
        }
    }
    for problem in &by_hand {
        let steps: Vec<String> = problem.fix().iter().map(|step| format!("`{step}`")).collect();
        report.unfixable(problem, &format!("restore both with: {}", steps.join(", then ")));
    }
    if problems.is_empty() {
        return Ok(());
    }
    report.found += problems.len();
    for problem in &problems {
        report.line(format_args!("problem: {problem}"));
    }
    if !report.fix {
        report.line("  `entire doctor --fix` repairs this (so does `entire enable`)");
        return Ok(());
    }
    let fixed = hookdir::current_binary().and_then(|binary| {
        let done = hookdir::install(repo, &binary)?;
        Ok((done, binary))
    });
    match fixed {
        Ok((done, binary)) => {
            report.fixed += problems.len();
            for line in done.lines() {
                report.line(format_args!("  {line}"));
            }
            report.line(format_args!(
                "  fixed: installed entire's hooks again in {}, running {}",
                done.dir.display(),
                binary.display()
            ));
        }
        Err(err) => report.line(format_args!("  not fixed: {err:#}")),
    }
    Ok(())
}

/// entire's own settings files parse and hold what entire knows; an
/// enabled clone records it in the git dir (docs/spec.md §3).
fn settings_files(repo: &Repo, settings: &Settings, report: &mut Report<impl Write>) {
    for problem in &settings.problems {
        let hint = if problem.changes_behaviour {
            "fix the file; entire uses the defaults for what it cannot read meanwhile"
        } else {
            "remove or rename the key; entire ignores it"
        };
        report.unfixable(problem, hint);
    }
    let clone_file = repo.common_dir.join(crate::settings::CLONE_FILE);
    if settings.enabled && !clone_file.exists() {
        report.fixable(
            "this clone does not record that entire is on in its git dir: a checkout without \
             .entire/, `git clean -fdx` or `git stash -u` would turn it off",
            || {
                crate::settings::set_clone_enabled(&repo.common_dir, true)?;
                Ok(format!("wrote \"enabled\": true to {}", clone_file.display()))
            },
        );
    }
}

/// (d) agent settings that hold entire's hooks: they parse, none lost,
/// none runs a binary that is gone. Only reported: `entire enable --agent`
/// rewrites them.
fn agent_settings(repo: &Repo, report: &mut Report<impl Write>) {
    for (problem, hint) in agents::settings::problems(repo) {
        report.unfixable(problem, &hint);
    }
}

/// (e) the tip of `entire/checkpoints/v1` is a commit, and the newest
/// checkpoint written to it (merges of remote checkpoints aside) sits where
/// docs/spec.md §7 puts it: `<id[0:2]>/<id[2:]>/metadata.json`.
fn checkpoints_branch(repo: &Repo, report: &mut Report<impl Write>) {
    let hint = "entire never rewrites this branch; inspect it with `git log entire/checkpoints/v1`";
    let broken = match checkpoints_tip_problem(repo) {
        Ok(None) => return,
        Ok(Some(problem)) => problem,
        Err(err) => format!("{err:#}"),
    };
    report.unfixable(format_args!("the checkpoints branch does not parse: {broken}"), hint);
}

/// The branch of an earlier version, still in `refs/heads`, where
/// `git push --all` publishes it whatever `checkpoints.push` says.
fn legacy_branch(repo: &Repo, report: &mut Report<impl Write>) {
    if repo.resolve_ref(checkpoint::remote::LEGACY_REF).is_none() {
        return;
    }
    let problem = format!(
        "the checkpoints branch is still {}, where `git push --all` publishes it without consent",
        checkpoint::remote::LEGACY_REF
    );
    report.fixable(problem, || {
        checkpoint::remote::migrate_legacy_branch(repo)?;
        checkpoint::remote::ensure_fetch(repo)?;
        Ok(format!("moved it to {CHECKPOINTS_REF}, and fetch refspecs to refs/entire/remotes/"))
    });
}

/// (g) secrets in checkpoints already on the branch, by the same rules
/// the writer redacts with.
fn secrets_on_branch(repo: &Repo, report: &mut Report<impl Write>) {
    let Some(tip) = repo.resolve_ref(CHECKPOINTS_REF) else { return };
    let found = Settings::for_repo(repo)
        .and_then(|s| s.redactor())
        .and_then(|redactor| checkpoint::scan::secrets(repo, &tip, &redactor));
    let exposed = match found {
        Ok(exposed) => exposed,
        Err(err) => {
            return report.unfixable(
                format_args!("could not scan {} for secrets: {err:#}", checkpoint::BRANCH),
                "fix what the message names, then run `entire doctor` again",
            );
        }
    };
    for file in exposed {
        report.unfixable(
            format_args!(
                "{}:{} holds what looks like a secret ({})",
                checkpoint::BRANCH,
                file.path,
                file.rules.join(", ")
            ),
            "only rewriting the branch removes it, here and on remotes: docs/privacy.md, \"Purging\"",
        );
    }
}

/// Checkpoints that a fetched remote branch holds with other content than
/// ours: merges keep ours (docs/checkpoints.md), and the user should know.
fn remote_conflicts(repo: &Repo, report: &mut Report<impl Write>) {
    let hint =
        "entire keeps the local checkpoint; compare with `git diff entire/checkpoints/v1 <remote ref>`";
    match checkpoint::conflicts(repo) {
        Ok(found) => {
            for conflict in found {
                let (remote, path) = conflict.split_once(' ').unwrap_or((&conflict, ""));
                report.unfixable(
                    format_args!(
                        "{remote} holds another {} than the local checkpoints branch",
                        printable(path)
                    ),
                    hint,
                );
            }
        }
        Err(err) => report.unfixable(format_args!("comparing with remote checkpoints: {err:#}"), hint),
    }
}

/// How many of HEAD's commits are checked for a trailer whose checkpoint
/// is missing.
const TRAILER_DEPTH: usize = 200;

/// Pending checkpoints whose commit was never made (their `git` is gone and
/// no commit carries their trailer), what a killed writer left behind, and
/// trailers of recent commits whose checkpoint is missing. Whatever could
/// be written was written before (`complete`).
fn pending_checkpoints(repo: &Repo, store: &Store, report: &mut Report<impl Write>) {
    match checkpoint::pending::abandoned(repo) {
        Ok(abandoned) => {
            for p in abandoned {
                let problem = format_args!(
                    "pending checkpoint {} of session {}: its commit was never made (the `git commit` that made it pending is gone, and no commit carries its trailer)",
                    p.checkpoint_id, p.session_id
                );
                report.fixable(problem, || {
                    store.remove_pending(&p.checkpoint_id);
                    Ok("removed it".into())
                });
            }
        }
        Err(err) => {
            report.unfixable(format_args!("reading the pending checkpoints: {err:#}"), "run it again")
        }
    }
    if report.fix {
        let swept = checkpoint::pending::sweep_orphans(repo, store, true);
        if swept > 0 {
            report.line(format_args!("removed {swept} temp file(s) left by an interrupted writer"));
        }
    }
    match checkpoint::pending::unwritten_trailers(repo, TRAILER_DEPTH) {
        Ok(missing) => {
            for (commit, id) in missing {
                report.unfixable(
                    format_args!(
                        "commit {} names checkpoint {id}, which is neither on the {} branch nor pending",
                        commit.short(12),
                        checkpoint::BRANCH
                    ),
                    checkpoint::FETCH_HINT,
                );
            }
        }
        Err(err) => report.unfixable(format_args!("reading HEAD's trailers: {err:#}"), "run it again"),
    }
}

fn checkpoints_tip_problem(repo: &Repo) -> Result<Option<String>> {
    let Some(tip) = repo.resolve_ref(CHECKPOINTS_REF) else {
        let loose = repo.common_dir.join(CHECKPOINTS_REF);
        return Ok(loose.exists().then(|| format!("{} does not hold an object ID", loose.display())));
    };
    let kind = git_text(repo, &["cat-file", "-t", &tip]).unwrap_or_else(|_| "missing".into());
    if kind != "commit" {
        return Ok(Some(format!("its tip {tip} is a {kind} object, not a commit")));
    }
    let subject = git_text(repo, &["log", "-1", "--no-merges", "--format=%s", &tip])?;
    let Some(id) = subject.strip_prefix("Checkpoint: ").and_then(CheckpointId::parse) else {
        return Ok(Some(format!("its newest commit's subject {subject:?} names no checkpoint")));
    };
    let path = format!("{}/metadata.json", checkpoint::dir_of(&id));
    Ok(match checkpoint::read(repo, &id) {
        Ok(Some(meta)) if meta.checkpoint_id == id => None,
        Ok(Some(_)) => Some(format!("{path} names another checkpoint")),
        Ok(None) => Some(format!("its tip has no {path}")),
        Err(err) => Some(format!("{path}: {err:#}")),
    })
}

fn git_text(repo: &Repo, args: &[&str]) -> Result<String> {
    Ok(String::from_utf8_lossy(&repo.git_output(args)?).trim().to_owned())
}
