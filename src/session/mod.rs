//! Sessions: the record (docs/spec.md §3), the per-repo store and the live registry.

mod id;
mod live;
mod prefix;
mod record;
mod store;

pub use id::{CheckpointId, SessionId, new_session_id};
pub use live::{LiveEntry, LiveRegistry, LockState, live_here};
pub use prefix::{Prefix, ambiguous, by_prefix};
pub use record::{CheckpointRef, EnvRejected, FoundIn, Resolution, ResolvedBy, SessionRecord, Source};
pub use store::{Committed, Kept, Pending, SessionLock, Store};

/// The variable through which a launcher names its session to the agent.
pub const SESSION_ENV: &str = "ENTIRE_SESSION_ID";
