//! Errors of `retort-catalog`.

use retort_pg::PgError;

/// Errors from reading a catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A catalog query failed.
    #[error("reading {what} from the catalog: {source}")]
    Query {
        /// Which object kind.
        what: &'static str,
        /// The error.
        source: PgError,
    },
    /// The server is older than retort supports.
    #[error(
        "PostgreSQL {version} is not supported; retort reads catalogs of PostgreSQL 13 and later"
    )]
    UnsupportedVersion {
        /// server_version.
        version: String,
    },
}

pub(crate) fn query(what: &'static str) -> impl FnOnce(postgres::Error) -> CatalogError {
    move |e| CatalogError::Query {
        what,
        source: PgError::from(e),
    }
}
