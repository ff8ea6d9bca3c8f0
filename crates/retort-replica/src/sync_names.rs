//! `synchronous_standby_names`, parsed the way the server reads it.

use serde::Serialize;

use crate::error::ReplicaError;

/// How the server picks synchronous standbys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMethod {
    /// `FIRST n (...)` (or the old `n (...)` and plain-list forms): the first n connected
    /// standbys in list order are synchronous.
    Priority,
    /// `ANY n (...)`: a commit waits for any n of the listed standbys.
    Quorum,
}

/// A parsed `synchronous_standby_names`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStandbyNames {
    /// Priority or quorum.
    pub method: SyncMethod,
    /// How many synchronous standbys each commit waits for.
    pub num_sync: u32,
    /// The candidate names in order; `*` matches any standby.
    pub names: Vec<String>,
}

impl SyncStandbyNames {
    /// Parses the setting; `Ok(None)` when it is empty (no synchronous replication).
    pub fn parse(text: &str) -> Result<Option<SyncStandbyNames>, ReplicaError> {
        let bad = |why: &str| ReplicaError::InvalidSyncNames {
            value: text.to_owned(),
            reason: why.to_owned(),
        };
        let tokens = tokenize(text).map_err(|e| bad(&e))?;
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut i = 0;
        let mut method = SyncMethod::Priority;
        let mut num_sync = 1;
        let mut listed = false;
        if let Tok::Word(w, false) = &tokens[0] {
            let upper = w.to_ascii_uppercase();
            if (upper == "FIRST" || upper == "ANY")
                && matches!(tokens.get(1), Some(Tok::Word(n, false)) if n.parse::<u32>().is_ok())
            {
                method = if upper == "ANY" {
                    SyncMethod::Quorum
                } else {
                    SyncMethod::Priority
                };
                i = 1;
            }
        }
        if let Some(Tok::Word(n, false)) = tokens.get(i) {
            if let Ok(v) = n.parse::<u32>() {
                if matches!(tokens.get(i + 1), Some(Tok::Open)) {
                    num_sync = v;
                    i += 2;
                    listed = true;
                }
            }
        }
        if i == 1 {
            return Err(bad(
                "FIRST/ANY must be followed by a number and a parenthesised list",
            ));
        }
        let mut names = Vec::new();
        let mut expect_name = true;
        while i < tokens.len() {
            match &tokens[i] {
                Tok::Word(w, quoted) if expect_name => {
                    names.push(if *quoted {
                        w.clone()
                    } else {
                        w.to_ascii_lowercase()
                    });
                    expect_name = false;
                }
                Tok::Comma if !expect_name => expect_name = true,
                Tok::Close if listed && !expect_name && i == tokens.len() - 1 => {}
                _ => return Err(bad("expected a list of standby names separated by commas")),
            }
            i += 1;
        }
        if listed && !matches!(tokens.last(), Some(Tok::Close)) {
            return Err(bad("missing closing parenthesis"));
        }
        if names.is_empty() || expect_name {
            return Err(bad(
                "the list of standby names is empty or ends with a comma",
            ));
        }
        if num_sync == 0 {
            return Err(bad("the number of synchronous standbys must be at least 1"));
        }
        Ok(Some(SyncStandbyNames {
            method,
            num_sync,
            names,
        }))
    }

    /// Whether a standby with this `application_name` is a candidate.
    pub fn lists(&self, application_name: &str) -> bool {
        self.names
            .iter()
            .any(|n| n == "*" || n.eq_ignore_ascii_case(application_name))
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String, bool),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            ',' => {
                chars.next();
                out.push(Tok::Comma);
            }
            '"' => {
                chars.next();
                let mut w = String::new();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            w.push('"');
                        }
                        Some('"') => break,
                        Some(ch) => w.push(ch),
                        None => return Err("unterminated quoted name".into()),
                    }
                }
                out.push(Tok::Word(w, true));
            }
            _ => {
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '(' | ')' | ',' | '"') {
                        break;
                    }
                    w.push(ch);
                    chars.next();
                }
                out.push(Tok::Word(w, false));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SyncStandbyNames {
        SyncStandbyNames::parse(s).unwrap().unwrap()
    }

    #[test]
    fn every_form_the_server_accepts() {
        assert_eq!(SyncStandbyNames::parse("").unwrap(), None);
        assert_eq!(SyncStandbyNames::parse("  ").unwrap(), None);
        let s = p("standby1");
        assert_eq!(
            (s.method, s.num_sync, s.names.clone()),
            (SyncMethod::Priority, 1, vec!["standby1".to_owned()])
        );
        let s = p("s1, s2");
        assert_eq!((s.num_sync, s.names.len()), (1, 2));
        let s = p("FIRST 2 (s1, s2, s3)");
        assert_eq!(
            (s.method, s.num_sync, s.names.len()),
            (SyncMethod::Priority, 2, 3)
        );
        let s = p("any 1 (\"Standby One\", s2)");
        assert_eq!(s.method, SyncMethod::Quorum);
        assert_eq!(s.names, vec!["Standby One".to_owned(), "s2".to_owned()]);
        let s = p("2 (a, b)");
        assert_eq!((s.method, s.num_sync), (SyncMethod::Priority, 2));
        let s = p("*");
        assert!(s.lists("anything"));
        let s = p("\"we\"\"ird\"");
        assert_eq!(s.names, vec!["we\"ird".to_owned()]);
        // Unquoted names are case-insensitive; the server lower-cases them.
        assert!(p("Standby1").lists("standby1"));
        assert!(p("FIRST 1 (Standby1)").lists("STANDBY1"));
    }

    #[test]
    fn malformed_settings_are_errors() {
        for bad in [
            "FIRST (a)",
            "ANY 1 a, b",
            "FIRST 1 (a, b",
            "a,",
            "(a)",
            "FIRST 0 (a)",
            "\"a",
            "a b",
        ] {
            assert!(SyncStandbyNames::parse(bad).is_err(), "{bad}");
        }
    }
}
