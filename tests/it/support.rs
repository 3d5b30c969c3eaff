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

/// A fake agent under `entire run`: it records its session ID, then runs
/// shell snippets handed to it (as its own children, like an agent's tool
/// calls) until told to stop.
pub struct Agent {
    pub session_id: String,
    pub child: std::process::Child,
    dir: PathBuf,
}

const AGENT_LOOP: &str = r#"echo "$ENTIRE_SESSION_ID" > "$AGENT_DIR/id.tmp" && mv "$AGENT_DIR/id.tmp" "$AGENT_DIR/id"
while [ -d "$AGENT_DIR" ]; do
    if [ -e "$AGENT_DIR/cmd" ]; then
        mv "$AGENT_DIR/cmd" "$AGENT_DIR/run.sh"
        sh "$AGENT_DIR/run.sh" > "$AGENT_DIR/out" 2>&1
        echo $? > "$AGENT_DIR/rc.tmp" && mv "$AGENT_DIR/rc.tmp" "$AGENT_DIR/rc"
    fi
    [ -e "$AGENT_DIR/stop" ] && exit 0
    sleep 0.01
done
"#;

impl World {
    /// Starts `entire run --agent <name> -- sh <loop>` in `cwd`.
    pub fn agent(&self, cwd: &Path, name: &str) -> Agent {
        // Inside the world: when a failed test drops it, the loop ends too.
        let dir = tempfile::Builder::new().prefix("agent-").tempdir_in(self.path()).unwrap().keep();
        let child = self
            .entire(cwd)
            .args(["run", "--agent", name, "--", "sh", "-c", AGENT_LOOP])
            .env("AGENT_DIR", &dir)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let session_id = wait_for_file(&dir.join("id"));
        Agent { session_id, child, dir }
    }
}

impl Agent {
    /// Runs `snippet` inside the agent; returns (exit code, output).
    pub fn exec(&self, snippet: &str) -> (i32, String) {
        let tmp = self.dir.join("cmd.tmp");
        std::fs::write(&tmp, snippet).unwrap();
        std::fs::rename(&tmp, self.dir.join("cmd")).unwrap();
        let rc = wait_for_file(&self.dir.join("rc"));
        std::fs::remove_file(self.dir.join("rc")).unwrap();
        let out = std::fs::read_to_string(self.dir.join("out")).unwrap_or_default();
        (rc.parse().unwrap(), out)
    }

    /// Runs `snippet` and asserts it succeeded.
    pub fn ok(&self, snippet: &str) -> String {
        let (rc, out) = self.exec(snippet);
        assert_eq!(rc, 0, "agent snippet failed: {snippet}\n{out}");
        out
    }

    pub fn stop(mut self) -> std::process::ExitStatus {
        std::fs::write(self.dir.join("stop"), "").unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Agent {
    /// A test that panics must not leave its agent looping forever.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = std::fs::write(self.dir.join("stop"), "");
        }
    }
}

/// Waits (up to 20 s) for a file to appear and returns its trimmed content.
pub fn wait_for_file(path: &Path) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text.trim().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {}", path.display());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The `Entire-Checkpoint` value of a commit, if any.
pub fn checkpoint_of(world: &World, repo: &Path, rev: &str) -> Option<String> {
    let out = world.git(repo, &["log", "-1", "--format=%(trailers:key=Entire-Checkpoint,valueonly)", rev]);
    Some(out.trim().to_owned()).filter(|s| !s.is_empty())
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

/// A shell snippet for an agent: change `file` and stage it.
pub fn stage_change(file: &str) -> String {
    format!("echo change >> {file} && git add {file}")
}
