//! Integration tests: one binary, one module per area. Real git in temp
//! repos, real processes, an isolated HOME and state dir per test.
//!
//! A test that needs more than git, a shell and Rust (zsh, fish,
//! shellcheck, tmux, node, the real agents, the hook managers…) is
//! `#[ignore = "needs …: run scripts/test"]`: plain `cargo test` reports it
//! ignored, never passed, and `scripts/test` installs the tools and runs it
//! (`--include-ignored`). A test that needs root ends in `_as_root`, so that
//! scripts/test can leave it out (`--skip as_root`) when not run as root.

mod agents;
mod attribution;
mod bench;
mod checkpoints;
mod cli;
mod demo;
mod doctor;
mod faults;
mod git_hooks;
mod history;
mod hook_managers;
mod hostile;
mod hot_paths;
mod namespaces;
mod never_silent;
mod output;
mod privacy;
mod real_agents;
mod run;
mod shared_worktree;
mod shell;
mod signals;
mod stripped_env;
mod support;
mod team_reads;
mod teams;
mod trailers;
