//! The reference server's session state machine, without I/O: it is fed
//! command lines and finished message data and answers with replies.
//!
//! States follow RFC 5321 3.3 and 4.1.4: not greeted, greeted, in a mail
//! transaction (sender given), with at least one accepted recipient, and
//! receiving data (handled by the I/O loop, which then calls
//! [`Session::finish_data`]).

use std::sync::Arc;

use super::syntax::{PathError, parse_mailbox};
use super::{ServerConfig, StoredMessage};
use crate::wire::{Command, CommandError};

/// What the I/O loop must do after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the reply and read the next command.
    Reply(String),
    /// Send the reply (354) and read message data until `CRLF.CRLF`.
    StartData(String),
    /// Send the reply and close the connection.
    Close(String),
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
}

/// One SMTP session's state.
pub struct Session {
    config: Arc<ServerConfig>,
    greeting: Option<Greeting>,
    client_name: String,
    tx: Option<Transaction>,
    errors: u32,
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
        }
    }

    /// The 220 greeting (RFC 5321 4.2, 3.1).
    pub fn greeting(&self) -> String {
        format!(
            "220 {} ESMTP smtp-harness reference server\r\n",
            self.config.hostname
        )
    }

    /// The reply for a command line that exceeded the 512-octet limit (4.5.3.1.4).
    pub fn line_too_long(&mut self) -> Action {
        self.error("500", "5.5.2", "Line too long")
    }

    /// The reply when the client has been idle past the server timeout (4.5.3.2.7).
    pub fn timed_out(&self) -> String {
        format!(
            "421 4.4.2 {} Timeout, closing connection\r\n",
            self.config.hostname
        )
    }

    /// Handles one command line (without its CRLF).
    pub fn command(&mut self, line: &[u8]) -> Action {
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

    fn dispatch(&mut self, command: Command) -> Action {
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
            Command::Quit => Action::Close(format!(
                "221 2.0.0 {} Service closing transmission channel\r\n",
                self.config.hostname
            )),
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
        lines.extend(self.config.extensions());
        Action::Reply(multiline("250", None, &lines))
    }

    fn mail(&mut self, path: String, params: &[String]) -> Action {
        if self.greeting.is_none() {
            return self.sequence_error("Send EHLO or HELO first");
        }
        if self.tx.is_some() {
            return self.sequence_error("Nested MAIL command");
        }
        if !path.is_empty() {
            match parse_mailbox(&path) {
                Ok(_) => {}
                Err(PathError::Syntax) => {
                    return self.error("501", "5.1.7", "Bad sender address syntax");
                }
                Err(PathError::TooLong) => {
                    return self.error("501", "5.1.7", "Sender address too long");
                }
            }
        }
        let mut seen = Vec::new();
        for param in params {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let key = key.to_ascii_uppercase();
            if seen.contains(&key) {
                return self.error("501", "5.5.4", &format!("Duplicate {key} parameter"));
            }
            seen.push(key.clone());
            if self.greeting != Some(Greeting::Ehlo) {
                return self.error("555", "5.5.4", "MAIL parameters need EHLO");
            }
            match key.as_str() {
                "SIZE" => {
                    let Ok(size) = value.parse::<u64>() else {
                        return self.error("501", "5.5.4", "SIZE needs a number");
                    };
                    if size > self.config.max_message_size as u64 {
                        return self.error(
                            "552",
                            "5.3.4",
                            "Message size exceeds fixed maximum message size",
                        );
                    }
                }
                "BODY"
                    if value.eq_ignore_ascii_case("7BIT")
                        || value.eq_ignore_ascii_case("8BITMIME") => {}
                "BODY" => return self.error("501", "5.5.4", "BODY must be 7BIT or 8BITMIME"),
                _ => return self.error("555", "5.5.4", &format!("{key} parameter not recognized")),
            }
        }
        self.tx = Some(Transaction {
            from: path,
            ..Transaction::default()
        });
        self.ok("250", "2.1.0", "Sender OK")
    }

    fn rcpt(&mut self, path: String, params: &[String]) -> Action {
        if self.tx.is_none() && !self.config.quirks.rcpt_without_mail {
            return self.sequence_error("Need MAIL before RCPT");
        }
        let tx = self.tx.get_or_insert_with(Transaction::default);
        tx.rcpt_attempts += 1;
        if tx.rcpts.len() >= self.config.max_recipients {
            return self.error("452", "4.5.3", "Too many recipients");
        }
        if let Some(param) = params.first() {
            let key = param
                .split('=')
                .next()
                .unwrap_or(param)
                .to_ascii_uppercase();
            return self.error("555", "5.5.4", &format!("{key} parameter not recognized"));
        }
        // "Postmaster" with no domain MUST be accepted (4.5.1).
        if path.eq_ignore_ascii_case("postmaster") {
            return self.accept_rcpt(path);
        }
        let mailbox = match parse_mailbox(&path) {
            Ok(m) => m,
            Err(PathError::Syntax) => {
                return self.error("501", "5.1.3", "Bad recipient address syntax");
            }
            Err(PathError::TooLong) => {
                return self.error("501", "5.1.3", "Recipient address too long");
            }
        };
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
        let message = StoredMessage {
            client: self.client_name.clone(),
            from: tx.from,
            rcpts: tx.rcpts,
            data: data.body,
        };
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
