//! Handlers for git hooks and agent hooks.
