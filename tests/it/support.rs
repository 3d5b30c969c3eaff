//! Shared fixtures: an isolated world per test (HOME, git config, state
//! dir), real git repos in it, and the real `entire` binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub fn entire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_entire"))
}

pub struct World {
    pub tmp: TempDir,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::Builder::new().prefix("entire-it-").tempdir().unwrap();
        for dir in ["home", "state", "repos"] {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        }
        std::fs::write(
            tmp.path().join("home/.gitconfig"),
            "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
        )
        .unwrap();
        World { tmp }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }

    /// Any command, run in this world's isolated environment.
    pub fn cmd(&self, program: impl AsRef<OsStr>, cwd: &Path) -> Command {
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

/// Stdout of a successful command, trimmed; panics with stderr otherwise.
pub fn stdout(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
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
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
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

impl World {
    /// `<git-common-dir>/entire-sessions` of `repo`.
    pub fn store(&self, repo: &Path) -> PathBuf {
        let common = self.git(repo, &["rev-parse", "--path-format=absolute", "--git-common-dir"]);
        PathBuf::from(common).join("entire-sessions")
    }

    /// Every session record in `repo`'s store that parses, by session ID.
    pub fn records(&self, repo: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
        let Ok(dir) = std::fs::read_dir(self.store(repo)) else { return Default::default() };
        dir.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice::<serde_json::Value>(&std::fs::read(e.path()).ok()?).ok())
            .filter_map(|r| Some((r["session_id"].as_str()?.to_owned(), r)))
            .collect()
    }

    /// The `Entire-Checkpoint` trailers of `rev`.
    pub fn checkpoints_of(&self, cwd: &Path, rev: &str) -> Vec<String> {
        let format = "--format=%(trailers:key=Entire-Checkpoint,valueonly,separator=%x20)";
        self.git(cwd, &["log", "-1", format, rev]).split_whitespace().map(str::to_owned).collect()
    }

    /// A fake agent under `entire run`, in `cwd`.
    pub fn agent(&self, cwd: &Path) -> Agent {
        let dir = tempfile::Builder::new().prefix("agent-").tempdir_in(self.path()).unwrap();
        let mut cmd = self.entire(cwd);
        cmd.args(["run", "--agent", "fake", "--", "sh"]).arg(Agent::script(dir.path())).arg(dir.path());
        Agent::spawn(cmd, dir)
    }

    /// The same fake agent with no launcher: an unrelated process tree.
    pub fn bare_agent(&self, cwd: &Path) -> Agent {
        let dir = tempfile::Builder::new().prefix("agent-").tempdir_in(self.path()).unwrap();
        let mut cmd = self.cmd("sh", cwd);
        cmd.arg(Agent::script(dir.path())).arg(dir.path());
        Agent::spawn(cmd, dir)
    }
}

/// A fake agent: a shell that runs each job the test sends it, one at a
/// time, from its own process tree (so hooks see it as an ancestor). It
/// blocks on a pipe between jobs, so many of them cost nothing.
pub struct Agent {
    pub launcher: std::process::Child,
    /// The agent shell's PID (the launcher's child under `entire run`).
    pub pid: i32,
    stdin: Option<std::process::ChildStdin>,
    replies: std::io::BufReader<std::process::ChildStdout>,
    dir: TempDir,
}

/// What one job of a fake agent did.
pub struct Job {
    pub code: i32,
    pub stderr: String,
}

impl Agent {
    fn script(dir: &Path) -> PathBuf {
        let path = dir.join("agent.sh");
        script(
            &path,
            "#!/bin/sh\n\
             # $1: a directory for each job's stderr\n\
             echo \"pid=$$\"\n\
             while IFS= read -r job; do\n\
             \x20   sh -c \"$job\" </dev/null >/dev/null 2>\"$1/stderr\"\n\
             \x20   echo \"rc=$?\"\n\
             done\n",
        );
        path
    }

    fn spawn(mut cmd: Command, dir: TempDir) -> Agent {
        use std::process::Stdio;
        let mut launcher =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdin = launcher.stdin.take();
        let mut replies = std::io::BufReader::new(launcher.stdout.take().unwrap());
        let pid = Agent::reply(&mut replies, "pid=");
        Agent { launcher, pid, stdin, replies, dir }
    }

    fn reply(replies: &mut impl std::io::BufRead, key: &str) -> i32 {
        let mut line = String::new();
        replies.read_line(&mut line).unwrap();
        line.trim()
            .strip_prefix(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("agent said {line:?}"))
    }

    /// Runs `job` (a shell command) in the agent and waits for it.
    pub fn run(&mut self, job: &str) -> Job {
        use std::io::Write;
        assert!(!job.contains('\n'), "one line per job");
        writeln!(self.stdin.as_mut().expect("agent still running"), "{job}").unwrap();
        let code = Agent::reply(&mut self.replies, "rc=");
        let stderr = std::fs::read_to_string(self.dir.path().join("stderr")).unwrap();
        Job { code, stderr }
    }

    /// Runs a job that must succeed, and returns its stderr.
    pub fn ok(&mut self, job: &str) -> String {
        let done = self.run(job);
        assert_eq!(done.code, 0, "{job}: {}", done.stderr);
        done.stderr
    }

    /// Ends the agent (end of input) and returns how the launcher ended.
    pub fn finish(mut self) -> Output {
        drop(self.stdin.take());
        self.launcher.wait_with_output().unwrap()
    }
}
