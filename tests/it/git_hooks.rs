//! The git hooks (docs/spec.md §6) under real git: which commits get a trailer,
//! where hooks are installed, and what happens to the user's own hooks.

use std::path::Path;

use crate::support::{World, checkpoint_of, owner_of, script, stage_change, stdout};

#[test]
fn message_editor_amend_and_no_verify_commits() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "a");

    a.ok(&format!("{} && git commit -q -m 'with -m'", stage_change("f")));
    let first = checkpoint_of(&w, &repo, "HEAD").expect("-m commit tagged");

    // An editor commit: the trailer sits above git's comment lines and
    // survives cleanup.
    let editor = w.path().join("editor.sh");
    script(&editor, "#!/bin/sh\nsed -i '1s/^/from the editor/' \"$1\"\n");
    a.ok(&format!("{} && GIT_EDITOR={} git commit -q", stage_change("f"), editor.display()));
    let body = w.git(&repo, &["log", "-1", "--format=%B"]);
    assert!(body.starts_with("from the editor"), "{body}");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some(), "editor commit tagged: {body}");

    // Amend keeps the existing trailer rather than adding a second one.
    let before = checkpoint_of(&w, &repo, "HEAD").unwrap();
    a.ok("git commit -q --amend -m \"$(git log -1 --format=%B)\"");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), Some(before.clone()));
    a.ok("git commit -q --amend --no-edit");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), Some(before));

    // --no-verify skips commit-msg but not prepare-commit-msg.
    a.ok(&format!("{} && git commit -q --no-verify -m 'no verify'", stage_change("g")));
    let tagged = checkpoint_of(&w, &repo, "HEAD").expect("--no-verify still tagged");
    assert_ne!(tagged, first);
    assert_eq!(owner_of(&w, &repo, "HEAD").unwrap().0, a.session_id);
    a.stop();
}

#[test]
fn empty_message_still_aborts() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "a");
    let editor = w.path().join("noop-editor.sh");
    script(&editor, "#!/bin/sh\n:\n");
    let (rc, out) = a.exec(&format!("{} && GIT_EDITOR={} git commit", stage_change("f"), editor.display()));
    assert_ne!(rc, 0, "an empty message must abort the commit: {out}");
    assert!(out.contains("empty commit message"), "{out}");
    a.stop();
}

#[test]
fn merges_rebases_cherry_picks_and_reverts_add_no_checkpoint() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "a");
    // Work from outside any session (hooks off), to be replayed inside one.
    let untagged = |msg: &str, file: &str| {
        std::fs::write(repo.join(file), msg).unwrap();
        w.git(&repo, &["add", file]);
        w.git(&repo, &["-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", msg]);
    };
    w.git(&repo, &["checkout", "-q", "-b", "side"]);
    untagged("side work", "s");
    w.git(&repo, &["checkout", "-q", "main"]);

    a.ok("git merge -q --no-ff --no-edit side");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "merge commit");

    a.ok("git checkout -q -b picked main~1 && git cherry-pick side >/dev/null");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "cherry-pick");
    a.ok("git revert --no-edit HEAD >/dev/null");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "revert");

    w.git(&repo, &["checkout", "-q", "-b", "topic", "main~1"]);
    untagged("topic work", "t");
    a.ok("git rebase -q main");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "rebase");

    // A commit the agent makes itself is still tagged afterwards.
    a.ok("echo x > x && git add x && git commit -q -m own");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some());
    a.stop();
}

#[test]
fn squash_merge_commit_is_not_tagged() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "a");
    a.ok(
        "git checkout -q -b side && echo s > s && git add s && git commit -q -m side && git checkout -q main",
    );
    a.ok("git merge -q --squash side && git commit -q --no-edit");
    // The squash message lists the squashed commit (with its trailer) but
    // gets no new checkpoint of its own.
    let body = w.git(&repo, &["log", "-1", "--format=%B"]);
    let side_cp = checkpoint_of(&w, &repo, "side").unwrap();
    assert_eq!(body.matches("Entire-Checkpoint").count(), 1, "{body}");
    assert!(body.contains(&side_cp));
    a.stop();
}

#[test]
fn hooks_path_is_respected() {
    let w = World::new();
    let repo = w.plain_repo("r");
    w.git(&repo, &["config", "core.hooksPath", ".githooks"]);
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    assert!(repo.join(".githooks/prepare-commit-msg").exists());
    assert!(!repo.join(".git/hooks/prepare-commit-msg").exists());
    let a = w.agent(&repo, "a");
    a.ok("echo x > x && git add x && git commit -q -m with-hooks-path");
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((a.session_id.clone(), "env".into())));
    a.stop();
}

#[test]
fn linked_worktree_shares_the_store() {
    let w = World::new();
    let repo = w.repo("r");
    let wt = w.path().join("repos/linked");
    w.git(&repo, &["worktree", "add", "-q", wt.to_str().unwrap()]);
    let a = w.agent(&wt, "in-worktree");
    a.ok("echo x > x && git add x && git commit -q -m in-linked-worktree");
    assert_eq!(owner_of(&w, &wt, "HEAD"), Some((a.session_id.clone(), "env".into())));
    let sessions = w.json(&repo, &["sessions", "--json"]);
    assert_eq!(sessions[0]["worktree_path"], wt.canonicalize().unwrap().to_str().unwrap());
    a.stop();
}

#[test]
fn existing_hook_is_kept_chained_and_restored() {
    let w = World::new();
    let repo = w.plain_repo("r");
    let hook = repo.join(".git/hooks/commit-msg");
    let marker = w.path().join("user-hook-ran");
    let original =
        format!("#!/bin/sh\necho ran >> {}\ngrep -q BLOCK \"$1\" && exit 1\nexit 0\n", marker.display());
    script(&hook, &original);

    stdout(w.entire(&repo).arg("enable").output().unwrap());
    stdout(w.entire(&repo).arg("enable").output().unwrap()); // idempotent
    assert!(repo.join(".git/hooks/commit-msg.pre-entire").exists());

    let a = w.agent(&repo, "a");
    a.ok("echo 1 > f && git add f && git commit -q -m fine");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some());
    let (rc, _) = a.exec("echo 2 > f && git add f && git commit -q -m BLOCK");
    assert_ne!(rc, 0, "the user's hook still decides");
    a.stop();

    stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), original);
    assert!(!repo.join(".git/hooks/prepare-commit-msg").exists());
    let status = w.json(&repo, &["status", "--json"]);
    assert_eq!(status["enabled"], false);
    assert_eq!(status["hooks"]["commit-msg"], "foreign");
    assert_eq!(status["hooks"]["post-commit"], "missing");
}

#[test]
fn disabled_repo_gets_no_trailer() {
    let w = World::new();
    let repo = w.repo("r");
    stdout(w.entire(&repo).arg("disable").output().unwrap());
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    std::fs::write(repo.join(".entire/settings.local.json"), r#"{"enabled": false}"#).unwrap();
    let a = w.agent(&repo, "a");
    a.ok("echo 1 > f && git add f && git commit -q -m off");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None);
    a.stop();
}

#[test]
fn enable_outside_a_repository_fails_with_a_hint() {
    let w = World::new();
    let out = w.entire(Path::new(w.path())).arg("enable").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("entire: error: not a git repository") && stderr.contains("hint:"), "{stderr}");
}

#[test]
fn amend_in_the_editor_with_a_custom_comment_char_keeps_one_trailer() {
    let w = World::new();
    let repo = w.repo("r");
    w.git(&repo, &["config", "core.commentChar", ";"]);
    let a = w.agent(&repo, "a");
    let editor = w.path().join("editor.sh");
    script(&editor, "#!/bin/sh\nsed -i '1s/^/subject/' \"$1\"\n");
    a.ok(&format!("echo 1 > f && git add f && GIT_EDITOR={} git commit -q", editor.display()));
    let first = checkpoint_of(&w, &repo, "HEAD").expect("tagged");
    a.ok("GIT_EDITOR=true git commit -q --amend");
    let body = w.git(&repo, &["log", "-1", "--format=%B"]);
    assert_eq!(body.matches("Entire-Checkpoint").count(), 1, "{body}");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), Some(first));
    a.stop();
}
