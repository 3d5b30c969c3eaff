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

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, SigHandler, Signal};
use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::{Cause, Origin};

use crate::process::{ProcessTable, System};

/// Signals that are forwarded when another process sends them to us.
const RELAYED: [i32; 7] = [SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH];

/// How long the agent runs before the launcher gives back the memory its
/// start-up used ([`release_startup_pages`]): longer than a command that
/// only does something quick, short next to any agent's session.
const SETTLED: Duration = Duration::from_millis(100);

/// How the agent ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

pub struct Supervisor {
    signals: SignalDelivery<UnixStream, WithOrigin>,
}

/// The agent's process, forked and held before its `exec`: its PID (and
/// start time, which the `exec` keeps) can be recorded before it runs any
/// of its own code, so the agent's first commit already finds its session,
/// and the launcher writes the session once rather than again after a spawn.
pub struct Held {
    pid: Pid,
    /// Writing a byte lets the child `exec`; closed without one, it exits.
    gate: Option<OwnedFd>,
    /// The child writes `errno` here when its `exec` fails; closed (by the
    /// `exec`) when it succeeds.
    errors: Option<OwnedFd>,
    /// What the child reads until its `exec` (its own copy, after the
    /// fork); kept with the handle so that the child's view and ours are
    /// the same allocation's.
    _image: Box<ChildImage>,
}

/// Everything the child needs, prepared before the fork: after it, the
/// child makes system calls only, on its copy of this.
struct ChildImage {
    path: CString,
    _argv: Vec<CString>,
    /// The variables added to the environment; the rest of `envp_ptrs`
    /// points into the launcher's own environment, which nothing changes
    /// before the fork copies it.
    _added: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
    /// The child's descriptors, by number: it has its own table, a copy
    /// of the launcher's when it was made.
    gate_read: i32,
    gate: i32,
    errors: i32,
    errors_write: i32,
}

impl Supervisor {
    /// Installs the handlers *before* spawning, so a signal that arrives
    /// between spawn and wait is relayed rather than killing the launcher.
    /// Nothing is set to SIG_IGN: that would be inherited across exec.
    pub fn new() -> io::Result<Supervisor> {
        let mut wanted = RELAYED.to_vec();
        wanted.push(SIGCHLD);
        let (read, write) = UnixStream::pair()?;
        Ok(Supervisor { signals: SignalDelivery::with_pipe(read, write, WithOrigin::default(), &wanted)? })
    }

    /// Forks the agent: `program` (a path) run with `argv` (`argv[0]`
    /// first) and `env` added to ours. The child waits for
    /// [`Held::release`]. As `std::process::Command` does, the child gets
    /// every signal at its default action (SIGPIPE included, which Rust
    /// ignores) and an empty signal mask.
    pub fn fork_held(&self, program: &Path, argv: &[OsString], env: &[(&str, &str)]) -> io::Result<Held> {
        let c =
            |s: &OsStr| CString::new(s.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
        let path = c(program.as_os_str())?;
        let argv = argv.iter().map(|a| c(a)).collect::<io::Result<Vec<_>>>()?;
        let added =
            env.iter().map(|(k, v)| c(OsStr::new(&format!("{k}={v}")))).collect::<io::Result<Vec<_>>>()?;
        let argv_ptrs = argv.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let envp_ptrs = inherited_env(env)
            .chain(added.iter().map(|e| e.as_ptr()))
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let (gate_read, gate) = cloexec_pipe()?;
        let (errors, errors_write) = cloexec_pipe()?;
        let image = Box::new(ChildImage {
            path,
            _argv: argv,
            _added: added,
            argv_ptrs,
            envp_ptrs,
            gate_read: gate_read.as_raw_fd(),
            gate: gate.as_raw_fd(),
            errors: errors.as_raw_fd(),
            errors_write: errors_write.as_raw_fd(),
        });

        // Every signal blocked across the fork: none may run the launcher's
        // handlers in the child before it resets them.
        // SAFETY: plain libc calls on sigsets we own; see `spawn_child`.
        let pid = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let pid = spawn_child(&image);
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            pid
        };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        // The child's ends, which the launcher closes: the `exec` then
        // closes the last writer of `errors`.
        drop((gate_read, errors_write));
        Ok(Held { pid: Pid::from_raw(pid), gate: Some(gate), errors: Some(errors), _image: image })
    }

    /// Relays signals until the agent exits, and reports how. Once the
    /// agent has run for [`SETTLED`], the launcher gives back the pages of
    /// its start-up code ([`release_startup_pages`]).
    pub fn wait(&mut self, pid: Pid) -> io::Result<Exit> {
        if let Some(exit) = reap(pid)? {
            return Ok(exit);
        }
        let settled_at = Instant::now() + SETTLED;
        let mut settled = false;
        loop {
            let timeout = (!settled).then(|| settled_at.saturating_duration_since(Instant::now()));
            if !readable(self.signals.get_read().as_raw_fd(), timeout) && !settled {
                settled = true;
                release_startup_pages();
                continue;
            }
            for origin in self.signals.pending() {
                if origin.signal == SIGCHLD {
                    if let Some(exit) = reap(pid)? {
                        return Ok(exit);
                    }
                } else if should_forward(&origin, pid) {
                    // The agent may already be gone; its exit arrives as SIGCHLD.
                    let _ = signal::kill(pid, Signal::try_from(origin.signal).ok());
                }
            }
        }
    }
}

impl Held {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Lets the agent `exec`. Whether it could is known once it has exited
    /// ([`Agent::exec_error`]): waiting for the `exec` here would cost the
    /// launcher one more wake-up before the agent runs.
    pub fn release(mut self) -> Agent {
        let gate = self.gate.take().expect("released once");
        let go = [1u8];
        // SAFETY: writes one byte from a live buffer to a pipe we own.
        unsafe { libc::write(gate.as_raw_fd(), go.as_ptr().cast(), 1) };
        Agent { pid: self.pid, errors: self.errors.take().expect("released once") }
    }
}

impl Drop for Held {
    /// Never let go: the child exits without running the agent, and is
    /// reaped before the memory it reads is freed.
    fn drop(&mut self) {
        if self.gate.take().is_some() {
            let _ = nix::sys::wait::waitpid(self.pid, None);
        }
    }
}

/// The agent, let go.
pub struct Agent {
    pub pid: Pid,
    /// Closed by a successful `exec`; else the child's `errno`.
    errors: OwnedFd,
}

impl Agent {
    /// Why the agent's `exec` failed (its process then exited with 127),
    /// asked once it has exited: by then nothing holds the pipe open.
    pub fn exec_error(&self) -> Option<io::Error> {
        let mut errno = [0u8; 4];
        let mut got = 0;
        while got < errno.len() {
            // SAFETY: reads into the rest of a live buffer.
            let n = unsafe {
                libc::read(self.errors.as_raw_fd(), errno[got..].as_mut_ptr().cast(), errno.len() - got)
            };
            match n {
                -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                n if n <= 0 => break,
                n => got += n as usize,
            }
        }
        (got == errno.len()).then(|| io::Error::from_raw_os_error(i32::from_ne_bytes(errno)))
    }
}

/// Forks the child, which runs [`run_child`] on its copy of `image`. A
/// plain `fork`, not a child sharing the launcher's memory (`CLONE_VM`):
/// that saves about 0.1 ms of CPU per session, but the child would then run
/// alongside the launcher on the launcher's thread-local state (`errno`),
/// which `posix_spawn` avoids only by suspending its caller. Nothing but
/// that runs in the child before its `exec`: every page of code it touches
/// faults in again there (a fork copies no page table entry of a file
/// mapping), and every page of data it writes is copied.
///
/// # Safety
/// Single-threaded launcher, every signal blocked.
unsafe fn spawn_child(image: &ChildImage) -> libc::pid_t {
    // SAFETY: after a fork of a single-threaded process the child may make
    // system calls on its copy of `image`; it never returns.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            run_child(image);
        }
        pid
    }
}

/// The launcher's environment as `exec` takes it (`NAME=value`, C
/// strings), but the variables that `env` sets: pointers into `environ`,
/// not copies, since the child gets the launcher's memory as it is at the
/// fork.
fn inherited_env(env: &[(&str, &str)]) -> impl Iterator<Item = *const libc::c_char> {
    unsafe extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: `environ` is a null-terminated array of C strings that only
    // `setenv` and the like change, which the single-threaded launcher does
    // not call while the pointers are in use (until the fork).
    let mut next = unsafe { environ };
    std::iter::from_fn(move || {
        // SAFETY: within the array, up to and including its null.
        let entry = unsafe { next.as_ref().copied() }.filter(|e| !e.is_null())?;
        // SAFETY: the next slot exists, since this one was not the null.
        next = unsafe { next.add(1) };
        Some(entry)
    })
    .filter(move |&entry| {
        // SAFETY: a C string of the environment.
        let entry = unsafe { std::ffi::CStr::from_ptr(entry) }.to_bytes();
        let name = entry.split(|&b| b == b'=').next().unwrap_or_default();
        env.iter().all(|(key, _)| key.as_bytes() != name)
    })
}

/// Waits until `fd` can be read, for at most `timeout` (None: for as long
/// as it takes); false when the time ran out. Interrupted by a signal, it
/// says true: the caller looks at what arrived.
fn readable(fd: i32, timeout: Option<Duration>) -> bool {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    #[cfg(target_os = "linux")]
    let ready = {
        let limit = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs() as libc::time_t,
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let limit = limit.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: one pollfd and an optional timespec, both live across the call.
        unsafe { libc::ppoll(&mut poll, 1, limit, std::ptr::null()) }
    };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: one pollfd that lives across the call.
    let ready = unsafe { libc::poll(&mut poll, 1, timeout.map_or(-1, |t| t.as_millis().max(1) as i32)) };
    ready != 0
}

/// A pipe whose ends the agent does not inherit. (Set apart from the
/// opening where `pipe2` is missing: the launcher has no other thread to
/// fork in between.)
fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(target_os = "linux")]
    {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok((read, write))
    }
    #[cfg(not(target_os = "linux"))]
    {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        let (read, write) = nix::unistd::pipe()?;
        for fd in [&read, &write] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        }
        Ok((read, write))
    }
}

/// The child: resets its signals, waits for the go byte, `exec`s. Never
/// returns. Touches nothing but `image`: system calls only, as after any
/// fork.
///
/// # Safety
/// Only in the child [`spawn_child`] makes.
unsafe fn run_child(image: &ChildImage) -> ! {
    // SAFETY: system calls only, on `image` and this stack.
    unsafe {
        for sig in RELAYED.iter().chain(&[SIGCHLD, libc::SIGPIPE]) {
            libc::signal(*sig, libc::SIG_DFL);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::close(image.gate);
        libc::close(image.errors);
        let mut go = 0u8;
        // No handler runs here any more, so nothing interrupts the read.
        if libc::read(image.gate_read, (&mut go as *mut u8).cast(), 1) != 1 {
            libc::_exit(127); // the launcher is gone: no session, no agent
        }
        libc::execve(image.path.as_ptr(), image.argv_ptrs.as_ptr(), image.envp_ptrs.as_ptr());
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(libc::ENOEXEC).to_ne_bytes();
        libc::write(image.errors_write, errno.as_ptr().cast(), errno.len());
        libc::_exit(127)
    }
}

/// Gives back the pages of code the launcher ran to start the session
/// (entire's own and the libraries', about 4 MB of its resident memory
/// once started) while it only waits: they are still in the page cache,
/// and the little that waiting and ending the session runs maps back in.
/// Only executable, read-only mappings of files are dropped, whose pages
/// are never written, so what maps back is what was there.
fn release_startup_pages() {
    #[cfg(target_os = "linux")]
    {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return };
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms), Some(_offset), Some(_dev), Some(inode)) =
                (fields.next(), fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if perms != "r-xp" || inode == "0" {
                continue;
            }
            let Some((start, end)) = range.split_once('-') else { continue };
            let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
            else {
                continue;
            };
            // SAFETY: a private, read-only, executable file mapping: its
            // pages are the file's, and fault back in from it unchanged.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        }
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
