//! Baselines for vendors: the expected grade of each scenario (`id GRADE`
//! lines, the format `--write-grades` writes). A run against a baseline
//! fails only on a regression, a grade worse than the baseline's (grades are
//! ordered best to worst, see [`Grade`]), and reports improvements.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::runner::{Grade, Verdict};

/// A baseline file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `ID GRADE`.
    #[error(
        "{path}:{line}: expected `ID GRADE` with GRADE one of PASS, FLAKY, UNSUPPORTED, NON-STRICT, FAIL, ERROR; found `{text}`"
    )]
    Syntax {
        /// The file.
        path: String,
        /// The line number.
        line: usize,
        /// The line.
        text: String,
    },
}

/// Expected grades by scenario id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    /// The grade of each scenario.
    pub grades: BTreeMap<String, Grade>,
}

impl Baseline {
    /// Reads a baseline file.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Baseline::parse(&text).map_err(|(line, text)| BaselineError::Syntax {
            path: path.display().to_string(),
            line,
            text,
        })
    }

    /// Parses `id GRADE` lines; `#` comments and blank lines are skipped.
    /// On error, the line number and text.
    pub fn parse(text: &str) -> Result<Baseline, (usize, String)> {
        let mut grades = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = line
                .split_once(char::is_whitespace)
                .and_then(|(id, g)| Some((id, Grade::from_name(g.trim())?)));
            match parsed {
                Some((id, grade)) => {
                    grades.insert(id.to_string(), grade);
                }
                None => return Err((n + 1, line.to_string())),
            }
        }
        Ok(Baseline { grades })
    }

    /// Compares a run with the baseline.
    pub fn compare(&self, verdicts: &[Verdict]) -> Comparison {
        let mut rest = self.grades.clone();
        let mut changes = Vec::new();
        for v in verdicts {
            let was = rest.remove(&v.id);
            let kind = match was {
                None => Change::New,
                Some(g) if v.grade > g => Change::Regression,
                Some(g) if v.grade < g => Change::Improvement,
                Some(_) => Change::Same,
            };
            changes.push(Entry {
                id: v.id.clone(),
                baseline: was,
                grade: v.grade,
                change: kind,
            });
        }
        Comparison {
            entries: changes,
            not_run: rest.into_keys().collect(),
        }
    }
}

/// How a scenario's grade relates to the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The same grade.
    Same,
    /// A worse grade: the run fails.
    Regression,
    /// A better grade.
    Improvement,
    /// Not in the baseline.
    New,
}

/// One scenario against the baseline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Scenario id.
    pub id: String,
    /// The baseline's grade, if it has one.
    pub baseline: Option<Grade>,
    /// The grade now.
    pub grade: Grade,
    /// How they relate.
    pub change: Change,
}

/// A run compared with a baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// One entry per scenario run, in run order.
    pub entries: Vec<Entry>,
    /// Baseline ids that were not run (a subset was selected, or a scenario was removed).
    pub not_run: Vec<String>,
}

impl Comparison {
    /// The entries with a given change.
    pub fn with(&self, change: Change) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.change == change)
    }

    /// The entry of a scenario.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Whether the run fails: a regression, or a new scenario whose grade
    /// is a failure by itself (it has no baseline to excuse it).
    pub fn fails(&self, strict: bool) -> bool {
        self.with(Change::Regression).next().is_some()
            || self.with(Change::New).any(|e| e.grade.is_failure(strict))
    }

    /// The terminal text: regressions, improvements, new and not-run
    /// scenarios, and a one-line count.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (change, label) in [
            (Change::Regression, "regression"),
            (Change::Improvement, "improvement"),
        ] {
            for e in self.with(change) {
                let was = e.baseline.map_or("-", Grade::name);
                let _ = writeln!(out, "{label}: {} {was} -> {}", e.id, e.grade);
            }
        }
        for e in self.with(Change::New) {
            let _ = writeln!(out, "not in baseline: {} {}", e.id, e.grade);
        }
        for id in &self.not_run {
            let _ = writeln!(out, "in baseline but not run: {id}");
        }
        let count = |c| self.with(c).count();
        let _ = writeln!(
            out,
            "baseline: {} regressions, {} improvements, {} unchanged, {} new, {} not run",
            count(Change::Regression),
            count(Change::Improvement),
            count(Change::Same),
            count(Change::New),
            self.not_run.len()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Level;
    use crate::transcript::Transcript;
    use std::time::Duration;

    fn verdict(id: &str, grade: Grade) -> Verdict {
        Verdict {
            id: id.into(),
            title: String::new(),
            rfc: Vec::new(),
            level: Level::Must,
            grade,
            finding: None,
            violations: Vec::new(),
            waived: None,
            smuggling: None,
            transcript: Transcript::default(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn worse_is_a_regression_better_an_improvement() {
        let baseline =
            Baseline::parse("# vendor X\na FAIL\nb PASS\nc PASS\nd NON-STRICT\ngone PASS\n")
                .unwrap();
        let cmp = baseline.compare(&[
            verdict("a", Grade::Pass),
            verdict("b", Grade::Flaky),
            verdict("c", Grade::Pass),
            verdict("d", Grade::NonStrict),
            verdict("new", Grade::Unsupported),
        ]);
        let kinds: Vec<Change> = cmp.entries.iter().map(|e| e.change).collect();
        assert_eq!(
            kinds,
            [
                Change::Improvement,
                Change::Regression,
                Change::Same,
                Change::Same,
                Change::New
            ]
        );
        assert_eq!(cmp.not_run, ["gone"]);
        assert!(cmp.fails(false), "PASS -> FLAKY is a regression");
        let text = cmp.text();
        assert!(text.contains("regression: b PASS -> FLAKY"), "{text}");
        assert!(text.contains("improvement: a FAIL -> PASS"), "{text}");
    }

    #[test]
    fn a_known_failure_does_not_fail_the_run() {
        let baseline = Baseline::parse("a FAIL\nb ERROR\n").unwrap();
        let cmp = baseline.compare(&[verdict("a", Grade::Fail), verdict("b", Grade::Fail)]);
        assert!(!cmp.fails(true));
        assert_eq!(cmp.with(Change::Improvement).count(), 1);
    }

    #[test]
    fn a_new_failing_scenario_fails_the_run() {
        let cmp = Baseline::default().compare(&[verdict("x", Grade::Fail)]);
        assert!(cmp.fails(false));
        let cmp = Baseline::default().compare(&[verdict("x", Grade::NonStrict)]);
        assert!(!cmp.fails(false));
        assert!(cmp.fails(true));
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        assert_eq!(
            Baseline::parse("a PASS\nb GREAT\n"),
            Err((2, "b GREAT".to_string()))
        );
        assert_eq!(Baseline::parse("lonely\n"), Err((1, "lonely".to_string())));
    }
}
