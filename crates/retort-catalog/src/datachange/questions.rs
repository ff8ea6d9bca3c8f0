//! The questions two catalogs raise, and the answers matched to them.

use retort_pg::quote_ident;

use super::{
    answer_error, new_constraints, paired_columns, resolve_column, AnswerError, ColumnRef, Fix,
    NewConstraint, RawAnswer,
};
use crate::catalog::Catalog;
use crate::name::QName;

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
    /// Rows of a table that holds data break a CHECK or a foreign key the change adds, which
    /// a value of one column can fix.
    Fix {
        /// The column.
        column: ColumnRef,
        /// The constraint.
        constraint: NewConstraint,
    },
}

impl Question {
    /// The column asked about.
    pub fn column(&self) -> &ColumnRef {
        match self {
            Question::FillAdded { column, .. }
            | Question::FillNulls { column }
            | Question::Convert { column, .. }
            | Question::Fix { column, .. } => column,
        }
    }

    /// The flag that answers it.
    pub fn flag(&self) -> &'static str {
        match self {
            Question::FillAdded { .. } | Question::FillNulls { .. } => "--fill",
            Question::Convert { .. } => "--convert",
            Question::Fix { .. } => "--fix",
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
            Question::Fix { constraint, .. } => format!(
                "rows break the new {}, and its validation would fail when the migration runs: \
                 answer with --fix {c}=SQL (the value of {col} for the rows that break it, from \
                 the row's columns; also for the writes of the version still running until the \
                 contract), or fix the data first",
                constraint.describe(),
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
    /// Whether a row breaks a new constraint (runs its [`NewConstraint::probe`]): None when
    /// that could not be told.
    pub breaks: &'a dyn Fn(&NewConstraint) -> Option<bool>,
}

/// The questions found, and what could not be checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Questions {
    /// To be answered before anything is written.
    pub asked: Vec<Question>,
    /// Things autogenerate could not tell (no database, a check that failed).
    pub notes: Vec<String>,
}

/// A column a `--fill` can answer: added without a default (asked when NOT NULL), or made NOT
/// NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FillCandidate {
    column: ColumnRef,
    data_type: String,
    added: bool,
    not_null: bool,
}

fn fill_candidates(from: &Catalog, to: &Catalog) -> Vec<FillCandidate> {
    paired_columns(from, to)
        .filter(|p| p.new.identity.is_none() && p.new.generated.is_none())
        .filter_map(|p| {
            let added = match p.old {
                None if p.new.default.is_none() => true,
                Some(c) if p.new.not_null && !c.not_null && c.generated.is_none() => false,
                _ => return None,
            };
            Some(FillCandidate {
                column: p.column_ref(),
                data_type: p.new.data_type.clone(),
                added,
                not_null: p.new.not_null,
            })
        })
        .collect()
}

/// Kept columns whose type changes: (column, old type, new type).
fn type_changes(from: &Catalog, to: &Catalog) -> Vec<(ColumnRef, String, String)> {
    paired_columns(from, to)
        .filter_map(|p| {
            let c = p.old?;
            (c.data_type != p.new.data_type && c.generated.is_none() && p.new.generated.is_none())
                .then(|| (p.column_ref(), c.data_type.clone(), p.new.data_type.clone()))
        })
        .collect()
}

/// The questions turning `from` (the migrations head, after renames) into `to` raises.
pub fn questions(from: &Catalog, to: &Catalog, facts: &Facts) -> Questions {
    let mut q = Questions::default();
    for f in fill_candidates(from, to) {
        if !f.not_null || !(facts.populated)(&f.column.table) {
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
    for c in new_constraints(from, to) {
        if !(facts.populated)(&c.table) {
            continue;
        }
        let Some(old) = from.tables.get(&c.table) else {
            continue;
        };
        // A constraint over a column the change adds is not probed: the live table has no
        // such column yet (its validation still says so, loudly, if a default breaks it).
        let existing: Vec<String> = old.columns.iter().map(|c| c.name.clone()).collect();
        let wanted: Vec<String> = to.tables[&c.table]
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let names_new = crate::datachange::moved::identifiers(&c.describe())
            .iter()
            .any(|(_, _, n)| wanted.contains(n) && !existing.contains(n));
        if names_new {
            continue;
        }
        match (facts.breaks)(&c) {
            Some(false) => {}
            Some(true) => match c.fixable_column(&wanted) {
                Some(column) => q.asked.push(Question::Fix {
                    column: ColumnRef {
                        table: c.table.clone(),
                        column,
                    },
                    constraint: c,
                }),
                None => q.notes.push(format!(
                    "rows of {} break the new {}: its validation fails when the migration runs \
                     (rolled back, nothing half-applied); fix the data first{}",
                    c.table,
                    c.describe(),
                    if matches!(c.requirement, crate::datachange::Requirement::Unique { .. }) {
                        " (retort cannot choose which of the duplicates to keep)"
                    } else {
                        ""
                    }
                )),
            },
            None => q.notes.push(format!(
                "could not tell whether rows of {} break the new {}; if they do, its validation \
                 fails when the migration runs (rolled back)",
                c.table,
                c.describe()
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
    /// The wanted column's NOT NULL (a new nullable column can be filled too: a column a split
    /// or merge derives from the ones it replaces).
    pub not_null: bool,
    /// How it is written (decided by [`probe_fill`]).
    pub form: FillForm,
}

impl Fill {
    /// True when rows are filled by a backfill (and writes by a trigger): an expression, or
    /// the NULLs of a column that exists.
    pub fn needs_backfill(&self) -> bool {
        self.form == FillForm::Expression || !self.added
    }
}

/// A `--convert` or `--convert-back` matched to its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Convert {
    /// The column.
    pub column: ColumnRef,
    /// The SQL: the new value from the old one (the column's name stands for the old value).
    pub sql: String,
}

/// A `--keep`: a column the change drops, kept until the contract because the application
/// version still running reads it, and the value it gets from each write of the new version
/// (an expression over the row's columns, e.g. the old column of a split from the new ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    /// The column (named as in the migrations head).
    pub column: ColumnRef,
    /// The SQL as given.
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
    /// `--keep`s.
    pub keeps: Vec<Keep>,
    /// `--fix`es.
    pub fixes: Vec<Fix>,
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
    keeps: &[(String, RawAnswer)],
    fixes: &[(String, RawAnswer)],
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
                    "{column} needs no value: --fill answers a column without a default added \
                     to an existing table, or a column that becomes NOT NULL"
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
            not_null: c.not_null,
            form: FillForm::Expression,
        });
    }
    for (text, raw) in keeps {
        let column = resolve_column(from, &raw.name)
            .map_err(|w| answer_error("--keep", text, format!("{w} in the migrations head")))?;
        let stays = to
            .tables
            .get(&column.table)
            .map(|t| t.columns.iter().any(|c| c.name == column.column));
        match stays {
            None => {
                return Err(answer_error(
                    "--keep",
                    text,
                    format!(
                        "the wanted schema has no table {}: --keep answers a column dropped from a table that stays",
                        column.table
                    ),
                ))
            }
            Some(true) => {
                return Err(answer_error(
                    "--keep",
                    text,
                    format!("{column} stays in the wanted schema: --keep answers a column the change drops"),
                ))
            }
            Some(false) => {}
        }
        if answers.keeps.iter().any(|k| k.column == column) {
            return Err(answer_error(
                "--keep",
                text,
                format!("{column} is kept twice"),
            ));
        }
        answers.keeps.push(Keep {
            column,
            sql: raw.sql.clone(),
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
    answers.fixes = super::match_fixes(from, to, fixes)?;
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
            Question::Fix { column, .. } => !answers.fixes.iter().any(|f| &f.column == column),
        })
        .collect()
}
