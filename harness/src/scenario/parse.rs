//! The scenario file parser. Every error names file, line and column and
//! says what was expected there.

use std::fmt;
use std::path::{Path, PathBuf};

use super::template::{MAX_REPEAT, Piece, Template, VARIABLES};
use super::{CodePattern, Expectation, Level, RfcRef, Scenario, StatusPattern, Step};

/// A scenario file that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line; 0 when the whole file is concerned.
    pub line: usize,
    /// 1-based column; 0 when the whole line is concerned.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses the text of one scenario file.
pub fn parse(id: &str, file: &Path, text: &str) -> Result<Scenario, ParseError> {
    Parser { file, id }.parse(text)
}

struct Parser<'a> {
    file: &'a Path,
    id: &'a str,
}

/// Header fields as they are being collected.
#[derive(Default)]
struct Header {
    title: Option<String>,
    rfc: Option<Vec<RfcRef>>,
    level: Option<Level>,
    tags: Vec<String>,
    requires: Vec<String>,
    why: Vec<String>,
    clauses: Vec<String>,
}

impl Parser<'_> {
    fn error(&self, line: usize, column: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    fn parse(&self, text: &str) -> Result<Scenario, ParseError> {
        // A byte-order mark from a Windows editor is not part of the first field name.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut header = Header::default();
        let mut steps: Vec<Step> = Vec::new();
        let mut in_body = false;
        let mut first_body_line = None;
        for (index, raw) in text.lines().enumerate() {
            let n = index + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("C:") {
                in_body = true;
                first_body_line.get_or_insert(n);
                let (text, col) = match rest.strip_prefix(' ') {
                    Some(text) => (text, 4),
                    None => (rest, 3),
                };
                let mut data = self.template(n, col, text, false)?;
                data.push_literal(b"\r\n");
                push_send(&mut steps, n, data);
            } else if let Some(rest) = line.strip_prefix("C!") {
                in_body = true;
                first_body_line.get_or_insert(n);
                let Some(rest) = rest.strip_prefix(' ') else {
                    return Err(self.error(n, 3, "expected a space after `C!`"));
                };
                let data = self.template(n, 4, rest, true)?;
                push_send(&mut steps, n, data);
            } else if let Some(rest) = line.strip_prefix("S:") {
                in_body = true;
                first_body_line.get_or_insert(n);
                steps.push(Step::Expect(self.expectation(n, rest)?));
            } else if let Some(rest) = line.strip_prefix("T:") {
                in_body = true;
                first_body_line.get_or_insert(n);
                steps.push(self.tls_step(n, rest, &steps)?);
            } else if in_body {
                return Err(self.error(
                    n,
                    1,
                    "expected `S:`, `C:`, `C!`, `T:` or `#` in the exchange (header fields go before the first `S:`/`C:` line)",
                ));
            } else {
                self.header_field(n, line, &mut header)?;
            }
        }
        // Missing header fields belong where the exchange starts (or at the
        // top of an empty file); a missing `S:` line at the end of the file.
        let header_line = first_body_line.unwrap_or(1);
        let end_line = text.lines().count() + 1;
        let missing = |name: &str| {
            self.error(
                header_line,
                1,
                format!("missing header field `{name}:` (expected title, rfc and level before the exchange)"),
            )
        };
        let title = header.title.ok_or_else(|| missing("title"))?;
        let rfc = header.rfc.ok_or_else(|| missing("rfc"))?;
        let level = header.level.ok_or_else(|| missing("level"))?;
        if !steps.iter().any(|s| matches!(s, Step::Expect(_))) {
            return Err(self.error(
                end_line,
                1,
                "no `S:` line: a scenario must expect at least one reply",
            ));
        }
        Ok(Scenario {
            id: self.id.to_string(),
            source: self.file.to_path_buf(),
            title,
            rfc,
            level,
            tags: header.tags,
            requires: header.requires,
            why: header.why.join(" "),
            clauses: header.clauses,
            steps,
        })
    }

    fn header_field(&self, n: usize, line: &str, header: &mut Header) -> Result<(), ParseError> {
        let Some(colon) = line.find(':') else {
            return Err(self.error(
                n,
                1,
                "expected a header field `name: value`, or `S:`/`C:`/`T:` line",
            ));
        };
        let name = &line[..colon];
        let after = &line[colon + 1..];
        let value_col = colon + 2 + (after.len() - after.trim_start().len());
        let value = after.trim();
        let needs_value = |v: &str| {
            if v.is_empty() {
                Err(self.error(n, value_col, format!("`{name}:` needs a value")))
            } else {
                Ok(())
            }
        };
        match name {
            "title" => {
                needs_value(value)?;
                header.title = Some(value.to_string());
            }
            "rfc" => {
                needs_value(value)?;
                header.rfc = Some(self.rfc_refs(n, value_col, value)?);
            }
            "level" => {
                header.level = Some(match value {
                    "MUST" => Level::Must,
                    "SHOULD" => Level::Should,
                    "MAY" => Level::May,
                    _ => {
                        return Err(self.error(
                            n,
                            value_col,
                            format!("expected MUST, SHOULD or MAY, found `{value}`"),
                        ));
                    }
                })
            }
            "tags" => header.tags.extend(words(value)),
            "requires" => header
                .requires
                .extend(words(value).map(|w| w.to_ascii_uppercase())),
            "why" => {
                needs_value(value)?;
                header.why.push(value.to_string());
            }
            "clauses" => {
                needs_value(value)?;
                header.clauses.extend(words(value));
            }
            _ => {
                return Err(self.error(
                    n,
                    1,
                    format!("unknown header field `{name}` (expected title, rfc, level, tags, requires, why or clauses)"),
                ));
            }
        }
        Ok(())
    }

    /// `T: starttls`: the handshake, right after the reply to STARTTLS.
    fn tls_step(&self, n: usize, rest: &str, steps: &[Step]) -> Result<Step, ParseError> {
        let word = rest.trim();
        let col = 3 + (rest.len() - rest.trim_start().len());
        if !word.eq_ignore_ascii_case("starttls") {
            return Err(self.error(n, col, format!("expected `T: starttls`, found `T: {word}`")));
        }
        match steps.last() {
            Some(Step::Expect(e)) if e.wants_reply() && !e.close => Ok(Step::StartTls { line: n }),
            _ => Err(self.error(
                n,
                1,
                "`T: starttls` must follow the `S:` line that expects the reply to `C: STARTTLS`",
            )),
        }
    }

    /// `5321 4.1.4` or `5321 3.3, 2920 3.1`.
    fn rfc_refs(&self, n: usize, col: usize, value: &str) -> Result<Vec<RfcRef>, ParseError> {
        let mut refs = Vec::new();
        for part in value.split(',') {
            let part = part.trim();
            let mut words = part.split_whitespace();
            let number = words.next().unwrap_or("");
            let section = words.next();
            let number: u32 = number
                .strip_prefix("RFC")
                .unwrap_or(number)
                .trim()
                .parse()
                .map_err(|_| {
                    self.error(
                        n,
                        col,
                        format!(
                            "expected `RFCNUMBER SECTION` such as `5321 4.1.4`, found `{part}`"
                        ),
                    )
                })?;
            let Some(section) = section.filter(|_| words.next().is_none()) else {
                return Err(self.error(
                    n,
                    col,
                    format!("expected `RFCNUMBER SECTION` such as `5321 4.1.4`, found `{part}`"),
                ));
            };
            refs.push(RfcRef {
                number,
                section: section.to_string(),
            });
        }
        Ok(refs)
    }

    /// The text after `S:`: `CODES [STATUS] [close]`, or `close` alone.
    fn expectation(&self, n: usize, rest: &str) -> Result<Expectation, ParseError> {
        let mut expectation = Expectation {
            line: n,
            codes: Vec::new(),
            enhanced: Vec::new(),
            close: false,
        };
        let mut offset = 0;
        for (i, word) in rest.split(' ').enumerate() {
            // `S:` is two columns; columns are 1-based.
            let at = 3 + offset;
            offset += word.len() + 1;
            if word.is_empty() {
                continue;
            }
            if word == "close" {
                expectation.close = true;
            } else if i <= 1 && expectation.codes.is_empty() && !word.contains('.') {
                for alt in word.split('|') {
                    let code = CodePattern::parse(alt).ok_or_else(|| {
                        self.error(
                            n,
                            at,
                            format!("expected a reply code such as 250, 25x, 2xx or 250|252, found `{word}`"),
                        )
                    })?;
                    expectation.codes.push(code);
                }
            } else if expectation.enhanced.is_empty() && word.contains('.') && !expectation.close {
                for alt in word.split('|') {
                    let status = StatusPattern::parse(alt).ok_or_else(|| {
                        self.error(
                            n,
                            at,
                            format!("expected an enhanced status code such as 5.5.1 or 5.x.x, found `{word}`"),
                        )
                    })?;
                    expectation.enhanced.push(status);
                }
            } else {
                return Err(self.error(
                    n,
                    at,
                    format!("unexpected `{word}`: an `S:` line is CODES [ENHANCED-STATUS] [close]"),
                ));
            }
        }
        if expectation.codes.is_empty() && !expectation.close {
            return Err(self.error(
                n,
                3,
                "expected a reply code such as 250, 2xx or 250|252, or `close`",
            ));
        }
        if expectation.codes.is_empty() && !expectation.enhanced.is_empty() {
            return Err(self.error(n, 3, "an enhanced status needs a reply code before it"));
        }
        Ok(expectation)
    }

    /// Text with `{var}` and `{repeat:N:text}`; with `escapes`, also `\r \n
    /// \t \\ \xHH` (the `C!` form, for bytes a `C:` line cannot carry).
    fn template(
        &self,
        n: usize,
        start_col: usize,
        text: &str,
        escapes: bool,
    ) -> Result<Template, ParseError> {
        let mut template = Template::default();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let col = start_col + text[..i].chars().count();
            match c {
                '{' => {
                    let close = text[i..].find('}').ok_or_else(|| {
                        self.error(
                            n,
                            col,
                            "unclosed `{`: expected `{name}` or `{repeat:N:text}`",
                        )
                    })?;
                    let inner = &text[i + 1..i + close];
                    template
                        .pieces
                        .push(self.placeholder(n, col, inner, escapes)?);
                    while chars.peek().is_some_and(|&(j, _)| j <= i + close) {
                        chars.next();
                    }
                }
                '\\' if escapes => {
                    let Some((_, e)) = chars.next() else {
                        return Err(self.error(n, col, "a line cannot end in a lone `\\`"));
                    };
                    match e {
                        'r' => template.push_literal(b"\r"),
                        'n' => template.push_literal(b"\n"),
                        't' => template.push_literal(b"\t"),
                        '\\' => template.push_literal(b"\\"),
                        '{' => template.push_literal(b"{"),
                        'x' => {
                            let hex: String = (0..2)
                                .filter_map(|_| chars.next().map(|(_, h)| h))
                                .collect();
                            let byte = u8::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == 2)
                                .ok_or_else(|| {
                                    self.error(
                                        n,
                                        col,
                                        format!(
                                            "expected two hex digits after `\\x`, found `{hex}`"
                                        ),
                                    )
                                })?;
                            template.push_literal(&[byte]);
                        }
                        other => {
                            return Err(self.error(
                                n,
                                col,
                                format!("unknown escape `\\{other}` (expected \\r, \\n, \\t, \\\\, \\{{ or \\xHH)"),
                            ));
                        }
                    }
                }
                c => {
                    let mut buf = [0; 4];
                    template.push_literal(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        Ok(template)
    }

    /// `{name}` or `{repeat:N:text}`; in `C!` lines (`escapes`) the repeated
    /// text may use `\r`, `\n`, `\t` and `\\`, so whole lines can repeat.
    fn placeholder(
        &self,
        n: usize,
        col: usize,
        inner: &str,
        escapes: bool,
    ) -> Result<Piece, ParseError> {
        if let Some(args) = inner.strip_prefix("repeat:") {
            let (count, text) = args
                .split_once(':')
                .ok_or_else(|| self.error(n, col, "expected `{repeat:N:text}`"))?;
            let count: usize =
                count
                    .parse()
                    .ok()
                    .filter(|&c| c <= MAX_REPEAT)
                    .ok_or_else(|| {
                        self.error(
                            n,
                            col,
                            format!(
                                "expected a repeat count from 0 to {MAX_REPEAT}, found `{count}`"
                            ),
                        )
                    })?;
            if text.is_empty() {
                return Err(self.error(n, col, "`{repeat:N:text}` needs text to repeat"));
            }
            let text = if escapes {
                unescape_repeat(text).ok_or_else(|| {
                    self.error(
                        n,
                        col,
                        "in `{repeat:N:text}` only the escapes \\r, \\n, \\t and \\\\ are allowed",
                    )
                })?
            } else {
                text.to_string()
            };
            return Ok(Piece::Repeat { count, text });
        }
        if VARIABLES.iter().any(|(name, _)| *name == inner) {
            Ok(Piece::Variable(inner.to_string()))
        } else {
            let known: Vec<&str> = VARIABLES.iter().map(|(name, _)| *name).collect();
            Err(self.error(
                n,
                col,
                format!(
                    "unknown variable `{{{inner}}}` (expected one of {} or repeat:N:text)",
                    known.join(", ")
                ),
            ))
        }
    }
}

/// Decodes `\r \n \t \\` in repeated text; `None` on any other escape.
fn unescape_repeat(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            'r' => '\r',
            'n' => '\n',
            't' => '\t',
            '\\' => '\\',
            _ => return None,
        });
    }
    Some(out)
}

/// Consecutive sends merge into one write, which is how pipelining is written.
fn push_send(steps: &mut Vec<Step>, n: usize, data: Template) {
    if let Some(Step::Send { data: previous, .. }) = steps.last_mut() {
        previous.extend(data);
    } else {
        steps.push(Step::Send { line: n, data });
    }
}

fn words(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split([',', ' '])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const GOOD: &str = "\
title: RCPT before MAIL
rfc: 5321 4.1.4, 5321 3.3
level: MUST
tags: sequence, core
requires: pipelining
why: RCPT needs a transaction.
clauses: 5321-4.1.4-order, 5321-3.3-rcpt

S: 220
C: EHLO {client}
S: 250
# pipelined
C: RSET
C! RCPT TO:<{rcpt}>\\r\\n
S: 250
S: 503|554 5.5.1|5.x.x
C: QUIT
S: 221 close
";

    fn parse_text(text: &str) -> Result<Scenario, ParseError> {
        parse("t", Path::new("t.smtp"), text)
    }

    #[test]
    fn parses_a_complete_file() {
        let s = parse_text(GOOD).unwrap();
        assert_eq!(s.title, "RCPT before MAIL");
        assert_eq!(s.level, Level::Must);
        assert_eq!(s.rfc.len(), 2);
        assert_eq!(s.rfc[0].to_string(), "RFC 5321 4.1.4");
        assert_eq!(s.tags, ["sequence", "core"]);
        assert_eq!(s.requires, ["PIPELINING"]);
        assert_eq!(s.clauses, ["5321-4.1.4-order", "5321-3.3-rcpt"]);
        assert_eq!(s.variables(), ["client", "rcpt"]);
        assert_eq!(s.steps.len(), 8);
        let Step::Send { data, line } = &s.steps[3] else {
            panic!("{:?}", s.steps[3])
        };
        assert_eq!(*line, 13);
        let bytes = data.render(|v| Some(format!("<{v}>"))).unwrap();
        assert_eq!(bytes, b"RSET\r\nRCPT TO:<<rcpt>>\r\n");
        let Step::Expect(e) = &s.steps[5] else {
            panic!()
        };
        assert_eq!(e.to_string(), "503|554 5.5.1|5.x.x");
        let Step::Expect(e) = &s.steps[7] else {
            panic!()
        };
        assert!(e.close);
    }

    #[test]
    fn tls_step_follows_the_220() {
        let s = parse_text(
            "title: t\nrfc: 3207 4\nlevel: MUST\nrequires: STARTTLS\n\nS: 220\nC: EHLO {client}\nS: 250\nC: STARTTLS\nS: 220\nT:  StartTLS \nC: EHLO {client}\nS: 250\n",
        )
        .unwrap();
        assert_eq!(s.steps[5], Step::StartTls { line: 11 });
        assert!(s.uses_starttls());
    }

    #[test]
    fn repeat_renders() {
        let s =
            parse_text("title: t\nrfc: 5321 4.5.3.1.4\nlevel: MAY\nC: NOOP {repeat:3:ab}\nS: 250")
                .unwrap();
        let Step::Send { data, .. } = &s.steps[0] else {
            panic!()
        };
        assert_eq!(data.render(|_| None).unwrap(), b"NOOP ababab\r\n");
    }

    #[test]
    fn repeat_in_raw_lines_decodes_line_endings() {
        let s = parse_text(
            "title: t\nrfc: 5321 4.5.3.1.7\nlevel: MUST\nC! {repeat:2:ab\\r\\n}.\\r\\n\nS: 250",
        )
        .unwrap();
        let Step::Send { data, .. } = &s.steps[0] else {
            panic!()
        };
        assert_eq!(data.render(|_| None).unwrap(), b"ab\r\nab\r\n.\r\n");
        // In `C:` lines a backslash is literal, also inside a repeat.
        let s =
            parse_text("title: t\nrfc: 5321 3.3\nlevel: MUST\nC: {repeat:2:a\\n}\nS: 250").unwrap();
        let Step::Send { data, .. } = &s.steps[0] else {
            panic!()
        };
        assert_eq!(data.render(|_| None).unwrap(), b"a\\na\\n\r\n");
        let err = parse_text("title: t\nrfc: 5321 3.3\nlevel: MUST\nC! {repeat:2:a\\q}\nS: 250")
            .unwrap_err();
        assert!(err.message.contains("only the escapes"), "{err}");
    }

    #[rstest]
    #[case::unknown_field("titel: x\n", 1, 1, "unknown header field `titel`")]
    #[case::bad_level(
        "title: t\nrfc: 5321 3.3\nlevel: MUSTN'T\n",
        3,
        8,
        "expected MUST, SHOULD or MAY"
    )]
    #[case::bad_rfc("title: t\nrfc: five 3.3\n", 2, 6, "expected `RFCNUMBER SECTION`")]
    #[case::rfc_no_section("title: t\nrfc: 5321\n", 2, 6, "expected `RFCNUMBER SECTION`")]
    #[case::bad_code(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nS: 2500\n",
        4,
        4,
        "expected a reply code"
    )]
    #[case::bad_code_alt(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nS: 250|6xx\n",
        4,
        4,
        "expected a reply code"
    )]
    #[case::bad_status(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nS: 550 5.1\n",
        4,
        8,
        "expected an enhanced status"
    )]
    #[case::junk_after(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nS: 550 5.1.1 oops\n",
        4,
        14,
        "unexpected `oops`"
    )]
    #[case::empty_s(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nS:\n",
        4,
        3,
        "expected a reply code"
    )]
    #[case::unknown_var(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nC: EHLO {clinet}\nS: 250\n",
        4,
        9,
        "unknown variable `{clinet}`"
    )]
    #[case::unclosed_var(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nC: EHLO {client\nS: 250\n",
        4,
        9,
        "unclosed `{`"
    )]
    #[case::bad_escape(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nC! ab\\q\nS: 250\n",
        4,
        6,
        "unknown escape `\\q`"
    )]
    #[case::bad_hex(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nC! \\xZZ\nS: 250\n",
        4,
        4,
        "two hex digits"
    )]
    #[case::c_bang_no_space(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nC!x\nS: 250\n",
        4,
        3,
        "space after `C!`"
    )]
    #[case::huge_repeat(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nC: {repeat:99999999:x}\nS: 250\n",
        4,
        4,
        "repeat count"
    )]
    #[case::tls_unknown(
        "title: t\nrfc: 3207 4\nlevel: MUST\nS: 220\nC: STARTTLS\nS: 220\nT: ssl\n",
        7,
        4,
        "expected `T: starttls`"
    )]
    #[case::tls_without_reply(
        "title: t\nrfc: 3207 4\nlevel: MUST\nS: 220\nC: STARTTLS\nT: starttls\nS: 250\n",
        6,
        1,
        "must follow the `S:` line"
    )]
    #[case::empty_file("", 1, 1, "missing header field `title:`")]
    #[case::byte_order_mark("\u{feff}titel: t\n", 1, 1, "unknown header field `titel`")]
    #[case::header_after_body(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nS: 220\ntags: x\n",
        5,
        1,
        "expected `S:`, `C:`, `C!`"
    )]
    #[case::missing_level(
        "title: t\nrfc: 5321 3.3\nS: 220\n",
        3,
        1,
        "missing header field `level:`"
    )]
    #[case::no_expectation(
        "title: t\nrfc: 5321 3.3\nlevel: MUST\nC: NOOP\n",
        5,
        1,
        "no `S:` line"
    )]
    fn errors_name_line_and_column(
        #[case] text: &str,
        #[case] line: usize,
        #[case] column: usize,
        #[case] message: &str,
    ) {
        let err = parse_text(text).unwrap_err();
        assert_eq!((err.line, err.column), (line, column), "{err}");
        assert!(err.message.contains(message), "{err}");
        assert!(err.to_string().starts_with("t.smtp"), "{err}");
    }
}
