//! macOS: `proc_pidinfo(PROC_PIDTBSDINFO)`.

use super::{Environ, ProcStat, ProcessTable};

pub struct System;

fn bsdinfo(pid: i32) -> Option<libc::proc_bsdinfo> {
    if pid <= 0 {
        return None;
    }
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    // SAFETY: `info` is a properly sized, writable proc_bsdinfo.
    let got = unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDTBSDINFO, 0, (&raw mut info).cast(), size) };
    (got == size).then_some(info)
}

impl ProcessTable for System {
    fn stat(&self, pid: i32) -> Option<ProcStat> {
        let info = bsdinfo(pid)?;
        const SZOMB: u32 = 5;
        // No controlling terminal is NODEV (all bits set).
        let tty = if info.e_tdev == u32::MAX { 0 } else { u64::from(info.e_tdev) };
        Some(ProcStat {
            pid,
            ppid: info.pbi_ppid as i32,
            start_time: info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec,
            zombie: info.pbi_status == SZOMB,
            tty,
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

    /// `sysctl(KERN_PROCARGS2)`, for a process of our own user only.
    fn environ(&self, pid: i32) -> Option<Environ> {
        // SAFETY: geteuid cannot fail.
        if bsdinfo(pid)?.pbi_uid != unsafe { libc::geteuid() } {
            return None;
        }
        let mut argmax: libc::c_int = 0;
        let mut size = std::mem::size_of::<libc::c_int>();
        let mut mib = [libc::CTL_KERN, libc::KERN_ARGMAX];
        // SAFETY: `argmax` is writable for `size` bytes.
        let rc = unsafe {
            libc::sysctl(mib.as_mut_ptr(), 2, (&raw mut argmax).cast(), &mut size, std::ptr::null_mut(), 0)
        };
        if rc != 0 || argmax <= 0 {
            return None;
        }
        let mut buf = vec![0u8; argmax as usize];
        let mut size = buf.len();
        let mut mib = [libc::CTL_KERN, libc::KERN_PROCARGS2, pid];
        // SAFETY: `buf` is writable for `size` bytes.
        let rc = unsafe {
            libc::sysctl(mib.as_mut_ptr(), 3, buf.as_mut_ptr().cast(), &mut size, std::ptr::null_mut(), 0)
        };
        if rc != 0 {
            return None;
        }
        buf.truncate(size);
        super::environ_of_procargs2(&buf)
    }
}
