//! The store's exchanges as small state types and pure functions: what to send, and what an
//! answer means. The adapters ([`crate::blocking`], [`crate::nonblocking`]) only run the SQL.

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::Row;

use crate::error::ShadowError;
use crate::normalize::{self, Normalization};
use crate::scram::{self, Argon2Params, SaltedPassword, ScramVerifier};

/// How a password is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// argon2id on the client, SCRAM proof to the database: the password never reaches it.
    ScramArgon2,
    /// pgcrypto's bcrypt inside the database: the password is sent with each call.
    Bcrypt,
}

impl Mode {
    /// The name used in SQL and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ScramArgon2 => "scram-argon2",
            Mode::Bcrypt => "bcrypt",
        }
    }

    /// Parses `scram-argon2` or `bcrypt`.
    pub fn parse(s: &str) -> Result<Mode, ShadowError> {
        match s {
            "scram-argon2" => Ok(Mode::ScramArgon2),
            "bcrypt" => Ok(Mode::Bcrypt),
            other => Err(ShadowError::Protocol(format!("unknown mode {other:?}"))),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to a password check. Unknown users get `Bad`, exactly like wrong passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password is right.
    Ok,
    /// Wrong password, or no such user.
    Bad,
    /// The account is locked (too many failures, or locked by hand).
    Locked,
}

impl Verdict {
    fn parse(s: &str) -> Result<Verdict, ShadowError> {
        match s {
            "ok" => Ok(Verdict::Ok),
            "bad" => Ok(Verdict::Bad),
            "locked" => Ok(Verdict::Locked),
            other => Err(ShadowError::Protocol(format!("unknown verdict {other:?}"))),
        }
    }

    /// `ok`, `bad` or `locked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Bad => "bad",
            Verdict::Locked => "locked",
        }
    }
}

/// A verdict and whether the stored verifier was replaced by one with the current policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The answer.
    pub verdict: Verdict,
    /// The store said the verifier was weaker than its policy and it was replaced.
    pub rehashed: bool,
}

/// The store's policy (`parameters()`), which a client needs before setting a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The mode new passwords are set in.
    pub mode: Mode,
    /// argon2id parameters for new verifiers.
    pub argon2: Argon2Params,
    /// bcrypt cost for new hashes.
    pub bcrypt_cost: i32,
}

/// SQL texts for one store schema, quoted once.
#[derive(Debug, Clone)]
pub struct Queries {
    pub(crate) schema: String,
    pub(crate) parameters: String,
    pub(crate) set_scram: String,
    pub(crate) set_bcrypt: String,
    pub(crate) enrol_scram: String,
    pub(crate) enrol_bcrypt: String,
    pub(crate) change_scram: String,
    pub(crate) change_bcrypt: String,
    pub(crate) replace_scram: String,
    pub(crate) replace_bcrypt: String,
    pub(crate) begin_login: String,
    pub(crate) finish_login: String,
    pub(crate) check_bcrypt: String,
    pub(crate) lock: String,
    pub(crate) unlock: String,
    pub(crate) delete: String,
    pub(crate) issue_reset_token: String,
    pub(crate) import_bcrypt: String,
}

impl Queries {
    /// The statements for the store in `schema`.
    pub fn new(schema: &str) -> Queries {
        let s = retort_pg::quote_ident(schema);
        Queries {
            schema: schema.to_owned(),
            parameters: format!(
                "SELECT mode, argon2_m_kib, argon2_t, argon2_p, bcrypt_cost FROM {s}.parameters()"
            ),
            set_scram: format!("SELECT {s}.set_scram($1, $2, $3, $4, $5, $6, $7)"),
            set_bcrypt: format!("SELECT {s}.set_bcrypt($1, $2)"),
            enrol_scram: format!("SELECT {s}.enrol_scram($1, $2, $3, $4, $5, $6, $7)"),
            enrol_bcrypt: format!("SELECT {s}.enrol_bcrypt($1, $2)"),
            change_scram: format!(
                "SELECT verdict, server_signature \
                 FROM {s}.change_scram($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            change_bcrypt: format!("SELECT verdict FROM {s}.change_bcrypt($1, $2, $3)"),
            replace_scram: format!(
                "SELECT coalesce({s}.replace_scram($1, $2, $3, $4, $5, $6, $7, $8), false)"
            ),
            replace_bcrypt: format!("SELECT coalesce({s}.replace_bcrypt($1, $2, $3), false)"),
            begin_login: format!(
                "SELECT algorithm, salt, argon2_m_kib, argon2_t, argon2_p, server_nonce, normalization \
                 FROM {s}.begin_login($1)"
            ),
            finish_login: format!(
                "SELECT verdict, server_signature, needs_rehash, rehash_token \
                 FROM {s}.finish_login($1, $2, $3, $4)"
            ),
            check_bcrypt: format!(
                "SELECT verdict, needs_rehash, rehash_token FROM {s}.check_bcrypt($1, $2)"
            ),
            lock: format!(
                "SELECT coalesce({s}.lock($1, coalesce($2::timestamptz, 'infinity')), false)"
            ),
            unlock: format!("SELECT coalesce({s}.unlock($1), false)"),
            delete: format!("SELECT coalesce({s}.delete($1), false)"),
            issue_reset_token: format!(
                "SELECT {s}.issue_reset_token($1, CASE WHEN $2::bigint IS NULL THEN NULL \
                 ELSE $2::bigint * interval '1 millisecond' END)"
            ),
            import_bcrypt: format!("SELECT u FROM {s}.import_bcrypt($1, $2) AS u"),
        }
    }

    pub(crate) fn scram_write(&self, how: Write<'_>) -> &str {
        match how {
            Write::Enrol => &self.enrol_scram,
            _ => &self.set_scram,
        }
    }

    pub(crate) fn bcrypt_write(&self, how: Write<'_>) -> &str {
        match how {
            Write::Enrol => &self.enrol_bcrypt,
            _ => &self.set_bcrypt,
        }
    }

    /// The schema the store lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub(crate) fn err(&self, e: impl Into<retort_pg::PgError>) -> ShadowError {
        ShadowError::from_db(&self.schema, e.into())
    }
}

fn i32_to_u32(v: i32, what: &str) -> Result<u32, ShadowError> {
    u32::try_from(v).map_err(|_| ShadowError::Protocol(format!("negative {what}: {v}")))
}

/// Decodes the row of `parameters()`.
pub fn decode_policy(row: &Row) -> Result<Policy, ShadowError> {
    Ok(Policy {
        mode: Mode::parse(row.try_get::<_, String>(0).map_err(proto)?.as_str())?,
        argon2: Argon2Params {
            m_kib: i32_to_u32(row.try_get(1).map_err(proto)?, "memory")?,
            t: i32_to_u32(row.try_get(2).map_err(proto)?, "iterations")?,
            p: i32_to_u32(row.try_get(3).map_err(proto)?, "parallelism")?,
        },
        bcrypt_cost: row.try_get(4).map_err(proto)?,
    })
}

fn proto(e: tokio_postgres::Error) -> ShadowError {
    ShadowError::Protocol(e.to_string())
}

/// What to send to write a new password under `policy`.
pub enum SetRequest {
    /// A verifier derived on the client (`set_scram`, `enrol_scram`, `change_scram`, `replace_scram`).
    Scram(ScramVerifier),
    /// The SASLprep'd password, hashed with bcrypt by the database (`*_bcrypt`).
    Bcrypt(SecretString),
}

/// Which call writes a new verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write<'a> {
    /// `enrol_*`: only a user without a password (application role).
    Enrol,
    /// `set_*`: any user (admin role).
    Set,
    /// `replace_*` with a one-time token (a reset token, or a login's rehash token).
    Replace(&'a str),
}

/// Decodes what a write returned: whether it wrote (`set_*` always does or raises).
pub fn decode_written(row: &Row, how: Write<'_>) -> Result<bool, ShadowError> {
    match how {
        Write::Set => Ok(true),
        _ => row.try_get(0).map_err(proto),
    }
}

/// A token's lifetime in whole milliseconds for the store (None: its default).
pub fn duration_ms(d: Option<std::time::Duration>) -> Result<Option<i64>, ShadowError> {
    d.map(|d| {
        i64::try_from(d.as_millis())
            .ok()
            .filter(|ms| *ms > 0)
            .ok_or_else(|| {
                ShadowError::Option(format!("a token lifetime of {d:?} is out of range"))
            })
    })
    .transpose()
}

/// Checks the inputs, prepares the password with SASLprep and, in `scram-argon2` mode, derives
/// the verifier (argon2id: tens of milliseconds of CPU; async callers run it on a blocking
/// thread).
pub fn prepare_set(
    username: &str,
    password: &SecretString,
    policy: &Policy,
) -> Result<SetRequest, ShadowError> {
    check_inputs(username, password)?;
    let prepared = normalize::for_new_verifier(password)?;
    match policy.mode {
        Mode::ScramArgon2 => {
            let salt = scram::random_bytes(scram::SALT_LEN)?;
            let salted = scram::salted_password(&prepared, &salt, policy.argon2)?;
            Ok(SetRequest::Scram(scram::verifier(
                &salted,
                &salt,
                policy.argon2,
            )))
        }
        Mode::Bcrypt => {
            let len = prepared.expose_secret().len();
            if len > 72 {
                return Err(ShadowError::PasswordTooLong { len });
            }
            Ok(SetRequest::Bcrypt(prepared))
        }
    }
}

fn check_inputs(username: &str, password: &SecretString) -> Result<(), ShadowError> {
    if username.is_empty() {
        return Err(ShadowError::Empty("the user name"));
    }
    if password.expose_secret().is_empty() {
        return Err(ShadowError::Empty("the password"));
    }
    Ok(())
}

/// The first answer of a login (`begin_login`).
#[derive(Debug, Clone)]
pub enum Challenge {
    /// Derive with these and prove knowledge of the password for this nonce.
    Scram {
        /// The user's salt (or the fake one of an unknown user).
        salt: Vec<u8>,
        /// The user's parameters.
        params: Argon2Params,
        /// The one-time server nonce.
        server_nonce: Vec<u8>,
        /// How the user's password was prepared before hashing.
        normalization: Normalization,
    },
    /// The user's password is a bcrypt hash: send it to `check_bcrypt`.
    Bcrypt {
        /// How the user's password was prepared before hashing.
        normalization: Normalization,
    },
}

/// Decodes the row of `begin_login`.
pub fn decode_challenge(row: &Row) -> Result<Challenge, ShadowError> {
    let algorithm: String = row.try_get(0).map_err(proto)?;
    let normalization = Normalization::parse(&row.try_get::<_, String>(6).map_err(proto)?)?;
    match Mode::parse(&algorithm)? {
        Mode::Bcrypt => Ok(Challenge::Bcrypt { normalization }),
        Mode::ScramArgon2 => {
            let salt: Option<Vec<u8>> = row.try_get(1).map_err(proto)?;
            let m: Option<i32> = row.try_get(2).map_err(proto)?;
            let t: Option<i32> = row.try_get(3).map_err(proto)?;
            let p: Option<i32> = row.try_get(4).map_err(proto)?;
            let nonce: Option<Vec<u8>> = row.try_get(5).map_err(proto)?;
            match (salt, m, t, p, nonce) {
                (Some(salt), Some(m), Some(t), Some(p), Some(server_nonce)) => {
                    Ok(Challenge::Scram {
                        salt,
                        params: Argon2Params {
                            m_kib: i32_to_u32(m, "memory")?,
                            t: i32_to_u32(t, "iterations")?,
                            p: i32_to_u32(p, "parallelism")?,
                        },
                        server_nonce,
                        normalization,
                    })
                }
                _ => Err(ShadowError::Protocol(
                    "begin_login returned a scram challenge with missing fields".into(),
                )),
            }
        }
    }
}

/// The password to send to `check_bcrypt`/`change_bcrypt` for a user whose hash was prepared
/// with `normalization`.
pub fn bcrypt_password(password: &SecretString, normalization: Normalization) -> SecretString {
    normalize::for_check(password, normalization)
}

/// A SCRAM login between `begin_login` and `finish_login`: the client nonce, the proof to
/// send, and what is needed to check the server's signature.
pub struct ScramResponse {
    /// Fresh random client nonce.
    pub client_nonce: Vec<u8>,
    /// The server nonce being answered.
    pub server_nonce: Vec<u8>,
    /// ClientKey XOR ClientSignature.
    pub proof: [u8; scram::KEY_LEN],
    auth_message: Vec<u8>,
    salted: SaltedPassword,
}

/// Answers a SCRAM challenge (argon2id: run it off async executors). The password is prepared
/// as the user's verifier was (`normalization`).
pub fn respond(
    username: &str,
    password: &SecretString,
    salt: &[u8],
    params: Argon2Params,
    server_nonce: &[u8],
    normalization: Normalization,
) -> Result<ScramResponse, ShadowError> {
    let prepared = normalize::for_check(password, normalization);
    let client_nonce = scram::random_bytes(scram::NONCE_LEN)?;
    let salted = scram::salted_password(&prepared, salt, params)?;
    let auth_message = scram::auth_message(username, &client_nonce, server_nonce, salt, params);
    let proof = scram::client_proof(&salted, &auth_message);
    Ok(ScramResponse {
        client_nonce,
        server_nonce: server_nonce.to_vec(),
        proof,
        auth_message,
        salted,
    })
}

/// What `finish_login` or `check_bcrypt` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The verdict.
    pub verdict: Verdict,
    /// The stored verifier is weaker than the policy (only ever true with `Ok`).
    pub needs_rehash: bool,
    /// With `needs_rehash`: the one-time token that lets this login replace the verifier.
    pub rehash_token: Option<String>,
}

impl ScramResponse {
    fn check_signature(
        &self,
        verdict: Verdict,
        signature: Option<Vec<u8>>,
    ) -> Result<(), ShadowError> {
        if verdict == Verdict::Ok {
            let good = signature.is_some_and(|sig| {
                scram::verify_server_signature(&self.salted, &self.auth_message, &sig)
            });
            if !good {
                return Err(ShadowError::ServerSignature);
            }
        }
        Ok(())
    }

    /// Decodes `finish_login`'s row and, on `ok`, checks the server signature.
    pub fn finish(&self, row: &Row) -> Result<Answer, ShadowError> {
        let verdict = Verdict::parse(&row.try_get::<_, String>(0).map_err(proto)?)?;
        self.check_signature(verdict, row.try_get(1).map_err(proto)?)?;
        let needs_rehash: bool = row.try_get(2).map_err(proto)?;
        let rehash_token: Option<String> = row.try_get(3).map_err(proto)?;
        Ok(Answer {
            verdict,
            needs_rehash: verdict == Verdict::Ok && needs_rehash,
            rehash_token: rehash_token.filter(|_| verdict == Verdict::Ok),
        })
    }

    /// Decodes `change_scram`'s row and, on `ok`, checks the server signature.
    pub fn finish_change(&self, row: &Row) -> Result<Verdict, ShadowError> {
        let verdict = Verdict::parse(&row.try_get::<_, String>(0).map_err(proto)?)?;
        self.check_signature(verdict, row.try_get(1).map_err(proto)?)?;
        Ok(verdict)
    }
}

/// Decodes `check_bcrypt`'s row.
pub fn decode_bcrypt_answer(row: &Row) -> Result<Answer, ShadowError> {
    let verdict = Verdict::parse(&row.try_get::<_, String>(0).map_err(proto)?)?;
    let needs_rehash: bool = row.try_get(1).map_err(proto)?;
    let rehash_token: Option<String> = row.try_get(2).map_err(proto)?;
    Ok(Answer {
        verdict,
        needs_rehash: verdict == Verdict::Ok && needs_rehash,
        rehash_token: rehash_token.filter(|_| verdict == Verdict::Ok),
    })
}

/// Decodes `change_bcrypt`'s row.
pub fn decode_verdict(row: &Row) -> Result<Verdict, ShadowError> {
    Verdict::parse(&row.try_get::<_, String>(0).map_err(proto)?)
}

/// How a password change goes, given the user's challenge and the store's mode.
pub enum ChangePlan {
    /// One `change_scram` call: a proof of the current password and the new verifier.
    Scram,
    /// One `change_bcrypt` call: the current password and the new one.
    Bcrypt,
    /// The user's verifier is in the other mode: log in with the current password, which earns a
    /// rehash token (the mode differs), and replace the verifier with that token.
    LoginThenReplace,
}

/// Chooses how to change a password.
pub fn plan_change(challenge: &Challenge, policy: &Policy) -> ChangePlan {
    match (challenge, policy.mode) {
        (Challenge::Scram { .. }, Mode::ScramArgon2) => ChangePlan::Scram,
        (Challenge::Bcrypt { .. }, Mode::Bcrypt) => ChangePlan::Bcrypt,
        _ => ChangePlan::LoginThenReplace,
    }
}
