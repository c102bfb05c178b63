//! The reply-code catalogue: every reply code of RFC 5321 (4.2.2, 4.2.3),
//! 521 and 556 of RFC 7504, the AUTH codes of RFC 4954 (6), the STARTTLS
//! replies of RFC 3207 (4), and the enhanced status codes of RFC 3463 (3)
//! with those added by RFC 4954 (6), RFC 6531 (3.5, 4) and RFC 7504 (6).
//!
//! Each entry says what the code means (from the RFC text, cited), when you
//! see it, and what to do about it. [`explain`] answers for any code, known
//! or not: an unknown code is explained by its digits, as RFC 5321 4.2.1
//! tells a client to interpret an unrecognized code by its first digit.

use std::fmt;

/// Where a reply falls by its first digit (RFC 5321 4.2.1), or an enhanced
/// status code by its class (RFC 3463 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// 2yz: the requested action has been successfully completed.
    PositiveCompletion,
    /// 3yz: accepted, but held in abeyance pending further information.
    PositiveIntermediate,
    /// 4yz: not accepted, but the condition is temporary.
    TransientNegative,
    /// 5yz: not accepted; do not repeat the exact request.
    PermanentNegative,
}

impl Severity {
    /// The severity of a reply code, from its first digit.
    pub fn of_code(code: u16) -> Option<Severity> {
        match code / 100 {
            2 => Some(Severity::PositiveCompletion),
            3 => Some(Severity::PositiveIntermediate),
            4 => Some(Severity::TransientNegative),
            5 => Some(Severity::PermanentNegative),
            _ => None,
        }
    }

    /// The severity of an enhanced status class: 2 success, 4 persistent
    /// transient failure, 5 permanent failure (RFC 3463 2).
    pub fn of_status_class(class: u8) -> Option<Severity> {
        match class {
            2 => Some(Severity::PositiveCompletion),
            4 => Some(Severity::TransientNegative),
            5 => Some(Severity::PermanentNegative),
            _ => None,
        }
    }

    /// The class as RFC 5321 4.2.1 names it, e.g. `5yz permanent negative completion`.
    pub fn class_name(self) -> &'static str {
        match self {
            Severity::PositiveCompletion => "2yz positive completion",
            Severity::PositiveIntermediate => "3yz positive intermediate",
            Severity::TransientNegative => "4yz transient negative completion",
            Severity::PermanentNegative => "5yz permanent negative completion",
        }
    }

    /// Whether the reply is positive (2yz, 3yz) or negative (4yz, 5yz).
    pub fn is_positive(self) -> bool {
        matches!(
            self,
            Severity::PositiveCompletion | Severity::PositiveIntermediate
        )
    }

    /// `positive` or `negative`.
    pub fn polarity(self) -> &'static str {
        if self.is_positive() {
            "positive"
        } else {
            "negative"
        }
    }

    /// `completed`, `intermediate`, `transient` or `permanent`.
    pub fn permanence(self) -> &'static str {
        match self {
            Severity::PositiveCompletion => "completed",
            Severity::PositiveIntermediate => "intermediate",
            Severity::TransientNegative => "transient",
            Severity::PermanentNegative => "permanent",
        }
    }

    /// What a client does on any reply of this class (RFC 5321 4.2.1).
    pub fn client_action(self) -> &'static str {
        match self {
            Severity::PositiveCompletion => {
                "Proceed: the action is complete and a new request may be initiated."
            }
            Severity::PositiveIntermediate => {
                "Send the information the server is waiting for (the message data after 354, \
                 the next SASL response after 334)."
            }
            Severity::TransientNegative => {
                "Try again later: the same command may succeed if repeated unchanged; return \
                 to the beginning of the command sequence (the client SHOULD try again)."
            }
            Severity::PermanentNegative => {
                "Do not repeat the exact request in the same sequence (SHOULD NOT): change \
                 the command, the address or the message first."
            }
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class_name())
    }
}

/// The category a reply code's second digit gives (RFC 5321 4.2.1).
pub fn category(code: u16) -> &'static str {
    match code / 10 % 10 {
        0 => "x0z syntax",
        1 => "x1z information",
        2 => "x2z connections",
        3 | 4 => "x3z/x4z unspecified",
        5 => "x5z mail system",
        _ => "outside RFC 5321 (second digit 6-9)",
    }
}

/// One reply code in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyCode {
    /// The three-digit code.
    pub code: u16,
    /// The text the RFC gives with it.
    pub text: &'static str,
    /// What it means.
    pub meaning: &'static str,
    /// When you see it: the typical cause.
    pub cause: &'static str,
    /// How to fix it: what the client (or the server's operator) should do.
    pub action: &'static str,
    /// Where it is defined, e.g. `RFC 5321 4.2.3`.
    pub sources: &'static [&'static str],
}

impl ReplyCode {
    /// The severity from the first digit.
    pub fn severity(&self) -> Severity {
        Severity::of_code(self.code).expect("catalogue codes are 2xx-5xx")
    }
}

/// One enhanced status code `X.subject.detail` in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCode {
    /// The subject sub-code.
    pub subject: u16,
    /// The detail sub-code.
    pub detail: u16,
    /// The title the RFC gives it.
    pub title: &'static str,
    /// What it means, from the RFC's description.
    pub meaning: &'static str,
    /// When you see it: the typical cause.
    pub cause: &'static str,
    /// How to fix it.
    pub action: &'static str,
    /// Where it is defined.
    pub sources: &'static [&'static str],
}

/// A subject sub-code `X.subject.XXX` (RFC 3463 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    /// The subject number.
    pub subject: u16,
    /// Its name.
    pub title: &'static str,
    /// What RFC 3463 2 says of it.
    pub meaning: &'static str,
}

/// Every reply code the catalogue knows, in numeric order.
pub static REPLY_CODES: &[ReplyCode] = &[
    ReplyCode {
        code: 211,
        text: "System status, or system help reply",
        meaning: "A status or help reply to a request for information.",
        cause: "A reply to HELP (or a site-specific status command).",
        action: "Nothing to fix: read the text; it is meant for people.",
        sources: &["RFC 5321 4.2.2", "RFC 5321 4.2.3", "RFC 5321 4.3.2"],
    },
    ReplyCode {
        code: 214,
        text: "Help message",
        meaning: "Information on how to use the receiver or the meaning of a particular \
                  non-standard command; useful only to the human user.",
        cause: "A reply to HELP or HELP <command>.",
        action: "Nothing to fix: the text is for a person; programs must not parse it.",
        sources: &["RFC 5321 4.2.2", "RFC 5321 4.2.3", "RFC 5321 4.1.1.8"],
    },
    ReplyCode {
        code: 220,
        text: "<domain> Service ready",
        meaning: "The server is ready: the greeting at connection opening, with the server's \
                  name as the first word. After STARTTLS (RFC 3207 4) it means \"Ready to start \
                  TLS\".",
        cause: "The connection was opened (greeting), or STARTTLS was accepted.",
        action: "Nothing to fix: send EHLO (after STARTTLS, start the TLS handshake at once \
                 and send EHLO again over TLS).",
        sources: &[
            "RFC 5321 4.2.3",
            "RFC 5321 3.1",
            "RFC 5321 4.3.1",
            "RFC 3207 4",
        ],
    },
    ReplyCode {
        code: 221,
        text: "<domain> Service closing transmission channel",
        meaning: "The server accepted QUIT and closes the connection.",
        cause: "A reply to QUIT.",
        action: "Nothing to fix: the session is over; close your side.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 3.8", "RFC 5321 4.1.1.10"],
    },
    ReplyCode {
        code: 235,
        text: "Authentication Succeeded",
        meaning: "The AUTH exchange succeeded; the session is now authenticated (2.7.0).",
        cause: "A reply to AUTH, or to the last SASL response of the exchange.",
        action: "Nothing to fix: go on with MAIL. Do not send AUTH again in this session \
                 (a second AUTH gets 503).",
        sources: &["RFC 4954 6", "RFC 4954 4"],
    },
    ReplyCode {
        code: 250,
        text: "Requested mail action okay, completed",
        meaning: "The command succeeded. After the end of DATA it means the server has \
                  accepted responsibility for delivering the message (4.2.5).",
        cause: "The usual reply to EHLO, HELO, MAIL, RCPT, RSET, NOOP, VRFY of a verified \
                address, and the end of message data.",
        action: "Nothing to fix: go on with the next command.",
        sources: &["RFC 5321 4.2.2", "RFC 5321 4.2.3", "RFC 5321 4.2.5"],
    },
    ReplyCode {
        code: 251,
        text: "User not local; will forward to <forward-path>",
        meaning: "The recipient is accepted and the server will forward the message; the \
                  text may give the new address.",
        cause: "RCPT or VRFY for an address the server knows has moved.",
        action: "Nothing to fix: the message will be forwarded. The client may update its \
                 address book, but the server must not assume it does.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 3.4"],
    },
    ReplyCode {
        code: 252,
        text: "Cannot VRFY user, but will accept message and attempt delivery",
        meaning: "A 2yz positive completion: the server will not confirm the user, but the \
                  address looks valid and it will still try to deliver.",
        cause: "VRFY (or EXPN) on a server that does not verify addresses in real time, or \
                that will not disclose them for security reasons.",
        action: "Nothing needs fixing: send the message with RCPT; a 252 is not a refusal.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 3.5.3", "RFC 5321 7.3"],
    },
    ReplyCode {
        code: 334,
        text: "<base64 server challenge>",
        meaning: "A SASL server challenge during AUTH: the text is the BASE64-encoded \
                  challenge, or empty (\"334 \") when the mechanism has no data to send.",
        cause: "AUTH was accepted and the mechanism needs a (further) client response.",
        action: "Send one line: the BASE64-encoded response, or \"*\" to cancel (the server \
                 then answers 501).",
        sources: &["RFC 4954 4"],
    },
    ReplyCode {
        code: 354,
        text: "Start mail input; end with <CRLF>.<CRLF>",
        meaning: "A 3yz positive intermediate reply: DATA was accepted and the server waits \
                  for the message.",
        cause: "A reply to DATA after MAIL and at least one accepted RCPT.",
        action: "Send the message, dot-stuffed, then the line \".\"; the final reply comes \
                 after it.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.1.1.4", "RFC 5321 4.5.2"],
    },
    ReplyCode {
        code: 421,
        text: "<domain> Service not available, closing transmission channel",
        meaning: "The server is shutting down or must close the session; it may answer any \
                  command with 421 and then closes the connection.",
        cause: "Server overload, shutdown, an idle timeout, or too many errors in one session.",
        action: "Treat the transaction as failed temporarily and retry later on a new \
                 connection.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 3.8", "RFC 5321 4.3.2"],
    },
    ReplyCode {
        code: 432,
        text: "A password transition is needed",
        meaning: "The user needs to transition to the selected authentication mechanism \
                  (4.7.12), typically by authenticating once with PLAIN.",
        cause: "AUTH with a mechanism the server has no credentials for yet for this user.",
        action: "Authenticate once with PLAIN (over TLS); the chosen mechanism should then \
                 work in later sessions.",
        sources: &["RFC 4954 6"],
    },
    ReplyCode {
        code: 450,
        text: "Requested mail action not taken: mailbox unavailable",
        meaning: "A transient failure about the mailbox, e.g. mailbox busy or temporarily \
                  blocked for policy reasons.",
        cause: "RCPT (or the end of DATA) while the mailbox is locked, or greylisting.",
        action: "Retry later, unchanged.",
        sources: &["RFC 5321 4.2.2", "RFC 5321 4.2.3"],
    },
    ReplyCode {
        code: 451,
        text: "Requested action aborted: local error in processing",
        meaning: "A transient failure in the server's processing.",
        cause: "A server-side problem (storage, a lookup, a filter) during MAIL, RCPT or DATA. \
                A client also acts as if it got 451 when the connection drops (3.8).",
        action: "Retry later, unchanged; the server's operator should check its logs.",
        sources: &["RFC 5321 4.2.2", "RFC 5321 4.2.3", "RFC 5321 3.8"],
    },
    ReplyCode {
        code: 452,
        text: "Requested action not taken: insufficient system storage",
        meaning: "A transient failure: the server has no room now. Also the correct reply \
                  to \"too many recipients\" (4.5.3.1.10), and for SIZE when the message is \
                  too big for the space available now (RFC 1870).",
        cause: "Full queue or disk, more RCPTs than the server takes per transaction, or \
                MAIL with a SIZE that does not fit right now.",
        action: "Retry later. After \"too many recipients\", send the message to the accepted \
                 ones and the remaining recipients in a new transaction.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.5.3.1.10", "RFC 1870 6"],
    },
    ReplyCode {
        code: 454,
        text: "Temporary authentication failure / TLS not available due to temporary reason",
        meaning: "A transient failure of AUTH (4.7.0, RFC 4954) or of STARTTLS (RFC 3207).",
        cause: "A server-side failure in the authentication back end, or TLS temporarily \
                unavailable.",
        action: "Do not prompt for another password; retry later. After a STARTTLS 454, \
                 decide by policy whether to go on without TLS, wait, or give up.",
        sources: &["RFC 4954 6", "RFC 3207 4"],
    },
    ReplyCode {
        code: 455,
        text: "Server unable to accommodate parameters",
        meaning: "A transient failure: the server cannot handle one or more MAIL FROM or \
                  RCPT TO parameters right now.",
        cause: "MAIL or RCPT with an ESMTP parameter the server temporarily cannot honour.",
        action: "Retry later, or retry without the parameter if it is optional.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.1.1.11"],
    },
    ReplyCode {
        code: 500,
        text: "Syntax error, command unrecognized",
        meaning: "The command was not recognized, or the command line was too long. With \
                  AUTH it also means the BASE64 response was too long (5.5.6, RFC 4954).",
        cause: "A typo or unknown verb, a command line over 512 octets (4.5.3.1.4), or an \
                over-long SASL response.",
        action: "Send a command the server knows (see EHLO), keep command lines within 512 \
                 octets. A server must not answer the required commands with 500.",
        sources: &[
            "RFC 5321 4.2.3",
            "RFC 5321 4.3.2",
            "RFC 5321 4.2.4",
            "RFC 4954 6",
        ],
    },
    ReplyCode {
        code: 501,
        text: "Syntax error in parameters or arguments",
        meaning: "The command is known but its arguments are wrong.",
        cause: "A malformed address (MAIL FROM:<a b>), a missing EHLO domain, arguments to \
                DATA, RSET or QUIT, a cancelled (\"*\") or undecodable AUTH response, or \
                STARTTLS with parameters.",
        action: "Fix the argument syntax (RFC 5321 4.1.2) and send the command again; the \
                 server stays in the same state.",
        sources: &[
            "RFC 5321 4.2.3",
            "RFC 5321 4.3.2",
            "RFC 5321 4.1.4",
            "RFC 4954 4",
            "RFC 3207 4",
        ],
    },
    ReplyCode {
        code: 502,
        text: "Command not implemented",
        meaning: "The command is recognized but not implemented.",
        cause: "An optional command the server does not offer, e.g. EXPN or HELP, or VRFY \
                turned off.",
        action: "Do without the command. A server must not advertise in EHLO an extension \
                 it answers with 502.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.2.4"],
    },
    ReplyCode {
        code: 503,
        text: "Bad sequence of commands",
        meaning: "A 5yz permanent error: a command came out of order, so a step of EHLO, \
                  MAIL, RCPT, DATA was skipped or repeated.",
        cause: "MAIL before EHLO, RCPT before MAIL, DATA with no accepted RCPT, a nested \
                MAIL, a second AUTH after success.",
        action: "Follow the sequence EHLO, MAIL, RCPT, DATA; send RSET to start the \
                 transaction over. The server stays in the same state.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.1.4", "RFC 5321 3.3"],
    },
    ReplyCode {
        code: 504,
        text: "Command parameter not implemented",
        meaning: "The command is implemented but a parameter it was given is not.",
        cause: "An unsupported AUTH mechanism, HELP with an unknown topic, or another \
                unsupported argument.",
        action: "Use a parameter the server supports (for AUTH, one of the mechanisms \
                 listed in EHLO).",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.2.1", "RFC 4954 4"],
    },
    ReplyCode {
        code: 521,
        text: "Host does not accept mail",
        meaning: "Given instead of the 220 greeting: this host never accepts mail (5.3.2).",
        cause: "Connecting to a dummy server that exists only to say the host takes no mail.",
        action: "Do not retry here: send QUIT and deliver through the domain's real mail \
                 exchanger, or return the message.",
        sources: &["RFC 7504 3", "RFC 7504 5.1"],
    },
    ReplyCode {
        code: 530,
        text: "Authentication required / Must issue a STARTTLS command first",
        meaning: "Server policy requires authentication (5.7.0, RFC 4954) or TLS (RFC 3207) \
                  before this command.",
        cause: "MAIL, RCPT or DATA before AUTH on a submission server, or any command but \
                NOOP, EHLO, STARTTLS, QUIT before STARTTLS on a server that requires TLS.",
        action: "Issue STARTTLS and/or AUTH first, then repeat the command.",
        sources: &["RFC 4954 6", "RFC 3207 4"],
    },
    ReplyCode {
        code: 534,
        text: "Authentication mechanism is too weak",
        meaning: "The selected SASL mechanism is weaker than server policy permits for that \
                  user (5.7.9).",
        cause: "AUTH with, e.g., PLAIN or LOGIN where the policy requires a stronger one.",
        action: "Retry AUTH with a stronger mechanism from the EHLO list.",
        sources: &["RFC 4954 6"],
    },
    ReplyCode {
        code: 535,
        text: "Authentication credentials invalid",
        meaning: "Authentication failed because of invalid or insufficient credentials \
                  (5.7.8).",
        cause: "A wrong user name or password, or an authorization identity the user may \
                not use.",
        action: "Ask the user for new credentials; do not retry the same ones.",
        sources: &["RFC 4954 6"],
    },
    ReplyCode {
        code: 538,
        text: "Encryption required for requested authentication mechanism",
        meaning: "The mechanism may only be used over an encrypted connection (5.7.11). \
                  Historical: servers should not advertise such mechanisms without TLS.",
        cause: "AUTH PLAIN or LOGIN on a connection without TLS.",
        action: "Issue STARTTLS first, then AUTH again.",
        sources: &["RFC 4954 6"],
    },
    ReplyCode {
        code: 550,
        text: "Requested action not taken: mailbox unavailable",
        meaning: "A permanent failure about the mailbox: not found, no access, or the \
                  command was rejected for policy reasons.",
        cause: "RCPT to an unknown user, relaying refused, a policy rejection; MAIL with a \
                non-ASCII address the server cannot take (RFC 6531 3.5).",
        action: "Check the address; do not retry it unchanged. For relaying, send through a \
                 server that accepts mail for that domain (or authenticate).",
        sources: &[
            "RFC 5321 4.2.2",
            "RFC 5321 4.2.3",
            "RFC 5321 3.6.2",
            "RFC 6531 3.5",
        ],
    },
    ReplyCode {
        code: 551,
        text: "User not local; please try <forward-path>",
        meaning: "The recipient is not here; the text may give an address to try instead.",
        cause: "RCPT or VRFY for an address that has moved, on a server that does not \
                forward.",
        action: "Resend to the address given (if any) after checking it with the user.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 3.4"],
    },
    ReplyCode {
        code: 552,
        text: "Requested mail action aborted: exceeded storage allocation",
        meaning: "A permanent failure: the message exceeds a storage or size limit (RFC 1870: \
                  message size exceeds fixed maximum message size).",
        cause: "MAIL with SIZE over the advertised limit, or too much message data. Old \
                servers also use it for \"too many recipients\", which the client should \
                treat as 452 (4.5.3.1.10).",
        action: "Send a smaller message (check the SIZE value in EHLO); after a 552 to RCPT, \
                 treat it as 452.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.5.3.1.10", "RFC 1870 6"],
    },
    ReplyCode {
        code: 553,
        text: "Requested action not taken: mailbox name not allowed",
        meaning: "A permanent failure: the mailbox name is not allowed, e.g. its syntax is \
                  incorrect.",
        cause: "MAIL or RCPT with an address the server refuses by form; RCPT with a \
                non-ASCII address the server cannot take (RFC 6531 3.5).",
        action: "Fix the address.",
        sources: &["RFC 5321 4.2.3", "RFC 6531 3.5"],
    },
    ReplyCode {
        code: 554,
        text: "Transaction failed (or, at connection opening, \"No SMTP service here\")",
        meaning: "A permanent failure of the transaction; as the greeting, the server will \
                  accept no mail from this client.",
        cause: "DATA when every RCPT was rejected (\"no valid recipients\"), a message \
                rejected as a whole, or a connection refused by policy.",
        action: "Do not retry unchanged. At connection opening, send QUIT; after DATA, check \
                 the recipients or the message.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 3.1", "RFC 5321 3.3"],
    },
    ReplyCode {
        code: 555,
        text: "MAIL FROM/RCPT TO parameters not recognized or not implemented",
        meaning: "A permanent failure: an ESMTP parameter of MAIL or RCPT is unknown or \
                  unsupported.",
        cause: "MAIL/RCPT with a parameter (SIZE=, BODY=, SMTPUTF8, ...) the server did not \
                advertise.",
        action: "Send only parameters of extensions listed in the EHLO reply.",
        sources: &["RFC 5321 4.2.3", "RFC 5321 4.1.1.11"],
    },
    ReplyCode {
        code: 556,
        text: "Domain does not accept mail",
        meaning: "A permanent failure: the recipient's domain accepts no mail, e.g. it \
                  publishes a null MX (5.1.10).",
        cause: "RCPT to a domain an intermediate system knows takes no mail.",
        action: "Do not retry: the address cannot receive mail; tell the sender.",
        sources: &["RFC 7504 4", "RFC 7504 5.1"],
    },
];

/// The subjects of RFC 3463 2.
pub static SUBJECTS: &[Subject] = &[
    Subject {
        subject: 0,
        title: "Other or undefined status",
        meaning: "There is no additional subject information available.",
    },
    Subject {
        subject: 1,
        title: "Addressing status",
        meaning: "The originator or destination address: its syntax or validity. These errors \
                  can generally be corrected by the sender and retried.",
    },
    Subject {
        subject: 2,
        title: "Mailbox status",
        meaning: "Something about the mailbox; under the general control of the recipient.",
    },
    Subject {
        subject: 3,
        title: "Mail system status",
        meaning: "Something about the destination system; under the control of its \
                  administrator.",
    },
    Subject {
        subject: 4,
        title: "Network and routing status",
        meaning: "The delivery system itself, including directory and routing services.",
    },
    Subject {
        subject: 5,
        title: "Mail delivery protocol status",
        meaning: "The message delivery protocol: implementation errors or an unreliable \
                  connection.",
    },
    Subject {
        subject: 6,
        title: "Message content or media status",
        meaning: "The content of the message: translation, transcoding or unsupported media.",
    },
    Subject {
        subject: 7,
        title: "Security or policy status",
        meaning: "Policies such as per-recipient or per-host filtering, and cryptographic \
                  operations.",
    },
];

macro_rules! status {
    ($s:literal, $d:literal, $title:literal, $meaning:literal, $cause:literal, $action:literal, [$($src:literal),+]) => {
        StatusCode {
            subject: $s,
            detail: $d,
            title: $title,
            meaning: $meaning,
            cause: $cause,
            action: $action,
            sources: &[$($src),+],
        }
    };
}

/// Every enhanced status code the catalogue knows, by subject and detail.
pub static STATUS_CODES: &[StatusCode] = &[
    status!(
        0,
        0,
        "Other undefined status",
        "Used for all conditions for which only the class is known.",
        "Any reply whose cause the server does not classify further, e.g. 250 2.0.0 or 221 2.0.0.",
        "Act on the class (2 success, 4 retry later, 5 do not retry unchanged).",
        ["RFC 3463 3.1"]
    ),
    status!(
        1,
        0,
        "Other address status",
        "Something about the address specified caused this status.",
        "An address problem not covered by a more precise code; 2.1.0 is the usual success code for MAIL.",
        "Check the address.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        1,
        "Bad destination mailbox address",
        "The mailbox does not exist: the part left of \"@\" is invalid. Only useful for permanent failures.",
        "RCPT to an unknown user.",
        "Correct the recipient's local part; do not retry the same address.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        2,
        "Bad destination system address",
        "The destination system does not exist or cannot accept mail: the part right of \"@\" is invalid. Only useful for permanent failures.",
        "RCPT to a domain that does not exist or takes no mail.",
        "Correct the recipient's domain.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        3,
        "Bad destination mailbox address syntax",
        "The destination address is syntactically invalid. Only useful for permanent failures.",
        "RCPT with a malformed path, e.g. missing angle brackets or an over-long address.",
        "Fix the address syntax (RFC 5321 4.1.2).",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        4,
        "Destination mailbox address ambiguous",
        "The address matches more than one recipient on the destination system.",
        "A heuristic address mapping found several mailboxes.",
        "Give the full, exact address.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        5,
        "Destination address valid",
        "The mailbox address as specified was valid; used for positive delivery reports.",
        "250 2.1.5 to an accepted RCPT.",
        "Nothing to fix.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        6,
        "Destination mailbox has moved, no forwarding address",
        "The address was once valid but mail is no longer accepted for it. Only useful for permanent failures.",
        "RCPT to a closed account.",
        "Remove or update the address.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        7,
        "Bad sender's mailbox address syntax",
        "The sender's address is syntactically invalid.",
        "MAIL FROM with a malformed reverse-path.",
        "Fix the sender address syntax.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        8,
        "Bad sender's system address",
        "The sender's domain does not exist or cannot accept return mail.",
        "MAIL FROM with a domain that has no mail exchanger.",
        "Use a sender address whose domain can receive bounces.",
        ["RFC 3463 3.2"]
    ),
    status!(
        1,
        10,
        "Recipient address has null MX",
        "The recipient's domain accepts no mail (a null MX); associated with reply code 556.",
        "RCPT to a domain that publishes a null MX.",
        "Do not retry: the address cannot receive mail.",
        ["RFC 7504 6"]
    ),
    status!(
        2,
        0,
        "Other or undefined mailbox status",
        "The mailbox exists, but something about it caused this status.",
        "A mailbox problem not covered by a more precise code.",
        "Contact the recipient by other means if it persists.",
        ["RFC 3463 3.3"]
    ),
    status!(
        2,
        1,
        "Mailbox disabled, not accepting messages",
        "The mailbox exists but is not accepting messages; permanent or transient.",
        "A suspended or temporarily disabled account.",
        "Retry later if transient; otherwise contact the recipient by other means.",
        ["RFC 3463 3.3"]
    ),
    status!(
        2,
        2,
        "Mailbox full",
        "The user exceeded a per-mailbox quota; should be a persistent transient failure.",
        "Delivery to a full mailbox.",
        "Retry later; the recipient must make room.",
        ["RFC 3463 3.3"]
    ),
    status!(
        2,
        3,
        "Message length exceeds administrative limit",
        "A per-mailbox message length limit, below the system limit, was exceeded; a permanent failure.",
        "A message too large for this recipient's mailbox.",
        "Send a smaller message.",
        ["RFC 3463 3.3"]
    ),
    status!(
        2,
        4,
        "Mailing list expansion problem",
        "The mailbox is a list that could not be expanded; permanent or persistent transient.",
        "Delivery or EXPN to a broken mailing list.",
        "Tell the list's owner.",
        ["RFC 3463 3.3"]
    ),
    status!(
        3,
        0,
        "Other or undefined mail system status",
        "The destination system normally accepts mail, but something about it caused this status.",
        "A destination system problem not covered by a more precise code.",
        "Retry later if transient; tell the server's operator.",
        ["RFC 3463 3.4"]
    ),
    status!(
        3,
        1,
        "Mail system full",
        "Mail system storage has been exceeded; only useful as a persistent transient error.",
        "The server's disk or queue is full.",
        "Retry later; the operator must free space.",
        ["RFC 3463 3.4"]
    ),
    status!(
        3,
        2,
        "System not accepting network messages",
        "The host is not accepting messages (shutdown, load, maintenance); permanent or transient. Also the code for 521, a host that never accepts mail (RFC 7504).",
        "A 421 at shutdown, or a 521 greeting.",
        "Retry later if transient; after 521, do not retry this host.",
        ["RFC 3463 3.4", "RFC 7504 6"]
    ),
    status!(
        3,
        3,
        "System not capable of selected features",
        "Features specified for the message are not supported by the destination system.",
        "A gateway cannot map a requested feature.",
        "Send without the feature.",
        ["RFC 3463 3.4"]
    ),
    status!(
        3,
        4,
        "Message too big for system",
        "The message is larger than the per-message size limit; only useful as a permanent error.",
        "MAIL with SIZE over the limit, or too much data after DATA (552 5.3.4).",
        "Send a smaller message; check the SIZE value in EHLO.",
        ["RFC 3463 3.4"]
    ),
    status!(
        3,
        5,
        "System incorrectly configured",
        "The system is not configured to accept this message.",
        "A configuration error on the destination system.",
        "Tell the server's operator.",
        ["RFC 3463 3.4"]
    ),
    status!(
        4,
        0,
        "Other or undefined network or routing status",
        "Something went wrong with the networking, and it is not clear what.",
        "A network problem not covered by a more precise code.",
        "Retry later.",
        ["RFC 3463 3.5"]
    ),
    status!(
        4,
        1,
        "No answer from host",
        "The outbound connection attempt was not answered; only useful as a persistent transient error.",
        "The next hop is down or busy.",
        "Retry later.",
        ["RFC 3463 3.5"]
    ),
    status!(
        4,
        2,
        "Bad connection",
        "The connection was established but the transaction could not be completed (time-out, poor connection); only a persistent transient error.",
        "A timeout during the session, e.g. 421 4.4.2 after the client was idle.",
        "Retry later; keep the session moving within the timeouts of RFC 5321 4.5.3.2.",
        ["RFC 3463 3.5"]
    ),
    status!(
        4,
        3,
        "Directory server failure",
        "A directory server (such as DNS) was unavailable; only a persistent transient error.",
        "A DNS lookup failed on the server.",
        "Retry later.",
        ["RFC 3463 3.5"]
    ),
    status!(
        4,
        4,
        "Unable to route",
        "The next hop could not be determined from the directory; permanent or transient.",
        "No MX or A record for the domain.",
        "Check the domain; retry later if transient.",
        ["RFC 3463 3.5"]
    ),
    status!(
        4,
        5,
        "Mail system congestion",
        "The mail system was congested; only a persistent transient error.",
        "Server overload.",
        "Retry later.",
        ["RFC 3463 3.5"]
    ),
    status!(
        4,
        6,
        "Routing loop detected",
        "A routing loop forwarded the message too many times; only a persistent transient error.",
        "Misconfigured routing or forwarding.",
        "Tell the operators; fix the routing.",
        ["RFC 3463 3.5"]
    ),
    status!(
        4,
        7,
        "Delivery time expired",
        "The message was too old for the rejecting system.",
        "A message queued too long somewhere.",
        "Resend if still relevant.",
        ["RFC 3463 3.5"]
    ),
    status!(
        5,
        0,
        "Other or undefined protocol status",
        "Something was wrong with the protocol, not covered by a more precise code.",
        "A protocol problem not covered by a more precise code.",
        "Check the transcript against RFC 5321.",
        ["RFC 3463 3.6"]
    ),
    status!(
        5,
        1,
        "Invalid command",
        "A command was out of sequence or unsupported; only useful as a permanent error.",
        "503 (bad sequence) or 502 (not implemented), e.g. RCPT before MAIL.",
        "Follow the command sequence (RFC 5321 4.1.4); use RSET to start over.",
        ["RFC 3463 3.6"]
    ),
    status!(
        5,
        2,
        "Syntax error",
        "A command could not be interpreted: wrong syntax or unrecognized; only useful as a permanent error.",
        "500 for an unknown verb or an over-long line; 501 for undecodable AUTH data.",
        "Send a well-formed, known command.",
        ["RFC 3463 3.6", "RFC 4954 4"]
    ),
    status!(
        5,
        3,
        "Too many recipients",
        "More recipients than the protocol could deliver; normally the message is split instead.",
        "452 4.5.3 after the recipient limit of one transaction.",
        "Send the rest of the recipients in another transaction.",
        ["RFC 3463 3.6", "RFC 5321 4.5.3.1.10"]
    ),
    status!(
        5,
        4,
        "Invalid command arguments",
        "A valid command with invalid arguments (out of range or unrecognized features); only useful as a permanent error.",
        "501 or 555 for a bad or unknown MAIL/RCPT parameter; 504 for an unknown AUTH mechanism.",
        "Send only arguments the server advertises and in the right form.",
        ["RFC 3463 3.6", "RFC 4954 4"]
    ),
    status!(
        5,
        5,
        "Wrong protocol version",
        "A protocol version mismatch could not be resolved.",
        "A client and server that share no protocol version.",
        "Use a protocol version both sides support.",
        ["RFC 3463 3.6"]
    ),
    status!(
        5,
        6,
        "Authentication exchange line is too long",
        "The AUTH failed because a BASE64 response was longer than the mechanism's buffer.",
        "500 5.5.6 to an over-long SASL response.",
        "Send a shorter response (or a mechanism with shorter responses).",
        ["RFC 4954 6"]
    ),
    status!(
        6,
        0,
        "Other or undefined media error",
        "Something about the content made it undeliverable, not covered by a more precise code.",
        "A message rejected for its content, e.g. bare CR or LF in the data.",
        "Fix the message content (RFC 5322, RFC 5321 2.3.8).",
        ["RFC 3463 3.7"]
    ),
    status!(
        6,
        1,
        "Media not supported",
        "The media of the message is not supported by the protocol or the next hop; only a permanent error.",
        "8-bit or binary content to a server without 8BITMIME or BINARYMIME.",
        "Encode the message in 7 bits, or use a server that supports the media.",
        ["RFC 3463 3.7"]
    ),
    status!(
        6,
        2,
        "Conversion required and prohibited",
        "The content must be converted before delivery, and conversion is not permitted.",
        "A message that forbids conversion but needs it.",
        "Send the content in a form the next hop supports.",
        ["RFC 3463 3.7"]
    ),
    status!(
        6,
        3,
        "Conversion required but not supported",
        "The content must be converted and the host cannot, e.g. downgrade 8-bit to 7-bit.",
        "An 8BITMIME message relayed to a 7-bit-only hop.",
        "Send 7-bit content.",
        ["RFC 3463 3.7"]
    ),
    status!(
        6,
        4,
        "Conversion with loss performed",
        "Delivered, but a conversion lost data; or a permanent error if lossy conversion was prohibited.",
        "A gateway converted the message lossily.",
        "Check the delivered message.",
        ["RFC 3463 3.7"]
    ),
    status!(
        6,
        5,
        "Conversion failed",
        "A required conversion was unsuccessful; permanent or persistent transient.",
        "A gateway could not convert the content.",
        "Send the content in a simpler form.",
        ["RFC 3463 3.7"]
    ),
    status!(
        6,
        7,
        "Non-ASCII addresses not permitted for that sender/recipient",
        "MAIL or RCPT with a non-ASCII address where only ASCII is permitted (with 550 or 553).",
        "A UTF-8 address without SMTPUTF8, or to a server that does not allow it.",
        "Use the SMTPUTF8 parameter on a server that advertises it, or an ASCII address.",
        ["RFC 6531 3.5", "RFC 6531 4"]
    ),
    status!(
        6,
        8,
        "UTF-8 string reply is required, but not permitted by the SMTP client",
        "A reply needs a UTF-8 mailbox name, which the client did not allow (with 252, 550 or 553).",
        "VRFY or EXPN without SMTPUTF8 for a non-ASCII mailbox.",
        "Send VRFY/EXPN with the SMTPUTF8 parameter.",
        ["RFC 6531 3.7.4.2", "RFC 6531 4"]
    ),
    status!(
        6,
        9,
        "UTF-8 header message cannot be transferred to one or more recipients",
        "After the final \".\" of DATA: a message with UTF-8 headers cannot be delivered, so it is rejected (with 550).",
        "An internationalized message to a recipient that cannot take it.",
        "Send an ASCII-only message to that recipient.",
        ["RFC 6531 4"]
    ),
    status!(
        7,
        0,
        "Other or undefined security status",
        "Something security-related caused this status; also for conditions security policy will not describe. RFC 4954 uses 5.7.0 for \"authentication required\" and 4.7.0 for a temporary authentication failure.",
        "530 5.7.0 authentication (or STARTTLS) required; 454 4.7.0 temporary AUTH failure.",
        "Authenticate or start TLS as the server requires; retry later if transient.",
        ["RFC 3463 3.8", "RFC 4954 6", "RFC 3207 4"]
    ),
    status!(
        7,
        1,
        "Delivery not authorized, message refused",
        "The sender is not authorized to send to the destination (per-host or per-recipient filtering); only a permanent error.",
        "550 5.7.1 relaying denied, or a policy rejection.",
        "Send through a server authorized to relay for you (authenticate), or to a domain the server accepts.",
        ["RFC 3463 3.8"]
    ),
    status!(
        7,
        2,
        "Mailing list expansion prohibited",
        "The sender may not send to the mailing list; only a permanent error.",
        "A message or EXPN for a restricted list.",
        "Ask the list's owner for permission.",
        ["RFC 3463 3.8"]
    ),
    status!(
        7,
        3,
        "Security conversion required but not possible",
        "A conversion between secure messaging protocols was required and not possible.",
        "A gateway between secure mail systems.",
        "Send in a form the destination's security protocol supports.",
        ["RFC 3463 3.8"]
    ),
    status!(
        7,
        4,
        "Security features not supported",
        "Security features of the message are not supported by the delivery protocol.",
        "A message needing a security feature the next hop lacks.",
        "Send without the feature, or by another route.",
        ["RFC 3463 3.8"]
    ),
    status!(
        7,
        5,
        "Cryptographic failure",
        "A system authorized to validate or decrypt the message lacked a valid key.",
        "Missing or invalid keys in transport.",
        "Fix the keys or certificates.",
        ["RFC 3463 3.8"]
    ),
    status!(
        7,
        6,
        "Cryptographic algorithm not supported",
        "A system authorized to validate or decrypt lacked the necessary algorithm.",
        "An unsupported signature or encryption algorithm.",
        "Use an algorithm both sides support.",
        ["RFC 3463 3.8"]
    ),
    status!(
        7,
        7,
        "Message integrity failure",
        "The message was corrupted or altered and could not be validated.",
        "A broken signature in transport.",
        "Resend the message unaltered.",
        ["RFC 3463 3.8"]
    ),
    status!(
        7,
        8,
        "Authentication credentials invalid",
        "Authentication failed: invalid or insufficient credentials (with 535).",
        "AUTH with a wrong user name or password.",
        "Ask the user for new credentials.",
        ["RFC 4954 6"]
    ),
    status!(
        7,
        9,
        "Authentication mechanism is too weak",
        "The SASL mechanism is weaker than policy permits for the user (with 534).",
        "AUTH PLAIN or LOGIN where a stronger mechanism is required.",
        "Retry with a stronger mechanism.",
        ["RFC 4954 6"]
    ),
    status!(
        7,
        11,
        "Encryption required for requested authentication mechanism",
        "The mechanism may only be used over an encrypted connection (with 538).",
        "AUTH PLAIN without TLS.",
        "Issue STARTTLS first.",
        ["RFC 4954 6"]
    ),
    status!(
        7,
        12,
        "A password transition is needed",
        "The user must transition to the selected mechanism, typically by one PLAIN login (with 432).",
        "AUTH with a mechanism the user has no credentials for yet.",
        "Authenticate once with PLAIN over TLS.",
        ["RFC 4954 6"]
    ),
];

/// The catalogue entry for a reply code.
pub fn reply(code: u16) -> Option<&'static ReplyCode> {
    REPLY_CODES.iter().find(|r| r.code == code)
}

/// The catalogue entry for an enhanced status code's subject and detail.
pub fn status(subject: u16, detail: u16) -> Option<&'static StatusCode> {
    STATUS_CODES
        .iter()
        .find(|s| s.subject == subject && s.detail == detail)
}

/// The RFC 3463 subject entry.
pub fn subject(subject: u16) -> Option<&'static Subject> {
    SUBJECTS.iter().find(|s| s.subject == subject)
}

/// A code as a user writes it: a reply code `503`, or an enhanced status
/// code `5.5.1` / `X.5.1` (class left open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// A three-digit reply code.
    Reply(u16),
    /// An enhanced status code; `class` is `None` for `X.s.d`.
    Status {
        /// 2, 4 or 5, or unknown.
        class: Option<u8>,
        /// The subject.
        subject: u16,
        /// The detail.
        detail: u16,
    },
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Reply(c) => write!(f, "{c}"),
            Code::Status {
                class,
                subject,
                detail,
            } => match class {
                Some(c) => write!(f, "{c}.{subject}.{detail}"),
                None => write!(f, "X.{subject}.{detail}"),
            },
        }
    }
}

/// Text that is neither a reply code nor an enhanced status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a reply code (three digits, e.g. 503) or an enhanced status code (e.g. 5.5.1 or X.5.1)"
)]
pub struct CodeError(pub String);

impl std::str::FromStr for Code {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Code, CodeError> {
        let bad = || CodeError(text.to_string());
        let number = |s: &str| -> Option<u16> {
            (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let t = text.trim();
        if t.len() == 3 && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().map(Code::Reply).map_err(|_| bad());
        }
        let parts: Vec<&str> = t.split('.').collect();
        if let [c, s, d] = parts[..] {
            let class = if c.eq_ignore_ascii_case("x") {
                None
            } else if c.len() == 1 && c.bytes().all(|b| b.is_ascii_digit()) {
                Some(c.as_bytes()[0] - b'0')
            } else {
                return Err(bad());
            };
            return Ok(Code::Status {
                class,
                subject: number(s).ok_or_else(bad)?,
                detail: number(d).ok_or_else(bad)?,
            });
        }
        Err(bad())
    }
}

/// Everything the catalogue says about one code, known or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The code as asked, e.g. `503` or `5.5.1`.
    pub code: String,
    /// Whether the catalogue defines the code.
    pub known: bool,
    /// The RFC's text or title for it.
    pub title: String,
    /// The class, e.g. `5yz permanent negative completion`; empty when
    /// the code has no class (`X.s.d` or an invalid first digit).
    pub class: String,
    /// `positive` or `negative`, or empty.
    pub polarity: String,
    /// `completed`, `intermediate`, `transient` or `permanent`, or empty.
    pub permanence: String,
    /// For reply codes, the category of the second digit.
    pub category: String,
    /// What it means.
    pub meaning: String,
    /// When you see it.
    pub cause: String,
    /// What to do: for known codes the entry's advice, else the class's.
    pub action: String,
    /// Where the code is defined.
    pub sources: Vec<String>,
}

/// Explains a code from the catalogue; an unknown code is explained by
/// what its digits say, and says so.
pub fn explain(code: Code) -> Explanation {
    match code {
        Code::Reply(c) => explain_reply(c),
        Code::Status {
            class,
            subject,
            detail,
        } => explain_status(class, subject, detail),
    }
}

fn explain_reply(code: u16) -> Explanation {
    let severity = Severity::of_code(code);
    let mut e = Explanation {
        code: code.to_string(),
        known: false,
        title: String::new(),
        class: severity
            .map(|s| s.class_name().to_string())
            .unwrap_or_default(),
        polarity: severity
            .map(|s| s.polarity().to_string())
            .unwrap_or_default(),
        permanence: severity
            .map(|s| s.permanence().to_string())
            .unwrap_or_default(),
        category: if severity.is_some() {
            category(code).to_string()
        } else {
            String::new()
        },
        meaning: String::new(),
        cause: String::new(),
        action: severity
            .map(|s| s.client_action().to_string())
            .unwrap_or_default(),
        sources: vec!["RFC 5321 4.2.1".into()],
    };
    if let Some(entry) = reply(code) {
        e.known = true;
        e.title = entry.text.to_string();
        e.meaning = entry.meaning.to_string();
        e.cause = entry.cause.to_string();
        e.action = entry.action.to_string();
        e.sources = entry.sources.iter().map(|s| s.to_string()).collect();
        return e;
    }
    let second_digit_ok = code / 10 % 10 <= 5;
    match severity {
        Some(s) if !second_digit_ok => {
            e.title = "not a valid SMTP reply code".into();
            e.meaning = format!(
                "{code} is outside the reply-code grammar: the second digit must be 0 to 5 \
                 (RFC 5321 4.2). By its first digit it would be a {}; a server that sends it \
                 violates RFC 5321.",
                s.class_name()
            );
            e.sources.push("RFC 5321 4.2".into());
        }
        Some(s) => {
            e.title = "unknown reply code".into();
            e.meaning = format!(
                "{code} is not defined by RFC 5321, RFC 7504, RFC 4954 or RFC 3207. By its \
                 first digit it is a {}; a client must interpret an unrecognized code by its \
                 first digit (RFC 5321 4.3.2).",
                s.class_name()
            );
            e.sources.push("RFC 5321 4.3.2".into());
        }
        None => {
            e.title = "not an SMTP reply code".into();
            e.meaning = format!(
                "{code} is not a valid SMTP reply code: the first digit must be 2 to 5 \
                 (RFC 5321 4.2, 4.3.2). A server that sends it violates RFC 5321."
            );
            e.sources.push("RFC 5321 4.3.2".into());
        }
    }
    e
}

fn explain_status(class: Option<u8>, subject_code: u16, detail: u16) -> Explanation {
    let label = Code::Status {
        class,
        subject: subject_code,
        detail,
    }
    .to_string();
    let severity = class.and_then(Severity::of_status_class);
    let mut e = Explanation {
        code: label.clone(),
        known: false,
        title: String::new(),
        class: match (class, severity) {
            (None, _) => "any class (X: 2 success, 4 persistent transient, 5 permanent)".into(),
            (Some(_), Some(s)) => s.class_name().to_string(),
            (Some(_), None) => String::new(),
        },
        polarity: severity
            .map(|s| s.polarity().to_string())
            .unwrap_or_default(),
        permanence: severity
            .map(|s| s.permanence().to_string())
            .unwrap_or_default(),
        category: subject(subject_code)
            .map(|s| format!("X.{}.XXX {}", s.subject, s.title.to_lowercase()))
            .unwrap_or_default(),
        meaning: String::new(),
        cause: String::new(),
        action: severity
            .map(|s| s.client_action().to_string())
            .unwrap_or_default(),
        sources: vec!["RFC 3463 2".into()],
    };
    if class.is_some() && severity.is_none() {
        e.title = "not an enhanced status code".into();
        e.meaning = format!(
            "{label} is not a valid enhanced status code: the class must be 2, 4 or 5 (RFC 3463 2)."
        );
        return e;
    }
    if let Some(entry) = status(subject_code, detail) {
        e.known = true;
        e.title = entry.title.to_string();
        e.meaning = entry.meaning.to_string();
        e.cause = entry.cause.to_string();
        e.action = entry.action.to_string();
        e.sources = entry.sources.iter().map(|s| s.to_string()).collect();
        return e;
    }
    e.title = "unknown enhanced status code".into();
    e.meaning = match subject(subject_code) {
        Some(s) => format!(
            "{label} is not defined by RFC 3463, RFC 4954, RFC 6531 or RFC 7504. Its subject \
             X.{}.XXX is \"{}\": {} A client reports the subject when the detail is unknown \
             (RFC 3463 2).",
            s.subject, s.title, s.meaning
        ),
        None => format!(
            "{label} is not defined by RFC 3463, RFC 4954, RFC 6531 or RFC 7504, and its \
             subject {subject_code} is not one of RFC 3463's (0 to 7); only its class carries \
             meaning (RFC 3463 2)."
        ),
    };
    e
}

/// A one-line gloss of a reply code for reports, e.g.
/// `503 Bad sequence of commands (5yz permanent negative completion)`.
pub fn gloss(code: u16) -> String {
    let e = explain_reply(code);
    if e.known {
        format!("{code} {} ({})", e.title, e.class)
    } else if e.class.is_empty() {
        format!("{code}: not an SMTP reply code (RFC 5321 4.2)")
    } else {
        format!(
            "{code}: not in the catalogue; by its first digit a {}",
            e.class
        )
    }
}

/// A one-line gloss of an enhanced status code, e.g. `5.5.1 Invalid command`.
pub fn gloss_status(class: u8, subject_code: u16, detail: u16) -> String {
    let e = explain_status(Some(class), subject_code, detail);
    if e.known {
        format!("{} {}", e.code, e.title)
    } else {
        match subject(subject_code) {
            Some(s) => format!("{}: not in the catalogue; subject {}", e.code, s.title),
            None => format!("{}: not in the catalogue", e.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// RFC 5321 4.2.3 lists these codes in numeric order; RFC 7504 5.1 adds
    /// 521 and 556; RFC 4954 6 (and 4) the AUTH codes.
    const RFC5321_CODES: [u16; 24] = [
        211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503, 504,
        550, 551, 552, 553, 554, 555,
    ];
    const RFC7504_CODES: [u16; 2] = [521, 556];
    const RFC4954_CODES: [u16; 9] = [334, 235, 432, 454, 500, 530, 534, 535, 538];

    #[test]
    fn every_rfc_code_is_in_the_catalogue() {
        for code in RFC5321_CODES
            .iter()
            .chain(&RFC7504_CODES)
            .chain(&RFC4954_CODES)
        {
            let entry = reply(*code).unwrap_or_else(|| panic!("{code} missing"));
            assert!(
                !entry.meaning.is_empty() && !entry.cause.is_empty() && !entry.action.is_empty()
            );
            assert!(!entry.sources.is_empty(), "{code} cites no RFC");
        }
    }

    #[test]
    fn every_rfc3463_status_code_is_in_the_catalogue() {
        // RFC 3463 3.1 to 3.8: the detail codes of each subject.
        let details: [(u16, u16); 8] = [
            (0, 0),
            (1, 8),
            (2, 4),
            (3, 5),
            (4, 7),
            (5, 5),
            (6, 5),
            (7, 7),
        ];
        for (subject, last) in details {
            for detail in 0..=last {
                if subject == 0 && detail > 0 {
                    continue;
                }
                assert!(
                    status(subject, detail).is_some(),
                    "X.{subject}.{detail} missing"
                );
            }
        }
        // RFC 4954 6 adds these.
        for (s, d) in [(7, 8), (7, 9), (7, 11), (7, 12), (5, 6)] {
            assert!(status(s, d).is_some(), "X.{s}.{d} missing");
        }
    }

    #[test]
    fn entries_are_unique_and_sorted() {
        let codes: Vec<u16> = REPLY_CODES.iter().map(|r| r.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
        let statuses: Vec<(u16, u16)> =
            STATUS_CODES.iter().map(|s| (s.subject, s.detail)).collect();
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(statuses, sorted);
    }

    #[test]
    fn every_source_cites_an_rfc_section() {
        let all = REPLY_CODES
            .iter()
            .flat_map(|r| r.sources)
            .chain(STATUS_CODES.iter().flat_map(|s| s.sources));
        for src in all {
            let mut words = src.split(' ');
            assert_eq!(words.next(), Some("RFC"), "{src}");
            assert!(
                words.next().is_some_and(|n| n.parse::<u32>().is_ok()),
                "{src}"
            );
            assert!(
                words
                    .next()
                    .is_some_and(|s| s.chars().next().unwrap().is_ascii_digit()),
                "{src}"
            );
        }
    }

    /// The example: 252 is 2xx positive, nothing to fix; 503 is a
    /// 5xx permanent error about the command sequence (RFC 5321 4.2.3, 4.1.4).
    #[test]
    fn explains_252_and_503() {
        let e = explain(Code::Reply(252));
        assert!(e.known);
        assert_eq!(e.class, "2yz positive completion");
        assert_eq!(
            (e.polarity.as_str(), e.permanence.as_str()),
            ("positive", "completed")
        );
        assert!(e.action.starts_with("Nothing needs fixing"), "{}", e.action);
        let e = explain(Code::Reply(503));
        assert_eq!(e.title, "Bad sequence of commands");
        assert_eq!(
            (e.polarity.as_str(), e.permanence.as_str()),
            ("negative", "permanent")
        );
        assert!(e.action.contains("RSET"), "{}", e.action);
        assert!(e.sources.iter().any(|s| s == "RFC 5321 4.1.4"));
    }

    #[rstest]
    #[case::unknown_2xx("259", false, "2yz positive completion", "not defined")]
    #[case::bad_second_digit(
        "299",
        false,
        "2yz positive completion",
        "second digit must be 0 to 5"
    )]
    #[case::invalid_first_digit("600", false, "", "not a valid SMTP reply code")]
    #[case::unknown_detail(
        "5.1.99",
        false,
        "5yz permanent negative completion",
        "Addressing status"
    )]
    #[case::unknown_subject(
        "4.9.1",
        false,
        "4yz transient negative completion",
        "not one of RFC 3463"
    )]
    #[case::bad_class("3.1.1", false, "", "class must be 2, 4 or 5")]
    #[case::any_class("X.7.8", true, "any class", "invalid or insufficient credentials")]
    #[case::status("5.5.1", true, "5yz permanent", "out of sequence")]
    fn explains_unknown_and_odd_codes(
        #[case] text: &str,
        #[case] known: bool,
        #[case] class: &str,
        #[case] meaning: &str,
    ) {
        let e = explain(text.parse().unwrap());
        assert_eq!(e.known, known, "{e:?}");
        assert!(e.class.starts_with(class), "{e:?}");
        assert!(e.meaning.contains(meaning), "{e:?}");
    }

    #[rstest]
    #[case("")]
    #[case("50")]
    #[case("5031")]
    #[case("abc")]
    #[case("5.5")]
    #[case("5.5.1.1")]
    #[case("55.5.1")]
    #[case("5.5.1000")]
    fn rejects_what_is_not_a_code(#[case] text: &str) {
        assert!(text.parse::<Code>().is_err(), "{text}");
    }

    #[test]
    fn glosses_name_the_code_and_its_class() {
        assert_eq!(
            gloss(550),
            "550 Requested action not taken: mailbox unavailable (5yz permanent negative completion)"
        );
        assert!(gloss(259).contains("not in the catalogue"));
        assert_eq!(
            gloss_status(5, 1, 1),
            "5.1.1 Bad destination mailbox address"
        );
    }
}
