//! Migration files: the `-- retort:<key> <value>` header, the `up` and `down` sections, and
//! writing new files.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Location, MigrateError};
use retort_pg::{split_statements, Statement};

/// Keys a header may hold, in the order [`Migration::render`] writes them.
const HEADER_KEYS: [&str; 8] = [
    "revision",
    "parents",
    "message",
    "depends-on",
    "branch-labels",
    "transaction",
    "phase",
    "imported",
];

/// Which half of a two-phase (expand/contract) change a migration is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// An ordinary migration.
    #[default]
    Single,
    /// `-- retort:phase expand`: the additive half, which `upgrade` runs; the application
    /// version before it keeps working (its shape is served as views in
    /// [`crate::shape::shape_schema`] of the parent revision).
    Expand,
    /// `-- retort:phase contract`: the half that removes what the old application version
    /// used. `upgrade` stops before it; `retort complete` runs it once no session uses the
    /// old shape, and `retort abort` undoes the expand instead.
    Contract,
}

/// One section (`up` or `down`) of a migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The SQL text, as in the file.
    pub sql: String,
    /// 1-based line of the section's first SQL line in the file.
    pub first_line: usize,
}

impl Section {
    /// Splits the section into statements the way psql would.
    ///
    /// Errors: unterminated quotes or comments, and psql meta-commands, each with file:line.
    pub fn statements(&self, file: &Path) -> Result<Vec<Statement>, MigrateError> {
        split_statements(&self.sql, self.first_line).map_err(|e| MigrateError::Parse {
            at: Location {
                file: file.to_owned(),
                line: e.line,
            },
            message: e.message,
        })
    }

    /// True when the section holds no SQL (only whitespace and comments).
    pub fn is_empty(&self) -> bool {
        split_statements(&self.sql, 1)
            .map(|s| s.is_empty())
            .unwrap_or(false)
    }
}

/// A parsed migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The revision id: 12 lowercase hex characters.
    pub revision: String,
    /// Parent revisions: none for a root, several for a merge.
    pub parents: Vec<String>,
    /// One-line description.
    pub message: String,
    /// Revisions (usually on other branches) that must be applied first.
    pub depends_on: Vec<String>,
    /// Names for the branch starting at this revision (`auth@head`).
    pub branch_labels: Vec<String>,
    /// False for `-- retort:transaction off`.
    pub transactional: bool,
    /// `-- retort:phase`: the expand or contract half of a two-phase change.
    pub phase: Phase,
    /// The upgrade SQL.
    pub up: Section,
    /// The downgrade SQL, when the file has a `-- retort:down` section.
    pub down: Option<Section>,
    /// Where the file is (a path on disk, or the path inside an embedded directory).
    pub path: PathBuf,
    /// `-- retort:imported <from>`: the revision came from another tool (e.g. `alembic
    /// versions/ae10_add_users.py`) whose SQL already ran on existing databases.
    pub imported: Option<String>,
    /// Line of each header directive, for error messages (`parents`, `depends-on`).
    pub(crate) directive_lines: Vec<(&'static str, usize)>,
}

/// Fields for a new migration file ([`Migration::render`]).
#[derive(Debug, Clone, Default)]
pub struct NewMigration {
    /// The revision id ([`new_revision_id`]).
    pub revision: String,
    /// Parents.
    pub parents: Vec<String>,
    /// Message (newlines become spaces).
    pub message: String,
    /// depends-on revisions.
    pub depends_on: Vec<String>,
    /// Branch labels.
    pub branch_labels: Vec<String>,
    /// Whether the migration runs in a transaction.
    pub transactional: bool,
    /// `-- retort:phase`.
    pub phase: Phase,
    /// Up SQL (may be empty: the user fills it in).
    pub up: String,
    /// Down SQL.
    pub down: String,
    /// Write no `-- retort:down` section at all, so a downgrade through it is refused
    /// (a baseline cannot be undone).
    pub irreversible: bool,
    /// `-- retort:imported <from>`.
    pub imported: Option<String>,
}

impl Migration {
    /// SHA-256 of the up section as lowercase hex, with CRLF normalised to LF so a Windows
    /// checkout never looks edited.
    pub fn checksum(&self) -> String {
        checksum(&self.up.sql)
    }

    /// The line of a header directive, or 1.
    pub(crate) fn line_of(&self, key: &str) -> usize {
        self.directive_lines
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| *l)
            .unwrap_or(1)
    }

    /// file:line of a header directive.
    pub(crate) fn location(&self, key: &str) -> Location {
        Location {
            file: self.path.clone(),
            line: self.line_of(key),
        }
    }

    /// Parses the text of one migration file. `path` is used in errors and kept in the result.
    ///
    /// Errors (all with file:line): a missing or malformed `revision`, an unknown or repeated
    /// directive, SQL before `-- retort:up`, a header directive inside a section, a missing
    /// `-- retort:up`, a file name whose revision prefix disagrees with the directive.
    pub fn parse(text: &str, path: &Path) -> Result<Migration, MigrateError> {
        let err = |line: usize, message: String| MigrateError::Parse {
            at: Location {
                file: path.to_owned(),
                line,
            },
            message,
        };
        let mut revision = None;
        let mut parents = Vec::new();
        let mut message = String::new();
        let mut depends_on = Vec::new();
        let mut branch_labels = Vec::new();
        let mut transactional = true;
        let mut phase = Phase::Single;
        let mut imported = None;
        let mut directive_lines: Vec<(&'static str, usize)> = Vec::new();
        // (which section, first SQL line, byte range start)
        let mut up: Option<(usize, usize)> = None; // (first line, byte offset)
        let mut down: Option<(usize, usize)> = None;
        let mut up_end = text.len();

        let mut offset = 0;
        for (idx, raw) in text.split_inclusive('\n').enumerate() {
            let line_no = idx + 1;
            let line_start = offset;
            offset += raw.len();
            let line = raw.trim_end_matches(['\n', '\r']);
            let Some((key, value)) = directive(line) else {
                if up.is_none() && !is_blank_or_comment(line) {
                    return Err(err(
                        line_no,
                        "SQL before `-- retort:up`: statements belong in the up or down section"
                            .into(),
                    ));
                }
                continue;
            };
            match key.as_str() {
                "up" | "down" if !value.is_empty() => {
                    return Err(err(
                        line_no,
                        format!(
                            "`-- retort:{key}` takes no value; put the SQL on the following lines"
                        ),
                    ))
                }
                "up" => {
                    if up.is_some() {
                        return Err(err(line_no, "a second `-- retort:up` marker".into()));
                    }
                    up = Some((line_no + 1, offset));
                }
                "down" => {
                    if up.is_none() {
                        return Err(err(
                            line_no,
                            "`-- retort:down` before `-- retort:up`: the up section comes first"
                                .into(),
                        ));
                    }
                    if down.is_some() {
                        return Err(err(line_no, "a second `-- retort:down` marker".into()));
                    }
                    up_end = line_start;
                    down = Some((line_no + 1, offset));
                }
                // `-- retort:allow <rule> <reason>` excuses the statement below it from a lint
                // rule (retort-lint reads it); it lives in a section, next to that statement.
                "allow" if up.is_some() => {}
                // `-- retort:batch` runs the UPDATE below it in key ranges, each its own
                // transaction: only in a migration that is not one transaction.
                "batch" if up.is_some() && down.is_none() => {
                    if transactional {
                        return Err(err(
                            line_no,
                            "`-- retort:batch` runs the UPDATE below it in batches, each its own \
                             transaction: mark the migration `-- retort:transaction off`"
                                .into(),
                        ));
                    }
                }
                "batch" => {
                    return Err(err(
                        line_no,
                        "`-- retort:batch` goes inside the up section, on the line above the \
                         UPDATE it runs in batches"
                            .into(),
                    ))
                }
                "allow" => {
                    return Err(err(
                        line_no,
                        "`-- retort:allow` goes inside the up or down section, on the line above \
                         the statement it excuses"
                            .into(),
                    ))
                }
                other => {
                    let Some(known) = HEADER_KEYS.iter().find(|k| **k == other) else {
                        return Err(err(line_no, unknown_directive(&key)));
                    };
                    if up.is_some() {
                        return Err(err(
                            line_no,
                            format!(
                                "`-- retort:{other}` inside a SQL section: header directives go \
                                 above `-- retort:up`"
                            ),
                        ));
                    }
                    if directive_lines.iter().any(|(k, _)| k == known) {
                        return Err(err(line_no, format!("`-- retort:{other}` appears twice")));
                    }
                    directive_lines.push((known, line_no));
                    match *known {
                        "revision" => {
                            if !is_revision_id(&value) {
                                return Err(err(
                                    line_no,
                                    format!(
                                        "revision `{value}` is not 12 lowercase hex characters \
                                         (like 3f2a9c1b7e4d)"
                                    ),
                                ));
                            }
                            revision = Some(value);
                        }
                        "parents" => parents = revision_list(&value, line_no, &err)?,
                        "depends-on" => depends_on = revision_list(&value, line_no, &err)?,
                        "message" => message = value,
                        "branch-labels" => {
                            for label in list(&value) {
                                if !is_label(label) {
                                    return Err(err(
                                        line_no,
                                        format!(
                                            "branch label `{label}` may only hold letters, \
                                             digits, `_` and `-`, and must not start with a digit"
                                        ),
                                    ));
                                }
                                branch_labels.push(label.to_owned());
                            }
                        }
                        "transaction" => {
                            transactional = match value.as_str() {
                                "on" => true,
                                "off" => false,
                                _ => {
                                    return Err(err(
                                        line_no,
                                        format!("`-- retort:transaction {value}`: write on or off"),
                                    ))
                                }
                            }
                        }
                        "phase" => {
                            phase = match value.as_str() {
                                "expand" => Phase::Expand,
                                "contract" => Phase::Contract,
                                _ => {
                                    return Err(err(
                                        line_no,
                                        format!(
                                            "`-- retort:phase {value}`: write expand or contract"
                                        ),
                                    ))
                                }
                            }
                        }
                        "imported" => imported = Some(value),
                        _ => unreachable!("HEADER_KEYS and this match list the same keys"),
                    }
                }
            }
        }
        let Some(revision) = revision else {
            return Err(err(
                1,
                "no `-- retort:revision` line; every migration needs one (retort new writes it)"
                    .into(),
            ));
        };
        let Some((up_line, up_start)) = up else {
            return Err(err(
                text.lines().count().max(1),
                "no `-- retort:up` marker; the upgrade SQL goes below it".into(),
            ));
        };
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            if let Some((prefix, _)) = stem.split_once('_') {
                if is_revision_id(prefix) && prefix != revision {
                    return Err(err(
                        directive_lines
                            .iter()
                            .find(|(k, _)| *k == "revision")
                            .map_or(1, |(_, l)| *l),
                        format!(
                            "the file name says revision {prefix} but the file says {revision}; \
                             rename the file or fix the directive"
                        ),
                    ));
                }
            }
        }
        let up = Section {
            sql: text[up_start..up_end].to_owned(),
            first_line: up_line,
        };
        let down = down.map(|(line, start)| Section {
            sql: text[start..].to_owned(),
            first_line: line,
        });
        Ok(Migration {
            revision,
            parents,
            message,
            depends_on,
            branch_labels,
            transactional,
            phase,
            up,
            down,
            path: path.to_owned(),
            imported,
            directive_lines,
        })
    }
}

impl NewMigration {
    /// The text of the file.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("-- retort:revision {}\n", self.revision));
        if !self.parents.is_empty() {
            out.push_str(&format!("-- retort:parents {}\n", self.parents.join(" ")));
        }
        let message: String = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!("-- retort:message {message}\n"));
        if !self.depends_on.is_empty() {
            out.push_str(&format!(
                "-- retort:depends-on {}\n",
                self.depends_on.join(" ")
            ));
        }
        if !self.branch_labels.is_empty() {
            out.push_str(&format!(
                "-- retort:branch-labels {}\n",
                self.branch_labels.join(" ")
            ));
        }
        if !self.transactional {
            out.push_str("-- retort:transaction off\n");
        }
        match self.phase {
            Phase::Single => {}
            Phase::Expand => out.push_str("-- retort:phase expand\n"),
            Phase::Contract => out.push_str("-- retort:phase contract\n"),
        }
        if let Some(from) = &self.imported {
            out.push_str(&format!("-- retort:imported {from}\n"));
        }
        out.push_str("\n-- retort:up\n");
        out.push_str(self.up.trim_end());
        out.push_str(if self.up.trim().is_empty() { "" } else { "\n" });
        if self.irreversible {
            return out;
        }
        out.push_str("\n-- retort:down\n");
        out.push_str(self.down.trim_end());
        if !self.down.trim().is_empty() {
            out.push('\n');
        }
        out
    }

    /// `<revision>_<slug>.sql`, the slug made from the message.
    pub fn file_name(&self) -> String {
        let mut slug = String::new();
        for c in self.message.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('_') && !slug.is_empty() {
                slug.push('_');
            }
            if slug.len() >= 48 {
                break;
            }
        }
        let slug = slug.trim_end_matches('_');
        if slug.is_empty() {
            format!("{}.sql", self.revision)
        } else {
            format!("{}_{}.sql", self.revision, slug)
        }
    }
}

/// A fresh random revision id: 12 lowercase hex characters (48 random bits).
pub fn new_revision_id() -> Result<String, MigrateError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes)
        .map_err(|e| MigrateError::Invalid(format!("no randomness for a revision id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// SHA-256 of `sql` as lowercase hex, CRLF normalised to LF.
pub fn checksum(sql: &str) -> String {
    let normalised = sql.replace("\r\n", "\n");
    let digest = Sha256::digest(normalised.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// True for 12 lowercase hex characters.
pub fn is_revision_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `-- retort:key value` (lenient about spaces and case of "retort" so that near-misses are
/// reported instead of being silently treated as comments).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix("--")?.trim_start();
    // `get` and not indexing: a comment may start with a multi-byte character.
    if !rest.get(..6)?.eq_ignore_ascii_case("retort") {
        return None;
    }
    let rest = rest.get(6..)?.trim_start().strip_prefix(':')?;
    let rest = rest.trim_start();
    let (key, value) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    Some((key.to_owned(), value.to_owned()))
}

fn unknown_directive(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    let all = ["up", "down"].iter().chain(HEADER_KEYS.iter());
    let suggestion = all
        .clone()
        .find(|k| **k == lower || **k == lower.replace('_', "-") || edit_distance(k, &lower) <= 2);
    let known = all.copied().collect::<Vec<_>>().join(", ");
    match suggestion {
        Some(s) => format!(
            "unknown directive `-- retort:{key}`; did you mean `-- retort:{s}`? (known: {known})"
        ),
        None => format!("unknown directive `-- retort:{key}` (known: {known})"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with("--")
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

fn revision_list(
    value: &str,
    line: usize,
    err: &dyn Fn(usize, String) -> MigrateError,
) -> Result<Vec<String>, MigrateError> {
    if value == "none" {
        return Ok(Vec::new());
    }
    let mut out: Vec<String> = Vec::new();
    for item in list(value) {
        if !is_revision_id(item) {
            return Err(err(
                line,
                format!("`{item}` is not a revision id (12 lowercase hex characters)"),
            ));
        }
        if out.iter().any(|o| o == item) {
            return Err(err(line, format!("`{item}` is listed twice")));
        }
        out.push(item.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Migration, MigrateError> {
        Migration::parse(text, Path::new("m/aaaaaaaaaaaa_x.sql"))
    }

    fn parse_err(text: &str) -> (usize, String) {
        match parse(text) {
            Err(MigrateError::Parse { at, message }) => (at.line, message),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_of_a_rendered_file() {
        let new = NewMigration {
            revision: "aaaaaaaaaaaa".into(),
            parents: vec!["bbbbbbbbbbbb".into(), "cccccccccccc".into()],
            message: "add\nusers  table".into(),
            depends_on: vec!["dddddddddddd".into()],
            branch_labels: vec!["auth".into()],
            transactional: false,
            phase: Phase::Expand,
            up: "CREATE TABLE users (id int);\r\n".into(),
            down: "DROP TABLE users;".into(),
            irreversible: false,
            imported: Some("alembic versions/aaaa_add.py".into()),
        };
        let m = parse(&new.render()).unwrap();
        let irreversible = NewMigration {
            irreversible: true,
            ..new.clone()
        };
        assert!(parse(&irreversible.render()).unwrap().down.is_none());
        assert_eq!(m.revision, "aaaaaaaaaaaa");
        assert_eq!(m.parents, ["bbbbbbbbbbbb", "cccccccccccc"]);
        assert_eq!(m.message, "add users table");
        assert_eq!(m.depends_on, ["dddddddddddd"]);
        assert_eq!(m.branch_labels, ["auth"]);
        assert!(!m.transactional);
        assert_eq!(
            m.up.statements(&m.path).unwrap()[0].sql,
            "CREATE TABLE users (id int)"
        );
        assert_eq!(m.imported.as_deref(), Some("alembic versions/aaaa_add.py"));
        assert_eq!(m.phase, Phase::Expand);
        assert_eq!(m.up.first_line, 11);
        assert_eq!(m.up.statements(&m.path).unwrap()[0].line, 11);
        let down = m.down.as_ref().unwrap();
        assert_eq!(down.statements(&m.path).unwrap()[0].sql, "DROP TABLE users");
        assert_eq!(new.file_name(), "aaaaaaaaaaaa_add_users_table.sql");
    }

    #[test]
    fn checksum_ignores_crlf_but_not_content() {
        assert_eq!(checksum("a;\r\nb;\r\n"), checksum("a;\nb;\n"));
        assert_ne!(checksum("a;\n"), checksum("b;\n"));
        assert_eq!(checksum("").len(), 64);
    }

    #[test]
    fn malformed_headers_name_the_line() {
        let (line, msg) =
            parse_err("-- retort:revision aaaaaaaaaaaa\n-- retort:mesage hi\n-- retort:up\n");
        assert_eq!(line, 2);
        assert!(msg.contains("did you mean `-- retort:message`"), "{msg}");

        let (line, msg) =
            parse_err("-- retort:revision aaaaaaaaaaaa\nCREATE TABLE t();\n-- retort:up\n");
        assert_eq!(line, 2);
        assert!(msg.contains("SQL before"), "{msg}");

        let (line, msg) = parse_err("-- retort:revision xyz\n-- retort:up\n");
        assert_eq!(line, 1);
        assert!(msg.contains("12 lowercase hex"), "{msg}");

        let (line, msg) = parse_err(
            "-- retort:revision aaaaaaaaaaaa\n-- retort:transaction maybe\n-- retort:up\n",
        );
        assert_eq!(line, 2);
        assert!(msg.contains("on or off"), "{msg}");

        let (line, _) = parse_err(
            "-- retort:revision aaaaaaaaaaaa\n-- retort:up\nselect 1;\n-- retort:message late\n",
        );
        assert_eq!(line, 4);

        let (_, msg) = parse_err("-- retort:revision aaaaaaaaaaaa\nselect 1;\n");
        assert!(msg.contains("SQL before"), "{msg}");

        let (line, msg) = parse_err("-- retort:revision aaaaaaaaaaaa\n-- retort:message a\n\n");
        assert_eq!(line, 3);
        assert!(msg.contains("no `-- retort:up`"), "{msg}");

        let (line, msg) = parse_err("-- Retort: Up\n");
        assert_eq!(line, 1);
        assert!(msg.contains("did you mean `-- retort:up`"), "{msg}");

        let (line, msg) = parse_err(
            "-- retort:revision aaaaaaaaaaaa\n-- retort:revision aaaaaaaaaaaa\n-- retort:up\n",
        );
        assert_eq!(line, 2);
        assert!(msg.contains("twice"), "{msg}");

        let (_, msg) = parse_err("-- retort:revision bbbbbbbbbbbb\n-- retort:up\n");
        assert!(
            msg.contains("file name says revision aaaaaaaaaaaa"),
            "{msg}"
        );
    }

    #[test]
    fn comments_with_unicode_are_comments() {
        let m = parse(
            "-- retort:revision aaaaaaaaaaaa\n-- retort:up\n-- retort:allow index-not-concurrent tiny table\nCREATE INDEX i ON t (c);\n",
        )
        .unwrap();
        assert!(m.up.sql.contains("retort:allow"));
        let (line, msg) =
            parse_err("-- retort:revision aaaaaaaaaaaa\n-- retort:allow x y\n-- retort:up\n");
        assert_eq!(line, 2);
        assert!(msg.contains("inside the up or down section"), "{msg}");
        let m = parse("-- retort:revision aaaaaaaaaaaa\n-- réglé: ünïcödé comment ✓\n-- retort:up\n-- ✓✓ done\nselect 1;\n").unwrap();
        assert_eq!(m.up.statements(&m.path).unwrap().len(), 1);
    }

    #[test]
    fn new_revision_ids_are_valid_and_differ() {
        let a = new_revision_id().unwrap();
        let b = new_revision_id().unwrap();
        assert!(is_revision_id(&a) && is_revision_id(&b));
        assert_ne!(a, b);
    }
}
