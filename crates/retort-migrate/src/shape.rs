//! Shapes: two application versions on one database while a change is expanded.
//!
//! The physical tables always have the newest shape. While a two-phase change is expanded (its
//! [`crate::Phase::Expand`] migration applied, its contract not yet), the shape the application
//! version before it expects is served as views in a schema named after that version's
//! revision, [`shape_schema`]. An application version selects its shape by putting its own
//! revision's schema first in `search_path` ([`search_path`]): when no such schema exists its
//! shape is the physical one, and PostgreSQL skips a missing schema in `search_path`, so the same
//! setting is right before, during and after a change.
//!
//! So that `retort complete` knows whether an old version still runs, an application registers
//! each session with the revision it was built at ([`use_shape_sql`]): `<store>.use_shape(rev)`
//! records the session (pid and start time, so a reused pid is not mistaken for it) in
//! `<store>.shape_sessions`; sessions that have ended are ignored.

use std::collections::BTreeSet;

use retort_pg::{quote_ident, quote_literal, Client};

use crate::error::{db, MigrateError};
use crate::graph::RevisionGraph;

/// The schema that serves `revision`'s shape while a later change is expanded.
pub fn shape_schema(revision: &str) -> String {
    format!("retort_v_{revision}")
}

/// The `search_path` an application version built at `revision` uses.
pub fn search_path(revision: &str) -> String {
    format!(
        "{}, \"$user\", public",
        quote_ident(&shape_schema(revision))
    )
}

/// What an application runs on each new connection: its shape first in `search_path`, and the
/// session registered under `revision` in the version store in `store_schema`.
pub fn use_shape_sql(store_schema: &str, revision: &str) -> String {
    format!(
        "SET search_path = {}; SELECT {}.use_shape({})",
        search_path(revision),
        quote_ident(store_schema),
        quote_literal(revision)
    )
}

/// Runs [`use_shape_sql`] on `client` (blocking; async applications send the same text).
///
/// Errors: the version store has no `use_shape` (no retort upgrade has run on this database),
/// or the revision is not 12 hex characters.
pub fn use_shape(
    client: &mut Client,
    store_schema: &str,
    revision: &str,
) -> Result<(), MigrateError> {
    if !crate::file::is_revision_id(revision) {
        return Err(MigrateError::Invalid(format!(
            "{revision:?} is not a revision (12 lowercase hex characters)"
        )));
    }
    client
        .batch_execute(&use_shape_sql(store_schema, revision))
        .map_err(db(format!("selecting the shape of revision {revision}")))
}

/// DDL of the session registry (part of every version store). `use_shape` is SECURITY DEFINER
/// with a pinned `search_path` and writes only the caller's own session row; every role may
/// call it, as every application version must register. It is created only when missing, so a
/// second deploy role that does not own it can still run migrations.
pub fn registry_sql(store_schema: &str) -> String {
    let schema = quote_ident(store_schema);
    let function = quote_literal(&format!("{schema}.use_shape(text)"));
    format!(
        "CREATE TABLE IF NOT EXISTS {schema}.shape_sessions (\n    \
         pid integer PRIMARY KEY,\n    \
         backend_start timestamptz NOT NULL,\n    \
         revision text NOT NULL CHECK (revision ~ '^[0-9a-f]{{12}}$'),\n    \
         role name NOT NULL,\n    \
         registered_at timestamptz NOT NULL DEFAULT clock_timestamp()\n);\n\
         DO $retort_do$\nBEGIN\n\
         IF pg_catalog.to_regprocedure({function}) IS NULL THEN\n\
         CREATE FUNCTION {schema}.use_shape(revision text) RETURNS void\n\
         LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $retort$\n\
         INSERT INTO {schema}.shape_sessions (pid, backend_start, revision, role)\n\
         SELECT a.pid, a.backend_start, use_shape.revision, session_user\n\
         FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()\n\
         ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start,\n\
         revision = EXCLUDED.revision, role = EXCLUDED.role, registered_at = clock_timestamp()\n\
         $retort$;\n\
         REVOKE ALL ON FUNCTION {schema}.use_shape(text) FROM PUBLIC;\n\
         GRANT EXECUTE ON FUNCTION {schema}.use_shape(text) TO PUBLIC;\n\
         GRANT USAGE ON SCHEMA {schema} TO PUBLIC;\n\
         END IF;\nEND\n$retort_do$;\n"
    )
}

/// A live session registered under an old revision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShapeSession {
    /// Backend pid.
    pub pid: i32,
    /// The revision it registered.
    pub revision: String,
    /// Its login role.
    pub role: String,
    /// `application_name`.
    pub application_name: String,
    /// Client address, when over TCP.
    pub client_addr: Option<String>,
    /// `state` in pg_stat_activity (active, idle, ...).
    pub state: Option<String>,
}

impl std::fmt::Display for ShapeSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} (role {}, application {:?}, {}{}) uses revision {}'s shape",
            self.pid,
            self.role,
            self.application_name,
            self.state.as_deref().unwrap_or("unknown state"),
            self.client_addr
                .as_deref()
                .map(|a| format!(", from {a}"))
                .unwrap_or_default(),
            self.revision
        )
    }
}

/// Every revision an expand phase replaces the shape of: its ancestors (parents and depends-on,
/// transitively), not itself.
pub fn older_revisions(graph: &RevisionGraph, revision: &str) -> BTreeSet<String> {
    graph
        .ancestors_of(revision)
        .into_iter()
        .map(|m| m.revision.clone())
        .collect()
}

/// Live sessions (other than this one) registered under one of `revisions`. A registry row
/// whose session has ended is deleted on the way.
pub fn live_sessions(
    client: &mut Client,
    store_schema: &str,
    revisions: &[String],
) -> Result<Vec<ShapeSession>, MigrateError> {
    let schema = quote_ident(store_schema);
    let exists: bool = client
        .query_one(
            "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
            &[&format!("{schema}.shape_sessions")],
        )
        .map_err(db("reading the shape sessions"))?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    client
        .execute(
            &format!(
                "DELETE FROM {schema}.shape_sessions s WHERE NOT EXISTS (SELECT 1 FROM \
                 pg_catalog.pg_stat_activity a WHERE a.pid = s.pid AND a.backend_start = s.backend_start)"
            ),
            &[],
        )
        .map_err(db("forgetting ended shape sessions"))?;
    let rows = client
        .query(
            &format!(
                "SELECT s.pid, s.revision, s.role::text, coalesce(a.application_name, ''), \
                 a.client_addr::text, a.state FROM {schema}.shape_sessions s \
                 JOIN pg_catalog.pg_stat_activity a ON a.pid = s.pid AND a.backend_start = s.backend_start \
                 WHERE s.revision = ANY($1) AND s.pid <> pg_catalog.pg_backend_pid() ORDER BY s.pid"
            ),
            &[&revisions],
        )
        .map_err(db("reading the shape sessions"))?;
    Ok(rows
        .iter()
        .map(|r| ShapeSession {
            pid: r.get(0),
            revision: r.get(1),
            role: r.get(2),
            application_name: r.get(3),
            client_addr: r.get(4),
            state: r.get(5),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_is_a_schema_first_in_search_path() {
        assert_eq!(shape_schema("3f2a9c1b7e4d"), "retort_v_3f2a9c1b7e4d");
        assert_eq!(
            search_path("3f2a9c1b7e4d"),
            "retort_v_3f2a9c1b7e4d, \"$user\", public"
        );
        assert_eq!(
            use_shape_sql("retort", "3f2a9c1b7e4d"),
            "SET search_path = retort_v_3f2a9c1b7e4d, \"$user\", public; SELECT retort.use_shape('3f2a9c1b7e4d')"
        );
        assert!(registry_sql("retort").contains("SET search_path = pg_catalog, pg_temp"));
    }
}
