//! `smtp-harness fuzz`: arguments, output and exit code. `main.rs` only
//! dispatches here.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::profile::Profile;
use crate::report::{self, Style};
use crate::runner::Target;
use crate::server::{Quirks, Server, ServerConfig};

use super::emit::{self, Provenance};
use super::{FuzzOptions, FuzzReport, Progress, Rule};

/// Arguments of `smtp-harness fuzz`.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// Server to fuzz, as HOST:PORT (default: the profile's address, else the
    /// embedded reference server).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Option<String>,
    /// Target profile (TOML): the names the server knows, timeouts.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Random cases to run; each is one session.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub cases: u32,
    /// The run's seed: the same seed against the same server repeats the run
    /// (default: a fresh one, printed).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Longest command sequence generated.
    #[arg(long, default_value_t = 12, value_name = "L",
          value_parser = clap::value_parser!(u16).range(1..=200))]
    pub max_len: u16,
    /// Sessions spent shrinking one counterexample, at most.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_shrink: u32,
    /// Write each counterexample as a scenario file into DIR.
    #[arg(long, value_name = "DIR")]
    pub emit: Option<PathBuf>,
    /// Regression file: seeds replayed first, failures appended (default:
    /// fixtures/fuzz-regressions/NAME.proptest-regressions, NAME from the
    /// profile or the target).
    #[arg(long, value_name = "FILE", conflicts_with = "no_regressions")]
    pub regressions: Option<PathBuf>,
    /// Neither replay nor save regressions.
    #[arg(long)]
    pub no_regressions: bool,
    /// Count NON-STRICT (a SHOULD not met) as failure.
    #[arg(long)]
    pub strict: bool,
    /// Fuzz the embedded server over in-memory pipes instead of loopback TCP.
    #[arg(long, conflicts_with = "target")]
    pub in_process: bool,
    /// Break the embedded server on purpose, to see the fuzzer fail:
    /// rcpt-without-mail, ehlo-keeps-transaction, rset-forgets-greeting,
    /// sequence-502 (repeatable).
    #[arg(long, value_name = "QUIRK", conflicts_with = "target")]
    pub quirk: Vec<String>,
}

/// Applies `--quirk` names to the reference configuration.
pub fn quirks(names: &[String]) -> Result<Quirks> {
    let mut q = Quirks::strict();
    for name in names {
        match name.as_str() {
            "rcpt-without-mail" => q.rcpt_without_mail = true,
            "ehlo-keeps-transaction" => q.ehlo_keeps_transaction = true,
            "rset-forgets-greeting" => q.rset_forgets_greeting = true,
            "sequence-502" => q.sequence_error_code = 502,
            _ => bail!(
                "unknown quirk `{name}` (expected rcpt-without-mail, ehlo-keeps-transaction, \
                 rset-forgets-greeting or sequence-502)"
            ),
        }
    }
    Ok(q)
}

/// The `fixtures/` folder: `./fixtures` when it exists, else the one beside
/// this crate's source when that exists, else the current folder.
fn fixtures_root() -> PathBuf {
    let local = PathBuf::from("fixtures");
    if local.is_dir() {
        return local;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    if source.is_dir() {
        return source;
    }
    PathBuf::from(".")
}

/// A file-name-safe name for the target's regression file.
fn regression_name(args: &FuzzArgs, profile: &Profile) -> String {
    let raw = if args.profile.is_some() {
        profile.name.clone()
    } else if let Some(addr) = &profile.address {
        addr.clone()
    } else if args.quirk.is_empty() {
        "reference".into()
    } else {
        // Broken variants keep their own file, apart from the real server's.
        format!("reference-{}", args.quirk.join("-"))
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Runs `smtp-harness fuzz`: 0 when nothing failed, 1 on FAIL or ERROR
/// (NON-STRICT too with `--strict`); usage errors return `Err` (exit 2).
pub async fn run(args: FuzzArgs) -> Result<ExitCode> {
    let mut profile = match &args.profile {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    if let Some(addr) = &args.target {
        profile.address = Some(addr.clone());
    }
    if !args.quirk.is_empty() && profile.address.is_some() {
        bail!(
            "--quirk breaks the embedded server; it cannot apply to a --target or profile address"
        );
    }
    let config = ServerConfig {
        quirks: quirks(&args.quirk)?,
        ..ServerConfig::default()
    };
    let (target, _server) = match &profile.address {
        Some(addr) => (Target::Tcp(addr.clone()), None),
        None if args.in_process => (Target::in_process(config), None),
        None => {
            let server = Server::start("127.0.0.1:0", config)
                .await
                .context("starting the embedded reference server")?;
            (Target::Tcp(server.addr().to_string()), Some(server))
        }
    };
    let regressions = if args.no_regressions {
        None
    } else {
        Some(args.regressions.clone().unwrap_or_else(|| {
            fixtures_root().join("fuzz-regressions").join(format!(
                "{}.proptest-regressions",
                regression_name(&args, &profile)
            ))
        }))
    };
    let seed = args.seed.unwrap_or_else(fresh_seed);
    let options = FuzzOptions {
        profile,
        cases: args.cases,
        seed,
        max_len: usize::from(args.max_len),
        max_shrink_runs: args.max_shrink,
        regressions: regressions.clone(),
        strict: args.strict,
        ..FuzzOptions::default()
    };
    eprintln!(
        "fuzzing {} with seed {seed}: {} cases of up to {} commands",
        target.describe(),
        args.cases,
        args.max_len
    );
    let show_progress = std::io::stderr().is_terminal();
    let report = super::fuzz(&target, &options, |p: Progress| {
        if show_progress {
            let what = if p.shrinking { " shrinking" } else { "" };
            eprint!("\r[{}/{}]{what}   ", p.done, p.total);
            let _ = std::io::stderr().flush();
        }
    })
    .await;
    if show_progress {
        eprint!("\r                         \r");
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    print!("{}", render(&report, &args, color()));

    if let Some(dir) = &args.emit {
        let provenance = Provenance {
            seed,
            target: report.target.clone(),
        };
        for cx in report.failure.iter().chain(&report.non_strict) {
            let path = emit::write(dir, cx.steps(), cx.rule, &provenance)?;
            println!(
                "emitted {} [{}]: {}",
                cx.rule.id(),
                cx.grade,
                path.display()
            );
        }
    }
    if let (Some(path), true) = (&regressions, report.regression_saved) {
        println!("regression seed kept in {}", path.display());
    }
    Ok(ExitCode::from(u8::from(report.failed(args.strict))))
}

fn color() -> Style {
    Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// The text report: findings with transcripts, coverage, counts, how to
/// reproduce.
pub fn render(report: &FuzzReport, args: &FuzzArgs, style: Style) -> String {
    let mut out = String::new();
    let keywords: Vec<&str> = report
        .extensions
        .keywords
        .iter()
        .map(String::as_str)
        .collect();
    let alphabet: Vec<String> = report.alphabet.iter().map(ToString::to_string).collect();
    let _ = writeln!(out, "advertised: {}", keywords.join(" "));
    let _ = writeln!(out, "alphabet:   {}", alphabet.join(" "));
    let verdicts = report.verdicts();
    out.push('\n');
    for v in &verdicts {
        let _ = writeln!(out, "{}", report::verdict_line(v, style));
    }
    for v in verdicts.iter().filter(|v| v.finding.is_some()) {
        out.push('\n');
        out.push_str(&report::details(v));
    }
    let _ = writeln!(out, "\ncoverage (commands judged per rule):");
    let _ = writeln!(
        out,
        "  {:<26} {:<8} {:<20} {:<7} {:>9} {:>10}",
        "rule", "expects", "clause", "level", "judged", "deviated"
    );
    for rule in Rule::ALL {
        let stats = report.coverage.get(&rule).copied().unwrap_or_default();
        let clause = rule.clauses()[0];
        let expects = match rule.expect() {
            super::Expect::Is503 => "503",
            super::Expect::Not503 => "not 503",
            super::Expect::Either => "either",
        };
        let _ = writeln!(
            out,
            "  {:<26} {:<8} {:<20} {:<7} {:>9} {:>10}",
            rule.id(),
            expects,
            format!("RFC {} {}", clause.0, clause.1),
            rule.level().to_string(),
            stats.judged,
            stats.deviations
        );
    }
    let ends: Vec<String> = report
        .ends
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "\n{} cases ({} regressions replayed), {} sessions, {} commands in {:.2} s: {:.0} sessions/s",
        report.cases_run,
        report.regressions_replayed,
        report.sessions,
        report.commands,
        report.elapsed.as_secs_f64(),
        report.sessions_per_second()
    );
    let _ = writeln!(out, "sessions ended: {}", ends.join(", "));
    if let Some(why) = &report.aborted {
        let _ = writeln!(out, "stopped early: {why}");
    }
    let target = match &args.target {
        Some(t) => format!(" --target {t}"),
        None if args.in_process => " --in-process".into(),
        None => String::new(),
    };
    let profile = args
        .profile
        .as_ref()
        .map(|p| format!(" --profile {}", p.display()))
        .unwrap_or_default();
    let quirks: String = args.quirk.iter().map(|q| format!(" --quirk {q}")).collect();
    let _ = writeln!(
        out,
        "reproduce: smtp-harness fuzz{target}{profile}{quirks} --seed {} --cases {} --max-len {}",
        report.seed, report.cases_planned, args.max_len
    );
    let _ = writeln!(out, "fuzz: {}", report.grade());
    out
}
