//! What one agent hook event (Claude Code, Gemini CLI) records in the
//! session that owns the agent.
//!
//! Under `entire run` that is the launcher's session, found by
//! `ENTIRE_SESSION_ID`, else by the hook's parent-PID chain. Without a
//! launcher the hook makes a session itself (`source: "agent-hook"`), keyed
//! by the agent's own session ID and pinned to the agent's process, and puts
//! it in the live registry, where the git hooks' PID step finds it exactly
//! as it finds a launcher's. Recency is never used here: a session made by
//! one agent's hooks must not be taken over by another agent's. An agent
//! started by another session's agent, which inherited its
//! `ENTIRE_SESSION_ID`, gets a child session rather than writing into the
//! outer one (`nested_in`).

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{HookEvent, Spec, Turn};
use crate::checkpoint::post_hoc;
use crate::error::{Error, Result, warn};
use crate::git::{CommitId, Repo};
use crate::process::{ProcId, ProcessTable, System};
use crate::resolve::{self, owner::OwnerLookup};
use crate::session::{LiveEntry, LiveRegistry, SessionId, SessionRecord, Source, Store};
use crate::settings::Settings;

/// An event's JSON payload, as the agents send it on stdin: Claude Code's
/// snake_case keys, or Copilot CLI's camelCase ones.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Payload {
    #[serde(alias = "sessionId")]
    session_id: Option<String>,
    #[serde(alias = "transcriptPath")]
    transcript_path: Option<String>,
    cwd: Option<String>,
    prompt: Option<String>,
    #[serde(alias = "toolName")]
    tool_name: Option<String>,
    #[serde(alias = "toolArgs", deserialize_with = "object_or_its_text")]
    tool_input: Value,
}

/// A JSON value, or the one a string holds: Copilot CLI's documented
/// `toolArgs` is JSON text, where the CLI itself sends an object.
fn object_or_its_text<'de, D>(deserializer: D) -> std::result::Result<Value, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Value::deserialize(deserializer)?;
    Ok(match &value {
        Value::String(text) => serde_json::from_str(text).unwrap_or(value),
        _ => value,
    })
}

/// Records `event` of the agent `spec` in the session that owns it, in a
/// repository where entire is enabled; `cwd` is where the hook runs.
pub fn record(
    spec: &Spec,
    event: &HookEvent,
    payload: &Payload,
    repo: Repo,
    cwd: PathBuf,
    settings: &Settings,
) -> Result<()> {
    let agent_session = payload
        .session_id
        .as_deref()
        .ok_or_else(|| Error::internal("ignoring a payload without session_id"))?;
    let agent_session = SessionId::parse(agent_session).ok_or_else(|| {
        Error::internal(format!("ignoring a payload with a malformed session_id {agent_session:?}"))
    })?;
    let hook = Hook { spec, store: Store::new(repo.store_dir()), repo, cwd, now: Utc::now() };
    let facts = hook.facts(event.turn, payload, &agent_session);

    let policy = if spec.post_hoc { &resolve::POST_HOC } else { &resolve::AGENT_HOOK };
    let found = OwnerLookup::new(&hook.repo, &hook.store).find(policy, false, || None);
    let found_by = found.verdict.owner.as_ref().map_or("agent-hook", |o| o.method.as_str());
    let me = agent_process(&System);
    let (target, made_by_hook) = match found.owner {
        Some(owner)
            if owner.source != Some(Source::AgentHook) && !nested_in(&owner, spec, me, &agent_session) =>
        {
            (owner, false)
        }
        owner => (hook.session(owner, &agent_session, me), true),
    };
    let id = target.session_id.clone();

    let head = if spec.post_hoc { hook.repo.head() } else { None };
    let mut clash = false;
    let mut new_commits = None;
    let record = hook.store.modify(&id, |current| {
        let mut rec = match current {
            Some(rec) => rec,
            None if made_by_hook && event.turn != Turn::End => target,
            None => return None,
        };
        if made_by_hook {
            if rec.source != Some(Source::AgentHook) {
                clash = true; // never let a payload take over a launcher's record
                return None;
            }
            rec.agent_pid = me.map(|p| p.pid);
            rec.agent_start_time = me.map(|p| p.start_time);
            rec.pid_namespace = System.pid_namespace();
            rec.terminal = me.and_then(|p| System.stat(p.pid)).map(|s| s.tty).filter(|&t| t != 0);
            // A resumed agent session comes back to life; SessionEnd ends it.
            rec.ended_at = (event.turn == Turn::End).then_some(hook.now);
        } else if let Some(me) = me {
            // The agent whose hooks report into this launcher's session
            // (`entire run -- npx claude`: not the launcher's child).
            rec.extra.insert(HOOKED_AGENT.to_owned(), serde_json::json!(me));
        }
        facts.apply(&mut rec, hook.now);
        if spec.post_hoc {
            let tool = payload.tool_name.as_deref();
            if event.turn == Turn::ToolStart {
                post_hoc::open_tool(&mut rec, tool, hook.now);
            }
            // Only a tool call that may have run git links what appeared.
            let link = event.turn == Turn::Tool && tool.is_none_or(post_hoc::may_commit);
            new_commits =
                post_hoc::observe_head(&mut rec, head.as_ref().map(CommitId::as_str), hook.now, link);
        }
        Some(rec)
    })?;
    if clash {
        return Err(Error::internal(format!(
            "ignoring a payload whose session_id {id} names a session it does not own"
        )));
    }
    let Some(record) = record else { return Ok(()) };
    if made_by_hook {
        publish(&hook.store, &record, event.turn);
    }
    if let Some((since, head)) = new_commits {
        post_hoc::link_new_commits(&hook.repo, settings, &hook.store, &id, &since, &head, found_by)?;
    }
    if spec.post_hoc && matches!(event.turn, Turn::Tool | Turn::Stop | Turn::End) {
        // Closed only now: a rival deciding meanwhile still sees it open.
        post_hoc::close_tool(&hook.store, &id)?;
    }
    Ok(())
}

/// The agent process whose hooks report into a launcher's session.
const HOOKED_AGENT: &str = "hooked_agent";

/// Whether the agent running this hook (`me`, reporting `agent_session`)
/// is not the agent of the launcher's session `owner` but one started
/// inside it: not its recorded agent, nor the process whose hooks already
/// report into it, and either another agent than the one recorded or
/// another agent session than the one its hooks reported. Such an agent
/// inherited `ENTIRE_SESSION_ID` and gets a child session of its own.
fn nested_in(owner: &SessionRecord, spec: &Spec, me: Option<ProcId>, agent_session: &SessionId) -> bool {
    let Some(me) = me else { return false };
    let hooked: Option<ProcId> =
        owner.extra.get(HOOKED_AGENT).and_then(|v| serde_json::from_value(v.clone()).ok());
    if owner.agent_proc() == Some(me) || hooked == Some(me) {
        return false;
    }
    let other_agent = owner
        .agent
        .as_deref()
        .is_some_and(|name| name != spec.name && super::AGENTS.iter().any(|a| a.name == name));
    let other_session = owner.agent_session_id.as_ref().is_some_and(|id| id != agent_session);
    other_agent || other_session
}

/// What every step of one hook run needs.
struct Hook<'a> {
    spec: &'a Spec,
    repo: Repo,
    store: Store,
    cwd: PathBuf,
    now: DateTime<Utc>,
}

impl Hook<'_> {
    /// The session a hook makes (or finds again) for an agent run without
    /// a launcher of its own. `found` is the session the lookup found: a
    /// hook-made one, or the launcher's session this agent runs inside.
    fn session(
        &self,
        found: Option<SessionRecord>,
        agent_session: &SessionId,
        me: Option<ProcId>,
    ) -> SessionRecord {
        let mut parent = None;
        if let Some(found) = found.filter(|f| f.session_id != *agent_session) {
            if found.agent_proc() == me {
                // The same agent process moved on to a new session (`/clear`).
                end_hook_session(&self.store, &found);
            } else {
                // An agent started by the agent of another session.
                parent = Some(found.session_id);
            }
        }
        SessionRecord {
            parent_session_id: parent,
            agent: Some(self.spec.name.to_owned()),
            cwd: Some(self.cwd.to_string_lossy().into_owned()),
            worktree_path: Some(self.repo.worktree_str()),
            base_commit: self.repo.head().map(String::from),
            started_at: Some(self.now),
            source: Some(Source::AgentHook),
            ..SessionRecord::new(agent_session.clone())
        }
    }

    /// What the payload says about the session, validated.
    fn facts(&self, turn: Turn, payload: &Payload, agent_session: &SessionId) -> Facts {
        let derived =
            payload.transcript_path.is_none().then(|| self.spec.transcript_of?(agent_session)).flatten();
        let transcript_path = payload.transcript_path.as_deref().or(derived.as_deref()).filter(|raw| {
            // It is copied into the checkpoints branch, which gets pushed.
            let path = Path::new(raw);
            let ok = path.is_absolute()
                && matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "jsonl"));
            if !ok {
                warn(format_args!("ignoring transcript_path {raw:?}: not an absolute .json or .jsonl path"));
            }
            ok
        });
        let first_prompt = match turn {
            Turn::Prompt => payload.prompt.as_deref().and_then(summarize),
            _ => None,
        };
        let written = match (turn, &payload.tool_name) {
            (Turn::Tool, Some(tool)) => self
                .spec
                .file_tools
                .iter()
                .find(|(name, _)| name == tool)
                .and_then(|(_, key)| payload.tool_input.get(key)?.as_str()),
            _ => None,
        };
        let file = written.and_then(|raw| {
            let base = payload.cwd.as_deref().map(Path::new).filter(|p| p.is_absolute()).unwrap_or(&self.cwd);
            let relative = repo_relative(&self.repo.worktree, base, raw);
            if relative.is_none() {
                warn(format_args!("ignoring {raw:?}: not a file in {}", self.repo.worktree.display()));
            }
            relative
        });
        Facts {
            agent_session_id: agent_session.clone(),
            transcript_path: transcript_path.map(str::to_owned),
            first_prompt,
            file,
        }
    }
}

fn end_hook_session(store: &Store, record: &SessionRecord) {
    let id = &record.session_id;
    let ended = store.modify(id, |current| {
        let mut rec = current?;
        rec.ended_at.get_or_insert_with(Utc::now);
        Some(rec)
    });
    if let Err(err) = ended {
        warn(format_args!("could not end session {id}: {err:#}"));
    }
    LiveRegistry::repo_index(store).remove(id);
    if let Some(registry) = LiveRegistry::from_env() {
        registry.remove(id);
    }
}

/// Keeps a hook-made session in this repository's index of live sessions
/// and in the live registry while it runs: the git hooks' PID step finds it
/// there, whatever the committing process's environment.
fn publish(store: &Store, record: &SessionRecord, turn: Turn) {
    let id = &record.session_id;
    let registries = [Some(LiveRegistry::repo_index(store)), LiveRegistry::from_env()];
    if turn == Turn::End {
        registries.iter().flatten().for_each(|r| r.remove(id));
        return;
    }
    let entry = LiveEntry { store: Some(store.dir().to_path_buf()), session: record.clone() };
    for registry in registries.iter().flatten() {
        if let Err(err) = registry.put(&entry) {
            warn(format_args!("could not register session {id}: {err:#}"));
        }
    }
}

/// What one event says about the session.
struct Facts {
    agent_session_id: SessionId,
    transcript_path: Option<String>,
    first_prompt: Option<String>,
    file: Option<String>,
}

impl Facts {
    fn apply(&self, rec: &mut SessionRecord, now: DateTime<Utc>) {
        rec.last_interaction_time = Some(now);
        rec.agent_session_id = Some(self.agent_session_id.clone());
        if let Some(path) = &self.transcript_path {
            rec.transcript_path = Some(path.clone());
        }
        if rec.first_prompt.is_none() {
            rec.first_prompt = self.first_prompt.clone();
        }
        if let Some(file) = &self.file
            && !rec.files_touched.contains(file)
        {
            rec.files_touched.push(file.clone());
        }
    }
}

const SHELLS: [&str; 8] = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"];

/// The agent process running this hook: our parent, or the parent of the
/// `sh -c '<command>'` through which agents run hook commands (Claude Code
/// uses `/bin/sh -c`, Gemini CLI `bash -c`). Only one shell is skipped, so
/// an agent that is itself a shell script is still found.
pub fn agent_process(table: &dyn ProcessTable) -> Option<ProcId> {
    let parent = table.own_stat()?.ppid;
    let shell = table.name(parent).is_some_and(|name| SHELLS.contains(&name.as_str()));
    let pid = if shell { table.stat(parent)?.ppid } else { parent };
    if pid <= 1 {
        return None;
    }
    Some(ProcId { pid, start_time: table.start_time(pid)? })
}

/// The first prompt as a one-line summary: whitespace collapsed, at most
/// 100 characters.
fn summarize(prompt: &str) -> Option<String> {
    const MAX: usize = 100;
    let line = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return None;
    }
    if line.chars().count() <= MAX {
        return Some(line);
    }
    Some(line.chars().take(MAX - 1).chain(['…']).collect())
}

/// `raw` (absolute, or relative to `base`) as a path relative to the
/// worktree; None when it is not inside it. Symlinks are resolved as far as
/// the path exists, so a link out of the worktree is outside.
fn repo_relative(worktree: &Path, base: &Path, raw: &str) -> Option<String> {
    let mut path = PathBuf::new();
    for part in base.join(raw).components() {
        match part {
            Component::ParentDir => {
                path.pop();
            }
            Component::CurDir => {}
            other => path.push(other),
        }
    }
    let real = path
        .ancestors()
        .find_map(|a| Some(a.canonicalize().ok()?.join(path.strip_prefix(a).ok()?)))
        .unwrap_or(path);
    let relative = real.strip_prefix(worktree).ok()?;
    (!relative.as_os_str().is_empty()).then(|| relative.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcStat;
    use std::collections::HashMap;

    struct Table(HashMap<i32, (i32, &'static str)>);

    impl ProcessTable for Table {
        fn stat(&self, pid: i32) -> Option<ProcStat> {
            let (ppid, _) = self.0.get(&pid)?;
            Some(ProcStat { pid, ppid: *ppid, start_time: 1000 + pid as u64, zombie: false, tty: 0 })
        }
        fn name(&self, pid: i32) -> Option<String> {
            self.0.get(&pid).map(|(_, name)| (*name).to_owned())
        }
        fn cmdline(&self, _pid: i32) -> Option<Vec<String>> {
            None
        }
    }

    fn table(parent: &'static str, grandparent: &'static str) -> Table {
        let me = std::process::id() as i32;
        Table(HashMap::from([
            (me, (20, "entire")),
            (20, (10, parent)),
            (10, (5, grandparent)),
            (5, (1, "sh")),
        ]))
    }

    #[test]
    fn agent_is_the_parent_of_the_hook_shell() {
        assert_eq!(agent_process(&table("sh", "claude")), Some(ProcId { pid: 10, start_time: 1010 }));
        assert_eq!(agent_process(&table("bash", "node")).map(|p| p.pid), Some(10));
    }

    #[test]
    fn agent_is_the_parent_when_the_shell_exec_ed_us() {
        assert_eq!(agent_process(&table("claude", "sh")).map(|p| p.pid), Some(20));
    }

    #[test]
    fn only_one_shell_is_skipped() {
        assert_eq!(agent_process(&table("sh", "bash")).map(|p| p.pid), Some(10));
    }

    #[test]
    fn an_agent_inside_a_launchers_session_is_nested_only_when_it_is_another() {
        let outer_agent = ProcId { pid: 10, start_time: 1 };
        let inner_agent = ProcId { pid: 20, start_time: 2 };
        let sid = |s: &str| SessionId::parse(s).unwrap();
        let launched = |agent: &str, agent_session: Option<&str>| SessionRecord {
            agent: Some(agent.into()),
            agent_pid: Some(outer_agent.pid),
            agent_start_time: Some(outer_agent.start_time),
            agent_session_id: agent_session.map(sid),
            ..SessionRecord::new(sid("launched"))
        };
        let claude = &crate::agents::claude::SPEC;
        let nested = |owner: &SessionRecord, me| nested_in(owner, claude, Some(me), &sid("claude-2"));
        // The launcher's own agent, a /clear of it included: never nested.
        assert!(!nested(&launched("claude-code", Some("claude-1")), outer_agent));
        // Another Claude session in another process: nested.
        assert!(nested(&launched("claude-code", Some("claude-1")), inner_agent));
        // Claude started by Codex: another agent, nested.
        assert!(nested(&launched("codex", None), inner_agent));
        // `entire run -- npx claude`: a wrapper, no agent session yet; then
        // the process recorded as the hooked agent is never nested.
        let mut wrapped = launched("npx", None);
        assert!(!nested(&wrapped, inner_agent));
        wrapped.agent_session_id = Some(sid("claude-1"));
        wrapped.extra.insert(HOOKED_AGENT.into(), serde_json::json!(inner_agent));
        assert!(!nested(&wrapped, inner_agent));
        assert!(!nested_in(&wrapped, claude, None, &sid("claude-2")), "no agent process known");
    }

    #[test]
    fn copilot_payloads_are_read_in_camel_case() {
        let payload: Payload = serde_json::from_str(
            r#"{"sessionId":"596cea3a","timestamp":1,"cwd":"/r","toolName":"edit","toolArgs":"{\"path\":\"a.rs\"}"}"#,
        )
        .unwrap();
        assert_eq!(payload.session_id.as_deref(), Some("596cea3a"));
        assert_eq!(payload.tool_name.as_deref(), Some("edit"));
        assert_eq!(payload.tool_input["path"], "a.rs", "toolArgs as JSON text");
        let payload: Payload =
            serde_json::from_str(r#"{"sessionId":"s","transcriptPath":"/t.jsonl","toolArgs":{"path":"b"}}"#)
                .unwrap();
        assert_eq!(payload.transcript_path.as_deref(), Some("/t.jsonl"));
        assert_eq!(payload.tool_input["path"], "b");
    }

    #[test]
    fn prompt_summary_is_one_short_line() {
        assert_eq!(summarize("  fix\n\tthe   bug \n").as_deref(), Some("fix the bug"));
        assert_eq!(summarize(" \n "), None);
        let long = summarize(&"é".repeat(300)).unwrap();
        assert_eq!(long.chars().count(), 100);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn paths_are_made_relative_to_the_worktree() {
        let tmp = tempfile::tempdir().unwrap();
        let worktree = tmp.path().canonicalize().unwrap();
        std::fs::create_dir(worktree.join("src")).unwrap();
        let rel = |base: &Path, raw: &str| repo_relative(&worktree, base, raw);
        assert_eq!(rel(&worktree, "src/new.rs").as_deref(), Some("src/new.rs"));
        assert_eq!(
            rel(Path::new("/elsewhere"), &format!("{}/a/../b.txt", worktree.display())).as_deref(),
            Some("b.txt")
        );
        assert_eq!(rel(&worktree.join("src"), "../../x"), None);
        assert_eq!(rel(&worktree, "/etc/passwd"), None);
        assert_eq!(rel(&worktree, "."), None);
        std::os::unix::fs::symlink("/tmp", worktree.join("out")).unwrap();
        assert_eq!(rel(&worktree, "out/file"), None, "a symlink out of the worktree is outside");
    }
}
