//! Agent hooks (Claude Code, Gemini CLI) and agents without hooks (Codex),
//! end to end. The agents are fake: small scripts that run the hook
//! commands `entire enable --agent` installed exactly as the real agents do
//! (`sh -c <command>` or `bash -c <command>`, JSON payload on stdin), edit
//! files and commit. Git, the hooks and the process tree are real.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::support::{World, checkpoint_of, script, stdout, wait_for_file};

/// Shell functions every fake agent starts with. `hook <Event> [fields]`
/// runs the command installed for `<Event>` the way the agent does;
/// `$HOOKS/<Event>` holds that command, copied from the settings file.
const PRELUDE: &str = r#"#!/bin/sh
set -e
payload() {
    printf '{"session_id":"%s","transcript_path":"%s","cwd":"%s","hook_event_name":"%s"%s}' \
        "$SID" "$TRANSCRIPT" "$PWD" "$1" "${2:+,$2}"
}
hook() {
    payload "$@" | $HOOK_SHELL -c "$(cat "$HOOKS/$1")"
}
pause() {
    touch "$GO.ready"
    while [ ! -e "$GO" ]; do sleep 0.02; done
}
"#;

struct FakeAgent {
    script: PathBuf,
    hooks: PathBuf,
    shell: &'static str,
}

impl FakeAgent {
    /// Writes the agent script (`body` after the prelude) and exports the
    /// hook commands installed in `settings`.
    fn new(world: &World, name: &str, settings: &Path, shell: &'static str, body: &str) -> FakeAgent {
        let dir = world.path().join("agents").join(name);
        let hooks = dir.join("hooks");
        fs::create_dir_all(&hooks).unwrap();
        let json = read_json(settings);
        for (event, groups) in json["hooks"].as_object().unwrap() {
            for entry in groups.as_array().unwrap().iter().flat_map(|g| g["hooks"].as_array().unwrap()) {
                let command = entry["command"].as_str().unwrap();
                if command.contains(" hooks ") {
                    fs::write(hooks.join(event), command).unwrap();
                }
            }
        }
        // The name becomes the process's comm: not a shell's name.
        let script_path = dir.join(name);
        script(&script_path, &format!("{PRELUDE}{body}"));
        FakeAgent { script: script_path, hooks, shell }
    }

    /// The agent, run as `program` (the script itself, or `entire run`).
    fn command(&self, mut cmd: Command, sid: &str, transcript: &Path) -> Command {
        cmd.env("SID", sid)
            .env("HOOKS", &self.hooks)
            .env("HOOK_SHELL", self.shell)
            .env("TRANSCRIPT", transcript);
        cmd
    }

    fn alone(&self, world: &World, repo: &Path, sid: &str, transcript: &Path) -> Command {
        self.command(world.cmd(&self.script, repo), sid, transcript)
    }

    fn launched(&self, world: &World, repo: &Path, sid: &str, transcript: &Path) -> Command {
        let mut cmd = world.entire(repo);
        cmd.arg("run").arg("--").arg(&self.script);
        self.command(cmd, sid, transcript)
    }
}

/// Where Claude Code keeps a session's transcript in this world's home:
/// the only place entire copies a Claude transcript from.
fn claude_transcript(w: &World, sid: &str) -> PathBuf {
    let dir = w.path().join("home/.claude/projects/-repo");
    fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{sid}.jsonl"))
}

/// A fake agent stopped at `pause` in its script until `resume`.
struct Paused {
    child: Child,
    go: PathBuf,
}

impl Paused {
    fn start(mut cmd: Command, go: PathBuf) -> Paused {
        let child = cmd.env("GO", &go).spawn().unwrap();
        wait_for_file(Path::new(&format!("{}.ready", go.display())));
        Paused { child, go }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets it go on and waits for it to succeed.
    fn resume(mut self) {
        fs::write(&self.go, "").unwrap();
        assert!(self.child.wait().unwrap().success());
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every session record in the repo's store.
fn records(repo: &Path) -> Vec<Value> {
    let Ok(dir) = fs::read_dir(repo.join(".git/entire-sessions")) else { return Vec::new() };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| read_json(&p))
        .collect()
}

fn record(repo: &Path, id: &str) -> Value {
    read_json(&repo.join(format!(".git/entire-sessions/{id}.json")))
}

fn sha_of(world: &World, repo: &Path, subject: &str) -> String {
    let log = world.git(repo, &["log", "--format=%H %s"]);
    let line = log.lines().find(|l| l.ends_with(&format!(" {subject}"))).unwrap_or_else(|| panic!("{log}"));
    line.split(' ').next().unwrap().to_owned()
}

/// `(commit, resolved_by)` of each checkpoint in a session record.
fn checkpoints(record: &Value) -> Vec<(String, String)> {
    record["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["commit"].as_str().unwrap().to_owned(), c["resolved_by"].as_str().unwrap().to_owned()))
        .collect()
}

fn enable_agent(world: &World, repo: &Path, args: &[&str]) -> Output {
    world.entire(repo).arg("enable").args(args).output().unwrap()
}

/// Runs `entire hooks <agent> <event>` with `payload` on stdin.
fn run_hook(world: &World, repo: &Path, agent: &str, event: &str, payload: &str) -> Output {
    let mut child = world
        .entire(repo)
        .args(["hooks", agent, event])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

const CLAUDE_WORK: &str = r#"
hook SessionStart '"source":"startup"'
hook UserPromptSubmit '"prompt":"Fix   the\n\tbug, please"'
hook UserPromptSubmit '"prompt":"and a second prompt"'
echo work > "$SID.txt"
hook PostToolUse "\"tool_name\":\"Write\",\"tool_input\":{\"file_path\":\"$PWD/$SID.txt\",\"content\":\"work\"}"
[ -z "$GO" ] || pause
git add "$SID.txt"
git commit -q -m "work of $SID"
hook PostToolUse '"tool_name":"Bash","tool_input":{"command":"git commit"}'
hook Stop '"stop_hook_active":false'
hook SessionEnd '"reason":"other"'
"#;

#[test]
fn claude_hooks_under_the_launcher_land_on_its_session() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    let agent =
        FakeAgent::new(&w, "fake-claude", &repo.join(".claude/settings.local.json"), "sh", CLAUDE_WORK);
    let transcript = w.path().join("transcript.jsonl");
    fs::write(&transcript, "{\"type\":\"user\"}\n").unwrap();
    let sid = "b96016db-f06d-4f86-99bc-a9e41140c9ea";

    let out = agent.launched(&w, &repo, sid, &transcript).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "hooks print nothing: {}", String::from_utf8_lossy(&out.stdout));

    let all = records(&repo);
    assert_eq!(all.len(), 1, "no session of the hooks' own beside the launcher's: {all:#?}");
    let session = &all[0];
    assert_eq!(session["source"], "launcher");
    assert_eq!(session["agent_session_id"], sid);
    assert_eq!(session["transcript_path"], transcript.to_str().unwrap());
    assert_eq!(session["first_prompt"], "Fix the bug, please");
    assert_eq!(session["files_touched"], serde_json::json!([format!("{sid}.txt")]));
    assert!(session["ended_at"].is_string(), "the launcher ended it");
    let sha = sha_of(&w, &repo, &format!("work of {sid}"));
    assert_eq!(checkpoints(session), [(sha, "env".to_owned())]);
}

#[test]
fn transcript_is_copied_into_the_checkpoint() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    let agent =
        FakeAgent::new(&w, "fake-claude", &repo.join(".claude/settings.local.json"), "sh", CLAUDE_WORK);
    let transcript = claude_transcript(&w, "claude-session-1");
    let lines = "{\"type\":\"user\",\"message\":\"fix the bug\"}\n{\"type\":\"assistant\"}\n";
    fs::write(&transcript, lines).unwrap();

    stdout(agent.launched(&w, &repo, "claude-session-1", &transcript).output().unwrap());
    let id = checkpoint_of(&w, &repo, "HEAD").expect("the commit has a checkpoint");
    let copied =
        w.git(&repo, &["show", &format!("entire/checkpoints/v1:{}/{}/0/full.jsonl", &id[..2], &id[2..])]);
    assert_eq!(copied, lines.trim_end());
}

#[test]
fn concurrent_agents_without_launcher_own_their_commits_by_pid() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    let agent =
        FakeAgent::new(&w, "fake-claude", &repo.join(".claude/settings.local.json"), "sh", CLAUDE_WORK);
    let transcript = w.path().join("t.jsonl");
    let start = |sid: &str| {
        Paused::start(agent.alone(&w, &repo, sid, &transcript), w.path().join(format!("go-{sid}")))
    };
    // The older agent commits while the newer one is the most recent.
    let older = start("older-session");
    let newer = start("newer-session");
    older.resume();
    newer.resume();
    // What post-commit handed to the detached writer may still be on its way
    // to the records read below: a command that reads them writes it first.
    stdout(w.entire(&repo).arg("sessions").output().unwrap());

    for sid in ["older-session", "newer-session"] {
        let session = record(&repo, sid);
        assert_eq!(session["source"], "agent-hook", "{session:#}");
        assert_eq!(session["agent"], "claude-code");
        assert_eq!(session["agent_session_id"], sid);
        assert_eq!(session["first_prompt"], "Fix the bug, please");
        let sha = sha_of(&w, &repo, &format!("work of {sid}"));
        assert_eq!(checkpoints(&session), [(sha, "pid".to_owned())], "{sid}");
        // SessionEnd ended it and took it out of the live registry.
        assert!(session["ended_at"].is_string());
        assert!(!w.state_dir().join(format!("live/{sid}.json")).exists());
    }
}

#[test]
fn a_hook_made_session_is_live_while_its_agent_runs() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    let body = "hook SessionStart '\"source\":\"startup\"'\npause\n";
    let agent = FakeAgent::new(&w, "fake-claude", &repo.join(".claude/settings.local.json"), "sh", body);
    let agent = Paused::start(agent.alone(&w, &repo, "s1", &w.path().join("t.jsonl")), w.path().join("go"));

    let status = w.json(&repo, &["status", "--json"]);
    let live = status["live_sessions"].as_array().unwrap();
    assert_eq!(live.len(), 1, "{status:#}");
    assert_eq!(live[0]["session_id"], "s1");
    assert_eq!(live[0]["agent_pid"], agent.pid(), "the agent, not the hook's shell");
    agent.resume();
    let status = w.json(&repo, &["status", "--json"]);
    assert_eq!(status["live_sessions"], serde_json::json!([]), "its agent is gone");
}

#[test]
fn enable_agent_twice_changes_nothing_the_second_time() {
    let w = World::new();
    let repo = w.repo("r");
    for agent in ["claude-code", "gemini"] {
        let first = stdout(enable_agent(&w, &repo, &["--agent", agent]));
        assert!(first.contains(&format!("{agent}: hooks installed in")), "{first}");
    }
    let claude = fs::read(repo.join(".claude/settings.local.json")).unwrap();
    let gemini = fs::read(repo.join(".gemini/settings.json")).unwrap();
    let second = stdout(enable_agent(&w, &repo, &["--agent", "claude-code", "--agent", "gemini"]));
    assert!(second.contains("claude-code: hooks already installed"), "{second}");
    assert_eq!(fs::read(repo.join(".claude/settings.local.json")).unwrap(), claude);
    assert_eq!(fs::read(repo.join(".gemini/settings.json")).unwrap(), gemini);
    let exclude = fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert_eq!(exclude.matches("/.claude/settings.local.json\n").count(), 1, "{exclude}");
    assert_eq!(exclude.matches("/.gemini/settings.json\n").count(), 1, "{exclude}");

    let settings = read_json(&repo.join(".claude/settings.local.json"));
    let events: Vec<&String> = settings["hooks"].as_object().unwrap().keys().collect();
    assert_eq!(events, ["SessionStart", "UserPromptSubmit", "PostToolUse", "Stop", "SessionEnd"]);
    let command = settings["hooks"]["SessionStart"][0]["hooks"][0]["command"].as_str().unwrap();
    assert!(command.starts_with('\'') && command.ends_with("' hooks claude-code session-start"), "{command}");
    let gemini = read_json(&repo.join(".gemini/settings.json"));
    assert_eq!(gemini["hooksConfig"]["enabled"], true);
    assert_eq!(gemini["hooks"]["AfterTool"][0]["hooks"][0]["name"], "entire-after-tool");

    let status = w.json(&repo, &["status", "--json"]);
    assert_eq!(
        status["agent_hooks"],
        serde_json::json!({"claude-code": true, "codex": false, "gemini": true, "opencode": false, "copilot": false})
    );
}

#[test]
fn disable_restores_the_users_settings_byte_for_byte() {
    let w = World::new();
    let repo = w.repo("r");
    // Formatting of the user's own: tabs, key order, no final newline.
    let claude = "{\n\t\"permissions\": {\"allow\": [\"Bash(ls)\"]},\n\t\"hooks\": {\"Stop\": [{\"matcher\": \"\", \"hooks\": [{\"type\": \"command\", \"command\": \"notify-send done\"}]}]},\n\t\"model\": \"opus\"\n}";
    let gemini = "{ \"theme\": \"dark\", \"hooksConfig\": { \"notifications\": true } }\n";
    fs::create_dir_all(repo.join(".claude")).unwrap();
    fs::create_dir_all(repo.join(".gemini")).unwrap();
    fs::write(repo.join(".claude/settings.json"), claude).unwrap();
    fs::write(repo.join(".gemini/settings.json"), gemini).unwrap();

    let project = ["--agent", "claude-code", "--agent", "gemini", "--project"];
    stdout(enable_agent(&w, &repo, &project));
    let installed = read_json(&repo.join(".claude/settings.json"));
    assert_eq!(installed["model"], "opus");
    assert_eq!(installed["hooks"]["Stop"].as_array().unwrap().len(), 2, "theirs and ours");

    let out = stdout(w.entire(&repo).args(["disable", "--agent", "claude-code"]).output().unwrap());
    assert!(out.contains("claude-code: hooks removed from .claude/settings.json"), "{out}");
    assert_eq!(fs::read_to_string(repo.join(".claude/settings.json")).unwrap(), claude);
    assert!(read_json(&repo.join(".gemini/settings.json"))["hooks"]["AfterTool"].is_array(), "gemini kept");
    assert_eq!(w.json(&repo, &["status", "--json"])["hooks"]["post-commit"], "installed", "git hooks kept");

    stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert_eq!(fs::read_to_string(repo.join(".gemini/settings.json")).unwrap(), gemini);
}

#[test]
fn disable_deletes_a_settings_file_that_enable_created() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    assert!(repo.join(".claude/settings.local.json").is_file());
    stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert!(!repo.join(".claude").exists(), "the file and the directory made for it are gone");
}

#[test]
fn disable_after_user_edits_removes_only_ours() {
    let w = World::new();
    let repo = w.repo("r");
    fs::create_dir_all(repo.join(".gemini")).unwrap();
    fs::write(repo.join(".gemini/settings.json"), "{\"theme\": \"dark\"}").unwrap();
    stdout(enable_agent(&w, &repo, &["--agent", "gemini"]));
    let mut settings = read_json(&repo.join(".gemini/settings.json"));
    settings["model"] = "gemini-pro".into();
    settings["hooks"]["AfterTool"].as_array_mut().unwrap().push(serde_json::json!(
        {"matcher": "write_file", "hooks": [{"name": "lint", "type": "command", "command": "make lint"}]}
    ));
    fs::write(repo.join(".gemini/settings.json"), serde_json::to_vec_pretty(&settings).unwrap()).unwrap();

    stdout(w.entire(&repo).args(["disable", "--agent", "gemini"]).output().unwrap());
    let after = read_json(&repo.join(".gemini/settings.json"));
    assert_eq!(
        after,
        serde_json::json!({"theme": "dark", "model": "gemini-pro", "hooks": {"AfterTool": [
            {"matcher": "write_file", "hooks": [{"name": "lint", "type": "command", "command": "make lint"}]}
        ]}}),
        "our entries and the switch we turned on are gone, the user's edits stay"
    );
}

/// By default hooks go where git does not look: Claude's own local file,
/// or, for an agent without one, its project file kept out of git. With
/// `--project` they are committed, and their command names no path of
/// this machine and does nothing where entire is not installed.
#[test]
fn agent_hooks_stay_local_unless_project() {
    let w = World::new();
    let repo = w.repo("r");
    w.git(&repo, &["add", ".entire"]);
    w.git(&repo, &["commit", "-q", "-m", "entire"]);
    let out = stdout(enable_agent(&w, &repo, &["--agent", "claude-code", "--agent", "gemini"]));
    assert!(
        out.contains("claude-code: hooks installed in .claude/settings.local.json (not committed;"),
        "{out}"
    );
    assert!(!repo.join(".claude/settings.json").exists());
    assert_eq!(w.git(&repo, &["status", "--porcelain", "--untracked-files=all"]), "", "git sees nothing new");
    assert_eq!(w.json(&repo, &["status", "--json"])["agent_hooks"]["claude-code"], true);
    let exclude = || fs::read_to_string(repo.join(".git/info/exclude")).unwrap();
    assert!(exclude().lines().any(|l| l == "/.gemini/settings.json"), "{}", exclude());

    // A project file git tracks cannot be made local: say so, change nothing.
    stdout(w.entire(&repo).args(["disable", "--agent", "gemini"]).output().unwrap());
    assert!(!exclude().contains("/.gemini/settings.json"), "disable takes back the line enable added");
    fs::create_dir_all(repo.join(".gemini")).unwrap();
    fs::write(repo.join(".gemini/settings.json"), "{}\n").unwrap();
    w.git(&repo, &["add", "-f", ".gemini/settings.json"]);
    w.git(&repo, &["commit", "-q", "-m", "gemini settings"]);
    let out = enable_agent(&w, &repo, &["--agent", "gemini"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".gemini/settings.json is committed") && stderr.contains("--project"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(repo.join(".gemini/settings.json")).unwrap(), "{}\n");

    stdout(enable_agent(&w, &repo, &["--agent", "claude-code", "--project"]));
    let settings = fs::read_to_string(repo.join(".claude/settings.json")).unwrap();
    assert!(!settings.contains(w.path().to_str().unwrap()), "no path of this machine: {settings}");
    let command = read_json(&repo.join(".claude/settings.json"))["hooks"]["Stop"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap()
        .to_owned();
    // A teammate without entire: the agent's write succeeds, the hook does nothing.
    let mut hook = w.cmd("sh", &repo);
    hook.args(["-c", &command]).env("PATH", "/usr/bin:/bin").stdin(std::process::Stdio::piped());
    let mut child =
        hook.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&vec![b'x'; 1 << 20]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    // With entire on PATH it runs: the Stop of a session the agent hook makes.
    let bin_dir = crate::support::entire_bin().parent().unwrap().to_owned();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let payload = r#"{"session_id":"teammate-1","cwd":"/"}"#;
    let mut hook = w.cmd("sh", &repo);
    hook.args(["-c", &command]).env("PATH", path).stdin(std::process::Stdio::piped());
    let mut child = hook.spawn().unwrap();
    child.stdin.take().unwrap().write_all(payload.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(record(&repo, "teammate-1")["agent"], "claude-code");
}

#[test]
fn invalid_settings_are_left_untouched_with_an_error() {
    let w = World::new();
    let repo = w.plain_repo("r");
    fs::create_dir_all(repo.join(".claude")).unwrap();
    let broken = "{\"hooks\": {\"Stop\": [ // a comment\n";
    fs::write(repo.join(".claude/settings.json"), broken).unwrap();

    let out = enable_agent(&w, &repo, &["--agent", "claude-code", "--project"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("entire: error:") && stderr.contains(".claude/settings.json"), "{stderr}");
    assert!(stderr.contains("\ncaused by: it is not valid JSON"), "the cause on a line of its own: {stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert_eq!(fs::read_to_string(repo.join(".claude/settings.json")).unwrap(), broken);
    assert!(!repo.join(".entire").exists(), "nothing was enabled halfway");

    // disable leaves a broken file alone when nothing in it is ours
    stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert_eq!(fs::read_to_string(repo.join(".claude/settings.json")).unwrap(), broken);
}

#[test]
fn hostile_payloads_are_ignored_with_one_warning() {
    let w = World::new();
    let repo = w.repo("r");
    let good = r#""session_id":"good-session","cwd":"/""#;
    let cases = [
        ("session-start", "not json at all".to_owned()),
        ("session-start", "{}".to_owned()),
        ("session-start", r#"{"session_id": 42}"#.to_owned()),
        ("session-start", r#"{"session_id":"../../escape"}"#.to_owned()),
        ("session-start", r#"{"session_id":"a/b"}"#.to_owned()),
        ("no-such-event", format!("{{{good}}}")),
        (
            "post-tool-use",
            format!(r#"{{{good},"tool_name":"Write","tool_input":{{"file_path":"/etc/passwd"}}}}"#),
        ),
        ("post-tool-use", format!(r#"{{{good},"tool_name":"Edit","tool_input":{{"file_path":"../../x"}}}}"#)),
        ("user-prompt-submit", format!(r#"{{{good},"transcript_path":"relative.jsonl"}}"#)),
        ("user-prompt-submit", format!(r#"{{{good},"transcript_path":"/etc/shadow"}}"#)),
    ];
    for (event, payload) in &cases {
        let out = run_hook(&w, &repo, "claude-code", event, payload);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{payload}: {stderr}");
        assert!(out.stdout.is_empty(), "{payload}");
        assert_eq!(stderr.lines().filter(|l| l.starts_with("entire: ")).count(), 1, "{payload}: {stderr}");
    }
    let all = records(&repo);
    assert_eq!(all.len(), 1, "only the well-formed session: {all:#?}");
    assert_eq!(all[0]["session_id"], "good-session");
    assert_eq!(all[0]["files_touched"], serde_json::json!([]));
    assert!(all[0]["transcript_path"].is_null());
    assert!(!repo.join("escape.json").exists() && !repo.join(".git/escape.json").exists());
}

#[test]
fn a_payload_cannot_take_over_a_launcher_session() {
    let w = World::new();
    let repo = w.repo("r");
    let launched = w.agent(&repo, "alpha");
    // Outside the launcher's process tree, naming the launcher's session.
    let payload = format!(r#"{{"session_id":"{}","prompt":"hijack"}}"#, launched.session_id);
    let out = run_hook(&w, &repo, "claude-code", "user-prompt-submit", &payload);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not own"));
    let session = record(&repo, &launched.session_id);
    assert_eq!(session["source"], "launcher");
    assert!(session["first_prompt"].is_null());
    assert!(session["agent_session_id"].is_null());
    launched.stop();
}

#[test]
fn hooks_do_nothing_where_entire_is_not_enabled() {
    let w = World::new();
    let repo = w.plain_repo("r");
    let out = run_hook(&w, &repo, "gemini", "session-start", r#"{"session_id":"s1"}"#);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert!(!repo.join(".git/entire-sessions").exists());
}

/// Gemini CLI runs every shell command with `core.hooksPath=""`: the git
/// hooks never see its commits, so its own hooks link them afterwards.
#[test]
fn gemini_commits_without_git_hooks_are_linked_post_hoc() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "gemini"]));
    let body = r#"
hook SessionStart '"source":"startup"'
hook BeforeAgent '"prompt":"add a feature"'
echo feature > feature.txt
hook AfterTool "\"tool_name\":\"write_file\",\"tool_input\":{\"file_path\":\"feature.txt\",\"content\":\"feature\"}"
git add feature.txt
git -c core.hooksPath= commit -q -m "feature by gemini"
hook AfterTool '"tool_name":"run_shell_command","tool_input":{"command":"git commit"}'
hook AfterAgent '"prompt":"add a feature","prompt_response":"done"'
pause
hook BeforeAgent '"prompt":"now the docs"'
hook AfterTool '"tool_name":"read_file","tool_input":{"file_path":"README"}'
hook AfterAgent '"prompt":"now the docs","prompt_response":"nothing to do"'
hook SessionEnd '"reason":"exit"'
"#;
    let agent = FakeAgent::new(&w, "fake-gemini", &repo.join(".gemini/settings.json"), "bash", body);
    let transcript = w.path().join("session-1.json");
    let agent = Paused::start(agent.alone(&w, &repo, "gemini-session-1", &transcript), w.path().join("go"));
    // Between two turns the user commits: that commit is not the agent's.
    fs::write(repo.join("mine.txt"), "mine\n").unwrap();
    w.git(&repo, &["add", "mine.txt"]);
    w.git(&repo, &["-c", "core.hooksPath=", "commit", "-q", "-m", "by the user"]);
    agent.resume();

    let sha = sha_of(&w, &repo, "feature by gemini");
    assert_eq!(checkpoint_of(&w, &repo, &sha), None, "no git hook ran, no trailer");
    let session = record(&repo, "gemini-session-1");
    assert_eq!(session["source"], "agent-hook");
    assert_eq!(session["agent"], "gemini");
    assert_eq!(session["first_prompt"], "add a feature");
    assert_eq!(session["files_touched"], serde_json::json!(["feature.txt"]));
    assert_eq!(checkpoints(&session), [(sha.clone(), "post-hoc".to_owned())], "only the agent's commit");

    let explained = w.json(&repo, &["explain", "--commit", &sha, "--json"]);
    assert_eq!(explained["commit"], sha.as_str());
    let found = &explained["checkpoints"][0];
    assert_eq!(found["session_id"], "gemini-session-1");
    assert_eq!(found["resolved_by"], "post-hoc");
    assert_eq!(found["linked"], "post-hoc");
    assert_eq!(found["agent_session_id"], "gemini-session-1");
}

#[test]
fn a_commit_seen_by_two_gemini_sessions_is_linked_once() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "gemini"]));
    let body = r#"
hook SessionStart '"source":"startup"'
pause
if [ -n "$COMMIT" ]; then
    echo work > work.txt && git add work.txt && git -c core.hooksPath= commit -q -m "by $SID"
fi
hook AfterTool '"tool_name":"run_shell_command","tool_input":{"command":"git commit"}'
"#;
    let agent = FakeAgent::new(&w, "fake-gemini", &repo.join(".gemini/settings.json"), "bash", body);
    let transcript = w.path().join("t.json");
    let mut committer = agent.alone(&w, &repo, "committer", &transcript);
    committer.env("COMMIT", "1");
    let committer = Paused::start(committer, w.path().join("go-committer"));
    let bystander =
        Paused::start(agent.alone(&w, &repo, "bystander", &transcript), w.path().join("go-bystander"));
    committer.resume();
    bystander.resume(); // HEAD moved since its last look too

    let sha = sha_of(&w, &repo, "by committer");
    assert_eq!(checkpoints(&record(&repo, "committer")), [(sha.clone(), "post-hoc".to_owned())]);
    assert_eq!(checkpoints(&record(&repo, "bystander")), []);
    let explained = w.json(&repo, &["explain", "--commit", &sha, "--json"]);
    assert_eq!(explained["checkpoints"].as_array().unwrap().len(), 1, "{explained:#}");
}

/// Codex installs no hooks and may strip `ENTIRE_SESSION_ID` from its tool
/// commands (`shell_environment_policy.inherit = "core"`); its git runs
/// under `codex` ← `node` ← launcher, so the PID chain finds the session.
#[test]
fn codex_commits_without_the_session_variable_resolve_by_pid() {
    let w = World::new();
    let repo = w.repo("r");
    let bin = w.path().join("codex-bin");
    fs::create_dir_all(&bin).unwrap();
    script(
        &bin.join("codex"),
        "#!/bin/sh\necho codex > codex.txt\ngit add codex.txt\nenv -u ENTIRE_SESSION_ID git commit -q -m 'by codex'\n",
    );
    // The npm wrapper: a `node` process that runs the native binary.
    script(&bin.join("node"), &format!("#!/bin/sh\n{}/codex \"$@\"\n", bin.display()));
    stdout(w.entire(&repo).args(["run", "--agent", "codex", "--"]).arg(bin.join("node")).output().unwrap());

    let all = records(&repo);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["agent"], "codex");
    let sha = sha_of(&w, &repo, "by codex");
    assert!(checkpoint_of(&w, &repo, &sha).is_some());
    assert_eq!(checkpoints(&all[0]), [(sha, "pid".to_owned())]);
}

/// A plain agent (no launcher) whose hooks ran with a state directory the
/// commit cannot know of, committing with its environment cleared: the
/// hook-made session is in the repository's index of live sessions.
#[test]
fn a_hook_made_session_is_found_by_pid_when_the_commit_env_is_stripped() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    let body = r#"
hook SessionStart '"source":"startup"'
echo work > "$SID.txt"
git add "$SID.txt"
env -i PATH="$PATH" HOME="$HOME" git commit -q -m "work of $SID"
hook SessionEnd '"reason":"other"'
"#;
    let agent = FakeAgent::new(&w, "fake-claude", &repo.join(".claude/settings.local.json"), "sh", body);
    let transcript = w.path().join("t.jsonl");
    let mut cmd = agent.alone(&w, &repo, "hook-session", &transcript);
    cmd.env("ENTIRE_STATE_DIR", w.path().join("state-elsewhere"));
    stdout(cmd.output().unwrap());

    let sha = sha_of(&w, &repo, "work of hook-session");
    // explain first: it writes what post-commit handed off.
    let explained = w.json(&repo, &["explain", "--commit", &sha, "--json"]);
    assert_eq!(explained["checkpoints"][0]["resolution"]["found_in"], "repo-index", "{explained:#}");
    let session = record(&repo, "hook-session");
    assert_eq!(session["source"], "agent-hook");
    assert_eq!(checkpoints(&session), [(sha, "pid".to_owned())]);
    assert!(!repo.join(".git/entire-sessions/live/hook-session.json").exists(), "SessionEnd unindexed it");
}

/// A Claude started by another session's agent, without a launcher of its
/// own, inherits `ENTIRE_SESSION_ID`: its hooks make a child session
/// instead of writing into the outer one, and its commits go to it by PID
/// (the nearest owner), the inherited variable noted as rejected. The outer
/// session keeps its own agent session ID, prompt and commit.
#[test]
fn a_nested_agent_gets_a_child_session_and_its_own_commits() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    let settings = repo.join(".claude/settings.local.json");
    let inner = FakeAgent::new(&w, "fake-inner", &settings, "sh", CLAUDE_WORK);
    let outer_body = r#"
hook SessionStart '"source":"startup"'
hook UserPromptSubmit '"prompt":"outer work"'
SID=inner-session "$INNER"
echo outer > outer.txt && git add outer.txt && git commit -q -m "work of outer-session"
hook Stop '"stop_hook_active":false'
"#;
    let outer = FakeAgent::new(&w, "fake-outer", &settings, "sh", outer_body);
    let transcript = w.path().join("t.jsonl");
    let mut cmd = outer.launched(&w, &repo, "outer-session", &transcript);
    let out = cmd.env("INNER", &inner.script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let all = records(&repo);
    let launched = all.iter().find(|r| r["source"] == "launcher").expect("the launcher's session");
    assert_eq!(launched["agent_session_id"], "outer-session", "{launched:#}");
    assert_eq!(launched["first_prompt"], "outer work");
    let outer_sha = sha_of(&w, &repo, "work of outer-session");
    assert_eq!(checkpoints(launched), [(outer_sha, "env".to_owned())]);

    let child = record(&repo, "inner-session");
    assert_eq!(child["source"], "agent-hook");
    assert_eq!(child["parent_session_id"], launched["session_id"]);
    assert_eq!(child["first_prompt"], "Fix the bug, please");
    let inner_sha = sha_of(&w, &repo, "work of inner-session");
    assert_eq!(checkpoints(&child), [(inner_sha.clone(), "pid".to_owned())]);
    let explained = w.json(&repo, &["explain", "--commit", &inner_sha, "--json"]);
    assert_eq!(explained["checkpoints"][0]["resolution"]["env_rejected"], "nearer-owner", "{explained:#}");
    assert_eq!(all.len(), 2, "{all:#?}");
}

/// `entire run -- npx claude`: the agent is a grandchild of the launcher,
/// behind a wrapper; its hooks still report into the launcher's session.
#[test]
fn an_agent_behind_a_wrapper_reports_into_the_launchers_session() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(enable_agent(&w, &repo, &["--agent", "claude-code"]));
    let agent =
        FakeAgent::new(&w, "fake-claude", &repo.join(".claude/settings.local.json"), "sh", CLAUDE_WORK);
    let npx = w.path().join("npx");
    script(&npx, &format!("#!/bin/sh\n{} \"$@\"\n", agent.script.display()));
    let transcript = w.path().join("t.jsonl");
    let mut cmd = agent.command(w.entire(&repo), "wrapped-session", &transcript);
    let out = cmd.arg("run").arg("--").arg(&npx).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let all = records(&repo);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["source"], "launcher");
    assert_eq!(all[0]["agent_session_id"], "wrapped-session");
    let sha = sha_of(&w, &repo, "work of wrapped-session");
    assert_eq!(checkpoints(&all[0]), [(sha, "env".to_owned())]);
}

/// Two Gemini sessions, each in a tool call when one of them commits. A
/// shell call in each: nothing tells them apart, so the commit is linked
/// to neither, and the hook says so. The other's call a file read: it
/// cannot have committed, and the committer's session gets the commit.
#[test]
fn overlapping_gemini_sessions_link_a_commit_only_when_the_evidence_tells() {
    let body = r#"
hook SessionStart '"source":"startup"'
hook BeforeAgent '"prompt":"work"'
hook BeforeTool "\"tool_name\":\"$TOOL\",\"tool_input\":{}"
pause
if [ -n "$COMMIT" ]; then
    echo work > work.txt && git add work.txt && git -c core.hooksPath= commit -q -m "by $SID"
fi
hook AfterTool "\"tool_name\":\"$TOOL\",\"tool_input\":{}"
hook AfterAgent '"prompt":"work"'
hook SessionEnd '"reason":"exit"'
"#;
    for (other_tool, linked) in [("run_shell_command", false), ("read_file", true)] {
        let w = World::new();
        let repo = w.repo("r");
        stdout(enable_agent(&w, &repo, &["--agent", "gemini"]));
        let agent = FakeAgent::new(&w, "fake-gemini", &repo.join(".gemini/settings.json"), "bash", body);
        let transcript = w.path().join("t.json");
        let stderr = w.path().join("committer.stderr");
        let mut committer = agent.alone(&w, &repo, "committer", &transcript);
        committer.env("COMMIT", "1").env("TOOL", "run_shell_command");
        committer.stderr(fs::File::create(&stderr).unwrap());
        let committer = Paused::start(committer, w.path().join("go-committer"));
        let mut other = agent.alone(&w, &repo, "other", &transcript);
        other.env("TOOL", other_tool);
        let other = Paused::start(other, w.path().join("go-other"));
        committer.resume();
        other.resume();

        let sha = sha_of(&w, &repo, "by committer");
        let explained = w.json(&repo, &["explain", "--commit", &sha, "--json"]);
        let said = fs::read_to_string(&stderr).unwrap();
        assert_eq!(checkpoints(&record(&repo, "other")), [], "{other_tool}");
        if linked {
            assert_eq!(checkpoints(&record(&repo, "committer")), [(sha.clone(), "post-hoc".to_owned())]);
            assert_eq!(explained["checkpoints"].as_array().unwrap().len(), 1, "{explained:#}");
            assert!(!said.contains("no checkpoint"), "{said}");
        } else {
            assert_eq!(checkpoints(&record(&repo, "committer")), [], "{said}");
            assert_eq!(explained["checkpoints"], serde_json::json!([]));
            let line = format!(
                "entire: no checkpoint for commit {}: sessions committer, other each had a tool call running when it was made\n",
                &sha[..12]
            );
            assert_eq!(said.matches("entire:").count(), 1, "{said}");
            assert!(said.contains(&line), "{said}");
        }
    }
}
