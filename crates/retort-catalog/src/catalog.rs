//! The whole model of one database's schema, and reading it in a fixed number of queries.

use std::collections::BTreeMap;

use retort_pg::Client;

use crate::collations::Collation;
use crate::common::Filter;
use crate::constraints::Constraint;
use crate::defaults::DefaultPrivileges;
use crate::depends::Dependencies;
use crate::error::{query, CatalogError};
use crate::eventtriggers::EventTrigger;
use crate::extensions::Extension;
use crate::functions::Function;
use crate::indexes::Index;
use crate::inherited::InheritedColumn;
use crate::name::QName;
use crate::partindexes::AttachedIndex;
use crate::policies::Policy;
use crate::publications::Publication;
use crate::rules::Rule;
use crate::schemas::Schema;
use crate::sequences::Sequence;
use crate::statistics::Statistics;
use crate::tables::Table;
use crate::textsearch::{TsConfiguration, TsDictionary};
use crate::triggers::Trigger;
use crate::types::TypeDef;
use crate::views::View;

/// Every object retort models, keyed and sorted so two catalogs compare with `==`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Catalog {
    /// Schemas.
    pub schemas: BTreeMap<String, Schema>,
    /// Extensions.
    pub extensions: BTreeMap<String, Extension>,
    /// User-defined collations.
    #[serde(with = "crate::common::pairs", default)]
    pub collations: BTreeMap<QName, Collation>,
    /// Enum, domain, composite and range types.
    #[serde(with = "crate::common::pairs")]
    pub types: BTreeMap<QName, TypeDef>,
    /// Sequences (not identity sequences).
    #[serde(with = "crate::common::pairs")]
    pub sequences: BTreeMap<QName, Sequence>,
    /// Tables.
    #[serde(with = "crate::common::pairs")]
    pub tables: BTreeMap<QName, Table>,
    /// Table constraints by (table, name).
    #[serde(with = "crate::common::pairs")]
    pub constraints: BTreeMap<(QName, String), Constraint>,
    /// Indexes not backing constraints.
    #[serde(with = "crate::common::pairs")]
    pub indexes: BTreeMap<QName, Index>,
    /// Views and materialized views.
    #[serde(with = "crate::common::pairs")]
    pub views: BTreeMap<QName, View>,
    /// Functions and procedures by (name, identity arguments).
    #[serde(with = "crate::common::pairs")]
    pub functions: BTreeMap<(QName, String), Function>,
    /// Triggers by (table, name).
    #[serde(with = "crate::common::pairs")]
    pub triggers: BTreeMap<(QName, String), Trigger>,
    /// Policies by (table, name).
    #[serde(with = "crate::common::pairs")]
    pub policies: BTreeMap<(QName, String), Policy>,
    /// Rules on tables by (table, name).
    #[serde(with = "crate::common::pairs")]
    pub rules: BTreeMap<(QName, String), Rule>,
    /// Extended statistics objects.
    #[serde(with = "crate::common::pairs")]
    pub statistics: BTreeMap<QName, Statistics>,
    /// Publications.
    #[serde(default)]
    pub publications: BTreeMap<String, Publication>,
    /// Settings of inherited columns that differ from the parent's, by (table, column).
    #[serde(with = "crate::common::pairs", default)]
    pub inherited_columns: BTreeMap<(QName, String), InheritedColumn>,
    /// Partitions' indexes attached to their parent's, by (partition, parent index).
    #[serde(with = "crate::common::pairs", default)]
    pub attached_indexes: BTreeMap<(QName, QName), AttachedIndex>,
    /// Text search dictionaries.
    #[serde(with = "crate::common::pairs", default)]
    pub ts_dictionaries: BTreeMap<QName, TsDictionary>,
    /// Text search configurations.
    #[serde(with = "crate::common::pairs", default)]
    pub ts_configurations: BTreeMap<QName, TsConfiguration>,
    /// Event triggers.
    #[serde(default)]
    pub event_triggers: BTreeMap<String, EventTrigger>,
    /// Procedural languages no extension owns.
    #[serde(default)]
    pub languages: BTreeMap<String, crate::languages::Language>,
    /// Operators, by (schema and symbol, operand types).
    #[serde(with = "crate::common::pairs", default)]
    pub operators: BTreeMap<(QName, String), crate::operators::Operator>,
    /// Operator families, by (schema and name, access method).
    #[serde(with = "crate::common::pairs", default)]
    pub op_families: BTreeMap<(QName, String), crate::opclasses::OpFamily>,
    /// Operator classes, by (schema and name, access method).
    #[serde(with = "crate::common::pairs", default)]
    pub op_classes: BTreeMap<(QName, String), crate::opclasses::OpClass>,
    /// Foreign-data wrappers no extension owns.
    #[serde(default)]
    pub foreign_data_wrappers: BTreeMap<String, crate::foreign::ForeignDataWrapper>,
    /// Foreign servers.
    #[serde(default)]
    pub foreign_servers: BTreeMap<String, crate::foreign::ForeignServer>,
    /// User mappings, by (role or PUBLIC, server).
    #[serde(with = "crate::common::pairs", default)]
    pub user_mappings: BTreeMap<(String, String), crate::foreign::UserMapping>,
    /// Transforms no extension owns, by (type, language).
    #[serde(with = "crate::common::pairs", default)]
    pub transforms: BTreeMap<(String, String), crate::transforms::Transform>,
    /// Encoding conversions.
    #[serde(with = "crate::common::pairs", default)]
    pub conversions: BTreeMap<QName, crate::conversions::Conversion>,
    /// Casts, by (source type, target type).
    #[serde(with = "crate::common::pairs", default)]
    pub casts: BTreeMap<(String, String), crate::casts::Cast>,
    /// Default privileges by (role, schema or "", object type).
    #[serde(with = "crate::common::pairs")]
    pub default_privileges: BTreeMap<(String, String, char), DefaultPrivileges>,
}

impl Catalog {
    /// Every expression the server wrote, in the form it keeps after one more round trip
    /// ([`crate::settle::settle`]), so that hand-written and generated schemas compare equal.
    fn settle_definitions(&mut self) {
        use crate::settle::settle_in_place as s;
        fn column(c: &mut crate::tables::Column) {
            c.default.iter_mut().for_each(s);
            c.generated.iter_mut().for_each(s);
        }
        for t in self.tables.values_mut() {
            t.partition_by.iter_mut().for_each(s);
            t.columns.iter_mut().for_each(column);
        }
        for c in self.inherited_columns.values_mut() {
            column(&mut c.settings);
            column(&mut c.parent);
        }
        for t in self.types.values_mut() {
            if let crate::types::TypeKind::Domain {
                default, checks, ..
            } = &mut t.kind
            {
                default.iter_mut().for_each(s);
                checks.iter_mut().for_each(|(_, def)| s(def));
            }
        }
        self.constraints
            .values_mut()
            .for_each(|c| s(&mut c.definition));
        self.indexes.values_mut().for_each(|i| s(&mut i.definition));
        self.views.values_mut().for_each(|v| s(&mut v.definition));
        for f in self.functions.values_mut() {
            // Argument defaults and SQL-standard bodies are deparsed; other bodies are
            // dollar-quoted source, which settle never touches.
            s(&mut f.arguments);
            s(&mut f.definition);
        }
        self.triggers
            .values_mut()
            .for_each(|t| s(&mut t.definition));
        for p in self.policies.values_mut() {
            p.using.iter_mut().for_each(s);
            p.check.iter_mut().for_each(s);
        }
        self.rules.values_mut().for_each(|r| s(&mut r.definition));
        self.statistics
            .values_mut()
            .for_each(|x| s(&mut x.definition));
        for p in self.publications.values_mut() {
            p.tables
                .iter_mut()
                .for_each(|t| t.filter.iter_mut().for_each(s));
        }
    }

    /// Column `column` of table `table`, when both exist.
    pub(crate) fn column(&self, table: &QName, column: &str) -> Option<&crate::tables::Column> {
        self.tables
            .get(table)
            .and_then(|t| t.columns.iter().find(|c| c.name == column))
    }
}

/// A catalog plus what the diff needs besides the model: the dependency graph.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The model.
    pub catalog: Catalog,
    /// pg_depend, as keys.
    pub deps: Dependencies,
    /// server_version_num.
    pub server_version_num: i32,
    /// Objects present that retort does not model (and so does not compare), e.g.
    /// "2 foreign tables".
    pub not_compared: Vec<String>,
    /// Every user object's catalog rows, read generically ([`crate::closed`]); None on a
    /// server older than PostgreSQL 14.
    #[serde(default)]
    pub closed: Option<crate::closed::Rows>,
    /// How many connections read it: 2 when a helper joined the snapshot, else 1 (0 for a
    /// snapshot read back from the catalog cache).
    #[serde(skip)]
    pub readers: u8,
}

/// Query parameters shared by every catalog query: $1 excluded schemas, $2 included or NULL.
pub(crate) struct Params {
    exclude: Vec<String>,
    include: Option<Vec<String>>,
    /// Whether owners are part of the model.
    pub(crate) owners: bool,
    /// server_version_num, for catalog columns that newer servers have.
    pub(crate) version: i32,
    /// Each object kind's default ACL, for [`crate::common::Acl::from_row`].
    pub(crate) acl_defaults: crate::common::AclDefaults,
    /// Objects that belong to extensions (and so are left out), read in the snapshot.
    pub(crate) extensions: crate::common::ExtensionMembers,
    /// Every comment, read in the snapshot.
    pub(crate) comments: crate::common::AllComments,
}

impl Params {
    pub(crate) fn as_refs(&self) -> [&(dyn postgres::types::ToSql + Sync); 2] {
        [&self.exclude, &self.include]
    }
}

/// Reads the schema of `client`'s database: a fixed number of bulk queries in one REPEATABLE
/// READ snapshot, whatever the number of objects.
///
/// Errors: a server older than PostgreSQL 13, a failing query (named by object kind).
pub fn introspect(client: &mut Client, filter: &Filter) -> Result<Snapshot, CatalogError> {
    introspect_parallel(client, None, filter)
}

/// Like [`introspect`], with the queries shared between `client` and, when given, `helper`
/// (a second connection to the same database), which reads in the same snapshot
/// (`pg_export_snapshot()` and `SET TRANSACTION SNAPSHOT`, as `pg_dump -j` does). The result is
/// the same. It comes sooner when the server has cores to spare: the server works on two
/// queries at once, and each connection's rows are decoded while the other's are computed.
/// (Reading two 5,000-table databases at once on 2 cores gained nothing: that is CPU-bound.)
/// When the helper cannot join the snapshot (a pooler, a refusing server), `client` reads all.
pub fn introspect_parallel(
    client: &mut Client,
    helper: Option<&mut Client>,
    filter: &Filter,
) -> Result<Snapshot, CatalogError> {
    let version: String = client
        .query_one("SHOW server_version_num", &[])
        .map_err(query("the server version"))?
        .get(0);
    let server_version_num: i32 = version.trim().parse().unwrap_or(0);
    if server_version_num < 130000 {
        return Err(CatalogError::UnsupportedVersion { version });
    }
    let mut params = Params {
        exclude: filter.exclude_schemas.clone(),
        include: filter.include_schemas.clone(),
        owners: filter.owners,
        version: server_version_num,
        acl_defaults: crate::common::AclDefaults::load(client)?,
        extensions: Default::default(),
        comments: Default::default(),
    };
    // The snapshot is exported before anything else runs in the transaction (PostgreSQL refuses
    // to export one from a subtransaction). When the export is refused, the aborted transaction
    // is replaced by a fresh one and this connection reads alone.
    let mut tx = snapshot_transaction(client)?;
    let exported = match helper {
        None => None,
        Some(_) => match tx.query_one("SELECT pg_catalog.pg_export_snapshot()", &[]) {
            Ok(row) => Some(row.get::<_, String>(0)),
            Err(e) => {
                tracing::debug!("no shared snapshot, reading on one connection: {e}");
                None
            }
        },
    };
    if helper.is_some() && exported.is_none() {
        drop(tx);
        tx = snapshot_transaction(client)?;
    }
    params.extensions = crate::common::ExtensionMembers::load(&mut tx)?;
    params.comments = crate::common::AllComments::load(&mut tx)?;
    let mut cat = Catalog::default();
    // The helper joins this snapshot, or (a pooler, a server that refuses) is not used.
    let other = match (helper, exported) {
        (Some(helper), Some(id)) => join_snapshot(helper, &id),
        _ => None,
    };
    let readers = if other.is_some() { 2 } else { 1 };
    let ((deps, attributes), (not_compared, pending)) = match other {
        None => {
            let first = read_first(&mut tx, &params, &mut cat)?;
            let second = read_second(&mut tx, &params, &mut cat)?;
            (first, second)
        }
        Some(mut other) => {
            let mut second = Catalog::default();
            let (first, rest) = std::thread::scope(|s| {
                let handle = s.spawn(|| {
                    let r = read_second(&mut other, &params, &mut second);
                    (r, other)
                });
                let first = read_first(&mut tx, &params, &mut cat);
                let rest = handle.join().expect("catalog reader panicked");
                (first, rest)
            });
            let (not_compared, other) = rest;
            let deps = first?;
            let not_compared = not_compared?;
            other.commit().map_err(query("a snapshot"))?;
            cat.types = second.types;
            cat.sequences = second.sequences;
            cat.constraints = second.constraints;
            cat.indexes = second.indexes;
            cat.views = second.views;
            cat.functions = second.functions;
            cat.triggers = second.triggers;
            cat.policies = second.policies;
            cat.rules = second.rules;
            cat.statistics = second.statistics;
            cat.collations = second.collations;
            cat.publications = second.publications;
            cat.event_triggers = second.event_triggers;
            cat.casts = second.casts;
            cat.conversions = second.conversions;
            cat.operators = second.operators;
            cat.op_families = second.op_families;
            cat.op_classes = second.op_classes;
            cat.foreign_data_wrappers = second.foreign_data_wrappers;
            cat.foreign_servers = second.foreign_servers;
            cat.user_mappings = second.user_mappings;
            cat.transforms = second.transforms;
            cat.languages = second.languages;
            cat.ts_dictionaries = second.ts_dictionaries;
            cat.attached_indexes = second.attached_indexes;
            cat.inherited_columns = second.inherited_columns;
            cat.ts_configurations = second.ts_configurations;
            cat.default_privileges = second.default_privileges;
            (deps, not_compared)
        }
    };
    // Constraint and index definitions need both halves (the columns come with the tables).
    let mut lap = Lap::new();
    crate::deparse::resolve(&mut tx, &mut cat, pending, &attributes)?;
    lap.done("definitions");
    cat.settle_definitions();
    let closed = crate::closed::read(&mut tx, filter)?;
    lap.done("closed-world rows");
    tx.commit().map_err(query("a snapshot"))?;
    Ok(Snapshot {
        catalog: cat,
        deps,
        server_version_num,
        not_compared,
        closed,
        readers,
    })
}

/// A transaction on `helper` that reads the exported snapshot `id`; None when refused.
fn join_snapshot<'h>(helper: &'h mut Client, id: &str) -> Option<postgres::Transaction<'h>> {
    let mut other = snapshot_transaction(helper).ok()?;
    match other.batch_execute(&format!(
        "SET TRANSACTION SNAPSHOT {}",
        retort_pg::quote_literal(id)
    )) {
        Ok(()) => Some(other),
        Err(e) => {
            tracing::debug!("no shared snapshot, reading on one connection: {e}");
            None
        }
    }
}

/// A read-only REPEATABLE READ transaction with the session settings catalog queries want.
fn snapshot_transaction(client: &mut Client) -> Result<postgres::Transaction<'_>, CatalogError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(query("a snapshot"))?;
    // JIT compiling these one-off catalog queries costs more than running them, and so does
    // starting parallel workers for them: at 5,000 tables a diff (two sides read at once on
    // 2 cores) took 1.65 s with workers and 1.35 s without; one side alone, 1.18 s and 1.08 s.
    //
    // The server writes constants in definitions (a timestamptz default, a date partition bound,
    // an interval check) by the session's settings, which a database or role may set
    // (`ALTER DATABASE ... SET timezone`): two databases holding the same schema would differ
    // as text, and a DMY date could be read back as MDY. The settings pg_dump uses fix that
    // text; the time zone is UTC, so timestamptz constants carry `+00`.
    tx.batch_execute(
        "SET LOCAL search_path = pg_catalog; SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; \
         SET LOCAL max_parallel_workers_per_gather = 0; \
         SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; \
         SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3; \
         SET LOCAL bytea_output = 'hex'; SET LOCAL quote_all_identifiers = off; \
         SET LOCAL standard_conforming_strings = on",
    )
    .map_err(query("a snapshot"))?;
    Ok(tx)
}

/// `-vv` / RETORT_LOG=retort_catalog=debug shows where introspection time goes.
struct Lap(std::time::Instant);

impl Lap {
    fn new() -> Lap {
        Lap(std::time::Instant::now())
    }

    fn done(&mut self, what: &str) {
        tracing::debug!(
            query = what,
            ms = self.0.elapsed().as_secs_f64() * 1000.0,
            "catalog query"
        );
        self.0 = std::time::Instant::now();
    }
}

/// Schemas, extensions, tables with their columns, and the dependency graph: about half the
/// work on a large catalog.
fn read_first(
    c: &mut postgres::Transaction<'_>,
    params: &Params,
    cat: &mut Catalog,
) -> Result<(Dependencies, crate::deparse::Attributes), CatalogError> {
    let mut lap = Lap::new();
    for s in crate::schemas::load(c, params)? {
        cat.schemas.insert(s.name.clone(), s);
    }
    lap.done("schemas");
    for e in crate::extensions::load(c, params)? {
        cat.extensions.insert(e.name.clone(), e);
    }
    lap.done("extensions");
    let (tables, attributes) = crate::tables::load(c, params)?;
    for t in tables {
        cat.tables.insert(t.name.clone(), t);
    }
    lap.done("tables");
    let deps = crate::depends::load(c, params, &cat.tables, &attributes)?;
    lap.done("dependencies");
    Ok((deps, attributes))
}

/// Everything else; returns what is present but not compared.
fn read_second(
    c: &mut postgres::Transaction<'_>,
    params: &Params,
    cat: &mut Catalog,
) -> Result<(Vec<String>, crate::deparse::Pending), CatalogError> {
    let mut pending = crate::deparse::Pending::default();
    let mut lap = Lap::new();
    for t in crate::types::load(c, params)? {
        cat.types.insert(t.name.clone(), t);
    }
    lap.done("types");
    for s in crate::sequences::load(c, params)? {
        cat.sequences.insert(s.name.clone(), s);
    }
    lap.done("sequences");
    let (constraints, raw) = crate::constraints::load(c, params)?;
    for k in constraints {
        cat.constraints.insert((k.table.clone(), k.name.clone()), k);
    }
    pending.constraints = raw;
    lap.done("constraints");
    let (indexes, raw) = crate::indexes::load(c, params)?;
    for i in indexes {
        cat.indexes.insert(i.name.clone(), i);
    }
    pending.indexes = raw;
    lap.done("indexes");
    for v in crate::views::load(c, params)? {
        cat.views.insert(v.name.clone(), v);
    }
    lap.done("views");
    for f in crate::functions::load(c, params)? {
        cat.functions
            .insert((f.name.clone(), f.identity.clone()), f);
    }
    lap.done("functions");
    for t in crate::triggers::load(c, params)? {
        cat.triggers.insert((t.table.clone(), t.name.clone()), t);
    }
    lap.done("triggers");
    for p in crate::policies::load(c, params)? {
        cat.policies.insert((p.table.clone(), p.name.clone()), p);
    }
    lap.done("policies");
    for r in crate::rules::load(c, params)? {
        cat.rules.insert((r.table.clone(), r.name.clone()), r);
    }
    lap.done("rules");
    for co in crate::collations::load(c, params)? {
        cat.collations.insert(co.name.clone(), co);
    }
    lap.done("collations");
    for st in crate::statistics::load(c, params)? {
        cat.statistics.insert(st.name.clone(), st);
    }
    lap.done("statistics");
    for d in crate::defaults::load(c, params)? {
        cat.default_privileges.insert(
            (
                d.role.clone(),
                d.schema.clone().unwrap_or_default(),
                d.object_type,
            ),
            d,
        );
    }
    lap.done("default privileges");
    for p in crate::publications::load(c, params)? {
        cat.publications.insert(p.name.clone(), p);
    }
    lap.done("publications");
    for e in crate::eventtriggers::load(c, params)? {
        cat.event_triggers.insert(e.name.clone(), e);
    }
    lap.done("event triggers");
    for ca in crate::casts::load(c, params)? {
        cat.casts.insert((ca.source.clone(), ca.target.clone()), ca);
    }
    lap.done("casts");
    for co in crate::conversions::load(c, params)? {
        cat.conversions.insert(co.name.clone(), co);
    }
    lap.done("conversions");
    for o in crate::operators::load(c, params)? {
        cat.operators.insert(
            (QName::new(o.schema.clone(), o.name.clone()), o.operands()),
            o,
        );
    }
    lap.done("operators");
    let (families, classes) = crate::opclasses::load(c, params)?;
    for f in families {
        cat.op_families
            .insert((f.name.clone(), f.method.clone()), f);
    }
    for k in classes {
        cat.op_classes.insert((k.name.clone(), k.method.clone()), k);
    }
    lap.done("operator classes");
    let (wrappers, servers, mappings) = crate::foreign::load(c, params)?;
    for w in wrappers {
        cat.foreign_data_wrappers.insert(w.name.clone(), w);
    }
    for s in servers {
        cat.foreign_servers.insert(s.name.clone(), s);
    }
    for m in mappings {
        cat.user_mappings
            .insert((m.role.clone(), m.server.clone()), m);
    }
    lap.done("foreign data");
    for t in crate::transforms::load(c, params)? {
        cat.transforms
            .insert((t.type_name.clone(), t.language.clone()), t);
    }
    lap.done("transforms");
    for l in crate::languages::load(c, params)? {
        cat.languages.insert(l.name.clone(), l);
    }
    lap.done("languages");
    for d in crate::textsearch::load_dictionaries(c, params)? {
        cat.ts_dictionaries.insert(d.name.clone(), d);
    }
    for t in crate::textsearch::load_configurations(c, params)? {
        cat.ts_configurations.insert(t.name.clone(), t);
    }
    lap.done("text search");
    for i in crate::partindexes::load(c, params)? {
        cat.attached_indexes
            .insert((i.partition.clone(), i.parent_index.clone()), i);
    }
    lap.done("partition indexes");
    for c in crate::inherited::load(c, params)? {
        cat.inherited_columns
            .insert((c.table.clone(), c.settings.name.clone()), c);
    }
    lap.done("inherited columns");
    let not_compared = crate::unsupported::load(c, params)?;
    lap.done("not compared");
    Ok((not_compared, pending))
}
