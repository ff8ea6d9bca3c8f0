//! What the answers become: the wanted catalog adjusted, conversions, renames, the fill
//! triggers and backfills, the comments that record the answers, and the probe that decides a
//! fill's form.

use retort_pg::{quote_ident, Client};

use super::{
    answer_error, over_new_row, AnswerError, Answers, Convert, Fill, FillForm, Keep, Rename,
    RowTrigger,
};
use crate::catalog::Catalog;
use crate::diff::{Action, Change, SchemaDiff};
use crate::name::ObjKey;

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

/// Refuses a fill that needs a backfill (an expression, or NULLs of an existing column) on a
/// table without a single-column primary key: the backfill walks that key in ranges. Call it
/// once the forms are probed.
pub fn check_backfills(from: &Catalog, fills: &[Fill]) -> Result<(), AnswerError> {
    for f in fills.iter().filter(|f| f.needs_backfill()) {
        if !super::single_column_key(from, &f.column.table) {
            return Err(answer_error(
                "--fill",
                &format!("{}={}", f.column, f.sql),
                format!(
                    "{} has no single-column primary key, which the backfill walks in ranges: \
                     fill it with a constant on a new column, or give the table such a key first",
                    f.column.table
                ),
            ));
        }
    }
    Ok(())
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

/// The trigger function, trigger, backfill and NOT NULL steps for the expression fills. In a
/// `two_phase` change the triggers stay until the contract (the old application version goes on
/// writing rows without the value), and so do constant fills' defaults.
///
/// On a table with `keeps` (a split or a merge: the new version writes the filled columns, the
/// old one the kept columns), each side follows the other's writes. A filled column is
/// derived again when a write changes a kept column and not the filled one (the old version's
/// writes); a kept column is derived when a write changes a filled column and not the kept one
/// (the new version's writes), or on an insert that leaves it NULL. The backfill, which sets
/// filled columns that were NULL, derives nothing back.
pub fn fill_steps(fills: &[Fill], keeps: &[Keep], two_phase: bool) -> FillSteps {
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
    let changed = |cols: &mut dyn Iterator<Item = &String>| {
        let list: Vec<String> = cols
            .map(|c| {
                let c = quote_ident(c);
                format!("NEW.{c} IS DISTINCT FROM OLD.{c}")
            })
            .collect();
        (!list.is_empty()).then(|| format!("({})", list.join(" OR ")))
    };
    for f in fills.iter().filter(|f| f.needs_backfill()) {
        let t = &f.column.table;
        let col = quote_ident(&f.column.column);
        let trigger = RowTrigger::new("fill", &f.column);
        let kept = changed(
            &mut keeps
                .iter()
                .filter(|k| &k.column.table == t)
                .map(|k| &k.column.column),
        );
        let when = match kept {
            Some(kept) => format!(
                "NEW.{col} IS NULL OR (TG_OP = 'UPDATE' AND {kept} AND NEW.{col} IS NOT DISTINCT FROM OLD.{col})"
            ),
            None => format!("NEW.{col} IS NULL"),
        };
        let body = format!(
            "BEGIN\n  IF {when} THEN\n    NEW.{col} := {};\n  END IF;\n  RETURN NEW;\nEND\n",
            over_new_row(&f.sql, t)
        );
        let create = trigger.create(&body);
        steps.main_up.extend(create.iter().cloned());
        steps.main_down_first.extend(trigger.drop(true));
        steps.fill_up.push(format!(
            "-- retort:batch\nUPDATE {t} SET {col} = ({}) WHERE {col} IS NULL",
            f.sql
        ));
        let check = crate::online::not_null_check_name(t, &f.column.column);
        if f.not_null {
            steps.fill_up.extend([
                format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({col} IS NOT NULL) NOT VALID"
                ),
                format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check}"),
                format!("ALTER TABLE {t} ALTER COLUMN {col} SET NOT NULL"),
                format!("ALTER TABLE {t} DROP CONSTRAINT {check}"),
            ]);
        }
        if two_phase {
            steps.contract_up.extend(trigger.drop(false));
            steps.contract_down.extend(create);
        } else {
            steps.fill_up.extend(trigger.drop(false));
        }
        if f.not_null {
            steps
                .fill_down
                .push(format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}"));
        }
    }
    let mut values_back = Vec::new();
    for k in keeps {
        let t = &k.column.table;
        let col = quote_ident(&k.column.column);
        let trigger = RowTrigger::new("keep", &k.column);
        let on_table: Vec<&Fill> = fills.iter().filter(|f| &f.column.table == t).collect();
        let mut when = format!("(TG_OP = 'INSERT' AND NEW.{col} IS NULL)");
        if let Some(filled) = changed(&mut on_table.iter().map(|f| &f.column.column)) {
            // Not the backfill: it sets filled columns that were NULL.
            let were_set: Vec<String> = on_table
                .iter()
                .map(|f| format!("OLD.{} IS NOT NULL", quote_ident(&f.column.column)))
                .collect();
            when.push_str(&format!(
                "\n     OR (TG_OP = 'UPDATE' AND {filled} AND NEW.{col} IS NOT DISTINCT FROM OLD.{col} AND {})",
                were_set.join(" AND ")
            ));
        }
        let body = format!(
            "BEGIN\n  IF {when} THEN\n    NEW.{col} := {};\n  END IF;\n  RETURN NEW;\nEND\n",
            over_new_row(&k.sql, t)
        );
        let create = trigger.create(&body);
        steps.main_up.extend(create.iter().cloned());
        steps.main_down_first.extend(trigger.drop(true));
        steps.contract_up.extend(trigger.drop(false));
        // The contract's down brings the column back (empty) first: its values again, before
        // any trigger is back (a fill's trigger would derive the new columns from them).
        values_back.push(format!("UPDATE {t} SET {col} = ({})", k.sql));
        steps.contract_down.extend(create);
    }
    steps.contract_down.splice(0..0, values_back);
    steps
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
            (_, true) if f.not_null => "filled by a trigger and a batch backfill, then NOT NULL",
            (_, true) => "filled by a trigger and a batch backfill",
            (_, false) => "fills the NULLs (trigger and batch backfill), then NOT NULL",
        };
        out.push(format!("--fill {}={} ({how})", f.column, one_line(&f.sql)));
    }
    for f in &answers.fixes {
        out.push(format!(
            "--fix {}={} (for the rows that break {}: a batch backfill before the validation, and a trigger on the writes until the contract)",
            f.column,
            one_line(&f.sql),
            f.constraints
                .iter()
                .map(|c| quote_ident(&c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for k in &answers.keeps {
        out.push(format!(
            "--keep {}={} (dropped by the contract; until then derived from the new version's writes)",
            k.column,
            one_line(&k.sql)
        ));
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
