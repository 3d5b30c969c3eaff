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

/// Every hook git finds is a process start on every commit: commit-msg is
/// linked only when a commit needs it (docs/hooks.md).
#[test]
fn commit_msg_is_linked_only_when_a_commit_needs_it() {
    let w = World::new();
    let repo = w.repo("r");
    let hook = repo.join(".git/entire-hooks/commit-msg");
    let a = w.agent(&repo, "a");
    a.ok(&format!("{} && git commit -q -m 'with -m'", stage_change("f")));
    let id = checkpoint_of(&w, &repo, "HEAD").expect("-m commit tagged");
    assert!(!hook.exists(), "no editor: nothing for commit-msg to do");

    // Without an editor, a message of nothing but our trailer aborts all the same.
    let only = w.path().join("only-a-trailer.txt");
    std::fs::write(&only, format!("Entire-Checkpoint: {id}\n")).unwrap();
    let (rc, out) = a.exec(&format!("{} && git commit -F {}", stage_change("g"), only.display()));
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("empty commit message"), "{out}");
    assert!(!hook.exists());

    let editor = w.path().join("editor.sh");
    script(&editor, "#!/bin/sh\nsed -i '1s/^/from the editor/' \"$1\"\n");
    a.ok(&format!("GIT_EDITOR={} git commit -q", editor.display()));
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some());
    assert!(hook.exists(), "an editor follows: linked before git runs it");

    // `enable` again unlinks it; the user's own commit-msg hook, added
    // after, has it linked by the next commit, and runs.
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    assert!(!hook.exists());
    script(&repo.join(".git/hooks/commit-msg"), "#!/bin/sh\necho user commit-msg ran\n");
    let out = a.ok(&format!("{} && git commit -q -m 'user hook'", stage_change("h")));
    assert!(out.contains("user commit-msg ran"), "{out}");
    assert!(hook.exists());
    a.stop();
}

#[test]
fn replays_add_no_checkpoint_but_the_agents_merges_and_reverts_do() {
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
    assert_eq!(owner_of(&w, &repo, "HEAD").map(|o| o.0), Some(a.session_id.clone()), "merge commit");

    a.ok("git checkout -q -b picked main~1 && git cherry-pick side >/dev/null");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "cherry-pick");
    a.ok("git revert --no-edit HEAD >/dev/null");
    assert_eq!(owner_of(&w, &repo, "HEAD").map(|o| o.0), Some(a.session_id.clone()), "revert");

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
fn a_squash_merge_commit_gets_its_own_checkpoint() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "a");
    a.ok(
        "git checkout -q -b side && echo s > s && git add s && git commit -q -m side && git checkout -q main",
    );
    a.ok("git merge -q --squash side && git commit -q --no-edit");
    // The squash message quotes the squashed commit, its trailer indented
    // (quoted text, not a trailer), and the commit gets its own checkpoint.
    let body = w.git(&repo, &["log", "-1", "--format=%B"]);
    let side_cp = checkpoint_of(&w, &repo, "side").unwrap();
    assert!(body.contains(&format!("    Entire-Checkpoint: {side_cp}")), "{body}");
    let own = checkpoint_of(&w, &repo, "HEAD").expect("its own trailer");
    assert_ne!(own, side_cp);
    assert_eq!(owner_of(&w, &repo, "HEAD").map(|o| o.0), Some(a.session_id.clone()));
    a.stop();
}

#[test]
fn hooks_path_is_respected() {
    let w = World::new();
    let repo = w.plain_repo("r");
    w.git(&repo, &["config", "core.hooksPath", ".githooks"]);
    std::fs::create_dir_all(repo.join(".githooks")).unwrap();
    let log = w.path().join("hook.log");
    script(&repo.join(".githooks/commit-msg"), &format!("#!/bin/sh\necho \"$0 $*\" >> {}\n", log.display()));
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    let ours = repo.join(".git/entire-hooks");
    // Relative to the worktree's root, as git resolves it: it moves along.
    assert_eq!(w.git(&repo, &["config", "core.hooksPath"]), ".git/entire-hooks");
    assert_eq!(std::fs::read_dir(repo.join(".githooks")).unwrap().count(), 1, "nothing added to .githooks");
    let a = w.agent(&repo, "a");
    a.ok("echo x > x && git add x && git commit -q -m with-hooks-path");
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((a.session_id.clone(), "env".into())));
    a.stop();
    // Run by the path git would have used: $0 is unchanged.
    assert_eq!(std::fs::read_to_string(&log).unwrap(), ".githooks/commit-msg .git/COMMIT_EDITMSG\n");
    stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert_eq!(w.git(&repo, &["config", "core.hooksPath"]), ".githooks");
    assert!(!ours.exists());
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
fn existing_hook_is_kept_in_place_chained_and_left_alone() {
    use std::os::unix::fs::MetadataExt;
    let w = World::new();
    let repo = w.plain_repo("r");
    let hook = repo.join(".git/hooks/commit-msg");
    let marker = w.path().join("user-hook-ran");
    let original = format!(
        "#!/bin/sh\necho \"$0 $*\" >> {}\ngrep -q BLOCK \"$1\" && exit 1\nexit 0\n",
        marker.display()
    );
    script(&hook, &original);
    let inode = std::fs::metadata(&hook).unwrap().ino();

    stdout(w.entire(&repo).arg("enable").output().unwrap());
    stdout(w.entire(&repo).arg("enable").output().unwrap()); // idempotent
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), original, "never rewritten");
    assert_eq!(std::fs::metadata(&hook).unwrap().ino(), inode, "never renamed");

    let a = w.agent(&repo, "a");
    a.ok("echo 1 > f && git add f && git commit -q -m fine");
    // As git runs it without entire: `.git/hooks/commit-msg`, relative.
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), ".git/hooks/commit-msg .git/COMMIT_EDITMSG\n");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some());
    let (rc, _) = a.exec("echo 2 > f && git add f && git commit -q -m BLOCK");
    assert_ne!(rc, 0, "the user's hook still decides");
    a.stop();

    let status = w.json(&repo, &["status", "--json"]);
    assert_eq!(status["hooks"]["commit-msg"], "installed", "{status}");
    assert_eq!(status["hook_problems"], serde_json::json!([]), "{status}");
    stdout(w.entire(&repo).arg("disable").output().unwrap());
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), original);
    assert!(!repo.join(".git/hooks/prepare-commit-msg").exists());
    assert!(w.cmd("git", &repo).args(["config", "core.hooksPath"]).output().unwrap().stdout.is_empty());
    let status = w.json(&repo, &["status", "--json"]);
    assert_eq!(status["enabled"], false);
    assert_eq!(status["hooks"]["commit-msg"], "foreign");
    assert_eq!(status["hooks"]["post-commit"], "missing");
}

#[test]
fn chained_hooks_see_what_git_gives_them() {
    let w = World::new();
    let repo = w.plain_repo("r");
    let remote = w.path().join("remote.git");
    w.git(w.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    w.git(&repo, &["remote", "add", "origin", remote.to_str().unwrap()]);
    let out = w.path().join("seen");
    std::fs::create_dir_all(&out).unwrap();
    // Each hook writes down $0, its arguments, its cwd, stdin, environment.
    let dump = format!(
        "#!/bin/sh\nd={}/$(basename \"$0\").$(cat {}/phase)\n{{ echo \"$0|$*|$(pwd)\"; cat; }} > \"$d\"\nenv | grep -v -e '^_=' -e '^GIT_AUTHOR_DATE=' | sort > \"$d.env\"\n[ -f {}/reject ] && exit 3\nexit 0\n",
        out.display(),
        out.display(),
        out.display()
    );
    for hook in ["pre-commit", "commit-msg", "post-commit", "pre-push", "post-checkout"] {
        script(&repo.join(".git/hooks").join(hook), &dump);
    }
    let run = |phase: &str| {
        std::fs::write(out.join("phase"), phase).unwrap();
        w.git(&repo, &["commit", "-q", "--allow-empty", "-m", "m"]);
        w.git(&repo, &["checkout", "-q", "-b", phase]);
        w.git(&repo, &["push", "-q", "origin", phase]);
    };
    run("before");
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    run("after");
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let before: Vec<&String> =
        names.iter().filter(|n| n.ends_with(".before") || n.ends_with(".before.env")).collect();
    assert_eq!(before.len(), 10, "{names:?}");
    for name in before {
        let after = name.replace(".before", ".after");
        let (b, a) =
            (std::fs::read_to_string(out.join(name)).unwrap(), std::fs::read_to_string(out.join(&after)));
        let a = a.unwrap_or_else(|_| panic!("{after} was not run: {names:?}"));
        // The branch names and commits differ by design; nothing else may.
        let plain = |s: &str, phase| without_shas(&s.replace(phase, "X"));
        assert_eq!(plain(&b, "before"), plain(&a, "after"), "{name}");
    }
    // The chained hook's exit status is git's.
    std::fs::write(out.join("reject"), "").unwrap();
    let commit =
        w.cmd("git", &repo).args(["commit", "-q", "--allow-empty", "-m", "rejected"]).output().unwrap();
    assert!(!commit.status.success());
    let push = w.cmd("git", &repo).args(["push", "-q", "origin", "HEAD:refs/heads/other"]).output().unwrap();
    assert!(!push.status.success(), "pre-push rejects");
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

/// `text` with every 40-hex-digit run (a commit ID) replaced by `SHA`.
fn without_shas(text: &str) -> String {
    let (mut out, mut run) = (String::new(), String::new());
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 40 { "SHA" } else { &run });
        run.clear();
        out.push(c);
    }
    out
}

#[test]
fn a_linked_worktree_chains_the_default_hook_by_the_path_git_gives_it_there() {
    let w = World::new();
    let repo = w.plain_repo("r");
    let log = w.path().join("hook.log");
    script(
        &repo.join(".git/hooks/post-commit"),
        &format!("#!/bin/sh\necho \"$0 $(pwd)\" >> {}\n", log.display()),
    );
    let wt = w.path().join("repos/linked");
    w.git(&repo, &["worktree", "add", "-q", wt.to_str().unwrap()]);
    let wt = wt.canonicalize().unwrap();
    let expected = |dir: &Path| {
        w.git(dir, &["commit", "-q", "--allow-empty", "-m", "m"]);
        std::fs::read_to_string(&log).unwrap()
    };
    let before = expected(&wt);
    std::fs::remove_file(&log).unwrap();
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    assert_eq!(expected(&wt), before, "in the linked worktree: git's absolute path");
    assert_eq!(before, format!("{}/.git/hooks/post-commit {}\n", repo.display(), wt.display()));
}

#[test]
fn hooks_added_later_are_chained_by_doctor() {
    let w = World::new();
    let repo = w.plain_repo("r");
    let hooks = repo.join(".git/hooks");
    script(&hooks.join("commit-msg"), "#!/bin/sh\necho user commit-msg ran\n");
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    let commit = |msg: &str| {
        let out = w.cmd("git", &repo).args(["commit", "-q", "--allow-empty", "-m", msg]).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert!(commit("one").contains("user commit-msg ran"));

    // A hook the user adds afterwards is not run until it is chained.
    script(&hooks.join("pre-commit"), "#!/bin/sh\necho user pre-commit ran\n");
    assert!(!commit("two").contains("user pre-commit ran"));
    let doctor = w.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(report.contains("your git hook pre-commit is not chained"), "{report}");
    stdout(w.entire(&repo).args(["doctor", "--fix"]).output().unwrap());
    assert!(commit("three").contains("user pre-commit ran"));
}

#[test]
fn a_compiled_hook_a_manager_puts_in_entires_directory_is_not_taken_for_entire() {
    let w = World::new();
    let repo = w.repo("r");
    let hook = repo.join(".git/entire-hooks/pre-push");
    std::fs::remove_file(&hook).unwrap();
    let program = std::fs::read("/bin/true").unwrap(); // an executable, not entire
    std::fs::write(&hook, &program).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(w.json(&repo, &["status", "--json"])["hooks"]["pre-push"], "foreign");
    stdout(w.entire(&repo).args(["doctor", "--fix"]).output().unwrap());
    assert_eq!(std::fs::read(repo.join(".git/hooks/pre-push")).unwrap(), program, "moved where it runs");
    assert_eq!(w.json(&repo, &["status", "--json"])["hooks"]["pre-push"], "installed");
}
