//! Snapshot tests: the normalised transcript of every scenario under
//! `scenarios/` against the in-process reference server, one insta
//! snapshot per scenario file in `snapshots/<id>.snap` with the scenario
//! text as its description. A change of the server's behaviour is then a
//! reviewable diff (see `docs/snapshots.md`).
//!
//! A custom test harness (libtest-mimic) makes each scenario its own test,
//! so a changed reply fails exactly the affected scenarios and
//! `cargo test --test snapshots -- rfc5321/4.1.4` runs one. New scenario
//! files are picked up without any change here.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

use smtp_harness::report::normalize::Normalizer;
use smtp_harness::runner::{self, RunOptions, Target};
use smtp_harness::scenario;
use smtp_harness::server::ServerConfig;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() {
    let args = Arguments::from_args();
    let root = workspace().join("scenarios");
    let suite = scenario::load(&root, std::slice::from_ref(&root));
    let mut trials: Vec<Trial> = suite
        .errors
        .iter()
        .map(|e| {
            let message = e.to_string();
            Trial::test(format!("parse {}", e.file.display()), move || {
                Err(Failed::from(message))
            })
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let target = Target::in_process(ServerConfig::default());
    let verdicts = runtime.block_on(runner::run_suite(
        &suite.scenarios,
        &target,
        &RunOptions::default(),
        |_| {},
    ));
    let normalizer = Normalizer::default();
    for (scenario, verdict) in suite.scenarios.iter().zip(&verdicts) {
        assert_eq!(scenario.id, verdict.id, "verdicts come in scenario order");
        let body = normalizer.verdict(verdict);
        let source = scenario.source.clone();
        let id = scenario.id.clone();
        trials.push(Trial::test(id.clone(), move || check(&id, &source, &body)));
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Asserts the snapshot `snapshots/<id>.snap`, i.e. folder `snapshots/<dir of id>`
/// and snapshot name `<file stem>`.
fn check(id: &str, source: &Path, body: &str) -> Result<(), Failed> {
    let text = std::fs::read_to_string(source)
        .map_err(|e| Failed::from(format!("{}: {e}", source.display())))?;
    let (folder, name) = id.rsplit_once('/').unwrap_or(("", id));
    // Relative to this file (harness/tests/), as insta resolves it.
    let snapshot_path = Path::new("../../snapshots").join(folder);
    let outcome = std::panic::catch_unwind(|| {
        insta::with_settings!({
            snapshot_path => snapshot_path,
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => text,
            input_file => source,
        }, {
            insta::assert_snapshot!(name, body);
        });
    });
    outcome.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "snapshot assertion failed".into());
        Failed::from(format!(
            "{message}\nthe snapshot of {id} changed: review with `cargo insta review` \
             or accept with `INSTA_UPDATE=always cargo test --test snapshots` (docs/snapshots.md)"
        ))
    })
}
