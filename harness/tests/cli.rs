//! The `smtp-harness` binary end to end: exit codes and what it prints
//! (0 all passed, 1 a scenario failed, 2 usage or configuration error).

mod common;

use common::{NOOP_250, TempDir, suite_root};
use std::process::{Command, Output};

fn harness() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtp-harness"));
    cmd.env("NO_COLOR", "1");
    cmd
}

/// `run --scenarios DIR DIR` plus `extra` arguments.
fn run_in(dir: &TempDir, extra: &[&str]) -> Output {
    harness()
        .arg("run")
        .arg("--scenarios")
        .arg(&dir.0)
        .arg(&dir.0)
        .args(extra)
        .output()
        .expect("run smtp-harness")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_suite_passes_against_the_embedded_server() {
    let root = suite_root();
    let out = harness()
        .arg("run")
        .arg("--scenarios")
        .arg(&root)
        .output()
        .expect("run smtp-harness");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("PASS        rfc5321/4.1.4-rcpt-before-mail"),
        "{stdout}"
    );
    let graded_badly = |l: &&str| {
        ["FAIL ", "ERROR ", "NON-STRICT "]
            .iter()
            .any(|g| l.starts_with(g))
    };
    assert!(!stdout.lines().any(|l| graded_badly(&l)), "{stdout}");
}

#[test]
fn a_malformed_file_exits_2_with_its_position_while_the_others_run() {
    let dir = TempDir::new("malformed");
    dir.write("good.smtp", NOOP_250);
    // Line 6 has `S: 25O` (letter O): the code starts at column 4.
    let bad = dir.write(
        "bad.smtp",
        "title: a typo\nrfc: 5321 4.1.1.9\nlevel: MUST\n\nS: 220\nS: 25O\n",
    );
    let out = run_in(&dir, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let position = format!("{}:6:4:", bad.display());
    assert!(stderr.contains(&position), "no {position} in:\n{stderr}");
    assert!(stdout.contains("PASS        good"), "{stdout}");
    assert!(stdout.contains("1 scenarios: 1 PASS"), "{stdout}");
}

#[test]
fn a_missing_profile_exits_2() {
    let dir = TempDir::new("no-profile");
    dir.write("good.smtp", NOOP_250);
    let missing = dir.0.join("does-not-exist.toml");
    let out = run_in(&dir, &["--profile", missing.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("does-not-exist.toml"), "{stderr}");
}

#[test]
fn a_profile_with_an_unknown_field_exits_2_naming_it() {
    let dir = TempDir::new("bad-profile");
    dir.write("good.smtp", NOOP_250);
    let profile = dir.write("typo.toml", "name = \"x\"\nrcpt_unknwon = \"a@b.test\"\n");
    let out = run_in(&dir, &["--profile", profile.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("rcpt_unknwon"), "{stderr}");
}

#[test]
fn a_failing_scenario_exits_1() {
    let dir = TempDir::new("failing");
    dir.write("good.smtp", NOOP_250);
    dir.write(
        "wrong.smtp",
        "title: NOOP is wrongly expected to be refused\nrfc: 5321 4.1.1.9\nlevel: MUST\n\nS: 220\nC: NOOP\nS: 554\n",
    );
    let out = run_in(&dir, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("FAIL        wrong"), "{stdout}");
    assert!(stdout.contains("PASS        good"), "{stdout}");
    assert!(stdout.contains("expected: 554"), "{stdout}");
}

#[test]
fn a_should_mismatch_exits_0_unless_strict() {
    // NON-STRICT (a SHOULD not met) is not a failure unless --strict.
    let dir = TempDir::new("strict");
    dir.write(
        "should.smtp",
        "title: NOOP expected 554 at SHOULD\nrfc: 5321 4.1.1.9\nlevel: SHOULD\n\nS: 220\nC: NOOP\nS: 554\n",
    );
    let lenient = run_in(&dir, &[]);
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient.stdout));
    assert!(text(&lenient.stdout).contains("NON-STRICT  should"));
    let strict = run_in(&dir, &["--strict"]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stdout));
}
