//! `entire hooks git <hook> …`: prepare-commit-msg, commit-msg, post-commit
//! and pre-push (docs/spec.md §6).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::agents::usage;
use crate::checkpoint;
use crate::error::{Context, Error, Result, warn};
use crate::git::Repo;
use crate::git::trailers::{self, ASSISTED_KEY, CHECKPOINT_KEY};
use crate::process::{ProcessTable, System};
use crate::resolve::owner::OwnerLookup;
use crate::session::{Pending, Store};
use crate::settings::Settings;

/// Runs one git hook. Always exits 0: entire never blocks a commit.
pub fn run(hook: &str, args: &[OsString]) -> i32 {
    run_with_stdin(hook, args, None)
}

/// The same, with pre-push's stdin already read (`hooks::chain` passes it
/// on to the chained hook too).
pub fn run_with_stdin(hook: &str, args: &[OsString], stdin: Option<&[u8]>) -> i32 {
    if let Err(err) = dispatch(hook, args, stdin) {
        warn(format_args!("{hook}: {err:#}"));
    }
    0
}

fn dispatch(hook: &str, args: &[OsString], stdin: Option<&[u8]>) -> Result<()> {
    let cwd = std::env::current_dir().context("current directory")?;
    let Some(repo) = Repo::discover(&cwd)? else { return Ok(()) };
    let settings = Settings::for_repo(&repo)?;
    if hook == "prepare-commit-msg" {
        say_why_not_as_configured(&settings);
    }
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
        "post-commit" => checkpoint::pending::hand_off(&repo),
        "pre-push" => {
            // `pre-push <remote> <url>`, the refs being pushed on stdin.
            let remote = args.first().and_then(|s| s.to_str()).unwrap_or("origin");
            // Read already when a chained hook gets them too (hooks::chain).
            let refs = match stdin {
                Some(bytes) => bytes.to_vec(),
                None => {
                    let mut refs = Vec::new();
                    std::io::stdin().read_to_end(&mut refs).context("reading the refs being pushed")?;
                    refs
                }
            };
            checkpoint::pending::complete(&repo);
            checkpoint::push::follow(&repo, remote, &refs)
        }
        other => Err(Error::new(format!("unknown git hook {other:?}"))),
    }
}

/// Once per commit: each settings problem that makes entire do something
/// else than the files say, and entire being off while its hooks run.
fn say_why_not_as_configured(settings: &Settings) {
    for problem in settings.problems.iter().filter(|p| p.changes_behaviour) {
        warn(problem);
    }
    if !settings.enabled {
        let why = match &settings.enabled_from {
            Some(file) => format!("\"enabled\": false in {}", file.display()),
            None => "no settings file here says it is on".to_owned(),
        };
        warn(format_args!(
            "entire is off in this clone ({why}) but its git hooks are installed: this commit gets no \
             checkpoint (`entire enable` turns it on; `entire disable` removes the hooks)"
        ));
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
    let (Some(owner), Some(record)) = (&found.verdict.owner, found.owner) else { return Ok(()) };

    let checkpoint_id = checkpoint::new_id(repo)?;
    let mut tagged = trailers::insert(&message, CHECKPOINT_KEY, checkpoint_id.as_str(), &comment);
    if settings.assisted_by
        && let Some(agent) = &record.agent
    {
        // The model from the transcript's last lines: bounded work.
        let model = record.transcript_path.as_deref().and_then(|p| usage::last_model(Path::new(p)));
        let value = match model {
            Some(model) => format!("{agent}:{model}"),
            None => agent.clone(),
        };
        tagged = trailers::insert(&tagged, ASSISTED_KEY, &value, &comment);
    }
    store.put_pending(&Pending {
        checkpoint_id,
        session_id: record.session_id,
        resolved_by: owner.method,
        resolution: found.verdict.details(),
        created_at: Utc::now(),
        committed: None,
    })?;
    std::fs::write(file, tagged).context(format_args!("writing {}", file.display()))
}

fn commit_msg(repo: &Repo, file: &Path) -> Result<()> {
    let message = read_message(file)?;
    let comment = trailers::comment_char(repo);
    if let Some(stripped) = trailers::strip_if_only_any(&message, &[CHECKPOINT_KEY, ASSISTED_KEY], &comment) {
        std::fs::write(file, stripped).context(format_args!("writing {}", file.display()))?;
    }
    Ok(())
}

/// A single cherry-pick or revert leaves no state file behind while it
/// commits, so look at the `git` process that runs this hook instead.
fn replaying_commits() -> bool {
    let ancestry = System.ancestors(std::process::id() as i32, 3);
    ancestry.iter().filter_map(|p| System.cmdline(p.pid)).any(|argv| {
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
