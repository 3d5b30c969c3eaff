//! The process table, behind one trait so that the resolver and liveness
//! checks do not care which OS they run on.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use serde::{Deserialize, Serialize};

/// A process identified by PID *and* kernel start time, which together
/// defeat PID reuse.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcId {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcId {
    pub fn from_parts(pid: Option<i32>, start_time: Option<u64>) -> Option<ProcId> {
        match (pid, start_time) {
            (Some(pid), Some(start_time)) if pid > 0 => Some(ProcId { pid, start_time }),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// The PID itself, as the process table numbers it (for `/proc/self`:
    /// in the namespace of the mounted `/proc`, which later reads use).
    pub pid: i32,
    pub ppid: i32,
    pub start_time: u64,
    /// Exited but not reaped (Linux `Z`/`X`): not alive.
    pub zombie: bool,
    /// The controlling terminal's device number; 0 when there is none.
    pub tty: u64,
}

/// Maximum ancestors the PID walk visits (docs/spec.md §5).
pub const MAX_ANCESTRY: usize = 64;

pub trait ProcessTable {
    fn stat(&self, pid: i32) -> Option<ProcStat>;

    /// This process, read as itself (Linux `/proc/self`), never through
    /// `getpid()`: in a PID namespace without its own `/proc` that number
    /// names some other process of the host.
    fn own_stat(&self) -> Option<ProcStat> {
        self.stat(std::process::id() as i32)
    }

    /// An identifier of this process's PID namespace (Linux: the inode of
    /// `/proc/self/ns/pid`); None where there are no PID namespaces. PIDs
    /// recorded in another namespace cannot be checked from this one.
    fn pid_namespace(&self) -> Option<u64> {
        None
    }

    /// The kernel's short command name (Linux `comm`, macOS `p_comm`).
    fn name(&self, pid: i32) -> Option<String>;

    /// The command line of `pid`, when the OS lets us read it.
    fn cmdline(&self, pid: i32) -> Option<Vec<String>>;

    /// The environment `pid` was started with (what it was exec'd with,
    /// not what it set since), when it runs as our user and the OS lets us
    /// read it: Linux `/proc/<pid>/environ`, macOS `KERN_PROCARGS2`.
    fn environ(&self, _pid: i32) -> Option<Environ> {
        None
    }

    fn start_time(&self, pid: i32) -> Option<u64> {
        self.stat(pid).map(|s| s.start_time)
    }

    /// The PID exists, is not a zombie, and started when recorded.
    fn alive_as_recorded(&self, proc: ProcId) -> bool {
        self.stat(proc.pid).is_some_and(|s| !s.zombie && s.start_time == proc.start_time)
    }

    /// Ancestors of `pid`, nearest first (its parent is depth 1), at most
    /// `MAX_ANCESTRY`, stopping at PID 1 or a process that vanished.
    fn ancestry(&self, pid: i32) -> Vec<ProcId> {
        self.ancestors(pid, MAX_ANCESTRY)
    }

    /// The first `limit` ancestors of `pid`, as [`ancestry`](Self::ancestry)
    /// reads them: one stat per process.
    fn ancestors(&self, pid: i32, limit: usize) -> Vec<ProcId> {
        self.stat(pid).map(|stat| self.ancestors_from(stat, limit)).unwrap_or_default()
    }

    /// This process's ancestors, nearest first, from its own stat.
    fn own_ancestors(&self, limit: usize) -> Vec<ProcId> {
        self.own_stat().map(|stat| self.ancestors_from(stat, limit)).unwrap_or_default()
    }

    /// The ancestors of the process whose stat is `stat`.
    fn ancestors_from(&self, mut stat: ProcStat, limit: usize) -> Vec<ProcId> {
        let mut chain = Vec::new();
        while chain.len() < limit.min(MAX_ANCESTRY) && stat.ppid > 1 {
            let Some(parent) = self.stat(stat.ppid) else { break };
            chain.push(ProcId { pid: stat.ppid, start_time: parent.start_time });
            stat = parent;
        }
        chain
    }
}

/// This process's ancestors as far as they were read, shared by everything
/// in the process that asks: a hook asks for its `git` and then for the
/// session that owns it, and each walk reads one `/proc` file per ancestor.
/// Read as far as asked, once: the chain is a snapshot, as one walk's is.
struct Walk {
    /// The process that walked (`getpid`): a forked child starts over.
    walker: u32,
    chain: Vec<ProcId>,
    /// The stat of the last ancestor read; None before the first.
    last: Option<ProcStat>,
    /// PID 1, a vanished process or the cap was reached.
    done: bool,
}

impl Walk {
    /// How many of the ancestors to hand out: up to and including the
    /// first that `stop` accepts (asked once each), at most `limit`, all
    /// when none is accepted. Reads what was not read yet.
    fn until(
        &mut self,
        table: &dyn ProcessTable,
        limit: usize,
        stop: &mut dyn FnMut(ProcId) -> bool,
    ) -> usize {
        let limit = limit.min(MAX_ANCESTRY);
        let mut i = 0;
        while i < limit {
            if i == self.chain.len() && !self.read_next(table) {
                break;
            }
            if stop(self.chain[i]) {
                return i + 1;
            }
            i += 1;
        }
        i
    }

    /// Reads the next ancestor; false when the chain ends.
    fn read_next(&mut self, table: &dyn ProcessTable) -> bool {
        if self.done {
            return false;
        }
        let parent = self.last.or_else(|| table.own_stat()).and_then(|stat| {
            let parent = (stat.ppid > 1).then(|| table.stat(stat.ppid)).flatten()?;
            Some((ProcId { pid: stat.ppid, start_time: parent.start_time }, parent))
        });
        let Some((proc, stat)) = parent else {
            self.done = true;
            return false;
        };
        self.chain.push(proc);
        self.last = Some(stat);
        self.done = self.chain.len() == MAX_ANCESTRY;
        true
    }
}

impl Walk {
    const fn new(walker: u32) -> Walk {
        Walk { walker, chain: Vec::new(), last: None, done: false }
    }
}

static OWN_WALK: std::sync::Mutex<Walk> = std::sync::Mutex::new(Walk::new(0));

/// This process's ancestors, nearest first (its parent is depth 1), up to
/// and including the first that `stop` accepts, at most `limit`; all of
/// them, as [`ProcessTable::ancestry`] reads them, when none is accepted.
/// Each ancestor is read once per process, however often this is asked.
pub fn own_ancestors_until(limit: usize, mut stop: impl FnMut(ProcId) -> bool) -> Vec<ProcId> {
    let mut walk = OWN_WALK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let me = std::process::id();
    if walk.walker != me {
        *walk = Walk::new(me);
    }
    let n = walk.until(&System, limit, &mut stop);
    walk.chain[..n].to_vec()
}

/// A process's initial environment: `NAME=value` entries, NUL-separated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environ(pub Vec<u8>);

impl Environ {
    /// The value of `name`, the first entry that sets it (as `getenv`).
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.0.split(|&b| b == 0).find_map(|entry| {
            let value = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
            Some(OsStr::from_bytes(value))
        })
    }
}

/// The environment in macOS `KERN_PROCARGS2` output: argc (a native int), the executable path, NUL
/// padding, argc arguments, then the environment, each NUL-terminated, up to
/// an empty string.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn environ_of_procargs2(buf: &[u8]) -> Option<Environ> {
    let argc = i32::from_ne_bytes(buf.get(..4)?.try_into().ok()?);
    let rest = &buf[4..];
    let path_end = rest.iter().position(|&b| b == 0)?;
    let mut rest = &rest[path_end..];
    let args_start = rest.iter().position(|&b| b != 0)?;
    rest = &rest[args_start..];
    let mut entries = rest.split(|&b| b == 0).skip(usize::try_from(argc).ok()?);
    let env: Vec<&[u8]> = entries.by_ref().take_while(|e| !e.is_empty()).collect();
    Some(Environ(env.join(&0u8)))
}

#[cfg(target_os = "linux")]
pub use linux::System;
#[cfg(target_os = "macos")]
pub use macos::System;

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// PIDs 2..=20, each the child of the one below it; counts stat reads.
    struct Chain(Cell<usize>);

    impl ProcessTable for Chain {
        fn stat(&self, pid: i32) -> Option<ProcStat> {
            self.0.set(self.0.get() + 1);
            (2..=20).contains(&pid).then(|| ProcStat {
                pid,
                ppid: pid - 1,
                start_time: pid as u64 * 10,
                zombie: false,
                tty: 0,
            })
        }
        fn name(&self, _: i32) -> Option<String> {
            None
        }
        fn cmdline(&self, _: i32) -> Option<Vec<String>> {
            None
        }
    }

    #[test]
    fn ancestry_reads_each_process_once_and_stops_where_asked() {
        let table = Chain(Cell::new(0));
        let pids = |chain: Vec<ProcId>| chain.iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(pids(table.ancestry(20)), (2..20).rev().collect::<Vec<_>>());
        assert_eq!(table.0.replace(0), 19, "one stat per process, PID 1 not read");
        assert_eq!(
            table.ancestors(20, 3),
            [19, 18, 17].map(|pid| ProcId { pid, start_time: pid as u64 * 10 })
        );
        assert_eq!(table.0.get(), 4);
    }

    #[test]
    fn a_shared_walk_reads_each_ancestor_once_and_no_further_than_asked() {
        let table = Chain(Cell::new(0));
        let mut walk = Walk::new(1);
        let stat = |pid| ProcStat { pid, ppid: pid - 1, start_time: pid as u64 * 10, zombie: false, tty: 0 };
        // "This process" is 20 to the table: its own stat, then its parents.
        struct Own<'a>(&'a Chain);
        impl ProcessTable for Own<'_> {
            fn stat(&self, pid: i32) -> Option<ProcStat> {
                self.0.stat(pid)
            }
            fn own_stat(&self) -> Option<ProcStat> {
                self.0.stat(20)
            }
            fn name(&self, _: i32) -> Option<String> {
                None
            }
            fn cmdline(&self, _: i32) -> Option<Vec<String>> {
                None
            }
        }
        let own = Own(&table);
        assert_eq!(walk.until(&own, 3, &mut |p| p.pid == 18), 2);
        assert_eq!(table.0.replace(0), 3, "itself, 19 and 18");
        assert_eq!(walk.until(&own, 1, &mut |_| false), 1);
        assert_eq!(walk.until(&own, 2, &mut |p| p.pid == 18), 2);
        assert_eq!(table.0.get(), 0, "nothing read twice");
        assert_eq!(walk.until(&own, MAX_ANCESTRY, &mut |_| false), 18);
        assert_eq!(table.0.replace(0), 16, "17 down to 2; 1 is never read");
        assert_eq!(walk.chain, table.ancestry(20));
        assert_eq!(walk.last, Some(stat(2)));
    }

    #[test]
    fn procargs2_yields_the_environment_after_the_arguments() {
        let mut buf = 2i32.to_ne_bytes().to_vec();
        buf.extend(b"/bin/agent\0\0\0\0agent\0-p\0ENTIRE_SESSION_ID=s1\0HOME=/h\0\0junk\0");
        let env = environ_of_procargs2(&buf).unwrap();
        assert_eq!(env.get("ENTIRE_SESSION_ID"), Some(OsStr::new("s1")));
        assert_eq!(env.get("HOME"), Some(OsStr::new("/h")));
        assert_eq!(env.get("-p"), None);
        assert_eq!(env.get("junk"), None);
        assert_eq!(environ_of_procargs2(&buf[..3]), None);
    }

    #[test]
    fn environ_lookup_matches_whole_names() {
        let env = Environ(
            b"ENTIRE_SESSION_ID_X=no\0HOME=/h\0ENTIRE_SESSION_ID=s1\0ENTIRE_SESSION_ID=s2\0E=\0".to_vec(),
        );
        assert_eq!(env.get("ENTIRE_SESSION_ID"), Some(OsStr::new("s1")));
        assert_eq!(env.get("HOME"), Some(OsStr::new("/h")));
        assert_eq!(env.get("E"), Some(OsStr::new("")));
        assert_eq!(env.get("ENTIRE"), None);
        assert_eq!(Environ::default().get("HOME"), None);
    }
}
