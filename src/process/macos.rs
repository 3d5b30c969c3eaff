//! macOS: `proc_pidinfo(PROC_PIDTBSDINFO)`.

use super::{ProcStat, ProcessTable};

pub struct System;

impl ProcessTable for System {
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        if pid <= 0 {
            return None;
        }
        let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
        // SAFETY: `info` is a properly sized, writable proc_bsdinfo.
        let got = unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDTBSDINFO, 0, (&raw mut info).cast(), size) };
        if got != size {
            return None;
        }
        const SZOMB: u32 = 5;
        Some(ProcStat {
            ppid: info.pbi_ppid as i32,
            start_time: info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec,
            zombie: info.pbi_status == SZOMB,
        })
    }

    fn name(&self, pid: i32) -> Option<String> {
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is writable for its whole length.
        let len = unsafe { libc::proc_name(pid, buf.as_mut_ptr().cast(), buf.len() as u32) };
        (len > 0).then(|| String::from_utf8_lossy(&buf[..len as usize]).into_owned())
    }

    /// Not read on macOS (KERN_PROCARGS2 parsing is not worth it for the one
    /// use: spotting a cherry-pick, which git also marks in most cases).
    fn cmdline(&self, _pid: i32) -> Option<Vec<String>> {
        None
    }
}
