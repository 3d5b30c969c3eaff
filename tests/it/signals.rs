//! The launcher's signals and exit status (docs/spec.md §4; docs/reliability.md).
//! Mostly in a real terminal: an interactive bash with job control in a PTY
//! runs `entire run -- <fake agent>`, and the test types Ctrl-C and Ctrl-Z,
//! resizes the terminal and sends signals from outside, then reads what
//! the agent logged.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rexpect::session::{PtyReplSession, spawn_command};

use crate::support::{World, entire_bin, script, wait_for};

const PROMPT: &str = "[entire-test]$ ";

/// A terminal with an interactive bash in it, in `world`'s environment.
/// Without line editing, nothing typed is echoed back.
fn terminal(world: &World) -> PtyReplSession {
    let mut cmd = world.cmd("bash", world.path());
    cmd.args(["--norc", "--noprofile", "--noediting", "-i"]).env("PS1", PROMPT).env("TERM", "dumb");
    let mut session = spawn_command(cmd, Some(30_000)).unwrap();
    // An interactive bash ignores SIGTERM, which is how rexpect ends it.
    session.process_mut().set_kill_timeout(Some(1_000));
    let mut bash = PtyReplSession::new(session, PROMPT.to_owned());
    bash.wait_for_prompt().unwrap();
    bash
}

/// A fake agent that logs one line per signal it gets, prints its PID, its
/// parent's (the launcher) and its terminal, says "ready", and exits 0 once
/// `stop` appears. It waits in the `read` builtin, on a FIFO nobody writes:
/// bash runs a trap as soon as a builtin is interrupted, whereas during a
/// foreground `sleep` it would run it once for two quick deliveries, and a
/// duplicate would go unseen.
struct FakeAgent {
    dir: PathBuf,
}

impl FakeAgent {
    fn new(world: &World) -> FakeAgent {
        let dir = tempfile::Builder::new().prefix("sig-").tempdir_in(world.path()).unwrap().keep();
        script(
            &dir.join("agent"),
            "#!/bin/bash\n\
             dir=\"$(dirname \"$0\")\"\n\
             for sig in INT QUIT TERM HUP USR1 USR2 WINCH; do\n\
             \x20   trap \"echo $sig >> '$dir/signals'\" $sig\n\
             done\n\
             echo \"$$ $PPID $(tty)\" > \"$dir/ids.tmp\" && mv \"$dir/ids.tmp\" \"$dir/ids\"\n\
             mkfifo \"$dir/never\" && exec 3<>\"$dir/never\"\n\
             echo ready\n\
             for _ in $(seq 600); do\n\
             \x20   [ -e \"$dir/stop\" ] && exit 0\n\
             \x20   read -r -t 0.1 -u 3 _\n\
             done\n\
             exit 3\n",
        );
        FakeAgent { dir }
    }

    /// The command line that runs it under entire, then prints its status.
    fn command_line(&self) -> String {
        format!("{} run -- {}; echo \"rc=$?\"", entire_bin().display(), self.dir.join("agent").display())
    }

    /// (agent PID, launcher PID, terminal)
    fn ids(&self) -> (i32, i32, String) {
        let ids = std::fs::read_to_string(self.dir.join("ids")).unwrap();
        let mut parts = ids.split_whitespace();
        let mut pid = || parts.next().unwrap().parse().unwrap();
        let (agent, launcher) = (pid(), pid());
        (agent, launcher, parts.next().unwrap().to_owned())
    }

    fn signals(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("signals")).unwrap_or_default();
        log.lines().map(str::to_owned).collect()
    }

    fn wait_for_signals(&self, count: usize) {
        wait_for("the agent's signal log", || self.signals().len() >= count);
    }

    fn stop(&self) {
        std::fs::write(self.dir.join("stop"), "").unwrap();
    }
}

/// Starts the agent in the terminal and waits until it is ready.
fn start(world: &World) -> (PtyReplSession, FakeAgent) {
    let mut bash = terminal(world);
    let agent = FakeAgent::new(world);
    bash.send_line(&agent.command_line()).unwrap();
    bash.exp_string("ready").unwrap();
    (bash, agent)
}

/// Stops the agent and checks that agent and launcher both exited 0.
fn finish(mut bash: PtyReplSession, agent: &FakeAgent) {
    agent.stop();
    bash.exp_string("rc=0").unwrap();
    bash.wait_for_prompt().unwrap();
    bash.process_mut().kill(rexpect::process::signal::Signal::SIGHUP).unwrap();
}

/// The system calls a process sleeps in while it waits for something to
/// happen: a self-pipe read (signal-hook), a select or poll, a wait for a
/// child or for a signal.
const WAITING: [libc::c_long; 9] = [
    libc::SYS_read,
    libc::SYS_recvfrom,
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_epoll_pwait,
    libc::SYS_wait4,
    libc::SYS_waitid,
    libc::SYS_rt_sigtimedwait,
    libc::SYS_futex,
];

/// Whether `pid` has handled every signal sent to it so far: none is
/// pending for it or any of its threads, and each of its threads sleeps in
/// a call that waits for the next thing to happen (a thread that has
/// dequeued a signal runs its handler before it can sleep again, and a
/// thread that has a signal to relay is not waiting).
fn handled_every_signal(pid: i32) -> bool {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let pending = |status: &str, field: &str| {
        status
            .lines()
            .filter_map(|l| l.strip_prefix(field))
            .any(|mask| !mask.trim().trim_start_matches('0').is_empty())
    };
    let waiting = |task: &str| {
        let call = read(&format!("{task}/syscall"));
        let nr = call.split_whitespace().next().and_then(|nr| nr.parse::<libc::c_long>().ok());
        nr.is_some_and(|nr| WAITING.contains(&nr)) && !pending(&read(&format!("{task}/status")), "SigPnd:")
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    let tasks: Vec<String> = tasks.flatten().map(|t| t.path().display().to_string()).collect();
    !tasks.is_empty()
        && tasks.iter().all(|task| waiting(task))
        && !pending(&read(&format!("/proc/{pid}/status")), "ShdPnd:")
}

/// Waits until the launcher, then the agent, have handled every signal
/// sent so far: a duplicate the launcher relays reaches the agent before
/// the launcher is idle again, and is in the agent's log once the agent is.
fn quiesce(agent: &FakeAgent) {
    let (agent_pid, launcher_pid, _) = agent.ids();
    wait_for("the launcher to handle every signal", || handled_every_signal(launcher_pid));
    wait_for("the agent to handle every signal", || handled_every_signal(agent_pid));
}

fn state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit_once(')').unwrap().1.trim_start().chars().next().unwrap()
}

/// How often each terminal event is repeated. A duplicate that arrives
/// while the first copy is still pending merges with it in the kernel, so
/// one try may miss a double delivery; several make that vanishingly rare.
const TRIES: usize = 8;

#[test]
fn ctrl_c_reaches_the_agent_once_and_the_launcher_survives() {
    let world = World::new();
    let (mut bash, agent) = start(&world);
    for pressed in 1..=TRIES {
        bash.send_control('c').unwrap();
        agent.wait_for_signals(pressed);
    }
    quiesce(&agent);
    finish(bash, &agent);
    assert_eq!(agent.signals(), ["INT"; TRIES]);
}

#[test]
fn ctrl_z_stops_agent_and_launcher_and_fg_resumes_both() {
    let world = World::new();
    let (mut bash, agent) = start(&world);
    let (agent_pid, launcher_pid, _) = agent.ids();
    bash.send_control('z').unwrap();
    bash.wait_for_prompt().unwrap();
    wait_for("both to stop", || state(agent_pid) == 'T' && state(launcher_pid) == 'T');
    bash.send_line("jobs").unwrap();
    bash.exp_string("Stopped").unwrap();
    bash.wait_for_prompt().unwrap();

    // The rest of the first line ran when the job stopped; fg reports its end.
    bash.send_line("fg; echo \"rc=$?\"").unwrap();
    wait_for("both to resume", || state(agent_pid) != 'T' && state(launcher_pid) != 'T');
    quiesce(&agent);
    assert_ne!(state(agent_pid), 'T', "the agent stopped again after fg");
    assert_ne!(state(launcher_pid), 'T', "the launcher stopped again after fg");
    finish(bash, &agent);
    assert!(agent.signals().is_empty(), "{:?}", agent.signals());
}

#[test]
fn an_agent_stopped_from_outside_stops_the_launcher_and_resumes_with_it() {
    let world = World::new();
    let (mut bash, agent) = start(&world);
    let (agent_pid, launcher_pid, _) = agent.ids();
    kill(Pid::from_raw(agent_pid), Signal::SIGSTOP).unwrap();
    // The shell, waiting on the launcher, gets its prompt back.
    bash.exp_string("Stopped").unwrap();
    bash.wait_for_prompt().unwrap();
    wait_for("the launcher to stop", || state(launcher_pid) == 'T');
    bash.send_line("fg; echo \"rc=$?\"").unwrap();
    wait_for("both to resume", || state(agent_pid) != 'T' && state(launcher_pid) != 'T');
    finish(bash, &agent);
}

#[test]
fn each_window_resize_reaches_the_agent_once() {
    let world = World::new();
    let (bash, agent) = start(&world);
    let (_, _, tty) = agent.ids();
    for resized in 1..=TRIES {
        // One setting per call: stty sets each with its own ioctl, and each
        // change is a SIGWINCH of its own.
        let cols = (100 + resized).to_string();
        let resize = world.cmd("stty", world.path()).args(["-F", &tty, "cols", &cols]).status();
        assert!(resize.unwrap().success());
        agent.wait_for_signals(resized);
    }
    quiesce(&agent);
    finish(bash, &agent);
    assert_eq!(agent.signals(), ["WINCH"; TRIES]);
}

#[test]
fn signals_sent_to_the_launcher_reach_the_agent_once_each() {
    let world = World::new();
    let (bash, agent) = start(&world);
    let (_, launcher, _) = agent.ids();
    let sent = [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT, Signal::SIGQUIT, Signal::SIGUSR1];
    let sent = sent.into_iter().chain([Signal::SIGUSR2, Signal::SIGWINCH]);
    let mut expected = Vec::new();
    for signal in sent {
        kill(Pid::from_raw(launcher), signal).unwrap();
        expected.push(signal.as_str().trim_start_matches("SIG").to_owned());
        agent.wait_for_signals(expected.len());
    }
    quiesce(&agent);
    finish(bash, &agent);
    assert_eq!(agent.signals(), expected);
}

#[test]
fn the_shell_sees_the_agent_die_of_the_same_signal() {
    let world = World::new();
    let mut bash = terminal(&world);
    for (signal, code, says) in [("TERM", 143, "Terminated"), ("KILL", 137, "Killed")] {
        let line = format!(
            "{} run -- bash -c 'kill -{signal} $$'; rc=$?; echo \"rc=$rc sig=$(kill -l $rc)\"",
            entire_bin().display()
        );
        bash.send_line(&line).unwrap();
        // bash says so only for a job that died of a signal, not for exit(128+N).
        bash.exp_string(says).unwrap();
        bash.exp_string(&format!("rc={code} sig={signal}")).unwrap();
        bash.wait_for_prompt().unwrap();
    }
    bash.process_mut().kill(rexpect::process::signal::Signal::SIGHUP).unwrap();
}

fn run_sh(world: &World, cwd: &Path, line: &str) -> std::process::Output {
    world.cmd("sh", cwd).args(["-c", line]).output().unwrap()
}

#[test]
fn without_a_terminal_stdin_exit_codes_and_signal_deaths_pass_through() {
    let world = World::new();
    let entire = entire_bin();
    let piped = run_sh(&world, world.path(), &format!("echo hi | {} run -- cat", entire.display()));
    assert!(piped.status.success());
    assert_eq!(piped.stdout, b"hi\n");

    for code in [0, 1, 2, 7, 126, 127, 128, 200, 255] {
        let out =
            world.entire(world.path()).args(["run", "--", "sh", "-c", &format!("exit {code}")]).output();
        assert_eq!(out.unwrap().status.code(), Some(code));
    }
    // 127 and 126 of entire's own: no such command, or not executable.
    let missing = world.entire(world.path()).args(["run", "--", "no-such-agent-xyz"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("entire: error: command not found: no-such-agent-xyz"), "{stderr}");
    std::fs::write(world.path().join("not-exec"), "#!/bin/sh\n").unwrap();
    let not_exec = world.entire(world.path()).args(["run", "--", "./not-exec"]).output().unwrap();
    assert_eq!(not_exec.status.code(), Some(126));
    for signal in [Signal::SIGTERM, Signal::SIGKILL, Signal::SIGINT] {
        let job = format!("kill -{} $$", signal.as_str().trim_start_matches("SIG"));
        let out = world.entire(world.path()).args(["run", "--", "sh", "-c", &job]).output().unwrap();
        assert_eq!(out.status.signal(), Some(signal as i32), "{signal}");
    }
}

/// What the agent (or a process of its own) sends the launcher was meant
/// for the group or for the launcher itself: relaying it would hand the
/// agent its own signal back (sudo-rs's no-pty mode skips it the same way).
/// A signal from anyone else still goes through. (The launcher places the
/// sender by its ancestry when the signal arrives: the test's descendant
/// lingers until the end, since one that has exited by then cannot be
/// placed, however late a loaded machine lets the launcher look.)
#[test]
fn a_signal_the_agent_sends_to_the_launcher_is_not_relayed_back() {
    let world = World::new();
    let dir = world.path();
    script(
        &dir.join("agent"),
        &format!(
            "#!/bin/sh\n\
             cd {dir}\n\
             trap 'echo USR1 >> signals' USR1\n\
             trap 'echo USR2 >> signals' USR2\n\
             kill -USR1 $PPID\n\
             sh -c \"kill -USR1 $PPID; touch sent; while [ ! -e stop ]; do sleep 0.01; done\" &\n\
             while [ ! -e stop ]; do sleep 0.01; done\n\
             wait\n",
            dir = dir.display()
        ),
    );
    let mut launcher = world.entire(dir).args(["run", "--"]).arg(dir.join("agent")).spawn().unwrap();
    wait_for("the agent's own signals sent", || dir.join("sent").exists());
    // A positive control: the relay works. The launcher handles USR1 before
    // USR2 (the kernel and signal-hook both go by signal number), and the
    // agent runs its traps in the same order: a relayed USR1 would be
    // logged before the USR2.
    kill(Pid::from_raw(launcher.id() as i32), Signal::SIGUSR2).unwrap();
    wait_for("the relayed USR2", || {
        std::fs::read_to_string(dir.join("signals")).is_ok_and(|s| s.contains("USR2"))
    });
    std::fs::write(dir.join("stop"), "").unwrap();
    assert_eq!(launcher.wait().unwrap().code(), Some(0), "the launcher survived its own USR1");
    assert_eq!(std::fs::read_to_string(dir.join("signals")).unwrap(), "USR2\n");
}
