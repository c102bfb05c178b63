//! The deep conformance suite (every shipped scenario that names its clauses
//! in a `clauses:` field) against the reference server, in process: the
//! strict server must pass each scenario it supports, and any scenario it
//! does not support must be UNSUPPORTED, never FAIL, NON-STRICT or ERROR.
//! A failure here is either a reference-server bug or a scenario bug.

use std::path::Path;

use smtp_harness::runner::{self, Grade, RunOptions, Target};
use smtp_harness::scenario;
use smtp_harness::server::ServerConfig;

#[tokio::test]
async fn the_reference_server_passes_the_deep_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let suite = scenario::load(&root, std::slice::from_ref(&root));
    let scenarios: Vec<_> = suite
        .scenarios
        .into_iter()
        .filter(|s| !s.clauses.is_empty())
        .collect();
    assert!(scenarios.len() > 100, "{} scenarios", scenarios.len());
    let target = Target::in_process(ServerConfig::default());
    let verdicts = runner::run_suite(&scenarios, &target, &RunOptions::default(), |_| {}).await;
    let bad: Vec<String> = verdicts
        .iter()
        .filter(|v| !matches!(v.grade, Grade::Pass | Grade::Unsupported))
        .map(|v| format!("{} {}: {:?}", v.id, v.grade, v.finding))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The smuggling rule must not fire on the strict server.
    assert!(verdicts.iter().all(|v| v.smuggling.is_none()));
    let passed = verdicts.iter().filter(|v| v.grade == Grade::Pass).count();
    assert!(passed > 90, "only {passed} passed");
}
