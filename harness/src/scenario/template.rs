//! Text to send, with `{variable}` placeholders filled from the target
//! profile and `{repeat:N:text}` for long lines.

/// Variables a scenario may use; the profile supplies their values.
pub const VARIABLES: &[(&str, &str)] = &[
    ("client", "the name the client gives in EHLO/HELO"),
    ("domain", "a mail domain the server accepts mail for"),
    ("sender", "a reverse-path the server accepts"),
    ("rcpt", "a recipient the server accepts"),
    ("rcpt2", "a second recipient the server accepts"),
    (
        "rcpt_unknown",
        "a recipient in an accepted domain that the server rejects",
    ),
    (
        "rcpt_relay",
        "a recipient in a domain the server does not relay to",
    ),
    ("list", "a mailing list EXPN can expand"),
    ("user", "the user name to authenticate as (AUTH)"),
    ("password", "the password (secret: redacted in transcripts)"),
    (
        "auth_plain",
        "BASE64 of NUL user NUL password, the PLAIN response (RFC 4616; secret)",
    ),
    ("auth_login_user", "BASE64 of the user name, for AUTH LOGIN"),
    (
        "auth_login_password",
        "BASE64 of the password, for AUTH LOGIN (secret)",
    ),
    (
        "cram_md5",
        "the CRAM-MD5 answer to the last 334 challenge (RFC 2195; computed by the runner; secret)",
    ),
    (
        "size_limit",
        "the server's fixed maximum message size in octets (RFC 1870); optional",
    ),
    (
        "size_over",
        "one octet more than size_limit (RFC 1870); optional",
    ),
    (
        "rcpt_nomail",
        "a recipient in a domain that accepts no mail (RFC 7504 556); optional",
    ),
];

/// Variables whose values are secrets: wherever they are sent, transcripts
/// show `[redacted]` instead.
pub const SECRET_VARIABLES: &[&str] =
    &["password", "auth_plain", "auth_login_password", "cram_md5"];

/// Variables the runner computes during the exchange rather than reading
/// from the profile; they need `user` and `password`.
pub const COMPUTED_VARIABLES: &[&str] = &["cram_md5"];

/// Longest `{repeat:N:...}` allowed, so a typo cannot ask for gigabytes.
pub const MAX_REPEAT: usize = 1 << 20;

/// One piece of text to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes sent as they are.
    Literal(Vec<u8>),
    /// A profile variable, by name.
    Variable(String),
    /// `text` repeated `count` times.
    Repeat {
        /// How many times.
        count: usize,
        /// What to repeat.
        text: String,
    },
}

/// A sequence of pieces that renders to bytes once variables are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    /// The pieces in order.
    pub pieces: Vec<Piece>,
}

/// A variable the profile does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the target profile does not define {{{0}}}")]
pub struct MissingVariable(pub String);

impl Template {
    /// Appends another template (used to merge pipelined lines into one write).
    pub fn extend(&mut self, other: Template) {
        self.pieces.extend(other.pieces);
    }

    /// Appends literal bytes.
    pub fn push_literal(&mut self, bytes: &[u8]) {
        if let Some(Piece::Literal(last)) = self.pieces.last_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.pieces.push(Piece::Literal(bytes.to_vec()));
        }
    }

    /// Names of the variables used.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Variable(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Fills in variables with `lookup`.
    pub fn render(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<u8>, MissingVariable> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.extend_from_slice(bytes),
                Piece::Variable(name) => {
                    let value = lookup(name).ok_or_else(|| MissingVariable(name.clone()))?;
                    out.extend_from_slice(value.as_bytes());
                }
                Piece::Repeat { count, text } => {
                    out.extend_from_slice(text.repeat(*count).as_bytes())
                }
            }
        }
        Ok(out)
    }
}
