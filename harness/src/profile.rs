//! Target profiles: where the server under test listens and which names it
//! knows, so one suite runs against any server. Loaded from TOML
//! (`fixtures/targets/*.toml`); the defaults fit the reference server.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// A target profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    /// A short name used in reports.
    pub name: String,
    /// `host:port` of the server; `None` means the embedded reference server.
    pub address: Option<String>,
    /// Name the client gives in EHLO/HELO: `{client}`.
    pub client: String,
    /// A domain the server accepts mail for: `{domain}`.
    pub domain: String,
    /// An accepted reverse-path: `{sender}`.
    pub sender: String,
    /// An accepted recipient: `{rcpt}`.
    pub rcpt: String,
    /// A second accepted recipient: `{rcpt2}`.
    pub rcpt2: String,
    /// A recipient in an accepted domain that the server rejects: `{rcpt_unknown}`.
    pub rcpt_unknown: String,
    /// A recipient in a domain the server does not relay to: `{rcpt_relay}`.
    pub rcpt_relay: String,
    /// A mailing list EXPN expands: `{list}`; scenarios that need it are
    /// skipped when it is not set.
    pub list: Option<String>,
    /// A recipient in a domain that accepts no mail (null MX, RFC 7504):
    /// `{rcpt_nomail}`; scenarios that need it are skipped when it is not set.
    pub rcpt_nomail: Option<String>,
    /// Deadline for each reply, in seconds.
    pub read_timeout_secs: u64,
    /// Deadline for opening a connection, in seconds.
    pub connect_timeout_secs: u64,
    /// Deadline for a whole scenario, in seconds.
    pub scenario_timeout_secs: u64,
    /// Scenarios whose result is accepted for this target: each `[[waiver]]`
    /// table names a scenario id (or a glob) and the reason. A waived
    /// scenario keeps its real grade but does not make the run fail.
    #[serde(rename = "waiver")]
    pub waivers: Vec<Waiver>,
}

/// An accepted deviation: `[[waiver]] id = "...", reason = "..."`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The scenario id, exactly, or a glob with `*`/`?`.
    pub id: String,
    /// Why the deviation is accepted, shown beside the grade.
    pub reason: String,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "reference".into(),
            address: None,
            client: "client.example.test".into(),
            domain: "example.test".into(),
            sender: "sender@example.test".into(),
            rcpt: "alice@example.test".into(),
            rcpt2: "postmaster@example.test".into(),
            rcpt_unknown: "nobody@example.test".into(),
            rcpt_relay: "someone@elsewhere.invalid".into(),
            list: Some("staff@example.test".into()),
            rcpt_nomail: None,
            read_timeout_secs: 10,
            connect_timeout_secs: 5,
            scenario_timeout_secs: 60,
            waivers: Vec::new(),
        }
    }
}

/// A profile file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
}

impl Profile {
    /// Loads a profile from a TOML file; missing fields keep their defaults.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ProfileError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The value of a scenario variable, if the profile defines it.
    pub fn var(&self, name: &str) -> Option<String> {
        Some(match name {
            "client" => self.client.clone(),
            "domain" => self.domain.clone(),
            "sender" => self.sender.clone(),
            "rcpt" => self.rcpt.clone(),
            "rcpt2" => self.rcpt2.clone(),
            "rcpt_unknown" => self.rcpt_unknown.clone(),
            "rcpt_relay" => self.rcpt_relay.clone(),
            "list" => return self.list.clone().filter(|l| !l.is_empty()),
            "rcpt_nomail" => return self.rcpt_nomail.clone().filter(|r| !r.is_empty()),
            _ => return None,
        })
    }

    /// The waiver that applies to scenario `id`, if any (the first that matches).
    pub fn waiver(&self, id: &str) -> Option<&Waiver> {
        self.waivers
            .iter()
            .find(|w| crate::select::id_equals_or_glob(&w.id, id))
    }

    /// Waivers that match none of `ids`: probably stale or misspelt.
    pub fn unused_waivers<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Vec<&Waiver> {
        self.waivers
            .iter()
            .filter(|w| {
                !ids.clone()
                    .into_iter()
                    .any(|id| crate::select::id_equals_or_glob(&w.id, id))
            })
            .collect()
    }

    /// Deadline for each reply.
    pub fn read_timeout(&self) -> Duration {
        Duration::from_secs(self.read_timeout_secs)
    }

    /// Deadline for opening a connection.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// Deadline for a whole scenario.
    pub fn scenario_timeout(&self) -> Duration {
        Duration::from_secs(self.scenario_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::VARIABLES;

    #[test]
    fn default_profile_defines_every_variable() {
        let p = Profile::default();
        // Optional variables a server need not have: RFC 7504's null-MX domain.
        for (name, _) in VARIABLES.iter().filter(|(n, _)| *n != "rcpt_nomail") {
            assert!(p.var(name).is_some(), "{name}");
        }
        assert_eq!(p.var("rcpt_nomail"), None);
    }

    #[test]
    fn unknown_fields_are_rejected_with_a_position() {
        let err = toml::from_str::<Profile>("name = \"x\"\nrcpt_unknwon = \"a@b\"\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("rcpt_unknwon") && text.contains("line 2"),
            "{text}"
        );
    }

    #[test]
    fn waivers_are_read_and_matched_by_id_or_glob() {
        let p: Profile = toml::from_str(
            "[[waiver]]\nid = \"rfc5321/2.3.8-bare-lf\"\nreason = \"known\"\n\
             [[waiver]]\nid = \"smuggling/*\"\nreason = \"ticket 7\"\n",
        )
        .unwrap();
        assert_eq!(p.waivers.len(), 2);
        assert_eq!(p.waiver("rfc5321/2.3.8-bare-lf").unwrap().reason, "known");
        assert_eq!(p.waiver("smuggling/lf-dot-lf").unwrap().reason, "ticket 7");
        assert!(p.waiver("rfc5321/2.3.8-bare-lf-more").is_none());
        let unused = p.unused_waivers(["smuggling/x"]);
        assert_eq!(unused.len(), 1);
        assert_eq!(unused[0].id, "rfc5321/2.3.8-bare-lf");
    }

    #[test]
    fn a_waiver_needs_a_reason() {
        let err = toml::from_str::<Profile>("[[waiver]]\nid = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("reason"), "{err}");
    }

    #[test]
    fn missing_fields_keep_defaults() {
        let p: Profile = toml::from_str("address = \"127.0.0.1:2525\"\nlist = \"\"\n").unwrap();
        assert_eq!(p.address.as_deref(), Some("127.0.0.1:2525"));
        assert_eq!(p.rcpt, "alice@example.test");
    }
}
