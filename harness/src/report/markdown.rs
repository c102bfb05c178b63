//! The Markdown summary: counts, then every scenario that did not pass with
//! its expected and received codes explained, and its transcript folded
//! away (GitHub renders `<details>`), for a pull-request comment or a CI
//! job summary.

use std::fmt::Write;

use super::baseline::Change;
use super::normalize::redact;
use super::{CodeNotes, RunInfo, counts};
use crate::runner::{Grade, Verdict};

/// Renders the Markdown summary.
pub fn render(verdicts: &[Verdict], info: &RunInfo) -> String {
    let mut out = String::from("# smtp-harness report\n\n");
    let _ = writeln!(
        out,
        "Target: `{}` · {} scenarios · {:.1} s{}\n",
        info.target.replace('`', "'"),
        verdicts.len(),
        info.elapsed.as_secs_f64(),
        info.settings_suffix(),
    );
    let counts = counts(verdicts);
    out.push_str("| Grade | Scenarios |\n| --- | ---: |\n");
    for g in Grade::ALL {
        if let Some(n) = counts.get(&g) {
            let _ = writeln!(out, "| {} | {n} |", g.name());
        }
    }
    if let Some(b) = &info.baseline {
        out.push_str("\n## Baseline\n\n");
        let regressions: Vec<_> = b.with(Change::Regression).collect();
        let improvements: Vec<_> = b.with(Change::Improvement).collect();
        if regressions.is_empty() && improvements.is_empty() {
            out.push_str("No change against the baseline.\n");
        }
        for (label, list) in [("Regression", regressions), ("Improvement", improvements)] {
            for e in list {
                let was = e.baseline.map_or("-", Grade::name);
                let _ = writeln!(out, "- {label}: `{}` {was} → {}", e.id, e.grade);
            }
        }
        let new = b.with(Change::New).count();
        if new > 0 {
            let _ = writeln!(out, "- {new} scenarios not in the baseline");
        }
    }
    let not_passed: Vec<&Verdict> = verdicts.iter().filter(|v| v.grade != Grade::Pass).collect();
    if not_passed.is_empty() {
        out.push_str("\nEvery scenario passed.\n");
        return out;
    }
    out.push_str("\n## Not passed\n\n| Grade | Scenario | Clause | Expected | Received |\n| --- | --- | --- | --- | --- |\n");
    for v in &not_passed {
        let (expected, received) = v
            .finding
            .as_ref()
            .map(|f| (f.expected.as_str(), f.received.as_str()))
            .unwrap_or(("", ""));
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} |",
            v.grade,
            v.id,
            cell(&v.rfc.first().map(ToString::to_string).unwrap_or_default()),
            code_cell(expected),
            code_cell(received)
        );
    }
    for v in &not_passed {
        let _ = writeln!(out, "\n### {} `{}`\n\n{}\n", v.grade, v.id, cell(&v.title));
        let rfc: Vec<String> = v.rfc.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "- Clause: {} ({})", rfc.join(", "), v.level);
        if let Some(f) = &v.finding {
            if !f.expected.is_empty() {
                let notes = CodeNotes::of(f);
                let _ = writeln!(out, "- Expected: {}", code_cell(&f.expected));
                for n in &notes.expected {
                    let _ = writeln!(out, "  - {}", cell(&n.gloss()));
                }
                let _ = writeln!(out, "- Received: {}", code_cell(&f.received));
                for n in &notes.received {
                    let _ = writeln!(out, "  - {}", cell(&n.gloss()));
                }
                if let Some(meaning) = notes.expected_meaning() {
                    let _ = writeln!(out, "- Meaning: {}", cell(&meaning));
                }
            }
            let _ = writeln!(out, "- Why: {}", cell(&f.message));
        }
        if !v.transcript.entries.is_empty() {
            let transcript = redact(&v.transcript).render().replace("```", "'''");
            let _ = writeln!(
                out,
                "\n<details><summary>Transcript</summary>\n\n```text\n{transcript}```\n\n</details>"
            );
        }
    }
    out
}

/// Text safe inside a table cell or a list item.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

/// Inline code, or a dash when empty.
fn code_cell(text: &str) -> String {
    if text.is_empty() {
        return "—".into();
    }
    format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
}
