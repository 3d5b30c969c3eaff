//! What the hot paths rely on: post-commit hands checkpoints to a detached
//! writer, every reader completes the writes it finds handed off (once
//! each, under a lock), the writer reserves the next checkpoint ID, and
//! nothing starts git where the files suffice (docs/performance.md).

use std::path::Path;

use chrono::Utc;
use entire::checkpoint::{self, Metadata};
use entire::git::Repo;
use entire::session::{Committed, Pending, Resolution, ResolvedBy, SessionId, SessionRecord, Store};
use serde_json::Value;

use crate::support::{World, checkpoint_of, cid, oid, sid, stdout, wait_for, wait_for_file};

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

#[test]
fn the_next_commit_takes_the_id_its_writer_reserved() {
    let world = World::new();
    let dir = world.repo("r");
    let agent = world.agent(&dir, "claude-code");
    agent.ok("git commit -q --allow-empty -m first");
    let reserved = dir.join(".git/entire-next-checkpoint-id");
    let reservation = wait_for_file(&reserved);
    let (id, tip) = reservation.split_once(' ').unwrap();
    assert_eq!(world.git(&dir, &["rev-parse", BRANCH]), tip, "checked against the tip it made");

    agent.ok("git commit -q --allow-empty -m second");
    assert_eq!(checkpoint_of(&world, &dir, "HEAD").as_deref(), Some(id));
    assert!(agent.stop().success());
}

#[test]
fn a_reservation_is_used_only_against_the_tip_it_was_checked_against() {
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
    checkpoint::write(
        &repo,
        &meta,
        &SessionRecord::new(sid("s1")),
        &entire::settings::TranscriptRules { max_bytes: 1024, dirs: None },
    )
    .unwrap();
    let tip = world.git(&dir, &["rev-parse", BRANCH]);
    let reserved = dir.join(".git/entire-next-checkpoint-id");

    std::fs::write(&reserved, format!("aaaaaaaaaaaa {tip}\n")).unwrap();
    assert_eq!(checkpoint::new_id(&repo).unwrap(), cid("aaaaaaaaaaaa"));
    assert!(!reserved.exists(), "taken once");

    std::fs::write(&reserved, format!("bbbbbbbbbbbb {sha}\n")).unwrap();
    assert_ne!(checkpoint::new_id(&repo).unwrap(), cid("bbbbbbbbbbbb"), "checked against another tip");

    store.put_pending(&pending("cccccccccccc", "s1", None)).unwrap();
    std::fs::write(&reserved, format!("cccccccccccc {tip}\n")).unwrap();
    assert_ne!(checkpoint::new_id(&repo).unwrap(), cid("cccccccccccc"), "pending already");
    let mut draws = vec![[0xdd; 6], [0xcc; 6]];
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
