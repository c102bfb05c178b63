//! Choosing which scenarios run: by tag, by id pattern, with exclusions.
//!
//! A pattern with `*` or `?` is a glob over the whole id (`*` also crosses
//! `/`): `rfc5321/4.1.4*`, `*/smuggling*`. A pattern without them is an id
//! prefix: `rfc1870` selects every SIZE scenario, `rfc5321/4.1.4-rcpt-before-mail`
//! exactly one. No I/O here.

use crate::scenario::Scenario;

/// Which scenarios to keep. Empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Keep scenarios carrying at least one of these tags.
    pub tags: Vec<String>,
    /// Keep scenarios whose id matches at least one of these patterns.
    pub only: Vec<String>,
    /// Drop scenarios whose id matches any of these patterns.
    pub exclude: Vec<String>,
}

impl Selection {
    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.only.is_empty() && self.exclude.is_empty()
    }

    /// Whether `scenario` is selected.
    pub fn matches(&self, scenario: &Scenario) -> bool {
        let tagged = self.tags.is_empty()
            || self
                .tags
                .iter()
                .any(|t| scenario.tags.iter().any(|s| s.eq_ignore_ascii_case(t)));
        let named = self.only.is_empty() || self.only.iter().any(|p| id_matches(p, &scenario.id));
        let excluded = self.exclude.iter().any(|p| id_matches(p, &scenario.id));
        tagged && named && !excluded
    }

    /// Keeps the selected scenarios, in their order.
    pub fn apply(&self, scenarios: Vec<Scenario>) -> Vec<Scenario> {
        scenarios.into_iter().filter(|s| self.matches(s)).collect()
    }
}

/// Whether a pattern has glob characters (`*`, `?`).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// `pattern` as a glob when it has `*`/`?`, else as an id prefix.
pub fn id_matches(pattern: &str, id: &str) -> bool {
    if is_glob(pattern) {
        glob(pattern, id)
    } else {
        id.starts_with(pattern)
    }
}

/// `pattern` as a glob when it has `*`/`?`, else the exact id (for waivers,
/// where a prefix would silently waive more than was meant).
pub fn id_equals_or_glob(pattern: &str, id: &str) -> bool {
    if is_glob(pattern) {
        glob(pattern, id)
    } else {
        pattern == id
    }
}

/// Glob match of the whole text: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice,
    // no recursion on user input.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::path::Path;

    #[rstest]
    #[case("rfc5321/4.1.4*", "rfc5321/4.1.4-rcpt-before-mail", true)]
    #[case("rfc5321/4.1.4*", "rfc5321/4.1.1.4-data", false)]
    #[case("*smuggl*", "smuggling/lf-dot-lf", true)]
    #[case("rfc????/4*", "rfc1870/4-size", true)]
    #[case("rfc????/4*", "rfc5321/3.3-x", false)]
    #[case("a*b*c", "axxbyyc", true)]
    #[case("a*b*c", "axxbyy", false)]
    #[case("*", "", true)]
    #[case("?", "", false)]
    fn globs(#[case] pattern: &str, #[case] id: &str, #[case] expected: bool) {
        assert_eq!(glob(pattern, id), expected, "{pattern} vs {id}");
    }

    #[test]
    fn plain_patterns_are_prefixes_for_selection_and_exact_for_waivers() {
        assert!(id_matches("rfc1870", "rfc1870/4-size-too-big"));
        assert!(!id_matches("rfc1870/5", "rfc1870/4-size-too-big"));
        assert!(!id_equals_or_glob("rfc1870", "rfc1870/4-size-too-big"));
        assert!(id_equals_or_glob("rfc1870/*", "rfc1870/4-size-too-big"));
        assert!(id_equals_or_glob("rfc1870/4-x", "rfc1870/4-x"));
    }

    fn scenario(id: &str, tags: &str) -> Scenario {
        let text = format!("title: t\nrfc: 5321 3.3\nlevel: MUST\ntags: {tags}\nS: 220\n");
        crate::scenario::parse(id, Path::new("x.smtp"), &text).unwrap()
    }

    #[test]
    fn tags_only_and_exclude_combine() {
        let all = vec![
            scenario("rfc5321/4.1.4-a", "sequence"),
            scenario("rfc5321/3.3-b", "core"),
            scenario("smuggling/lf", "smuggling, data"),
            scenario("rfc3030/2-bdat", "chunking, data"),
        ];
        let ids = |sel: &Selection| -> Vec<String> {
            sel.apply(all.clone()).into_iter().map(|s| s.id).collect()
        };
        assert_eq!(ids(&Selection::default()).len(), 4);
        let by_tag = Selection {
            tags: vec!["DATA".into()],
            ..Selection::default()
        };
        assert_eq!(ids(&by_tag), ["smuggling/lf", "rfc3030/2-bdat"]);
        let two_tags = Selection {
            tags: vec!["core".into(), "sequence".into()],
            ..Selection::default()
        };
        assert_eq!(ids(&two_tags), ["rfc5321/4.1.4-a", "rfc5321/3.3-b"]);
        let only = Selection {
            only: vec!["rfc5321/4.1.4*".into(), "smuggling".into()],
            ..Selection::default()
        };
        assert_eq!(ids(&only), ["rfc5321/4.1.4-a", "smuggling/lf"]);
        let combined = Selection {
            tags: vec!["data".into()],
            exclude: vec!["rfc3030/*".into()],
            ..Selection::default()
        };
        assert_eq!(ids(&combined), ["smuggling/lf"]);
    }
}
