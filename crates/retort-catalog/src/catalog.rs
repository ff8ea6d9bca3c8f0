//! The whole model of one database's schema, and reading it in a fixed number of queries.

use std::collections::BTreeMap;

use retort_pg::Client;

use crate::common::Filter;
use crate::constraints::Constraint;
use crate::defaults::DefaultPrivileges;
use crate::depends::Dependencies;
use crate::error::{query, CatalogError};
use crate::extensions::Extension;
use crate::functions::Function;
use crate::indexes::Index;
use crate::name::QName;
use crate::policies::Policy;
use crate::rules::Rule;
use crate::schemas::Schema;
use crate::sequences::Sequence;
use crate::statistics::Statistics;
use crate::tables::Table;
use crate::triggers::Trigger;
use crate::types::TypeDef;
use crate::views::View;

/// Every object retort models, keyed and sorted so two catalogs compare with `==`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Catalog {
    /// Schemas.
    pub schemas: BTreeMap<String, Schema>,
    /// Extensions.
    pub extensions: BTreeMap<String, Extension>,
    /// Enum, domain, composite and range types.
    pub types: BTreeMap<QName, TypeDef>,
    /// Sequences (not identity sequences).
    pub sequences: BTreeMap<QName, Sequence>,
    /// Tables.
    pub tables: BTreeMap<QName, Table>,
    /// Table constraints by (table, name).
    pub constraints: BTreeMap<(QName, String), Constraint>,
    /// Indexes not backing constraints.
    pub indexes: BTreeMap<QName, Index>,
    /// Views and materialized views.
    pub views: BTreeMap<QName, View>,
    /// Functions and procedures by (name, identity arguments).
    pub functions: BTreeMap<(QName, String), Function>,
    /// Triggers by (table, name).
    pub triggers: BTreeMap<(QName, String), Trigger>,
    /// Policies by (table, name).
    pub policies: BTreeMap<(QName, String), Policy>,
    /// Rules on tables by (table, name).
    pub rules: BTreeMap<(QName, String), Rule>,
    /// Extended statistics objects.
    pub statistics: BTreeMap<QName, Statistics>,
    /// Default privileges by (role, schema or "", object type).
    pub default_privileges: BTreeMap<(String, String, char), DefaultPrivileges>,
}

/// A catalog plus what the diff needs besides the model: the dependency graph.
#[derive(Debug, Clone, Default)]
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
}

/// Query parameters shared by every catalog query: $1 excluded schemas, $2 included or NULL.
pub(crate) struct Params {
    exclude: Vec<String>,
    include: Option<Vec<String>>,
    /// Whether owners are part of the model.
    pub(crate) owners: bool,
    /// server_version_num, for catalog columns that newer servers have.
    pub(crate) version: i32,
}

impl Params {
    pub(crate) fn as_refs(&self) -> [&(dyn postgres::types::ToSql + Sync); 2] {
        [&self.exclude, &self.include]
    }
}

/// Reads the schema of `client`'s database: 17 bulk queries in one REPEATABLE READ snapshot,
/// whatever the number of objects.
///
/// Errors: a server older than PostgreSQL 13, a failing query (named by object kind).
pub fn introspect(client: &mut Client, filter: &Filter) -> Result<Snapshot, CatalogError> {
    let version: String = client
        .query_one("SHOW server_version_num", &[])
        .map_err(query("the server version"))?
        .get(0);
    let server_version_num: i32 = version.trim().parse().unwrap_or(0);
    if server_version_num < 130000 {
        return Err(CatalogError::UnsupportedVersion { version });
    }
    let params = Params {
        exclude: filter.exclude_schemas.clone(),
        include: filter.include_schemas.clone(),
        owners: filter.owners,
        version: server_version_num,
    };
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(query("a snapshot"))?;
    // JIT compiling these one-off catalog queries costs more than running them.
    tx.batch_execute(
        "SET LOCAL search_path = pg_catalog; SET LOCAL jit = off; SET LOCAL work_mem = '64MB'",
    )
    .map_err(query("a snapshot"))?;
    let c = &mut tx;
    let mut cat = Catalog::default();
    let mut t = std::time::Instant::now();
    // `-vv` / RETORT_LOG=retort_catalog=debug shows where introspection time goes.
    let mut lap = |what: &str| {
        tracing::debug!(
            query = what,
            ms = t.elapsed().as_secs_f64() * 1000.0,
            "catalog query"
        );
        t = std::time::Instant::now();
    };
    for s in crate::schemas::load(c, &params)? {
        cat.schemas.insert(s.name.clone(), s);
    }
    lap("schemas");
    for e in crate::extensions::load(c, &params)? {
        cat.extensions.insert(e.name.clone(), e);
    }
    lap("extensions");
    for t in crate::types::load(c, &params)? {
        cat.types.insert(t.name.clone(), t);
    }
    lap("types");
    for s in crate::sequences::load(c, &params)? {
        cat.sequences.insert(s.name.clone(), s);
    }
    lap("sequences");
    for t in crate::tables::load(c, &params)? {
        cat.tables.insert(t.name.clone(), t);
    }
    lap("tables");
    for k in crate::constraints::load(c, &params)? {
        cat.constraints.insert((k.table.clone(), k.name.clone()), k);
    }
    lap("constraints");
    for i in crate::indexes::load(c, &params)? {
        cat.indexes.insert(i.name.clone(), i);
    }
    lap("indexes");
    for v in crate::views::load(c, &params)? {
        cat.views.insert(v.name.clone(), v);
    }
    lap("views");
    for f in crate::functions::load(c, &params)? {
        cat.functions
            .insert((f.name.clone(), f.identity.clone()), f);
    }
    lap("functions");
    for t in crate::triggers::load(c, &params)? {
        cat.triggers.insert((t.table.clone(), t.name.clone()), t);
    }
    lap("triggers");
    for p in crate::policies::load(c, &params)? {
        cat.policies.insert((p.table.clone(), p.name.clone()), p);
    }
    lap("policies");
    for r in crate::rules::load(c, &params)? {
        cat.rules.insert((r.table.clone(), r.name.clone()), r);
    }
    lap("rules");
    for st in crate::statistics::load(c, &params)? {
        cat.statistics.insert(st.name.clone(), st);
    }
    lap("statistics");
    for d in crate::defaults::load(c, &params)? {
        cat.default_privileges.insert(
            (
                d.role.clone(),
                d.schema.clone().unwrap_or_default(),
                d.object_type,
            ),
            d,
        );
    }
    lap("default privileges");
    let not_compared = crate::unsupported::load(c, &params)?;
    let deps = crate::depends::load(c, &params)?;
    lap("dependencies");
    tx.commit().map_err(query("a snapshot"))?;
    Ok(Snapshot {
        catalog: cat,
        deps,
        server_version_num,
        not_compared,
    })
}
