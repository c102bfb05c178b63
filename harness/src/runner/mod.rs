//! Runs scenarios against a target, several at once, each under a deadline,
//! and grades them.

pub mod reply_check;
mod target;
mod verdict;

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use target::Target;
pub use verdict::{Finding, Grade, Verdict};

use crate::client::{ClientConfig, ClientError, Connection};
use crate::profile::Profile;
use crate::scenario::{Expectation, Scenario, Step};
use crate::transcript::Transcript;
use reply_check::{ReplyTracker, Violation};

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Names and timeouts for the target.
    pub profile: Profile,
    /// Scenarios in flight at once.
    pub concurrency: usize,
    /// How often a scenario that did not pass is run again; one that passes
    /// only on a retry is graded FLAKY.
    pub retries: u32,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            profile: Profile::default(),
            concurrency: 8,
            retries: 0,
        }
    }
}

/// Runs every scenario and returns the verdicts in the scenarios' order.
/// `on_verdict` is called as each one finishes (for progress output).
pub async fn run_suite(
    scenarios: &[Scenario],
    target: &Target,
    options: &RunOptions,
    on_verdict: impl Fn(&Verdict),
) -> Vec<Verdict> {
    let needs_probe = scenarios.iter().any(|s| !s.requires.is_empty());
    let extensions = Arc::new(if needs_probe {
        probe_extensions(target, &options.profile).await
    } else {
        None
    });
    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        let (scenario, target, profile) =
            (scenario.clone(), target.clone(), options.profile.clone());
        let (limit, extensions) = (limit.clone(), extensions.clone());
        let retries = options.retries;
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let extensions = extensions.as_ref().as_ref();
            let mut verdict = run_scenario(&scenario, &target, &profile, extensions).await;
            for attempt in 1..=retries {
                let not_applicable =
                    verdict.grade == Grade::Unsupported && verdict.transcript.entries.is_empty();
                if matches!(verdict.grade, Grade::Pass | Grade::Flaky) || not_applicable {
                    break;
                }
                let again = run_scenario(&scenario, &target, &profile, extensions).await;
                verdict = retried(verdict, again, attempt, retries);
            }
            (index, verdict)
        });
    }
    let mut verdicts: Vec<Option<Verdict>> = vec![None; scenarios.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, verdict)) => {
                on_verdict(&verdict);
                verdicts[index] = Some(verdict);
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    verdicts.into_iter().flatten().collect()
}

/// Folds a retry into the first attempt's verdict: PASS on a retry makes it
/// FLAKY, with the first attempt's evidence; otherwise the first attempt's
/// verdict stands, noting the retries.
fn retried(first: Verdict, again: Verdict, attempt: u32, retries: u32) -> Verdict {
    let note = |message: &str| -> String {
        if again.grade == Grade::Pass {
            format!(
                "passed on attempt {} of {}; the first attempt was {}: {message}",
                attempt + 1,
                retries + 1,
                first.grade
            )
        } else if attempt == retries {
            format!(
                "{message} (not PASS on {retries} {} either)",
                if retries == 1 { "retry" } else { "retries" }
            )
        } else {
            message.to_string()
        }
    };
    let finding = first.finding.clone().map(|mut f| {
        f.message = note(&f.message);
        f
    });
    Verdict {
        grade: if again.grade == Grade::Pass {
            Grade::Flaky
        } else {
            first.grade
        },
        finding,
        elapsed: first.elapsed + again.elapsed,
        ..first
    }
}

/// Asks the server for its EHLO keywords once, so scenarios that need an
/// extension it lacks are graded UNSUPPORTED without a session of their own.
pub async fn probe_extensions(target: &Target, profile: &Profile) -> Option<BTreeSet<String>> {
    let mut conn = target.connect(client_config(profile)).await.ok()?;
    conn.read_reply().await.ok().filter(|r| r.class() == 2)?;
    conn.send_line(&format!("EHLO {}", profile.client))
        .await
        .ok()?;
    let reply = conn.read_reply().await.ok().filter(|r| r.code == 250)?;
    let _ = conn.send_line("QUIT").await;
    Some(
        reply
            .lines
            .iter()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .map(|k| k.to_ascii_uppercase())
            .collect(),
    )
}

fn client_config(profile: &Profile) -> ClientConfig {
    ClientConfig {
        connect_timeout: profile.connect_timeout(),
        read_timeout: profile.read_timeout(),
        ..ClientConfig::default()
    }
}

/// Runs one scenario. `extensions` is the server's EHLO keyword set, when known.
pub async fn run_scenario(
    scenario: &Scenario,
    target: &Target,
    profile: &Profile,
    extensions: Option<&BTreeSet<String>>,
) -> Verdict {
    let started = Instant::now();
    let verdict = |grade, finding, transcript, violations| Verdict {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        rfc: scenario.rfc.clone(),
        level: scenario.level,
        grade,
        finding,
        violations,
        transcript,
        elapsed: started.elapsed(),
    };
    if let Some(reason) = not_applicable(scenario, profile, extensions) {
        return verdict(
            Grade::Unsupported,
            Some(reason),
            Transcript::default(),
            Vec::new(),
        );
    }
    let mut conn = match target.connect(client_config(profile)).await {
        Ok(c) => c,
        Err(e) => {
            let finding = finding(0, "a connection", &e.to_string(), None, "could not connect");
            return verdict(
                Grade::Error,
                Some(finding),
                Transcript::default(),
                Vec::new(),
            );
        }
    };
    let mut tracker = ReplyTracker::default();
    let mut violations = Vec::new();
    let outcome = tokio::time::timeout(
        profile.scenario_timeout(),
        execute(scenario, profile, &mut conn, &mut tracker, &mut violations),
    )
    .await;
    let (grade, finding) = match outcome {
        Ok(Ok(())) => (Grade::Pass, None),
        Ok(Err(stop)) => (stop.grade, Some(stop.finding)),
        Err(_) => {
            conn.note("scenario deadline passed");
            let message = format!(
                "scenario did not finish within {:?}",
                profile.scenario_timeout()
            );
            (
                Grade::Error,
                Some(finding(0, "completion", "deadline passed", None, &message)),
            )
        }
    };
    let (grade, finding) = grade_violations(grade, finding, &violations);
    verdict(grade, finding, conn.into_transcript(), violations)
}

/// A scenario that met its expectations still fails on a reply-syntax
/// violation, graded by the violated clause's own level.
fn grade_violations(
    grade: Grade,
    found: Option<Finding>,
    violations: &[Violation],
) -> (Grade, Option<Finding>) {
    if grade != Grade::Pass {
        return (grade, found);
    }
    let Some(worst) = violations.iter().min_by_key(|v| v.level) else {
        return (grade, found);
    };
    let message = format!("{} ({} {})", worst.message, worst.level, worst.clause);
    let found = finding(0, "a well-formed reply", &worst.reply, None, &message);
    (Grade::for_mismatch(worst.level), Some(found))
}

/// Why a scenario stopped early.
struct Stop {
    grade: Grade,
    finding: Finding,
}

fn finding(
    line: usize,
    expected: &str,
    received: &str,
    code: Option<u16>,
    message: &str,
) -> Finding {
    Finding {
        line,
        expected: expected.to_string(),
        received: received.to_string(),
        received_code: code,
        message: message.to_string(),
    }
}

fn not_applicable(
    scenario: &Scenario,
    profile: &Profile,
    extensions: Option<&BTreeSet<String>>,
) -> Option<Finding> {
    if let Some(missing) = scenario
        .variables()
        .into_iter()
        .find(|v| profile.var(v).is_none())
    {
        let message = format!("the target profile does not define {{{missing}}}");
        return Some(finding(
            0,
            &format!("{{{missing}}}"),
            "not defined",
            None,
            &message,
        ));
    }
    let advertised = extensions?;
    let missing: Vec<&str> = scenario
        .requires
        .iter()
        .filter(|k| !advertised.contains(*k))
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then(|| {
        let message = format!("the server does not advertise {}", missing.join(", "));
        finding(
            0,
            &missing.join(" "),
            "not advertised in EHLO",
            None,
            &message,
        )
    })
}

async fn execute(
    scenario: &Scenario,
    profile: &Profile,
    conn: &mut Connection,
    tracker: &mut ReplyTracker,
    violations: &mut Vec<Violation>,
) -> Result<(), Stop> {
    for step in &scenario.steps {
        match step {
            Step::Send { line, data } => {
                let bytes = data.render(|v| profile.var(v)).map_err(|e| Stop {
                    grade: Grade::Error,
                    finding: finding(*line, "", "", None, &e.to_string()),
                })?;
                tracker.sent(&bytes);
                conn.send_raw(&bytes)
                    .await
                    .map_err(|e| error_stop(*line, "to send", &e))?;
            }
            Step::Expect(expect) => check(scenario, expect, conn, tracker, violations).await?,
        }
    }
    Ok(())
}

async fn check(
    scenario: &Scenario,
    expect: &Expectation,
    conn: &mut Connection,
    tracker: &mut ReplyTracker,
    violations: &mut Vec<Violation>,
) -> Result<(), Stop> {
    if expect.wants_reply() {
        let reply = conn
            .read_reply()
            .await
            .map_err(|e| error_stop(expect.line, &expect.to_string(), &e))?;
        violations.extend(tracker.received(&reply));
        if let Err(why) = expect.check(&reply) {
            // 421 may answer any command when the server must shut down
            // (RFC 5321 3.8): the scenario could not be completed.
            let grade = if reply.code == 421 {
                Grade::Error
            } else {
                Grade::for_mismatch(scenario.level)
            };
            let message = format!("{why} ({} {})", scenario.level, scenario.rfc[0]);
            return Err(Stop {
                grade,
                finding: finding(
                    expect.line,
                    &expect.to_string(),
                    &reply.to_string(),
                    Some(reply.code),
                    &message,
                ),
            });
        }
    }
    if expect.close {
        match conn.expect_close().await {
            Ok(()) => {}
            Err(ClientError::NotClosed(data)) => {
                let data = data.trim_end().to_string();
                let message = format!(
                    "the server kept the connection open ({} {})",
                    scenario.level, scenario.rfc[0]
                );
                return Err(Stop {
                    grade: Grade::for_mismatch(scenario.level),
                    finding: finding(expect.line, "connection close", &data, None, &message),
                });
            }
            Err(ClientError::Timeout(after)) => {
                let message = format!(
                    "the server did not close the connection within {after:?} ({} {})",
                    scenario.level, scenario.rfc[0]
                );
                return Err(Stop {
                    grade: Grade::for_mismatch(scenario.level),
                    finding: finding(
                        expect.line,
                        "connection close",
                        "still open",
                        None,
                        &message,
                    ),
                });
            }
            Err(e) => return Err(error_stop(expect.line, "connection close", &e)),
        }
    }
    Ok(())
}

fn error_stop(line: usize, expected: &str, error: &ClientError) -> Stop {
    Stop {
        grade: Grade::Error,
        finding: finding(
            line,
            expected,
            &error.to_string(),
            None,
            &error_message(error),
        ),
    }
}

/// Says why an I/O problem ended the scenario, citing the clause where the
/// server broke the reply grammar.
fn error_message(error: &ClientError) -> String {
    match error {
        ClientError::Malformed(_) => {
            "the server's reply breaks the reply grammar (RFC 5321 4.2, 4.2.1)".into()
        }
        ClientError::Timeout(_) => "the server did not answer in time".into(),
        ClientError::Closed { .. } => "the server closed the connection unexpectedly".into(),
        ClientError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            "the server reset the connection".into()
        }
        _ => "the harness could not complete the exchange".into(),
    }
}
