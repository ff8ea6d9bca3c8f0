//! Two phases: the old shape served as views while renames are expanded, and dropped columns
//! kept until the contract.

use retort_pg::quote_ident;

use super::{ColumnRef, Rename};
use crate::catalog::Catalog;
use crate::name::QName;

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
    let mut notes = Vec::new();
    let mut tables: Vec<QName> = renames
        .iter()
        .map(|r| match r {
            Rename::Table { old, .. } => old.clone(),
            Rename::Column { table, .. } => table.clone(),
        })
        .collect();
    tables.sort();
    tables.dedup();
    let mut names = std::collections::BTreeSet::new();
    let mut views = Vec::new();
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
            notes.push(format!(
                "{now} is not in the wanted schema: the old shape cannot serve {old}"
            ));
            continue;
        };
        if !names.insert(old.name.clone()) {
            notes.push(format!(
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
                notes.push(format!(
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
        views.push(ShapeView {
            name: old.name.clone(),
            columns,
            defaults: Vec::new(),
            source: now,
        });
    }
    OldShape {
        notes,
        ..shape_views_sql(schema, &views)
    }
}

/// One view of an old shape: its name, its select list, the defaults of its columns that
/// read a column with another default (column, default), the table it reads.
pub(crate) struct ShapeView {
    pub(crate) name: String,
    pub(crate) columns: Vec<String>,
    pub(crate) defaults: Vec<(String, String)>,
    pub(crate) source: QName,
}

/// The statements that serve `views` in `schema` (nothing when there are none). Every view is
/// updatable and `security_invoker`, so granting it to PUBLIC gives no one more than their own
/// privileges on the table it reads.
pub(crate) fn shape_views_sql(schema: &str, views: &[ShapeView]) -> OldShape {
    let mut shape = OldShape::default();
    if views.is_empty() {
        return shape;
    }
    let s = quote_ident(schema);
    shape.create.extend([
        format!("CREATE SCHEMA {s}"),
        format!("GRANT USAGE ON SCHEMA {s} TO PUBLIC"),
    ]);
    for v in views {
        let view = format!("{s}.{}", quote_ident(&v.name));
        shape.create.push(format!(
            "CREATE VIEW {view} WITH (security_invoker = true) AS SELECT {} FROM {}",
            v.columns.join(", "),
            v.source
        ));
        for (c, d) in &v.defaults {
            shape.create.push(format!(
                "ALTER VIEW {view} ALTER COLUMN {} SET DEFAULT {d}",
                quote_ident(c)
            ));
        }
        shape.create.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {view} TO PUBLIC"
        ));
        shape.drop.push(format!("DROP VIEW {view}"));
        shape
            .drop_if_exists
            .push(format!("DROP VIEW IF EXISTS {view}"));
    }
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
    let kept = dropped_columns_to_keep(from, to, populated);
    (with_kept_columns(to, from, &kept), kept)
}

/// The columns [`keep_dropped_columns`] keeps, with the contract's statements, without
/// copying `to`.
pub fn dropped_columns_to_keep(
    from: &Catalog,
    to: &Catalog,
    populated: &dyn Fn(&QName) -> bool,
) -> KeptColumns {
    let mut kept = KeptColumns::default();
    for (q, old) in &from.tables {
        let Some(table) = to.tables.get(q) else {
            continue;
        };
        if old.partition_of.is_some() || old.of_type.is_some() || !populated(q) {
            continue;
        }
        for c in old
            .columns
            .iter()
            .filter(|c| !table.columns.iter().any(|n| n.name == c.name))
        {
            let t = format!("ALTER TABLE {q}");
            kept.contract_up.push(format!(
                "-- retort:allow rename-or-drop the contract of a two-phase change: `retort complete` \
                 refuses while a session of the version that reads it is connected\n\
                 {t} DROP COLUMN {}",
                quote_ident(&c.name)
            ));
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
    kept
}

/// `to` with `kept`'s columns as `from` has them, NOT NULL without a default relaxed.
pub fn with_kept_columns(to: &Catalog, from: &Catalog, kept: &KeptColumns) -> Catalog {
    let mut out = to.clone();
    for k in &kept.columns {
        let old = from
            .tables
            .get(&k.table)
            .and_then(|t| t.columns.iter().find(|c| c.name == k.column));
        let (Some(old), Some(table)) = (old, out.tables.get_mut(&k.table)) else {
            continue;
        };
        let mut column = old.clone();
        if column.not_null && column.default.is_none() && column.identity.is_none() {
            column.not_null = false;
        }
        table.columns.push(column);
    }
    out
}
