//! End-to-end checks of the reference server over TCP that scenario files
//! cannot make: what was stored, and the limits of RFC 5321 4.5.3.

use rstest::rstest;

use smtp_harness::client::{ClientConfig, Connection};
use smtp_harness::server::{Server, ServerConfig, StoredMessage};
use smtp_harness::wire::Reply;

/// A session on a fresh reference server, past the greeting and EHLO.
struct Session {
    server: Server,
    conn: Connection,
}

impl Session {
    async fn start(config: ServerConfig) -> Session {
        let server = Server::start("127.0.0.1:0", config)
            .await
            .expect("bind a loopback port");
        let mut conn = Connection::connect(&server.addr().to_string(), ClientConfig::default())
            .await
            .expect("connect to the reference server");
        let greeting = conn.read_reply().await.expect("greeting");
        assert_eq!(greeting.code, 220);
        let mut session = Session { server, conn };
        session.expect("EHLO client.example.test", 250).await;
        session
    }

    async fn send(&mut self, line: &str) -> Reply {
        self.conn.send_line(line).await.expect("send");
        self.conn.read_reply().await.expect("reply")
    }

    /// Sends `line` and asserts the reply code; returns the reply.
    async fn expect(&mut self, line: &str, code: u16) -> Reply {
        let reply = self.send(line).await;
        let shown: String = line.chars().take(60).collect();
        assert_eq!(reply.code, code, "{shown} -> {reply:?}");
        reply
    }

    /// MAIL, one RCPT and DATA up to the 354.
    async fn open_data(&mut self) {
        self.expect("MAIL FROM:<sender@example.test>", 250).await;
        self.expect("RCPT TO:<alice@example.test>", 250).await;
        self.expect("DATA", 354).await;
    }

    /// Sends raw message bytes (which must end the data) and returns the reply.
    async fn finish_data(&mut self, bytes: &[u8]) -> Reply {
        self.conn.send_raw(bytes).await.expect("send data");
        self.conn.read_reply().await.expect("reply to end of data")
    }

    fn stored(&self) -> Vec<StoredMessage> {
        self.server.store().messages()
    }
}

#[tokio::test]
async fn the_stored_message_is_dot_unstuffed() {
    // RFC 5321 4.5.2: "If the first character is a period and there are
    // other characters on the line, the first character is deleted."
    let mut s = Session::start(ServerConfig::default()).await;
    s.open_data().await;
    let reply = s
        .finish_data(b"Subject: t\r\n\r\n..hidden\r\n..\r\n...\r\nplain.\r\n.\r\n")
        .await;
    assert_eq!(reply.code, 250);
    let stored = s.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&stored[0].data),
        "Subject: t\r\n\r\n.hidden\r\n.\r\n..\r\nplain.\r\n"
    );
    assert_eq!(stored[0].from, "sender@example.test");
    assert_eq!(stored[0].rcpts, ["alice@example.test"]);
}

#[tokio::test]
async fn bare_lf_dot_lf_does_not_end_the_data_and_the_message_is_refused() {
    // RFC 5321 4.1.1.4: "<LF>.<LF>" MUST NOT be treated as the end of mail
    // data. The reference server's policy (session.rs, finish_data): a bare
    // CR or LF in the data (2.3.8) refuses the message with 554 5.6.0.
    let mut s = Session::start(ServerConfig::default()).await;
    s.open_data().await;
    let reply = s
        .finish_data(b"Subject: t\r\n\r\nfirst\n.\nXSMUGGLED\r\nlast\r\n.\r\n")
        .await;
    assert_eq!(reply.code, 554, "{reply:?}");
    assert_eq!(
        reply.enhanced.map(|e| e.to_string()).as_deref(),
        Some("5.6.0")
    );
    // Exactly one reply: had the data ended at <LF>.<LF>, XSMUGGLED, "last"
    // and "." would each have been answered as commands before this NOOP.
    s.expect("NOOP", 250).await;
    // The refused message consumed the transaction (4.1.1.4).
    s.expect("RCPT TO:<alice@example.test>", 503).await;
    assert!(s.stored().is_empty(), "a refused message was stored");
}

#[tokio::test]
async fn a_1000_octet_text_line_is_kept_intact() {
    // RFC 5321 4.5.3.1.6: 1000 octets including CRLF MUST be received.
    let line = "y".repeat(998);
    let mut s = Session::start(ServerConfig::default()).await;
    s.open_data().await;
    let reply = s.finish_data(format!("{line}\r\n.\r\n").as_bytes()).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    let stored = s.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data, format!("{line}\r\n").into_bytes());
}

#[tokio::test]
async fn a_1001_octet_text_line_is_refused_at_the_end_of_data() {
    // One octet over 4.5.3.1.6; 4.5.3.1.9: "500 Line too long". The reply
    // comes once the data has ended, and the session goes on.
    let mut s = Session::start(ServerConfig::default()).await;
    s.open_data().await;
    let body = format!("short\r\n{}\r\nafter\r\n.\r\n", "y".repeat(999));
    let reply = s.finish_data(body.as_bytes()).await;
    assert_eq!(reply.code, 500, "{reply:?}");
    assert!(s.stored().is_empty());
    s.expect("NOOP", 250).await;
    s.expect("MAIL FROM:<sender@example.test>", 250).await;
}

#[rstest]
// RFC 5321 4.5.3.1.4: 512 octets including CRLF is the limit; one more is
// "command line too long", 500 (4.3.2), and the session continues (3.8).
#[case::at_the_limit(512, 250)]
#[case::one_over(513, 500)]
#[case::far_over(5000, 500)]
#[tokio::test]
async fn command_line_length(#[case] octets: usize, #[case] code: u16) {
    let mut s = Session::start(ServerConfig::default()).await;
    let line = format!("NOOP {}", "x".repeat(octets - "NOOP ".len() - 2));
    assert_eq!(line.len() + 2, octets);
    s.expect(&line, code).await;
    s.expect("NOOP", 250).await;
}

#[tokio::test]
async fn the_101st_recipient_gets_452() {
    // RFC 5321 4.5.3.1.8: at least 100 recipients MUST be buffered;
    // 4.5.3.1.10: an implementation limit is reported with 452.
    let mut s = Session::start(ServerConfig::default()).await;
    s.expect("MAIL FROM:<sender@example.test>", 250).await;
    for i in 0..100 {
        let rcpt = ["alice", "bob", "postmaster"][i % 3];
        s.expect(&format!("RCPT TO:<{rcpt}@example.test>"), 250)
            .await;
    }
    let reply = s.expect("RCPT TO:<alice@example.test>", 452).await;
    assert_eq!(
        reply.enhanced.map(|e| e.to_string()).as_deref(),
        Some("4.5.3")
    );
    // The first 100 are kept, not silently dropped (4.5.3.1.8).
    s.expect("DATA", 354).await;
    assert_eq!(
        s.finish_data(b"Subject: many\r\n\r\nhi\r\n.\r\n")
            .await
            .code,
        250
    );
    let stored = s.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rcpts.len(), 100);
}

#[rstest]
#[case::one(1)]
#[case::three(3)]
#[tokio::test]
async fn max_errors_ends_the_session_with_421(#[case] max: u32) {
    // Past the configured error limit the server ends the session with 421
    // and closes (RFC 5321 3.8 allows closing only after 421); up to the
    // limit every error is answered and the session goes on.
    let config = ServerConfig {
        max_errors: Some(max),
        ..ServerConfig::default()
    };
    let mut s = Session::start(config).await;
    for _ in 0..max {
        s.expect("FROB", 500).await;
        s.expect("NOOP", 250).await;
    }
    let reply = s.expect("FROB", 421).await;
    assert_eq!(reply.enhanced.map(|e| e.class), Some(4));
    s.conn
        .expect_close()
        .await
        .expect("the server closes after 421");
}

#[tokio::test]
async fn expn_is_advertised_because_it_is_implemented() {
    // RFC 5321 3.5.2: "if EXPN is supported, it MUST be listed as a service
    // extension in an EHLO response"; 3.5.1: one mailbox per line.
    let mut s = Session::start(ServerConfig::default()).await;
    let ehlo = s.expect("EHLO client.example.test", 250).await;
    assert!(ehlo.lines.iter().any(|l| l == "EXPN"), "{ehlo:?}");
    let expn = s.expect("EXPN staff", 250).await;
    assert_eq!(
        expn.lines,
        ["2.1.5 <alice@example.test>", "2.1.5 <bob@example.test>"]
    );
}
