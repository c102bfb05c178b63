//! The fuzzer's alphabet: the commands a generated sequence is made of, with
//! the exact text each one puts on the wire.
//!
//! Text uses the scenario placeholders (`{client}`, `{sender}`, `{rcpt}`,
//! `{rcpt_unknown}`), so the same words serve a live session (filled from the
//! target profile) and an emitted scenario file (kept as written).

use std::collections::BTreeSet;
use std::fmt;

use crate::wire::Reply;

/// One command of a generated sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `EHLO {client}` (RFC 5321 4.1.1.1).
    Ehlo,
    /// `HELO {client}` (RFC 5321 4.1.1.1).
    Helo,
    /// `MAIL FROM:<{sender}>` (RFC 5321 4.1.1.2).
    Mail,
    /// `RCPT TO:<{rcpt}>`, a recipient the server accepts (RFC 5321 4.1.1.3).
    RcptKnown,
    /// `RCPT TO:<{rcpt_unknown}>`, a recipient the server rejects.
    RcptUnknown,
    /// `DATA`, followed by a short message when the server answers 354 (4.1.1.4).
    Data,
    /// `BDAT 23` with a 23-octet chunk, not the last (RFC 3030 2).
    BdatChunk,
    /// `BDAT 23 LAST` with a 23-octet chunk (RFC 3030 2).
    BdatLast,
    /// `RSET` (RFC 5321 4.1.1.5).
    Rset,
    /// `NOOP` (RFC 5321 4.1.1.9).
    Noop,
    /// `VRFY {rcpt}` (RFC 5321 4.1.1.6).
    Vrfy,
    /// `EXPN {rcpt}` (RFC 5321 4.1.1.7).
    Expn,
    /// `HELP` (RFC 5321 4.1.1.8).
    Help,
    /// `AUTH` with credentials no server accepts (RFC 4954 4).
    Auth,
    /// `STARTTLS` (RFC 3207 4); a 220 ends the fuzz session.
    StartTls,
    /// `QUIT` (RFC 5321 4.1.1.10).
    Quit,
}

/// Every operation, in the order strategies list them.
pub const ALL_OPS: [Op; 16] = [
    Op::Ehlo,
    Op::Helo,
    Op::Mail,
    Op::RcptKnown,
    Op::RcptUnknown,
    Op::Data,
    Op::BdatChunk,
    Op::BdatLast,
    Op::Rset,
    Op::Noop,
    Op::Vrfy,
    Op::Expn,
    Op::Help,
    Op::Auth,
    Op::StartTls,
    Op::Quit,
];

/// The message sent after a 354: header lines, a blank line, a body line.
/// The end-of-data line `.` follows (RFC 5321 4.1.1.4).
pub const DATA_LINES: [&str; 5] = [
    "From: <{sender}>",
    "To: <{rcpt}>",
    "Subject: smtp-harness fuzz",
    "",
    "fuzz",
];

/// The chunk sent after every BDAT: a minimal message in canonical form
/// (RFC 3030 2 requires CRLF line endings). Its length is in the command.
pub const BDAT_CHUNK: &str = "Subject: fuzz\r\n\r\nfuzz\r\n";

/// `AUTH PLAIN` initial response for user `fuzz`, password `fuzz`
/// (base64 of `\0fuzz\0fuzz`, RFC 4616): credentials meant to be refused.
pub const AUTH_PLAIN_RESPONSE: &str = "AGZ1enoAZnV6eg==";

impl Op {
    /// The verb, e.g. `RCPT`.
    pub fn verb(self) -> &'static str {
        match self {
            Op::Ehlo => "EHLO",
            Op::Helo => "HELO",
            Op::Mail => "MAIL",
            Op::RcptKnown | Op::RcptUnknown => "RCPT",
            Op::Data => "DATA",
            Op::BdatChunk | Op::BdatLast => "BDAT",
            Op::Rset => "RSET",
            Op::Noop => "NOOP",
            Op::Vrfy => "VRFY",
            Op::Expn => "EXPN",
            Op::Help => "HELP",
            Op::Auth => "AUTH",
            Op::StartTls => "STARTTLS",
            Op::Quit => "QUIT",
        }
    }

    /// A short lower-case name for file names, e.g. `rcpt-unknown`.
    pub fn slug(self) -> &'static str {
        match self {
            Op::Ehlo => "ehlo",
            Op::Helo => "helo",
            Op::Mail => "mail",
            Op::RcptKnown => "rcpt",
            Op::RcptUnknown => "rcpt-unknown",
            Op::Data => "data",
            Op::BdatChunk => "bdat",
            Op::BdatLast => "bdat-last",
            Op::Rset => "rset",
            Op::Noop => "noop",
            Op::Vrfy => "vrfy",
            Op::Expn => "expn",
            Op::Help => "help",
            Op::Auth => "auth",
            Op::StartTls => "starttls",
            Op::Quit => "quit",
        }
    }

    /// The EHLO keyword the server must advertise before this command is
    /// sent, if any. Without it the command is skipped, not sent: a BDAT
    /// chunk sent to a server without CHUNKING would be read as a command
    /// line (RFC 3030 2).
    pub fn requires(self) -> Option<&'static str> {
        match self {
            Op::BdatChunk | Op::BdatLast => Some("CHUNKING"),
            Op::Auth => Some("AUTH"),
            Op::StartTls => Some("STARTTLS"),
            _ => None,
        }
    }

    /// The command line, with placeholders, without CRLF. `auth_mech` is the
    /// mechanism AUTH uses (see [`Extensions::auth_mechanism`]).
    pub fn line(self, auth_mech: &str) -> String {
        match self {
            Op::Ehlo => "EHLO {client}".into(),
            Op::Helo => "HELO {client}".into(),
            Op::Mail => "MAIL FROM:<{sender}>".into(),
            Op::RcptKnown => "RCPT TO:<{rcpt}>".into(),
            Op::RcptUnknown => "RCPT TO:<{rcpt_unknown}>".into(),
            Op::Data => "DATA".into(),
            Op::BdatChunk => format!("BDAT {}", BDAT_CHUNK.len()),
            Op::BdatLast => format!("BDAT {} LAST", BDAT_CHUNK.len()),
            Op::Rset => "RSET".into(),
            Op::Noop => "NOOP".into(),
            Op::Vrfy => "VRFY {rcpt}".into(),
            Op::Expn => "EXPN {rcpt}".into(),
            Op::Help => "HELP".into(),
            Op::Auth if auth_mech.eq_ignore_ascii_case("PLAIN") => {
                format!("AUTH PLAIN {AUTH_PLAIN_RESPONSE}")
            }
            Op::Auth => format!("AUTH {auth_mech}"),
            Op::StartTls => "STARTTLS".into(),
            Op::Quit => "QUIT".into(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::RcptUnknown => f.write_str("RCPT(unknown)"),
            Op::BdatLast => f.write_str("BDAT(LAST)"),
            _ => f.write_str(self.verb()),
        }
    }
}

/// A sequence of operations, shown as `EHLO, MAIL, RCPT` (also its `Debug`,
/// which proptest writes into regression files).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sequence(pub Vec<Op>);

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&words.join(", "))
    }
}

impl fmt::Debug for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{self}]")
    }
}

/// What an EHLO reply advertised (RFC 5321 4.1.1.1): keywords upper-cased,
/// and the SASL mechanisms of the AUTH keyword (RFC 4954 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// The keywords, e.g. `CHUNKING`, `SIZE`.
    pub keywords: BTreeSet<String>,
    /// AUTH mechanisms in the order advertised.
    pub auth_mechanisms: Vec<String>,
}

impl Extensions {
    /// Reads the keyword lines of a 250 reply to EHLO (every line after the first).
    pub fn from_ehlo(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            if keyword == "AUTH" {
                for mech in words {
                    let mech = mech.to_ascii_uppercase();
                    if !ext.auth_mechanisms.contains(&mech) {
                        ext.auth_mechanisms.push(mech);
                    }
                }
            }
            ext.keywords.insert(keyword);
        }
        ext
    }

    /// Whether `keyword` was advertised.
    pub fn has(&self, keyword: &str) -> bool {
        self.keywords.contains(keyword)
    }

    /// The mechanism AUTH uses: PLAIN when offered (with an initial
    /// response), else the first one offered (cancelled with `*` at the
    /// first challenge, RFC 4954 4).
    pub fn auth_mechanism(&self) -> &str {
        if self.auth_mechanisms.iter().any(|m| m == "PLAIN") {
            return "PLAIN";
        }
        self.auth_mechanisms.first().map_or("PLAIN", String::as_str)
    }

    /// The operations this server can be sent: extension commands only
    /// when their keyword is advertised.
    pub fn alphabet(&self) -> Vec<Op> {
        ALL_OPS
            .into_iter()
            .filter(|op| op.requires().is_none_or(|k| self.has(k)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ehlo(lines: &[&str]) -> Reply {
        Reply {
            code: 250,
            enhanced: None,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            bare_lf: false,
        }
    }

    #[test]
    fn bdat_line_states_the_chunk_length() {
        // RFC 3030 2: the argument is the exact length of the chunk in octets.
        assert_eq!(BDAT_CHUNK.len(), 23);
        assert_eq!(Op::BdatLast.line("PLAIN"), "BDAT 23 LAST");
        assert_eq!(Op::BdatChunk.line("PLAIN"), "BDAT 23");
    }

    #[test]
    fn auth_plain_response_is_base64_of_the_plain_message() {
        // RFC 4616 2: message = [authzid] NUL authcid NUL passwd.
        let decoded: Vec<u8> = {
            let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut bits = 0u32;
            let mut n = 0;
            let mut out = Vec::new();
            for c in AUTH_PLAIN_RESPONSE.bytes().filter(|&c| c != b'=') {
                let v = table.iter().position(|&t| t == c).unwrap() as u32;
                bits = (bits << 6) | v;
                n += 6;
                if n >= 8 {
                    n -= 8;
                    out.push((bits >> n) as u8);
                    bits &= (1 << n) - 1;
                }
            }
            out
        };
        assert_eq!(decoded, b"\0fuzz\0fuzz");
    }

    #[test]
    fn extensions_gate_the_alphabet() {
        let plain = Extensions::from_ehlo(&ehlo(&["mx greets c", "PIPELINING", "SIZE 100"]));
        let ops = plain.alphabet();
        assert!(ops.contains(&Op::Mail));
        assert!(!ops.contains(&Op::BdatLast) && !ops.contains(&Op::Auth));
        assert!(!ops.contains(&Op::StartTls));

        let rich =
            Extensions::from_ehlo(&ehlo(&["mx", "chunking", "AUTH LOGIN plain", "STARTTLS"]));
        assert_eq!(rich.alphabet().len(), ALL_OPS.len());
        assert_eq!(rich.auth_mechanism(), "PLAIN");
        assert_eq!(
            Op::Auth.line(rich.auth_mechanism()),
            "AUTH PLAIN AGZ1enoAZnV6eg=="
        );
        let login = Extensions::from_ehlo(&ehlo(&["mx", "AUTH LOGIN"]));
        assert_eq!(Op::Auth.line(login.auth_mechanism()), "AUTH LOGIN");
    }

    #[test]
    fn sequences_read_as_verbs() {
        let s = Sequence(vec![Op::Ehlo, Op::RcptUnknown, Op::BdatLast]);
        assert_eq!(s.to_string(), "EHLO, RCPT(unknown), BDAT(LAST)");
        assert_eq!(format!("{s:?}"), "[EHLO, RCPT(unknown), BDAT(LAST)]");
    }
}
