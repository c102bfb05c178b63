//! A record of everything that crossed the wire in one session: who sent
//! which bytes, and when, relative to the start of the session.

use std::time::Duration;

/// Which side an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Bytes the client (the harness) sent.
    Client,
    /// Bytes the server sent.
    Server,
    /// Something the harness observed that is not bytes: a timeout, a close, a TLS handshake.
    Note,
}

/// One write, one read, or one observation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Who sent it.
    pub direction: Direction,
    /// Time since the session started.
    #[serde(serialize_with = "as_millis")]
    pub at: Duration,
    /// The raw bytes (for notes, UTF-8 text).
    #[serde(serialize_with = "as_lossy_text")]
    pub bytes: Vec<u8>,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn as_lossy_text<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

/// The whole record of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Transcript {
    /// Entries in the order they happened.
    pub entries: Vec<Entry>,
}

/// Longest line shown when rendering; longer lines are cut with their length noted.
const RENDER_LINE_CAP: usize = 160;
/// Most lines of one entry shown in full; a longer entry shows its head and tail.
const RENDER_ENTRY_CAP: usize = 40;
/// Lines shown before the gap in a long entry.
const RENDER_ENTRY_HEAD: usize = 24;
/// Lines shown after the gap in a long entry.
const RENDER_ENTRY_TAIL: usize = 8;

impl Transcript {
    /// Adds an entry, merging it into the previous one when the same side
    /// sent again (reads arrive in arbitrary pieces).
    pub fn push(&mut self, direction: Direction, at: Duration, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(last) = self.entries.last_mut()
            && last.direction == direction
            && direction == Direction::Server
        {
            last.bytes.extend_from_slice(bytes);
            return;
        }
        self.entries.push(Entry {
            direction,
            at,
            bytes: bytes.to_vec(),
        });
    }

    /// Renders as `C: ` / `S: ` / `*  ` lines, in the style of RFC 5321
    /// Appendix D. CRLF ends a line; bare CR, bare LF and other control
    /// octets are shown escaped so smuggling attempts stay visible.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            let prefix = match entry.direction {
                Direction::Client => "C: ",
                Direction::Server => "S: ",
                Direction::Note => "*  ",
            };
            let lines = split_crlf_lines(&entry.bytes);
            let mut push = |line: &str| {
                out.push_str(prefix);
                out.push_str(line);
                out.push('\n');
            };
            if lines.len() <= RENDER_ENTRY_CAP {
                lines.iter().for_each(|l| push(&escape_line(l)));
                continue;
            }
            // A long message body: its head and tail are enough to read the
            // exchange, and reports and snapshots stay small.
            let (head, rest) = lines.split_at(RENDER_ENTRY_HEAD);
            let (skipped, tail) = rest.split_at(rest.len() - RENDER_ENTRY_TAIL);
            head.iter().for_each(|l| push(&escape_line(l)));
            let octets: usize = skipped.iter().map(|l| l.len() + 2).sum();
            push(&format!(
                "... {} lines ({octets} octets) not shown ...",
                skipped.len()
            ));
            tail.iter().for_each(|l| push(&escape_line(l)));
        }
        out
    }
}

/// Splits on CRLF only; a trailing piece without CRLF is kept and marked.
fn split_crlf_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\r' && bytes[i + 1] == b'\n' {
            lines.push(&bytes[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    if start < bytes.len() {
        lines.push(&bytes[start..]);
    }
    lines
}

/// Escapes control octets and cuts very long lines.
pub fn escape_line(line: &[u8]) -> String {
    let mut out = String::new();
    let shown = &line[..line.len().min(RENDER_LINE_CAP)];
    for ch in String::from_utf8_lossy(shown).chars() {
        match ch {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    if line.len() > RENDER_LINE_CAP {
        out.push_str(&format!("... ({} octets)", line.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_sides_and_escapes_bare_line_feeds() {
        let mut t = Transcript::default();
        t.push(Direction::Server, Duration::ZERO, b"220 hi\r\n");
        t.push(
            Direction::Client,
            Duration::ZERO,
            b"DATA\r\nbody\n.\nmore\r\n",
        );
        t.push(
            Direction::Note,
            Duration::ZERO,
            b"connection closed by server",
        );
        assert_eq!(
            t.render(),
            "S: 220 hi\nC: DATA\nC: body\\n.\\nmore\n*  connection closed by server\n"
        );
    }

    #[test]
    fn server_reads_in_pieces_merge_into_one_entry() {
        let mut t = Transcript::default();
        t.push(Direction::Server, Duration::ZERO, b"250-a\r\n2");
        t.push(Direction::Server, Duration::from_millis(1), b"50 b\r\n");
        assert_eq!(t.entries.len(), 1);
        assert_eq!(t.render(), "S: 250-a\nS: 250 b\n");
    }

    #[test]
    fn long_entries_show_head_and_tail() {
        let mut t = Transcript::default();
        let body: String = (0..100).map(|i| format!("line {i}\r\n")).collect();
        t.push(Direction::Client, Duration::ZERO, body.as_bytes());
        let text = t.render();
        assert_eq!(text.lines().count(), 24 + 1 + 8);
        assert!(
            text.contains("C: line 23\nC: ... 68 lines (612 octets) not shown ...\nC: line 92\n"),
            "{text}"
        );
        assert!(text.ends_with("C: line 99\n"));
    }

    #[test]
    fn long_lines_are_cut_with_their_length() {
        let mut t = Transcript::default();
        t.push(
            Direction::Client,
            Duration::ZERO,
            format!("NOOP {}\r\n", "x".repeat(600)).as_bytes(),
        );
        let text = t.render();
        assert!(text.ends_with("... (605 octets)\n"), "{text}");
    }
}
