//! Verdicts: the grade of one scenario run, with the evidence.

use std::fmt;
use std::time::Duration;

use crate::scenario::{Level, RfcRef};
use crate::transcript::Transcript;

/// The grade of one scenario, graded the way h2spec and Autobahn grade.
/// The order is best to worst: a later variant is a regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Grade {
    /// The server behaved as required.
    Pass,
    /// The server behaved as required only on a retry (`--retries`): the
    /// behaviour is right but not reliable. Never reported as PASS.
    Flaky,
    /// An optional (MAY) behaviour, an extension the server does not
    /// advertise, or a profile value the target lacks: not applicable.
    Unsupported,
    /// A SHOULD was not met.
    NonStrict,
    /// A MUST was not met.
    Fail,
    /// The harness could not finish: timeout, reset, unparsable reply, 421.
    Error,
}

impl Grade {
    /// The grade a mismatch earns at a requirement level.
    pub fn for_mismatch(level: Level) -> Grade {
        match level {
            Level::Must => Grade::Fail,
            Level::Should => Grade::NonStrict,
            Level::May => Grade::Unsupported,
        }
    }

    /// Every grade, best first.
    pub const ALL: [Grade; 6] = [
        Grade::Pass,
        Grade::Flaky,
        Grade::Unsupported,
        Grade::NonStrict,
        Grade::Fail,
        Grade::Error,
    ];

    /// The name as printed, e.g. `NON-STRICT`.
    pub fn name(self) -> &'static str {
        match self {
            Grade::Pass => "PASS",
            Grade::Flaky => "FLAKY",
            Grade::Unsupported => "UNSUPPORTED",
            Grade::NonStrict => "NON-STRICT",
            Grade::Fail => "FAIL",
            Grade::Error => "ERROR",
        }
    }

    /// Parses a printed name.
    pub fn from_name(name: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.name() == name)
    }

    /// Whether this grade makes the run fail; `strict` counts NON-STRICT
    /// and FLAKY too.
    pub fn is_failure(self, strict: bool) -> bool {
        matches!(self, Grade::Fail | Grade::Error)
            || (strict && matches!(self, Grade::NonStrict | Grade::Flaky))
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What did not go as expected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Line of the `S:` expectation in the scenario file (0 when none).
    pub line: usize,
    /// What the scenario expected, e.g. `503|554 5.5.1`.
    pub expected: String,
    /// What arrived: the reply, or what happened instead.
    pub received: String,
    /// The reply code received, if a reply arrived.
    pub received_code: Option<u16>,
    /// One sentence explaining the finding.
    pub message: String,
}

/// The result of running one scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    /// Scenario id.
    pub id: String,
    /// Scenario title.
    pub title: String,
    /// The clauses checked.
    pub rfc: Vec<RfcRef>,
    /// The requirement level checked.
    pub level: Level,
    /// The grade.
    pub grade: Grade,
    /// Why it is not PASS.
    pub finding: Option<Finding>,
    /// Reply-syntax violations seen on the way, whatever the grade.
    pub violations: Vec<super::reply_check::Violation>,
    /// Everything that crossed the wire.
    pub transcript: Transcript,
    /// How long the scenario took.
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
    /// The target profile's reason for accepting this result, if it is waived:
    /// the grade stays as it is, but the run does not fail on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
    /// For a smuggling scenario that did not pass: whether the server only
    /// ended the data at a bare line ending or also executed the smuggled commands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smuggling: Option<super::smuggling::Smuggling>,
}

impl Verdict {
    /// Whether this verdict makes the run fail: a failing grade that is not waived.
    pub fn fails_run(&self, strict: bool) -> bool {
        self.waived.is_none() && self.grade.is_failure(strict)
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}
