//! The `smtp-harness` binary end to end against the embedded reference
//! server: explain, snapshots, reports, baselines, colour.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smtp-harness"))
        .args(args)
        .current_dir(workspace())
        .env_remove("NO_COLOR")
        .output()
        .expect("run smtp-harness")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smtp-harness-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn explain_compares_two_codes_side_by_side() {
    let o = harness(&["explain", "252", "503"]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    let kind = text.lines().find(|l| l.starts_with("kind")).expect(&text);
    assert!(
        kind.contains("positive, completed") && kind.contains("negative, permanent"),
        "{text}"
    );
    assert!(text.contains("Nothing needs fixing"), "{text}");
    assert!(text.contains("RSET"), "{text}");
}

#[test]
fn explain_says_clearly_when_a_code_is_unknown() {
    let o = harness(&["explain", "299"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("299 (NOT IN THE CATALOGUE)"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not in the catalogue: 299"));
    let o = harness(&["explain", "hello"]);
    assert_eq!(o.status.code(), Some(2));
    let o = harness(&["explain", "5.7.8"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("Authentication credentials invalid"));
}

#[test]
fn snapshots_are_byte_identical_across_runs_and_match_the_committed_ones() {
    let dir = temp_dir("snapshots");
    let dir_s = dir.to_str().unwrap();
    let first = harness(&["run", "--in-process", "--snapshots", dir_s]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout(&first).contains("unchanged, 0 changed"),
        "{}",
        stdout(&first)
    );
    let files = collect(&dir);
    assert!(!files.is_empty());
    let contents: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for f in &contents {
        assert!(f.len() < 16 * 1024, "a snapshot should stay small");
    }
    // A second run (this time over loopback TCP, another port) checks clean
    // and leaves every byte as it was.
    let again = harness(&["run", "--snapshots", dir_s, "--check-snapshots"]);
    assert!(again.status.success(), "{}", stdout(&again));
    let after: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(contents, after);
    // The insta snapshots in snapshots/ have the same bodies.
    let committed = harness(&[
        "run",
        "--in-process",
        "--snapshots",
        "snapshots",
        "--check-snapshots",
    ]);
    assert!(committed.status.success(), "{}", stdout(&committed));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_changed_snapshot_fails_the_check_with_a_diff_and_bless_rewrites_it() {
    let dir = temp_dir("changed");
    let dir_s = dir.to_str().unwrap();
    let id = "rfc5321/4.1.4-rcpt-before-mail";
    let scenario = format!("scenarios/{id}.smtp");
    assert!(
        harness(&["run", "--in-process", "--snapshots", dir_s, &scenario])
            .status
            .success()
    );
    let file = dir.join(format!("{id}.snap"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("Need MAIL before RCPT", "Need MAIL first"),
    )
    .unwrap();
    let check = harness(&[
        "run",
        "--in-process",
        "--snapshots",
        dir_s,
        "--check-snapshots",
        &scenario,
    ]);
    assert_eq!(check.status.code(), Some(1));
    let out = stdout(&check);
    assert!(
        out.contains("-S: 503 5.5.1 Need MAIL first\n+S: 503 5.5.1 Need MAIL before RCPT"),
        "{out}"
    );
    assert!(out.contains("0 unchanged, 1 changed, 0 new"), "{out}");
    assert!(out.contains(&format!("changed (differs): {id}")), "{out}");
    let bless = harness(&[
        "run",
        "--in-process",
        "--snapshots",
        dir_s,
        "--bless",
        &scenario,
    ]);
    assert!(bless.status.success(), "{}", stdout(&bless));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("Need MAIL before RCPT")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn collect(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(collect(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn several_reports_in_one_run() {
    let dir = temp_dir("reports");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let o = harness(&[
        "run",
        "--in-process",
        "--report",
        &format!("json={}", path("out.json")),
        "--report",
        &format!("junit={}", path("out.xml")),
        "--report",
        &format!("md={}", path("out.md")),
        "--report",
        &format!("html={}", path("sub/out.html")),
    ]);
    assert!(o.status.success(), "{o:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert!(json["scenarios"].as_array().unwrap().len() >= 2);
    assert!(
        std::fs::read_to_string(dir.join("out.xml"))
            .unwrap()
            .contains("<testsuites")
    );
    // The reference server passes all that applies to it; a scenario for
    // servers without SMTPUTF8 is UNSUPPORTED, and nothing fails.
    let markdown = std::fs::read_to_string(dir.join("out.md")).unwrap();
    assert!(markdown.contains("## Not passed"), "{markdown}");
    assert!(
        !markdown.contains("| FAIL |") && !markdown.contains("| ERROR |"),
        "{markdown}"
    );
    assert!(dir.join("sub/out.html").exists());
    let bad = harness(&["run", "--in-process", "--report", "yaml=x"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scenario the reference server fails (it answers RCPT before MAIL with
/// 503, this one wrongly expects 250).
fn failing_suite(name: &str) -> (PathBuf, String) {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join("x")).unwrap();
    std::fs::write(
        dir.join("x/wrong.smtp"),
        "title: wrong on purpose\nrfc: 5321 4.1.4\nlevel: MUST\n\nS: 220\nC: EHLO {client}\nS: 250\nC: RCPT TO:<{rcpt}>\nS: 250\n",
    )
    .unwrap();
    let s = dir.to_str().unwrap().to_string();
    (dir, s)
}

#[test]
fn baseline_fails_only_on_regressions() {
    let (dir, suite) = failing_suite("baseline");
    let baseline = dir.join("baseline.txt");
    std::fs::write(&baseline, "x/wrong FAIL\n").unwrap();
    let b = baseline.to_str().unwrap();
    let known = harness(&[
        "run",
        "--in-process",
        "--scenarios",
        &suite,
        "--baseline",
        b,
    ]);
    assert!(
        known.status.success(),
        "a known FAIL is no regression: {}",
        stdout(&known)
    );
    assert!(stdout(&known).contains("baseline: 0 regressions"));
    std::fs::write(&baseline, "x/wrong PASS\n").unwrap();
    let worse = harness(&[
        "run",
        "--in-process",
        "--scenarios",
        &suite,
        "--baseline",
        b,
    ]);
    assert_eq!(worse.status.code(), Some(1));
    assert!(
        stdout(&worse).contains("regression: x/wrong PASS -> FAIL"),
        "{}",
        stdout(&worse)
    );
    std::fs::write(&baseline, "x/wrong ERROR\n").unwrap();
    let better = harness(&[
        "run",
        "--in-process",
        "--scenarios",
        &suite,
        "--baseline",
        b,
    ]);
    assert!(better.status.success());
    assert!(stdout(&better).contains("improvement: x/wrong ERROR -> FAIL"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn terminal_failure_explains_codes_without_colour_when_piped() {
    let (dir, suite) = failing_suite("colour");
    let o = harness(&["run", "--in-process", "--scenarios", &suite]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert!(
        out.contains("= 250 Requested mail action okay, completed"),
        "{out}"
    );
    assert!(out.contains("= 503 Bad sequence of commands"), "{out}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains('['),
        "no progress bar when stderr is not a terminal"
    );
}
