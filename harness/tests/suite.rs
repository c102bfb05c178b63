//! The conformance suite against the reference server: every scenario under
//! `scenarios/` must PASS in process, and a malformed scenario file is
//! reported as `file:line:column` without keeping the others from loading.

mod common;

use common::{NOOP_250, TempDir, suite_root};

use smtp_harness::report;
use smtp_harness::runner::{self, Grade, RunOptions, Target};
use smtp_harness::scenario;
use smtp_harness::server::ServerConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_reference_server() {
    let root = suite_root();
    let suite = scenario::load(&root, std::slice::from_ref(&root));
    let errors: Vec<String> = suite.errors.iter().map(ToString::to_string).collect();
    assert!(
        errors.is_empty(),
        "malformed scenario files:\n{}",
        errors.join("\n")
    );
    // The core suite alone has more than 48 scenarios (RFC 5321).
    let core = suite
        .scenarios
        .iter()
        .filter(|s| s.id.starts_with("rfc5321/"))
        .count();
    assert!(core >= 48, "only {core} rfc5321 scenarios");

    let target = Target::in_process(ServerConfig::default());
    let verdicts =
        runner::run_suite(&suite.scenarios, &target, &RunOptions::default(), |_| {}).await;
    assert_eq!(verdicts.len(), suite.scenarios.len());
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| v.grade != Grade::Pass && !for_servers_without_an_extension_it_has(v))
        .map(|v| {
            let details = report::details(v);
            if details.is_empty() {
                format!("--- {} [{}]\n{}", v.id, v.grade, v.transcript.render())
            } else {
                details
            }
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} scenarios did not pass against the reference server:\n{}",
        failed.len(),
        verdicts.len(),
        failed.join("\n")
    );
}

/// `level: MUTS` on line 3, where the value starts at column 8.
const BAD: &str = "\
title: a typo in the level
rfc: 5321 4.1.1.9
level: MUTS

S: 220
";

#[test]
fn a_malformed_file_is_reported_with_its_position_and_the_others_still_load() {
    let dir = TempDir::new("suite");
    std::fs::write(dir.0.join("a-good.smtp"), NOOP_250).unwrap();
    std::fs::write(dir.0.join("b-bad.smtp"), BAD).unwrap();
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    std::fs::write(dir.0.join("sub").join("c-good.smtp"), NOOP_250).unwrap();
    std::fs::write(dir.0.join("notes.txt"), "not a scenario").unwrap();

    let suite = scenario::load(&dir.0, std::slice::from_ref(&dir.0));

    let ids: Vec<&str> = suite.scenarios.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a-good", "sub/c-good"]);
    assert_eq!(suite.errors.len(), 1, "{:?}", suite.errors);
    let error = &suite.errors[0];
    assert_eq!((error.line, error.column), (3, 8));
    let shown = error.to_string();
    let expected_prefix = format!("{}:3:8: ", dir.0.join("b-bad.smtp").display());
    assert!(shown.starts_with(&expected_prefix), "{shown}");
    assert!(shown.contains("MUTS"), "{shown}");
}

/// A scenario written for servers that lack an extension (`requires: !X`)
/// is not applicable to the reference server, which has them all: the one
/// UNSUPPORTED that is not a shortcoming.
fn for_servers_without_an_extension_it_has(v: &smtp_harness::runner::Verdict) -> bool {
    v.grade == Grade::Unsupported
        && v.finding.as_ref().is_some_and(|f| {
            f.message
                .ends_with("the scenario is for servers without it")
        })
}
