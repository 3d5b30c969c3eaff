//! Spawning the agent, relaying signals, and exiting the way it exited.
//!
//! The agent runs in the launcher's own process group with inherited stdio
//! (no PTY, no setsid), so the terminal's Ctrl-C, Ctrl-Z and window-size
//! changes reach it directly. The launcher then only has to:
//! - survive terminal signals without forwarding them (the agent already
//!   got them), but forward signals another process sent to it with `kill`;
//! - stop when the agent stops, and continue it on resume;
//! - die the way the agent died, so the shell sees the same status.
//!
//! SIGTSTP, SIGTTIN, SIGTTOU and SIGCONT keep their default action: if the
//! launcher caught SIGTSTP, Ctrl-Z would stop the agent but leave the shell
//! waiting on a launcher that is still running. (Model: sudo-rs
//! `exec/no_pty.rs`.)

use std::io;
use std::process::{Child, Command};

use nix::sys::signal::{self, SigHandler, Signal};
use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::{Cause, Origin};

use crate::process::{ProcessTable, System};

/// Signals that are forwarded when another process sends them to us.
const RELAYED: [i32; 7] = [SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH];

/// How the agent ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

pub struct Supervisor {
    signals: SignalsInfo<WithOrigin>,
}

impl Supervisor {
    /// Installs the handlers *before* spawning, so a signal that arrives
    /// between spawn and wait is relayed rather than killing the launcher.
    /// Nothing is set to SIG_IGN: that would be inherited across exec.
    pub fn new() -> io::Result<Supervisor> {
        let mut wanted = RELAYED.to_vec();
        wanted.push(SIGCHLD);
        Ok(Supervisor { signals: SignalsInfo::<WithOrigin>::new(&wanted)? })
    }

    pub fn spawn(&self, cmd: &mut Command) -> io::Result<Child> {
        cmd.spawn()
    }

    /// Relays signals until the agent exits, and reports how.
    pub fn wait(&mut self, child: Child) -> io::Result<Exit> {
        let pid = Pid::from_raw(child.id() as i32);
        // std's Child would reap on drop of nothing, but we wait ourselves.
        drop(child);
        if let Some(exit) = reap(pid)? {
            return Ok(exit);
        }
        for origin in self.signals.forever() {
            if origin.signal == SIGCHLD {
                if let Some(exit) = reap(pid)? {
                    return Ok(exit);
                }
            } else if should_forward(&origin, pid) {
                // The agent may already be gone; its exit arrives as SIGCHLD.
                let _ = signal::kill(pid, Signal::try_from(origin.signal).ok());
            }
        }
        unreachable!("the signal iterator only ends when closed")
    }
}

/// Collects every state change of the child; returns its exit if it ended.
/// A stopped child stops the launcher too (the shell is waiting on us), and
/// is continued when we are.
///
/// Raw `waitpid`: the status is decoded by number, so that a death by a
/// real-time signal (34–64), which has no name in `Signal`, is an exit like
/// any other.
fn reap(pid: Pid) -> io::Result<Option<Exit>> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`.
        let found = unsafe { libc::waitpid(pid.as_raw(), &mut status, libc::WNOHANG | libc::WUNTRACED) };
        match found {
            0 => return Ok(None),
            -1 if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            -1 => return Err(io::Error::last_os_error()),
            _ if libc::WIFEXITED(status) => return Ok(Some(Exit::Code(libc::WEXITSTATUS(status)))),
            _ if libc::WIFSIGNALED(status) => return Ok(Some(Exit::Signal(libc::WTERMSIG(status)))),
            _ if libc::WIFSTOPPED(status) => {
                let own =
                    if libc::WSTOPSIG(status) == libc::SIGSTOP { Signal::SIGSTOP } else { Signal::SIGTSTP };
                let _ = signal::raise(own);
                // Resumed: make sure the agent resumes with us.
                let _ = signal::kill(pid, Signal::SIGCONT);
            }
            _ => {}
        }
    }
}

/// Forward only what another process sent with `kill`. Not what the
/// terminal (the kernel) sent to the whole foreground group, and not what
/// the agent or one of its descendants sent (it meant the group, or us).
fn should_forward(origin: &Origin, child: Pid) -> bool {
    if !matches!(origin.cause, Cause::Sent(_)) {
        return false;
    }
    let Some(sender) = origin.process.map(|p| p.pid) else { return true };
    if sender == std::process::id() as i32 || sender == child.as_raw() {
        return false;
    }
    !System.ancestry(sender).iter().any(|p| p.pid == child.as_raw())
}

/// Gives SIGINT, SIGTERM and SIGHUP back their default action, once the
/// agent is gone and the launcher only finishes up: the user who presses
/// Ctrl-C then ends it, rather than a handler that nobody reads any more.
pub fn default_interrupts() {
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: restoring the default disposition has no handler to race with.
        unsafe {
            let _ = signal::signal(signal, SigHandler::SigDfl);
        }
    }
}

/// Ends the launcher the way the agent ended: the same code, or death by
/// the same signal (so `for …; do entire run …; done` stops on Ctrl-C and
/// the shell prints "Killed" as usual). Falls back to 128+N.
pub fn exit_like(exit: Exit) -> ! {
    match exit {
        Exit::Code(code) => std::process::exit(code),
        Exit::Signal(sig) => {
            // No core file from the launcher for the agent's crash.
            let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
            // By number, not through `Signal`: real-time signals have no
            // name there and must pass through all the same.
            // SAFETY: restoring the default disposition has no handler to
            // race with; the mask and raise calls only touch this thread.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, sig);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig);
            }
            // A signal whose default action is to ignore it (or stop)
            // returns here: the shell still learns which one it was.
            std::process::exit(128 + sig)
        }
    }
}
