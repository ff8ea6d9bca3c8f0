#![warn(missing_docs)]
//! A shadow password store for PostgreSQL, like Unix `/etc/shadow`: the application's login
//! role can set and check passwords but can never read a hash.
//!
//! The hashes live in tables owned by a NOLOGIN role; `SECURITY DEFINER` functions with a
//! pinned `search_path` are the only way in, and the application role may only execute them
//! ([`install`], `sql/store.sql`). [`audit`] checks a live database for every way that promise
//! can be broken.
//!
//! Two modes:
//! - `scram-argon2` (default): the client derives `argon2id(password, salt)` and answers a
//!   one-time server nonce with a SCRAM proof ([`scram`]). The password never reaches the
//!   database, a logged call cannot be replayed, and the database spends microseconds per login.
//! - `bcrypt`: pgcrypto's `crypt()` inside the database (the classic design). bcrypt reads only
//!   72 bytes, so longer passwords are refused rather than silently cut.
//!
//! The protocol is pure ([`protocol`], [`scram`]); [`blocking::ShadowStore`] runs it over
//! `postgres` and [`nonblocking::ShadowStore`] over `tokio-postgres`:
//!
//! ```no_run
//! use retort_shadow::{blocking::ShadowStore, SecretString, Verdict};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = postgres::Client::connect("host=/tmp user=app dbname=app", postgres::NoTls)?;
//! let store = ShadowStore::new("shadow");
//! store.set_password(&mut client, "alice", &SecretString::from("correct horse".to_owned()))?;
//! let verdict = store.verify(&mut client, "alice", &SecretString::from("battery staple".to_owned()))?;
//! assert_eq!(verdict, Verdict::Bad);
//! # Ok(()) }
//! ```
//!
//! What a server log can still show: with `log_statement = all`, a `set_scram` call shows the
//! verifier (salt, StoredKey, ServerKey), which costs an attacker one argon2id per guess, the
//! same as a stolen table; login calls show a proof bound to a nonce that is already consumed.
//! In bcrypt mode the log shows passwords. [`audit`] warns about such settings.

pub mod audit;
pub mod blocking;
mod error;
pub mod import;
pub mod install;
pub mod nonblocking;
pub mod normalize;
pub mod protocol;
pub mod scram;

pub use audit::{audit, AuditReport, Finding};
pub use error::ShadowError;
pub use install::{
    install, pgcrypto_schema, store_version, upgrade, Capability, InstallOptions, Upgraded,
    FUNCTIONS_SQL, STORE_SQL, STORE_VERSION,
};
pub use normalize::{saslprep, Normalization, PrepError};
pub use protocol::{Mode, Outcome, Policy, Verdict};
pub use scram::Argon2Params;
pub use secrecy::{ExposeSecret, SecretString};
