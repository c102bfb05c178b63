//! The sequence fuzzer end to end: it passes the reference server, finds and
//! shrinks every deliberately broken variant, and what it emits replays
//! through the ordinary runner.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rstest::rstest;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use smtp_harness::client::ClientConfig;
use smtp_harness::fuzz::{self, End, FuzzOptions, FuzzReport, Origin, Pacing, Rule, emit};
use smtp_harness::profile::Profile;
use smtp_harness::runner::{self, Grade, Target};
use smtp_harness::scenario;
use smtp_harness::server::{Action, Quirks, ServerConfig, Session};

fn options(cases: u32, seed: u64) -> FuzzOptions {
    FuzzOptions {
        cases,
        seed,
        pacing: Pacing {
            base: Duration::from_millis(1),
            max: Duration::from_millis(4),
            give_up_after: 5,
        },
        ..FuzzOptions::default()
    }
}

fn broken(quirks: Quirks) -> Target {
    Target::in_process(ServerConfig {
        quirks,
        ..ServerConfig::default()
    })
}

/// A fresh, empty folder under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smtp-harness-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn fuzz(target: &Target, options: &FuzzOptions) -> FuzzReport {
    fuzz::fuzz(target, options, |_| {}).await
}

#[tokio::test]
async fn the_reference_server_passes_thousands_of_cases() {
    let report = fuzz(
        &Target::in_process(ServerConfig::default()),
        &options(3000, 11),
    )
    .await;
    assert_eq!(report.grade(), Grade::Pass, "{:#?}", report.verdicts());
    assert_eq!(report.cases_run, 3000);
    assert_eq!(report.sessions, 3000, "nothing to shrink");
    // Not vacuous: the weighting reaches out-of-sequence and in-sequence
    // states alike, hundreds of times each.
    for rule in [
        Rule::RcptWithoutMail,
        Rule::NestedMail,
        Rule::MailBeforeGreeting,
        Rule::AnyTimeBeforeGreeting,
        Rule::DataWithoutMail,
        Rule::DataWithoutRecipients,
        Rule::MailInSequence,
        Rule::RcptInTransaction,
        Rule::DataInSequence,
        Rule::Rset,
        Rule::Greeting,
    ] {
        let judged = report.coverage.get(&rule).map_or(0, |s| s.judged);
        assert!(judged >= 100, "{rule} judged only {judged} times");
    }
    let out_of_sequence: u64 = report
        .coverage
        .iter()
        .filter(|(r, _)| r.expect() == fuzz::Expect::Is503)
        .map(|(_, s)| s.judged)
        .sum();
    // At least a fifth of all commands are out of sequence (with STARTTLS,
    // AUTH and BDAT offered, more of the alphabet is valid than in core SMTP).
    assert!(
        out_of_sequence * 5 > report.commands,
        "violations are common: {out_of_sequence} of {}",
        report.commands
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_run() {
    let target = Target::in_process(ServerConfig::default());
    let a = fuzz(&target, &options(200, 5)).await;
    let b = fuzz(&target, &options(200, 5)).await;
    let c = fuzz(&target, &options(200, 6)).await;
    assert_eq!((a.commands, &a.coverage), (b.commands, &b.coverage));
    assert_ne!((a.commands, &a.coverage), (c.commands, &c.coverage));
}

/// Each broken variant: the fuzzer finds it, shrinks it to at most 5
/// commands, and the emitted scenario fails against the variant through the
/// normal runner but passes against the reference server.
#[rstest]
#[case::rcpt_without_mail(Quirks { rcpt_without_mail: true, ..Quirks::strict() }, &[Rule::RcptWithoutMail])]
#[case::ehlo_keeps_transaction(
    Quirks { ehlo_keeps_transaction: true, ..Quirks::strict() },
    &[Rule::MailInSequence, Rule::RcptWithoutMail]
)]
#[case::rset_forgets_greeting(Quirks { rset_forgets_greeting: true, ..Quirks::strict() }, &[Rule::MailInSequence])]
#[case::sequence_error_502(Quirks { sequence_error_code: 502, ..Quirks::strict() }, &[Rule::RcptWithoutMail])]
#[tokio::test]
async fn broken_variants_are_found_shrunk_and_emitted(
    #[case] quirks: Quirks,
    #[case] rules: &[Rule],
) {
    let target = broken(quirks.clone());
    let report = fuzz(&target, &options(1000, 3)).await;
    assert_eq!(report.grade(), Grade::Fail);
    let cx = report.failure.as_ref().expect("a counterexample");
    assert!(rules.contains(&cx.rule), "{}: {}", cx.rule, cx.sequence());
    assert!(cx.steps().len() <= 5, "not shrunk: {}", cx.sequence());
    assert!(cx.steps().len() <= cx.original.len());
    assert!(report.failed(false));
    // The minimal session ends with the deviation, judged FAIL.
    let last = cx.steps().last().unwrap();
    assert_eq!(last.deviation, Some(Grade::Fail));
    assert_eq!(cx.minimal.end, End::Stopped);

    let dir = temp_dir(&format!("emit-{}", cx.rule.id()));
    let provenance = emit::Provenance {
        seed: 3,
        target: "in-process".into(),
    };
    let path = emit::write(&dir, cx.steps(), cx.rule, &provenance).unwrap();
    let scenario = load(&dir, &path);
    let profile = Profile::default();
    let on_broken = runner::run_scenario(&scenario, &target, &profile, None).await;
    assert_eq!(
        on_broken.grade,
        Grade::Fail,
        "{}",
        on_broken.transcript.render()
    );
    let reference = Target::in_process(ServerConfig::default());
    let on_reference = runner::run_scenario(&scenario, &reference, &profile, None).await;
    assert_eq!(
        on_reference.grade,
        Grade::Pass,
        "{:?}\n{}",
        on_reference.finding,
        on_reference.transcript.render()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn load(root: &Path, path: &Path) -> scenario::Scenario {
    let suite = scenario::load(root, &[path.to_path_buf()]);
    assert!(suite.errors.is_empty(), "{:?}", suite.errors);
    suite.scenarios.into_iter().next().unwrap()
}

#[tokio::test]
async fn found_failures_are_replayed_first_next_time() {
    let dir = temp_dir("regressions");
    let file = dir.join("broken.proptest-regressions");
    let target = broken(Quirks {
        rset_forgets_greeting: true,
        ..Quirks::strict()
    });
    let mut opts = options(1000, 9);
    opts.regressions = Some(file.clone());
    let first = fuzz(&target, &opts).await;
    let found = first.failure.as_ref().expect("found").sequence();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("# shrinks to {found:?}")), "{text}");

    // No random cases at all: only the saved seed can find it now.
    opts.cases = 0;
    let again = fuzz(&target, &opts).await;
    assert_eq!(again.regressions_replayed, 1);
    let cx = again
        .failure
        .as_ref()
        .expect("found from the regression file");
    assert_eq!(cx.origin, Origin::Regression(0));
    assert_eq!(cx.sequence(), found);
    // Against the fixed server the saved case passes.
    let fixed = fuzz(&Target::in_process(ServerConfig::default()), &opts).await;
    assert_eq!(fixed.grade(), Grade::Pass);
    assert_eq!(fixed.regressions_replayed, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A SHOULD-level deviation is reported NON-STRICT with its own minimal
/// sequence, and the run still completes its budget.
#[tokio::test]
async fn should_level_deviations_are_non_strict_not_failures() {
    // A server that accepts MAIL before EHLO, like Postfix by default:
    // modelled by a listener that greets every client with HELO first.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_lenient(stream));
        }
    });
    let report = fuzz(&Target::Tcp(addr), &options(300, 4)).await;
    assert_eq!(report.grade(), Grade::NonStrict, "{:#?}", report.verdicts());
    assert_eq!(report.cases_run, 300, "the whole budget ran");
    assert!(!report.failed(false));
    assert!(report.failed(true), "--strict counts NON-STRICT");
    let cx = &report.non_strict[0];
    assert_eq!(cx.rule, Rule::MailBeforeGreeting);
    assert_eq!(cx.sequence().to_string(), "MAIL");
}

/// The reference session, except that it silently takes `HELO` as given
/// before the first command (so MAIL before EHLO is accepted), and ends
/// DATA at once (this fake does not read message data).
async fn serve_lenient(stream: tokio::net::TcpStream) {
    let config = std::sync::Arc::new(fake_config());
    let mut session = Session::new(config.clone());
    let _ = session.command(b"HELO lenient.example.test");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    if write
        .write_all(session.greeting().as_bytes())
        .await
        .is_err()
    {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let (text, close) = answer(&mut session, &line, lines.get_mut()).await;
        if write.write_all(text.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// The reference configuration without TLS: these line-based fakes cannot
/// do a handshake, so STARTTLS is not offered (and gets 454).
fn fake_config() -> ServerConfig {
    ServerConfig {
        tls: None,
        ..ServerConfig::default()
    }
}

/// One command answered by the reference session, for the line-based fakes:
/// a BDAT chunk is read exactly, DATA is refused (the fakes read no message data).
async fn answer(
    session: &mut Session,
    line: &str,
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> (String, bool) {
    match session.command(line.as_bytes()) {
        Action::Reply(t) => (t, false),
        Action::Close(t) => (t, true),
        Action::StartData(_) => ("554 5.3.0 no data here\r\n".to_string(), false),
        Action::StartTls(_) => ("454 4.7.0 TLS not available\r\n".to_string(), false),
        Action::ReadChunk { size, .. } => {
            let mut chunk = vec![0; size as usize];
            if reader.read_exact(&mut chunk).await.is_err() {
                return (String::new(), true);
            }
            match session.finish_chunk(chunk).0 {
                Action::Reply(t) => (t, false),
                Action::Close(t) => (t, true),
                _ => ("451 4.3.0 unexpected\r\n".to_string(), false),
            }
        }
    }
}

/// Servers' own limits: a server that says 421 after two commands of every
/// session is not a failure; the fuzzer reconnects and runs its budget.
#[tokio::test]
async fn a_421_ends_the_session_and_the_next_case_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let config = std::sync::Arc::new(fake_config());
                let mut session = Session::new(config);
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(session.greeting().as_bytes()).await;
                let mut n = 0;
                while let Ok(Some(line)) = lines.next_line().await {
                    n += 1;
                    let (text, close) = if n > 2 {
                        ("421 4.7.0 too many errors\r\n".to_string(), true)
                    } else {
                        answer(&mut session, &line, lines.get_mut()).await
                    };
                    if write.write_all(text.as_bytes()).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    let report = fuzz(&Target::Tcp(addr), &options(60, 8)).await;
    assert_eq!(report.cases_run, 60);
    assert!(
        report.ends.get("421").copied().unwrap_or(0) > 10,
        "{:?}",
        report.ends
    );
    assert_eq!(report.grade(), Grade::Pass, "{:#?}", report.verdicts());
}

/// A server that greets and then never answers: every read has a deadline,
/// the run stops with ERROR instead of hanging.
#[tokio::test]
async fn a_silent_server_is_an_error_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"220 silent.example.test\r\n").await;
            open.push(stream);
        }
    });
    let mut opts = options(1000, 1);
    opts.client = Some(ClientConfig {
        connect_timeout: Duration::from_millis(500),
        read_timeout: Duration::from_millis(50),
        ..ClientConfig::default()
    });
    let report = fuzz(&Target::Tcp(addr), &opts).await;
    assert_eq!(report.grade(), Grade::Error);
    assert!(report.aborted.is_some());
    assert!(report.cases_run < 10, "gave up early: {}", report.cases_run);
    assert!(report.failed(false));
    let verdicts = report.verdicts();
    assert_eq!(verdicts[0].grade, Grade::Error);
    assert!(
        verdicts[0]
            .transcript
            .render()
            .contains("no complete reply")
    );
}

/// Nothing listening: connection failures slow the run down, then stop it.
#[tokio::test]
async fn an_absent_server_stops_the_run() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let report = fuzz(&Target::Tcp(addr), &options(1000, 1)).await;
    assert_eq!(report.grade(), Grade::Error);
    assert_eq!(report.ends.get("connect failed").copied(), Some(5));
    assert!(
        report
            .aborted
            .as_deref()
            .unwrap()
            .contains("5 sessions in a row")
    );
}

/// docs/fuzzing.md lists every rule the model has, with its clause.
#[test]
fn the_docs_list_every_rule() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/fuzzing.md");
    let docs = std::fs::read_to_string(&path).unwrap();
    for rule in Rule::ALL {
        let clause = rule.clauses()[0];
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", rule.id())))
            .unwrap_or_else(|| panic!("{} is not in the rules table", rule.id()));
        assert!(
            row.contains(&format!("{} {}", clause.0, clause.1)),
            "{}: {row}",
            rule.id()
        );
    }
}
