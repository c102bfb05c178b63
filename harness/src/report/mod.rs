//! Renders verdicts for people: a line per scenario as it finishes, the
//! evidence for every one that is not PASS, and a summary.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::runner::{Grade, Smuggling, Verdict};

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
            Grade::Unsupported => "36",
            Grade::NonStrict => "33",
            Grade::Fail => "31",
            Grade::Error => "35",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
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
/// received, and the transcript.
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
        let _ = writeln!(out, "    expected: {}", f.expected);
        let _ = writeln!(out, "    received: {}", f.received);
    }
    let _ = writeln!(out, "    why:      {}", f.message);
    if !verdict.transcript.entries.is_empty() {
        let _ = writeln!(out, "    transcript:");
        for line in verdict.transcript.render().lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
    out
}

/// Counts per grade, e.g. `41 scenarios: 40 PASS, 1 FAIL`.
pub fn summary(verdicts: &[Verdict]) -> String {
    let mut counts: BTreeMap<Grade, usize> = BTreeMap::new();
    for v in verdicts {
        *counts.entry(v.grade).or_default() += 1;
    }
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

/// The `id GRADE` lines of a grades file, sorted by id.
pub fn grades_file(verdicts: &[Verdict]) -> String {
    let mut lines: Vec<String> = verdicts
        .iter()
        .map(|v| format!("{} {}", v.id, v.grade.name()))
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}
