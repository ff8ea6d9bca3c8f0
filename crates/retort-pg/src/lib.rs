#![warn(missing_docs)]
//! Connecting to PostgreSQL the way `psql` does, quoting names safely, and errors that explain.
//!
//! Connection settings come from a URL or `key=value` string, then the libpq `PG*` environment
//! variables, then `~/.pgpass`, with libpq's precedence ([`ConnConfig`]). TLS follows `sslmode`
//! (rustls). No `Display`, `Debug` or error message ever contains a password.
//!
//! ```no_run
//! use retort_pg::{connect, quote_ident, ConnConfig};
//!
//! # fn main() -> Result<(), retort_pg::PgError> {
//! let cfg = ConnConfig::parse("postgres://app@localhost/speakfriend?sslmode=prefer")?;
//! let mut client = connect(&cfg)?;
//! let sql = format!("SELECT count(*) FROM {}", quote_ident("Users"));
//! let row = client.query_one(&sql, &[])?;
//! let n: i64 = row.get(0);
//! println!("{n} users on {}", cfg); // postgresql://app@localhost:5432/speakfriend
//! # Ok(()) }
//! ```

mod connect;
mod conninfo;
mod error;
mod pgpass;
mod quote;
mod server;
mod split;

pub use connect::connect;
pub use conninfo::{
    current_os_user_name, redact_conn_string, ConnConfig, ConnParams, Environment, Password,
    PasswordSource, ProcessEnv, SslMode, TargetSessionAttrs,
};
pub use error::{PgError, ServerMessage};
pub use postgres::{Client, SimpleQueryMessage};
pub use quote::{quote_ident, quote_literal, quote_qualified};
pub use server::{server_info, ServerInfo};
pub use split::{split_statements, SplitError, Statement};
