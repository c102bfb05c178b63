//! Target profiles: where the server under test listens and which names it
//! knows, so one suite runs against any server. Loaded from TOML
//! (`fixtures/targets/*.toml`); the defaults fit the reference server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth;
use crate::tls::{TlsClientSettings, TlsMode};

/// The user name the reference server knows by default (`{user}`).
pub const REFERENCE_USER: &str = "alice";
/// The reference server's mailing list, for EXPN.
pub const REFERENCE_LIST: &str = "staff@example.test";
/// The reference server's SIZE limit (`ServerConfig::max_message_size`).
pub const REFERENCE_SIZE_LIMIT: u64 = 10 * 1024 * 1024;
/// A recipient in the reference server's null-MX domain (RFC 7504 4: 556).
pub const REFERENCE_NOMAIL_RCPT: &str = "someone@nomail.example.test";
/// Its password (`{password}`); a test credential, public on purpose.
pub const REFERENCE_PASSWORD: &str = "wonderland-4954";
/// The reference server's hostname, the default TLS server name.
pub const REFERENCE_HOSTNAME: &str = "mx.example.test";

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
    /// The server's fixed maximum message size in octets (RFC 1870 SIZE):
    /// `{size_limit}` and `{size_over}` (one more); boundary scenarios are
    /// skipped when it is not set.
    pub size_limit: Option<u64>,
    /// Deadline for each reply, in seconds.
    pub read_timeout_secs: u64,
    /// Deadline for opening a connection, in seconds.
    pub connect_timeout_secs: u64,
    /// Deadline for a whole scenario, in seconds.
    pub scenario_timeout_secs: u64,
    /// Extra transcript normalisation rules for snapshots (`[[normalize]]`
    /// tables); see [`crate::report::normalize`].
    pub normalize: Vec<crate::report::normalize::RuleSpec>,
    /// How connections are opened: `none`, `starttls` (plain TCP; scenarios
    /// upgrade with `T: starttls`) or `implicit` (TLS from the first octet).
    pub tls: TlsMode,
    /// Verify the server's certificate and name; off for self-signed test servers.
    pub tls_verify: bool,
    /// Name sent as SNI and verified; default: the host of `address`, or
    /// the reference server's hostname.
    pub tls_sni: Option<String>,
    /// PEM file of trust anchors for `tls_verify`; default: the Mozilla roots.
    pub tls_ca: Option<PathBuf>,
    /// User name for AUTH: `{user}`.
    pub user: Option<String>,
    /// Password for AUTH: `{password}`; never shown in transcripts.
    pub password: Option<String>,
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
            list: Some(REFERENCE_LIST.into()),
            rcpt_nomail: Some(REFERENCE_NOMAIL_RCPT.into()),
            size_limit: Some(REFERENCE_SIZE_LIMIT),
            read_timeout_secs: 10,
            connect_timeout_secs: 5,
            scenario_timeout_secs: 60,
            normalize: Vec::new(),
            tls: TlsMode::Starttls,
            tls_verify: false,
            tls_sni: None,
            tls_ca: None,
            user: Some(REFERENCE_USER.into()),
            password: Some(REFERENCE_PASSWORD.into()),
            waivers: Vec::new(),
        }
    }
}

/// A profile file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read {path}")]
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

/// A TOML error as `line L, column C: message`, without the quoted source
/// line the parser would add: that line may hold a password.
fn toml_error_without_source(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {}", error.message())
        }
        None => error.message().to_string(),
    }
}

impl Profile {
    /// Loads a profile from a TOML file; missing fields keep their defaults.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut profile: Profile = toml::from_str(&text).map_err(|e| ProfileError::Parse {
            path: path.display().to_string(),
            message: toml_error_without_source(&text, &e),
        })?;
        profile.validate().map_err(|message| ProfileError::Parse {
            path: path.display().to_string(),
            message,
        })?;
        // A relative CA file is found beside the profile, not the caller.
        if let (Some(ca), Some(dir)) = (&profile.tls_ca, path.parent())
            && ca.is_relative()
        {
            profile.tls_ca = Some(dir.join(ca));
        }
        Ok(profile)
    }

    /// Rejects settings that cannot work, such as a zero timeout.
    pub fn validate(&self) -> Result<(), String> {
        for (name, secs) in [
            ("read_timeout_secs", self.read_timeout_secs),
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("scenario_timeout_secs", self.scenario_timeout_secs),
        ] {
            if secs == 0 {
                return Err(format!("{name} must be at least 1 second"));
            }
        }
        Ok(())
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
            "user" => return self.user.clone(),
            "password" => return self.password.clone(),
            "auth_plain" => auth::plain_response(self.user.as_ref()?, self.password.as_ref()?),
            "auth_login_user" => auth::encode(self.user.as_ref()?.as_bytes()),
            "auth_login_password" => auth::encode(self.password.as_ref()?.as_bytes()),
            "rcpt_nomail" => return self.rcpt_nomail.clone().filter(|r| !r.is_empty()),
            "size_limit" => return self.size_limit.map(|n| n.to_string()),
            "size_over" => return self.size_limit.map(|n| (n + 1).to_string()),
            _ => return None,
        })
    }

    /// Drops the values only the reference server knows (its credentials,
    /// its null-MX domain, its mailing list and its SIZE limit), if that is what the profile holds: another server
    /// does not know them, so its AUTH and 556 scenarios should be
    /// UNSUPPORTED, not FAIL.
    pub fn drop_reference_only_values(&mut self) {
        if self.user.as_deref() == Some(REFERENCE_USER)
            && self.password.as_deref() == Some(REFERENCE_PASSWORD)
        {
            self.user = None;
            self.password = None;
        }
        // Likewise the reference server's null-MX domain means nothing elsewhere.
        if self.rcpt_nomail.as_deref() == Some(REFERENCE_NOMAIL_RCPT) {
            self.rcpt_nomail = None;
        }
        if self.size_limit == Some(REFERENCE_SIZE_LIMIT) {
            self.size_limit = None;
        }
        if self.list.as_deref() == Some(REFERENCE_LIST) {
            self.list = None;
        }
    }

    /// Every secret value the profile can put on the wire: the password and
    /// its encodings. Transcripts redact them.
    pub fn secrets(&self) -> Vec<String> {
        crate::scenario::SECRET_VARIABLES
            .iter()
            .filter_map(|v| self.var(v))
            .collect()
    }

    /// The TLS client settings this profile asks for.
    pub fn tls_settings(&self) -> TlsClientSettings {
        let server_name = self.tls_sni.clone().unwrap_or_else(|| {
            self.address
                .as_deref()
                .and_then(host_of)
                .unwrap_or(REFERENCE_HOSTNAME)
                .to_string()
        });
        TlsClientSettings {
            verify: self.tls_verify,
            server_name,
            ca_file: self.tls_ca.clone(),
        }
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

/// The host of `host:port` or `[v6]:port`.
fn host_of(address: &str) -> Option<&str> {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split_once(']').map(|(host, _)| host);
    }
    address.rsplit_once(':').map(|(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{COMPUTED_VARIABLES, VARIABLES};

    #[test]
    fn a_malformed_password_line_is_not_echoed_in_the_error() {
        let dir = std::env::temp_dir().join(format!("smtp-harness-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.toml");
        std::fs::write(&path, "name = \"x\"\npassword = hunter2-secret\n").unwrap();
        let text = Profile::load(&path).unwrap_err().to_string();
        assert!(text.contains("line 2, column 12"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        std::fs::write(&path, "read_timeout_secs = 0\n").unwrap();
        let text = Profile::load(&path).unwrap_err().to_string();
        assert!(
            text.contains("read_timeout_secs must be at least 1 second"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn size_variables_follow_the_limit_and_stay_with_the_reference() {
        let mut p: Profile = toml::from_str("size_limit = 1000\n").unwrap();
        assert_eq!(p.var("size_limit").as_deref(), Some("1000"));
        assert_eq!(p.var("size_over").as_deref(), Some("1001"));
        p.drop_reference_only_values();
        assert_eq!(
            p.size_limit,
            Some(1000),
            "a limit the profile states is kept"
        );
        let mut reference = Profile::default();
        reference.drop_reference_only_values();
        assert_eq!(
            reference.var("size_over"),
            None,
            "the reference limit means nothing elsewhere"
        );
    }

    #[test]
    fn default_profile_defines_every_variable() {
        let p = Profile::default();
        // Optional variables a server need not have: RFC 7504's null-MX domain.
        for (name, _) in VARIABLES {
            if !COMPUTED_VARIABLES.contains(name) {
                assert!(p.var(name).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn auth_variables_encode_the_credentials() {
        let p: Profile = toml::from_str("user = \"tim\"\npassword = \"pw\"\n").unwrap();
        // RFC 4616 2: NUL tim NUL pw.
        assert_eq!(p.var("auth_plain").as_deref(), Some("AHRpbQBwdw=="));
        assert_eq!(p.var("auth_login_user").as_deref(), Some("dGlt"));
        assert_eq!(p.var("auth_login_password").as_deref(), Some("cHc="));
        assert_eq!(p.secrets(), ["pw", "AHRpbQBwdw==", "cHc="]);
        let anonymous: Profile = toml::from_str("user = \"tim\"\n").unwrap();
        let anonymous = Profile {
            password: None,
            ..anonymous
        };
        assert_eq!(anonymous.var("auth_plain"), None);
        assert!(anonymous.secrets().is_empty());
    }

    #[test]
    fn reference_credentials_are_dropped_for_other_servers_only() {
        let mut p = Profile::default();
        p.drop_reference_only_values();
        assert_eq!((p.user, p.password), (None, None));
        let mut p: Profile = toml::from_str("user = \"bob\"\npassword = \"x\"\n").unwrap();
        p.drop_reference_only_values();
        assert_eq!(p.user.as_deref(), Some("bob"));
    }

    #[test]
    fn tls_fields_parse_and_the_server_name_defaults_to_the_host() {
        let p: Profile = toml::from_str(
            "address = \"smtp.example.net:465\"\ntls = \"implicit\"\ntls_verify = true\n",
        )
        .unwrap();
        assert_eq!(p.tls, TlsMode::Implicit);
        let s = p.tls_settings();
        assert!(s.verify);
        assert_eq!(s.server_name, "smtp.example.net");
        let p: Profile =
            toml::from_str("address = \"[::1]:25\"\ntls_sni = \"mx.example.test\"\n").unwrap();
        assert_eq!(p.tls, TlsMode::Starttls);
        assert_eq!(p.tls_settings().server_name, "mx.example.test");
        assert_eq!(host_of("[::1]:25"), Some("::1"));
        assert!(toml::from_str::<Profile>("tls = \"ssl\"\n").is_err());
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
