//! Who owns a commit (docs/spec.md §5), end to end: real launchers, real git hooks.

use std::path::Path;

use crate::support::{World, checkpoint_of, owner_of, stage_change, stdout};

pub fn commit_snippet(file: &str, msg: &str) -> String {
    format!("{} && git commit -q -m '{msg}'", stage_change(file))
}

#[test]
fn two_concurrent_sessions_each_get_their_own_commits() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "alpha");
    let b = w.agent(&repo, "beta");
    each_owns_its_commits(&w, &repo, [a, b], "env", |s| s.to_owned());
}

/// Two rounds of a commit by each of two agents (`wrap` turns a commit
/// snippet into what the agent runs); each commit belongs to its own agent's
/// session, attributed by `method`. Stops the agents.
pub fn each_owns_its_commits(
    w: &World,
    repo: &Path,
    [a, b]: [crate::support::Agent; 2],
    method: &str,
    wrap: impl Fn(&str) -> String,
) {
    for round in 0..2 {
        a.ok(&wrap(&commit_snippet("a.txt", &format!("a{round}"))));
        b.ok(&wrap(&commit_snippet("b.txt", &format!("b{round}"))));
    }
    let log = w.git(repo, &["log", "--format=%H %s", "-4"]);
    for line in log.lines() {
        let (sha, subject) = line.split_once(' ').unwrap();
        let expected = if subject.starts_with('a') { &a.session_id } else { &b.session_id };
        assert!(checkpoint_of(w, repo, sha).is_some(), "{subject} has no trailer");
        assert_eq!(owner_of(w, repo, sha), Some((expected.clone(), method.into())), "{subject}");
    }
    assert!(a.stop().success());
    assert!(b.stop().success());
}

#[test]
fn stripped_variable_resolves_by_pid_even_when_a_newer_session_is_live() {
    let w = World::new();
    let repo = w.repo("r");
    let older = w.agent(&repo, "older");
    let newer = w.agent(&repo, "newer");
    newer.ok("true"); // the newer session is also the most recently active
    older.ok(&format!("env -u ENTIRE_SESSION_ID sh -c \"{}\"", commit_snippet("o.txt", "by older")));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((older.session_id.clone(), "pid".into())));
    older.stop();
    newer.stop();
}

#[test]
fn recency_fallback_and_its_opt_out() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "bystander");
    // A commit from outside any session's process tree, without the variable.
    commit_outside(&w, &repo, "x.txt", "outside");
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((agent.session_id.clone(), "recent".into())));

    std::fs::write(repo.join(".entire/settings.local.json"), r#"{"resolution": {"recency": false}}"#)
        .unwrap();
    commit_outside(&w, &repo, "y.txt", "outside again");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None);
    agent.stop();
}

#[test]
fn no_live_session_means_no_trailer() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "gone");
    agent.stop();
    commit_outside(&w, &repo, "x.txt", "after the session ended");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None);
}

#[test]
fn stale_and_malformed_session_ids_are_rejected_and_the_next_step_runs() {
    let w = World::new();
    let repo = w.repo("r");
    let ended = w.agent(&repo, "ended");
    let ended_id = ended.session_id.clone();
    ended.stop();
    let live = w.agent(&repo, "live");
    for (value, reason) in
        [(ended_id.as_str(), "ended"), ("../../etc", "malformed"), ("no-such-session", "unknown")]
    {
        std::fs::write(repo.join("f.txt"), value).unwrap();
        w.git(&repo, &["add", "f.txt"]);
        let out = w
            .cmd("git", &repo)
            .args(["commit", "-q", "-m", value])
            .env("ENTIRE_SESSION_ID", value)
            .env("ENTIRE_DEBUG", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        stdout(out);
        assert!(stderr.contains(&format!("env_rejected: {reason}")), "{value}: {stderr}");
        assert_eq!(owner_of(&w, &repo, "HEAD"), Some((live.session_id.clone(), "recent".into())), "{value}");
    }
    assert!(!w.path().join("etc.json").exists());
    live.stop();
}

/// Commits from the test process itself: no session in its ancestry.
pub fn commit_outside(w: &World, repo: &Path, file: &str, msg: &str) {
    std::fs::write(repo.join(file), msg).unwrap();
    w.git(repo, &["add", file]);
    w.git(repo, &["commit", "-q", "-m", msg]);
}
