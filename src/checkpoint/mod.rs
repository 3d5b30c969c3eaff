//! The checkpoints branch `entire/checkpoints/v1` (SPEC §7).
