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

use retort_pg::quote_ident;

use crate::name::QName;

mod fixes;
pub(crate) mod moved;
mod names;
mod phases;
mod questions;
mod render;
mod retype;

pub use fixes::*;
pub use names::*;
pub use phases::*;
pub use questions::*;
pub use render::*;
pub use retype::*;

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

pub(crate) fn answer_error(flag: &'static str, text: &str, why: impl Into<String>) -> AnswerError {
    AnswerError {
        flag,
        text: text.to_owned(),
        why: why.into(),
    }
}

/// `name` cut to PostgreSQL's 63 bytes, on a character boundary.
pub(crate) fn cut63(mut name: String) -> String {
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// Whether `table` has a primary key of one column: what a batch backfill walks in ranges.
pub(crate) fn single_column_key(catalog: &crate::catalog::Catalog, table: &QName) -> bool {
    catalog
        .constraints
        .values()
        .find(|c| &c.table == table && c.kind == 'p')
        .is_some_and(|k| {
            k.definition
                .strip_prefix("PRIMARY KEY (")
                .and_then(|r| r.split(')').next())
                .is_some_and(|cols| !cols.contains(','))
        })
}

/// A row trigger retort writes around a change: the plpgsql function
/// `retort_<kind>_<table>_<column>` in the table's schema, and the `BEFORE INSERT OR UPDATE`
/// trigger `retort_<kind>_<column>` that calls it.
pub(crate) struct RowTrigger {
    table: QName,
    function: QName,
    trigger: String,
}

impl RowTrigger {
    pub(crate) fn new(kind: &str, column: &ColumnRef) -> RowTrigger {
        let t = &column.table;
        RowTrigger {
            table: t.clone(),
            function: QName::new(
                t.schema.clone(),
                cut63(format!("retort_{kind}_{}_{}", t.name, column.column)),
            ),
            trigger: retort_pg::quote_ident(&cut63(format!("retort_{kind}_{}", column.column))),
        }
    }

    /// The function with `body`: `CREATE`, or `CREATE OR REPLACE` to give it another body.
    pub(crate) fn function(&self, body: &str, replace: bool) -> String {
        let tag = dollar_tag(body);
        format!(
            "CREATE {}FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {tag}\n{body}{tag}",
            if replace { "OR REPLACE " } else { "" },
            self.function
        )
    }

    /// `CREATE TRIGGER`.
    pub(crate) fn trigger(&self) -> String {
        format!(
            "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}()",
            self.trigger, self.table, self.function
        )
    }

    /// The function with `body` and the trigger.
    pub(crate) fn create(&self, body: &str) -> [String; 2] {
        [self.function(body, false), self.trigger()]
    }

    /// The trigger and the function dropped (`IF EXISTS` for a down that may run half-way).
    pub(crate) fn drop(&self, if_exists: bool) -> [String; 2] {
        let ie = if if_exists { "IF EXISTS " } else { "" };
        [
            format!("DROP TRIGGER {ie}{} ON {}", self.trigger, self.table),
            format!("DROP FUNCTION {ie}{}()", self.function),
        ]
    }
}

/// `sql` evaluated over the row a trigger is writing, under the table's own name, as an UPDATE
/// of the table reads it (so `price * qty` and `orders.price * orders.qty` mean the same).
pub(crate) fn over_new_row(sql: &str, table: &QName) -> String {
    format!(
        "(SELECT ({sql}) FROM (SELECT NEW.*) AS {})",
        retort_pg::quote_ident(&table.name)
    )
}

/// A dollar-quote tag that does not occur in `body`.
pub(crate) fn dollar_tag(body: &str) -> String {
    let mut tag = "$retort$".to_owned();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$retort{n}$");
    }
    tag
}

/// A column of the wanted schema on a table both sides have (a partition's columns are its
/// parent's, so partitions are left out), with the column it was, if it existed.
pub(crate) struct PairedColumn<'a> {
    pub(crate) table: &'a QName,
    pub(crate) old_table: &'a crate::tables::Table,
    pub(crate) new_table: &'a crate::tables::Table,
    pub(crate) new: &'a crate::tables::Column,
    pub(crate) old: Option<&'a crate::tables::Column>,
}

impl PairedColumn<'_> {
    pub(crate) fn column_ref(&self) -> ColumnRef {
        ColumnRef {
            table: self.table.clone(),
            column: self.new.name.clone(),
        }
    }
}

/// Every column of `to`'s tables that `from` has too, paired with its old self.
pub(crate) fn paired_columns<'a>(
    from: &'a crate::catalog::Catalog,
    to: &'a crate::catalog::Catalog,
) -> impl Iterator<Item = PairedColumn<'a>> + 'a {
    to.tables
        .iter()
        .filter(|(_, t)| t.partition_of.is_none())
        .filter_map(move |(q, t)| from.tables.get(q).map(|o| (q, o, t)))
        .flat_map(|(q, o, t)| {
            t.columns.iter().map(move |n| PairedColumn {
                table: q,
                old_table: o,
                new_table: t,
                new: n,
                old: o.columns.iter().find(|c| c.name == n.name),
            })
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dollar_tag_avoids_the_body() {
        assert_eq!(super::dollar_tag("x"), "$retort$");
        assert_eq!(super::dollar_tag("a $retort$ b"), "$retort1$");
    }
}
