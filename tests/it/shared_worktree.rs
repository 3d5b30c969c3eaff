//! Several agents committing at once, in one worktree and in one worktree
//! each, as real processes with real git; commits whose post-commit never
//! ran; messages reused from a commit that never happened
//! (docs/checkpoints.md, "Which commit").
//!
//! The size is `ENTIRE_STRESS_AGENTS` agents × `ENTIRE_STRESS_COMMITS`
//! commits each (default 6 × 5, which a 2-core CI machine runs in seconds).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::{World, checkpoint_of, entire_lines, script, stage_change};

fn size(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One agent's job: `COMMITS` commits of its own file, each retried while
/// another agent's git holds the index lock or moved HEAD under it, as
/// agents do. The subject names the session that made it.
fn job(file: &str, commits: usize) -> String {
    format!(
        r#"for n in $(seq {commits}); do
    echo "$n" >> {file}
    until git commit -q -m "$ENTIRE_SESSION_ID $n" -- {file} 2>"$0.err"; do
        grep -q -e index.lock -e "cannot lock ref" "$0.err" || {{ cat "$0.err" >&2; exit 1; }}
        sleep 0.01
    done
done"#
    )
}

/// Runs `agents` agents at once, agent i in `dirs[i % dirs.len()]`, then
/// checks every commit git made in `dirs` since `base`: its own session's
/// checkpoint, on the branch, no ID twice, nothing pending after
/// `doctor --fix`.
fn agents_commit_at_once(world: &World, repo: &Path, dirs: &[PathBuf], agents: usize, commits: usize) {
    let files: Vec<String> = (0..agents).map(|i| format!("agent{i}.txt")).collect();
    for (i, file) in files.iter().enumerate() {
        let dir = &dirs[i % dirs.len()];
        std::fs::write(dir.join(file), "").unwrap();
        world.git(dir, &["add", file]);
        world.git(dir, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", &format!("add {file}")]);
    }
    let bases: Vec<String> = dirs.iter().map(|d| world.git(d, &["rev-parse", "HEAD"])).collect();
    let running: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let job_file = world.path().join(format!("job{i}.sh"));
            std::fs::write(&job_file, job(file, commits)).unwrap();
            let mut cmd = world.entire(&dirs[i % dirs.len()]);
            cmd.args(["run", "--", "sh"]).arg(&job_file).stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for agent in running {
        let out = agent.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && entire_lines(&stderr).is_empty(), "{stderr}");
    }
    // A commit git gave up on (HEAD moved under it) leaves a checkpoint
    // pending whose commit was never made: doctor removes it.
    let doctor = world.entire(repo).args(["doctor", "--fix"]).output().unwrap();
    assert!(doctor.status.success(), "{}", String::from_utf8_lossy(&doctor.stdout));

    let mut ids = BTreeSet::new();
    let mut made = 0;
    for (dir, base) in dirs.iter().zip(&bases) {
        for commit in world.git(dir, &["rev-list", &format!("{base}..HEAD")]).lines() {
            made += 1;
            let subject = world.git(dir, &["log", "-1", "--format=%s", commit]);
            let session = subject.split(' ').next().unwrap();
            let id =
                checkpoint_of(world, dir, commit).unwrap_or_else(|| panic!("{commit} {subject}: no trailer"));
            let explained = world.json(dir, &["explain", "--commit", commit, "--json"]);
            let on_branch = explained["checkpoints"].as_array().unwrap();
            assert_eq!(on_branch.len(), 1, "{subject}: {explained:#}");
            assert_eq!(on_branch[0]["checkpoint_id"], id.as_str(), "{subject}");
            assert_eq!(on_branch[0]["session_id"], session, "{subject}: another session's checkpoint");
            assert_eq!(on_branch[0]["commit"], commit, "{subject}");
            assert!(ids.insert(id.clone()), "{id} twice");
        }
    }
    assert_eq!(made, agents * commits);
    let pending = world.store(repo).join("pending");
    let left: Vec<_> =
        std::fs::read_dir(pending).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "left pending: {left:?}");
}

#[test]
fn agents_sharing_one_worktree_each_get_their_own_checkpoints() {
    let world = World::new();
    let repo = world.repo("r");
    let agents = size("ENTIRE_STRESS_AGENTS", 6);
    agents_commit_at_once(
        &world,
        &repo,
        std::slice::from_ref(&repo),
        agents,
        size("ENTIRE_STRESS_COMMITS", 5),
    );
}

#[test]
fn agents_in_a_worktree_each_get_their_own_checkpoints() {
    let world = World::new();
    let repo = world.repo("r");
    // Linked worktrees see the settings once they are committed.
    world.git(&repo, &["add", ".entire"]);
    world.git(&repo, &["commit", "-q", "-m", "enable entire"]);
    let agents = size("ENTIRE_STRESS_AGENTS", 6);
    let worktrees: Vec<PathBuf> = (0..agents)
        .map(|i| {
            let path = world.path().join(format!("repos/wt{i}"));
            world.git(&repo, &["worktree", "add", "-q", "-b", &format!("wt{i}"), path.to_str().unwrap()]);
            path.canonicalize().unwrap()
        })
        .collect();
    agents_commit_at_once(&world, &repo, &worktrees, agents, size("ENTIRE_STRESS_COMMITS", 5));
}

/// Hooks for a commit whose post-commit never runs (killed before it did
/// anything): prepare-commit-msg and commit-msg are entire's, post-commit
/// is missing.
fn without_post_commit(world: &World, repo: &Path) -> PathBuf {
    let hooks = world.path().join("no-post-commit");
    std::fs::create_dir_all(&hooks).unwrap();
    // Relative to the main worktree's root (or absolute).
    let ours = repo.join(world.git(repo, &["config", "core.hooksPath"]));
    for hook in ["prepare-commit-msg", "commit-msg"] {
        std::os::unix::fs::symlink(ours.join(hook), hooks.join(hook)).unwrap();
    }
    hooks
}

#[test]
fn a_commit_whose_post_commit_never_ran_has_its_checkpoint_after_doctor_fix() {
    let world = World::new();
    let repo = world.repo("r");
    let hooks = without_post_commit(&world, &repo);
    let agent = world.agent(&repo, "claude-code");
    agent.ok(&format!(
        "{} && git -c core.hooksPath={} commit -q -m 'post-commit killed'",
        stage_change("f"),
        hooks.display()
    ));
    let id = checkpoint_of(&world, &repo, "HEAD").expect("a trailer");
    let pending = world.store(&repo).join(format!("pending/{id}.json"));
    assert!(pending.exists(), "its post-commit never ran");

    let doctor = world.entire(&repo).args(["doctor", "--fix"]).output().unwrap();
    assert!(!pending.exists(), "{}", String::from_utf8_lossy(&doctor.stdout));
    let explained = world.json(&repo, &["explain", "--commit", "HEAD", "--json"]);
    assert_eq!(explained["checkpoints"][0]["checkpoint_id"], id.as_str(), "{explained}");
    assert_eq!(explained["checkpoints"][0]["session_id"], agent.session_id.as_str());
    assert_eq!(explained["checkpoints"][0]["files_changed"], serde_json::json!(["f"]));
    assert!(agent.stop().success());
}

#[test]
fn a_message_reused_from_a_rejected_commit_does_not_take_its_checkpoint() {
    let world = World::new();
    let repo = world.plain_repo("r");
    // The user's own commit-msg hook rejects the agent's first message.
    let user_hooks = repo.join(".git/hooks");
    script(&user_hooks.join("commit-msg"), "#!/bin/sh\n! grep -q rejected \"$1\"\n");
    crate::support::stdout(world.entire(&repo).arg("enable").output().unwrap());
    let agent = world.agent(&repo, "claude-code");
    let (rc, out) = agent.exec(&format!("{} && git commit -q -m 'rejected by the hook'", stage_change("f")));
    assert_ne!(rc, 0, "{out}");
    let store = world.store(&repo);
    let abandoned: Vec<_> = std::fs::read_dir(store.join("pending")).unwrap().flatten().collect();
    assert_eq!(abandoned.len(), 1);
    let id = abandoned[0].path().file_stem().unwrap().to_string_lossy().into_owned();
    assert!(agent.stop().success());

    // A human commits with the agent's message, trailer and all.
    let message = world.path().join("message");
    std::fs::write(&message, format!("by hand\n\nEntire-Checkpoint: {id}\n")).unwrap();
    world.git(&repo, &["commit", "-q", "-F", message.to_str().unwrap()]);
    assert_eq!(checkpoint_of(&world, &repo, "HEAD"), None, "the trailer of a commit never made");
    let explained = world.json(&repo, &["explain", "--commit", "HEAD", "--json"]);
    assert_eq!(explained["checkpoints"], serde_json::json!([]), "{explained}");
    assert!(!store.join(format!("pending/{id}.json")).exists(), "abandoned, and removed");
}

#[test]
fn a_subject_starting_with_the_comment_character_is_tagged() {
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    agent.ok(&format!("{} && git commit -q -m '#123 fix login'", stage_change("f")));
    assert_eq!(world.git(&repo, &["log", "-1", "--format=%s"]), "#123 fix login");
    assert!(
        checkpoint_of(&world, &repo, "HEAD").is_some(),
        "under -m, # lines are kept and so is the trailer"
    );
    assert!(agent.stop().success());
}

#[test]
fn a_post_commit_that_finds_a_writer_running_leaves_its_checkpoint_to_it() {
    let world = World::new();
    let repo = world.repo("r");
    let agent = world.agent(&repo, "claude-code");
    // This test holds the writer lock, as a running writer would.
    let store = world.store(&repo);
    std::fs::create_dir_all(&store).unwrap();
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(store.join("writer.lock"))
        .unwrap();
    lock.lock().unwrap();
    agent.ok(&format!("{} && git commit -q -m 'while a writer runs'", stage_change("f")));
    let id = checkpoint_of(&world, &repo, "HEAD").expect("a trailer");
    let pending = std::fs::read_to_string(store.join(format!("pending/{id}.json"))).expect("left pending");
    assert_eq!(pending.lines().count(), 2, "marked committed: {pending}");
    assert!(
        world
            .cmd("git", &repo)
            .args(["rev-parse", "--verify", "-q", "entire/checkpoints/v1"])
            .output()
            .unwrap()
            .stdout
            .is_empty(),
        "not written while the lock is held"
    );

    drop(lock);
    let explained = world.json(&repo, &["explain", "--commit", "HEAD", "--json"]);
    assert_eq!(explained["checkpoints"][0]["checkpoint_id"], id.as_str(), "{explained}");
    assert!(agent.stop().success());
}

#[test]
fn what_a_killed_writer_left_in_temp_files_is_removed_once_old() {
    let world = World::new();
    let repo = world.repo("r");
    let common = repo.join(".git");
    let old_dir = common.join("entire-checkpoint-killed");
    let fresh_dir = common.join("entire-checkpoint-running");
    let old_tmp = world.store(&repo).join(".tmp-killed");
    for dir in [&old_dir, &fresh_dir] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("root.json"), "{}").unwrap();
    }
    std::fs::create_dir_all(old_tmp.parent().unwrap()).unwrap();
    std::fs::write(&old_tmp, "{\"checkpoint_id\":").unwrap();
    for path in [&old_dir, &old_tmp] {
        let status = world.cmd("touch", &repo).args(["-d", "1 hour ago"]).arg(path).status().unwrap();
        assert!(status.success());
    }
    let doctor = world.entire(&repo).args(["doctor", "--fix"]).output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(report.contains("removed 2 temp file(s) left by an interrupted writer"), "{report}");
    assert!(!old_dir.exists() && !old_tmp.exists());
    assert!(fresh_dir.exists(), "a live writer's may be in use");
}
