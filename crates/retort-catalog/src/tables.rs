//! Tables and their columns: ordinary, unlogged, partitioned, partitions, inheritance children;
//! defaults, identity, generated columns, collations, row-level security switches.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use retort_pg::quote_ident;

use crate::common::{
    acl_columns, column_acl_change, comment_change, explode_acl, ns_filter, text_array, Acl, Extras,
};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Type as format_type renders it.
    pub data_type: String,
    /// COLLATE, when not the type's default.
    pub collation: Option<String>,
    /// NOT NULL.
    pub not_null: bool,
    /// DEFAULT expression.
    pub default: Option<String>,
    /// `a` (ALWAYS) or `d` (BY DEFAULT) for identity columns.
    pub identity: Option<char>,
    /// The identity column's sequence (schema-qualified, quoted).
    pub identity_sequence: Option<String>,
    /// The identity sequence's start, increment, min, max, cache and cycle.
    pub identity_params: Option<IdentityParams>,
    /// Column privileges, `grantee|PRIVILEGE|grantable` (the table owner as `OWNER`), sorted.
    pub acl: Vec<String>,
    /// GENERATED ALWAYS AS (expr) STORED.
    pub generated: Option<String>,
    /// COMMENT ON COLUMN.
    pub comment: Option<String>,
    /// ALTER COLUMN ... SET STATISTICS n, when set.
    pub statistics: Option<i32>,
    /// SET STORAGE (p, e, x, m) when it differs from the type's default.
    pub storage: Option<char>,
    /// The type's default storage (what SET STORAGE goes back to).
    pub type_storage: char,
    /// SET COMPRESSION (p = pglz, l = lz4), when set (PostgreSQL 14+).
    pub compression: Option<char>,
    /// Attribute options (`n_distinct=100`, `n_distinct_inherited=-0.5`), in the order
    /// PostgreSQL stores them (the order they were set in, which pg_dump shows).
    #[serde(default)]
    pub options: Vec<String>,
    /// A foreign table's column options (`column_name=id`), sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fdw_options: Vec<String>,
}

/// An identity column's sequence parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdentityParams {
    /// START WITH.
    pub start: i64,
    /// INCREMENT BY.
    pub increment: i64,
    /// MINVALUE.
    pub min: i64,
    /// MAXVALUE.
    pub max: i64,
    /// CACHE.
    pub cache: i64,
    /// CYCLE.
    pub cycle: bool,
}

impl IdentityParams {
    /// From `ARRAY[seqstart, seqincrement, seqmin, seqmax, seqcache, seqcycle::int]`.
    fn from_array(v: &[i64]) -> Option<IdentityParams> {
        match *v {
            [start, increment, min, max, cache, cycle] => Some(IdentityParams {
                start,
                increment,
                min,
                max,
                cache,
                cycle: cycle != 0,
            }),
            _ => None,
        }
    }

    /// The parameters PostgreSQL picks for a column of `data_type` given only `increment`.
    fn defaults(data_type: &str, increment: i64) -> IdentityParams {
        let (lo, hi) = match data_type {
            "smallint" => (i16::MIN as i64, i16::MAX as i64),
            "integer" => (i32::MIN as i64, i32::MAX as i64),
            _ => (i64::MIN, i64::MAX),
        };
        let (min, max) = if increment > 0 { (1, hi) } else { (lo, -1) };
        IdentityParams {
            start: if increment > 0 { min } else { max },
            increment,
            min,
            max,
            cache: 1,
            cycle: false,
        }
    }

    /// The options that differ from the defaults, as CREATE writes them.
    fn non_default(&self, data_type: &str) -> Vec<String> {
        let d = IdentityParams::defaults(data_type, self.increment);
        let mut out = Vec::new();
        if self.start != d.start {
            out.push(format!("START WITH {}", self.start));
        }
        if self.increment != 1 {
            out.push(format!("INCREMENT BY {}", self.increment));
        }
        if self.min != d.min {
            out.push(format!("MINVALUE {}", self.min));
        }
        if self.max != d.max {
            out.push(format!("MAXVALUE {}", self.max));
        }
        if self.cache != 1 {
            out.push(format!("CACHE {}", self.cache));
        }
        if self.cycle {
            out.push("CYCLE".into());
        }
        out
    }

    /// ALTER COLUMN ... SET options giving exactly these parameters.
    fn set_all(&self) -> String {
        format!(
            "SET INCREMENT BY {} SET MINVALUE {} SET MAXVALUE {} SET START WITH {} SET CACHE {} SET {}",
            self.increment,
            self.min,
            self.max,
            self.start,
            self.cache,
            if self.cycle { "CYCLE" } else { "NO CYCLE" }
        )
    }
}

/// A table.
#[derive(Debug, Clone, Eq, serde::Serialize, serde::Deserialize)]
pub struct Table {
    /// Name.
    pub name: QName,
    /// UNLOGGED.
    pub unlogged: bool,
    /// PARTITION BY clause of a partitioned table.
    pub partition_by: Option<String>,
    /// Parent and bound (`FOR VALUES ...` / `DEFAULT`) of a partition.
    pub partition_of: Option<(String, String)>,
    /// INHERITS parents (quoted names), in order.
    pub inherits: Vec<String>,
    /// `OF type` of a typed table: the composite type (quoted, qualified) that owns its
    /// columns' names and types.
    #[serde(default)]
    pub of_type: Option<String>,
    /// Columns defined by this table (not inherited), in attnum order.
    pub columns: Vec<Column>,
    /// ENABLE ROW LEVEL SECURITY.
    pub row_security: bool,
    /// FORCE ROW LEVEL SECURITY.
    pub force_row_security: bool,
    /// Storage parameters (`fillfactor=70`).
    pub options: Vec<String>,
    /// REPLICA IDENTITY NOTHING (`n`), FULL (`f`) or USING INDEX (`i`: the index carries
    /// which one, [`crate::Index::replica_identity`]); None for DEFAULT.
    pub replica_identity: Option<char>,
    /// Whether one of its indexes is marked for CLUSTER (the index carries which one).
    #[serde(default)]
    pub clustered: bool,
    /// COMMENT ON TABLE.
    pub comment: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
    /// A foreign table's server and options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign: Option<crate::foreign::ForeignTable>,
}

/// Columns compare by name, not position: a column added later lands at the end, which no
/// ALTER can change, and it is the same table for every query that names its columns.
impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        let cols = |t: &Table| {
            t.columns
                .iter()
                .map(|c| (c.name.clone(), c.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        self.name == other.name
            && self.unlogged == other.unlogged
            && self.partition_by == other.partition_by
            && self.partition_of == other.partition_of
            && self.inherits == other.inherits
            && self.of_type == other.of_type
            && (self.columns == other.columns || cols(self) == cols(other))
            && self.row_security == other.row_security
            && self.force_row_security == other.force_row_security
            && self.options == other.options
            && self.replica_identity == other.replica_identity
            && self.clustered == other.clustered
            && self.comment == other.comment
            && self.acl == other.acl
            && self.owner == other.owner
            && self.foreign == other.foreign
    }
}

/// The tables, and their columns by table oid and attnum for [`crate::deparse`].
pub(crate) fn load(
    client: &mut postgres::Transaction<'_>,
    params: &crate::Params,
) -> Result<(Vec<Table>, crate::deparse::Attributes), CatalogError> {
    let tables_sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relpersistence = 'u', \
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, \
           (SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) FROM pg_inherits i \
              JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
              WHERE i.inhrelid = c.oid AND c.relispartition), \
           CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END, \
           ARRAY(SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) FROM pg_inherits i \
              JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace \
              WHERE i.inhrelid = c.oid AND NOT c.relispartition ORDER BY i.inhseqno), \
           c.relrowsecurity, c.relforcerowsecurity, c.reloptions::text[], \
           c.oid, {acl}, pg_get_userbyid(c.relowner)::text, \
           CASE WHEN c.relreplident <> 'd' AND c.relkind <> 'f' THEN c.relreplident::text END, \
           cl.indrelid IS NOT NULL, \
           CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END, \
           fs.srvname::text, ft.ftoptions::text[] \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN (SELECT DISTINCT indrelid FROM pg_index WHERE indisclustered) cl ON cl.indrelid = c.oid \
         LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid \
         LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver \
         WHERE c.relkind IN ('r', 'p', 'f') AND {filter} AND {ext}",
        acl = acl_columns("c.relacl", 'r'),
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let columns_sql = format!(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
           a.attnotnull, CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, 0) END, \
           CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END, \
           nullif(a.attidentity, '')::text, \
           CASE WHEN a.attcollation <> t.typcollation THEN \
             CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname) \
                  ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END END, \
           a.attrelid, a.attnum, \
           CASE WHEN a.attacl IS NOT NULL THEN {column_acl} END, \
           CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::int END, \
           CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END, t.typstorage::text, \
           {compression}, a.attoptions::text[], a.atttypid, a.attcollation, a.attfdwoptions::text[] \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace \
         WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND a.attislocal \
           AND {filter} AND {ext}",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
        column_acl = explode_acl("a.attacl", Some("c.relowner")),
        compression = if params.version >= 140000 {
            "nullif(a.attcompression, '')::text"
        } else {
            "NULL::text"
        },
    );
    let rows = client
        .query(&tables_sql, &params.as_refs())
        .map_err(query("tables"))?;
    // Comments and identity sequences are read on their own and matched here: as joins in the
    // queries above, a freshly loaded database's unanalyzed catalogs (every throwaway database)
    // made the planner pick nested loops over them, 15 s instead of 0.3 s at 5,000 tables.
    // Both tables and columns take their comments from one map.
    let comments = params.comments.of("pg_class");
    let mut identity: HashMap<(u32, i32), (String, Vec<i64>)> = client
        .query(
            "SELECT sd.refobjid, sd.refobjsubid, \
               quote_ident(sn.nspname) || '.' || quote_ident(sc.relname), \
               ARRAY[s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle::int] \
             FROM pg_depend sd JOIN pg_sequence s ON s.seqrelid = sd.objid \
             JOIN pg_class sc ON sc.oid = sd.objid JOIN pg_namespace sn ON sn.oid = sc.relnamespace \
             WHERE sd.classid = 'pg_class'::regclass AND sd.refclassid = 'pg_class'::regclass \
               AND sd.deptype = 'i'",
            &[],
        )
        .map_err(query("identity sequences"))?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3))))
        .collect();
    // Rows come unsorted (sorting 40,000 of them by name cost the server more than the rest of
    // the query): each table's columns are put in attnum order here.
    // Keyed by table oid: the rows carry no names (42,000 copies of schema and table names were
    // sent, decoded and compared for nothing).
    let mut columns: HashMap<u32, Vec<(i16, u32, u32, Column)>> = HashMap::default();
    let mut attributes = crate::deparse::Attributes::default();
    // Streamed: 40,000 column rows are never all held at once.
    crate::common::each_row(client, &columns_sql, &params.as_refs(), "columns", |r| {
        let (relid, attnum) = (r.get::<_, u32>(7), r.get::<_, i16>(8));
        let (typid, collation) = (r.get::<_, u32>(15), r.get::<_, u32>(16));
        let key = (relid, i32::from(attnum));
        let identity_kind = r.get::<_, Option<String>>(5).and_then(|s| s.chars().next());
        let (identity_sequence, identity_params) = match identity_kind {
            Some(_) => match identity.remove(&key) {
                Some((name, p)) => (Some(name), IdentityParams::from_array(&p)),
                None => (None, None),
            },
            None => (None, None),
        };
        columns.entry(relid).or_default().push((
            attnum,
            typid,
            collation,
            Column {
                name: r.get(0),
                data_type: r.get(1),
                not_null: r.get(2),
                default: r.get(3),
                generated: r.get(4),
                identity: identity_kind,
                collation: r.get(6),
                comment: comments.column(relid, attnum),
                identity_sequence,
                acl: text_array(r, 9),
                statistics: r.get(10),
                identity_params,
                storage: r
                    .get::<_, Option<String>>(11)
                    .and_then(|s| s.chars().next()),
                type_storage: r.get::<_, String>(12).chars().next().unwrap_or('x'),
                compression: r
                    .get::<_, Option<String>>(13)
                    .and_then(|s| s.chars().next()),
                options: text_array(r, 14),
                fdw_options: crate::foreign::sorted_options(text_array(r, 17)),
            },
        ));
    })?;
    for r in &rows {
        attributes.relations.insert(
            r.get::<_, u32>(10),
            QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
        );
    }
    let tables = rows
        .iter()
        .map(|r| {
            let name = QName::new(r.get::<_, String>(0), r.get::<_, String>(1));
            let relid = r.get::<_, u32>(10);
            Table {
                columns: {
                    let mut cols = columns.remove(&relid).unwrap_or_default();
                    cols.sort_unstable_by_key(|c| c.0);
                    cols.into_iter()
                        .enumerate()
                        .map(|(pos, (attnum, typid, collation, c))| {
                            attributes
                                .columns
                                .insert((relid, attnum), (pos as u16, typid, collation));
                            c
                        })
                        .collect()
                },
                name,
                unlogged: r.get(2),
                partition_by: r.get(3),
                partition_of: match (r.get::<_, Option<String>>(4), r.get::<_, Option<String>>(5)) {
                    (Some(p), Some(b)) => Some((p, b)),
                    _ => None,
                },
                inherits: text_array(r, 6),
                of_type: r.get(16),
                row_security: r.get(7),
                force_row_security: r.get(8),
                options: text_array(r, 9),
                comment: comments.get(r.get(10)),
                acl: Acl::from_row(r, 11, params),
                owner: params.owners.then(|| r.get(13)),
                replica_identity: r
                    .get::<_, Option<String>>(14)
                    .and_then(|s| s.chars().next()),
                clustered: r.get(15),
                foreign: r.get::<_, Option<String>>(17).map(|server| {
                    crate::foreign::ForeignTable {
                        server,
                        options: crate::foreign::sorted_options(text_array(r, 18)),
                    }
                }),
            }
        })
        .collect();
    Ok((tables, attributes))
}

/// REPLICA IDENTITY for `r`; nothing for USING INDEX, which the index's own statements set
/// once it exists.
fn replica_identity_sql(table: &QName, r: Option<char>) -> Option<String> {
    let how = match r {
        Some('n') => "NOTHING",
        Some('f') => "FULL",
        Some(_) => return None,
        None => "DEFAULT",
    };
    Some(format!("ALTER TABLE {table} REPLICA IDENTITY {how}"))
}

fn storage_name(c: char) -> &'static str {
    match c {
        'p' => "PLAIN",
        'e' => "EXTERNAL",
        'm' => "MAIN",
        _ => "EXTENDED",
    }
}

impl Column {
    /// SET STATISTICS / STORAGE / COMPRESSION statements turning `old`'s settings (None: a new
    /// column, created with the defaults) into this column's.
    pub(crate) fn setting_changes(&self, table: &QName, old: Option<&Column>) -> Vec<String> {
        let col = format!(
            "ALTER TABLE {table} ALTER COLUMN {}",
            quote_ident(&self.name)
        );
        let mut out = Vec::new();
        let (stats, storage, compression) = match old {
            Some(o) => (o.statistics, o.storage, o.compression),
            None => (None, None, None),
        };
        if stats != self.statistics {
            out.push(format!(
                "{col} SET STATISTICS {}",
                self.statistics.unwrap_or(-1)
            ));
        }
        if storage != self.storage {
            out.push(format!(
                "{col} SET STORAGE {}",
                storage_name(self.storage.unwrap_or(self.type_storage))
            ));
        }
        if compression != self.compression {
            let how = match self.compression {
                Some('l') => "lz4",
                Some(_) => "pglz",
                None => "DEFAULT",
            };
            out.push(format!("{col} SET COMPRESSION {how}"));
        }
        let old_fdw = old.map(|o| o.fdw_options.as_slice()).unwrap_or(&[]);
        if old.is_some() {
            out.extend(
                crate::foreign::options_change(old_fdw, &self.fdw_options)
                    .map(|o| format!("{col} {o}")),
            );
        }
        // Options are replaced as a whole, so they end up stored in the wanted order.
        let old_options = old.map(|o| o.options.as_slice()).unwrap_or(&[]);
        if old_options != self.options.as_slice() {
            if !old_options.is_empty() {
                let keys: Vec<&str> = old_options
                    .iter()
                    .map(|o| o.split('=').next().unwrap_or(o))
                    .collect();
                out.push(format!("{col} RESET ({})", keys.join(", ")));
            }
            if !self.options.is_empty() {
                out.push(format!("{col} SET ({})", self.options.join(", ")));
            }
        }
        out
    }

    /// `GENERATED {ALWAYS|BY DEFAULT} AS IDENTITY [(SEQUENCE NAME s)]`.
    fn identity_clause(&self, kind: char) -> String {
        let how = if kind == 'a' { "ALWAYS" } else { "BY DEFAULT" };
        let mut options: Vec<String> = Vec::new();
        if let Some(seq) = &self.identity_sequence {
            options.push(format!("SEQUENCE NAME {seq}"));
        }
        if let Some(p) = &self.identity_params {
            options.extend(p.non_default(&self.data_type));
        }
        if options.is_empty() {
            format!("GENERATED {how} AS IDENTITY")
        } else {
            format!("GENERATED {how} AS IDENTITY ({})", options.join(" "))
        }
    }

    /// `name type [COLLATE] [GENERATED ...] [DEFAULT ...] [NOT NULL]`.
    pub(crate) fn definition(&self) -> String {
        let mut s = format!("{} {}", quote_ident(&self.name), self.data_type);
        s.push_str(&crate::foreign::options_suffix(&self.fdw_options));
        if let Some(c) = &self.collation {
            s.push_str(&format!(" COLLATE {c}"));
        }
        if let Some(g) = &self.generated {
            s.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
        }
        if let Some(kind) = self.identity {
            s.push_str(&format!(" {}", self.identity_clause(kind)));
        }
        if let Some(d) = &self.default {
            s.push_str(&format!(" DEFAULT {d}"));
        }
        if self.not_null {
            s.push_str(" NOT NULL");
        }
        s
    }

    /// The column of a typed table as CREATE TABLE ... OF writes it (`c WITH OPTIONS DEFAULT 0
    /// NOT NULL`): name and type come from the composite type.
    fn typed_definition(&self) -> Option<String> {
        let mut s = String::new();
        if let Some(kind) = self.identity {
            s.push_str(&format!(" {}", self.identity_clause(kind)));
        }
        if let Some(d) = &self.default {
            s.push_str(&format!(" DEFAULT {d}"));
        }
        if self.not_null {
            s.push_str(" NOT NULL");
        }
        (!s.is_empty()).then(|| format!("{} WITH OPTIONS{s}", quote_ident(&self.name)))
    }

    /// A column with nothing set: no type, default, constraint, settings or privileges.
    pub(crate) fn bare(name: &str, type_storage: char) -> Column {
        Column {
            name: name.to_string(),
            data_type: String::new(),
            collation: None,
            type_storage,
            not_null: false,
            default: None,
            generated: None,
            identity: None,
            comment: None,
            identity_sequence: None,
            acl: Vec::new(),
            statistics: None,
            identity_params: None,
            storage: None,
            compression: None,
            options: Vec::new(),
            fdw_options: Vec::new(),
        }
    }

    /// The column as the composite type of a typed table gives it: name, type and collation,
    /// no options.
    fn as_the_type_gives_it(&self) -> Column {
        Column {
            data_type: self.data_type.clone(),
            collation: self.collation.clone(),
            ..Column::bare(&self.name, self.type_storage)
        }
    }
}

/// What a table change does to data, for the generated file's warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableAlter {
    pub statements: Vec<String>,
    /// Columns dropped (data lost).
    pub dropped_columns: Vec<String>,
    /// Columns whose type changed (may fail or narrow).
    pub retyped_columns: Vec<String>,
}

impl Table {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    /// `TABLE t` or `FOREIGN TABLE t`: what COMMENT ON, ALTER ... OWNER and DROP name.
    fn target(&self) -> String {
        match self.foreign {
            Some(_) => format!("FOREIGN TABLE {}", self.name),
            None => format!("TABLE {}", self.name),
        }
    }

    /// `TABLE t` for GRANT, which has no FOREIGN TABLE.
    fn grant_target(&self) -> String {
        format!("TABLE {}", self.name)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut s = format!(
            "CREATE {}{}TABLE {}",
            if self.unlogged { "UNLOGGED " } else { "" },
            if self.foreign.is_some() {
                "FOREIGN "
            } else {
                ""
            },
            self.name
        );
        let cols: Vec<String> = match &self.of_type {
            None => self
                .columns
                .iter()
                .map(|c| format!("    {}", c.definition()))
                .collect(),
            Some(_) => self
                .columns
                .iter()
                .filter_map(|c| c.typed_definition().map(|d| format!("    {d}")))
                .collect(),
        };
        match &self.partition_of {
            // A typed table (never a partition): names and types come from the type.
            _ if self.of_type.is_some() => {
                s.push_str(&format!(
                    " OF {}",
                    self.of_type.as_deref().unwrap_or_default()
                ));
                if !cols.is_empty() {
                    s.push_str(&format!(" (\n{}\n)", cols.join(",\n")));
                }
            }
            Some((parent, bound)) => {
                s.push_str(&format!(" PARTITION OF {parent}"));
                if !cols.is_empty() {
                    s.push_str(&format!(" (\n{}\n)", cols.join(",\n")));
                }
                s.push_str(&format!(" {bound}"));
            }
            None => {
                s.push_str(&format!(" (\n{}\n)", cols.join(",\n")));
                if !self.inherits.is_empty() {
                    s.push_str(&format!(" INHERITS ({})", self.inherits.join(", ")));
                }
            }
        }
        if let Some(f) = &self.foreign {
            s.push_str(&f.clause());
        }
        if let Some(p) = &self.partition_by {
            s.push_str(&format!(" PARTITION BY {p}"));
        }
        if !self.options.is_empty() {
            s.push_str(&format!(" WITH ({})", self.options.join(", ")));
        }
        let mut out = vec![s];
        for c in &self.columns {
            out.extend(c.setting_changes(&self.name, None));
        }
        if let Some(r) = self.replica_identity {
            out.extend(replica_identity_sql(&self.name, Some(r)));
        }
        if self.row_security {
            out.push(format!(
                "ALTER TABLE {} ENABLE ROW LEVEL SECURITY",
                self.name
            ));
        }
        if self.force_row_security {
            out.push(format!(
                "ALTER TABLE {} FORCE ROW LEVEL SECURITY",
                self.name
            ));
        }
        for c in &self.columns {
            out.extend(comment_change(
                &format!("COLUMN {}.{}", self.name, quote_ident(&c.name)),
                None,
                c.comment.as_deref(),
            ));
        }
        out.extend(self.extras().create(&self.target(), &self.grant_target()));
        let owner = self
            .owner
            .as_deref()
            .map(quote_ident)
            .unwrap_or_else(|| "CURRENT_USER".into());
        for c in &self.columns {
            out.extend(column_acl_change(
                &self.name.to_string(),
                &c.name,
                &[],
                &c.acl,
                &owner,
            ));
        }
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// Statements turning `old` into `self`, or None when the table must be re-created
    /// (partitioning or inheritance changed).
    pub(crate) fn alter(&self, old: &Table) -> Option<TableAlter> {
        // No ALTER moves a foreign table to another server or makes a table foreign.
        if old.partition_by != self.partition_by
            || old.inherits != self.inherits
            || old.foreign.as_ref().map(|f| &f.server) != self.foreign.as_ref().map(|f| &f.server)
        {
            return None;
        }
        let t = &self.name;
        let mut out = Vec::new();
        let mut dropped_columns = Vec::new();
        let mut retyped_columns = Vec::new();
        // A typed table's columns follow its type (ALTER TYPE ... CASCADE adds, drops and
        // retypes them): compare only what the table itself sets on them.
        let adjusted;
        let old = if self.of_type.is_some() && old.of_type == self.of_type {
            adjusted = Table {
                columns: self
                    .columns
                    .iter()
                    .map(|n| match old.columns.iter().find(|c| c.name == n.name) {
                        Some(o) => Column {
                            data_type: n.data_type.clone(),
                            collation: n.collation.clone(),
                            type_storage: n.type_storage,
                            ..o.clone()
                        },
                        None => n.as_the_type_gives_it(),
                    })
                    .collect(),
                ..old.clone()
            };
            &adjusted
        } else {
            if old.of_type.is_some() && old.of_type != self.of_type {
                out.push(format!("ALTER TABLE {t} NOT OF"));
            }
            old
        };
        match (&old.partition_of, &self.partition_of) {
            (a, b) if a == b => {}
            (Some((p1, _)), Some((p2, b2))) if p1 == p2 => {
                out.push(format!("ALTER TABLE {p1} DETACH PARTITION {t}"));
                out.push(format!("ALTER TABLE {p2} ATTACH PARTITION {t} {b2}"));
            }
            _ => return None,
        }
        if old.unlogged != self.unlogged {
            out.push(format!(
                "ALTER TABLE {t} SET {}",
                if self.unlogged { "UNLOGGED" } else { "LOGGED" }
            ));
        }
        let old_cols: BTreeMap<&str, &Column> =
            old.columns.iter().map(|c| (c.name.as_str(), c)).collect();
        let new_cols: BTreeMap<&str, &Column> =
            self.columns.iter().map(|c| (c.name.as_str(), c)).collect();
        // A column used by a generated column cannot change type; generated columns hold no
        // data of their own, so they are dropped and added again around any type change.
        let retypes = self.columns.iter().any(|n| {
            old_cols.get(n.name.as_str()).is_some_and(|o| {
                o.generated == n.generated
                    && (o.data_type != n.data_type || o.collation != n.collation)
            })
        });
        let regenerate = |c: &Column| retypes && c.generated.is_some();
        // PostgreSQL cannot change the type of a partition key column in any way: the
        // partitioned table is re-created.
        if let Some(key) = &self.partition_by {
            let retyped_key = self.columns.iter().any(|n| {
                old_cols.get(n.name.as_str()).is_some_and(|o| {
                    (o.data_type != n.data_type || o.collation != n.collation)
                        && mentions_identifier(key, &n.name)
                })
            });
            if retyped_key {
                return None;
            }
        }
        for c in &old.columns {
            let replaced = new_cols
                .get(c.name.as_str())
                .is_some_and(|n| n.generated != c.generated);
            if !new_cols.contains_key(c.name.as_str()) || replaced || regenerate(c) {
                out.push(format!(
                    "ALTER TABLE {t} DROP COLUMN {}",
                    quote_ident(&c.name)
                ));
                if c.generated.is_none() {
                    dropped_columns.push(c.name.clone());
                }
            }
        }
        for n in &self.columns {
            let Some(o) = old_cols
                .get(n.name.as_str())
                .filter(|o| o.generated == n.generated && !regenerate(o))
            else {
                out.push(format!("ALTER TABLE {t} ADD COLUMN {}", n.definition()));
                out.extend(n.setting_changes(t, None));
                out.extend(comment_change(
                    &format!("COLUMN {t}.{}", quote_ident(&n.name)),
                    None,
                    n.comment.as_deref(),
                ));
                continue;
            };
            kept_column_changes(t, o, n, &mut out, &mut retyped_columns);
        }
        self.setting_changes_from(old, &mut out);
        out.extend(
            self.extras()
                .change_from(&old.extras(), &self.target(), &self.grant_target()),
        );
        let owner = quote_ident(self.owner.as_deref().unwrap_or(&old.acl.owner));
        for n in &self.columns {
            let before = old_cols
                .get(n.name.as_str())
                .filter(|o| o.generated == n.generated && !regenerate(o))
                .map(|o| o.acl.as_slice())
                .unwrap_or(&[]);
            out.extend(column_acl_change(
                &t.to_string(),
                &n.name,
                before,
                &n.acl,
                &owner,
            ));
        }
        Some(TableAlter {
            statements: out,
            dropped_columns,
            retyped_columns,
        })
    }
}

/// The statements that take kept column `o` of table `t` to `n`: type (in place, collation
/// only, or converted), default, NOT NULL, identity, storage and comment. A converted column is
/// added to `retyped`.
fn kept_column_changes(
    t: &QName,
    o: &Column,
    n: &Column,
    out: &mut Vec<String>,
    retyped: &mut Vec<String>,
) {
    let col = format!("ALTER TABLE {t} ALTER COLUMN {}", quote_ident(&n.name));
    let retype = o.data_type != n.data_type || o.collation != n.collation;
    if o.identity.is_some() && n.identity.is_none() {
        // IF EXISTS: the diff may already have dropped it, to free the sequence's name.
        out.push(format!("{col} DROP IDENTITY IF EXISTS"));
    }
    if o.default.is_some() && (n.default.is_none() || (retype && o.default != n.default)) {
        out.push(format!("{col} DROP DEFAULT"));
    }
    if retype
        && o.collation == n.collation
        && crate::typechange::rewrite_free(&o.data_type, &n.data_type)
    {
        // In place: no rewrite, indexes kept, no data at risk.
        out.push(format!("{col} TYPE {}", n.data_type));
    } else if retype && o.data_type == n.data_type {
        // Only the collation changes: the values stay as they are (PostgreSQL rebuilds
        // the column's indexes); nothing to convert, nothing lost.
        let collate = n.collation.as_deref().unwrap_or("pg_catalog.\"default\"");
        out.push(format!("{col} TYPE {} COLLATE {collate}", n.data_type));
    } else if retype {
        let collate = n
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        out.push(format!(
            "{col} TYPE {}{collate} USING {}",
            n.data_type,
            crate::typechange::conversion(&quote_ident(&n.name), &o.data_type, &n.data_type)
        ));
        retyped.push(n.name.clone());
    }
    if n.default.is_some() && n.default != o.default {
        out.push(format!(
            "{col} SET DEFAULT {}",
            n.default.as_deref().unwrap_or_default()
        ));
    }
    if o.not_null != n.not_null && !(n.identity.is_some() && o.identity.is_none()) {
        out.push(format!(
            "{col} {} NOT NULL",
            if n.not_null { "SET" } else { "DROP" }
        ));
    }
    match (o.identity, n.identity) {
        (None, Some(k)) => {
            if !o.not_null {
                out.push(format!("{col} SET NOT NULL"));
            }
            out.push(format!("{col} ADD {}", n.identity_clause(k)));
        }
        (Some(a), Some(b)) if a != b => out.push(format!(
            "{col} SET GENERATED {}",
            if b == 'a' { "ALWAYS" } else { "BY DEFAULT" }
        )),
        _ => {}
    }
    if let (Some(_), Some(_), Some(a), Some(b)) = (
        o.identity,
        n.identity,
        &o.identity_sequence,
        &n.identity_sequence,
    ) {
        if a != b {
            let new_name = b.rsplit('.').next().unwrap_or(b);
            out.push(format!("ALTER SEQUENCE {a} RENAME TO {new_name}"));
        }
    }
    if let (Some(_), Some(_), Some(a), Some(b)) = (
        o.identity,
        n.identity,
        &o.identity_params,
        &n.identity_params,
    ) {
        if a != b || retype {
            out.push(format!("{col} {}", b.set_all()));
        }
    }
    // A type change resets storage to the new type's default.
    let before = if retype {
        Column {
            storage: None,
            ..o.clone()
        }
    } else {
        o.clone()
    };
    out.extend(n.setting_changes(t, Some(&before)));
    out.extend(comment_change(
        &format!("COLUMN {t}.{}", quote_ident(&n.name)),
        o.comment.as_deref(),
        n.comment.as_deref(),
    ));
}

impl Table {
    /// The table's own settings after its columns: OF type, replica identity, CLUSTER, row
    /// security, storage options.
    fn setting_changes_from(&self, old: &Table, out: &mut Vec<String>) {
        let t = &self.name;
        if let Some(ty) = self
            .of_type
            .as_ref()
            .filter(|_| old.of_type != self.of_type)
        {
            // After the column changes: the columns must match the type's by then.
            out.push(format!("ALTER TABLE {t} OF {ty}"));
        }
        if old.replica_identity != self.replica_identity {
            out.extend(replica_identity_sql(t, self.replica_identity));
        }
        // Marking another index for CLUSTER is that index's statement; only "none" is the
        // table's.
        if old.clustered && !self.clustered {
            out.push(format!("ALTER TABLE {t} SET WITHOUT CLUSTER"));
        }
        if old.row_security != self.row_security {
            out.push(format!(
                "ALTER TABLE {t} {} ROW LEVEL SECURITY",
                if self.row_security {
                    "ENABLE"
                } else {
                    "DISABLE"
                }
            ));
        }
        if old.force_row_security != self.force_row_security {
            out.push(format!(
                "ALTER TABLE {t} {} ROW LEVEL SECURITY",
                if self.force_row_security {
                    "FORCE"
                } else {
                    "NO FORCE"
                }
            ));
        }
        if let (Some(o), Some(n)) = (&old.foreign, &self.foreign) {
            out.extend(
                crate::foreign::options_change(&o.options, &n.options)
                    .map(|c| format!("ALTER FOREIGN TABLE {t} {c}")),
            );
        }
        if old.options != self.options {
            let key = |o: &String| o.split('=').next().unwrap_or_default().to_owned();
            let removed: Vec<String> = old
                .options
                .iter()
                .map(key)
                .filter(|k| !self.options.iter().any(|o| &key(o) == k))
                .collect();
            if !removed.is_empty() {
                out.push(format!("ALTER TABLE {t} RESET ({})", removed.join(", ")));
            }
            if !self.options.is_empty() {
                out.push(format!("ALTER TABLE {t} SET ({})", self.options.join(", ")));
            }
        }
    }
}

/// Whether the SQL text `expr` names the identifier `name` (as a word or a quoted name).
fn mentions_identifier(expr: &str, name: &str) -> bool {
    if expr.contains(&format!("\"{}\"", name.replace('"', "\"\""))) {
        return true;
    }
    expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .any(|word| word == name)
}
