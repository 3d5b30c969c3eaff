//! Shared fixtures for integration tests.
