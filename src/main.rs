// Entered from the C runtime, without Rust's `lang_start`: see `main`.
#![no_main]

use std::ffi::{c_char, c_int};

use entire::{cli, cmd};

/// Every hook is a start of this binary, so it starts as the C runtime
/// leaves it rather than through Rust's `lang_start`, which reads
/// `/proc/self/maps` for the main thread's stack guard (glibc's
/// `pthread_getattr_np`) and sets up an alternate signal stack with SIGSEGV
/// and SIGBUS handlers that only turn a stack overflow's crash into a
/// message: a fifth of a hook's instructions (docs/performance.md). Of the
/// rest of it, entire needs what [`start_up`] does; `std::env::args_os`
/// reads the arguments on its own, and `process::exit` flushes stdout.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    start_up();
    std::process::exit(cmd::run(cli::parse()))
}

/// What Rust's runtime does before `main` that entire relies on: SIGPIPE
/// ignored, so that a closed pipe is an error to handle (a reader that
/// closed our stdout ends us as it ends `git log`, in `cmd::run`), and
/// stdin, stdout and stderr open, so that no file entire opens becomes one
/// of them. Children still start with SIGPIPE at its default: `Command`
/// resets it.
fn start_up() {
    // SAFETY: setting a signal's disposition to ignore, before any thread
    // exists; polling and opening file descriptors.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
        if libc::poll(fds.as_mut_ptr(), 3, 0) == -1 {
            return; // as Rust's runtime: nothing known, nothing done
        }
        for fd in fds {
            // Closed ones, lowest first: each open takes the lowest free number.
            if fd.revents & libc::POLLNVAL != 0 && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) != fd.fd {
                libc::abort();
            }
        }
    }
}
