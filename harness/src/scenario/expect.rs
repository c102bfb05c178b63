//! `S:` lines: which reply the server must give next.

use std::fmt;

use crate::wire::{EnhancedStatus, Reply};

/// A reply-code pattern: each digit fixed or `x` (any), e.g. `250`, `25x`, `5xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodePattern(pub [Option<u8>; 3]);

impl CodePattern {
    /// Parses `250`, `25x`, `2xx`. The first digit must be fixed and 2 to 5.
    pub fn parse(text: &str) -> Option<CodePattern> {
        let bytes = text.as_bytes();
        if bytes.len() != 3 || !(b'2'..=b'5').contains(&bytes[0]) {
            return None;
        }
        let mut digits = [None; 3];
        for (slot, &b) in digits.iter_mut().zip(bytes) {
            *slot = match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'x' | b'X' => None,
                _ => return None,
            };
        }
        Some(CodePattern(digits))
    }

    /// Whether `code` fits the pattern.
    pub fn matches(&self, code: u16) -> bool {
        let actual = [
            (code / 100) as u8,
            (code / 10 % 10) as u8,
            (code % 10) as u8,
        ];
        self.0
            .iter()
            .zip(actual)
            .all(|(want, got)| want.is_none_or(|w| w == got))
    }
}

impl fmt::Display for CodePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            match d {
                Some(d) => write!(f, "{d}")?,
                None => f.write_str("x")?,
            }
        }
        Ok(())
    }
}

/// An enhanced status pattern: `5.5.1`, `5.5.x`, `5.x.x` (RFC 3463).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusPattern {
    /// Class: 2, 4 or 5.
    pub class: u8,
    /// Subject, or any.
    pub subject: Option<u16>,
    /// Detail, or any.
    pub detail: Option<u16>,
}

impl StatusPattern {
    /// Parses `c.s.d` where `s` and `d` may be `x`.
    pub fn parse(text: &str) -> Option<StatusPattern> {
        let mut parts = text.split('.');
        let (c, s, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let class = match c {
            "2" => 2,
            "4" => 4,
            "5" => 5,
            _ => return None,
        };
        let part = |p: &str| -> Option<Option<u16>> {
            if p.eq_ignore_ascii_case("x") {
                Some(None)
            } else if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok().map(Some)
            } else {
                None
            }
        };
        Some(StatusPattern {
            class,
            subject: part(s)?,
            detail: part(d)?,
        })
    }

    /// Whether `status` fits the pattern.
    pub fn matches(&self, status: &EnhancedStatus) -> bool {
        self.class == status.class
            && self.subject.is_none_or(|s| s == status.subject)
            && self.detail.is_none_or(|d| d == status.detail)
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |p: Option<u16>| p.map_or("x".to_string(), |v| v.to_string());
        write!(
            f,
            "{}.{}.{}",
            self.class,
            part(self.subject),
            part(self.detail)
        )
    }
}

/// What one `S:` line demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Line in the scenario file.
    pub line: usize,
    /// Acceptable reply codes; empty when only a close is expected.
    pub codes: Vec<CodePattern>,
    /// Acceptable enhanced status codes; empty means "not checked". Only
    /// checked when the reply carries one, since ENHANCEDSTATUSCODES is optional.
    pub enhanced: Vec<StatusPattern>,
    /// The server must close the connection after this reply (or instead of
    /// one, when `codes` is empty).
    pub close: bool,
}

impl Expectation {
    /// Whether a reply is expected at all (`S: close` expects none).
    pub fn wants_reply(&self) -> bool {
        !self.codes.is_empty()
    }

    /// Checks a reply; `Err` says what did not fit.
    pub fn check(&self, reply: &Reply) -> Result<(), String> {
        if !self.codes.iter().any(|c| c.matches(reply.code)) {
            return Err(format!(
                "reply code {} is not {}",
                reply.code,
                self.codes_text()
            ));
        }
        if let (false, Some(status)) = (self.enhanced.is_empty(), reply.enhanced)
            && !self.enhanced.iter().any(|p| p.matches(&status))
        {
            return Err(format!(
                "enhanced status {status} is not {}",
                join(&self.enhanced)
            ));
        }
        Ok(())
    }

    /// The acceptable codes as written, e.g. `250|252`.
    pub fn codes_text(&self) -> String {
        join(&self.codes)
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.codes.is_empty() {
            parts.push(self.codes_text());
        }
        if !self.enhanced.is_empty() {
            parts.push(join(&self.enhanced));
        }
        if self.close {
            parts.push("close".into());
        }
        f.write_str(&parts.join(" "))
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("250", 250, true)]
    #[case("250", 251, false)]
    #[case("25x", 252, true)]
    #[case("25x", 260, false)]
    #[case("2xx", 221, true)]
    #[case("5xx", 421, false)]
    #[case("x50", 250, false)] // invalid pattern, see below
    fn code_patterns(#[case] pattern: &str, #[case] code: u16, #[case] expected: bool) {
        match CodePattern::parse(pattern) {
            Some(p) => assert_eq!(p.matches(code), expected),
            None => assert!(pattern.starts_with('x'), "{pattern} should parse"),
        }
    }

    #[rstest]
    #[case("1xx")]
    #[case("6xx")]
    #[case("25")]
    #[case("2500")]
    #[case("2a0")]
    fn bad_code_patterns(#[case] pattern: &str) {
        assert_eq!(CodePattern::parse(pattern), None);
    }

    #[rstest]
    #[case("5.5.1", (5, 5, 1), true)]
    #[case("5.5.x", (5, 5, 4), true)]
    #[case("5.x.x", (5, 1, 1), true)]
    #[case("5.5.1", (5, 5, 2), false)]
    #[case("4.x.x", (5, 5, 2), false)]
    fn status_patterns(
        #[case] pattern: &str,
        #[case] status: (u8, u16, u16),
        #[case] expected: bool,
    ) {
        let p = StatusPattern::parse(pattern).unwrap();
        let s = EnhancedStatus {
            class: status.0,
            subject: status.1,
            detail: status.2,
        };
        assert_eq!(p.matches(&s), expected);
        assert_eq!(p.to_string(), pattern);
    }

    #[test]
    fn enhanced_status_is_checked_only_when_present() {
        let e = Expectation {
            line: 1,
            codes: vec![CodePattern::parse("503").unwrap()],
            enhanced: vec![StatusPattern::parse("5.5.1").unwrap()],
            close: false,
        };
        let reply = |text: &str| Reply {
            code: 503,
            enhanced: EnhancedStatus::parse_prefix(text),
            lines: vec![text.into()],
            bare_lf: false,
        };
        assert!(e.check(&reply("bad sequence")).is_ok());
        assert!(e.check(&reply("5.5.1 bad sequence")).is_ok());
        assert_eq!(
            e.check(&reply("5.1.1 bad sequence")),
            Err("enhanced status 5.1.1 is not 5.5.1".into())
        );
    }
}
