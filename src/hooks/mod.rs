//! The entry layer for hooks: git hooks (pre-push among them) and agent
//! hooks. Each parses what its caller hands it, calls the domain, and turns
//! failures into one `entire:` warning: a hook never fails the user's
//! operation.

pub mod agents;
pub mod git;
