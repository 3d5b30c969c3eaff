//! Transcripts on the branch, stored in portions: each checkpoint holds the
//! bytes its session's transcript gained since the session's previous
//! checkpoint, with the offset they start at and the checkpoint that holds
//! the bytes before, so a session writes its transcript about once
//! however many commits it makes (docs/checkpoints.md).
//!
//! The session record carries the mark of its last checkpoint
//! ([`MARK_KEY`]): set with the checkpoint's entry, under the session's
//! lock, so two checkpoints of one session never take the same bytes, and
//! kept when the same checkpoint is written again, so a retry stores the
//! same portion.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::transcript_source::{SkipReason, open_transcript};
use super::{Metadata, Reader};
use crate::error::{Error, Result};
use crate::fsutil::{Links, open_regular};
use crate::redact::{NotText, Redactor};
use crate::session::{CheckpointId, SessionRecord};
use crate::settings::TranscriptRules;

/// The session record's field that holds its last checkpoint's [`Mark`].
pub const MARK_KEY: &str = "transcript_checkpointed";

/// Which bytes of which transcript a checkpoint holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Mark {
    pub checkpoint_id: CheckpointId,
    pub path: String,
    /// Where the portion starts in the transcript.
    pub start: u64,
    /// Where it ends: the transcript's length when the checkpoint was made.
    pub end: u64,
    /// The checkpoint holding the bytes before `start`; None from 0.
    pub previous: Option<CheckpointId>,
}

impl Mark {
    fn of(record: &SessionRecord) -> Option<Mark> {
        serde_json::from_value(record.extra.get(MARK_KEY)?.clone()).ok()
    }
}

/// Sets the record's mark for checkpoint `id`: the bytes its transcript
/// gained since the mark of the session's previous checkpoint (all of it
/// when the path changed or the file shrank). The same checkpoint keeps
/// its mark.
pub fn advance(record: &mut SessionRecord, id: &CheckpointId) {
    let Some(path) = record.transcript_path.clone().filter(|p| !p.is_empty()) else { return };
    let last = Mark::of(record);
    if last.as_ref().is_some_and(|m| m.checkpoint_id == *id && m.path == path) {
        return;
    }
    // Never blocks: a FIFO named as the transcript is refused at open.
    let Ok(Some(file)) = open_regular(Path::new(&path), Links::Refuse) else { return };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return };
    let (start, previous) = match last {
        Some(last) if last.path == path && last.end <= len => (last.end, Some(last.checkpoint_id)),
        _ => (0, None),
    };
    // JSON lines end on a whole line: one the agent is still writing goes
    // to the next portion, so that redaction always sees a secret whole.
    let end = match cut_point(&file, start, len - start) {
        _ if !path.ends_with(".jsonl") => len,
        cut if file_ends_line(&file, cut) => cut,
        _ => start,
    };
    let mark = Mark { checkpoint_id: id.clone(), path, start, end, previous };
    record.extra.insert(MARK_KEY.to_owned(), serde_json::to_value(mark).expect("a mark serializes"));
}

/// The portion of the transcript a checkpoint stores.
pub struct Portion {
    file: File,
    pub start: u64,
    /// Where the stored bytes end: the mark's end, or the last whole line
    /// under the cap.
    pub end: u64,
    /// The portion's length before any cut.
    pub original: u64,
    pub previous: Option<CheckpointId>,
}

impl Portion {
    /// The portion checkpoint `id` of `session` stores: from its mark, or
    /// the whole transcript when the record has none for it. None without a
    /// transcript path; the reason when its source is refused
    /// (`transcript_source`).
    pub fn of(
        session: &SessionRecord,
        id: &CheckpointId,
        rules: &TranscriptRules,
    ) -> Option<Result<Portion, SkipReason>> {
        let path = session.transcript_path.as_deref().filter(|p| !p.is_empty())?;
        let file = match open_transcript(Path::new(path), session.agent.as_deref(), rules) {
            Ok(file) => file,
            Err(reason) => return Some(Err(reason)),
        };
        let len = file.metadata().ok()?.len();
        let (start, end, previous) =
            match Mark::of(session).filter(|m| m.checkpoint_id == *id && m.path == path) {
                Some(mark) if mark.end <= len => (mark.start, mark.end, mark.previous),
                _ => (0, len, None),
            };
        let original = end - start;
        let end = if original > rules.max_bytes { cut_point(&file, start, rules.max_bytes) } else { end };
        Some(Ok(Portion { file, start, end, original, previous }))
    }

    pub fn truncated(&self) -> bool {
        self.end - self.start < self.original
    }

    /// What the checkpoint's root metadata says about the portion.
    pub fn describe(&self, meta: &mut Metadata, stored: usize) {
        // A portion from 0 is the whole transcript, as checkpoints held it
        // before portions: nothing to say.
        if let Some(previous) = &self.previous {
            meta.extra.insert("transcript_offset".into(), Value::from(self.start));
            meta.extra.insert("transcript_previous".into(), Value::from(previous.as_str()));
        }
        // Redaction changed its length: where the next portion must start.
        if stored as u64 != self.end - self.start {
            meta.extra.insert("transcript_end".into(), Value::from(self.end));
        }
        if self.truncated() {
            meta.extra.insert("transcript_truncated".into(), Value::Bool(true));
            meta.extra.insert("transcript_original_bytes".into(), Value::from(self.original));
        }
    }
}

impl Portion {
    /// The one place a transcript's bytes are read for the branch: the
    /// portion, secrets redacted; the reason when it is not stored at all
    /// (not text), so that nothing is half-written.
    pub fn redacted(&self, redactor: &Redactor) -> std::result::Result<Vec<u8>, &'static str> {
        let mut bytes = Vec::with_capacity((self.end - self.start) as usize);
        let mut reader = ReadAt { file: &self.file, at: self.start, end: self.end };
        if reader.read_to_end(&mut bytes).is_err() {
            return Err("unreadable");
        }
        match redactor.jsonl(&bytes) {
            Ok(Cow::Borrowed(_)) => Ok(bytes),
            Ok(Cow::Owned(redacted)) => Ok(redacted),
            Err(NotText) => Err("not UTF-8 text"),
        }
    }
}

/// Reads `file` from `at` to `end`, whatever its current position.
struct ReadAt<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min((self.end - self.at) as usize);
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Whether the byte before `at` ends a line.
fn file_ends_line(file: &File, at: u64) -> bool {
    let mut byte = [0];
    at > 0 && file.read_exact_at(&mut byte, at - 1).is_ok() && byte[0] == b'\n'
}

/// Where to cut the bytes from `start` to at most `cap` of them: after the
/// last full line that fits, or at `start + cap` when no line ends before.
fn cut_point(file: &File, start: u64, cap: u64) -> u64 {
    const CHUNK: u64 = 64 * 1024;
    let limit = start + cap;
    let mut buf = vec![0; CHUNK as usize];
    let mut end = limit;
    while end > start {
        let from = end.saturating_sub(CHUNK).max(start);
        let chunk = &mut buf[..(end - from) as usize];
        if file.read_exact_at(chunk, from).is_err() {
            break;
        }
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return from + i as u64 + 1;
        }
        end = from;
    }
    limit
}

/// The transcript as far as checkpoint `id` holds it, reassembled from its
/// portion and those before it. Fails when a portion it needs is not on
/// the branch, or does not start where the one before it ends.
pub fn reassemble(reader: &mut Reader, id: &CheckpointId) -> Result<Vec<u8>> {
    let mut portions = Vec::new();
    let mut next = Some(id.clone());
    while let Some(id) = next.take() {
        if portions.len() > 100_000 {
            return Err(Error::internal("the chain of transcript portions does not end"));
        }
        let meta = reader
            .metadata(&id)?
            .ok_or_else(|| Error::internal(format!("checkpoint {id} is not on the branch")))?;
        let bytes = reader.transcript_portion(&id)?.unwrap_or_default();
        let offset = meta.extra.get("transcript_offset").and_then(Value::as_u64).unwrap_or(0);
        let end =
            meta.extra.get("transcript_end").and_then(Value::as_u64).unwrap_or(offset + bytes.len() as u64);
        next = meta.extra.get("transcript_previous").and_then(Value::as_str).and_then(CheckpointId::parse);
        portions.push((id, offset, end, bytes));
    }
    let mut whole = Vec::new();
    let mut ended = 0;
    for (id, offset, end, bytes) in portions.into_iter().rev() {
        if offset != ended {
            return Err(Error::internal(format!(
                "checkpoint {id}'s transcript starts at byte {offset}, but the portions before it end at {ended}"
            )));
        }
        whole.extend_from_slice(&bytes);
        ended = end;
    }
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionId;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut tmp, bytes).unwrap();
        let file = File::open(tmp.path()).unwrap();
        (tmp, file)
    }

    #[test]
    fn cuts_after_the_last_line_that_fits() {
        let (_tmp, file) = file_with(b"one\ntwo\nthree\n");
        assert_eq!(cut_point(&file, 0, 10), 8); // "one\ntwo\n"
        assert_eq!(cut_point(&file, 0, 8), 8);
        assert_eq!(cut_point(&file, 0, 7), 4);
        assert_eq!(cut_point(&file, 4, 7), 8, "from an offset");
        assert_eq!(cut_point(&file, 4, 3), 7, "no line ends: the cap");
    }

    #[test]
    fn cuts_at_the_cap_when_no_line_ends_before_it() {
        let (_tmp, file) = file_with(&[b'x'; 200_000]);
        assert_eq!(cut_point(&file, 0, 150_000), 150_000);
        assert_eq!(cut_point(&file, 0, 0), 0);
    }

    #[test]
    fn finds_a_newline_several_chunks_back() {
        let mut bytes = vec![b'x'; 300_000];
        bytes[10] = b'\n';
        let (_tmp, file) = file_with(&bytes);
        assert_eq!(cut_point(&file, 0, 250_000), 11);
    }

    #[test]
    fn each_checkpoint_takes_what_the_transcript_gained_and_a_retry_the_same() {
        let (tmp, _) = file_with(b"1\n");
        let mut record = SessionRecord::new(SessionId::parse("s1").unwrap());
        record.transcript_path = Some(tmp.path().to_string_lossy().into_owned());
        let (a, b) =
            (CheckpointId::parse("00000000000a").unwrap(), CheckpointId::parse("00000000000b").unwrap());
        advance(&mut record, &a);
        let first = Mark::of(&record).unwrap();
        assert_eq!((first.start, first.end, first.previous.clone()), (0, 2, None));
        std::fs::write(tmp.path(), b"1\n22\n").unwrap();
        advance(&mut record, &a);
        assert_eq!(Mark::of(&record).unwrap(), first, "a retry keeps its portion");
        advance(&mut record, &b);
        let second = Mark::of(&record).unwrap();
        assert_eq!((second.start, second.end, second.previous), (2, 5, Some(a.clone())));
        let rules =
            TranscriptRules { max_bytes: 1024, dirs: Some(vec![tmp.path().parent().unwrap().into()]) };
        let portion = Portion::of(&record, &b, &rules).unwrap().unwrap();
        assert_eq!((portion.start, portion.end, portion.truncated()), (2, 5, false));
        // Another checkpoint's mark: this one stores the whole transcript.
        let whole = Portion::of(&record, &a, &rules).unwrap().unwrap();
        assert_eq!((whole.start, whole.end, whole.previous), (0, 5, None));
        // A transcript that shrank (rewritten) starts again from 0.
        std::fs::write(tmp.path(), b"x\n").unwrap();
        let c = CheckpointId::parse("00000000000c").unwrap();
        advance(&mut record, &c);
        let third = Mark::of(&record).unwrap();
        assert_eq!((third.start, third.end, third.previous), (0, 2, None));
    }
}
