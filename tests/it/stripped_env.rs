//! Attribution whatever the committing process's environment holds: agents
//! that clear their commands' variables (Codex with
//! `shell_environment_policy.inherit = "core"`, `env -i`, sandboxes), with
//! the launcher's state directory somewhere the hook cannot know of. Real
//! launchers, real git, real hooks.

use std::path::{Path, PathBuf};

use crate::attribution::{commit_outside, commit_snippet, each_owns_its_commits};
use crate::support::{Agent, World, checkpoint_of, owner_of};

/// `snippet` with the environment cleared to PATH and HOME, as
/// `env -i PATH="$PATH" HOME="$HOME"`, tracing resolution.
fn stripped(snippet: &str) -> String {
    format!("env -i PATH=\"$PATH\" HOME=\"$HOME\" ENTIRE_DEBUG=1 sh -c \"{snippet}\"")
}

/// Where the lookup found the owner of `rev` (`resolution.found_in`).
fn found_in(w: &World, repo: &Path, rev: &str) -> String {
    let json = w.json(repo, &["explain", "--commit", rev, "--json"]);
    json["checkpoints"][0]["resolution"]["found_in"].as_str().unwrap_or("none").to_owned()
}

/// A state directory that only the launchers are told about.
fn elsewhere(w: &World) -> PathBuf {
    w.path().join("state-elsewhere")
}

/// An agent launched outside any repository, with its state elsewhere.
fn outside_agent(w: &World, name: &str) -> Agent {
    let outside = w.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    w.agent_with_state(&outside, name, &elsewhere(w))
}

fn index_entry(w: &World, repo: &Path, id: &str) -> PathBuf {
    w.store(repo).join("live").join(format!("{id}.json"))
}

#[test]
fn a_session_started_in_the_repo_is_found_by_pid_with_the_environment_stripped() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent_with_state(&repo, "alpha", &elsewhere(&w));
    assert!(index_entry(&w, &repo, &agent.session_id).exists(), "the launcher indexed its session");

    let out = agent.ok(&stripped(&commit_snippet("a.txt", "by alpha")));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((agent.session_id.clone(), "pid".into())), "{out}");
    assert_eq!(found_in(&w, &repo, "HEAD"), "repo-index");
    assert!(out.contains(&format!("is session {} (found in repo-index)", agent.session_id)), "{out}");

    // Someone else's commit meanwhile, with a state directory of its own.
    commit_outside(&w, &repo, "h.txt", "by a human");
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((agent.session_id.clone(), "recent".into())));
    let status = w.json(&repo, &["status", "--json"]);
    assert_eq!(status["live_sessions"][0]["session_id"], agent.session_id.as_str(), "{status:#}");

    let id = agent.session_id.clone();
    assert!(agent.stop().success());
    assert!(!index_entry(&w, &repo, &id).exists(), "the launcher took its session out of the index");
    commit_outside(&w, &repo, "h2.txt", "after the session");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None);
}

#[test]
fn an_agent_started_outside_the_repo_is_found_through_its_ancestors_environment() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = outside_agent(&w, "roamer");
    let cd = format!("cd {} && ", repo.display());

    let out = agent.ok(&format!("{cd}{}", stripped(&commit_snippet("c.txt", "first"))));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((agent.session_id.clone(), "pid".into())), "{out}");
    assert_eq!(found_in(&w, &repo, "HEAD"), "ancestor-environ");
    assert!(out.contains(&format!("was started with ENTIRE_SESSION_ID={}", agent.session_id)), "{out}");
    let record = &w.records(&repo)[&agent.session_id];
    assert_eq!(record["source"], "adopted");

    // Adopted and indexed: the next commit finds it in the repo's index.
    let out = agent.ok(&format!("{cd}{}", stripped(&commit_snippet("c.txt", "second"))));
    assert_eq!(owner_of(&w, &repo, "HEAD"), Some((agent.session_id.clone(), "pid".into())), "{out}");
    assert_eq!(found_in(&w, &repo, "HEAD"), "repo-index");
    agent.stop();
}

#[test]
fn a_forged_session_id_in_an_ancestors_environment_does_not_win() {
    let w = World::new();
    let repo = w.repo("r");
    let victim = outside_agent(&w, "victim");
    std::fs::write(repo.join("f.txt"), "forged").unwrap();
    w.git(&repo, &["add", "f.txt"]);
    // Started with the victim's ID and state directory, but neither its
    // launcher nor its agent.
    let out = w
        .cmd("sh", &repo)
        .env("ENTIRE_SESSION_ID", &victim.session_id)
        .env("ENTIRE_STATE_DIR", elsewhere(&w))
        .args(["-c", &stripped("git commit -q -m forged")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("was started with ENTIRE_SESSION_ID="), "the value was seen: {stderr}");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None, "{stderr}");
    assert!(!w.records(&repo).contains_key(&victim.session_id), "not adopted");
    victim.stop();
}

#[test]
fn two_launched_agents_with_stripped_environments_own_their_commits() {
    let w = World::new();
    let repo = w.repo("r");
    let a = w.agent_with_state(&repo, "alpha", &elsewhere(&w));
    let b = w.agent_with_state(&repo, "beta", &elsewhere(&w));
    b.ok("true"); // the newer session is also the most recently active
    each_owns_its_commits(&w, &repo, [a, b], "pid", stripped);
}

#[test]
fn leftover_index_entries_are_skipped_and_cleaned() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent_with_state(&repo, "alpha", &elsewhere(&w));
    let id = agent.session_id.clone();
    let entry = index_entry(&w, &repo, &id);
    let saved = std::fs::read(&entry).unwrap();
    assert!(agent.stop().success());
    // As a launcher killed with its agent leaves it (SIGKILL, a crash).
    std::fs::write(&entry, saved).unwrap();
    commit_outside(&w, &repo, "x.txt", "after the crash");
    assert_eq!(checkpoint_of(&w, &repo, "HEAD"), None);

    let doctor = w.entire(&repo).arg("doctor").output().unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(report.contains(&format!("live-index entry {id} is left over")), "{report}");
    let clean = crate::support::stdout(w.entire(&repo).arg("clean").output().unwrap());
    assert!(clean.contains(&format!("removed live-index entry {id}")), "{clean}");
    assert!(!entry.exists());
}
