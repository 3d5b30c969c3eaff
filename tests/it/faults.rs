//! Fault injection: whatever breaks around it, a commit goes through, entire
//! says what went wrong in one `entire:` line, and no session file or
//! checkpoint is lost or rewritten blindly. See docs/reliability.md.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use serde_json::{Value, json};

use crate::support::{
    World, checkpoint_of, enable_with_copy, entire_bin, entire_lines, owner_of, running, start_time, stdout,
    wait_for,
};

/// A session record written by hand in the docs/spec.md §3 format, with
/// `launcher` and `agent` as (PID, start time).
fn record(id: &str, worktree: &Path, launcher: (i32, u64), agent: Option<(i32, u64)>, ended: bool) -> Value {
    json!({
        "session_id": id,
        "agent": "fake",
        "worktree_path": worktree.to_str().unwrap(),
        "started_at": "2026-01-01T00:00:00Z",
        "last_interaction_time": "2026-01-01T00:00:00Z",
        "ended_at": if ended { json!("2026-01-01T01:00:00Z") } else { Value::Null },
        "launcher_pid": launcher.0,
        "launcher_start_time": launcher.1,
        "agent_pid": agent.map(|a| a.0),
        "agent_start_time": agent.map(|a| a.1),
        "checkpoints": [],
        "source": "launcher",
    })
}

/// Writes `session` into a repository's `store` ([`World::store`]) and,
/// like a running launcher, into the live registry.
fn register(world: &World, store: &Path, session: &Value) {
    let id = session["session_id"].as_str().unwrap();
    let live = world.state_dir().join("live");
    for dir in [store, &live] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(store.join(format!("{id}.json")), serde_json::to_vec_pretty(session).unwrap()).unwrap();
    let entry = json!({"store": store, "session": session});
    std::fs::write(live.join(format!("{id}.json")), serde_json::to_vec(&entry).unwrap()).unwrap();
}

/// The single session `entire run` created in `repo`.
fn only_session(world: &World, repo: &Path) -> Value {
    let records = world.records(repo);
    assert_eq!(records.len(), 1, "{records:#?}");
    records.into_values().next().unwrap()
}

/// The checkpoints recorded in `session`, as (checkpoint ID, commit, resolved_by).
fn recorded(session: &Value) -> Vec<(String, String, String)> {
    let list = session["checkpoints"].as_array().cloned().unwrap_or_default();
    let field = |c: &Value, k: &str| c[k].as_str().unwrap().to_owned();
    list.iter().map(|c| (field(c, "checkpoint_id"), field(c, "commit"), field(c, "resolved_by"))).collect()
}

/// Asserts HEAD of `repo` carries one checkpoint, whose metadata names
/// `session_id` and `method`, and which that session's record lists. Reads
/// the one record, not every session (some tests hold a thousand).
fn assert_attributed(world: &World, repo: &Path, session_id: &str, method: &str) {
    let trailer = checkpoint_of(world, repo, "HEAD").expect("HEAD has a checkpoint trailer");
    assert!(!trailer.contains(char::is_whitespace), "one trailer: {trailer:?}");
    // explain writes what post-commit handed off first.
    let explained = world.json(repo, &["explain", "HEAD", "--json"]);
    let on_branch = &explained["checkpoints"][0];
    assert_eq!((&on_branch["session_id"], &on_branch["resolved_by"]), (&json!(session_id), &json!(method)));
    let record = world.store(repo).join(format!("{session_id}.json"));
    let record: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let sha = explained["commit"].as_str().unwrap();
    let listed = recorded(&record)
        .into_iter()
        .any(|(id, commit, by)| (id, &*commit, &*by) == (trailer.clone(), sha, method));
    assert!(listed, "{session_id} does not list {trailer} for {sha} by {method}: {record:#}");
}

fn commit_count(world: &World, repo: &Path) -> usize {
    world.git(repo, &["rev-list", "--count", "HEAD"]).parse().unwrap()
}

#[test]
fn unparsable_session_files_are_skipped_and_left_byte_identical() {
    let world = World::new();
    let repo = world.repo("r");
    let store = world.store(&repo);
    std::fs::create_dir_all(&store).unwrap();
    let valid =
        serde_json::to_string(&record("0190aaaa-0000-7000-8000-00000000000a", &repo, (1, 1), None, false));
    let bad: [(&str, Vec<u8>); 5] = [
        ("0190aaaa-0000-7000-8000-00000000000a", valid.unwrap().as_bytes()[..60].to_vec()),
        ("0190aaaa-0000-7000-8000-00000000000b", Vec::new()),
        ("0190aaaa-0000-7000-8000-00000000000c", b"this is not json\n".to_vec()),
        ("0190aaaa-0000-7000-8000-00000000000d", b"[1, 2, 3]\n".to_vec()),
        ("0190aaaa-0000-7000-8000-00000000000e", br#"{"session_id": 42, "launcher_pid": "x"}"#.to_vec()),
    ];
    let live = world.state_dir().join("live");
    std::fs::create_dir_all(&live).unwrap();
    let mut planted: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for (id, bytes) in &bad {
        planted.push((store.join(format!("{id}.json")), bytes.clone()));
        planted.push((live.join(format!("{id}.json")), bytes.clone()));
    }
    for (path, bytes) in &planted {
        std::fs::write(path, bytes).unwrap();
    }

    let agent = world.agent(&repo, "fake");
    agent.ok("git commit -q --allow-empty -m by-env");
    let id = agent.session_id.clone();
    assert_attributed(&world, &repo, &id, "env");
    agent.ok("unset ENTIRE_SESSION_ID; git commit -q --allow-empty -m by-pid");
    assert_attributed(&world, &repo, &id, "pid");

    // The agent's own record goes bad mid-session: the commit still goes
    // through, the file is not touched, the checkpoint stays pending.
    let own = store.join(format!("{id}.json"));
    std::fs::write(&own, b"{\"session_id\": \"trunc").unwrap();
    let stderr = agent.ok("git commit -q --allow-empty -m own-record-broken");
    assert!(stderr.contains("entire:") && stderr.contains(own.to_str().unwrap()), "{stderr}");
    let trailer = checkpoint_of(&world, &repo, "HEAD").expect("the commit is attributed");
    let pending = store.join("pending").join(format!("{trailer}.json"));
    assert!(pending.exists(), "the checkpoint of a commit whose session file is broken is kept pending");
    assert!(agent.stop().success());
    assert_eq!(std::fs::read(&own).unwrap(), b"{\"session_id\": \"trunc");
    assert_eq!(commit_count(&world, &repo), 4);

    let listed = world.entire(&repo).args(["sessions", "--json"]).output().unwrap();
    let warnings = String::from_utf8_lossy(&listed.stderr);
    assert!(listed.status.success(), "{warnings}");
    for (id, _) in &bad {
        assert!(warnings.contains(&format!("{id}.json")), "{id} skipped with a warning: {warnings}");
    }
    for (path, bytes) in &planted {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{} was rewritten", path.display());
    }
}

/// Values of `ENTIRE_SESSION_ID` that must never name a session, let alone
/// a file. Each would land on an `x.json` in this world if used as a path.
fn hostile_ids(world: &World) -> Vec<(&'static str, Vec<u8>)> {
    let absolute = world.path().join("abs").join("x");
    let mut control: Vec<u8> = b"x".to_vec();
    control.extend((1u8..32).chain([127]));
    vec![
        ("relative path", b"../../x".to_vec()),
        ("path inside an ID", b"a/../../../x".to_vec()),
        ("absolute path", absolute.as_os_str().as_bytes().to_vec()),
        ("10 kB", b"x".repeat(10 * 1024)),
        ("control characters", control),
        ("non-UTF-8", b"x\xff\xfe\x80".to_vec()),
        ("leading dot", b".x".to_vec()),
        ("leading dash", b"-x".to_vec()),
    ]
}

#[test]
fn hostile_session_ids_are_rejected_and_never_used_as_paths() {
    let world = World::new();
    let repo = world.repo("r");
    std::fs::create_dir_all(world.path().join("abs")).unwrap();
    for (what, value) in hostile_ids(&world) {
        let hostile = OsStr::from_bytes(&value);
        // The launcher gets it (a would-be parent session) and the hook gets
        // it (the agent overrides its own, valid one).
        let before = world.records(&repo);
        let out = world
            .entire(&repo)
            .env("ENTIRE_SESSION_ID", hostile)
            .env("HOSTILE", hostile)
            .args(["run", "--", "sh", "-c"])
            .arg(r#"ENTIRE_SESSION_ID="$HOSTILE" ENTIRE_DEBUG=1 git commit -q --allow-empty -m hostile"#)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
        assert!(stderr.contains("env_rejected: malformed"), "{what}: {stderr}");
        let newest = world
            .records(&repo)
            .into_values()
            .find(|r| !before.contains_key(r["session_id"].as_str().unwrap()))
            .unwrap();
        assert!(newest["parent_session_id"].is_null(), "{what}: {newest:#}");
        assert_attributed(&world, &repo, newest["session_id"].as_str().unwrap(), "pid");
    }
    let strays: Vec<PathBuf> = walk(world.path()).into_iter().filter(|p| p.ends_with("x.json")).collect();
    assert!(strays.is_empty(), "a hostile ID was used as a path: {strays:?}");
}

#[test]
fn a_file_where_the_store_should_be_costs_no_commit() {
    let world = World::new();
    let repo = world.repo("r");
    let store = world.store(&repo);
    std::fs::write(&store, "not a directory\n").unwrap();
    let out = world
        .entire(&repo)
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "git commit -q --allow-empty -m one && git commit -q --allow-empty -m two",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(commit_count(&world, &repo), 3);
    let launcher_warnings = stderr.lines().filter(|l| l.ends_with("running the agent anyway")).count();
    assert_eq!(launcher_warnings, 1, "the launcher warns once: {stderr}");
    assert!(entire_lines(&stderr).len() > 1, "each commit says why it is not linked: {stderr}");
    assert!(checkpoint_of(&world, &repo, "HEAD").is_none(), "no trailer that nothing records");

    // The hook itself exits 0, not only the shim around it.
    let message = world.path().join("message");
    std::fs::write(&message, "direct\n").unwrap();
    let hook =
        format!("{} hooks git prepare-commit-msg {}; echo rc=$?", entire_bin().display(), message.display());
    let out = world.entire(&repo).args(["run", "--", "sh", "-c", &hook]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "rc=0", "{stderr}");
    assert!(stderr.contains("entire: prepare-commit-msg:"), "{stderr}");
    assert_eq!(std::fs::read(&store).unwrap(), b"not a directory\n");
}

/// `nobody`, for the permission faults (tests run as root, which no
/// permission bit stops).
const NOBODY: u32 = 65534;

/// Hands the repo to `nobody` but keeps the store root's with `mode`, and
/// makes the world reachable and the state dir writable for `nobody`.
fn store_owned_by_root(world: &World, repo: &Path, mode: u32) -> (PathBuf, Vec<u8>) {
    use std::os::unix::fs::PermissionsExt;
    let set_mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    set_mode(world.path(), 0o755);
    set_mode(&world.state_dir(), 0o1777);
    let store = world.store(repo);
    // Root's own git calls below read a repo that is now nobody's.
    let config = world.path().join("home/.gitconfig");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[safe]\n\tdirectory = *\n");
    std::fs::write(&config, text).unwrap();
    for path in walk(repo) {
        std::os::unix::fs::lchown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    std::fs::create_dir_all(&store).unwrap();
    let other = store.join("0190bbbb-0000-7000-8000-000000000001.json");
    let bytes = serde_json::to_vec(&record("0190bbbb-0000-7000-8000-000000000001", repo, (1, 1), None, true))
        .unwrap();
    std::fs::write(&other, &bytes).unwrap();
    set_mode(&other, 0o644);
    set_mode(&store, mode);
    (other, bytes)
}

/// Every path under `dir`, directories included.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            all.extend(walk(&entry.path()));
        } else {
            all.push(entry.path());
        }
    }
    all
}

#[test]
#[ignore = "needs root (runs as nobody): run scripts/test as root"]
fn a_store_nobody_may_write_or_read_costs_no_commit_as_root() {
    for (mode, what) in [(0o555, "read-only"), (0o700, "unreadable")] {
        let world = World::new();
        let repo = world.repo("r");
        let (other, bytes) = store_owned_by_root(&world, &repo, mode);
        let out = world
            .entire(&repo)
            .uid(NOBODY)
            .gid(NOBODY)
            .args(["run", "--", "sh", "-c", "git commit -q --allow-empty -m as-nobody && id -u"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), NOBODY.to_string(), "ran as nobody");
        assert_eq!(commit_count(&world, &repo), 2, "{what}");
        assert!(
            stderr.lines().any(|l| l.starts_with("entire:")
                && l.contains("refusing to use")
                && l.contains("owned by uid 0")),
            "{stderr}"
        );
        assert!(checkpoint_of(&world, &repo, "HEAD").is_none(), "{what}: no trailer that nothing records");
        assert_eq!(std::fs::read(&other).unwrap(), bytes);
        assert_eq!(std::fs::read_dir(other.parent().unwrap()).unwrap().count(), 1, "{what}: nothing added");
    }
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test needs root with mount permission (scripts/test as root runs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }

    /// Writes a filler file until the filesystem is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.0.join(".filler")).unwrap();
        while filler.write_all(&[0u8; 4096]).and_then(|()| filler.sync_all()).is_ok() {}
    }

    fn drain(&self) {
        std::fs::remove_file(self.0.join(".filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root (mounts a tmpfs): run scripts/test as root"]
fn a_full_disk_costs_no_commit_and_corrupts_no_record_as_root() {
    let world = World::new();
    let repo = world.repo("r");
    let disk = Tmpfs::mount(&world.store(&repo), "256k");

    let agent = world.agent(&repo, "fake");
    let id = agent.session_id.clone();
    agent.ok("git commit -q --allow-empty -m before");
    assert_attributed(&world, &repo, &id, "env");

    let record_path = world.store(&repo).join(format!("{id}.json"));
    let before = std::fs::read(&record_path).unwrap();
    disk.fill();
    let stderr = agent.ok("git commit -q --allow-empty -m disk-full");
    assert!(entire_lines(&stderr).iter().any(|l| l.contains("No space left")), "{stderr}");
    assert!(checkpoint_of(&world, &repo, "HEAD").is_none(), "no trailer that nothing records");
    assert_eq!(std::fs::read(&record_path).unwrap(), before, "the record was touched on a full disk");

    disk.drain();
    agent.ok("git commit -q --allow-empty -m after");
    assert_attributed(&world, &repo, &id, "env");

    // The launcher cannot write the end either: it says so, and leaves
    // the record whole; readers see the session ended by its dead PIDs.
    let before = std::fs::read(&record_path).unwrap();
    disk.fill();
    let launcher_stderr = agent.launcher_stderr.clone();
    assert!(agent.stop().success());
    let stderr = std::fs::read_to_string(launcher_stderr).unwrap();
    assert!(stderr.contains("could not record the end of the session"), "{stderr}");
    assert_eq!(std::fs::read(&record_path).unwrap(), before);
    assert_eq!(commit_count(&world, &repo), 4);
    disk.drain();
    let sessions = world.json(&repo, &["sessions", "--json"]);
    assert_eq!(sessions[0]["live"], false, "{sessions:#}");
}

#[test]
fn a_removed_entire_binary_costs_no_commit_and_warns_once_per_commit() {
    let world = World::new();
    let repo = world.plain_repo("r");
    // The user's own hook keeps running too: the hooks are a private copy
    // of the binary, not links to the installed one.
    let marker = world.path().join("user-hook-ran");
    crate::support::script(
        &repo.join(".git/hooks/commit-msg"),
        &format!("#!/bin/sh\necho ran >> {}\n", marker.display()),
    );
    let copy = world.path().join("bin/entire");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    enable_with_copy(&world, &repo, &copy);
    std::fs::remove_file(&copy).unwrap();

    let out =
        world.cmd("git", &repo).args(["commit", "-q", "--allow-empty", "-m", "no binary"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let expected = format!(
        "entire: {} is gone; its hooks in this repository run their own copy; to remove them: \
         `git config --unset core.hooksPath` and `rm -rf '{}/.git/entire-hooks'` (or reinstall entire and run \
         `entire disable`)",
        copy.display(),
        repo.display()
    );
    // One line for the commit (prepare-commit-msg), nothing else.
    assert_eq!(stderr.lines().collect::<Vec<_>>(), [expected.as_str()], "{stderr}");
    assert_eq!(commit_count(&world, &repo), 2);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n", "the user's hook still ran");

    // An agent's commit is still attributed, by the copy.
    let agent = world.agent(&repo, "a");
    agent.ok("git commit -q --allow-empty -m by-agent");
    assert!(checkpoint_of(&world, &repo, "HEAD").is_some());
    agent.stop();

    let remote = world.path().join("remote.git");
    world.git(world.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    let out = world.cmd("git", &repo).args(["push", "-q"]).arg(&remote).arg("main").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(entire_lines(&stderr), [expected.as_str()], "pre-push: {stderr}");

    let doctor = world.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{report}");
    assert!(report.contains(&format!("installed from {}, which is gone", copy.display())), "{report}");

    // The two commands the warning names remove entire's hooks; the user's run.
    let commands = expected.split('`').skip(1).step_by(2).take(2).collect::<Vec<_>>().join(" && ");
    let out = world.cmd("sh", &repo).args(["-c", &commands]).output().unwrap();
    assert!(out.status.success(), "{commands}: {}", String::from_utf8_lossy(&out.stderr));
    let out =
        world.cmd("git", &repo).args(["commit", "-q", "--allow-empty", "-m", "removed"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "no entire line any more");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\nran\nran\n", "the user's hook runs");
}

#[test]
fn an_agent_outliving_its_killed_launcher_keeps_its_session() {
    let world = World::new();
    let repo = world.repo("r");
    let mut agent = world.agent(&repo, "fake");
    let id = agent.session_id.clone();

    agent.child.kill().unwrap(); // SIGKILL to the launcher
    agent.child.wait().unwrap();
    assert!(running(agent.pid), "the agent goes on");
    agent.ok("git commit -q --allow-empty -m by-env");
    assert_attributed(&world, &repo, &id, "env");
    agent.ok("unset ENTIRE_SESSION_ID; git commit -q --allow-empty -m by-pid");
    assert_attributed(&world, &repo, &id, "pid");
    let sessions = world.json(&repo, &["sessions", "--json"]);
    assert_eq!(sessions[0]["live"], true, "{sessions:#}");

    let pid = agent.pid;
    agent.stop();
    wait_for("the orphaned agent to end", || !running(pid));
    let sessions = world.json(&repo, &["sessions", "--json"]);
    assert_eq!(sessions[0]["session_id"], id.as_str());
    assert_eq!(sessions[0]["live"], false, "{sessions:#}");
}

/// Registers a session on `pid` with `recorded_start` as its start time,
/// lets the process on `pid` commit, and tells whether the commit was
/// attributed to that session.
fn attributed_to_recorded_pid(
    world: &World,
    repo: &Path,
    agent: &crate::support::Agent,
    recorded_start: u64,
) -> bool {
    let id = format!("0190cccc-0000-7000-8000-{recorded_start:012}");
    register(world, &world.store(repo), &record(&id, repo, (agent.pid, recorded_start), None, false));
    agent.ok("git commit -q --allow-empty -m who");
    let attributed = owner_of(world, repo, "HEAD").is_some_and(|(owner, _)| owner == id);
    std::fs::remove_file(world.state_dir().join("live").join(format!("{id}.json"))).unwrap();
    attributed
}

#[test]
fn a_recorded_pid_with_another_start_time_never_matches() {
    let world = World::new();
    let repo = world.repo("r");
    let unrelated = world.bare_agent(&repo);
    let actual = start_time(unrelated.pid);
    assert!(!attributed_to_recorded_pid(&world, &repo, &unrelated, actual + 1));
    assert!(!attributed_to_recorded_pid(&world, &repo, &unrelated, actual - 1));
    // The same record with the right start time does match: the setup
    // above could have failed.
    assert!(attributed_to_recorded_pid(&world, &repo, &unrelated, actual));
}

/// The time since boot in clock ticks, the unit of a process start time.
fn uptime_ticks() -> u64 {
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap();
    let seconds: f64 = uptime.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (seconds * hz as f64) as u64
}

#[test]
#[ignore = "needs root (writes ns_last_pid): run scripts/test as root"]
fn a_really_reused_pid_never_matches_as_root() {
    let world = World::new();
    let repo = world.repo("r");
    // Start a process, note it, let it die; then make the kernel hand its
    // PID to a new process tree (root may set ns_last_pid). Other tests
    // spawn processes too, so retry until the PID is ours.
    for _ in 0..50 {
        let mut old = world.cmd("sleep", &repo).arg("30").spawn().unwrap();
        let (pid, old_start) = (old.id() as i32, start_time(old.id() as i32));
        wait_for("a later clock tick", || uptime_ticks() > old_start);
        old.kill().unwrap();
        old.wait().unwrap();
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
            .expect("root may write /proc/sys/kernel/ns_last_pid (scripts/test as root runs this test)");
        let reuser = world.bare_agent(&repo);
        if reuser.pid != pid {
            continue;
        }
        assert_ne!(start_time(pid), old_start);
        assert!(!attributed_to_recorded_pid(&world, &repo, &reuser, old_start));
        return;
    }
    panic!("could not get a PID reused in 50 tries");
}

#[test]
fn a_stale_session_id_of_an_ended_session_falls_through_to_the_pid_step() {
    let world = World::new();
    let repo = world.repo("r");
    stdout(world.entire(&repo).args(["run", "--", "true"]).output().unwrap());
    let ended = only_session(&world, &repo)["session_id"].as_str().unwrap().to_owned();
    let unknown = "0190dddd-0000-7000-8000-000000000000";
    for (stale, reason) in [(ended.as_str(), "ended"), (unknown, "unknown")] {
        let agent = world.agent(&repo, "fake");
        let stderr = agent
            .ok(&format!("ENTIRE_SESSION_ID={stale} ENTIRE_DEBUG=1 git commit -q --allow-empty -m stale"));
        assert!(stderr.contains(&format!("env_rejected: {reason}")), "{stderr}");
        assert_attributed(&world, &repo, &agent.session_id, "pid");
        assert!(agent.stop().success());
    }
    assert!(recorded(&world.records(&repo)[&ended]).is_empty(), "nothing goes to the ended session");
}

#[test]
fn a_thousand_stale_sessions_and_fifty_live_ones_keep_commits_right() {
    let world = World::new();
    let repo = world.repo("r");
    let store = world.store(&repo);
    let agents: Vec<_> = (0..50).map(|_| world.bare_agent(&repo)).collect();
    let ids: Vec<String> = (0..50).map(|i| format!("0190eeee-0000-7000-8000-{i:012}")).collect();
    for (agent, id) in agents.iter().zip(&ids) {
        register(&world, &store, &record(id, &repo, (agent.pid, start_time(agent.pid)), None, false));
    }
    // Stale: ended, or never ended but on a PID that now belongs to one of
    // the live agents (a different start time), in the store and left over
    // in the live registry as after a crash.
    for i in 0..1000 {
        let id = format!("0190ffff-0000-7000-8000-{i:012}");
        let reused = agents[i % 50].pid;
        let stale = record(&id, &repo, (reused, 1 + i as u64), Some((reused, 2 + i as u64)), i % 2 == 0);
        register(&world, &store, &stale);
    }

    for i in (0..50).step_by(7) {
        let started = Instant::now();
        agents[i].ok(&format!("ENTIRE_SESSION_ID={} git commit -q --allow-empty -m env-{i}", ids[i]));
        let by_env = started.elapsed();
        assert_attributed(&world, &repo, &ids[i], "env");
        let started = Instant::now();
        agents[i].ok(&format!("git commit -q --allow-empty -m pid-{i}"));
        let by_pid = started.elapsed();
        assert_attributed(&world, &repo, &ids[i], "pid");
        println!("commit with 1000 stale + 50 live sessions: by env {by_env:?}, by pid {by_pid:?}");
    }
    let records = world.records(&repo);
    let stale = records.iter().filter(|(id, _)| !ids.contains(id));
    assert!(stale.into_iter().all(|(_, r)| recorded(r).is_empty()), "a stale session got a checkpoint");
}

#[test]
fn eight_worktrees_committing_at_once_lose_no_checkpoint() {
    const WORKTREES: usize = 8;
    const COMMITS: usize = 25;
    let world = World::new();
    let repo = world.repo("r");
    // Linked worktrees see the settings once they are committed.
    world.git(&repo, &["add", ".entire"]);
    world.git(&repo, &["commit", "-q", "-m", "enable entire"]);
    let worktrees: Vec<PathBuf> = (0..WORKTREES)
        .map(|i| {
            let path = world.path().join(format!("repos/wt{i}"));
            world.git(&repo, &["worktree", "add", "-q", "-b", &format!("wt{i}"), path.to_str().unwrap()]);
            path.canonicalize().unwrap()
        })
        .collect();
    let agents: Vec<_> = worktrees
        .iter()
        .map(|wt| {
            let job = format!(
                "for n in $(seq {COMMITS}); do echo $n > f && git add f && git commit -q -m \"c$n\" || exit 1; done"
            );
            let mut cmd = world.entire(wt);
            cmd.args(["run", "--", "sh", "-c", &job]).stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for agent in agents {
        let out = agent.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && entire_lines(&stderr).is_empty(), "{stderr}");
    }

    let records = world.records(&repo);
    let mut all = std::collections::BTreeSet::new();
    for (i, wt) in worktrees.iter().enumerate() {
        let session = records.values().find(|r| r["worktree_path"] == wt.to_str().unwrap());
        let session = session.unwrap_or_else(|| panic!("no session in {}: {records:#?}", wt.display()));
        let commits = world.git(wt, &["rev-list", &format!("main..wt{i}")]);
        let mut expected = Vec::new();
        for commit in commits.lines() {
            let id = checkpoint_of(&world, wt, commit).expect("every commit has a checkpoint");
            let explained = world.json(wt, &["explain", "--commit", commit, "--json"]);
            let on_branch = &explained["checkpoints"];
            assert_eq!(on_branch.as_array().map(Vec::len), Some(1), "{commit}: {explained:#}");
            assert_eq!(on_branch[0]["checkpoint_id"], id.as_str());
            assert_eq!(on_branch[0]["session_id"], session["session_id"]);
            expected.push((id.clone(), commit.to_owned(), "env".to_owned()));
            all.insert(id);
        }
        let mut got = recorded(session);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "wt{i}");
    }
    assert_eq!(all.len(), WORKTREES * COMMITS);
    let pending = world.store(&repo).join("pending");
    assert!(std::fs::read_dir(pending).map(|d| d.count()).unwrap_or(0) == 0, "checkpoints left pending");
}

#[test]
fn hooks_follow_an_upgraded_binary_and_doctor_refreshes_their_copy() {
    let world = World::new();
    let repo = world.plain_repo("r");
    let installed = world.path().join("bin/entire");
    std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
    enable_with_copy(&world, &repo, &installed);
    // "Upgrade": the installed binary is replaced by another program; the
    // hooks run it (with the hook's arguments) instead of their old copy.
    let log = world.path().join("upgraded.log");
    std::fs::remove_file(&installed).unwrap();
    crate::support::script(&installed, &format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()));
    world.git(&repo, &["commit", "-q", "--allow-empty", "-m", "after the upgrade"]);
    let ran = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        ran, ".git/COMMIT_EDITMSG message\n\n",
        "prepare-commit-msg, post-commit (commit-msg is linked when a commit needs it)"
    );
    let doctor = world.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        report.contains(&format!("info: {} changed since the git hooks were installed", installed.display())),
        "{report}"
    );
    assert_eq!(doctor.status.code(), Some(0), "an upgrade is no problem: {report}");
}

#[test]
fn a_real_upgrade_refreshes_the_hooks_copy_the_first_time_it_runs() {
    let world = World::new();
    let repo = world.plain_repo("r");
    let installed = world.path().join("bin/entire");
    std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
    enable_with_copy(&world, &repo, &installed);
    // A new build: another binary at the same path (an ELF ignores what
    // follows its sections).
    let mut newer = std::fs::read(&installed).unwrap();
    newer.extend_from_slice(b"a newer build");
    let staged = world.path().join("bin/entire.new");
    std::fs::write(&staged, &newer).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&staged, &installed).unwrap();
    let copy = repo.join(".git/entire-hooks/.entire");
    assert_ne!(std::fs::read(&copy).unwrap(), newer, "the setup can fail");

    let out =
        world.cmd("git", &repo).args(["commit", "-q", "--allow-empty", "-m", "first"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "quietly");
    assert_eq!(std::fs::read(&copy).unwrap(), newer, "the copy is the new build");
    let doctor = world.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(0), "{report}");
    assert!(!report.contains("changed since"), "{report}");
}
