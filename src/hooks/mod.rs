//! Handlers for git hooks and agent hooks. A hook never fails the user's
//! operation because of entire: errors become one `entire:` warning.

pub mod agent;
pub mod agent_settings;
pub mod chain;
pub mod claude;
pub mod gemini;
pub mod git;
pub mod owner;
pub mod post_commit;
pub mod pre_push;
