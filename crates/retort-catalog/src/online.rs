//! The online pass: after the diff, the DDL that would block writes on a populated table for as
//! long as it scans or builds is rewritten into the forms that do not, split into the migrations
//! those forms need:
//!
//! 1. the main migration (one transaction): everything else, with new FOREIGN KEY and CHECK
//!    constraints added `NOT VALID` (no scan) and each SET NOT NULL first written as a
//!    `CHECK (col IS NOT NULL) NOT VALID`;
//! 2. a migration outside a transaction: `CREATE INDEX CONCURRENTLY` / `DROP INDEX
//!    CONCURRENTLY`, and the unique indexes new UNIQUE constraints will use;
//! 3. a migration (one transaction): `VALIDATE CONSTRAINT` (a scan under SHARE UPDATE
//!    EXCLUSIVE, which lets writes through), `ADD CONSTRAINT ... UNIQUE USING INDEX`, and
//!    `SET NOT NULL`, which PostgreSQL 12+ proves from the validated check without a scan.
//!
//! Tables that are new, partitioned, or small ("populated" says no) keep the simple forms.

use std::collections::BTreeSet;

use crate::catalog::Catalog;
use crate::diff::{Action, Change, SchemaDiff};
use crate::name::{ObjKey, QName};
use retort_pg::quote_ident;

/// The migrations an online plan writes; a part without statements is left out.
#[derive(Debug, Clone, Default)]
pub struct OnlinePlan {
    /// The main migration's up (the diff, rewritten) and down (the diff's down, less what the
    /// later parts undo themselves).
    pub main_up: SchemaDiff,
    /// See `main_up`.
    pub main_down: SchemaDiff,
    /// Statements the main down runs first (leftover NOT VALID checks, dropped IF EXISTS).
    pub main_down_first: Vec<String>,
    /// Up and down of the non-transactional index migration.
    pub concurrent_up: Vec<String>,
    /// See `concurrent_up`.
    pub concurrent_down: Vec<String>,
    /// Up and down of the validating migration.
    pub validate_up: Vec<String>,
    /// See `validate_up`.
    pub validate_down: Vec<String>,
    /// Column type changes that rewrite a populated table (table, column, old type, new type):
    /// written as they are, for the caller to refuse or to allow.
    pub rewrites: Vec<(QName, String, String, String)>,
}

impl OnlinePlan {
    /// True when the plan differs from the plain diff: more than one migration, or a rewrite
    /// to report.
    pub fn is_split(&self) -> bool {
        !self.concurrent_up.is_empty() || !self.validate_up.is_empty() || !self.rewrites.is_empty()
    }
}

/// Rewrites `up` (with its `down`) for tables of `from` for which `populated` is true.
pub fn plan_online(
    up: &SchemaDiff,
    down: &SchemaDiff,
    from: &Catalog,
    to: &Catalog,
    populated: &dyn Fn(&QName) -> bool,
) -> OnlinePlan {
    // Existing plain tables: populated ones get the online forms; the ones the sizes called small
    // keep the simple forms, excused for the lint.
    let plain = |t: &QName| {
        from.tables
            .get(t)
            .is_some_and(|table| table.partition_by.is_none() && table.partition_of.is_none())
    };
    let busy = |t: &QName| plain(t) && populated(t);
    let small = |t: &QName| plain(t) && !populated(t);
    // A new foreign key may need a new UNIQUE constraint of the same diff: the tables such keys
    // reference keep their UNIQUE constraints in the main migration.
    let referenced: Vec<String> = up
        .changes
        .iter()
        .flat_map(|c| &c.statements)
        .filter_map(|s| s.split_once(" REFERENCES ").map(|(_, r)| r))
        .map(|r| r.split('(').next().unwrap_or(r).trim().to_owned())
        .collect();
    // Names the diff creates again (an index turned into a constraint of the same name, an index
    // re-created): dropping the old one must happen before, in the main migration.
    let created: BTreeSet<&str> = up
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .filter_map(|c| match &c.key {
            ObjKey::Index(n) => Some(n.name.as_str()),
            ObjKey::Constraint(_, n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let mut plan = OnlinePlan::default();
    let mut main = up.clone();
    let mut moved: BTreeSet<ObjKey> = BTreeSet::new();
    let mut kept: Vec<Change> = Vec::with_capacity(main.changes.len());
    for mut change in std::mem::take(&mut main.changes) {
        match (&change.key, change.action) {
            (ObjKey::Index(name), Action::Create) => {
                let table = to.indexes.get(name).map(|i| &i.table);
                if let (Some(table), Some(first)) = (table, change.statements.first()) {
                    if small(table) && concurrently(first).is_some() {
                        change.statements[0] = excuse("index-not-concurrent", table, first);
                    } else if busy(table) {
                        if let Some(concurrent) = concurrently(first) {
                            plan.concurrent_up.push(concurrent);
                            plan.concurrent_down
                                .push(format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"));
                            // Comments and statistics of the index, once it exists.
                            plan.validate_up.extend(change.statements.drain(1..));
                            moved.insert(change.key.clone());
                            continue;
                        }
                    }
                }
            }
            (ObjKey::Index(name), Action::Drop) => {
                let table = from.indexes.get(name).map(|i| &i.table);
                let recreated_as_constraint = created.contains(name.name.as_str())
                    && !up.changes.iter().any(|c| {
                        c.action == Action::Create && c.key == ObjKey::Index(name.clone())
                    });
                if table.is_some_and(&busy)
                    && !recreated_as_constraint
                    && change.statements.len() == 1
                    && change.statements[0].starts_with("DROP INDEX ")
                {
                    plan.concurrent_up
                        .push(format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"));
                    continue;
                }
            }
            (ObjKey::Constraint(table, _), Action::Create) if small(table) => {
                for s in &mut change.statements {
                    if matches!(constraint_form(s), Some(Form::NotValid)) {
                        *s = excuse("constraint-not-valid", table, s);
                    }
                }
            }
            (ObjKey::Table(table), Action::Alter) if small(table) => {
                for s in &mut change.statements {
                    if set_not_null(s, table).is_some() {
                        *s = excuse("set-not-null", table, s);
                    }
                }
            }
            (ObjKey::Constraint(table, cname), Action::Create) if busy(table) => {
                let mut rest = Vec::new();
                for s in std::mem::take(&mut change.statements) {
                    match constraint_form(&s) {
                        Some(Form::NotValid) => {
                            plan.validate_up.push(format!(
                                "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
                                quote_ident(cname)
                            ));
                            rest.push(format!("{s} NOT VALID"));
                        }
                        Some(Form::Unique(_)) if referenced.contains(&table.to_string()) => {
                            rest.push(s)
                        }
                        Some(Form::Unique(columns)) => {
                            let index = QName {
                                schema: table.schema.clone(),
                                name: cname.clone(),
                            };
                            plan.concurrent_up.push(format!(
                                "CREATE UNIQUE INDEX CONCURRENTLY {} ON {table} USING btree ({columns})",
                                quote_ident(cname)
                            ));
                            plan.concurrent_down
                                .push(format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"));
                            plan.validate_up.push(format!(
                                "ALTER TABLE {table} ADD CONSTRAINT {c} UNIQUE USING INDEX {c}",
                                c = quote_ident(cname)
                            ));
                            plan.validate_down.push(format!(
                                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {}",
                                quote_ident(cname)
                            ));
                            moved.insert(change.key.clone());
                        }
                        None => rest.push(s),
                    }
                }
                change.statements = rest;
                if change.statements.is_empty() {
                    continue;
                }
            }
            (ObjKey::Table(table), Action::Alter) if busy(table) => {
                let mut rest = Vec::new();
                for s in std::mem::take(&mut change.statements) {
                    if let Some(r) = rewrite(&s, table, from, to) {
                        plan.rewrites.push(r);
                    }
                    match set_not_null(&s, table) {
                        Some(column) => {
                            let check = not_null_check_name(table, &column);
                            let col = quote_ident(&column);
                            rest.push(format!(
                                "ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({col} IS NOT NULL) NOT VALID"
                            ));
                            plan.main_down_first.push(format!(
                                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}"
                            ));
                            plan.validate_up.extend([
                                format!("ALTER TABLE {table} VALIDATE CONSTRAINT {check}"),
                                format!("ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL"),
                                format!("ALTER TABLE {table} DROP CONSTRAINT {check}"),
                            ]);
                            plan.validate_down.push(format!(
                                "ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL"
                            ));
                        }
                        None => rest.push(s),
                    }
                }
                change.statements = rest;
            }
            _ => {}
        }
        kept.push(change);
    }
    main.changes = kept;
    plan.main_up = main;
    let mut main_down = down.clone();
    main_down.changes.retain(|c| !moved.contains(&c.key));
    plan.main_down = main_down;
    // Downgrades run the later migrations' downs first, in reverse.
    plan.concurrent_down.reverse();
    plan.validate_down.reverse();
    plan
}

/// `statement` with a `-- retort:allow` line above it: the table is small, the simple form is
/// meant.
fn excuse(rule: &str, table: &QName, statement: &str) -> String {
    format!(
        "-- retort:allow {rule} {table} held fewer rows than [migrations] small_table_rows when this was generated: the simple form locks it only briefly\n{statement}"
    )
}

/// `CREATE [UNIQUE] INDEX name ON ...` -> the same with CONCURRENTLY.
fn concurrently(statement: &str) -> Option<String> {
    for prefix in ["CREATE INDEX ", "CREATE UNIQUE INDEX "] {
        if let Some(rest) = statement.strip_prefix(prefix) {
            return Some(format!("{prefix}CONCURRENTLY {rest}"));
        }
    }
    None
}

enum Form {
    /// A FOREIGN KEY or CHECK that can be added NOT VALID and validated later.
    NotValid,
    /// A plain UNIQUE (columns) that can use an index built concurrently.
    Unique(String),
}

/// What kind of `ALTER TABLE t ADD CONSTRAINT c ...` this is, when it has an online form.
fn constraint_form(statement: &str) -> Option<Form> {
    let body = statement.split_once(" ADD CONSTRAINT ")?.1;
    let (_, def) = split_ident(body)?;
    let def = def.trim_start();
    if def.ends_with("NOT VALID") {
        return None;
    }
    if def.starts_with("FOREIGN KEY ") || def.starts_with("CHECK ") {
        // A CHECK NO INHERIT or a deferrable constraint validates just the same.
        return Some(Form::NotValid);
    }
    let columns = def.strip_prefix("UNIQUE (")?.strip_suffix(')')?;
    // Only plain column lists: INCLUDE, NULLS NOT DISTINCT, options and DEFERRABLE keep the
    // simple form (and the lint says so).
    if columns.contains('(') || columns.contains(')') {
        return None;
    }
    Some(Form::Unique(columns.to_owned()))
}

/// Splits a leading identifier (quoted or not) from the rest.
fn split_ident(text: &str) -> Option<(&str, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut i = 0;
        let bytes = quoted.as_bytes();
        while i < bytes.len() {
            if bytes[i] == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                return Some((&text[..i + 2], &text[i + 2..]));
            }
            i += 1;
        }
        None
    } else {
        let end = text.find(' ').unwrap_or(text.len());
        Some((&text[..end], &text[end..]))
    }
}

/// The column of `ALTER TABLE <table> ALTER COLUMN <col> SET NOT NULL`, unquoted.
fn set_not_null(statement: &str, table: &QName) -> Option<String> {
    let rest = statement
        .strip_prefix(&format!("ALTER TABLE {table} ALTER COLUMN "))?
        .strip_suffix(" SET NOT NULL")?;
    let (ident, after) = split_ident(rest)?;
    if !after.is_empty() {
        return None;
    }
    Some(unquote(ident))
}

/// An identifier as `quote_ident` wrote it, back to the name.
fn unquote(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_owned(),
    }
}

/// A `ALTER TABLE <table> ALTER COLUMN <col> TYPE ...` that rewrites the table.
fn rewrite(
    statement: &str,
    table: &QName,
    from: &Catalog,
    to: &Catalog,
) -> Option<(QName, String, String, String)> {
    let rest = statement.strip_prefix(&format!("ALTER TABLE {table} ALTER COLUMN "))?;
    let (ident, after) = split_ident(rest)?;
    after.strip_prefix(" TYPE ")?;
    let column = unquote(ident);
    let type_of = |c: &Catalog| {
        c.tables
            .get(table)?
            .columns
            .iter()
            .find(|col| col.name == column)
            .map(|col| col.data_type.clone())
    };
    let (old, new) = (type_of(from)?, type_of(to)?);
    (!crate::typechange::rewrite_free(&old, &new)).then(|| (table.clone(), column, old, new))
}

/// `<table>_<column>_not_null`, cut to PostgreSQL's 63 bytes on a character boundary.
pub(crate) fn not_null_check_name(table: &QName, column: &str) -> String {
    let mut name = format!("{}_{}_not_null", table.name, column);
    while name.len() > 63 {
        name.pop();
    }
    quote_ident(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_forms() {
        assert_eq!(
            concurrently("CREATE UNIQUE INDEX i ON public.t USING btree (x)").as_deref(),
            Some("CREATE UNIQUE INDEX CONCURRENTLY i ON public.t USING btree (x)")
        );
        assert!(matches!(
            constraint_form("ALTER TABLE public.t ADD CONSTRAINT t_fk FOREIGN KEY (a) REFERENCES public.u(id) ON DELETE CASCADE"),
            Some(Form::NotValid)
        ));
        assert!(matches!(
            constraint_form("ALTER TABLE public.t ADD CONSTRAINT \"odd name\" CHECK ((x > 0))"),
            Some(Form::NotValid)
        ));
        assert!(matches!(
            constraint_form("ALTER TABLE public.t ADD CONSTRAINT k UNIQUE (a, b)"),
            Some(Form::Unique(c)) if c == "a, b"
        ));
        assert!(
            constraint_form("ALTER TABLE public.t ADD CONSTRAINT k UNIQUE (a) INCLUDE (b)")
                .is_none()
        );
        assert!(constraint_form("ALTER TABLE public.t ADD CONSTRAINT k PRIMARY KEY (a)").is_none());
        let t = QName {
            schema: "public".into(),
            name: "people".into(),
        };
        assert_eq!(
            set_not_null(
                "ALTER TABLE public.people ALTER COLUMN \"E mail\" SET NOT NULL",
                &t
            )
            .as_deref(),
            Some("E mail")
        );
        assert_eq!(
            set_not_null("ALTER TABLE public.people ALTER COLUMN x DROP NOT NULL", &t),
            None
        );
        assert_eq!(not_null_check_name(&t, "email"), "people_email_not_null");
        assert_eq!(not_null_check_name(&t, &"x".repeat(80)).len(), 63);
    }
}
