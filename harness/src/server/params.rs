//! ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 `esmtp-param`) for
//! the extensions the reference server offers: SIZE (RFC 1870), BODY
//! (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461) and
//! AUTH= (RFC 4954 5). Pure functions; each error carries its reply.

use super::syntax::parse_mailbox;

/// A parameter the server refuses, with the reply to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// Reply code.
    pub code: &'static str,
    /// Enhanced status (RFC 3463).
    pub status: &'static str,
    /// Reply text.
    pub text: String,
}

fn err(code: &'static str, status: &'static str, text: impl Into<String>) -> ParamError {
    ParamError {
        code,
        status,
        text: text.into(),
    }
}

fn syntax(text: impl Into<String>) -> ParamError {
    err("501", "5.5.4", text)
}

/// The BODY parameter value (RFC 6152 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Body {
    /// `7BIT`, the default.
    #[default]
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
}

/// The accepted MAIL parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// SIZE, the declared message size.
    pub size: Option<u64>,
    /// BODY.
    pub body: Body,
    /// SMTPUTF8 was given.
    pub smtputf8: bool,
    /// RET=FULL (true) or RET=HDRS (false).
    pub ret_full: Option<bool>,
    /// ENVID, decoded from xtext.
    pub envid: Option<String>,
    /// AUTH=, decoded from xtext: a mailbox or `<>`.
    pub auth: Option<String>,
}

/// The accepted RCPT parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// NOTIFY, upper-cased list.
    pub notify: Vec<String>,
    /// ORCPT as `addr-type;value`.
    pub orcpt: Option<String>,
}

/// Which MAIL parameters the session may accept.
#[derive(Debug, Clone, Copy)]
pub struct MailContext {
    /// The SIZE limit.
    pub max_size: u64,
    /// Whether AUTH is offered, so that `AUTH=` is known (RFC 4954 5).
    pub auth_offered: bool,
}

/// Splits `KEY=value` and checks the generic grammar of RFC 5321 4.1.2:
/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`,
/// `esmtp-value = 1*(%d33-60 / %d62-126)`, extended by UTF8-non-ascii
/// (RFC 6531 3.3). Returns the keyword upper-cased.
fn split(param: &str) -> Result<(String, Option<&str>), ParamError> {
    let (key, value) = match param.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (param, None),
    };
    let kb = key.as_bytes();
    let key_ok = !kb.is_empty()
        && kb[0].is_ascii_alphanumeric()
        && kb.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    if !key_ok {
        return Err(syntax(format!("Malformed parameter `{param}`")));
    }
    if let Some(v) = value {
        let value_ok = !v.is_empty()
            && v.bytes()
                .all(|c| ((33..=126).contains(&c) && c != b'=') || c >= 0x80);
        if !value_ok {
            return Err(syntax(format!("Malformed value in parameter `{param}`")));
        }
    }
    Ok((key.to_ascii_uppercase(), value))
}

/// Rejects a second use of one keyword: RFC 3461 4.5 for its parameters,
/// and generally, as RFC 5321 gives a keyword one meaning per command.
fn once(seen: &mut Vec<String>, key: &str) -> Result<(), ParamError> {
    if seen.iter().any(|k| k == key) {
        return Err(syntax(format!("Duplicate {key} parameter")));
    }
    seen.push(key.to_string());
    Ok(())
}

fn needs_value<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, ParamError> {
    value.ok_or_else(|| syntax(format!("{key} needs a value")))
}

/// Checks the MAIL parameters in order; the first bad one decides.
pub fn mail_params(params: &[String], ctx: MailContext) -> Result<MailParams, ParamError> {
    let mut out = MailParams::default();
    let mut seen = Vec::new();
    for param in params {
        let (key, value) = split(param)?;
        once(&mut seen, &key)?;
        match key.as_str() {
            "SIZE" => {
                let v = needs_value(&key, value)?;
                let size = v
                    .parse::<u64>()
                    .ok()
                    .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| syntax("SIZE needs a number (RFC 1870 3)"))?;
                if size > ctx.max_size {
                    return Err(err(
                        "552",
                        "5.3.4",
                        "Message size exceeds fixed maximum message size",
                    ));
                }
                out.size = Some(size);
            }
            "BODY" => {
                let v = needs_value(&key, value)?;
                out.body = if v.eq_ignore_ascii_case("7BIT") {
                    Body::SevenBit
                } else if v.eq_ignore_ascii_case("8BITMIME") {
                    Body::EightBitMime
                } else {
                    return Err(syntax("BODY must be 7BIT or 8BITMIME"));
                };
            }
            "SMTPUTF8" => {
                // RFC 6531 3.4: "it MUST not accept a value".
                if value.is_some() {
                    return Err(syntax("SMTPUTF8 takes no value (RFC 6531 3.4)"));
                }
                out.smtputf8 = true;
            }
            "RET" => {
                let v = needs_value(&key, value)?;
                out.ret_full = Some(if v.eq_ignore_ascii_case("FULL") {
                    true
                } else if v.eq_ignore_ascii_case("HDRS") {
                    false
                } else {
                    return Err(syntax("RET must be FULL or HDRS (RFC 3461 4.3)"));
                });
            }
            "ENVID" => {
                let v = needs_value(&key, value)?;
                let decoded = decode_xtext(v)
                    .filter(|d| d.len() <= 100 && is_printable_ascii(d))
                    .ok_or_else(|| {
                        syntax("ENVID must be xtext of at most 100 printable characters (RFC 3461 4.4)")
                    })?;
                out.envid = Some(String::from_utf8_lossy(&decoded).into_owned());
            }
            "AUTH" if ctx.auth_offered => {
                let v = needs_value(&key, value)?;
                let decoded = decode_xtext(v)
                    .and_then(|d| String::from_utf8(d).ok())
                    .filter(|d| d == "<>" || parse_mailbox(d).is_ok())
                    .ok_or_else(|| syntax("AUTH= must be an xtext mailbox or <> (RFC 4954 5)"))?;
                out.auth = Some(decoded);
            }
            _ => return Err(unrecognized(&key)),
        }
    }
    Ok(out)
}

/// A parameter this server does not know: 555 (RFC 5321 4.1.1.11).
fn unrecognized(key: &str) -> ParamError {
    err("555", "5.5.4", format!("{key} parameter not recognized"))
}

/// Checks the RCPT parameters: NOTIFY and ORCPT (RFC 3461 4.1, 4.2).
pub fn rcpt_params(params: &[String]) -> Result<RcptParams, ParamError> {
    let mut out = RcptParams::default();
    let mut seen = Vec::new();
    for param in params {
        let (key, value) = split(param)?;
        once(&mut seen, &key)?;
        match key.as_str() {
            "NOTIFY" => {
                let v = needs_value(&key, value)?;
                let words: Vec<String> = v.split(',').map(str::to_ascii_uppercase).collect();
                let valid = if words.iter().any(|w| w == "NEVER") {
                    // "the NEVER keyword MUST appear by itself" (4.1 a).
                    words.len() == 1
                } else {
                    words
                        .iter()
                        .all(|w| matches!(w.as_str(), "SUCCESS" | "FAILURE" | "DELAY"))
                };
                if !valid {
                    return Err(syntax(
                        "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1)",
                    ));
                }
                out.notify = words;
            }
            "ORCPT" => {
                let v = needs_value(&key, value)?;
                if !is_orcpt(v) {
                    return Err(syntax(
                        "ORCPT must be addr-type;xtext, at most 500 characters (RFC 3461 4.2)",
                    ));
                }
                out.orcpt = Some(v.to_string());
            }
            _ => return Err(unrecognized(&key)),
        }
    }
    Ok(out)
}

/// `orcpt-parameter = "ORCPT=" addr-type ";" xtext` (RFC 3461 4.2), the
/// whole parameter at most 500 characters. For `rfc822` the decoded
/// address must be printable US-ASCII; for `utf-8` (RFC 6533 3, which an
/// SMTPUTF8 server offering DSN must implement, RFC 6531 3.2) the value is
/// `utf-8-addr-xtext` or `utf-8-addr-unitext`.
fn is_orcpt(value: &str) -> bool {
    if "ORCPT=".len() + value.len() > 500 {
        return false;
    }
    let Some((addr_type, address)) = value.split_once(';') else {
        return false;
    };
    let atom = !addr_type.is_empty()
        && addr_type
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c));
    if !atom || address.is_empty() {
        return false;
    }
    if addr_type.eq_ignore_ascii_case("utf-8") {
        return is_utf8_addr_text(address);
    }
    match decode_xtext(address) {
        Some(decoded) => !addr_type.eq_ignore_ascii_case("rfc822") || is_printable_ascii(&decoded),
        None => false,
    }
}

/// `1*(QCHAR / QUCHAR / EmbeddedUnicodeChar)` of RFC 6533 3: printable
/// ASCII except `+`, `=`, `\`, or any non-ASCII character, or `\x{HEX}`.
fn is_utf8_addr_text(s: &str) -> bool {
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("\\x{") {
            let Some(end) = after.find('}') else {
                return false;
            };
            let hex = &after[..end];
            if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return false;
            }
            rest = &after[end + 1..];
            continue;
        }
        let ok = match c {
            '!'..='~' => !matches!(c, '+' | '=' | '\\'),
            c => !c.is_ascii() && !c.is_control(),
        };
        if !ok {
            return false;
        }
        rest = &rest[c.len_utf8()..];
    }
    !s.is_empty()
}

/// Decodes xtext (RFC 3461 4): `xchar` is `!`..`~` except `+` and `=`;
/// `hexchar` is `+` and two upper-case hex digits.
pub fn decode_xtext(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = b.get(i + 1..i + 3)?;
                if !hex
                    .iter()
                    .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))
                {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'=' => return None,
            c @ 33..=126 => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Printable (graphic and space) US-ASCII.
fn is_printable_ascii(b: &[u8]) -> bool {
    b.iter().all(|c| (32..=126).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const CTX: MailContext = MailContext {
        max_size: 1000,
        auth_offered: true,
    };

    fn strings(params: &[&str]) -> Vec<String> {
        params.iter().map(|p| p.to_string()).collect()
    }

    #[rstest]
    #[case(&["SIZE=1000"], None)]
    #[case(&["SIZE=1001"], Some("552"))]
    #[case(&["SIZE=abc"], Some("501"))]
    #[case(&["SIZE=+5"], Some("501"))]
    #[case(&["SIZE"], Some("501"))]
    #[case(&["BODY=8bitmime", "SMTPUTF8"], None)]
    #[case(&["BODY=BINARYMIME"], Some("501"))]
    #[case(&["SMTPUTF8=yes"], Some("501"))]
    #[case(&["RET=hdrs", "ENVID=QQ314159"], None)]
    #[case(&["RET=ALL"], Some("501"))]
    #[case(&["RET=FULL", "RET=HDRS"], Some("501"))]
    #[case(&["ENVID=a+2Bb"], None)]
    #[case(&["ENVID=a+2bb"], Some("501"))]
    #[case(&["ENVID=a+0Ab"], Some("501"))]
    #[case(&["ENVID=a", "envid=b"], Some("501"))]
    #[case(&["AUTH=<>"], None)]
    #[case(&["AUTH=e+3Dmc2@example.com"], None)]
    #[case(&["AUTH=not-a-mailbox"], Some("501"))]
    #[case(&["FOO=bar"], Some("555"))]
    #[case(&["-X"], Some("501"))]
    fn mail_parameters(#[case] params: &[&str], #[case] code: Option<&str>) {
        let got = mail_params(&strings(params), CTX);
        assert_eq!(got.as_ref().err().map(|e| e.code), code, "{got:?}");
    }

    #[test]
    fn auth_param_is_unknown_when_auth_is_not_offered() {
        let ctx = MailContext {
            auth_offered: false,
            ..CTX
        };
        assert_eq!(
            mail_params(&strings(&["AUTH=<>"]), ctx).unwrap_err().code,
            "555"
        );
    }

    #[rstest]
    #[case(&["NOTIFY=NEVER"], None)]
    #[case(&["NOTIFY=success,Failure,DELAY"], None)]
    #[case(&["NOTIFY=NEVER,SUCCESS"], Some("501"))]
    #[case(&["NOTIFY=SOMETIMES"], Some("501"))]
    #[case(&["NOTIFY=SUCCESS,"], Some("501"))]
    #[case(&["NOTIFY=NEVER", "NOTIFY=NEVER"], Some("501"))]
    #[case(&["ORCPT=rfc822;alice@example.test"], None)]
    #[case(&["ORCPT=rfc822;alice+2Bx@example.test"], None)]
    #[case(&["ORCPT=rfc822;alice+0D@example.test"], Some("501"))]
    #[case(&["ORCPT=alice@example.test"], Some("501"))]
    #[case(&["ORCPT=;alice@example.test"], Some("501"))]
    #[case(&["ORCPT=utf-8;j\\x{E9}r\\x{F4}me@example.test"], None)]
    #[case(&["ORCPT=utf-8;jérôme@example.test"], None)]
    #[case(&["ORCPT=utf-8;a\\x{}b"], Some("501"))]
    #[case(&["XFOO=1"], Some("555"))]
    fn rcpt_parameters(#[case] params: &[&str], #[case] code: Option<&str>) {
        let got = rcpt_params(&strings(params));
        assert_eq!(got.as_ref().err().map(|e| e.code), code, "{got:?}");
    }

    #[test]
    fn orcpt_is_limited_to_500_characters() {
        let long = format!("ORCPT=rfc822;{}@example.test", "a".repeat(474));
        assert_eq!(long.len(), 500);
        assert!(rcpt_params(&strings(&[&long])).is_ok());
        let longer = format!("ORCPT=rfc822;{}@example.test", "a".repeat(475));
        assert_eq!(rcpt_params(&strings(&[&longer])).unwrap_err().code, "501");
    }

    #[test]
    fn xtext_decodes_hexchars() {
        assert_eq!(decode_xtext("e+3Dmc2").unwrap(), b"e=mc2");
        assert_eq!(decode_xtext("+2"), None);
        assert_eq!(decode_xtext("a b"), None);
    }
}
