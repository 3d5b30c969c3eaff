//! `entire hooks <agent> <event>`: reads the agent's JSON payload and has
//! the event recorded (`agents::event`). A hook never fails the agent: it
//! prints nothing on stdout (agents read it), warns at most on stderr, and
//! exits 0.

use std::io::{IsTerminal, Read};

use crate::agents::Spec;
use crate::agents::event::{self, Payload};
use crate::error::{Context, Error, Result, warn};
use crate::git::Repo;
use crate::settings::Settings;

/// Payloads larger than this are not ours to parse (a Write of a big file).
const MAX_PAYLOAD: u64 = 32 << 20;

/// Runs one agent hook. Always exits 0.
pub fn run(spec: &Spec, verb: &str) -> i32 {
    if let Err(err) = handle(spec, verb) {
        warn(format_args!("{} {verb} hook: {err:#}", spec.name));
    }
    0
}

fn handle(spec: &Spec, verb: &str) -> Result<()> {
    // The agent waits for its hook: a lock held elsewhere costs a skip.
    crate::fsutil::set_lock_patience(crate::fsutil::HOOK_LOCK_PATIENCE);
    // Read first, whatever happens next: the agent's write must not fail.
    let input = read_payload()?;
    let event = spec.event(verb).ok_or_else(|| Error::internal(format!("unknown event {verb:?}")))?;
    let cwd = std::env::current_dir().context("current directory")?;
    let Some(repo) = Repo::discover(&cwd)? else { return Ok(()) };
    let settings = Settings::for_repo(&repo)?;
    if !settings.enabled {
        return Ok(());
    }
    let payload: Payload = serde_json::from_slice(&input)
        .map_err(|e| Error::internal(format!("ignoring a payload that is not the expected JSON ({e})")))?;
    event::record(spec, event, &payload, repo, cwd, &settings)
}

fn read_payload() -> Result<Vec<u8>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::internal("expects the agent's JSON payload on stdin"));
    }
    let mut input = Vec::new();
    stdin.lock().take(MAX_PAYLOAD + 1).read_to_end(&mut input).context("reading the payload")?;
    if input.len() as u64 > MAX_PAYLOAD {
        // Drain the rest so the agent's write does not fail.
        let _ = std::io::copy(&mut stdin.lock(), &mut std::io::sink());
        return Err(Error::internal("ignoring a payload larger than 32 MiB"));
    }
    Ok(input)
}
