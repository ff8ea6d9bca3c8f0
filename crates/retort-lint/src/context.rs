//! What a lint run knows besides the SQL: the server version, whether the runner sets a
//! lock_timeout, and (with a database URL) each table's size, columns and dependent views.

use std::collections::{HashMap, HashSet};

use postgres::Client;
use retort_pg::PgError;
use serde::Serialize;

/// Facts about one existing table from the live catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableFacts {
    /// Its name as `regclass` prints it.
    pub name: String,
    /// `pg_total_relation_size`: table, indexes and TOAST.
    pub bytes: i64,
    /// The planner's row estimate (`reltuples`; -1 when never analyzed).
    pub rows: f64,
    /// Column name -> type as `format_type` prints it.
    pub columns: HashMap<String, String>,
    /// Views and materialized views that depend on the table (per column, "" for the whole table).
    pub dependents: HashMap<String, Vec<String>>,
}

/// The live database's side of a lint run.
#[derive(Debug, Clone, Default)]
pub struct LiveCatalog {
    /// By the name the migration uses.
    pub tables: HashMap<String, TableFacts>,
    /// Function names that have a VOLATILE variant.
    pub volatile_functions: HashSet<String>,
}

/// Everything a rule may consult.
#[derive(Debug, Clone, Default)]
pub struct LintContext {
    /// `server_version_num` of the target (PostgreSQL 15 assumed when unknown).
    pub server_version_num: Option<i32>,
    /// The runner sets `lock_timeout` for each migration (retort upgrade does, 5 s by default).
    pub runner_sets_lock_timeout: bool,
    /// The live catalog, when linting against a database.
    pub catalog: Option<LiveCatalog>,
}

impl LintContext {
    /// The server version, 15 when unknown.
    pub fn version(&self) -> i32 {
        self.server_version_num.unwrap_or(150000)
    }
}

const TABLES: &str = "SELECT r, c.oid::regclass::text, pg_total_relation_size(c.oid), c.reltuples::float8, c.oid \
    FROM unnest($1::text[]) r JOIN pg_class c ON c.oid = to_regclass(r) WHERE c.relkind IN ('r', 'p', 'm')";
const COLUMNS: &str = "SELECT attrelid, attname::text, format_type(atttypid, atttypmod) \
    FROM pg_attribute WHERE attrelid = ANY($1::oid[]) AND attnum > 0 AND NOT attisdropped";
const DEPENDENTS: &str =
    "SELECT DISTINCT d.refobjid, coalesce(a.attname::text, ''), v.oid::regclass::text \
    FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class \
    LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
      AND d.refobjid = ANY($1::oid[]) AND v.oid <> d.refobjid";
const VOLATILE: &str = "SELECT DISTINCT proname::text FROM pg_proc WHERE provolatile = 'v' AND proname = ANY($1::text[])";

impl LiveCatalog {
    /// Reads facts about `relations` (names as migrations write them, resolved with the
    /// session's search_path) and the volatility of `functions`: four queries.
    pub fn read(
        client: &mut Client,
        relations: &[String],
        functions: &[String],
    ) -> Result<LiveCatalog, PgError> {
        let quoted: Vec<String> = relations
            .iter()
            .map(|r| match r.split_once('.') {
                Some((s, n)) => retort_pg::quote_qualified(s, n),
                None => retort_pg::quote_ident(r),
            })
            .collect();
        let mut out = LiveCatalog::default();
        let mut by_oid: HashMap<u32, String> = HashMap::new();
        for row in client.query(TABLES, &[&quoted])? {
            let asked: String = row.get(0);
            let key = relations
                .iter()
                .zip(&quoted)
                .find(|(_, q)| **q == asked)
                .map(|(r, _)| r.clone())
                .unwrap_or(asked);
            let oid: u32 = row.get(4);
            by_oid.insert(oid, key.clone());
            out.tables.insert(
                key,
                TableFacts {
                    name: row.get(1),
                    bytes: row.get(2),
                    rows: row.get(3),
                    columns: HashMap::new(),
                    dependents: HashMap::new(),
                },
            );
        }
        let oids: Vec<u32> = by_oid.keys().copied().collect();
        if !oids.is_empty() {
            for row in client.query(COLUMNS, &[&oids])? {
                let oid: u32 = row.get(0);
                if let Some(t) = by_oid.get(&oid).and_then(|k| out.tables.get_mut(k)) {
                    t.columns.insert(row.get(1), row.get(2));
                }
            }
            for row in client.query(DEPENDENTS, &[&oids])? {
                let oid: u32 = row.get(0);
                if let Some(t) = by_oid.get(&oid).and_then(|k| out.tables.get_mut(k)) {
                    t.dependents.entry(row.get(1)).or_default().push(row.get(2));
                }
            }
        }
        if !functions.is_empty() {
            for row in client.query(VOLATILE, &[&functions])? {
                out.volatile_functions.insert(row.get(0));
            }
        }
        Ok(out)
    }
}

/// Relations and functions named by `statements`, for [`LiveCatalog::read`].
pub fn referenced(statements: &[crate::statement::Statement]) -> (Vec<String>, Vec<String>) {
    let mut rels: Vec<String> = Vec::new();
    let mut funcs: Vec<String> = Vec::new();
    for s in statements {
        for e in &s.effects {
            if !rels.contains(&e.relation) {
                rels.push(e.relation.clone());
            }
        }
        for name in crate::statement::functions_in(&s.node) {
            if !funcs.contains(&name) {
                funcs.push(name);
            }
        }
    }
    (rels, funcs)
}
