//! `entire doctor [--fix]`: what it finds, what it repairs, and what it
//! never touches.

use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{
    World, checkpoint_of, enable_with_copy, entire_bin, owner_of, running, script, stdout, wait_for,
};

/// Runs `entire doctor [--fix]`: (exit code, stdout).
fn doctor(world: &World, repo: &Path, fix: bool) -> (i32, String) {
    let mut cmd = world.entire(repo);
    cmd.arg("doctor");
    if fix {
        cmd.arg("--fix");
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every file under `dirs`, with its bytes, to show nothing changed.
fn snapshot(dirs: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|d| d.flatten().map(|e| e.path()))
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_healthy_repo_is_reported_healthy() {
    let world = World::new();
    let repo = world.repo("r");
    stdout(
        world
            .entire(&repo)
            .args(["run", "--", "git", "commit", "-q", "--allow-empty", "-m", "x"])
            .output()
            .unwrap(),
    );
    let agent = world.agent(&repo, "live");
    assert_eq!(doctor(&world, &repo, false), (0, "entire doctor: no problems found\n".into()));
    agent.stop();
}

#[test]
fn in_a_linked_worktree_doctor_and_status_agree_on_the_hooks() {
    let world = World::new();
    let repo = world.repo("r");
    // Checked out from a commit without `.entire/`: the main worktree's
    // settings apply, and so its hooks, which are shared.
    let linked = repo.parent().unwrap().join("linked");
    world.git(&repo, &["worktree", "add", "-q", linked.to_str().unwrap()]);
    assert!(!linked.join(".entire").exists());
    std::fs::remove_file(repo.join(".git/entire-hooks/post-commit")).unwrap();

    let status = world.json(&linked, &["status", "--json"]);
    assert_eq!((&status["enabled"], &status["hooks"]["post-commit"]), (&true.into(), &"missing".into()));
    let (code, out) = doctor(&world, &linked, false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("git hook post-commit is missing"), "{out}");
}

#[test]
fn dead_sessions_and_left_over_registry_entries_are_found_and_fixed() {
    let world = World::new();
    let repo = world.repo("r");
    let live_dir = world.state_dir().join("live");

    // A session whose launcher and agent were both SIGKILLed: never ended,
    // and its registry entry left behind. It has a field from the future.
    let mut dead = world.agent(&repo, "dead");
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    kill(Pid::from_raw(dead.pid), Signal::SIGKILL).unwrap();
    wait_for("the agent to die", || !running(dead.pid));
    let dead_record = world.store(&repo).join(format!("{}.json", dead.session_id));
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&dead_record).unwrap()).unwrap();
    json["from_the_future"] = 42.into();
    std::fs::write(&dead_record, serde_json::to_vec_pretty(&json).unwrap()).unwrap();

    // A running session whose repo record went missing.
    let orphan = world.agent(&repo, "orphan");
    let orphan_record = world.store(&repo).join(format!("{}.json", orphan.session_id));
    std::fs::remove_file(&orphan_record).unwrap();

    let before = snapshot(&[world.store(&repo), live_dir.clone()]);
    let (code, report) = doctor(&world, &repo, false);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains(&format!("session {} never ended, and its processes are gone", dead.session_id)));
    assert!(report.contains(&format!("live-registry entry {} is left over", dead.session_id)), "{report}");
    assert!(report.contains(&format!("live session {} has no record", orphan.session_id)), "{report}");
    assert_eq!(
        snapshot(&[world.store(&repo), live_dir.clone()]),
        before,
        "doctor without --fix changes nothing"
    );

    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("fixed: marked it ended") && report.contains("fixed: removed it"), "{report}");
    let records = world.records(&repo);
    let fixed = &records[&dead.session_id];
    assert!(fixed["ended_at"].is_string());
    assert_eq!(fixed["from_the_future"], 42, "unknown fields are kept");
    assert!(!live_dir.join(format!("{}.json", dead.session_id)).exists());
    assert!(
        live_dir.join(format!("{}.json", orphan.session_id)).exists(),
        "a running session keeps its entry"
    );
    assert!(records[&orphan.session_id]["ended_at"].is_null());
    assert_eq!(doctor(&world, &repo, false).0, 0);

    // The restored session still gets its commits.
    orphan.ok("git commit -q --allow-empty -m after-doctor");
    assert_eq!(owner_of(&world, &repo, "HEAD"), Some((orphan.session_id.clone(), "env".into())));
    orphan.stop();
}

/// Whether `hook` in entire's hooks dir is entire's: a link to its private
/// copy of `binary`.
fn is_entire_hook(repo: &Path, hook: &str, binary: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let dir = repo.join(".git/entire-hooks");
    let (Ok(h), Ok(c)) = (std::fs::metadata(dir.join(hook)), std::fs::metadata(dir.join(".entire"))) else {
        return false;
    };
    h.ino() == c.ino() && std::fs::read(dir.join(".entire")).unwrap() == std::fs::read(binary).unwrap()
}

#[test]
fn broken_hooks_are_found_and_reinstalled_without_losing_a_foreign_hook() {
    let world = World::new();
    let repo = world.plain_repo("r");
    let copy = world.path().join("old-entire");
    enable_with_copy(&world, &repo, &copy);
    std::fs::remove_file(&copy).unwrap();
    let hooks = repo.join(".git/entire-hooks");
    std::fs::remove_file(hooks.join("prepare-commit-msg")).unwrap();
    // A manager's install that follows core.hooksPath writes its hook there.
    let foreign = "#!/bin/sh\necho foreign post-commit ran\n";
    std::fs::remove_file(hooks.join("post-commit")).unwrap();
    script(&hooks.join("post-commit"), foreign);

    let (code, report) = doctor(&world, &repo, false);
    assert_eq!(code, 1, "{report}");
    for problem in [
        format!("the git hooks were installed from {}, which is gone", copy.display()),
        "git hook prepare-commit-msg is missing".into(),
        "git hook post-commit in entire's hooks directory is not entire's".into(),
    ] {
        assert!(report.contains(&problem), "{problem}: {report}");
    }
    let status = world.json(&repo, &["status", "--json"]);
    assert_eq!(status["hooks"]["prepare-commit-msg"], "missing", "{status}");
    assert_eq!(status["hooks"]["commit-msg"], "on-demand", "{status}");
    assert_eq!(status["hooks"]["post-commit"], "foreign", "{status}");

    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 0, "{report}");
    let binary = entire_bin().canonicalize().unwrap();
    for hook in ["prepare-commit-msg", "post-commit", "pre-push"] {
        assert!(is_entire_hook(&repo, hook, &binary), "{hook}: {report}");
    }
    assert!(!hooks.join("commit-msg").exists(), "linked when a commit needs it");
    // The foreign hook went where it runs: the directory entire chains to.
    assert_eq!(std::fs::read_to_string(repo.join(".git/hooks/post-commit")).unwrap(), foreign);
    assert_eq!(doctor(&world, &repo, false).0, 0);

    let agent = world.agent(&repo, "after");
    let out = agent.ok("git commit -q --allow-empty -m after-doctor");
    assert!(out.contains("foreign post-commit ran"), "the chained hook still runs: {out}");
    assert!(checkpoint_of(&world, &repo, "HEAD").is_some());
    agent.stop();

    // core.hooksPath changed behind entire's back (a manager's install):
    // found, and repaired by taking the new directory as the one to chain.
    std::fs::create_dir_all(repo.join(".hooks")).unwrap();
    script(&repo.join(".hooks/commit-msg"), "#!/bin/sh\necho \"manager hook: $0\"\n");
    world.git(&repo, &["config", "core.hooksPath", ".hooks"]);
    let (code, report) = doctor(&world, &repo, false);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("core.hooksPath is \".hooks\", not entire's hooks directory"), "{report}");
    let status = stdout(world.entire(&repo).arg("status").output().unwrap());
    assert!(status.contains("hint: run `entire doctor --fix`"), "{status}");
    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 0, "{report}");
    let agent = world.agent(&repo, "after-reset");
    let out = agent.ok("git commit -q --allow-empty -m after-reset");
    assert!(out.contains("manager hook: .hooks/commit-msg"), "{out}");
    assert!(checkpoint_of(&world, &repo, "HEAD").is_some());
    agent.stop();
    stdout(world.entire(&repo).arg("disable").output().unwrap());
    assert_eq!(world.git(&repo, &["config", "core.hooksPath"]), ".hooks");
}

#[test]
fn agent_settings_whose_entire_hooks_are_broken_are_reported_and_left_alone() {
    let world = World::new();
    let repo = world.repo("r");
    std::fs::create_dir_all(repo.join(".claude")).unwrap();
    let claude = repo.join(".claude/settings.local.json");
    std::fs::write(&claude, r#"{"permissions": {"allow": ["Bash(ls)"]}}"#).unwrap();
    assert_eq!(doctor(&world, &repo, false).0, 0, "settings without entire's hooks are not ours to check");
    stdout(world.entire(&repo).args(["enable", "--agent", "claude-code"]).output().unwrap());
    assert_eq!(doctor(&world, &repo, false).0, 0, "hooks as `enable --agent` writes them");

    // One of our entries removed by hand.
    let mut settings: serde_json::Value = serde_json::from_slice(&std::fs::read(&claude).unwrap()).unwrap();
    let lost = settings["hooks"].as_object_mut().unwrap().keys().next().unwrap().clone();
    settings["hooks"].as_object_mut().unwrap().remove(&lost);
    let edited = serde_json::to_vec_pretty(&settings).unwrap();
    std::fs::write(&claude, &edited).unwrap();
    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("claude-code settings lost some of entire's hooks"), "{report}");
    assert_eq!(std::fs::read(&claude).unwrap(), edited, "left alone");

    // Our entries run a binary that is gone; another agent's file is broken.
    let copy = world.path().join("old-entire");
    std::fs::copy(entire_bin(), &copy).unwrap();
    let text = std::fs::read_to_string(&claude).unwrap();
    let bin = entire_bin().canonicalize().unwrap();
    std::fs::write(&claude, text.replace(bin.to_str().unwrap(), copy.to_str().unwrap())).unwrap();
    std::fs::remove_file(&copy).unwrap();
    std::fs::create_dir_all(repo.join(".gemini")).unwrap();
    std::fs::write(
        repo.join(".gemini/settings.json"),
        r#"{"hooks": {"command": "/x/entire hooks gemini start""#,
    )
    .unwrap();
    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains(&format!(".claude/settings.local.json runs {}, which is gone", copy.display())),
        "{report}"
    );
    assert!(report.contains(".gemini/settings.json is not valid JSON"), "{report}");
}

/// Points the checkpoints branch at a new commit of `tree` with `parents`.
fn checkpoints_commit(world: &World, repo: &Path, tree: &str, parents: &[&str], subject: &str) -> String {
    let mut args = vec!["commit-tree", tree, "-m", subject];
    parents.iter().for_each(|p| args.extend(["-p", p]));
    let commit = world.git(repo, &args);
    world.git(repo, &["update-ref", "refs/entire/checkpoints/v1", &commit]);
    commit
}

#[test]
fn a_checkpoints_branch_that_does_not_parse_is_reported_and_left_alone() {
    let world = World::new();
    let repo = world.repo("r");
    let commit = "git commit -q --allow-empty -m x && git commit -q --allow-empty -m y";
    stdout(world.entire(&repo).args(["run", "--", "sh", "-c", commit]).output().unwrap());
    let (second, first) =
        (world.git(&repo, &["rev-parse", "entire/checkpoints/v1"]), "entire/checkpoints/v1~1");
    let first = world.git(&repo, &["rev-parse", first]);
    assert_eq!(doctor(&world, &repo, false).0, 0, "checkpoints as the hooks write them");
    let tree = world.git(&repo, &["rev-parse", &format!("{second}^{{tree}}")]);
    checkpoints_commit(&world, &repo, &tree, &[&second, &first], "Merge remote checkpoints");
    assert_eq!(doctor(&world, &repo, false).0, 0, "a merge of remote checkpoints");

    // A tip that names the newest checkpoint but lost the layout.
    let id = checkpoint_of(&world, &repo, "HEAD").unwrap();
    let readme = world.git(&repo, &["rev-parse", "HEAD:README"]);
    let flat = {
        use std::io::Write;
        use std::process::Stdio;
        let mut mktree = world
            .cmd("git", &repo)
            .arg("mktree")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(mktree.stdin.take().unwrap(), "100644 blob {readme}\tREADME").unwrap();
        stdout(mktree.wait_with_output().unwrap())
    };
    let tip = checkpoints_commit(&world, &repo, &flat, &[&second], &format!("Checkpoint: {id}"));
    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 1, "{report}");
    let path = format!("{}/{}/metadata.json", &id[..2], &id[2..]);
    assert!(report.contains(&format!("does not parse: its tip has no {path}")), "{report}");
    assert_eq!(world.git(&repo, &["rev-parse", "entire/checkpoints/v1"]), tip, "left alone");

    // A tip that is not a commit at all (git itself refuses to write one).
    std::fs::write(repo.join(".git/refs/entire/checkpoints/v1"), format!("{readme}\n")).unwrap();
    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains(&format!("its tip {readme} is a blob object, not a commit")), "{report}");

    std::fs::write(repo.join(".git/refs/entire/checkpoints/v1"), "garbage\n").unwrap();
    let (code, report) = doctor(&world, &repo, false);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("does not hold an object ID"), "{report}");
}

#[test]
fn unparsable_session_files_are_listed_and_never_touched() {
    let world = World::new();
    let repo = world.repo("r");
    let store = world.store(&repo);
    std::fs::create_dir_all(&store).unwrap();
    let bad = [
        ("0190aaaa-0000-7000-8000-000000000001.json", "{\"session_id\": \"0190"),
        ("0190aaaa-0000-7000-8000-000000000002.json", ""),
    ];
    for (name, content) in bad {
        std::fs::write(store.join(name), content).unwrap();
    }
    let (code, report) = doctor(&world, &repo, true);
    assert_eq!(code, 1, "{report}");
    for (name, content) in bad {
        assert!(
            report.contains(&format!("unreadable session file {}", store.join(name).display())),
            "{report}"
        );
        assert_eq!(std::fs::read_to_string(store.join(name)).unwrap(), content);
    }
}
