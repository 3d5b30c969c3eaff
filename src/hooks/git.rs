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
use crate::git::trailers::{self, ASSISTED_KEY, CHECKPOINT_KEY, CommentChar};
use crate::process::{ProcId, ProcessTable, System};
use crate::resolve::{self, owner::OwnerLookup};
use crate::session::{CheckpointId, Pending, Store};
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
    if hook == "commit-msg" {
        let file = args.first().ok_or_else(|| Error::internal("missing message file argument"))?;
        return commit_msg(Path::new(file));
    }
    if hook != "pre-push" {
        // A commit waits for these: a lock held elsewhere costs a skip.
        crate::fsutil::set_lock_patience(crate::fsutil::HOOK_LOCK_PATIENCE);
    }
    let cwd = std::env::current_dir().context("current directory")?;
    let Some(repo) = Repo::discover(&cwd)? else { return Ok(()) };
    if hook == "post-commit" && !Store::new(repo.store_dir()).has_pending() {
        return Ok(()); // a commit outside any session: no settings to read
    }
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
            let file = arg(0).ok_or_else(|| Error::internal("missing message file argument"))?;
            let source = args.get(1).and_then(|s| s.to_str()).unwrap_or("");
            prepare_commit_msg(&repo, &settings, &cwd.join(file), source)
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
            checkpoint::push::follow(&repo, &settings, remote, &refs)
        }
        other => Err(Error::internal(format!("unknown git hook {other:?}"))),
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
    let git = checkpoint::pending::committing_git();
    let command = GitCommand::of(git);
    if command.replays() || concludes_a_replay(repo, source) {
        return Ok(());
    }
    let original = Message::read(file)?;
    let cleanup = command.cleanup(|| trailers::comment_char(repo));
    let store = Store::new(repo.store_dir());
    let mut message = original.text.clone();
    let mut linked = keep_links(repo, &store, &mut message, &cleanup, git)?;
    if !linked && source == "message" && command.has("--amend") {
        // `--amend -m/-F`: the new message keeps the amended commit's link.
        for id in head_checkpoints(repo) {
            message = cleanup.insert(&message, CHECKPOINT_KEY, id.as_str());
            linked = true;
        }
    }
    // With no editor to come, a blank message is git's to abort or keep
    // (verbatim commits it as it is): nothing to attribute.
    let blank = !cleanup.strips_comments() && message.trim().is_empty();
    if !linked && !blank {
        let found =
            OwnerLookup::new(repo, &store).find(&resolve::GIT_HOOK, settings.recency, || staged_files(repo));
        // A guess that tagged the commit, or why a claimed commit got no owner.
        found.verdict.notices.iter().for_each(warn);
        if let (Some(owner), Some(record)) = (&found.verdict.owner, found.owner) {
            let (checkpoint_id, claimed) = checkpoint::new_pending_id(repo)?;
            message = cleanup.insert(&message, CHECKPOINT_KEY, checkpoint_id.as_str());
            if settings.assisted_by
                && let Some(agent) = &record.agent
            {
                message =
                    cleanup.insert(&message, ASSISTED_KEY, &assisted_by(agent, &record.transcript_path));
            }
            store.put_pending_into(
                claimed.map(checkpoint::Claimed::into_path),
                &Pending {
                    checkpoint_id,
                    session_id: record.session_id,
                    resolved_by: owner.method,
                    resolution: found.verdict.details(),
                    created_at: Utc::now(),
                    git,
                    git_dir: Some(repo.git_dir.clone()),
                    committed: None,
                },
            )?;
        }
    }
    // Without an editor this is the message git commits, and commit-msg,
    // linked only when it has work (hookdir::ON_DEMAND), does not run.
    if !editor_follows()
        && let Some(stripped) = cleanup.strip_if_only(&message)
    {
        message = stripped;
    }
    if message != original.text {
        original.write(file, &message)?;
    }
    Ok(())
}

/// Whether git shows the message in an editor after prepare-commit-msg:
/// git tells its commit hooks that it will not with `GIT_EDITOR=:`.
pub(super) fn editor_follows() -> bool {
    std::env::var_os("GIT_EDITOR").is_none_or(|editor| editor != ":")
}

/// `AGENT:MODEL`, the model from the transcript's last lines (bounded
/// work), or the agent alone when they name none.
fn assisted_by(agent: &str, transcript: &Option<String>) -> String {
    match transcript.as_deref().and_then(|p| usage::last_model(Path::new(p))) {
        Some(model) => format!("{agent}:{model}"),
        None => agent.to_owned(),
    }
}

/// Looks at the checkpoint trailers the message already has (an amend, `-c`/`-C`,
/// a template, a message reused by hand) and tells whether one links this
/// commit to its checkpoint. A trailer naming a checkpoint that is pending
/// for another commit is removed: while that commit's `git` runs the
/// checkpoint is its own, and once it is gone without having made the
/// commit the checkpoint is abandoned (and removed) rather than given to
/// this commit. Values that are no checkpoint ID are left alone and link
/// nothing.
fn keep_links(
    repo: &Repo,
    store: &Store,
    message: &mut String,
    cleanup: &Cleanup,
    git: Option<ProcId>,
) -> Result<bool> {
    let mut linked = false;
    for value in trailers::every_value(message, CHECKPOINT_KEY, Some(cleanup.comments())) {
        let Some(id) = CheckpointId::parse(&value) else { continue };
        let foreign = store.pending(&id)?.filter(|p| p.committed.is_none() && p.git != git);
        let Some(pending) = foreign else {
            linked = true; // written, or handed to the writer: this commit rewrites that one
            continue;
        };
        let running = pending.git.is_some_and(|g| System.alive_as_recorded(g));
        let made = !running
            && checkpoint::pending::commit_carrying(repo, pending.git_dir.as_deref(), &id)?.is_some();
        if made {
            linked = true;
            continue;
        }
        *message = trailers::remove(message, CHECKPOINT_KEY, &value);
        if !running {
            store.remove_pending(&id);
        }
    }
    Ok(linked)
}

/// The checkpoints HEAD's message names.
fn head_checkpoints(repo: &Repo) -> Vec<CheckpointId> {
    let Ok(out) = repo.git_output(["log", "-1", "--encoding=UTF-8", "--format=%B", "HEAD", "--"]) else {
        return Vec::new();
    };
    let message = String::from_utf8_lossy(&out);
    trailers::every_value(&message, CHECKPOINT_KEY, None)
        .iter()
        .filter_map(|v| CheckpointId::parse(v))
        .collect()
}

/// A replayed commit concluded by `git commit`: a conflicted cherry-pick,
/// or a conflicted step of a rebase (whose message git hands over as a
/// merge's). A commit made at a rebase stop is a new one.
fn concludes_a_replay(repo: &Repo, source: &str) -> bool {
    let exists = |name: &str| repo.git_dir.join(name).exists();
    exists("CHERRY_PICK_HEAD") || (source == "merge" && exists("REBASE_HEAD") && !exists("MERGE_HEAD"))
}

/// Removes our trailers from a message that has nothing else, so that git
/// aborts the commit as empty. Decided from the message and git's command
/// line (and, when an editor opened, the comment character): the
/// repository and settings are read only for a message to rewrite, which
/// most commits never have.
fn commit_msg(file: &Path) -> Result<()> {
    let original = Message::read(file)?;
    if !trailers::mentions_checkpoint(original.text.as_bytes()) {
        return Ok(()); // a commit outside any session
    }
    let cwd = std::env::current_dir().context("current directory")?;
    let comment = || match Repo::discover(&cwd) {
        Ok(Some(repo)) => trailers::comment_char(&repo),
        _ => CommentChar::default(),
    };
    let cleanup = GitCommand::of(checkpoint::pending::committing_git()).cleanup(comment);
    let Some(stripped) = cleanup.strip_if_only(&original.text) else { return Ok(()) };
    let Some(repo) = Repo::discover(&cwd)? else { return Ok(()) };
    crate::fsutil::set_lock_patience(crate::fsutil::HOOK_LOCK_PATIENCE);
    if !Settings::for_repo(&repo)?.enabled {
        return Ok(());
    }
    original.write(file, &stripped)
}

/// The command line of the `git` process running the hook.
struct GitCommand {
    /// The subcommand (`commit`, `merge`…) and its arguments.
    args: Vec<String>,
}

impl GitCommand {
    fn of(git: Option<ProcId>) -> GitCommand {
        let argv = git.and_then(|g| System.cmdline(g.pid)).unwrap_or_default();
        let is_git = argv.first().is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "git"));
        let args = if is_git { subcommand_and_args(&argv[1..]).to_vec() } else { Vec::new() };
        GitCommand { args }
    }

    fn subcommand(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }

    fn has(&self, flag: &str) -> bool {
        self.args.iter().skip(1).any(|a| a == flag)
    }

    /// Cherry-pick, rebase and am replay commits made before; their
    /// trailers come along. A revert is a commit of its own.
    fn replays(&self) -> bool {
        matches!(self.subcommand(), Some("cherry-pick" | "rebase" | "am"))
    }

    /// How git cleans this commit's message up: `--cleanup=<mode>`, else
    /// `strip` when an editor opens, `whitespace` when none does (`-m`,
    /// `-F`, `-C`, `--no-edit`, unless `-e`), which keeps every line,
    /// `#123 fix` too. (`commit.cleanup` is not read.)
    fn cleanup(&self, comment: impl FnOnce() -> CommentChar) -> Cleanup {
        let no_editor = self.args.iter().skip(1).any(|a| {
            matches!(a.as_str(), "--no-edit" | "--message" | "--file" | "--reuse-message")
                || a.starts_with("--message=")
                || a.starts_with("--file=")
                || a.starts_with("--reuse-message=")
                || short_flags(a).is_some_and(|f| f.contains(['m', 'F', 'C']))
        });
        let editor = self.has("-e") || self.has("--edit") || !no_editor;
        // Without an editor, git treats scissors as whitespace.
        match self.args.iter().rev().find_map(|a| a.strip_prefix("--cleanup=")) {
            Some("scissors") if editor => Cleanup::Scissors(comment()),
            Some("strip") => Cleanup::Strip(comment()),
            Some("whitespace" | "verbatim" | "scissors") => Cleanup::Keep,
            _ if editor => Cleanup::Strip(comment()),
            _ => Cleanup::Keep,
        }
    }
}

/// What git will strip from the message, and so what the trailer must stay
/// clear of.
enum Cleanup {
    /// Comment lines (and below a scissors line, which the template of
    /// `-v` has).
    Strip(CommentChar),
    /// Nothing: every line is the message.
    Keep,
    /// Everything from the scissors line on; comment lines above it stay.
    Scissors(CommentChar),
}

impl Cleanup {
    fn strips_comments(&self) -> bool {
        matches!(self, Cleanup::Strip(_))
    }

    /// The comment lines of the part of the message that is kept.
    fn comments(&self) -> &CommentChar {
        match self {
            Cleanup::Strip(comment) => comment,
            Cleanup::Keep | Cleanup::Scissors(_) => &CommentChar::Nothing,
        }
    }

    /// The message split where git cuts it: what is kept, and the rest.
    fn split<'a>(&self, message: &'a str) -> (&'a str, &'a str) {
        match self {
            Cleanup::Scissors(comment) => message.split_at(trailers::cut_line(message, comment)),
            _ => (message, ""),
        }
    }

    fn insert(&self, message: &str, key: &str, value: &str) -> String {
        let (kept, cut) = self.split(message);
        trailers::insert(kept, key, value, self.comments()) + cut
    }

    /// Our checkpoint trailers and the `Assisted-by` next to them, when
    /// they are all the message has.
    fn strip_if_only(&self, message: &str) -> Option<String> {
        let (kept, cut) = self.split(message);
        let ours = |key: &str, value: &str| {
            (key.eq_ignore_ascii_case(CHECKPOINT_KEY) && CheckpointId::parse(value).is_some())
                || key.eq_ignore_ascii_case(ASSISTED_KEY)
        };
        trailers::strip_if_only_any(kept, self.comments(), ours).map(|stripped| stripped + cut)
    }
}

/// The letters of a bundle of short options (`-am` → `am`), up to the
/// first that takes a value.
fn short_flags(arg: &str) -> Option<&str> {
    let flags = arg.strip_prefix('-').filter(|f| !f.starts_with('-') && !f.is_empty())?;
    let end = flags.find(['m', 'F', 'C', 'c', 't']).map_or(flags.len(), |i| i + 1);
    Some(&flags[..end])
}

/// git's argv past its global options (`-c k=v`, `-C dir`…): the
/// subcommand and its arguments.
fn subcommand_and_args(args: &[String]) -> &[String] {
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-c" | "-C" | "--git-dir" | "--work-tree" | "--namespace" | "--exec-path" => i += 2,
            a if a.starts_with('-') => i += 1,
            _ => return &args[i..],
        }
    }
    &[]
}

/// A commit message as git hands it to a hook. Not always UTF-8
/// (`i18n.commitEncoding`): then it is read byte for byte as Latin-1, so
/// that every byte maps to one character and back, and lines, colons and
/// comment characters (ASCII in every encoding git supports for messages)
/// are where they were.
struct Message {
    text: String,
    latin1: bool,
}

impl Message {
    fn read(file: &Path) -> Result<Message> {
        let bytes = std::fs::read(file).context(format_args!("reading {}", file.display()))?;
        Ok(match String::from_utf8(bytes) {
            Ok(text) => Message { text, latin1: false },
            Err(err) => {
                Message { text: err.as_bytes().iter().map(|&b| char::from(b)).collect(), latin1: true }
            }
        })
    }

    fn write(&self, file: &Path, text: &str) -> Result<()> {
        let bytes = if self.latin1 {
            text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
        } else {
            text.as_bytes().to_vec()
        };
        std::fs::write(file, bytes).context(format_args!("writing {}", file.display()))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn command(argv: &str) -> GitCommand {
        let argv: Vec<String> = argv.split(' ').map(str::to_owned).collect();
        GitCommand { args: subcommand_and_args(&argv[1..]).to_vec() }
    }

    fn cleanup_of(argv: &str) -> &'static str {
        match command(argv).cleanup(CommentChar::default) {
            Cleanup::Strip(_) => "strip",
            Cleanup::Keep => "keep",
            Cleanup::Scissors(_) => "scissors",
        }
    }

    #[test]
    fn the_cleanup_git_will_apply_comes_from_its_arguments() {
        for (argv, mode) in [
            ("git commit", "strip"),
            ("git commit -m x", "keep"),
            ("git commit -am x", "keep"),
            ("git commit --message=x", "keep"),
            ("git commit -F f", "keep"),
            ("git commit -C HEAD", "keep"),
            ("git commit -m x -e", "strip"),
            ("git commit -c HEAD", "strip"),
            ("git commit -m x --cleanup=strip", "strip"),
            ("git commit --cleanup=verbatim", "keep"),
            ("git commit --cleanup=scissors", "scissors"),
            ("git commit -m x --cleanup=scissors", "keep"),
            ("git -C dir -c a=b commit -m x", "keep"),
            ("git merge --no-edit side", "keep"),
            ("git merge side", "strip"),
        ] {
            assert_eq!(cleanup_of(argv), mode, "{argv}");
        }
    }

    #[test]
    fn replays_and_amends_are_read_from_the_command_line() {
        assert!(command("git -c x=y cherry-pick abc").replays());
        assert!(command("git rebase --continue").replays());
        assert!(!command("git revert --no-edit HEAD").replays());
        assert!(!command("git merge side").replays());
        assert!(command("git commit --amend -m x").has("--amend"));
        assert!(!command("git commit -m x").has("--amend"));
    }

    #[test]
    fn scissors_keeps_the_cut_part_out_of_the_trailer_block() {
        let cleanup = Cleanup::Scissors(CommentChar::default());
        let message = "#123 fix\n# ------------------------ >8 ------------------------\ndiff\n";
        let tagged = cleanup.insert(message, CHECKPOINT_KEY, "0123456789ab");
        assert_eq!(
            tagged,
            "#123 fix\n\nEntire-Checkpoint: 0123456789ab\n# ------------------------ >8 ------------------------\ndiff\n"
        );
        assert_eq!(cleanup.strip_if_only(&tagged), None, "# lines above the cut are the message");
    }

    #[test]
    fn a_latin1_message_round_trips_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("msg");
        std::fs::write(&file, b"caf\xe9\n").unwrap();
        let message = Message::read(&file).unwrap();
        let tagged = Cleanup::Keep.insert(&message.text, CHECKPOINT_KEY, "0123456789ab");
        message.write(&file, &tagged).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"caf\xe9\n\nEntire-Checkpoint: 0123456789ab\n");
    }
}
