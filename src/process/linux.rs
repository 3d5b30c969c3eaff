//! Linux: `/proc/<pid>/stat`.

use std::io::Read;
use std::os::unix::fs::MetadataExt;

use super::{Environ, ProcStat, ProcessTable};

pub struct System;

impl ProcessTable for System {
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        if pid <= 0 {
            return None;
        }
        parse_stat(read_proc(&format!("/proc/{pid}/stat"), &mut [0; STAT_BUF])?)
    }

    fn own_stat(&self) -> Option<ProcStat> {
        parse_stat(read_proc("/proc/self/stat", &mut [0; STAT_BUF])?)
    }

    fn pid_namespace(&self) -> Option<u64> {
        std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
    }

    fn name(&self, pid: i32) -> Option<String> {
        let mut buf = [0; 64];
        let raw = read_proc(&format!("/proc/{pid}/comm"), &mut buf)?;
        Some(String::from_utf8_lossy(raw.strip_suffix(b"\n").unwrap_or(raw)).into_owned())
    }

    fn cmdline(&self, pid: i32) -> Option<Vec<String>> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        Some(
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
        )
    }

    /// Only a process of our own user: `/proc/<pid>` belongs to its
    /// effective user (root could read anyone's).
    fn environ(&self, pid: i32) -> Option<Environ> {
        if pid <= 0 {
            return None;
        }
        let owner = std::fs::metadata(format!("/proc/{pid}")).ok()?.uid();
        if owner != nix::unistd::geteuid().as_raw() {
            return None;
        }
        std::fs::read(format!("/proc/{pid}/environ")).ok().map(Environ)
    }
}

/// Room for any `/proc/<pid>/stat`: 52 numbers and a name of at most 64 bytes.
const STAT_BUF: usize = 2048;

/// A small `/proc` file whose text ends in a newline, read into `buf`: the
/// kernel builds it whole at the first read, so that is one `read` where
/// `fs::read` makes six (such a file's size is 0 to `stat`, so it grows its
/// buffer from 32 bytes) after a `statx`. Hooks read several per commit.
fn read_proc<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
        if buf[len - 1] == b'\n' {
            break;
        }
    }
    Some(&buf[..len])
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted from the *last* `)`.
fn parse_stat(raw: &[u8]) -> Option<ProcStat> {
    let open = raw.iter().position(|&b| b == b'(')?;
    let pid = std::str::from_utf8(&raw[..open]).ok()?.trim().parse().ok()?; // field 1
    let close = raw.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&raw[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?; // field 3
    let ppid = fields.next()?.parse().ok()?; // field 4
    let tty = fields.nth(2)?.parse::<i64>().ok()?; // field 7
    let start_time = fields.nth(14)?.parse().ok()?; // field 22
    Some(ProcStat { pid, ppid, start_time, zombie: matches!(state, "Z" | "X"), tty: tty.max(0) as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::ProcId;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let raw = b"4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_stat(raw).unwrap();
        assert_eq!(stat, ProcStat { pid: 4242, ppid: 17, start_time: 987654, zombie: false, tty: 0 });
        let on_a_terminal = b"9 (bash) S 8 9 9 34816 9 4194560 1 0 0 0 1 2 0 0 20 0 1 0 55 1000 10";
        assert_eq!(parse_stat(on_a_terminal).unwrap().tty, 34816);
    }

    #[test]
    fn zombie_is_reported() {
        let raw = b"7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0";
        assert!(parse_stat(raw).unwrap().zombie);
    }

    #[test]
    fn reads_itself_and_its_parent() {
        let me = std::process::id() as i32;
        let stat = System.stat(me).expect("own stat");
        let proc = ProcId { pid: me, start_time: stat.start_time };
        assert!(System.alive_as_recorded(proc));
        assert!(!System.alive_as_recorded(ProcId { start_time: stat.start_time + 1, ..proc }));
        assert_eq!(System.ancestry(me).first().map(|p| p.pid), Some(stat.ppid).filter(|&p| p > 1));
        assert!(System.name(me).is_some_and(|n| !n.is_empty() && !n.contains('\n')));
        assert_eq!(System.own_stat(), Some(stat), "/proc/self is this process");
        assert!(System.pid_namespace().is_some());
    }

    #[test]
    fn reads_the_environment_a_child_was_started_with() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .env("ENTIRE_TEST_ENVIRON", "from-exec")
            .spawn()
            .unwrap();
        // spawn returns once the exec began; the kernel sets the new
        // environment's bounds a moment later.
        let mut environ = None;
        for _ in 0..1000 {
            environ = System.environ(child.id() as i32);
            if environ.as_ref().is_none_or(|e| !e.0.is_empty()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let environ = environ.expect("our own child's environment");
        assert_eq!(environ.get("ENTIRE_TEST_ENVIRON"), Some(std::ffi::OsStr::new("from-exec")));
        assert_eq!(System.environ(0), None);
    }
}
