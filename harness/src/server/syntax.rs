//! Address and domain syntax of RFC 5321 4.1.2 and 4.1.3, with the size
//! limits of 4.5.3.1, for the reference server's strict checks.

/// Longest local-part, RFC 5321 4.5.3.1.1.
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain, RFC 5321 4.5.3.1.2.
pub const MAX_DOMAIN: usize = 255;
/// Longest reverse- or forward-path including the angle brackets, 4.5.3.1.3.
pub const MAX_PATH: usize = 256;

/// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str]`.
pub fn is_domain(s: &str) -> bool {
    is_domain_with(s, false)
}

/// With `utf8`, a sub-domain may also be a U-label (RFC 6531 3.3): here any
/// label whose non-ASCII characters sit among letters, digits and inner
/// hyphens (IDNA validity itself is not checked).
fn is_domain_with(s: &str, utf8: bool) -> bool {
    let let_dig = |c: u8| c.is_ascii_alphanumeric() || (utf8 && c >= 0x80);
    !s.is_empty()
        && s.len() <= MAX_DOMAIN
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && let_dig(b[0])
                && let_dig(b[b.len() - 1])
                && b.iter().all(|c| let_dig(*c) || *c == b'-')
        })
}

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
/// General-address-literal ) "]"` (4.1.3).
pub fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    if let Some(v6) = inner.strip_prefix("IPv6:") {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if inner.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent
    match inner.split_once(':') {
        Some((tag, content)) => {
            is_ldh(tag)
                && !content.is_empty()
                && content
                    .bytes()
                    .all(|c| (33..=90).contains(&c) || (94..=126).contains(&c))
        }
        None => false,
    }
}

fn is_ldh(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// `atext` of RFC 5322 3.2.3, as RFC 5321 4.1.2 uses it in `Atom`; with
/// `utf8`, also `UTF8-non-ascii` (RFC 6531 3.3). The text is already valid
/// UTF-8, so every octet from 0x80 up belongs to such a character.
fn is_atext(c: u8, utf8: bool) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c) || (utf8 && c >= 0x80)
}

/// `Local-part = Dot-string / Quoted-string`.
fn is_local_part(s: &str, utf8: bool) -> bool {
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        let mut bytes = inner.bytes();
        while let Some(c) = bytes.next() {
            match c {
                b'\\' => match bytes.next() {
                    Some(32..=126) => {}
                    _ => return false,
                },
                32 | 33 | 35..=91 | 93..=126 => {}
                0x80.. if utf8 => {}
                _ => return false,
            }
        }
        return s.len() >= 2;
    }
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(|c| is_atext(c, utf8)))
}

/// A parsed `Mailbox = Local-part "@" ( Domain / address-literal )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The local-part as written.
    pub local: String,
    /// The domain or address literal as written.
    pub domain: String,
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not a mailbox by the grammar.
    Syntax,
    /// Over one of the length limits of 4.5.3.1.
    TooLong,
}

/// Parses the inside of `<...>`: an optional source route (`@a,@b:`), which
/// servers MUST accept and SHOULD ignore (4.1.1.3), then a mailbox.
pub fn parse_mailbox(path: &str) -> Result<Mailbox, PathError> {
    parse_mailbox_with(path, false)
}

/// Like [`parse_mailbox`], with the internationalized syntax of RFC 6531
/// 3.3 (UTF-8 in local-parts and domains), for SMTPUTF8 transactions.
pub fn parse_mailbox_utf8(path: &str) -> Result<Mailbox, PathError> {
    parse_mailbox_with(path, true)
}

fn parse_mailbox_with(path: &str, utf8: bool) -> Result<Mailbox, PathError> {
    if path.len() + 2 > MAX_PATH {
        return Err(PathError::TooLong);
    }
    let mailbox = match path.strip_prefix('@') {
        Some(_) => {
            let (route, rest) = path.split_once(':').ok_or(PathError::Syntax)?;
            let valid_route = route
                .split(',')
                .all(|hop| hop.strip_prefix('@').is_some_and(is_domain));
            if !valid_route {
                return Err(PathError::Syntax);
            }
            rest
        }
        None => path,
    };
    let at = mailbox.rfind('@').ok_or(PathError::Syntax)?;
    let (local, domain) = (&mailbox[..at], &mailbox[at + 1..]);
    if !is_local_part(local, utf8) || !(is_domain_with(domain, utf8) || is_address_literal(domain))
    {
        if local.len() > MAX_LOCAL_PART {
            return Err(PathError::TooLong);
        }
        return Err(PathError::Syntax);
    }
    if local.len() > MAX_LOCAL_PART || domain.len() > MAX_DOMAIN {
        return Err(PathError::TooLong);
    }
    Ok(Mailbox {
        local: local.to_string(),
        domain: domain.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("example.test", true)]
    #[case("a-b.c1.test", true)]
    #[case("localhost", true)]
    #[case("-a.test", false)]
    #[case("a-.test", false)]
    #[case("a..test", false)]
    #[case("", false)]
    #[case("a_b.test", false)]
    fn domains(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(is_domain(s), ok);
    }

    #[rstest]
    #[case("[127.0.0.1]", true)]
    #[case("[IPv6:::1]", true)]
    #[case("[IPv6:2001:db8::1]", true)]
    #[case("[300.0.0.1]", false)]
    #[case("127.0.0.1", false)]
    #[case("[x-tag:stuff]", true)]
    fn literals(#[case] s: &str, #[case] ok: bool) {
        assert_eq!(is_address_literal(s), ok);
    }

    #[rstest]
    #[case("alice@example.test", Ok(("alice", "example.test")))]
    #[case("a.b+c@example.test", Ok(("a.b+c", "example.test")))]
    #[case("\"a b\"@example.test", Ok(("\"a b\"", "example.test")))]
    #[case("u@[127.0.0.1]", Ok(("u", "[127.0.0.1]")))]
    #[case("@relay.test,@r2.test:alice@example.test", Ok(("alice", "example.test")))]
    #[case("alice", Err(PathError::Syntax))]
    #[case("a..b@example.test", Err(PathError::Syntax))]
    #[case("alice@", Err(PathError::Syntax))]
    #[case("alice@exa mple.test", Err(PathError::Syntax))]
    #[case("@relay.test:", Err(PathError::Syntax))]
    fn mailboxes(#[case] s: &str, #[case] expected: Result<(&str, &str), PathError>) {
        let got = parse_mailbox(s);
        assert_eq!(
            got.as_ref().map(|m| (m.local.as_str(), m.domain.as_str())),
            expected.as_ref().map(|e| *e)
        );
    }

    #[rstest]
    #[case("用户@例子.广告", true)]
    #[case("josé@example.test", true)]
    #[case("\"jo sé\"@example.test", true)]
    #[case("alice@bücher.test", true)]
    #[case("alice@-bücher.test", false)]
    #[case("a..é@example.test", false)]
    fn utf8_mailboxes_need_the_utf8_grammar(#[case] s: &str, #[case] ok_with_utf8: bool) {
        assert_eq!(parse_mailbox_utf8(s).is_ok(), ok_with_utf8, "{s}");
        assert!(parse_mailbox(s).is_err(), "{s} is not ASCII");
    }

    #[test]
    fn length_limits_of_4_5_3_1() {
        let local64 = "a".repeat(64);
        assert!(parse_mailbox(&format!("{local64}@example.test")).is_ok());
        let local65 = "a".repeat(65);
        assert_eq!(
            parse_mailbox(&format!("{local65}@example.test")),
            Err(PathError::TooLong)
        );
        let long_domain = format!("{}.test", vec!["a".repeat(60); 5].join("."));
        assert_eq!(
            parse_mailbox(&format!("a@{long_domain}")),
            Err(PathError::TooLong)
        );
    }
}
