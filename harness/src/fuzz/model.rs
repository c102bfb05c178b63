//! The model of an SMTP session: which command is in sequence in which
//! state (RFC 5321 3.3, 4.1.1 and 4.1.4, plus RFC 3030 for BDAT and RFC 4954
//! for AUTH), predicting for each command whether its reply must be 503,
//! must not be 503, or may be either.
//!
//! The model follows the server's actual replies rather than its own
//! expectations: a rejected RCPT adds no recipient, an accepted MAIL before
//! EHLO opens a transaction, a 421 ends the session. So it can keep judging a
//! server that deviates only where the RFC allows it to, and every prediction
//! is about the state the server itself has confirmed.

use std::fmt;

use crate::runner::Grade;
use crate::scenario::{Level, RfcRef};
use crate::wire::Reply;

use super::op::{Extensions, Op};

/// What the reply to a command must be, as far as 503 is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// The command is out of sequence: the reply must be 503.
    Is503,
    /// The command is in sequence: any reply but 503.
    Not503,
    /// The RFC allows 503 and other replies alike.
    Either,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Is503 => "503",
            Expect::Not503 => "any reply but 503",
            Expect::Either => "503 or another reply",
        })
    }
}

/// The rule a prediction comes from: one clause-backed statement about one
/// command in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// EHLO or HELO, at any time.
    Greeting,
    /// MAIL before any accepted EHLO/HELO.
    MailBeforeGreeting,
    /// MAIL while a transaction is open.
    NestedMail,
    /// MAIL after a greeting, with no transaction open.
    MailInSequence,
    /// RCPT with no transaction open.
    RcptWithoutMail,
    /// RCPT in a transaction.
    RcptInTransaction,
    /// RCPT after a BDAT chunk of the same transaction.
    RcptAfterBdat,
    /// DATA with no transaction open.
    DataWithoutMail,
    /// DATA in a transaction with no accepted recipient.
    DataWithoutRecipients,
    /// DATA after a 452 to RCPT (too many recipients).
    DataAfter452,
    /// DATA after a BDAT chunk of the same transaction.
    DataAfterBdat,
    /// DATA in a transaction with an accepted recipient.
    DataInSequence,
    /// BDAT with no transaction, right after a transaction ended with BDAT LAST.
    BdatAfterLast,
    /// BDAT with no transaction open.
    BdatWithoutMail,
    /// BDAT in a transaction with no accepted recipient.
    BdatWithoutRecipients,
    /// BDAT in a transaction with an accepted recipient.
    BdatInSequence,
    /// RSET, at any time.
    Rset,
    /// NOOP, VRFY, EXPN or HELP before any EHLO/HELO.
    AnyTimeBeforeGreeting,
    /// NOOP, VRFY, EXPN or HELP after EHLO/HELO.
    AnyTime,
    /// AUTH while a transaction is open.
    AuthInTransaction,
    /// AUTH after a successful AUTH.
    AuthAfterAuth,
    /// AUTH after EHLO, outside a transaction, not yet authenticated.
    AuthInSequence,
    /// STARTTLS, at any time.
    StartTls,
    /// QUIT, at any time.
    Quit,
    /// Anything but RSET, EHLO/HELO and QUIT after a failed BDAT or DATA
    /// after BDAT: the state is indeterminate until RSET.
    Indeterminate,
}

impl Rule {
    /// Every rule, for coverage tables.
    pub const ALL: [Rule; 25] = [
        Rule::Greeting,
        Rule::MailBeforeGreeting,
        Rule::NestedMail,
        Rule::MailInSequence,
        Rule::RcptWithoutMail,
        Rule::RcptInTransaction,
        Rule::RcptAfterBdat,
        Rule::DataWithoutMail,
        Rule::DataWithoutRecipients,
        Rule::DataAfter452,
        Rule::DataAfterBdat,
        Rule::DataInSequence,
        Rule::BdatAfterLast,
        Rule::BdatWithoutMail,
        Rule::BdatWithoutRecipients,
        Rule::BdatInSequence,
        Rule::Rset,
        Rule::AnyTimeBeforeGreeting,
        Rule::AnyTime,
        Rule::AuthInTransaction,
        Rule::AuthAfterAuth,
        Rule::AuthInSequence,
        Rule::StartTls,
        Rule::Quit,
        Rule::Indeterminate,
    ];

    /// What the reply must be.
    pub fn expect(self) -> Expect {
        use Rule::*;
        match self {
            MailBeforeGreeting | NestedMail | RcptWithoutMail | RcptAfterBdat | DataAfterBdat
            | BdatAfterLast | AuthInTransaction | AuthAfterAuth => Expect::Is503,
            Greeting
            | MailInSequence
            | RcptInTransaction
            | DataInSequence
            | BdatInSequence
            | Rset
            | AnyTimeBeforeGreeting
            | AnyTime
            | AuthInSequence
            | Quit => Expect::Not503,
            DataWithoutMail
            | DataWithoutRecipients
            | DataAfter452
            | BdatWithoutMail
            | BdatWithoutRecipients
            | StartTls
            | Indeterminate => Expect::Either,
        }
    }

    /// How strongly the RFC says so. A MUST-level mismatch is FAIL, a
    /// SHOULD-level one NON-STRICT (see [`Grade::for_mismatch`]).
    ///
    /// MAIL before EHLO and a nested MAIL break a *client* MUST (RFC 5321
    /// 4.1.1.1, 4.1.4); the server's duty to answer 503 is only "to the
    /// degree that they cannot be processed" (4.1.4), so a server that
    /// accepts them is NON-STRICT, not failing.
    pub fn level(self) -> Level {
        use Rule::*;
        match self {
            MailBeforeGreeting | NestedMail | RcptAfterBdat | AnyTimeBeforeGreeting => {
                Level::Should
            }
            DataWithoutMail
            | DataWithoutRecipients
            | DataAfter452
            | BdatWithoutMail
            | BdatWithoutRecipients
            | StartTls
            | Indeterminate => Level::May,
            _ => Level::Must,
        }
    }

    /// The clauses, the first is the primary one.
    pub fn clauses(self) -> &'static [(u32, &'static str)] {
        use Rule::*;
        match self {
            Greeting => &[(5321, "4.1.4"), (5321, "4.1.1.1")],
            MailBeforeGreeting => &[(5321, "4.1.4"), (5321, "4.1.1.1")],
            NestedMail => &[(5321, "4.1.4"), (5321, "3.3")],
            MailInSequence => &[(5321, "4.1.4"), (5321, "3.3")],
            RcptWithoutMail => &[(5321, "3.3"), (5321, "4.1.4")],
            RcptInTransaction => &[(5321, "3.3"), (5321, "4.1.4")],
            RcptAfterBdat => &[(5321, "4.1.4"), (3030, "2")],
            DataWithoutMail | DataWithoutRecipients => &[(5321, "3.3")],
            DataAfter452 => &[(5321, "4.5.3.1.10")],
            DataAfterBdat => &[(3030, "2")],
            DataInSequence => &[(5321, "3.3"), (5321, "4.1.1.4")],
            BdatAfterLast => &[(3030, "2")],
            BdatWithoutMail | BdatWithoutRecipients => &[(5321, "3.3"), (3030, "2")],
            BdatInSequence => &[(3030, "2")],
            Rset => &[(5321, "4.1.1.5"), (5321, "4.1.4")],
            AnyTimeBeforeGreeting => &[(5321, "4.1.4")],
            AnyTime => &[(5321, "4.1.4"), (5321, "4.1.1.9")],
            AuthInTransaction | AuthAfterAuth | AuthInSequence => &[(4954, "4")],
            StartTls => &[(3207, "4")],
            Quit => &[(5321, "4.1.1.10")],
            Indeterminate => &[(3030, "2")],
        }
    }

    /// The clauses as [`RfcRef`]s.
    pub fn rfc(self) -> Vec<RfcRef> {
        self.clauses()
            .iter()
            .map(|&(number, section)| RfcRef {
                number,
                section: section.to_string(),
            })
            .collect()
    }

    /// A stable identifier, used in verdict ids and file names.
    pub fn id(self) -> &'static str {
        use Rule::*;
        match self {
            Greeting => "greeting",
            MailBeforeGreeting => "mail-before-ehlo",
            NestedMail => "nested-mail",
            MailInSequence => "mail-in-sequence",
            RcptWithoutMail => "rcpt-without-mail",
            RcptInTransaction => "rcpt-in-transaction",
            RcptAfterBdat => "rcpt-after-bdat",
            DataWithoutMail => "data-without-mail",
            DataWithoutRecipients => "data-without-recipients",
            DataAfter452 => "data-after-452",
            DataAfterBdat => "data-after-bdat",
            DataInSequence => "data-in-sequence",
            BdatAfterLast => "bdat-after-last",
            BdatWithoutMail => "bdat-without-mail",
            BdatWithoutRecipients => "bdat-without-recipients",
            BdatInSequence => "bdat-in-sequence",
            Rset => "rset",
            AnyTimeBeforeGreeting => "any-time-before-ehlo",
            AnyTime => "any-time",
            AuthInTransaction => "auth-in-transaction",
            AuthAfterAuth => "auth-after-auth",
            AuthInSequence => "auth-in-sequence",
            StartTls => "starttls",
            Quit => "quit",
            Indeterminate => "indeterminate",
        }
    }

    /// One line: the behaviour required.
    pub fn title(self) -> &'static str {
        use Rule::*;
        match self {
            Greeting => "EHLO/HELO is never a bad sequence",
            MailBeforeGreeting => "MAIL before EHLO/HELO should get 503",
            NestedMail => "MAIL inside an open transaction should get 503",
            MailInSequence => "MAIL after EHLO/HELO with no open transaction is in sequence",
            RcptWithoutMail => "RCPT without a transaction must get 503",
            RcptInTransaction => "RCPT in an open transaction is in sequence",
            RcptAfterBdat => "RCPT after BDAT in the same transaction should get 503",
            DataWithoutMail => "DATA without MAIL may get 503 or 554",
            DataWithoutRecipients => "DATA with no accepted recipient may get 503 or 554",
            DataAfter452 => "DATA after a 452 to RCPT may get 503",
            DataAfterBdat => "DATA after BDAT in the same transaction must get 503",
            DataInSequence => "DATA with an accepted recipient is in sequence",
            BdatAfterLast => "BDAT after BDAT LAST must get 503",
            BdatWithoutMail => "BDAT without MAIL may get 503 or 554",
            BdatWithoutRecipients => "BDAT with no accepted recipient may get 503 or 554",
            BdatInSequence => "BDAT with an accepted recipient is in sequence",
            Rset => "RSET is never a bad sequence",
            AnyTimeBeforeGreeting => "NOOP, HELP, EXPN, VRFY should not get 503 before EHLO",
            AnyTime => "NOOP, HELP, EXPN, VRFY are never a bad sequence",
            AuthInTransaction => "AUTH during a mail transaction must get 503",
            AuthAfterAuth => "AUTH after a successful AUTH must get 503",
            AuthInSequence => "AUTH after EHLO, outside a transaction, is in sequence",
            StartTls => "STARTTLS: RFC 3207 sets no sequence rule",
            Quit => "QUIT is never a bad sequence",
            Indeterminate => "after a failed BDAT the state is indeterminate until RSET",
        }
    }

    /// Why, from the RFC text.
    pub fn why(self) -> &'static str {
        use Rule::*;
        match self {
            Greeting => {
                "4.1.4: an EHLO later in the session resets the state as RSET would; an EHLO the \
                 server does not accept MUST get 501, 500, 502 or 550, and the server MUST stay in \
                 the same state. 503 is not among them."
            }
            MailBeforeGreeting => {
                "4.1.1.1: a client MUST issue HELO or EHLO before starting a mail transaction; \
                 4.1.4: out-of-order commands get 503 to the degree that they cannot be processed. \
                 The MUST binds the client, so a server that accepts the MAIL is NON-STRICT."
            }
            NestedMail => {
                "4.1.4: MAIL MUST NOT be sent if a mail transaction is already open; the server \
                 answers 503 to the degree that it cannot process it. The MUST binds the client, \
                 so a server that starts a new transaction instead is NON-STRICT."
            }
            MailInSequence => {
                "4.1.4, 3.3: MAIL after EHLO/HELO with no open transaction starts one; 503 means \
                 bad sequence, which this is not."
            }
            RcptWithoutMail => {
                "3.3: if a RCPT command appears without a previous MAIL command, the server MUST \
                 return a 503 \"Bad sequence of commands\" response."
            }
            RcptInTransaction => {
                "3.3: one or more RCPT commands follow MAIL; a rejected recipient gets 550 or the \
                 like, never 503."
            }
            RcptAfterBdat => {
                "4.1.4: a transaction is MAIL, one or more RCPT, then DATA (or BDAT, RFC 3030 2: \
                 \"after all MAIL and RCPT responses are collected and processed, the message is \
                 sent using a series of BDAT commands\"), in that order; out-of-order commands \
                 get 503 to the degree that they cannot be processed. The order binds the client, \
                 so another reply is NON-STRICT."
            }
            DataWithoutMail | DataWithoutRecipients => {
                "3.3: if there was no MAIL, or no RCPT, command, or all such commands were \
                 rejected, the server MAY return 503 or 554 in response to DATA."
            }
            DataAfter452 => {
                "4.5.3.1.10: it would be reasonable to return a 503 response to any DATA command \
                 received subsequent to the 452 code."
            }
            DataAfterBdat => {
                "RFC 3030 2: DATA and BDAT cannot be used in the same transaction; if DATA is \
                 issued after a BDAT for the current transaction, 503 MUST be issued."
            }
            DataInSequence => {
                "3.3, 4.1.1.4: after MAIL and an accepted RCPT, DATA is the third step of the \
                 transaction; 503 means bad sequence, which this is not."
            }
            BdatAfterLast => {
                "RFC 3030 2: any BDAT command sent after the BDAT LAST is illegal and MUST be \
                 replied to with 503."
            }
            BdatWithoutMail | BdatWithoutRecipients => {
                "RFC 5321 3.3 (DATA \"or some alternative specified in a service extension\"): \
                 with no MAIL or no accepted RCPT the server MAY return 503 or 554."
            }
            BdatInSequence => {
                "RFC 3030 2: after MAIL and RCPT the message is sent with BDAT; a 250 response \
                 MUST be sent to each successful BDAT data block."
            }
            Rset => {
                "4.1.1.5: a reset command may be issued by the client at any time and the \
                 receiver MUST send 250 OK to RSET with no arguments."
            }
            AnyTimeBeforeGreeting => {
                "4.1.4: NOOP, HELP, EXPN, VRFY and RSET can be used at any time during a session, \
                 or without previously initializing a session; servers SHOULD process them \
                 normally (that is, not return a 503 code) even if no EHLO has been received."
            }
            AnyTime => {
                "4.1.4: NOOP, HELP, EXPN, VRFY and RSET can be used at any time during a session; \
                 4.1.1.9: NOOP may be issued at any time. A 503 misreports the state."
            }
            AuthInTransaction => {
                "RFC 4954 4: an AUTH command issued during a mail transaction MUST be rejected \
                 with a 503 reply."
            }
            AuthAfterAuth => {
                "RFC 4954 4: after a successful AUTH command completes, a server MUST reject any \
                 further AUTH commands with a 503 reply."
            }
            AuthInSequence => {
                "RFC 4954 4: AUTH after EHLO, outside a transaction and before any successful \
                 AUTH, is allowed; wrong credentials get 535, an unknown mechanism 504."
            }
            StartTls => {
                "RFC 3207 4 lists 220, 501 and 454 and says nothing about sequence; a 220 ends \
                 the fuzz session, which cannot continue without TLS."
            }
            Quit => {
                "4.1.1.10: QUIT may be issued at any time; the receiver MUST send 221 and close."
            }
            Indeterminate => {
                "RFC 3030 2: after a failed BDAT, or DATA after BDAT, the resulting state is \
                 indeterminate and a RSET command MUST be sent before continuing."
            }
        }
    }

    /// Judges a reply code. `None` when the reply is acceptable, else the
    /// grade of the deviation. 421 is never judged: the server may shut
    /// down at any time (RFC 5321 3.8).
    pub fn judge(self, code: u16) -> Option<Grade> {
        if code == 421 {
            return None;
        }
        let ok = match self.expect() {
            Expect::Is503 => code == 503,
            Expect::Not503 => code != 503,
            Expect::Either => true,
        };
        (!ok).then(|| Grade::for_mismatch(self.level()))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Which greeting the server has accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Greeted {
    /// No EHLO or HELO accepted yet.
    #[default]
    No,
    /// HELO accepted: no extensions in effect.
    Helo,
    /// EHLO accepted, with what it advertised.
    Ehlo(Extensions),
}

/// An open mail transaction, as the server's replies have shown it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// RCPT commands accepted (2xx).
    pub accepted: usize,
    /// RCPT commands sent, accepted or not.
    pub attempts: usize,
    /// A RCPT got 452 (too many recipients, 4.5.3.1.10).
    pub saw_452: bool,
    /// BDAT chunks accepted, not yet the last.
    pub bdat_chunks: usize,
}

/// The session as the model sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    /// The greeting in effect.
    pub greeted: Greeted,
    /// The open transaction, if any.
    pub tx: Option<Transaction>,
    /// The last transaction ended with an accepted BDAT LAST, and no MAIL,
    /// RSET or greeting came since.
    pub after_bdat_last: bool,
    /// A BDAT failed (or DATA followed BDAT): the state is unknown until
    /// RSET or a new greeting (RFC 3030 2).
    pub indeterminate: bool,
    /// AUTH succeeded (235).
    pub authenticated: bool,
    /// The session is over: QUIT, 421, a close, or a 220 to STARTTLS.
    pub ended: bool,
}

impl Model {
    /// A new session, right after the 220 greeting.
    pub fn new() -> Model {
        Model::default()
    }

    /// The extensions in effect (none before EHLO or after HELO).
    pub fn extensions(&self) -> Option<&Extensions> {
        match &self.greeted {
            Greeted::Ehlo(ext) => Some(ext),
            _ => None,
        }
    }

    /// The rule that applies to `op` now, or `None` when `op` must not be
    /// sent: its extension is not in effect in this session.
    pub fn predict(&self, op: Op) -> Option<Rule> {
        if let Some(keyword) = op.requires()
            && !self.extensions().is_some_and(|e| e.has(keyword))
        {
            return None;
        }
        if self.indeterminate && !matches!(op, Op::Rset | Op::Ehlo | Op::Helo | Op::Quit) {
            return Some(Rule::Indeterminate);
        }
        let greeted = self.greeted != Greeted::No;
        Some(match op {
            Op::Ehlo | Op::Helo => Rule::Greeting,
            Op::Mail if self.tx.is_some() => Rule::NestedMail,
            Op::Mail if !greeted => Rule::MailBeforeGreeting,
            Op::Mail => Rule::MailInSequence,
            Op::RcptKnown | Op::RcptUnknown => match &self.tx {
                None => Rule::RcptWithoutMail,
                Some(tx) if tx.bdat_chunks > 0 => Rule::RcptAfterBdat,
                Some(_) => Rule::RcptInTransaction,
            },
            Op::Data => match &self.tx {
                None => Rule::DataWithoutMail,
                Some(tx) if tx.bdat_chunks > 0 => Rule::DataAfterBdat,
                Some(tx) if tx.accepted == 0 => Rule::DataWithoutRecipients,
                Some(tx) if tx.saw_452 => Rule::DataAfter452,
                Some(_) => Rule::DataInSequence,
            },
            Op::BdatChunk | Op::BdatLast => match &self.tx {
                None if self.after_bdat_last => Rule::BdatAfterLast,
                None => Rule::BdatWithoutMail,
                Some(tx) if tx.accepted == 0 => Rule::BdatWithoutRecipients,
                Some(_) => Rule::BdatInSequence,
            },
            Op::Rset => Rule::Rset,
            Op::Noop | Op::Vrfy | Op::Expn | Op::Help if !greeted => Rule::AnyTimeBeforeGreeting,
            Op::Noop | Op::Vrfy | Op::Expn | Op::Help => Rule::AnyTime,
            Op::Auth if self.authenticated => Rule::AuthAfterAuth,
            Op::Auth if self.tx.is_some() => Rule::AuthInTransaction,
            Op::Auth => Rule::AuthInSequence,
            Op::StartTls => Rule::StartTls,
            Op::Quit => Rule::Quit,
        })
    }

    /// Follows the server's reply to `op`. `last` is the reply that ended
    /// the command's exchange when there was more than one: the reply after
    /// the message data for DATA (when the first was 354), the reply to `*`
    /// for an AUTH challenge (334).
    pub fn observe(&mut self, op: Op, rule: Rule, first: &Reply, last: Option<&Reply>) {
        let code = last.map_or(first.code, |r| r.code);
        if first.code == 421 || code == 421 {
            self.ended = true;
            return;
        }
        let positive = first.class() == 2;
        match op {
            Op::Ehlo | Op::Helo if positive => {
                // 4.1.1.1: a 250 to EHLO/HELO means the initial state.
                self.greeted = if op == Op::Ehlo {
                    Greeted::Ehlo(Extensions::from_ehlo(first))
                } else {
                    Greeted::Helo
                };
                self.reset();
            }
            Op::Mail if positive => {
                self.tx = Some(Transaction::default());
                self.after_bdat_last = false;
            }
            Op::RcptKnown | Op::RcptUnknown => {
                // A RCPT the server accepted without MAIL: follow the server.
                if positive && self.tx.is_none() {
                    self.tx = Some(Transaction::default());
                }
                if let Some(tx) = &mut self.tx {
                    tx.attempts += 1;
                    tx.accepted += usize::from(positive);
                    tx.saw_452 |= first.code == 452;
                }
            }
            Op::Data if first.code == 354 => {
                // After the end-of-data reply, success or not, the
                // transaction is over (4.1.1.4).
                self.tx = None;
                self.after_bdat_last = false;
            }
            Op::Data if rule == Rule::DataAfterBdat => self.indeterminate = true,
            Op::BdatChunk | Op::BdatLast if positive => {
                if op == Op::BdatLast {
                    self.tx = None;
                    self.after_bdat_last = true;
                } else {
                    self.tx.get_or_insert_with(Transaction::default).bdat_chunks += 1;
                }
            }
            // RFC 3030 2: the state after a failed BDAT is indeterminate.
            Op::BdatChunk | Op::BdatLast => self.indeterminate = true,
            Op::Rset if positive => self.reset(),
            Op::Auth if code == 235 => self.authenticated = true,
            Op::StartTls if first.code == 220 => self.ended = true,
            Op::Quit => self.ended = true,
            _ => {}
        }
    }

    fn reset(&mut self) {
        self.tx = None;
        self.after_bdat_last = false;
        self.indeterminate = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply {
            code,
            enhanced: None,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            bare_lf: false,
        }
    }

    /// Plays `(op, code)` pairs, each with the server's reply code; EHLO
    /// replies advertise CHUNKING and AUTH PLAIN.
    fn after(history: &[(Op, u16)]) -> Model {
        let mut m = Model::new();
        for &(op, code) in history {
            let rule = m.predict(op).expect("op allowed in the test history");
            let first = if matches!(op, Op::Ehlo) && code == 250 {
                reply(250, &["mx", "CHUNKING", "AUTH PLAIN"])
            } else {
                reply(code, &["text"])
            };
            let last = (op == Op::Data && code == 354).then(|| reply(250, &["queued"]));
            m.observe(op, rule, &first, last.as_ref());
        }
        m
    }

    use Op::*;

    #[rstest]
    // 3.3: RCPT without MAIL MUST get 503.
    #[case::rcpt_first(&[], RcptKnown, Rule::RcptWithoutMail)]
    #[case::rcpt_after_ehlo(&[(Ehlo, 250)], RcptKnown, Rule::RcptWithoutMail)]
    // A rejected MAIL opens no transaction.
    #[case::rcpt_after_rejected_mail(&[(Ehlo, 250), (Mail, 550)], RcptKnown, Rule::RcptWithoutMail)]
    #[case::rcpt_in_tx(&[(Ehlo, 250), (Mail, 250)], RcptUnknown, Rule::RcptInTransaction)]
    // 4.1.1.1: MAIL before EHLO breaks a client MUST: NON-STRICT.
    #[case::mail_first(&[], Mail, Rule::MailBeforeGreeting)]
    // The server accepted it: the model follows, RCPT is now in sequence.
    #[case::rcpt_after_accepted_early_mail(&[(Mail, 250)], RcptKnown, Rule::RcptInTransaction)]
    #[case::nested_mail(&[(Helo, 250), (Mail, 250)], Mail, Rule::NestedMail)]
    #[case::mail_after_rejected_ehlo(&[(Ehlo, 501)], Mail, Rule::MailBeforeGreeting)]
    // 4.1.4: EHLO in the middle of a transaction resets it.
    #[case::ehlo_resets(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250), (Ehlo, 250)], RcptKnown, Rule::RcptWithoutMail)]
    #[case::helo_resets(&[(Ehlo, 250), (Mail, 250), (Helo, 250)], Mail, Rule::MailInSequence)]
    // 4.1.4: a rejected EHLO leaves the state as it was.
    #[case::rejected_ehlo_keeps_tx(&[(Ehlo, 250), (Mail, 250), (Ehlo, 501)], RcptKnown, Rule::RcptInTransaction)]
    #[case::rset_keeps_greeting(&[(Ehlo, 250), (Mail, 250), (Rset, 250)], Mail, Rule::MailInSequence)]
    // 3.3: DATA after only-rejected recipients may get 503 or 554.
    #[case::data_only_rejected(&[(Ehlo, 250), (Mail, 250), (RcptUnknown, 550)], Data, Rule::DataWithoutRecipients)]
    #[case::data_no_mail(&[(Ehlo, 250)], Data, Rule::DataWithoutMail)]
    #[case::data_ok(&[(Ehlo, 250), (Mail, 250), (RcptUnknown, 550), (RcptKnown, 250)], Data, Rule::DataInSequence)]
    #[case::data_after_452(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250), (RcptKnown, 452)], Data, Rule::DataAfter452)]
    // The transaction ends with the end of data.
    #[case::after_data(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250), (Data, 354)], RcptKnown, Rule::RcptWithoutMail)]
    #[case::mail_after_data(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250), (Data, 354)], Mail, Rule::MailInSequence)]
    // 4.1.4: NOOP, HELP, EXPN, VRFY, RSET before EHLO SHOULD not get 503.
    #[case::noop_first(&[], Noop, Rule::AnyTimeBeforeGreeting)]
    #[case::vrfy_first(&[], Vrfy, Rule::AnyTimeBeforeGreeting)]
    #[case::rset_first(&[], Rset, Rule::Rset)]
    #[case::help_later(&[(Ehlo, 250), (Mail, 250)], Help, Rule::AnyTime)]
    // RFC 3030 2.
    #[case::bdat_no_mail(&[(Ehlo, 250)], BdatLast, Rule::BdatWithoutMail)]
    #[case::bdat_ok(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250)], BdatChunk, Rule::BdatInSequence)]
    #[case::rcpt_after_bdat(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250), (BdatChunk, 250)], RcptUnknown, Rule::RcptAfterBdat)]
    #[case::data_after_bdat(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250), (BdatChunk, 250)], Data, Rule::DataAfterBdat)]
    #[case::bdat_after_last(&[(Ehlo, 250), (Mail, 250), (RcptKnown, 250), (BdatLast, 250)], BdatLast, Rule::BdatAfterLast)]
    #[case::failed_bdat(&[(Ehlo, 250), (Mail, 250), (BdatChunk, 554)], RcptKnown, Rule::Indeterminate)]
    #[case::rset_after_failed_bdat(&[(Ehlo, 250), (Mail, 250), (BdatChunk, 554), (Rset, 250)], RcptKnown, Rule::RcptWithoutMail)]
    // RFC 4954 4.
    #[case::auth_ok(&[(Ehlo, 250)], Auth, Rule::AuthInSequence)]
    #[case::auth_in_tx(&[(Ehlo, 250), (Mail, 250)], Auth, Rule::AuthInTransaction)]
    #[case::auth_twice(&[(Ehlo, 250), (Auth, 235), (Rset, 250)], Auth, Rule::AuthAfterAuth)]
    #[case::auth_failed(&[(Ehlo, 250), (Auth, 535)], Auth, Rule::AuthInSequence)]
    #[case::quit(&[(Ehlo, 250), (Mail, 250)], Quit, Rule::Quit)]
    fn predictions(#[case] history: &[(Op, u16)], #[case] op: Op, #[case] rule: Rule) {
        assert_eq!(after(history).predict(op), Some(rule));
    }

    #[test]
    fn extension_commands_wait_for_their_keyword() {
        // Not before EHLO, not after HELO, not when EHLO lacks the keyword.
        assert_eq!(Model::new().predict(BdatLast), None);
        assert_eq!(after(&[(Helo, 250)]).predict(Auth), None);
        assert_eq!(after(&[(Ehlo, 250)]).predict(StartTls), None);
        assert_eq!(
            after(&[(Ehlo, 250)]).predict(BdatLast),
            Some(Rule::BdatWithoutMail)
        );
    }

    #[test]
    fn ending_replies_end_the_session() {
        assert!(after(&[(Ehlo, 421)]).ended);
        assert!(after(&[(Ehlo, 250), (Quit, 221)]).ended);
        assert!(!after(&[(Ehlo, 250), (Noop, 250)]).ended);
        let mut m = Model::new();
        m.greeted = Greeted::Ehlo(Extensions::from_ehlo(&reply(250, &["mx", "STARTTLS"])));
        m.observe(StartTls, Rule::StartTls, &reply(220, &["go"]), None);
        assert!(m.ended, "a 220 to STARTTLS ends the plaintext session");
    }

    #[rstest]
    #[case::must_503_got_250(Rule::RcptWithoutMail, 250, Some(Grade::Fail))]
    #[case::must_503_got_502(Rule::RcptWithoutMail, 502, Some(Grade::Fail))]
    #[case::must_503_got_503(Rule::RcptWithoutMail, 503, None)]
    #[case::should_503_got_250(Rule::MailBeforeGreeting, 250, Some(Grade::NonStrict))]
    #[case::in_sequence_got_503(Rule::MailInSequence, 503, Some(Grade::Fail))]
    #[case::in_sequence_got_550(Rule::RcptInTransaction, 550, None)]
    #[case::before_ehlo_noop_503(Rule::AnyTimeBeforeGreeting, 503, Some(Grade::NonStrict))]
    #[case::either_503(Rule::DataWithoutRecipients, 503, None)]
    #[case::either_554(Rule::DataWithoutRecipients, 554, None)]
    // 3.8: 421 may answer anything.
    #[case::shutdown(Rule::RcptWithoutMail, 421, None)]
    fn judging(#[case] rule: Rule, #[case] code: u16, #[case] grade: Option<Grade>) {
        assert_eq!(rule.judge(code), grade);
    }

    #[test]
    fn every_rule_cites_a_clause_and_has_a_unique_id() {
        let mut ids = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            assert!(!rule.clauses().is_empty(), "{rule}");
            assert!(ids.insert(rule.id()), "{rule}");
            // Either-rules are never graded; the others are MUST or SHOULD.
            assert_eq!(
                rule.expect() == Expect::Either,
                rule.level() == Level::May,
                "{rule}"
            );
        }
    }
}
