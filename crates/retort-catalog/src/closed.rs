//! The closed world: every user object's catalog rows, read generically and compared, so that
//! what the model does not hold is still seen.
//!
//! For each catalog that holds schema state ([`CATALOGS`]), every column of every row that
//! belongs to a user object (OID at or above 16384, not in an excluded schema, neither an
//! extension's member nor a part of one, two levels down) is read:
//!
//! - a column that references another catalog's row (PostgreSQL lists them in
//!   `pg_get_catalog_foreign_keys()`) is replaced by that row's identity
//!   (`pg_identify_object`), element by element for arrays, and a (relation, column number)
//!   pair by the column's identity; built-in objects (OIDs below 10,000, fixed for a major
//!   version) keep their number;
//! - an expression tree (`pg_node_tree`) is left to the model, which compares it through its
//!   own deparser ([`MODELLED_TREES`]);
//! - the columns that are state, not schema ([`Spec::state`]: statistics, storage, transaction
//!   ids, column positions, owners, which the model compares only when asked) are left out, and
//!   [`Spec::secret`] columns are compared without printing their values.
//!
//! Rows are keyed by (catalog, object identity). [`differences`] lists what differs; the CLI
//! reports those the model's diff has no statement for, instead of calling the databases equal.

use std::collections::BTreeMap;

use crate::error::{query, CatalogError};

/// How one catalog's rows are read.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The catalog.
    pub catalog: &'static str,
    /// The object a row belongs to, as `pg_identify_object`'s arguments over the row `r`:
    /// class (a regclass expression), object id, sub-id.
    pub address: (&'static str, &'static str, &'static str),
    /// Appended to the identity, for catalogs with several rows per object.
    pub suffix: Option<&'static str>,
    /// The identity itself, when `pg_identify_object`'s is not the one to compare by (or is
    /// written more cheaply).
    pub identity: Option<&'static str>,
    /// The object's schema, written cheaply; with it (and `identity`) `pg_identify_object` is
    /// not called for the rows at all.
    pub schema: Option<&'static str>,
    /// Further conditions on `r`.
    pub filter: &'static str,
    /// Columns read through an expression instead of their value (deparsed trees; an
    /// enum's position instead of its sort order).
    pub read_as: &'static [(&'static str, &'static str)],
    /// Columns that are state, not schema: left out.
    pub state: &'static [&'static str],
    /// Columns compared but never printed (connection strings, user mappings' options).
    pub secret: &'static [&'static str],
}

const OWNER: &str = "owners: compared by the model when asked";

/// The catalogs read, and how.
pub const CATALOGS: &[Spec] = &[
    Spec {
        catalog: "pg_namespace",
        address: ("'pg_namespace'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["nspowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_class",
        address: ("'pg_class'::regclass", "r.oid", "0"),
        suffix: None,
        identity: Some("r.oid::pg_catalog.regclass::text"),
        schema: Some("(SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE n.oid = r.relnamespace)"),
        filter: "",
        read_as: &[
            // The TOAST table's name holds an OID; its storage parameters are schema.
            (
                "reltoastrelid",
                "(SELECT t.reloptions::text FROM pg_catalog.pg_class t WHERE t.oid = r.reltoastrelid)",
            ),
        ],
        state: &[
            "relfilenode",
            "relpages",
            "reltuples",
            "relallvisible",
            "relfrozenxid",
            "relminmxid",
            "relhasindex",
            "relhasrules",
            "relhastriggers",
            "relhassubclass",
            "relnatts",
            "relchecks",
            "relrewrite",
            "relispopulated",
            "relowner",
        ],
        secret: &[],
    },
    Spec {
        catalog: "pg_attribute",
        address: ("'pg_class'::regclass", "r.attrelid", "r.attnum"),
        suffix: None,
        // An index's columns keep the names their table's columns had when it was built (a
        // later RENAME COLUMN does not reach them, and pg_dump does not show them): they are
        // compared by position, without their names.
        identity: Some(
            "r.attrelid::pg_catalog.regclass::text || CASE WHEN (SELECT c.relkind FROM pg_catalog.pg_class c \
             WHERE c.oid = r.attrelid) IN ('i', 'I') THEN ' column ' || r.attnum \
             ELSE '.' || pg_catalog.quote_ident(r.attname) END",
        ),
        schema: Some(
            "(SELECT n.nspname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON n.oid = c.relnamespace WHERE c.oid = r.attrelid)",
        ),
        filter: "r.attnum > 0 AND NOT r.attisdropped",
        read_as: &[(
            "attname",
            "CASE WHEN (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = r.attrelid) IN ('i', 'I') \
             THEN NULL ELSE r.attname END",
        )],
        state: &[
            "attnum",
            "attndims",
            "attcacheoff",
            "attmissingval",
            "atthasmissing",
            "attisdropped",
        ],
        secret: &[],
    },
    Spec {
        catalog: "pg_attrdef",
        address: ("'pg_attrdef'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_constraint",
        address: ("'pg_constraint'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        // Which of several equal unique indexes a foreign key uses, the server picks when the
        // key is made (pg_dump cannot keep it either); a key's own index is its name.
        read_as: &[("conindid", "CASE WHEN r.contype = 'f' THEN NULL ELSE (pg_catalog.pg_identify_object('pg_class'::regclass, r.conindid, 0)).identity END")],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_index",
        address: ("'pg_class'::regclass", "r.indexrelid", "0"),
        suffix: None,
        identity: Some("r.indexrelid::pg_catalog.regclass::text"),
        schema: Some(
            "(SELECT n.nspname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON n.oid = c.relnamespace WHERE c.oid = r.indexrelid)",
        ),
        filter: "",
        read_as: &[],
        state: &["indcheckxmin", "indisready", "indislive"],
        secret: &[],
    },
    Spec {
        catalog: "pg_trigger",
        address: ("'pg_trigger'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "NOT r.tgisinternal",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_rewrite",
        address: ("'pg_rewrite'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_proc",
        address: ("'pg_proc'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["proowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_type",
        address: ("'pg_type'::regclass", "r.oid", "0"),
        suffix: None,
        identity: Some("r.oid::pg_catalog.regtype::text"),
        schema: Some("(SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE n.oid = r.typnamespace)"),
        filter: "",
        read_as: &[],
        state: &["typowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_enum",
        address: ("'pg_type'::regclass", "r.enumtypid", "0"),
        identity: None,
        schema: None,
        suffix: Some("r.enumlabel"),
        filter: "",
        read_as: &[(
            "enumsortorder",
            "rank() OVER (PARTITION BY r.enumtypid ORDER BY r.enumsortorder)",
        )],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_range",
        address: ("'pg_type'::regclass", "r.rngtypid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_description",
        address: ("r.classoid", "r.objoid", "r.objsubid"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_policy",
        address: ("'pg_policy'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        // A set of roles: the order they were named in is not schema.
        read_as: &[(
            "polroles",
            "(SELECT string_agg(CASE WHEN x = 0 THEN 'public' ELSE x::regrole::text END, ',' ORDER BY x::regrole::text) FROM unnest(r.polroles) x)",
        )],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_statistic_ext",
        address: ("'pg_statistic_ext'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["stxowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_inherits",
        address: ("'pg_class'::regclass", "r.inhrelid", "0"),
        identity: None,
        schema: None,
        suffix: Some("r.inhseqno::text"),
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_partitioned_table",
        address: ("'pg_class'::regclass", "r.partrelid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_sequence",
        address: ("'pg_class'::regclass", "r.seqrelid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_publication",
        address: ("'pg_publication'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["pubowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_publication_rel",
        address: ("'pg_publication_rel'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_publication_namespace",
        address: ("'pg_publication_namespace'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_default_acl",
        address: ("'pg_default_acl'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_event_trigger",
        address: ("'pg_event_trigger'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["evtowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_ts_config",
        address: ("'pg_ts_config'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["cfgowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_ts_config_map",
        address: ("'pg_ts_config'::regclass", "r.mapcfg", "0"),
        identity: None,
        schema: None,
        suffix: Some("r.maptokentype || '/' || r.mapseqno"),
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_ts_dict",
        address: ("'pg_ts_dict'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["dictowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_ts_parser",
        address: ("'pg_ts_parser'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_ts_template",
        address: ("'pg_ts_template'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_collation",
        address: ("'pg_collation'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["collowner", "collversion"],
        secret: &[],
    },
    Spec {
        catalog: "pg_conversion",
        address: ("'pg_conversion'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["conowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_cast",
        address: ("'pg_cast'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_operator",
        address: ("'pg_operator'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["oprowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_opclass",
        address: ("'pg_opclass'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["opcowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_opfamily",
        address: ("'pg_opfamily'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["opfowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_amop",
        address: ("'pg_amop'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_amproc",
        address: ("'pg_amproc'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_aggregate",
        address: ("'pg_proc'::regclass", "r.aggfnoid::oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_language",
        address: ("'pg_language'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["lanowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_transform",
        address: ("'pg_transform'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_am",
        address: ("'pg_am'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_foreign_data_wrapper",
        address: ("'pg_foreign_data_wrapper'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["fdwowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_foreign_server",
        address: ("'pg_foreign_server'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["srvowner"],
        secret: &[],
    },
    Spec {
        catalog: "pg_foreign_table",
        address: ("'pg_class'::regclass", "r.ftrelid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &[],
        secret: &[],
    },
    Spec {
        catalog: "pg_user_mapping",
        address: ("'pg_user_mapping'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["umoptions"],
        secret: &[],
    },
    Spec {
        catalog: "pg_extension",
        address: ("'pg_extension'::regclass", "r.oid", "0"),
        suffix: None,
        identity: None,
        schema: None,
        filter: "",
        read_as: &[],
        state: &["extowner"],
        secret: &[],
    },
];

/// Expression trees the model compares through its own deparser, which treats a re-parsed
/// expression as the same (PostgreSQL stores `status IN ('a', 'b')` on a varchar column as a
/// different tree after a dump and restore); they are not read here.
pub const MODELLED_TREES: &[(&str, &str)] = &[
    ("pg_class", "relpartbound"),
    ("pg_attrdef", "adbin"),
    ("pg_constraint", "conbin"),
    ("pg_index", "indexprs"),
    ("pg_index", "indpred"),
    ("pg_trigger", "tgqual"),
    ("pg_rewrite", "ev_action"),
    ("pg_rewrite", "ev_qual"),
    ("pg_proc", "proargdefaults"),
    ("pg_proc", "prosqlbody"),
    ("pg_type", "typdefaultbin"),
    ("pg_policy", "polqual"),
    ("pg_policy", "polwithcheck"),
    ("pg_statistic_ext", "stxexprs"),
    ("pg_partitioned_table", "partexprs"),
    ("pg_publication_rel", "prqual"),
];

/// Why the columns in [`Spec::state`] are left out, for the documentation and the test that
/// every catalog column is accounted for.
pub const STATE_REASONS: &[(&str, &str)] = &[
    ("relfilenode relpages reltuples relallvisible relfrozenxid relminmxid", "storage and statistics"),
    ("relhasindex relhasrules relhastriggers relhassubclass relnatts relchecks", "derived from other rows, compared there"),
    ("relrewrite relispopulated attcacheoff attmissingval atthasmissing indcheckxmin indisready indislive", "state of the data or of a command in progress"),
    ("attndims", "declared array dimensions: PostgreSQL ignores them and pg_dump does not keep them"),
    ("umoptions", "user mappings' options hold passwords: the model compares them and says which passwords a script does not carry"),
    ("aclitem[] columns", "privileges: the model compares them, knowing each kind's default and the owner"),
    ("attnum attisdropped", "a column's position: retort compares columns by name (an index's columns by position, without the names they were built with)"),
    ("conindid of a foreign key", "which of several equal unique indexes the server picked when the key was made"),
    ("collversion", "the operating system's collation library version"),
    ("*owner", OWNER),
];

/// One object's row: the relation it belongs to (when its identity does not name it), and its
/// columns and values in one string (`column` 0x1F `value` 0x1E ..., NULL as 0x00): rows are
/// compared whole, and taken apart only when they differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// [`owner_relation`]'s identity.
    pub owner: Option<String>,
    /// The columns and values.
    pub values: String,
}

impl Row {
    /// The columns and their values.
    pub fn columns(&self) -> BTreeMap<&str, Option<&str>> {
        self.values
            .split('\u{1e}')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (k, v) = p.split_once('\u{1f}')?;
                Some((k, (v != "\u{0}").then_some(v)))
            })
            .collect()
    }
}

/// What one database's rows are: catalog -> identity -> row.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rows {
    /// The rows.
    pub objects: BTreeMap<String, BTreeMap<String, Row>>,
    /// (catalog, column) compared without printing values.
    pub secret: Vec<(String, String)>,
}

/// One difference between two databases' rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    /// The catalog.
    pub catalog: String,
    /// The object's identity (`pg_identify_object`).
    pub object: String,
    /// The column; None when the row is on one side only.
    pub column: Option<String>,
    /// The table (or other relation) the object belongs to, when it belongs to one.
    pub owner: Option<String>,
    /// The value on the first side (None: no row, or NULL).
    pub from: Option<String>,
    /// On the second side.
    pub to: Option<String>,
}

impl std::fmt::Display for Unseen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
        match &self.column {
            None => write!(
                f,
                "{} {}: {}",
                self.catalog,
                self.object,
                if self.from.is_some() {
                    "only in the first database"
                } else {
                    "only in the second database"
                }
            ),
            Some(c) => write!(
                f,
                "{} {}: {c} is {} in the first database, {} in the second",
                self.catalog,
                self.object,
                show(&self.from),
                show(&self.to)
            ),
        }
    }
}

/// A catalog's foreign keys: column(s) -> (referenced catalog, is array).
type Keys = Vec<(Vec<String>, String, bool)>;

/// The SELECT that reads `spec`'s rows: the identity, and the compared columns' names and
/// values alternating in one text array.
/// `columns` are the catalog's (name, type), `keys` its references. None when the catalog is
/// absent (an older server).
pub fn select_for(spec: &Spec, columns: &[(String, String)], keys: &Keys) -> Option<String> {
    if columns.is_empty() {
        return None;
    }
    // The reg* types print the same qualified names as pg_identify_object, far cheaper (the
    // rows are read with search_path = pg_catalog, so every user object's name is qualified).
    let builtin = |x: &str, pk: &str| {
        let named = match pk {
            "pg_class" => format!("{x}::pg_catalog.regclass::text"),
            "pg_type" => format!("{x}::pg_catalog.regtype::text"),
            "pg_proc" => format!("{x}::pg_catalog.regprocedure::text"),
            "pg_operator" => format!("{x}::pg_catalog.regoperator::text"),
            "pg_namespace" => format!("{x}::pg_catalog.regnamespace::text"),
            "pg_authid" => format!("{x}::pg_catalog.regrole::text"),
            "pg_collation" => format!("{x}::pg_catalog.regcollation::text"),
            _ => format!("(pg_catalog.pg_identify_object('{pk}'::regclass, {x}, 0)).identity"),
        };
        format!("CASE WHEN {x} < 10000 THEN {x}::text ELSE {named} END")
    };
    let mut pairs = Vec::new();
    for (name, typ) in columns {
        // The row's own OID, state, and the columns that address the object (they are its
        // identity, already the key).
        let (class, objid, subid) = spec.address;
        let addresses = [class, objid, subid]
            .iter()
            .any(|a| a.strip_prefix("r.").map(|a| a.trim_end_matches("::oid")) == Some(name));
        let modelled = MODELLED_TREES
            .iter()
            .any(|(c, n)| *c == spec.catalog && n == name);
        if name == "oid" || spec.state.contains(&name.as_str()) || addresses || modelled {
            continue;
        }
        let c = format!("r.{name}");
        let expr = if let Some((_, e)) = spec.read_as.iter().find(|(n, _)| n == name) {
            format!("({e})::text")
        } else if let Some((cols, pk, array)) = keys
            .iter()
            .find(|(cols, _, _)| cols.len() == 2 && cols[1] == *name)
        {
            // (relation, column number): the column's identity.
            let rel = format!("r.{}", cols[0]);
            let _ = pk;
            if *array {
                format!(
                    "(SELECT string_agg(coalesce((pg_catalog.pg_identify_object('pg_class'::regclass, {rel}, x)).identity, x::text), ', ' ORDER BY n) \
                     FROM unnest({c}::int2[]) WITH ORDINALITY u(x, n))"
                )
            } else {
                format!(
                    "(pg_catalog.pg_identify_object('pg_class'::regclass, {rel}, {c})).identity"
                )
            }
        } else if let Some((_, pk, array)) = keys
            .iter()
            .find(|(cols, _, _)| cols.len() == 1 && cols[0] == *name)
        {
            if *array {
                format!(
                    "(SELECT string_agg({}, ', ' ORDER BY n) FROM unnest({c}::oid[]) WITH ORDINALITY u(x, n))",
                    builtin("x", pk)
                )
            } else {
                builtin(&format!("{c}::oid"), pk)
            }
        } else if typ == "aclitem[]" {
            // Privileges: the model compares them, knowing each kind's default and the owner
            // (a NULL ACL and the owner's full privileges written out are the same).
            continue;
        } else if typ == "text[]" && (name.ends_with("options") || name.ends_with("config")) {
            // Sets: the order grants or options were given in is not schema.
            format!("(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest({c}) x)")
        } else if typ == "pg_node_tree" {
            // Not read: an expression tree holds OIDs and positions; [`unread_trees`] lists it.
            continue;
        } else {
            format!("{c}::text")
        };
        pairs.push(format!("'{name}', {expr}"));
    }
    if let Some(owner) = owner_relation(spec.catalog) {
        pairs.push(format!(
            "'{OWNER_COLUMN}', (pg_catalog.pg_identify_object('pg_class'::regclass, {owner}, 0)).identity"
        ));
    }
    // Names and values alternate in one text array.
    let objects = format!("ARRAY[{}]::text[]", pairs.join(", "));
    let (class, objid, subid) = spec.address;
    let base = spec.identity.unwrap_or("i.identity");
    let identity = match spec.suffix {
        Some(s) => format!("({base}) || ' ' || ({s})"),
        None => format!("({base})"),
    };
    let extra = if spec.filter.is_empty() {
        String::new()
    } else {
        format!(" AND {}", spec.filter)
    };
    // The schema the object is in: pg_identify_object's, or a schema's own name.
    let schema = match spec.catalog {
        "pg_namespace" => "r.nspname".to_owned(),
        _ if spec.schema.is_some() => spec.schema.unwrap_or_default().to_owned(),
        // A column default belongs to no schema: its table's.
        "pg_attrdef" => {
            "(SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON n.oid = c.relnamespace WHERE c.oid = r.adrelid)"
                .to_owned()
        }
        _ => "i.schema".to_owned(),
    };
    Some(format!(
        "SELECT {identity}, {} \
         FROM pg_catalog.{catalog} r{lateral} \
         WHERE {objid} >= 16384{extra} \
           AND ({schema} IS NULL OR ({schema} NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
                AND {schema} NOT LIKE 'pg\\_temp\\_%' AND {schema} NOT LIKE 'pg\\_toast\\_temp\\_%' \
                AND NOT ({schema} = ANY($1::text[])) AND ($2::text[] IS NULL OR {schema} = ANY($2::text[])))) \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = {class} \
                AND d.objid = {objid} AND (d.deptype = 'e' OR (d.deptype IN ('a', 'i') AND EXISTS ( \
                  SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = d.refclassid \
                    AND e.objid = d.refobjid AND (e.deptype = 'e' OR (e.deptype IN ('a', 'i') AND EXISTS ( \
                      SELECT 1 FROM pg_catalog.pg_depend f WHERE f.classid = e.refclassid \
                        AND f.objid = e.refobjid AND f.deptype = 'e')))))))",
        objects,
        catalog = spec.catalog,
        lateral = if spec.schema.is_some() {
            String::new()
        } else {
            format!(", LATERAL pg_catalog.pg_identify_object({class}, {objid}, {subid}) i")
        },
    ))
}

/// The relation (an OID expression over `r`) a row's object belongs to, for the coverage of a
/// difference by the diff's changes: an index's or an owned sequence's table, a column's, a
/// constraint's, a trigger's.
fn owner_relation(catalog: &str) -> Option<String> {
    let of = |x: &str| {
        format!(
            "coalesce((SELECT x.indrelid FROM pg_catalog.pg_index x WHERE x.indexrelid = {x}), \
             (SELECT d.refobjid FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass \
               AND d.objid = {x} AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
               AND d.refobjsubid > 0 LIMIT 1), {x})"
        )
    };
    // Only where the identity does not already name the relation (an index, a sequence, and
    // what belongs to them): a column's identity starts with its table's.
    let kind = |x: &str| format!("(SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = {x})");
    let when_part = |x: &str| {
        format!(
            "CASE WHEN {} IN ('i', 'I', 'S') THEN {} END",
            kind(x),
            of(x)
        )
    };
    Some(match catalog {
        "pg_class" => format!(
            "CASE WHEN r.relkind IN ('i', 'I', 'S') THEN {} END",
            of("r.oid")
        ),
        "pg_attribute" => when_part("r.attrelid"),
        "pg_sequence" => of("r.seqrelid"),
        "pg_index" => "r.indrelid".into(),
        "pg_statistic_ext" => "r.stxrelid".into(),
        "pg_inherits" => when_part("r.inhrelid"),
        "pg_description" => format!(
            "CASE WHEN r.classoid = 'pg_class'::regclass AND r.objsubid = 0 THEN {} END",
            when_part("r.objoid")
        ),
        _ => return None,
    })
}

/// The pseudo-column that carries [`owner_relation`]'s identity (not compared).
const OWNER_COLUMN: &str = "retort:owner";

/// The `pg_node_tree` columns of the catalogs that are neither read through a deparser nor
/// listed as state: a new PostgreSQL version's tree would be passed over, so a test requires
/// this to be empty.
pub fn unread_trees(columns: &BTreeMap<String, Vec<(String, String)>>) -> Vec<String> {
    let mut out = Vec::new();
    for spec in CATALOGS {
        for (name, typ) in columns
            .get(spec.catalog)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if typ == "pg_node_tree"
                && !spec.read_as.iter().any(|(n, _)| n == name)
                && !spec.state.contains(&name.as_str())
                && !MODELLED_TREES
                    .iter()
                    .any(|(c, n)| *c == spec.catalog && n == name)
            {
                out.push(format!("{}.{name}", spec.catalog));
            }
        }
    }
    out
}

/// The catalogs' columns (name, type), by catalog.
pub fn catalog_columns(
    client: &mut impl postgres::GenericClient,
) -> Result<BTreeMap<String, Vec<(String, String)>>, CatalogError> {
    let names: Vec<String> = CATALOGS.iter().map(|s| s.catalog.to_owned()).collect();
    let rows = client
        .query(
            "SELECT c.relname::text, a.attname::text, a.atttypid::regtype::text \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relname = ANY($1) \
               AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
            &[&names],
        )
        .map_err(query("catalog columns"))?;
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in rows {
        out.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
    }
    Ok(out)
}

/// Reads the rows of every catalog in [`CATALOGS`] (PostgreSQL 14+, which lists the catalogs'
/// references; None on an older server).
pub fn read(
    client: &mut impl postgres::GenericClient,
    filter: &crate::Filter,
) -> Result<Option<Rows>, CatalogError> {
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .map_err(query("server version"))?
        .get(0);
    if version < 140000 {
        return Ok(None);
    }
    let columns = catalog_columns(client)?;
    let mut keys: BTreeMap<String, Keys> = BTreeMap::new();
    for r in client
        .query(
            "SELECT fktable::text, fkcols::text[], pktable::text, is_array \
             FROM pg_catalog.pg_get_catalog_foreign_keys()",
            &[],
        )
        .map_err(query("catalog references"))?
    {
        keys.entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2), r.get(3)));
    }
    let exclude = filter.exclude_schemas.clone();
    let include = filter.include_schemas.clone();
    let mut rows = Rows::default();
    // Every user object's name qualified in the reg* types' output (a savepoint inside the
    // caller's snapshot transaction, or a transaction of its own).
    let mut client = client.transaction().map_err(query("catalog rows"))?;
    client
        .batch_execute("SET LOCAL search_path = pg_catalog")
        .map_err(query("catalog rows"))?;
    for spec in CATALOGS {
        let Some(sql) = select_for(
            spec,
            columns
                .get(spec.catalog)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            keys.get(spec.catalog).unwrap_or(&Vec::new()),
        ) else {
            continue;
        };
        for r in client
            .query(&sql, &[&exclude, &include])
            .map_err(query("catalog rows"))?
        {
            let identity: Option<String> = r.get(0);
            let Some(identity) = identity else { continue };
            let flat: Vec<Option<String>> = r.get(1);
            let mut values = Row::default();
            for kv in flat.chunks(2) {
                let (Some(Some(k)), Some(v)) = (kv.first(), kv.get(1)) else {
                    continue;
                };
                if k == OWNER_COLUMN {
                    values.owner = v.clone();
                    continue;
                }
                values.values.push_str(k);
                values.values.push('\u{1f}');
                values.values.push_str(v.as_deref().unwrap_or("\u{0}"));
                values.values.push('\u{1e}');
            }
            rows.objects
                .entry(spec.catalog.to_owned())
                .or_default()
                .insert(identity, values);
        }
        for s in spec.secret {
            rows.secret.push((spec.catalog.to_owned(), (*s).to_owned()));
        }
    }
    client.commit().map_err(query("catalog rows"))?;
    Ok(Some(rows))
}

/// What differs between `a` and `b`, in catalog and identity order.
pub fn differences(a: &Rows, b: &Rows) -> Vec<Unseen> {
    let mut out = Vec::new();
    let secret = |cat: &str, col: &str| {
        a.secret
            .iter()
            .chain(&b.secret)
            .any(|(c, n)| c == cat && n == col)
    };
    fn get<'r>(r: &'r Rows, c: &str, o: &str) -> Option<&'r Row> {
        r.objects.get(c)?.get(o)
    }
    let keys: std::collections::BTreeSet<(&String, &String)> = a
        .objects
        .iter()
        .chain(&b.objects)
        .flat_map(|(c, objects)| objects.keys().map(move |o| (c, o)))
        .collect();
    for (catalog, object) in keys {
        let (ra, rb) = (get(a, catalog, object), get(b, catalog, object));
        let owner = ra.iter().chain(rb.iter()).find_map(|r| r.owner.clone());
        match (ra, rb) {
            (Some(x), Some(y)) if x.values == y.values => {}
            (Some(x), Some(y)) => {
                let (cx, cy) = (x.columns(), y.columns());
                let columns: std::collections::BTreeSet<&&str> =
                    cx.keys().chain(cy.keys()).collect();
                for c in columns {
                    let (vx, vy) = (
                        cx.get(*c).copied().flatten().map(str::to_owned),
                        cy.get(*c).copied().flatten().map(str::to_owned),
                    );
                    if vx != vy {
                        let hide = |v: Option<String>| {
                            if secret(catalog, c) {
                                v.map(|_| "(not shown)".to_owned())
                            } else {
                                v
                            }
                        };
                        out.push(Unseen {
                            catalog: catalog.clone(),
                            object: object.clone(),
                            owner: owner.clone(),
                            column: Some((*c).to_owned()),
                            from: hide(vx),
                            to: hide(vy),
                        });
                    }
                }
            }
            (x, y) => out.push(Unseen {
                catalog: catalog.clone(),
                object: object.clone(),
                owner,
                column: None,
                from: x.map(|_| String::new()),
                to: y.map(|_| String::new()),
            }),
        }
    }
    out
}

/// The names the changes of a diff are about, as `pg_identify_object` writes them: each
/// change's object, and what depends on it on either side (a dropped table's indexes, owned
/// sequences and row type go with it).
pub fn changed_names(
    changes: &[crate::Change],
    deps: &[&crate::Dependencies],
    catalogs: &[&crate::Catalog],
) -> std::collections::HashSet<String> {
    let mut keys: Vec<&crate::ObjKey> = changes.iter().map(|c| &c.key).collect();
    let mut seen: std::collections::HashSet<&crate::ObjKey> = keys.iter().copied().collect();
    // A table's columns are not in pg_depend as dependents of the table; what depends on a
    // column of a changed table (an index, a sequence it owns) goes with the table.
    let tables: std::collections::HashSet<&crate::QName> = keys
        .iter()
        .filter_map(|k| match k {
            crate::ObjKey::Table(q) => Some(q),
            _ => None,
        })
        .collect();
    for d in deps {
        for (dependent, referenced) in d.iter() {
            if let crate::ObjKey::Column(q, _) = referenced {
                if tables.contains(q) && seen.insert(dependent) {
                    keys.push(dependent);
                }
            }
        }
    }
    let mut at = 0;
    while at < keys.len() {
        let k = keys[at];
        at += 1;
        for d in deps {
            for dep in d.dependents_of(k) {
                if seen.insert(dep) {
                    keys.push(dep);
                }
            }
        }
    }
    let mut names: std::collections::HashSet<String> =
        keys.iter().flat_map(|k| names_of(k)).collect();
    // A changed index's table: a partitioned table's index brings one to each partition.
    for k in &keys {
        if let crate::ObjKey::Index(q) = k {
            for c in catalogs {
                if let Some(i) = c.indexes.get(q) {
                    names.insert(i.table.to_string());
                }
            }
        }
    }
    // A changed table's partitions get what it gets (its indexes, its triggers).
    loop {
        let more: Vec<String> = catalogs
            .iter()
            .flat_map(|c| c.tables.iter())
            .filter(|(q, t)| {
                t.partition_of
                    .as_ref()
                    .is_some_and(|(parent, _)| names.contains(parent))
                    && !names.contains(&q.to_string())
            })
            .map(|(q, _)| q.to_string())
            .collect();
        if more.is_empty() {
            break;
        }
        names.extend(more);
    }
    names
}

/// Whether `u` is about an object in `names` ([`changed_names`]): its identity, or the
/// relation it belongs to, names one (a column or index of a changed table, a constraint on
/// it, its array type).
pub fn covered(u: &Unseen, names: &std::collections::HashSet<String>) -> bool {
    let hit = |t: &str| {
        let t = t.trim_end_matches("[]");
        let bare = t.strip_prefix("pg_catalog.").unwrap_or(t);
        names.contains(t)
            || names.contains(bare)
            || t.char_indices()
                .filter(|(_, c)| *c == '.')
                .any(|(i, _)| names.contains(&t[..i]))
    };
    // A name with a space is written unquoted in some identities ("s in publication p q").
    let spaced = names
        .iter()
        .any(|n| n.contains(' ') && u.object.contains(n.trim_matches('"')));
    spaced
        || tokens(&u.object).iter().any(|t| hit(t))
        || u.owner
            .as_deref()
            .is_some_and(|o| tokens(o).iter().any(|t| hit(t)))
}

/// The words of an identity: split at spaces, parentheses and commas outside double quotes.
fn tokens(text: &str) -> Vec<String> {
    let (mut out, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            ' ' | '(' | ')' | ',' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The qualified names a change's key is about, as `pg_identify_object` writes them.
fn names_of(key: &crate::ObjKey) -> Vec<String> {
    use crate::ObjKey as K;
    match key {
        K::Schema(s)
        | K::Extension(s)
        | K::Publication(s)
        | K::EventTrigger(s)
        | K::Language(s)
        | K::ForeignDataWrapper(s)
        | K::ForeignServer(s) => vec![retort_pg::quote_ident(s)],
        K::Type(q)
        | K::Collation(q)
        | K::Conversion(q)
        | K::Operator(q, _)
        | K::OpFamily(q, _)
        | K::OpClass(q, _)
        | K::TsDictionary(q)
        | K::TsConfiguration(q)
        | K::InheritedColumn(q, _)
        | K::Sequence(q)
        | K::Table(q)
        | K::Column(q, _)
        | K::Index(q)
        | K::View(q)
        | K::Function(q, _)
        | K::Trigger(q, _)
        | K::Policy(q, _)
        | K::Rule(q, _)
        | K::Statistics(q) => vec![q.to_string()],
        // A key's index has the constraint's name.
        K::Constraint(q, c) => vec![
            q.to_string(),
            format!(
                "{}.{}",
                retort_pg::quote_ident(&q.schema),
                retort_pg::quote_ident(c)
            ),
        ],
        K::AttachedIndex(a, b) => vec![a.to_string(), b.to_string()],
        K::DefaultPrivileges(r, s, _) => vec![retort_pg::quote_ident(r), retort_pg::quote_ident(s)],
        K::Cast(a, b) | K::Transform(a, b) | K::UserMapping(a, b) => vec![a.clone(), b.clone()],
    }
}
