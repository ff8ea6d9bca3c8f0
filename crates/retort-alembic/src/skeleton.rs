//! The module-level part of a revision file that Python 3 cannot parse as a whole.
//!
//! Alembic histories go back to Python 2: `print "..."`, `except X, e:`, `ur''` strings and
//! tab indentation inside `upgrade()`/`downgrade()`. retort needs only the module docstring and
//! the `revision`, `down_revision`, `branch_labels` and `depends_on` assignments, so it keeps
//! those logical lines (at column 0), blanks every other line (keeping line numbers), and
//! rewrites the one Python 2 literal form Python 3 refuses (`ur''`) to a raw string.

/// The names whose assignments are kept.
const KEPT: &[&str] = &["revision", "down_revision", "branch_labels", "depends_on"];

/// `text` with only its docstring and the revision assignments; every other line is empty.
pub fn module_level(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut statement = String::new(); // the current logical line, Python 2 prefixes fixed
    let mut newlines = 0usize; // physical line breaks inside it
    let mut first_statement = true;
    let mut depth = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let end_statement =
        |statement: &mut String, newlines: &mut usize, out: &mut String, first: &mut bool| {
            let keep = keep(statement, *first);
            if !statement.trim().is_empty() && !statement.trim_start().starts_with('#') {
                *first = false;
            }
            if keep {
                out.push_str(statement);
            } else {
                out.extend(std::iter::repeat_n('\n', *newlines));
            }
            statement.clear();
            *newlines = 0;
        };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                statement.push_str("\\\n");
                newlines += 1;
                i += 2;
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '\n' => {
                statement.push('\n');
                newlines += 1;
                i += 1;
                if depth == 0 {
                    end_statement(
                        &mut statement,
                        &mut newlines,
                        &mut out,
                        &mut first_statement,
                    );
                }
                continue;
            }
            '\'' | '"' => {
                // A string: its prefix letters are already in `statement`; drop a `u` before
                // an `r` (Python 2's ur'', which Python 3 refuses).
                let prefix_len = statement
                    .chars()
                    .rev()
                    .take_while(|p| p.is_ascii_alphabetic())
                    .count();
                let prefix: String = statement[statement.len() - prefix_len..].to_owned();
                let lower = prefix.to_ascii_lowercase();
                if lower == "ur" {
                    for _ in 0..prefix_len {
                        statement.pop();
                    }
                    statement.push(prefix.chars().nth(1).unwrap_or('r'));
                }
                let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
                let quote_len = if triple { 3 } else { 1 };
                for _ in 0..quote_len {
                    statement.push(c);
                }
                i += quote_len;
                while i < chars.len() {
                    let s = chars[i];
                    if s == '\\' && i + 1 < chars.len() {
                        statement.push(s);
                        statement.push(chars[i + 1]);
                        if chars[i + 1] == '\n' {
                            newlines += 1;
                        }
                        i += 2;
                        continue;
                    }
                    if s == c
                        && (!triple
                            || (chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c)))
                    {
                        for _ in 0..quote_len {
                            statement.push(c);
                        }
                        i += quote_len;
                        break;
                    }
                    if s == '\n' {
                        newlines += 1;
                        if !triple {
                            // An unterminated string: end it here, as Python would fail here.
                            break;
                        }
                    }
                    statement.push(s);
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        statement.push(c);
        i += 1;
    }
    end_statement(
        &mut statement,
        &mut newlines,
        &mut out,
        &mut first_statement,
    );
    out
}

/// Whether a logical line is one retort reads: the first statement when it is a string (the
/// docstring), or an assignment to one of [`KEPT`], starting at column 0.
fn keep(statement: &str, first: bool) -> bool {
    let Some(head) = statement.chars().next() else {
        return false;
    };
    if head == ' ' || head == '\t' {
        return false;
    }
    let trimmed = statement.trim_start();
    if first {
        let rest = trimmed.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        if rest.starts_with('\'') || rest.starts_with('"') {
            return true;
        }
    }
    let name: String = trimmed
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !KEPT.contains(&name.as_str()) {
        return false;
    }
    let after = trimmed[name.len()..].trim_start();
    (after.starts_with('=') && !after.starts_with("==")) || after.starts_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_2_bodies_go_and_line_numbers_stay() {
        let text = "# -*- coding: utf-8 -*-\n\"\"\"add users\n\nRevision ID: 1a2b\n\"\"\"\nrevision = '1a2b3c4d5e6f'\ndown_revision = (\n    'aaaaaaaaaaaa',\n    'bbbbbbbbbbbb')\nbranch_labels = ur'auth'\n\nfrom alembic import op\n\ndef upgrade():\n\tprint \"upgrading\"\n\ttry:\n\t\top.execute(u'x')\n\texcept Exception, e:\n\t\tprint e\n";
        let s = module_level(text);
        assert_eq!(s.lines().count(), text.lines().count());
        assert!(s.contains("revision = '1a2b3c4d5e6f'"), "{s}");
        assert!(s.contains("branch_labels = r'auth'"), "{s}");
        assert!(!s.contains("print"), "{s}");
        assert!(!s.contains("import"), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[5], "revision = '1a2b3c4d5e6f'");
        assert_eq!(lines[9], "branch_labels = r'auth'");
        assert!(lines[1].starts_with("\"\"\"add users"));
    }
}
