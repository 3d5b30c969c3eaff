//! How the `entire` binary is linked on Linux (glibc). Every hook is a
//! start of it, three per commit, so it is linked to start cheaply
//! (docs/design.md, "Start-up"; the numbers in docs/performance.md):
//!
//! - position-dependent (`-no-pie`): a position-independent binary makes
//!   the dynamic loader apply thousands of relative relocations
//!   (gitoxide's static tables) at each start, writing to pages that each
//!   start then copies. It gives up the randomised load address of the
//!   binary itself (libraries, stack and heap keep theirs), as Go binaries,
//!   entire's Go CLI among them, do by default;
//! - with libgcc's unwinder linked in rather than `libgcc_s.so`: one
//!   library fewer to load and bind, and its constructor, which asks the
//!   CPU for its features (`cpuid`, a trap to the hypervisor in a VM), no
//!   longer runs. rustc asks for `-lgcc_s` itself, so a linker script of
//!   that name, found first, names `libgcc_eh.a` instead; without that
//!   archive (`cc -print-file-name`) the binary links `libgcc_s` as before.
//!
//! A static build (`crt-static`) is left as rustc links it: static-pie has
//! no loader to pay for, and `-no-pie` would break it.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name| std::env::var(name).unwrap_or_default();
    let crt_static = var("CARGO_CFG_TARGET_FEATURE").split(',').any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" || crt_static {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    if let Some(unwinder) = static_unwinder() {
        let dir = PathBuf::from(var("OUT_DIR")).join("unwinder");
        std::fs::create_dir_all(&dir).expect("OUT_DIR");
        let script = format!("INPUT(\"{}\")\n", unwinder.display());
        std::fs::write(dir.join("libgcc_s.so"), script).expect("OUT_DIR");
        println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
    }
}

/// `libgcc_eh.a` as the C compiler that links the binary finds it.
fn static_unwinder() -> Option<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let out = std::process::Command::new(cc).arg("-print-file-name=libgcc_eh.a").output().ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // Not found, the compiler prints the bare name back.
    (out.status.success() && path.is_absolute() && path.is_file()).then_some(path)
}
