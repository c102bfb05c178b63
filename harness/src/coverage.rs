//! Clause coverage: which requirements of the RFCs (listed in
//! `scenarios/clauses.toml`) the suite checks, and which it does not.
//!
//! A clause is a MUST, SHOULD or MAY that a client can observe on the wire.
//! A scenario covers a clause
//!
//! - **explicitly** when its `clauses:` header field names the clause id, or
//! - **by section** when one of its `rfc:` references names the clause's RFC
//!   and section exactly (coarser: a section often holds several clauses).
//!
//! A clause covered neither way is a gap. A `clauses:` id that is not in the
//! list is an error (a typo would otherwise hide a gap). No I/O except
//! [`load_clauses`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use serde::Deserialize;

use crate::scenario::{Level, Scenario};

/// One testable requirement of an RFC.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    /// Stable id: `RFC-SECTION-what`, e.g. `5321-4.1.4-ehlo-resets`.
    pub id: String,
    /// The RFC number.
    pub rfc: u32,
    /// The section, e.g. `4.1.1.4`.
    pub section: String,
    /// MUST, SHOULD or MAY (MUST NOT and SHOULD NOT count as MUST and SHOULD).
    #[serde(deserialize_with = "level")]
    pub level: Level,
    /// The requirement, quoted (shortened) from the RFC.
    pub text: String,
}

fn level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    let text = String::deserialize(d)?;
    match text.as_str() {
        "MUST" | "MUST NOT" | "REQUIRED" | "SHALL" | "SHALL NOT" => Ok(Level::Must),
        "SHOULD" | "SHOULD NOT" | "RECOMMENDED" => Ok(Level::Should),
        "MAY" | "OPTIONAL" => Ok(Level::May),
        other => Err(serde::de::Error::custom(format!(
            "expected MUST, MUST NOT, SHOULD, SHOULD NOT or MAY, found `{other}`"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClauseFile {
    clause: Vec<Clause>,
}

/// A clause list that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed, has unknown fields or a bad level.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// Two clauses share an id.
    #[error("{path}: clause id `{id}` appears more than once")]
    Duplicate {
        /// The file.
        path: String,
        /// The repeated id.
        id: String,
    },
}

/// Parses a clause list (the text of `clauses.toml`); `path` names it in errors.
pub fn parse_clauses(path: &str, text: &str) -> Result<Vec<Clause>, CoverageError> {
    let file: ClauseFile = toml::from_str(text).map_err(|e| CoverageError::Parse {
        path: path.to_string(),
        message: e.to_string(),
    })?;
    let mut seen = BTreeSet::new();
    for clause in &file.clause {
        if !seen.insert(clause.id.as_str()) {
            return Err(CoverageError::Duplicate {
                path: path.to_string(),
                id: clause.id.clone(),
            });
        }
    }
    Ok(file.clause)
}

/// Reads and parses a clause list.
pub fn load_clauses(path: &Path) -> Result<Vec<Clause>, CoverageError> {
    let text = std::fs::read_to_string(path).map_err(|source| CoverageError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_clauses(&path.display().to_string(), &text)
}

/// How well one clause is covered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClauseCoverage {
    /// The clause.
    pub clause: Clause,
    /// Scenarios naming it in `clauses:`.
    pub explicit: Vec<String>,
    /// Scenarios citing its RFC and section in `rfc:`.
    pub by_section: Vec<String>,
}

/// The coverage status of a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Named by at least one scenario's `clauses:`.
    Explicit,
    /// Only its section is cited.
    Section,
    /// Not covered.
    Gap,
}

impl ClauseCoverage {
    /// Explicit, section-only or gap.
    pub fn status(&self) -> Status {
        if !self.explicit.is_empty() {
            Status::Explicit
        } else if !self.by_section.is_empty() {
            Status::Section
        } else {
            Status::Gap
        }
    }
}

/// The coverage of a clause list by a suite.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CoverageReport {
    /// Every clause, in list order, with the scenarios covering it.
    pub clauses: Vec<ClauseCoverage>,
    /// `(scenario id, clause id)` for each `clauses:` id not in the list.
    pub unknown: Vec<(String, String)>,
}

/// Clauses the runner's reply-syntax check verifies under every reply of
/// every scenario ([`crate::runner::reply_check`]), whatever the scenario.
pub const REPLY_CHECK_CLAUSES: &[&str] = &[
    "5321-2.3.8-crlf-only",
    "5321-4.5.3.1.5-reply-line-512",
    "2034-4-codes-on-replies",
    "2034-4-class-agrees",
    "2034-4-multiline-same-status",
];

/// How coverage lists the reply-syntax check among a clause's scenarios.
pub const REPLY_CHECK: &str = "(reply-syntax check, every reply)";

/// Maps scenarios to clauses.
pub fn coverage(clauses: &[Clause], scenarios: &[Scenario]) -> CoverageReport {
    let known: BTreeSet<&str> = clauses.iter().map(|c| c.id.as_str()).collect();
    let mut unknown = Vec::new();
    let mut explicit: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut by_section: BTreeMap<(u32, &str), Vec<String>> = BTreeMap::new();
    if !scenarios.is_empty() {
        for id in REPLY_CHECK_CLAUSES {
            explicit
                .entry(id)
                .or_default()
                .push(REPLY_CHECK.to_string());
        }
    }
    for s in scenarios {
        for id in &s.clauses {
            if known.contains(id.as_str()) {
                explicit.entry(id.as_str()).or_default().push(s.id.clone());
            } else {
                unknown.push((s.id.clone(), id.clone()));
            }
        }
        for r in &s.rfc {
            let ids = by_section
                .entry((r.number, r.section.as_str()))
                .or_default();
            if !ids.contains(&s.id) {
                ids.push(s.id.clone());
            }
        }
    }
    let clauses = clauses
        .iter()
        .map(|c| ClauseCoverage {
            clause: c.clone(),
            explicit: explicit.get(c.id.as_str()).cloned().unwrap_or_default(),
            by_section: by_section
                .get(&(c.rfc, c.section.as_str()))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    CoverageReport { clauses, unknown }
}

/// Counts for one group of clauses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Clauses in the group.
    pub total: usize,
    /// Covered explicitly.
    pub explicit: usize,
    /// Covered by section only.
    pub section: usize,
    /// Not covered.
    pub gaps: usize,
}

impl Counts {
    fn add(&mut self, status: Status) {
        self.total += 1;
        match status {
            Status::Explicit => self.explicit += 1,
            Status::Section => self.section += 1,
            Status::Gap => self.gaps += 1,
        }
    }
}

impl CoverageReport {
    /// Counts over every clause.
    pub fn totals(&self) -> Counts {
        let mut counts = Counts::default();
        for c in &self.clauses {
            counts.add(c.status());
        }
        counts
    }

    /// Counts per RFC number.
    pub fn by_rfc(&self) -> BTreeMap<u32, Counts> {
        let mut out: BTreeMap<u32, Counts> = BTreeMap::new();
        for c in &self.clauses {
            out.entry(c.clause.rfc).or_default().add(c.status());
        }
        out
    }

    /// The uncovered clauses.
    pub fn gaps(&self) -> impl Iterator<Item = &ClauseCoverage> {
        self.clauses.iter().filter(|c| c.status() == Status::Gap)
    }

    /// A text report: totals, a line per RFC, the gaps, and with `verbose`
    /// every clause with its scenarios.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let line = |out: &mut String, name: &str, c: Counts| {
            let _ = writeln!(
                out,
                "{name:<10} {:>4} clauses  {:>4} explicit  {:>4} section only  {:>4} gaps",
                c.total, c.explicit, c.section, c.gaps
            );
        };
        for (rfc, counts) in self.by_rfc() {
            line(&mut out, &format!("RFC {rfc}"), counts);
        }
        line(&mut out, "total", self.totals());
        if verbose {
            let _ = writeln!(out, "\nclauses:");
            for c in &self.clauses {
                let who = if c.explicit.is_empty() {
                    &c.by_section
                } else {
                    &c.explicit
                };
                let _ = writeln!(
                    out,
                    "  {:<9} {:<6} {}  {}",
                    format!("{:?}", c.status()).to_lowercase(),
                    c.clause.level,
                    c.clause.id,
                    who.join(", ")
                );
            }
        }
        let gaps: Vec<&ClauseCoverage> = self.gaps().collect();
        if !gaps.is_empty() {
            let _ = writeln!(out, "\ngaps ({}):", gaps.len());
            for c in gaps {
                let _ = writeln!(
                    out,
                    "  {:<6} {}  \"{}\"",
                    c.clause.level, c.clause.id, c.clause.text
                );
            }
        }
        if !self.unknown.is_empty() {
            let _ = writeln!(out, "\nunknown clause ids in `clauses:` fields:");
            for (scenario, id) in &self.unknown {
                let _ = writeln!(out, "  {scenario}: {id}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAUSES: &str = r#"
[[clause]]
id = "5321-4.1.4-ehlo-resets"
rfc = 5321
section = "4.1.4"
level = "MUST"
text = "an EHLO command MAY be issued ... and MUST reset the state"

[[clause]]
id = "5321-4.1.4-rcpt-order"
rfc = 5321
section = "4.1.4"
level = "MUST NOT"
text = "RCPT before MAIL"

[[clause]]
id = "1870-4-size-552"
rfc = 1870
section = "4"
level = "SHOULD"
text = "552 for a declared size over the limit"

[[clause]]
id = "2920-3.1-order"
rfc = 2920
section = "3.1"
level = "MUST"
text = "replies in order"
"#;

    fn scenario(id: &str, rfc: &str, clauses: Option<&str>) -> Scenario {
        let clauses = clauses.map_or(String::new(), |c| format!("clauses: {c}\n"));
        let text = format!("title: t\nrfc: {rfc}\nlevel: MUST\n{clauses}S: 220\n");
        crate::scenario::parse(id, Path::new("x.smtp"), &text).unwrap()
    }

    #[test]
    fn the_reply_syntax_check_covers_its_clauses() {
        let clause = Clause {
            id: "5321-4.5.3.1.5-reply-line-512".into(),
            rfc: 5321,
            section: "4.5.3.1.5".into(),
            level: Level::Must,
            text: "512 octets".into(),
        };
        let s = crate::scenario::parse(
            "x",
            Path::new("x.smtp"),
            "title: t\nrfc: 5321 3.3\nlevel: MUST\nS: 220\n",
        )
        .unwrap();
        let report = coverage(std::slice::from_ref(&clause), &[s]);
        assert_eq!(report.clauses[0].explicit, [REPLY_CHECK]);
        assert_eq!(report.clauses[0].status(), Status::Explicit);
        // With no scenario at all, nothing runs the check.
        assert_eq!(coverage(&[clause], &[]).clauses[0].status(), Status::Gap);
    }

    #[test]
    fn explicit_section_and_gap() {
        let clauses = parse_clauses("c.toml", CLAUSES).unwrap();
        assert_eq!(clauses[1].level, Level::Must, "MUST NOT counts as MUST");
        let scenarios = vec![
            scenario("a", "5321 4.1.4", Some("5321-4.1.4-ehlo-resets")),
            scenario("b", "1870 4, 5321 4.1.4", None),
            scenario("c", "5321 3.3", Some("5321-nope")),
        ];
        let report = coverage(&clauses, &scenarios);
        let status: Vec<Status> = report.clauses.iter().map(|c| c.status()).collect();
        assert_eq!(
            status,
            [
                Status::Explicit,
                Status::Section,
                Status::Section,
                Status::Gap
            ]
        );
        assert_eq!(report.clauses[0].explicit, ["a"]);
        assert_eq!(report.clauses[1].by_section, ["a", "b"]);
        assert_eq!(report.unknown, [("c".to_string(), "5321-nope".to_string())]);
        assert_eq!(
            report.totals(),
            Counts {
                total: 4,
                explicit: 1,
                section: 2,
                gaps: 1
            }
        );
        assert_eq!(report.by_rfc()[&5321].total, 2);
        let text = report.render(false);
        assert!(text.contains("2920-3.1-order"), "{text}");
        assert!(text.contains("c: 5321-nope"), "{text}");
    }

    #[test]
    fn duplicate_ids_and_bad_levels_are_errors() {
        let dup = format!(
            "{CLAUSES}\n[[clause]]\nid = \"2920-3.1-order\"\nrfc = 2920\nsection = \"3.1\"\nlevel = \"MAY\"\ntext = \"x\"\n"
        );
        assert!(matches!(
            parse_clauses("c.toml", &dup),
            Err(CoverageError::Duplicate { id, .. }) if id == "2920-3.1-order"
        ));
        let bad =
            "[[clause]]\nid = \"x\"\nrfc = 1\nsection = \"1\"\nlevel = \"OUGHT\"\ntext = \"t\"\n";
        let err = parse_clauses("c.toml", bad).unwrap_err().to_string();
        assert!(err.contains("OUGHT") && err.contains("line"), "{err}");
    }

    /// The shipped clause list parses, and every `clauses:` id in the shipped
    /// suite names a clause in it.
    #[test]
    fn shipped_clause_list_and_suite_agree() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let clauses = load_clauses(&root.join("clauses.toml")).unwrap();
        assert!(clauses.len() > 100, "{} clauses", clauses.len());
        let suite = crate::scenario::load(&root, std::slice::from_ref(&root));
        let report = coverage(&clauses, &suite.scenarios);
        assert!(report.unknown.is_empty(), "{:?}", report.unknown);
    }
}
