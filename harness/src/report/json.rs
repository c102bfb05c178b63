//! The JSON report. Its schema is `docs/report-schema.json` (JSON Schema
//! 2020-12); the report carries `"schema_version": 1`. A change that removes
//! or renames a field, or changes a field's meaning, raises the version;
//! adding a field does not.

use std::collections::BTreeMap;

use serde::Serialize;

use super::baseline::Change;
use super::normalize::redact;
use super::{CodeNotes, RunInfo, counts};
use crate::runner::{Grade, Verdict};
use crate::transcript::Direction;

/// The version of the report format, `schema_version` in every report.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    tool: Tool,
    target: &'a str,
    strict: bool,
    retries: u32,
    duration_ms: u64,
    summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineSummary>,
    scenarios: Vec<Scenario<'a>>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    counts: BTreeMap<&'static str, usize>,
    failed: bool,
}

#[derive(Serialize)]
struct BaselineSummary {
    regressions: Vec<String>,
    improvements: Vec<String>,
    new: Vec<String>,
    not_run: Vec<String>,
    failed: bool,
}

#[derive(Serialize)]
struct Scenario<'a> {
    id: &'a str,
    title: &'a str,
    rfc: Vec<String>,
    level: String,
    grade: Grade,
    duration_ms: u64,
    finding: Option<FindingOut<'a>>,
    violations: Vec<ViolationOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineEntry>,
    transcript: Vec<Line>,
}

#[derive(Serialize)]
struct FindingOut<'a> {
    line: usize,
    expected: &'a str,
    received: &'a str,
    received_code: Option<u16>,
    message: &'a str,
    explained: CodeNotes,
}

#[derive(Serialize)]
struct ViolationOut<'a> {
    clause: String,
    level: String,
    message: &'a str,
    reply: &'a str,
}

#[derive(Serialize)]
struct BaselineEntry {
    grade: Option<Grade>,
    change: Change,
}

#[derive(Serialize)]
struct Line {
    direction: Direction,
    at_ms: u64,
    text: String,
}

/// Renders the JSON report (pretty-printed, ends with a newline).
pub fn render(verdicts: &[Verdict], info: &RunInfo) -> String {
    let failed = match &info.baseline {
        Some(b) => b.fails(info.strict),
        None => verdicts.iter().any(|v| v.grade.is_failure(info.strict)),
    };
    let counts = counts(verdicts);
    let report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "smtp-harness",
            version: env!("CARGO_PKG_VERSION"),
        },
        target: &info.target,
        strict: info.strict,
        retries: info.retries,
        duration_ms: info.elapsed.as_millis() as u64,
        summary: Summary {
            total: verdicts.len(),
            counts: Grade::ALL
                .iter()
                .map(|g| (g.name(), counts.get(g).copied().unwrap_or(0)))
                .collect(),
            failed,
        },
        baseline: info.baseline.as_ref().map(|b| BaselineSummary {
            regressions: b.with(Change::Regression).map(|e| e.id.clone()).collect(),
            improvements: b.with(Change::Improvement).map(|e| e.id.clone()).collect(),
            new: b.with(Change::New).map(|e| e.id.clone()).collect(),
            not_run: b.not_run.clone(),
            failed: b.fails(info.strict),
        }),
        scenarios: verdicts
            .iter()
            .map(|v| Scenario {
                id: &v.id,
                title: &v.title,
                rfc: v.rfc.iter().map(ToString::to_string).collect(),
                level: v.level.to_string(),
                grade: v.grade,
                duration_ms: v.elapsed.as_millis() as u64,
                finding: v.finding.as_ref().map(|f| FindingOut {
                    line: f.line,
                    expected: &f.expected,
                    received: &f.received,
                    received_code: f.received_code,
                    message: &f.message,
                    explained: CodeNotes::of(f),
                }),
                violations: v
                    .violations
                    .iter()
                    .map(|x| ViolationOut {
                        clause: x.clause.to_string(),
                        level: x.level.to_string(),
                        message: &x.message,
                        reply: &x.reply,
                    })
                    .collect(),
                baseline: info
                    .baseline
                    .as_ref()
                    .and_then(|b| b.entry(&v.id))
                    .map(|e| BaselineEntry {
                        grade: e.baseline,
                        change: e.change,
                    }),
                transcript: transcript_lines(v),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).expect("the report serialises");
    text.push('\n');
    text
}

/// The redacted transcript, one element per line, as in the text rendering.
fn transcript_lines(verdict: &Verdict) -> Vec<Line> {
    let mut lines = Vec::new();
    for entry in redact(&verdict.transcript).entries {
        let single = crate::transcript::Transcript {
            entries: vec![entry.clone()],
        };
        for rendered in single.render().lines() {
            lines.push(Line {
                direction: entry.direction,
                at_ms: entry.at.as_millis() as u64,
                text: rendered.get(3..).unwrap_or("").to_string(),
            });
        }
    }
    lines
}
