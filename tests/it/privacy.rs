//! Privacy: what a session leaves on the checkpoints branch is redacted,
//! and the branch reaches a remote only with consent — whatever git itself
//! is asked to push.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{World, checkpoint_of, entire_bin, stdout};

/// Secrets are built at run time, so that no scanner mistakes this file
/// for a leak.
fn repeat(unit: &str, len: usize) -> String {
    unit.chars().cycle().take(len).collect()
}

/// (the rule that must name it, a secret) for each kind the redaction
/// covers.
fn secrets() -> Vec<(&'static str, String)> {
    let body = repeat("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", 70);
    vec![
        ("aws-access-token", format!("AKIA{}", "Q3XZ7W2RT5YUP6LN")),
        ("aws-secret-access-key", repeat("wJalrXUtnFEMIK7MDENGbPxRfiCY9z/+", 40)),
        (
            "private-key",
            format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n{body}\n-----END OPENSSH PRIVATE KEY-----"),
        ),
        ("azure-storage-key", repeat("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA+/", 88)),
        ("github-pat", format!("ghp_{}", repeat("a1B2c3D4e5F6", 36))),
        ("github-oauth", format!("gho_{}", repeat("Z9y8X7w6V5u4", 36))),
        ("github-app-token", format!("ghs_{}", repeat("k3L4m5N6o7P8", 36))),
        ("github-fine-grained-pat", format!("github_pat_{}", repeat("11ABCDEFG0abcdefghij_", 82))),
        ("gitlab-pat", format!("glpat-{}", repeat("x7Yz9-Ab3Cd", 20))),
        ("openai-api-key", format!("sk-proj-{}", repeat("Ab1Cd2Ef3Gh4", 48))),
        ("anthropic-api-key", format!("sk-ant-api03-{}", repeat("Qw3rTy_uI0p-As", 95))),
        ("gcp-api-key", format!("AIza{}", repeat("SyD3kq9_x-Lm2Np7Rt", 35))),
        ("slack-token", format!("xoxb-1234567890123-1234567890123-{}", repeat("aB3dE5", 24))),
        ("stripe-access-token", format!("sk_live_{}", repeat("4eC39HqLyjWDarjtT1zdp7dc", 24))),
        ("npm-access-token", format!("npm_{}", repeat("a8b7c6d5e4f3g2h1", 36))),
        ("pypi-upload-token", format!("pypi-AgEIcHlwaS5vcmc{}", repeat("CJGM2ZjU0-YTc4_", 60))),
        (
            "jwt",
            format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
                repeat("zdWIiOiIxMjM0NTY3ODkw", 30),
                repeat("SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", 43)
            ),
        ),
        ("url-password", "pg-Pa55w0rd-x9".to_owned()),
        ("generic-secret", repeat("Hx8#kq2!Lm9@Zp4$", 24)),
    ]
}

/// A transcript in which a tool printed every secret in its own setting:
/// a `.env`, a service-account JSON, a connection URL…
fn transcript_lines() -> String {
    let s: std::collections::HashMap<&str, String> = secrets().into_iter().collect();
    let env = format!(
        "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\nAZURE=DefaultEndpointsProtocol=https;AccountName=a;AccountKey={};\n\
         GH={}\nGHO={}\nGHS={}\nPAT={}\nGITLAB={}\nOPENAI={}\nGOOGLE={}\nSLACK={}\nSTRIPE={}\n\
         //registry.npmjs.org/:_authToken={}\nPYPI={}\nSESSION={}\nDATABASE_URL=postgres://app:{}@db:5432/app\n\
         client_secret={}\n",
        s["aws-access-token"],
        s["aws-secret-access-key"],
        s["azure-storage-key"],
        s["github-pat"],
        s["github-oauth"],
        s["github-app-token"],
        s["github-fine-grained-pat"],
        s["gitlab-pat"],
        s["openai-api-key"],
        s["gcp-api-key"],
        s["slack-token"],
        s["stripe-access-token"],
        s["npm-access-token"],
        s["pypi-upload-token"],
        s["jwt"],
        s["url-password"],
        s["generic-secret"],
    );
    let service_account = serde_json::json!({
        "type": "service_account", "private_key_id": "3f786850e387550fdab836ed7e6dc881de23001b",
        "private_key": s["private-key"], "client_email": "x@p.iam.gserviceaccount.com",
    })
    .to_string();
    [
        serde_json::json!({"type": "user", "message": {"content": format!("use {}", s["anthropic-api-key"])}}),
        serde_json::json!({"type": "user", "toolUseResult": {"stdout": env}}),
        serde_json::json!({"type": "user", "toolUseResult": {"stdout": service_account}}),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect()
}

fn bare_remote(w: &World, name: &str) -> PathBuf {
    let remote = w.path().join(name);
    w.git(w.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
    remote
}

fn with_origin(w: &World, name: &str, remote: &Path) -> PathBuf {
    let dir = w.plain_repo(name);
    w.git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    w.git(&dir, &["push", "-q", "-u", "origin", "main"]);
    dir
}

/// An agent session that commits once; `argv` after the agent's script.
fn agent_commit(w: &World, repo: &Path, message: &str, argv: &[&str]) -> String {
    let script = format!("echo '{message}' >> work && git add work && git commit -q -m '{message}'");
    let mut cmd = w.entire(repo);
    cmd.args(["run", "--", "sh", "-c", &script, "agent"]).args(argv);
    stdout(cmd.output().unwrap());
    checkpoint_of(w, repo, "HEAD").expect("the agent's commit is tagged")
}

fn on_remote(w: &World, remote: &Path) -> Option<String> {
    let out = w
        .cmd("git", remote)
        .args(["rev-parse", "--verify", "--quiet", "refs/heads/entire/checkpoints/v1"])
        .output()
        .unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Every byte of every object the remote's branch reaches.
fn remote_bytes(w: &World, remote: &Path) -> Vec<u8> {
    let objects =
        w.git(remote, &["rev-list", "--objects", "--no-object-names", "refs/heads/entire/checkpoints/v1"]);
    let mut cmd = w.cmd("git", remote);
    cmd.args(["cat-file", "--batch"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{objects}\n").as_bytes()).unwrap();
    drop(child.stdin.take());
    child.wait_with_output().unwrap().stdout
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn git_push(w: &World, dir: &Path, args: &[&str]) -> Output {
    let out = w.cmd("git", dir).arg("push").args(args).output().unwrap();
    assert!(out.status.success(), "git push {args:?}: {}", stderr(&out));
    out
}

#[test]
fn a_session_full_of_secrets_reaches_the_remote_with_none_of_them() {
    let w = World::new();
    let remote = bare_remote(&w, "remote.git");
    let dir = with_origin(&w, "r", &remote);
    stdout(w.entire(&dir).args(["enable", "--push"]).output().unwrap());
    let s: std::collections::HashMap<&str, String> = secrets().into_iter().collect();
    // Where Claude Code keeps transcripts: the only place one is copied from.
    let transcript = w.path().join("home/.claude/projects/r/session.jsonl");
    std::fs::create_dir_all(transcript.parent().unwrap()).unwrap();
    std::fs::write(&transcript, transcript_lines()).unwrap();
    let payload = serde_json::json!({
        "session_id": "agent-1", "transcript_path": transcript,
        "prompt": format!("deploy with {} and {}", s["gitlab-pat"], s["stripe-access-token"]),
    });
    std::fs::write(w.path().join("payload.json"), payload.to_string()).unwrap();
    let script = format!(
        "{} hooks claude-code user-prompt-submit < {} && echo x >> work && git add work && git commit -q -m work",
        entire_bin().display(),
        w.path().join("payload.json").display()
    );
    let mut run = w.entire(&dir);
    run.args(["run", "--", "sh", "-c", &script, "aider", "--openai-api-key", &s["openai-api-key"]])
        .arg(format!("--token={}", s["github-pat"]))
        .arg(format!("postgres://app:{}@db/app", s["url-password"]));
    stdout(run.output().unwrap());
    assert!(checkpoint_of(&w, &dir, "HEAD").is_some());

    let out = git_push(&w, &dir, &["origin", "main"]);
    let lines: Vec<String> =
        stderr(&out).lines().filter(|l| l.starts_with("entire:")).map(str::to_owned).collect();
    assert_eq!(lines, ["entire: pushed checkpoints (entire/checkpoints/v1) to origin"]);
    let bytes = remote_bytes(&w, &remote);
    assert!(contains(&bytes, "full.jsonl") && contains(&bytes, "prompt.txt"), "the branch holds the copies");
    for (rule, secret) in secrets() {
        let escaped = serde_json::to_string(&secret).unwrap();
        let longest_line = secret.lines().max_by_key(|l| l.len()).unwrap();
        for form in [secret.as_str(), &escaped[1..escaped.len() - 1], longest_line] {
            assert!(!contains(&bytes, form), "{rule}: the secret is on the remote");
        }
        assert!(contains(&bytes, &format!("[REDACTED:{rule}]")), "{rule}: no marker on the remote");
    }
    assert!(contains(&bytes, "[REDACTED:cli-secret-argument]"), "the argv's flag value");
    assert!(contains(&bytes, "3f786850e387550fdab836ed7e6dc881de23001b"), "a SHA-shaped ID stays");
}

#[test]
fn plain_enable_keeps_checkpoints_home_and_push_consent_sends_them() {
    let w = World::new();
    let remote = bare_remote(&w, "remote.git");
    let dir = with_origin(&w, "r", &remote);
    let out = stdout(w.entire(&dir).arg("enable").output().unwrap());
    assert!(
        out.contains("checkpoints stay in this clone; `entire enable --push` sends them to origin"),
        "{out}"
    );
    agent_commit(&w, &dir, "one", &[]);
    let pushed = git_push(&w, &dir, &["origin", "main"]);
    assert!(!stderr(&pushed).contains("entire:"), "{}", stderr(&pushed));
    git_push(&w, &dir, &["--all", "origin"]);
    assert_eq!(on_remote(&w, &remote), None, "no consent, nothing on the remote");

    let out = stdout(w.entire(&dir).args(["enable", "--push"]).output().unwrap());
    assert!(out.contains("checkpoints go to origin when you push"), "{out}");
    agent_commit(&w, &dir, "two", &[]);
    git_push(&w, &dir, &["origin", "main"]);
    assert_eq!(on_remote(&w, &remote), Some(w.git(&dir, &["rev-parse", "refs/entire/checkpoints/v1"])));

    // `--no-push` takes it back for this clone only: its settings in the git dir.
    let status = w.git(&dir, &["status", "--porcelain", "--untracked-files=all"]);
    stdout(w.entire(&dir).args(["enable", "--no-push"]).output().unwrap());
    assert_eq!(
        w.git(&dir, &["status", "--porcelain", "--untracked-files=all"]),
        status,
        "no file of the worktree changes"
    );
    let local = std::fs::read_to_string(dir.join(".git/entire-settings.json")).unwrap();
    assert!(local.contains("\"push\": false"), "{local}");
    agent_commit(&w, &dir, "three", &[]);
    let before = on_remote(&w, &remote);
    git_push(&w, &dir, &["origin", "main"]);
    assert_eq!(on_remote(&w, &remote), before);
}

/// A bare remote, and two clones of it (alice's first) that both consented.
fn two_clones(w: &World) -> (PathBuf, PathBuf, PathBuf) {
    let remote = bare_remote(w, "remote.git");
    let alice = with_origin(w, "alice", &remote);
    stdout(w.entire(&alice).args(["enable", "--push"]).output().unwrap());
    let bob = w.path().join("repos/bob");
    w.git(w.path(), &["clone", "-q", remote.to_str().unwrap(), bob.to_str().unwrap()]);
    stdout(w.entire(&bob).args(["enable", "--push"]).output().unwrap());
    (remote, alice, bob)
}

fn assert_all_on_remote(w: &World, remote: &Path, ids: &[String]) {
    let tree = w.git(remote, &["ls-tree", "-r", "--name-only", "refs/heads/entire/checkpoints/v1"]);
    for id in ids {
        assert!(tree.contains(&format!("{}/{}/metadata.json", &id[..2], &id[2..])), "{id}: {tree}");
    }
}

#[test]
fn git_push_all_and_matching_exit_0_after_a_teammate_pushed_checkpoints() {
    let w = World::new();
    let (remote, alice, bob) = two_clones(&w);
    let first = agent_commit(&w, &bob, "bob", &[]);
    git_push(&w, &bob, &["origin", "main"]);
    w.git(&alice, &["pull", "-q", "--ff-only"]);
    let second = agent_commit(&w, &alice, "alice", &[]);
    git_push(&w, &alice, &["origin", "main"]);

    // Bob's copy of the branch is now behind: git would have rejected it.
    w.git(&bob, &["pull", "-q", "--ff-only"]);
    let third = agent_commit(&w, &bob, "bob again", &[]);
    git_push(&w, &bob, &["--all", "origin"]);
    let out = w.cmd("git", &bob).args(["-c", "push.default=matching", "push", "origin"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_all_on_remote(&w, &remote, &[first, second, third]);
}

#[test]
fn concurrent_pushes_from_two_clones_lose_nothing_and_print_no_git_errors() {
    let w = World::new();
    let (remote, alice, bob) = two_clones(&w);
    w.git(&alice, &["checkout", "-q", "-b", "a"]);
    w.git(&bob, &["checkout", "-q", "-b", "b"]);
    let mut ids = Vec::new();
    for round in 0..3 {
        ids.push(agent_commit(&w, &alice, &format!("alice {round}"), &[]));
        ids.push(agent_commit(&w, &bob, &format!("bob {round}"), &[]));
        let pushes: Vec<_> = [(&alice, "a"), (&bob, "b")]
            .map(|(dir, branch)| {
                w.cmd("git", dir)
                    .args(["push", "-q", "origin", branch])
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .into_iter()
            .collect();
        for push in pushes {
            let out = push.wait_with_output().unwrap();
            assert!(out.status.success());
            let said = stderr(&out);
            assert!(!said.contains("error:") && !said.contains("refused"), "{said}");
        }
    }
    assert_all_on_remote(&w, &remote, &ids);
}

#[test]
fn a_remote_that_refuses_the_branch_is_reported_once() {
    let w = World::new();
    let remote = bare_remote(&w, "remote.git");
    let hook = remote.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nwhile read -r old new ref; do\n  case $ref in refs/heads/entire/*) echo 'no transcripts here' >&2; exit 1;; esac\ndone\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dir = with_origin(&w, "r", &remote);
    stdout(w.entire(&dir).args(["enable", "--push"]).output().unwrap());
    agent_commit(&w, &dir, "one", &[]);
    let first = stderr(&git_push(&w, &dir, &["origin", "main"]));
    let said: Vec<&str> = first.lines().filter(|l| l.starts_with("entire:")).collect();
    assert_eq!(said.len(), 1, "{first}");
    assert!(said[0].contains("origin refused entire/checkpoints/v1 (pre-receive hook declined)"), "{first}");
    assert!(
        said[0].contains("entire enable --no-push") && said[0].contains("entire enable --push"),
        "{first}"
    );
    agent_commit(&w, &dir, "two", &[]);
    let second = stderr(&git_push(&w, &dir, &["origin", "main"]));
    assert!(!second.contains("entire:"), "said once: {second}");
    assert_eq!(on_remote(&w, &remote), None);
}

#[test]
fn an_old_clone_is_migrated_by_doctor_fix() {
    let w = World::new();
    let remote = bare_remote(&w, "remote.git");
    let dir = with_origin(&w, "r", &remote);
    stdout(w.entire(&dir).arg("enable").output().unwrap());
    agent_commit(&w, &dir, "one", &[]);
    // What an earlier version left: the branch in refs/heads, its refspec.
    let tip = w.git(&dir, &["rev-parse", "refs/entire/checkpoints/v1"]);
    w.git(&dir, &["update-ref", "refs/heads/entire/checkpoints/v1", &tip]);
    w.git(&dir, &["update-ref", "-d", "refs/entire/checkpoints/v1"]);
    w.git(&dir, &["config", "--unset-all", "remote.origin.fetch", "entire"]);
    let legacy = "+refs/heads/entire/checkpoints/v1:refs/remotes/origin/entire/checkpoints/v1";
    w.git(&dir, &["config", "--add", "remote.origin.fetch", legacy]);

    let out = w.entire(&dir).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("still refs/heads/entire/checkpoints/v1"), "{report}");
    stdout(w.entire(&dir).args(["doctor", "--fix"]).output().unwrap());
    assert_eq!(w.git(&dir, &["rev-parse", "refs/entire/checkpoints/v1"]), tip);
    assert_eq!(w.git(&dir, &["for-each-ref", "refs/heads/entire"]), "");
    let specs = w.git(&dir, &["config", "--get-all", "remote.origin.fetch"]);
    assert!(!specs.contains(legacy), "{specs}");
    assert!(specs.contains("refs/entire/remotes/origin/checkpoints/v1"), "{specs}");
}

#[test]
fn doctor_reports_secrets_already_on_the_branch() {
    let w = World::new();
    let dir = w.repo("r");
    agent_commit(&w, &dir, "one", &[]);
    // A checkpoint file written before redaction existed.
    let secret = format!("ghp_{}", repeat("a1B2c3D4e5F6", 36));
    let blob = {
        let mut cmd = w.cmd("git", &dir);
        cmd.args(["hash-object", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("token {secret}\n").as_bytes())
            .unwrap();
        drop(child.stdin.take());
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap().trim().to_owned()
    };
    let tip = w.git(&dir, &["rev-parse", "refs/entire/checkpoints/v1"]);
    let index = w.path().join("old-index");
    let git =
        |args: &[&str]| stdout(w.cmd("git", &dir).env("GIT_INDEX_FILE", &index).args(args).output().unwrap());
    git(&["read-tree", &tip]);
    git(&["update-index", "--add", "--cacheinfo", &format!("100644,{blob},ab/cdef01234567/0/prompt.txt")]);
    let tree = git(&["write-tree"]);
    let subject = w.git(&dir, &["log", "-1", "--format=%s", &tip]);
    let commit = git(&["commit-tree", &tree, "-p", &tip, "-m", &subject]);
    w.git(&dir, &["update-ref", "refs/entire/checkpoints/v1", &commit]);

    let out = w.entire(&dir).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("problem: entire/checkpoints/v1:ab/cdef01234567/0/prompt.txt holds what looks like a secret (github-pat)"),
        "{report}"
    );
    assert!(report.contains("docs/privacy.md, \"Purging\""), "{report}");
    assert!(!report.contains(&secret), "the report does not repeat the secret");
}

#[test]
fn enable_on_a_terminal_asks_before_sharing_and_remembers_the_answer() {
    use rexpect::session::spawn_command;
    let w = World::new();
    for (name, answer, expected) in [("yes", "y", r#""push": ["#), ("no", "", r#""push": false"#)] {
        let remote = bare_remote(&w, &format!("{name}.git"));
        let dir = with_origin(&w, name, &remote);
        let mut cmd = w.entire(&dir);
        cmd.arg("enable");
        let mut term = spawn_command(cmd, Some(30_000)).unwrap();
        term.exp_string(
            "share checkpoints with origin when you push? prompts and transcripts are redacted [y/N] ",
        )
        .unwrap();
        term.send_line(answer).unwrap();
        term.exp_eof().unwrap();
        let local = std::fs::read_to_string(dir.join(".git/entire-settings.json")).unwrap();
        assert!(local.contains(expected), "{name}: {local}");
        // Asked once: the next enable on a terminal says nothing about it.
        let mut again = w.entire(&dir);
        again.arg("enable");
        let mut term = spawn_command(again, Some(30_000)).unwrap();
        let rest = term.exp_eof().unwrap();
        assert!(!rest.contains("share checkpoints"), "{name}: {rest}");
    }
}

#[test]
fn a_separate_checkpoint_remote_gets_the_branch_and_the_code_remote_does_not() {
    let w = World::new();
    let code = bare_remote(&w, "code.git");
    let logs = bare_remote(&w, "logs.git");
    let dir = with_origin(&w, "r", &code);
    w.git(&dir, &["remote", "add", "logs", logs.to_str().unwrap()]);
    std::fs::create_dir_all(dir.join(".entire")).unwrap();
    std::fs::write(
        dir.join(".entire/settings.json"),
        r#"{"enabled": true, "checkpoints": {"push": ["logs"], "remote": "logs"}}"#,
    )
    .unwrap();
    stdout(w.entire(&dir).arg("enable").output().unwrap());
    agent_commit(&w, &dir, "one", &[]);
    let out = git_push(&w, &dir, &["origin", "main"]);
    assert!(
        stderr(&out).contains("entire: pushed checkpoints (entire/checkpoints/v1) to logs"),
        "{}",
        stderr(&out)
    );
    assert_eq!(on_remote(&w, &code), None);
    assert_eq!(on_remote(&w, &logs), Some(w.git(&dir, &["rev-parse", "refs/entire/checkpoints/v1"])));
}
