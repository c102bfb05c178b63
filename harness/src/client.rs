//! One SMTP client connection: write commands or raw bytes, read replies
//! with a deadline on every read, and keep a transcript of the session.
//!
//! The read loop follows mini-redis: try to parse a reply from the buffer,
//! otherwise read more; end of stream before a complete reply is an error
//! that names what was received so far.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::transcript::{Direction, Transcript};
use crate::wire::{Reply, ReplyError, ReplyParser};

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
}

impl Connection {
    /// Opens a TCP connection to `addr` (`host:port`) within the connect timeout.
    pub async fn connect(addr: &str, config: ClientConfig) -> Result<Connection, ClientError> {
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
        Ok(Connection::new(Box::new(stream), config))
    }

    /// Wraps an already open stream.
    pub fn new(stream: BoxStream, config: ClientConfig) -> Connection {
        Connection {
            stream,
            buf: Vec::new(),
            config,
            transcript: Transcript::default(),
            started: Instant::now(),
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
        let at = self.started.elapsed();
        self.transcript.push(Direction::Note, at, text.as_bytes());
    }

    /// Sends `line` followed by CRLF.
    pub async fn send_line(&mut self, line: &str) -> Result<(), ClientError> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await
    }

    /// Sends bytes exactly as given, in one write, under the deadline.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let at = self.started.elapsed();
        self.transcript.push(Direction::Client, at, bytes);
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
                let at = self.started.elapsed();
                self.transcript.push(Direction::Server, at, &chunk[..n]);
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
        }
    }
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
}
