//! One error type for the whole binary: a message, an optional hint, and the
//! exit code it maps to (SPEC §8: 1 failure, 2 usage, 126/127 from `run`).

use std::fmt;

#[derive(Debug)]
pub struct Error {
    message: String,
    hint: Option<String>,
    code: i32,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error { message: message.into(), hint: None, code: 1 }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error { code: 2, ..Error::new(message) }
    }

    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done: `reading x: <cause>`.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.code
    }

    pub fn report(&self) {
        eprintln!("entire: error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::new(err.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::new(err.to_string())
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

/// A warning of entire's own; hooks use it instead of failing.
pub fn warn(message: impl fmt::Display) {
    eprintln!("entire: {message}");
}
