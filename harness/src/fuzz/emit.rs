//! Counterexamples as scenario files (the format of `scenarios/README.md`),
//! so a violation the fuzzer found is replayed by the ordinary runner:
//! `smtp-harness run --target HOST:PORT emitted.smtp`.
//!
//! The last command carries the prediction that failed (`S: 503`, or every
//! code but 503). The commands before it pin the path the model followed:
//! whether each was accepted (`2xx`) or refused (`4xx|5xx`), since that is
//! what decided the state; a prefix command whose prediction was 503 and
//! that got it keeps `503`. Commands that cannot change the state (NOOP,
//! VRFY, EXPN, HELP) accept any final reply.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::scenario;

use super::model::{Expect, Rule};
use super::op::{BDAT_CHUNK, DATA_LINES, Op, Sequence};
use super::session::Step;

/// Every reply code but 503 that RFC 5321 4.2 allows (second digit 0 to 5).
pub const NOT_503: &str = "2xx|3xx|4xx|500|501|502|504|505|506|507|508|509|51x|52x|53x|54x|55x";

/// Any final reply.
const ANY: &str = "2xx|4xx|5xx";
/// A refusal.
const REFUSED: &str = "4xx|5xx";

/// What the file says about where the case came from.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The run's seed.
    pub seed: u64,
    /// The target it was found on.
    pub target: String,
}

/// The scenario text for the steps up to and including the deviating one
/// (`steps.last()`), which broke `rule`.
pub fn scenario_text(steps: &[Step], rule: Rule, provenance: &Provenance) -> String {
    let ops: Vec<Op> = steps.iter().map(|s| s.op).collect();
    let rfc: Vec<String> = rule
        .clauses()
        .iter()
        .map(|(n, s)| format!("{n} {s}"))
        .collect();
    let mut requires: Vec<&str> = ops.iter().filter_map(|op| op.requires()).collect();
    requires.sort_unstable();
    requires.dedup();

    let mut out = String::new();
    let _ = writeln!(out, "title: {} (found by the fuzzer)", rule.title());
    let _ = writeln!(out, "rfc: {}", rfc.join(", "));
    let _ = writeln!(out, "level: {}", rule.level());
    let _ = writeln!(out, "tags: sequence, fuzz");
    if !requires.is_empty() {
        let _ = writeln!(out, "requires: {}", requires.join(", "));
    }
    let _ = writeln!(out, "why: {}", rule.why());
    let _ = writeln!(
        out,
        "why: Found by `smtp-harness fuzz --seed {}` against {} and shrunk to {} command{}: {}.",
        provenance.seed,
        provenance.target,
        ops.len(),
        if ops.len() == 1 { "" } else { "s" },
        Sequence(ops.clone())
    );
    let _ = writeln!(
        out,
        "why: The replies before the last command pin the path the model followed \
         (2xx accepted, 4xx|5xx refused)."
    );
    out.push('\n');
    out.push_str("S: 220\n");
    let last = steps.len().saturating_sub(1);
    for (i, step) in steps.iter().enumerate() {
        if i == last {
            let _ = writeln!(
                out,
                "# {}: {} ({} {})",
                rule.id(),
                rule.expect(),
                rule.level(),
                rule.rfc()[0]
            );
        }
        let _ = writeln!(out, "C: {}", step.line);
        if matches!(step.op, Op::BdatChunk | Op::BdatLast) {
            let _ = writeln!(out, "C! {}", escape(BDAT_CHUNK));
        }
        if i == last {
            let codes = match rule.expect() {
                Expect::Is503 => "503",
                Expect::Not503 => NOT_503,
                Expect::Either => ANY,
            };
            let _ = writeln!(out, "S: {codes}");
        } else {
            prefix_expectation(&mut out, step);
        }
    }
    out
}

/// The `S:` lines (and follow-up `C:` lines) for a command before the last.
fn prefix_expectation(out: &mut String, step: &Step) {
    let code = step.reply.code;
    let class = step.reply.class();
    if code == 503 && step.rule.expect() == Expect::Is503 {
        out.push_str("S: 503\n");
        return;
    }
    match step.op {
        Op::Data if code == 354 => {
            out.push_str("S: 354\n");
            for line in DATA_LINES {
                if line.is_empty() {
                    out.push_str("C:\n");
                } else {
                    let _ = writeln!(out, "C: {line}");
                }
            }
            out.push_str("C: .\n");
            let _ = writeln!(out, "S: {ANY}");
        }
        Op::Auth if code == 334 => {
            out.push_str("S: 334\nC: *\n");
            let _ = writeln!(out, "S: {REFUSED}");
        }
        Op::Auth if code == 235 => out.push_str("S: 235\n"),
        Op::Noop | Op::Vrfy | Op::Expn | Op::Help => {
            let _ = writeln!(out, "S: {ANY}");
        }
        Op::Ehlo | Op::Helo if class == 2 => out.push_str("S: 250\n"),
        _ if class == 2 => out.push_str("S: 2xx\n"),
        _ => {
            let _ = writeln!(out, "S: {REFUSED}");
        }
    }
}

/// Escapes bytes for a `C!` line (`\r`, `\n`, `\\`, `\{`).
fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("\\{"),
            c => out.push(c),
        }
    }
    out
}

/// The file name: `SECTION-fuzz-RULE-OPS.smtp`, as `scenarios/README.md`
/// names files (the clause first, then what is checked).
pub fn file_name(steps: &[Step], rule: Rule) -> String {
    let section = rule.clauses()[0];
    let prefix = if section.0 == 5321 {
        section.1.to_string()
    } else {
        format!("rfc{}-{}", section.0, section.1)
    };
    let ops: Vec<&str> = steps.iter().map(|s| s.op.slug()).collect();
    let ops = if ops.len() <= 8 {
        ops.join("-")
    } else {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for s in &ops {
            for b in s.bytes().chain([b'-']) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        format!("{}-steps-{:08x}", ops.len(), hash as u32)
    };
    format!("{prefix}-fuzz-{}-{ops}.smtp", rule.id())
}

/// A scenario file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// Writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The generated text does not parse: a bug in the emitter.
    #[error("emitted scenario does not parse: {0}")]
    Invalid(#[from] scenario::ParseError),
}

/// Writes the scenario into `dir` (created if missing) and returns its path.
/// The text is parsed first, so a file that lands is a valid scenario.
pub fn write(
    dir: &Path,
    steps: &[Step],
    rule: Rule,
    provenance: &Provenance,
) -> Result<PathBuf, EmitError> {
    let text = scenario_text(steps, rule, provenance);
    let path = dir.join(file_name(steps, rule));
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    scenario::parse(&id, &path, &text)?;
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| EmitError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    std::fs::write(&path, text).map_err(io_err(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Level, Step as ScenarioStep};
    use crate::wire::Reply;

    fn step(op: Op, rule: Rule, code: u16) -> Step {
        Step {
            op,
            rule,
            line: op.line("PLAIN"),
            reply: Reply {
                code,
                enhanced: None,
                lines: vec!["x".into()],
                bare_lf: false,
            },
            last: None,
            deviation: rule.judge(code),
        }
    }

    fn provenance() -> Provenance {
        Provenance {
            seed: 42,
            target: "127.0.0.1:2525".into(),
        }
    }

    #[test]
    fn the_last_command_carries_the_failed_prediction() {
        let steps = [
            step(Op::Ehlo, Rule::Greeting, 250),
            step(Op::Mail, Rule::MailInSequence, 250),
            step(Op::Ehlo, Rule::Greeting, 250),
            step(Op::RcptKnown, Rule::RcptWithoutMail, 250),
        ];
        let text = scenario_text(&steps, Rule::RcptWithoutMail, &provenance());
        let s = scenario::parse("x", Path::new("x.smtp"), &text).unwrap();
        assert_eq!(s.level, Level::Must);
        assert_eq!(s.rfc[0].to_string(), "RFC 5321 3.3");
        assert!(s.tags.contains(&"fuzz".to_string()));
        assert_eq!(s.variables(), ["client", "rcpt", "sender"]);
        let ScenarioStep::Expect(last) = s.steps.last().unwrap() else {
            panic!("{text}")
        };
        assert_eq!(last.to_string(), "503");
        assert!(text.contains("C: EHLO {client}\nS: 250\nC: MAIL FROM:<{sender}>\nS: 2xx\n"));
        assert_eq!(
            file_name(&steps, Rule::RcptWithoutMail),
            "3.3-fuzz-rcpt-without-mail-ehlo-mail-ehlo-rcpt.smtp"
        );
    }

    #[test]
    fn a_503_to_an_in_sequence_command_expects_anything_else() {
        let steps = [
            step(Op::Ehlo, Rule::Greeting, 250),
            step(Op::Rset, Rule::Rset, 250),
            step(Op::Mail, Rule::MailInSequence, 503),
        ];
        let text = scenario_text(&steps, Rule::MailInSequence, &provenance());
        let s = scenario::parse("x", Path::new("x.smtp"), &text).unwrap();
        let ScenarioStep::Expect(last) = s.steps.last().unwrap() else {
            panic!()
        };
        let reply = |code| Reply {
            code,
            enhanced: None,
            lines: vec![],
            bare_lf: false,
        };
        for code in [250, 354, 451, 500, 502, 504, 550, 554, 555] {
            assert!(last.check(&reply(code)).is_ok(), "{code}");
        }
        assert!(last.check(&reply(503)).is_err());
    }

    #[test]
    fn data_bodies_and_bdat_chunks_are_written_out() {
        let steps = [
            step(Op::Ehlo, Rule::Greeting, 250),
            step(Op::Mail, Rule::MailInSequence, 250),
            step(Op::RcptKnown, Rule::RcptInTransaction, 250),
            step(Op::Data, Rule::DataInSequence, 354),
            step(Op::BdatLast, Rule::BdatWithoutMail, 503),
            step(Op::Noop, Rule::Indeterminate, 250),
            step(Op::Auth, Rule::AuthInTransaction, 250),
        ];
        let text = scenario_text(&steps, Rule::AuthInTransaction, &provenance());
        let s = scenario::parse("x", Path::new("x.smtp"), &text).unwrap();
        assert_eq!(s.requires, ["AUTH", "CHUNKING"]);
        assert!(text.contains("C: .\nS: 2xx|4xx|5xx\n"), "{text}");
        // The chunk goes out in the same write as its BDAT line.
        let sends: Vec<Vec<u8>> = s
            .steps
            .iter()
            .filter_map(|st| match st {
                ScenarioStep::Send { data, .. } => Some(data.render(|_| Some("v".into())).unwrap()),
                _ => None,
            })
            .collect();
        assert!(sends.contains(&b"BDAT 23 LAST\r\nSubject: fuzz\r\n\r\nfuzz\r\n".to_vec()));
        assert!(sends.contains(&b"AUTH PLAIN AGZ1enoAZnV6eg==\r\n".to_vec()));
    }
}
