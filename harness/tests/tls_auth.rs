//! End to end over real TCP and TLS against the reference server: STARTTLS
//! (RFC 3207), implicit TLS (RFC 8314), AUTH (RFC 4954), BDAT (RFC 3030),
//! 521 (RFC 7504), the example scenarios, and secret redaction.

use std::path::{Path, PathBuf};

use smtp_harness::auth;
use smtp_harness::client::{ClientConfig, ClientError, Connection};
use smtp_harness::profile::{Profile, REFERENCE_PASSWORD, REFERENCE_USER};
use smtp_harness::report;
use smtp_harness::runner::{self, Grade, RunOptions, Target};
use smtp_harness::scenario;
use smtp_harness::server::{Server, ServerConfig};
use smtp_harness::tls::{ServerTls, TlsClient, TlsClientSettings, TlsMode};
use smtp_harness::wire::Reply;

fn no_verify() -> TlsClient {
    TlsClient::new(&TlsClientSettings {
        verify: false,
        server_name: "mx.example.test".into(),
        ca_file: None,
    })
    .unwrap()
}

async fn server() -> Server {
    Server::start("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap()
}

async fn connect(server: &Server) -> Connection {
    let mut c = Connection::connect(&server.addr().to_string(), ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(c.read_reply().await.unwrap().code, 220);
    c
}

async fn command(c: &mut Connection, line: &str) -> Reply {
    c.send_line(line).await.unwrap();
    c.read_reply().await.unwrap()
}

/// EHLO, STARTTLS, handshake: a session at its initial state under TLS.
async fn upgraded(server: &Server) -> Connection {
    let mut c = connect(server).await;
    assert_eq!(command(&mut c, "EHLO client.test").await.code, 250);
    assert_eq!(command(&mut c, "STARTTLS").await.code, 220);
    c.starttls(&no_verify()).await.unwrap();
    c
}

fn keywords(reply: &Reply) -> Vec<&str> {
    reply.lines.iter().skip(1).map(String::as_str).collect()
}

#[tokio::test]
async fn starttls_then_ehlo_offers_auth_and_no_starttls() {
    let server = server().await;
    let mut c = connect(&server).await;
    let before = command(&mut c, "EHLO client.test").await;
    assert!(keywords(&before).contains(&"STARTTLS"), "{before}");
    // RFC 4954 4: no plaintext password mechanism without TLS.
    assert!(keywords(&before).contains(&"AUTH CRAM-MD5"), "{before}");
    assert_eq!(command(&mut c, "STARTTLS").await.code, 220);
    let info = c.starttls(&no_verify()).await.unwrap();
    assert!(info.version.starts_with("TLSv1."), "{info}");
    let after = command(&mut c, "EHLO client.test").await;
    // RFC 3207 4.2: STARTTLS MUST NOT be offered again.
    assert!(!keywords(&after).contains(&"STARTTLS"), "{after}");
    assert!(
        keywords(&after).contains(&"AUTH PLAIN LOGIN CRAM-MD5"),
        "{after}"
    );
    assert_eq!(command(&mut c, "STARTTLS").await.code, 503);
    assert!(
        c.transcript()
            .render()
            .contains("*  TLS established (STARTTLS): TLSv1.")
    );
}

/// RFC 3207 4.2 (CVE-2011-0411 class): a command written in the same
/// packet as STARTTLS must not be executed once TLS is up.
#[tokio::test]
async fn plaintext_pipelined_after_starttls_is_discarded() {
    let server = server().await;
    let mut c = connect(&server).await;
    assert_eq!(command(&mut c, "EHLO client.test").await.code, 250);
    c.send_raw(b"STARTTLS\r\nMAIL FROM:<injected@example.test>\r\n")
        .await
        .unwrap();
    assert_eq!(c.read_reply().await.unwrap().code, 220);
    c.starttls(&no_verify()).await.unwrap();
    // The first reply under TLS answers NOOP, not the injected MAIL.
    let noop = command(&mut c, "NOOP").await;
    assert_eq!((noop.code, noop.lines[0].as_str()), (250, "2.0.0 OK"));
    assert_eq!(command(&mut c, "EHLO client.test").await.code, 250);
    // No transaction was started by the injected MAIL.
    assert_eq!(
        command(&mut c, "RCPT TO:<alice@example.test>").await.code,
        503
    );
}

#[tokio::test]
async fn auth_plain_login_and_cram_md5_succeed_and_fail() {
    let server = server().await;
    for password in [REFERENCE_PASSWORD, "wrong password"] {
        let want = if password == REFERENCE_PASSWORD {
            235
        } else {
            535
        };

        let mut c = upgraded(&server).await;
        command(&mut c, "EHLO client.test").await;
        let plain = auth::plain_response(REFERENCE_USER, password);
        assert_eq!(
            command(&mut c, &format!("AUTH PLAIN {plain}")).await.code,
            want
        );

        let mut c = upgraded(&server).await;
        command(&mut c, "EHLO client.test").await;
        assert_eq!(command(&mut c, "AUTH LOGIN").await.code, 334);
        let user = auth::encode(REFERENCE_USER.as_bytes());
        assert_eq!(command(&mut c, &user).await.code, 334);
        let pw = auth::encode(password.as_bytes());
        assert_eq!(command(&mut c, &pw).await.code, want);

        // CRAM-MD5 needs no TLS (it sends no password).
        let mut c = connect(&server).await;
        command(&mut c, "EHLO client.test").await;
        let challenge = command(&mut c, "AUTH CRAM-MD5").await;
        assert_eq!(challenge.code, 334);
        let answer = auth::cram_md5_answer(REFERENCE_USER, password, &challenge.lines[0]).unwrap();
        let reply = command(&mut c, &answer).await;
        assert_eq!(reply.code, want, "{reply}");
        if want == 535 {
            assert_eq!(reply.lines[0], "5.7.8 Authentication credentials invalid");
        }
    }
}

#[tokio::test]
async fn plaintext_passwords_without_tls_get_538() {
    let server = server().await;
    let mut c = connect(&server).await;
    command(&mut c, "EHLO client.test").await;
    let plain = auth::plain_response(REFERENCE_USER, REFERENCE_PASSWORD);
    let reply = command(&mut c, &format!("AUTH PLAIN {plain}")).await;
    assert_eq!(reply.code, 538);
    assert!(reply.lines[0].starts_with("5.7.11 "), "{reply}");
}

/// RFC 3030 2: chunks are exact octet counts, no dot-stuffing, no line
/// structure; the stored message is their concatenation.
#[tokio::test]
async fn bdat_chunks_are_stored_byte_exact() {
    let server = server().await;
    let mut c = upgraded(&server).await;
    command(&mut c, "EHLO client.test").await;
    let plain = auth::plain_response(REFERENCE_USER, REFERENCE_PASSWORD);
    assert_eq!(
        command(&mut c, &format!("AUTH PLAIN {plain}")).await.code,
        235
    );
    command(&mut c, "MAIL FROM:<a@example.test> BODY=8BITMIME").await;
    command(&mut c, "RCPT TO:<alice@example.test>").await;
    let first: &[u8] = b"Subject: x\r\n\r\n.\r\nbare\nlf and NUL \0 and 8-bit \xff\xfe";
    let second: &[u8] = b"\r\n.\r\n";
    let mut pipelined = format!("BDAT {}\r\n", first.len()).into_bytes();
    pipelined.extend_from_slice(first);
    pipelined.extend_from_slice(format!("BDAT {} LAST\r\n", second.len()).as_bytes());
    pipelined.extend_from_slice(second);
    c.send_raw(&pipelined).await.unwrap();
    assert_eq!(c.read_reply().await.unwrap().code, 250);
    assert_eq!(c.read_reply().await.unwrap().code, 250);
    let messages = server.store().messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].data, [first, second].concat());
    assert!(messages[0].tls);
    assert_eq!(messages[0].authenticated.as_deref(), Some(REFERENCE_USER));
}

#[tokio::test]
async fn implicit_tls_speaks_tls_from_the_first_octet() {
    let server = Server::start_implicit_tls("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let addr = server.addr().to_string();
    let mut c = Connection::connect_tls(&addr, ClientConfig::default(), &no_verify())
        .await
        .unwrap();
    assert!(c.tls().is_some());
    assert_eq!(c.read_reply().await.unwrap().code, 220);
    let ehlo = command(&mut c, "EHLO client.test").await;
    assert!(!keywords(&ehlo).contains(&"STARTTLS"), "{ehlo}");
    assert!(
        keywords(&ehlo).contains(&"AUTH PLAIN LOGIN CRAM-MD5"),
        "{ehlo}"
    );
    // A plaintext client gets no SMTP greeting from an implicit-TLS port.
    let mut plain = Connection::connect(
        &addr,
        ClientConfig {
            read_timeout: std::time::Duration::from_millis(300),
            ..ClientConfig::default()
        },
    )
    .await
    .unwrap();
    assert!(plain.read_reply().await.is_err());
}

#[tokio::test]
async fn verification_checks_the_name_against_the_servers_certificate() {
    let server = server().await;
    let tls = ServerConfig::default().tls.expect("default config has TLS");
    let dir = std::env::temp_dir().join(format!("smtp-harness-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, tls.certificate_pem()).unwrap();
    for (name, ok) in [("mx.example.test", true), ("other.example.test", false)] {
        let client = TlsClient::new(&TlsClientSettings {
            verify: true,
            server_name: name.into(),
            ca_file: Some(ca.clone()),
        })
        .unwrap();
        let mut c = connect(&server).await;
        command(&mut c, "EHLO client.test").await;
        command(&mut c, "STARTTLS").await;
        let result = c.starttls(&client).await;
        assert_eq!(result.is_ok(), ok, "{name}: {result:?}");
        if !ok {
            assert!(matches!(result, Err(ClientError::Handshake(_))));
        }
    }
    // Another server's certificate is not trusted.
    let stranger = ServerTls::self_signed(&["mx.example.test"]).unwrap();
    std::fs::write(&ca, stranger.certificate_pem()).unwrap();
    let client = TlsClient::new(&TlsClientSettings {
        verify: true,
        server_name: "mx.example.test".into(),
        ca_file: Some(ca.clone()),
    })
    .unwrap();
    let mut c = connect(&server).await;
    command(&mut c, "EHLO client.test").await;
    command(&mut c, "STARTTLS").await;
    assert!(c.starttls(&client).await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// RFC 7504 3: 521 greeting; a command other than QUIT gets 521 and the
/// connection closes.
#[tokio::test]
async fn a_no_mail_server_greets_with_521_and_closes() {
    let server = Server::start(
        "127.0.0.1:0",
        ServerConfig {
            no_mail: true,
            ..ServerConfig::default()
        },
    )
    .await
    .unwrap();
    let mut c = Connection::connect(&server.addr().to_string(), ClientConfig::default())
        .await
        .unwrap();
    assert_eq!(c.read_reply().await.unwrap().code, 521);
    assert_eq!(command(&mut c, "EHLO client.test").await.code, 521);
    c.expect_close().await.unwrap();
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn load(folders: &[&str]) -> Vec<scenario::Scenario> {
    let root = scenarios_dir();
    let paths: Vec<PathBuf> = folders.iter().map(|f| root.join(f)).collect();
    let suite = scenario::load(&root, &paths);
    assert!(suite.errors.is_empty(), "{:?}", suite.errors);
    assert!(!suite.scenarios.is_empty());
    suite.scenarios
}

/// The example scenarios pass against the reference server, over TCP with
/// STARTTLS where they ask for it.
#[tokio::test]
async fn the_example_scenarios_pass_against_the_reference_server() {
    let server = server().await;
    let scenarios = load(&["rfc3207", "rfc4954", "rfc3030"]);
    let target = Target::Tcp(server.addr().to_string());
    let verdicts = runner::run_suite(&scenarios, &target, &RunOptions::default(), |_| {}).await;
    for v in &verdicts {
        assert_eq!(v.grade, Grade::Pass, "{}", report::details(v));
    }
    assert!(verdicts.len() >= 12);
}

/// With `tls = "implicit"`, scenarios that need STARTTLS are UNSUPPORTED
/// and the others run over TLS.
#[tokio::test]
async fn implicit_tls_profile_runs_over_tls_and_skips_starttls_scenarios() {
    let server = Server::start_implicit_tls("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let profile = Profile {
        tls: TlsMode::Implicit,
        ..Profile::default()
    };
    let target = Target::for_address(&server.addr().to_string(), &profile).unwrap();
    let scenarios = load(&["rfc3207", "rfc3030"]);
    let options = RunOptions {
        profile,
        ..RunOptions::default()
    };
    let verdicts = runner::run_suite(&scenarios, &target, &options, |_| {}).await;
    for v in &verdicts {
        let want = if v.id.starts_with("rfc3207/") {
            Grade::Unsupported
        } else {
            Grade::Pass
        };
        assert_eq!(v.grade, want, "{}", report::details(v));
        if want == Grade::Pass {
            assert!(
                v.transcript
                    .render()
                    .contains("TLS established (implicit TLS)")
            );
        }
    }
}

/// Secrets never reach a transcript, a report or JSON: the password, its
/// PLAIN and LOGIN encodings and the CRAM-MD5 answer are all redacted,
/// while the command verbs stay visible.
#[tokio::test]
async fn credentials_never_appear_in_transcripts_or_reports() {
    let server = server().await;
    let mut scenarios = load(&["rfc4954"]);
    // A failing scenario too, so that its report (with transcript) is rendered.
    let failing = scenario::parse(
        "redaction/fails",
        Path::new("fails.smtp"),
        "title: t\nrfc: 4954 4\nlevel: MUST\n\nS: 220\nC: EHLO {client}\nS: 250\nC: STARTTLS\nS: 220\nT: starttls\nC: EHLO {client}\nS: 250\nC: AUTH PLAIN {auth_plain}\nS: 235\nC: AUTH LOGIN {auth_login_user}\nS: 334\nC: {auth_login_password}\nS: 535\n",
    )
    .unwrap();
    scenarios.push(failing);
    let target = Target::Tcp(server.addr().to_string());
    let profile = Profile::default();
    let verdicts = runner::run_suite(
        &scenarios,
        &target,
        &RunOptions {
            profile: profile.clone(),
            ..RunOptions::default()
        },
        |_| {},
    )
    .await;
    let mut rendered = String::new();
    for v in &verdicts {
        rendered.push_str(&v.transcript.render());
        rendered.push_str(&report::details(v));
        rendered.push_str(&serde_json::to_string(v).unwrap());
    }
    let password = profile.password.clone().unwrap();
    let secrets = [
        password.clone(),
        profile.var("auth_plain").unwrap(),
        profile.var("auth_login_password").unwrap(),
        auth::encode(password.as_bytes()),
    ];
    for secret in &secrets {
        assert!(!rendered.contains(secret.as_str()), "{secret} leaked");
    }
    // No CRAM-MD5 answer leaked either: every line after a 334 is redacted.
    let cram = verdicts
        .iter()
        .find(|v| v.id == "rfc4954/4-auth-cram-md5")
        .unwrap();
    assert_eq!(cram.grade, Grade::Pass);
    let text = cram.transcript.render();
    assert!(text.contains("C: AUTH CRAM-MD5\nS: 334 "), "{text}");
    assert!(text.contains("\nC: [redacted]\nS: 235 "), "{text}");
    assert!(rendered.contains("C: AUTH PLAIN [redacted]"), "{rendered}");
    assert!(rendered.contains("C: AUTH LOGIN YWxpY2U="), "{rendered}");
    let failed = verdicts.iter().find(|v| v.id == "redaction/fails").unwrap();
    assert_eq!(failed.grade, Grade::Fail, "{}", report::details(failed));
}

/// A server that answers STARTTLS with 220 and, in the same write, more
/// plaintext: the client must not start TLS over it (RFC 3207 4.2; the
/// STARTTLS response-injection class), and the scenario is graded by its level.
#[tokio::test]
async fn plaintext_after_the_220_to_starttls_is_a_finding() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"220 injector ESMTP\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf).await;
        s.write_all(b"220 2.0.0 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
            .await
            .unwrap();
        let _ = s.read(&mut buf).await;
    });
    let scenario = scenario::parse(
        "injection",
        Path::new("injection.smtp"),
        "title: t\nrfc: 3207 4.2\nlevel: MUST\n\nS: 220\nC: STARTTLS\nS: 220\nT: starttls\nC: EHLO {client}\nS: 250\n",
    )
    .unwrap();
    let verdict =
        runner::run_scenario(&scenario, &Target::Tcp(addr), &Profile::default(), None).await;
    assert_eq!(verdict.grade, Grade::Fail, "{}", report::details(&verdict));
    let finding = verdict.finding.unwrap();
    assert_eq!(finding.line, 8);
    assert_eq!(finding.received, "250-injected\r\n250 AUTH PLAIN");
    assert!(
        finding.message.contains("RFC 3207 4.2"),
        "{}",
        finding.message
    );
}

#[tokio::test]
async fn tls_none_profile_grades_starttls_scenarios_unsupported() {
    let server = server().await;
    let profile = Profile {
        tls: TlsMode::None,
        ..Profile::default()
    };
    let scenarios = load(&["rfc3207"]);
    let upgrading = scenarios.iter().find(|s| s.uses_starttls()).unwrap();
    let verdict = runner::run_scenario(
        upgrading,
        &Target::Tcp(server.addr().to_string()),
        &profile,
        None,
    )
    .await;
    assert_eq!(verdict.grade, Grade::Unsupported);
    assert!(verdict.finding.unwrap().message.contains("tls = \"none\""));
}

/// The probe upgrades with STARTTLS, so `requires: AUTH=PLAIN` sees the
/// mechanisms offered only under TLS.
#[tokio::test]
async fn the_extension_probe_unions_keywords_before_and_after_starttls() {
    let server = server().await;
    let target = Target::Tcp(server.addr().to_string());
    let keywords = runner::probe_extensions(&target, &Profile::default())
        .await
        .unwrap();
    for k in [
        "STARTTLS",
        "AUTH",
        "AUTH=PLAIN",
        "AUTH=CRAM-MD5",
        "CHUNKING",
        "SIZE=10485760",
    ] {
        assert!(keywords.contains(k), "{k} missing from {keywords:?}");
    }
    let plain_only = runner::probe_extensions(
        &target,
        &Profile {
            tls: TlsMode::None,
            ..Profile::default()
        },
    )
    .await
    .unwrap();
    assert!(plain_only.contains("AUTH=CRAM-MD5"));
    assert!(!plain_only.contains("AUTH=PLAIN"));
}
