//! The built-in rules. Most are derived from gitleaks' default rule set
//! (MIT; `config/gitleaks.toml`, gitleaks v8.30), keeping its rule IDs so
//! that the markers read the same to people who know it; a few are
//! broadened or added where agent sessions leak in other shapes (URLs with
//! passwords, command-line flags, `NAME=value` assignments). The list, and
//! what each rule covers: docs/privacy.md.
//!
//! Every pattern is ASCII-only and compiled without Unicode, so the set runs
//! as one lazy DFA over bytes. Where a pattern has a capture group, the
//! first group that took part in the match is the secret (the rest is
//! context that stays); otherwise the whole match is.

/// One rule: its ID (the marker says `[REDACTED:<id>]`), its pattern, and
/// the least Shannon entropy (bits per byte) a match must have, so that
/// words and placeholders of the right shape stay.
pub struct Builtin {
    pub id: &'static str,
    pub pattern: &'static str,
    pub min_entropy: f64,
    /// What looks like the secret but is a published example or a name.
    pub allow: Option<&'static str>,
    /// Where the secret ends, given where the pattern's match ends: for a
    /// secret whose end no regex can find in linear time.
    pub extend: Option<Extend>,
}

/// `(text, end of the pattern's match, footers) -> end of the secret`.
pub type Extend = fn(&[u8], usize, &mut Footers) -> usize;

const fn rule(id: &'static str, pattern: &'static str) -> Builtin {
    Builtin { id, pattern, min_entropy: 0.0, allow: None, extend: None }
}

const fn with_entropy(id: &'static str, pattern: &'static str, min_entropy: f64) -> Builtin {
    Builtin { id, pattern, min_entropy, allow: None, extend: None }
}

/// The characters after a keyword and before a value in an assignment:
/// quotes (JSON-escaped too), spaces, then `=`, `:`, `=>` or `:=`.
macro_rules! assign {
    () => {
        r#"(?:\\?["'`])?\s{0,3}(?:=|:|=>|:=)\s{0,3}(?:\\?["'`])?"#
    };
}

/// In priority order: where two matches overlap, the earlier rule's wins.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        extend: Some(private_key_end),
        ..rule("private-key", r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----")
    },
    Builtin {
        allow: Some("EXAMPLE$"),
        ..with_entropy("aws-access-token", r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b", 3.0)
    },
    with_entropy(
        "aws-secret-access-key",
        concat!(
            r"(?i)aws[a-z0-9_.-]{0,20}secret[a-z0-9_.-]{0,20}",
            assign!(),
            r"([a-z0-9/+=]{40})(?:[^a-z0-9/+=]|$)"
        ),
        3.0,
    ),
    rule("gcp-api-key", r"\b(AIza[A-Za-z0-9_-]{35})(?:[^A-Za-z0-9_-]|$)"),
    with_entropy(
        "azure-storage-key",
        r"(?i)\b(?:AccountKey|SharedAccessKey)\s*=\s*([a-z0-9+/]{20,}={0,2})",
        3.0,
    ),
    with_entropy(
        "azure-ad-client-secret",
        r#"(?:^|[\\'"`\s>=:(,)])([a-zA-Z0-9_~.]{3}[0-9]Q~[a-zA-Z0-9_~.-]{31,34})(?:$|[\\'"`\s<),])"#,
        3.0,
    ),
    rule("github-pat", r"\bghp_[0-9a-zA-Z]{36}\b"),
    rule("github-oauth", r"\bgho_[0-9a-zA-Z]{36}\b"),
    rule("github-app-token", r"\b(?:ghu|ghs)_[0-9a-zA-Z]{36}\b"),
    rule("github-refresh-token", r"\bghr_[0-9a-zA-Z]{36}\b"),
    rule("github-fine-grained-pat", r"\bgithub_pat_[0-9a-zA-Z_]{82}\b"),
    rule("gitlab-pat", r"\bglpat-[0-9a-zA-Z_.-]{20,}"),
    rule("anthropic-api-key", r"\bsk-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_-]{20,}"),
    with_entropy(
        "openai-api-key",
        r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20,}T3BlbkFJ[A-Za-z0-9]{20,}|[A-Za-z0-9]{32,})",
        3.0,
    ),
    rule("slack-token", r"\bxox[abeoprs]-[0-9A-Za-z-]{10,}"),
    rule("slack-app-token", r"(?i)\bxapp-[0-9]-[a-z0-9]+-[0-9]+-[a-z0-9]+"),
    rule("slack-webhook-url", r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}"),
    rule("stripe-access-token", r"\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}\b"),
    with_entropy("npm-access-token", r"(?i)\bnpm_[a-z0-9]{36}\b", 2.0),
    rule("pypi-upload-token", r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    with_entropy("jwt", r"\bey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/_-]{17,}\.(?:[a-zA-Z0-9/_-]{10,}={0,2})?", 3.0),
    rule(
        "url-password",
        r#"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/?#@"'\\<>]{1,256}:([^\s/?#@"'\\<>]{1,256})@"#,
    ),
    rule("connection-string-password", r#"(?i);\s*(?:password|pwd)\s*=\s*([^;\s"'\\]{1,256})"#),
    with_entropy("bearer-token", r"(?i)\bbearer\s+([a-z0-9._~+/-]{16,}=*)", 3.0),
    with_entropy(
        "cli-secret-argument",
        r#"(?i)(?:^|\s)--?[a-z0-9-]{0,30}(?:key|token|secret|password|passwd|pwd)(?:=|\s+)([^\s"'\\-][^\s"'\\]{5,255})"#,
        2.5,
    ),
    with_entropy(
        "generic-secret",
        concat!(
            r"(?i)(?:key|secret|token|passw(?:or)?d|pwd|credential|auth)[a-z0-9_.-]{0,20}",
            assign!(),
            r"([a-z0-9_.~+/=!@#$%^&*-]{12,256})"
        ),
        3.5,
    ),
];

/// The `-----END` footers of one text, each searched for once: the next
/// one after a header serves every header before it, so that a text full
/// of headers costs linear time.
#[derive(Default)]
pub struct Footers {
    /// The first footer at or after `from`, as last searched.
    last: Option<(usize, Option<usize>)>,
}

impl Footers {
    fn next(&mut self, text: &[u8], from: usize) -> Option<usize> {
        static FOOTER: std::sync::LazyLock<regex::bytes::Regex> =
            std::sync::LazyLock::new(|| regex::bytes::Regex::new("-----END").expect("a literal"));
        match self.last {
            Some((searched, Some(found))) if searched <= from && found >= from => return Some(found),
            Some((searched, None)) if searched <= from => return None,
            _ => {}
        }
        let found = FOOTER.find_at(text, from).map(|m| m.start());
        self.last = Some((from, found));
        found
    }
}

/// The end of a private key block whose header ends at `from`: its
/// `-----END …-----` footer when one comes within 16 KiB (no key is
/// longer), else the end of the base64 lines that follow (raw or
/// JSON-escaped line breaks): a block cut short is still a secret.
fn private_key_end(text: &[u8], from: usize, footers: &mut Footers) -> usize {
    const MAX_BLOCK: usize = 16 * 1024;
    if let Some(at) = footers.next(text, from).filter(|&at| at - from <= MAX_BLOCK) {
        let footer = at + 8;
        let rest = &text[footer..(footer + 110).min(text.len())];
        if let Some(close) = rest.windows(5).position(|w| w == b"-----") {
            return footer + close + 5;
        }
    }
    let limit = (from + MAX_BLOCK).min(text.len());
    let mut end = from;
    let mut i = from;
    while i < limit {
        match (text[i], text.get(i + 1)) {
            (b'\\', Some(b'n' | b'r')) => i += 2,
            (b'\n' | b'\r', _) => i += 1,
            (b, _) if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') => {
                i += 1;
                end = i;
            }
            _ => break,
        }
    }
    end
}

/// Values of the generic shapes that are not secrets: what other features
/// key on (git object names, UUIDs) and paths.
pub fn looks_like_an_identifier(value: &[u8]) -> bool {
    let hex = |b: &[u8]| b.iter().all(u8::is_ascii_hexdigit);
    let is_sha = matches!(value.len(), 40 | 64) && hex(value);
    let is_uuid = value.len() == 36
        && value.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    let is_path = value.starts_with(b"/") || value.starts_with(b"./") || value.starts_with(b"~/");
    is_sha || is_uuid || is_path
}
