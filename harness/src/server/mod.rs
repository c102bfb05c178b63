//! The reference server: strict to RFC 5321, the embedded default target
//! and the oracle's twin for the sequence fuzzer.
//!
//! [`Session`] is the protocol state machine without I/O; this module runs
//! it over any byte stream: TCP from [`Server::start`], or an in-memory
//! duplex pipe from [`serve_stream`]. Messages acknowledged with 250 after
//! DATA (or BDAT LAST) are kept in [`Mailstore`], visible to tests.
//!
//! TLS: with [`ServerConfig::tls`] set (the default: a self-signed
//! certificate made at start-up), STARTTLS is offered on plain connections,
//! and [`Server::start_implicit_tls`] listens for implicit TLS (RFC 8314).

pub mod params;
mod session;
pub mod syntax;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use session::{Action, DataReceived, MAX_AUTH_LINE, Session};

use crate::auth::Mechanism;
use crate::profile::{REFERENCE_PASSWORD, REFERENCE_USER};
use crate::tls::ServerTls;

/// Who may authenticate, with which mechanisms, and when (RFC 4954).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Mechanisms offered (under TLS; see `plaintext_without_tls`); empty:
    /// no AUTH at all (the command gets 502).
    pub mechanisms: Vec<Mechanism>,
    /// User names and passwords.
    pub users: Vec<(String, String)>,
    /// Offer and accept PLAIN and LOGIN without TLS. Off by default:
    /// RFC 4954 4 says a server "SHOULD NOT" permit a plaintext password
    /// mechanism without protection; without TLS they get 538 5.7.11 and
    /// are not advertised, while CRAM-MD5 stays available.
    pub plaintext_without_tls: bool,
    /// Require AUTH before mail: 530 5.7.0 for other commands (RFC 4954 6).
    pub required: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mechanisms: Mechanism::ALL.to_vec(),
            users: vec![(REFERENCE_USER.into(), REFERENCE_PASSWORD.into())],
            plaintext_without_tls: false,
            required: false,
        }
    }
}

impl AuthConfig {
    /// The password of `user` (user names match exactly).
    pub fn password_of(&self, user: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.as_str())
    }

    /// The mechanisms offered in a session with or without TLS.
    pub fn offered(&self, tls: bool) -> Vec<Mechanism> {
        self.mechanisms
            .iter()
            .copied()
            .filter(|m| tls || self.plaintext_without_tls || !m.is_plaintext_password())
            .collect()
    }
}

/// Longest command line, CRLF included (RFC 5321 4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;
/// Longest text line of message data, CRLF included (RFC 5321 4.5.3.1.6).
pub const MAX_TEXT_LINE: usize = 1000;

/// Deliberate deviations, used to prove the fuzzer and the suite can fail.
/// All off in the reference configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Accept RCPT with no MAIL before it.
    pub rcpt_without_mail: bool,
    /// A second EHLO/HELO leaves the transaction in place.
    pub ehlo_keeps_transaction: bool,
    /// RSET also forgets the EHLO/HELO greeting.
    pub rset_forgets_greeting: bool,
    /// Reply code for out-of-sequence commands (503 when strict).
    pub sequence_error_code: u16,
}

impl Quirks {
    /// The strict behaviour.
    pub fn strict() -> Quirks {
        Quirks {
            sequence_error_code: 503,
            ..Quirks::default()
        }
    }
}

/// How the reference server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The name in the greeting and EHLO reply.
    pub hostname: String,
    /// Domains accepted as final destination; the first is the primary one.
    pub domains: Vec<String>,
    /// Local parts that exist (case-insensitive); `postmaster` always exists.
    pub mailboxes: Vec<String>,
    /// Mailing lists EXPN can expand: name and member local parts.
    pub lists: Vec<(String, Vec<String>)>,
    /// SIZE limit in octets (RFC 1870).
    pub max_message_size: usize,
    /// Recipients per transaction; RFC 5321 4.5.3.1.8 requires at least 100.
    pub max_recipients: usize,
    /// Negative replies tolerated before 421 and close; `None` for no limit.
    pub max_errors: Option<u32>,
    /// Idle time before 421 and close (RFC 5321 4.5.3.2.7: at least 5 minutes).
    pub idle_timeout: Duration,
    /// Deliberate deviations (none in the reference configuration).
    pub quirks: Quirks,
    /// TLS for STARTTLS and implicit TLS; `None`: STARTTLS is not offered
    /// and gets 454.
    pub tls: Option<ServerTls>,
    /// AUTH policy.
    pub auth: AuthConfig,
    /// Greet with 521 and accept no mail at all (RFC 7504 3).
    pub no_mail: bool,
    /// Domains known to accept no mail (null MX, RFC 7505): RCPT gets 556 (RFC 7504 4).
    pub no_mail_domains: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            hostname: "mx.example.test".into(),
            domains: vec!["example.test".into()],
            // josé: a UTF-8 mailbox for SMTPUTF8 (RFC 6531) transactions.
            mailboxes: vec![
                "alice".into(),
                "bob".into(),
                "postmaster".into(),
                "josé".into(),
            ],
            lists: vec![("staff".into(), vec!["alice".into(), "bob".into()])],
            max_message_size: crate::profile::REFERENCE_SIZE_LIMIT as usize,
            max_recipients: 100,
            max_errors: Some(100),
            idle_timeout: Duration::from_secs(300),
            quirks: Quirks::strict(),
            tls: ServerTls::default_self_signed(),
            auth: AuthConfig::default(),
            no_mail: false,
            no_mail_domains: vec!["nomail.example.test".into()],
        }
    }
}

impl ServerConfig {
    /// EHLO keywords advertised on a plain connection (before STARTTLS).
    pub fn extensions(&self) -> Vec<String> {
        self.extensions_in(false)
    }

    /// EHLO keywords advertised, one per line of the 250 reply, with or
    /// without TLS active: STARTTLS only before TLS (RFC 3207 4.2), AUTH
    /// with the mechanisms the policy allows in that state. EXPN and HELP
    /// are not in the minimum implementation of RFC 5321 4.5.1, so the EHLO
    /// reply lists them (4.1.1.1; for EXPN also 3.5.2); VRFY "MAY be listed
    /// as a convenience" (3.5.2).
    pub fn extensions_in(&self, tls: bool) -> Vec<String> {
        let mut keywords = vec![
            "PIPELINING".into(),
            format!("SIZE {}", self.max_message_size),
            "8BITMIME".into(),
            "ENHANCEDSTATUSCODES".into(),
            "CHUNKING".into(),
            "SMTPUTF8".into(),
            "DSN".into(),
            "VRFY".into(),
            "EXPN".into(),
            "HELP".into(),
        ];
        if !tls && self.tls.is_some() {
            keywords.push("STARTTLS".into());
        }
        let mechanisms = self.auth.offered(tls);
        if !mechanisms.is_empty() {
            let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
            keywords.push(format!("AUTH {}", names.join(" ")));
        }
        keywords
    }

    /// Whether mail for `domain` is accepted here.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Whether `local` names a mailbox here.
    pub fn is_mailbox(&self, local: &str) -> bool {
        local.eq_ignore_ascii_case("postmaster")
            || self.mailboxes.iter().any(|m| m.eq_ignore_ascii_case(local))
    }
}

/// A message the server acknowledged with 250.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The name the client gave in EHLO/HELO.
    pub client: String,
    /// The reverse-path, empty for the null sender.
    pub from: String,
    /// The accepted forward-paths.
    pub rcpts: Vec<String>,
    /// The data: after DATA dot-unstuffed with CRLF line endings, without
    /// the end marker; after BDAT the chunks' octets exactly.
    pub data: Vec<u8>,
    /// Whether TLS was active when the message was accepted.
    pub tls: bool,
    /// The authenticated user, if the client had authenticated.
    pub authenticated: Option<String>,
}

/// Messages accepted by a server, shared with tests.
#[derive(Debug, Clone, Default)]
pub struct Mailstore(Arc<Mutex<Vec<StoredMessage>>>);

impl Mailstore {
    /// A copy of every message accepted so far.
    pub fn messages(&self) -> Vec<StoredMessage> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, message: StoredMessage) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }
}

/// A running reference server on a TCP listener.
pub struct Server {
    addr: SocketAddr,
    store: Mailstore,
    shutdown: watch::Sender<bool>,
}

impl Server {
    /// Binds `addr` (use `127.0.0.1:0` for a free port) and serves in the background.
    pub async fn start(addr: &str, config: ServerConfig) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Server::on_listener(listener, config))
    }

    /// Binds `addr` and serves implicit TLS (RFC 8314 3.3): the handshake
    /// comes first, then the greeting. Needs [`ServerConfig::tls`].
    pub async fn start_implicit_tls(addr: &str, config: ServerConfig) -> std::io::Result<Server> {
        if config.tls.is_none() {
            return Err(std::io::Error::other(
                "implicit TLS needs a TLS configuration (ServerConfig::tls)",
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        Ok(Server::listen(listener, config, true))
    }

    /// Serves on an already bound listener, until dropped or shut down.
    pub fn on_listener(listener: TcpListener, config: ServerConfig) -> Server {
        Server::listen(listener, config, false)
    }

    fn listen(listener: TcpListener, config: ServerConfig, implicit_tls: bool) -> Server {
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let store = Mailstore::default();
        let (shutdown, mut stopped) = watch::channel(false);
        let config = Arc::new(config);
        let accept_store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let config = config.clone();
                        let store = accept_store.clone();
                        let mut stop = stopped.clone();
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = stop.changed() => {}
                                _ = serve_connection(stream, config, store, implicit_tls) => {}
                            }
                        });
                    }
                }
            }
        });
        Server {
            addr,
            store,
            shutdown,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The messages it has accepted.
    pub fn store(&self) -> &Mailstore {
        &self.store
    }

    /// Stops accepting and ends open sessions.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts one session over an in-memory pipe and returns the client end:
/// the in-process target, with no socket at all.
pub fn serve_duplex(config: Arc<ServerConfig>, store: Mailstore) -> tokio::io::DuplexStream {
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(serve_stream(server, config, store));
    client
}

/// What one line read produced.
enum Line {
    /// A line, without its CRLF.
    Complete(Vec<u8>),
    /// The line passed the cap; it was read to its CRLF and discarded.
    TooLong,
    /// End of stream (or idle timeout, or an I/O error).
    End,
}

/// One connection's byte stream with its read buffer: CRLF-terminated
/// lines (a bare LF is not a line ending, 2.3.8), exact-length BDAT
/// chunks, and writes. Reads and writes never overlap in SMTP, so the
/// stream is not split.
struct LineReader<S> {
    inner: S,
    buf: Vec<u8>,
    idle: Duration,
    timed_out: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> LineReader<S> {
    fn new(inner: S, idle: Duration) -> LineReader<S> {
        LineReader {
            inner,
            buf: Vec::new(),
            idle,
            timed_out: false,
        }
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(self.idle, self.inner.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Ok(_) => false,
            Err(_) => {
                self.timed_out = true;
                false
            }
        }
    }

    /// Reads one line of at most `cap` octets including CRLF.
    async fn line(&mut self, cap: usize) -> Line {
        let mut too_long = false;
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).take(end).collect();
                if too_long || end + 2 > cap {
                    return Line::TooLong;
                }
                return Line::Complete(line);
            }
            if self.buf.len() > cap {
                // Keep a trailing CR: it may start the CRLF that ends the line.
                too_long = true;
                let keep = usize::from(self.buf.last() == Some(&b'\r'));
                let cut = self.buf.len() - keep;
                self.buf.drain(..cut);
            }
            if !self.fill().await {
                return Line::End;
            }
        }
    }

    /// Reads exactly `size` octets (RFC 3030 2: no dot-stuffing, no line
    /// structure), keeping the first `keep`. `None` if the stream ends first.
    async fn chunk(&mut self, size: u64, keep: usize) -> Option<Vec<u8>> {
        let mut kept = Vec::with_capacity(keep.min(1 << 20));
        let mut remaining = size;
        loop {
            let take = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            let room = keep.saturating_sub(kept.len()).min(take);
            kept.extend_from_slice(&self.buf[..room]);
            self.buf.drain(..take);
            remaining -= take as u64;
            if remaining == 0 {
                return Some(kept);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Writes and flushes (TLS buffers until flushed).
    async fn write(&mut self, text: &str) -> bool {
        self.inner.write_all(text.as_bytes()).await.is_ok() && self.inner.flush().await.is_ok()
    }
}

/// How a run of the command loop ended.
enum Outcome {
    /// The session is over (QUIT, close, timeout, error).
    Ended,
    /// 220 to STARTTLS was sent: the handshake comes next.
    StartTls,
}

/// Runs one SMTP session over `stream` until QUIT, close or timeout.
pub async fn serve_stream<S>(stream: S, config: Arc<ServerConfig>, store: Mailstore)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    serve_connection(stream, config, store, false).await;
}

/// One connection: with `implicit_tls` the handshake comes before the
/// greeting (RFC 8314 3.3); otherwise STARTTLS may upgrade it mid-session.
async fn serve_connection<S>(
    stream: S,
    config: Arc<ServerConfig>,
    store: Mailstore,
    implicit_tls: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let idle = config.idle_timeout;
    if implicit_tls {
        let Some(tls) = config.tls.clone() else {
            return;
        };
        let Ok(Ok(stream)) = tokio::time::timeout(idle, tls.acceptor().accept(stream)).await else {
            return;
        };
        let mut io = LineReader::new(stream, idle);
        let mut session = Session::new_tls(config);
        if greet(&mut io, &session).await {
            run(&mut io, &mut session, &store).await;
        }
        return;
    }
    let mut io = LineReader::new(stream, idle);
    let mut session = Session::new(config.clone());
    if !greet(&mut io, &session).await {
        return;
    }
    if let Outcome::StartTls = run(&mut io, &mut session, &store).await {
        let Some(tls) = config.tls.clone() else {
            return;
        };
        // RFC 3207 4.2: anything the client pipelined after STARTTLS was
        // sent before the handshake and must not count: discard it.
        let LineReader { inner, .. } = io;
        let Ok(Ok(stream)) = tokio::time::timeout(idle, tls.acceptor().accept(inner)).await else {
            return;
        };
        session.tls_started();
        let mut io = LineReader::new(stream, idle);
        // Under TLS, STARTTLS is refused, so this run cannot ask again.
        run(&mut io, &mut session, &store).await;
    }
}

/// Sends the greeting (220, or 521 for a no-mail server, after which the
/// session answers QUIT or closes on the next command, RFC 7504 3); false
/// when the write fails.
async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineReader<S>,
    session: &Session,
) -> bool {
    io.write(&session.greeting()).await
}

/// The command loop, until the session ends or STARTTLS was accepted.
async fn run<S>(io: &mut LineReader<S>, session: &mut Session, store: &Mailstore) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let action = match io.line(session.line_limit()).await {
            Line::Complete(line) => session.command(&line),
            Line::TooLong => session.line_too_long(),
            Line::End => {
                if io.timed_out {
                    io.write(&session.timed_out()).await;
                }
                return Outcome::Ended;
            }
        };
        let action = match action {
            Action::ReadChunk { size, keep } => {
                let Some(data) = io.chunk(size, keep).await else {
                    if io.timed_out {
                        io.write(&session.timed_out()).await;
                    }
                    return Outcome::Ended;
                };
                let (action, message) = session.finish_chunk(data);
                if let Some(message) = message {
                    store.push(message);
                }
                action
            }
            other => other,
        };
        match action {
            Action::Reply(text) => {
                if !io.write(&text).await {
                    return Outcome::Ended;
                }
            }
            Action::Close(text) => {
                io.write(&text).await;
                let _ = io.inner.shutdown().await;
                return Outcome::Ended;
            }
            Action::StartTls(text) => {
                if !io.write(&text).await {
                    return Outcome::Ended;
                }
                return Outcome::StartTls;
            }
            Action::StartData(text) => {
                if !io.write(&text).await {
                    return Outcome::Ended;
                }
                let Some(received) = read_data(io, session.max_message_size()).await else {
                    if io.timed_out {
                        io.write(&session.timed_out()).await;
                    }
                    return Outcome::Ended;
                };
                let (reply, message) = session.finish_data(received);
                if let Some(message) = message {
                    store.push(message);
                }
                if !io.write(&reply).await {
                    return Outcome::Ended;
                }
            }
            Action::ReadChunk { .. } => {
                // finish_chunk never asks for another chunk.
                return Outcome::Ended;
            }
        }
    }
}

/// Reads message data up to `CRLF.CRLF` (4.1.1.4), removing dot-stuffing
/// (4.5.2). Returns `None` if the stream ends first.
///
/// The 1000-octet text line limit does not count "the leading dot
/// duplicated for transparency" (4.5.3.1.6), so a stuffed line may take
/// 1001 octets on the wire; the limit is checked after unstuffing.
async fn read_data<R: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut LineReader<R>,
    max_size: usize,
) -> Option<DataReceived> {
    let mut received = DataReceived::default();
    loop {
        let line = match reader.line(MAX_TEXT_LINE + 1).await {
            Line::End => return None,
            Line::TooLong => {
                received.line_too_long = true;
                continue;
            }
            Line::Complete(line) => line,
        };
        if line == b"." {
            return Some(received);
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if line.len() + 2 > MAX_TEXT_LINE {
            received.line_too_long = true;
            continue;
        }
        if line.iter().any(|&b| b == b'\r' || b == b'\n') {
            received.bare_line_ending = true;
        }
        if received.body.len() + line.len() + 2 > max_size {
            received.too_big = true;
            continue;
        }
        received.body.extend_from_slice(line);
        received.body.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `read_data` over `input` with the default size limit.
    async fn data(input: &[u8]) -> Option<DataReceived> {
        let (mut client, server) = tokio::io::duplex(input.len() + 1);
        client.write_all(input).await.unwrap();
        drop(client);
        let mut reader = LineReader::new(server, Duration::from_secs(5));
        read_data(&mut reader, 1 << 20).await
    }

    fn line(prefix: &str, fill: usize) -> Vec<u8> {
        let mut l = prefix.as_bytes().to_vec();
        l.extend(std::iter::repeat_n(b'x', fill));
        l.extend_from_slice(b"\r\n");
        l
    }

    #[tokio::test]
    async fn a_1000_octet_line_is_kept() {
        // RFC 5321 4.5.3.1.6: 998 octets + CRLF = 1000 octets is the limit.
        let mut input = line("", 998);
        input.extend_from_slice(b".\r\n");
        let got = data(&input).await.unwrap();
        assert!(!got.line_too_long);
        assert_eq!(got.body, line("", 998));
    }

    #[tokio::test]
    async fn a_stuffed_1000_octet_line_takes_1001_octets_on_the_wire() {
        // 4.5.3.1.6: the limit is "not counting the leading dot duplicated
        // for transparency".
        let mut input = line("..", 997);
        assert_eq!(input.len(), 1001);
        input.extend_from_slice(b".\r\n");
        let got = data(&input).await.unwrap();
        assert!(!got.line_too_long);
        assert_eq!(got.body, line(".", 997));
    }

    #[tokio::test]
    async fn a_1001_octet_line_is_too_long_stuffed_or_not() {
        // 1001 octets once unstuffed: 999 + CRLF, or "." + 998 + CRLF sent as "..".
        for (prefix, fill) in [("", 999), ("..", 998)] {
            let mut input = line(prefix, fill);
            input.extend_from_slice(b".\r\n");
            let got = data(&input).await.unwrap();
            assert!(got.line_too_long, "prefix {prefix:?}");
        }
    }

    #[test]
    fn expn_and_help_are_advertised() {
        // RFC 5321 4.1.1.1 / 3.5.2: commands outside the 4.5.1 minimum MUST
        // be listed in the EHLO reply.
        let ext = ServerConfig::default().extensions();
        for keyword in ["EXPN", "HELP", "VRFY"] {
            assert!(ext.iter().any(|e| e == keyword), "{keyword} in {ext:?}");
        }
    }
}
