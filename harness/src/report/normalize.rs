//! Transcript normalisation: what varies from run to run (host names, dates,
//! queue ids, message ids, session ids, ports, TLS details) becomes a stable
//! placeholder, so the same exchange normalised twice gives identical text
//! and a snapshot changes only when behaviour does.
//!
//! Normalisation is declarative: an ordered list of [`RuleSpec`]s (regular
//! expression, replacement, which parts of the transcript it applies to).
//! [`default_rules`] covers common MTAs; a target profile adds its own with
//! `[[normalize]]` tables, replaces a default by reusing its name, or turns
//! one off with `disabled = true`. Time offsets are never part of the text.
//!
//! Secrets are removed first by [`redact`], which every report also uses:
//! the argument of `AUTH <mechanism> <initial-response>` and every client
//! line sent while the server's last reply was a 334 challenge (RFC 4954 4).

use std::borrow::Cow;

use regex_lite::Regex;
use serde::Deserialize;

use crate::runner::Verdict;
use crate::transcript::{Direction, Entry, Transcript};

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// A part of a transcript a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Lines the server sent (`S:`), and the received reply of a finding.
    Server,
    /// Lines the harness sent (`C:`).
    Client,
    /// The harness's notes (`*`), and the message of a finding.
    Note,
}

/// One normalisation rule as written in a profile:
///
/// ```toml
/// [[normalize]]
/// name = "exim-id"
/// pattern = 'id=[0-9A-Za-z-]+'
/// replace = "id=<queue-id>"
/// on = ["server"]          # default: server and note lines
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// A name; a profile rule with a default rule's name replaces it.
    pub name: String,
    /// A regular expression (regex-lite syntax: `(?i)`, `\b`, classes, groups).
    #[serde(default)]
    pub pattern: String,
    /// The replacement; `$1` / `${name}` refer to groups.
    #[serde(default)]
    pub replace: String,
    /// The parts of the transcript the rule applies to.
    #[serde(default = "default_parts")]
    pub on: Vec<Part>,
    /// Turns off the default rule of the same name.
    #[serde(default)]
    pub disabled: bool,
}

fn default_parts() -> Vec<Part> {
    vec![Part::Server, Part::Note]
}

/// A rule that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// The pattern is not a valid regular expression.
    #[error("normalisation rule `{name}`: bad pattern: {message}")]
    BadPattern {
        /// The rule's name.
        name: String,
        /// The regex parser's message.
        message: String,
    },
    /// An enabled rule has no pattern.
    #[error("normalisation rule `{name}` has no pattern (set `pattern`, or `disabled = true`)")]
    NoPattern {
        /// The rule's name.
        name: String,
    },
}

fn rule(name: &str, pattern: &str, replace: &str) -> RuleSpec {
    RuleSpec {
        name: name.into(),
        pattern: pattern.into(),
        replace: replace.into(),
        on: default_parts(),
        disabled: false,
    }
}

const MONTH: &str = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const WEEKDAY: &str = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";

/// The built-in rules, applied in this order after the server's host name
/// (learned from the 220 greeting) has become `<host>`.
pub fn default_rules() -> Vec<RuleSpec> {
    vec![
        // RFC 4954 4: a challenge may carry a nonce or a time stamp (CRAM-MD5, RFC 2195 2).
        rule("sasl-challenge", r"^334 .+$", "334 <challenge>"),
        // Certificate fingerprints and digests, before the time rule sees "12:34:56".
        rule(
            "fingerprint",
            r"\b(?:[0-9A-Fa-f]{2}:){7,}[0-9A-Fa-f]{2}\b",
            "<fingerprint>",
        ),
        rule("long-hex", r"\b[0-9a-fA-F]{32,}\b", "<hex>"),
        // RFC 5322 3.3 date-time, as in greetings and Received fields.
        rule(
            "date-rfc5322",
            &format!(
                r"(?:{WEEKDAY},?\s+)?\b\d{{1,2}}\s+{MONTH}\s+\d{{2,4}}\s+\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:\s+[+-]\d{{4}})?(?:\s+\([A-Za-z ]+\))?"
            ),
            "<date>",
        ),
        rule(
            "date-ctime",
            &format!(
                r"\b{WEEKDAY}\s+{MONTH}\s+\d{{1,2}}\s+\d{{1,2}}:\d{{2}}:\d{{2}}(?:\s+[A-Z]{{3,4}})?\s+\d{{4}}\b"
            ),
            "<date>",
        ),
        rule(
            "date-iso8601",
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
            "<date>",
        ),
        rule("time", r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<time>"),
        // Queue ids: Postfix "queued as 4Xk2...", Exim "id=1abc-...", others.
        rule(
            "queue-id",
            r"(?i)\b(queued as|queue id:?|queued with id)\s+[A-Za-z0-9][A-Za-z0-9._-]*",
            "$1 <queue-id>",
        ),
        rule(
            "exim-id",
            r"\bid=[A-Za-z0-9][A-Za-z0-9._-]*",
            "id=<queue-id>",
        ),
        rule(
            "sendmail-queue-id",
            r"\b[0-9A-Za-z]{8,20}( Message accepted for delivery)",
            "<queue-id>$1",
        ),
        rule(
            "message-id",
            r"(?i)\b(message-id:?\s*|msgid=)<[^<>\s]*>",
            "$1<message-id>",
        ),
        rule(
            "session-id",
            r"(?i)\b(session[ -]?id|session|sid)([:=]\s*)[A-Za-z0-9._/+-]+",
            "$1$2<session-id>",
        ),
        rule("gsmtp-id", r"\S+( - gsmtp)\b", "<session-id>$1"),
        // Addresses and ports: the client's address in replies, listeners in notes.
        rule(
            "ipv6-literal",
            r"(?i)\bIPv6:[0-9a-f:.]*[0-9a-f]",
            "IPv6:<ip>",
        ),
        rule(
            "ipv4-port",
            r"\b(?:\d{1,3}\.){3}\d{1,3}(\]?):\d{1,5}\b",
            "<ip>$1:<port>",
        ),
        rule("ipv4", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", "<ip>"),
        rule("port", r"(?i)\bport\s+\d{1,5}\b", "port <port>"),
        // TLS details: versions, cipher suites, key sizes, fingerprints.
        rule(
            "tls-version",
            r"\b(?:TLSv1(?:\.[0-3])?|TLS ?1\.[0-3]|SSLv[23])\b",
            "<tls-version>",
        ),
        rule(
            "tls-cipher-iana",
            r"\bTLS(?:13)?_[A-Z0-9_]+\b",
            "<tls-cipher>",
        ),
        rule(
            "tls-cipher-openssl",
            r"\b(?:ECDHE|DHE|ECDH|RSA|AES|CHACHA20)[A-Z0-9]*(?:-[A-Z0-9]+)*-(?:SHA|SHA256|SHA384|POLY1305)\b",
            "<tls-cipher>",
        ),
        rule(
            "tls-parameters",
            r"(?i)\b(cipher|bits|version|key-exchange|sig)=[^\s;,)]+",
            "$1=<tls>",
        ),
    ]
}

struct Compiled {
    regex: Regex,
    replace: String,
    on: Vec<Part>,
}

/// Turns transcripts into stable text. Build once per run.
pub struct Normalizer {
    rules: Vec<Compiled>,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new(&[]).expect("the default normalisation rules compile")
    }
}

impl Normalizer {
    /// The default rules, overridden or extended by `extra` (from a profile).
    pub fn new(extra: &[RuleSpec]) -> Result<Normalizer, NormalizeError> {
        let mut specs = default_rules();
        for spec in extra {
            match specs.iter_mut().find(|s| s.name == spec.name) {
                Some(existing) => *existing = spec.clone(),
                None => specs.push(spec.clone()),
            }
        }
        let mut rules = Vec::new();
        for spec in specs.into_iter().filter(|s| !s.disabled) {
            if spec.pattern.is_empty() {
                return Err(NormalizeError::NoPattern { name: spec.name });
            }
            let regex = Regex::new(&spec.pattern).map_err(|e| NormalizeError::BadPattern {
                name: spec.name.clone(),
                message: e.to_string(),
            })?;
            rules.push(Compiled {
                regex,
                replace: spec.replace,
                on: spec.on,
            });
        }
        Ok(Normalizer { rules })
    }

    /// Applies the rules for `part` to one line; `host` (the server's name)
    /// becomes `<host>` first.
    pub fn line(&self, part: Part, text: &str, host: Option<&str>) -> String {
        let mut out = match host {
            Some(h) if part != Part::Client => {
                // Keep a reply's `NNN-` / `NNN ` apart, so the name after it
                // is seen as a whole word.
                let code_len = if text.len() >= 4
                    && text.as_bytes()[..3].iter().all(u8::is_ascii_digit)
                    && matches!(text.as_bytes()[3], b'-' | b' ')
                {
                    4
                } else {
                    0
                };
                format!(
                    "{}{}",
                    &text[..code_len],
                    replace_host(&text[code_len..], h)
                )
            }
            _ => text.to_string(),
        };
        for rule in self.rules.iter().filter(|r| r.on.contains(&part)) {
            if let Cow::Owned(changed) = rule.regex.replace_all(&out, rule.replace.as_str()) {
                out = changed;
            }
        }
        out
    }

    /// The transcript as `C:` / `S:` / `*` lines, secrets redacted and
    /// every rule applied; no time offsets.
    pub fn transcript(&self, transcript: &Transcript) -> String {
        let host = server_host(transcript);
        let rendered = redact(transcript).render();
        let mut out = String::with_capacity(rendered.len());
        for line in rendered.lines() {
            let (prefix, part) = if line.starts_with("S: ") {
                ("S: ", Part::Server)
            } else if line.starts_with("C: ") {
                ("C: ", Part::Client)
            } else {
                ("*  ", Part::Note)
            };
            let text = line.get(prefix.len()..).unwrap_or("");
            out.push_str(prefix);
            out.push_str(&self.line(part, text, host.as_deref()));
            out.push('\n');
        }
        out
    }

    /// The snapshot text of a verdict: the grade, the finding (if any) and
    /// the normalised transcript. Deterministic for a deterministic server.
    pub fn verdict(&self, verdict: &Verdict) -> String {
        let host = server_host(&verdict.transcript);
        let host = host.as_deref();
        let mut out = format!("grade: {}\n", verdict.grade.name());
        if let Some(f) = &verdict.finding {
            if f.line > 0 {
                out.push_str(&format!("line: {}\n", f.line));
            }
            if !f.expected.is_empty() {
                out.push_str(&format!("expected: {}\n", f.expected));
                out.push_str(&format!(
                    "received: {}\n",
                    self.line(Part::Server, &f.received, host)
                ));
            }
            out.push_str(&format!(
                "why: {}\n",
                self.line(Part::Note, &f.message, host)
            ));
        }
        let transcript = self.transcript(&verdict.transcript);
        if !transcript.is_empty() {
            out.push('\n');
            out.push_str(&transcript);
        }
        out
    }
}

/// The server's name: the first word of the 220 greeting (RFC 5321 4.3.1
/// puts it there), when it looks like a name (a dot, `localhost`, or an
/// address literal), so a bare word such as `ESMTP` is never replaced.
pub fn server_host(transcript: &Transcript) -> Option<String> {
    let first = transcript
        .entries
        .iter()
        .find(|e| e.direction == Direction::Server)?;
    let text = String::from_utf8_lossy(&first.bytes);
    let line = text.lines().next()?;
    let rest = line.strip_prefix("220")?;
    let rest = rest.strip_prefix([' ', '-'])?;
    let word = rest.split_whitespace().next()?;
    let looks_like_name = word.contains('.')
        || word.eq_ignore_ascii_case("localhost")
        || (word.starts_with('[') && word.ends_with(']'));
    (looks_like_name && word.len() >= 3).then(|| word.to_string())
}

/// Replaces whole occurrences of `host` (ASCII case-insensitive): not when
/// it is part of a longer name such as `a.mx.example.test`.
fn replace_host(text: &str, host: &str) -> String {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let lower = text.to_ascii_lowercase();
    let needle = host.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find(&needle) {
        let start = pos + found;
        let end = start + needle.len();
        let before_ok = start == 0 || {
            let b = bytes[start - 1];
            !is_name_byte(b) && b != b'.'
        };
        let longer_name = bytes.get(end).is_some_and(|&b| is_name_byte(b))
            || (bytes.get(end) == Some(&b'.')
                && bytes.get(end + 1).is_some_and(|&b| is_name_byte(b)));
        let after_ok = !longer_name;
        out.push_str(&text[pos..start]);
        if before_ok && after_ok {
            out.push_str("<host>");
        } else {
            out.push_str(&text[start..end]);
        }
        pos = end;
    }
    out.push_str(&text[pos..]);
    out
}

/// Removes secrets from a transcript, keeping its entries and timing:
/// the argument after `AUTH <mechanism> `, and every client line sent
/// while the server's last complete reply was 334, up to the next non-334
/// reply (RFC 4954 4). A cancelling `*` line is kept: it is no secret.
pub fn redact(transcript: &Transcript) -> Transcript {
    let mut in_exchange = false;
    let mut entries = Vec::with_capacity(transcript.entries.len());
    for entry in &transcript.entries {
        let bytes = match entry.direction {
            Direction::Client => redact_client(&entry.bytes, in_exchange),
            Direction::Server => {
                if let Some(code) = last_reply_code(&entry.bytes) {
                    in_exchange = code == 334;
                }
                entry.bytes.clone()
            }
            Direction::Note => entry.bytes.clone(),
        };
        entries.push(Entry {
            direction: entry.direction,
            at: entry.at,
            bytes,
        });
    }
    Transcript { entries }
}

fn redact_client(bytes: &[u8], in_exchange: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let (line, ending, next) = match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => (&rest[..i], &rest[i..i + 2], &rest[i + 2..]),
            None => (rest, &rest[rest.len()..], &rest[rest.len()..]),
        };
        if in_exchange {
            if line == b"*" || line.is_empty() {
                out.extend_from_slice(line);
            } else {
                out.extend_from_slice(REDACTED.as_bytes());
            }
        } else {
            out.extend_from_slice(&redact_auth_line(line));
        }
        out.extend_from_slice(ending);
        rest = next;
    }
    out
}

/// `AUTH PLAIN dGVzdA==` becomes `AUTH PLAIN <redacted>`.
fn redact_auth_line(line: &[u8]) -> Vec<u8> {
    let is_auth = line.len() > 5 && line[..5].eq_ignore_ascii_case(b"AUTH ");
    if !is_auth {
        return line.to_vec();
    }
    let after_verb = 5 + line[5..].iter().take_while(|&&b| b == b' ').count();
    let mech_len = line[after_verb..]
        .iter()
        .take_while(|&&b| b != b' ')
        .count();
    let mech_end = after_verb + mech_len;
    if mech_end >= line.len() {
        return line.to_vec();
    }
    let mut out = line[..mech_end + 1].to_vec();
    out.extend_from_slice(REDACTED.as_bytes());
    out
}

/// The code of the last complete reply line (`NNN ` or `NNN` alone) in a
/// chunk of server bytes.
fn last_reply_code(bytes: &[u8]) -> Option<u16> {
    let mut code = None;
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit) {
            let last = line.len() == 3 || line[3] == b' ';
            if last {
                code = std::str::from_utf8(&line[..3]).ok()?.parse().ok();
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::time::Duration;

    fn transcript(lines: &[(Direction, &str)]) -> Transcript {
        let mut t = Transcript::default();
        for (i, (d, text)) in lines.iter().enumerate() {
            t.push(*d, Duration::from_millis(i as u64 * 7), text.as_bytes());
        }
        t
    }

    use Direction::{Client as C, Server as S};

    #[rstest]
    #[case::postfix_queue_id(
        "250 2.0.0 Ok: queued as 4Xk2Lq0vZbz9sXY",
        "250 2.0.0 Ok: queued as <queue-id>"
    )]
    #[case::exim_id("250 OK id=1rABcd-000Xyz-Q2", "250 OK id=<queue-id>")]
    #[case::sendmail(
        "250 2.0.0 4AB1cDef012345 Message accepted for delivery",
        "250 2.0.0 <queue-id> Message accepted for delivery"
    )]
    #[case::rfc5322_date(
        "220 mail.example.com ESMTP Sendmail 8.17.1; Tue, 15 Nov 2024 08:12:31 -0800",
        "220 <host> ESMTP Sendmail 8.17.1; <date>"
    )]
    #[case::iso_date("250 accepted at 2024-11-15T08:12:31.123Z", "250 accepted at <date>")]
    #[case::ctime(
        "220 mail.example.com ESMTP Fri Nov 15 08:12:31 2024",
        "220 <host> ESMTP <date>"
    )]
    #[case::ip_and_port(
        "250-mail.example.com Hello [192.0.2.17]:50412",
        "250-<host> Hello [<ip>]:<port>"
    )]
    #[case::ip(
        "250-mail.example.com Hello client [192.0.2.17]",
        "250-<host> Hello client [<ip>]"
    )]
    #[case::ipv6("250 Hello [IPv6:2001:db8::1]", "250 Hello [IPv6:<ip>]")]
    #[case::message_id(
        "250 2.6.0 Message-ID: <abc.123@host.example> queued",
        "250 2.6.0 Message-ID: <message-id> queued"
    )]
    #[case::session("250 ok session=A1B2C3D4", "250 ok session=<session-id>")]
    #[case::gsmtp(
        "250 2.1.5 OK a640c23a62f3a-4a5b6c7d8e9f0si123456ejs.123 - gsmtp",
        "250 2.1.5 OK <session-id> - gsmtp"
    )]
    #[case::tls(
        "TLS handshake: TLSv1.3 TLS_AES_256_GCM_SHA384",
        "TLS handshake: <tls-version> <tls-cipher>"
    )]
    #[case::rustls_name(
        "*  TLS established (STARTTLS): TLSv1.3, TLS13_AES_256_GCM_SHA384",
        "*  TLS established (STARTTLS): <tls-version>, <tls-cipher>"
    )]
    #[case::openssl(
        "(version=TLS1_3 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256/256)",
        "(version=<tls> cipher=<tls> bits=<tls>)"
    )]
    #[case::fingerprint("cert AB:CD:EF:01:23:45:67:89:AB:CD", "cert <fingerprint>")]
    #[case::challenge(
        "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+",
        "334 <challenge>"
    )]
    #[case::size_untouched("250-SIZE 10485760", "250-SIZE 10485760")]
    #[case::enhanced_untouched(
        "550 5.1.1 <nobody@example.test>: unknown",
        "550 5.1.1 <nobody@example.test>: unknown"
    )]
    fn default_rules_make_server_text_stable(#[case] input: &str, #[case] expected: &str) {
        let n = Normalizer::default();
        assert_eq!(
            n.line(Part::Server, input, Some("mail.example.com")),
            expected
        );
    }

    #[test]
    fn host_is_replaced_only_as_a_whole_name() {
        assert_eq!(
            replace_host(
                "mx.example.test greets a.mx.example.test and MX.EXAMPLE.TEST.",
                "mx.example.test"
            ),
            "<host> greets a.mx.example.test and <host>."
        );
        assert_eq!(
            replace_host("mx.example.test.org", "mx.example.test"),
            "mx.example.test.org"
        );
    }

    #[test]
    fn host_is_learned_from_the_greeting_only_when_it_looks_like_a_name() {
        let named = transcript(&[(S, "220 mx.example.test ESMTP\r\n")]);
        assert_eq!(server_host(&named).as_deref(), Some("mx.example.test"));
        let bare = transcript(&[(S, "220 ESMTP ready\r\n")]);
        assert_eq!(server_host(&bare), None);
        let literal = transcript(&[(S, "220-[192.0.2.1] hi\r\n220 ok\r\n")]);
        assert_eq!(server_host(&literal).as_deref(), Some("[192.0.2.1]"));
    }

    #[test]
    fn client_lines_are_untouched_by_default_rules() {
        let n = Normalizer::default();
        let t = transcript(&[
            (S, "220 mx.example.test ESMTP\r\n"),
            (C, "EHLO [192.0.2.1]\r\n"),
        ]);
        assert_eq!(
            n.transcript(&t),
            "S: 220 <host> ESMTP\nC: EHLO [192.0.2.1]\n"
        );
    }

    #[test]
    fn the_same_exchange_normalises_to_identical_text_whatever_the_timing() {
        let a = transcript(&[
            (
                S,
                "220 mx.example.test ESMTP; Tue, 15 Nov 2024 08:12:31 -0800\r\n",
            ),
            (C, "DATA\r\n"),
            (S, "250 2.0.0 Ok: queued as 4Xk2Lq0vZbz9sXY\r\n"),
        ]);
        let mut b = transcript(&[
            (
                S,
                "220 mx.example.test ESMTP; Wed, 16 Nov 2024 09:00:00 +0000\r\n",
            ),
            (C, "DATA\r\n"),
            (S, "250 2.0.0 Ok: queued as 7Zq9Pp1aBcd2eF\r\n"),
        ]);
        for e in &mut b.entries {
            e.at += Duration::from_secs(3);
        }
        let n = Normalizer::default();
        assert_eq!(n.transcript(&a), n.transcript(&b));
        assert!(!n.transcript(&a).contains("ms"));
    }

    #[test]
    fn profile_rules_extend_replace_and_disable_defaults() {
        let extra: Vec<RuleSpec> =
            toml::from_str::<std::collections::BTreeMap<String, Vec<RuleSpec>>>(
                r#"
            [[normalize]]
            name = "build"
            pattern = 'build \d+'
            replace = "build <n>"

            [[normalize]]
            name = "time"
            disabled = true

            [[normalize]]
            name = "ipv4"
            pattern = '\b127\.0\.0\.1\b'
            replace = "<loopback>"
            "#,
            )
            .unwrap()
            .remove("normalize")
            .unwrap();
        let n = Normalizer::new(&extra).unwrap();
        assert_eq!(
            n.line(
                Part::Server,
                "220 x build 42 at 10:11:12 from 127.0.0.1 and 10.0.0.1",
                None
            ),
            "220 x build <n> at 10:11:12 from <loopback> and 10.0.0.1"
        );
    }

    #[test]
    fn bad_rules_are_reported_by_name() {
        let bad = rule("broken", "(unclosed", "");
        assert!(matches!(
            Normalizer::new(&[bad]),
            Err(NormalizeError::BadPattern { name, .. }) if name == "broken"
        ));
        let empty = rule("empty", "", "");
        assert_eq!(
            Normalizer::new(&[empty]).err(),
            Some(NormalizeError::NoPattern {
                name: "empty".into()
            })
        );
    }

    /// RFC 4954 4 / RFC 4616 example: PLAIN with an initial response.
    #[test]
    fn redacts_auth_plain_initial_response() {
        let t = transcript(&[
            (S, "220 mx.example.test ESMTP\r\n"),
            (C, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"),
            (S, "235 2.7.0 Authentication successful\r\n"),
            (C, "MAIL FROM:<tim@example.test>\r\n"),
        ]);
        let text = Normalizer::default().transcript(&t);
        assert!(!text.contains("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), "{text}");
        assert!(text.contains("C: AUTH PLAIN <redacted>\n"), "{text}");
        assert!(text.contains("C: MAIL FROM:<tim@example.test>\n"), "{text}");
    }

    /// LOGIN: user name and password each follow a 334 challenge.
    #[test]
    fn redacts_auth_login_responses() {
        let t = transcript(&[
            (C, "AUTH LOGIN\r\n"),
            (S, "334 VXNlcm5hbWU6\r\n"),
            (C, "dGltQGV4YW1wbGUudGVzdA==\r\n"),
            (S, "334 UGFzc3dvcmQ6\r\n"),
            (C, "dGFuc3RhYWZ0YW5zdGFhZg==\r\n"),
            (S, "235 2.7.0 ok\r\n"),
            (C, "NOOP\r\n"),
        ]);
        let redacted = redact(&t).render();
        assert_eq!(
            redacted,
            "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: <redacted>\nS: 334 UGFzc3dvcmQ6\n\
             C: <redacted>\nS: 235 2.7.0 ok\nC: NOOP\n"
        );
        assert_eq!(redact(&t).entries[2].at, t.entries[2].at, "timing is kept");
    }

    /// RFC 2195 2 example: CRAM-MD5's challenge is a time stamp; the
    /// response carries the user name and a digest.
    #[test]
    fn redacts_cram_md5_and_stabilises_the_challenge() {
        let t = transcript(&[
            (C, "AUTH CRAM-MD5\r\n"),
            (
                S,
                "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
            ),
            (C, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
            (S, "235 Authentication successful\r\n"),
        ]);
        let text = Normalizer::default().transcript(&t);
        assert_eq!(
            text,
            "C: AUTH CRAM-MD5\nS: 334 <challenge>\nC: <redacted>\nS: 235 Authentication successful\n"
        );
    }

    #[test]
    fn a_cancelled_exchange_keeps_the_star_and_later_lines() {
        let t = transcript(&[
            (C, "auth login dXNlcg==\r\n"),
            (S, "334 UGFzc3dvcmQ6\r\n"),
            (C, "*\r\n"),
            (S, "501 5.7.0 cancelled\r\n"),
            (C, "QUIT\r\n"),
        ]);
        assert_eq!(
            redact(&t).render(),
            "C: auth login <redacted>\nS: 334 UGFzc3dvcmQ6\nC: *\nS: 501 5.7.0 cancelled\nC: QUIT\n"
        );
    }

    #[test]
    fn pipelined_secrets_in_one_write_are_all_redacted() {
        let t = transcript(&[
            (S, "334 \r\n"),
            (C, "c2VjcmV0MQ==\r\nc2VjcmV0Mg==\r\n"),
            (S, "535 5.7.8 no\r\n"),
        ]);
        assert_eq!(
            redact(&t).render(),
            "S: 334 \nC: <redacted>\nC: <redacted>\nS: 535 5.7.8 no\n"
        );
    }
}
