//! `entire run` (SPEC §4): exit codes, signals, the session record.

use std::os::unix::process::ExitStatusExt;

use crate::support::{World, script};

#[test]
fn exit_codes_pass_through() {
    let w = World::new();
    let dir = w.path().to_path_buf();
    let status = |args: &[&str]| w.entire(&dir).arg("run").args(args).output().unwrap();

    assert_eq!(status(&["--", "sh", "-c", "exit 7"]).status.code(), Some(7));
    let missing = status(&["--", "no-such-agent-xyz"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("entire: error: command not found: no-such-agent-xyz")
    );
    std::fs::write(dir.join("not-exec"), "#!/bin/sh\n").unwrap();
    assert_eq!(status(&["--", "./not-exec"]).status.code(), Some(126));
}

#[test]
fn death_by_signal_is_reraised() {
    let w = World::new();
    let out = w.entire(w.path()).args(["run", "--", "sh", "-c", "kill -TERM $$"]).output().unwrap();
    assert_eq!(out.status.signal(), Some(nix::sys::signal::Signal::SIGTERM as i32));
    let shell = w
        .cmd("bash", w.path())
        .args([
            "-c",
            &format!("{} run -- sh -c 'kill -KILL $$'; echo $?", crate::support::entire_bin().display()),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&shell.stdout).trim(), "137");
}

#[test]
fn kill_sent_to_the_launcher_reaches_the_agent_once() {
    let w = World::new();
    let log = w.path().join("signals.log");
    let agent = w.path().join("agent.sh");
    script(
        &agent,
        &format!(
            "#!/bin/sh\ntrap 'echo TERM >> {log}; exit 3' TERM\necho $$ > {pid}\nwhile :; do sleep 0.01; done\n",
            log = log.display(),
            pid = w.path().join("agent.pid").display()
        ),
    );
    let mut launcher = w.entire(w.path()).args(["run", "--"]).arg(&agent).spawn().unwrap();
    crate::support::wait_for_file(&w.path().join("agent.pid"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(launcher.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = launcher.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "TERM\n");
}

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
