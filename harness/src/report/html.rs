//! One self-contained HTML file: inline CSS, no script, no external
//! resource of any kind, so it opens in a browser with no network access.
//! A summary, a table of every scenario, and per scenario its evidence and
//! transcript (open by default for those that did not pass).

use std::fmt::Write;

use super::baseline::Change;
use super::normalize::redact;
use super::{CodeNotes, RunInfo, counts, escape_markup as esc};
use crate::runner::{Grade, Verdict};

const CSS: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:.5rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.meta{color:#57606a}
.badges span,.g{display:inline-block;border-radius:4px;padding:0 .45rem;font-weight:600;font-size:.8rem;color:#fff}
.badges span{margin-right:.4rem;padding:.15rem .6rem;font-size:.9rem}
.PASS{background:#1a7f37}.FLAKY{background:#bf8700}.UNSUPPORTED{background:#0969da}
.NON-STRICT{background:#9a6700}.FAIL{background:#cf222e}.ERROR{background:#8250df}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
details{border:1px solid #d0d7de;border-radius:6px;margin:.5rem 0;padding:.25rem .75rem}
summary{cursor:pointer;padding:.25rem 0}
dl{display:grid;grid-template-columns:7rem 1fr;gap:.2rem .75rem;margin:.5rem 0}
dt{color:#57606a}dd{margin:0}
dd ul{margin:.1rem 0;padding-left:1.1rem;color:#57606a}
pre{background:#f6f8fa;border-radius:6px;padding:.5rem .75rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
pre .c{color:#0550ae}pre .s{color:#1b1f24}pre .x{color:#8250df;font-style:italic}
";

/// Renders the HTML report.
pub fn render(verdicts: &[Verdict], info: &RunInfo) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>smtp-harness report</title>\n<style>",
    );
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<h1>smtp-harness report</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"meta\">Target <code>{}</code> · {} scenarios · {:.1} s{}</p>",
        esc(&info.target),
        verdicts.len(),
        info.elapsed.as_secs_f64(),
        info.settings_suffix(),
    );
    let counts = counts(verdicts);
    out.push_str("<p class=\"badges\">");
    for g in Grade::ALL {
        if let Some(n) = counts.get(&g) {
            let _ = write!(out, "<span class=\"{0}\">{n} {0}</span>", g.name());
        }
    }
    out.push_str("</p>\n");
    if let Some(b) = &info.baseline {
        out.push_str("<h2>Baseline</h2>\n<ul>\n");
        let mut any = false;
        for (label, change) in [
            ("Regression", Change::Regression),
            ("Improvement", Change::Improvement),
        ] {
            for e in b.with(change) {
                any = true;
                let _ = writeln!(
                    out,
                    "<li>{label}: <code>{}</code> {} → {}</li>",
                    esc(&e.id),
                    e.baseline.map_or("-", Grade::name),
                    e.grade
                );
            }
        }
        if !any {
            out.push_str("<li>No change against the baseline.</li>\n");
        }
        out.push_str("</ul>\n");
    }
    out.push_str(
        "<h2>Scenarios</h2>\n<table>\n<thead><tr><th>Grade</th><th>Scenario</th><th>Title</th>\
         <th>Clause</th><th>ms</th></tr></thead>\n<tbody>\n",
    );
    for (i, v) in verdicts.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td><span class=\"g {g}\">{g}</span></td><td><a href=\"#s{i}\"><code>{}</code></a></td>\
             <td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&v.id),
            esc(&v.title),
            esc(&v.rfc.first().map(ToString::to_string).unwrap_or_default()),
            v.elapsed.as_millis(),
            g = v.grade.name()
        );
    }
    out.push_str("</tbody>\n</table>\n<h2>Transcripts</h2>\n");
    for (i, v) in verdicts.iter().enumerate() {
        scenario(&mut out, i, v);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn scenario(out: &mut String, index: usize, v: &Verdict) {
    let open = if v.grade == Grade::Pass { "" } else { " open" };
    let _ = writeln!(
        out,
        "<details id=\"s{index}\"{open}><summary><span class=\"g {g}\">{g}</span> <code>{}</code> {}</summary>",
        esc(&v.id),
        esc(&v.title),
        g = v.grade.name()
    );
    out.push_str("<dl>\n");
    let rfc: Vec<String> = v.rfc.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        out,
        "<dt>Clause</dt><dd>{} ({})</dd>",
        esc(&rfc.join(", ")),
        v.level
    );
    if let Some(f) = &v.finding {
        if f.line > 0 {
            let _ = writeln!(out, "<dt>At</dt><dd>scenario line {}</dd>", f.line);
        }
        if !f.expected.is_empty() {
            let notes = CodeNotes::of(f);
            let list = |notes: &[super::CodeNote]| -> String {
                if notes.is_empty() {
                    return String::new();
                }
                let items: String = notes
                    .iter()
                    .map(|n| format!("<li>{}</li>", esc(&n.gloss())))
                    .collect();
                format!("<ul>{items}</ul>")
            };
            let _ = writeln!(
                out,
                "<dt>Expected</dt><dd><code>{}</code>{}</dd>",
                esc(&f.expected),
                list(&notes.expected)
            );
            let _ = writeln!(
                out,
                "<dt>Received</dt><dd><code>{}</code>{}</dd>",
                esc(&f.received),
                list(&notes.received)
            );
            if let Some(meaning) = notes.expected_meaning() {
                let _ = writeln!(out, "<dt>Meaning</dt><dd>{}</dd>", esc(&meaning));
            }
        }
        let _ = writeln!(out, "<dt>Why</dt><dd>{}</dd>", esc(&f.message));
    }
    out.push_str("</dl>\n");
    if !v.transcript.entries.is_empty() {
        out.push_str("<pre>");
        for line in redact(&v.transcript).render().lines() {
            let class = match line.get(..3) {
                Some("C: ") => "c",
                Some("S: ") => "s",
                _ => "x",
            };
            let _ = writeln!(out, "<span class=\"{class}\">{}</span>", esc(line));
        }
        out.push_str("</pre>\n");
    }
    out.push_str("</details>\n");
}
