//! Renders verdicts for people and machines.
//!
//! This file has the terminal text: a line per scenario as it finishes, the
//! evidence for every one that is not PASS (with the expected and received
//! codes explained from the catalogue), a progress bar and a summary. The
//! other formats each have their own module; all of them show transcripts
//! through [`normalize::redact`], so secrets never reach a report.
//!
//! - [`normalize`]: stable transcripts for snapshots, and redaction.
//! - [`snapshot`]: `--snapshots DIR`: write, check, bless.
//! - [`baseline`]: `--baseline FILE`: regressions and improvements.
//! - [`json`], [`junit`], [`markdown`], [`html`]: `--report FORMAT=PATH`.
//! - [`explain`]: `smtp-harness explain CODE...`.

pub mod baseline;
pub mod explain;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod normalize;
pub mod snapshot;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::runner::{Finding, Grade, Smuggling, Verdict};
use crate::wire::EnhancedStatus;
use crate::wire::catalogue::{self, Severity};

/// Whether to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours on.
    pub color: bool,
}

impl Style {
    fn paint(&self, grade: Grade, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match grade {
            Grade::Pass => "32",
            Grade::Flaky => "93",
            Grade::Unsupported => "36",
            Grade::NonStrict => "33",
            Grade::Fail => "31",
            Grade::Error => "35",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// What every report says about the run besides the verdicts.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The server tested, e.g. `127.0.0.1:2525 (postfix)`.
    pub target: String,
    /// NON-STRICT and FLAKY count as failures.
    pub strict: bool,
    /// Retries allowed per scenario.
    pub retries: u32,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// The comparison with a baseline, when one was given.
    pub baseline: Option<baseline::Comparison>,
}

impl RunInfo {
    /// The run's settings worth a mention after its size and time, e.g.
    /// ` · strict · 1 retry` (empty for a plain run).
    pub fn settings_suffix(&self) -> String {
        let mut out = String::new();
        if self.strict {
            out.push_str(" · strict");
        }
        if self.retries > 0 {
            let noun = if self.retries == 1 {
                "retry"
            } else {
                "retries"
            };
            out.push_str(&format!(" · {} {noun}", self.retries));
        }
        out
    }
}

/// A report format for `--report FORMAT=PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The terminal text, without colour.
    Text,
    /// JSON, schema `docs/report-schema.json`.
    Json,
    /// JUnit XML.
    Junit,
    /// A Markdown summary.
    Markdown,
    /// One self-contained HTML file.
    Html,
}

impl Format {
    /// Every format's name as written on the command line.
    pub const NAMES: &'static str = "text, json, junit, markdown (md), html";

    /// Parses a format name.
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.to_ascii_lowercase().as_str() {
            "text" | "txt" | "terminal" => Format::Text,
            "json" => Format::Json,
            "junit" | "xml" => Format::Junit,
            "markdown" | "md" => Format::Markdown,
            "html" => Format::Html,
            _ => return None,
        })
    }
}

/// One `--report FORMAT=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    /// The format.
    pub format: Format,
    /// Where to write it.
    pub path: PathBuf,
}

impl std::str::FromStr for ReportSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<ReportSpec, String> {
        let (name, path) = text
            .split_once('=')
            .ok_or_else(|| format!("expected FORMAT=PATH (formats: {})", Format::NAMES))?;
        let format = Format::from_name(name)
            .ok_or_else(|| format!("unknown format `{name}` (formats: {})", Format::NAMES))?;
        if path.is_empty() {
            return Err("the PATH after `=` is empty".into());
        }
        Ok(ReportSpec {
            format,
            path: PathBuf::from(path),
        })
    }
}

/// Renders a report in `format`.
pub fn render(format: Format, verdicts: &[Verdict], info: &RunInfo) -> String {
    match format {
        Format::Text => text(verdicts, info, false, Style { color: false }),
        Format::Json => json::render(verdicts, info),
        Format::Junit => junit::render(verdicts, info),
        Format::Markdown => markdown::render(verdicts, info),
        Format::Html => html::render(verdicts, info),
    }
}

/// The whole terminal report: verdict lines, details of every scenario that
/// did not pass (of every one when `verbose`), baseline changes, summary.
pub fn text(verdicts: &[Verdict], info: &RunInfo, verbose: bool, style: Style) -> String {
    let mut out = String::new();
    for v in verdicts {
        let _ = writeln!(out, "{}", verdict_line(v, style));
    }
    let mut shown = false;
    for v in verdicts
        .iter()
        .filter(|v| v.grade != Grade::Pass || verbose)
    {
        if !shown {
            out.push('\n');
            shown = true;
        }
        if v.finding.is_some() {
            out.push_str(&details(v));
        } else {
            let _ = writeln!(
                out,
                "--- {} [{}]\n{}",
                v.id,
                v.grade,
                normalize::redact(&v.transcript).render()
            );
        }
    }
    if let Some(comparison) = &info.baseline {
        out.push('\n');
        out.push_str(&comparison.text());
    }
    let _ = writeln!(out, "\n{}", summary(verdicts));
    out
}

/// One line for a finished scenario: grade, id, title.
pub fn verdict_line(verdict: &Verdict, style: Style) -> String {
    let grade = style.paint(verdict.grade, &format!("{:<11}", verdict.grade.name()));
    let mut line = format!("{grade} {}  {}", verdict.id, verdict.title);
    if let Some(outcome) = verdict.smuggling {
        let _ = write!(line, "  [smuggling: {outcome}]");
    }
    match &verdict.waived {
        Some(reason) if verdict.grade == Grade::Pass => {
            let _ = write!(line, "  (passes despite waiver: {reason})");
        }
        Some(reason) => {
            let _ = write!(line, "  (waived: {reason})");
        }
        None => {}
    }
    line
}

/// The evidence for a verdict that is not PASS: clause, expected versus
/// received with both explained from the catalogue, and the transcript
/// (secrets redacted).
pub fn details(verdict: &Verdict) -> String {
    let mut out = String::new();
    let Some(f) = &verdict.finding else {
        return out;
    };
    let rfc: Vec<String> = verdict.rfc.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "--- {} [{}] {}",
        verdict.id, verdict.grade, verdict.title
    );
    let _ = writeln!(out, "    clause:   {} ({})", rfc.join(", "), verdict.level);
    if let Some(outcome) = verdict.smuggling {
        let _ = writeln!(out, "    smuggling: {outcome}");
    }
    if let Some(reason) = &verdict.waived {
        let _ = writeln!(out, "    waived:   {reason}");
    }
    if f.line > 0 {
        let _ = writeln!(out, "    at:       scenario line {}", f.line);
    }
    if !f.expected.is_empty() {
        let notes = CodeNotes::of(f);
        let _ = writeln!(out, "    expected: {}", f.expected);
        for note in &notes.expected {
            let _ = writeln!(out, "              = {}", note.gloss());
        }
        let _ = writeln!(out, "    received: {}", f.received);
        for note in &notes.received {
            let _ = writeln!(out, "              = {}", note.gloss());
        }
        if let Some(meaning) = notes.expected_meaning() {
            let _ = writeln!(out, "    meaning:  {meaning}");
        }
    }
    let _ = writeln!(out, "    why:      {}", f.message);
    for v in &verdict.violations {
        let _ = writeln!(
            out,
            "    syntax:   {} ({} {}) in `{}`",
            v.message, v.level, v.clause, v.reply
        );
    }
    if !verdict.transcript.entries.is_empty() {
        let _ = writeln!(out, "    transcript:");
        for line in normalize::redact(&verdict.transcript).render().lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
    out
}

/// Counts per grade, e.g. `41 scenarios: 40 PASS, 1 FAIL`.
pub fn summary(verdicts: &[Verdict]) -> String {
    let counts = counts(verdicts);
    let parts: Vec<String> = Grade::ALL
        .iter()
        .filter_map(|g| counts.get(g).map(|n| format!("{n} {}", g.name())))
        .collect();
    let mut text = format!("{} scenarios: {}", verdicts.len(), parts.join(", "));
    let waived = verdicts
        .iter()
        .filter(|v| v.waived.is_some() && v.grade != Grade::Pass)
        .count();
    if waived > 0 {
        let _ = write!(text, "; {waived} waived");
    }
    let smuggling = |kind| {
        verdicts
            .iter()
            .filter(|v| v.smuggling == Some(kind))
            .count()
    };
    let (exploitable, non_conformant) = (
        smuggling(Smuggling::Exploitable),
        smuggling(Smuggling::NonConformant),
    );
    if exploitable + non_conformant > 0 {
        let _ = write!(
            text,
            "; smuggling: {exploitable} exploitable, {non_conformant} non-conformant only"
        );
    }
    text
}

/// How many scenarios got each grade.
pub fn counts(verdicts: &[Verdict]) -> BTreeMap<Grade, usize> {
    let mut counts: BTreeMap<Grade, usize> = BTreeMap::new();
    for v in verdicts {
        *counts.entry(v.grade).or_default() += 1;
    }
    counts
}

/// The `id GRADE` lines of a grades file, sorted by id.
pub fn grades_file(verdicts: &[Verdict]) -> String {
    let mut lines: Vec<String> = verdicts
        .iter()
        .map(|v| format!("{} {}", v.id, v.grade.name()))
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

/// A progress bar for stderr, e.g. `[#####-----]  12/40  1 not passed`.
pub fn progress_bar(done: usize, total: usize, not_passed: usize, width: usize) -> String {
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    format!(
        "[{}{}] {done:>w$}/{total} {not_passed} not passed",
        "#".repeat(filled),
        "-".repeat(width - filled),
        w = total.to_string().len()
    )
}

/// One code of a finding, explained from the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CodeNote {
    /// The code or pattern as written: `503`, `5xx`, `5.5.1`, `5.5.x`.
    pub code: String,
    /// Whether the catalogue defines it (patterns: whether the class is valid).
    pub known: bool,
    /// Its title in the catalogue, or what the pattern covers.
    pub title: String,
    /// The class, e.g. `5yz permanent negative completion`.
    pub class: String,
    /// What it means.
    pub meaning: String,
    /// What a client or operator should do about it.
    pub action: String,
}

impl CodeNote {
    /// One line: code, title and class.
    pub fn gloss(&self) -> String {
        if self.class.is_empty() || self.title.contains(&self.class) {
            format!("{} {}", self.code, self.title)
        } else {
            format!("{} {} ({})", self.code, self.title, self.class)
        }
    }

    fn reply(code: u16) -> CodeNote {
        CodeNote::explained(catalogue::Code::Reply(code))
    }

    fn status(class: u8, subject: u16, detail: u16) -> CodeNote {
        CodeNote::explained(catalogue::Code::Status {
            class: Some(class),
            subject,
            detail,
        })
    }

    /// The catalogue's entry for `code`, in note form.
    fn explained(code: catalogue::Code) -> CodeNote {
        let e = catalogue::explain(code);
        CodeNote {
            code: e.code,
            known: e.known,
            title: e.title,
            class: e.class,
            meaning: e.meaning,
            action: e.action,
        }
    }

    /// A pattern with `x` digits: the class (and subject) it covers.
    fn pattern(text: &str, class: u8, subject: Option<u16>, is_status: bool) -> CodeNote {
        let severity = if is_status {
            Severity::of_status_class(class)
        } else {
            Severity::of_code(u16::from(class) * 100)
        };
        let subject_title = subject
            .and_then(catalogue::subject)
            .map(|s| format!(", subject {}", s.title.to_lowercase()))
            .unwrap_or_default();
        CodeNote {
            code: text.to_string(),
            known: severity.is_some(),
            title: match severity {
                Some(s) => format!("any {}{subject_title}", s.class_name()),
                None => "not a valid class".into(),
            },
            class: severity
                .map(|s| s.class_name().to_string())
                .unwrap_or_default(),
            meaning: String::new(),
            action: severity
                .map(|s| s.client_action().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The expected and received codes of a finding, explained.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CodeNotes {
    /// Each acceptable code and enhanced status the scenario named.
    pub expected: Vec<CodeNote>,
    /// The received code and enhanced status, if a reply arrived.
    pub received: Vec<CodeNote>,
}

impl CodeNotes {
    /// Explains a finding's `expected` (e.g. `503|554 5.5.1 close`) and its
    /// received reply.
    pub fn of(finding: &Finding) -> CodeNotes {
        let mut notes = CodeNotes::default();
        for word in finding.expected.split_whitespace() {
            for alt in word.split('|') {
                if let Some(note) = note_for_pattern(alt) {
                    notes.expected.push(note);
                }
            }
        }
        if let Some(code) = finding.received_code {
            notes.received.push(CodeNote::reply(code));
            let text = finding.received.get(4..).unwrap_or("");
            if let Some(status) = EnhancedStatus::parse_prefix(text) {
                notes.received.push(CodeNote::status(
                    status.class,
                    status.subject,
                    status.detail,
                ));
            }
        }
        notes
    }

    /// What the first expected code means, from the catalogue: what the
    /// server should have said, and why.
    pub fn expected_meaning(&self) -> Option<String> {
        self.expected
            .iter()
            .find(|n| !n.meaning.is_empty())
            .map(|n| format!("{}: {}", n.code, n.meaning))
    }
}

/// `503`, `5xx`, `25x`, `5.5.1`, `5.5.x`, `5.x.x`; anything else (`close`,
/// `connection`) is not a code.
fn note_for_pattern(word: &str) -> Option<CodeNote> {
    let digit = |s: &str| -> Option<Option<u16>> {
        if s.eq_ignore_ascii_case("x") {
            Some(None)
        } else if !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(Some)
        } else {
            None
        }
    };
    let bytes = word.as_bytes();
    if bytes.len() == 3 && bytes[0].is_ascii_digit() {
        let rest_ok = bytes[1..]
            .iter()
            .all(|b| b.is_ascii_digit() || *b == b'x' || *b == b'X');
        if !rest_ok {
            return None;
        }
        let class = bytes[0] - b'0';
        if bytes.iter().all(u8::is_ascii_digit) {
            return word.parse().ok().map(CodeNote::reply);
        }
        return Some(CodeNote::pattern(word, class, None, false));
    }
    let parts: Vec<&str> = word.split('.').collect();
    if let [c, s, d] = parts[..]
        && c.len() == 1
        && c.as_bytes()[0].is_ascii_digit()
    {
        let class = c.as_bytes()[0] - b'0';
        return match (digit(s)?, digit(d)?) {
            (Some(s), Some(d)) => Some(CodeNote::status(class, s, d)),
            (subject, _) => Some(CodeNote::pattern(word, class, subject, true)),
        };
    }
    None
}

/// Escapes text for XML and HTML; characters XML 1.0 forbids become `\xNN`.
pub(crate) fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(expected: &str, received: &str, code: Option<u16>) -> Finding {
        Finding {
            line: 3,
            expected: expected.into(),
            received: received.into(),
            received_code: code,
            message: "m".into(),
        }
    }

    #[test]
    fn explains_expected_alternatives_patterns_and_the_received_reply() {
        let notes = CodeNotes::of(&finding(
            "503|554 5.5.1 close",
            "250 2.1.5 Recipient OK",
            Some(250),
        ));
        let codes: Vec<&str> = notes.expected.iter().map(|n| n.code.as_str()).collect();
        assert_eq!(codes, ["503", "554", "5.5.1"]);
        assert_eq!(notes.expected[0].title, "Bad sequence of commands");
        assert_eq!(notes.expected[2].title, "Invalid command");
        let received: Vec<String> = notes.received.iter().map(CodeNote::gloss).collect();
        assert_eq!(
            received,
            [
                "250 Requested mail action okay, completed (2yz positive completion)",
                "2.1.5 Destination address valid (2yz positive completion)"
            ]
        );
        assert!(
            notes
                .expected_meaning()
                .unwrap()
                .starts_with("503: A 5yz permanent error: a command came out of order")
        );
    }

    #[test]
    fn patterns_are_explained_by_class() {
        let notes = CodeNotes::of(&finding("5xx 5.5.x", "", None));
        assert_eq!(
            notes.expected[0].title,
            "any 5yz permanent negative completion"
        );
        assert_eq!(
            notes.expected[1].title,
            "any 5yz permanent negative completion, subject mail delivery protocol status"
        );
        assert!(notes.received.is_empty());
    }

    #[test]
    fn words_that_are_not_codes_are_ignored() {
        let notes = CodeNotes::of(&finding("connection close", "still open", None));
        assert!(notes.expected.is_empty());
        let notes = CodeNotes::of(&finding("{list}", "not defined", None));
        assert!(notes.expected.is_empty());
    }

    #[test]
    fn report_specs_parse() {
        let spec: ReportSpec = "json=out/report.json".parse().unwrap();
        assert_eq!(spec.format, Format::Json);
        assert_eq!(spec.path, PathBuf::from("out/report.json"));
        assert!(
            "yaml=x"
                .parse::<ReportSpec>()
                .unwrap_err()
                .contains("unknown format")
        );
        assert!("json".parse::<ReportSpec>().is_err());
        assert!("json=".parse::<ReportSpec>().is_err());
    }

    #[test]
    fn progress_bar_fills_in_proportion() {
        assert_eq!(progress_bar(0, 4, 0, 8), "[--------] 0/4 0 not passed");
        assert_eq!(progress_bar(2, 4, 1, 8), "[####----] 2/4 1 not passed");
        assert_eq!(progress_bar(4, 4, 0, 8), "[########] 4/4 0 not passed");
    }

    #[test]
    fn markup_escaping_keeps_xml_valid() {
        assert_eq!(
            escape_markup("<a href=\"x\">&'\u{0}\u{1b}\n"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\\x00\\x1b\n"
        );
    }
}
