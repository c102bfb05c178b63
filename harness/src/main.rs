//! The `smtp-harness` command: parses arguments, calls the library, maps
//! results to exit codes (0 all passed, 1 a scenario failed, 2 usage or
//! configuration error).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use smtp_harness::profile::Profile;
use smtp_harness::report::baseline::Baseline;
use smtp_harness::report::explain;
use smtp_harness::report::normalize::Normalizer;
use smtp_harness::report::snapshot::{self, Mode};
use smtp_harness::report::{self, ReportSpec, RunInfo, Style};
use smtp_harness::runner::{self, Grade, RunOptions, Target, Verdict};
use smtp_harness::scenario;
use smtp_harness::server::{Server, ServerConfig};
use smtp_harness::wire::catalogue;

/// SMTP conformance test harness.
#[derive(Parser)]
#[command(name = "smtp-harness", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios against a server (the embedded reference server when no target is given).
    Run(RunArgs),
    /// Print the scenarios that would run, without connecting.
    List(SelectArgs),
    /// Explain reply codes (503) or enhanced status codes (5.5.1, X.5.1) from the
    /// catalogue; two or more are compared side by side.
    Explain {
        /// The codes.
        #[arg(required = true, value_name = "CODE")]
        codes: Vec<String>,
    },
    /// Fuzz command orderings: every out-of-sequence command must get 503, no other.
    Fuzz(smtp_harness::fuzz::FuzzArgs),
    /// Map the suite to the RFC clause list and show covered clauses and gaps.
    Coverage(CoverageArgs),
    /// Run the reference server until interrupted.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (plain SMTP; STARTTLS offered).
    #[arg(long, default_value = "127.0.0.1:2525")]
    listen: String,
    /// Also listen for implicit TLS (RFC 8314) on this address.
    #[arg(long, value_name = "ADDR")]
    implicit_tls: Option<String>,
    /// Greet with 521 and accept no mail (RFC 7504).
    #[arg(long)]
    no_mail: bool,
    /// Write the self-signed certificate (PEM) here, for a profile's `tls_ca`.
    #[arg(long, value_name = "FILE")]
    cert_out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SelectArgs {
    /// Scenario files or folders (default: the whole suite).
    paths: Vec<PathBuf>,
    /// The suite's root folder, against which scenario ids are named.
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Keep scenarios with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Keep scenarios whose id matches: a prefix, or a glob with `*`/`?` (repeatable).
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Drop scenarios whose id matches: a prefix, or a glob (repeatable).
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<String>,
}

impl SelectArgs {
    fn selection(&self) -> smtp_harness::select::Selection {
        smtp_harness::select::Selection {
            tags: self.tags.clone(),
            only: self.only.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

#[derive(clap::Args)]
struct CoverageArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// The clause list (default: clauses.toml in the suite folder).
    #[arg(long, value_name = "FILE")]
    clauses: Option<PathBuf>,
    /// List every clause with the scenarios that cover it.
    #[arg(long, short)]
    verbose: bool,
    /// Print the coverage as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Server to test, as HOST:PORT (overrides the profile's address).
    #[arg(long, value_name = "HOST:PORT")]
    target: Option<String>,
    /// Target profile (TOML): names the server knows, timeouts.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Scenarios in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Count NON-STRICT (a SHOULD not met) as failure.
    #[arg(long)]
    strict: bool,
    /// Run the embedded server over in-memory pipes instead of loopback TCP.
    #[arg(long, conflicts_with = "target")]
    in_process: bool,
    /// Compare grades with this file (`id GRADE` lines): exit 0 only if all agree.
    #[arg(long, value_name = "FILE")]
    expect_grades: Option<PathBuf>,
    /// Write the grades (`id GRADE` lines) to this file.
    #[arg(long, value_name = "FILE")]
    write_grades: Option<PathBuf>,
    /// Print the transcript of every scenario, not only of those that did not pass.
    #[arg(long, short)]
    verbose: bool,
    /// Run a scenario that did not pass up to N more times; one that passes
    /// only on a retry is FLAKY.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// Normalised transcripts, one DIR/<id>.snap per scenario: new ones are
    /// written, differences shown as diffs and fail the run.
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
    /// With --snapshots: write nothing; a missing or different snapshot fails.
    #[arg(long, requires = "snapshots", conflicts_with = "bless")]
    check_snapshots: bool,
    /// With --snapshots: rewrite every missing or different snapshot.
    #[arg(long, requires = "snapshots")]
    bless: bool,
    /// Expected grades (`id GRADE` lines, as --write-grades writes): fail only on
    /// a regression (a worse grade), report improvements.
    #[arg(long, value_name = "FILE", conflicts_with = "expect_grades")]
    baseline: Option<PathBuf>,
    /// Write a report: FORMAT=PATH with FORMAT one of text, json, junit,
    /// markdown, html. Repeatable.
    #[arg(long, value_name = "FORMAT=PATH")]
    report: Vec<ReportSpec>,
}

fn main() -> ExitCode {
    exit_quietly_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("smtp-harness: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `smtp-harness list | head` closes the pipe early; `print!` then panics
/// with "failed printing to stdout: Broken pipe". Exit as a process killed
/// by SIGPIPE would (128 + 13), without a backtrace.
fn exit_quietly_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => run(args).await,
        Command::List(select) => list(&select),
        Command::Explain { codes } => explain(&codes),
        Command::Coverage(args) => coverage(&args),
        Command::Fuzz(args) => smtp_harness::fuzz::cli::run(args).await,
        Command::Serve(args) => serve(args).await,
    }
}

/// The suite folder: `--scenarios`, else `./scenarios`, else the one beside this crate.
fn scenarios_root(select: &SelectArgs) -> PathBuf {
    if let Some(dir) = &select.scenarios {
        return dir.clone();
    }
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Loads the selected scenarios; prints each malformed file as file:line:column.
fn load(select: &SelectArgs) -> Result<(Vec<scenario::Scenario>, usize)> {
    let root = scenarios_root(select);
    let paths = if select.paths.is_empty() {
        vec![root.clone()]
    } else {
        select.paths.clone()
    };
    for path in &paths {
        if !path.exists() {
            bail!("{}: no such file or folder", path.display());
        }
    }
    let suite = scenario::load(&root, &paths);
    for error in &suite.errors {
        eprintln!("error: {error}");
    }
    if suite.scenarios.is_empty() && suite.errors.is_empty() {
        bail!(
            "no scenario files (*.{}) under {}",
            scenario::EXTENSION,
            root.display()
        );
    }
    let selection = select.selection();
    let found = suite.scenarios.len();
    let scenarios = selection.apply(suite.scenarios);
    if scenarios.is_empty() && found > 0 {
        bail!("no scenario matches the selection (--tag/--only/--exclude)");
    }
    Ok((scenarios, suite.errors.len()))
}

fn list(select: &SelectArgs) -> Result<ExitCode> {
    let (scenarios, bad) = load(select)?;
    for s in &scenarios {
        let rfc: Vec<String> = s.rfc.iter().map(ToString::to_string).collect();
        println!(
            "{:<50} {:<6} {:<20} {}",
            s.id,
            s.level,
            rfc.join(", "),
            s.title
        );
    }
    eprintln!("{} scenarios", scenarios.len());
    Ok(ExitCode::from(if bad > 0 { 2 } else { 0 }))
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let mut profile = match &args.profile {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    if let Some(addr) = &args.target {
        profile.address = Some(addr.clone());
    }
    if profile.address.is_some() {
        profile.drop_reference_only_values();
    }
    let (scenarios, bad_files) = load(&args.select)?;
    // Keep the embedded server alive for the whole run.
    let (target, _server) = match &profile.address {
        Some(addr) => (
            Target::for_address(addr, &profile).context("setting up TLS for the target")?,
            None,
        ),
        None if args.in_process => (Target::in_process(ServerConfig::default()), None),
        None => {
            let server = Server::start("127.0.0.1:0", ServerConfig::default())
                .await
                .context("starting the embedded reference server")?;
            (Target::Tcp(server.addr().to_string()), Some(server))
        }
    };
    let embedded = if profile.address.is_none() {
        " (embedded reference server)"
    } else {
        ""
    };
    eprintln!(
        "running {} scenarios against {}{embedded}",
        scenarios.len(),
        target.describe()
    );

    let normalizer = Normalizer::new(&profile.normalize)
        .with_context(|| format!("target profile {}", profile.name))?;
    let baseline = match &args.baseline {
        Some(path) => Some(Baseline::load(path)?),
        None => None,
    };
    // `..default()` keeps this compiling when other options are added.
    #[allow(clippy::needless_update)]
    let options = RunOptions {
        profile,
        concurrency: usize::from(args.concurrency),
        retries: args.retries,
        ..RunOptions::default()
    };
    let started = Instant::now();
    let progress = Progress::new(scenarios.len());
    let verdicts = runner::run_suite(&scenarios, &target, &options, |v| progress.step(v)).await;
    progress.finish();

    let info = RunInfo {
        target: format!("{}{embedded}", target.describe()),
        strict: args.strict,
        retries: args.retries,
        elapsed: started.elapsed(),
        baseline: baseline.as_ref().map(|b| b.compare(&verdicts)),
    };
    let style = Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    print!("{}", report::text(&verdicts, &info, args.verbose, style));

    let mut snapshots_failed = false;
    if let Some(dir) = &args.snapshots {
        let mode = if args.check_snapshots {
            Mode::Check
        } else if args.bless {
            Mode::Bless
        } else {
            Mode::Record
        };
        let sources: BTreeMap<&str, &Path> = scenarios
            .iter()
            .map(|s| (s.id.as_str(), s.source.as_path()))
            .collect();
        let outcome = snapshot::process(dir, &verdicts, &normalizer, mode, |v| {
            sources
                .get(v.id.as_str())
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_else(|| v.title.clone())
        })?;
        print!("\n{}", outcome.text(dir, mode));
        snapshots_failed = outcome.fails();
    }
    for spec in &args.report {
        if let Some(parent) = spec.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&spec.path, report::render(spec.format, &verdicts, &info))
            .with_context(|| format!("writing {}", spec.path.display()))?;
        eprintln!("wrote {}", spec.path.display());
    }
    let ids: Vec<&str> = verdicts.iter().map(|v| v.id.as_str()).collect();
    for waiver in options.profile.unused_waivers(ids.iter().copied()) {
        eprintln!(
            "warning: waiver `{}` matches no scenario that ran",
            waiver.id
        );
    }
    if let Some(path) = &args.write_grades {
        std::fs::write(path, report::grades_file(&verdicts))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if bad_files > 0 {
        eprintln!("{bad_files} scenario file(s) could not be parsed (see above)");
        return Ok(ExitCode::from(2));
    }
    if let Some(path) = &args.expect_grades {
        let code = compare_grades(path, &verdicts)?;
        return Ok(if snapshots_failed {
            ExitCode::from(1)
        } else {
            code
        });
    }
    let failed = match &info.baseline {
        Some(comparison) => comparison.fails(args.strict),
        None => verdicts.iter().any(|v| v.fails_run(args.strict)),
    };
    Ok(ExitCode::from(u8::from(failed || snapshots_failed)))
}

/// A progress bar on stderr, only when stderr is a terminal and the run
/// has lasted longer than a moment; cleared when the run ends.
struct Progress {
    enabled: bool,
    started: Instant,
    total: usize,
    done: AtomicUsize,
    not_passed: AtomicUsize,
    drawn: AtomicBool,
}

impl Progress {
    /// A run shorter than this shows no bar.
    const DELAY: Duration = Duration::from_millis(300);

    fn new(total: usize) -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            total,
            done: AtomicUsize::new(0),
            not_passed: AtomicUsize::new(0),
            drawn: AtomicBool::new(false),
        }
    }

    fn step(&self, verdict: &Verdict) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if verdict.grade != Grade::Pass {
            self.not_passed.fetch_add(1, Ordering::Relaxed);
        }
        if !self.enabled || self.started.elapsed() < Self::DELAY {
            return;
        }
        let bar = report::progress_bar(
            done,
            self.total,
            self.not_passed.load(Ordering::Relaxed),
            30,
        );
        eprint!("\r{bar}");
        let _ = std::io::stderr().flush();
        self.drawn.store(true, Ordering::Relaxed);
    }

    fn finish(&self) {
        if self.drawn.load(Ordering::Relaxed) {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

/// `explain CODE...`: one code described, several compared side by side.
/// Exit 1 when a code is unknown to the catalogue, 2 when one is not a code.
fn explain(codes: &[String]) -> Result<ExitCode> {
    let mut parsed = Vec::new();
    for text in codes {
        match text.parse::<catalogue::Code>() {
            Ok(code) => parsed.push(catalogue::explain(code)),
            Err(e) => {
                eprintln!("smtp-harness: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100usize)
        .clamp(60, 200);
    print!("{}", explain::render(&parsed, width));
    let unknown: Vec<&str> = parsed
        .iter()
        .filter(|e| !e.known)
        .map(|e| e.code.as_str())
        .collect();
    if !unknown.is_empty() {
        eprintln!(
            "smtp-harness: not in the catalogue: {} (explained by class only)",
            unknown.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Compares grades with an expected-grades file and prints every difference.
fn compare_grades(path: &Path, verdicts: &[Verdict]) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut expected = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, grade) = line
            .split_once(' ')
            .and_then(|(id, g)| Some((id, Grade::from_name(g.trim())?)))
            .with_context(|| {
                format!(
                    "{}:{}: expected `ID GRADE`, found `{line}`",
                    path.display(),
                    n + 1
                )
            })?;
        expected.insert(id.to_string(), grade);
    }
    let mut differences = 0;
    for v in verdicts {
        match expected.remove(&v.id) {
            Some(g) if g == v.grade => {}
            Some(g) => {
                differences += 1;
                println!("grade changed: {} expected {g}, got {}", v.id, v.grade);
            }
            None => {
                differences += 1;
                println!("not in {}: {} {}", path.display(), v.id, v.grade);
            }
        }
    }
    for id in expected.keys() {
        differences += 1;
        println!("expected but not run: {id}");
    }
    if differences == 0 {
        println!("grades agree with {}", path.display());
    }
    Ok(ExitCode::from(u8::from(differences > 0)))
}

/// `coverage`: maps the (selected) suite to the clause list.
fn coverage(args: &CoverageArgs) -> Result<ExitCode> {
    use smtp_harness::coverage;
    let clauses_path = args
        .clauses
        .clone()
        .unwrap_or_else(|| scenarios_root(&args.select).join("clauses.toml"));
    let clauses = coverage::load_clauses(&clauses_path)?;
    let (scenarios, bad) = load(&args.select)?;
    let report = coverage::coverage(&clauses, &scenarios);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render(args.verbose));
    }
    Ok(ExitCode::from(if bad > 0 || !report.unknown.is_empty() {
        2
    } else {
        0
    }))
}

async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let config = ServerConfig {
        no_mail: args.no_mail,
        ..ServerConfig::default()
    };
    if let Some(path) = &args.cert_out {
        let tls = config
            .tls
            .as_ref()
            .context("no TLS certificate could be generated")?;
        std::fs::write(path, tls.certificate_pem())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let listen = &args.listen;
    let server = Server::start(listen, config.clone())
        .await
        .with_context(|| format!("listening on {listen}"))?;
    eprintln!(
        "reference server listening on {} (STARTTLS offered; Ctrl-C to stop)",
        server.addr()
    );
    let implicit = match &args.implicit_tls {
        Some(addr) => {
            let server = Server::start_implicit_tls(addr, config)
                .await
                .with_context(|| format!("listening for implicit TLS on {addr}"))?;
            eprintln!("implicit TLS listening on {}", server.addr());
            Some(server)
        }
        None => None,
    };
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    server.shutdown();
    if let Some(server) = implicit {
        server.shutdown();
    }
    Ok(ExitCode::SUCCESS)
}
