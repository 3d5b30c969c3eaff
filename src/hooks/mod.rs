//! The entry layer for hooks: git hooks, agent hooks and pre-push. Each
//! parses what its caller hands it, calls the domain, and turns failures
//! into one `entire:` warning: a hook never fails the user's operation.

pub mod agent;
pub mod git;
pub mod pre_push;
