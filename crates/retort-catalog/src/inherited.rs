//! Settings of the columns a partition or inheritance child inherits: default, NOT NULL,
//! statistics target, storage, compression, attribute options (`CREATE TABLE p PARTITION OF t
//! (c DEFAULT 0) ...`, or ALTER TABLE on the child). What the child holds depends on history:
//! a new child copies some of its parent's settings (default, NOT NULL, storage, compression)
//! but not others (statistics, options), and ALTER on the parent reaches the children that
//! exist then. So each is kept with its parent's, and the statements start from what the
//! script's earlier statements leave on the child.

use retort_pg::quote_ident;

use crate::common::ns_filter;
use crate::error::{query, CatalogError};
use crate::name::QName;
use crate::tables::Column;

/// An inherited column's settings, and its parent's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InheritedColumn {
    /// The partition or child.
    pub table: QName,
    /// The child's settings (name, default, NOT NULL, statistics, storage, compression,
    /// options; the type is the parent's).
    pub settings: Column,
    /// The parent's, which the child returns to when the difference goes.
    pub parent: Column,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<InheritedColumn>, CatalogError> {
    let side = |a: &str, d: &str| {
        format!(
            "{a}.attnotnull, CASE WHEN {a}.attgenerated = '' THEN pg_get_expr({d}.adbin, 0) END, \
             CASE WHEN {a}.attstattarget >= 0 THEN {a}.attstattarget::int END, \
             CASE WHEN {a}.attstorage <> t.typstorage THEN {a}.attstorage::text END, {compression}, \
             coalesce({a}.attoptions::text[], '{{}}')",
            compression = if params.version >= 140000 {
                format!("nullif({a}.attcompression, '')::text")
            } else {
                "NULL::text".to_string()
            }
        )
    };
    let sql = format!(
        "SELECT DISTINCT ON (a.attrelid, a.attnum) n.nspname::text, c.relname::text, a.attname::text, \
                t.typstorage::text, {child}, {parent} \
         FROM pg_inherits i \
         JOIN pg_attribute a ON a.attrelid = i.inhrelid \
         JOIN pg_attribute pa ON pa.attrelid = i.inhparent AND pa.attname = a.attname AND NOT pa.attisdropped \
         JOIN pg_type t ON t.oid = a.atttypid \
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         LEFT JOIN pg_attrdef pd ON pd.adrelid = pa.attrelid AND pd.adnum = pa.attnum \
         WHERE NOT a.attislocal AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') \
           AND {filter} AND {ext} \
         ORDER BY a.attrelid, a.attnum, i.inhseqno",
        child = side("a", "d"),
        parent = side("pa", "pd"),
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("inherited columns"))?;
    let ch = |s: Option<String>| s.and_then(|s| s.chars().next());
    let mut out = Vec::new();
    for r in &rows {
        let name: String = r.get(2);
        let type_storage = r.get::<_, String>(3).chars().next().unwrap_or('x');
        let column = |at: usize| Column {
            not_null: r.get(at),
            default: r.get(at + 1),
            statistics: r.get(at + 2),
            storage: ch(r.get(at + 3)),
            compression: ch(r.get(at + 4)),
            options: r.get(at + 5),
            ..Column::bare(&name, type_storage)
        };
        out.push(InheritedColumn {
            table: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            settings: column(4),
            parent: column(10),
        });
    }
    Ok(out)
}

/// Statements on `table` (ONLY: its own children have their own entries) turning column
/// settings `from` into `to`.
fn change(table: &QName, from: &Column, to: &Column) -> Vec<String> {
    let col = format!(
        "ALTER TABLE ONLY {table} ALTER COLUMN {}",
        quote_ident(&to.name)
    );
    let mut out = Vec::new();
    if from.default != to.default {
        out.push(match &to.default {
            Some(d) => format!("{col} SET DEFAULT {d}"),
            None => format!("{col} DROP DEFAULT"),
        });
    }
    if from.not_null != to.not_null {
        // NOT NULL goes down to the child's own children, which PostgreSQL requires anyway.
        out.push(format!(
            "ALTER TABLE {table} ALTER COLUMN {} {} NOT NULL",
            quote_ident(&to.name),
            if to.not_null { "SET" } else { "DROP" }
        ));
    }
    out.extend(
        to.setting_changes(table, Some(from))
            .into_iter()
            .map(|s| s.replacen("ALTER TABLE ", "ALTER TABLE ONLY ", 1)),
    );
    out
}

impl InheritedColumn {
    /// A new child (or a column the parent gains) starts with the parent's default, NOT NULL,
    /// storage and compression, and no statistics target or options of its own.
    pub(crate) fn create(&self) -> Vec<String> {
        let fresh = Column {
            statistics: None,
            options: Vec::new(),
            ..self.parent.clone()
        };
        change(&self.table, &fresh, &self.settings)
    }

    /// Nothing: it goes with its table or the parent's column.
    pub(crate) fn drop(&self) -> Vec<String> {
        Vec::new()
    }

    /// From the old settings, except where the parent's changed: the parent's ALTER reaches
    /// this child too, so those start from the parent's new value.
    pub(crate) fn alter(&self, old: &InheritedColumn) -> Option<Vec<String>> {
        let (was, now) = (&old.parent, &self.parent);
        let mut from = old.settings.clone();
        if was.default != now.default {
            from.default = now.default.clone();
        }
        if was.not_null != now.not_null {
            from.not_null = now.not_null;
        }
        if was.statistics != now.statistics {
            from.statistics = now.statistics;
        }
        if was.storage != now.storage {
            from.storage = now.storage;
        }
        if was.compression != now.compression {
            from.compression = now.compression;
        }
        if was.options != now.options {
            from.options = now.options.clone();
        }
        Some(change(&self.table, &from, &self.settings))
    }
}
