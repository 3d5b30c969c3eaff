//! The real agents, end to end: Claude Code, Codex, Gemini CLI, opencode and Copilot CLI, at the
//! versions pinned in tests/agents/package.json (`scripts/install-agents`
//! installs them into tests/agents/node_modules). Each one talks to a mock
//! model server on loopback (tests/agents/mock_model.py) that answers the
//! first turn with a shell tool call (`git commit …`) and the next with a
//! final text, so the agent makes the commit itself, with its own process
//! tree, environment filtering and hooks; the mock can hold a turn until
//! the test lets it go, which orders concurrent agents without sleeping. Nothing leaves the machine: every
//! agent gets a temp HOME and config dir, telemetry and updates off.
//!
//! The tests that run an agent are ignored by plain `cargo test` (they need
//! node >= 22, python3 and the pinned CLIs); `scripts/test` installs those
//! and runs them. Run without the CLIs, they fail saying what is missing.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{World, checkpoint_of, stdout, wait_for};

/// How long one agent run may take before the test fails (and kills it).
const AGENT_TIMEOUT: Duration = Duration::from_secs(120);

fn agents_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agents")
}

/// The installed CLI `bin` of npm package `package`, at the pinned
/// version; the test fails, saying how to install it, when it is not there.
fn cli(bin: &str, package: &str) -> PathBuf {
    let read = |path: PathBuf| -> Option<Value> { serde_json::from_slice(&std::fs::read(path).ok()?).ok() };
    let pinned = read(agents_dir().join("package.json")).expect("tests/agents/package.json");
    let pinned = pinned["dependencies"][package].as_str().expect("the package is pinned").to_owned();
    let installed = read(agents_dir().join("node_modules").join(package).join("package.json"));
    let path = agents_dir().join("node_modules/.bin").join(bin);
    let problem = match installed.as_ref().and_then(|p| p["version"].as_str()) {
        None => format!("{package} is not installed"),
        Some(v) if v != pinned => format!("{package} {v} is installed, {pinned} is pinned"),
        Some(_) if !path.exists() => format!("{} is missing", path.display()),
        Some(_) => return path,
    };
    panic!("{problem}: scripts/test installs it (or scripts/install-agents)");
}

fn claude() -> PathBuf {
    cli("claude", "@anthropic-ai/claude-code")
}
fn codex() -> PathBuf {
    cli("codex", "@openai/codex")
}
fn gemini() -> PathBuf {
    cli("gemini", "@google/gemini-cli")
}

/// The mock model server, one per agent process: its `--command` is what
/// that agent commits with. Events (`write`, `tool`, `final`, `hold <turn>`) arrive
/// on a channel; `release` lets a held turn go on.
struct Mock {
    child: Child,
    port: u16,
    events: Receiver<String>,
    stdin: ChildStdin,
    log: PathBuf,
}

impl Mock {
    fn start(w: &World, name: &str, command: &str, hold: &[&str]) -> Mock {
        Mock::start_writing(w, name, None, command, hold)
    }

    /// The same, with a file write (the agent's file tool) before the
    /// shell command.
    fn start_writing(w: &World, name: &str, write: Option<&Path>, command: &str, hold: &[&str]) -> Mock {
        let log = w.path().join(format!("mock-{name}.log"));
        let mut cmd = Command::new("python3");
        cmd.arg(agents_dir().join("mock_model.py")).args(["--command", command, "--log"]).arg(&log);
        if let Some(path) = write {
            cmd.arg("--write").arg(path);
        }
        let mut child = cmd
            .args(["--hold", &hold.join(",")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the mock model server");
        let (tx, events) = channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut mock = Mock { child, port: 0, events, stdin, log };
        let first = mock.next();
        mock.port = first.strip_prefix("port ").and_then(|p| p.parse().ok()).expect(&first);
        mock
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn next(&self) -> String {
        match self.events.recv_timeout(AGENT_TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("the mock model heard nothing for {AGENT_TIMEOUT:?}; {}", self.tail())
            }
            Err(RecvTimeoutError::Disconnected) => panic!("the mock model server ended; {}", self.tail()),
        }
    }

    /// The next event must be `event`.
    fn expect(&self, event: &str) {
        let got = self.next();
        assert_eq!(got, event, "mock model event; {}", self.tail());
    }

    fn release(&mut self) {
        writeln!(self.stdin).unwrap();
    }

    fn tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(6)..].join("\n");
        format!("request log {} ends:\n{tail}", self.log.display())
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An agent run in a process group of its own, killed whole (and the test
/// failed) if it outlives `AGENT_TIMEOUT`, or when the test fails first.
struct Running {
    pid: u32,
    what: String,
    done: Option<Receiver<Output>>,
}

impl Running {
    fn spawn(mut cmd: Command, what: &str) -> Running {
        cmd.process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
        let pid = child.id();
        let (tx, done) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output().unwrap());
        });
        Running { pid, what: what.to_owned(), done: Some(done) }
    }

    /// Waits for it to exit; asserts it succeeded; returns its stdout.
    fn finish(mut self) -> String {
        let done = self.done.take().unwrap();
        let out = match done.recv_timeout(AGENT_TIMEOUT) {
            Ok(out) => out,
            Err(_) => {
                kill_group(self.pid);
                panic!("{} did not finish within {AGENT_TIMEOUT:?}", self.what)
            }
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            out.status.success(),
            "{} failed ({}):\nstdout: {}\nstderr: {}",
            self.what,
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.done.is_some() {
            kill_group(self.pid);
        }
    }
}

fn kill_group(pid: u32) {
    let _ =
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
}

fn run(cmd: Command, what: &str) -> String {
    Running::spawn(cmd, what).finish()
}

/// The install scripts, the test command and the CI entry point.
#[test]
#[ignore = "needs shellcheck: run scripts/test"]
fn install_agents_and_ci_scripts_pass_shellcheck() {
    let w = World::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for script in ["scripts/install-agents", "scripts/test", ".ci/run"] {
        stdout(w.cmd("shellcheck", root).arg(script).output().expect("run shellcheck"));
    }
}

// ------------------------------------------------------------ agent setup

const CLAUDE_KEY: &str = "sk-entire-test-0123456789abcdef";

/// Claude Code pointed at `mock`, with its own config dir in the world.
/// `.claude.json` skips the first-run screens (onboarding, which checks
/// api.anthropic.com; the custom-key question; folder trust).
fn claude_env(w: &World, cmd: &mut Command, mock: &Mock, repo: &Path) {
    let config = w.path().join("claude-config");
    std::fs::create_dir_all(&config).unwrap();
    let state = json!({
        "hasCompletedOnboarding": true,
        "customApiKeyResponses": {"approved": [&CLAUDE_KEY[CLAUDE_KEY.len() - 20..]], "rejected": []},
        "projects": {repo.to_str().unwrap(): {"hasTrustDialogAccepted": true}},
    });
    std::fs::write(config.join(".claude.json"), state.to_string()).unwrap();
    cmd.env("CLAUDE_CONFIG_DIR", &config)
        .env("ANTHROPIC_BASE_URL", mock.url())
        .env("ANTHROPIC_API_KEY", CLAUDE_KEY)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1");
}

/// `claude -p <prompt>`, Bash allowed, the result as JSON on stdout.
fn claude_print(cmd: &mut Command, claude: &Path, prompt: &str) {
    cmd.arg(claude).args(["-p", prompt, "--allowedTools", "Bash Write", "--output-format", "json"]);
}

/// Claude's own session ID, from its `--output-format json` result.
fn claude_session_id(out: &str) -> String {
    let result: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    result["session_id"].as_str().unwrap_or_else(|| panic!("{result:#}")).to_owned()
}

/// Codex pointed at `mock` through a `model_providers` entry; no update
/// check, analytics, plugins or apps (their sync looks up api.github.com
/// and chatgpt.com). The launcher's state dir is relocated
/// (`ENTIRE_STATE_DIR`, which `inherit = "core"` strips from the commit's
/// environment): the hook must find the session without it.
fn codex_env(w: &World, cmd: &mut Command, mock: &Mock, name: &str) {
    let home = w.path().join(format!("codex-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    let config = format!(
        "model = \"mock-model\"\nmodel_provider = \"mock\"\ncheck_for_update_on_startup = false\n\
         [analytics]\nenabled = false\n[features]\nplugins = false\napps = false\n\
         [model_providers.mock]\nname = \"mock\"\nbase_url = \"{}/v1\"\nwire_api = \"responses\"\n\
         env_key = \"MOCK_API_KEY\"\n",
        mock.url()
    );
    std::fs::write(home.join("config.toml"), config).unwrap();
    cmd.env("CODEX_HOME", &home).env("MOCK_API_KEY", "test");
}

fn codex_exec(cmd: &mut Command, codex: &Path, extra: &[&str], prompt: &str) {
    cmd.arg(codex).arg("exec").args(extra).args(["--dangerously-bypass-approvals-and-sandbox", prompt]);
}

/// Gemini CLI pointed at `mock`, API-key auth, no telemetry, no update
/// check, folder trust off (else it drops yolo mode).
fn gemini_env(w: &World, cmd: &mut Command, mock: &Mock) {
    let settings = json!({
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": false}},
        "privacy": {"usageStatisticsEnabled": false},
        "telemetry": {"enabled": false},
        "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
    });
    let dir = w.path().join("home/.gemini");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
    cmd.env("GOOGLE_GEMINI_BASE_URL", mock.url()).env("GEMINI_API_KEY", "test");
}

// ------------------------------------------------------------ what is checked

/// A commit and who owns it, as `entire explain` and `entire sessions`
/// tell it.
struct Owned {
    sha: String,
    /// The checkpoint's metadata (`explain --commit --json`).
    checkpoint: Value,
    /// The owning session's record (`sessions --all --json`).
    session: Value,
}

/// The commit with `subject`, which must have exactly one checkpoint, and
/// the session whose record lists it with the same `resolved_by`.
fn owned(w: &World, repo: &Path, subject: &str) -> Owned {
    let log = w.git(repo, &["log", "--format=%H %s"]);
    let sha = log
        .lines()
        .find_map(|l| l.strip_suffix(&format!(" {subject}")))
        .unwrap_or_else(|| panic!("no commit {subject:?}:\n{log}"))
        .to_owned();
    let explained = w.json(repo, &["explain", "--commit", &sha, "--json"]);
    let checkpoints = explained["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 1, "{subject}: {explained:#}");
    let checkpoint = checkpoints[0].clone();
    let sessions = w.json(repo, &["sessions", "--all", "--json"]);
    let session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["checkpoints"].as_array().unwrap().iter().any(|c| c["commit"] == sha.as_str()))
        .unwrap_or_else(|| panic!("no session lists {subject}: {sessions:#}"))
        .clone();
    let listed =
        session["checkpoints"].as_array().unwrap().iter().find(|c| c["commit"] == sha.as_str()).unwrap();
    assert_eq!(listed["checkpoint_id"], checkpoint["checkpoint_id"]);
    assert_eq!(listed["resolved_by"], checkpoint["resolved_by"]);
    assert_eq!(session["session_id"], checkpoint["session_id"]);
    assert_eq!(session["agent"], checkpoint["agent"]);
    Owned { sha, checkpoint, session }
}

/// `session` as `sessions --json` shows it in a shell where the agent's
/// own directory variable is set, as in the user's: entire reads
/// transcripts only under the agent's directories.
fn session_seen_with(w: &World, repo: &Path, session: &Value, var: &str, value: &Path) -> Value {
    let mut cmd = w.entire(repo);
    cmd.args(["sessions", "--all", "--json"]).env(var, value);
    let all: Value = serde_json::from_str(&stdout(cmd.output().unwrap())).unwrap();
    let found = all.as_array().unwrap().iter().find(|s| s["session_id"] == session["session_id"]);
    found.unwrap_or_else(|| panic!("{all:#}")).clone()
}

impl Owned {
    fn assert(&self, agent: &str, resolved_by: &str) {
        assert_eq!(self.checkpoint["agent"], agent, "{:#}", self.checkpoint);
        assert_eq!(self.checkpoint["resolved_by"], resolved_by, "{:#}", self.checkpoint);
    }

    /// The transcript copy in the checkpoint: non-empty JSON lines that
    /// the agent's transcript (which grows after the commit) starts with.
    fn assert_transcript_copied(&self, w: &World, repo: &Path) {
        let transcript = self.session["transcript_path"].as_str().expect("a transcript path");
        let id = self.checkpoint["checkpoint_id"].as_str().unwrap();
        let at = |file: &str| format!("entire/checkpoints/v1:{}/{}/{file}", &id[..2], &id[2..]);
        let shown = w.cmd("git", repo).args(["show", &at("0/full.jsonl")]).output().unwrap();
        if !shown.status.success() {
            // Why not, as the writer recorded it (`transcript_skipped`).
            let metadata = w.git(repo, &["show", &at("metadata.json")]);
            panic!("no transcript copy in checkpoint {id}: {metadata}\nsession: {:#}", self.session);
        }
        let copy = stdout(shown);
        assert!(!copy.is_empty(), "the transcript was copied");
        for line in copy.lines() {
            serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
        let full = std::fs::read_to_string(transcript).unwrap();
        assert!(full.starts_with(&copy), "the copy is the transcript as it was at the commit");
    }
}

/// A shell command for the mock model: change `file`, commit as `subject`.
fn commit_command(file: &str, subject: &str) -> String {
    format!("echo {file} >> {file} && git add {file} && git commit -q -m '{subject}'")
}

/// Two agents live at once, each started by `start(name)` and held by its
/// mock before its shell call: "newer" (started second) commits first and
/// stays live, held before its final turn; then "older" commits, while
/// "newer" is the most recently active. Then both finish. Returns (name,
/// PID, stdout) of older and newer.
fn older_commits_last(start: impl Fn(&str) -> (Mock, Running)) -> [(&'static str, u32, String); 2] {
    let (mut older_mock, older) = start("older");
    let (mut newer_mock, newer) = start("newer");
    for mock in [&mut newer_mock, &mut older_mock] {
        mock.release();
        mock.expect("tool");
        mock.expect("hold final");
    }
    for mock in [&mut older_mock, &mut newer_mock] {
        mock.release();
        mock.expect("final");
    }
    let (older_pid, newer_pid) = (older.pid, newer.pid);
    [("older", older_pid, older.finish()), ("newer", newer_pid, newer.finish())]
}

// ------------------------------------------------------------ Claude Code

/// `entire run -- claude -p`: the git hook finds `ENTIRE_SESSION_ID` in
/// the Bash tool's environment. With the agent hooks installed, the same
/// session also gets Claude's own session ID, prompt and transcript.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn claude_print_under_the_launcher_is_attributed_by_env() {
    let claude = claude();
    let w = World::new();
    let repo = w.repo("r");

    let mock = Mock::start(&w, "plain", &commit_command("one.txt", "claude, git hooks only"), &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]);
    claude_print(&mut cmd, &claude, "Commit one.txt");
    claude_env(&w, &mut cmd, &mock, &repo);
    run(cmd, "entire run -- claude -p");
    mock.expect("tool");
    mock.expect("final");
    let first = owned(&w, &repo, "claude, git hooks only");
    first.assert("claude-code", "env");
    assert_eq!(first.session["source"], "launcher");
    assert!(first.session["agent_session_id"].is_null(), "no agent hooks, no Claude session ID");

    stdout(w.entire(&repo).args(["enable", "--agent", "claude-code"]).output().unwrap());
    let notes = repo.join("notes.txt");
    let commit = format!("git add notes.txt && {}", commit_command("two.txt", "claude with its hooks"));
    let mock = Mock::start_writing(&w, "hooks", Some(&notes), &commit, &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]);
    claude_print(&mut cmd, &claude, "Commit   two.txt\nplease");
    claude_env(&w, &mut cmd, &mock, &repo);
    let out = run(cmd, "entire run -- claude -p, with agent hooks");
    let claude_sid = claude_session_id(&out);
    mock.expect("write");
    mock.expect("tool");
    mock.expect("final");
    let second = owned(&w, &repo, "claude with its hooks");
    second.assert("claude-code", "env");
    assert_ne!(second.session["session_id"], first.session["session_id"]);
    assert_eq!(second.session["source"], "launcher");
    assert_eq!(second.session["agent_session_id"], claude_sid.as_str());
    assert_eq!(second.checkpoint["agent_session_id"], claude_sid.as_str());
    assert_eq!(second.session["first_prompt"], "Commit two.txt please");
    assert_eq!(second.session["files_touched"], json!(["notes.txt"]), "from the Write tool's PostToolUse");
    assert_eq!(second.checkpoint["files_changed"], json!(["notes.txt", "two.txt"]));
    let transcript = second.session["transcript_path"].as_str().unwrap();
    assert!(
        transcript.starts_with(w.path().join("claude-config/projects").to_str().unwrap())
            && transcript.ends_with(&format!("/{claude_sid}.jsonl")),
        "{transcript}"
    );
    second.assert_transcript_copied(&w, &repo);
    assert!(second.session["ended_at"].is_string(), "the launcher ended it");
    // Tokens from Claude's own transcript: the mock answers each of the
    // three turns (write, shell, final) with 10 input and 5 output tokens.
    let seen =
        session_seen_with(&w, &repo, &second.session, "CLAUDE_CONFIG_DIR", &w.path().join("claude-config"));
    assert_eq!(seen["tokens"], json!({"input": 30, "output": 15, "cache_read": 0, "cache_write": 0}));
    assert_eq!(seen["models"].as_array().map(Vec::len), Some(1), "{seen:#}");
}

/// Plain `claude -p`, no launcher: the hooks `enable --project` commits in
/// `.claude/settings.json` (entire found on PATH) make the session (ID = Claude's), and the git hook finds it by
/// walking up to the `claude` process.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn plain_claude_with_project_hooks_is_attributed_by_pid() {
    let claude = claude();
    let w = World::new();
    let repo = w.repo("r");
    stdout(w.entire(&repo).args(["enable", "--agent", "claude-code", "--project"]).output().unwrap());
    let mock = Mock::start(&w, "plain", &commit_command("a.txt", "plain claude"), &[]);
    let mut cmd = w.cmd(&claude, &repo);
    cmd.args(["-p", "Commit a.txt", "--allowedTools", "Bash", "--output-format", "json"]);
    claude_env(&w, &mut cmd, &mock, &repo);
    put_entire_on_path(&mut cmd);
    let agent = Running::spawn(cmd, "claude -p");
    let pid = agent.pid;
    let claude_sid = claude_session_id(&agent.finish());

    let owned = owned(&w, &repo, "plain claude");
    owned.assert("claude-code", "pid");
    assert!(owned.checkpoint["resolution"]["depth"].is_number(), "{:#}", owned.checkpoint);
    assert_eq!(owned.session["source"], "agent-hook");
    assert_eq!(owned.session["session_id"], claude_sid.as_str());
    assert_eq!(owned.session["agent_session_id"], claude_sid.as_str());
    assert_eq!(owned.session["agent_pid"], pid, "the claude process itself");
    assert_eq!(owned.session["first_prompt"], "Commit a.txt");
    assert!(owned.session["ended_at"].is_string(), "SessionEnd ended it");
    owned.assert_transcript_copied(&w, &repo);
}

/// The committed hooks find entire on PATH, as a teammate's would.
fn put_entire_on_path(cmd: &mut Command) {
    let bin_dir = crate::support::entire_bin().parent().unwrap().to_owned();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    );
    cmd.env("PATH", path.unwrap());
}

/// The seed case: two plain `claude` processes live at once in one repo;
/// the older commits last, when the newer one is the most recently active.
/// Each commit goes to its own Claude session, by PID.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn two_live_plain_claudes_each_own_their_commit() {
    let claude = claude();
    let w = World::new();
    let repo = w.repo("r");
    stdout(w.entire(&repo).args(["enable", "--agent", "claude-code"]).output().unwrap());
    let start = |name: &str| {
        let mock = Mock::start(&w, name, &commit_command(&format!("{name}.txt"), name), &["tool", "final"]);
        let mut cmd = w.cmd(&claude, &repo);
        cmd.args(["-p", &format!("Commit {name}.txt"), "--allowedTools", "Bash", "--output-format", "json"]);
        claude_env(&w, &mut cmd, &mock, &repo);
        let agent = Running::spawn(cmd, name);
        mock.expect("hold tool");
        (mock, agent)
    };
    let ran = older_commits_last(start);
    let sids = ran.clone().map(|(_, _, out)| claude_session_id(&out));

    for ((name, pid, _), sid) in ran.iter().zip(&sids) {
        let owned = owned(&w, &repo, name);
        owned.assert("claude-code", "pid");
        assert_eq!(owned.session["source"], "agent-hook", "{name}");
        assert_eq!(owned.session["session_id"], sid.as_str(), "{name}");
        assert_eq!(owned.session["agent_pid"], *pid, "{name}");
        assert_eq!(owned.session["first_prompt"], format!("Commit {name}.txt"), "{name}");
        assert_eq!(owned.session["checkpoints"].as_array().unwrap().len(), 1, "{name}: only its own commit");
    }
    assert_ne!(sids[0], sids[1]);
}

// ------------------------------------------------------------ Codex

/// `entire run -- codex exec`: Codex keeps `ENTIRE_SESSION_ID` for its
/// tool commands by default (`env`); with `shell_environment_policy.inherit
/// = "core"` it strips it, and the git hook finds the launcher among its
/// ancestors (`pid`).
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn codex_under_the_launcher_by_env_and_with_core_policy_by_pid() {
    let codex = codex();
    let w = World::new();
    let repo = w.repo("r");
    for (policy, subject, resolved_by) in [
        (None, "codex, default policy", "env"),
        (Some("shell_environment_policy.inherit=\"core\""), "codex, core policy", "pid"),
    ] {
        let mock = Mock::start(&w, resolved_by, &commit_command("c.txt", subject), &[]);
        let mut cmd = w.entire(&repo);
        cmd.args(["run", "--"]);
        let extra: Vec<&str> = policy.map(|p| vec!["-c", p]).unwrap_or_default();
        codex_exec(&mut cmd, &codex, &extra, "Commit c.txt");
        codex_env(&w, &mut cmd, &mock, resolved_by);
        let agent = Running::spawn(cmd, subject);
        let launcher = agent.pid;
        agent.finish();
        mock.expect("tool");
        mock.expect("final");
        let owned = owned(&w, &repo, subject);
        owned.assert("codex", resolved_by);
        assert_eq!(owned.session["launcher_pid"], launcher, "{subject}");
        assert_eq!(owned.session["source"], "launcher");
        if resolved_by == "pid" {
            assert!(owned.checkpoint["resolution"]["depth"].is_number(), "{:#}", owned.checkpoint);
            // Found without the stripped ENTIRE_STATE_DIR: in the repo's own index.
            assert_eq!(owned.checkpoint["resolution"]["found_in"], "repo-index", "{:#}", owned.checkpoint);
        }
    }
}

/// Codex loads a project's `.codex/` layer only in a trusted project and
/// runs a hook only once it is trusted: here a trust entry for the project
/// and `--dangerously-bypass-hook-trust`, as automation that vetted the
/// hooks would (entire never trusts them for the user).
fn trust_codex_hooks(w: &World, name: &str, repo: &Path, cmd: &mut Command) {
    let config = w.path().join(format!("codex-{name}/config.toml"));
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[projects.{:?}]\ntrust_level = \"trusted\"\n", repo.display().to_string()));
    std::fs::write(&config, text).unwrap();
    cmd.arg("--dangerously-bypass-hook-trust");
}

/// The hooks `entire enable --agent codex` installs (`.codex/hooks.json`,
/// kept out of git) run in the real Codex: plain `codex exec` gets a
/// hook-made session whose commit the git hook finds by PID; under the
/// launcher they add Codex's session ID, prompt and transcript, whose
/// tokens `sessions --json` reads.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn codex_runs_the_hooks_enable_installs() {
    let codex = codex();
    let w = World::new();
    let repo = w.repo("r");
    let out = stdout(w.entire(&repo).args(["enable", "--agent", "codex"]).output().unwrap());
    assert!(out.contains("codex: hooks installed in .codex/hooks.json") && out.contains("/hooks"), "{out}");

    let mock = Mock::start(&w, "plain", &commit_command("p.txt", "plain codex"), &[]);
    let mut cmd = w.cmd(&codex, &repo);
    cmd.arg("exec");
    codex_env(&w, &mut cmd, &mock, "plain");
    trust_codex_hooks(&w, "plain", &repo, &mut cmd);
    cmd.args(["--dangerously-bypass-approvals-and-sandbox", "Commit p.txt"]);
    let agent = Running::spawn(cmd, "codex exec");
    let pid = agent.pid;
    agent.finish();
    mock.expect("tool");
    mock.expect("final");
    let plain = owned(&w, &repo, "plain codex");
    plain.assert("codex", "pid");
    assert_eq!(plain.session["source"], "agent-hook");
    assert_eq!(plain.session["agent_session_id"], plain.session["session_id"]);
    // The native `codex` process: the npm wrapper we started execs into it
    // where node has `process.execve` (node 22), else spawns it as a child.
    let agent_pid = plain.session["agent_pid"].as_u64().expect("the agent process") as i32;
    let node_execs = w
        .cmd("node", &repo)
        .args(["-e", "process.exit(typeof process.execve === 'function' ? 0 : 1)"])
        .status()
        .unwrap()
        .success();
    assert_eq!(agent_pid == pid as i32, node_execs, "agent {agent_pid}, wrapper {pid}");
    assert_eq!(plain.session["first_prompt"], "Commit p.txt");
    assert!(plain.session["ended_at"].is_string(), "SessionEnd ended it");
    plain.assert_transcript_copied(&w, &repo);

    let mock = Mock::start(&w, "launched", &commit_command("l.txt", "launched codex"), &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]).arg(&codex).arg("exec");
    codex_env(&w, &mut cmd, &mock, "launched");
    trust_codex_hooks(&w, "launched", &repo, &mut cmd);
    cmd.args(["--dangerously-bypass-approvals-and-sandbox", "Commit l.txt"]);
    run(cmd, "entire run -- codex exec");
    mock.expect("tool");
    mock.expect("final");
    let launched = owned(&w, &repo, "launched codex");
    launched.assert("codex", "env");
    assert_eq!(launched.session["source"], "launcher");
    assert!(launched.session["agent_session_id"].is_string(), "{:#}", launched.session);
    assert_eq!(launched.session["first_prompt"], "Commit l.txt");
    // The mock answers each of the two turns with 5 output tokens.
    let seen =
        session_seen_with(&w, &repo, &launched.session, "CODEX_HOME", &w.path().join("codex-launched"));
    assert_eq!(seen["tokens"]["output"], 10, "{seen:#}");
    assert_eq!(seen["models"], json!(["mock-model"]));
    assert_eq!(
        w.git(&repo, &["status", "--porcelain", "--", ".codex"]),
        "",
        "the hooks file stays out of git"
    );
}

/// Two Codex sessions live at once in one worktree, the variable stripped
/// from both: each commit goes to its own launcher's session.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn two_concurrent_codex_sessions_each_own_their_commit() {
    let codex = codex();
    let w = World::new();
    let repo = w.repo("r");
    let start = |name: &str| {
        let mock = Mock::start(&w, name, &commit_command(&format!("{name}.txt"), name), &["tool", "final"]);
        let mut cmd = w.entire(&repo);
        cmd.args(["run", "--"]);
        codex_exec(&mut cmd, &codex, &["-c", "shell_environment_policy.inherit=\"core\""], "Commit");
        codex_env(&w, &mut cmd, &mock, name);
        let agent = Running::spawn(cmd, name);
        mock.expect("hold tool");
        (mock, agent)
    };
    for (name, pid, _) in older_commits_last(start) {
        let owned = owned(&w, &repo, name);
        owned.assert("codex", "pid");
        assert_eq!(owned.session["launcher_pid"], pid, "{name}");
        assert_eq!(owned.session["checkpoints"].as_array().unwrap().len(), 1, "{name}: only its own commit");
    }
}

// ------------------------------------------------------------ Gemini CLI

/// An enabled repository with Gemini's hooks. Gemini's commands run with
/// GIT_CONFIG_GLOBAL=/dev/null: the identity has to be in the
/// repository's own config.
fn gemini_repo(w: &World) -> PathBuf {
    let repo = w.repo("r");
    stdout(w.entire(&repo).args(["enable", "--agent", "gemini"]).output().unwrap());
    w.git(&repo, &["config", "user.name", "Gemini User"]);
    w.git(&repo, &["config", "user.email", "gemini@example.com"]);
    repo
}

/// `entire run -- gemini` with its hooks installed: its shell tool turns
/// git hooks off, so the commit has no trailer; Gemini's AfterTool hook
/// links it to the launcher's session after the fact.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn gemini_commit_bypasses_git_hooks_and_is_linked_post_hoc() {
    let gemini = gemini();
    let w = World::new();
    let repo = gemini_repo(&w);
    let notes = repo.join("notes.txt");
    let commit = format!("git add notes.txt && {}", commit_command("g.txt", "by gemini"));
    let mock = Mock::start_writing(&w, "gemini", Some(&notes), &commit, &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]).arg(&gemini).args(["-p", "Commit g.txt", "--approval-mode", "yolo"]);
    gemini_env(&w, &mut cmd, &mock);
    let agent = Running::spawn(cmd, "entire run -- gemini -p");
    let launcher = agent.pid;
    agent.finish();
    mock.expect("write");
    mock.expect("tool");
    mock.expect("final");

    let owned = owned(&w, &repo, "by gemini");
    assert_eq!(checkpoint_of(&w, &repo, &owned.sha), None, "no git hook ran: no trailer");
    owned.assert("gemini", "post-hoc");
    assert_eq!(owned.checkpoint["linked"], "post-hoc");
    assert_eq!(owned.checkpoint["resolution"]["session_found_by"], "env");
    assert_eq!(owned.session["launcher_pid"], launcher);
    assert_eq!(owned.session["source"], "launcher");
    assert_eq!(owned.session["first_prompt"], "Commit g.txt");
    assert_eq!(owned.session["files_touched"], json!(["notes.txt"]), "from write_file's AfterTool");
    assert_eq!(owned.checkpoint["files_changed"], json!(["g.txt", "notes.txt"]));
    assert!(owned.session["agent_session_id"].is_string(), "{:#}", owned.session);
    assert_eq!(owned.checkpoint["agent_session_id"], owned.session["agent_session_id"]);
    owned.assert_transcript_copied(&w, &repo);
    // Gemini's per-message tokens: three turns of 10 input and 5 output.
    assert_eq!(owned.session["tokens"], json!({"input": 30, "output": 15, "cache_read": 0}));
    assert_eq!(owned.session["models"].as_array().map(Vec::len), Some(1), "{:#}", owned.session);
}

// ------------------------------------------------------------ Claude's TUI

/// A tmux server of the test's own (private socket, no config) holding one
/// terminal, 120x40, killed with the test.
struct Terminal {
    socket: PathBuf,
    world_path: PathBuf,
}

impl Terminal {
    /// Runs `script` (sh) in a new terminal.
    fn start(w: &World, script: &Path) -> Terminal {
        let term = Terminal { socket: w.path().join("tmux.sock"), world_path: w.path().to_owned() };
        let mut cmd = term.tmux(w);
        cmd.args(["new-session", "-d", "-s", "t", "-x", "120", "-y", "40", "sh"]).arg(script);
        stdout(cmd.output().unwrap());
        term
    }

    fn tmux(&self, w: &World) -> Command {
        let mut cmd = w.cmd("tmux", &self.world_path);
        cmd.arg("-S").arg(&self.socket).args(["-f", "/dev/null"]);
        cmd
    }

    fn screen(&self, w: &World) -> String {
        String::from_utf8_lossy(
            &self.tmux(w).args(["capture-pane", "-p", "-t", "t"]).output().unwrap().stdout,
        )
        .into_owned()
    }

    /// Polls the screen until `ready` holds on it.
    fn wait(&self, w: &World, what: &str, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + AGENT_TIMEOUT;
        loop {
            let screen = self.screen(w);
            if ready(&screen) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, w: &World, keys: &[&str]) {
        stdout(self.tmux(w).args(["send-keys", "-t", "t"]).args(keys).output().unwrap());
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").output();
    }
}

/// Claude's interactive TUI under `entire run` in a real terminal: the
/// commit its Bash tool makes is attributed; one Ctrl-C reaches claude once
/// (it asks for a second one and keeps running; a duplicate from the
/// launcher would have made it exit); two end it, and its exit status
/// comes back through the launcher.
#[test]
#[ignore = "needs node >= 22, python3, tmux and the pinned agent CLIs: run scripts/test"]
fn claude_tui_under_the_launcher_in_a_terminal() {
    let claude = claude();
    let w = World::new();
    let repo = w.repo("r");
    let mock = Mock::start(&w, "tui", &commit_command("t.txt", "from the tui"), &[]);
    let mut env = w.entire(&repo);
    claude_env(&w, &mut env, &mock, &repo);
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_str().unwrap().replace('\'', r"'\''"));
    let mut script = String::new();
    for (key, value) in env.get_envs() {
        if let Some(value) = value {
            script.push_str(&format!("export {}={}\n", key.to_str().unwrap(), quote(value)));
        }
    }
    let rc = w.path().join("rc");
    script.push_str(&format!(
        "export TERM=xterm-256color\ncd {}\n{} run -- {} 'Commit t.txt' --allowedTools Bash --permission-mode default\n\
         echo $? > {rc}.tmp && mv {rc}.tmp {rc}\nexec sleep 600\n",
        quote(repo.as_os_str()),
        quote(crate::support::entire_bin().as_os_str()),
        quote(claude.as_os_str()),
        rc = quote(rc.as_os_str()),
    ));
    let script_path = w.path().join("tui.sh");
    std::fs::write(&script_path, script).unwrap();
    let term = Terminal::start(&w, &script_path);

    mock.expect("tool");
    mock.expect("final");
    term.wait(&w, "the final answer", |s| s.contains("Done."));
    let owned = owned(&w, &repo, "from the tui");
    owned.assert("claude-code", "env");
    assert_eq!(owned.session["source"], "launcher");
    assert_eq!(owned.session["live"], true);
    let claude_pid = owned.session["agent_pid"].as_i64().unwrap() as i32;

    term.keys(&w, &["C-c"]);
    term.wait(&w, "claude's answer to one Ctrl-C", |s| s.contains("Press Ctrl-C again to exit"));
    term.wait(&w, "the hint to time out", |s| !s.contains("Press Ctrl-C again to exit"));
    assert!(crate::support::running(claude_pid), "one Ctrl-C did not end claude");
    assert!(!rc.exists(), "nor the launcher");

    term.keys(&w, &["C-c", "C-c"]);
    let status = crate::support::wait_for_file(&rc);
    assert_eq!(status, "0", "claude's exit status, through the launcher");
    let session = w.json(&repo, &["sessions", "--all", "--json"]);
    let session =
        session.as_array().unwrap().iter().find(|s| s["session_id"] == owned.session["session_id"]).unwrap();
    assert_eq!(session["exit_code"], 0);
    assert!(session["ended_at"].is_string());
}

/// Plain `gemini`, no launcher: its hooks make the session (ID = Gemini's)
/// and link the commit after the fact.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn plain_gemini_gets_a_hook_made_session_linked_post_hoc() {
    let gemini = gemini();
    let w = World::new();
    let repo = gemini_repo(&w);
    let mock = Mock::start(&w, "gemini", &commit_command("g.txt", "by plain gemini"), &[]);
    let mut cmd = w.cmd(&gemini, &repo);
    cmd.args(["-p", "Commit g.txt", "--approval-mode", "yolo"]);
    gemini_env(&w, &mut cmd, &mock);
    run(cmd, "gemini -p");
    mock.expect("tool");
    mock.expect("final");

    let owned = owned(&w, &repo, "by plain gemini");
    assert_eq!(checkpoint_of(&w, &repo, &owned.sha), None, "no git hook ran: no trailer");
    owned.assert("gemini", "post-hoc");
    // Found by the hook's PID chain: the gemini process SessionStart recorded.
    assert_eq!(owned.checkpoint["resolution"]["session_found_by"], "pid");
    assert_eq!(owned.session["source"], "agent-hook");
    assert_eq!(owned.session["session_id"], owned.session["agent_session_id"]);
    assert_eq!(owned.session["first_prompt"], "Commit g.txt");
    assert!(owned.session["ended_at"].is_string(), "SessionEnd ended it");
    owned.assert_transcript_copied(&w, &repo);
}

// ------------------------------------------------------------ opencode

/// opencode pointed at `mock`: config inline (`OPENCODE_CONFIG_CONTENT`),
/// no update, sharing, models.dev or LSP downloads. A project `.opencode/`
/// directory (where our plugin goes) makes it install its plugin SDK there
/// from the npm registry first: pointed at a closed port on loopback, with
/// no retries (npm's back-off would hold opencode for over a minute), that
/// fails at once and opencode goes on.
fn opencode_env(cmd: &mut Command, mock: &Mock) {
    let config = json!({
        "autoupdate": false,
        "share": "disabled",
        "provider": {"openai": {
            "options": {"baseURL": format!("{}/v1", mock.url()), "apiKey": "test"},
            "models": {"mock-model": {"name": "mock"}},
        }},
        "model": "openai/mock-model",
        "permission": {"bash": "allow", "edit": "allow"},
    });
    cmd.env("OPENCODE_CONFIG_CONTENT", config.to_string());
    for off in ["AUTOUPDATE", "SHARE", "MODELS_FETCH", "LSP_DOWNLOAD", "DEFAULT_PLUGINS", "CLAUDE_CODE"] {
        cmd.env(format!("OPENCODE_DISABLE_{off}"), "1");
    }
    cmd.env("NPM_CONFIG_REGISTRY", "http://127.0.0.1:9/").env("NPM_CONFIG_FETCH_RETRIES", "0");
}

/// `entire run -- opencode run`, no plugin: its `bash` tool keeps
/// `ENTIRE_SESSION_ID`, the git hooks attribute the commit by `env`.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn opencode_under_the_launcher_is_attributed_by_env() {
    let opencode = cli("opencode", "opencode-ai");
    let w = World::new();
    let repo = w.repo("r");
    let mock = Mock::start(&w, "opencode", &commit_command("o.txt", "by opencode"), &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]).arg(&opencode).args(["run", "Commit o.txt"]);
    opencode_env(&mut cmd, &mock);
    let agent = Running::spawn(cmd, "entire run -- opencode run");
    let launcher = agent.pid;
    agent.finish();
    mock.expect("tool");
    mock.expect("final");

    let owned = owned(&w, &repo, "by opencode");
    owned.assert("opencode", "env");
    assert!(checkpoint_of(&w, &repo, &owned.sha).is_some(), "the trailer");
    assert_eq!(owned.session["launcher_pid"], launcher);
    assert_eq!(owned.session["source"], "launcher");
}

/// The plugin `entire enable --agent opencode` writes
/// (`.opencode/plugins/entire.js`, kept out of git) runs in the real
/// opencode: plain `opencode run` gets a hook-made session (ID =
/// opencode's) whose commit the git hook finds by PID; under the launcher
/// it adds opencode's session ID and the prompt to the launcher's session.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn opencode_runs_the_plugin_enable_installs() {
    let opencode = cli("opencode", "opencode-ai");
    let w = World::new();
    let repo = w.repo("r");
    let out = stdout(w.entire(&repo).args(["enable", "--agent", "opencode"]).output().unwrap());
    assert!(out.contains("opencode: hooks installed in .opencode/plugins/entire.js"), "{out}");

    let mock = Mock::start(&w, "plain", &commit_command("p.txt", "plain opencode"), &[]);
    let mut cmd = w.cmd(&opencode, &repo);
    cmd.args(["run", "Commit p.txt"]);
    opencode_env(&mut cmd, &mock);
    run(cmd, "opencode run");
    mock.expect("tool");
    mock.expect("final");
    let plain = owned(&w, &repo, "plain opencode");
    plain.assert("opencode", "pid");
    assert_eq!(plain.session["source"], "agent-hook");
    let sid = plain.session["session_id"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("ses_"), "opencode's own session ID: {sid}");
    assert_eq!(plain.session["agent_session_id"], sid.as_str());
    assert!(plain.session["first_prompt"].as_str().unwrap().contains("Commit p.txt"), "{:#}", plain.session);

    let mock = Mock::start(&w, "launched", &commit_command("l.txt", "launched opencode"), &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]).arg(&opencode).args(["run", "Commit l.txt"]);
    opencode_env(&mut cmd, &mock);
    run(cmd, "entire run -- opencode run");
    mock.expect("tool");
    mock.expect("final");
    let launched = owned(&w, &repo, "launched opencode");
    launched.assert("opencode", "env");
    assert_eq!(launched.session["source"], "launcher");
    assert!(launched.session["agent_session_id"].as_str().is_some_and(|s| s.starts_with("ses_")));
    assert!(launched.session["first_prompt"].as_str().unwrap().contains("Commit l.txt"));
    assert_eq!(
        w.git(&repo, &["status", "--porcelain", "--", ".opencode"]),
        "",
        "the plugin stays out of git"
    );
}

// ------------------------------------------------------------ Copilot CLI

fn copilot() -> PathBuf {
    cli("copilot", "@github/copilot")
}

/// `-p <prompt>` for Copilot CLI, pointed at `mock` (its BYOK provider, the OpenAI
/// Responses dialect) and offline: no GitHub login, telemetry or update
/// check. `--trust-folder` stands for the user's answer to its folder-trust
/// question, without which it runs none of the repository's hooks. Its
/// runtime, unpacked on first start, comes from the cache
/// `scripts/install-agents` filled.
fn copilot_prompt(cmd: &mut Command, mock: &Mock, prompt: &str) {
    cmd.args(["-p", prompt, "--allow-all-tools", "--trust-folder", "--no-auto-update"]);
    cmd.env("COPILOT_OFFLINE", "true")
        .env("COPILOT_PROVIDER_BASE_URL", format!("{}/v1", mock.url()))
        .env("COPILOT_PROVIDER_WIRE_API", "responses")
        .env("COPILOT_PROVIDER_API_KEY", "test")
        .env("COPILOT_MODEL", "mock-model")
        .env("XDG_CACHE_HOME", agents_dir().join("node_modules/.cache"));
}

/// The hooks `entire enable --agent copilot` writes
/// (`.github/copilot/settings.local.json`, kept out of git) run in the real
/// Copilot CLI: plain `copilot -p` gets a hook-made session (ID =
/// Copilot's) whose commit the git hook finds by PID, with the file its
/// `create` tool wrote and the transcript from Copilot's session state; under the launcher they add Copilot's
/// session ID and the prompt to the launcher's session.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn copilot_runs_the_hooks_enable_installs() {
    let copilot = copilot();
    let w = World::new();
    let repo = w.repo("r");
    let out = stdout(w.entire(&repo).args(["enable", "--agent", "copilot"]).output().unwrap());
    assert!(
        out.contains("copilot: hooks installed in .github/copilot/settings.local.json")
            && out.contains("trust"),
        "{out}"
    );

    let variable = w.path().join("copilot-session-variable");
    let command = format!(
        "printenv COPILOT_AGENT_SESSION_ID > '{}' && git add notes.txt && {}",
        variable.display(),
        commit_command("p.txt", "plain copilot")
    );
    let mut mock = Mock::start_writing(&w, "plain", Some(&repo.join("notes.txt")), &command, &["tool"]);
    let mut cmd = w.cmd(&copilot, &repo);
    copilot_prompt(&mut cmd, &mock, "Commit p.txt");
    let agent = Running::spawn(cmd, "copilot -p");
    let wrapper = agent.pid;
    mock.expect("write");
    mock.expect("hold tool");
    // Copilot writes its event log when it gets round to it; a commit made
    // before the log is on disk is recorded with `transcript_skipped: "not
    // found"` (docs/agents.md). The commit waits for the log here, so that
    // the copy itself is what is tested.
    let state = w.path().join("home/.copilot/session-state");
    wait_for("Copilot's event log", || {
        std::fs::read_dir(&state)
            .into_iter()
            .flatten()
            .flatten()
            .any(|session| std::fs::metadata(session.path().join("events.jsonl")).is_ok_and(|m| m.len() > 0))
    });
    mock.release();
    agent.finish();
    mock.expect("tool");
    mock.expect("final");
    let plain = owned(&w, &repo, "plain copilot");
    assert_eq!(plain.session["files_touched"], json!(["notes.txt"]), "its `create` tool's path");
    plain.assert("copilot", "pid");
    assert_eq!(plain.session["source"], "agent-hook");
    assert_eq!(plain.session["agent_session_id"], plain.session["session_id"]);
    // What the agent-variable step matches where no process tree reaches.
    let exported = std::fs::read_to_string(&variable).unwrap();
    assert_eq!(exported.trim(), plain.session["session_id"].as_str().unwrap());
    // The native `copilot` process, which the npm wrapper runs as its child.
    assert_ne!(plain.session["agent_pid"], wrapper, "{:#}", plain.session);
    assert!(plain.session["agent_pid"].is_u64(), "{:#}", plain.session);
    assert_eq!(plain.session["first_prompt"], "Commit p.txt");
    assert!(plain.session["ended_at"].is_string(), "sessionEnd ended it");
    let transcript = plain.session["transcript_path"].as_str().unwrap_or_default();
    assert!(
        transcript.starts_with(w.path().join("home/.copilot/session-state").to_str().unwrap()),
        "{transcript}"
    );
    plain.assert_transcript_copied(&w, &repo);

    let mock = Mock::start(&w, "launched", &commit_command("l.txt", "launched copilot"), &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]).arg(&copilot);
    copilot_prompt(&mut cmd, &mock, "Commit l.txt");
    run(cmd, "entire run -- copilot -p");
    mock.expect("tool");
    mock.expect("final");
    let launched = owned(&w, &repo, "launched copilot");
    launched.assert("copilot", "env");
    assert_eq!(launched.session["source"], "launcher");
    assert!(launched.session["agent_session_id"].is_string(), "{:#}", launched.session);
    assert_eq!(launched.session["first_prompt"], "Commit l.txt");
    // The mock answers each of the two turns with 10 input and 5 output tokens.
    assert_eq!(
        launched.session["tokens"],
        json!({"input": 20, "output": 10, "cache_read": 0, "cache_write": 0})
    );
    assert_eq!(launched.session["models"], json!(["mock-model"]));
    assert_eq!(w.git(&repo, &["status", "--porcelain", "--", ".github"]), "", "the hooks stay out of git");
}

/// The hooks `enable --agent copilot --project` writes for the team
/// (`.github/copilot/settings.json`) run entire where it is on PATH, as
/// for a teammate who has it: plain `copilot -p` gets a hook-made session
/// that owns its commit by PID. Where entire is not installed they do
/// nothing, and Copilot commits as it would without them.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn copilot_runs_the_project_hooks_where_entire_is_installed() {
    let copilot = copilot();
    let w = World::new();
    let repo = w.repo("r");
    stdout(w.entire(&repo).args(["enable", "--agent", "copilot", "--project"]).output().unwrap());
    assert_eq!(w.git(&repo, &["status", "--porcelain", "--", ".github"]), "?? .github/", "to be committed");

    let mock = Mock::start(&w, "teammate", &commit_command("t.txt", "teammate copilot"), &[]);
    let mut cmd = w.cmd(&copilot, &repo);
    copilot_prompt(&mut cmd, &mock, "Commit t.txt");
    put_entire_on_path(&mut cmd);
    run(cmd, "copilot -p");
    mock.expect("tool");
    mock.expect("final");
    let owned = owned(&w, &repo, "teammate copilot");
    owned.assert("copilot", "pid");
    assert_eq!(owned.session["source"], "agent-hook");
    assert_eq!(owned.session["first_prompt"], "Commit t.txt");

    let mock = Mock::start(&w, "without", &commit_command("n.txt", "copilot alone"), &[]);
    let mut cmd = w.cmd(&copilot, &repo);
    copilot_prompt(&mut cmd, &mock, "Commit n.txt");
    run(cmd, "copilot -p");
    mock.expect("tool");
    mock.expect("final");
    let log = w.git(&repo, &["log", "--format=%s"]);
    assert!(log.starts_with("copilot alone\n"), "{log}");
    let sessions = w.json(&repo, &["sessions", "--all", "--json"]);
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "no session of its own: {sessions:#}");
}

// ------------------------------------------------------------ sandboxes

/// A shell command that writes its PID namespace to `ns.txt`, so that a
/// test knows the agent's command ran in a sandbox.
const NAMESPACE: &str = "readlink /proc/self/ns/pid > ns.txt";

fn assert_in_another_pid_namespace(repo: &Path) {
    let theirs = std::fs::read_to_string(repo.join("ns.txt")).expect("the command wrote ns.txt");
    let ours = std::fs::read_link("/proc/self/ns/pid").unwrap();
    assert_ne!(theirs.trim(), ours.to_str().unwrap(), "the command ran in a PID namespace of its own");
}

/// Claude Code's Linux sandbox (`"sandbox": {"enabled": true}`: bubblewrap,
/// each Bash command in a PID namespace with its own `/proc`, where the
/// launcher's PIDs do not exist). Under `entire run` the commit goes to the
/// launcher's session by `ENTIRE_SESSION_ID`, proven live by the launcher's
/// lock; plain `claude` with its hooks, by `CLAUDE_CODE_SESSION_ID`, the
/// agent session its hooks recorded.
#[test]
#[ignore = "needs node >= 22, python3, bubblewrap and the pinned agent CLIs: run scripts/test"]
fn claude_in_its_bubblewrap_sandbox_commits_to_the_right_session() {
    let claude = claude();
    let w = World::new();
    let repo = w.repo("r");
    let sandboxed = |cmd: &mut Command| {
        cmd.args(["--settings", r#"{"sandbox": {"enabled": true, "autoAllowBashIfSandboxed": true}}"#]);
    };

    let commit = |file: &str, subject: &str| format!("{NAMESPACE} && {}", commit_command(file, subject));
    let mock = Mock::start(&w, "launched", &commit("one.txt", "claude in its sandbox"), &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]);
    claude_print(&mut cmd, &claude, "Commit one.txt");
    sandboxed(&mut cmd);
    claude_env(&w, &mut cmd, &mock, &repo);
    run(cmd, "entire run -- claude -p, sandboxed");
    mock.expect("tool");
    mock.expect("final");
    let launched = owned(&w, &repo, "claude in its sandbox");
    launched.assert("claude-code", "env");
    assert_eq!(launched.session["source"], "launcher");
    assert_eq!(launched.checkpoint["resolution"]["env_rejected"], Value::Null, "{:#}", launched.checkpoint);

    stdout(w.entire(&repo).args(["enable", "--agent", "claude-code"]).output().unwrap());
    assert_in_another_pid_namespace(&repo);
    let mock = Mock::start(&w, "plain", &commit("two.txt", "plain claude in its sandbox"), &[]);
    let mut cmd = w.cmd(&claude, &repo);
    cmd.args(["-p", "Commit two.txt", "--allowedTools", "Bash", "--output-format", "json"]);
    sandboxed(&mut cmd);
    claude_env(&w, &mut cmd, &mock, &repo);
    let claude_sid = claude_session_id(&run(cmd, "claude -p, sandboxed"));
    mock.expect("tool");
    mock.expect("final");
    let plain = owned(&w, &repo, "plain claude in its sandbox");
    plain.assert("claude-code", "env");
    assert_eq!(plain.session["source"], "agent-hook");
    assert_eq!(plain.session["session_id"], claude_sid.as_str());
    assert_eq!(
        plain.checkpoint["resolution"]["variable"], "CLAUDE_CODE_SESSION_ID",
        "{:#}",
        plain.checkpoint
    );
    assert_in_another_pid_namespace(&repo);
}

/// Codex with `--sandbox workspace-write` and `.git` a writable root: the
/// commit is made inside its sandbox, where the launcher's PIDs are not
/// visible; `ENTIRE_SESSION_ID` names the session, the launcher's lock
/// shows it live.
#[test]
#[ignore = "needs node >= 22, python3, bubblewrap and the pinned agent CLIs: run scripts/test"]
fn codex_in_its_workspace_write_sandbox_commits_to_the_launchers_session() {
    let codex = codex();
    let w = World::new();
    let repo = w.repo("r");
    let subject = "codex in its sandbox";
    let mock =
        Mock::start(&w, "sandboxed", &format!("{NAMESPACE} && {}", commit_command("c.txt", subject)), &[]);
    let tmp = w.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let writable = format!("sandbox_workspace_write.writable_roots=[\"{}\"]", repo.join(".git").display());
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]).arg(&codex).arg("exec");
    cmd.args([
        "--sandbox",
        "workspace-write",
        "-c",
        &writable,
        "-c",
        "approval_policy=\"never\"",
        "Commit c.txt",
    ]);
    codex_env(&w, &mut cmd, &mock, "sandboxed");
    cmd.env("TMPDIR", &tmp);
    let agent = Running::spawn(cmd, "entire run -- codex exec --sandbox workspace-write");
    let launcher = agent.pid;
    agent.finish();
    mock.expect("tool");
    mock.expect("final");
    let owned = owned(&w, &repo, subject);
    owned.assert("codex", "env");
    assert_eq!(owned.session["launcher_pid"], launcher);
    assert_in_another_pid_namespace(&repo);
}

/// Two plain Gemini CLI sessions in one repository, their shell calls
/// overlapping: "quick" commits while "waiter"'s shell call is open, so
/// nothing tells whose commit it is and neither gets it; then "waiter"
/// commits when "quick"'s call is over, and its session gets it.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn overlapping_gemini_sessions_each_get_only_what_the_evidence_gives_them() {
    let gemini = gemini();
    let w = World::new();
    let repo = gemini_repo(&w);
    let flag = |name: &str| w.path().join(name).display().to_string();
    let (started, go) = (flag("waiter-started"), flag("go-waiter"));
    let waiter_command = format!(
        "touch {started} && while [ ! -e {go} ]; do sleep 0.05; done && {}",
        commit_command("w.txt", "by waiter")
    );
    let quick_command =
        format!("while [ ! -e {started} ]; do sleep 0.05; done && {}", commit_command("q.txt", "by quick"));
    let start = |name: &str, command: &str| {
        let mock = Mock::start(&w, name, command, &[]);
        let mut cmd = w.cmd(&gemini, &repo);
        cmd.args(["-p", "Commit", "--approval-mode", "yolo"]);
        gemini_env(&w, &mut cmd, &mock);
        (mock, Running::spawn(cmd, name))
    };
    let (waiter_mock, waiter) = start("waiter", &waiter_command);
    waiter_mock.expect("tool");
    let (quick_mock, quick) = start("quick", &quick_command);
    quick_mock.expect("tool");
    quick_mock.expect("final");
    quick.finish();
    std::fs::write(&go, "").unwrap();
    waiter_mock.expect("final");
    waiter.finish();

    let log = w.git(&repo, &["log", "--format=%H %s"]);
    let quick_sha = log.lines().find_map(|l| l.strip_suffix(" by quick")).expect(&log).to_owned();
    let explained = w.json(&repo, &["explain", "--commit", &quick_sha, "--json"]);
    assert_eq!(explained["checkpoints"], json!([]), "{explained:#}");
    let claim = std::fs::read_to_string(w.store(&repo).join("post-hoc-claims").join(&quick_sha)).unwrap();
    assert!(claim.starts_with("disputed: "), "{claim}");
    let owned = owned(&w, &repo, "by waiter");
    owned.assert("gemini", "post-hoc");
    assert_eq!(owned.session["source"], "agent-hook");
    assert!(claim.contains(owned.session["session_id"].as_str().unwrap()), "{claim}");
}

/// A `claude -p` run by the Bash tool of a `claude` under `entire run`,
/// without a launcher of its own: it inherits `ENTIRE_SESSION_ID`, and its
/// hooks make a child session; its commit goes there by `pid` (the nearest
/// owner; the inherited variable noted rejected), the outer agent's commit
/// to the launcher's session, whose Claude session ID stays the outer one.
#[test]
#[ignore = "needs node >= 22, python3 and the pinned agent CLIs: run scripts/test"]
fn claude_started_by_claude_gets_a_child_session() {
    let claude = claude();
    let w = World::new();
    let repo = w.repo("r");
    stdout(w.entire(&repo).args(["enable", "--agent", "claude-code"]).output().unwrap());
    // One mock for both: the inner claude inherits ANTHROPIC_BASE_URL, and
    // tells itself apart by NESTED.
    let command = format!(
        "if [ -n \"$NESTED\" ]; then {inner}; else NESTED=1 '{claude}' -p 'Commit inner.txt' --allowedTools Bash \
         --output-format json > inner.json && {outer}; fi",
        inner = commit_command("inner.txt", "by the inner claude"),
        claude = claude.display(),
        outer = commit_command("outer.txt", "by the outer claude"),
    );
    let mock = Mock::start(&w, "nested", &command, &[]);
    let mut cmd = w.entire(&repo);
    cmd.args(["run", "--"]);
    claude_print(&mut cmd, &claude, "Run the inner claude");
    claude_env(&w, &mut cmd, &mock, &repo);
    let outer_sid = claude_session_id(&run(cmd, "entire run -- claude -p, running claude"));
    for event in ["tool", "tool", "final", "final"] {
        mock.expect(event);
    }
    let inner_sid = claude_session_id(&std::fs::read_to_string(repo.join("inner.json")).unwrap());

    let outer = owned(&w, &repo, "by the outer claude");
    outer.assert("claude-code", "env");
    assert_eq!(outer.session["source"], "launcher");
    assert_eq!(outer.session["agent_session_id"], outer_sid.as_str());
    assert_eq!(outer.session["first_prompt"], "Run the inner claude");
    let inner = owned(&w, &repo, "by the inner claude");
    inner.assert("claude-code", "pid");
    assert_eq!(inner.session["session_id"], inner_sid.as_str());
    assert_eq!(inner.session["source"], "agent-hook");
    assert_eq!(inner.session["parent_session_id"], outer.session["session_id"]);
    assert_eq!(inner.checkpoint["resolution"]["env_rejected"], "nearer-owner", "{:#}", inner.checkpoint);
}
