//! The checkpoints branch: writer, reader, explain, pre-push and clean.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Barrier};

use chrono::{TimeDelta, Utc};
use entire::checkpoint::{self, Metadata};
use entire::git::{CommitId, Repo};
use entire::process::{ProcessTable, System};
use entire::session::{CheckpointRef, LiveEntry, Pending, Resolution, ResolvedBy, SessionRecord, Store};
use entire::settings::TranscriptRules;
use serde_json::{Value, json};

use crate::support::{World, cid, oid, sid, stdout};

const BRANCH: &str = "entire/checkpoints/v1";

fn repo_at(dir: &Path) -> Repo {
    Repo::discover(dir).unwrap().expect("a repository")
}

fn meta(id: &str, commit: &CommitId, session: &str) -> Metadata {
    Metadata {
        checkpoint_id: cid(id),
        commit: commit.clone(),
        session_id: sid(session),
        agent: Some("claude-code".into()),
        resolved_by: ResolvedBy::Pid,
        resolution: Resolution { method: Some(ResolvedBy::Pid), depth: Some(2), ..Resolution::default() },
        created_at: "2025-01-02T03:04:05Z".parse().unwrap(),
        branch: Some("main".into()),
        files_changed: vec!["README".into()],
        agent_session_id: None,
        extra: Default::default(),
    }
}

fn session(id: &str) -> SessionRecord {
    SessionRecord { agent: Some("claude-code".into()), ..SessionRecord::new(sid(id)) }
}

/// Raw stdout of a git command that must succeed.
fn git_bytes(world: &World, dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = world.cmd("git", dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn head(world: &World, dir: &Path) -> CommitId {
    oid(&world.git(dir, &["rev-parse", "HEAD"]))
}

/// Transcripts copied from any directory, up to `max_bytes`: these tests
/// are about the copy; where it may come from is `hostile.rs`'s.
fn from_anywhere(max_bytes: u64) -> TranscriptRules {
    TranscriptRules { max_bytes, dirs: Some(vec!["/".into()]) }
}

/// Writes a checkpoint with a fresh ID for `commit`.
fn write_new(repo: &Repo, commit: &CommitId, record: &SessionRecord) -> Metadata {
    let m = meta(checkpoint::new_id(repo).unwrap().as_str(), commit, record.session_id.as_str());
    checkpoint::write(repo, &m, record, &from_anywhere(1 << 20)).unwrap();
    m
}

fn branch_paths(world: &World, dir: &Path, rev: &str) -> BTreeSet<String> {
    world.git(dir, &["ls-tree", "-r", "--name-only", rev]).lines().map(str::to_owned).collect()
}

#[test]
fn write_leaves_index_worktree_and_head_alone_and_lays_out_the_branch() {
    let world = World::new();
    let dir = world.plain_repo("r");
    std::fs::write(dir.join("README"), "changed, not staged\n").unwrap();
    std::fs::write(dir.join("staged.txt"), "staged\n").unwrap();
    world.git(&dir, &["add", "staged.txt"]);
    std::fs::write(dir.join("staged.txt"), "staged, then changed\n").unwrap();
    std::fs::write(dir.join("untracked.txt"), "untracked\n").unwrap();
    let snapshot = || {
        (
            git_bytes(&world, &dir, &["status", "--porcelain=v1", "-z", "--untracked-files=all"]),
            git_bytes(&world, &dir, &["diff", "--cached"]),
            git_bytes(&world, &dir, &["diff"]),
            head(&world, &dir),
            std::fs::read(dir.join(".git/HEAD")).unwrap(),
        )
    };
    let before = snapshot();
    let index_before = std::fs::read(dir.join(".git/index")).unwrap();

    let repo = repo_at(&dir);
    let transcript = world.path().join("transcript.jsonl");
    std::fs::write(&transcript, "{\"n\":1}\n{\"n\":2}\n").unwrap();
    let record = SessionRecord {
        first_prompt: Some("fix the parser".into()),
        transcript_path: Some(transcript.to_string_lossy().into()),
        ..session("s-one")
    };
    let sha = head(&world, &dir);
    let first = meta("0123456789ab", &sha, "s-one");
    checkpoint::write(&repo, &first, &record, &from_anywhere(1 << 20)).unwrap();

    assert_eq!(std::fs::read(dir.join(".git/index")).unwrap(), index_before, "index file untouched");
    assert_eq!(snapshot(), before);

    let cp = "01/23456789ab";
    let expected: BTreeSet<String> = [
        format!("{cp}/metadata.json"),
        format!("{cp}/0/metadata.json"),
        format!("{cp}/0/prompt.txt"),
        format!("{cp}/0/full.jsonl"),
        format!("commits/{}/{}", &sha.as_str()[..2], &sha.as_str()[2..]),
    ]
    .into();
    assert_eq!(branch_paths(&world, &dir, BRANCH), expected);
    let show = |path: &str| world.git(&dir, &["show", &format!("{BRANCH}:{path}")]);
    assert_eq!(show(&format!("commits/{}/{}", &sha.as_str()[..2], &sha.as_str()[2..])), "0123456789ab");
    assert_eq!(show(&format!("{cp}/0/prompt.txt")), "fix the parser");
    assert_eq!(show(&format!("{cp}/0/full.jsonl")), "{\"n\":1}\n{\"n\":2}");
    let slot: SessionRecord = serde_json::from_str(&show(&format!("{cp}/0/metadata.json"))).unwrap();
    assert_eq!(slot, record);
    let root: Value = serde_json::from_str(&show(&format!("{cp}/metadata.json"))).unwrap();
    let keys: Vec<&str> = root.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "checkpoint_id",
            "commit",
            "session_id",
            "agent",
            "resolved_by",
            "resolution",
            "created_at",
            "branch",
            "files_changed",
            "agent_session_id"
        ]
    );

    assert_eq!(
        world.git(&dir, &["log", "-1", "--format=%B", BRANCH]),
        "Checkpoint: 0123456789ab\n\nEntire-Session: s-one\nEntire-Strategy: manual-commit"
    );
    assert_eq!(
        world.git(&dir, &["log", "-1", "--format=%an <%ae>|%P", BRANCH]),
        "Test User <test@example.com>|"
    );

    assert_eq!(checkpoint::read(&repo, &cid("0123456789ab")).unwrap(), Some(first.clone()));
    assert_eq!(checkpoint::read(&repo, &cid("ffffffffffff")).unwrap(), None);
    assert_eq!(checkpoint::for_commit(&repo, &sha).unwrap(), vec![first.clone()]);

    // A second checkpoint for the same commit: a child commit, the index
    // gains a line, the first checkpoint stays.
    let tip = world.git(&dir, &["rev-parse", BRANCH]);
    let second = meta("0123456789ac", &sha, "s-two");
    checkpoint::write(&repo, &second, &session("s-two"), &from_anywhere(1 << 20)).unwrap();
    assert_eq!(world.git(&dir, &["log", "-1", "--format=%P", BRANCH]), tip);
    assert_eq!(checkpoint::for_commit(&repo, &sha).unwrap(), vec![first, second]);
    assert_eq!(snapshot(), before);
}

#[test]
fn nothing_is_read_for_a_missing_branch_and_bad_ids_are_refused() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let sha = head(&world, &dir);
    assert_eq!(checkpoint::read(&repo, &cid("0123456789ab")).unwrap(), None);
    assert_eq!(checkpoint::for_commit(&repo, &sha).unwrap(), vec![]);
    let record = session("s1");
    let first = meta("0123456789ab", &sha, "s1");
    checkpoint::write(&repo, &first, &record, &from_anywhere(1024)).unwrap();
    // IDs and commits unsafe as paths or trailers cannot even be made.
    assert!(CommitId::parse("HEAD").is_none());
    assert!(entire::session::CheckpointId::parse("../../etc/pa").is_none());
    assert!(entire::session::SessionId::parse("a\nb").is_none());
    assert_eq!(world.git(&dir, &["rev-list", "--count", BRANCH]), "1");
}

#[test]
fn a_repo_without_an_identity_writes_as_entire() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    // No user anywhere: the process-wide config has one, so override it
    // the way a user without one would be: empty values in the repo config.
    world.git(&dir, &["config", "user.name", ""]);
    world.git(&dir, &["config", "user.email", ""]);
    write_new(&repo, &head(&world, &dir), &session("s1"));
    assert_eq!(
        world.git(&dir, &["log", "-1", "--format=%an <%ae> %cn <%ce>", BRANCH]),
        "entire <entire@localhost> entire <entire@localhost>"
    );
}

#[test]
fn concurrent_writers_in_six_worktrees_lose_nothing() {
    const WRITERS: usize = 6;
    const EACH: usize = 5;
    let world = World::new();
    let dir = world.plain_repo("r");
    let base = head(&world, &dir);
    let mut worktrees = Vec::new();
    for i in 0..WRITERS {
        let wt = world.path().join(format!("wt{i}"));
        world.git(&dir, &["worktree", "add", "-q", "-b", &format!("b{i}"), wt.to_str().unwrap()]);
        world.git(&wt, &["commit", "-q", "--allow-empty", "-m", &format!("work {i}")]);
        worktrees.push(repo_at(&wt));
    }
    let barrier = Arc::new(Barrier::new(WRITERS));
    let handles: Vec<_> = worktrees
        .into_iter()
        .enumerate()
        .map(|(i, repo)| {
            let barrier = Arc::clone(&barrier);
            let base = base.clone();
            std::thread::spawn(move || {
                let own = repo.head().unwrap();
                let record = session(&format!("session-{i}"));
                barrier.wait();
                // Half on the shared base commit: its index file is
                // appended to by every writer at once.
                (0..EACH)
                    .map(|j| write_new(&repo, if j % 2 == 0 { &base } else { &own }, &record))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let written: Vec<Metadata> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();

    assert_eq!(written.len(), WRITERS * EACH);
    assert_eq!(world.git(&dir, &["rev-list", "--count", BRANCH]), (WRITERS * EACH).to_string());
    let repo = repo_at(&dir);
    let mut by_commit: BTreeMap<&CommitId, BTreeSet<&str>> = BTreeMap::new();
    for m in &written {
        assert_eq!(checkpoint::read(&repo, &m.checkpoint_id).unwrap().as_ref(), Some(m));
        by_commit.entry(&m.commit).or_default().insert(m.checkpoint_id.as_str());
    }
    assert_eq!(by_commit.len(), WRITERS + 1);
    for (sha, ids) in by_commit {
        let found = checkpoint::for_commit(&repo, sha).unwrap();
        assert_eq!(
            found.iter().map(|m| m.checkpoint_id.as_str()).collect::<BTreeSet<_>>(),
            ids,
            "index of {sha}"
        );
    }
}

#[test]
fn a_transcript_that_is_not_utf8_text_is_not_copied_and_says_so() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let bytes: Vec<u8> = [b"{\"a\":\"".as_slice(), &[0xff, 0xfe, 0x80], b"\"}\r\n", &[0xc3]].concat();
    let path = world.path().join("t.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    let record = SessionRecord { transcript_path: Some(path.to_string_lossy().into()), ..session("s1") };
    let m = write_new(&repo, &head(&world, &dir), &record);
    let paths = branch_paths(&world, &dir, BRANCH);
    assert!(paths.contains(&format!("{}/0/metadata.json", checkpoint::dir_of(&m.checkpoint_id))));
    assert!(!paths.iter().any(|p| p.ends_with("full.jsonl")), "{paths:?}");
    let stored = checkpoint::read(&repo, &m.checkpoint_id).unwrap().unwrap();
    assert_eq!(stored.extra["transcript_skipped"], "not UTF-8 text");
}

#[test]
fn unreadable_transcript_is_left_out() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let record = SessionRecord { transcript_path: Some("/nonexistent/t.jsonl".into()), ..session("s1") };
    let m = write_new(&repo, &head(&world, &dir), &record);
    let paths = branch_paths(&world, &dir, BRANCH);
    assert!(paths.contains(&format!("{}/0/metadata.json", checkpoint::dir_of(&m.checkpoint_id))));
    assert!(!paths.iter().any(|p| p.ends_with("full.jsonl") || p.ends_with("prompt.txt")), "{paths:?}");
}

/// A 100 MB transcript, sparse: lines for its first 2 MiB, zeros after.
fn huge_transcript(world: &World) -> (std::path::PathBuf, Vec<u8>) {
    let line = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(89)); // 100 bytes
    let head: Vec<u8> = line.repeat(2 * 1024 * 1024 / 100).into_bytes();
    let path = world.path().join("huge.jsonl");
    std::fs::write(&path, &head).unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_len(100_000_000).unwrap();
    (path, head)
}

#[test]
fn transcript_over_the_cap_is_cut_after_the_last_whole_line() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let (path, head_bytes) = huge_transcript(&world);
    let record = SessionRecord { transcript_path: Some(path.to_string_lossy().into()), ..session("s1") };
    let m = meta(checkpoint::new_id(&repo).unwrap().as_str(), &head(&world, &dir), "s1");
    checkpoint::write(&repo, &m, &record, &from_anywhere(1 << 20)).unwrap();
    let spec = format!("{BRANCH}:{}/0/full.jsonl", checkpoint::dir_of(&m.checkpoint_id));
    let copy = git_bytes(&world, &dir, &["cat-file", "blob", &spec]);
    assert_eq!(copy.len(), (1 << 20) / 100 * 100);
    assert_eq!(copy, head_bytes[..copy.len()]);
    let stored = checkpoint::read(&repo, &m.checkpoint_id).unwrap().unwrap();
    assert_eq!(stored.extra["transcript_truncated"], true);
    assert_eq!(stored.extra["transcript_original_bytes"], 100_000_000);
}

#[test]
fn huge_transcript_at_the_default_cap_is_copied_without_trouble() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    // One line, then zeros: the copy is cut after that line, found by
    // reading 50 MiB backwards from the cap.
    let path = world.path().join("zeros.jsonl");
    std::fs::write(&path, "{\"n\":1}\n").unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_len(100_000_000).unwrap();
    let record = SessionRecord { transcript_path: Some(path.to_string_lossy().into()), ..session("s1") };
    let m = meta(checkpoint::new_id(&repo).unwrap().as_str(), &head(&world, &dir), "s1");
    checkpoint::write(&repo, &m, &record, &from_anywhere(entire::settings::DEFAULT_TRANSCRIPT_MAX_BYTES))
        .unwrap();
    let spec = format!("{BRANCH}:{}/0/full.jsonl", checkpoint::dir_of(&m.checkpoint_id));
    assert_eq!(world.git(&dir, &["cat-file", "-s", &spec]), "8");
    assert_eq!(
        checkpoint::read(&repo, &m.checkpoint_id).unwrap().unwrap().extra["transcript_truncated"],
        true
    );
}

#[test]
fn new_ids_are_twelve_hex_and_never_reuse_one_on_the_branch() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let id = checkpoint::new_id(&repo).unwrap().to_string();
    assert!(id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{id}");

    let taken = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab];
    let sha = head(&world, &dir);
    checkpoint::write(&repo, &meta("0123456789ab", &sha, "s1"), &session("s1"), &from_anywhere(1024))
        .unwrap();
    let mut draws = vec![[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01], taken];
    let mut random = || Ok(draws.pop().unwrap());
    assert_eq!(checkpoint::new_id_with(&repo, &mut random).unwrap(), cid("deadbeef0001"));

    let mut always_taken = || Ok(taken);
    assert!(checkpoint::new_id_with(&repo, &mut always_taken).is_err());
}

/// A commit whose message carries `Entire-Checkpoint` trailers, made with
/// git directly (no hooks are installed in a plain repo).
fn commit_with_trailers(world: &World, dir: &Path, subject: &str, ids: &[&str]) -> CommitId {
    let trailers: Vec<String> = ids.iter().map(|id| format!("Entire-Checkpoint: {id}")).collect();
    world.git(dir, &["commit", "-q", "--allow-empty", "-m", subject, "-m", &trailers.join("\n")]);
    head(world, dir)
}

fn explain_json(world: &World, dir: &Path, rev: &str) -> Value {
    world.json(dir, &["explain", "--commit", rev, "--json"])
}

/// A checkpoint as `explain --json` shows it: its metadata and its relation
/// to the commit explained.
fn shown(meta: &Metadata, relation: &str) -> Value {
    let mut value = serde_json::to_value(meta).unwrap();
    value["relation"] = relation.into();
    value
}

#[test]
fn explain_json_for_a_commit_without_checkpoint() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let sha = head(&world, &dir);
    assert_eq!(explain_json(&world, &dir, "HEAD"), json!({"commit": sha, "checkpoints": []}));
    // The same with the branch present.
    let repo = repo_at(&dir);
    world.git(&dir, &["commit", "-q", "--allow-empty", "-m", "second"]);
    write_new(&repo, &head(&world, &dir), &session("s1"));
    assert_eq!(explain_json(&world, &dir, sha.short(8)), json!({"commit": sha, "checkpoints": []}));
}

#[test]
fn explain_json_lists_every_trailer_in_order_and_survives_amend() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let sha = commit_with_trailers(&world, &dir, "squashed", &["bbbbbbbbbbbb", "aaaaaaaaaaaa"]);
    // Empty commits: their rewrites change the same (no) files.
    let b = Metadata { files_changed: vec![], ..meta("bbbbbbbbbbbb", &sha, "s-b") };
    let a = Metadata {
        resolved_by: ResolvedBy::Recent,
        files_changed: vec![],
        ..meta("aaaaaaaaaaaa", &sha, "s-a")
    };
    checkpoint::write(&repo, &a, &session("s-a"), &from_anywhere(1024)).unwrap();
    checkpoint::write(&repo, &b, &session("s-b"), &from_anywhere(1024)).unwrap();
    let want = json!({"commit": sha, "checkpoints": [shown(&b, "written"), shown(&a, "written")]});
    assert_eq!(explain_json(&world, &dir, "HEAD"), want);

    // Reworded, trailers kept (what `git commit --amend` does by default).
    let message = world.git(&dir, &["log", "-1", "--format=%B"]).replacen("squashed", "reworded", 1);
    world.git(&dir, &["commit", "-q", "--amend", "--allow-empty", "-m", &message]);
    let amended = head(&world, &dir);
    assert_ne!(amended, sha);
    let got = explain_json(&world, &dir, "HEAD");
    assert_eq!(got["commit"], amended.as_str());
    assert_eq!(
        got["checkpoints"],
        json!([shown(&b, "rewritten"), shown(&a, "rewritten")]),
        "found by trailer"
    );

    let human = stdout(world.entire(&dir).args(["explain", "--commit", "HEAD"]).output().unwrap());
    assert!(human.contains("checkpoint aaaaaaaaaaaa") && human.contains("s-a (claude-code)"), "{human}");
    assert!(human.contains("a guess by recency"), "{human}");
}

#[test]
fn explain_finds_checkpoints_linked_through_the_index_alone() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let sha = head(&world, &dir);
    let mut linked = meta("cccccccccccc", &sha, "s1");
    linked.resolved_by = ResolvedBy::PostHoc;
    linked.extra.insert("linked".into(), json!("post-hoc"));
    checkpoint::write(&repo, &linked, &session("s1"), &from_anywhere(1024)).unwrap();
    assert_eq!(
        explain_json(&world, &dir, "HEAD"),
        json!({"commit": sha, "checkpoints": [shown(&linked, "written")]})
    );
}

#[test]
fn explain_without_the_branch_says_how_to_fetch_it() {
    let world = World::new();
    let dir = world.plain_repo("r");
    commit_with_trailers(&world, &dir, "agent work", &["0123456789ab"]);
    let out = world.entire(&dir).args(["explain", "--commit", "HEAD", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("entire: error: "), "{stderr}");
    assert!(
        stderr
            .contains("hint: run `entire enable` (it makes `git fetch` bring the branch), then `git fetch`"),
        "{stderr}"
    );
}

#[test]
fn explain_rejects_bad_revisions_and_hostile_session_ids() {
    let world = World::new();
    let dir = world.plain_repo("r");
    for args in [
        &["explain", "--commit", "no-such-rev"][..],
        &["explain", "--commit=--output=/tmp/x"],
        &["explain", "--session", "../../etc/passwd"],
        &["explain", "--session", "unknown-session"],
    ] {
        let out = world.entire(&dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("entire: error: ") && stderr.contains("\nhint: "), "{args:?}: {stderr}");
    }
}

#[test]
fn explain_session_lists_its_commits() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let sha = head(&world, &dir);
    let refs = vec![CheckpointRef {
        checkpoint_id: cid("0123456789ab"),
        commit: sha.clone(),
        resolved_by: ResolvedBy::Env,
        created_at: "2025-01-02T03:04:05Z".parse().unwrap(),
    }];
    Store::new(repo.store_dir()).create(&SessionRecord { checkpoints: refs, ..session("s1") }).unwrap();
    Store::new(repo.store_dir()).create(&session("s2")).unwrap();
    assert_eq!(
        world.json(&dir, &["explain", "--session", "s1", "--json"]),
        json!([{"checkpoint_id": "0123456789ab", "commit": sha, "resolved_by": "env", "created_at": "2025-01-02T03:04:05Z"}])
    );
    assert_eq!(world.json(&dir, &["explain", "--session", "s2", "--json"]), json!([]));
    let human = stdout(world.entire(&dir).args(["explain", "--session", "s1"]).output().unwrap());
    assert!(human.contains(sha.short(12)) && human.contains("0123456789ab"), "{human}");
}

#[test]
fn explain_without_arguments_shows_each_commit_with_its_session() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let sha = commit_with_trailers(&world, &dir, "agent work", &["0123456789ab"]);
    checkpoint::write(
        &repo,
        &meta("0123456789ab", &sha, "the-session"),
        &session("the-session"),
        &from_anywhere(1024),
    )
    .unwrap();
    world.git(&dir, &["commit", "-q", "--allow-empty", "-m", "human work"]);
    let out = stdout(world.entire(&dir).arg("explain").output().unwrap());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1].contains("human work") && lines[1].contains(" - "), "{out}");
    assert!(
        lines[2].contains("agent work") && lines[2].contains("the-session") && lines[2].contains("pid"),
        "{out}"
    );
    assert!(lines[3].contains("initial") && !lines[3].contains("session"), "{out}");
}

/// A bare remote named `origin` for `dir`.
fn with_remote(world: &World, dir: &Path) -> std::path::PathBuf {
    let remote = world.path().join("remote.git");
    world.git(world.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    world.git(dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    remote
}

fn remote_tip(world: &World, remote: &Path) -> String {
    world.git(remote, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{BRANCH}")])
}

/// pre-push's part, with consent to push anywhere.
fn pre_push(repo: &Repo, remote: &str, stdin: &str) -> entire::error::Result<()> {
    let settings = repo.worktree.join(".entire/settings.json");
    if !settings.exists() {
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, r#"{"enabled": true, "checkpoints": {"push": true}}"#).unwrap();
    }
    let settings = entire::settings::Settings::for_repo(repo).unwrap();
    entire::checkpoint::push::follow(repo, &settings, remote, stdin.as_bytes())
}

#[test]
fn pre_push_sends_the_branch_only_when_it_moved() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let remote = with_remote(&world, &dir);
    let repo = repo_at(&dir);
    let user_push = format!("refs/heads/main {} refs/heads/main {}\n", head(&world, &dir), "0".repeat(40));

    pre_push(&repo, "origin", &user_push).unwrap(); // no branch yet: nothing to do
    write_new(&repo, &head(&world, &dir), &session("s1"));
    pre_push(&repo, "origin", &user_push).unwrap();
    assert_eq!(remote_tip(&world, &remote), world.git(&dir, &["rev-parse", BRANCH]));

    // Unchanged since the last push: no push at all, so a remote that has
    // become unreachable does not matter.
    world.git(&dir, &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    pre_push(&repo, "origin", &user_push).unwrap();

    world.git(&dir, &["remote", "set-url", "origin", remote.to_str().unwrap()]);
    write_new(&repo, &head(&world, &dir), &session("s1"));
    pre_push(&repo, "origin", &user_push).unwrap();
    assert_eq!(remote_tip(&world, &remote), world.git(&dir, &["rev-parse", BRANCH]));
}

#[test]
fn pre_push_leaves_the_branch_to_a_push_that_already_carries_it() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let remote = with_remote(&world, &dir);
    let repo = repo_at(&dir);
    write_new(&repo, &head(&world, &dir), &session("s1"));
    let tip = world.git(&dir, &["rev-parse", BRANCH]);
    let input = format!("refs/heads/{BRANCH} {tip} refs/heads/{BRANCH} {}\n", "0".repeat(40));
    pre_push(&repo, "origin", &input).unwrap();
    let out = world.cmd("git", &remote).args(["rev-parse", "--verify", "--quiet", BRANCH]).output().unwrap();
    assert!(!out.status.success(), "pushed although the user's push carries the branch");
}

#[test]
fn pre_push_merges_a_diverged_remote_branch_keeping_both_sides() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let remote = with_remote(&world, &dir);
    let repo = repo_at(&dir);
    let sha = head(&world, &dir);
    let shared = write_new(&repo, &sha, &session("s-shared"));
    pre_push(&repo, "origin", "").unwrap();

    // Another clone adds a checkpoint for the same commit and pushes first.
    let other_dir = world.path().join("other");
    world.git(world.path(), &["clone", "-q", remote.to_str().unwrap(), other_dir.to_str().unwrap()]);
    world.git(
        &other_dir,
        &["fetch", "-q", "origin", &format!("refs/heads/{BRANCH}:refs/entire/checkpoints/v1")],
    );
    let other = repo_at(&other_dir);
    let theirs = write_new(&other, &sha, &session("s-theirs"));
    pre_push(&other, "origin", "").unwrap();

    let ours = write_new(&repo, &sha, &session("s-ours"));
    let local_before = world.git(&dir, &["rev-parse", BRANCH]);
    pre_push(&repo, "origin", "").unwrap();

    let tip = remote_tip(&world, &remote);
    assert_eq!(world.git(&dir, &["rev-parse", BRANCH]), tip, "local branch moved to the merge");
    let parents = world.git(&dir, &["log", "-1", "--format=%P", &tip]);
    assert_eq!(parents.split(' ').count(), 2, "{parents}");
    assert!(parents.contains(&local_before));
    for m in [&shared, &theirs, &ours] {
        assert_eq!(checkpoint::read(&repo, &m.checkpoint_id).unwrap().as_ref(), Some(m));
    }
    let ids: BTreeSet<_> =
        checkpoint::for_commit(&repo, &sha).unwrap().into_iter().map(|m| m.checkpoint_id).collect();
    let want: BTreeSet<_> = [&shared, &theirs, &ours].iter().map(|m| m.checkpoint_id.clone()).collect();
    assert_eq!(ids, want, "the commit index is the union of both sides");
}

#[test]
fn pre_push_to_an_unreachable_remote_is_an_error_not_a_panic() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    write_new(&repo, &head(&world, &dir), &session("s1"));
    let err = pre_push(&repo, "/nonexistent/remote.git", "").unwrap_err();
    let err = err.to_string();
    assert!(err.starts_with("could not push entire/checkpoints/v1 to /nonexistent/remote.git: "), "{err}");
    assert!(!err.contains("error: failed to push"), "no raw git lines: {err}");
}

/// The process that runs the tests: alive as recorded.
fn alive() -> (Option<i32>, Option<u64>) {
    let pid = std::process::id() as i32;
    (Some(pid), System.start_time(pid))
}

/// A PID and start time that match no running process.
fn gone() -> (Option<i32>, Option<u64>) {
    let (pid, start) = alive();
    (pid, start.map(|s| s + 1))
}

fn tree_listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> =
        walk(dir).into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    // Lock files hold nothing: taking a lock changes no state.
    let data = |e: &std::fs::DirEntry| e.path().extension().is_none_or(|ext| ext != "lock");
    entries
        .flatten()
        .filter(data)
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
        .collect()
}

#[test]
fn clean_removes_exactly_what_is_safe_and_dry_run_nothing() {
    let world = World::new();
    let dir = world.plain_repo("r");
    let repo = repo_at(&dir);
    let store = Store::new(repo.store_dir());
    let sha = head(&world, &dir);
    let on_branch = write_new(&repo, &sha, &session("done"));
    let cref = |id: &str| CheckpointRef {
        checkpoint_id: cid(id),
        commit: sha.clone(),
        resolved_by: ResolvedBy::Env,
        created_at: Utc::now(),
    };
    // `ended`: how many days ago the session ended, None when it never did.
    let with = |id: &str,
                (pid, start): (Option<i32>, Option<u64>),
                ended: Option<i64>,
                checkpoints: Vec<CheckpointRef>| SessionRecord {
        launcher_pid: pid,
        launcher_start_time: start,
        ended_at: ended.map(|days| Utc::now() - TimeDelta::days(days)),
        checkpoints,
        ..session(id)
    };
    for record in [
        with("done", gone(), Some(31), vec![cref(on_branch.checkpoint_id.as_str())]),
        with("just-done", gone(), Some(0), vec![cref(on_branch.checkpoint_id.as_str())]),
        with("last-week", gone(), Some(7), vec![]),
        with("crashed", gone(), None, vec![]),
        with("unwritten", gone(), Some(40), vec![cref("ffffffffffff")]),
        with("lost", gone(), None, vec![cref("eeeeeeeeeeee")]),
        with("running", alive(), None, vec![]),
        with("committing", gone(), Some(40), vec![]),
    ] {
        store.create(&record).unwrap();
    }
    std::fs::write(store.dir().join("corrupt.json"), "{not json").unwrap();
    let pending = |id: &str, session: &str, age: TimeDelta| Pending {
        checkpoint_id: cid(id),
        session_id: sid(session),
        resolved_by: ResolvedBy::Env,
        resolution: Resolution::default(),
        created_at: Utc::now() - age,
        git: None,
        git_dir: None,
        committed: None,
    };
    store.put_pending(&pending("aaaaaaaaaaaa", "old", TimeDelta::days(2))).unwrap();
    store.put_pending(&pending("bbbbbbbbbbbb", "committing", TimeDelta::minutes(1))).unwrap();
    let live_dir = world.state_dir().join("live");
    std::fs::create_dir_all(&live_dir).unwrap();
    for (id, procs) in [("gone-launcher", gone()), ("running", alive())] {
        let entry = LiveEntry { store: None, session: with(id, procs, None, vec![]) };
        std::fs::write(live_dir.join(format!("{id}.json")), serde_json::to_vec(&entry).unwrap()).unwrap();
    }

    let state_before = (tree_listing(store.dir()), tree_listing(&live_dir));
    let out = world.entire(&dir).args(["clean", "--dry-run"]).output().unwrap();
    let dry = stdout(out.clone());
    assert_eq!((tree_listing(store.dir()), tree_listing(&live_dir)), state_before, "dry run changed files");
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt.json"), "unparsable file reported");
    for line in [
        "would remove session done",
        "would remove session crashed",
        "would remove pending checkpoint aaaaaaaaaaaa",
        "would remove live-registry entry gone-launcher",
        "would mark session lost as ended",
        "kept session unwritten: 1 checkpoint(s) not on the local",
        "kept 2 session(s) that ended within the last 30d (--older-than changes this)",
    ] {
        assert!(dry.contains(line), "missing {line:?} in:\n{dry}");
    }
    assert!(!dry.contains("just-done") && !dry.contains("last-week"), "ended recently:\n{dry}");

    let real = stdout(world.entire(&dir).arg("clean").output().unwrap());
    assert_eq!(real, dry.replace("would remove", "removed").replace("would mark", "marked"));
    let left = |store: &Store| {
        let mut left: Vec<String> = store.list().0.into_iter().map(|r| r.session_id.into()).collect();
        left.sort();
        left
    };
    assert_eq!(left(&store), ["committing", "just-done", "last-week", "lost", "running", "unwritten"]);
    assert!(store.dir().join("corrupt.json").exists());
    assert!(store.load(&sid("lost")).unwrap().unwrap().ended_at.is_some());
    let pending_left: Vec<String> =
        store.list_pending().into_iter().map(|p| p.checkpoint_id.into()).collect();
    assert_eq!(pending_left, ["bbbbbbbbbbbb"]);
    assert!(!live_dir.join("gone-launcher.json").exists());
    assert!(live_dir.join("running.json").exists());

    let again = stdout(world.entire(&dir).arg("clean").output().unwrap());
    assert_eq!(again.lines().filter(|l| !l.starts_with("kept")).collect::<Vec<_>>(), ["nothing to clean"]);

    // Asked for, a shorter retention takes the week-old session; `0s` even
    // the one that just ended (and the one marked ended above).
    let week = stdout(world.entire(&dir).args(["clean", "--older-than", "3d"]).output().unwrap());
    assert!(week.contains("removed session last-week"), "{week}");
    assert_eq!(left(&store), ["committing", "just-done", "lost", "running", "unwritten"]);
    stdout(world.entire(&dir).args(["clean", "--older-than", "0s"]).output().unwrap());
    assert_eq!(left(&store), ["committing", "lost", "running", "unwritten"]);
    let bad = world.entire(&dir).args(["clean", "--older-than", "30"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("entire: error: invalid value '30'"));
}

#[test]
fn end_to_end_an_agent_commit_is_explained_and_pushed_with_the_branch() {
    let world = World::new();
    let dir = world.repo("r");
    let remote = with_remote(&world, &dir);
    stdout(world.entire(&dir).args(["enable", "--push"]).output().unwrap());
    let agent = world.agent(&dir, "claude-code");
    agent.ok("echo x > a.txt && git add a.txt && git commit -q -m 'by the agent'");
    let sha = head(&world, &dir);
    let explained = explain_json(&world, &dir, "HEAD");
    let checkpoints = explained["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 1, "{explained}");
    assert_eq!(checkpoints[0]["commit"], sha.as_str());
    assert_eq!(checkpoints[0]["session_id"], agent.session_id.as_str());
    assert_eq!(checkpoints[0]["resolved_by"], "env");
    assert_eq!(checkpoints[0]["files_changed"], json!(["a.txt"]));

    agent.ok("git push -q origin main");
    assert_eq!(remote_tip(&world, &remote), world.git(&dir, &["rev-parse", BRANCH]));
    assert!(agent.stop().success());
}

#[test]
fn each_checkpoint_stores_what_the_transcript_gained_and_explain_reassembles_it() {
    let world = World::new();
    let dir = world.repo("r");
    let agent = world.agent(&dir, "claude-code");
    // Where Claude Code keeps transcripts: the only place they are copied from.
    let transcript = world.path().join("home/.claude/projects/-r/growing.jsonl");
    std::fs::create_dir_all(transcript.parent().unwrap()).unwrap();
    std::fs::write(&transcript, "{\"n\":1}\n").unwrap();
    let store = Store::new(repo_at(&dir).store_dir());
    store
        .modify(&sid(&agent.session_id), |r| {
            Some(SessionRecord { transcript_path: Some(transcript.to_string_lossy().into()), ..r? })
        })
        .unwrap();
    let mut ids = Vec::new();
    for n in 1..=3 {
        agent.ok(&format!("git commit -q --allow-empty -m 'work {n}'"));
        ids.push(crate::support::checkpoint_of(&world, &dir, "HEAD").expect("a trailer"));
        // The writer copies what the transcript holds when it runs: a reader
        // makes sure it ran before the transcript grows.
        world.json(&dir, &["sessions", "--all", "--json"]);
        let mut file = std::fs::File::options().append(true).open(&transcript).unwrap();
        std::io::Write::write_all(&mut file, format!("{{\"n\":{}}}\n", n + 1).as_bytes()).unwrap();
    }
    assert!(agent.stop().success());
    let explain = |args: &[&str]| {
        stdout(world.entire(&dir).args(["explain", "--transcript"]).args(args).output().unwrap())
    };

    let portion = |id: &str| {
        git_bytes(&world, &dir, &["show", &format!("{BRANCH}:{}/{}/0/full.jsonl", &id[..2], &id[2..])])
    };
    assert_eq!(portion(&ids[0]), b"{\"n\":1}\n");
    assert_eq!(portion(&ids[1]), b"{\"n\":2}\n", "only what was added since");
    assert_eq!(portion(&ids[2]), b"{\"n\":3}\n");
    let third = checkpoint::read(&repo_at(&dir), &cid(&ids[2])).unwrap().unwrap();
    assert_eq!(third.extra["transcript_offset"], 16);
    assert_eq!(third.extra["transcript_previous"], ids[1].as_str());

    assert_eq!(explain(&["HEAD"]), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}");
    assert_eq!(explain(&["--checkpoint", &ids[1]]), "{\"n\":1}\n{\"n\":2}");
    let out =
        world.entire(&dir).args(["explain", "--transcript", "--checkpoint", "nothex"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
#[ignore = "needs git 2.45 or later (reftable): run scripts/test"]
fn a_reftable_repository_gets_its_checkpoints() {
    let world = World::new();
    let dir = world.path().join("reftable");
    world.git(world.path(), &["init", "-q", "--ref-format=reftable", dir.to_str().unwrap()]);
    world.git(&dir, &["commit", "-q", "--allow-empty", "-m", "initial"]);
    let repo = repo_at(&dir);
    let first = write_new(&repo, &head(&world, &dir), &session("s1"));
    let second = write_new(&repo, &head(&world, &dir), &session("s1"));
    assert_eq!(checkpoint::for_commit(&repo, &head(&world, &dir)).unwrap(), vec![first, second]);
    assert_eq!(world.git(&dir, &["rev-list", "--count", BRANCH]), "2");
}
