//! Dependencies between objects, read from pg_depend in one query and mapped to [`ObjKey`]s.

use rustc_hash::FxHashMap as HashMap;

use std::collections::BTreeMap;

use crate::common::{each_row, ns_filter};
use crate::deparse::Attributes;
use crate::error::CatalogError;
use crate::name::{ObjKey, QName};
use crate::tables::Table;

/// Edges "dependent needs referenced", from one database. Keys are stored once; an edge is
/// a pair of indexes into them. The order of edges follows the database's catalog, not the
/// keys: nothing that reads them may depend on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dependencies {
    /// Every object that takes part in an edge.
    keys: Vec<ObjKey>,
    /// (dependent, referenced) as indexes into `keys`, unique as pairs of indexes (a key may
    /// be stored twice, so a pair of keys may repeat).
    edges: Vec<(u32, u32)>,
}

impl Dependencies {
    /// Builds the graph from (dependent, referenced) pairs; self-edges are dropped.
    pub fn from_edges(pairs: impl IntoIterator<Item = (ObjKey, ObjKey)>) -> Dependencies {
        let mut b = Builder::default();
        let mut ids: HashMap<ObjKey, u32> = HashMap::default();
        let mut id = |b: &mut Builder, k: ObjKey| match ids.get(&k) {
            Some(&i) => i,
            None => {
                let i = b.intern(k.clone());
                ids.insert(k, i);
                i
            }
        };
        for (d, r) in pairs {
            let (d, r) = (id(&mut b, d), id(&mut b, r));
            b.edges.push((d, r));
        }
        b.finish()
    }

    /// Every edge as (dependent, referenced).
    pub fn iter(&self) -> impl Iterator<Item = (&ObjKey, &ObjKey)> + '_ {
        self.edges
            .iter()
            .map(|&(d, r)| (&self.keys[d as usize], &self.keys[r as usize]))
    }

    /// The keys, and the edges as (dependent, referenced) indexes into them: for walks that
    /// look each key up once rather than once per edge.
    pub(crate) fn indexed(&self) -> (&[ObjKey], &[(u32, u32)]) {
        (&self.keys, &self.edges)
    }

    /// The number of edges (the same pair of keys may be counted twice when two catalog
    /// entries name one object).
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether there are no edges.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// Objects that directly depend on `key`, sorted and unique.
    pub fn dependents_of(&self, key: &ObjKey) -> Vec<&ObjKey> {
        let mut out: Vec<&ObjKey> = self
            .iter()
            .filter(|(_, r)| *r == key)
            .map(|(d, _)| d)
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Collects keys and edges. Two addresses may name the same key (an index that backs a
/// constraint and the constraint): such keys are stored twice, and readers compare keys.
#[derive(Default)]
struct Builder {
    keys: Vec<ObjKey>,
    edges: Vec<(u32, u32)>,
}

impl Builder {
    fn intern(&mut self, key: ObjKey) -> u32 {
        self.keys.push(key);
        (self.keys.len() - 1) as u32
    }

    fn finish(mut self) -> Dependencies {
        let keys = &self.keys;
        self.edges
            .retain(|&(d, r)| d != r && keys[d as usize] != keys[r as usize]);
        self.edges.sort_unstable();
        self.edges.dedup();
        // Keep the keys that take part in an edge, and renumber.
        let mut renumber = vec![u32::MAX; self.keys.len()];
        for &(d, r) in &self.edges {
            renumber[d as usize] = 0;
            renumber[r as usize] = 0;
        }
        let mut keys = Vec::new();
        for (old, key) in self.keys.into_iter().enumerate() {
            if renumber[old] == 0 {
                renumber[old] = keys.len() as u32;
                keys.push(key);
            }
        }
        let edges = self
            .edges
            .iter()
            .map(|&(d, r)| (renumber[d as usize], renumber[r as usize]))
            .collect();
        Dependencies { keys, edges }
    }
}

/// `tables` and `attributes` are what [`crate::tables::load`] read in the same snapshot: their
/// columns are named from there rather than read again.
pub(crate) fn load(
    client: &mut postgres::Transaction<'_>,
    params: &crate::Params,
    tables: &BTreeMap<QName, Table>,
    attributes: &Attributes,
) -> Result<Dependencies, CatalogError> {
    // Columns of views and composite types, inherited columns, and the columns of
    // tables that belong to extensions. The tables' own columns are the model's (the
    // tables were read just before): reading all 40,000 of them again cost a scan of
    // pg_attribute and ~30 ms per side at 5,000 tables. Driven from pg_class (OFFSET 0 keeps
    // the subquery apart), so that pg_attribute is only probed by its index.
    let narrow = format!(
        "SELECT 'pg_class'::regclass::oid, c.oid, x.attnum, 'attribute', '', '', x.attname::text, c.oid \
         FROM pg_class c CROSS JOIN LATERAL ( \
           SELECT a.attnum, a.attname FROM pg_attribute a \
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             AND (c.relkind IN ('v', 'm', 'c') OR NOT ({modelled}) OR NOT a.attislocal) \
           OFFSET 0) x \
         WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c') \
           AND (c.relkind IN ('v', 'm', 'c') OR NOT ({modelled}) \
                OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i))",
        modelled = params.extensions.exclude("pg_class", "c.oid"),
    );
    let deps = read(
        client,
        params,
        narrow,
        Some((tables, attributes)),
        SKIP_EDGES,
    )?;
    // Debug builds (every test) check that naming the tables' columns from the model, and
    // leaving out the rows below, gives the graph that reading everything gives.
    #[cfg(debug_assertions)]
    {
        let all = read(
            client,
            params,
            "SELECT 'pg_class'::regclass::oid, a.attrelid, a.attnum, 'attribute', '', '', a.attname::text, a.attrelid \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             WHERE a.attrelid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped \
               AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')"
                .to_string(),
            None,
            "TRUE",
        )?;
        let set = |d: &Dependencies| -> std::collections::BTreeSet<(ObjKey, ObjKey)> {
            d.iter().map(|(a, b)| (a.clone(), b.clone())).collect()
        };
        let (ours, read) = (set(&deps), set(&all));
        assert!(
            ours == read,
            "dependencies named from the model differ from those read: only named {:?}, only read {:?}",
            ours.difference(&read).take(5).collect::<Vec<_>>(),
            read.difference(&ours).take(5).collect::<Vec<_>>()
        );
    }
    Ok(deps)
}

/// pg_depend rows that can only name an object by itself or by nothing, left out on the
/// server (46,000 of 131,000 rows at 5,000 tables): a row type's or array type's link to its
/// relation or element type, a column default's to its column, an index's to the constraint
/// it backs (each is named as that other object), and triggers' internal links to their
/// constraints (internal triggers and constraint triggers' constraints are not named).
const SKIP_EDGES: &str = "NOT (deptype = 'i' AND classid IN ('pg_type'::regclass, 'pg_trigger'::regclass)) \
     AND NOT (deptype = 'a' AND classid = 'pg_attrdef'::regclass AND refclassid = 'pg_class'::regclass) \
     AND NOT (deptype = 'i' AND classid = 'pg_class'::regclass AND refclassid = 'pg_constraint'::regclass)";

/// The graph, with the columns of the second pass read by `attributes_sql` and, when given,
/// named from the model's tables; pg_depend rows that fail `edges` are not read.
fn read(
    client: &mut postgres::Transaction<'_>,
    params: &crate::Params,
    attributes_sql: String,
    model: Option<(&BTreeMap<QName, Table>, &Attributes)>,
    edges: &str,
) -> Result<Dependencies, CatalogError> {
    // Plain scans, no joins against pg_depend on the server: the objects retort names (each
    // with the oid of the relation, type or column it hangs off), then the raw pg_depend edges.
    // Names are resolved here, in hash maps, including the indirect hops PostgreSQL records:
    // a row type or array type stands for its relation or element type, a view's _RETURN rule
    // for the view, a column default (pg_attrdef) for its column, an index that backs a
    // constraint for the constraint, a domain's constraint for the domain.
    let f = ns_filter("n");
    // Pass 1: objects named by themselves; pass 2: those named through a relation or type;
    // pass 3: column defaults (named through their column) and array types (through their
    // element type, which may be a row type). Each pass is one query, read as it streams.
    // Columns: classid, objid, objsubid, kind, schema, name, sub, and the oid of the relation
    // or type the name comes from.
    let passes = [
        vec![
            format!(
                "SELECT 'pg_class'::regclass::oid, c.oid, 0, \
                    CASE WHEN con.conname IS NOT NULL THEN 'constraint' \
                         WHEN c.relkind = 'S' THEN 'sequence' WHEN c.relkind IN ('i', 'I') THEN 'index' \
                         WHEN c.relkind IN ('v', 'm') THEN 'view' WHEN c.relkind = 'c' THEN 'type' \
                         ELSE 'table' END, \
                    n.nspname::text, coalesce(tc.relname, c.relname)::text, coalesce(con.conname::text, ''), 0::oid \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_constraint con ON con.conindid = c.oid AND con.contype IN ('p', 'u', 'x') \
                      AND c.relkind IN ('i', 'I') \
                 LEFT JOIN pg_class tc ON tc.oid = con.conrelid \
                 WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I', 'c') AND {f}"
            ),
            format!(
                "SELECT 'pg_type'::regclass::oid, t.oid, 0, 'type', n.nspname::text, t.typname::text, '', 0::oid \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE {f} AND t.typtype IN ('e', 'd', 'r')"
            ),
            format!(
                "SELECT 'pg_proc'::regclass::oid, p.oid, 0, 'function', n.nspname::text, p.proname::text, \
                    oidvectortypes(p.proargtypes), 0::oid \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {f}"
            ),
            format!(
                "SELECT 'pg_statistic_ext'::regclass::oid, s.oid, 0, 'statistics', n.nspname::text, \
                    s.stxname::text, '', 0::oid \
                 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {f}"
            ),
            format!(
                "SELECT 'pg_collation'::regclass::oid, co.oid, 0, 'collation', n.nspname::text, \
                    co.collname::text, '', 0::oid \
                 FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace \
                 WHERE co.oid >= 16384 AND {f}"
            ),
            format!(
                "SELECT 'pg_namespace'::regclass::oid, n.oid, 0, 'schema', n.nspname::text, n.nspname::text, '', 0::oid \
                 FROM pg_namespace n WHERE {f}"
            ),
            "SELECT 'pg_extension'::regclass::oid, e.oid, 0, 'extension', '', e.extname::text, '', 0::oid \
             FROM pg_extension e"
                .to_string(),
            "SELECT 'pg_publication'::regclass::oid, p.oid, 0, 'publication', '', p.pubname::text, '', 0::oid \
             FROM pg_publication p"
                .to_string(),
            format!(
                "SELECT 'pg_ts_dict'::regclass::oid, d.oid, 0, 'text search dictionary', n.nspname::text, \
                    d.dictname::text, '', 0::oid \
                 FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace \
                 WHERE d.oid >= 16384 AND {f}"
            ),
            format!(
                "SELECT 'pg_ts_config'::regclass::oid, c.oid, 0, 'text search configuration', n.nspname::text, \
                    c.cfgname::text, '', 0::oid \
                 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace \
                 WHERE c.oid >= 16384 AND {f}"
            ),
            "SELECT 'pg_event_trigger'::regclass::oid, e.oid, 0, 'event trigger', '', e.evtname::text, '', 0::oid \
             FROM pg_event_trigger e"
                .to_string(),
            format!(
                "SELECT 'pg_operator'::regclass::oid, o.oid, 0, 'operator', n.nspname::text, \
                    o.oprname::text, \
                    coalesce(format_type(NULLIF(o.oprleft, 0), NULL), 'NONE') || ', ' || format_type(o.oprright, NULL), \
                    0::oid \
                 FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace \
                 WHERE o.oid >= 16384 AND {f}"
            ),
            format!(
                "SELECT 'pg_conversion'::regclass::oid, co.oid, 0, 'conversion', n.nspname::text, \
                    co.conname::text, '', 0::oid \
                 FROM pg_conversion co JOIN pg_namespace n ON n.oid = co.connamespace \
                 WHERE co.oid >= 16384 AND {f}"
            ),
            format!(
                "SELECT 'pg_opfamily'::regclass::oid, f.oid, 0, 'operator family', n.nspname::text, \
                    f.opfname::text, am.amname::text, 0::oid \
                 FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace \
                 JOIN pg_am am ON am.oid = f.opfmethod WHERE f.oid >= 16384 AND {f}"
            ),
            format!(
                "SELECT 'pg_opclass'::regclass::oid, c.oid, 0, 'operator class', n.nspname::text, \
                    c.opcname::text, am.amname::text, 0::oid \
                 FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace \
                 JOIN pg_am am ON am.oid = c.opcmethod WHERE c.oid >= 16384 AND {f}"
            ),
            "SELECT 'pg_foreign_data_wrapper'::regclass::oid, w.oid, 0, 'foreign-data wrapper', '', \
                w.fdwname::text, '', 0::oid FROM pg_foreign_data_wrapper w \
             UNION ALL SELECT 'pg_foreign_server'::regclass::oid, s.oid, 0, 'server', '', s.srvname::text, '', 0::oid \
             FROM pg_foreign_server s \
             UNION ALL SELECT 'pg_user_mapping'::regclass::oid, m.umid, 0, 'user mapping', '', \
                coalesce(r.rolname::text, 'PUBLIC'), m.srvname::text, 0::oid \
             FROM pg_user_mappings m LEFT JOIN pg_roles r ON r.oid = m.umuser"
                .to_string(),
            "SELECT 'pg_transform'::regclass::oid, t.oid, 0, 'transform', '', format_type(t.trftype, NULL), \
                l.lanname::text, 0::oid FROM pg_transform t JOIN pg_language l ON l.oid = t.trflang \
             WHERE t.oid >= 16384"
                .to_string(),
            "SELECT 'pg_language'::regclass::oid, l.oid, 0, 'language', '', l.lanname::text, '', 0::oid \
             FROM pg_language l WHERE l.oid >= 16384"
                .to_string(),
            "SELECT 'pg_cast'::regclass::oid, ca.oid, 0, 'cast', '', format_type(ca.castsource, NULL), \
                format_type(ca.casttarget, NULL), 0::oid \
             FROM pg_cast ca WHERE ca.oid >= 16384"
                .to_string(),
        ],
        vec![
            "SELECT 'pg_type'::regclass::oid, t.oid, 0, 'rowtype', '', '', '', t.typrelid \
             FROM pg_type t WHERE t.typtype = 'c' AND t.oid >= 16384"
                .to_string(),
            attributes_sql,
            "SELECT 'pg_constraint'::regclass::oid, con.oid, 0, \
                CASE WHEN con.contypid <> 0 THEN 'domain constraint' ELSE 'constraint' END, '', '', \
                con.conname::text, CASE WHEN con.contypid <> 0 THEN con.contypid ELSE con.conrelid END \
             FROM pg_constraint con WHERE con.oid >= 16384 AND con.contype <> 't'"
                .to_string(),
            "SELECT 'pg_rewrite'::regclass::oid, rw.oid, 0, 'rewrite', '', '', rw.rulename::text, rw.ev_class \
             FROM pg_rewrite rw WHERE rw.oid >= 16384"
                .to_string(),
            "SELECT 'pg_trigger'::regclass::oid, tg.oid, 0, 'trigger', '', '', tg.tgname::text, tg.tgrelid \
             FROM pg_trigger tg WHERE NOT tg.tgisinternal"
                .to_string(),
            "SELECT 'pg_policy'::regclass::oid, p.oid, 0, 'policy', '', '', p.polname::text, p.polrelid \
             FROM pg_policy p"
                .to_string(),
            // An operator or support function in a class or family stands for the class or
            // family pg_depend binds it to.
            "SELECT d.classid, d.objid, 0, 'opclass member', '', '', '', d.refobjid FROM pg_depend d \
             WHERE d.classid IN ('pg_amop'::regclass, 'pg_amproc'::regclass) AND d.objid >= 16384 \
               AND d.deptype IN ('i', 'a') AND d.refclassid = 'pg_opclass'::regclass \
             UNION ALL \
             SELECT d.classid, d.objid, 0, 'opfamily member', '', '', '', d.refobjid FROM pg_depend d \
             WHERE d.classid IN ('pg_amop'::regclass, 'pg_amproc'::regclass) AND d.objid >= 16384 \
               AND d.deptype IN ('i', 'a') AND d.refclassid = 'pg_opfamily'::regclass"
                .to_string(),
            // A table's membership in a publication stands for the publication.
            "SELECT 'pg_publication_rel'::regclass::oid, pr.oid, 0, 'publication member', '', '', '', pr.prpubid \
             FROM pg_publication_rel pr"
                .to_string(),
        ],
        vec![
            "SELECT 'pg_type'::regclass::oid, t.oid, 0, 'array', '', '', '', t.typelem \
             FROM pg_type t WHERE t.oid >= 16384 AND t.typcategory = 'A' AND t.typelem <> 0"
                .to_string(),
            "SELECT 'pg_attrdef'::regclass::oid, d.oid, d.adnum, 'default', '', '', '', d.adrelid \
             FROM pg_attrdef d"
                .to_string(),
        ],
    ];
    let mut names = Names::default();
    let mut b = Builder::default();
    let refs = params.as_refs();
    for (pass, parts) in passes.iter().enumerate() {
        if let (1, Some((tables, attributes))) = (pass, model) {
            // The modelled tables' own columns, as the query of this pass would name them (in
            // oid order: the graph's keys come out the same on every read).
            let mut columns: Vec<_> = attributes.columns.iter().collect();
            columns.sort_unstable_by_key(|(&at, _)| at);
            for (&(relid, attnum), &(pos, _, _)) in columns {
                let column = attributes
                    .relations
                    .get(&relid)
                    .and_then(|t| tables.get(t))
                    .and_then(|t| t.columns.get(usize::from(pos)));
                if let Some(column) = column {
                    names.add(
                        &mut b,
                        (PG_CLASS, relid, i32::from(attnum)),
                        "attribute",
                        String::new(),
                        String::new(),
                        column.name.clone(),
                        relid,
                    );
                }
            }
        }
        let sql = parts.join(" UNION ALL ");
        let args: &[&(dyn postgres::types::ToSql + Sync)] =
            if sql.contains("$1") { &refs } else { &[] };
        each_row(client, &sql, args, "dependencies", |r| {
            names.add(
                &mut b,
                (r.get(0), r.get(1), r.get(2)),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
            );
        })?;
    }
    each_row(
        client,
        &format!(
            "SELECT classid, objid, objsubid, refclassid, refobjid, refobjsubid FROM pg_depend \
             WHERE deptype IN ('n', 'a', 'i') AND objid >= 16384 AND {edges}"
        ),
        &[],
        "dependencies",
        |r| {
            let dependent = names.get(&(r.get(0), r.get(1), r.get(2)));
            let referenced = names.get(&(r.get(3), r.get(4), r.get(5)));
            if let (Some(d), Some(r)) = (dependent, referenced) {
                b.edges.push((d, r));
            }
        },
    )?;
    Ok(b.finish())
}

/// (classid, objid, objsubid), as pg_depend spells an object.
type Address = (u32, u32, i32);

/// Object addresses mapped to interned keys; `None` for objects that take part in no edge
/// (sequences' columns, constraints of relations outside the model and the like).
#[derive(Default)]
struct Names {
    map: HashMap<Address, Option<u32>>,
}

const PG_CLASS: u32 = 1259;
const PG_TYPE: u32 = 1247;
const PG_PUBLICATION: u32 = 6104;
const PG_OPCLASS: u32 = 2616;
const PG_OPFAMILY: u32 = 2753;

impl Names {
    fn get(&self, a: &Address) -> Option<u32> {
        self.map.get(a).copied().flatten()
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        b: &mut Builder,
        at: Address,
        kind: &str,
        schema: String,
        name: String,
        sub: String,
        on: u32,
    ) {
        let keys = &b.keys;
        let relation = |names: &Names| names.get(&(PG_CLASS, on, 0)).map(|i| &keys[i as usize]);
        let q = || QName::new(schema.clone(), name.clone());
        let key = match kind {
            "schema" => Some(ObjKey::Schema(name)),
            "extension" => Some(ObjKey::Extension(name)),
            "publication" => Some(ObjKey::Publication(name)),
            "event trigger" => Some(ObjKey::EventTrigger(name)),
            "cast" => Some(ObjKey::Cast(name, sub)),
            "conversion" => Some(ObjKey::Conversion(q())),
            "language" => Some(ObjKey::Language(name)),
            "operator" => Some(ObjKey::Operator(q(), sub)),
            "operator family" => Some(ObjKey::OpFamily(q(), sub)),
            "foreign-data wrapper" => Some(ObjKey::ForeignDataWrapper(name)),
            "server" => Some(ObjKey::ForeignServer(name)),
            "transform" => Some(ObjKey::Transform(name, sub)),
            "user mapping" => Some(ObjKey::UserMapping(name, sub)),
            "operator class" => Some(ObjKey::OpClass(q(), sub)),
            "type" => Some(ObjKey::Type(q())),
            "sequence" => Some(ObjKey::Sequence(q())),
            "table" => Some(ObjKey::Table(q())),
            "index" => Some(ObjKey::Index(q())),
            "view" => Some(ObjKey::View(q())),
            "function" => Some(ObjKey::Function(q(), sub)),
            "statistics" => Some(ObjKey::Statistics(q())),
            "collation" => Some(ObjKey::Collation(q())),
            "text search dictionary" => Some(ObjKey::TsDictionary(q())),
            "text search configuration" => Some(ObjKey::TsConfiguration(q())),
            "constraint" if on == 0 => Some(ObjKey::Constraint(q(), sub)),
            // A table's or view's row type is the relation; a composite type's is the type.
            // Names that are another object's: no new key.
            "rowtype" | "array" | "domain constraint" | "rewrite" | "attribute" | "default"
            | "publication member" | "opclass member" | "opfamily member" => {
                let same = match kind {
                    "rowtype" => match relation(self) {
                        Some(ObjKey::Table(_) | ObjKey::View(_) | ObjKey::Type(_)) => {
                            self.get(&(PG_CLASS, on, 0))
                        }
                        _ => None,
                    },
                    "array" | "domain constraint" => self.get(&(PG_TYPE, on, 0)),
                    "publication member" => self.get(&(PG_PUBLICATION, on, 0)),
                    "opclass member" => self.get(&(PG_OPCLASS, on, 0)),
                    "opfamily member" => self.get(&(PG_OPFAMILY, on, 0)),
                    "rewrite" if sub == "_RETURN" => match relation(self) {
                        Some(ObjKey::View(_)) => self.get(&(PG_CLASS, on, 0)),
                        _ => None,
                    },
                    "attribute" => match relation(self) {
                        Some(ObjKey::View(_) | ObjKey::Type(_)) => self.get(&(PG_CLASS, on, 0)),
                        _ => None,
                    },
                    "default" => self
                        .get(&(PG_CLASS, on, at.2))
                        .filter(|&i| matches!(keys[i as usize], ObjKey::Column(..))),
                    _ => None,
                };
                let new = match (kind, relation(self)) {
                    ("attribute", Some(ObjKey::Table(t))) => Some(ObjKey::Column(t.clone(), sub)),
                    ("rewrite", Some(ObjKey::Table(t) | ObjKey::View(t))) if sub != "_RETURN" => {
                        Some(ObjKey::Rule(t.clone(), sub))
                    }
                    _ => None,
                };
                match new {
                    Some(k) => Some(k),
                    None => {
                        // A default is recorded under its own oid, not the column's address.
                        let at = if kind == "default" {
                            (at.0, at.1, 0)
                        } else {
                            at
                        };
                        if same.is_some() || !self.map.contains_key(&at) {
                            self.map.insert(at, same);
                        }
                        return;
                    }
                }
            }
            "constraint" => match relation(self) {
                Some(ObjKey::Table(t)) => Some(ObjKey::Constraint(t.clone(), sub)),
                _ => None,
            },
            "trigger" => match relation(self) {
                Some(ObjKey::Table(t) | ObjKey::View(t)) => Some(ObjKey::Trigger(t.clone(), sub)),
                _ => None,
            },
            "policy" => match relation(self) {
                Some(ObjKey::Table(t)) => Some(ObjKey::Policy(t.clone(), sub)),
                _ => None,
            },
            _ => None,
        };
        let id = key.map(|k| b.intern(k));
        if id.is_some() || !self.map.contains_key(&at) {
            self.map.insert(at, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: &str) -> ObjKey {
        ObjKey::Table(QName::new("public", n))
    }

    #[test]
    fn edges_are_unique_and_self_edges_dropped() {
        let v = ObjKey::View(QName::new("public", "v"));
        let d = Dependencies::from_edges([
            (v.clone(), t("a")),
            (v.clone(), t("a")),
            (t("a"), t("a")),
            (t("b"), t("a")),
            (v.clone(), t("b")),
        ]);
        assert_eq!(d.len(), 3);
        assert_eq!(d.dependents_of(&t("a")), vec![&t("b"), &v]);
        assert_eq!(d.dependents_of(&t("b")), vec![&v]);
        assert!(d.dependents_of(&v).is_empty());
        assert!(d.dependents_of(&t("missing")).is_empty());
        let mut pairs: Vec<_> = d.iter().collect();
        pairs.sort();
        assert_eq!(
            pairs,
            vec![(&t("b"), &t("a")), (&v, &t("a")), (&v, &t("b"))]
        );
    }
}
