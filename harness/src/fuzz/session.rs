//! Runs one generated sequence as one SMTP session: connect, read the
//! greeting, send each command, read its reply under the deadline, judge it
//! against the model's prediction, let the model follow the reply.
//!
//! Nothing here panics or waits without a deadline, whatever the server
//! sends: every read and write goes through [`Connection`], which bounds it
//! by the profile's read timeout, and the session ends at the first reply
//! the harness cannot use.

use crate::client::{ClientConfig, ClientError, Connection};
use crate::profile::Profile;
use crate::runner::{Grade, Target};
use crate::scenario::VARIABLES;
use crate::transcript::Transcript;
use crate::wire::Reply;

use super::model::{Model, Rule};
use super::op::{BDAT_CHUNK, DATA_LINES, Op};

/// One command the session sent, with what came back.
#[derive(Debug, Clone)]
pub struct Step {
    /// The command.
    pub op: Op,
    /// The rule that predicted its reply.
    pub rule: Rule,
    /// The command line as written, with placeholders (`RCPT TO:<{rcpt}>`).
    pub line: String,
    /// The reply to the command line.
    pub reply: Reply,
    /// The reply that ended the exchange, when the first one asked for more:
    /// after the message data (DATA got 354) or after `*` (AUTH got 334).
    pub last: Option<Reply>,
    /// The grade of the deviation, if the reply broke the prediction.
    pub deviation: Option<Grade>,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every command was sent; the harness then sent QUIT (not judged).
    Completed,
    /// The sequence's own QUIT was answered.
    Quit,
    /// Stopped after a MUST-level deviation: the model cannot follow a
    /// server past a state it should never have entered.
    Stopped,
    /// The server answered 421 (RFC 5321 3.8), e.g. at its error limit.
    ShutDown,
    /// The server closed the connection without a reply.
    Closed,
    /// The server answered STARTTLS with 220; the fuzzer does not negotiate
    /// TLS, and cannot go on in plaintext (RFC 3207 4).
    StartTls,
    /// The greeting was not 220 (for example 554 or 421).
    Refused(u16),
    /// The connection could not be opened.
    ConnectFailed(String),
    /// The harness could not go on: timeout, malformed reply, I/O error.
    Error(String),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Completed => f.write_str("every command sent"),
            End::Quit => f.write_str("QUIT answered"),
            End::Stopped => f.write_str("stopped at a MUST-level deviation"),
            End::ShutDown => f.write_str("421 from the server"),
            End::Closed => f.write_str("connection closed by the server"),
            End::StartTls => f.write_str("220 to STARTTLS"),
            End::Refused(code) => write!(f, "greeting {code} instead of 220"),
            End::ConnectFailed(e) | End::Error(e) => f.write_str(e),
        }
    }
}

impl End {
    /// Whether the server cut the session short: the pacing slows down.
    pub fn cut_short(&self) -> bool {
        matches!(
            self,
            End::ShutDown | End::Closed | End::Refused(_) | End::ConnectFailed(_)
        )
    }
}

/// The record of one session.
#[derive(Debug, Clone)]
pub struct SessionRun {
    /// The generated sequence, all of it.
    pub ops: Vec<Op>,
    /// The commands sent, in order. Commands whose extension was not in
    /// effect were skipped; commands after the end were never sent.
    pub steps: Vec<Step>,
    /// How the session ended.
    pub end: End,
    /// Everything that crossed the wire.
    pub transcript: Transcript,
}

impl SessionRun {
    /// The first step whose deviation is graded at least `grade`.
    pub fn first_deviation(&self, grade: Grade) -> Option<(usize, &Step)> {
        self.steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.deviation.is_some_and(|g| g >= grade))
    }

    /// The first step that deviated under `rule`.
    pub fn deviation_of(&self, rule: Rule) -> Option<(usize, &Step)> {
        self.steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.rule == rule && s.deviation.is_some())
    }

    /// The operations actually sent, in order.
    pub fn sent_ops(&self) -> Vec<Op> {
        self.steps.iter().map(|s| s.op).collect()
    }
}

/// Fills scenario placeholders from the profile.
pub fn fill(text: &str, profile: &Profile) -> String {
    let mut out = text.to_string();
    for (name, _) in VARIABLES {
        let key = format!("{{{name}}}");
        if out.contains(&key) {
            out = out.replace(&key, &profile.var(name).unwrap_or_default());
        }
    }
    out
}

/// The client settings the profile asks for.
pub fn client_config(profile: &Profile) -> ClientConfig {
    ClientConfig {
        connect_timeout: profile.connect_timeout(),
        read_timeout: profile.read_timeout(),
        ..ClientConfig::default()
    }
}

/// Runs `ops` as one session against `target`.
pub async fn run_session(
    target: &Target,
    ops: &[Op],
    profile: &Profile,
    client: ClientConfig,
) -> SessionRun {
    let mut run = SessionRun {
        ops: ops.to_vec(),
        steps: Vec::new(),
        end: End::Completed,
        transcript: Transcript::default(),
    };
    match target.connect(client).await {
        Ok(conn) => run_on(conn, ops, profile).await,
        Err(e) => {
            run.end = End::ConnectFailed(e.to_string());
            run
        }
    }
}

/// Runs `ops` as one session over an open connection (the greeting not yet
/// read), within the profile's scenario deadline.
pub async fn run_on(mut conn: Connection, ops: &[Op], profile: &Profile) -> SessionRun {
    let mut run = SessionRun {
        ops: ops.to_vec(),
        steps: Vec::new(),
        end: End::Completed,
        transcript: Transcript::default(),
    };
    // Every read has its deadline; the whole session has one too, so a
    // server that answers each command just in time cannot stretch it.
    let limit = profile.scenario_timeout();
    run.end =
        match tokio::time::timeout(limit, drive(&mut conn, ops, profile, &mut run.steps)).await {
            Ok(end) => end,
            Err(_) => {
                conn.note("session deadline passed");
                End::Error(format!("the session did not finish within {limit:?}"))
            }
        };
    if run.end == End::Completed || run.end == End::Stopped {
        // Leave politely; the reply is not judged.
        if conn.send_line("QUIT").await.is_ok() {
            let _ = conn.read_reply().await;
        }
    }
    run.transcript = conn.into_transcript();
    run
}

async fn drive(conn: &mut Connection, ops: &[Op], profile: &Profile, steps: &mut Vec<Step>) -> End {
    match conn.read_reply().await {
        Ok(r) if r.code == 220 => {}
        Ok(r) => return End::Refused(r.code),
        Err(e) => return client_end(e),
    }
    let mut model = Model::new();
    for &op in ops {
        let Some(rule) = model.predict(op) else {
            continue;
        };
        let mech = model
            .extensions()
            .map(|e| e.auth_mechanism().to_string())
            .unwrap_or_default();
        let line = op.line(&mech);
        let mut bytes = format!("{}\r\n", fill(&line, profile)).into_bytes();
        if matches!(op, Op::BdatChunk | Op::BdatLast) {
            // RFC 3030 2: the chunk follows the command line at once.
            bytes.extend_from_slice(BDAT_CHUNK.as_bytes());
        }
        if let Err(e) = conn.send_raw(&bytes).await {
            return client_end(e);
        }
        let reply = match conn.read_reply().await {
            Ok(r) => r,
            Err(e) => return client_end(e),
        };
        let last = match follow_up(conn, op, &reply, profile).await {
            Ok(last) => last,
            Err(end) => return end,
        };
        let deviation = rule.judge(reply.code);
        model.observe(op, rule, &reply, last.as_ref());
        let shut_down = reply.code == 421 || last.as_ref().is_some_and(|r| r.code == 421);
        let starttls = op == Op::StartTls && reply.code == 220;
        steps.push(Step {
            op,
            rule,
            line,
            reply,
            last,
            deviation,
        });
        if shut_down {
            conn.note("421: the server is closing the session (RFC 5321 3.8)");
            let _ = conn.expect_close().await;
            return End::ShutDown;
        }
        if starttls {
            conn.note("220 to STARTTLS: the fuzzer does not negotiate TLS; session ends here");
            return End::StartTls;
        }
        if op == Op::Quit {
            let _ = conn.expect_close().await;
            return End::Quit;
        }
        if deviation == Some(Grade::Fail) {
            conn.note(&format!(
                "deviation from {} ({}): stopping",
                rule.id(),
                rule.title()
            ));
            return End::Stopped;
        }
    }
    End::Completed
}

/// The second half of a two-part exchange: the message after 354, the
/// cancelling `*` after an AUTH challenge (RFC 4954 4: the server MUST then
/// answer 501).
async fn follow_up(
    conn: &mut Connection,
    op: Op,
    reply: &Reply,
    profile: &Profile,
) -> Result<Option<Reply>, End> {
    let text = match (op, reply.code) {
        (Op::Data, 354) => {
            let mut text = String::new();
            for line in DATA_LINES {
                text.push_str(&fill(line, profile));
                text.push_str("\r\n");
            }
            text.push_str(".\r\n");
            text
        }
        (Op::Auth, 334) => "*\r\n".to_string(),
        _ => return Ok(None),
    };
    conn.send_raw(text.as_bytes()).await.map_err(client_end)?;
    let last = conn.read_reply().await.map_err(client_end)?;
    if last.code == 334 {
        // A server that challenges again after `*` would loop forever.
        conn.note("334 after `*`: RFC 4954 4 requires 501; giving up on this session");
        return Err(End::Error(
            "the server challenged again after the client cancelled AUTH with `*`".into(),
        ));
    }
    Ok(Some(last))
}

fn client_end(e: ClientError) -> End {
    match e {
        ClientError::Closed { partial: false } => End::Closed,
        ClientError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset => End::Closed,
        e => End::Error(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio_test::io::Builder;

    const EHLO: &[u8] = b"EHLO client.example.test\r\n";

    fn run(mock: tokio_test::io::Mock, ops: &[Op]) -> SessionRun {
        let conn = Connection::new(Box::new(mock), ClientConfig::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_on(conn, ops, &Profile::default()))
    }

    #[test]
    fn extension_commands_follow_their_protocols() {
        // The mock fails the test on any write it does not expect, so this
        // also proves what is *not* sent: no BDAT before EHLO, no QUIT
        // after a 220 to STARTTLS.
        let mock = Builder::new()
            .read(b"220 mx\r\n")
            .write(EHLO)
            .read(b"250-mx\r\n250-CHUNKING\r\n250-AUTH LOGIN\r\n250 STARTTLS\r\n")
            .write(b"MAIL FROM:<sender@example.test>\r\n")
            .read(b"250 ok\r\n")
            // RFC 4954 4: AUTH in a transaction must get 503.
            .write(b"AUTH LOGIN\r\n")
            .read(b"503 5.5.1 not now\r\n")
            .write(b"RCPT TO:<alice@example.test>\r\n")
            .read(b"250 ok\r\n")
            // RFC 3030 2: the chunk follows the command in the same write.
            .write(b"BDAT 23 LAST\r\nSubject: fuzz\r\n\r\nfuzz\r\n")
            .read(b"250 2.0.0 queued\r\n")
            // A challenge is cancelled with `*`, which gets 501.
            .write(b"AUTH LOGIN\r\n")
            .read(b"334 VXNlcm5hbWU6\r\n")
            .write(b"*\r\n")
            .read(b"501 cancelled\r\n")
            .write(b"STARTTLS\r\n")
            .read(b"220 go ahead\r\n")
            .build();
        let ops = [
            Op::BdatLast,
            Op::Ehlo,
            Op::Mail,
            Op::Auth,
            Op::RcptKnown,
            Op::BdatLast,
            Op::Auth,
            Op::StartTls,
            Op::Noop,
        ];
        let r = run(mock, &ops);
        assert_eq!(r.end, End::StartTls);
        let rules: Vec<Rule> = r.steps.iter().map(|s| s.rule).collect();
        assert_eq!(
            rules,
            [
                Rule::Greeting,
                Rule::MailInSequence,
                Rule::AuthInTransaction,
                Rule::RcptInTransaction,
                Rule::BdatInSequence,
                Rule::AuthInSequence,
                Rule::StartTls,
            ]
        );
        assert!(r.steps.iter().all(|s| s.deviation.is_none()));
        assert_eq!(r.steps[5].last.as_ref().map(|l| l.code), Some(501));
        assert!(r.transcript.render().contains("does not negotiate TLS"));
    }

    #[test]
    fn data_sends_the_message_only_after_354() {
        let mock = Builder::new()
            .read(b"220 mx\r\n")
            .write(b"DATA\r\n")
            .read(b"503 5.5.1 no mail\r\n")
            .write(EHLO)
            .read(b"250 mx\r\n")
            .write(b"MAIL FROM:<sender@example.test>\r\n")
            .read(b"250 ok\r\n")
            .write(b"RCPT TO:<alice@example.test>\r\n")
            .read(b"250 ok\r\n")
            .write(b"DATA\r\n")
            .read(b"354 go\r\n")
            .write(
                b"From: <sender@example.test>\r\nTo: <alice@example.test>\r\n\
                  Subject: smtp-harness fuzz\r\n\r\nfuzz\r\n.\r\n",
            )
            .read(b"250 queued\r\n")
            .write(b"QUIT\r\n")
            .read(b"221 bye\r\n")
            .build();
        let r = run(
            mock,
            &[Op::Data, Op::Ehlo, Op::Mail, Op::RcptKnown, Op::Data],
        );
        assert_eq!(r.end, End::Completed);
        assert_eq!(r.steps[0].rule, Rule::DataWithoutMail);
        assert_eq!(r.steps[4].rule, Rule::DataInSequence);
        assert_eq!(r.steps[4].last.as_ref().map(|l| l.code), Some(250));
    }

    #[test]
    fn a_must_deviation_stops_the_session_and_quits() {
        let mock = Builder::new()
            .read(b"220 mx\r\n")
            .write(b"RCPT TO:<alice@example.test>\r\n")
            .read(b"250 sure\r\n")
            .write(b"QUIT\r\n")
            .read(b"221 bye\r\n")
            .build();
        let r = run(mock, &[Op::RcptKnown, Op::Mail, Op::Data]);
        assert_eq!(r.end, End::Stopped);
        assert_eq!(r.steps.len(), 1);
        assert_eq!(r.first_deviation(Grade::Fail).map(|(i, _)| i), Some(0));
    }

    #[test]
    fn a_slow_server_cannot_stretch_a_session_past_its_deadline() {
        // Each reply comes 9 s after its command: under the 10 s read
        // deadline, but 7 of them pass the 60 s session deadline.
        let mut builder = Builder::new();
        builder.read(b"220 mx\r\n");
        for _ in 0..6 {
            builder
                .write(b"NOOP\r\n")
                .wait(Duration::from_secs(9))
                .read(b"250 ok\r\n");
        }
        builder.write(b"NOOP\r\n").wait(Duration::from_secs(9));
        let conn = Connection::new(Box::new(builder.build()), ClientConfig::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let r = rt.block_on(run_on(conn, &[Op::Noop; 10], &Profile::default()));
        assert_eq!(r.steps.len(), 6);
        assert!(
            matches!(&r.end, End::Error(e) if e.contains("within 60s")),
            "{:?}",
            r.end
        );
        assert!(r.transcript.render().contains("session deadline passed"));
    }

    #[test]
    fn a_421_and_a_bad_greeting_end_the_session() {
        let mock = Builder::new()
            .read(b"220 mx\r\n")
            .write(EHLO)
            .read(b"421 4.7.0 too many errors\r\n")
            .build();
        let r = run(mock, &[Op::Ehlo, Op::Mail]);
        assert_eq!(r.end, End::ShutDown);
        assert_eq!(
            r.steps[0].deviation, None,
            "421 is never judged (RFC 5321 3.8)"
        );

        let r = run(Builder::new().read(b"554 go away\r\n").build(), &[Op::Ehlo]);
        assert_eq!(r.end, End::Refused(554));
        let r = run(
            Builder::new().read(b"220 mx\r\n").write(EHLO).build(),
            &[Op::Ehlo],
        );
        assert_eq!(r.end, End::Closed);
    }
}
