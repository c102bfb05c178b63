//! The `smtp-harness` command: parses arguments, calls the library, maps
//! results to exit codes (0 all passed, 1 a scenario failed, 2 usage or
//! configuration error).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use smtp_harness::profile::Profile;
use smtp_harness::report::{self, Style};
use smtp_harness::runner::{self, Grade, RunOptions, Target, Verdict};
use smtp_harness::scenario;
use smtp_harness::server::{Server, ServerConfig};

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
    /// Fuzz command orderings: every out-of-sequence command must get 503, no other.
    Fuzz(smtp_harness::fuzz::FuzzArgs),
    /// Run the reference server until interrupted.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:2525")]
        listen: String,
    },
}

#[derive(clap::Args)]
struct SelectArgs {
    /// Scenario files or folders (default: the whole suite).
    paths: Vec<PathBuf>,
    /// The suite's root folder, against which scenario ids are named.
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
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
}

fn main() -> ExitCode {
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

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run(args) => run(args).await,
        Command::List(select) => list(&select),
        Command::Serve { listen } => serve(&listen).await,
        Command::Fuzz(args) => smtp_harness::fuzz::cli::run(args).await,
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
    Ok((suite.scenarios, suite.errors.len()))
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
    let (scenarios, bad_files) = load(&args.select)?;
    // Keep the embedded server alive for the whole run.
    let (target, _server) = match &profile.address {
        Some(addr) => (Target::Tcp(addr.clone()), None),
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

    let options = RunOptions {
        profile,
        concurrency: usize::from(args.concurrency),
    };
    let progress = std::io::stderr().is_terminal();
    let done = AtomicUsize::new(0);
    let total = scenarios.len();
    let verdicts = runner::run_suite(&scenarios, &target, &options, |_| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if progress {
            eprint!("\r[{n}/{total}]");
            let _ = std::io::stderr().flush();
        }
    })
    .await;
    if progress {
        eprint!("\r");
    }
    print_report(&verdicts, args.verbose);

    if let Some(path) = &args.write_grades {
        std::fs::write(path, report::grades_file(&verdicts))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if bad_files > 0 {
        eprintln!("{bad_files} scenario file(s) could not be parsed (see above)");
        return Ok(ExitCode::from(2));
    }
    if let Some(path) = &args.expect_grades {
        return compare_grades(path, &verdicts);
    }
    let failed = verdicts.iter().any(|v| v.grade.is_failure(args.strict));
    Ok(ExitCode::from(u8::from(failed)))
}

fn print_report(verdicts: &[Verdict], verbose: bool) {
    let style = Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    for v in verdicts {
        println!("{}", report::verdict_line(v, style));
    }
    let mut shown = false;
    for v in verdicts
        .iter()
        .filter(|v| v.grade != Grade::Pass || verbose)
    {
        if !shown {
            println!();
            shown = true;
        }
        if v.finding.is_some() {
            print!("{}", report::details(v));
        } else {
            println!("--- {} [{}]\n{}", v.id, v.grade, v.transcript.render());
        }
    }
    println!("\n{}", report::summary(verdicts));
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

async fn serve(listen: &str) -> Result<ExitCode> {
    let server = Server::start(listen, ServerConfig::default())
        .await
        .with_context(|| format!("listening on {listen}"))?;
    eprintln!(
        "reference server listening on {} (Ctrl-C to stop)",
        server.addr()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    server.shutdown();
    Ok(ExitCode::SUCCESS)
}
