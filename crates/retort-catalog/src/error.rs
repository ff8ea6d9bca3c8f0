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
    /// Desired-state SQL did not load.
    #[error("{}:{line}: {message}", file.display())]
    Load {
        /// The file.
        file: std::path::PathBuf,
        /// 1-based line (0 when the file itself is the problem).
        line: usize,
        /// What went wrong, with the server's message.
        message: String,
        /// The server's SQLSTATE, when it sent one.
        sqlstate: Option<String>,
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

impl CatalogError {
    /// What the user can do next.
    pub fn hint(&self) -> Option<String> {
        match self {
            CatalogError::Load {
                sqlstate: Some(code),
                message,
                ..
            } if code == "0A000" || message.contains("extension") => Some(
                "a missing extension must be installed on the server that loads the schema \
                 (apt-get install postgresql-contrib, or point --dev-url at a server that has it)"
                    .into(),
            ),
            CatalogError::Load { .. } => Some(
                "fix the SQL at that line; the file is loaded statement by statement into a \
                 throwaway database exactly as psql would run it"
                    .into(),
            ),
            CatalogError::Query { source, .. } => source.hint(),
            CatalogError::UnsupportedVersion { .. } => None,
        }
    }
}
