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

/// Stages a change to `file` and commits it as `msg` through `prefix`
/// (`setsid`, `script -qec`…), from outside every session's process tree;
/// returns what the commit printed (through `script`: on its terminal).
fn commit_through(w: &World, repo: &Path, prefix: &[&str], file: &str, msg: &str) -> String {
    std::fs::write(repo.join(file), msg).unwrap();
    w.git(repo, &["add", file]);
    let mut cmd: Vec<&str> = prefix.to_vec();
    let commit = format!("git commit -q -m '{msg}'");
    if prefix.first() == Some(&"script") {
        cmd.extend([commit.as_str(), "/dev/null"]);
    } else {
        cmd.extend(["sh", "-c", commit.as_str()]);
    }
    crate::support::printed_by(w, repo, &cmd)
}

#[test]
fn two_live_sessions_and_a_commit_from_neither_get_no_trailer_and_a_reason() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "alpha");
    let b = w.agent(&repo, "beta");
    b.ok("true");
    let said = commit_through(&w, &repo, &["setsid"], "x.txt", "from neither");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "{said}");
    let mut ids = [a.session_id.clone(), b.session_id.clone()];
    ids.sort();
    assert_eq!(
        said,
        format!(
            "entire: no checkpoint for this commit: 2 live sessions here could own it ({}, {}), and nothing shows which made it\n",
            ids[0], ids[1]
        )
    );
    // Their own commits still go to each of them.
    let (a_id, b_id) = (a.session_id.clone(), b.session_id.clone());
    a.ok(&commit_snippet("a.txt", "by alpha"));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((a_id, "env".into())));
    b.ok(&commit_snippet("b.txt", "by beta"));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((b_id, "env".into())));
    a.stop();
    b.stop();
}

/// Makes the launcher's command the leader of a new session whose
/// controlling terminal is `pty`.
fn on_terminal(cmd: &mut std::process::Command, pty: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = pty.as_raw_fd();
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            if libc::ioctl(fd, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_commit_from_another_terminal_than_the_sessions_is_not_guessed() {
    let w = World::new();
    let repo = w.repo("r");
    let pty = nix::pty::openpty(None, None).unwrap();
    let agent = w.agent_with(&repo, "on-a-tty", &w.state_dir(), |cmd| on_terminal(cmd, &pty.slave));
    let record = &w.records(&repo)[&agent.session_id];
    assert!(record["terminal"].as_u64().is_some_and(|t| t != 0), "the launcher's terminal: {record:#}");

    // `script` runs the commit on a pseudo-terminal of its own.
    let said = commit_through(&w, &repo, &["script", "-qec"], "x.txt", "from another terminal");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "{said}");
    assert_eq!(
        said.replace('\r', ""),
        format!(
            "entire: no checkpoint for this commit: the only live session here, {} runs on another terminal\n",
            agent.session_id
        )
    );

    // No terminal at all is unknown, not different: the one live session
    // is the guess, and the commit says so.
    let said = commit_through(&w, &repo, &["setsid"], "y.txt", "from no terminal");
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((agent.session_id.clone(), "recent".into())));
    assert!(
        said.starts_with(&format!("entire: tagged this commit to session {} by recency", agent.session_id)),
        "{said}"
    );
    agent.stop();
}
