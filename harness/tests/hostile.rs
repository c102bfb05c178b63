//! A hostile or broken server must yield a graded verdict with the
//! transcript: never a panic, never a hang. Each case is a tiny scripted
//! TCP server on 127.0.0.1 that misbehaves in one way.

use std::time::Duration;

use rstest::rstest;
use smtp_harness::profile::Profile;
use smtp_harness::runner::{Grade, Target, run_scenario};
use smtp_harness::scenario::{Scenario, parse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SCENARIO: &str = "\
title: NOOP works
rfc: 5321 4.1.1.9
level: MUST

S: 220
C: EHLO {client}
S: 250
C: NOOP
S: 250
";

/// How the scripted server behaves after accepting a connection.
#[derive(Debug, Clone, Copy)]
enum Misbehaviour {
    /// Never says anything.
    Silence,
    /// Answers with something that is not SMTP.
    Garbage,
    /// Greets, then resets the connection (SO_LINGER 0).
    Reset,
    /// Greets, then sends one line that never ends.
    EndlessLine,
    /// Greets, then an endless multi-line reply.
    EndlessContinuation,
    /// Greets, then closes in the middle of the EHLO reply.
    CloseMidReply,
    /// Greets and then trickles one byte a second.
    Trickle,
    /// Advertises ENHANCEDSTATUSCODES, then answers NOOP without one.
    NoEnhancedCode,
    /// Says 421 to EHLO, as a server shutting down may (RFC 5321 3.8).
    ShuttingDown,
}

async fn misbehave(mut stream: TcpStream, how: Misbehaviour) {
    let mut buf = [0u8; 1024];
    let greet = b"220 mx.example.test ESMTP\r\n";
    match how {
        Misbehaviour::Silence => {
            let _ = stream.read(&mut buf).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Misbehaviour::Garbage => {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Misbehaviour::Reset => {
            let _ = stream.write_all(greet).await;
            let _ = stream.read(&mut buf).await;
            // Linger 0 makes the close an RST; blocking on drop is harmless here.
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Misbehaviour::EndlessLine | Misbehaviour::EndlessContinuation => {
            let _ = stream.write_all(greet).await;
            let _ = stream.read(&mut buf).await;
            let chunk: &[u8] = match how {
                Misbehaviour::EndlessLine => &[b'x'; 1024],
                _ => b"250-more\r\n",
            };
            // Bounded: the client gives up long before this ends.
            for _ in 0..100_000 {
                if stream.write_all(chunk).await.is_err() {
                    return;
                }
            }
        }
        Misbehaviour::CloseMidReply => {
            let _ = stream.write_all(greet).await;
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"250-mx.example.test\r\n250-PIPEL").await;
        }
        Misbehaviour::Trickle => {
            let _ = stream.write_all(greet).await;
            let _ = stream.read(&mut buf).await;
            for b in b"250 mx.example.test says hello at great length\r\n" {
                if stream.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        Misbehaviour::NoEnhancedCode => {
            let _ = stream.write_all(greet).await;
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"250-mx.example.test\r\n250 ENHANCEDSTATUSCODES\r\n")
                .await;
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"250 OK\r\n").await;
            let _ = stream.read(&mut buf).await;
        }
        Misbehaviour::ShuttingDown => {
            let _ = stream.write_all(greet).await;
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"421 4.3.2 mx.example.test shutting down\r\n")
                .await;
        }
    }
}

async fn scripted_server(how: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(misbehave(stream, how));
        }
    });
    addr
}

fn scenario() -> Scenario {
    parse("hostile/noop", std::path::Path::new("noop.smtp"), SCENARIO).unwrap()
}

#[rstest]
#[case::silence(Misbehaviour::Silence, Grade::Error, "did not answer in time")]
#[case::garbage(Misbehaviour::Garbage, Grade::Error, "reply grammar")]
#[case::reset(Misbehaviour::Reset, Grade::Error, "reset the connection")]
#[case::endless_line(Misbehaviour::EndlessLine, Grade::Error, "reply grammar")]
#[case::endless_continuation(Misbehaviour::EndlessContinuation, Grade::Error, "reply grammar")]
#[case::close_mid_reply(Misbehaviour::CloseMidReply, Grade::Error, "closed the connection")]
#[case::trickle(Misbehaviour::Trickle, Grade::Error, "did not answer in time")]
#[case::no_enhanced_code(Misbehaviour::NoEnhancedCode, Grade::Fail, "RFC 2034 4")]
#[case::shutting_down(Misbehaviour::ShuttingDown, Grade::Error, "421")]
#[tokio::test]
async fn misbehaving_servers_get_a_verdict_with_the_transcript(
    #[case] how: Misbehaviour,
    #[case] grade: Grade,
    #[case] message: &str,
) {
    let profile = Profile {
        address: Some(scripted_server(how).await),
        read_timeout_secs: 1,
        scenario_timeout_secs: 5,
        ..Profile::default()
    };
    let target = Target::Tcp(profile.address.clone().unwrap());
    let verdict = run_scenario(&scenario(), &target, &profile, None).await;
    let finding = verdict
        .finding
        .as_ref()
        .expect("a finding explains the grade");
    assert_eq!(verdict.grade, grade, "{finding:?}");
    let said = format!("{} {}", finding.message, finding.received);
    assert!(said.contains(message), "{said}");
    let transcript = verdict.transcript.render();
    if !matches!(how, Misbehaviour::Silence) {
        assert!(
            transcript.starts_with("S: "),
            "the transcript is kept: {transcript}"
        );
    }
    if grade == Grade::Error && !matches!(how, Misbehaviour::ShuttingDown) {
        assert!(
            transcript.contains("*  "),
            "the harness notes what happened: {transcript}"
        );
    }
}

/// A server that accepts and never greets costs one read timeout for the
/// whole suite, not one per scenario: after the first silent session the
/// scenarios not yet started are reported without connecting.
#[tokio::test]
async fn a_server_that_never_greets_is_found_out_once_for_the_whole_suite() {
    use smtp_harness::runner::{RunOptions, run_suite};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            open.push(stream);
        }
    });
    let options = RunOptions {
        profile: Profile {
            address: Some(addr.clone()),
            read_timeout_secs: 1,
            ..Profile::default()
        },
        concurrency: 1,
        ..RunOptions::default()
    };
    let scenarios = vec![scenario(), scenario(), scenario()];
    let verdicts = run_suite(&scenarios, &Target::Tcp(addr), &options, |_| {}).await;
    assert_eq!(verdicts.len(), 3);
    let messages: Vec<&str> = verdicts
        .iter()
        .map(|v| v.finding.as_ref().unwrap().message.as_str())
        .collect();
    for v in &verdicts {
        assert_eq!(v.grade, Grade::Error);
        let transcript = v.transcript.render();
        assert!(transcript.contains("no complete reply"), "{transcript}");
    }
    let timed_out = messages
        .iter()
        .filter(|m| m.contains("did not answer in time"))
        .count();
    let not_run = messages
        .iter()
        .filter(|m| m.contains("sent no greeting"))
        .count();
    assert_eq!((timed_out, not_run), (1, 2), "{messages:?}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one connection settles it"
    );
}
