//! `smtp-harness explain`: the catalogue's entry for one code, or several
//! side by side (class, positive or negative, permanent or transient,
//! typical cause, what the client should do).

use crate::wire::catalogue::Explanation;

/// The rows shown for each code, with their labels.
fn rows(e: &Explanation) -> Vec<(&'static str, String)> {
    let known = if e.known {
        String::new()
    } else {
        " (NOT IN THE CATALOGUE)".to_string()
    };
    vec![
        ("code", format!("{}{known}", e.code)),
        ("text", e.title.clone()),
        ("class", e.class.clone()),
        (
            "kind",
            [e.polarity.as_str(), e.permanence.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("category", e.category.clone()),
        ("meaning", e.meaning.clone()),
        ("cause", e.cause.clone()),
        ("client", e.action.clone()),
        ("sources", e.sources.join(", ")),
    ]
}

const LABEL: usize = 10;
const GAP: usize = 3;

/// Renders one explanation as labelled paragraphs, or several as columns
/// side by side when they fit in `width` (else one after the other).
pub fn render(explanations: &[Explanation], width: usize) -> String {
    let columns = explanations.len().max(1);
    let column_width = width.saturating_sub(LABEL + GAP * columns) / columns;
    if explanations.len() < 2 || column_width < 24 {
        let mut out = String::new();
        for (i, e) in explanations.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&table(&[e], width.saturating_sub(LABEL + GAP)));
        }
        return out;
    }
    let refs: Vec<&Explanation> = explanations.iter().collect();
    table(&refs, column_width)
}

fn table(explanations: &[&Explanation], column_width: usize) -> String {
    let per_code: Vec<Vec<(&str, String)>> = explanations.iter().map(|e| rows(e)).collect();
    let mut out = String::new();
    for row in 0..per_code[0].len() {
        let label = per_code[0][row].0;
        if per_code.iter().all(|r| r[row].1.is_empty()) {
            continue;
        }
        let cells: Vec<Vec<String>> = per_code
            .iter()
            .map(|r| wrap(&r[row].1, column_width))
            .collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for line in 0..height {
            let mut text = format!("{:<LABEL$}", if line == 0 { label } else { "" });
            for (i, cell) in cells.iter().enumerate() {
                let piece = cell.get(line).map(String::as_str).unwrap_or("");
                text.push_str(&" ".repeat(GAP));
                if i + 1 < cells.len() {
                    text.push_str(&format!("{piece:<column_width$}"));
                } else {
                    text.push_str(piece);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Word-wraps `text` to `width` columns (a longer word gets its own line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::catalogue::{Code, explain};

    #[test]
    fn one_code_is_described_with_every_row() {
        let text = render(&[explain(Code::Reply(503))], 100);
        for label in [
            "code", "text", "class", "kind", "meaning", "cause", "client", "sources",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(label)),
                "{label}: {text}"
            );
        }
        assert!(text.contains("Bad sequence of commands"));
        assert!(text.contains("negative, permanent"));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn two_codes_are_compared_side_by_side() {
        let text = render(&[explain(Code::Reply(252)), explain(Code::Reply(503))], 100);
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("code") && first.contains("252") && first.contains("503"),
            "{first}"
        );
        let kind = text.lines().find(|l| l.starts_with("kind")).unwrap();
        assert!(
            kind.contains("positive, completed") && kind.contains("negative, permanent"),
            "{kind}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn unknown_codes_say_so() {
        let text = render(&[explain(Code::Reply(299))], 80);
        assert!(text.contains("299 (NOT IN THE CATALOGUE)"), "{text}");
        assert!(text.contains("2yz positive completion"), "{text}");
    }

    #[test]
    fn narrow_terminals_fall_back_to_one_after_another() {
        let codes: Vec<Explanation> = [250, 251, 252, 354]
            .map(|c| explain(Code::Reply(c)))
            .to_vec();
        let text = render(&codes, 60);
        assert_eq!(text.lines().filter(|l| l.starts_with("code")).count(), 4);
    }

    #[test]
    fn wrap_breaks_on_words() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("abcdefgh", 3), ["abcdefgh"]);
    }
}
