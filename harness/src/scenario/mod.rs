//! Scenario files: what a client sends and which reply a conforming server
//! must give, tied to an RFC clause and a requirement level.
//!
//! The format (documented in full in `scenarios/README.md`):
//!
//! ```text
//! title: RCPT before MAIL is a bad sequence
//! rfc: 5321 4.1.4
//! level: MUST
//! tags: sequence
//!
//! S: 220
//! C: EHLO {client}
//! S: 250
//! C: RCPT TO:<{rcpt}>
//! S: 503 5.5.1
//! ```
//!
//! Nothing in this module does I/O except [`load`], which reads files.

mod expect;
mod parse;
mod template;

use std::fmt;
use std::path::{Path, PathBuf};

pub use expect::{CodePattern, Expectation, StatusPattern};
pub use parse::{ParseError, parse};
pub use template::{
    COMPUTED_VARIABLES, MissingVariable, Piece, SECRET_VARIABLES, Template, VARIABLES,
};

/// How strongly the RFC requires the behaviour a scenario checks (RFC 2119).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// An absolute requirement: not meeting it is a FAIL.
    Must,
    /// A recommendation: not meeting it is NON-STRICT.
    Should,
    /// Truly optional: not meeting it is reported, never a failure.
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// A reference to a clause: RFC number and section, e.g. `RFC 5321 4.1.4`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RfcRef {
    /// The RFC number.
    pub number: u32,
    /// The section, e.g. `4.1.4` or `D.1`.
    pub section: String,
}

impl fmt::Display for RfcRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RFC {} {}", self.number, self.section)
    }
}

/// One step of a scenario, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes to send in one write: consecutive `C:`/`C!` lines (pipelining).
    Send {
        /// Line of the first `C:` in the file.
        line: usize,
        /// The pieces, each already carrying its line ending if it has one.
        data: Template,
    },
    /// A reply (or a close) the server must produce next.
    Expect(Expectation),
    /// `T: starttls`: perform the TLS handshake now, on the open connection
    /// (after the `S: 220` that answers `C: STARTTLS`, RFC 3207 4).
    StartTls {
        /// Line of the `T:` in the file.
        line: usize,
    },
}

/// A parsed scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Stable identifier: the path below the scenarios folder, without extension.
    pub id: String,
    /// The file it came from.
    pub source: PathBuf,
    /// One line saying what is checked.
    pub title: String,
    /// The clauses checked; the first is the primary one.
    pub rfc: Vec<RfcRef>,
    /// Requirement level of the behaviour checked.
    pub level: Level,
    /// Free-form tags for selection.
    pub tags: Vec<String>,
    /// EHLO keywords the server must advertise for this scenario to apply.
    pub requires: Vec<String>,
    /// Why the expectation is what it is, quoting or paraphrasing the RFC.
    pub why: String,
    /// Ids of the clauses (from `scenarios/clauses.toml`) the scenario
    /// checks, from the optional `clauses:` header field; see [`crate::coverage`].
    pub clauses: Vec<String>,
    /// The exchange.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Every profile variable the scenario uses.
    pub fn variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Send { data, .. } => Some(data.variables()),
                Step::Expect(_) | Step::StartTls { .. } => None,
            })
            .flatten()
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether the scenario upgrades to TLS with a `T: starttls` step.
    pub fn uses_starttls(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::StartTls { .. }))
    }
}

/// Everything found under a scenarios folder: the good files and the bad ones.
#[derive(Debug, Default)]
pub struct Suite {
    /// Parsed scenarios, sorted by id.
    pub scenarios: Vec<Scenario>,
    /// Files that could not be read or parsed.
    pub errors: Vec<ParseError>,
}

/// The file extension of scenario files.
pub const EXTENSION: &str = "smtp";

/// Loads every `*.smtp` file under each path (files or folders). Ids are
/// relative to `root` when the file lies below it. Bad files are collected,
/// not fatal: the others still load.
pub fn load(root: &Path, paths: &[PathBuf]) -> Suite {
    let mut files = Vec::new();
    let mut suite = Suite::default();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut files, &mut suite.errors);
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    for file in files {
        let id = scenario_id(root, &file);
        let parsed = std::fs::read(&file)
            .map_err(|e| ParseError {
                file: file.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read file: {e}"),
            })
            .and_then(|bytes| utf8(&file, bytes))
            .and_then(|text| parse(&id, &file, &text));
        match parsed {
            Ok(s) => suite.scenarios.push(s),
            Err(e) => suite.errors.push(e),
        }
    }
    suite.scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    suite
}

/// The file's text, or an error at the line and column of the first byte
/// that is not UTF-8.
fn utf8(file: &Path, bytes: Vec<u8>) -> Result<String, ParseError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        ParseError {
            file: file.to_path_buf(),
            line,
            column,
            message: "the file is not UTF-8 text (use `C!` with `\\xHH` escapes for raw bytes)"
                .into(),
        }
    })
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<ParseError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ParseError {
                file: dir.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("cannot read folder: {e}"),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files, errors);
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            files.push(path);
        }
    }
}

/// `root/rfc5321/x.smtp` becomes `rfc5321/x`; files elsewhere keep their stem.
fn scenario_id(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap_or(file);
    let relative = relative.with_extension("");
    let parts: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_bytes_are_located() {
        let err = utf8(Path::new("x.smtp"), b"title: t\nrfc: 5\xe9\n".to_vec()).unwrap_err();
        assert_eq!((err.line, err.column), (2, 7), "{err}");
        assert!(
            err.to_string()
                .starts_with("x.smtp:2:7: the file is not UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn ids_are_relative_paths_without_extension() {
        assert_eq!(
            scenario_id(Path::new("/s"), Path::new("/s/rfc5321/4.1.4-x.smtp")),
            "rfc5321/4.1.4-x"
        );
        assert_eq!(
            scenario_id(Path::new("/s"), Path::new("/elsewhere/y.smtp")),
            "elsewhere/y"
        );
    }
}
