//! What the hot paths rely on: post-commit hands checkpoints to a detached
//! writer, every reader completes the writes it finds handed off (once
//! each, under a lock), the writer checks checkpoint IDs ahead, and
//! nothing starts git where the files suffice (docs/performance.md).

use std::path::Path;

use chrono::Utc;
use entire::checkpoint::{self, Metadata};
use entire::git::Repo;
use entire::session::{Committed, Pending, Resolution, ResolvedBy, SessionId, SessionRecord, Store};
use serde_json::Value;

use crate::support::{World, checkpoint_of, cid, oid, sid, stdout, wait_for};

const BRANCH: &str = "entire/checkpoints/v1";

fn repo_at(dir: &Path) -> Repo {
    Repo::discover(dir).unwrap().expect("a repository")
}

/// A session record in `dir`'s store, as a launcher leaves it.
fn session(dir: &Path, id: &str) -> Store {
    let store = Store::new(repo_at(dir).store_dir());
    store.create(&SessionRecord::new(sid(id))).unwrap();
    store
}

fn pending(checkpoint_id: &str, session_id: &str, committed: Option<Committed>) -> Pending {
    Pending {
        checkpoint_id: cid(checkpoint_id),
        session_id: sid(session_id),
        resolved_by: ResolvedBy::Env,
        resolution: Resolution::default(),
        created_at: Utc::now(),
        git: None,
        git_dir: None,
        committed,
    }
}

/// A commit made with hooks off, whose message carries `trailer`.
fn commit_with(world: &World, dir: &Path, trailer: &str) -> String {
    let message = format!("agent work\n\nEntire-Checkpoint: {trailer}\n");
    world.git(dir, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", &message]);
    world.git(dir, &["rev-parse", "HEAD"])
}

/// How many commits on the branch write checkpoint `id`.
fn writes_of(world: &World, dir: &Path, id: &str) -> usize {
    let subjects = world.git(dir, &["log", "--format=%s", BRANCH]);
    subjects.lines().filter(|s| *s == format!("Checkpoint: {id}")).count()
}

fn checkpoints_of(record: &SessionRecord) -> Vec<(&str, &str)> {
    record.checkpoints.iter().map(|c| (c.checkpoint_id.as_str(), c.commit.as_str())).collect()
}

#[test]
fn the_detached_writer_writes_a_commits_checkpoint_on_its_own() {
    let world = World::new();
    let dir = world.repo("r");
    let agent = world.agent(&dir, "claude-code");
    agent.ok("git commit -q --allow-empty -m 'by the agent'");
    let id = checkpoint_of(&world, &dir, "HEAD").expect("a trailer");
    // No reader runs: only the writer that post-commit forked can do this.
    let pending = world.store(&dir).join("pending");
    wait_for("the pending checkpoint to be written", || {
        std::fs::read_dir(&pending).is_ok_and(|mut d| d.next().is_none())
    });
    assert_eq!(writes_of(&world, &dir, &id), 1);
    let record = &world.records(&dir)[&agent.session_id];
    assert_eq!(record["checkpoints"][0]["checkpoint_id"], id.as_str());
    assert!(agent.stop().success());
}

#[test]
fn a_reader_writes_what_a_killed_writer_left_handed_off() {
    let world = World::new();
    let dir = world.repo("r");
    let store = session(&dir, "s1");
    let sha = commit_with(&world, &dir, "0123456789ab");
    let committed = Committed { commit: oid(&sha), branch: Some("main".into()) };
    store.put_pending(&pending("0123456789ab", "s1", Some(committed))).unwrap();

    let explained = world.json(&dir, &["explain", "--commit", "HEAD", "--json"]);
    assert_eq!(explained["checkpoints"][0]["checkpoint_id"], "0123456789ab", "{explained}");
    assert_eq!(explained["checkpoints"][0]["session_id"], "s1");
    assert_eq!(explained["checkpoints"][0]["branch"], "main");
    assert_eq!(store.pending(&cid("0123456789ab")).unwrap(), None);
    let record = store.load(&SessionId::parse("s1").unwrap()).unwrap().unwrap();
    assert_eq!(checkpoints_of(&record), [("0123456789ab", sha.as_str())]);
}

#[test]
fn racing_readers_write_each_checkpoint_once() {
    let world = World::new();
    let dir = world.repo("r");
    let store = session(&dir, "s1");
    let ids: Vec<String> = (0..4).map(|i| format!("00000000000{i}")).collect();
    for id in &ids {
        let sha = commit_with(&world, &dir, id);
        store.put_pending(&pending(id, "s1", Some(Committed { commit: oid(&sha), branch: None }))).unwrap();
    }
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let mut reader = world.entire(&dir);
            reader.args(["sessions", "--json"]).stdout(std::process::Stdio::null()).spawn().unwrap()
        })
        .collect();
    for mut reader in readers {
        assert!(reader.wait().unwrap().success());
    }
    for id in &ids {
        assert_eq!(writes_of(&world, &dir, id), 1, "{id}");
    }
    let record = store.load(&SessionId::parse("s1").unwrap()).unwrap().unwrap();
    assert_eq!(record.checkpoints.len(), ids.len(), "{:?}", checkpoints_of(&record));
}

/// The pack files in `dir`'s object database.
fn packs(dir: &Path) -> usize {
    let pack_dir = dir.join(".git/objects/pack");
    std::fs::read_dir(pack_dir)
        .map_or(0, |d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "pack")).count())
}

#[test]
fn a_drain_writes_its_checkpoints_as_one_pack_and_one_move_of_the_ref() {
    let world = World::new();
    let dir = world.repo("r");
    let store = session(&dir, "s1");
    let ids: Vec<String> = (0..5).map(|i| format!("00000000000{i}")).collect();
    let mut shas = Vec::new();
    for id in &ids {
        let sha = commit_with(&world, &dir, id);
        store.put_pending(&pending(id, "s1", Some(Committed { commit: oid(&sha), branch: None }))).unwrap();
        shas.push(sha);
    }
    // Every move of the ref gets a line in its reflog.
    world.git(&dir, &["config", "core.logAllRefUpdates", "always"]);
    let loose = || world.git(&dir, &["count-objects"]);
    let (packs_before, loose_before) = (packs(&dir), loose());
    assert!(world.entire(&dir).args(["sessions", "--json"]).output().unwrap().status.success());
    assert_eq!(packs(&dir), packs_before + 1, "one pack");
    assert_eq!(loose(), loose_before, "no loose object");
    // One commit per checkpoint, oldest first, each on top of the last.
    let subjects = world.git(&dir, &["log", "--reverse", "--format=%s", BRANCH]);
    let written: Vec<&str> = subjects.lines().filter_map(|s| s.strip_prefix("Checkpoint: ")).collect();
    assert_eq!(written, ids);
    let moves = world.git(&dir, &["reflog", "show", "--format=%gs", "refs/entire/checkpoints/v1"]);
    assert_eq!(moves, format!("entire: checkpoints {}", ids.join(" ")));
    world.git(&dir, &["fsck", "--strict", "--no-dangling"]);
    let record = store.load(&SessionId::parse("s1").unwrap()).unwrap().unwrap();
    let expected: Vec<(&str, &str)> =
        ids.iter().map(String::as_str).zip(shas.iter().map(String::as_str)).collect();
    assert_eq!(checkpoints_of(&record), expected);
    for (id, sha) in ids.iter().zip(&shas) {
        let explained = world.json(&dir, &["explain", "--commit", sha, "--json"]);
        assert_eq!(explained["checkpoints"][0]["checkpoint_id"], id.as_str(), "{explained}");
    }
}

#[test]
fn post_commit_takes_only_what_its_own_git_made_pending() {
    let world = World::new();
    let dir = world.repo("r");
    let store = session(&dir, "s1");
    // Pending for another `git commit` still running (a sleep stands in
    // for it), and named by the message file a later commit left.
    let mut other = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let pid = other.id() as i32;
    let running = entire::process::ProcId { pid, start_time: crate::support::start_time(pid) };
    store.put_pending(&Pending { git: Some(running), ..pending("0123456789ab", "s1", None) }).unwrap();
    world.git(&dir, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "other"]);
    std::fs::write(dir.join(".git/COMMIT_EDITMSG"), "aborted\n\nEntire-Checkpoint: 0123456789ab\n").unwrap();
    stdout(world.entire(&dir).args(["hooks", "git", "post-commit"]).output().unwrap());

    let explained = world.json(&dir, &["explain", "--commit", "HEAD", "--json"]);
    assert_eq!(explained["checkpoints"], Value::Array(vec![]), "{explained}");
    let left = store.pending(&cid("0123456789ab")).unwrap().expect("still pending");
    assert_eq!(left.committed, None, "waits for its own git's post-commit");
    let record = store.load(&SessionId::parse("s1").unwrap()).unwrap().unwrap();
    assert!(record.checkpoints.is_empty());
    other.kill().unwrap();
    other.wait().unwrap();
}

/// The IDs in the repository's pool of checked checkpoint IDs.
fn pooled(dir: &Path) -> Vec<String> {
    let pool = dir.join(".git/entire-sessions/ids");
    let mut ids: Vec<String> = std::fs::read_dir(pool)
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn the_next_commit_takes_an_id_its_writer_checked_ahead() {
    let world = World::new();
    let dir = world.repo("r");
    let agent = world.agent(&dir, "claude-code");
    agent.ok("git commit -q --allow-empty -m first");
    // The writer fills the pool after its drain, all of it.
    wait_for("the writer to fill the pool", || pooled(&dir).len() == 8);
    let before = pooled(&dir);
    // A second link to each pooled file keeps its inode from being reused.
    let pool = dir.join(".git/entire-sessions/ids");
    let kept = world.path().join("kept-pool");
    std::fs::create_dir(&kept).unwrap();
    let inode = |path: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap());
    let inodes: Vec<u64> = before
        .iter()
        .map(|id| {
            std::fs::hard_link(pool.join(id), kept.join(id)).unwrap();
            inode(&kept.join(id))
        })
        .collect();
    // The user's prepare-commit-msg, which entire's runs after its own
    // work: the pending checkpoint is there then.
    let seen = world.path().join("pending-inode");
    crate::support::script(
        &dir.join(".git/hooks/prepare-commit-msg"),
        &format!(
            "#!/bin/sh
stat -c %i .git/entire-sessions/pending/*.json > {}
",
            seen.display()
        ),
    );

    agent.ok("git commit -q --allow-empty -m second");
    let id = checkpoint_of(&world, &dir, "HEAD").expect("a trailer");
    assert!(before.contains(&id), "{id} not from the pool {before:?}");
    assert!(!pooled(&dir).contains(&id), "taken once");
    // The pool's file became the pending checkpoint's: no file created.
    let pending_inode: u64 = std::fs::read_to_string(&seen).unwrap().trim().parse().unwrap();
    let position = before.iter().position(|pooled| *pooled == id).unwrap();
    assert_eq!(pending_inode, inodes[position]);
    assert!(agent.stop().success());
}

#[test]
fn pooled_ids_are_taken_once_pending_ones_never_and_a_fold_empties_the_pool() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let store = session(&dir, "s1");
    let sha = world.git(&dir, &["rev-parse", "HEAD"]);
    let meta = Metadata {
        checkpoint_id: cid("0123456789ab"),
        commit: oid(&sha),
        session_id: sid("s1"),
        agent: None,
        resolved_by: ResolvedBy::Env,
        resolution: Resolution::default(),
        created_at: Utc::now(),
        branch: None,
        files_changed: vec![],
        agent_session_id: None,
        extra: Default::default(),
    };
    let rules = entire::settings::TranscriptRules { max_bytes: 1024, dirs: None };
    checkpoint::write(&repo, &meta, &SessionRecord::new(sid("s1")), &rules).unwrap();
    checkpoint::refill_ids(&repo).unwrap();
    let pool = pooled(&dir);
    assert_eq!(pool.len(), 8, "{pool:?}");
    assert!(!pool.contains(&"0123456789ab".to_owned()), "checked against the branch");

    let first = checkpoint::new_id(&repo).unwrap();
    assert!(pool.contains(&first.to_string()));
    assert_eq!(pooled(&dir).len(), 7, "taken once");

    let next = pooled(&dir)[0].clone();
    store.put_pending(&pending(&next, "s1", None)).unwrap();
    let taken = pooled(&dir);
    let second = checkpoint::new_id(&repo).unwrap();
    assert_ne!(second.to_string(), next, "pending already");
    assert!(taken.contains(&second.to_string()));

    // The branch takes in another clone's checkpoints: the pool was not
    // checked against them.
    let other = world.plain_repo("other");
    let other_repo = repo_at(&other);
    let other_sha = world.git(&other, &["rev-parse", "HEAD"]);
    checkpoint::write(
        &other_repo,
        &Metadata { checkpoint_id: cid("0123456789ac"), commit: oid(&other_sha), ..meta },
        &SessionRecord::new(sid("s1")),
        &rules,
    )
    .unwrap();
    world.git(
        &dir,
        &["fetch", "-q", other.to_str().unwrap(), &format!("{BRANCH}:refs/remotes/other/{BRANCH}")],
    );
    checkpoint::remote::adopt_remote(&repo).unwrap();
    assert_eq!(pooled(&dir), Vec::<String>::new());

    let mut draws = vec![[0xdd; 6], [0x01, 0x23, 0x45, 0x67, 0x89, 0xab]];
    assert_eq!(
        checkpoint::new_id_with(&repo, &mut || Ok(draws.pop().unwrap())).unwrap(),
        cid("dddddddddddd")
    );
}

#[test]
fn outside_a_repository_no_git_is_started() {
    let world = World::new();
    // With no git on PATH, asking git would fail with another message.
    let out = world.entire(world.path()).arg("sessions").env("PATH", "/nonexistent").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("entire: error: not a git repository"), "{stderr}");
}

/// The `start` events of every git process that wrote to a trace2 event
/// file: the traced command's own, and any git started under it.
fn git_starts(trace: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["event"] == "start")
        .map(|event| event["argv"].to_string())
        .collect()
}

#[test]
fn commits_under_a_session_start_no_git_in_their_hooks_or_their_writer() {
    let world = World::new();
    let dir = world.repo("r");
    // git's own background maintenance is not entire's.
    world.git(&dir, &["config", "maintenance.auto", "false"]);
    let agent = world.agent(&dir, "claude-code");
    // The first commit makes the branch (and the writer's pool of IDs).
    agent.ok("git commit -q --allow-empty -m first");
    let store = Store::new(repo_at(&dir).store_dir());
    wait_for("the first checkpoint to be written", || !store.has_pending());
    // git passes GIT_TRACE2_EVENT on to its hooks, so every git process a
    // hook or the writer it forks would start writes its own start event.
    let trace = world.path().join("trace.json");
    agent.ok(&format!(
        "export GIT_TRACE2_EVENT={}; for n in 1 2 3; do git commit -q --allow-empty -m \"back to back $n\"; done",
        trace.display()
    ));
    wait_for("the checkpoints to be written", || !store.has_pending());
    let starts = git_starts(&trace);
    assert_eq!(starts.len(), 3, "git processes besides the three commits: {starts:#?}");
    for rev in ["HEAD", "HEAD~1", "HEAD~2"] {
        let id = checkpoint_of(&world, &dir, rev).expect("a trailer");
        assert_eq!(writes_of(&world, &dir, &id), 1, "{rev}'s checkpoint on the branch");
    }
    assert!(agent.stop().success());
}

/// The files each of entire's hooks opened during one commit made inside
/// a session, as `strace` saw the hook process itself (not the writer it
/// forks), in order, without the dynamic loader's.
fn files_opened_by_hooks(
    world: &World,
    dir: &Path,
    agent: &crate::support::Agent,
) -> Vec<(String, Vec<String>)> {
    let ours = dir.join(world.git(dir, &["config", "core.hooksPath"]));
    let traced = world.path().join("traced-hooks");
    std::fs::create_dir_all(&traced).unwrap();
    let hooks = ["prepare-commit-msg", "commit-msg", "post-commit"];
    for hook in hooks {
        let script = format!(
            "#!/bin/sh\nexec strace -f -qq -e trace=openat,open -o {trace} {hook_path} \"$@\"\n",
            trace = traced.join(format!("{hook}.strace")).display(),
            hook_path = ours.join(hook).display(),
        );
        let path = traced.join(hook);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    agent.ok(&format!("git -c core.hooksPath={} commit -q --allow-empty -m traced", traced.display()));
    hooks
        .iter()
        .map(|hook| {
            let text =
                std::fs::read_to_string(traced.join(format!("{hook}.strace"))).expect("strace's output");
            let hook_pid = text.split_whitespace().next().unwrap_or_default().to_owned();
            let files = text
                .lines()
                .filter(|line| line.split_whitespace().next() == Some(hook_pid.as_str()))
                .filter_map(|line| Some(line.split_once('"')?.1.split_once('"')?.0.to_owned()))
                .filter(|path| {
                    !path.starts_with("/etc/ld.so") && !path.contains("/lib/") && !path.contains("/lib64/")
                })
                .collect();
            (hook.to_string(), files)
        })
        .collect()
}

#[test]
#[ignore = "needs strace: run scripts/test"]
fn hooks_read_each_process_once_and_commit_msg_reads_only_its_message() {
    let world = World::new();
    let dir = world.repo("r");
    let agent = world.agent(&dir, "claude-code");
    // An editor commit, which links commit-msg (docs/hooks.md), traced below.
    agent.ok("GIT_EDITOR=true git commit -q --allow-empty -e -m first");
    assert!(dir.join(".git/entire-hooks/commit-msg").exists());
    let store = Store::new(repo_at(&dir).store_dir());
    wait_for("the first checkpoint to be written", || !store.has_pending());

    let opened: std::collections::BTreeMap<_, _> =
        files_opened_by_hooks(&world, &dir, &agent).into_iter().collect();
    let trailer = checkpoint_of(&world, &dir, "HEAD");
    assert!(trailer.is_some(), "the traced commit is attributed");
    for (hook, files) in &opened {
        let procs: Vec<&String> = files.iter().filter(|f| f.starts_with("/proc/")).collect();
        let mut once = procs.clone();
        once.sort();
        once.dedup();
        assert_eq!(once.len(), procs.len(), "{hook} read a process twice: {files:#?}");
        // The launcher's parent (this test) is above the session: no walk goes there.
        let above = format!("/proc/{}/", std::process::id());
        assert!(!files.iter().any(|f| f.starts_with(&above)), "{hook} walked past the session: {files:#?}");
    }
    // commit-msg: the message, and git's command line to know it needs no rewriting.
    let commit_msg: Vec<&String> = opened["commit-msg"].iter().filter(|f| !f.starts_with("/proc/")).collect();
    assert_eq!(commit_msg.len(), 2, "{commit_msg:#?}");
    assert!(commit_msg[0].ends_with("/entire-hooks/state.json"), "{commit_msg:#?}");
    assert!(commit_msg[1].ends_with("COMMIT_EDITMSG"), "{commit_msg:#?}");
    assert!(agent.stop().success());
}
