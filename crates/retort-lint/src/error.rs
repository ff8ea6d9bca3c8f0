//! The one error type of `retort-lint`.

use std::path::PathBuf;

use retort_pg::PgError;

/// What stops a lint run (findings are not errors).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    /// The SQL does not parse.
    #[error("{file}:{line}: the SQL does not parse: {message}")]
    Parse {
        /// The file.
        file: PathBuf,
        /// The line the section starts at (the parser does not say where inside it failed).
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// Reading the live catalog failed.
    #[error(transparent)]
    Db(#[from] PgError),
}
