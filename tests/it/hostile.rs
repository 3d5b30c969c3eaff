//! Hostile files, payloads, neighbours and remotes: what entire reads,
//! writes, trusts and waits for when someone else put things in its way.
//! Real FIFOs, symlinks, `/dev/zero`, a real second user (`nobody`, via
//! `runuser`), real locks held by `flock`, a real remote branch rewritten
//! by a teammate's clone. A command that would hang runs under `timeout`,
//! whose exit code 124 fails the test.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use entire::session::{Committed, LiveEntry, Pending, Resolution, ResolvedBy, SessionRecord};
use serde_json::{Value, json};

use crate::support::{Agent, World, checkpoint_of, entire_bin, sid, start_time, stdout, wait_for};

const NOBODY: u32 = 65534;
const SECRET: &str = "hunter2-not-for-the-branch";
/// What `timeout` gives each command: far past any deadline of entire's,
/// so that only a hang reaches it.
const GUARD_SECS: &str = "60";

/// `program args…` in the world, killed after [`GUARD_SECS`]; fails the
/// test if it had to be.
fn guarded(w: &World, cwd: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    let out = w.cmd("timeout", cwd).arg(GUARD_SECS).arg(program).args(args).output().unwrap();
    assert_ne!(out.status.code(), Some(124), "{args:?} hung: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn mkfifo(w: &World, path: &Path) {
    let out = w.cmd("mkfifo", w.path()).arg(path).output().unwrap();
    assert!(out.status.success(), "mkfifo {}", path.display());
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every blob on the checkpoints branch that contains `needle`.
fn on_branch(w: &World, repo: &Path, needle: &str) -> String {
    let out =
        w.cmd("git", repo).args(["grep", "-l", needle, "entire/checkpoints/v1", "--"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Claude Code's transcript directory in this world's home.
fn claude_projects(w: &World) -> PathBuf {
    let dir = w.path().join("home/.claude/projects/-repo");
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_settings_file_linked_to_dev_zero_or_a_fifo_costs_no_commit() {
    let w = World::new();
    let repo = w.repo("r");
    let settings = repo.join(".entire/settings.json");
    for what in ["/dev/zero", "a FIFO", "a 2 GB sparse file"] {
        fs::remove_file(&settings).unwrap();
        match what {
            "/dev/zero" => symlink("/dev/zero", &settings).unwrap(),
            "a FIFO" => mkfifo(&w, &settings),
            _ => fs::File::create(&settings).unwrap().set_len(2 << 30).unwrap(),
        }
        let out = guarded(&w, &repo, "git", &["commit", "-q", "--allow-empty", "-m", what]);
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        let warning = stderr(&out);
        assert!(
            warning.lines().all(|l| l.starts_with("entire:")) && !warning.is_empty(),
            "{what}: only entire's warnings: {warning}"
        );
        assert!(
            warning.contains("not a regular file") || warning.contains("larger than"),
            "{what}: {warning}"
        );
        let out = guarded(&w, &repo, entire_bin(), &["run", "--", "sh", "-c", "echo the agent ran"]);
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        assert_eq!(stdout(out), "the agent ran", "{what}");
    }
}

#[test]
fn fifos_devices_links_and_huge_files_in_entires_dirs_hang_no_commit_or_command() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "alpha");
    let store = w.store(&repo);
    for dir in [store.join("live"), w.state_dir().join("live"), store.join("pending")] {
        fs::create_dir_all(&dir).unwrap();
        mkfifo(&w, &dir.join("fifo.json"));
        symlink("/dev/zero", dir.join("zero.json")).unwrap();
        fs::File::create(dir.join("sparse.json")).unwrap().set_len(2 << 30).unwrap();
    }
    mkfifo(&w, &store.join("fifo-session.json"));

    let out = guarded(&w, &repo, "git", &["commit", "-q", "--allow-empty", "-m", "outside any session"]);
    assert!(out.status.success(), "{}", stderr(&out));
    agent.ok("git commit -q --allow-empty -m 'inside the session'");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some(), "the session is still found");
    for args in [&["sessions", "--all"][..], &["status"], &["explain"], &["explain", "HEAD"], &["doctor"]] {
        let out = guarded(&w, &repo, entire_bin(), args);
        assert!(!out.stdout.is_empty(), "{args:?}: {}", stderr(&out));
    }
    agent.stop();
    assert!(fs::symlink_metadata(store.join("live/zero.json")).unwrap().file_type().is_symlink());
    assert_eq!(fs::metadata(store.join("live/sparse.json")).unwrap().len(), 2 << 30);
}

#[test]
fn a_lock_file_planted_as_a_link_makes_entire_create_nothing() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "alpha");
    let outside = w.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let target = outside.join("created-through-the-link");
    let lock = w.store(&repo).join(format!("{}.lock", agent.session_id));
    let _ = fs::remove_file(&lock);
    symlink(&target, &lock).unwrap();
    agent.ok("git commit -q --allow-empty -m one");
    let launcher_stderr = agent.launcher_stderr.clone();
    assert!(agent.stop().success());
    assert!(!target.exists(), "no file created through the link");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    let said = fs::read_to_string(launcher_stderr).unwrap();
    assert!(said.contains("entire:"), "the launcher says it could not record the end: {said}");
}

/// Has the agent's Claude Code hook name `transcript` for its session, as
/// a UserPromptSubmit payload does, then commits.
fn commit_with_transcript(agent: &Agent, repo: &Path, transcript: &Path, message: &str) {
    let payload = json!({
        "session_id": "claude-session", "transcript_path": transcript, "cwd": repo,
        "hook_event_name": "UserPromptSubmit", "prompt": message,
    });
    agent.ok(&format!(
        "printf '%s' '{payload}' | '{}' hooks claude-code user-prompt-submit\n\
         git commit -q --allow-empty -m '{message}'",
        entire_bin().display()
    ));
}

#[test]
fn only_the_agents_own_transcripts_reach_the_branch() {
    let w = World::new();
    let repo = w.repo("r");
    let projects = claude_projects(&w);
    let secret_lines = format!("{{\"secret\":\"{SECRET}\"}}\n");
    let secret = w.path().join("secret.jsonl");
    fs::write(&secret, &secret_lines).unwrap();
    let secret_dir = w.path().join("secret-dir");
    fs::create_dir_all(&secret_dir).unwrap();
    fs::write(secret_dir.join("t.jsonl"), &secret_lines).unwrap();
    symlink(&secret, projects.join("link.jsonl")).unwrap();
    symlink(&secret_dir, projects.join("linked-dir")).unwrap();
    fs::write(projects.join("theirs.jsonl"), &secret_lines).unwrap();
    std::os::unix::fs::lchown(projects.join("theirs.jsonl"), Some(NOBODY), Some(NOBODY)).unwrap();
    mkfifo(&w, &projects.join("fifo.jsonl"));
    fs::write(projects.join("key.jsonl"), format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n"))
        .unwrap();
    fs::write(projects.join("good.jsonl"), "{\"type\":\"user\"}\n").unwrap();

    let agent = w.agent(&repo, "claude-code");
    let cases = [
        ("link.jsonl", "a symbolic link"),
        ("linked-dir/t.jsonl", "outside the agent's transcript directories"),
        ("theirs.jsonl", "owned by another user"),
        ("fifo.jsonl", "not a regular file"),
        ("key.jsonl", "not JSON lines"),
        ("good.jsonl", ""),
    ];
    let mut shas = Vec::new();
    // The writer copies the transcript the record names when it writes:
    // each checkpoint is written (by `explain`) before the next case.
    for (name, _) in cases {
        commit_with_transcript(&agent, &repo, &projects.join(name), name);
        shas.push(w.git(&repo, &["rev-parse", "HEAD"]));
        stdout(w.entire(&repo).args(["explain", "HEAD"]).output().unwrap());
    }
    commit_with_transcript(&agent, &repo, &secret, "outside");
    let outside = w.git(&repo, &["rev-parse", "HEAD"]);
    assert!(agent.stop().success());

    for ((name, reason), sha) in cases
        .iter()
        .zip(&shas)
        .chain([(&("secret.jsonl", "outside the agent's transcript directories"), &outside)])
    {
        let explained = w.json(&repo, &["explain", sha, "--json"]);
        let checkpoint = &explained["checkpoints"][0];
        let dir = format!(
            "{}/{}",
            &checkpoint["checkpoint_id"].as_str().unwrap()[..2],
            &checkpoint["checkpoint_id"].as_str().unwrap()[2..]
        );
        let copied = w
            .cmd("git", &repo)
            .args(["cat-file", "-e", &format!("entire/checkpoints/v1:{dir}/0/full.jsonl")])
            .output()
            .unwrap()
            .status
            .success();
        if reason.is_empty() {
            assert!(copied, "{name}: the agent's own transcript is copied");
            assert!(checkpoint.get("transcript_skipped").is_none(), "{checkpoint:#}");
        } else {
            assert!(!copied, "{name} was copied");
            assert_eq!(checkpoint["transcript_skipped"], *reason, "{name}");
        }
    }
    assert_eq!(on_branch(&w, &repo, SECRET), "", "the secret is nowhere on the branch");
}

/// A live entry of a session whose launcher is PID 1, alive as recorded
/// (its real start time), in `repo`, whose transcript is `transcript`.
fn planted_entry(w: &World, repo: &Path, id: &str, transcript: &Path) -> Vec<u8> {
    let now = chrono::Utc::now();
    let session = SessionRecord {
        agent: Some("claude-code".into()),
        worktree_path: Some(repo.to_string_lossy().into()),
        cwd: Some(repo.to_string_lossy().into()),
        started_at: Some(now),
        last_interaction_time: Some(now),
        launcher_pid: Some(1),
        launcher_start_time: Some(start_time(1)),
        transcript_path: Some(transcript.to_string_lossy().into()),
        ..SessionRecord::new(sid(id))
    };
    serde_json::to_vec(&LiveEntry { store: Some(w.store(repo)), session }).unwrap()
}

#[test]
fn another_users_live_entry_never_owns_our_commit() {
    let w = World::new();
    let repo = w.repo("r");
    let shared = w.path().join("shared-state");
    fs::create_dir_all(shared.join("live")).unwrap();
    for dir in [&shared, &shared.join("live")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).unwrap();
    }
    let ours = claude_projects(&w).join("ours.jsonl");
    fs::write(&ours, format!("{{\"secret\":\"{SECRET}\"}}\n")).unwrap();

    // `nobody` plants a session that looks alive, in our repository, whose
    // transcript is our secret.
    let entry = planted_entry(&w, &repo, "planted-by-nobody", &ours);
    let planted = shared.join("live/planted-by-nobody.json");
    let mut plant = Command::new("runuser")
        .args(["-u", "nobody", "--", "sh", "-c", "cat > \"$0\""])
        .arg(&planted)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(plant.stdin.as_mut().unwrap(), &entry).unwrap();
    drop(plant.stdin.take());
    assert!(plant.wait().unwrap().success());
    assert_eq!(fs::metadata(&planted).unwrap().uid(), NOBODY);

    let commit = |message: &str| {
        let out = w
            .cmd("git", &repo)
            .env("ENTIRE_STATE_DIR", &shared)
            .args(["commit", "-q", "--allow-empty", "-m", message])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    commit("a plain commit");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "not attributed to nobody's session");
    assert_eq!(w.records(&repo).len(), 0, "nothing adopted");

    // The same entry, ours: believed (so the test above can fail).
    fs::write(shared.join("live/ours.json"), planted_entry(&w, &repo, "ours", &ours)).unwrap();
    commit("a commit of our own session");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some(), "our own entry is believed");
    assert!(w.records(&repo).contains_key("ours"));

    // entire itself never writes into a directory others may write to.
    let out = guarded(
        &w,
        &repo,
        "env",
        &[
            &format!("ENTIRE_STATE_DIR={}", shared.display()),
            entire_bin().to_str().unwrap(),
            "run",
            "--",
            "sh",
            "-c",
            "echo ran",
        ],
    );
    assert_eq!(stdout(out.clone()), "ran");
    assert!(stderr(&out).contains("others may write to it"), "{}", stderr(&out));
    assert_eq!(fs::read_dir(shared.join("live")).unwrap().count(), 2, "no entry of ours added");
}

#[test]
fn state_and_store_dirs_of_others_links_or_open_to_all_are_refused() {
    let w = World::new();
    let repo = w.repo("r");
    let run_with_state = |state: &Path| {
        let out = w
            .entire(&repo)
            .env("ENTIRE_STATE_DIR", state)
            .args(["run", "--", "sh", "-c", "echo ran"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ran", "the agent runs anyway");
        stderr(&out)
    };
    // Fresh: private.
    let fresh = w.path().join("fresh/state");
    assert_eq!(run_with_state(&fresh), "");
    for dir in [&fresh, &fresh.join("live")] {
        assert_eq!(fs::metadata(dir).unwrap().mode() & 0o7777, 0o700, "{}", dir.display());
    }
    assert_eq!(fs::metadata(w.store(&repo)).unwrap().mode() & 0o7777, 0o700);

    // Someone else's, open to all, a link: refused, with the fix, and
    // nothing written there.
    let theirs = w.path().join("theirs");
    fs::create_dir_all(&theirs).unwrap();
    std::os::unix::fs::lchown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
    let said = run_with_state(&theirs);
    assert!(said.contains("owned by uid 65534") && said.contains("chown"), "{said}");
    let open = w.path().join("open");
    fs::create_dir_all(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let said = run_with_state(&open);
    assert!(said.contains("others may write to it") && said.contains("chmod go-w"), "{said}");
    let elsewhere = w.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    let link = w.path().join("link");
    symlink(&elsewhere, &link).unwrap();
    let said = run_with_state(&link);
    assert!(said.contains("symbolic link"), "{said}");
    for dir in [&theirs, &open, &elsewhere] {
        assert_eq!(fs::read_dir(dir).unwrap().count(), 0, "nothing written in {}", dir.display());
    }

    // A store that is a link: no trailer, nothing written where it points.
    let linked = w.repo("linked");
    let store = w.store(&linked);
    fs::remove_dir_all(&store).ok();
    let target = w.path().join("store-target");
    fs::create_dir_all(&target).unwrap();
    symlink(&target, &store).unwrap();
    let out = w
        .entire(&linked)
        .args(["run", "--", "git", "commit", "-q", "--allow-empty", "-m", "x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(checkpoint_of(&w, &linked, "HEAD"), None);
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
}

#[test]
fn a_group_shared_repository_keeps_its_store_usable_by_the_group() {
    let w = World::new();
    let repo = w.plain_repo("shared");
    w.git(&repo, &["config", "core.sharedRepository", "group"]);
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    let out = w
        .entire(&repo)
        .args(["run", "--", "git", "commit", "-q", "--allow-empty", "-m", "x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some());
    let store = w.store(&repo);
    assert_eq!(fs::metadata(&store).unwrap().mode() & 0o7777, 0o2770);
    let record = fs::read_dir(&store)
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "json"))
        .unwrap();
    assert_eq!(record.metadata().unwrap().mode() & 0o777, 0o660);

    // The same open directory where the repository is not shared: refused.
    let private = w.repo("private");
    let store = w.store(&private);
    fs::create_dir_all(&store).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o2770)).unwrap();
    let out = w
        .entire(&private)
        .args(["run", "--", "git", "commit", "-q", "--allow-empty", "-m", "x"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("others may write to it"), "{}", stderr(&out));
}

/// A handed-off checkpoint of HEAD's in `repo`'s store, as post-commit
/// leaves it for the writer.
fn handed_off(w: &World, repo: &Path, id: &str) -> PathBuf {
    let pending = Pending {
        checkpoint_id: crate::support::cid(id),
        session_id: sid("held-session"),
        resolved_by: ResolvedBy::Env,
        resolution: Resolution::default(),
        created_at: chrono::Utc::now(),
        committed: None,
        git: None,
        git_dir: None,
    };
    let committed = Committed {
        commit: crate::support::oid(&w.git(repo, &["rev-parse", "HEAD"])),
        branch: Some("main".into()),
    };
    let dir = w.store(repo).join("pending");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{id}.json"));
    let text = format!(
        "{}\n{}\n",
        serde_json::to_string(&pending).unwrap(),
        serde_json::to_string(&committed).unwrap()
    );
    fs::write(&path, text).unwrap();
    path
}

/// `flock FILE sleep 600` in a process group of its own, killed with its
/// `sleep` (which holds the lock too) when dropped.
struct Held(std::process::Child);

impl Held {
    fn lock(w: &World, file: &Path) -> Held {
        use std::os::unix::process::CommandExt;
        let child =
            w.cmd("flock", w.path()).arg(file).args(["sleep", "600"]).process_group(0).spawn().unwrap();
        wait_for("the lock to be held", || {
            !w.cmd("flock", w.path()).args(["-n"]).arg(file).arg("true").status().unwrap().success()
        });
        Held(child)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.0.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

#[test]
fn held_locks_cost_hooks_pushes_and_readers_a_bounded_wait() {
    let w = World::new();
    let repo = w.repo("r");
    let remote = w.path().join("remote.git");
    w.git(w.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    w.git(&repo, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let agent = w.agent(&repo, "claude-code");

    // An agent hook whose session's lock is held: it gives up, says so.
    let lock = w.store(&repo).join(format!("{}.lock", agent.session_id));
    fs::write(&lock, "").unwrap();
    let held = Held::lock(&w, &lock);
    let payload =
        json!({"session_id": "c", "cwd": repo, "hook_event_name": "UserPromptSubmit", "prompt": "hi"});
    let (rc, out) = agent.exec(&format!(
        "printf '%s' '{payload}' | timeout {GUARD_SECS} '{}' hooks claude-code user-prompt-submit",
        entire_bin().display()
    ));
    assert_eq!(rc, 0, "{out}");
    assert!(out.starts_with("entire:") && out.contains("gave up after 300 ms"), "{out}");
    drop(held);

    // A checkpoint handed off while a stuck writer holds the writer lock:
    // pushes and readers go on.
    handed_off(&w, &repo, "0123456789ab");
    let held = Held::lock(&w, &w.store(&repo).join("writer.lock"));
    for (program, args) in [
        ("git", &["push", "-q", "origin", "main"][..]),
        (entire_bin().to_str().unwrap(), &["explain", "HEAD"]),
    ] {
        let out = guarded(&w, &repo, program, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("gave up after 5000 ms"), "{args:?}: {}", stderr(&out));
    }
    drop(held);
    assert!(agent.stop().success());
}

#[test]
fn the_launchers_wait_at_the_end_gives_way_to_sigterm() {
    let w = World::new();
    let repo = w.repo("r");
    handed_off(&w, &repo, "0123456789ab");
    let _held = Held::lock(&w, &w.store(&repo).join("writer.lock"));
    let started = w.path().join("started");
    let mut launcher = w
        .entire(&repo)
        .args(["run", "--", "touch"])
        .arg(&started)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the agent", || started.exists());
    let live = w.state_dir().join("live");
    // The entries go before the wait for the writer begins.
    wait_for("the session's end", || fs::read_dir(&live).map_or(true, |d| d.count() == 0));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(launcher.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = launcher.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "ended by the SIGTERM, not after its wait: {status:?}");
    let sessions = w.json(&repo, &["sessions", "--all", "--json"]);
    assert!(sessions[0]["ended_at"].is_string(), "the session was ended first: {sessions:#}");
}

#[test]
fn a_stopped_writer_costs_a_reader_one_warning_and_loses_nothing() {
    let w = World::new();
    let repo = w.repo("r");
    // The writer lock held by a stopped process: it makes no progress.
    fs::create_dir_all(w.store(&repo)).unwrap();
    let held = Held::lock(&w, &w.store(&repo).join("writer.lock"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(held.0.id() as i32), nix::sys::signal::Signal::SIGSTOP)
        .unwrap();
    let job = "for n in 1 2 3; do echo $n > f && git add f && git commit -q -m c$n || exit 1; done";
    // The launcher reads its session's checkpoints at its end: it gives up
    // once, and returns.
    let run = guarded(&w, &repo, entire_bin(), &["run", "--", "sh", "-c", job]);
    assert!(run.status.success(), "{}", stderr(&run));
    let warnings = crate::support::entire_lines(&stderr(&run)).join("\n");
    assert_eq!(warnings.lines().count(), 1, "{}", stderr(&run));
    assert!(warnings.contains("writer.lock") && warnings.contains("gave up after 5000 ms without progress"));
    let pending = || fs::read_dir(w.store(&repo).join("pending")).map_or(0, |d| d.count());
    assert_eq!(pending(), 3, "handed off, not written, not lost");

    // The writer goes (its lock with it): the next reader writes them all.
    drop(held);
    let sessions = guarded(&w, &repo, entire_bin(), &["sessions", "--json"]);
    assert_eq!(stderr(&sessions), "");
    assert_eq!(pending(), 0);
    for rev in ["HEAD~2", "HEAD~1", "HEAD"] {
        let id = checkpoint_of(&w, &repo, rev).expect("tagged");
        let explained = w.json(&repo, &["explain", "--commit", rev, "--json"]);
        assert_eq!(explained["checkpoints"][0]["checkpoint_id"], id.as_str(), "{rev}: {explained:#}");
    }
}

#[test]
fn agents_killed_by_real_time_signals_pass_them_on_and_end_their_sessions() {
    let w = World::new();
    let repo = w.repo("r");
    for signal in [34, 40, 64] {
        let out = w
            .entire(&repo)
            .args(["run", "--", "bash", "-c", &format!("kill -{signal} $$")])
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(signal), "{}", stderr(&out));
        assert_eq!(stderr(&out), "");
    }
    let sessions = w.json(&repo, &["sessions", "--all", "--json"]);
    let mut signals: Vec<i64> =
        sessions.as_array().unwrap().iter().map(|s| s["exit_signal"].as_i64().unwrap()).collect();
    signals.sort();
    assert_eq!(signals, [34, 40, 64]);
    assert!(sessions.as_array().unwrap().iter().all(|s| s["ended_at"].is_string() && s["live"] == false));
    assert_eq!(fs::read_dir(w.state_dir().join("live")).unwrap().count(), 0, "registry entries removed");
    assert_eq!(fs::read_dir(w.store(&repo).join("live")).unwrap().count(), 0, "index entries removed");
}

#[test]
fn a_remote_branch_never_rewrites_or_hides_a_local_checkpoint_nor_writes_to_the_terminal() {
    let w = World::new();
    let remote = w.path().join("remote.git");
    w.git(w.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    let alice = w.repo("alice");
    w.git(&alice, &["remote", "add", "origin", remote.to_str().unwrap()]);
    crate::support::stdout(w.entire(&alice).args(["enable", "--push"]).output().unwrap());
    let agent = w.agent(&alice, "alpha");
    agent.ok("git commit -q --allow-empty -m 'by alpha'");
    let sha = w.git(&alice, &["rev-parse", "HEAD"]);
    let id = checkpoint_of(&w, &alice, "HEAD").unwrap();
    assert!(agent.stop().success());
    w.git(&alice, &["commit", "-q", "--allow-empty", "-m", "by hand"]);
    let by_hand = w.git(&alice, &["rev-parse", "HEAD"]);
    w.git(&alice, &["push", "-q", "origin", "main"]);

    // Mallory rewrites the branch in a clone of her own and pushes it.
    let mallory = w.path().join("mallory");
    w.git(w.path(), &["clone", "-q", remote.to_str().unwrap(), mallory.to_str().unwrap()]);
    let tree = w.path().join("mallory-branch");
    w.git(
        &mallory,
        &["worktree", "add", "-q", "-B", "evil", tree.to_str().unwrap(), "origin/entire/checkpoints/v1"],
    );
    let dir = |id: &str| tree.join(&id[..2]).join(&id[2..]);
    let index = |sha: &str| tree.join("commits").join(&sha[..2]).join(&sha[2..]);
    let mut meta: Value = serde_json::from_slice(&fs::read(dir(&id).join("metadata.json")).unwrap()).unwrap();
    let original = meta.clone();
    meta["session_id"] = "attacker-session".into();
    meta["resolved_by"] = "env".into();
    fs::write(dir(&id).join("metadata.json"), serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    let extra = |id: &str, metadata: Vec<u8>, claims: &str| {
        fs::create_dir_all(dir(id)).unwrap();
        fs::write(dir(id).join("metadata.json"), metadata).unwrap();
        let path = index(claims);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut lines = fs::read_to_string(&path).unwrap_or_default();
        lines.push_str(&format!("{id}\n"));
        fs::write(path, lines).unwrap();
    };
    // Index lines for commits its metadata does not name.
    let mut other = original.clone();
    other["checkpoint_id"] = "bbbbbbbbbbbb".into();
    other["commit"] = "f".repeat(40).into();
    other["session_id"] = "second-session".into();
    extra("bbbbbbbbbbbb", serde_json::to_vec(&other).unwrap(), &by_hand);
    extra("bbbbbbbbbbbb", serde_json::to_vec(&other).unwrap(), &sha);
    // Not JSON, and 20 MB: unreadable, and in the way.
    extra("cccccccccccc", b"not json".to_vec(), &sha);
    extra("dddddddddddd", [b"{\"pad\":\"".as_slice(), &vec![b'x'; 20 << 20], b"\"}"].concat(), &sha);
    // Escape sequences in what explain prints.
    let mut loud = original.clone();
    loud["checkpoint_id"] = "eeeeeeeeeeee".into();
    loud["agent"] = "\u{1b}[2J\u{1b}]0;pwned\u{7}".into();
    loud["branch"] = "\u{1b}[31mred".into();
    extra("eeeeeeeeeeee", serde_json::to_vec(&loud).unwrap(), &sha);
    w.git(&tree, &["add", "-A"]);
    w.git(&tree, &["commit", "-q", "-m", "rewrite"]);
    w.git(&tree, &["push", "-q", "-f", "origin", "evil:entire/checkpoints/v1"]);

    // Alice fetches: her own checkpoint stays hers.
    w.git(&alice, &["fetch", "-q", "origin"]);
    let out = guarded(&w, &alice, entire_bin(), &["explain", &sha]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
        "no escape reaches the terminal: {text}"
    );
    assert!(text.contains("\\x1b[2J"), "{text}");
    assert!(
        text.contains(&format!(
            "checkpoint {id}\n  session:     {}",
            original["session_id"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(!text.contains("attacker-session") && !text.contains("second-session"), "{text}");
    for unreadable in ["cccccccccccc", "dddddddddddd"] {
        assert!(text.contains(&format!("checkpoint {unreadable}\n  unreadable")), "{unreadable}: {text}");
        assert!(stderr(&out).contains(unreadable), "{}", stderr(&out));
    }
    let json = w.json(&alice, &["explain", &by_hand, "--json"]);
    assert_eq!(json["checkpoints"], json!([]), "the index alone proves nothing");
    let local =
        w.git(&alice, &["show", &format!("entire/checkpoints/v1:{}/{}/metadata.json", &id[..2], &id[2..])]);
    assert_eq!(serde_json::from_str::<Value>(&local).unwrap(), original, "the local checkpoint is unchanged");

    let doctor = w.entire(&alice).arg("doctor").output().unwrap();
    assert_eq!(doctor.status.code(), Some(1));
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(report.contains(&format!("holds another {}/{}/metadata.json", &id[..2], &id[2..])), "{report}");
}
