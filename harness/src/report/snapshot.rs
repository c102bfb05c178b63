//! Snapshot mode for any target (`--snapshots DIR`): one small file per
//! scenario, `DIR/<scenario id>.snap`, holding the normalised transcript.
//!
//! The file format is insta's: a `---` header, then the body. Only the body
//! is compared, so the files insta writes for the reference server
//! (`snapshots/`) and the files written here are interchangeable.
//!
//! Modes:
//! - [`Mode::Record`] (`--snapshots DIR`): writes snapshots that do not
//!   exist yet; an existing one that differs is shown as a diff and fails
//!   the run, but is left alone.
//! - [`Mode::Check`] (`--check-snapshots`): writes nothing; a missing or
//!   different snapshot fails the run.
//! - [`Mode::Bless`] (`--bless`): rewrites every missing or different
//!   snapshot.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use similar::TextDiff;

use super::normalize::Normalizer;
use crate::runner::Verdict;

/// What to do with snapshots that are missing or differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write missing snapshots; report differences without overwriting.
    Record,
    /// Write nothing; missing and different snapshots fail.
    Check,
    /// Write missing and different snapshots.
    Bless,
}

/// A snapshot directory that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct SnapshotError {
    /// The file or folder.
    pub path: String,
    /// Why.
    pub source: std::io::Error,
}

/// What happened to each scenario's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Snapshots that matched.
    pub unchanged: Vec<String>,
    /// Scenarios with no snapshot yet, and whether it was written.
    pub new: Vec<(String, bool)>,
    /// Snapshots that differ: id, unified diff, and whether it was rewritten.
    pub changed: Vec<(String, String, bool)>,
}

impl Outcome {
    /// Whether the run fails: a difference or a missing snapshot that was not written.
    pub fn fails(&self) -> bool {
        self.new.iter().any(|(_, written)| !written)
            || self.changed.iter().any(|(_, _, written)| !written)
    }

    /// The diffs of changed snapshots, then a short summary listing what changed.
    pub fn text(&self, dir: &Path, mode: Mode) -> String {
        let mut out = String::new();
        for (_, diff, _) in &self.changed {
            out.push_str(diff);
            if !diff.ends_with('\n') {
                out.push('\n');
            }
        }
        let _ = writeln!(
            out,
            "snapshots in {}: {} unchanged, {} changed, {} new",
            dir.display(),
            self.unchanged.len(),
            self.changed.len(),
            self.new.len()
        );
        for (id, _, written) in &self.changed {
            let what = if *written { "rewritten" } else { "differs" };
            let _ = writeln!(out, "  changed ({what}): {id}");
        }
        for (id, written) in &self.new {
            let what = if *written { "written" } else { "missing" };
            let _ = writeln!(out, "  new ({what}): {id}");
        }
        if self.fails() {
            let hint = match mode {
                Mode::Check | Mode::Record => {
                    "review the diffs; accept them with --bless (same selection and target)"
                }
                Mode::Bless => "",
            };
            let _ = writeln!(out, "  {hint}");
        }
        out
    }
}

/// The file of a scenario: `dir/<id>.snap`.
pub fn path_for(dir: &Path, id: &str) -> PathBuf {
    // Not `set_extension`: ids such as `4.1.4-x` contain dots.
    let mut path = dir.to_path_buf();
    let (folders, name) = id.rsplit_once('/').unwrap_or(("", id));
    for part in folders.split('/').filter(|p| !p.is_empty()) {
        path.push(part);
    }
    path.push(format!("{name}.snap"));
    path
}

/// A whole snapshot file: an insta-style header, then the body.
pub fn file_text(description: &str, body: &str) -> String {
    let description = serde_json::to_string(description).unwrap_or_else(|_| "\"\"".into());
    format!("---\nsource: smtp-harness run --snapshots\ndescription: {description}\n---\n{body}")
}

/// The body of a snapshot file: what follows the header's closing `---`
/// (the whole text when there is no header), with line endings and
/// trailing whitespace normalised as insta does.
pub fn body_of(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let body = match text.strip_prefix("---\n") {
        Some(rest) => match rest.find("\n---\n") {
            Some(end) => &rest[end + 5..],
            None => rest.strip_prefix("---\n").unwrap_or(rest),
        },
        None => &text,
    };
    body.trim_end().to_string()
}

/// A unified diff from the stored snapshot to the new one.
pub fn unified_diff(id: &str, old: &str, new: &str) -> String {
    let old = format!("{}\n", old.trim_end());
    let new = format!("{}\n", new.trim_end());
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{id}.snap"), &format!("b/{id}.snap"))
        .to_string()
}

/// Compares (and, by `mode`, writes) the snapshot of every verdict.
/// `description` gives the text stored in a new file's header.
pub fn process(
    dir: &Path,
    verdicts: &[Verdict],
    normalizer: &Normalizer,
    mode: Mode,
    description: impl Fn(&Verdict) -> String,
) -> Result<Outcome, SnapshotError> {
    let mut outcome = Outcome::default();
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| SnapshotError { path, source }
    };
    for v in verdicts {
        let path = path_for(dir, &v.id);
        let body = normalizer.verdict(v);
        let stored = match std::fs::read_to_string(&path) {
            Ok(text) => Some(body_of(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&path)(e)),
        };
        let write = |path: &Path| -> Result<(), SnapshotError> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            std::fs::write(path, file_text(&description(v), &body)).map_err(io_err(path))
        };
        match stored {
            Some(old) if old == body.trim_end() => outcome.unchanged.push(v.id.clone()),
            Some(old) => {
                let diff = unified_diff(&v.id, &old, &body);
                let rewrite = mode == Mode::Bless;
                if rewrite {
                    write(&path)?;
                }
                outcome.changed.push((v.id.clone(), diff, rewrite));
            }
            None => {
                let create = mode != Mode::Check;
                if create {
                    write(&path)?;
                }
                outcome.new.push((v.id.clone(), create));
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Grade;
    use crate::scenario::Level;
    use crate::transcript::{Direction, Transcript};
    use std::time::Duration;

    fn verdict(id: &str, reply: &str) -> Verdict {
        let mut transcript = Transcript::default();
        transcript.push(
            Direction::Server,
            Duration::ZERO,
            b"220 mx.example.test ESMTP\r\n",
        );
        transcript.push(Direction::Client, Duration::from_millis(3), b"NOOP\r\n");
        transcript.push(
            Direction::Server,
            Duration::from_millis(5),
            reply.as_bytes(),
        );
        Verdict {
            id: id.into(),
            title: "t".into(),
            rfc: Vec::new(),
            level: Level::Must,
            grade: Grade::Pass,
            finding: None,
            violations: Vec::new(),
            waived: None,
            smuggling: None,
            transcript,
            elapsed: Duration::from_millis(5),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("smtp-harness-snap-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn record_then_check_then_bless() {
        let dir = temp_dir("modes");
        let n = Normalizer::default();
        let desc = |v: &Verdict| v.title.clone();
        let first = [verdict("rfc5321/a", "250 OK\r\n")];
        let out = process(&dir, &first, &n, Mode::Record, desc).unwrap();
        assert_eq!(out.new, [("rfc5321/a".to_string(), true)]);
        assert!(!out.fails());
        let text = std::fs::read_to_string(dir.join("rfc5321/a.snap")).unwrap();
        assert_eq!(
            text,
            "---\nsource: smtp-harness run --snapshots\ndescription: \"t\"\n---\n\
             grade: PASS\n\nS: 220 <host> ESMTP\nC: NOOP\nS: 250 OK\n"
        );

        let same = process(&dir, &first, &n, Mode::Check, desc).unwrap();
        assert_eq!(same.unchanged, ["rfc5321/a"]);
        assert!(!same.fails());

        let changed = [
            verdict("rfc5321/a", "250 2.0.0 OK\r\n"),
            verdict("rfc5321/b", "250 OK\r\n"),
        ];
        let out = process(&dir, &changed, &n, Mode::Check, desc).unwrap();
        assert!(out.fails());
        assert_eq!(out.new, [("rfc5321/b".to_string(), false)]);
        let diff = &out.changed[0].1;
        assert!(diff.contains("-S: 250 OK\n+S: 250 2.0.0 OK\n"), "{diff}");
        assert!(diff.contains("--- a/rfc5321/a.snap"), "{diff}");
        assert!(!dir.join("rfc5321/b.snap").exists(), "check writes nothing");
        let summary = out.text(&dir, Mode::Check);
        assert!(
            summary.contains("0 unchanged, 1 changed, 1 new"),
            "{summary}"
        );
        assert!(
            summary.contains("changed (differs): rfc5321/a"),
            "{summary}"
        );

        let record = process(&dir, &changed, &n, Mode::Record, desc).unwrap();
        assert!(record.fails(), "record does not overwrite a difference");
        assert!(dir.join("rfc5321/b.snap").exists(), "but writes new ones");

        let blessed = process(&dir, &changed, &n, Mode::Bless, desc).unwrap();
        assert!(!blessed.fails());
        let after = process(&dir, &changed, &n, Mode::Check, desc).unwrap();
        assert_eq!(after.unchanged.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn paths_keep_the_dots_of_ids() {
        assert_eq!(
            path_for(Path::new("d"), "rfc5321/4.1.4-x"),
            Path::new("d/rfc5321/4.1.4-x.snap")
        );
        assert_eq!(path_for(Path::new("d"), "top"), Path::new("d/top.snap"));
    }

    #[test]
    fn bodies_compare_without_header_or_trailing_whitespace() {
        assert_eq!(
            body_of("---\nsource: x\ndescription: \"a\"\n---\ngrade: PASS\n\n"),
            "grade: PASS"
        );
        assert_eq!(body_of("grade: PASS\r\nS: 220\r\n"), "grade: PASS\nS: 220");
        assert_eq!(body_of("---\n---\nbody\n"), "body");
    }
}
