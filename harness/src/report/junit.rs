//! The JUnit XML report, in the format Jenkins, GitLab and most CI systems
//! read (checked against `fixtures/schemas/junit.xsd`): one `testsuite` per
//! scenario folder (`rfc5321`, ...), one `testcase` per scenario.
//!
//! | grade | testcase |
//! | --- | --- |
//! | PASS | empty |
//! | FLAKY | `flakyFailure` (Surefire's element for a test that passed on a rerun); also `failure` with `--strict` |
//! | UNSUPPORTED | `skipped` |
//! | NON-STRICT | `system-out` with the evidence; `failure` with `--strict` |
//! | FAIL | `failure` with expected, received, the catalogue's explanation and the transcript |
//! | ERROR | `error`, likewise |

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{RunInfo, details, escape_markup as esc};
use crate::runner::{Grade, Verdict};

/// Renders the JUnit XML report.
pub fn render(verdicts: &[Verdict], info: &RunInfo) -> String {
    let mut suites: BTreeMap<&str, Vec<&Verdict>> = BTreeMap::new();
    for v in verdicts {
        suites.entry(suite_name(&v.id)).or_default().push(v);
    }
    let failures = |vs: &[&Verdict]| {
        vs.iter()
            .filter(|v| is_failure(v.grade, info.strict))
            .count()
    };
    let errors = |vs: &[&Verdict]| vs.iter().filter(|v| v.grade == Grade::Error).count();
    let all: Vec<&Verdict> = verdicts.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"smtp-harness\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">",
        all.len(),
        failures(&all),
        errors(&all),
        seconds(info.elapsed.as_secs_f64())
    );
    for (name, vs) in &suites {
        let skipped = vs.iter().filter(|v| v.grade == Grade::Unsupported).count();
        let time: f64 = vs.iter().map(|v| v.elapsed.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{skipped}\" time=\"{}\">",
            esc(name),
            vs.len(),
            failures(vs),
            errors(vs),
            seconds(time)
        );
        let _ = writeln!(
            out,
            "    <properties><property name=\"target\" value=\"{}\"/></properties>",
            esc(&info.target)
        );
        for v in vs {
            testcase(&mut out, v, info.strict);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn is_failure(grade: Grade, strict: bool) -> bool {
    grade == Grade::Fail || (strict && matches!(grade, Grade::NonStrict | Grade::Flaky))
}

/// `rfc5321/4.1.4-x` is in suite `rfc5321`; an id with no folder in `smtp-harness`.
fn suite_name(id: &str) -> &str {
    id.split_once('/')
        .map_or("smtp-harness", |(folder, _)| folder)
}

fn seconds(s: f64) -> String {
    format!("{s:.3}")
}

fn testcase(out: &mut String, v: &Verdict, strict: bool) {
    let name = v.id.split_once('/').map_or(v.id.as_str(), |(_, rest)| rest);
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        esc(name),
        esc(suite_name(&v.id)),
        seconds(v.elapsed.as_secs_f64())
    );
    let message = v
        .finding
        .as_ref()
        .map(|f| format!("{}: {}", v.grade, f.message))
        .unwrap_or_default();
    let evidence = details(v);
    let body = match v.grade {
        Grade::Pass => None,
        Grade::Flaky => {
            let mut b = format!(
                "      <flakyFailure message=\"{}\" type=\"FLAKY\"><system-out>{}</system-out></flakyFailure>\n",
                esc(&message),
                esc(&evidence)
            );
            if strict {
                let _ = writeln!(
                    b,
                    "      <failure message=\"{}\" type=\"FLAKY\">{}</failure>",
                    esc(&message),
                    esc(&evidence)
                );
            }
            Some(b)
        }
        Grade::Unsupported => Some(format!("      <skipped message=\"{}\"/>\n", esc(&message))),
        Grade::NonStrict if strict => Some(format!(
            "      <failure message=\"{}\" type=\"NON-STRICT\">{}</failure>\n",
            esc(&message),
            esc(&evidence)
        )),
        Grade::NonStrict => Some(format!(
            "      <system-out>{}</system-out>\n",
            esc(&evidence)
        )),
        Grade::Fail => Some(format!(
            "      <failure message=\"{}\" type=\"FAIL\">{}</failure>\n",
            esc(&message),
            esc(&evidence)
        )),
        Grade::Error => Some(format!(
            "      <error message=\"{}\" type=\"ERROR\">{}</error>\n",
            esc(&message),
            esc(&evidence)
        )),
    };
    match body {
        None => out.push_str("/>\n"),
        Some(b) => {
            out.push_str(">\n");
            out.push_str(&b);
            out.push_str("    </testcase>\n");
        }
    }
}
