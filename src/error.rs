//! One error type for the whole binary: what kind of failure it is, a
//! message, an optional hint, the cause it wraps, and the exit code it maps
//! to (docs/spec.md §8: 1 failure, 2 usage, 126/127 from `run`).
//!
//! `{}` shows the message alone, `{:#}` the message and its causes on one
//! line (for warnings); [`Error::report`] prints the causes as `caused by:`
//! lines.

use std::fmt;
use std::io;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Something the user can fix: an argument, the directory it ran in.
    User,
    /// entire itself failed: a file it could not write, a git that failed.
    Internal,
    /// Whoever read our output stopped (`entire sessions | head -1`): not a
    /// failure, and nothing to say about it.
    BrokenPipe,
}

#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
    code: i32,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure of entire's own.
    pub fn internal(message: impl Into<String>) -> Self {
        Error { kind: Kind::Internal, message: message.into(), hint: None, code: 1, source: None }
    }

    /// A failure the user can fix; it should come with a hint.
    pub fn user(message: impl Into<String>) -> Self {
        Error { kind: Kind::User, ..Error::internal(message) }
    }

    /// A command line that does not make sense (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Error { code: 2, ..Error::user(message) }
    }

    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Says what was being done when this failed: `what`, caused by `self`.
    /// The kind, the exit code and the hint stay.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        let (kind, code, hint) = (self.kind, self.code, self.hint.take());
        Error { kind, message: what.to_string(), hint, code, source: Some(Box::new(self)) }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn exit_code(&self) -> i32 {
        self.code
    }

    /// `entire: error: <message>`, a `caused by:` line per cause, then the
    /// hint. Nothing for a closed pipe.
    pub fn report(&self) {
        if self.kind == Kind::BrokenPipe {
            return;
        }
        let mut text = format!("entire: error: {}\n", self.message);
        let mut cause = std::error::Error::source(self);
        while let Some(err) = cause {
            let line = match err.downcast_ref::<Error>() {
                Some(ours) => ours.message.clone(),
                None => err.to_string(),
            };
            text.push_str(&format!("caused by: {line}\n"));
            cause = err.source();
        }
        if let Some(hint) = &self.hint {
            text.push_str(&format!("hint: {hint}\n"));
        }
        // stderr may be closed too; there is nobody left to tell then.
        let _ = io::Write::write_all(&mut io::stderr().lock(), text.as_bytes());
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if f.alternate() {
            let mut cause = std::error::Error::source(self);
            while let Some(err) = cause {
                match err.downcast_ref::<Error>() {
                    Some(ours) => write!(f, ": {}", ours.message)?,
                    None => write!(f, ": {err}")?,
                }
                cause = err.source();
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        let kind = if err.kind() == io::ErrorKind::BrokenPipe { Kind::BrokenPipe } else { Kind::Internal };
        Error { kind, ..Error::internal(err.to_string()) }
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        match err.io_error_kind() {
            Some(kind) => io::Error::from(kind).into(),
            None => Error::internal(err.to_string()),
        }
    }
}

/// Adds context to any error convertible into ours.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }
}

/// A warning of entire's own, on one line; hooks use it instead of failing.
/// An [`Error`] is shown with its causes.
pub fn warn(message: impl fmt::Display) {
    let _ = io::Write::write_all(&mut io::stderr().lock(), format!("entire: {message:#}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing_read() -> Result<()> {
        Err(io::Error::from(io::ErrorKind::NotFound)).context("reading settings.json")
    }

    #[test]
    fn context_keeps_the_cause_as_the_source() {
        let err = failing_read().unwrap_err().context("loading settings");
        assert_eq!(err.to_string(), "loading settings");
        assert_eq!(format!("{err:#}"), "loading settings: reading settings.json: entity not found");
        let source = std::error::Error::source(&err).expect("a cause");
        assert_eq!(source.to_string(), "reading settings.json");
        assert_eq!(err.kind(), Kind::Internal);
    }

    #[test]
    fn kind_code_and_hint_survive_context() {
        let err = Error::usage("bad flag").with_hint("see --help").context("parsing");
        assert_eq!((err.kind(), err.exit_code(), err.hint.as_deref()), (Kind::User, 2, Some("see --help")));
    }

    #[test]
    fn a_closed_pipe_is_its_own_kind_through_context_and_json() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(Error::from(pipe()).context("printing").kind(), Kind::BrokenPipe);
        let json = serde_json::to_writer(FailingWriter(pipe), &[1]).unwrap_err();
        assert_eq!(Error::from(json).kind(), Kind::BrokenPipe);
        assert_eq!(Error::from(io::Error::other("disk full")).kind(), Kind::Internal);
    }

    struct FailingWriter(fn() -> io::Error);

    impl io::Write for FailingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err((self.0)())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
