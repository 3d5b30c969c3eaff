//! entire never switches itself, or the user's own hooks, off in silence
//! (docs/hooks.md, docs/reliability.md): hooks that survive moved and
//! copied repositories, linked worktrees and submodules; repairs that never
//! record or restore entire's own directory as the user's.

use std::path::Path;

use crate::support::{World, agent_commit, checkpoint_of, script, stdout};

/// The user's commit-msg hook, which rejects a message starting with "bad".
const REJECTING: &str = "#!/bin/sh\nif grep -q '^bad' \"$1\"; then echo 'user hook: rejected'; exit 1; fi\n";

fn commit(w: &World, repo: &Path, message: &str) -> std::process::Output {
    w.cmd("git", repo).args(["commit", "--allow-empty", "-q", "-m", message]).output().unwrap()
}

/// The user's hook still decides, and an agent's commit is tagged.
fn assert_hooks_run(w: &World, repo: &Path, when: &str) {
    let bad = commit(w, repo, "bad message");
    assert!(!bad.status.success(), "{when}: the user's hook must still reject");
    let said = String::from_utf8_lossy(&bad.stdout) + String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("user hook: rejected"), "{when}: {said}");
    assert!(commit(w, repo, "good message").status.success(), "{when}: and pass");
    let (tagged, said) = tagged_commit(w, repo, "agent work");
    assert!(tagged, "{when}: the agent's commit is tagged: {said}");
}

fn hooks_path(w: &World, repo: &Path) -> Option<String> {
    let out = w.cmd("git", repo).args(["config", "--local", "core.hooksPath"]).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn copy_tree(w: &World, from: &Path, to: &Path) {
    stdout(w.cmd("cp", w.path()).arg("-a").arg(from).arg(to).output().unwrap());
}

#[test]
fn moved_and_copied_repositories_keep_running_every_hook() {
    let w = World::new();
    let first = w.plain_repo("first");
    script(&first.join(".git/hooks/commit-msg"), REJECTING);
    // A hook entire has no work in: chained by a script of entire's.
    script(&first.join(".git/hooks/pre-commit"), "#!/bin/sh\necho 'user pre-commit ran' >&2\n");
    stdout(w.entire(&first).arg("enable").output().unwrap());
    assert_eq!(hooks_path(&w, &first).as_deref(), Some(".git/entire-hooks"), "relative: it moves along");
    assert_hooks_run(&w, &first, "enabled");

    let moved = w.path().join("repos/moved");
    std::fs::rename(&first, &moved).unwrap();
    assert_hooks_run(&w, &moved, "after mv");

    let copied = w.path().join("repos/copied");
    copy_tree(&w, &moved, &copied);
    std::fs::remove_dir_all(&moved).unwrap();
    assert_hooks_run(&w, &copied, "after cp -r, the original deleted");
    assert_eq!(w.json(&copied, &["status", "--json"])["hook_problems"], serde_json::json!([]));

    // A linked worktree added after the move, and one that is moved along.
    let linked = w.path().join("repos/linked");
    w.git(&copied, &["worktree", "add", "-q", linked.to_str().unwrap()]);
    assert_hooks_run(&w, &linked, "in a linked worktree");
    let said = commit(&w, &linked, "good, in the linked worktree").stderr;
    assert!(String::from_utf8_lossy(&said).contains("user pre-commit ran"), "chained by the right path");
    let again = w.path().join("repos/copied-again");
    std::fs::rename(&copied, &again).unwrap();
    w.git(&again, &["worktree", "repair"]);
    let status = w.json(&linked, &["status", "--json"]);
    let problems = status["hook_problems"].to_string();
    assert!(
        problems.contains("moved or copied from"),
        "the linked worktree's stale path is reported: {status:#}"
    );
    stdout(w.entire(&linked).args(["doctor", "--fix"]).output().unwrap());
    assert_hooks_run(&w, &linked, "in the linked worktree, repaired");
    assert_hooks_run(&w, &again, "in the main worktree");

    stdout(w.entire(&again).arg("disable").output().unwrap());
    assert_eq!(hooks_path(&w, &again), None, "unset, as it was");
    let config = std::fs::read_to_string(again.join(".git/config")).unwrap();
    assert!(!config.contains("entire-hooks"), "nothing of entire's left in the config: {config}");
    assert!(!commit(&w, &again, "bad after disable").status.success());
    assert!(!commit(&w, &linked, "bad after disable").status.success());
}

#[test]
fn an_absolute_path_to_the_place_a_repository_came_from_is_never_taken_for_the_users() {
    let w = World::new();
    let repo = w.plain_repo("r");
    script(&repo.join(".git/hooks/commit-msg"), REJECTING);
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    // As an older entire left it: the absolute path of the original, gone.
    w.git(&repo, &["config", "core.hooksPath", "/gone/r/.git/entire-hooks"]);
    assert!(commit(&w, &repo, "bad, and no hook runs").status.success(), "the setup can fail");

    let doctor = w.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{report}");
    assert!(report.contains("moved or copied from: git runs none of this clone's hooks"), "{report}");
    let fixed = stdout(w.entire(&repo).args(["doctor", "--fix"]).output().unwrap());
    assert!(!fixed.contains("core.hooksPath was /gone"), "never chained: {fixed}");
    assert_hooks_run(&w, &repo, "after doctor --fix");
    let state = std::fs::read_to_string(repo.join(".git/entire-hooks/state.json")).unwrap();
    assert!(!state.contains("/gone"), "never recorded: {state}");

    // Again, and this time `disable` finds the dead path: it unsets it.
    w.git(&repo, &["config", "core.hooksPath", "/gone/r/.git/entire-hooks"]);
    let out = stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert!(out.contains("core.hooksPath is unset again"), "{out}");
    assert_eq!(hooks_path(&w, &repo), None);
    assert!(!commit(&w, &repo, "bad after disable").status.success(), "the user's hook runs again");
}

#[test]
fn a_submodule_keeps_its_hooks_when_its_superproject_moves() {
    let w = World::new();
    let lib = w.plain_repo("lib");
    let top = w.plain_repo("top");
    let add = w
        .cmd("git", &top)
        .args(["-c", "protocol.file.allow=always", "submodule", "add", "-q"])
        .arg(&lib)
        .arg("sub")
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let sub = top.join("sub");
    script(&top.join(".git/modules/sub/hooks/commit-msg"), REJECTING);
    stdout(w.entire(&sub).arg("enable").output().unwrap());
    assert_eq!(hooks_path(&w, &sub).as_deref(), Some("../.git/modules/sub/entire-hooks"));
    assert_hooks_run(&w, &sub, "in the submodule");
    let moved = w.path().join("repos/top-moved");
    std::fs::rename(&top, &moved).unwrap();
    assert_hooks_run(&w, &moved.join("sub"), "in the submodule, after its superproject moved");
}

/// `entire run -- git commit …`: whether it made a tagged commit, and what
/// the commit said on stderr.
fn tagged_commit(w: &World, repo: &Path, message: &str) -> (bool, String) {
    let (ok, said) = agent_commit(w, repo, message);
    assert!(ok, "{said}");
    (checkpoint_of(w, repo, "HEAD").is_some(), said)
}

#[test]
fn older_branches_git_clean_and_git_stash_leave_entire_on() {
    let w = World::new();
    let repo = w.plain_repo("r");
    w.git(&repo, &["branch", "before-entire"]);
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    w.git(&repo, &["add", ".entire"]);
    w.git(&repo, &["commit", "-q", "-m", "entire's team settings"]);

    w.git(&repo, &["checkout", "-q", "before-entire"]);
    assert!(!repo.join(".entire").exists(), "the setup can fail");
    assert!(tagged_commit(&w, &repo, "on a branch made before .entire/").0);

    // Untracked settings, as before they are committed: clean and stash take them.
    w.git(&repo, &["checkout", "-q", "main"]);
    w.git(&repo, &["rm", "-rq", "--cached", ".entire"]);
    w.git(&repo, &["commit", "-q", "-m", "settings untracked again"]);
    w.git(&repo, &["clean", "-fdxq"]);
    assert!(!repo.join(".entire").exists(), "the setup can fail");
    assert!(tagged_commit(&w, &repo, "after git clean -fdx").0);
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    w.git(&repo, &["stash", "-u", "-q"]);
    assert!(!repo.join(".entire").exists(), "the setup can fail");
    assert!(tagged_commit(&w, &repo, "after git stash -u").0);
    assert_eq!(w.json(&repo, &["status", "--json"])["enabled"], true);

    // `disable` is this clone's too: no checkout turns entire back on.
    stdout(w.entire(&repo).arg("disable").output().unwrap());
    w.git(&repo, &["stash", "pop", "-q"]);
    assert_eq!(w.json(&repo, &["status", "--json"])["enabled"], false, ".entire/settings.json is back");
}

#[test]
fn settings_that_do_not_parse_or_hold_wrong_types_are_reported_and_block_no_commit() {
    let w = World::new();
    let repo = w.repo("r");
    let settings = repo.join(".entire/settings.json");
    std::fs::write(
        &settings,
        "{\n  \"enabled\": true,\n  \"resolution\": {\"recency\": \"false\"},\n  \"colour\": 1\n}\n",
    )
    .unwrap();
    let (tagged, said) = tagged_commit(&w, &repo, "wrong type");
    assert!(tagged, "{said}");
    let lines: Vec<&str> = said.lines().filter(|l| l.starts_with("entire:")).collect();
    assert_eq!(lines.len(), 1, "one line for the wrong type, none for the unknown key: {said}");
    assert!(lines[0].contains(r#""resolution.recency" is "false", but must be true or false"#), "{said}");
    let status = w.json(&repo, &["status", "--json"]);
    let problems = status["settings_problems"].to_string();
    assert!(
        problems.contains("resolution.recency") && problems.contains(r#"unknown key \"colour\""#),
        "{status:#}"
    );
    let doctor = w.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{report}");
    assert!(report.contains("must be true or false") && report.contains("unknown key"), "{report}");

    std::fs::write(&settings, "{\n  \"enabled\": true,\n  \"resolution\": {\"recency\" false}\n}\n").unwrap();
    let (tagged, said) = tagged_commit(&w, &repo, "syntax error");
    assert!(tagged, "the clone's record keeps entire on: {said}");
    assert!(said.contains("settings.json: line 3, column 28: expected `:`"), "{said}");
    let text = stdout(w.entire(&repo).arg("status").output().unwrap());
    assert!(text.contains("line 3, column 28"), "{text}");
}

#[test]
fn hooks_that_run_while_entire_is_off_here_say_so_once_per_commit() {
    let w = World::new();
    let repo = w.repo("r");
    std::fs::write(repo.join(".entire/settings.local.json"), r#"{"enabled": false}"#).unwrap();
    let out = w.cmd("git", &repo).args(["commit", "--allow-empty", "-q", "-m", "off"]).output().unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = said.lines().filter(|l| l.starts_with("entire:")).collect();
    assert_eq!(lines.len(), 1, "{said}");
    assert!(
        lines[0].contains("entire is off in this clone") && lines[0].contains("settings.local.json"),
        "{said}"
    );
}

#[test]
fn purge_removes_everything_entire_made_and_says_so() {
    let w = World::new();
    let repo = w.repo("r");
    let (tagged, said) = tagged_commit(&w, &repo, "agent work");
    assert!(tagged, "{said}");
    let live = w.agent(&repo, "a");
    let registry = w.state_dir().join("live");
    let entry = registry.join(format!("{}.json", live.session_id));
    assert!(entry.exists(), "the setup can fail");

    let out = stdout(w.entire(&repo).args(["disable", "--purge", "--branch"]).output().unwrap());
    let git = repo.join(".git");
    for removed in ["entire-hooks", "entire-sessions"] {
        assert!(out.contains(&format!("removed {}", git.join(removed).display())), "{out}");
    }
    assert!(out.contains(&format!("removed live-registry entry {}", live.session_id)), "{out}");
    assert!(out.contains("deleted the branch entire/checkpoints/v1"), "{out}");
    assert!(out.contains("kept") && out.contains("entire-settings.json"), "{out}");
    let left: Vec<String> = std::fs::read_dir(&git)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("entire-"))
        .collect();
    assert_eq!(left, ["entire-settings.json"], "{out}");
    assert!(!entry.exists());
    let branch =
        w.cmd("git", &repo).args(["rev-parse", "--verify", "-q", "entire/checkpoints/v1"]).output().unwrap();
    assert!(!branch.status.success(), "{out}");
    assert_eq!(w.json(&repo, &["status", "--json"])["enabled"], false);
    live.stop();
}
