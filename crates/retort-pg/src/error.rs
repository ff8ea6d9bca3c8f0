//! The one error type of `retort-pg`, carrying what a user needs to fix the problem.

use std::fmt;

/// What the server said when it refused a statement or a login: SQLSTATE, message and the
/// optional detail, hint and 1-based character position into the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMessage {
    /// Severity as sent by the server (`ERROR`, `FATAL`, ...).
    pub severity: String,
    /// Five-character SQLSTATE, e.g. `42P01`.
    pub code: String,
    /// Primary message.
    pub message: String,
    /// Optional secondary message with more detail.
    pub detail: Option<String>,
    /// Optional suggestion from the server.
    pub hint: Option<String>,
    /// 1-based character offset into the statement where the error was found.
    pub position: Option<u32>,
}

impl ServerMessage {
    pub(crate) fn from_db_error(db: &tokio_postgres::error::DbError) -> Self {
        let position = match db.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
            Some(tokio_postgres::error::ErrorPosition::Internal { position, .. }) => {
                Some(*position)
            }
            None => None,
        };
        ServerMessage {
            severity: db.severity().to_owned(),
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            position,
        }
    }
}

impl fmt::Display for ServerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLSTATE {})", self.message, self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, "; detail: {detail}")?;
        }
        if let Some(pos) = self.position {
            write!(f, "; at character {pos}")?;
        }
        Ok(())
    }
}

/// Errors from parsing connection settings, connecting and running statements.
///
/// No variant ever holds a password: connection targets are rendered with the password
/// replaced by `***`.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL or `key=value` string could not be understood.
    #[error("invalid connection string `{input}`: {reason}")]
    InvalidConnString {
        /// The input with any password replaced by `***`.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// TLS was asked for but could not be set up (unreadable root certificate, ...).
    #[error("tls setup for {target} failed: {reason}")]
    Tls {
        /// Redacted connection target.
        target: String,
        /// What failed.
        reason: String,
    },
    /// No connection could be made (refused, timed out, no such host, TLS handshake, ...).
    #[error("could not connect to {target}: {reason}")]
    Connect {
        /// Redacted connection target.
        target: String,
        /// Why, as the client library saw it.
        reason: String,
        /// What the user can try next.
        hint: String,
    },
    /// The server rejected the login (wrong password, no pg_hba.conf entry, unknown role/db).
    #[error("{target} refused the login: {server}")]
    Login {
        /// Redacted connection target.
        target: String,
        /// The server's message.
        server: Box<ServerMessage>,
        /// What the user can try next.
        hint: String,
    },
    /// The server rejected a statement.
    #[error("{0}")]
    Server(Box<ServerMessage>),
    /// The connection broke or the client library failed outside any statement.
    #[error("connection error: {0}")]
    Client(String),
}

impl PgError {
    /// The server's SQLSTATE, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            PgError::Server(m) => Some(&m.code),
            PgError::Login { server, .. } => Some(&server.code),
            _ => None,
        }
    }

    /// The connection is gone: it broke, or the server ended the session (shutdown, crash,
    /// administrator's terminate). What the statement in flight did is then unknown to the
    /// client: it may have been committed before the answer was lost.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            PgError::Client(_) => true,
            PgError::Server(m) => {
                m.code.starts_with("08")
                    || matches!(m.code.as_str(), "57P01" | "57P02" | "57P03")
                    || m.severity == "FATAL"
                    || m.severity == "PANIC"
            }
            _ => false,
        }
    }

    /// The line the server pointed at in `sql`, whose first line is `first_line` of its file
    /// (`first_line` itself when the server gave no position).
    pub fn line_in(&self, sql: &str, first_line: usize) -> usize {
        match self {
            PgError::Server(m) => match m.position {
                Some(p) => {
                    let before = sql.chars().take((p as usize).saturating_sub(1));
                    first_line + before.filter(|c| *c == '\n').count()
                }
                None => first_line,
            },
            _ => first_line,
        }
    }

    /// A sentence saying what to do next, when we know one.
    pub fn hint(&self) -> Option<String> {
        match self {
            PgError::InvalidConnString { .. } => Some(
                "write it as postgres://user@host:port/dbname?sslmode=... or as key=value pairs \
                 (host=... port=... dbname=...)"
                    .to_owned(),
            ),
            PgError::Tls { .. } => Some(
                "check sslrootcert (default ~/.postgresql/root.crt), or use sslmode=require to \
                 encrypt without verifying the server"
                    .to_owned(),
            ),
            PgError::Connect { hint, .. } | PgError::Login { hint, .. } => Some(hint.clone()),
            PgError::Server(m) => m.hint.clone(),
            PgError::Client(_) => None,
        }
    }
}

/// Turns a statement error from the client library into a [`PgError`], keeping the server's fields.
impl From<postgres::Error> for PgError {
    fn from(err: postgres::Error) -> Self {
        match err.as_db_error() {
            Some(db) => PgError::Server(Box::new(ServerMessage::from_db_error(db))),
            None => PgError::Client(error_chain(&err)),
        }
    }
}

/// `err` and its sources joined with ": ", which is how the client library explains itself.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
