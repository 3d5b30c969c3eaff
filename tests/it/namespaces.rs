//! Commits made in another PID namespace than the session's launcher
//! (`unshare`, what containers and sandboxes do), as root like the PID
//! reuse test. Without a `/proc` of its own, the hook's `getpid()` names
//! some other host process; it must read itself through `/proc/self`.
//! With one, the launcher's PIDs do not exist there; its lock says it is
//! live. Every case names the right session, or no session and says why.

use std::path::Path;

use crate::attribution::commit_snippet;
use crate::support::{World, checkpoint_of, owner_of};

/// `snippet` run by the agent inside `unshare --pid --fork [flags]`, with
/// `env` (`env -u ENTIRE_SESSION_ID`…) before its shell, if any.
fn unshared(flags: &str, env: &str, snippet: &str) -> String {
    format!("unshare --pid --fork {flags} {env} sh -c \"{snippet}\"")
}

const STRIPPED: &str = "env -u ENTIRE_SESSION_ID";

fn resolution(w: &World, repo: &Path) -> serde_json::Value {
    w.json(repo, &["explain", "--commit", "HEAD", "--json"])["checkpoints"][0]["resolution"].clone()
}

#[test]
#[ignore = "needs root (unshare): run scripts/test as root"]
fn without_its_own_proc_the_hook_walks_its_real_ancestors() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "alpha");
    let b = w.agent(&repo, "beta");
    b.ok("true"); // the other session is the most recently active
    let out = a.ok(&unshared("", STRIPPED, &commit_snippet("a.txt", "by alpha, unshared")));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((a.session_id.clone(), "pid".into())), "{out}");
    // With the variable: it names the session, alive by its PIDs.
    let out = b.ok(&unshared("", "", &commit_snippet("b.txt", "by beta, unshared")));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((b.session_id.clone(), "env".into())), "{out}");
    a.stop();
    b.stop();
}

#[test]
#[ignore = "needs root (unshare): run scripts/test as root"]
fn with_its_own_proc_the_variable_is_proven_live_by_the_launchers_lock() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent(&repo, "alpha");
    let b = w.agent(&repo, "beta");
    let out = a.ok(&unshared("--mount-proc", "", &commit_snippet("a.txt", "by alpha, own proc")));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((a.session_id.clone(), "env".into())), "{out}");
    assert_eq!(resolution(&w, &repo)["env_rejected"], serde_json::Value::Null);

    // The environment stripped too: no PID, no variable; two live
    // sessions could own it, so none does, and the commit says why.
    let out = a.ok(&unshared("--mount-proc", STRIPPED, &commit_snippet("a.txt", "stripped, own proc")));
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "{out}");
    let mut ids = [a.session_id.clone(), b.session_id.clone()];
    ids.sort();
    assert!(out.contains(&format!("2 live sessions here could own it ({}, {})", ids[0], ids[1])), "{out}");

    // An ended session's variable, in the namespace: rejected, and said.
    let id = b.session_id.clone();
    b.stop();
    let stale = format!("env ENTIRE_SESSION_ID={id}");
    let out = a.ok(&unshared("--mount-proc", &stale, &commit_snippet("c.txt", "stale, own proc")));
    assert_eq!(owner_of(&w, &repo, "HEAD").map(|(o, _)| o), Some(a.session_id.clone()), "{out}");
    assert!(out.contains("by recency"), "the one live session, guessed and said: {out}");
    a.stop();
}
