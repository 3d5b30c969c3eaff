//! Installing and removing entire's git hook shims (SPEC §6).
