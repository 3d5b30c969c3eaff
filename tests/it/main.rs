//! Integration tests: one binary, one module per area. Real git in temp
//! repos, real processes, an isolated HOME and state dir per test.

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
mod never_silent;
mod output;
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
