//! Client commands (RFC 5321 section 4.1): one variant per verb, a `Display`
//! that is the exact wire line without CRLF, and a strict parser used by the
//! reference server.

use std::fmt;

/// One SMTP command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain` (4.1.1.1); the argument may be empty when a client omits it.
    Ehlo(String),
    /// `HELO domain` (4.1.1.1).
    Helo(String),
    /// `MAIL FROM:<path> [params]` (4.1.1.2).
    Mail {
        /// The reverse-path without angle brackets; empty for the null sender.
        path: String,
        /// ESMTP parameters as written, e.g. `SIZE=100`.
        params: Vec<String>,
    },
    /// `RCPT TO:<path> [params]` (4.1.1.3).
    Rcpt {
        /// The forward-path without angle brackets.
        path: String,
        /// ESMTP parameters as written.
        params: Vec<String>,
    },
    /// `DATA` (4.1.1.4).
    Data,
    /// `RSET` (4.1.1.5).
    Rset,
    /// `VRFY string` (4.1.1.6).
    Vrfy(String),
    /// `EXPN string` (4.1.1.7).
    Expn(String),
    /// `HELP [string]` (4.1.1.8).
    Help(Option<String>),
    /// `NOOP [string]` (4.1.1.9).
    Noop(Option<String>),
    /// `QUIT` (4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207 4), no parameters.
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 4).
    Auth {
        /// The SASL mechanism name as written.
        mechanism: String,
        /// The initial response (BASE64 or `=`), if given.
        initial: Option<String>,
    },
    /// `BDAT chunk-size [LAST]` (RFC 3030 2); the chunk follows the CRLF.
    Bdat {
        /// Octets of data that follow the command line.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params =
            |params: &[String]| -> String { params.iter().map(|p| format!(" {p}")).collect() };
        match self {
            Command::Ehlo(d) if d.is_empty() => f.write_str("EHLO"),
            Command::Ehlo(d) => write!(f, "EHLO {d}"),
            Command::Helo(d) if d.is_empty() => f.write_str("HELO"),
            Command::Helo(d) => write!(f, "HELO {d}"),
            Command::Mail { path, params: p } => write!(f, "MAIL FROM:<{path}>{}", params(p)),
            Command::Rcpt { path, params: p } => write!(f, "RCPT TO:<{path}>{}", params(p)),
            Command::Data => f.write_str("DATA"),
            Command::Rset => f.write_str("RSET"),
            Command::Vrfy(s) => write!(f, "VRFY {s}"),
            Command::Expn(s) => write!(f, "EXPN {s}"),
            Command::Help(None) => f.write_str("HELP"),
            Command::Help(Some(s)) => write!(f, "HELP {s}"),
            Command::Noop(None) => f.write_str("NOOP"),
            Command::Noop(Some(s)) => write!(f, "NOOP {s}"),
            Command::Quit => f.write_str("QUIT"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Auth {
                mechanism,
                initial: None,
            } => write!(f, "AUTH {mechanism}"),
            Command::Auth {
                mechanism,
                initial: Some(i),
            } => write!(f, "AUTH {mechanism} {i}"),
            Command::Bdat { size, last: false } => write!(f, "BDAT {size}"),
            Command::Bdat { size, last: true } => write!(f, "BDAT {size} LAST"),
        }
    }
}

impl Command {
    /// The command as sent: the line followed by CRLF (RFC 5321 2.3.8).
    pub fn to_wire(&self) -> String {
        format!("{self}\r\n")
    }

    /// The verb as written on the wire, e.g. `"MAIL"`.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Ehlo(_) => "EHLO",
            Command::Helo(_) => "HELO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Rset => "RSET",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::Noop(_) => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Bdat { .. } => "BDAT",
        }
    }

    /// Parses one command line (without CRLF) strictly by the grammar of
    /// RFC 5321 4.1.1 and 4.1.2.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let (verb, rest) = match line.find(' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        let verb_upper = verb.to_ascii_uppercase();
        let arg = rest.unwrap_or("");
        let no_arg = |cmd: Command| {
            if rest.is_some() {
                Err(CommandError::Syntax(cmd.verb()))
            } else {
                Ok(cmd)
            }
        };
        match verb_upper.as_str() {
            "EHLO" => Ok(Command::Ehlo(arg.to_string())),
            "HELO" => Ok(Command::Helo(arg.to_string())),
            "MAIL" => {
                let (path, params) =
                    parse_path_arg(arg, "FROM:").ok_or(CommandError::Syntax("MAIL"))?;
                Ok(Command::Mail { path, params })
            }
            "RCPT" => {
                let (path, params) =
                    parse_path_arg(arg, "TO:").ok_or(CommandError::Syntax("RCPT"))?;
                if path.is_empty() {
                    return Err(CommandError::Syntax("RCPT"));
                }
                Ok(Command::Rcpt { path, params })
            }
            "DATA" => no_arg(Command::Data),
            "RSET" => no_arg(Command::Rset),
            "QUIT" => no_arg(Command::Quit),
            "VRFY" if !arg.is_empty() => Ok(Command::Vrfy(arg.to_string())),
            "VRFY" => Err(CommandError::Syntax("VRFY")),
            "EXPN" if !arg.is_empty() => Ok(Command::Expn(arg.to_string())),
            "EXPN" => Err(CommandError::Syntax("EXPN")),
            "HELP" => Ok(Command::Help(
                rest.map(str::to_string).filter(|s| !s.is_empty()),
            )),
            "NOOP" => Ok(Command::Noop(rest.map(str::to_string))),
            "STARTTLS" => no_arg(Command::StartTls),
            "AUTH" => {
                let mut words = arg.split(' ');
                match (words.next(), words.next(), words.next()) {
                    (Some(mechanism), initial, None)
                        if !mechanism.is_empty() && initial.is_none_or(|i| !i.is_empty()) =>
                    {
                        Ok(Command::Auth {
                            mechanism: mechanism.to_string(),
                            initial: initial.map(str::to_string),
                        })
                    }
                    _ => Err(CommandError::Syntax("AUTH")),
                }
            }
            "BDAT" => {
                let mut words = arg.split(' ');
                let size = words
                    .next()
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or(CommandError::Syntax("BDAT"))?;
                let last = match words.next() {
                    None => false,
                    Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                    Some(_) => return Err(CommandError::Syntax("BDAT")),
                };
                if words.next().is_some() {
                    return Err(CommandError::Syntax("BDAT"));
                }
                Ok(Command::Bdat { size, last })
            }
            "TURN" | "SEND" | "SOML" | "SAML" => Err(CommandError::NotImplemented(verb_upper)),
            _ => Err(CommandError::Unrecognized(verb.to_string())),
        }
    }
}

/// Splits `FROM:<path> params` / `TO:<path> params`. Spaces are not permitted
/// on either side of the colon (RFC 5321 3.3).
fn parse_path_arg(arg: &str, keyword: &str) -> Option<(String, Vec<String>)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = &arg[keyword.len()..];
    let rest = rest.strip_prefix('<')?;
    let close = rest.find('>')?;
    let path = rest[..close].to_string();
    let after = &rest[close + 1..];
    if !after.is_empty() && !after.starts_with(' ') {
        return None;
    }
    let params = after
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    Some((path, params))
}

/// Why a command line could not be parsed; each maps to a reply code of
/// RFC 5321 4.2.4 (500, 501, 502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The verb is not a command this grammar knows (reply 500).
    #[error("command unrecognized: {0}")]
    Unrecognized(String),
    /// The verb is known but its arguments break the grammar (reply 501).
    #[error("syntax error in {0} arguments")]
    Syntax(&'static str),
    /// The verb is a known, obsolete command that is not implemented (reply 502).
    #[error("command not implemented: {0}")]
    NotImplemented(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("EHLO client.example.test", Command::Ehlo("client.example.test".into()))]
    #[case("ehlo [127.0.0.1]", Command::Ehlo("[127.0.0.1]".into()))]
    #[case("EHLO", Command::Ehlo(String::new()))]
    #[case("MAIL FROM:<a@b.test>", Command::Mail { path: "a@b.test".into(), params: vec![] })]
    #[case("mail from:<> SIZE=10 BODY=8BITMIME", Command::Mail { path: String::new(), params: vec!["SIZE=10".into(), "BODY=8BITMIME".into()] })]
    #[case("RCPT TO:<Postmaster>", Command::Rcpt { path: "Postmaster".into(), params: vec![] })]
    #[case("DATA", Command::Data)]
    #[case("rset", Command::Rset)]
    #[case("VRFY alice", Command::Vrfy("alice".into()))]
    #[case("HELP", Command::Help(None))]
    #[case("HELP MAIL", Command::Help(Some("MAIL".into())))]
    #[case("NOOP", Command::Noop(None))]
    #[case("NOOP anything at all", Command::Noop(Some("anything at all".into())))]
    #[case("QUIT", Command::Quit)]
    #[case("starttls", Command::StartTls)]
    #[case("AUTH PLAIN", Command::Auth { mechanism: "PLAIN".into(), initial: None })]
    #[case("AUTH plain dGVzdAB0ZXN0ADEyMzQ=", Command::Auth { mechanism: "plain".into(), initial: Some("dGVzdAB0ZXN0ADEyMzQ=".into()) })]
    #[case("AUTH EXTERNAL =", Command::Auth { mechanism: "EXTERNAL".into(), initial: Some("=".into()) })]
    #[case("BDAT 86", Command::Bdat { size: 86, last: false })]
    #[case("bdat 0 last", Command::Bdat { size: 0, last: true })]
    fn parses(#[case] line: &str, #[case] expected: Command) {
        assert_eq!(Command::parse(line), Ok(expected));
    }

    #[rstest]
    #[case::space_after_colon("MAIL FROM: <a@b.test>", CommandError::Syntax("MAIL"))]
    #[case::space_before_colon("MAIL FROM :<a@b.test>", CommandError::Syntax("MAIL"))]
    #[case::no_brackets("MAIL FROM:a@b.test", CommandError::Syntax("MAIL"))]
    #[case::unclosed("RCPT TO:<a@b.test", CommandError::Syntax("RCPT"))]
    #[case::empty_rcpt("RCPT TO:<>", CommandError::Syntax("RCPT"))]
    #[case::junk_after_path("MAIL FROM:<a@b.test>x", CommandError::Syntax("MAIL"))]
    #[case::data_arg("DATA now", CommandError::Syntax("DATA"))]
    #[case::quit_arg("QUIT now", CommandError::Syntax("QUIT"))]
    #[case::rset_arg("RSET x", CommandError::Syntax("RSET"))]
    #[case::vrfy_no_arg("VRFY", CommandError::Syntax("VRFY"))]
    #[case::expn_no_arg("EXPN", CommandError::Syntax("EXPN"))]
    #[case::unknown("FOO", CommandError::Unrecognized("FOO".into()))]
    #[case::empty("", CommandError::Unrecognized(String::new()))]
    #[case::obsolete("TURN", CommandError::NotImplemented("TURN".into()))]
    #[case::starttls_arg("STARTTLS now", CommandError::Syntax("STARTTLS"))]
    #[case::auth_no_mech("AUTH", CommandError::Syntax("AUTH"))]
    #[case::auth_three_words("AUTH PLAIN a b", CommandError::Syntax("AUTH"))]
    #[case::auth_double_space("AUTH  PLAIN", CommandError::Syntax("AUTH"))]
    #[case::bdat_no_size("BDAT", CommandError::Syntax("BDAT"))]
    #[case::bdat_signed("BDAT +5", CommandError::Syntax("BDAT"))]
    #[case::bdat_huge("BDAT 99999999999999999999999", CommandError::Syntax("BDAT"))]
    #[case::bdat_not_last("BDAT 5 FINAL", CommandError::Syntax("BDAT"))]
    #[case::bdat_extra("BDAT 5 LAST x", CommandError::Syntax("BDAT"))]
    fn rejects(#[case] line: &str, #[case] error: CommandError) {
        assert_eq!(Command::parse(line), Err(error));
    }

    #[rstest]
    #[case(Command::Mail { path: String::new(), params: vec![] }, "MAIL FROM:<>\r\n")]
    #[case(Command::Rcpt { path: "a@b".into(), params: vec!["NOTIFY=NEVER".into()] }, "RCPT TO:<a@b> NOTIFY=NEVER\r\n")]
    #[case(Command::Ehlo("c.test".into()), "EHLO c.test\r\n")]
    #[case(Command::Bdat { size: 12, last: true }, "BDAT 12 LAST\r\n")]
    #[case(Command::Auth { mechanism: "LOGIN".into(), initial: None }, "AUTH LOGIN\r\n")]
    fn formats_with_crlf(#[case] command: Command, #[case] wire: &str) {
        assert_eq!(command.to_wire(), wire);
        assert_eq!(Command::parse(wire.trim_end()), Ok(command));
    }
}
