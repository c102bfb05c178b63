//! The reply-code catalogue answers for every code the suite can expect:
//! every exact reply code and enhanced status code in an `S:` line of any
//! scenario under `scenarios/` (new scenario files are checked too).

use std::collections::BTreeSet;
use std::path::Path;

use smtp_harness::scenario::{self, Step};
use smtp_harness::wire::catalogue::{self, Code};

#[test]
fn every_code_the_suite_expects_is_in_the_catalogue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let suite = scenario::load(&root, std::slice::from_ref(&root));
    assert!(
        !suite.scenarios.is_empty(),
        "no scenarios under {}",
        root.display()
    );
    let mut codes = BTreeSet::new();
    for s in &suite.scenarios {
        for step in &s.steps {
            let Step::Expect(e) = step else { continue };
            for pattern in &e.codes {
                if let [Some(a), Some(b), Some(c)] = pattern.0 {
                    codes.insert((
                        Code::Reply(u16::from(a) * 100 + u16::from(b) * 10 + u16::from(c)),
                        s.id.clone(),
                    ));
                }
            }
            for status in &e.enhanced {
                if let (Some(subject), Some(detail)) = (status.subject, status.detail) {
                    let code = Code::Status {
                        class: Some(status.class),
                        subject,
                        detail,
                    };
                    codes.insert((code, s.id.clone()));
                }
            }
        }
    }
    assert!(
        codes.iter().any(|(c, _)| *c == Code::Reply(503)),
        "the suite expects 503 somewhere"
    );
    let unknown: Vec<String> = codes
        .iter()
        .filter(|(code, _)| !catalogue::explain(*code).known)
        .map(|(code, id)| format!("{code} (expected by {id})"))
        .collect();
    assert!(unknown.is_empty(), "not in the catalogue: {unknown:?}");
}
