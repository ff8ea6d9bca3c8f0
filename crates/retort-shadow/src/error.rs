//! The one error type of `retort-shadow`.

use retort_pg::PgError;

/// What can go wrong installing, using or auditing the store. No variant ever holds a password.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    /// The database refused a statement or the connection failed.
    #[error(transparent)]
    Db(#[from] PgError),
    /// The store's functions are not there (or the role may not see them).
    #[error("no shadow store in schema {schema:?}: {reason}")]
    NotInstalled {
        /// The schema that was expected to hold the store.
        schema: String,
        /// The server's message.
        reason: String,
    },
    /// argon2id refused its parameters (memory below 8 KiB per lane, a salt under 8 bytes, ...).
    #[error("argon2id parameters rejected: {0}")]
    Parameters(String),
    /// The operating system's random number generator failed.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// bcrypt reads only the first 72 bytes of a password; longer ones are refused, not cut.
    #[error("the password is {len} bytes long; bcrypt uses only the first 72, so it is refused")]
    PasswordTooLong {
        /// Its length in bytes (UTF-8).
        len: usize,
    },
    /// The password cannot be prepared with SASLprep (RFC 4013), so no verifier is written.
    #[error("the password cannot be used: {0}")]
    Unnormalizable(crate::normalize::PrepError),
    /// An empty password or user name.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// The store said "ok" but could not prove it holds the user's server key: something other
    /// than the installed store answered.
    #[error("the store accepted the login but its server signature is wrong; the store may have been tampered with")]
    ServerSignature,
    /// The store answered in a shape this version of retort does not know.
    #[error("unexpected answer from the shadow store: {0}")]
    Protocol(String),
    /// A setting given to the installer is out of range.
    #[error("invalid store option: {0}")]
    Option(String),
}

impl ShadowError {
    /// A sentence saying what to do next, when we know one.
    pub fn hint(&self) -> Option<String> {
        match self {
            ShadowError::Db(e) => match e.sqlstate() {
                Some("42501") => Some(
                    "the role lacks a privilege on the store: setting any password, lock, unlock, \
                     delete, reset tokens and import belong to the admin role (shadow_admin by \
                     default; GRANT it to the operator who runs them), logging in, sign-up and \
                     changes with proof to the application role"
                        .into(),
                ),
                _ => e.hint(),
            },
            ShadowError::NotInstalled { .. } => Some(
                "install it with `retort shadow install --app-role ROLE` (or --emit-migration to \
                 version it with your migrations), or point --schema at the store"
                    .into(),
            ),
            ShadowError::Unnormalizable(_) => Some(
                "choose a password of printable characters; spaces, letters, digits, symbols and \
                 emoji in any script are fine"
                    .into(),
            ),
            ShadowError::PasswordTooLong { .. } => Some(
                "use a shorter password, or the scram-argon2 mode, which has no length limit"
                    .into(),
            ),
            _ => None,
        }
    }

    /// Wraps a database error, turning "no such function/schema" into [`ShadowError::NotInstalled`].
    pub(crate) fn from_db(schema: &str, err: PgError) -> ShadowError {
        match err.sqlstate() {
            Some("42883") | Some("3F000") => ShadowError::NotInstalled {
                schema: schema.to_owned(),
                reason: err.to_string(),
            },
            _ => ShadowError::Db(err),
        }
    }
}
