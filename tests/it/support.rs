//! Shared fixtures: an isolated world per test (HOME, git config, state
//! dir), real git repos in it, and the real `entire` binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub fn entire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_entire"))
}

const GITCONFIG: &str =
    "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n";

/// Library calls spawn git with this test process's own environment: point
/// it, once for the whole process, at an isolated home, git config and
/// state dir. (std serialises `set_var` with its own reads of the
/// environment, such as `Command::spawn`.)
pub fn isolate_process() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("process-env");
        std::fs::create_dir_all(dir.join("state")).unwrap();
        std::fs::write(dir.join(".gitconfig"), GITCONFIG).unwrap();
        unsafe {
            std::env::set_var("HOME", &dir);
            std::env::set_var("GIT_CONFIG_GLOBAL", dir.join(".gitconfig"));
            std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
            std::env::set_var("ENTIRE_STATE_DIR", dir.join("state"));
            for var in [
                "GIT_DIR",
                "GIT_WORK_TREE",
                "GIT_INDEX_FILE",
                "GIT_AUTHOR_NAME",
                "GIT_AUTHOR_EMAIL",
                "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL",
                "ENTIRE_SESSION_ID",
            ] {
                std::env::remove_var(var);
            }
        }
    });
}

pub struct World {
    pub tmp: TempDir,
}

impl World {
    pub fn new() -> World {
        isolate_process();
        let tmp = tempfile::Builder::new().prefix("entire-it-").tempdir().unwrap();
        for dir in ["home", "state", "repos"] {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        }
        std::fs::write(tmp.path().join("home/.gitconfig"), GITCONFIG).unwrap();
        World { tmp }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }

    /// Any command, run in this world's isolated environment. A tool the
    /// tests need that is not installed fails the test with one line.
    pub fn cmd(&self, program: impl AsRef<OsStr>, cwd: &Path) -> Command {
        require(program.as_ref());
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("GIT_CONFIG_GLOBAL", self.path().join("home/.gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("ENTIRE_STATE_DIR", self.state_dir())
            .env("LANG", "C");
        cmd
    }

    pub fn entire(&self, cwd: &Path) -> Command {
        self.cmd(entire_bin(), cwd)
    }

    /// Runs git in `cwd` and returns trimmed stdout; panics with git's
    /// stderr on failure.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        stdout(self.cmd("git", cwd).args(args).output().unwrap())
    }

    /// A fresh repository with one commit, not yet enabled.
    pub fn plain_repo(&self, name: &str) -> PathBuf {
        let dir = self.path().join("repos").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        self.git(&dir, &["init", "-q"]);
        std::fs::write(dir.join("README"), "hello\n").unwrap();
        self.git(&dir, &["add", "README"]);
        self.git(&dir, &["commit", "-q", "-m", "initial"]);
        dir.canonicalize().unwrap()
    }

    /// A fresh repository with entire enabled.
    pub fn repo(&self, name: &str) -> PathBuf {
        let dir = self.plain_repo(name);
        stdout(self.entire(&dir).arg("enable").output().unwrap());
        dir
    }

    /// `entire … --json`, parsed.
    pub fn json(&self, cwd: &Path, args: &[&str]) -> serde_json::Value {
        let out = stdout(self.entire(cwd).args(args).output().unwrap());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
}

/// Fails the test, in one line naming the package, when `program` (a bare
/// name) is not on PATH. Without the panic hook: no backtrace to wade through.
fn require(program: &OsStr) {
    let bare = !program.as_encoded_bytes().contains(&b'/');
    if bare && which::which(program).is_err() {
        let name = program.to_string_lossy();
        eprintln!(
            "`{name}` is not installed, and this test runs it: scripts/test installs what the tests need"
        );
        std::panic::resume_unwind(Box::new(format!("{name} is not installed")));
    }
}

/// Stdout of a successful command, trimmed; panics with stderr otherwise.
pub fn stdout(out: Output) -> String {
    exact_stdout(out).trim().to_owned()
}

/// Stdout of a successful command, as it is; panics with stderr otherwise.
pub fn exact_stdout(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes an executable script.
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Polls until `ready` holds; panics after 30 s naming what it waited for.
pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Waits for a file to appear and returns its trimmed content.
pub fn wait_for_file(path: &Path) -> String {
    let mut text = None;
    wait_for(&path.display().to_string(), || {
        text = std::fs::read_to_string(path).ok();
        text.is_some()
    });
    text.unwrap_or_default().trim().to_owned()
}

/// Whether `pid` is running: it exists and is not a zombie.
pub fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])))
}

/// The kernel start time of `pid` (field 22 of `/proc/<pid>/stat`).
pub fn start_time(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit_once(')').unwrap().1.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// The `Entire-Checkpoint` value of a commit, if any.
pub fn checkpoint_of(world: &World, repo: &Path, rev: &str) -> Option<String> {
    let out = world.git(repo, &["log", "-1", "--format=%(trailers:key=Entire-Checkpoint,valueonly)", rev]);
    Some(out.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A shell snippet for an agent: change `file` and stage it.
pub fn stage_change(file: &str) -> String {
    format!("echo change >> {file} && git add {file}")
}

/// (session_id, resolved_by) that the session store gives a commit.
pub fn owner_of(world: &World, repo: &Path, rev: &str) -> Option<(String, String)> {
    let sha = world.git(repo, &["rev-parse", rev]);
    let sessions = world.json(repo, &["sessions", "--all", "--json"]);
    sessions.as_array().unwrap().iter().find_map(|s| {
        s["checkpoints"].as_array().unwrap().iter().find(|c| c["commit"] == sha.as_str()).map(|c| {
            (s["session_id"].as_str().unwrap().to_owned(), c["resolved_by"].as_str().unwrap().to_owned())
        })
    })
}

impl World {
    /// `<git-common-dir>/entire-sessions` of `repo`.
    pub fn store(&self, repo: &Path) -> PathBuf {
        let common = self.git(repo, &["rev-parse", "--path-format=absolute", "--git-common-dir"]);
        PathBuf::from(common).join("entire-sessions")
    }

    /// Every session record in `repo`'s store that parses, by session ID,
    /// read from the files themselves.
    pub fn records(&self, repo: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
        let Ok(dir) = std::fs::read_dir(self.store(repo)) else { return Default::default() };
        dir.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice::<serde_json::Value>(&std::fs::read(e.path()).ok()?).ok())
            .filter_map(|r| Some((r["session_id"].as_str()?.to_owned(), r)))
            .collect()
    }

    /// A fake agent under `entire run --agent <name>`, in `cwd`, returned
    /// once the launcher has recorded the agent's PID.
    pub fn agent(&self, cwd: &Path, name: &str) -> Agent {
        self.agent_with_state(cwd, name, &self.state_dir())
    }

    /// [`agent`](Self::agent) with the launcher's `ENTIRE_STATE_DIR` at `state`.
    pub fn agent_with_state(&self, cwd: &Path, name: &str, state: &Path) -> Agent {
        self.agent_with(cwd, name, state, |_| {})
    }

    /// [`agent_with_state`](Self::agent_with_state), the launcher's command
    /// set up by `setup` first (a controlling terminal…).
    pub fn agent_with(
        &self,
        cwd: &Path,
        name: &str,
        state: &Path,
        setup: impl FnOnce(&mut Command),
    ) -> Agent {
        let mut cmd = self.entire(cwd);
        setup(&mut cmd);
        cmd.env("ENTIRE_STATE_DIR", state).args(["run", "--agent", name, "--", "sh"]);
        let agent = Agent::spawn(self, cmd);
        let entry = state.join("live").join(format!("{}.json", agent.session_id));
        wait_for("the agent's PID in the live registry", || {
            let json =
                std::fs::read(&entry).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
            json.is_some_and(|e| e["session"]["agent_pid"] == agent.pid)
        });
        agent
    }

    /// The same fake agent with no launcher: an unrelated process tree.
    pub fn bare_agent(&self, cwd: &Path) -> Agent {
        Agent::spawn(self, self.cmd("sh", cwd))
    }
}

/// A fake agent: a shell that runs the snippets handed to it one at a time
/// as its own children, like an agent's tool calls, so that hooks see it as
/// an ancestor. It blocks on a pipe between snippets, so many cost nothing,
/// and it ends when that pipe closes: a test that panics leaves no agent.
pub struct Agent {
    /// `ENTIRE_SESSION_ID` as the agent got it (empty without a launcher).
    pub session_id: String,
    /// The agent shell's PID (the launcher's child under `entire run`).
    pub pid: i32,
    /// The launcher, or the agent itself when there is none.
    pub child: std::process::Child,
    /// Where the launcher's stderr goes (it outlives the agent).
    pub launcher_stderr: PathBuf,
    jobs: std::process::ChildStdin,
    replies: std::cell::RefCell<std::io::BufReader<std::process::ChildStdout>>,
    dir: PathBuf,
}

const AGENT_LOOP: &str = r#"echo "$$ $ENTIRE_SESSION_ID"
while IFS= read -r job; do
    sh "$job" </dev/null >"$AGENT_DIR/out" 2>&1
    echo $?
done
"#;

impl Agent {
    /// `cmd` runs `sh`; the loop is added as its script.
    fn spawn(world: &World, mut cmd: Command) -> Agent {
        use std::io::BufRead;
        use std::process::Stdio;
        let dir = tempfile::Builder::new().prefix("agent-").tempdir_in(world.path()).unwrap().keep();
        let launcher_stderr = dir.join("launcher.stderr");
        let stderr = std::fs::File::create(&launcher_stderr).unwrap();
        let mut child = cmd
            .args(["-c", AGENT_LOOP])
            .env("AGENT_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let jobs = child.stdin.take().unwrap();
        let mut replies = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut hello = String::new();
        replies.read_line(&mut hello).unwrap();
        let (pid, session_id) =
            hello.trim_end_matches('\n').split_once(' ').expect("the agent says who it is");
        Agent {
            session_id: session_id.to_owned(),
            pid: pid.parse().unwrap(),
            child,
            launcher_stderr,
            jobs,
            replies: std::cell::RefCell::new(replies),
            dir,
        }
    }

    /// Runs `snippet` inside the agent; returns (exit code, output).
    pub fn exec(&self, snippet: &str) -> (i32, String) {
        use std::io::{BufRead, Write};
        let job = self.dir.join("job.sh");
        std::fs::write(&job, snippet).unwrap();
        writeln!(&self.jobs, "{}", job.display()).unwrap();
        let mut rc = String::new();
        self.replies.borrow_mut().read_line(&mut rc).unwrap();
        let out = std::fs::read_to_string(self.dir.join("out")).unwrap_or_default();
        (rc.trim().parse().unwrap_or_else(|_| panic!("the agent ended: {rc:?}")), out)
    }

    /// Runs `snippet` and asserts it succeeded.
    pub fn ok(&self, snippet: &str) -> String {
        let (rc, out) = self.exec(snippet);
        assert_eq!(rc, 0, "agent snippet failed: {snippet}\n{out}");
        out
    }

    /// Ends the agent (end of its input) and waits for the launcher.
    pub fn stop(self) -> std::process::ExitStatus {
        let Agent { mut child, jobs, .. } = self;
        drop(jobs);
        child.wait().unwrap()
    }
}

/// Copies the entire binary to `dest`, ready to run. Another test thread
/// that forks before the copy's write descriptor is closed holds it until
/// its child execs: meanwhile exec says busy. Once one exec succeeds, none
/// is left.
pub fn copy_entire(dest: &Path) {
    std::fs::copy(entire_bin(), dest).unwrap();
    while let Err(e) = Command::new(dest).arg("--version").output() {
        assert_eq!(e.kind(), std::io::ErrorKind::ExecutableFileBusy, "{e}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Copies the entire binary to `dest` and runs `entire enable` in `repo`
/// with that copy, so that the hooks point at it.
pub fn enable_with_copy(world: &World, repo: &Path, dest: &Path) {
    copy_entire(dest);
    stdout(world.cmd(dest, repo).arg("enable").output().unwrap());
}

/// `entire run -- git commit --allow-empty -m <message>`: whether it
/// succeeded, and its stderr.
pub fn agent_commit(world: &World, repo: &Path, message: &str) -> (bool, String) {
    let out = world
        .entire(repo)
        .args(["run", "--", "git", "commit", "--allow-empty", "-q", "-m", message])
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A session ID the test knows to be well formed.
pub fn sid(raw: &str) -> entire::session::SessionId {
    entire::session::SessionId::parse(raw).expect("a well-formed session ID")
}

/// A checkpoint ID the test knows to be well formed.
pub fn cid(raw: &str) -> entire::session::CheckpointId {
    entire::session::CheckpointId::parse(raw).expect("a well-formed checkpoint ID")
}

pub fn oid(raw: &str) -> entire::git::CommitId {
    entire::git::CommitId::parse(raw).expect("a full commit SHA")
}

/// The lines of stderr that entire wrote.
pub fn entire_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("entire:")).collect()
}

/// Runs `cmd` (a command line, e.g. `["git", "commit", …]`) in `repo` and
/// returns what it printed, stdout then stderr; panics if it fails.
pub fn printed_by(world: &World, repo: &Path, cmd: &[&str]) -> String {
    let out = world.cmd(cmd[0], repo).args(&cmd[1..]).output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?}: {printed}");
    printed
}
