//! SMTP AUTH (RFC 4954) encodings shared by the client side (scenario
//! variables) and the reference server: strict BASE64, SASL PLAIN
//! (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195). No I/O.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};

/// A SASL mechanism the harness and the reference server know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// PLAIN (RFC 4616): the password travels in the clear inside BASE64.
    Plain,
    /// LOGIN (draft-murchison-sasl-login): user name and password, each in
    /// its own BASE64 response; also a plaintext password mechanism.
    Login,
    /// CRAM-MD5 (RFC 2195): a keyed digest of a server challenge.
    CramMd5,
}

impl Mechanism {
    /// Every mechanism, in the order the reference server advertises them.
    pub const ALL: [Mechanism; 3] = [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5];

    /// The registered name, as in `AUTH PLAIN`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
        }
    }

    /// Parses a mechanism name, case-insensitively (RFC 4954 8).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Whether the password itself crosses the wire (only BASE64-encoded),
    /// so a server must not offer it without TLS (RFC 4954 4).
    pub fn is_plaintext_password(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// BASE64 as RFC 4954 4 wants it: the standard alphabet, with padding.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes BASE64 strictly (RFC 4954 4): any character outside the
/// alphabet, or `=` anywhere but at the end, is an error; so is
/// non-canonical padding. The empty string decodes to nothing.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// The PLAIN initial response (RFC 4616 2): BASE64 of
/// `authzid NUL authcid NUL passwd`, with an empty authorization identity.
pub fn plain_response(user: &str, password: &str) -> String {
    encode(format!("\0{user}\0{password}").as_bytes())
}

/// The parts of a decoded PLAIN message (RFC 4616 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// Authorization identity; empty when the client asks for its own.
    pub authzid: String,
    /// Authentication identity (the user name).
    pub authcid: String,
    /// The password.
    pub password: String,
}

/// Splits a decoded PLAIN message: exactly two NULs, UTF-8, and non-empty
/// authcid and passwd (`message = [authzid] UTF8NUL authcid UTF8NUL passwd`).
pub fn parse_plain(message: &[u8]) -> Option<PlainCredentials> {
    let text = std::str::from_utf8(message).ok()?;
    let mut parts = text.split('\0');
    let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || authcid.is_empty() || password.is_empty() {
        return None;
    }
    Some(PlainCredentials {
        authzid: authzid.into(),
        authcid: authcid.into(),
        password: password.into(),
    })
}

/// `hex(HMAC-MD5(password, challenge))` in lower case (RFC 2195 2).
pub fn cram_md5_digest(password: &str, challenge: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(password.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(challenge);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The CRAM-MD5 client response (RFC 2195 2): BASE64 of
/// `user SP hex-digest`, for the decoded server `challenge`.
pub fn cram_md5_response(user: &str, password: &str, challenge: &[u8]) -> String {
    encode(format!("{user} {}", cram_md5_digest(password, challenge)).as_bytes())
}

/// The CRAM-MD5 response to the challenge in a `334` reply's text, which is
/// BASE64 (RFC 4954 4). `None` when the text is not valid BASE64.
pub fn cram_md5_answer(user: &str, password: &str, reply_text: &str) -> Option<String> {
    let challenge = decode(reply_text.trim())?;
    Some(cram_md5_response(user, password, &challenge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The example exchange of RFC 2195 2.
    #[test]
    fn cram_md5_matches_rfc_2195_example() {
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(
            cram_md5_digest("tanstaaftanstaaf", challenge),
            "b913a602c7eda7a495b4e6e7334d3890"
        );
        assert_eq!(
            cram_md5_response("tim", "tanstaaftanstaaf", challenge),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
        assert_eq!(
            cram_md5_answer(
                "tim",
                "tanstaaftanstaaf",
                "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
            )
            .as_deref(),
            Some("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
        );
    }

    /// RFC 4954 4.1: `AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=` is authzid "test",
    /// authcid "test", password "1234".
    #[test]
    fn plain_round_trip_and_rfc_4954_example() {
        let decoded = decode("dGVzdAB0ZXN0ADEyMzQ=").unwrap();
        assert_eq!(
            parse_plain(&decoded),
            Some(PlainCredentials {
                authzid: "test".into(),
                authcid: "test".into(),
                password: "1234".into()
            })
        );
        let mine = decode(&plain_response("alice", "pw")).unwrap();
        assert_eq!(mine, b"\0alice\0pw");
        assert_eq!(parse_plain(&mine).unwrap().authcid, "alice");
    }

    #[rstest]
    #[case::one_nul(b"alice\0pw".as_slice())]
    #[case::three_nuls(b"\0alice\0pw\0".as_slice())]
    #[case::empty_user(b"\0\0pw".as_slice())]
    #[case::empty_password(b"\0alice\0".as_slice())]
    #[case::not_utf8(b"\0al\xffice\0pw".as_slice())]
    fn malformed_plain_is_refused(#[case] message: &[u8]) {
        assert_eq!(parse_plain(message), None);
    }

    /// RFC 4954 4: reject characters outside the alphabet and misplaced `=`.
    #[rstest]
    #[case("=AAA")]
    #[case("AAA=BBB")]
    #[case("AB C")]
    #[case("AB*C")]
    #[case("QQ")]
    fn strict_base64_rejects(#[case] text: &str) {
        assert_eq!(decode(text), None);
    }

    #[test]
    fn mechanisms_parse_case_insensitively() {
        assert_eq!(Mechanism::from_name("cram-md5"), Some(Mechanism::CramMd5));
        assert_eq!(Mechanism::from_name("Plain"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
        assert!(Mechanism::Login.is_plaintext_password());
        assert!(!Mechanism::CramMd5.is_plaintext_password());
    }
}
