//! `entire run` (docs/spec.md §4): the session record. Exit codes and signals:
//! signals.rs.

use crate::support::World;

#[test]
fn session_is_recorded_live_then_ended() {
    let w = World::new();
    let repo = w.repo("r");
    let agent = w.agent(&repo, "claude");
    let live = w.json(&repo, &["status", "--json"]);
    let sessions = live["live_sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s["session_id"], agent.session_id.as_str());
    assert_eq!(s["agent"], "claude");
    assert_eq!(s["live"], true);
    assert_eq!(s["source"], "launcher");
    assert!(s["agent_pid"].as_i64().unwrap() > 0 && s["launcher_start_time"].as_u64().is_some());
    assert_eq!(live["enabled"], true);
    assert_eq!(live["hooks"]["prepare-commit-msg"], "installed");

    let id = agent.session_id.clone();
    agent.stop();
    let all = w.json(&repo, &["sessions", "--json"]);
    let s = all.as_array().unwrap().iter().find(|s| s["session_id"] == id.as_str()).unwrap();
    assert_eq!(s["live"], false);
    assert_eq!(s["exit_code"], 0);
    assert!(s["ended_at"].is_string());
    assert!(std::fs::read_dir(w.state_dir().join("live")).unwrap().next().is_none(), "live entry removed");
}

#[test]
fn nested_run_records_its_parent() {
    let w = World::new();
    let repo = w.repo("r");
    let outer = w.agent(&repo, "outer");
    let inner_id = outer
        .ok(&format!("{} run -- sh -c 'echo $ENTIRE_SESSION_ID'", crate::support::entire_bin().display()));
    let inner_id = inner_id.trim();
    assert_ne!(inner_id, outer.session_id);
    let sessions = w.json(&repo, &["sessions", "--json"]);
    let inner = sessions.as_array().unwrap().iter().find(|s| s["session_id"] == inner_id).unwrap();
    assert_eq!(inner["parent_session_id"], outer.session_id.as_str());
    outer.stop();
}

#[test]
fn agent_runs_even_when_the_store_is_unwritable() {
    let w = World::new();
    let repo = w.repo("r");
    // A file where the store directory should be.
    std::fs::write(repo.join(".git/entire-sessions"), "").unwrap();
    let out = w.entire(&repo).args(["run", "--", "sh", "-c", "echo ran; exit 4"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("entire: ").count(), 1, "one warning: {stderr}");
}

/// The launcher starts no process but its agent: where git runs hooks from,
/// and which of the session's commits have no checkpoint, are read in
/// process. git passes GIT_TRACE2_EVENT on, so every git started under the
/// launcher writes its own start event.
#[test]
fn a_session_starts_no_git_of_its_own() {
    let w = World::new();
    let repo = w.repo("r");
    // git's own background maintenance is not entire's.
    w.git(&repo, &["config", "maintenance.auto", "false"]);
    let trace = w.path().join("trace.json");
    let commit = ["git", "-c", "core.hooksPath=/dev/null", "commit", "-q", "--allow-empty", "-m", "no hooks"];
    let out =
        w.entire(&repo).env("GIT_TRACE2_EVENT", &trace).arg("run").arg("--").args(commit).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("1 commit(s) made in") && stderr.contains("have no checkpoint"), "{stderr}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let starts: Vec<&str> = text.lines().filter(|l| l.contains(r#""event":"start""#)).collect();
    assert_eq!(starts.len(), 1, "git processes besides the agent's commit: {starts:#?}");
}

/// A program found on PATH whose `exec` fails (not a format the kernel
/// runs): the agent never runs, `entire run` says why with 127 as a shell
/// would, and the session is ended with that code.
#[test]
fn an_agent_whose_exec_fails_ends_its_session_with_the_error() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let repo = w.repo("r");
    let program = w.path().join("garbage");
    std::fs::write(&program, [0u8, 1, 2, 3]).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = w.entire(&repo).arg("run").arg("--").arg(&program).output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("entire: error: cannot run") && stderr.contains("Exec format error"), "{stderr}");
    let sessions = w.json(&repo, &["sessions", "--json"]);
    assert_eq!(sessions[0]["exit_code"], 127, "{sessions:#}");
    assert_eq!(sessions[0]["live"], false, "{sessions:#}");
    assert!(std::fs::read_dir(w.state_dir().join("live")).unwrap().next().is_none(), "live entry removed");
}
