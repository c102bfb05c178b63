//! The reply-syntax check run under every reply of every scenario: line
//! endings, reply line length, and the enhanced status codes RFC 2034
//! requires once ENHANCEDSTATUSCODES is advertised. Violations are
//! reported against their clause even when the reply code was the one the
//! scenario expected.

use std::collections::VecDeque;

use crate::scenario::{Level, RfcRef};
use crate::wire::Reply;

/// Longest reply line, reply code and CRLF included (RFC 5321 4.5.3.1.5).
pub const MAX_REPLY_LINE: usize = 512;

/// One breach of the reply syntax.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The clause broken.
    pub clause: RfcRef,
    /// How strongly the clause requires it.
    pub level: Level,
    /// What was wrong.
    pub message: String,
    /// The reply concerned, first line.
    pub reply: String,
}

/// Which command a reply answers, as far as the reply checks care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The connection greeting.
    Greeting,
    /// EHLO or HELO: exempt from enhanced status codes (RFC 2034 4).
    Hello {
        /// True for EHLO, whose 250 reply lists the extensions.
        ehlo: bool,
    },
    /// DATA, whose 354 starts the message.
    Data,
    /// The end of message data (`CRLF.CRLF`) or a BDAT chunk.
    EndOfData,
    /// Any other command, by verb.
    Command(String),
    /// More replies than commands sent: the server answered something unasked.
    Unknown,
}

/// Follows what the client sent to tell which command each reply answers,
/// and whether the server advertised ENHANCEDSTATUSCODES.
#[derive(Debug, Default)]
pub struct ReplyTracker {
    pending: VecDeque<Owner>,
    in_data: bool,
    data_tail: Vec<u8>,
    started: bool,
    /// ENHANCEDSTATUSCODES was in the last EHLO reply.
    pub enhanced_codes: bool,
}

impl ReplyTracker {
    /// Notes bytes the client sent.
    pub fn sent(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.in_data {
                // Look for CRLF.CRLF across writes (the tail keeps the last octets).
                let mut window = std::mem::take(&mut self.data_tail);
                let offset = window.len();
                window.extend_from_slice(rest);
                let end = find(&window, b"\r\n.\r\n").or_else(|| {
                    // A message that ends right after the 354, `.` on the first line.
                    (offset == 0 && window.starts_with(b".\r\n")).then_some(usize::MAX)
                });
                match end {
                    Some(usize::MAX) => {
                        self.finish_data();
                        rest = &rest[3..];
                    }
                    Some(at) => {
                        self.finish_data();
                        let consumed = at + 5 - offset;
                        rest = &rest[consumed.min(rest.len())..];
                    }
                    None => {
                        let keep = window.len().saturating_sub(4);
                        self.data_tail = window[keep..].to_vec();
                        return;
                    }
                }
                continue;
            }
            let line_end = find(rest, b"\r\n").map_or(rest.len(), |i| i + 2);
            let line = &rest[..line_end];
            rest = &rest[line_end..];
            let verb: String = String::from_utf8_lossy(line)
                .split([' ', '\r', '\n'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let owner = match verb.as_str() {
                "EHLO" => Owner::Hello { ehlo: true },
                "HELO" => Owner::Hello { ehlo: false },
                "DATA" => Owner::Data,
                "BDAT" => {
                    // The chunk follows the command line; its size says how much to skip.
                    let size = String::from_utf8_lossy(line)
                        .split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse::<usize>().ok())
                        .unwrap_or(0);
                    rest = &rest[size.min(rest.len())..];
                    Owner::EndOfData
                }
                _ => Owner::Command(verb),
            };
            self.pending.push_back(owner);
        }
    }

    /// After a TLS handshake the server discards whatever was pipelined
    /// behind STARTTLS and forgets the EHLO state (RFC 3207 4.2), so no
    /// reply is owed to those commands and the next EHLO decides again.
    pub fn tls_started(&mut self) {
        self.pending.clear();
        self.in_data = false;
        self.data_tail.clear();
        self.enhanced_codes = false;
    }

    fn finish_data(&mut self) {
        self.in_data = false;
        self.data_tail.clear();
        self.pending.push_back(Owner::EndOfData);
    }

    /// Takes the owner of the next reply and checks the reply.
    pub fn received(&mut self, reply: &Reply) -> Vec<Violation> {
        let owner = if self.started {
            self.pending.pop_front().unwrap_or(Owner::Unknown)
        } else {
            self.started = true;
            Owner::Greeting
        };
        let violations = check(reply, &owner, self.enhanced_codes);
        match owner {
            Owner::Hello { ehlo: true } if reply.code == 250 => {
                self.enhanced_codes = reply.lines.iter().skip(1).any(|l| {
                    l.split_whitespace()
                        .next()
                        .is_some_and(|k| k.eq_ignore_ascii_case("ENHANCEDSTATUSCODES"))
                });
            }
            Owner::Data if reply.code == 354 => {
                self.in_data = true;
                // Anything already sent after DATA in the same write was message data.
                self.pending.clear();
            }
            _ => {}
        }
        violations
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn clause(number: u32, section: &str) -> RfcRef {
    RfcRef {
        number,
        section: section.to_string(),
    }
}

/// Checks one reply given which command it answers.
pub fn check(reply: &Reply, owner: &Owner, enhanced_codes: bool) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut add = |clause: RfcRef, level: Level, message: String| {
        found.push(Violation {
            clause,
            level,
            message,
            reply: reply.to_string(),
        })
    };
    if reply.bare_lf {
        add(
            clause(5321, "2.3.8"),
            Level::Must,
            "a reply line ends in a bare LF; only CRLF may end a line".into(),
        );
    }
    if let Some(len) = reply
        .lines
        .iter()
        .map(|l| l.len() + 6)
        .max()
        .filter(|&l| l > MAX_REPLY_LINE)
    {
        add(
            clause(5321, "4.5.3.1.5"),
            Level::Should,
            format!(
                "a reply line is {len} octets; the limit is {MAX_REPLY_LINE} including the code and CRLF"
            ),
        );
    }
    let exempt = matches!(owner, Owner::Greeting | Owner::Hello { .. }) || reply.class() == 3;
    if enhanced_codes && !exempt {
        let class = reply.class();
        for (i, line) in reply.lines.iter().enumerate() {
            match crate::wire::EnhancedStatus::parse_prefix(line) {
                None => {
                    let which = if i == 0 {
                        "the reply"
                    } else {
                        "a continuation line"
                    };
                    add(
                        clause(2034, "4"),
                        Level::Must,
                        format!(
                            "ENHANCEDSTATUSCODES is advertised but {which} has no enhanced status code"
                        ),
                    );
                    break;
                }
                Some(status) if status.class != class => {
                    add(
                        clause(2034, "4"),
                        Level::Must,
                        format!(
                            "enhanced status {status} does not agree with reply code {}",
                            reply.code
                        ),
                    );
                    break;
                }
                Some(status) if i > 0 && Some(status) != reply.enhanced => {
                    add(
                        clause(2034, "4"),
                        Level::Must,
                        "the lines of a multi-line reply carry different enhanced status codes"
                            .into(),
                    );
                    break;
                }
                Some(_) => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ReplyParser;

    fn reply(text: &str) -> Reply {
        ReplyParser::default()
            .parse(text.as_bytes())
            .unwrap()
            .unwrap()
            .0
    }

    fn owner(verb: &str) -> Owner {
        Owner::Command(verb.into())
    }

    #[test]
    fn clean_replies_have_no_violations() {
        assert!(check(&reply("250 2.0.0 OK\r\n"), &owner("NOOP"), true).is_empty());
        assert!(check(&reply("250 OK\r\n"), &owner("NOOP"), false).is_empty());
        assert!(check(&reply("354 go ahead\r\n"), &Owner::Data, true).is_empty());
    }

    #[test]
    fn greeting_and_hello_replies_are_exempt_from_enhanced_codes() {
        assert!(check(&reply("220 mx ESMTP\r\n"), &Owner::Greeting, true).is_empty());
        assert!(
            check(
                &reply("501 Syntax: EHLO hostname\r\n"),
                &Owner::Hello { ehlo: true },
                true
            )
            .is_empty()
        );
    }

    #[test]
    fn missing_or_disagreeing_enhanced_codes_cite_rfc_2034() {
        let v = check(&reply("503 bad sequence\r\n"), &owner("RCPT"), true);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].clause.to_string(), "RFC 2034 4");
        let v = check(&reply("503 2.0.0 bad sequence\r\n"), &owner("RCPT"), true);
        assert!(v[0].message.contains("does not agree"), "{v:?}");
        let v = check(&reply("250-2.1.5 a\r\n250 b\r\n"), &owner("EXPN"), true);
        assert!(v[0].message.contains("continuation line"), "{v:?}");
        let v = check(
            &reply("250-2.1.5 a\r\n250 2.1.0 b\r\n"),
            &owner("EXPN"),
            true,
        );
        assert!(v[0].message.contains("different"), "{v:?}");
    }

    #[test]
    fn bare_lf_and_long_lines_are_reported() {
        let v = check(&reply("250 2.0.0 OK\n"), &owner("NOOP"), false);
        assert_eq!(v[0].clause.to_string(), "RFC 5321 2.3.8");
        let long = format!("250 {}\r\n", "x".repeat(507));
        let v = check(&reply(&long), &owner("NOOP"), false);
        assert_eq!(v[0].clause.to_string(), "RFC 5321 4.5.3.1.5");
        assert_eq!(v[0].level, Level::Should);
        let limit = format!("250 {}\r\n", "x".repeat(506));
        assert!(check(&reply(&limit), &owner("NOOP"), false).is_empty());
    }

    #[test]
    fn tracker_follows_pipelining_data_and_ehlo() {
        let mut t = ReplyTracker::default();
        assert!(t.received(&reply("220 mx\r\n")).is_empty());
        t.sent(b"EHLO c\r\n");
        t.received(&reply("250-mx\r\n250 ENHANCEDSTATUSCODES\r\n"));
        assert!(t.enhanced_codes);
        t.sent(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
        assert!(t.received(&reply("250 2.1.0 ok\r\n")).is_empty());
        assert!(t.received(&reply("250 2.1.5 ok\r\n")).is_empty());
        assert!(t.received(&reply("354 go\r\n")).is_empty());
        t.sent(b"Subject: x\r\n\r\nbody\r\n");
        t.sent(b".\r\nNOOP\r\n");
        // The end of data without an enhanced code is a violation; NOOP's reply is checked next.
        assert_eq!(t.received(&reply("250 queued\r\n")).len(), 1);
        assert!(t.received(&reply("250 2.0.0 ok\r\n")).is_empty());
        t.sent(b"HELO c\r\n");
        assert!(t.received(&reply("250 mx\r\n")).is_empty());
    }
}
