//! The sequence fuzzer: proptest generates command orderings, a model of
//! the SMTP session predicts for every command whether the reply must be
//! 503, must not be, or may be either, and any server is checked against
//! those predictions. Failing sequences are shrunk to a minimal one, shown as
//! a transcript with the clause it breaks, and can be written out as scenario
//! files for the ordinary runner.
//!
//! - [`op`]: the commands sequences are made of, and their wire text.
//! - [`model`]: the session model, its rules and their clauses.
//! - [`strategy`]: proptest strategies and per-case seeds.
//! - [`session`]: runs one sequence as one SMTP session.
//! - [`emit`]: counterexamples as scenario files.
//! - [`regressions`]: failing seeds kept for next time (proptest's format).
//! - [`cli`]: the `smtp-harness fuzz` command.
//!
//! The fuzzer is a second producer of verdicts: [`FuzzReport::verdicts`]
//! feeds the same report layer as the scenario runner.

pub mod cli;
pub mod emit;
pub mod model;
pub mod op;
pub mod regressions;
pub mod session;
pub mod strategy;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use proptest::strategy::{BoxedStrategy, ValueTree};
use tokio::time::Instant;

use crate::client::ClientConfig;
use crate::profile::Profile;
use crate::runner::{Finding, Grade, Target, Verdict};
use crate::transcript::Transcript;

pub use cli::FuzzArgs;
pub use model::{Expect, Model, Rule};
pub use op::{Extensions, Op, Sequence};
pub use session::{End, SessionRun, Step, run_session};

/// How the fuzzer slows down when a server cuts sessions short (421, a
/// close, a refused greeting or connection): it waits before the next
/// connection, doubling the wait with each such session in a row up to
/// `max`, and back to no wait after a session that ends normally. It gives
/// up after `give_up_after` sessions in a row in which the server answered
/// no command at all (it refuses service, or is not there).
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Sessions in a row without a single answered command before the run
    /// stops with ERROR.
    pub give_up_after: u32,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            give_up_after: 5,
        }
    }
}

/// What a fuzzing run does.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Names and timeouts for the target.
    pub profile: Profile,
    /// Random cases to run (regressions come on top).
    pub cases: u32,
    /// The run's seed: the same seed and the same server give the same run.
    pub seed: u64,
    /// Longest sequence generated.
    pub max_len: usize,
    /// Sessions spent shrinking one counterexample, at most.
    pub max_shrink_runs: u32,
    /// The regression file: seeds replayed first, failures appended.
    pub regressions: Option<PathBuf>,
    /// NON-STRICT findings count as failures (and are saved as regressions).
    pub strict: bool,
    /// Slowing down for servers' limits.
    pub pacing: Pacing,
    /// Connect and read deadlines; `None` takes them from the profile.
    pub client: Option<ClientConfig>,
}

impl FuzzOptions {
    /// The deadlines every session uses.
    pub fn client_config(&self) -> ClientConfig {
        self.client
            .unwrap_or_else(|| session::client_config(&self.profile))
    }
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            profile: Profile::default(),
            cases: 256,
            seed: 0,
            max_len: 12,
            max_shrink_runs: 2000,
            regressions: None,
            strict: false,
            pacing: Pacing::default(),
            client: None,
        }
    }
}

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Seed `n` of the regression file.
    Regression(usize),
    /// Random case `n` of this run's seed.
    Case(u64),
}

/// A minimal sequence that breaks a rule.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// The rule broken.
    pub rule: Rule,
    /// FAIL (a MUST) or NON-STRICT (a SHOULD).
    pub grade: Grade,
    /// The case's seed, as saved in regression files.
    pub seed: [u8; 32],
    /// Where the case came from.
    pub origin: Origin,
    /// The sequence as first generated.
    pub original: Vec<Op>,
    /// The session of the minimal sequence; its last step is the deviation.
    pub minimal: SessionRun,
    /// Sessions spent shrinking.
    pub shrink_runs: u32,
}

impl Counterexample {
    /// The commands of the minimal sequence, up to the deviating one.
    pub fn steps(&self) -> &[Step] {
        let end = self
            .minimal
            .deviation_of(self.rule)
            .map_or(self.minimal.steps.len(), |(i, _)| i + 1);
        &self.minimal.steps[..end]
    }

    /// The minimal sequence.
    pub fn sequence(&self) -> Sequence {
        Sequence(self.steps().iter().map(|s| s.op).collect())
    }

    /// The verdict for the report layer.
    pub fn verdict(&self) -> Verdict {
        let step = self.steps().last();
        let received = step.map_or_else(String::new, |s| s.reply.to_string());
        Verdict {
            violations: Vec::new(),
            waived: None,
            smuggling: None,
            id: format!("fuzz/{}", self.rule.id()),
            title: self.rule.title().to_string(),
            rfc: self.rule.rfc(),
            level: self.rule.level(),
            grade: self.grade,
            finding: Some(Finding {
                line: 0,
                expected: self.rule.expect().to_string(),
                received,
                received_code: step.map(|s| s.reply.code),
                message: format!(
                    "{} Minimal sequence: {} (shrunk from {} to {} commands in {} sessions).",
                    self.rule.why(),
                    self.sequence(),
                    self.original.len(),
                    self.steps().len(),
                    self.shrink_runs
                ),
            }),
            transcript: self.minimal.transcript.clone(),
            elapsed: Duration::ZERO,
        }
    }
}

/// How often a rule was exercised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleStats {
    /// Commands judged under the rule.
    pub judged: u64,
    /// Of those, replies that broke it.
    pub deviations: u64,
}

/// The result of a fuzzing run.
#[derive(Debug, Clone, Default)]
pub struct FuzzReport {
    /// The run's seed.
    pub seed: u64,
    /// The target, as reports name it.
    pub target: String,
    /// What the server advertised to the probe EHLO.
    pub extensions: Extensions,
    /// The alphabet sequences were drawn from.
    pub alphabet: Vec<Op>,
    /// Random cases asked for.
    pub cases_planned: u32,
    /// Random cases run.
    pub cases_run: u32,
    /// Regression seeds replayed.
    pub regressions_replayed: usize,
    /// Sessions opened, shrinking included.
    pub sessions: u64,
    /// Commands sent and judged.
    pub commands: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Commands judged per rule.
    pub coverage: BTreeMap<Rule, RuleStats>,
    /// How sessions ended, by kind.
    pub ends: BTreeMap<&'static str, u64>,
    /// The MUST-level counterexample that stopped the run.
    pub failure: Option<Counterexample>,
    /// SHOULD-level counterexamples, one per rule.
    pub non_strict: Vec<Counterexample>,
    /// Sessions the harness could not complete, and the first of them.
    pub errors: u64,
    /// The first session that ended in a harness error.
    pub first_error: Option<SessionRun>,
    /// Why the run stopped before its budget, if it did for lack of a server.
    pub aborted: Option<String>,
    /// Regression file problems (the run goes on without it).
    pub warnings: Vec<String>,
    /// A failing seed was added to the regression file.
    pub regression_saved: bool,
}

impl FuzzReport {
    /// Sessions per second over the whole run.
    pub fn sessions_per_second(&self) -> f64 {
        self.sessions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The worst grade of the run.
    pub fn grade(&self) -> Grade {
        if self.aborted.is_some() || self.errors > 0 {
            return Grade::Error;
        }
        if self.failure.is_some() {
            return Grade::Fail;
        }
        if !self.non_strict.is_empty() {
            return Grade::NonStrict;
        }
        Grade::Pass
    }

    /// Whether the run failed (exit 1), `run`'s rule: FAIL and ERROR fail,
    /// NON-STRICT only when `strict`.
    pub fn failed(&self, strict: bool) -> bool {
        self.verdicts().iter().any(|v| v.grade.is_failure(strict))
    }

    /// One verdict per counterexample, one for harness errors, and a PASS
    /// when nothing was found.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let mut out: Vec<Verdict> = self
            .failure
            .iter()
            .chain(&self.non_strict)
            .map(Counterexample::verdict)
            .collect();
        if self.aborted.is_some() || self.errors > 0 {
            let message = self
                .aborted
                .clone()
                .unwrap_or_else(|| format!("{} session(s) could not be completed", self.errors));
            let received = self
                .first_error
                .as_ref()
                .map_or_else(String::new, |r| r.end.to_string());
            out.push(Verdict {
                violations: Vec::new(),
                waived: None,
                smuggling: None,
                id: "fuzz/harness".into(),
                title: "the fuzzer could not complete every session".into(),
                // The sessions a server may end early (421, close) are 3.8's.
                rfc: vec![crate::scenario::RfcRef {
                    number: 5321,
                    section: "3.8".into(),
                }],
                level: crate::scenario::Level::Must,
                grade: Grade::Error,
                finding: Some(Finding {
                    line: 0,
                    expected: "a completed session".into(),
                    received,
                    received_code: None,
                    message,
                }),
                transcript: self
                    .first_error
                    .as_ref()
                    .map_or_else(Transcript::default, |r| r.transcript.clone()),
                elapsed: self.elapsed,
            });
        }
        if out.is_empty() {
            out.push(Verdict {
                violations: Vec::new(),
                waived: None,
                smuggling: None,
                id: "fuzz/sequence".into(),
                title: "every command got 503 exactly when out of sequence".into(),
                rfc: Rule::RcptWithoutMail.rfc(),
                level: crate::scenario::Level::Must,
                grade: Grade::Pass,
                finding: None,
                transcript: Transcript::default(),
                elapsed: self.elapsed,
            });
        }
        out
    }
}

/// Progress of a run, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Cases done (regressions included).
    pub done: u64,
    /// Cases in total (regressions included).
    pub total: u64,
    /// Shrinking a counterexample right now.
    pub shrinking: bool,
}

/// Runs the fuzzer against `target`. Never panics on network input; stops
/// at the first MUST-level counterexample, after shrinking it.
pub async fn fuzz(
    target: &Target,
    options: &FuzzOptions,
    mut progress: impl FnMut(Progress),
) -> FuzzReport {
    let started = Instant::now();
    // One EHLO first: extension commands are drawn only when advertised.
    let probe = session::run_session(
        target,
        &[Op::Ehlo],
        &options.profile,
        options.client_config(),
    )
    .await;
    let extensions = probe
        .steps
        .first()
        .filter(|s| s.reply.code == 250)
        .map(|s| Extensions::from_ehlo(&s.reply))
        .unwrap_or_default();
    let alphabet = extensions.alphabet();
    let strategy = strategy::sequence_strategy(&alphabet, options.max_len);
    let mut driver = Driver {
        target,
        options,
        report: FuzzReport {
            seed: options.seed,
            target: target.describe(),
            extensions,
            alphabet,
            cases_planned: options.cases,
            ..FuzzReport::default()
        },
        delay: Duration::ZERO,
        refused_streak: 0,
        error_streak: 0,
    };

    let mut seeds: Vec<([u8; 32], Origin)> = Vec::new();
    if let Some(path) = &options.regressions {
        match regressions::load(path) {
            Ok(saved) => seeds.extend(
                saved
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| (s, Origin::Regression(i))),
            ),
            Err(e) => driver.report.warnings.push(e.to_string()),
        }
    }
    let replayed = seeds.len();
    let total = replayed as u64 + u64::from(options.cases);
    let random = (0..u64::from(options.cases))
        .map(|i| (strategy::case_seed(options.seed, i), Origin::Case(i)));

    // First occurrence of each SHOULD-level rule broken: shrunk at the end.
    let mut should: Vec<(Rule, [u8; 32], Origin)> = Vec::new();
    for (done, (seed, origin)) in seeds.into_iter().chain(random).enumerate() {
        progress(Progress {
            done: done as u64,
            total,
            shrinking: false,
        });
        match origin {
            Origin::Regression(_) => driver.report.regressions_replayed += 1,
            Origin::Case(_) => driver.report.cases_run += 1,
        }
        let mut tree = strategy::new_tree(&strategy, &seed);
        let original = tree.current();
        let run = driver.session(&original).await;
        if driver.report.aborted.is_some() {
            break;
        }
        for step in run
            .steps
            .iter()
            .filter(|s| s.deviation == Some(Grade::NonStrict))
        {
            if !should.iter().any(|(r, ..)| *r == step.rule) {
                should.push((step.rule, seed, origin));
            }
        }
        if run.first_deviation(Grade::Fail).is_some() {
            progress(Progress {
                done: done as u64,
                total,
                shrinking: true,
            });
            let failing = |r: &SessionRun| r.first_deviation(Grade::Fail).map(|(i, _)| i);
            let (minimal, shrink_runs) = driver.shrink(&mut tree, run, &failing).await;
            let rule = failing(&minimal).map_or(Rule::Greeting, |i| minimal.steps[i].rule);
            let cx = Counterexample {
                rule,
                grade: Grade::Fail,
                seed,
                origin,
                original,
                minimal,
                shrink_runs,
            };
            driver.save_regression(&cx);
            driver.report.failure = Some(cx);
            break;
        }
    }
    for (rule, seed, origin) in should {
        if driver.report.aborted.is_some() {
            break;
        }
        let mut tree = strategy::new_tree(&strategy, &seed);
        let original = tree.current();
        let run = driver.session(&original).await;
        let breaks = move |r: &SessionRun| {
            r.deviation_of(rule)
                .filter(|(_, s)| s.deviation == Some(Grade::NonStrict))
                .map(|(i, _)| i)
        };
        if breaks(&run).is_none() {
            // The server behaved differently this time; nothing to shrink.
            continue;
        }
        let (minimal, shrink_runs) = driver.shrink(&mut tree, run, &breaks).await;
        let cx = Counterexample {
            rule,
            grade: Grade::NonStrict,
            seed,
            origin,
            original,
            minimal,
            shrink_runs,
        };
        if options.strict {
            driver.save_regression(&cx);
        }
        driver.report.non_strict.push(cx);
    }
    driver.report.elapsed = started.elapsed();
    driver.report
}

struct Driver<'a> {
    target: &'a Target,
    options: &'a FuzzOptions,
    report: FuzzReport,
    delay: Duration,
    refused_streak: u32,
    error_streak: u32,
}

/// Harness errors in a row (timeouts, malformed replies) before giving up.
const ERRORS_IN_A_ROW: u32 = 3;

impl Driver<'_> {
    /// One session, paced, counted.
    async fn session(&mut self, ops: &[Op]) -> SessionRun {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let run = session::run_session(
            self.target,
            ops,
            &self.options.profile,
            self.options.client_config(),
        )
        .await;
        let report = &mut self.report;
        report.sessions += 1;
        report.commands += run.steps.len() as u64;
        for step in &run.steps {
            let stats = report.coverage.entry(step.rule).or_default();
            stats.judged += 1;
            stats.deviations += u64::from(step.deviation.is_some());
        }
        *report.ends.entry(end_name(&run.end)).or_default() += 1;

        let pacing = self.options.pacing;
        self.delay = if run.end.cut_short() {
            (self.delay * 2).clamp(pacing.base, pacing.max)
        } else {
            Duration::ZERO
        };
        if run.end.cut_short() && run.steps.is_empty() {
            self.refused_streak += 1;
            if self.refused_streak >= pacing.give_up_after {
                report.aborted = Some(format!(
                    "{} sessions in a row ended before the server answered a command (last: {})",
                    self.refused_streak, run.end
                ));
                report.first_error.get_or_insert_with(|| run.clone());
            }
        } else if !run.steps.is_empty() {
            self.refused_streak = 0;
        }
        if matches!(run.end, End::Error(_)) {
            report.errors += 1;
            report.first_error.get_or_insert_with(|| run.clone());
            self.error_streak += 1;
            if self.error_streak >= ERRORS_IN_A_ROW {
                report.aborted = Some(format!(
                    "{} sessions in a row ended in a harness error",
                    self.error_streak
                ));
            }
        } else {
            self.error_streak = 0;
        }
        run
    }

    /// Shrinks a failing case: proptest's shrinking of the value tree, then
    /// dropping single commands until none can go (a 1-minimal sequence).
    /// `fails` says whether a session still fails, and at which step.
    async fn shrink(
        &mut self,
        tree: &mut Box<dyn ValueTree<Value = Vec<Op>>>,
        first: SessionRun,
        fails: &dyn Fn(&SessionRun) -> Option<usize>,
    ) -> (SessionRun, u32) {
        let budget = self.options.max_shrink_runs;
        let mut best = first;
        let mut runs = 0u32;
        if tree.simplify() {
            while runs < budget && self.report.aborted.is_none() {
                runs += 1;
                let run = self.session(&tree.current()).await;
                if fails(&run).is_some() {
                    best = run;
                    if !tree.simplify() {
                        break;
                    }
                } else if !tree.complicate() {
                    break;
                }
            }
        }
        // Only the commands sent up to the deviation matter.
        let Some(at) = fails(&best) else {
            return (best, runs);
        };
        let mut ops: Vec<Op> = best.steps[..=at].iter().map(|s| s.op).collect();
        if ops != best.ops {
            runs += 1;
            let run = self.session(&ops).await;
            match fails(&run) {
                Some(at) => {
                    ops = run.steps[..=at].iter().map(|s| s.op).collect();
                    best = run;
                }
                None => return (best, runs),
            }
        }
        loop {
            let mut removed = false;
            let mut i = 0;
            while i < ops.len() && ops.len() > 1 {
                if runs >= budget || self.report.aborted.is_some() {
                    return (best, runs);
                }
                let mut candidate = ops.clone();
                candidate.remove(i);
                runs += 1;
                let run = self.session(&candidate).await;
                match fails(&run) {
                    Some(at) => {
                        ops = run.steps[..=at].iter().map(|s| s.op).collect();
                        best = run;
                        removed = true;
                    }
                    None => i += 1,
                }
            }
            if !removed {
                break;
            }
        }
        (best, runs)
    }

    fn save_regression(&mut self, cx: &Counterexample) {
        let Some(path) = &self.options.regressions else {
            return;
        };
        match regressions::save(path, &cx.seed, &cx.sequence()) {
            Ok(added) => self.report.regression_saved |= added,
            Err(e) => self.report.warnings.push(e.to_string()),
        }
    }
}

fn end_name(end: &End) -> &'static str {
    match end {
        End::Completed => "completed",
        End::Quit => "quit",
        End::Stopped => "stopped at a failure",
        End::ShutDown => "421",
        End::Closed => "closed by server",
        End::StartTls => "220 to STARTTLS",
        End::Refused(_) => "greeting not 220",
        End::ConnectFailed(_) => "connect failed",
        End::Error(_) => "harness error",
    }
}

/// The strategy the CLI and tests use for `alphabet`; exposed for benchmarks.
pub fn strategy_for(alphabet: &[Op], max_len: usize) -> BoxedStrategy<Vec<Op>> {
    strategy::sequence_strategy(alphabet, max_len)
}
