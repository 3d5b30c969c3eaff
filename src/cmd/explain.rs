//! `entire explain [REV]`: which session made a commit, and how that was
//! decided (docs/spec.md §8). `REV` (or `--commit REV`) explains one commit,
//! `--session ID` lists a session's commits, and no argument shows the
//! last commits of HEAD with their sessions; `--json` gives the same in
//! each case (docs/json.md).

use std::io::Write;

use serde_json::{Value, json};

use super::agent_trace;
use super::attributed::{Relation, changed_files, checkpoint_usage, named_checkpoints};
use super::current_dir;
use crate::checkpoint::{self, BRANCH, FETCH_HINT, Metadata, Reader, SLOT, TRANSCRIPT_FILE};
use crate::cli::{ExplainArgs, ExportFormat};
use crate::error::{Error, Result, warn};
use crate::git::trailers::{self, CHECKPOINT_KEY};
use crate::git::{CommitId, Repo};
use crate::session::{CheckpointId, Prefix, ResolvedBy, SessionRecord, Store, ambiguous, by_prefix};
use crate::style::{self, printable};

/// How many commits the log shows.
const LOG_LENGTH: usize = 20;

pub fn run(args: ExplainArgs) -> Result<i32> {
    let repo = Repo::require(&current_dir()?)?;
    checkpoint::pending::complete(&repo);
    // Teammates' checkpoints that `git fetch` brought (docs/checkpoints.md).
    if let Err(err) = checkpoint::remote::adopt_remote(&repo) {
        warn(format_args!("reading the remote checkpoints: {err:#}"));
    }
    let out = &mut std::io::stdout().lock();
    if args.transcript {
        return print_transcript(out, &repo, args.checkpoint.as_deref(), args.rev.or(args.commit).as_deref());
    }
    let shape = match (args.format, args.json) {
        (Some(ExportFormat::AgentTrace), _) => Shape::AgentTrace,
        (None, true) => Shape::Json,
        (None, false) => Shape::Text,
    };
    match (args.rev.or(args.commit), args.session) {
        (_, Some(session)) => explain_session(out, &repo, &session, args.json),
        (Some(rev), None) => explain_commit(out, &repo, &rev, shape),
        (None, None) if shape == Shape::AgentTrace => {
            Err(Error::usage("--format agent-trace exports one commit")
                .with_hint("give it one: `entire explain HEAD --format agent-trace`"))
        }
        (None, None) => log(out, &repo, args.json),
    }
}

/// How one commit is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Text,
    Json,
    AgentTrace,
}

fn explain_commit(out: &mut impl Write, repo: &Repo, rev: &str, shape: Shape) -> Result<i32> {
    let sha = match resolve_commit(repo, rev) {
        Ok(sha) => sha,
        Err(not_a_commit) => commit_of_checkpoint(repo, rev)?.ok_or(not_a_commit)?,
    };
    let message = commit_message(repo, &sha)?;
    let named = named_checkpoints(&message);
    let mut reader = Reader::open(repo)?;
    let mut unreadable = Vec::new();
    let checkpoints = match &mut reader {
        None if !named.is_empty() => {
            return Err(Error::user(format!(
                "the {BRANCH} branch that holds checkpoint metadata is not here"
            ))
            .with_hint(FETCH_HINT));
        }
        None => Vec::new(),
        Some(reader) => {
            let ids = with_indexed(reader, &sha, named.clone())?;
            let mut found = Vec::new();
            for id in ids {
                match believed(reader, &id, &sha, named.contains(&id)) {
                    Ok(Some(meta)) => found.push(meta),
                    Ok(None) if named.contains(&id) => warn(format_args!(
                        "checkpoint {id} named by the commit is not on the local {BRANCH} branch; {FETCH_HINT}"
                    )),
                    Ok(None) => {}
                    // One unreadable checkpoint does not hide the others.
                    Err(err) => unreadable.push((id, err)),
                }
            }
            found
        }
    };
    for (id, err) in &unreadable {
        warn(format_args!("could not read checkpoint {id}: {}", printable(&format!("{err:#}"))));
    }
    let files = if checkpoints.is_empty() { Vec::new() } else { changed_files(repo, &sha)? };
    let related: Vec<(Relation, Metadata)> =
        checkpoints.into_iter().map(|meta| (Relation::of(&meta, &sha, &files), meta)).collect();
    if shape == Shape::AgentTrace {
        // Only the sessions whose work the commit is.
        let own: Vec<Metadata> =
            related.iter().filter(|(r, _)| *r != Relation::Unrelated).map(|(_, m)| m.clone()).collect();
        let record = agent_trace::record(repo, reader.as_mut(), sha.as_str(), &own)?;
        writeln!(out, "{}", serde_json::to_string_pretty(&record)?)?;
        return Ok(0);
    }
    if shape == Shape::Json {
        let value = commit_json(reader.as_mut(), &sha, &related);
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(0);
    }
    writeln!(out, "commit {sha}")?;
    if related.iter().all(|(relation, _)| *relation == Relation::Unrelated) && unreadable.is_empty() {
        writeln!(out, "  no checkpoint: no agent session was attributed to this commit")?;
    }
    let store = Store::new(repo.store_dir());
    for (relation, meta) in &related {
        let reader = reader.as_mut().expect("checkpoints were read through it");
        print_checkpoint(out, reader, &store, meta)?;
        if let Some(how) = relation.describe(meta) {
            writeln!(out, "  relation:    {how}")?;
        }
    }
    for (id, _) in &unreadable {
        writeln!(out, "\ncheckpoint {id}\n  unreadable:  see the warning above")?;
    }
    Ok(0)
}

/// `--transcript`: the transcript reassembled from its portions, as far as
/// the checkpoint holds it, or each of the commit's checkpoints holds it.
fn print_transcript(
    out: &mut impl Write,
    repo: &Repo,
    checkpoint: Option<&str>,
    rev: Option<&str>,
) -> Result<i32> {
    let Some(mut reader) = Reader::open(repo)? else {
        return Err(Error::user(format!("the {BRANCH} branch that holds checkpoint metadata is not here"))
            .with_hint(FETCH_HINT));
    };
    let ids = match (checkpoint, rev) {
        (Some(id), _) => vec![CheckpointId::parse(id).ok_or_else(|| {
            Error::usage(format!("not a checkpoint ID: {id:?}")).with_hint("12 lowercase hex characters")
        })?],
        (None, Some(rev)) => {
            let sha = resolve_commit(repo, rev)?;
            let named = trailers::values(&commit_message(repo, &sha)?, CHECKPOINT_KEY)
                .iter()
                .filter_map(|id| CheckpointId::parse(id))
                .collect();
            with_indexed(&mut reader, &sha, named)?
        }
        (None, None) => {
            return Err(Error::usage("--transcript needs a commit or --checkpoint ID"));
        }
    };
    if ids.is_empty() {
        return Err(Error::user("no checkpoint: no agent session was attributed to this commit"));
    }
    for id in ids {
        let whole = checkpoint::transcript::reassemble(&mut reader, &id)
            .map_err(|e| e.context(format_args!("reassembling the transcript of checkpoint {id}")))?;
        out.write_all(&whole)?;
    }
    Ok(0)
}

/// A checkpoint's metadata, if it may be believed to concern this commit:
/// the commit's own trailer names it, or its metadata names the commit.
/// The commit index alone proves nothing: anyone who can push the branch
/// could add a line to it. None when absent or not believed.
fn believed(reader: &mut Reader, id: &CheckpointId, sha: &CommitId, named: bool) -> Result<Option<Metadata>> {
    Ok(reader.metadata(id)?.filter(|meta| named || meta.commit == *sha))
}

/// The checkpoints a commit's trailers name, then those the commit index
/// lists for its SHA: an amended or cherry-picked commit has a new SHA but
/// keeps its trailer, and a commit linked after the fact has no trailer.
fn with_indexed(reader: &mut Reader, sha: &CommitId, named: Vec<CheckpointId>) -> Result<Vec<CheckpointId>> {
    let mut ids = named;
    for id in reader.ids_for_commit(sha)? {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `{"commit", "checkpoints"}`, the shape docs/json.md gives, each
/// checkpoint with its relation to the commit, and the tokens and models
/// its transcript tells.
fn commit_json(
    mut reader: Option<&mut Reader>,
    sha: &CommitId,
    checkpoints: &[(Relation, Metadata)],
) -> Value {
    let checkpoints: Vec<Value> = checkpoints
        .iter()
        .map(|(relation, meta)| {
            let mut value = relation.tag(meta);
            if let (Some(reader), Some(object)) = (reader.as_deref_mut(), value.as_object_mut()) {
                checkpoint_usage(reader, &meta.checkpoint_id).annotate(object);
            }
            value
        })
        .collect();
    json!({"commit": sha, "checkpoints": checkpoints})
}

fn print_checkpoint(out: &mut impl Write, reader: &mut Reader, store: &Store, meta: &Metadata) -> Result<()> {
    let id = &meta.checkpoint_id;
    let record = store.load(&meta.session_id).ok().flatten();
    // A file of the checkpoint that cannot be read (over the size cap, not
    // JSON) leaves its line out; the rest is still shown.
    let slot_record: Option<SessionRecord> = reader
        .file(id, &format!("{SLOT}/metadata.json"))
        .ok()
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let prompt = match record.as_ref().and_then(|r| r.first_prompt.clone()) {
        Some(prompt) => Some(prompt),
        None => reader
            .file(id, &format!("{SLOT}/prompt.txt"))
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    };
    writeln!(out, "\ncheckpoint {id}")?;
    let agent = meta.agent.as_deref().map(|a| format!(" ({})", printable(a))).unwrap_or_default();
    writeln!(out, "  session:     {}{agent}", meta.session_id)?;
    writeln!(out, "  attributed:  {}", attribution(meta))?;
    let branch = meta.branch.as_deref().map(|b| format!(" on {}", printable(b))).unwrap_or_default();
    writeln!(out, "  when:        {}{branch}", meta.created_at.format("%Y-%m-%d %H:%M:%S UTC"))?;
    if let Some(prompt) = prompt {
        writeln!(out, "  prompt:      {}", printable(&one_line(&prompt, 200)))?;
    }
    if !meta.files_changed.is_empty() {
        writeln!(out, "  files:       {}", printable(&meta.files_changed.join(", ")))?;
    }
    if reader.slot_files(id).unwrap_or_default().iter().any(|name| name == TRANSCRIPT_FILE) {
        let cut = match meta.extra.get("transcript_original_bytes").and_then(Value::as_u64) {
            Some(bytes) => format!(" (truncated; the original had {bytes} bytes)"),
            None => String::new(),
        };
        writeln!(out, "  transcript:  {BRANCH}:{}/{SLOT}/{TRANSCRIPT_FILE}{cut}", checkpoint::dir_of(id))?;
        if let Some(summary) = checkpoint_usage(reader, id).summary() {
            writeln!(out, "  tokens:      {summary}")?;
        }
    }
    if let Some(reason) = meta.extra.get("transcript_skipped").and_then(Value::as_str) {
        writeln!(out, "  transcript:  not copied ({})", printable(reason))?;
    }
    let original = record.or(slot_record).and_then(|r| r.transcript_path);
    if let Some(path) = original {
        writeln!(out, "  recorded at: {}", printable(&path))?;
    }
    Ok(())
}

/// How the owner was found, in words; a recency match is a guess and says so.
fn attribution(meta: &Metadata) -> String {
    let mut text = match (meta.resolved_by, meta.resolution.depth) {
        (ResolvedBy::Env, _) => {
            "ENTIRE_SESSION_ID in the committing process named this session (env)".to_owned()
        }
        (ResolvedBy::Pid, Some(depth)) => {
            format!("the commit ran under this session's process, {depth} level(s) up (pid)")
        }
        (ResolvedBy::Pid, None) => "the commit ran under this session's process (pid)".to_owned(),
        (ResolvedBy::Recent, _) => "a guess by recency: the most recently active live session in this \
                                    worktree; nothing tied the commit to it for certain (recent)"
            .to_owned(),
        (ResolvedBy::PostHoc, _) => "linked after the commit was made (post-hoc)".to_owned(),
    };
    if let Some(reason) = meta.resolution.env_rejected {
        text.push_str(&format!("; ENTIRE_SESSION_ID was set but not used ({})", reason.as_str()));
    }
    text
}

fn one_line(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

fn resolve_commit(repo: &Repo, rev: &str) -> Result<CommitId> {
    let bad = || {
        Error::user(format!("not a commit or a checkpoint: {rev}"))
            .with_hint("give a commit that exists here (a SHA, a branch name, HEAD~1…) or a checkpoint ID")
    };
    if rev.starts_with('-') {
        return Err(bad()); // never an option to git
    }
    let out = repo.git_output(["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]);
    out.ok().and_then(|o| CommitId::parse(String::from_utf8_lossy(&o).trim())).ok_or_else(bad)
}

/// REV as a checkpoint ID, as a trailer shows it, or a unique prefix of
/// one (4 characters at least): the commit that checkpoint records.
fn commit_of_checkpoint(repo: &Repo, rev: &str) -> Result<Option<CommitId>> {
    let hex = rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex || !(4..=12).contains(&rev.len()) {
        return Ok(None);
    }
    let Some(mut reader) = Reader::open(repo)? else { return Ok(None) };
    match by_prefix(rev, reader.ids_with_prefix(rev)?) {
        Prefix::One(id) => Ok(reader.metadata(&id)?.map(|meta| meta.commit)),
        Prefix::None => Ok(None),
        Prefix::Many(ids) => Err(ambiguous(rev, "checkpoint", &ids)),
    }
}

fn commit_message(repo: &Repo, sha: &CommitId) -> Result<String> {
    let raw = repo.git_output(["cat-file", "commit", sha.as_str()])?;
    let raw = String::from_utf8_lossy(&raw);
    Ok(raw.split_once("\n\n").map(|(_, message)| message.to_owned()).unwrap_or_default())
}

fn explain_session(out: &mut impl Write, repo: &Repo, raw: &str, json: bool) -> Result<i32> {
    let store = Store::new(repo.store_dir());
    let id = store.find(raw)?;
    let record =
        store.load(&id)?.ok_or_else(|| Error::internal(format!("session {id} vanished while read")))?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&record.checkpoints)?)?;
        return Ok(0);
    }
    let agent = record.agent.as_deref().map(|a| format!(" ({})", printable(a))).unwrap_or_default();
    match record.checkpoints.len() {
        0 => writeln!(out, "session {id}{agent} has no commits")?,
        n => writeln!(out, "session {id}{agent}: {n} commit(s)")?,
    }
    for c in &record.checkpoints {
        let when = c.created_at.format("%Y-%m-%d %H:%M:%S UTC");
        let short = c.commit.short(12);
        writeln!(out, "  {short}  checkpoint {}  by {:<7}  {when}", c.checkpoint_id, c.resolved_by)?;
    }
    Ok(0)
}

/// One commit of the log.
struct Logged {
    sha: CommitId,
    short: String,
    subject: String,
    /// Checkpoints named or indexed for it, read or not.
    ids: Vec<CheckpointId>,
    found: Vec<(Relation, Metadata)>,
}

/// The last commits of HEAD and the session of each: one `git log` and one
/// `cat-file` process. As JSON: an array of `--commit` objects, newest first.
fn log(out: &mut impl Write, repo: &Repo, json: bool) -> Result<i32> {
    let commits = if repo.head().is_some() { last_commits(repo)? } else { Vec::new() };
    if json {
        let mut reader = Reader::open(repo)?;
        let all: Vec<Value> =
            commits.iter().map(|c| commit_json(reader.as_mut(), &c.sha, &c.found)).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(0);
    }
    if commits.is_empty() {
        writeln!(out, "no commits yet")?;
        return Ok(0);
    }
    let mut table = style::Table::new(&["COMMIT", "SESSION", "AGENT", "BY", "SUBJECT"]);
    for Logged { short, subject, ids, found, .. } in &commits {
        let subject = printable(subject);
        // A copied trailer names another commit's session, not this one's.
        let own: Vec<&Metadata> =
            found.iter().filter(|(r, _)| *r != Relation::Unrelated).map(|(_, meta)| meta).collect();
        if own.is_empty() {
            let session = if ids.len() > found.len() { "?" } else { "-" };
            table.row([short.clone(), session.into(), String::new(), String::new(), subject.to_string()]);
        }
        for meta in own {
            let agent = printable(meta.agent.as_deref().unwrap_or("-")).into_owned();
            let by = meta.resolved_by.to_string();
            table.row([short.clone(), meta.session_id.to_string(), agent, by, subject.to_string()]);
        }
    }
    table.legend("BY: how the session was found. env: ENTIRE_SESSION_ID named it; pid: the");
    table.legend("commit ran in its process tree; recent: a guess (the most recently active");
    table.legend("session here); post-hoc: the agent's hooks linked the commit afterwards");
    table.write(out)?;
    if commits.iter().any(|c| c.found.len() < c.ids.len()) {
        warn(format_args!("some checkpoints (?) are not on the local {BRANCH} branch; {FETCH_HINT}"));
    }
    Ok(0)
}

fn last_commits(repo: &Repo) -> Result<Vec<Logged>> {
    let format = "--format=%H%x1f%h%x1f%s%x1f%B%x1e";
    let out =
        repo.git_output(["log", "--encoding=UTF-8", "-n", &LOG_LENGTH.to_string(), format, "HEAD", "--"])?;
    let out = String::from_utf8_lossy(&out);
    let mut reader = Reader::open(repo)?;
    let mut commits = Vec::new();
    for record in out.split('\x1e').map(|r| r.trim_start_matches('\n')).filter(|r| !r.is_empty()) {
        let fields: Vec<&str> = record.splitn(4, '\x1f').collect();
        let [sha, short, subject, message] = fields[..] else { continue };
        let Some(sha) = CommitId::parse(sha) else { continue };
        let named = named_checkpoints(message);
        let mut logged = Logged {
            sha: sha.clone(),
            short: short.into(),
            subject: subject.into(),
            ids: named,
            found: Vec::new(),
        };
        if let Some(reader) = &mut reader {
            let named = logged.ids.clone();
            logged.ids = with_indexed(reader, &sha, logged.ids)?;
            let mut files = None;
            for id in &logged.ids {
                // One unreadable checkpoint must not hide the whole log.
                let meta = match believed(reader, id, &sha, named.contains(id)) {
                    Ok(meta) => meta,
                    Err(err) => {
                        warn(printable(&format!("{err:#}")));
                        None
                    }
                };
                let Some(meta) = meta else { continue };
                // Only a rewritten or copied trailer costs a look at the commit.
                let relation = if meta.commit == sha {
                    Relation::Written
                } else {
                    let files = match &files {
                        Some(files) => files,
                        None => files.insert(changed_files(repo, &sha)?),
                    };
                    Relation::of(&meta, &sha, files)
                };
                logged.found.push((relation, meta));
            }
            let found = &logged.found;
            logged.ids.retain(|id| named.contains(id) || found.iter().any(|(_, m)| &m.checkpoint_id == id));
        }
        commits.push(logged);
    }
    Ok(commits)
}
