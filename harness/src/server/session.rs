//! The reference server's session state machine, without I/O: it is fed
//! command lines and finished message data and answers with replies.
//!
//! States follow RFC 5321 3.3 and 4.1.4: not greeted, greeted, in a mail
//! transaction (sender given), with at least one accepted recipient, and
//! receiving data (handled by the I/O loop, which then calls
//! [`Session::finish_data`], or [`Session::finish_chunk`] for BDAT).
//!
//! Extensions: STARTTLS (RFC 3207; the I/O loop shakes hands and calls
//! [`Session::tls_started`]), AUTH (RFC 4954; a SASL exchange in which the
//! next lines are responses, not commands), CHUNKING (RFC 3030), SMTPUTF8
//! (RFC 6531), DSN (RFC 3461), 8BITMIME, SIZE, PIPELINING and
//! ENHANCEDSTATUSCODES (every reply but the greeting, EHLO/HELO and 3xx,
//! RFC 2034 4).

use std::sync::Arc;

use super::params::{self, MailContext, MailParams};
use super::syntax::{PathError, parse_mailbox, parse_mailbox_utf8};
use super::{ServerConfig, StoredMessage};
use crate::auth::{self, Mechanism};
use crate::wire::{Command, CommandError};

/// Longest line of an AUTH exchange, CRLF included: RFC 4954 4 calls 12288
/// octets "sufficient" for deployed mechanisms.
pub const MAX_AUTH_LINE: usize = 12288;

/// What the I/O loop must do after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the reply and read the next command.
    Reply(String),
    /// Send the reply (354) and read message data until `CRLF.CRLF`.
    StartData(String),
    /// Send the reply and close the connection.
    Close(String),
    /// Send the reply (220), discard any input already buffered (RFC 3207
    /// 4.2: nothing sent before the handshake counts), run the TLS
    /// handshake, then call [`Session::tls_started`]. If the handshake
    /// fails, close the connection.
    StartTls(String),
    /// Read exactly `size` octets of BDAT data (RFC 3030 2), keeping at most
    /// `keep` of them, then call [`Session::finish_chunk`]. No reply yet:
    /// the data follows the command line without waiting for one.
    ReadChunk {
        /// Octets to read.
        size: u64,
        /// Octets to keep (0 when the chunk is to be discarded).
        keep: usize,
    },
}

/// What the I/O loop saw while reading message data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataReceived {
    /// The message, dot-unstuffed, lines ending in CRLF.
    pub body: Vec<u8>,
    /// A line was longer than the 1000-octet limit of RFC 5321 4.5.3.1.6.
    pub line_too_long: bool,
    /// A bare CR or LF appeared in the data (RFC 5321 2.3.8).
    pub bare_line_ending: bool,
    /// More data arrived than the SIZE limit; the excess was discarded.
    pub too_big: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Greeting {
    Helo,
    Ehlo,
}

#[derive(Debug, Default)]
struct Transaction {
    from: String,
    rcpts: Vec<String>,
    /// RCPT commands tried, accepted or not; tells 503 from 554 at DATA (3.3).
    rcpt_attempts: usize,
    /// The MAIL parameters.
    params: MailParams,
    /// BDAT data so far; `Some` once BDAT was used (then DATA is a bad
    /// sequence, RFC 3030 2).
    chunks: Option<Vec<u8>>,
}

/// A SASL exchange in progress: what the next client line answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exchange {
    /// PLAIN without an initial response: the message comes next.
    Plain,
    /// LOGIN: the user name comes next.
    LoginUser,
    /// LOGIN: the password comes next.
    LoginPassword(String),
    /// CRAM-MD5: `user SP digest` of this challenge comes next.
    CramMd5(String),
}

/// A BDAT command whose data the I/O loop is reading.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingChunk {
    last: bool,
    /// The refusal to send once the data has been discarded, if refused.
    refusal: Option<(&'static str, &'static str, String)>,
}

/// One SMTP session's state.
pub struct Session {
    config: Arc<ServerConfig>,
    greeting: Option<Greeting>,
    client_name: String,
    tx: Option<Transaction>,
    errors: u32,
    /// TLS is active (after STARTTLS, or implicit TLS).
    tls: bool,
    /// The authenticated user, after 235.
    authenticated: Option<String>,
    exchange: Option<Exchange>,
    chunk: Option<PendingChunk>,
}

/// The commands HELP lists, in the order it lists them.
const HELP_TOPICS: &[(&str, &str)] = &[
    ("EHLO", "EHLO <domain>: start an extended session"),
    ("HELO", "HELO <domain>: start a session"),
    (
        "MAIL",
        "MAIL FROM:<reverse-path> [parameters]: start a transaction",
    ),
    (
        "RCPT",
        "RCPT TO:<forward-path> [parameters]: add a recipient",
    ),
    ("DATA", "DATA: send the message, ended by <CRLF>.<CRLF>"),
    ("RSET", "RSET: abort the transaction"),
    ("VRFY", "VRFY <string>: verify a user"),
    ("EXPN", "EXPN <string>: expand a mailing list"),
    ("HELP", "HELP [command]: this text"),
    ("NOOP", "NOOP: do nothing"),
    ("QUIT", "QUIT: close the session"),
    ("STARTTLS", "STARTTLS: start TLS (RFC 3207)"),
    (
        "AUTH",
        "AUTH <mechanism> [initial-response]: authenticate (RFC 4954)",
    ),
    (
        "BDAT",
        "BDAT <size> [LAST]: send a chunk of the message (RFC 3030)",
    ),
];

impl Session {
    /// A new session, before the greeting has been sent.
    pub fn new(config: Arc<ServerConfig>) -> Session {
        Session {
            config,
            greeting: None,
            client_name: String::new(),
            tx: None,
            errors: 0,
            tls: false,
            authenticated: None,
            exchange: None,
            chunk: None,
        }
    }

    /// A new session on a connection that has TLS from the start
    /// (implicit TLS, RFC 8314 3.3).
    pub fn new_tls(config: Arc<ServerConfig>) -> Session {
        Session {
            tls: true,
            ..Session::new(config)
        }
    }

    /// The 220 greeting (RFC 5321 4.2, 3.1).
    pub fn greeting(&self) -> String {
        if self.config.no_mail {
            return self.no_mail_greeting();
        }
        format!(
            "220 {} ESMTP smtp-harness reference server\r\n",
            self.config.hostname
        )
    }

    /// RFC 7504 3: a host that never accepts mail greets with 521. No
    /// enhanced status: RFC 2034 4 exempts the greeting.
    fn no_mail_greeting(&self) -> String {
        format!(
            "521 {} does not accept mail (RFC 7504)\r\n",
            self.config.hostname
        )
    }

    /// The SIZE limit, for the I/O loop reading DATA.
    pub fn max_message_size(&self) -> usize {
        self.config.max_message_size
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The authenticated user, if AUTH succeeded.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    /// The longest line the I/O loop should read next, CRLF included: 512
    /// for commands (RFC 5321 4.5.3.1.4), more inside an AUTH exchange.
    pub fn line_limit(&self) -> usize {
        if self.exchange.is_some() {
            MAX_AUTH_LINE
        } else {
            super::MAX_COMMAND_LINE
        }
    }

    /// Called by the I/O loop once the TLS handshake after STARTTLS has
    /// completed: the session returns to its initial state and forgets
    /// everything the client said before (RFC 3207 4.2), including the
    /// EHLO name and any authentication.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.greeting = None;
        self.client_name.clear();
        self.tx = None;
        self.authenticated = None;
        self.exchange = None;
        self.chunk = None;
    }

    /// The reply for a command line that exceeded the 512-octet limit
    /// (4.5.3.1.4), or an AUTH response over its buffer (RFC 4954 4: 500
    /// with 5.5.6, and the exchange fails).
    pub fn line_too_long(&mut self) -> Action {
        if self.exchange.take().is_some() {
            return self.error("500", "5.5.6", "Authentication exchange line is too long");
        }
        self.error("500", "5.5.2", "Line too long")
    }

    /// The reply when the client has been idle past the server timeout (4.5.3.2.7).
    pub fn timed_out(&self) -> String {
        format!(
            "421 4.4.2 {} Timeout, closing connection\r\n",
            self.config.hostname
        )
    }

    /// Handles one command line (without its CRLF); inside an AUTH
    /// exchange, the line is the client's response instead.
    pub fn command(&mut self, line: &[u8]) -> Action {
        if let Some(exchange) = self.exchange.take() {
            return self.auth_response(exchange, line);
        }
        if self.config.no_mail {
            return self.no_mail(line);
        }
        if line.iter().any(|&b| b == b'\r' || b == b'\n') {
            return self.error(
                "500",
                "5.5.2",
                "Bare CR or LF in command line (RFC 5321 2.3.8)",
            );
        }
        let Ok(line) = std::str::from_utf8(line) else {
            return self.error("500", "5.5.2", "Command line is not valid text");
        };
        match Command::parse(line) {
            Ok(command) => self.dispatch(command),
            Err(CommandError::Unrecognized(_)) => {
                self.error("500", "5.5.1", "Command unrecognized")
            }
            Err(CommandError::NotImplemented(_)) => {
                self.error("502", "5.5.1", "Command not implemented")
            }
            Err(CommandError::Syntax(verb)) => self.syntax_error(verb),
        }
    }

    /// RFC 7504 3: after the 521 greeting, QUIT is answered and anything
    /// else gets 521 again, after which the server closes.
    fn no_mail(&mut self, line: &[u8]) -> Action {
        if line.eq_ignore_ascii_case(b"QUIT") {
            return self.quit();
        }
        Action::Close(reply(
            "521",
            Some("5.3.2"),
            &format!("{} does not accept mail", self.config.hostname),
        ))
    }

    fn quit(&self) -> Action {
        Action::Close(format!(
            "221 2.0.0 {} Service closing transmission channel\r\n",
            self.config.hostname
        ))
    }

    /// RFC 4954 6: with authentication required, commands other than AUTH,
    /// EHLO, HELO, NOOP, RSET and QUIT get 530 5.7.0 (and STARTTLS, which
    /// must stay reachable so that AUTH can be).
    fn needs_auth(&self, command: &Command) -> bool {
        self.config.auth.required
            && self.authenticated.is_none()
            && !matches!(
                command,
                Command::Auth { .. }
                    | Command::Ehlo(_)
                    | Command::Helo(_)
                    | Command::Noop(_)
                    | Command::Rset
                    | Command::Quit
                    | Command::StartTls
            )
    }

    fn dispatch(&mut self, command: Command) -> Action {
        if self.needs_auth(&command) {
            if let Command::Bdat { size, last } = command {
                // The chunk follows regardless; read and discard it first.
                return self.refuse_chunk(size, last, "530", "5.7.0", "Authentication required");
            }
            return self.error("530", "5.7.0", "Authentication required");
        }
        match command {
            Command::Ehlo(domain) => self.hello(Greeting::Ehlo, &domain),
            Command::Helo(domain) => self.hello(Greeting::Helo, &domain),
            Command::Mail { path, params } => self.mail(path, &params),
            Command::Rcpt { path, params } => self.rcpt(path, &params),
            Command::Data => self.data(),
            Command::Rset => {
                self.tx = None;
                if self.config.quirks.rset_forgets_greeting {
                    self.greeting = None;
                }
                self.ok("250", "2.0.0", "OK")
            }
            Command::Noop(_) => self.ok("250", "2.0.0", "OK"),
            Command::Vrfy(_) => self.ok(
                "252",
                "2.0.0",
                "Cannot VRFY user, but will accept message and attempt delivery",
            ),
            Command::Expn(name) => self.expn(&name),
            Command::Help(topic) => self.help(topic.as_deref()),
            Command::Quit => self.quit(),
            Command::StartTls => self.starttls(),
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial.as_deref()),
            Command::Bdat { size, last } => self.bdat(size, last),
        }
    }

    /// STARTTLS (RFC 3207 4): 220, then the handshake. A second STARTTLS
    /// under TLS is a bad sequence (4.2: the extension is no longer offered
    /// and a client MUST NOT start a second TLS session); like every
    /// extension it needs an EHLO session. No TLS configured: 454.
    fn starttls(&mut self) -> Action {
        if self.tls {
            return self.sequence_error("TLS already active");
        }
        if self.config.tls.is_none() {
            return self.error("454", "4.7.0", "TLS not available due to temporary reason");
        }
        if self.greeting != Some(Greeting::Ehlo) {
            return self.sequence_error("Send EHLO first");
        }
        Action::StartTls(reply("220", Some("2.0.0"), "Ready to start TLS"))
    }

    /// AUTH (RFC 4954 4).
    fn auth(&mut self, mechanism: &str, initial: Option<&str>) -> Action {
        if self.config.auth.mechanisms.is_empty() {
            return self.error("502", "5.5.1", "AUTH not available");
        }
        if self.greeting != Some(Greeting::Ehlo) {
            return self.sequence_error("Send EHLO first");
        }
        // "After a successful AUTH command completes, a server MUST reject
        // any further AUTH commands with a 503 reply."
        if self.authenticated.is_some() {
            return self.sequence_error("Already authenticated");
        }
        // "An AUTH command issued during a mail transaction MUST be
        // rejected with a 503 reply."
        if self.tx.is_some() {
            return self.sequence_error("AUTH not permitted during a mail transaction");
        }
        let Some(mech) =
            Mechanism::from_name(mechanism).filter(|m| self.config.auth.mechanisms.contains(m))
        else {
            return self.error("504", "5.5.4", "Unrecognized authentication mechanism");
        };
        if mech.is_plaintext_password() && !self.tls && !self.config.auth.plaintext_without_tls {
            return self.error(
                "538",
                "5.7.11",
                "Encryption required for requested authentication mechanism",
            );
        }
        let initial = match initial {
            None => None,
            // "the server-first mechanism with an initial response MUST be
            // rejected with a 501 reply ... 5.7.0".
            Some(_) if mech == Mechanism::CramMd5 => {
                return self.error("501", "5.7.0", "CRAM-MD5 takes no initial response");
            }
            Some("=") => Some(Vec::new()),
            Some(text) => match auth::decode(text) {
                Some(bytes) => Some(bytes),
                None => return self.error("501", "5.5.2", "Cannot decode BASE64 response"),
            },
        };
        match (mech, initial) {
            (Mechanism::Plain, Some(message)) => self.finish_plain(&message),
            (Mechanism::Plain, None) => self.challenge(Exchange::Plain, b""),
            (Mechanism::Login, Some(user)) => match String::from_utf8(user) {
                Ok(user) => self.challenge(Exchange::LoginPassword(user), b"Password:"),
                Err(_) => self.auth_failed(),
            },
            (Mechanism::Login, None) => self.challenge(Exchange::LoginUser, b"Username:"),
            (Mechanism::CramMd5, _) => {
                let challenge = cram_md5_challenge(&self.config.hostname);
                let bytes = challenge.clone().into_bytes();
                self.challenge(Exchange::CramMd5(challenge), &bytes)
            }
        }
    }

    /// A 334 with the BASE64 challenge and nothing else (RFC 4954 4); an
    /// empty challenge is `334 ` with the space.
    fn challenge(&mut self, next: Exchange, data: &[u8]) -> Action {
        self.exchange = Some(next);
        Action::Reply(format!("334 {}\r\n", auth::encode(data)))
    }

    /// One client line inside the exchange: `*` cancels (501), anything
    /// not strict BASE64 is refused (501 5.5.2).
    fn auth_response(&mut self, exchange: Exchange, line: &[u8]) -> Action {
        if line == b"*" {
            return self.error("501", "5.7.0", "Authentication cancelled");
        }
        let Some(data) = std::str::from_utf8(line).ok().and_then(auth::decode) else {
            return self.error("501", "5.5.2", "Cannot decode BASE64 response");
        };
        match exchange {
            Exchange::Plain => self.finish_plain(&data),
            Exchange::LoginUser => match String::from_utf8(data) {
                Ok(user) => self.challenge(Exchange::LoginPassword(user), b"Password:"),
                Err(_) => self.auth_failed(),
            },
            Exchange::LoginPassword(user) => {
                let password = String::from_utf8_lossy(&data).into_owned();
                self.check_password(&user, &password)
            }
            Exchange::CramMd5(challenge) => {
                let text = String::from_utf8_lossy(&data).into_owned();
                let Some((user, digest)) = text.rsplit_once(' ') else {
                    return self.auth_failed();
                };
                let expected = self
                    .config
                    .auth
                    .password_of(user)
                    .map(|pw| auth::cram_md5_digest(pw, challenge.as_bytes()));
                if expected.is_some_and(|e| e == digest.to_ascii_lowercase()) {
                    self.auth_succeeded(user.to_string())
                } else {
                    self.auth_failed()
                }
            }
        }
    }

    /// PLAIN (RFC 4616 2): an authorization identity other than the user's
    /// own is not granted.
    fn finish_plain(&mut self, message: &[u8]) -> Action {
        match auth::parse_plain(message) {
            Some(c) if c.authzid.is_empty() || c.authzid == c.authcid => {
                self.check_password(&c.authcid, &c.password)
            }
            _ => self.auth_failed(),
        }
    }

    fn check_password(&mut self, user: &str, password: &str) -> Action {
        if self.config.auth.password_of(user) == Some(password) {
            self.auth_succeeded(user.to_string())
        } else {
            self.auth_failed()
        }
    }

    fn auth_succeeded(&mut self, user: String) -> Action {
        self.authenticated = Some(user);
        self.ok("235", "2.7.0", "Authentication successful")
    }

    fn auth_failed(&mut self) -> Action {
        self.error("535", "5.7.8", "Authentication credentials invalid")
    }

    /// BDAT (RFC 3030 2). Whatever the verdict, the chunk that follows must
    /// be read (and, when refused, discarded) before the reply.
    fn bdat(&mut self, size: u64, last: bool) -> Action {
        if self.greeting != Some(Greeting::Ehlo) {
            return self.refuse_chunk(size, last, "503", "5.5.1", "Send EHLO first");
        }
        let Some(tx) = &self.tx else {
            return self.refuse_chunk(size, last, "503", "5.5.1", "Need MAIL command");
        };
        if tx.rcpts.is_empty() {
            if tx.rcpt_attempts == 0 {
                return self.refuse_chunk(size, last, "503", "5.5.1", "Need RCPT command");
            }
            return self.refuse_chunk(size, last, "554", "5.5.1", "No valid recipients");
        }
        let so_far = tx.chunks.as_ref().map_or(0, Vec::len) as u64;
        if so_far.saturating_add(size) > self.config.max_message_size as u64 {
            return self.refuse_chunk(
                size,
                last,
                "552",
                "5.3.4",
                "Message size exceeds fixed maximum message size",
            );
        }
        self.chunk = Some(PendingChunk {
            last,
            refusal: None,
        });
        Action::ReadChunk {
            size,
            // Below the size limit, which is a usize.
            keep: usize::try_from(size).unwrap_or(usize::MAX),
        }
    }

    fn refuse_chunk(
        &mut self,
        size: u64,
        last: bool,
        code: &'static str,
        status: &'static str,
        text: &str,
    ) -> Action {
        self.chunk = Some(PendingChunk {
            last,
            refusal: Some((code, status, text.to_string())),
        });
        Action::ReadChunk { size, keep: 0 }
    }

    /// Called by the I/O loop once the octets of a BDAT chunk have been
    /// read: 250 per chunk; at LAST the message is stored (RFC 3030 2).
    /// After a refused chunk the transaction is over: "the transaction
    /// should be considered failed".
    pub fn finish_chunk(&mut self, data: Vec<u8>) -> (Action, Option<StoredMessage>) {
        let Some(pending) = self.chunk.take() else {
            return (self.sequence_error("No BDAT in progress"), None);
        };
        if let Some((code, status, text)) = pending.refusal {
            if code == "552" {
                self.tx = None;
            }
            return (self.error(code, status, &text), None);
        }
        let Some(tx) = self.tx.as_mut() else {
            return (self.sequence_error("No transaction"), None);
        };
        let chunks = tx.chunks.get_or_insert_with(Vec::new);
        let octets = data.len();
        chunks.extend_from_slice(&data);
        if !pending.last {
            let text = format!("{octets} octets received");
            return (self.ok("250", "2.0.0", &text), None);
        }
        let Some(tx) = self.tx.take() else {
            return (self.sequence_error("No transaction"), None);
        };
        let data = tx.chunks.unwrap_or_default();
        let text = format!("OK: message accepted ({} octets)", data.len());
        let message = self.stored(tx.from, tx.rcpts, data);
        (self.ok("250", "2.0.0", &text), Some(message))
    }

    fn stored(&self, from: String, rcpts: Vec<String>, data: Vec<u8>) -> StoredMessage {
        StoredMessage {
            client: self.client_name.clone(),
            from,
            rcpts,
            data,
            tls: self.tls,
            authenticated: self.authenticated.clone(),
        }
    }

    /// EHLO/HELO (4.1.1.1): a valid domain or address literal is required;
    /// a new greeting resets any transaction as RSET would (4.1.4).
    fn hello(&mut self, kind: Greeting, domain: &str) -> Action {
        let verb = if kind == Greeting::Ehlo {
            "EHLO"
        } else {
            "HELO"
        };
        if domain.is_empty() {
            return self.plain_error("501", &format!("Syntax: {verb} <domain>"));
        }
        if !(super::syntax::is_domain(domain) || super::syntax::is_address_literal(domain)) {
            return self.plain_error("501", "Invalid domain name or address literal");
        }
        if !self.config.quirks.ehlo_keeps_transaction {
            self.tx = None;
        }
        self.greeting = Some(kind);
        self.client_name = domain.to_string();
        let host = &self.config.hostname;
        if kind == Greeting::Helo {
            return Action::Reply(format!("250 {host}\r\n"));
        }
        let mut lines = vec![format!("{host} greets {domain}")];
        lines.extend(self.config.extensions_in(self.tls));
        Action::Reply(multiline("250", None, &lines))
    }

    fn mail(&mut self, path: String, params: &[String]) -> Action {
        if self.greeting.is_none() {
            return self.sequence_error("Send EHLO or HELO first");
        }
        if self.tx.is_some() {
            return self.sequence_error("Nested MAIL command");
        }
        if !params.is_empty() && self.greeting != Some(Greeting::Ehlo) {
            return self.error("555", "5.5.4", "MAIL parameters need EHLO");
        }
        let ctx = MailContext {
            max_size: self.config.max_message_size as u64,
            auth_offered: !self.config.auth.mechanisms.is_empty(),
        };
        let params = match params::mail_params(params, ctx) {
            Ok(p) => p,
            Err(e) => return self.error(e.code, e.status, &e.text),
        };
        if !path.is_empty() {
            // RFC 6531 3.5: a non-ASCII reverse-path without SMTPUTF8 is
            // 550 with 5.6.7.
            if !path.is_ascii() && !params.smtputf8 {
                return self.error(
                    "550",
                    "5.6.7",
                    "Non-ASCII sender address needs the SMTPUTF8 parameter",
                );
            }
            match parse_path(&path, params.smtputf8) {
                Ok(_) => {}
                Err(PathError::Syntax) => {
                    return self.error("501", "5.1.7", "Bad sender address syntax");
                }
                Err(PathError::TooLong) => {
                    return self.error("501", "5.1.7", "Sender address too long");
                }
            }
        }
        self.tx = Some(Transaction {
            from: path,
            params,
            ..Transaction::default()
        });
        self.ok("250", "2.1.0", "Sender OK")
    }

    fn rcpt(&mut self, path: String, params: &[String]) -> Action {
        if self.tx.is_none() && !self.config.quirks.rcpt_without_mail {
            return self.sequence_error("Need MAIL before RCPT");
        }
        if self.tx.as_ref().is_some_and(|tx| tx.chunks.is_some()) {
            // RFC 3030 2: BDAT is sent "after all MAIL and RCPT responses are
            // collected"; a recipient added mid-message is out of sequence.
            return self.sequence_error("RCPT cannot follow BDAT in one transaction");
        }
        let tx = self.tx.get_or_insert_with(Transaction::default);
        tx.rcpt_attempts += 1;
        let smtputf8 = tx.params.smtputf8;
        if tx.rcpts.len() >= self.config.max_recipients {
            return self.error("452", "4.5.3", "Too many recipients");
        }
        if !params.is_empty() && self.greeting != Some(Greeting::Ehlo) {
            return self.error("555", "5.5.4", "RCPT parameters need EHLO");
        }
        if let Err(e) = params::rcpt_params(params) {
            return self.error(e.code, e.status, &e.text);
        }
        // "Postmaster" with no domain MUST be accepted (4.5.1).
        if path.eq_ignore_ascii_case("postmaster") {
            return self.accept_rcpt(path);
        }
        // RFC 6531 3.5: a non-ASCII forward-path outside an SMTPUTF8
        // transaction is 553 with 5.6.7.
        if !path.is_ascii() && !smtputf8 {
            return self.error(
                "553",
                "5.6.7",
                "Non-ASCII recipient address needs SMTPUTF8 on MAIL",
            );
        }
        let mailbox = match parse_path(&path, smtputf8) {
            Ok(m) => m,
            Err(PathError::Syntax) => {
                return self.error("501", "5.1.3", "Bad recipient address syntax");
            }
            Err(PathError::TooLong) => {
                return self.error("501", "5.1.3", "Recipient address too long");
            }
        };
        // RFC 7504 4: a domain known to accept no mail (a null MX, RFC 7505)
        // gets 556 rather than a relay attempt that can never succeed.
        if self
            .config
            .no_mail_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&mailbox.domain))
        {
            return self.error("556", "5.1.10", "Recipient domain does not accept mail");
        }
        if !self.config.is_local_domain(&mailbox.domain) {
            return self.error("550", "5.7.1", "Relaying denied");
        }
        // All quoted forms of a local-part are equivalent (4.1.2); lists
        // are recipients too (3.9).
        let local = unquote_local_part(&mailbox.local);
        let is_list = self
            .config
            .lists
            .iter()
            .any(|(l, _)| l.eq_ignore_ascii_case(&local));
        if !self.config.is_mailbox(&local) && !is_list {
            return self.error("550", "5.1.1", "Mailbox unavailable: no such user here");
        }
        self.accept_rcpt(path)
    }

    fn accept_rcpt(&mut self, path: String) -> Action {
        self.tx
            .get_or_insert_with(Transaction::default)
            .rcpts
            .push(path);
        self.ok("250", "2.1.5", "Recipient OK")
    }

    /// DATA (4.1.1.4): needs a transaction with an accepted recipient. With
    /// no RCPT at all the sequence is bad (503); when every RCPT was
    /// rejected, 554 "no valid recipients" is the more precise answer (3.3).
    fn data(&mut self) -> Action {
        let Some(tx) = &self.tx else {
            return self.sequence_error("Need MAIL command");
        };
        if tx.chunks.is_some() {
            // RFC 3030 2: "If a DATA statement is issued after a BDAT for
            // the current transaction, a 503 ... MUST be issued."
            return self.sequence_error("DATA cannot follow BDAT in one transaction");
        }
        if tx.rcpts.is_empty() {
            if tx.rcpt_attempts == 0 {
                return self.sequence_error("Need RCPT command");
            }
            return self.error("554", "5.5.1", "No valid recipients");
        }
        Action::StartData("354 Start mail input; end with <CRLF>.<CRLF>\r\n".into())
    }

    /// Called by the I/O loop once `CRLF.CRLF` ended the data.
    pub fn finish_data(&mut self, data: DataReceived) -> (String, Option<StoredMessage>) {
        let Some(tx) = self.tx.take() else {
            return (reply("503", Some("5.5.1"), "No transaction"), None);
        };
        let answer = |code, status, text| (reply(code, Some(status), text), None);
        if data.too_big {
            return answer(
                "552",
                "5.3.4",
                "Message size exceeds fixed maximum message size",
            );
        }
        if data.line_too_long {
            return answer("500", "5.5.2", "Line too long (RFC 5321 4.5.3.1.6)");
        }
        if data.bare_line_ending {
            return answer(
                "554",
                "5.6.0",
                "Message contains bare CR or LF (RFC 5321 2.3.8)",
            );
        }
        let message = self.stored(tx.from, tx.rcpts, data.body);
        (
            reply("250", Some("2.0.0"), "OK: message accepted"),
            Some(message),
        )
    }

    fn expn(&mut self, name: &str) -> Action {
        let list = name.trim_matches(|c| c == '<' || c == '>');
        let local = list.split('@').next().unwrap_or(list);
        match self
            .config
            .lists
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(local))
        {
            Some((_, members)) => {
                let domain = &self.config.domains[0];
                let lines: Vec<String> =
                    members.iter().map(|m| format!("<{m}@{domain}>")).collect();
                Action::Reply(multiline("250", Some("2.1.5"), &lines))
            }
            None => self.error("550", "5.1.1", "Not a mailing list here"),
        }
    }

    fn help(&mut self, topic: Option<&str>) -> Action {
        match topic {
            None => {
                let mut lines = vec!["Commands:".to_string()];
                lines.push(
                    HELP_TOPICS
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                lines.push("HELP <command> describes one; see RFC 5321".into());
                Action::Reply(multiline("214", Some("2.0.0"), &lines))
            }
            Some(t) => match HELP_TOPICS
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(t.trim()))
            {
                Some((_, text)) => self.ok("214", "2.0.0", text),
                None => self.error("504", "5.5.4", "HELP topic not recognized"),
            },
        }
    }

    fn syntax_error(&mut self, verb: &str) -> Action {
        let usage = match verb {
            "MAIL" => "Syntax: MAIL FROM:<address> [parameters]",
            "RCPT" => "Syntax: RCPT TO:<address> [parameters]",
            "VRFY" => "Syntax: VRFY <string>",
            "EXPN" => "Syntax: EXPN <string>",
            "STARTTLS" => "Syntax: STARTTLS takes no parameters (RFC 3207 4)",
            "AUTH" => "Syntax: AUTH <mechanism> [initial-response]",
            "BDAT" => "Syntax: BDAT <size> [LAST]",
            _ => "Syntax error: this command takes no argument",
        };
        self.error("501", "5.5.4", usage)
    }

    /// A bad-sequence reply: 503 (4.1.4), or what a broken variant says.
    fn sequence_error(&mut self, text: &str) -> Action {
        let code = self.config.quirks.sequence_error_code.to_string();
        self.error(&code, "5.5.1", text)
    }

    fn ok(&self, code: &str, status: &str, text: &str) -> Action {
        Action::Reply(reply(code, Some(status), text))
    }

    /// A negative reply; past the error limit the session ends with 421.
    fn error(&mut self, code: &str, status: &str, text: &str) -> Action {
        self.count_error(reply(code, Some(status), text))
    }

    /// A negative reply without an enhanced code: RFC 2034 4 exempts
    /// replies to HELO and EHLO.
    fn plain_error(&mut self, code: &str, text: &str) -> Action {
        self.count_error(reply(code, None, text))
    }

    fn count_error(&mut self, text: String) -> Action {
        self.errors += 1;
        if self.config.max_errors.is_some_and(|max| self.errors > max) {
            return Action::Close(format!(
                "421 4.7.0 {} Too many errors, closing connection\r\n",
                self.config.hostname
            ));
        }
        Action::Reply(text)
    }
}

/// Parses a path with the ASCII grammar, or the internationalized one in
/// an SMTPUTF8 transaction.
fn parse_path(path: &str, smtputf8: bool) -> Result<super::syntax::Mailbox, PathError> {
    if smtputf8 {
        parse_mailbox_utf8(path)
    } else {
        parse_mailbox(path)
    }
}

/// A CRAM-MD5 challenge in the msg-id form of RFC 2195 2, unique per use:
/// random digits, the time, and the server's name.
fn cram_md5_challenge(hostname: &str) -> String {
    let mut random = [0u8; 8];
    // The ring provider's generator; should it fail, the time still varies.
    let _ = crate::tls::provider().secure_random.fill(&mut random);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "<{}.{}@{hostname}>",
        u64::from_be_bytes(random),
        now.as_secs()
    )
}

/// `"a\\b"` becomes `ab`: the local-part without its quoting (RFC 5321
/// 4.1.2: "all quoted forms MUST be treated as equivalent").
fn unquote_local_part(local: &str) -> String {
    let Some(inner) = local.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return local.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// One reply line with an optional enhanced status.
fn reply(code: &str, status: Option<&str>, text: &str) -> String {
    match status {
        Some(s) => format!("{code} {s} {text}\r\n"),
        None => format!("{code} {text}\r\n"),
    }
}

/// A multi-line reply; the enhanced status, if any, starts every line (RFC 2034 4).
fn multiline(code: &str, status: Option<&str>, lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        match status {
            Some(s) => out.push_str(&format!("{code}{sep}{s} {line}\r\n")),
            None => out.push_str(&format!("{code}{sep}{line}\r\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{REFERENCE_PASSWORD, REFERENCE_USER};
    use rstest::rstest;

    fn session_with(config: ServerConfig) -> Session {
        Session::new(Arc::new(config))
    }

    fn session() -> Session {
        session_with(ServerConfig::default())
    }

    /// Feeds one line; a BDAT chunk is fed `chunk` as its data, and an
    /// accepted STARTTLS is completed as if the handshake succeeded.
    fn feed(s: &mut Session, line: &str, chunk: &[u8]) -> Action {
        match s.command(line.as_bytes()) {
            Action::ReadChunk { size, keep } => {
                assert_eq!(size, chunk.len() as u64, "chunk size for {line}");
                let kept = chunk[..keep.min(chunk.len())].to_vec();
                s.finish_chunk(kept).0
            }
            other => other,
        }
    }

    fn text(action: &Action) -> &str {
        match action {
            Action::Reply(t) | Action::Close(t) | Action::StartData(t) | Action::StartTls(t) => t,
            Action::ReadChunk { .. } => "",
        }
    }

    /// `code status` of a reply, e.g. `503 5.5.1`.
    fn head(action: &Action) -> String {
        text(action)
            .split(' ')
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn run(s: &mut Session, lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| head(&feed(s, l, b""))).collect()
    }

    fn tls_session() -> Session {
        let mut s = session();
        assert_eq!(
            run(&mut s, &["EHLO c.test", "STARTTLS"]),
            ["250-mx.example.test greets", "220 2.0.0"]
        );
        s.tls_started();
        s
    }

    #[rstest]
    #[case::starttls_before_ehlo(&[], "STARTTLS", "503 5.5.1")]
    #[case::starttls_after_helo(&["HELO c.test"], "STARTTLS", "503 5.5.1")]
    #[case::starttls_with_argument(&["EHLO c.test"], "STARTTLS now", "501 5.5.4")]
    #[case::starttls_accepted(&["EHLO c.test"], "STARTTLS", "220 2.0.0")]
    #[case::auth_before_ehlo(&[], "AUTH CRAM-MD5", "503 5.5.1")]
    #[case::auth_without_mechanism(&["EHLO c.test"], "AUTH", "501 5.5.4")]
    #[case::auth_unknown_mechanism(&["EHLO c.test"], "AUTH GSSAPI", "504 5.5.4")]
    #[case::auth_plain_without_tls(&["EHLO c.test"], "AUTH PLAIN", "538 5.7.11")]
    #[case::auth_login_without_tls(&["EHLO c.test"], "AUTH LOGIN", "538 5.7.11")]
    #[case::auth_cram_md5_without_tls(&["EHLO c.test"], "AUTH CRAM-MD5", "334")]
    #[case::auth_in_transaction(&["EHLO c.test", "MAIL FROM:<a@example.test>"], "AUTH CRAM-MD5", "503 5.5.1")]
    #[case::auth_cram_md5_initial_response(&["EHLO c.test"], "AUTH CRAM-MD5 dGVzdA==", "501 5.7.0")]
    #[case::bdat_without_mail(&["EHLO c.test"], "BDAT 0 LAST", "503 5.5.1")]
    #[case::bdat_without_rcpt(&["EHLO c.test", "MAIL FROM:<a@example.test>"], "BDAT 0 LAST", "503 5.5.1")]
    #[case::bdat_after_rejected_rcpts(&["EHLO c.test", "MAIL FROM:<a@example.test>", "RCPT TO:<nobody@example.test>"], "BDAT 0 LAST", "554 5.5.1")]
    #[case::bdat_syntax(&["EHLO c.test"], "BDAT five", "501 5.5.4")]
    #[case::rcpt_after_bdat(&["EHLO c.test", "MAIL FROM:<a@example.test>", "RCPT TO:<alice@example.test>", "BDAT 0"], "RCPT TO:<bob@example.test>", "503 5.5.1")]
    #[case::utf8_sender_without_smtputf8(&["EHLO c.test"], "MAIL FROM:<josé@example.test>", "550 5.6.7")]
    #[case::utf8_sender_with_smtputf8(&["EHLO c.test"], "MAIL FROM:<josé@example.test> SMTPUTF8", "250 2.1.0")]
    #[case::utf8_rcpt_without_smtputf8(&["EHLO c.test", "MAIL FROM:<a@example.test>"], "RCPT TO:<josé@example.test>", "553 5.6.7")]
    #[case::utf8_rcpt_with_smtputf8(&["EHLO c.test", "MAIL FROM:<a@example.test> SMTPUTF8"], "RCPT TO:<josé@example.test>", "250 2.1.5")]
    #[case::smtputf8_with_value(&["EHLO c.test"], "MAIL FROM:<a@example.test> SMTPUTF8=1", "501 5.5.4")]
    #[case::dsn_mail(&["EHLO c.test"], "MAIL FROM:<a@example.test> RET=HDRS ENVID=QQ314159", "250 2.1.0")]
    #[case::dsn_ret_twice(&["EHLO c.test"], "MAIL FROM:<a@example.test> RET=FULL RET=HDRS", "501 5.5.4")]
    #[case::dsn_envid_bad_xtext(&["EHLO c.test"], "MAIL FROM:<a@example.test> ENVID=a+zz", "501 5.5.4")]
    #[case::dsn_rcpt(&["EHLO c.test", "MAIL FROM:<a@example.test>"], "RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.test", "250 2.1.5")]
    #[case::dsn_notify_never_and_more(&["EHLO c.test", "MAIL FROM:<a@example.test>"], "RCPT TO:<alice@example.test> NOTIFY=NEVER,DELAY", "501 5.5.4")]
    #[case::dsn_orcpt_twice(&["EHLO c.test", "MAIL FROM:<a@example.test>"], "RCPT TO:<alice@example.test> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", "501 5.5.4")]
    #[case::mail_auth_param(&["EHLO c.test"], "MAIL FROM:<a@example.test> AUTH=<>", "250 2.1.0")]
    #[case::body_8bitmime(&["EHLO c.test"], "MAIL FROM:<a@example.test> BODY=8BITMIME", "250 2.1.0")]
    #[case::params_after_helo(&["HELO c.test"], "MAIL FROM:<a@example.test> BODY=8BITMIME", "555 5.5.4")]
    fn one_command(#[case] setup: &[&str], #[case] line: &str, #[case] expected: &str) {
        let mut s = session();
        run(&mut s, setup);
        let got = head(&feed(&mut s, line, b""));
        // A 334 carries a random challenge: only its code is fixed.
        let fits = got == expected || (expected == "334" && got.starts_with("334 "));
        assert!(fits, "{line} -> {got}, expected {expected}");
    }

    /// RFC 3207 4.2: after the handshake the session is back at its start,
    /// STARTTLS is no longer offered, and a second one is refused.
    #[test]
    fn starttls_resets_the_session_and_is_not_offered_again() {
        let mut s = session();
        let ehlo = feed(&mut s, "EHLO c.test", b"");
        assert!(text(&ehlo).contains("250-STARTTLS\r\n"), "{}", text(&ehlo));
        assert!(text(&ehlo).contains("AUTH CRAM-MD5\r\n"), "{}", text(&ehlo));
        assert!(matches!(feed(&mut s, "STARTTLS", b""), Action::StartTls(_)));
        s.tls_started();
        assert!(s.is_tls());
        assert_eq!(run(&mut s, &["MAIL FROM:<a@example.test>"]), ["503 5.5.1"]);
        let ehlo = feed(&mut s, "EHLO c.test", b"");
        assert!(!text(&ehlo).contains("STARTTLS"), "{}", text(&ehlo));
        assert!(
            text(&ehlo).contains("AUTH PLAIN LOGIN CRAM-MD5\r\n"),
            "{}",
            text(&ehlo)
        );
        assert_eq!(run(&mut s, &["STARTTLS"]), ["503 5.5.1"]);
    }

    #[test]
    fn without_tls_configured_starttls_is_not_offered_and_gets_454() {
        let mut s = session_with(ServerConfig {
            tls: None,
            ..ServerConfig::default()
        });
        assert!(!text(&feed(&mut s, "EHLO c.test", b"")).contains("STARTTLS"));
        assert_eq!(run(&mut s, &["STARTTLS"]), ["454 4.7.0"]);
    }

    /// RFC 4954 4: 235 on success, then every further AUTH is 503.
    #[test]
    fn auth_plain_with_initial_response_then_no_second_auth() {
        let mut s = tls_session();
        let plain = auth::plain_response(REFERENCE_USER, REFERENCE_PASSWORD);
        let lines = ["EHLO c.test", &format!("AUTH PLAIN {plain}"), "AUTH LOGIN"];
        assert_eq!(
            run(&mut s, &lines),
            ["250-mx.example.test greets", "235 2.7.0", "503 5.5.1"]
        );
        assert_eq!(s.authenticated(), Some(REFERENCE_USER));
    }

    #[test]
    fn auth_plain_without_initial_response_gets_an_empty_challenge() {
        let mut s = tls_session();
        run(&mut s, &["EHLO c.test"]);
        assert_eq!(text(&feed(&mut s, "AUTH PLAIN", b"")), "334 \r\n");
        let wrong = auth::plain_response(REFERENCE_USER, "wrong");
        assert_eq!(run(&mut s, &[&wrong]), ["535 5.7.8"]);
        assert_eq!(s.authenticated(), None);
    }

    #[test]
    fn auth_login_asks_for_user_then_password() {
        let mut s = tls_session();
        run(&mut s, &["EHLO c.test"]);
        // "Username:" and "Password:" in BASE64.
        assert_eq!(
            text(&feed(&mut s, "AUTH LOGIN", b"")),
            "334 VXNlcm5hbWU6\r\n"
        );
        let user = auth::encode(REFERENCE_USER.as_bytes());
        assert_eq!(text(&feed(&mut s, &user, b"")), "334 UGFzc3dvcmQ6\r\n");
        let password = auth::encode(REFERENCE_PASSWORD.as_bytes());
        assert_eq!(run(&mut s, &[&password]), ["235 2.7.0"]);
    }

    #[test]
    fn auth_cram_md5_verifies_the_digest_of_its_own_challenge() {
        for (password, expected) in [(REFERENCE_PASSWORD, "235 2.7.0"), ("wrong", "535 5.7.8")] {
            let mut s = session();
            run(&mut s, &["EHLO c.test"]);
            let challenge = feed(&mut s, "AUTH CRAM-MD5", b"");
            let challenge = text(&challenge)
                .trim_end()
                .strip_prefix("334 ")
                .unwrap()
                .to_string();
            let decoded = String::from_utf8(auth::decode(&challenge).unwrap()).unwrap();
            assert!(
                decoded.starts_with('<') && decoded.ends_with("@mx.example.test>"),
                "{decoded}"
            );
            let answer = auth::cram_md5_answer(REFERENCE_USER, password, &challenge).unwrap();
            assert_eq!(run(&mut s, &[&answer]), [expected]);
        }
    }

    #[rstest]
    #[case::cancel("*", "501 5.7.0")]
    #[case::bad_base64("not base64!", "501 5.5.2")]
    #[case::misplaced_padding("AAA=BBB", "501 5.5.2")]
    fn auth_exchange_refusals(#[case] response: &str, #[case] expected: &str) {
        let mut s = tls_session();
        run(&mut s, &["EHLO c.test", "AUTH LOGIN"]);
        assert_eq!(s.line_limit(), MAX_AUTH_LINE);
        assert_eq!(run(&mut s, &[response]), [expected]);
        // The exchange is over: the next line is a command again.
        assert_eq!(s.line_limit(), crate::server::MAX_COMMAND_LINE);
        assert_eq!(run(&mut s, &["NOOP"]), ["250 2.0.0"]);
    }

    #[test]
    fn an_overlong_auth_line_fails_the_exchange_with_5_5_6() {
        let mut s = tls_session();
        run(&mut s, &["EHLO c.test", "AUTH PLAIN"]);
        assert_eq!(head(&s.line_too_long()), "500 5.5.6");
        assert_eq!(run(&mut s, &["NOOP"]), ["250 2.0.0"]);
    }

    /// RFC 4954 6: 530 5.7.0 until authenticated, except for the exempt commands.
    #[test]
    fn required_auth_gates_mail() {
        let mut s = session_with(ServerConfig {
            auth: crate::server::AuthConfig {
                required: true,
                ..Default::default()
            },
            ..ServerConfig::default()
        });
        let got = run(
            &mut s,
            &[
                "EHLO c.test",
                "MAIL FROM:<a@example.test>",
                "NOOP",
                "VRFY alice",
            ],
        );
        assert_eq!(
            got,
            [
                "250-mx.example.test greets",
                "530 5.7.0",
                "250 2.0.0",
                "530 5.7.0"
            ]
        );
        assert_eq!(head(&feed(&mut s, "BDAT 3", b"abc")), "530 5.7.0");
    }

    #[test]
    fn bdat_chunks_accumulate_byte_exact_and_data_cannot_follow() {
        let mut s = session();
        run(
            &mut s,
            &[
                "EHLO c.test",
                "MAIL FROM:<a@example.test>",
                "RCPT TO:<alice@example.test>",
            ],
        );
        assert_eq!(head(&feed(&mut s, "BDAT 5", b"a\n.\r\r")), "250 2.0.0");
        // RFC 3030 2: DATA after BDAT in the same transaction MUST be 503.
        assert_eq!(run(&mut s, &["DATA"]), ["503 5.5.1"]);
        match s.command(b"BDAT 3 LAST") {
            Action::ReadChunk { size: 3, keep: 3 } => {}
            other => panic!("{other:?}"),
        }
        let (action, message) = s.finish_chunk(b"xyz".to_vec());
        assert_eq!(head(&action), "250 2.0.0");
        let message = message.unwrap();
        assert_eq!(message.data, b"a\n.\r\rxyz");
        assert_eq!(message.rcpts, ["alice@example.test"]);
        // After LAST the transaction is over: another BDAT is 503.
        assert_eq!(head(&feed(&mut s, "BDAT 1", b"q")), "503 5.5.1");
    }

    #[test]
    fn bdat_zero_last_stores_an_empty_message() {
        let mut s = session();
        run(
            &mut s,
            &[
                "EHLO c.test",
                "MAIL FROM:<>",
                "RCPT TO:<alice@example.test>",
            ],
        );
        assert!(matches!(
            s.command(b"BDAT 0 LAST"),
            Action::ReadChunk { size: 0, .. }
        ));
        let (action, message) = s.finish_chunk(Vec::new());
        assert_eq!(head(&action), "250 2.0.0");
        assert_eq!(message.unwrap().data, b"");
    }

    #[test]
    fn bdat_over_the_size_limit_is_discarded_and_ends_the_transaction() {
        let mut s = session_with(ServerConfig {
            max_message_size: 4,
            ..ServerConfig::default()
        });
        run(
            &mut s,
            &[
                "EHLO c.test",
                "MAIL FROM:<a@example.test>",
                "RCPT TO:<alice@example.test>",
            ],
        );
        assert!(matches!(
            s.command(b"BDAT 5"),
            Action::ReadChunk { size: 5, keep: 0 }
        ));
        assert_eq!(head(&s.finish_chunk(Vec::new()).0), "552 5.3.4");
        assert_eq!(
            run(&mut s, &["RCPT TO:<alice@example.test>"]),
            ["503 5.5.1"]
        );
    }

    /// RFC 7504 3: 521 at the greeting; QUIT is answered, anything else
    /// gets 521 and the connection closes.
    #[test]
    fn a_no_mail_server_greets_with_521() {
        let config = ServerConfig {
            no_mail: true,
            ..ServerConfig::default()
        };
        let s = session_with(config.clone());
        assert!(
            s.greeting().starts_with("521 mx.example.test "),
            "{}",
            s.greeting()
        );
        let mut s = session_with(config.clone());
        assert!(
            matches!(s.command(b"EHLO c.test"), Action::Close(t) if t.starts_with("521 5.3.2 "))
        );
        let mut s = session_with(config);
        assert!(matches!(s.command(b"quit"), Action::Close(t) if t.starts_with("221 2.0.0 ")));
    }

    /// RFC 2034 4: every 2xx/4xx/5xx reply line other than the greeting and
    /// the replies to EHLO/HELO starts with an enhanced status of its class.
    #[test]
    fn enhanced_status_codes_on_every_reply_line() {
        let mut s = session();
        let lines = [
            "NOOP",
            "FOO",
            "MAIL FROM:<a@example.test>",
            "EHLO c.test",
            "HELP",
            "HELP BDAT",
            "EXPN staff",
            "VRFY alice",
            "AUTH PLAIN",
            "AUTH GSSAPI",
            "RCPT TO:<a@example.test>",
            "MAIL FROM:<a@example.test> RET=X",
            "MAIL FROM:<a@example.test> SIZE=1",
            "RCPT TO:<alice@example.test> NOTIFY=NEVER",
            "RCPT TO:<x@elsewhere.test>",
            "BDAT 0",
            "DATA",
            "RSET",
            "BDAT 0 LAST",
            "STARTTLS x",
            "QUIT",
        ];
        for line in lines {
            let action = feed(&mut s, line, b"");
            if line.starts_with("EHLO") {
                continue;
            }
            for reply_line in text(&action).lines() {
                let (code, rest) = reply_line.split_at(3);
                if code.starts_with('3') {
                    continue;
                }
                let status = rest[1..].split(' ').next().unwrap();
                let parts: Vec<&str> = status.split('.').collect();
                assert!(
                    parts.len() == 3
                        && parts[0] == &code[..1]
                        && parts[1..].iter().all(|p| !p.is_empty()
                            && p.len() <= 3
                            && p.bytes().all(|b| b.is_ascii_digit())),
                    "{line} -> {reply_line}"
                );
            }
        }
    }

    #[test]
    fn quoted_local_parts_compare_unquoted() {
        // RFC 5321 4.1.2: "all quoted forms MUST be treated as equivalent".
        assert_eq!(unquote_local_part("\"postmaster\""), "postmaster");
        assert_eq!(unquote_local_part("\"a\\\"b\""), "a\"b");
        assert_eq!(unquote_local_part("alice"), "alice");
    }

    #[test]
    fn a_list_is_a_recipient_and_a_quoted_postmaster_is_postmaster() {
        let mut s = Session::new(Arc::new(ServerConfig::default()));
        s.command(b"EHLO c.test");
        s.command(b"MAIL FROM:<a@example.test>");
        for rcpt in [
            "RCPT TO:<staff@example.test>",
            "RCPT TO:<\"postmaster\"@example.test>",
        ] {
            let Action::Reply(r) = s.command(rcpt.as_bytes()) else {
                panic!()
            };
            assert!(r.starts_with("250"), "{rcpt}: {r}");
        }
    }
}
