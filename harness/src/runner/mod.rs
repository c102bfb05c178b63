//! Runs scenarios against a target, several at once, each under a deadline,
//! and grades them.

pub mod reply_check;
pub mod smuggling;
mod target;
mod verdict;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use smuggling::Smuggling;
pub use target::Target;
pub use verdict::{Finding, Grade, Verdict};

use crate::auth;
use crate::client::{ClientConfig, ClientError, Connection};
use crate::profile::Profile;
use crate::scenario::{COMPUTED_VARIABLES, Expectation, Scenario, Step};
use crate::tls::{TlsClient, TlsMode};
use crate::transcript::{Direction, Transcript};
use crate::wire::Reply;
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
    // A server that accepts connections but never greets would cost every
    // scenario a full read timeout: the first silent session settles it for
    // the scenarios not yet started.
    let silent: Arc<std::sync::OnceLock<Verdict>> = Arc::default();
    let mut tasks = JoinSet::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        let (scenario, target, profile) =
            (scenario.clone(), target.clone(), options.profile.clone());
        let (limit, extensions, silent) = (limit.clone(), extensions.clone(), silent.clone());
        let retries = options.retries;
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            if let Some(first) = silent.get() {
                return (index, not_run(&scenario, first));
            }
            let extensions = extensions.as_ref().as_ref();
            let mut verdict = run_scenario(&scenario, &target, &profile, extensions).await;
            if never_greeted(&verdict) {
                let _ = silent.set(verdict.clone());
                return (index, verdict);
            }
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

/// Whether a verdict shows a server that accepted the connection and then
/// said nothing at all before the read timeout.
fn never_greeted(verdict: &Verdict) -> bool {
    verdict.grade == Grade::Error
        && verdict
            .transcript
            .entries
            .iter()
            .all(|e| e.direction != Direction::Server)
        && verdict.transcript.entries.iter().any(|e| {
            e.direction == Direction::Note
                && String::from_utf8_lossy(&e.bytes).starts_with("no complete reply")
        })
}

/// The ERROR verdict of a scenario not run because the server never greeted
/// another session of the same run.
fn not_run(scenario: &Scenario, silent: &Verdict) -> Verdict {
    let message = "not run: the server accepted another session of this run but sent no \
                   greeting before the read timeout (RFC 5321 3.1: the server speaks first)";
    Verdict {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        rfc: scenario.rfc.clone(),
        level: scenario.level,
        grade: Grade::Error,
        finding: Some(finding(0, "a 220 greeting", "silence", None, message)),
        violations: Vec::new(),
        transcript: silent.transcript.clone(),
        elapsed: Duration::ZERO,
        waived: None,
        smuggling: None,
    }
}

/// Asks the server for its EHLO keywords once, so scenarios that need an
/// extension it lacks are graded UNSUPPORTED without a session of their own.
///
/// The set holds each keyword (`AUTH`) and each keyword with one of its
/// parameters (`AUTH=PLAIN`), so `requires:` can name a mechanism. When the
/// server offers STARTTLS and the profile allows it, the probe upgrades and
/// asks again: the set is the union of both answers, since many servers
/// offer AUTH mechanisms only under TLS (RFC 3207 4.2, RFC 4954 4).
pub async fn probe_extensions(target: &Target, profile: &Profile) -> Option<BTreeSet<String>> {
    let mut conn = target.connect(client_config(profile)).await.ok()?;
    conn.read_reply().await.ok().filter(|r| r.class() == 2)?;
    let ehlo = format!("EHLO {}", profile.client);
    conn.send_line(&ehlo).await.ok()?;
    let reply = conn.read_reply().await.ok().filter(|r| r.code == 250)?;
    let mut keywords = ehlo_keywords(&reply.lines);
    if profile.tls == TlsMode::Starttls
        && conn.tls().is_none()
        && keywords.contains("STARTTLS")
        && let Some(more) = probe_after_starttls(&mut conn, profile, &ehlo).await
    {
        keywords.extend(more);
    }
    let _ = conn.send_line("QUIT").await;
    Some(keywords)
}

async fn probe_after_starttls(
    conn: &mut Connection,
    profile: &Profile,
    ehlo: &str,
) -> Option<BTreeSet<String>> {
    let tls = TlsClient::new(&profile.tls_settings()).ok()?;
    conn.send_line("STARTTLS").await.ok()?;
    conn.read_reply().await.ok().filter(|r| r.code == 220)?;
    conn.starttls(&tls).await.ok()?;
    conn.send_line(ehlo).await.ok()?;
    let reply = conn.read_reply().await.ok().filter(|r| r.code == 250)?;
    Some(ehlo_keywords(&reply.lines))
}

/// `KEYWORD` and `KEYWORD=PARAM` for each extension line of an EHLO reply
/// (the first line is the greeting).
pub fn ehlo_keywords(lines: &[String]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for line in lines.iter().skip(1) {
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let keyword = keyword.to_ascii_uppercase();
        for param in words {
            set.insert(format!("{keyword}={}", param.to_ascii_uppercase()));
        }
        set.insert(keyword);
    }
    set
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
    let waived = profile.waiver(&scenario.id).map(|w| w.reason.clone());
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
        waived: waived.clone(),
        smuggling: None,
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
    for secret in profile.secrets() {
        conn.add_secret(&secret);
    }
    let mut tracker = ReplyTracker::default();
    let mut violations = Vec::new();
    let outcome = tokio::time::timeout(
        profile.scenario_timeout(),
        execute(scenario, profile, &mut conn, &mut tracker, &mut violations),
    )
    .await;
    let mut smuggled = None;
    let (grade, finding) = match outcome {
        Ok(Ok(())) => (Grade::Pass, None),
        Ok(Err(stop)) => {
            smuggled = stop.smuggling;
            (stop.grade, Some(redact_finding(&conn, stop.finding)))
        }
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
    Verdict {
        smuggling: smuggled,
        ..verdict(grade, finding, conn.into_transcript(), violations)
    }
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
    /// Set when a smuggling scenario drew extra replies.
    smuggling: Option<Smuggling>,
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

/// A finding with every secret the connection knows replaced.
fn redact_finding(conn: &Connection, finding: Finding) -> Finding {
    Finding {
        expected: conn.redact(&finding.expected),
        received: conn.redact(&finding.received),
        message: conn.redact(&finding.message),
        ..finding
    }
}

/// Whether the profile can supply `name`; computed variables need the
/// credentials they are computed from.
fn profile_defines(profile: &Profile, name: &str) -> bool {
    if COMPUTED_VARIABLES.contains(&name) {
        profile.var("user").is_some() && profile.var("password").is_some()
    } else {
        profile.var(name).is_some()
    }
}

fn not_applicable(
    scenario: &Scenario,
    profile: &Profile,
    extensions: Option<&BTreeSet<String>>,
) -> Option<Finding> {
    if scenario.uses_starttls() && profile.tls != TlsMode::Starttls {
        let mode = if profile.tls == TlsMode::Implicit {
            "implicit"
        } else {
            "none"
        };
        let message = format!(
            "the scenario upgrades with STARTTLS, but the target profile says tls = \"{mode}\""
        );
        return Some(finding(0, "T: starttls", "not applicable", None, &message));
    }
    if let Some(missing) = scenario
        .variables()
        .into_iter()
        .find(|v| !profile_defines(profile, v))
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
    // `!KEYWORD`: the scenario is about servers that do NOT offer the extension.
    if let Some(offered) = scenario
        .requires
        .iter()
        .filter_map(|k| k.strip_prefix('!'))
        .find(|k| advertised.contains(*k))
    {
        let message =
            format!("the server advertises {offered}; the scenario is for servers without it");
        return Some(finding(
            0,
            &format!("!{offered}"),
            "advertised in EHLO",
            None,
            &message,
        ));
    }
    let missing: Vec<&str> = scenario
        .requires
        .iter()
        .filter(|k| !k.starts_with('!') && !advertised.contains(*k))
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
    // The text of the last 334 reply: the challenge `{cram_md5}` answers.
    let mut challenge: Option<String> = None;
    for step in &scenario.steps {
        match step {
            Step::Send { line, data } => {
                let cram_md5 = if data.variables().any(|v| v == "cram_md5") {
                    let answer =
                        cram_md5_answer(profile, challenge.as_deref()).map_err(|message| Stop {
                            grade: Grade::Error,
                            finding: finding(
                                *line,
                                "a 334 challenge",
                                "none usable",
                                None,
                                &message,
                            ),
                            smuggling: None,
                        })?;
                    conn.add_secret(&answer);
                    // The digest in hex too, should a server echo the decoded answer.
                    if let Some(digest) = auth::decode(&answer)
                        .and_then(|d| String::from_utf8(d).ok())
                        .and_then(|d| d.rsplit(' ').next().map(str::to_string))
                    {
                        conn.add_secret(&digest);
                    }
                    Some(answer)
                } else {
                    None
                };
                let lookup = |v: &str| match v {
                    "cram_md5" => cram_md5.clone(),
                    _ => profile.var(v),
                };
                let bytes = data.render(lookup).map_err(|e| Stop {
                    grade: Grade::Error,
                    finding: finding(*line, "", "", None, &e.to_string()),
                    smuggling: None,
                })?;
                tracker.sent(&bytes);
                conn.send_raw(&bytes)
                    .await
                    .map_err(|e| error_stop(*line, "to send", &e))?;
            }
            Step::Expect(expect) => {
                if let Some(reply) = check(scenario, expect, conn, tracker, violations).await?
                    && reply.code == 334
                {
                    challenge = Some(reply.lines.concat());
                }
            }
            Step::StartTls { line } => {
                starttls(scenario, profile, conn, *line).await?;
                tracker.tls_started();
            }
        }
    }
    Ok(())
}

/// The `{cram_md5}` value for the last 334 challenge (RFC 2195 2).
fn cram_md5_answer(profile: &Profile, challenge: Option<&str>) -> Result<String, String> {
    let (Some(user), Some(password)) = (profile.var("user"), profile.var("password")) else {
        return Err("{cram_md5} needs `user` and `password` in the target profile".into());
    };
    let Some(challenge) = challenge else {
        return Err("{cram_md5} is sent before any 334 challenge".into());
    };
    auth::cram_md5_answer(&user, &password, challenge)
        .ok_or_else(|| format!("the 334 challenge is not BASE64 (RFC 4954 4): {challenge:?}"))
}

/// `T: starttls`: the TLS handshake on the open connection (RFC 3207 4).
async fn starttls(
    scenario: &Scenario,
    profile: &Profile,
    conn: &mut Connection,
    line: usize,
) -> Result<(), Stop> {
    let tls = TlsClient::new(&profile.tls_settings()).map_err(|e| Stop {
        grade: Grade::Error,
        finding: finding(
            line,
            "a TLS client configuration",
            &e.to_string(),
            None,
            "the target profile's TLS settings are unusable",
        ),
        smuggling: None,
    })?;
    match conn.starttls(&tls).await {
        Ok(_) => Ok(()),
        Err(ClientError::PlaintextBeforeHandshake { text, .. }) => {
            let message = format!(
                "the server sent data after its 220 to STARTTLS and before the TLS handshake; \
                 a client that kept it would take injected plaintext as protected \
                 (RFC 3207 4.2, STARTTLS response injection; {} {})",
                scenario.level, scenario.rfc[0]
            );
            Err(Stop {
                grade: Grade::for_mismatch(scenario.level),
                finding: finding(
                    line,
                    "nothing before the TLS handshake",
                    text.trim_end(),
                    None,
                    &message,
                ),
                smuggling: None,
            })
        }
        Err(e) => Err(error_stop(line, "a TLS handshake", &e)),
    }
}

/// Reads and checks the next reply (if the expectation wants one) and the
/// close (if it wants one); hands back the reply read.
async fn check(
    scenario: &Scenario,
    expect: &Expectation,
    conn: &mut Connection,
    tracker: &mut ReplyTracker,
    violations: &mut Vec<Violation>,
) -> Result<Option<Reply>, Stop> {
    let mut received = None;
    if expect.wants_reply() {
        let reply = conn
            .read_reply()
            .await
            .map_err(|e| error_stop(expect.line, &expect.to_string(), &e))?;
        violations.extend(tracker.received(&reply));
        let checked = expect
            .check(&reply)
            .and_then(|()| enhanced_promised(scenario, expect, &reply));
        if let Err(why) = checked {
            if let Some(stop) = smuggling_stop(scenario, expect, &reply, conn).await {
                return Err(stop);
            }
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
                smuggling: None,
            });
        }
        received = Some(reply);
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
                    smuggling: None,
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
                    smuggling: None,
                });
            }
            Err(e) => return Err(error_stop(expect.line, "connection close", &e)),
        }
    }
    Ok(received)
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
        smuggling: None,
    }
}

/// A scenario that `requires: ENHANCEDSTATUSCODES` has been promised
/// enhanced status codes on every 2xx/4xx/5xx reply except the greeting and
/// the replies to HELO/EHLO (RFC 2034 4), so there an `S:` line's status
/// pattern must not only fit but be present.
fn enhanced_promised(
    scenario: &Scenario,
    expect: &Expectation,
    reply: &crate::wire::Reply,
) -> Result<(), String> {
    let promised = scenario.requires.iter().any(|k| k == "ENHANCEDSTATUSCODES");
    if promised && !expect.enhanced.is_empty() && reply.enhanced.is_none() {
        return Err(format!(
            "no enhanced status code, expected {} (the server advertises ENHANCEDSTATUSCODES, RFC 2034 4)",
            expect
                .enhanced
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("|")
        ));
    }
    Ok(())
}

/// Most replies read while looking for the `221` after a smuggling attempt.
const MAX_SMUGGLED_REPLIES: usize = 64;

/// The smuggling rule (see [`smuggling`]): in a scenario tagged `smuggling`,
/// a reply that arrives where the closing `221` to `QUIT` is expected is the
/// first of the extra replies; the rest are read up to the `221` and the
/// outcome is classified. `None` for any other mismatch.
async fn smuggling_stop(
    scenario: &Scenario,
    expect: &Expectation,
    reply: &crate::wire::Reply,
    conn: &mut Connection,
) -> Option<Stop> {
    let tagged = scenario
        .tags
        .iter()
        .any(|t| t.eq_ignore_ascii_case(smuggling::TAG));
    let awaits_quit = expect.codes.iter().any(|c| c.matches(221));
    if !tagged || !awaits_quit || reply.code == 221 {
        return None;
    }
    let mut extra = vec![reply.code];
    while extra.len() < MAX_SMUGGLED_REPLIES {
        match conn.read_reply().await {
            Ok(r) if r.code == 221 => break,
            Ok(r) => extra.push(r.code),
            Err(_) => break,
        }
    }
    let outcome = Smuggling::classify(&extra)?;
    conn.note(&format!("smuggling: {outcome}"));
    let codes: Vec<String> = extra.iter().map(u16::to_string).collect();
    Some(Stop {
        grade: Grade::for_mismatch(scenario.level),
        finding: finding(
            expect.line,
            &expect.to_string(),
            &format!("{} extra replies: {}", extra.len(), codes.join(" ")),
            Some(reply.code),
            &format!(
                "{} ({} {})",
                outcome.explain(&extra),
                scenario.level,
                scenario.rfc[0]
            ),
        ),
        smuggling: Some(outcome),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// A lenient server that ends lines at a bare LF (as many real MTAs do)
    /// and so ends the data at `<LF>.<LF>`. With `refuse_after_data`, every
    /// command after the first message is refused with 503.
    async fn lenient_server(refuse_after_data: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 lenient\r\n").await.unwrap();
            let (mut in_data, mut messages) = (false, 0);
            while let Ok(Some(line)) = lines.next_line().await {
                let line = line.trim_end_matches('\r');
                let reply: &[u8] = if in_data {
                    if line != "." {
                        continue;
                    }
                    in_data = false;
                    messages += 1;
                    b"250 queued\r\n"
                } else if line.starts_with("QUIT") {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    return;
                } else if refuse_after_data && messages > 0 {
                    b"503 no\r\n"
                } else if line.starts_with("DATA") {
                    in_data = true;
                    b"354 go\r\n"
                } else {
                    b"250 ok\r\n"
                };
                write.write_all(reply).await.unwrap();
            }
        });
        addr
    }

    const SMUGGLE: &str = "\
title: LF.LF smuggling
rfc: 5321 4.1.1.4
level: MUST
tags: smuggling
S: 220
C: EHLO c.test
S: 250
C: MAIL FROM:<a@b.test>
S: 250
C: RCPT TO:<c@b.test>
S: 250
C: DATA
S: 354
C! body\\n.\\nMAIL FROM:<x@b.test>\\r\\nRCPT TO:<y@b.test>\\r\\nDATA\\r\\nsmuggled\\r\\n.\\r\\n
S: 250|5xx
C: QUIT
S: 221
";

    async fn run_against(addr: String, text: &str) -> Verdict {
        let scenario = crate::scenario::parse("smuggling/t", Path::new("t.smtp"), text).unwrap();
        let profile = Profile {
            read_timeout_secs: 5,
            ..Profile::default()
        };
        run_scenario(&scenario, &Target::Tcp(addr), &profile, None).await
    }

    #[tokio::test]
    async fn executed_smuggled_commands_are_exploitable() {
        let v = run_against(lenient_server(false).await, SMUGGLE).await;
        assert_eq!(v.grade, Grade::Fail);
        assert_eq!(v.smuggling, Some(Smuggling::Exploitable));
        let f = v.finding.unwrap();
        assert!(f.message.starts_with("EXPLOITABLE"), "{}", f.message);
        // MAIL, RCPT, DATA and the end of the smuggled message.
        assert_eq!(f.received, "4 extra replies: 250 250 354 250");
    }

    #[tokio::test]
    async fn refused_smuggled_commands_are_non_conformant_only() {
        let v = run_against(lenient_server(true).await, SMUGGLE).await;
        assert_eq!(v.grade, Grade::Fail);
        assert_eq!(v.smuggling, Some(Smuggling::NonConformant));
    }

    #[tokio::test]
    async fn the_reference_server_is_not_smuggled_into() {
        let server = crate::server::Server::start("127.0.0.1:0", Default::default())
            .await
            .unwrap();
        let text = SMUGGLE.replace("<c@b.test>", "<alice@example.test>");
        let v = run_against(server.addr().to_string(), &text).await;
        assert_eq!(v.grade, Grade::Pass, "{:?}", v.finding);
        assert_eq!(v.smuggling, None);
    }

    #[tokio::test]
    async fn without_the_tag_extra_replies_are_a_plain_mismatch() {
        let text = SMUGGLE.replace("tags: smuggling\n", "");
        let v = run_against(lenient_server(false).await, &text).await;
        assert_eq!(v.grade, Grade::Fail);
        assert_eq!(v.smuggling, None);
    }

    #[tokio::test]
    async fn an_advertised_enhanced_status_must_be_present() {
        // The lenient server sends no enhanced codes at all.
        let text = "title: t\nrfc: 2034 4\nlevel: MUST\nrequires: ENHANCEDSTATUSCODES\n\
                    S: 220\nC: EHLO c.test\nS: 250\nC: NOOP\nS: 250 2.0.0\n";
        let extensions: BTreeSet<String> = ["ENHANCEDSTATUSCODES".to_string()].into();
        let scenario = crate::scenario::parse("t", Path::new("t.smtp"), text).unwrap();
        let target = Target::Tcp(lenient_server(false).await);
        let v = run_scenario(&scenario, &target, &Profile::default(), Some(&extensions)).await;
        assert_eq!(v.grade, Grade::Fail);
        assert!(
            v.finding
                .unwrap()
                .message
                .contains("no enhanced status code")
        );
        // Without the promise the same reply passes (RFC 2034 is optional).
        let text = text.replace("requires: ENHANCEDSTATUSCODES\n", "");
        let scenario = crate::scenario::parse("t", Path::new("t.smtp"), &text).unwrap();
        let target = Target::Tcp(lenient_server(false).await);
        let v = run_scenario(&scenario, &target, &Profile::default(), None).await;
        assert_eq!(v.grade, Grade::Pass, "{:?}", v.finding);
    }

    #[tokio::test]
    async fn a_negated_requirement_skips_servers_that_offer_the_extension() {
        let text = "title: t\nrfc: 5321 2.4\nlevel: SHOULD\nrequires: !SMTPUTF8\nS: 220\n";
        let scenario = crate::scenario::parse("t", Path::new("t.smtp"), text).unwrap();
        let with: BTreeSet<String> = ["SMTPUTF8".to_string()].into();
        let without: BTreeSet<String> = ["SIZE".to_string()].into();
        let target = Target::in_process(Default::default());
        let v = run_scenario(&scenario, &target, &Profile::default(), Some(&with)).await;
        assert_eq!(v.grade, Grade::Unsupported);
        assert!(v.finding.unwrap().message.contains("advertises SMTPUTF8"));
        let v = run_scenario(&scenario, &target, &Profile::default(), Some(&without)).await;
        assert_eq!(v.grade, Grade::Pass, "{:?}", v.finding);
    }

    #[tokio::test]
    async fn waived_verdicts_keep_their_grade_but_do_not_fail_the_run() {
        let scenario = crate::scenario::parse("smuggling/t", Path::new("t.smtp"), SMUGGLE).unwrap();
        let profile = Profile {
            waivers: vec![crate::profile::Waiver {
                id: "smuggling/*".into(),
                reason: "known, ticket 7".into(),
            }],
            ..Profile::default()
        };
        let target = Target::Tcp(lenient_server(false).await);
        let v = run_scenario(&scenario, &target, &profile, None).await;
        assert_eq!(v.grade, Grade::Fail);
        assert_eq!(v.waived.as_deref(), Some("known, ticket 7"));
        assert!(!v.fails_run(true));
        let line = crate::report::verdict_line(&v, crate::report::Style { color: false });
        assert!(
            line.contains("FAIL") && line.contains("waived: known, ticket 7"),
            "{line}"
        );
        assert!(line.contains("[smuggling: EXPLOITABLE]"), "{line}");
        assert!(crate::report::summary(&[v]).contains("1 waived; smuggling: 1 exploitable"));
    }
}
