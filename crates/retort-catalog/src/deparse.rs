//! Definitions written here, from raw catalog rows, exactly as PostgreSQL's
//! `pg_get_constraintdef` and `pg_get_indexdef` print them, for the common shapes: primary
//! keys, unique constraints, foreign keys and CHECK constraints, and indexes on plain columns
//! with default operator classes, partial or not (the expressions by [`crate::expr`]). In a
//! fresh backend those functions fill catalog caches object by object
//! (at 5,000 tables they were a third of a catalog read); the column names they look up are
//! already here. Anything else, or a column this side of the read does not know, is deparsed
//! by the server in one batch. Debug builds ask the server for every definition as well and
//! assert that both agree, so the whole test suite checks this module.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use retort_pg::quote_ident;

use crate::catalog::Catalog;
use crate::error::{query, CatalogError};
use crate::name::QName;
use crate::tables::Table;

/// Where the columns of the tables read are (by table oid and attnum), and the tables' names
/// by oid; the names themselves are the model's.
#[derive(Default)]
pub(crate) struct Attributes {
    /// (table oid, attnum) -> (position in the table's columns, type oid, collation oid).
    pub(crate) columns: HashMap<(u32, i16), (u16, u32, u32)>,
    /// Table oid -> name.
    pub(crate) relations: HashMap<u32, QName>,
}

/// The attributes and the tables they point into.
struct Names<'a> {
    at: &'a Attributes,
    /// The model's tables by oid (looked up once each rather than by name per column).
    tables: HashMap<u32, &'a Table>,
}

impl<'a> Names<'a> {
    fn new(at: &'a Attributes, tables: &'a BTreeMap<QName, Table>) -> Names<'a> {
        let tables = at
            .relations
            .iter()
            .filter_map(|(&oid, name)| Some((oid, tables.get(name)?)))
            .collect();
        Names { at, tables }
    }

    /// Name, type oid and collation oid of a column.
    fn column(&self, rel: u32, attnum: i16) -> Option<(&'a str, u32, u32)> {
        let &(pos, typid, collation) = self.at.columns.get(&(rel, attnum))?;
        let table = self.tables.get(&rel)?;
        let column = table.columns.get(usize::from(pos))?;
        Some((column.name.as_str(), typid, collation))
    }

    fn names(&self, rel: u32, attnums: &[i16]) -> Option<String> {
        let names: Option<Vec<String>> = attnums
            .iter()
            .map(|n| self.column(rel, *n).map(|c| quote_ident(c.0)))
            .collect();
        names.map(|n| n.join(", "))
    }

    fn relation(&self, rel: u32) -> Option<&QName> {
        self.at.relations.get(&rel)
    }
}

/// A PRIMARY KEY, UNIQUE, FOREIGN KEY or CHECK constraint as pg_constraint (and its index)
/// hold it.
pub(crate) struct RawConstraint {
    pub(crate) oid: u32,
    pub(crate) key: (QName, String),
    pub(crate) kind: char,
    pub(crate) conrelid: u32,
    pub(crate) conkey: Vec<i16>,
    pub(crate) confrelid: u32,
    pub(crate) confkey: Vec<i16>,
    /// confmatchtype, confupdtype, confdeltype.
    pub(crate) fk: (char, char, char),
    pub(crate) delete_set_columns: Option<Vec<i16>>,
    pub(crate) deferrable: bool,
    pub(crate) deferred: bool,
    pub(crate) validated: bool,
    pub(crate) nulls_not_distinct: bool,
    /// The index's columns (key and INCLUDE).
    pub(crate) index_columns: Vec<i16>,
    /// A CHECK constraint's expression (conbin).
    pub(crate) check: Option<String>,
    pub(crate) no_inherit: bool,
}

/// An index as pg_index holds it, when it has no expressions or storage parameters.
pub(crate) struct RawIndex {
    pub(crate) oid: u32,
    pub(crate) key: QName,
    pub(crate) table_oid: u32,
    pub(crate) unique: bool,
    pub(crate) nulls_not_distinct: bool,
    pub(crate) am: u32,
    pub(crate) am_name: String,
    pub(crate) columns: Vec<i16>,
    pub(crate) key_columns: i16,
    pub(crate) opclasses: Vec<u32>,
    pub(crate) collations: Vec<u32>,
    pub(crate) options: Vec<i16>,
    /// A partial index's predicate (indpred).
    pub(crate) predicate: Option<String>,
}

/// Definitions left to write once both halves of a read are in.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) constraints: Vec<RawConstraint>,
    pub(crate) indexes: Vec<RawIndex>,
}

fn action(c: char) -> Option<&'static str> {
    match c {
        'r' => Some("RESTRICT"),
        'c' => Some("CASCADE"),
        'n' => Some("SET NULL"),
        'd' => Some("SET DEFAULT"),
        _ => None,
    }
}

/// pg_get_constraintdef's text, or None when a name is not known here or the expression is
/// not one [`crate::expr`] writes.
fn constraint_def(c: &RawConstraint, at: &Names, exprs: &Expressions) -> Option<String> {
    let mut s = match c.kind {
        'c' => {
            let expr = exprs.write(c.check.as_deref()?, at, c.conrelid)?;
            format!(
                "CHECK ({expr}){}",
                if c.no_inherit { " NO INHERIT" } else { "" }
            )
        }
        'f' => {
            let table = at.relation(c.confrelid)?;
            let mut s = format!(
                "FOREIGN KEY ({}) REFERENCES {table}({})",
                at.names(c.conrelid, &c.conkey)?,
                at.names(c.confrelid, &c.confkey)?
            );
            match c.fk.0 {
                'f' => s.push_str(" MATCH FULL"),
                'p' => s.push_str(" MATCH PARTIAL"),
                _ => {}
            }
            if let Some(a) = action(c.fk.1) {
                s.push_str(&format!(" ON UPDATE {a}"));
            }
            if let Some(a) = action(c.fk.2) {
                s.push_str(&format!(" ON DELETE {a}"));
            }
            if let Some(cols) = &c.delete_set_columns {
                s.push_str(&format!(" ({})", at.names(c.conrelid, cols)?));
            }
            s
        }
        'p' | 'u' => {
            let mut s = if c.kind == 'p' {
                "PRIMARY KEY (".to_string()
            } else if c.nulls_not_distinct {
                "UNIQUE NULLS NOT DISTINCT (".to_string()
            } else {
                "UNIQUE (".to_string()
            };
            s.push_str(&at.names(c.conrelid, &c.conkey)?);
            s.push(')');
            let include = c.index_columns.get(c.conkey.len()..).unwrap_or_default();
            if !include.is_empty() {
                s.push_str(&format!(" INCLUDE ({})", at.names(c.conrelid, include)?));
            }
            s
        }
        _ => return None,
    };
    if c.deferrable {
        s.push_str(" DEFERRABLE");
    }
    if c.deferred {
        s.push_str(" INITIALLY DEFERRED");
    }
    if !c.validated {
        s.push_str(" NOT VALID");
    }
    Some(s)
}

/// pg_get_indexdef's text (with ON, never ON ONLY), or None when it needs the server: a
/// column not known here, an operator class that is not the column type's default, a
/// collation other than the column's, or a sort order.
fn index_def(
    i: &RawIndex,
    at: &Names,
    defaults: &HashSet<(u32, u32, u32)>,
    exprs: &Expressions,
) -> Option<String> {
    let table = at.relation(i.table_oid)?;
    let mut keys = Vec::new();
    let mut include = Vec::new();
    for (n, attnum) in i.columns.iter().enumerate() {
        let (name, typid, collation) = at.column(i.table_oid, *attnum)?;
        if n < i.key_columns as usize {
            let opclass = *i.opclasses.get(n)?;
            let coll = *i.collations.get(n)?;
            if !defaults.contains(&(i.am, typid, opclass))
                || (coll != 0 && coll != collation)
                || *i.options.get(n)? != 0
            {
                return None;
            }
            keys.push(quote_ident(name));
        } else {
            include.push(quote_ident(name));
        }
    }
    let mut s = format!(
        "CREATE {}INDEX {} ON {table} USING {} ({})",
        if i.unique { "UNIQUE " } else { "" },
        quote_ident(&i.key.name),
        quote_ident(&i.am_name),
        keys.join(", ")
    );
    if !include.is_empty() {
        s.push_str(&format!(" INCLUDE ({})", include.join(", ")));
    }
    if i.nulls_not_distinct {
        s.push_str(" NULLS NOT DISTINCT");
    }
    if let Some(predicate) = &i.predicate {
        s.push_str(" WHERE ");
        s.push_str(&exprs.write(predicate, at, i.table_oid)?);
    }
    Some(s)
}

/// The catalog facts [`crate::expr`] needs to write the pending definitions' expressions (each
/// is parsed when it is written: thousands of parsed trees held at once cost tens of MB).
struct Expressions {
    facts: crate::expr::Facts,
}

impl Expressions {
    /// Reads what writing `texts` needs, in one query per catalog.
    fn load<'t>(
        tx: &mut postgres::Transaction<'_>,
        texts: impl Iterator<Item = &'t str>,
    ) -> Result<Expressions, CatalogError> {
        let mut needs = crate::expr::Needs::default();
        let mut any = false;
        for t in texts {
            needs.scan(t);
            any = true;
        }
        let mut facts = crate::expr::Facts::default();
        if !any {
            return Ok(Expressions { facts });
        }
        let settings = tx
            .query_one(
                "SELECT current_setting('standard_conforming_strings') = 'off', \
                        current_setting('server_encoding') = 'UTF8'",
                &[],
            )
            .map_err(query("settings"))?;
        facts.escape_backslash = settings.get(0);
        facts.utf8 = settings.get(1);
        let oids = |set: &crate::expr::OidSet| set.iter().copied().collect::<Vec<u32>>();
        for r in tx
            .query(
                "SELECT oid, oprname::text, oprleft, oprright, \
                        oprnamespace = 'pg_catalog'::regnamespace AND oprkind = 'b' \
                 FROM pg_operator WHERE oid = ANY($1)",
                &[&oids(&needs.operators)],
            )
            .map_err(query("operators"))?
        {
            facts.operators.insert(
                r.get(0),
                crate::expr::Operator {
                    name: r.get(1),
                    left: r.get(2),
                    right: r.get(3),
                    in_catalog: r.get(4),
                },
            );
        }
        for r in tx
            .query(
                "SELECT oid, format_type(oid, -1), typtype::text, typcollation \
                 FROM pg_type WHERE oid = ANY($1)",
                &[&oids(&needs.types)],
            )
            .map_err(query("types"))?
        {
            facts.types.insert(
                r.get(0),
                crate::expr::TypeInfo {
                    name: r.get(1),
                    kind: r.get::<_, String>(2).chars().next().unwrap_or(' '),
                    collation: r.get(3),
                },
            );
        }
        for r in tx
            .query(
                "SELECT oid, enumlabel::text FROM pg_enum WHERE oid = ANY($1)",
                &[&oids(&needs.enum_values)],
            )
            .map_err(query("enum labels"))?
        {
            facts.enum_labels.insert(r.get(0), r.get(1));
        }
        Ok(Expressions { facts })
    }

    /// The expression stored as `text`, written for table `rel`.
    fn write(&self, text: &str, at: &Names, rel: u32) -> Option<String> {
        let node = crate::expr::parse(text)?;
        let column = |attnum: i16| at.column(rel, attnum).map(|c| c.0);
        crate::expr::write(&node, &self.facts, &column)
    }
}

/// Writes the pending definitions into `cat`: here when it can, by the server otherwise.
pub(crate) fn resolve(
    tx: &mut postgres::Transaction<'_>,
    cat: &mut Catalog,
    pending: Pending,
    at: &Attributes,
) -> Result<(), CatalogError> {
    if pending.constraints.is_empty() && pending.indexes.is_empty() {
        return Ok(());
    }
    let defaults: HashSet<(u32, u32, u32)> = if pending.indexes.is_empty() {
        HashSet::default()
    } else {
        tx.query(
            "SELECT opcmethod, opcintype, oid FROM pg_catalog.pg_opclass WHERE opcdefault",
            &[],
        )
        .map_err(query("operator classes"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    let exprs = Expressions::load(
        tx,
        pending
            .constraints
            .iter()
            .filter_map(|c| c.check.as_deref())
            .chain(
                pending
                    .indexes
                    .iter()
                    .filter_map(|i| i.predicate.as_deref()),
            ),
    )?;
    let names = Names::new(at, &cat.tables);
    let mut server_constraints: Vec<u32> = Vec::new();
    let mut server_indexes: Vec<u32> = Vec::new();
    // What was written here, kept for the debug builds' comparison with the server.
    let mut written_constraints: Vec<(u32, String)> = Vec::new();
    let mut written_indexes: Vec<(u32, String)> = Vec::new();
    for c in &pending.constraints {
        match constraint_def(c, &names, &exprs) {
            Some(def) => {
                if cfg!(debug_assertions) {
                    written_constraints.push((c.oid, def.clone()));
                }
                if let Some(k) = cat.constraints.get_mut(&c.key) {
                    k.definition = def;
                }
            }
            None => server_constraints.push(c.oid),
        }
    }
    for i in &pending.indexes {
        match index_def(i, &names, &defaults, &exprs) {
            Some(def) => {
                if cfg!(debug_assertions) {
                    written_indexes.push((i.oid, def.clone()));
                }
                if let Some(x) = cat.indexes.get_mut(&i.key) {
                    x.definition = def;
                }
            }
            None => server_indexes.push(i.oid),
        }
    }
    tracing::debug!(
        constraints_here = pending.constraints.len() - server_constraints.len(),
        constraints_by_server = server_constraints.len(),
        indexes_here = pending.indexes.len() - server_indexes.len(),
        indexes_by_server = server_indexes.len(),
        "definitions"
    );
    let by_oid_c: HashMap<u32, &(QName, String)> = pending
        .constraints
        .iter()
        .map(|c| (c.oid, &c.key))
        .collect();
    let by_oid_i: HashMap<u32, &QName> = pending.indexes.iter().map(|i| (i.oid, &i.key)).collect();
    for (oid, def) in server_defs(tx, CONSTRAINTDEF, &server_constraints)? {
        if let Some(k) = by_oid_c.get(&oid).and_then(|k| cat.constraints.get_mut(k)) {
            k.definition = def;
        }
    }
    for (oid, def) in server_defs(tx, INDEXDEF, &server_indexes)? {
        if let Some(x) = by_oid_i.get(&oid).and_then(|k| cat.indexes.get_mut(k)) {
            x.definition = def.replacen(" ON ONLY ", " ON ", 1);
        }
    }
    if cfg!(debug_assertions) {
        verify(tx, CONSTRAINTDEF, &written_constraints)?;
        verify(tx, INDEXDEF, &written_indexes)?;
    }
    Ok(())
}

const CONSTRAINTDEF: &str = "pg_catalog.pg_get_constraintdef";
const INDEXDEF: &str = "pg_catalog.pg_get_indexdef";

fn server_defs(
    tx: &mut postgres::Transaction<'_>,
    function: &str,
    oids: &[u32],
) -> Result<Vec<(u32, String)>, CatalogError> {
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tx
        .query(
            &format!("SELECT o, {function}(o) FROM unnest($1::oid[]) o"),
            &[&oids],
        )
        .map_err(query("definitions"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Debug builds: what was written here must be what the server prints.
fn verify(
    tx: &mut postgres::Transaction<'_>,
    function: &str,
    written: &[(u32, String)],
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = written.iter().map(|(o, _)| *o).collect();
    let server: HashMap<u32, String> = server_defs(tx, function, &oids)?.into_iter().collect();
    for (oid, def) in written {
        let expected = server
            .get(oid)
            .map(|d| d.replacen(" ON ONLY ", " ON ", 1))
            .unwrap_or_default();
        assert_eq!(
            def, &expected,
            "{function}({oid}) written here differs from the server's"
        );
    }
    Ok(())
}
