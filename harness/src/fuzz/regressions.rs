//! Failing cases kept for next time, in proptest's regression-file format:
//! one `cc <64 hex digits> # shrinks to [EHLO, MAIL, ...]` line per case.
//!
//! The seed is the case's ChaCha seed (see [`super::strategy::case_seed`]),
//! so a saved case regenerates its original sequence from the strategy and
//! is shrunk again; the comment shows what it shrank to when it was saved.
//! The file is read with proptest's own [`PersistedSeed`] parser, so it stays
//! interchangeable with proptest's `FileFailurePersistence` files.

use std::io::{self, Write};
use std::path::Path;

use proptest::test_runner::PersistedSeed;

use super::op::Sequence;

const HEADER: &str = "\
# Seeds for failure cases smtp-harness fuzz has found (proptest regression format).
# Each is replayed before any new case. Check this file in to source control so
# everyone who runs the fuzzer against this target benefits.
# Written by `smtp-harness fuzz`; see docs/fuzzing.md.
";

/// A regression file that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct RegressionError {
    /// The file.
    pub path: String,
    /// What went wrong.
    pub source: io::Error,
}

/// Reads the seeds of `path`; a missing file has none. Lines that are not
/// ChaCha seeds (comments, other algorithms) are skipped.
pub fn load(path: &Path) -> Result<Vec<[u8; 32]>, RegressionError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(RegressionError {
                path: path.display().to_string(),
                source,
            });
        }
    };
    Ok(text.lines().filter_map(parse_line).collect())
}

fn parse_line(line: &str) -> Option<[u8; 32]> {
    let seed = line.split('#').next()?.trim();
    // Let proptest validate the format, then read the bytes back.
    let persisted: PersistedSeed = seed.parse().ok()?;
    let text = persisted.to_string();
    let hex = text.strip_prefix("cc ")?;
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The line for one seed.
pub fn seed_line(seed: &[u8; 32], shrunk: &Sequence) -> String {
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    format!("cc {hex} # shrinks to {shrunk:?}")
}

/// Appends `seed` unless the file has it already; creates the file (and its
/// folder) with proptest's header when missing. Returns whether it was added.
pub fn save(path: &Path, seed: &[u8; 32], shrunk: &Sequence) -> Result<bool, RegressionError> {
    let err = |source| RegressionError {
        path: path.display().to_string(),
        source,
    };
    if load(path)?.contains(seed) {
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    let mut text = String::new();
    if new {
        text.push_str(HEADER);
    }
    text.push_str(&seed_line(seed, shrunk));
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(err)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::op::Op;

    #[test]
    fn saved_seeds_load_back_once() {
        let dir = std::env::temp_dir().join(format!("smtp-harness-regr-{}", std::process::id()));
        let path = dir.join("sub/t.proptest-regressions");
        let _ = std::fs::remove_dir_all(&dir);
        let seq = Sequence(vec![Op::Ehlo, Op::RcptKnown]);
        let a = [7u8; 32];
        let mut b = [0u8; 32];
        b[31] = 0xab;
        assert_eq!(load(&path).unwrap(), Vec::<[u8; 32]>::new());
        assert!(save(&path, &a, &seq).unwrap());
        assert!(save(&path, &b, &seq).unwrap());
        assert!(!save(&path, &a, &seq).unwrap(), "no duplicate lines");
        assert_eq!(load(&path).unwrap(), vec![a, b]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Seeds"), "{text}");
        assert!(text.contains("# shrinks to [EHLO, RCPT]"), "{text}");
        assert_eq!(text.matches("\ncc ").count(), 2, "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn other_lines_are_skipped() {
        assert_eq!(parse_line("# a comment"), None);
        assert_eq!(parse_line("xs 00112233445566778899aabbccddeeff"), None);
        assert_eq!(parse_line("cc 12"), None);
        let line = format!("cc {} # x", "01".repeat(32));
        assert_eq!(parse_line(&line), Some([1u8; 32]));
    }
}
