//! One SMTP client connection: write commands or raw bytes, read replies
//! with a deadline on every read, and keep a transcript of the session.
//!
//! The read loop follows mini-redis: try to parse a reply from the buffer,
//! otherwise read more; end of stream before a complete reply is an error
//! that names what was received so far.
//!
//! TLS: [`Connection::connect_tls`] opens an implicit-TLS session (RFC 8314);
//! [`Connection::starttls`] upgrades a plain one in place after the server's
//! 220 to STARTTLS (RFC 3207). Secrets registered with
//! [`Connection::add_secret`] never reach the transcript: every entry is
//! scrubbed to `[redacted]` as it is recorded.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::tls::{TlsClient, TlsInfo};
use crate::transcript::{Direction, Transcript};
use crate::wire::{Reply, ReplyError, ReplyParser};

/// What a secret is replaced with in transcripts.
pub const REDACTED: &str = "[redacted]";

/// Anything a session can run over: TCP, TLS, or an in-memory duplex pipe.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A boxed [`Stream`], so one connection type serves every transport.
pub type BoxStream = Box<dyn Stream>;

/// Why the client could not complete a step.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// No reply (or no connection) within the deadline.
    #[error("timed out after {0:?} waiting for the server")]
    Timeout(Duration),
    /// The server closed the connection before a complete reply.
    #[error("connection closed by the server{}", if *.partial { " in the middle of a reply" } else { "" })]
    Closed {
        /// True when part of a reply had arrived.
        partial: bool,
    },
    /// The server sent bytes that are not a reply (RFC 5321 4.2).
    #[error("malformed reply: {0}")]
    Malformed(#[from] ReplyError),
    /// The server sent data where the connection was expected to close.
    #[error("expected the server to close the connection, but it sent {0:?}")]
    NotClosed(String),
    /// Reading or writing failed (for example, a reset).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The server sent octets after its reply to STARTTLS and before the
    /// handshake: plaintext that a careless client would take as protected
    /// (RFC 3207 4.2; the STARTTLS response-injection class).
    #[error("the server sent {} octet(s) of plaintext after its reply to STARTTLS, before the TLS handshake: {text:?}", .octets)]
    PlaintextBeforeHandshake {
        /// How many octets were waiting.
        octets: usize,
        /// Those octets, lossily as text.
        text: String,
    },
    /// A TLS upgrade was asked for on a connection that already has TLS
    /// (RFC 3207 4.2: a client MUST NOT start a second TLS session).
    #[error("TLS is already active on this connection")]
    AlreadyTls,
}

/// Timeouts and limits for one connection.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig {
    /// Deadline for opening the connection.
    pub connect_timeout: Duration,
    /// Deadline for each reply and each write.
    pub read_timeout: Duration,
    /// Reply parsing limits.
    pub parser: ReplyParser,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            parser: ReplyParser::default(),
        }
    }
}

/// An open client session with its transcript.
pub struct Connection {
    stream: BoxStream,
    buf: Vec<u8>,
    config: ClientConfig,
    transcript: Transcript,
    started: Instant,
    tls: Option<TlsInfo>,
    secrets: Vec<Vec<u8>>,
}

/// Stands in for the stream while it is moved into the TLS layer; a failed
/// handshake leaves it behind, so the connection reads end of stream and
/// refuses writes.
struct Detached;

impl AsyncRead for Detached {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Detached {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::task::Poll::Ready(Err(io::ErrorKind::NotConnected.into()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl Connection {
    /// Opens a TCP connection to `addr` (`host:port`) within the connect timeout.
    pub async fn connect(addr: &str, config: ClientConfig) -> Result<Connection, ClientError> {
        let stream = Connection::tcp(addr, config).await?;
        Ok(Connection::new(Box::new(stream), config))
    }

    /// Opens a TCP connection and performs the TLS handshake before any SMTP
    /// (implicit TLS, RFC 8314 3.3), each within the connect timeout.
    pub async fn connect_tls(
        addr: &str,
        config: ClientConfig,
        tls: &TlsClient,
    ) -> Result<Connection, ClientError> {
        let stream = Connection::tcp(addr, config).await?;
        let mut conn = Connection::new(Box::new(stream), config);
        conn.handshake(tls, config.connect_timeout, "implicit TLS")
            .await?;
        Ok(conn)
    }

    async fn tcp(addr: &str, config: ClientConfig) -> Result<TcpStream, ClientError> {
        let stream = match timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Err(_) => return Err(ClientError::Timeout(config.connect_timeout)),
            Ok(Err(source)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    source,
                });
            }
            Ok(Ok(stream)) => stream,
        };
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Wraps an already open stream.
    pub fn new(stream: BoxStream, config: ClientConfig) -> Connection {
        Connection {
            stream,
            buf: Vec::new(),
            config,
            transcript: Transcript::default(),
            started: Instant::now(),
            tls: None,
            secrets: Vec::new(),
        }
    }

    /// Upgrades the connection to TLS in place, after the server's 220 to
    /// STARTTLS (RFC 3207 4). The read buffer must be empty: octets the
    /// server sent after that reply are not part of any reply and would be
    /// taken as protected if kept, so they are an error, not discarded.
    pub async fn starttls(&mut self, tls: &TlsClient) -> Result<TlsInfo, ClientError> {
        if self.tls.is_some() {
            self.note("STARTTLS refused by the harness: TLS is already active");
            return Err(ClientError::AlreadyTls);
        }
        if !self.buf.is_empty() {
            let octets = self.buf.len();
            let text = self.redact(&String::from_utf8_lossy(&self.buf));
            self.note(&format!(
                "{octets} octet(s) of plaintext arrived after the reply to STARTTLS, before the handshake"
            ));
            return Err(ClientError::PlaintextBeforeHandshake { octets, text });
        }
        self.handshake(tls, self.config.read_timeout, "STARTTLS")
            .await
    }

    async fn handshake(
        &mut self,
        tls: &TlsClient,
        limit: Duration,
        how: &str,
    ) -> Result<TlsInfo, ClientError> {
        let plain = std::mem::replace(&mut self.stream, Box::new(Detached));
        let connect = tls.connector().connect(tls.server_name().clone(), plain);
        match timeout(limit, connect).await {
            Err(_) => {
                self.note(&format!("TLS handshake ({how}) timed out"));
                Err(ClientError::Timeout(limit))
            }
            Ok(Err(e)) => {
                self.note(&format!("TLS handshake ({how}) failed: {e}"));
                Err(ClientError::Handshake(e.to_string()))
            }
            Ok(Ok(stream)) => {
                let info = TlsInfo::of(stream.get_ref().1);
                self.stream = Box::new(stream);
                self.note(&format!("TLS established ({how}): {info}"));
                self.tls = Some(info.clone());
                Ok(info)
            }
        }
    }

    /// What TLS negotiated, when the connection has TLS.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Registers a secret: from now on, wherever it occurs in what is
    /// recorded (sent, received or noted), the transcript shows
    /// [`REDACTED`] instead. Empty secrets are ignored.
    pub fn add_secret(&mut self, secret: &str) {
        let secret = secret.as_bytes().to_vec();
        if !secret.is_empty() && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every registered secret replaced by [`REDACTED`], for
    /// messages built from what crossed the wire (findings, errors).
    pub fn redact(&self, text: &str) -> String {
        String::from_utf8_lossy(&scrub(text.as_bytes(), &self.secrets)).into_owned()
    }

    fn record(&mut self, direction: Direction, bytes: &[u8]) {
        let at = self.started.elapsed();
        self.transcript.push(direction, at, bytes);
        if self.secrets.is_empty() {
            return;
        }
        // Scrub the whole last entry: server reads merge into one entry, so
        // a secret split across two reads is caught once both have arrived.
        if let Some(last) = self.transcript.entries.last_mut() {
            let clean = scrub(&last.bytes, &self.secrets);
            last.bytes = clean;
        }
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Ends the session and hands back its transcript.
    pub fn into_transcript(self) -> Transcript {
        self.transcript
    }

    /// Records an observation of the harness in the transcript.
    pub fn note(&mut self, text: &str) {
        self.record(Direction::Note, text.as_bytes());
    }

    /// Sends `line` followed by CRLF.
    pub async fn send_line(&mut self, line: &str) -> Result<(), ClientError> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await
    }

    /// Sends bytes exactly as given, in one write, under the deadline.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.record(Direction::Client, bytes);
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match timeout(self.config.read_timeout, write).await {
            Err(_) => {
                self.note("timed out writing to the server");
                Err(ClientError::Timeout(self.config.read_timeout))
            }
            Ok(Err(e)) => {
                self.note(&format!("write failed: {e}"));
                Err(e.into())
            }
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one complete reply, waiting at most the read timeout in total.
    pub async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let deadline = Instant::now() + self.config.read_timeout;
        loop {
            match self.config.parser.parse(&self.buf) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => {
                    self.note(&format!("malformed reply: {e}"));
                    return Err(e.into());
                }
            }
            match self.read_more(deadline).await? {
                0 => {
                    let partial = !self.buf.is_empty();
                    self.note("connection closed by server");
                    return Err(ClientError::Closed { partial });
                }
                _ => continue,
            }
        }
    }

    /// Waits for the server to close the connection, as it must after
    /// `221` (RFC 5321 4.1.1.10) or `421` (3.8).
    pub async fn expect_close(&mut self) -> Result<(), ClientError> {
        let deadline = Instant::now() + self.config.read_timeout;
        loop {
            if !self.buf.is_empty() {
                let text = String::from_utf8_lossy(&self.buf).into_owned();
                return Err(ClientError::NotClosed(text));
            }
            match self.read_more(deadline).await {
                Ok(0) => {
                    self.note("connection closed by server");
                    return Ok(());
                }
                Ok(_) => continue,
                // A reset after the final reply is still a close.
                Err(ClientError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                    self.note("connection reset by server");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads whatever arrives before `deadline`; returns 0 at end of stream.
    async fn read_more(&mut self, deadline: Instant) -> Result<usize, ClientError> {
        let mut chunk = [0u8; 4096];
        let wait = deadline.saturating_duration_since(Instant::now());
        match timeout(wait, self.stream.read(&mut chunk)).await {
            Err(_) => {
                self.note(&format!(
                    "no complete reply within {:?}",
                    self.config.read_timeout
                ));
                Err(ClientError::Timeout(self.config.read_timeout))
            }
            Ok(Err(e)) => {
                self.note(&format!("read failed: {e}"));
                Err(e.into())
            }
            Ok(Ok(n)) => {
                self.record(Direction::Server, &chunk[..n]);
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
        }
    }
}

/// Replaces every occurrence of each secret in `bytes` with [`REDACTED`].
fn scrub(bytes: &[u8], secrets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for secret in secrets {
        let mut result = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            // Earlier replacements stay as they are, even if a secret is
            // part of the marker itself.
            if out[i..].starts_with(REDACTED.as_bytes()) {
                result.extend_from_slice(REDACTED.as_bytes());
                i += REDACTED.len();
            } else if out[i..].starts_with(secret) {
                result.extend_from_slice(REDACTED.as_bytes());
                i += secret.len();
            } else {
                result.push(out[i]);
                i += 1;
            }
        }
        out = result;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_test::io::Builder;

    fn conn(mock: tokio_test::io::Mock) -> Connection {
        Connection::new(Box::new(mock), ClientConfig::default())
    }

    #[tokio::test]
    async fn reads_a_reply_split_across_reads() {
        let mock = Builder::new()
            .read(b"250-mx\r\n25")
            .read(b"0 OK\r\n")
            .build();
        let mut c = conn(mock);
        let reply = c.read_reply().await.unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(reply.lines, ["mx", "OK"]);
        assert_eq!(c.transcript().render(), "S: 250-mx\nS: 250 OK\n");
    }

    #[tokio::test]
    async fn sends_lines_with_crlf_and_records_them() {
        let mock = Builder::new()
            .read(b"220 hi\r\n")
            .write(b"EHLO c.test\r\n")
            .read(b"250 mx\r\n")
            .build();
        let mut c = conn(mock);
        assert_eq!(c.read_reply().await.unwrap().code, 220);
        c.send_line("EHLO c.test").await.unwrap();
        assert_eq!(c.read_reply().await.unwrap().code, 250);
        assert_eq!(
            c.transcript().render(),
            "S: 220 hi\nC: EHLO c.test\nS: 250 mx\n"
        );
    }

    #[tokio::test]
    async fn two_replies_in_one_read_are_returned_one_by_one() {
        let mock = Builder::new().read(b"250 a\r\n503 b\r\n").build();
        let mut c = conn(mock);
        assert_eq!(c.read_reply().await.unwrap().code, 250);
        assert_eq!(c.read_reply().await.unwrap().code, 503);
    }

    #[tokio::test(start_paused = true)]
    async fn silence_times_out_instead_of_hanging() {
        let mock = Builder::new().wait(Duration::from_secs(60)).build();
        let mut c = conn(mock);
        let err = c.read_reply().await.unwrap_err();
        assert!(
            matches!(err, ClientError::Timeout(d) if d == Duration::from_secs(10)),
            "{err}"
        );
        assert!(
            c.transcript()
                .render()
                .contains("no complete reply within 10s")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickle_of_bytes_cannot_extend_the_deadline() {
        let (client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            for _ in 0..30 {
                if server.write_all(b"2").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let mut c = Connection::new(Box::new(client), ClientConfig::default());
        assert!(matches!(c.read_reply().await, Err(ClientError::Timeout(_))));
    }

    #[tokio::test]
    async fn close_mid_reply_is_reported_as_partial() {
        let mock = Builder::new().read(b"250-mx\r\n").build();
        let mut c = conn(mock);
        assert!(matches!(
            c.read_reply().await,
            Err(ClientError::Closed { partial: true })
        ));
    }

    #[tokio::test]
    async fn garbage_is_a_malformed_reply() {
        let mock = Builder::new().read(b"HTTP/1.1 400 Bad Request\r\n").build();
        let mut c = conn(mock);
        assert!(matches!(
            c.read_reply().await,
            Err(ClientError::Malformed(ReplyError::BadCode { .. }))
        ));
    }

    #[tokio::test]
    async fn endless_line_hits_the_cap() {
        let chunk = vec![b'x'; 4096];
        let mut c = conn(Builder::new().read(&chunk).read(b"x").build());
        assert!(matches!(
            c.read_reply().await,
            Err(ClientError::Malformed(ReplyError::LineTooLong { .. }))
        ));
    }

    #[tokio::test]
    async fn reset_is_an_io_error() {
        let mock = Builder::new()
            .read_error(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
            .build();
        let mut c = conn(mock);
        assert!(matches!(c.read_reply().await, Err(ClientError::Io(_))));
    }

    #[tokio::test]
    async fn expect_close_accepts_end_of_stream_and_rejects_more_data() {
        let mut c = conn(Builder::new().read(b"221 bye\r\n").build());
        c.read_reply().await.unwrap();
        c.expect_close().await.unwrap();

        let mut c = conn(Builder::new().read(b"221 bye\r\n250 more\r\n").build());
        c.read_reply().await.unwrap();
        assert!(matches!(
            c.expect_close().await,
            Err(ClientError::NotClosed(_))
        ));
    }

    #[tokio::test]
    async fn secrets_are_redacted_in_every_direction_even_split_across_reads() {
        let mock = Builder::new()
            .write(b"AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n")
            .read(b"535 5.7.8 bad AGFsaWNl")
            .read(b"AHMzY3JldA== and s3cret\r\n")
            .build();
        let mut c = conn(mock);
        c.add_secret("s3cret");
        c.add_secret("AGFsaWNlAHMzY3JldA==");
        c.send_line("AUTH PLAIN AGFsaWNlAHMzY3JldA==")
            .await
            .unwrap();
        c.read_reply().await.unwrap();
        let text = c.transcript().render();
        assert_eq!(
            text,
            "C: AUTH PLAIN [redacted]\nS: 535 5.7.8 bad [redacted] and [redacted]\n"
        );
        assert_eq!(c.redact("x s3cret y"), "x [redacted] y");
    }

    #[test]
    fn a_secret_inside_the_marker_does_not_grow_it() {
        let once = scrub(b"red", &[b"red".to_vec()]);
        assert_eq!(once, REDACTED.as_bytes());
        assert_eq!(scrub(&once, &[b"red".to_vec()]), REDACTED.as_bytes());
    }

    /// RFC 3207 4.2: nothing may sit between the 220 and the handshake.
    #[tokio::test]
    async fn plaintext_after_the_starttls_reply_is_reported() {
        let mock = Builder::new()
            .read(b"220 2.0.0 go ahead\r\n250 injected\r\n")
            .build();
        let mut c = conn(mock);
        assert_eq!(c.read_reply().await.unwrap().code, 220);
        let tls = TlsClient::new(&crate::tls::TlsClientSettings {
            verify: false,
            server_name: "mx.example.test".into(),
            ca_file: None,
        })
        .unwrap();
        let err = c.starttls(&tls).await.unwrap_err();
        assert!(
            matches!(&err, ClientError::PlaintextBeforeHandshake { octets: 14, text } if text == "250 injected\r\n"),
            "{err}"
        );
        assert!(c.tls().is_none());
    }
}
