//! entire next to the hook managers people use, each the real package from
//! its registry, installed by `scripts/install-hook-managers` into
//! `target/hook-managers/` (scripts/test calls it): husky v9, lefthook and
//! simple-git-hooks (npm), pre-commit (PyPI, with a `repo: local` hook).
//! For each: the manager's hook rejects what it rejected and passes what it
//! passed, before, during and after entire; an agent's commit is tagged;
//! re-running the manager's own install after `entire enable` is seen by
//! `status` and `doctor`, and `doctor --fix` repairs it; `disable` leaves
//! the manager's files byte for byte as they were. Plain `cargo test`
//! ignores these tests; `scripts/test` installs the managers and runs them.
//! Run without the managers, they fail saying what is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{World, agent_commit, checkpoint_of, stdout};

/// Where the managers are; the test fails, saying how to install them,
/// when they are not there.
fn tools() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("hook-managers");
    let needed = [
        "npm/node_modules/.bin/husky",
        "npm/node_modules/.bin/lefthook",
        "npm/node_modules/.bin/simple-git-hooks",
        "venv/bin/pre-commit",
    ];
    let missing: Vec<&str> = needed.iter().copied().filter(|p| !dir.join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "hook managers not installed in {} (missing {missing:?}): scripts/test installs them \
         (or scripts/install-hook-managers)",
        dir.display()
    );
    dir
}

/// A command in the world's environment with the managers on PATH.
fn tool(w: &World, tools: &Path, repo: &Path, argv: &[&str]) -> Command {
    let bins = [tools.join("npm/node_modules/.bin"), tools.join("venv/bin")];
    // By absolute path: the managers are not on the test process's PATH.
    let program = bins.iter().map(|b| b.join(argv[0])).find(|p| p.exists()).expect("a manager's program");
    let mut cmd = w.cmd(program, repo);
    let path =
        format!("{}:{}:{}", bins[0].display(), bins[1].display(), std::env::var("PATH").unwrap_or_default());
    cmd.args(&argv[1..]).env("PATH", path);
    cmd
}

fn run_ok(w: &World, tools: &Path, repo: &Path, argv: &[&str]) -> String {
    let out = tool(w, tools, repo, argv).output().unwrap();
    assert!(
        out.status.success(),
        "{argv:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `paths` (relative to `repo`): bytes and mode.
fn snapshot(repo: &Path, paths: &[&str]) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        match std::fs::read_dir(dir) {
            Ok(entries) => entries.flatten().for_each(|e| walk(&e.path(), out)),
            Err(_) if dir.exists() => out.push(dir.to_path_buf()),
            Err(_) => {}
        }
    }
    let mut files = Vec::new();
    paths.iter().for_each(|p| walk(&repo.join(p), &mut files));
    files
        .into_iter()
        .map(|f| {
            let mode = std::fs::symlink_metadata(&f).unwrap().permissions().mode();
            (f.strip_prefix(repo).unwrap().to_path_buf(), (std::fs::read(&f).unwrap_or_default(), mode))
        })
        .collect()
}

fn hooks_path(w: &World, repo: &Path) -> Option<String> {
    let out = w.cmd("git", repo).args(["config", "core.hooksPath"]).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The manager's commit-msg hook: rejects a message starting with "bad".
fn assert_manager_decides(w: &World, repo: &Path, when: &str) {
    let bad =
        w.cmd("git", repo).args(["commit", "--allow-empty", "-q", "-m", "bad message"]).output().unwrap();
    assert!(
        !bad.status.success(),
        "{when}: the manager's hook must reject: {}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let good =
        w.cmd("git", repo).args(["commit", "--allow-empty", "-q", "-m", "good message"]).output().unwrap();
    assert!(
        good.status.success(),
        "{when}: the manager's hook must pass: {}",
        String::from_utf8_lossy(&good.stderr)
    );
}

/// An agent's commit, under `entire run`: tagged, and still checked by the
/// manager's hook.
fn assert_agent_tagged(w: &World, repo: &Path, when: &str) {
    let out = w
        .entire(repo)
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "echo x >> agent-file && git add agent-file && git commit -q -m 'agent work'",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{when}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(checkpoint_of(w, repo, "HEAD").is_some(), "{when}: the agent's commit is tagged");
    let out = w
        .entire(repo)
        .args(["run", "--", "git", "commit", "--allow-empty", "-q", "-m", "bad by agent"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{when}: the manager's hook rejects the agent's bad message too");
}

/// Whether `status` and `doctor` both see a problem with the hooks, and
/// `doctor --fix` repairs it.
fn assert_detected_and_repaired(w: &World, repo: &Path, what: &str, names: &str) {
    let status = w.json(repo, &["status", "--json"]);
    let problems = status["hook_problems"].as_array().unwrap();
    assert!(!problems.is_empty(), "{what}: status sees it: {status:#}");
    let text = stdout(w.entire(repo).arg("status").output().unwrap());
    assert!(text.contains("hint: run `entire doctor --fix`"), "{what}: {text}");
    let doctor = w.entire(repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{what}: doctor sees it: {report}");
    assert!(report.contains(names), "{what}: doctor names the manager ({names}): {report}");
    let fixed = w.entire(repo).args(["doctor", "--fix"]).output().unwrap();
    let report = String::from_utf8_lossy(&fixed.stdout);
    assert_eq!(fixed.status.code(), Some(0), "{what}: doctor --fix repairs it: {report}");
    let status = w.json(repo, &["status", "--json"]);
    assert_eq!(status["hook_problems"], serde_json::json!([]), "{what}: {status:#}");
    for hook in ["prepare-commit-msg", "commit-msg", "post-commit", "pre-push"] {
        assert_eq!(status["hooks"][hook], "installed", "{what}: {status:#}");
    }
}

/// The common part: install with the manager, check, enable, check, run
/// `reinstall` (the manager's own install again), repair, disable, compare.
fn check_manager(w: &World, repo: &Path, files: &[&str], names: &str, reinstall: &dyn Fn()) {
    assert_manager_decides(w, repo, "before entire");
    let before = snapshot(repo, files);
    let path_before = hooks_path(w, repo);

    stdout(w.entire(repo).arg("enable").output().unwrap());
    assert_manager_decides(w, repo, "after enable");
    assert_agent_tagged(w, repo, "after enable");
    assert_eq!(w.json(repo, &["status", "--json"])["hook_problems"], serde_json::json!([]));

    reinstall();
    assert_detected_and_repaired(w, repo, "after the manager's install", names);
    assert_manager_decides(w, repo, "after repair");
    assert_agent_tagged(w, repo, "after repair");

    let out = stdout(w.entire(repo).arg("disable").output().unwrap());
    assert!(out.contains(".git/entire-settings.json"), "{out}");
    assert_eq!(hooks_path(w, repo), path_before, "core.hooksPath as it was");
    let after = snapshot(repo, files);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "the manager's files");
    for (file, content) in &before {
        assert!(after[file] == *content, "{} changed", file.display());
    }
    assert_manager_decides(w, repo, "after disable");
}

/// The user's own husky commit-msg hook: rejects a message starting "bad".
fn husky_rejects_bad_messages(repo: &Path) {
    std::fs::write(
        repo.join(".husky/commit-msg"),
        "if grep -q '^bad' \"$1\"; then echo 'husky: rejected'; exit 1; fi\n",
    )
    .unwrap();
}

#[test]
#[ignore = "needs the hook managers (npm and PyPI): run scripts/test"]
fn husky_v9() {
    let tools = tools();
    let w = World::new();
    let repo = w.plain_repo("husky");
    run_ok(&w, &tools, &repo, &["husky"]);
    assert_eq!(hooks_path(&w, &repo).as_deref(), Some(".husky/_"));
    husky_rejects_bad_messages(&repo);
    let reinstall = || {
        // `npx husky` (the package's `prepare` script) points core.hooksPath back at .husky/_.
        run_ok(&w, &tools, &repo, &["husky"]);
        assert_eq!(hooks_path(&w, &repo).as_deref(), Some(".husky/_"));
    };
    check_manager(&w, &repo, &[".husky", ".git/hooks"], "husky's install", &reinstall);
}

#[test]
#[ignore = "needs the hook managers (npm and PyPI): run scripts/test"]
fn lefthook() {
    let tools = tools();
    let w = World::new();
    let repo = w.plain_repo("lefthook");
    std::fs::write(
        repo.join("lefthook.yml"),
        "commit-msg:\n  commands:\n    no-bad:\n      run: \"! grep -q '^bad' {1}\"\n",
    )
    .unwrap();
    run_ok(&w, &tools, &repo, &["lefthook", "install"]);
    let reinstall = || {
        // Plain `lefthook install` refuses while core.hooksPath is set, and
        // changes nothing; `--force` installs into entire's directory.
        let out = tool(&w, &tools, &repo, &["lefthook", "install"]).output().unwrap();
        assert!(!out.status.success(), "lefthook install refuses with core.hooksPath set");
        assert_eq!(w.json(&repo, &["status", "--json"])["hook_problems"], serde_json::json!([]));
        run_ok(&w, &tools, &repo, &["lefthook", "install", "--force"]);
    };
    check_manager(&w, &repo, &["lefthook.yml", ".git/hooks"], "`lefthook install --force`", &reinstall);
}

#[test]
#[ignore = "needs the hook managers (npm and PyPI): run scripts/test"]
fn pre_commit_with_a_local_hook() {
    let tools = tools();
    let w = World::new();
    let repo = w.plain_repo("pre-commit");
    std::fs::write(
        repo.join(".pre-commit-config.yaml"),
        "default_install_hook_types: [pre-commit, commit-msg]\n\
         repos:\n\
         - repo: local\n\
         \x20 hooks:\n\
         \x20 - id: no-bad\n\
         \x20   name: no message starting with bad\n\
         \x20   entry: sh -c 'if grep -q \"^bad\" \"$1\"; then exit 1; fi' --\n\
         \x20   language: system\n\
         \x20   stages: [commit-msg]\n",
    )
    .unwrap();
    run_ok(&w, &tools, &repo, &["pre-commit", "install"]);
    let reinstall = || {
        // pre-commit refuses while core.hooksPath is set; its hint says to
        // unset it, after which its install works, and entire's hooks are off.
        let out = tool(&w, &tools, &repo, &["pre-commit", "install"]).output().unwrap();
        assert!(!out.status.success(), "pre-commit install refuses with core.hooksPath set");
        w.git(&repo, &["config", "--unset-all", "core.hooksPath"]);
        run_ok(&w, &tools, &repo, &["pre-commit", "install"]);
    };
    check_manager(&w, &repo, &[".pre-commit-config.yaml", ".git/hooks"], "pre-commit's hint", &reinstall);
}

#[test]
#[ignore = "needs the hook managers (npm and PyPI): run scripts/test"]
fn simple_git_hooks() {
    let tools = tools();
    let w = World::new();
    let repo = w.plain_repo("sgh");
    std::fs::write(
        repo.join("package.json"),
        r#"{"name": "x", "simple-git-hooks": {"commit-msg": "if grep -q '^bad' \"$1\"; then exit 1; fi"}}"#,
    )
    .unwrap();
    run_ok(&w, &tools, &repo, &["simple-git-hooks"]);
    let installed = std::fs::read(crate::support::entire_bin()).unwrap();
    let reinstall = || {
        // simple-git-hooks writes into core.hooksPath (entire's directory)
        // and deletes the hooks it does not configure there.
        run_ok(&w, &tools, &repo, &["simple-git-hooks"]);
        assert_eq!(
            std::fs::read(crate::support::entire_bin()).unwrap(),
            installed,
            "the installed entire binary is untouched"
        );
    };
    check_manager(&w, &repo, &["package.json", ".git/hooks"], "simple-git-hooks", &reinstall);
}

#[test]
#[ignore = "needs the hook managers (npm and PyPI): run scripts/test"]
fn husky_reinstalled_by_npm_install_is_caught_by_the_next_entire_run() {
    let tools = tools();
    let w = World::new();
    let repo = w.plain_repo("husky-npm");
    std::fs::write(
        repo.join("package.json"),
        r#"{"name": "x", "private": true, "scripts": {"prepare": "husky"}}"#,
    )
    .unwrap();
    let npm_install =
        || run_ok(&w, &tools, &repo, &["npm", "install", "--offline", "--no-audit", "--no-fund"]);
    let npm = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("hook-managers/npm/node_modules/.bin/npm");
    if !npm.exists() {
        // npm itself comes with node, not with the managers.
        std::os::unix::fs::symlink(which::which("npm").expect("npm (node 20) is installed"), &npm).unwrap();
    }
    npm_install();
    assert_eq!(hooks_path(&w, &repo).as_deref(), Some(".husky/_"), "npm install ran husky");
    husky_rejects_bad_messages(&repo);
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    let (ok, said) = agent_commit(&w, &repo, "agent work");
    assert!(ok && !said.contains("entire:"), "{said}");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some());

    npm_install();
    let (ok, said) = agent_commit(&w, &repo, "agent work, untagged");
    assert!(ok, "{said}");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_none(), "entire's hooks did not run");
    let lines: Vec<&str> = said.lines().filter(|l| l.starts_with("entire:")).collect();
    assert_eq!(lines.len(), 2, "one line before the agent, one at its end: {said}");
    assert!(
        lines[0].contains("husky's install") && lines[0].contains("fix: `entire doctor --fix`"),
        "{said}"
    );
    assert!(lines[1].contains("1 commit(s) made in") && lines[1].contains("have no checkpoint"), "{said}");
    assert!(!agent_commit(&w, &repo, "bad by agent").0, "husky's hook still rejects");

    // With "hooks": {"repair": true}, the next `entire run` repairs instead.
    std::fs::write(repo.join(".entire/settings.local.json"), r#"{"hooks": {"repair": true}}"#).unwrap();
    let (ok, said) = agent_commit(&w, &repo, "agent work, repaired");
    assert!(ok, "{said}");
    assert!(said.contains("entire: repaired entire's git hooks before starting the agent"), "{said}");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some(), "tagged again: {said}");
    assert!(!agent_commit(&w, &repo, "bad by agent").0, "husky's hook still rejects");
}

#[test]
#[ignore = "needs the hook managers (npm and PyPI): run scripts/test"]
fn lefthooks_custom_hooks_path_state_is_reported_with_the_sequence_that_restores_both() {
    let tools = tools();
    let w = World::new();
    let repo = w.plain_repo("lefthook-stale");
    let config = "commit-msg:\n  commands:\n    no-bad:\n      run: \"! grep -q '^bad' {1}\"\n";
    std::fs::write(repo.join("lefthook.yml"), config).unwrap();
    run_ok(&w, &tools, &repo, &["lefthook", "install"]);
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    let marker = w.path().join("lefthook-pre-commit-ran");
    let changed =
        format!("{config}pre-commit:\n  commands:\n    mark:\n      run: touch {}\n", marker.display());
    std::fs::write(repo.join("lefthook.yml"), changed).unwrap();
    // lefthook compares whole seconds: make the change visibly newer.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(repo.join("lefthook.yml"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let out = w.cmd("git", &repo).args(["commit", "--allow-empty", "-q", "-m", "one"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("Custom hooks paths are not supported"), "lefthook's box: {said}");
    assert!(!marker.exists(), "its new pre-commit hook does not run");

    let doctor = w.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{report}");
    assert!(report.contains("custom hooks paths are not supported"), "{report}");
    assert!(
        report.contains("restore both with: `lefthook install --force`, then `entire doctor --fix`"),
        "{report}"
    );
    let (_, said) = agent_commit(&w, &repo, "agent work");
    assert!(
        said.contains("fix: `lefthook install --force`, then `entire doctor --fix`"),
        "entire run says it: {said}"
    );

    run_ok(&w, &tools, &repo, &["lefthook", "install", "--force"]);
    stdout(w.entire(&repo).args(["doctor", "--fix"]).output().unwrap());
    let doctor = w.entire(&repo).arg("doctor").output().unwrap();
    assert_eq!(doctor.status.code(), Some(0), "{}", String::from_utf8_lossy(&doctor.stdout));
    std::fs::write(repo.join("staged"), "x").unwrap();
    w.git(&repo, &["add", "staged"]);
    let out = w.cmd("git", &repo).args(["commit", "-q", "-m", "two"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("Custom hooks paths"), "{said}");
    assert!(marker.exists(), "lefthook's new hook runs: {said}");
    // The user's lefthook hook still rejects a commit it refuses.
    let refused = || {
        !w.cmd("git", &repo)
            .args(["commit", "--allow-empty", "-q", "-m", "bad"])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(refused());
    let (ok, said) = agent_commit(&w, &repo, "agent work");
    assert!(ok, "{said}");
    assert!(checkpoint_of(&w, &repo, "HEAD").is_some(), "{said}");

    // lefthook's other way out: it unsets core.hooksPath and installs.
    run_ok(&w, &tools, &repo, &["lefthook", "install", "--reset-hooks-path"]);
    let (ok, said) = agent_commit(&w, &repo, "agent work, untagged");
    assert!(ok, "{said}");
    assert!(
        said.contains("core.hooksPath is unset") && said.contains("lefthook install --reset-hooks-path"),
        "{said}"
    );
    assert!(said.contains("have no checkpoint"), "{said}");
    stdout(w.entire(&repo).args(["doctor", "--fix"]).output().unwrap());
    let (ok, said) = agent_commit(&w, &repo, "agent work, tagged");
    assert!(ok && checkpoint_of(&w, &repo, "HEAD").is_some(), "{said}");
    assert!(refused());
}

#[test]
#[ignore = "needs shellcheck: run scripts/test"]
fn the_install_script_and_the_chain_scripts_pass_shellcheck() {
    let w = World::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    stdout(w.cmd("shellcheck", root).arg("scripts/install-hook-managers").output().expect("run shellcheck"));
    let repo = w.plain_repo("r");
    crate::support::script(&repo.join(".git/hooks/pre-commit"), "#!/bin/sh\nexit 0\n");
    stdout(w.entire(&repo).arg("enable").output().unwrap());
    let chain = repo.join(".git/entire-hooks/pre-commit");
    stdout(w.cmd("shellcheck", &repo).arg(&chain).output().expect("run shellcheck"));
}
