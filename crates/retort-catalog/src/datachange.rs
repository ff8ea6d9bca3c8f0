//! Changes that need data: what autogenerate must ask before it writes a migration, and what it
//! writes once it is answered.
//!
//! A schema diff knows shapes, not values. Three kinds of change need values it cannot know:
//! a NOT NULL column without a default added to a table that holds rows, a NOT NULL set on a
//! column that holds NULLs, and a type change whose cast can fail or change a value. Renames
//! are a fourth: a dropped column and an added one look the same as a rename, and guessing
//! wrong loses the data, so renames are declared, never guessed.
//!
//! This module is the sans-IO part: parsing the answers (`--fill`, `--convert`,
//! `--convert-back`, `--rename`), finding the questions in two catalogs, and the SQL the answers
//! become. The few facts that need a database (which tables hold rows, whether a column holds
//! NULLs, whether a fill value is a constant PostgreSQL can store without rewriting the table)
//! come in as closures or through [`probe_fill`], which runs on a throwaway copy of the
//! migrations head, never on the user's database.

use std::fmt;

use retort_pg::{quote_ident, Client};

use crate::catalog::Catalog;
use crate::diff::{Action, Change, SchemaDiff};
use crate::name::{ObjKey, QName};

/// A column named on the command line, resolved against a catalog.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnRef {
    /// The table.
    pub table: QName,
    /// The column.
    pub column: String,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, quote_ident(&self.column))
    }
}

/// A declared rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rename {
    /// `ALTER TABLE old RENAME TO new` (same schema).
    Table {
        /// The table's name in the migrations head.
        old: QName,
        /// Its new name, in the same schema.
        new: String,
    },
    /// `ALTER TABLE table RENAME COLUMN old TO new`.
    Column {
        /// The table, by its name in the migrations head.
        table: QName,
        /// The column's name in the migrations head.
        old: String,
        /// Its new name.
        new: String,
    },
}

impl Rename {
    /// The statement that makes the rename.
    pub fn up_sql(&self) -> String {
        match self {
            Rename::Table { old, new } => {
                format!("ALTER TABLE {old} RENAME TO {}", quote_ident(new))
            }
            Rename::Column { table, old, new } => format!(
                "ALTER TABLE {table} RENAME COLUMN {} TO {}",
                quote_ident(old),
                quote_ident(new)
            ),
        }
    }

    /// The statement that undoes it.
    pub fn down_sql(&self) -> String {
        match self {
            Rename::Table { old, new } => format!(
                "ALTER TABLE {} RENAME TO {}",
                QName::new(old.schema.clone(), new.clone()),
                quote_ident(&old.name)
            ),
            Rename::Column { table, old, new } => Rename::Column {
                table: table.clone(),
                old: new.clone(),
                new: old.clone(),
            }
            .up_sql(),
        }
    }
}

/// An answer (`--fill`, `--convert`, `--convert-back`) as typed: the column's name parts and
/// the SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    /// `schema.table.column` or `table.column`, unquoted (quoted parts kept as written).
    pub name: Vec<String>,
    /// The SQL after `=`.
    pub sql: String,
}

/// What is wrong with an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {text}: {why}")]
pub struct AnswerError {
    /// The flag (`--fill`, `--rename`, ...).
    pub flag: &'static str,
    /// The value as given.
    pub text: String,
    /// What is wrong and what to write instead.
    pub why: String,
}

fn answer_error(flag: &'static str, text: &str, why: impl Into<String>) -> AnswerError {
    AnswerError {
        flag,
        text: text.to_owned(),
        why: why.into(),
    }
}

/// Reads a dotted name (`a.b.c`, parts optionally double-quoted, unquoted parts folded to lower
/// case as PostgreSQL does) up to an unquoted `=` or the end; returns the parts and the rest
/// after `=` (None when there is no `=`).
pub fn parse_name(text: &str) -> Result<(Vec<String>, Option<&str>), String> {
    let mut parts = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut current = String::new();
    let mut quoted_part = false;
    while let Some((i, ch)) = chars.next() {
        match ch {
            '"' if current.is_empty() && !quoted_part => {
                quoted_part = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) if chars.peek().map(|(_, c)| *c) == Some('"') => {
                            chars.next();
                            current.push('"');
                        }
                        Some((_, '"')) => break,
                        Some((_, c)) => current.push(c),
                        None => return Err("a double quote is not closed".into()),
                    }
                }
            }
            '.' => {
                if current.is_empty() {
                    return Err("an empty name part (two dots, or a dot at an end)".into());
                }
                parts.push(std::mem::take(&mut current));
                quoted_part = false;
            }
            '=' => {
                if current.is_empty() {
                    return Err("no name before `=`".into());
                }
                parts.push(current);
                return Ok((parts, Some(&text[i + 1..])));
            }
            c if quoted_part => {
                return Err(format!(
                    "{c:?} after a quoted name part (write a dot or `=`)"
                ));
            }
            c if c.is_whitespace() => {
                return Err("a space in a name (double-quote the part that has one)".into())
            }
            c => current.extend(c.to_lowercase()),
        }
    }
    if current.is_empty() {
        return Err("no name".into());
    }
    parts.push(current);
    Ok((parts, None))
}

/// Parses `TABLE.COLUMN=SQL` (or `SCHEMA.TABLE.COLUMN=SQL`) for `flag`.
pub fn parse_answer(flag: &'static str, text: &str) -> Result<RawAnswer, AnswerError> {
    let (name, sql) = parse_name(text).map_err(|why| answer_error(flag, text, why))?;
    let sql = sql
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            answer_error(
                flag,
                text,
                "write TABLE.COLUMN=SQL, e.g. orders.status='new' or people.email=lower(login) || '@example.com'",
            )
        })?;
    if !(2..=3).contains(&name.len()) {
        return Err(answer_error(
            flag,
            text,
            "name a column as TABLE.COLUMN or SCHEMA.TABLE.COLUMN",
        ));
    }
    Ok(RawAnswer {
        name,
        sql: sql.to_owned(),
    })
}

/// The table `parts` (`[table]` or `[schema, table]`) names in `catalog`: a bare name is looked
/// up in `public` first, then in any schema where it is the only one of that name.
pub fn resolve_table(catalog: &Catalog, parts: &[String]) -> Result<QName, String> {
    match parts {
        [schema, name] => {
            let q = QName::new(schema.clone(), name.clone());
            if catalog.tables.contains_key(&q) {
                Ok(q)
            } else {
                Err(format!("there is no table {q}"))
            }
        }
        [name] => {
            let public = QName::new("public", name.clone());
            if catalog.tables.contains_key(&public) {
                return Ok(public);
            }
            let found: Vec<&QName> = catalog.tables.keys().filter(|q| &q.name == name).collect();
            match found.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(format!("there is no table {}", quote_ident(name))),
                many => Err(format!(
                    "{} names a table in several schemas ({}); qualify it",
                    quote_ident(name),
                    many.iter()
                        .map(|q| q.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        _ => Err("name a table as TABLE or SCHEMA.TABLE".into()),
    }
}

/// The column `parts` (`[table, column]` or `[schema, table, column]`) names in `catalog`.
pub fn resolve_column(catalog: &Catalog, parts: &[String]) -> Result<ColumnRef, String> {
    let Some((column, table)) = parts.split_last() else {
        return Err("no column named".into());
    };
    let table = resolve_table(catalog, table)?;
    let has = catalog.tables[&table]
        .columns
        .iter()
        .any(|c| &c.name == column);
    if !has {
        return Err(format!("{table} has no column {}", quote_ident(column)));
    }
    Ok(ColumnRef {
        table,
        column: column.clone(),
    })
}

/// Parses `--rename OLD=NEW` against the migrations head (`from`) and the wanted schema (`to`).
/// `OLD` is `table`, `schema.table`, `table.column` or `schema.table.column` (a two-part name is
/// a table when `from` has such a table, else a column); `NEW` is the new bare name (or the
/// same prefix with the new last part).
pub fn parse_rename(text: &str, from: &Catalog, to: &Catalog) -> Result<Rename, AnswerError> {
    const FLAG: &str = "--rename";
    let bad = |why: String| answer_error(FLAG, text, why);
    let (old, rest) = parse_name(text).map_err(bad)?;
    let rest = rest.ok_or_else(|| {
        bad("write OLD=NEW, e.g. users.name=full_name (a column) or users=people (a table)".into())
    })?;
    let (new, tail) = parse_name(rest.trim()).map_err(bad)?;
    if tail.is_some() {
        return Err(bad("a second `=`".into()));
    }
    let is_table = match old.len() {
        1 => true,
        2 => from
            .tables
            .contains_key(&QName::new(old[0].clone(), old[1].clone())),
        3 => false,
        _ => return Err(bad("name at most SCHEMA.TABLE.COLUMN".into())),
    };
    let new_name = new.last().cloned().unwrap_or_default();
    if new.len() > 1 && new[..new.len() - 1] != old[..new.len().min(old.len()) - 1] {
        return Err(bad(
            "a rename keeps a column in its table and a table in its schema; write NEW as a bare name"
                .into(),
        ));
    }
    if is_table {
        let old =
            resolve_table(from, &old).map_err(|w| bad(format!("{w} in the migrations head")))?;
        let renamed = QName::new(old.schema.clone(), new_name.clone());
        if from.tables.contains_key(&renamed) {
            return Err(bad(format!(
                "the migrations head already has a table {renamed}"
            )));
        }
        if !to.tables.contains_key(&renamed) {
            return Err(bad(format!("the wanted schema has no table {renamed}")));
        }
        Ok(Rename::Table { old, new: new_name })
    } else {
        let column =
            resolve_column(from, &old).map_err(|w| bad(format!("{w} in the migrations head")))?;
        if from.tables[&column.table]
            .columns
            .iter()
            .any(|c| c.name == new_name)
        {
            return Err(bad(format!(
                "{} already has a column {} in the migrations head",
                column.table,
                quote_ident(&new_name)
            )));
        }
        Ok(Rename::Column {
            table: column.table,
            old: column.column,
            new: new_name,
        })
    }
}

/// A question autogenerate cannot answer itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A NOT NULL column without a default is added to a table that holds rows.
    FillAdded {
        /// The column.
        column: ColumnRef,
        /// Its type.
        data_type: String,
    },
    /// A column becomes NOT NULL and holds NULLs.
    FillNulls {
        /// The column.
        column: ColumnRef,
    },
    /// A column's type changes, on a table that holds rows, with a cast that can fail or
    /// change a value.
    Convert {
        /// The column.
        column: ColumnRef,
        /// The type it has.
        old_type: String,
        /// The type it gets.
        new_type: String,
    },
}

impl Question {
    /// The column asked about.
    pub fn column(&self) -> &ColumnRef {
        match self {
            Question::FillAdded { column, .. }
            | Question::FillNulls { column }
            | Question::Convert { column, .. } => column,
        }
    }

    /// The flag that answers it.
    pub fn flag(&self) -> &'static str {
        match self {
            Question::FillAdded { .. } | Question::FillNulls { .. } => "--fill",
            Question::Convert { .. } => "--convert",
        }
    }

    /// What is asked and how to answer it, in one sentence.
    pub fn describe(&self) -> String {
        let c = self.column();
        match self {
            Question::FillAdded { data_type, .. } => format!(
                "{c} ({data_type} NOT NULL, no default) is added to a table that holds rows: the \
                 rows need a value; answer with --fill {c}=SQL (a constant, or an expression over \
                 the row's other columns)"
            ),
            Question::FillNulls { .. } => format!(
                "{c} becomes NOT NULL and holds NULLs: answer with --fill {c}=SQL (the value for \
                 the rows where it is NULL; a constant or an expression over the row's other columns)"
            ),
            Question::Convert {
                old_type, new_type, ..
            } => format!(
                "{c} changes from {old_type} to {new_type} on a table that holds rows, and that \
                 cast can fail or change a value: answer with --convert {c}=SQL (the new value \
                 from the old, e.g. --convert {c}=\"CASE WHEN {col} ~ '^[0-9]+$' THEN {col}::integer END\"), \
                 and --convert-back {c}=SQL for the down migration",
                col = quote_ident(&c.column)
            ),
        }
    }
}

/// What the caller knows about the live database.
pub struct Facts<'a> {
    /// Whether a table (named as in the migrations head, after renames) holds rows.
    pub populated: &'a dyn Fn(&QName) -> bool,
    /// Whether a column holds NULLs: None when that could not be told.
    pub holds_nulls: &'a dyn Fn(&ColumnRef) -> Option<bool>,
}

/// The questions found, and what could not be checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Questions {
    /// To be answered before anything is written.
    pub asked: Vec<Question>,
    /// Things autogenerate could not tell (no database, a check that failed).
    pub notes: Vec<String>,
}

/// A column a `--fill` can answer: added NOT NULL without a default, or made NOT NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FillCandidate {
    column: ColumnRef,
    data_type: String,
    added: bool,
}

fn fill_candidates(from: &Catalog, to: &Catalog) -> Vec<FillCandidate> {
    let mut out = Vec::new();
    for (q, t) in &to.tables {
        let Some(o) = from.tables.get(q) else {
            continue;
        };
        // A partition's columns are its parent's: asked (and filled) once, there.
        if t.partition_of.is_some() {
            continue;
        }
        for n in &t.columns {
            if !n.not_null || n.identity.is_some() || n.generated.is_some() {
                continue;
            }
            let column = ColumnRef {
                table: q.clone(),
                column: n.name.clone(),
            };
            match o.columns.iter().find(|c| c.name == n.name) {
                None if n.default.is_none() => out.push(FillCandidate {
                    column,
                    data_type: n.data_type.clone(),
                    added: true,
                }),
                Some(c) if !c.not_null && c.generated.is_none() => out.push(FillCandidate {
                    column,
                    data_type: n.data_type.clone(),
                    added: false,
                }),
                _ => {}
            }
        }
    }
    out
}

/// Kept columns whose type changes: (column, old type, new type).
fn type_changes(from: &Catalog, to: &Catalog) -> Vec<(ColumnRef, String, String)> {
    let mut out = Vec::new();
    for (q, t) in &to.tables {
        let Some(o) = from.tables.get(q) else {
            continue;
        };
        if t.partition_of.is_some() {
            continue;
        }
        for n in &t.columns {
            let Some(c) = o.columns.iter().find(|c| c.name == n.name) else {
                continue;
            };
            if c.data_type != n.data_type && c.generated.is_none() && n.generated.is_none() {
                out.push((
                    ColumnRef {
                        table: q.clone(),
                        column: n.name.clone(),
                    },
                    c.data_type.clone(),
                    n.data_type.clone(),
                ));
            }
        }
    }
    out
}

/// The questions turning `from` (the migrations head, after renames) into `to` raises.
pub fn questions(from: &Catalog, to: &Catalog, facts: &Facts) -> Questions {
    let mut q = Questions::default();
    for f in fill_candidates(from, to) {
        if !(facts.populated)(&f.column.table) {
            continue;
        }
        if f.added {
            q.asked.push(Question::FillAdded {
                column: f.column,
                data_type: f.data_type,
            });
            continue;
        }
        match (facts.holds_nulls)(&f.column) {
            Some(true) => q.asked.push(Question::FillNulls { column: f.column }),
            Some(false) => {}
            None => q.notes.push(format!(
                "could not tell whether {} holds NULLs; if it does, SET NOT NULL fails when the \
                 migration runs (rolled back): --fill {}=SQL fills them first",
                f.column, f.column
            )),
        }
    }
    for (column, old, new) in type_changes(from, to) {
        if (facts.populated)(&column.table) && !crate::typechange::cast_cannot_fail(&old, &new) {
            q.asked.push(Question::Convert {
                column,
                old_type: old,
                new_type: new,
            });
        }
    }
    q
}

/// How a fill value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillForm {
    /// A value PostgreSQL stores once for every existing row (a non-volatile expression that
    /// names no column): the column is added with it as its DEFAULT and NOT NULL in one
    /// statement, which rewrites nothing, and the default is dropped after.
    Constant,
    /// Anything else: a trigger fills the column on every write while a paced batch backfill
    /// fills the existing rows; then NOT NULL through a validated check.
    Expression,
}

/// A `--fill` matched to its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The column.
    pub column: ColumnRef,
    /// The SQL as given.
    pub sql: String,
    /// Its type in the wanted schema.
    pub data_type: String,
    /// True when the column is new (else it exists and becomes NOT NULL).
    pub added: bool,
    /// How it is written (decided by [`probe_fill`]).
    pub form: FillForm,
}

/// A `--convert` or `--convert-back` matched to its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Convert {
    /// The column.
    pub column: ColumnRef,
    /// The SQL: the new value from the old one (the column's name stands for the old value).
    pub sql: String,
}

/// The answers, matched to the changes of `from` -> `to`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    /// `--fill`s, each [`FillForm::Expression`] until probed.
    pub fills: Vec<Fill>,
    /// `--convert`s.
    pub converts: Vec<Convert>,
    /// `--convert-back`s.
    pub converts_back: Vec<Convert>,
}

/// Matches raw answers to the changes `from` -> `to` makes. An answer to a question that is
/// not there (a typo, a column that needs no value) is an error, so that nothing given is
/// silently ignored.
pub fn match_answers(
    from: &Catalog,
    to: &Catalog,
    fills: &[(String, RawAnswer)],
    converts: &[(String, RawAnswer)],
    converts_back: &[(String, RawAnswer)],
) -> Result<Answers, AnswerError> {
    let candidates = fill_candidates(from, to);
    let retyped = type_changes(from, to);
    let mut answers = Answers::default();
    for (text, raw) in fills {
        let column = resolve_column(to, &raw.name)
            .map_err(|w| answer_error("--fill", text, format!("{w} in the wanted schema")))?;
        let Some(c) = candidates.iter().find(|c| c.column == column) else {
            return Err(answer_error(
                "--fill",
                text,
                format!(
                    "{column} needs no value: --fill answers a NOT NULL column without a default \
                     added to an existing table, or a column that becomes NOT NULL"
                ),
            ));
        };
        if answers.fills.iter().any(|f| f.column == column) {
            return Err(answer_error(
                "--fill",
                text,
                format!("{column} is filled twice"),
            ));
        }
        answers.fills.push(Fill {
            column,
            sql: raw.sql.clone(),
            data_type: c.data_type.clone(),
            added: c.added,
            form: FillForm::Expression,
        });
    }
    for (flag, list, into) in [
        ("--convert", converts, &mut answers.converts),
        ("--convert-back", converts_back, &mut answers.converts_back),
    ] {
        for (text, raw) in list {
            let column = resolve_column(to, &raw.name)
                .map_err(|w| answer_error(flag, text, format!("{w} in the wanted schema")))?;
            if !retyped.iter().any(|(c, _, _)| *c == column) {
                return Err(answer_error(
                    flag,
                    text,
                    format!("{column} keeps its type: {flag} answers a column type change"),
                ));
            }
            if into.iter().any(|c: &Convert| c.column == column) {
                return Err(answer_error(
                    flag,
                    text,
                    format!("{column} is answered twice"),
                ));
            }
            into.push(Convert {
                column,
                sql: raw.sql.clone(),
            });
        }
    }
    Ok(answers)
}

/// The questions no answer covers.
pub fn unanswered<'q>(questions: &'q Questions, answers: &Answers) -> Vec<&'q Question> {
    questions
        .asked
        .iter()
        .filter(|q| match q {
            Question::FillAdded { column, .. } | Question::FillNulls { column } => {
                !answers.fills.iter().any(|f| &f.column == column)
            }
            Question::Convert { column, .. } => {
                !answers.converts.iter().any(|c| &c.column == column)
            }
        })
        .collect()
}

/// `to` with each fill's column as the main migration creates it: a constant fill's column
/// with the value as its DEFAULT (dropped again by [`constant_fill_statements`]), an expression
/// fill's column nullable (made NOT NULL by the fill migration).
pub fn with_fills(to: &Catalog, fills: &[Fill]) -> Catalog {
    let mut out = to.clone();
    for f in fills {
        let Some(table) = out.tables.get_mut(&f.column.table) else {
            continue;
        };
        let Some(col) = table.columns.iter_mut().find(|c| c.name == f.column.column) else {
            continue;
        };
        match f.form {
            FillForm::Constant if f.added => col.default = Some(format!("({})", f.sql)),
            _ => col.not_null = false,
        }
    }
    out
}

/// Rewrites each answered column's `ALTER COLUMN ... TYPE ... USING` in `diff` to use the
/// answer's SQL. Errors when the diff changes that column's type some other way.
pub fn apply_converts(diff: &mut SchemaDiff, converts: &[Convert]) -> Result<(), AnswerError> {
    for c in converts {
        let prefix = format!(
            "ALTER TABLE {} ALTER COLUMN {} TYPE ",
            c.column.table,
            quote_ident(&c.column.column)
        );
        let statement = diff
            .changes
            .iter_mut()
            .flat_map(|ch| ch.statements.iter_mut())
            .find(|s| s.starts_with(&prefix));
        let Some(s) = statement else {
            return Err(answer_error(
                "--convert",
                &format!("{}={}", c.column, c.sql),
                "the diff does not change this column with ALTER COLUMN ... TYPE (it re-creates \
                 the column or its table); write this migration by hand",
            ));
        };
        let kept = match s.find(" USING ") {
            Some(i) => s[..i].to_owned(),
            None => s.clone(),
        };
        *s = format!("{kept} USING ({})", c.sql);
    }
    Ok(())
}

/// After a constant fill's `ADD COLUMN ... DEFAULT value NOT NULL`, the statement that takes the
/// default away again (the wanted schema has none).
pub fn constant_fill_statements(diff: &mut SchemaDiff, fills: &[Fill]) {
    for f in fills
        .iter()
        .filter(|f| f.form == FillForm::Constant && f.added)
    {
        let add = format!(
            "ALTER TABLE {} ADD COLUMN {} ",
            f.column.table,
            quote_ident(&f.column.column)
        );
        for ch in &mut diff.changes {
            if let Some(i) = ch.statements.iter().position(|s| s.starts_with(&add)) {
                ch.statements.insert(
                    i + 1,
                    format!(
                        "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                        f.column.table,
                        quote_ident(&f.column.column)
                    ),
                );
                break;
            }
        }
    }
}

/// Prepends the renames to `up` and appends their undoing to `down`.
/// `why` is the reason the lint's rename-or-drop rule is excused, written above each rename.
pub fn apply_renames(up: &mut SchemaDiff, down: &mut SchemaDiff, renames: &[Rename], why: &str) {
    // Columns first, by the tables' old names; then the tables.
    let mut ordered: Vec<&Rename> = renames
        .iter()
        .filter(|r| matches!(r, Rename::Column { .. }))
        .collect();
    ordered.extend(renames.iter().filter(|r| matches!(r, Rename::Table { .. })));
    let key = |r: &Rename| match r {
        Rename::Table { old, .. } => ObjKey::Table(old.clone()),
        Rename::Column { table, .. } => ObjKey::Table(table.clone()),
    };
    // Declared, so the lint's "is this a rename the running application still uses" is
    // answered in the file, where review sees it.
    let excused = |sql: String| format!("-- retort:allow rename-or-drop {why}\n{sql}");
    let ups: Vec<Change> = ordered
        .iter()
        .map(|r| Change {
            key: key(r),
            action: Action::Alter,
            statements: vec![excused(r.up_sql())],
            destructive: None,
        })
        .collect();
    up.changes.splice(0..0, ups);
    down.changes.extend(ordered.iter().rev().map(|r| Change {
        key: key(r),
        action: Action::Alter,
        statements: vec![excused(r.down_sql())],
        destructive: None,
    }));
}

/// The SQL an expression fill needs around the main migration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FillSteps {
    /// Appended to the main migration's up: the triggers that fill the columns on every write
    /// from then on (the old application version knows nothing of them).
    pub main_up: Vec<String>,
    /// Run first by the main migration's down: the triggers and their functions, IF EXISTS.
    pub main_down_first: Vec<String>,
    /// The fill migration (outside a transaction, each statement resumable): for each column
    /// a `-- retort:batch` UPDATE of the rows still NULL, then NOT NULL through a validated
    /// check, then the trigger goes.
    pub fill_up: Vec<String>,
    /// Its down.
    pub fill_down: Vec<String>,
    /// In a two-phase change, what the contract does (the triggers go, a constant fill's
    /// default goes): until then the old application version's writes are filled too.
    pub contract_up: Vec<String>,
    /// The contract's down: the triggers and defaults back.
    pub contract_down: Vec<String>,
}

fn cut63(mut name: String) -> String {
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// A dollar-quote tag that does not occur in `body`.
fn dollar_tag(body: &str) -> String {
    let mut tag = "$retort$".to_owned();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$retort{n}$");
    }
    tag
}

/// The trigger function, trigger, backfill and NOT NULL steps for the expression fills. In a
/// `two_phase` change the triggers stay until the contract (the old application version goes on
/// writing rows without the value), and so do constant fills' defaults.
pub fn fill_steps(fills: &[Fill], two_phase: bool) -> FillSteps {
    let mut steps = FillSteps::default();
    if two_phase {
        for f in fills
            .iter()
            .filter(|f| f.form == FillForm::Constant && f.added)
        {
            let col = format!(
                "ALTER TABLE {} ALTER COLUMN {}",
                f.column.table,
                quote_ident(&f.column.column)
            );
            steps.contract_up.push(format!("{col} DROP DEFAULT"));
            steps
                .contract_down
                .push(format!("{col} SET DEFAULT ({})", f.sql));
        }
    }
    for f in fills
        .iter()
        .filter(|f| f.form == FillForm::Expression || !f.added)
    {
        let t = &f.column.table;
        let col = quote_ident(&f.column.column);
        let function = QName::new(
            t.schema.clone(),
            cut63(format!("retort_fill_{}_{}", t.name, f.column.column)),
        );
        let trigger = quote_ident(&cut63(format!("retort_fill_{}", f.column.column)));
        // The expression sees the row being written under the table's own name, as the UPDATE
        // does, so `price * qty` and `orders.price * orders.qty` mean the same in both.
        let body = format!(
            "BEGIN\n  IF NEW.{col} IS NULL THEN\n    NEW.{col} := (SELECT ({sql}) FROM (SELECT NEW.*) AS {alias});\n  END IF;\n  RETURN NEW;\nEND\n",
            sql = f.sql,
            alias = quote_ident(&t.name)
        );
        let tag = dollar_tag(&body);
        steps.main_up.push(format!(
            "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS {tag}\n{body}{tag}"
        ));
        steps.main_up.push(format!(
            "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {function}()"
        ));
        steps
            .main_down_first
            .push(format!("DROP TRIGGER IF EXISTS {trigger} ON {t}"));
        steps
            .main_down_first
            .push(format!("DROP FUNCTION IF EXISTS {function}()"));
        let check = crate::online::not_null_check_name(t, &f.column.column);
        steps.fill_up.push(format!(
            "-- retort:batch\nUPDATE {t} SET {col} = ({}) WHERE {col} IS NULL",
            f.sql
        ));
        steps.fill_up.extend([
            format!("ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({col} IS NOT NULL) NOT VALID"),
            format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check}"),
            format!("ALTER TABLE {t} ALTER COLUMN {col} SET NOT NULL"),
            format!("ALTER TABLE {t} DROP CONSTRAINT {check}"),
        ]);
        let drops = [
            format!("DROP TRIGGER {trigger} ON {t}"),
            format!("DROP FUNCTION {function}()"),
        ];
        if two_phase {
            steps.contract_up.extend(drops);
            let n = steps.main_up.len();
            steps
                .contract_down
                .extend(steps.main_up[n - 2..].iter().cloned());
        } else {
            steps.fill_up.extend(drops);
        }
        steps
            .fill_down
            .push(format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}"));
    }
    steps
}

/// The views that serve the shape before a set of renames while the change is expanded: one
/// updatable, `security_invoker` view per renamed table (or table with a renamed column), named
/// and shaped as the table was in `before`, reading the renamed table of `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OldShape {
    /// CREATE SCHEMA, the views and their grants (the expand's last statements; the contract's
    /// down).
    pub create: Vec<String>,
    /// DROP of the views and the schema (the contract's up).
    pub drop: Vec<String>,
    /// The same, IF EXISTS (first in the expand's down).
    pub drop_if_exists: Vec<String>,
    /// What the old shape cannot have (a column the change drops).
    pub notes: Vec<String>,
}

/// The old shape of the tables `renames` touch, in schema `schema`. The views are granted to
/// PUBLIC: with `security_invoker` every read and write through them is checked against the
/// caller's own privileges on the table.
pub fn old_shape(before: &Catalog, after: &Catalog, renames: &[Rename], schema: &str) -> OldShape {
    let mut shape = OldShape::default();
    let mut tables: Vec<QName> = renames
        .iter()
        .map(|r| match r {
            Rename::Table { old, .. } => old.clone(),
            Rename::Column { table, .. } => table.clone(),
        })
        .collect();
    tables.sort();
    tables.dedup();
    let s = quote_ident(schema);
    let mut names = std::collections::BTreeSet::new();
    for old in tables {
        let Some(table) = before.tables.get(&old) else {
            continue;
        };
        let now = renames
            .iter()
            .find_map(|r| match r {
                Rename::Table { old: o, new } if *o == old => {
                    Some(QName::new(old.schema.clone(), new.clone()))
                }
                _ => None,
            })
            .unwrap_or_else(|| old.clone());
        let Some(physical) = after.tables.get(&now) else {
            shape.notes.push(format!(
                "{now} is not in the wanted schema: the old shape cannot serve {old}"
            ));
            continue;
        };
        if !names.insert(old.name.clone()) {
            shape.notes.push(format!(
                "two renamed tables are called {} in their schemas: only the first is served in the old shape",
                quote_ident(&old.name)
            ));
            continue;
        }
        let mut columns = Vec::new();
        for c in &table.columns {
            let current = renames
                .iter()
                .find_map(|r| match r {
                    Rename::Column {
                        table: t,
                        old: o,
                        new,
                    } if *t == old && *o == c.name => Some(new.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| c.name.clone());
            if !physical.columns.iter().any(|p| p.name == current) {
                shape.notes.push(format!(
                    "{old}.{} is gone after the change: the old shape's view leaves it out",
                    quote_ident(&c.name)
                ));
                continue;
            }
            columns.push(if current == c.name {
                quote_ident(&c.name)
            } else {
                format!("{} AS {}", quote_ident(&current), quote_ident(&c.name))
            });
        }
        let view = format!("{s}.{}", quote_ident(&old.name));
        shape.create.push(format!(
            "CREATE VIEW {view} WITH (security_invoker = true) AS SELECT {} FROM {now}",
            columns.join(", ")
        ));
        shape.create.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {view} TO PUBLIC"
        ));
        shape.drop.push(format!("DROP VIEW {view}"));
        shape
            .drop_if_exists
            .push(format!("DROP VIEW IF EXISTS {view}"));
    }
    if shape.create.is_empty() {
        return shape;
    }
    shape.create.insert(0, format!("CREATE SCHEMA {s}"));
    shape
        .create
        .insert(1, format!("GRANT USAGE ON SCHEMA {s} TO PUBLIC"));
    shape.drop.push(format!("DROP SCHEMA {s}"));
    shape
        .drop_if_exists
        .push(format!("DROP SCHEMA IF EXISTS {s}"));
    shape
}

/// Columns the change drops from tables that hold rows, kept until the contract: the old
/// application version still reads and writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptColumns {
    /// The columns.
    pub columns: Vec<ColumnRef>,
    /// `ALTER TABLE ... DROP COLUMN` for the contract.
    pub contract_up: Vec<String>,
    /// The contract's down: the columns back, empty (their values are gone).
    pub contract_down: Vec<String>,
}

/// `to` with the columns `from` has and `to` drops, on tables `populated` says hold rows, kept
/// (NOT NULL without a default relaxed, so the new version can insert without them), and the
/// contract's statements that drop them.
pub fn keep_dropped_columns(
    from: &Catalog,
    to: &Catalog,
    populated: &dyn Fn(&QName) -> bool,
) -> (Catalog, KeptColumns) {
    let mut out = to.clone();
    let mut kept = KeptColumns::default();
    for (q, old) in &from.tables {
        let Some(table) = out.tables.get_mut(q) else {
            continue;
        };
        if old.partition_of.is_some() || old.of_type.is_some() || !populated(q) {
            continue;
        }
        for c in &old.columns {
            if table.columns.iter().any(|n| n.name == c.name) {
                continue;
            }
            let mut column = c.clone();
            if column.not_null && column.default.is_none() && column.identity.is_none() {
                column.not_null = false;
            }
            table.columns.push(column);
            let t = format!("ALTER TABLE {q}");
            kept.contract_up
                .push(format!("{t} DROP COLUMN {}", quote_ident(&c.name)));
            kept.contract_down.push(format!(
                "{t} ADD COLUMN {} {}",
                quote_ident(&c.name),
                c.data_type
            ));
            kept.columns.push(ColumnRef {
                table: q.clone(),
                column: c.name.clone(),
            });
        }
    }
    kept.contract_down.reverse();
    (out, kept)
}

/// The comment lines that record what autogenerate was told, for review.
pub fn answer_comments(renames: &[Rename], answers: &Answers) -> Vec<String> {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    for r in renames {
        out.push(match r {
            Rename::Table { old, new } => format!(
                "--rename {old}={} (a rename, not a drop and a create)",
                quote_ident(new)
            ),
            Rename::Column { table, old, new } => format!(
                "--rename {table}.{}={} (a rename, not a drop and an add)",
                quote_ident(old),
                quote_ident(new)
            ),
        });
    }
    for f in &answers.fills {
        let how = match (f.form, f.added) {
            (FillForm::Constant, true) => "a constant: added with it as DEFAULT, then DROP DEFAULT",
            (_, true) => "filled by a trigger and a batch backfill, then NOT NULL",
            (_, false) => "fills the NULLs (trigger and batch backfill), then NOT NULL",
        };
        out.push(format!("--fill {}={} ({how})", f.column, one_line(&f.sql)));
    }
    for (flag, list) in [
        ("--convert", &answers.converts),
        ("--convert-back", &answers.converts_back),
    ] {
        for c in list {
            out.push(format!("{flag} {}={}", c.column, one_line(&c.sql)));
        }
    }
    out
}

/// Decides how a fill is written, on a database that has the wanted type (a throwaway copy of
/// the migrations head with the main migration applied, inside a transaction the caller rolls
/// back): a non-volatile value that names no column is stored by PostgreSQL as the "missing"
/// value of a new column (`atthasmissing`) without touching a row, which is exactly the
/// [`FillForm::Constant`] case. Errors when the value is NULL.
pub fn probe_fill(client: &mut Client, fill: &Fill) -> Result<FillForm, AnswerError> {
    let text = format!("{}={}", fill.column, fill.sql);
    let _ = client.batch_execute("SAVEPOINT retort_probe");
    let probe = client.batch_execute(&format!(
        "CREATE TEMP TABLE retort_probe (x integer); \
         ALTER TABLE retort_probe ADD COLUMN v {} DEFAULT ({})",
        fill.data_type, fill.sql
    ));
    let mut form = FillForm::Expression;
    if probe.is_ok() {
        let missing = client
            .query_one(
                "SELECT atthasmissing FROM pg_catalog.pg_attribute \
                 WHERE attrelid = 'retort_probe'::regclass AND attname = 'v'",
                &[],
            )
            .map(|r| r.get::<_, bool>(0))
            .unwrap_or(false);
        if missing {
            form = FillForm::Constant;
        } else {
            let null = client
                .query_one(
                    &format!("SELECT ({})::{} IS NULL", fill.sql, fill.data_type),
                    &[],
                )
                .map(|r| r.get::<_, bool>(0))
                .unwrap_or(false);
            if null {
                let _ = client.batch_execute("ROLLBACK TO SAVEPOINT retort_probe");
                return Err(answer_error(
                    "--fill",
                    &text,
                    "the value is NULL, and the column is NOT NULL",
                ));
            }
        }
    }
    let _ = client.batch_execute("ROLLBACK TO SAVEPOINT retort_probe");
    if form == FillForm::Expression {
        // The backfill's UPDATE must plan: a misspelt column or a type error shows now.
        let update = format!(
            "EXPLAIN UPDATE {} SET {} = ({}) WHERE {} IS NULL",
            fill.column.table,
            quote_ident(&fill.column.column),
            fill.sql,
            quote_ident(&fill.column.column)
        );
        let _ = client.batch_execute("SAVEPOINT retort_probe");
        let planned = client.batch_execute(&update);
        let _ = client.batch_execute("ROLLBACK TO SAVEPOINT retort_probe");
        if let Err(e) = planned {
            return Err(answer_error(
                "--fill",
                &text,
                format!(
                    "the value does not work as `UPDATE {} SET {} = (...)`: {}",
                    fill.column.table,
                    quote_ident(&fill.column.column),
                    retort_pg::PgError::from(e)
                ),
            ));
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_like_postgresql_reads_them() {
        assert_eq!(
            parse_name("Orders.Status='new'").unwrap(),
            (vec!["orders".into(), "status".into()], Some("'new'"))
        );
        assert_eq!(
            parse_name("\"My Schema\".\"T\"\"x\".c=a = b").unwrap(),
            (
                vec!["My Schema".into(), "T\"x".into(), "c".into()],
                Some("a = b")
            )
        );
        assert_eq!(parse_name("users").unwrap(), (vec!["users".into()], None));
        for bad in ["", "a..b=1", "=1", "\"open", "a b=1", "\"x\"y=1"] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_need_a_column_and_sql() {
        let a = parse_answer("--fill", "t.c = now()").unwrap_err();
        assert!(a.why.contains("space"), "{a}");
        let a = parse_answer("--fill", "t.c=  now() ").unwrap();
        assert_eq!(a.sql, "now()");
        assert!(parse_answer("--fill", "t.c=").is_err());
        assert!(parse_answer("--fill", "c=1").is_err());
        assert!(parse_answer("--convert", "a.b.c.d=1").is_err());
    }

    #[test]
    fn renames_write_both_directions() {
        let r = Rename::Column {
            table: QName::new("public", "users"),
            old: "name".into(),
            new: "Full Name".into(),
        };
        assert_eq!(
            r.up_sql(),
            "ALTER TABLE public.users RENAME COLUMN name TO \"Full Name\""
        );
        assert_eq!(
            r.down_sql(),
            "ALTER TABLE public.users RENAME COLUMN \"Full Name\" TO name"
        );
        let t = Rename::Table {
            old: QName::new("app", "users"),
            new: "people".into(),
        };
        assert_eq!(t.up_sql(), "ALTER TABLE app.users RENAME TO people");
        assert_eq!(t.down_sql(), "ALTER TABLE app.people RENAME TO users");
    }

    #[test]
    fn a_dollar_tag_avoids_the_body() {
        assert_eq!(dollar_tag("x"), "$retort$");
        assert_eq!(dollar_tag("a $retort$ b"), "$retort1$");
    }
}
