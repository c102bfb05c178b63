//! SMTP smuggling: message data carrying a bare-LF/CR end marker
//! (`<LF>.<LF>`, `<CR>.<CR>`, ...) followed by smuggled `MAIL`/`RCPT`/`DATA`
//! commands and only then the real `<CRLF>.<CRLF>`.
//!
//! A scenario tagged [`TAG`] is written for the conforming server: exactly one
//! reply to the whole data block, then `221` to `QUIT`. When the server
//! answers with more replies than that, the runner reads the rest of them (up
//! to the `221`) and classifies the outcome:
//!
//! - [`Smuggling::NonConformant`]: the server ended the data at the bare
//!   marker (RFC 5321 4.1.1.4: `<LF>.<LF>` "MUST NOT be treated as
//!   equivalent to `<CRLF>.<CRLF>`"; 2.3.8), but every smuggled command was
//!   refused (only 4xx/5xx replies): a violation, not an injection.
//! - [`Smuggling::Exploitable`]: at least one smuggled command was executed
//!   (a 2xx or 3xx reply among the extra ones: a second transaction was
//!   opened, typically ending in a second `250` for a message the client
//!   never sent as one).

use std::fmt;

/// The tag that switches the smuggling rule on.
pub const TAG: &str = "smuggling";

/// What a smuggling scenario showed about a server that did not pass it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Smuggling {
    /// The bare marker ended the data, but the smuggled commands were refused.
    NonConformant,
    /// The smuggled commands were executed.
    Exploitable,
}

impl Smuggling {
    /// Classifies the replies that arrived beyond the expected one (codes in
    /// order, the reply to `QUIT` excluded). `None` when there were none:
    /// nothing was smuggled.
    pub fn classify(extra: &[u16]) -> Option<Smuggling> {
        if extra.is_empty() {
            None
        } else if extra.iter().any(|&c| (200..400).contains(&c)) {
            Some(Smuggling::Exploitable)
        } else {
            Some(Smuggling::NonConformant)
        }
    }

    /// The name as printed: `NON-CONFORMANT` or `EXPLOITABLE`.
    pub fn name(self) -> &'static str {
        match self {
            Smuggling::NonConformant => "NON-CONFORMANT",
            Smuggling::Exploitable => "EXPLOITABLE",
        }
    }

    /// One sentence for the report.
    pub fn explain(self, extra: &[u16]) -> String {
        let codes: Vec<String> = extra.iter().map(u16::to_string).collect();
        match self {
            Smuggling::NonConformant => format!(
                "NON-CONFORMANT: the server ended the data at the bare line-ending marker \
                 (RFC 5321 4.1.1.4 MUST NOT) and answered the smuggled commands, refusing \
                 them all (extra replies: {})",
                codes.join(" ")
            ),
            Smuggling::Exploitable => format!(
                "EXPLOITABLE: the server ended the data at the bare line-ending marker \
                 (RFC 5321 4.1.1.4 MUST NOT) and executed the smuggled commands \
                 (extra replies: {})",
                codes.join(" ")
            ),
        }
    }
}

impl fmt::Display for Smuggling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_extra_reply_is_no_smuggling() {
        assert_eq!(Smuggling::classify(&[]), None);
    }

    #[test]
    fn refused_smuggled_commands_are_only_non_conformant() {
        assert_eq!(
            Smuggling::classify(&[503, 503, 554]),
            Some(Smuggling::NonConformant)
        );
    }

    #[test]
    fn an_accepted_smuggled_command_is_exploitable() {
        // Postfix 3.7 with default settings: MAIL, RCPT, DATA, end of data.
        assert_eq!(
            Smuggling::classify(&[250, 250, 354, 250]),
            Some(Smuggling::Exploitable)
        );
        assert_eq!(
            Smuggling::classify(&[250, 550, 503]),
            Some(Smuggling::Exploitable)
        );
    }
}
