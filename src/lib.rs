//! `entire`: records which AI coding-agent session made each git commit.
//!
//! The binary (`main.rs`) only parses arguments and maps errors to exit
//! codes; this library holds everything else, so that integration tests can
//! reach the pure parts (trailers, resolver) directly.

pub mod agents;
pub mod checkpoint;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod fsutil;
pub mod git;
pub mod hookdir;
pub mod hooks;
pub mod process;
pub mod redact;
pub mod resolve;
pub mod session;
pub mod settings;
pub mod style;
pub mod supervise;
