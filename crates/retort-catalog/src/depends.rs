//! Dependencies between objects, read from pg_depend in one query and mapped to [`ObjKey`]s.

use std::collections::BTreeSet;

use crate::common::ns_filter;
use crate::error::{query, CatalogError};
use crate::name::{ObjKey, QName};

/// Edges "dependent needs referenced", from one database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// (dependent, referenced), deduplicated and sorted.
    pub edges: BTreeSet<(ObjKey, ObjKey)>,
}

impl Dependencies {
    /// Objects that directly depend on `key`.
    pub fn dependents_of<'a>(&'a self, key: &'a ObjKey) -> impl Iterator<Item = &'a ObjKey> + 'a {
        self.edges
            .iter()
            .filter(move |(_, r)| r == key)
            .map(|(d, _)| d)
    }
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Dependencies, CatalogError> {
    let f = ns_filter("n");
    let sql = format!(
        "WITH rel AS ( \
           SELECT c.oid, n.nspname::text AS nspname, c.relname::text AS relname, c.relkind, \
                  con.conname::text AS conname, tc.relname::text AS contable \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           LEFT JOIN pg_constraint con ON con.conindid = c.oid AND con.contype IN ('p', 'u', 'x') \
                AND c.relkind IN ('i', 'I') \
           LEFT JOIN pg_class tc ON tc.oid = con.conrelid \
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I', 'c') AND {f} \
         ), typ AS ( \
           SELECT t.oid, n.nspname::text AS nspname, \
                  CASE WHEN t.typrelid = 0 OR c.relkind = 'c' THEN 'type' \
                       WHEN c.relkind IN ('v', 'm') THEN 'view' WHEN c.relkind IN ('r', 'p') THEN 'table' END AS kind, \
                  coalesce(c.relname::text, t.typname::text) AS name \
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
           LEFT JOIN pg_class c ON c.oid = t.typrelid \
           WHERE {f} AND t.typtype IN ('e', 'd', 'r', 'c') \
         ), objs AS ( \
           SELECT 'pg_class'::regclass AS classid, oid AS objid, 0 AS objsubid, \
                  CASE WHEN conname IS NOT NULL THEN 'constraint' \
                       WHEN relkind = 'S' THEN 'sequence' WHEN relkind IN ('i', 'I') THEN 'index' \
                       WHEN relkind IN ('v', 'm') THEN 'view' WHEN relkind = 'c' THEN 'type' \
                       ELSE 'table' END AS kind, \
                  nspname AS schema, coalesce(contable, relname) AS name, coalesce(conname, '') AS sub \
           FROM rel \
           UNION ALL \
           SELECT 'pg_class'::regclass, a.attrelid, a.attnum, \
                  CASE WHEN r.relkind IN ('v', 'm') THEN 'view' WHEN r.relkind = 'c' THEN 'type' \
                       WHEN r.relkind IN ('r', 'p') THEN 'column' ELSE 'skip' END, \
                  r.nspname, r.relname, CASE WHEN r.relkind IN ('r', 'p') THEN a.attname::text ELSE '' END \
           FROM pg_attribute a JOIN rel r ON r.oid = a.attrelid WHERE a.attnum > 0 \
           UNION ALL \
           SELECT 'pg_type'::regclass, t.oid, 0, t.kind, t.nspname, t.name, '' FROM typ t WHERE t.kind IS NOT NULL \
           UNION ALL \
           SELECT 'pg_type'::regclass, arr.oid, 0, t.kind, t.nspname, t.name, '' \
           FROM pg_type arr JOIN typ t ON t.oid = arr.typelem WHERE arr.typcategory = 'A' AND t.kind IS NOT NULL \
           UNION ALL \
           SELECT 'pg_proc'::regclass, p.oid, 0, 'function', n.nspname::text, p.proname::text, \
                  oidvectortypes(p.proargtypes) \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {f} \
           UNION ALL \
           SELECT 'pg_constraint'::regclass, con.oid, 0, \
                  CASE WHEN con.contypid <> 0 THEN 'type' WHEN con.contype = 't' THEN 'skip' ELSE 'constraint' END, \
                  n.nspname::text, \
                  CASE WHEN con.contypid <> 0 THEN (SELECT typname::text FROM pg_type WHERE oid = con.contypid) \
                       ELSE (SELECT relname::text FROM pg_class WHERE oid = con.conrelid) END, \
                  CASE WHEN con.contypid <> 0 THEN '' ELSE con.conname::text END \
           FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace WHERE {f} \
           UNION ALL \
           SELECT 'pg_rewrite'::regclass, rw.oid, 0, \
                  CASE WHEN rw.rulename = '_RETURN' THEN 'view' ELSE 'rule' END, r.nspname, r.relname, \
                  CASE WHEN rw.rulename = '_RETURN' THEN '' ELSE rw.rulename::text END \
           FROM pg_rewrite rw JOIN rel r ON r.oid = rw.ev_class \
           UNION ALL \
           SELECT 'pg_attrdef'::regclass, d.oid, 0, 'column', r.nspname, r.relname, a.attname::text \
           FROM pg_attrdef d JOIN rel r ON r.oid = d.adrelid \
           JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
           UNION ALL \
           SELECT 'pg_trigger'::regclass, tg.oid, 0, 'trigger', r.nspname, r.relname, tg.tgname::text \
           FROM pg_trigger tg JOIN rel r ON r.oid = tg.tgrelid WHERE NOT tg.tgisinternal \
           UNION ALL \
           SELECT 'pg_policy'::regclass, p.oid, 0, 'policy', r.nspname, r.relname, p.polname::text \
           FROM pg_policy p JOIN rel r ON r.oid = p.polrelid \
           UNION ALL \
           SELECT 'pg_statistic_ext'::regclass, s.oid, 0, 'statistics', n.nspname::text, s.stxname::text, '' \
           FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {f} \
           UNION ALL \
           SELECT 'pg_namespace'::regclass, n.oid, 0, 'schema', n.nspname::text, n.nspname::text, '' \
           FROM pg_namespace n WHERE {f} \
           UNION ALL \
           SELECT 'pg_extension'::regclass, e.oid, 0, 'extension', '', e.extname::text, '' FROM pg_extension e \
         ) \
         SELECT a.kind, a.schema, a.name, a.sub, b.kind, b.schema, b.name, b.sub \
         FROM pg_depend d \
         JOIN objs a ON a.classid = d.classid AND a.objid = d.objid AND a.objsubid = d.objsubid \
         JOIN objs b ON b.classid = d.refclassid AND b.objid = d.refobjid AND b.objsubid = d.refobjsubid \
         WHERE d.deptype IN ('n', 'a', 'i') AND d.objid >= 16384 AND a.kind <> 'skip' AND b.kind <> 'skip'"
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("dependencies"))?;
    let mut edges = BTreeSet::new();
    for r in &rows {
        let a = key(r.get(0), r.get(1), r.get(2), r.get(3));
        let b = key(r.get(4), r.get(5), r.get(6), r.get(7));
        if let (Some(a), Some(b)) = (a, b) {
            if a != b {
                edges.insert((a, b));
            }
        }
    }
    Ok(Dependencies { edges })
}

fn key(kind: &str, schema: String, name: String, sub: String) -> Option<ObjKey> {
    let q = || QName::new(schema.clone(), name.clone());
    Some(match kind {
        "schema" => ObjKey::Schema(name),
        "extension" => ObjKey::Extension(name),
        "type" => ObjKey::Type(q()),
        "sequence" => ObjKey::Sequence(q()),
        "table" => ObjKey::Table(q()),
        "column" => ObjKey::Column(q(), sub),
        "index" => ObjKey::Index(q()),
        "view" => ObjKey::View(q()),
        "function" => ObjKey::Function(q(), sub),
        "constraint" => ObjKey::Constraint(q(), sub),
        "trigger" => ObjKey::Trigger(q(), sub),
        "policy" => ObjKey::Policy(q(), sub),
        "statistics" => ObjKey::Statistics(q()),
        "rule" => ObjKey::Rule(q(), sub),
        _ => return None,
    })
}
