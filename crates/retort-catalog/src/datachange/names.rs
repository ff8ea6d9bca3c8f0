//! Answers as typed: dotted names read the way PostgreSQL reads them, resolved against a
//! catalog, and declared renames.

use retort_pg::quote_ident;

use super::{answer_error, AnswerError, ColumnRef};
use crate::catalog::Catalog;
use crate::name::QName;

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
}
