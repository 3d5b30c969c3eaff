//! Links the `entire` binary as a position-dependent executable on Linux.
//! Every hook is a start of it, and a position-independent one makes the
//! dynamic loader apply thousands of relative relocations (gitoxide's
//! static tables) at each start, writing to pages that each start then
//! copies: about a sixth of a start's instructions and page faults
//! (docs/performance.md). What it gives up is the randomised load address
//! of the binary itself (libraries, stack and heap keep theirs), as Go
//! binaries, entire's Go CLI among them, do by default. A static build
//! (`crt-static`) is left as rustc links it: static-pie has no loader to
//! pay for.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if linux && !features.split(',').any(|f| f == "crt-static") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
