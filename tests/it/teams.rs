//! Teams: checkpoints travel with `git push`, `git fetch` and `git pull`
//! through a real bare remote, and `disable` never edits a committed file.

use std::path::{Path, PathBuf};

use crate::support::{World, checkpoint_of, stdout};

/// A bare remote and a first clone with entire enabled and one agent
/// commit pushed (its checkpoint goes along, by pre-push).
fn team(w: &World) -> (PathBuf, PathBuf) {
    let remote = w.path().join("remote.git");
    w.git(w.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    let alice = w.repo("alice");
    w.git(&alice, &["remote", "add", "origin", remote.to_str().unwrap()]);
    stdout(w.entire(&alice).args(["enable", "--push"]).output().unwrap());
    w.git(&alice, &["push", "-q", "-u", "origin", "main"]);
    agent_commit(w, &alice, "alice work");
    w.git(&alice, &["push", "-q"]);
    (remote, alice)
}

fn agent_commit(w: &World, repo: &Path, message: &str) -> String {
    let script = format!("echo '{message}' >> work && git add work && git commit -q -m '{message}'");
    stdout(w.entire(repo).args(["run", "--", "sh", "-c", &script]).output().unwrap());
    checkpoint_of(w, repo, "HEAD").expect("the agent's commit is tagged")
}

fn clone(w: &World, remote: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let dir = w.path().join("repos").join(name);
    let mut args = vec!["clone", "-q"];
    args.extend_from_slice(extra);
    args.extend([remote.to_str().unwrap(), dir.to_str().unwrap()]);
    w.git(w.path(), &args);
    dir.canonicalize().unwrap()
}

/// The checkpoint IDs `explain --commit REV` finds.
fn explained(w: &World, repo: &Path, rev: &str) -> Vec<String> {
    let json = w.json(repo, &["explain", "--commit", rev, "--json"]);
    json["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checkpoint_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_fresh_clone_explains_after_one_enable_and_pull_brings_new_checkpoints() {
    let w = World::new();
    let (remote, alice) = team(&w);
    let first = checkpoint_of(&w, &alice, "HEAD").unwrap();
    for (name, extra) in [("bob", &[][..]), ("carol", &["--single-branch", "--branch", "main"][..])] {
        let bob = clone(&w, &remote, name, extra);
        stdout(w.entire(&bob).arg("enable").output().unwrap());
        assert_eq!(explained(&w, &bob, "HEAD"), [first.as_str()], "{name}");
    }
    // A teammate's next checkpoint arrives with a plain `git pull`, in the
    // single-branch clone too (enable added the refspec).
    let second = agent_commit(&w, &alice, "more work");
    w.git(&alice, &["push", "-q"]);
    for name in ["bob", "carol"] {
        let bob = w.path().join("repos").join(name);
        w.git(&bob, &["pull", "-q", "--ff-only"]);
        assert_eq!(explained(&w, &bob, "HEAD"), [second.as_str()], "{name}");
    }
    // disable takes the refspec it added back out.
    let carol = w.path().join("repos/carol");
    let specs = || w.git(&carol, &["config", "--get-all", "remote.origin.fetch"]);
    assert!(specs().contains("entire/checkpoints/v1"), "{}", specs());
    stdout(w.entire(&carol).arg("disable").output().unwrap());
    assert_eq!(specs(), "+refs/heads/main:refs/remotes/origin/main");
}

#[test]
fn two_clones_pushing_to_one_remote_keep_every_checkpoint() {
    let w = World::new();
    let (remote, alice) = team(&w);
    let bob = clone(&w, &remote, "bob", &[]);
    stdout(w.entire(&bob).args(["enable", "--push"]).output().unwrap());
    let mut ids = vec![checkpoint_of(&w, &alice, "HEAD").unwrap()];
    // Both commit on their own branches, push in turns: each push finds the
    // other's checkpoints on the remote first.
    w.git(&alice, &["checkout", "-q", "-b", "a"]);
    w.git(&bob, &["checkout", "-q", "-b", "b"]);
    for round in 0..2 {
        ids.push(agent_commit(&w, &alice, &format!("alice {round}")));
        ids.push(agent_commit(&w, &bob, &format!("bob {round}")));
        w.git(&alice, &["push", "-q", "origin", "a"]);
        w.git(&bob, &["push", "-q", "origin", "b"]);
    }
    let on_remote = w.git(&remote, &["ls-tree", "-r", "--name-only", "entire/checkpoints/v1"]);
    for id in &ids {
        assert!(on_remote.contains(&format!("{}/{}/metadata.json", &id[..2], &id[2..])), "{id}: {on_remote}");
    }
    // Each side reads the other's, after a fetch.
    w.git(&alice, &["fetch", "-q"]);
    assert_eq!(explained(&w, &alice, "origin/b"), [ids[4].as_str()]);
    w.git(&bob, &["fetch", "-q"]);
    assert_eq!(explained(&w, &bob, "origin/a"), [ids[3].as_str()]);
}

#[test]
fn disable_writes_the_clones_record_not_the_committed_file() {
    let w = World::new();
    let repo = w.repo("r");
    w.git(&repo, &["add", ".entire"]);
    w.git(&repo, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "entire settings"]);
    let committed = std::fs::read(repo.join(".entire/settings.json")).unwrap();

    let out = stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert!(out.contains(".git/entire-settings.json") && out.contains("--project"), "{out}");
    assert_eq!(w.git(&repo, &["status", "--porcelain"]), "", "the tree stays clean");
    assert_eq!(std::fs::read(repo.join(".entire/settings.json")).unwrap(), committed);
    assert_eq!(w.json(&repo, &["status", "--json"])["enabled"], false);

    stdout(w.entire(&repo).arg("enable").output().unwrap());
    assert!(!repo.join(".entire/settings.local.json").exists(), "no file in the tree");
    assert_eq!(w.git(&repo, &["status", "--porcelain"]), "");
    agent_commit(&w, &repo, "tagged again");

    let out = stdout(w.entire(&repo).args(["disable", "--project"]).output().unwrap());
    assert!(out.contains(".entire/settings.json"), "{out}");
    assert_eq!(w.git(&repo, &["status", "--porcelain"]), "M .entire/settings.json");
}
