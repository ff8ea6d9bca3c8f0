//! A column type change on a table that holds rows, in two phases: no rewrite under ACCESS
//! EXCLUSIVE, and the application version before it keeps its type.
//!
//! 1. (expand) A new column of the new type, `retort_new_<c>`, and a trigger that keeps it in
//!    step with the old one on every write (`--convert`, or the cast when it cannot fail).
//! 2. A `transaction off` migration fills it for the existing rows (a paced, resumable batch
//!    backfill) and proves NOT NULL with a validated check when the wanted column has it.
//! 3. The swap (one short transaction): the old column becomes `retort_old_<c>`, the new one
//!    `c`; NOT NULL and the default move over; the trigger now converts both ways, telling the
//!    versions apart by their `search_path` (the old one writes through its views); the old
//!    version's shape is served as a view mapping `retort_old_<c>` back to `c`.
//! 4. (contract) The view, the trigger and the old column go.
//!
//! Indexes, primary keys, unique constraints and foreign keys on the column (on either side)
//! are built again on the new column before the swap and take the old names in the contract
//! (see [`super::moved`]); a sequence the column owns moves to the new column at the swap.
//! Columns with other dependents (a view, a CHECK, an expression or predicate that names them)
//! are not done this way yet: for those autogenerate stops as before.

use retort_pg::quote_ident;

use super::moved::{moved_objects, moved_steps, new_name, old_name, Moved};
use super::phases::{shape_views_sql, ShapeView};
use super::{single_column_key, ColumnRef, Convert, RowTrigger};
use crate::catalog::{Catalog, Snapshot};
use crate::name::QName;
use crate::typechange;

/// One column changed in two phases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retype {
    /// The column.
    pub column: ColumnRef,
    /// Its type now.
    pub old_type: String,
    /// The wanted type.
    pub new_type: String,
    /// The new value from the old (the column's name stands for the old value).
    pub convert: String,
    /// The old value from the new (the column's name stands for the new value).
    pub convert_back: String,
    /// The wanted column's NOT NULL.
    pub not_null: bool,
    /// The wanted column's default.
    pub default: Option<String>,
    /// The column's default now.
    pub old_default: Option<String>,
    /// The column's NOT NULL now.
    pub old_not_null: bool,
}

/// The type changes of `from` -> `to` that rewrite a table `populated` says holds rows and that
/// can be done in two phases (see the module doc); `converts` and `converts_back` are the
/// answers, else the cast is used.
pub fn retypes(
    from: &Snapshot,
    to: &Catalog,
    populated: &dyn Fn(&QName) -> bool,
    converts: &[Convert],
    converts_back: &[Convert],
) -> Vec<Retype> {
    let mut out = Vec::new();
    for p in super::paired_columns(&from.catalog, to) {
        let (q, o, t, n) = (p.table, p.old_table, p.new_table, p.new);
        let Some(c) = p.old else { continue };
        let plain = o.partition_by.is_none()
            && o.partition_of.is_none()
            && o.of_type.is_none()
            && o.foreign.is_none()
            && t.partition_by.is_none();
        if !plain || !populated(q) || !single_column_key(&from.catalog, q) {
            continue;
        }
        let changes =
            c.data_type != n.data_type && !typechange::rewrite_free(&c.data_type, &n.data_type);
        let column = p.column_ref();
        let simple = c.identity.is_none()
            && n.identity.is_none()
            && c.generated.is_none()
            && n.generated.is_none()
            && c.collation == n.collation;
        if !changes || !simple || moved_objects(from, std::slice::from_ref(&column)).is_none() {
            continue;
        }
        let col = quote_ident(&n.name);
        let given = |list: &[Convert]| {
            list.iter()
                .find(|a| a.column == column)
                .map(|a| a.sql.clone())
        };
        out.push(Retype {
            convert: given(converts)
                .unwrap_or_else(|| typechange::conversion(&col, &c.data_type, &n.data_type)),
            convert_back: given(converts_back)
                .unwrap_or_else(|| typechange::conversion(&col, &n.data_type, &c.data_type)),
            column,
            old_type: c.data_type.clone(),
            new_type: n.data_type.clone(),
            not_null: n.not_null,
            default: n.default.clone(),
            old_default: c.default.clone(),
            old_not_null: c.not_null,
        });
    }
    // Each column's objects can be rebuilt; all of them together can too (a definition is
    // refused only for a column it names outside a list, which each column's check saw), but
    // that is checked rather than assumed.
    let columns: Vec<ColumnRef> = out.iter().map(|r| r.column.clone()).collect();
    if moved_objects(from, &columns).is_none() {
        return Vec::new();
    }
    out
}

/// `to` with each retyped column as the expand leaves it: its old type, default and NOT NULL
/// (the diff then leaves it alone; the steps below change it).
pub fn keep_old_types(to: &Catalog, from: &Catalog, retypes: &[Retype]) -> Catalog {
    let mut out = to.clone();
    for r in retypes {
        let old = from
            .tables
            .get(&r.column.table)
            .and_then(|t| t.columns.iter().find(|c| c.name == r.column.column));
        let (Some(old), Some(table)) = (old, out.tables.get_mut(&r.column.table)) else {
            continue;
        };
        if let Some(c) = table.columns.iter_mut().find(|c| c.name == r.column.column) {
            *c = old.clone();
        }
    }
    out
}

/// The statements of the two-phase type changes, by migration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetypeSteps {
    /// Appended to the expand: the new columns and the triggers.
    pub main_up: Vec<String>,
    /// First in the expand's down.
    pub main_down_first: Vec<String>,
    /// The backfill migration (outside a transaction).
    pub fill_up: Vec<String>,
    /// Its down.
    pub fill_down: Vec<String>,
    /// The swap (one transaction).
    pub swap_up: Vec<String>,
    /// Its down.
    pub swap_down: Vec<String>,
    /// The contract's part.
    pub contract_up: Vec<String>,
    /// The contract's down.
    pub contract_down: Vec<String>,
}

/// The steps for `retypes`, whose old shape is served in `schema` (the parent revision's), with
/// each table's columns as `from` has them.
pub fn retype_steps(from: &Snapshot, retypes: &[Retype], schema: &str) -> RetypeSteps {
    let mut s = RetypeSteps::default();
    let columns: Vec<ColumnRef> = retypes.iter().map(|r| r.column.clone()).collect();
    // [`retypes`] checked the whole set.
    let moved = moved_objects(from, &columns).unwrap_or_default();
    let primary = |t: &QName, c: &str| {
        moved.iter().any(|m| {
            matches!(m, Moved::Key { table, primary: true, definition, .. }
                if table == t && super::moved::key_columns(definition).iter().any(|k| k == c))
        })
    };
    let mut contract_columns = Vec::new();
    let mut down_columns = Vec::new();
    let mut tables: Vec<&QName> = retypes.iter().map(|r| &r.column.table).collect();
    tables.sort();
    tables.dedup();
    for r in retypes {
        let t = &r.column.table;
        let c = &r.column.column;
        let col = quote_ident(c);
        let new = quote_ident(&new_name(c));
        let old = quote_ident(&old_name(c));
        let owned: Vec<&QName> = from
            .catalog
            .sequences
            .values()
            .filter(|q| q.owned_by.as_ref() == Some(&(t.clone(), c.clone())))
            .map(|q| &q.name)
            .collect();
        let trigger = RowTrigger::new("retype", &r.column);
        // Each conversion reads the value it converts under the column's own name.
        let convert = |source: &str| {
            format!(
                "(SELECT ({}) FROM (SELECT NEW.{source} AS {col}) AS {})",
                r.convert,
                quote_ident(&t.name)
            )
        };
        let back = |source: &str| {
            format!(
                "(SELECT ({}) FROM (SELECT NEW.{source} AS {col}) AS {})",
                r.convert_back,
                quote_ident(&t.name)
            )
        };
        let changed = |c: &str| format!("TG_OP = 'INSERT' OR NEW.{c} IS DISTINCT FROM OLD.{c}");
        // Before the swap only the old version writes: the old column is the truth.
        let before = format!(
            "BEGIN\n  IF {} THEN\n    NEW.{new} := {};\n  END IF;\n  RETURN NEW;\nEND\n",
            changed(&col),
            convert(&col)
        );
        // After it, the old version writes through its views (its schema first in
        // search_path) and its column is the truth for its writes; every other write sets the
        // new column.
        let after = format!(
            "BEGIN\n  IF pg_catalog.btrim(pg_catalog.split_part(pg_catalog.current_setting('search_path'), ',', 1), ' \"') = {schema_lit} THEN\n    IF {} THEN\n      NEW.{col} := {};\n    END IF;\n  ELSIF {} THEN\n    NEW.{old} := {};\n  END IF;\n  RETURN NEW;\nEND\n",
            changed(&old),
            convert(&old),
            changed(&col),
            back(&col),
            schema_lit = retort_pg::quote_literal(schema),
        );
        // CREATE OR REPLACE: the swap and its down give the function another body.
        let function_sql = |body: &str| trigger.function(body, true);
        s.main_up.extend([
            format!("ALTER TABLE {t} ADD COLUMN {new} {}", r.new_type),
            function_sql(&before),
            trigger.trigger(),
        ]);
        s.main_down_first.extend(trigger.drop(true));
        s.main_down_first
            .push(format!("ALTER TABLE {t} DROP COLUMN IF EXISTS {new}"));
        s.fill_up.push(format!(
            "-- retort:batch\nUPDATE {t} SET {new} = ({}) WHERE {new} IS NULL AND {col} IS NOT NULL",
            r.convert
        ));
        let check = crate::online::not_null_check_name(t, c);
        if r.not_null {
            s.fill_up.extend([
                format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({new} IS NOT NULL) NOT VALID"
                ),
                format!("ALTER TABLE {t} VALIDATE CONSTRAINT {check}"),
            ]);
            s.fill_down
                .push(format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}"));
        }
        // The swap.
        // The version still running keeps the old column under its name through the view.
        let excuse = "-- retort:allow rename-or-drop the swap of a two-phase type change: the \
                      version still running reads the old column through its view";
        s.swap_up.extend([
            format!("{excuse}\nALTER TABLE {t} RENAME COLUMN {col} TO {old}"),
            format!("{excuse}\nALTER TABLE {t} RENAME COLUMN {new} TO {col}"),
        ]);
        if r.old_default.is_some() {
            s.swap_up
                .push(format!("ALTER TABLE {t} ALTER COLUMN {old} DROP DEFAULT"));
        }
        // The old primary key stays on the old column until the contract.
        let old_in_key = primary(t, c);
        if r.old_not_null && !old_in_key {
            s.swap_up
                .push(format!("ALTER TABLE {t} ALTER COLUMN {old} DROP NOT NULL"));
        }
        for q in &owned {
            s.swap_up
                .push(format!("ALTER SEQUENCE {q} OWNED BY {t}.{col}"));
        }
        if let Some(d) = &r.default {
            s.swap_up.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT {d}"
            ));
        }
        if r.not_null {
            s.swap_up.extend([
                format!(
                    "-- retort:allow set-not-null {check} was validated by the backfill migration: no scan\n\
                     ALTER TABLE {t} ALTER COLUMN {col} SET NOT NULL"
                ),
                format!("ALTER TABLE {t} DROP CONSTRAINT {check}"),
            ]);
        }
        s.swap_up.push(function_sql(&after));
        // Its down, in reverse.
        let mut down: Vec<String> = owned
            .iter()
            .map(|q| format!("ALTER SEQUENCE {q} OWNED BY {t}.{old}"))
            .collect();
        down.push(function_sql(&before));
        if r.not_null {
            down.push(format!("ALTER TABLE {t} ALTER COLUMN {col} DROP NOT NULL"));
        }
        if r.default.is_some() {
            down.push(format!("ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT"));
        }
        if r.old_not_null && !old_in_key {
            down.push(format!("ALTER TABLE {t} ALTER COLUMN {old} SET NOT NULL"));
        }
        if let Some(d) = &r.old_default {
            down.push(format!(
                "ALTER TABLE {t} ALTER COLUMN {old} SET DEFAULT {d}"
            ));
        }
        down.extend([
            format!("ALTER TABLE {t} RENAME COLUMN {col} TO {new}"),
            format!("ALTER TABLE {t} RENAME COLUMN {old} TO {col}"),
        ]);
        s.swap_down.extend(down);
        contract_columns.extend(trigger.drop(false));
        contract_columns.extend([format!(
                "-- retort:allow rename-or-drop the old column of a two-phase type change: \
                 `retort complete` refuses while a session of the version that reads it is connected\n\
                 ALTER TABLE {t} DROP COLUMN {old}"
        )]);
        down_columns.extend([
            format!("ALTER TABLE {t} ADD COLUMN {old} {}", r.old_type),
            format!("UPDATE {t} SET {old} = ({})", r.convert_back),
            function_sql(&after),
            trigger.trigger(),
        ]);
    }
    let steps = moved_steps(&moved);
    s.fill_up.extend(steps.fill_up);
    s.fill_down.splice(0..0, steps.fill_down);
    s.contract_up = steps.contract_before;
    s.contract_up.extend(contract_columns);
    s.contract_up.extend(steps.contract_after);
    s.contract_down = steps.down_before;
    s.contract_down.extend(down_columns);
    s.contract_down.extend(steps.down_after);
    // The old shape: one view per table, its columns as they were, the old values under
    // their old names (with their old defaults: an insert through the view that leaves one
    // out gets it, not the NULL of the old column, which has none after the swap).
    let retyped = |t: &QName, c: &str| {
        retypes
            .iter()
            .find(|r| &r.column.table == t && r.column.column == c)
    };
    let views: Vec<ShapeView> = tables
        .iter()
        .filter_map(|t| from.catalog.tables.get(*t).map(|table| (t, table)))
        .map(|(t, table)| ShapeView {
            name: t.name.clone(),
            columns: table
                .columns
                .iter()
                .map(|c| {
                    if retyped(t, &c.name).is_some() {
                        format!(
                            "{} AS {}",
                            quote_ident(&old_name(&c.name)),
                            quote_ident(&c.name)
                        )
                    } else {
                        quote_ident(&c.name)
                    }
                })
                .collect(),
            defaults: table
                .columns
                .iter()
                .filter_map(|c| {
                    let r = retyped(t, &c.name)?;
                    Some((c.name.clone(), r.old_default.clone()?))
                })
                .collect(),
            source: (*t).clone(),
        })
        .collect();
    let views = shape_views_sql(schema, &views);
    s.swap_up.extend(views.create.iter().cloned());
    s.swap_down.splice(0..0, views.drop_if_exists);
    s.contract_up.splice(0..0, views.drop);
    s.contract_down.extend(views.create);
    s
}
