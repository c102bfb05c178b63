//! Server replies (RFC 5321 section 4.2): single and multi-line, with the
//! optional enhanced status code of RFC 2034 / RFC 3463.
//!
//! ```text
//! Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//!              Reply-code [ SP textstring ] CRLF
//! Reply-code = %x32-35 %x30-35 %x30-39
//! ```

use std::fmt;

/// Default cap on one reply line, CRLF included. RFC 5321 4.5.3.1.5 sets 512
/// octets; real servers exceed it now and then, so the cap is generous and the
/// strict limit is checked separately by the reply-syntax check.
pub const DEFAULT_MAX_REPLY_LINE: usize = 4096;

/// Default cap on the number of lines in one multi-line reply.
pub const DEFAULT_MAX_REPLY_LINES: usize = 1000;

/// An enhanced mail system status code `class.subject.detail` (RFC 3463 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EnhancedStatus {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, 0 to 999.
    pub subject: u16,
    /// The detail, 0 to 999.
    pub detail: u16,
}

impl EnhancedStatus {
    /// Reads a status code at the start of `text` (followed by a space or the
    /// end of the text), as RFC 2034 4 places it.
    pub fn parse_prefix(text: &str) -> Option<EnhancedStatus> {
        let word = text.split(' ').next()?;
        let mut parts = word.split('.');
        let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let number = |s: &str| -> Option<u16> {
            (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let class = match class {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        Some(EnhancedStatus {
            class,
            subject: number(subject)?,
            detail: number(detail)?,
        })
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One complete server reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reply {
    /// The three-digit reply code, the same on every line.
    pub code: u16,
    /// The enhanced status code at the start of the first line's text, if any.
    pub enhanced: Option<EnhancedStatus>,
    /// The text of each line, after the code and its separator, without CRLF.
    pub lines: Vec<String>,
    /// True when at least one line ended in a bare LF instead of CRLF.
    pub bare_lf: bool,
}

impl Reply {
    /// The first digit of the code: 2 positive completion, 3 positive
    /// intermediate, 4 transient negative, 5 permanent negative (RFC 5321 4.2.1).
    pub fn class(&self) -> u8 {
        (self.code / 100) as u8
    }

    /// The reply's text lines joined by spaces, for one-line summaries.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// The reply as it would appear on the wire (CRLF line endings).
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.push_str(&format!("{}{}{}\r\n", self.code, sep, line));
        }
        if self.lines.is_empty() {
            out.push_str(&format!("{}\r\n", self.code));
        }
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(first) = self.lines.first().filter(|l| !l.is_empty()) {
            write!(f, " {first}")?;
        }
        if self.lines.len() > 1 {
            write!(f, " (+{} lines)", self.lines.len() - 1)?;
        }
        Ok(())
    }
}

/// Why bytes from the server are not a well-formed reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line grew past the cap without a line ending.
    #[error("reply line longer than {limit} octets")]
    LineTooLong {
        /// The cap in force.
        limit: usize,
    },
    /// A multi-line reply went on past the line cap.
    #[error("multi-line reply longer than {limit} lines")]
    TooManyLines {
        /// The cap in force.
        limit: usize,
    },
    /// The line does not start with three digits.
    #[error("reply line does not start with a three-digit code: {line:?}")]
    BadCode {
        /// The offending line, lossily decoded.
        line: String,
    },
    /// The code's digits are outside `%x32-35 %x30-35 %x30-39`.
    #[error("reply code {code} is outside 200-559 (RFC 5321 4.2)")]
    CodeOutOfRange {
        /// The code read.
        code: u16,
    },
    /// The fourth octet is neither a space, a hyphen nor the line's end.
    #[error("reply code must be followed by space, hyphen or CRLF: {line:?}")]
    BadSeparator {
        /// The offending line, lossily decoded.
        line: String,
    },
    /// A continuation line carries a different code than the first line.
    #[error("multi-line reply changes code from {first} to {later}")]
    CodeMismatch {
        /// The code of the first line.
        first: u16,
        /// The differing code.
        later: u16,
    },
}

/// Incremental reply parser: feed it the bytes received so far and it either
/// returns a complete reply with the number of bytes it used, asks for more,
/// or reports a malformed reply.
#[derive(Debug, Clone, Copy)]
pub struct ReplyParser {
    /// Longest accepted line, line ending included.
    pub max_line: usize,
    /// Most lines accepted in one reply.
    pub max_lines: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser {
            max_line: DEFAULT_MAX_REPLY_LINE,
            max_lines: DEFAULT_MAX_REPLY_LINES,
        }
    }
}

impl ReplyParser {
    /// Parses one reply from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete reply yet.
    pub fn parse(&self, buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
        let mut pos = 0;
        let mut code = None;
        let mut lines = Vec::new();
        let mut bare_lf = false;
        loop {
            let rest = &buf[pos..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > self.max_line {
                    return Err(ReplyError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                return Ok(None);
            };
            if nl + 1 > self.max_line {
                return Err(ReplyError::LineTooLong {
                    limit: self.max_line,
                });
            }
            let mut line = &rest[..nl];
            match line.last() {
                Some(b'\r') => line = &line[..line.len() - 1],
                _ => bare_lf = true,
            }
            pos += nl + 1;
            let (line_code, last, text) = parse_line(line)?;
            match code {
                None => code = Some(line_code),
                Some(first) if first != line_code => {
                    return Err(ReplyError::CodeMismatch {
                        first,
                        later: line_code,
                    });
                }
                Some(_) => {}
            }
            lines.push(text);
            if last {
                let code = line_code;
                let enhanced = lines.first().and_then(|t| EnhancedStatus::parse_prefix(t));
                return Ok(Some((
                    Reply {
                        code,
                        enhanced,
                        lines,
                        bare_lf,
                    },
                    pos,
                )));
            }
            if lines.len() >= self.max_lines {
                return Err(ReplyError::TooManyLines {
                    limit: self.max_lines,
                });
            }
        }
    }
}

/// Splits one line (without its line ending) into code, "is last line" and text.
fn parse_line(line: &[u8]) -> Result<(u16, bool, String), ReplyError> {
    let lossy = || String::from_utf8_lossy(line).into_owned();
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return Err(ReplyError::BadCode { line: lossy() });
    }
    let code = u16::from(line[0] - b'0') * 100
        + u16::from(line[1] - b'0') * 10
        + u16::from(line[2] - b'0');
    if !(b'2'..=b'5').contains(&line[0]) || !(b'0'..=b'5').contains(&line[1]) {
        return Err(ReplyError::CodeOutOfRange { code });
    }
    match line.get(3) {
        None => Ok((code, true, String::new())),
        Some(b' ') => Ok((code, true, String::from_utf8_lossy(&line[4..]).into_owned())),
        Some(b'-') => Ok((
            code,
            false,
            String::from_utf8_lossy(&line[4..]).into_owned(),
        )),
        Some(_) => Err(ReplyError::BadSeparator { line: lossy() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(input: &str) -> Result<Option<(Reply, usize)>, ReplyError> {
        ReplyParser::default().parse(input.as_bytes())
    }

    #[rstest]
    #[case::single("250 OK\r\n", 250, &["OK"], None)]
    #[case::code_only("250\r\n", 250, &[""], None)]
    #[case::enhanced("550 5.1.1 User unknown\r\n", 550, &["5.1.1 User unknown"], Some((5, 1, 1)))]
    #[case::enhanced_alone("250 2.0.0\r\n", 250, &["2.0.0"], Some((2, 0, 0)))]
    #[case::multi("250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 250, &["mx.example.test", "PIPELINING", "SIZE 1000"], None)]
    #[case::empty_continuation("214-\r\n214 end\r\n", 214, &["", "end"], None)]
    #[case::three_digit_detail("451 4.7.650 try later\r\n", 451, &["4.7.650 try later"], Some((4, 7, 650)))]
    #[case::not_enhanced_four_parts("250 1.2.3.4 ok\r\n", 250, &["1.2.3.4 ok"], None)]
    #[case::not_enhanced_class3("354 3.0.0 go\r\n", 354, &["3.0.0 go"], None)]
    fn parses_good_replies(
        #[case] input: &str,
        #[case] code: u16,
        #[case] lines: &[&str],
        #[case] enhanced: Option<(u8, u16, u16)>,
    ) {
        let (reply, used) = parse(input).unwrap().unwrap();
        assert_eq!(reply.code, code);
        assert_eq!(reply.lines, lines);
        assert_eq!(used, input.len());
        assert_eq!(
            reply.enhanced,
            enhanced.map(|(class, subject, detail)| EnhancedStatus {
                class,
                subject,
                detail
            })
        );
        assert!(!reply.bare_lf);
    }

    #[rstest]
    #[case::mismatch("250-a\r\n251 b\r\n", ReplyError::CodeMismatch { first: 250, later: 251 })]
    #[case::letters("abc hello\r\n", ReplyError::BadCode { line: "abc hello".into() })]
    #[case::short("25\r\n", ReplyError::BadCode { line: "25".into() })]
    #[case::no_separator("250OK\r\n", ReplyError::BadSeparator { line: "250OK".into() })]
    #[case::tab_separator("250\tOK\r\n", ReplyError::BadSeparator { line: "250\tOK".into() })]
    #[case::class_one("199 nope\r\n", ReplyError::CodeOutOfRange { code: 199 })]
    #[case::class_six("600 nope\r\n", ReplyError::CodeOutOfRange { code: 600 })]
    #[case::second_digit("260 nope\r\n", ReplyError::CodeOutOfRange { code: 260 })]
    #[case::empty_line("\r\n", ReplyError::BadCode { line: "".into() })]
    #[case::garbage_continuation("250-ok\r\nHELLO\r\n", ReplyError::BadCode { line: "HELLO".into() })]
    fn rejects_bad_replies(#[case] input: &str, #[case] error: ReplyError) {
        assert_eq!(parse(input), Err(error));
    }

    #[rstest]
    #[case::empty("")]
    #[case::partial_line("250 O")]
    #[case::no_lf("250 OK\r")]
    #[case::unfinished_multi("250-a\r\n250-b\r\n")]
    fn waits_for_more(#[case] input: &str) {
        assert_eq!(parse(input), Ok(None));
    }

    #[test]
    fn line_cap_applies_before_and_after_the_line_ending_arrives() {
        let parser = ReplyParser {
            max_line: 10,
            max_lines: 5,
        };
        let long = "250 0123456789";
        assert_eq!(
            parser.parse(long.as_bytes()),
            Err(ReplyError::LineTooLong { limit: 10 })
        );
        assert_eq!(
            parser.parse(format!("{long}\r\n").as_bytes()),
            Err(ReplyError::LineTooLong { limit: 10 })
        );
        assert!(parser.parse(b"250 0123\r\n").unwrap().is_some());
    }

    #[test]
    fn line_count_cap_stops_endless_continuations() {
        let parser = ReplyParser {
            max_line: 100,
            max_lines: 3,
        };
        assert_eq!(
            parser.parse(b"250-a\r\n250-b\r\n250-c\r\n250-d\r\n"),
            Err(ReplyError::TooManyLines { limit: 3 })
        );
    }

    #[test]
    fn bare_lf_is_accepted_but_flagged() {
        let (reply, used) = parse("250-a\n250 b\r\n").unwrap().unwrap();
        assert!(reply.bare_lf);
        assert_eq!(used, 13);
    }

    #[test]
    fn leaves_following_bytes_for_the_next_reply() {
        let input = "250 first\r\n354 second\r\n";
        let (reply, used) = parse(input).unwrap().unwrap();
        assert_eq!(reply.code, 250);
        let (next, _) = parse(&input[used..]).unwrap().unwrap();
        assert_eq!(next.code, 354);
    }

    #[test]
    fn to_wire_round_trips() {
        let input = "250-mx\r\n250-SIZE 10\r\n250 HELP\r\n";
        let (reply, _) = parse(input).unwrap().unwrap();
        assert_eq!(reply.to_wire(), input);
        assert_eq!(reply.class(), 2);
    }
}
