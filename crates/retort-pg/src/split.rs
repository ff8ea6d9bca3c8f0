//! Splitting a migration's SQL into statements the way `psql` does: semicolons end statements
//! except inside string literals (`'...'`, `E'...'`), quoted identifiers, dollar quotes,
//! comments (nested block comments too) and SQL-standard function bodies (`BEGIN ATOMIC ... END`).

/// One statement and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text, without the terminating semicolon, trimmed.
    pub sql: String,
    /// 1-based line in the file where the statement's first token is.
    pub line: usize,
}

/// Why SQL could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Splits `sql`, whose first line is line `first_line` of its file.
///
/// Errors: an unterminated quote, identifier, dollar quote or block comment (naming the line where
/// it opened), and `psql` meta-commands (`\i`, `\set`, ...), which only psql understands.
pub fn split_statements(sql: &str, first_line: usize) -> Result<Vec<Statement>, SplitError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start_line: Option<usize> = None;
    let mut line = first_line;
    let mut i = 0;
    // Keyword tracking for CREATE FUNCTION ... BEGIN ATOMIC ... END.
    let mut words: Vec<String> = Vec::new();
    let mut atomic_depth: usize = 0;

    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        // Line comment: kept out of statements.
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let opened = line;
            let mut depth = 0;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (Some('/'), Some('*')) => {
                        depth += 1;
                        i += 2;
                    }
                    (Some('*'), Some('/')) => {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    }
                    (Some(ch), _) => {
                        if *ch == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    (None, _) => {
                        return Err(SplitError {
                            line: opened,
                            message: "unterminated /* comment".into(),
                        })
                    }
                }
            }
            current.push(' ');
            continue;
        }
        if c == '\n' {
            line += 1;
            current.push(c);
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            current.push(c);
            i += 1;
            continue;
        }
        if start_line.is_none() {
            if c == '\\' {
                let command: String = chars[i + 1..]
                    .iter()
                    .take_while(|ch| ch.is_ascii_alphanumeric() || **ch == '_')
                    .collect();
                // pg_dump (17.6, 16.10, 15.14, 14.19, 13.22 and later) wraps its output in
                // \restrict KEY ... \unrestrict KEY, which only forbids psql's own
                // meta-commands: statements sent as a driver sends them run none, so the lines
                // are skipped and a dump loads as it is.
                if command == "restrict" || command == "unrestrict" {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    continue;
                }
                let hint = match command.as_str() {
                    "i" | "ir" | "include" | "include_relative" => {
                        " (instead of \\i, give the included file to retort itself)"
                    }
                    "connect" | "c" => " (retort connects to the database it is given)",
                    _ => "",
                };
                return Err(SplitError {
                    line,
                    message: format!(
                        "psql meta-command \\{command} cannot run here: retort sends SQL to the \
                         server as a driver does, and backslash commands are psql's own; write \
                         plain SQL{hint}"
                    ),
                });
            }
            start_line = Some(line);
        }
        match c {
            ';' if atomic_depth == 0 => {
                push_statement(&mut out, &mut current, &mut start_line);
                words.clear();
                i += 1;
            }
            '\'' => {
                let escapes = is_escape_string_prefix(&chars, i);
                i = scan_quoted(&chars, i, '\'', escapes, &mut current, &mut line)?;
            }
            '"' => {
                i = scan_quoted(&chars, i, '"', false, &mut current, &mut line)?;
            }
            '$' => match dollar_tag(&chars, i) {
                Some(tag) => {
                    let opened = line;
                    let tag_chars: Vec<char> = tag.chars().collect();
                    current.push_str(&tag);
                    i += tag_chars.len();
                    loop {
                        if i >= chars.len() {
                            return Err(SplitError {
                                line: opened,
                                message: format!("unterminated dollar quote {tag}"),
                            });
                        }
                        if chars[i..].starts_with(&tag_chars) {
                            current.push_str(&tag);
                            i += tag_chars.len();
                            break;
                        }
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        current.push(chars[i]);
                        i += 1;
                    }
                }
                None => {
                    current.push(c);
                    i += 1;
                }
            },
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch.is_alphanumeric() || ch == '_' || ch == '$' {
                        word.push(ch);
                        i += 1;
                    } else {
                        break;
                    }
                }
                current.push_str(&word);
                let upper = word.to_ascii_uppercase();
                if is_routine_definition(&words) {
                    match upper.as_str() {
                        "BEGIN" | "CASE" => atomic_depth += 1,
                        "END" if atomic_depth > 0 => atomic_depth -= 1,
                        _ => {}
                    }
                }
                if words.len() < 8 {
                    words.push(upper);
                }
            }
            _ => {
                current.push(c);
                i += 1;
            }
        }
    }
    push_statement(&mut out, &mut current, &mut start_line);
    Ok(out)
}

/// Copies a quoted string or identifier starting at `i` (the opening quote) into `current`,
/// doubling quotes and, for `E''` strings, backslash escapes included. Returns the index after
/// the closing quote.
fn scan_quoted(
    chars: &[char],
    mut i: usize,
    quote: char,
    backslash_escapes: bool,
    current: &mut String,
    line: &mut usize,
) -> Result<usize, SplitError> {
    let opened = *line;
    current.push(quote);
    i += 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(SplitError {
                    line: opened,
                    message: if quote == '"' {
                        "unterminated quoted identifier".into()
                    } else {
                        "unterminated string literal".into()
                    },
                })
            }
            Some('\\') if backslash_escapes => {
                current.push('\\');
                if let Some(&escaped) = chars.get(i + 1) {
                    if escaped == '\n' {
                        *line += 1;
                    }
                    current.push(escaped);
                }
                i += 2;
            }
            Some(&ch) if ch == quote && chars.get(i + 1) == Some(&quote) => {
                current.push(quote);
                current.push(quote);
                i += 2;
            }
            Some(&ch) if ch == quote => {
                current.push(quote);
                return Ok(i + 1);
            }
            Some(&ch) => {
                if ch == '\n' {
                    *line += 1;
                }
                current.push(ch);
                i += 1;
            }
        }
    }
}

fn push_statement(out: &mut Vec<Statement>, current: &mut String, start: &mut Option<usize>) {
    let sql = current.trim();
    if let Some(line) = start.take() {
        if !sql.is_empty() {
            out.push(Statement {
                sql: sql.to_owned(),
                line,
            });
        }
    }
    current.clear();
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE`: only these can hold `BEGIN ATOMIC ... END`.
fn is_routine_definition(words: &[String]) -> bool {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    matches!(
        w.as_slice(),
        ["CREATE", "FUNCTION" | "PROCEDURE", ..]
            | ["CREATE", "OR", "REPLACE", "FUNCTION" | "PROCEDURE", ..]
    )
}

/// True when the quote at `i` opens an `E'...'` string (the E is a token of its own).
fn is_escape_string_prefix(chars: &[char], i: usize) -> bool {
    if i == 0 || !matches!(chars[i - 1], 'E' | 'e') {
        return false;
    }
    i < 2 || !(chars[i - 2].is_alphanumeric() || chars[i - 2] == '_')
}

/// The dollar-quote tag (`$$` or `$name$`) starting at `i`, if one starts there.
fn dollar_tag(chars: &[char], i: usize) -> Option<String> {
    // `$1` is a parameter; `a$b` is part of an identifier.
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let mut j = i + 1;
    while let Some(&ch) = chars.get(j) {
        if ch == '$' {
            return Some(chars[i..=j].iter().collect());
        }
        let ok = ch.is_alphabetic() || ch == '_' || (j > i + 1 && ch.is_ascii_digit());
        if !ok {
            return None;
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(text: &str) -> Vec<String> {
        split_statements(text, 1)
            .unwrap()
            .into_iter()
            .map(|s| s.sql)
            .collect()
    }

    #[test]
    fn semicolons_inside_quotes_comments_and_bodies_do_not_split() {
        let text = r#"
CREATE TABLE "semi;colon" (note text DEFAULT 'a;b' /* c;d */); -- e;f
INSERT INTO "semi;colon" VALUES (E'it\'s; fine'), ('it''s; fine');
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
  PERFORM 1; RETURN 2;
END $body$;
CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
CREATE OR REPLACE FUNCTION h(x int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;
  SELECT x;
END;
SELECT $1, a$b FROM t
"#;
        let got = sqls(text);
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(got[0].ends_with("'a;b'  )"), "{}", got[0]);
        assert!(got[1].contains(r"E'it\'s; fine'"));
        assert!(got[2].contains("PERFORM 1; RETURN 2;"));
        assert!(got[3].contains("SELECT 1; $$"));
        assert!(got[4].contains("SELECT x;\nEND"), "{}", got[4]);
        assert_eq!(got[5], "SELECT $1, a$b FROM t");
    }

    #[test]
    fn statements_carry_their_line() {
        let got = split_statements("\n-- intro\nSELECT 1;\n\n  SELECT\n 2;", 10).unwrap();
        assert_eq!(got[0].line, 12);
        assert_eq!(got[1].line, 14);
    }

    #[test]
    fn nested_block_comments() {
        assert_eq!(
            sqls("/* a /* b; */ c; */ SELECT 1; SELECT 2"),
            vec!["SELECT 1", "SELECT 2"]
        );
    }

    #[test]
    fn unterminated_things_name_the_line_they_opened_on() {
        for (text, needle, line) in [
            ("SELECT 1;\nSELECT 'oops;\n", "string literal", 2),
            ("SELECT 1;\n\nSELECT \"x;\n", "quoted identifier", 3),
            (
                "CREATE FUNCTION f() AS $x$ SELECT 1;\n",
                "dollar quote $x$",
                1,
            ),
            ("SELECT 1; /* never closed", "/* comment", 1),
            ("SELECT 1;\n\\i other.sql\n", "meta-command \\i", 2),
            ("\\restrict k\n\\set x 1\n", "meta-command \\set", 2),
        ] {
            let err = split_statements(text, 1).unwrap_err();
            assert!(err.message.contains(needle), "{text:?}: {err:?}");
            assert_eq!(err.line, line, "{text:?}");
        }
    }

    #[test]
    fn pg_dump_restrict_lines_are_skipped() {
        let dump = "--\n-- PostgreSQL database dump\n--\n\n\\restrict AbC123xyz\n\n\
                    SET client_encoding = 'UTF8';\nCREATE TABLE t (id int);\n\n\
                    \\unrestrict AbC123xyz\n";
        let got = split_statements(dump, 1).unwrap();
        assert_eq!(
            got.iter()
                .map(|s| (s.sql.as_str(), s.line))
                .collect::<Vec<_>>(),
            vec![
                ("SET client_encoding = 'UTF8'", 7),
                ("CREATE TABLE t (id int)", 8)
            ]
        );
    }
}
