//! The store over the async `tokio-postgres` client, for web applications. argon2id runs on
//! tokio's blocking pool so a login never stalls the executor.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::Client;

use crate::error::ShadowError;
use crate::protocol::{
    self, Answer, Challenge, ChangePlan, Outcome, Policy, Queries, SetRequest, Verdict, Write,
};

/// A shadow store in one schema; cheap to clone, holds no connection.
#[derive(Debug, Clone)]
pub struct ShadowStore {
    q: Queries,
}

/// At most one argon2id derivation per core at a time: argon2id is memory-hard, and more
/// derivations than cores only fight over the caches (bench `shadow`: 1,000 logins from 16
/// tasks on 2 cores took 14.2 s unbounded and 8.5 s with one derivation per core).
fn derivation_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

/// Runs CPU-heavy key derivation off the executor, one per core at a time.
async fn off_executor<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ShadowError> + Send + 'static,
) -> Result<T, ShadowError> {
    let _slot = derivation_slots()
        .acquire()
        .await
        .map_err(|e| ShadowError::Protocol(format!("key derivation queue closed: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ShadowError::Protocol(format!("key derivation task failed: {e}")))?
}

/// argon2id (in [`protocol::prepare_set`]) off the executor.
async fn prepare_set(
    username: &str,
    password: &SecretString,
    policy: Policy,
) -> Result<SetRequest, ShadowError> {
    let (user, pw) = (username.to_owned(), password.clone());
    off_executor(move || protocol::prepare_set(&user, &pw, &policy)).await
}

/// argon2id (in [`protocol::respond`]) off the executor.
async fn respond(
    username: &str,
    password: &SecretString,
    challenge: (Vec<u8>, crate::Argon2Params, Vec<u8>, crate::Normalization),
) -> Result<protocol::ScramResponse, ShadowError> {
    let (user, pw) = (username.to_owned(), password.clone());
    let (salt, params, nonce, normalization) = challenge;
    off_executor(move || protocol::respond(&user, &pw, &salt, params, &nonce, normalization)).await
}

impl ShadowStore {
    /// The store installed in `schema` (usually `shadow`).
    pub fn new(schema: &str) -> ShadowStore {
        ShadowStore {
            q: Queries::new(schema),
        }
    }

    /// The store's policy: mode, argon2id parameters, bcrypt cost.
    pub async fn policy(&self, client: &Client) -> Result<Policy, ShadowError> {
        let row = client
            .query_one(&self.q.parameters, &[])
            .await
            .map_err(|e| self.q.err(e))?;
        protocol::decode_policy(&row)
    }

    /// Sign-up: sets the password of a user that has none. False (and nothing changed) when the
    /// user already has one. The application role may do this.
    pub async fn enrol(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
    ) -> Result<bool, ShadowError> {
        let policy = self.policy(client).await?;
        let request = prepare_set(username, password, policy).await?;
        self.write(client, Write::Enrol, username, &request).await
    }

    /// Sets or replaces any user's password in the store's current mode. Admin role only: the
    /// application role gets 42501.
    pub async fn set_password(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
    ) -> Result<(), ShadowError> {
        let policy = self.policy(client).await?;
        let request = prepare_set(username, password, policy).await?;
        self.write(client, Write::Set, username, &request).await?;
        Ok(())
    }

    async fn write(
        &self,
        client: &Client,
        how: Write<'_>,
        username: &str,
        request: &SetRequest,
    ) -> Result<bool, ShadowError> {
        let row = match request {
            SetRequest::Scram(v) => {
                let (m, t, p) = v.params_i32();
                let (salt, stored, server) = (&v.salt, &v.stored_key[..], &v.server_key[..]);
                match how {
                    Write::Replace(token) => {
                        client
                            .query_one(
                                &self.q.replace_scram,
                                &[&username, &token, salt, &m, &t, &p, &stored, &server],
                            )
                            .await
                    }
                    _ => {
                        client
                            .query_one(
                                self.q.scram_write(how),
                                &[&username, salt, &m, &t, &p, &stored, &server],
                            )
                            .await
                    }
                }
            }
            SetRequest::Bcrypt(pw) => match how {
                Write::Replace(token) => {
                    client
                        .query_one(
                            &self.q.replace_bcrypt,
                            &[&username, &token, &pw.expose_secret()],
                        )
                        .await
                }
                _ => {
                    client
                        .query_one(self.q.bcrypt_write(how), &[&username, &pw.expose_secret()])
                        .await
                }
            },
        }
        .map_err(|e| self.q.err(e))?;
        protocol::decode_written(&row, how)
    }

    /// Checks `password`; on success with a verifier weaker than the policy, replaces it.
    pub async fn verify(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Verdict, ShadowError> {
        Ok(self
            .verify_outcome(client, username, password)
            .await?
            .verdict)
    }

    /// Like [`verify`](Self::verify), also saying whether the verifier was upgraded. The upgrade
    /// uses the one-time token the successful login earned; nothing else may replace it.
    pub async fn verify_outcome(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Outcome, ShadowError> {
        let challenge = self.begin(client, username).await?;
        let answer = self.check(client, username, password, challenge).await?;
        let rehashed = match &answer.rehash_token {
            Some(token) => self.rehash(client, username, password, token).await?,
            None => false,
        };
        Ok(Outcome {
            verdict: answer.verdict,
            rehashed,
        })
    }

    async fn rehash(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
        token: &str,
    ) -> Result<bool, ShadowError> {
        let policy = self.policy(client).await?;
        match prepare_set(username, password, policy).await {
            Ok(request) => {
                self.write(client, Write::Replace(token), username, &request)
                    .await
            }
            // A version 1 password SASLprep refuses keeps its old verifier; the login stands.
            Err(ShadowError::Unnormalizable(_)) | Err(ShadowError::PasswordTooLong { .. }) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    async fn begin(&self, client: &Client, username: &str) -> Result<Challenge, ShadowError> {
        let row = client
            .query_one(&self.q.begin_login, &[&username])
            .await
            .map_err(|e| self.q.err(e))?;
        protocol::decode_challenge(&row)
    }

    async fn check(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
        challenge: Challenge,
    ) -> Result<Answer, ShadowError> {
        match challenge {
            Challenge::Bcrypt { normalization } => {
                let pw = protocol::bcrypt_password(password, normalization);
                let row = client
                    .query_one(&self.q.check_bcrypt, &[&username, &pw.expose_secret()])
                    .await
                    .map_err(|e| self.q.err(e))?;
                protocol::decode_bcrypt_answer(&row)
            }
            Challenge::Scram {
                salt,
                params,
                server_nonce,
                normalization,
            } => {
                let r = respond(
                    username,
                    password,
                    (salt, params, server_nonce, normalization),
                )
                .await?;
                let row = client
                    .query_one(
                        &self.q.finish_login,
                        &[&username, &r.client_nonce, &r.server_nonce, &&r.proof[..]],
                    )
                    .await
                    .map_err(|e| self.q.err(e))?;
                r.finish(&row)
            }
        }
    }

    /// Changes a password with proof of the current one, in one call to the store. `Ok` when
    /// changed; `Bad` (a counted failure) or `Locked` when not. The application role may do this.
    pub async fn change_password(
        &self,
        client: &Client,
        username: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<Verdict, ShadowError> {
        let policy = self.policy(client).await?;
        // The new password is checked before anything is sent, so a bad one costs no attempt.
        let request = prepare_set(username, new, policy).await?;
        let challenge = self.begin(client, username).await?;
        match (
            protocol::plan_change(&challenge, &policy),
            &request,
            challenge,
        ) {
            (
                ChangePlan::Scram,
                SetRequest::Scram(v),
                Challenge::Scram {
                    salt,
                    params,
                    server_nonce,
                    normalization,
                },
            ) => {
                let r = respond(
                    username,
                    current,
                    (salt, params, server_nonce, normalization),
                )
                .await?;
                let (m, t, p) = v.params_i32();
                let row = client
                    .query_one(
                        &self.q.change_scram,
                        &[
                            &username,
                            &r.client_nonce,
                            &r.server_nonce,
                            &&r.proof[..],
                            &v.salt,
                            &m,
                            &t,
                            &p,
                            &&v.stored_key[..],
                            &&v.server_key[..],
                        ],
                    )
                    .await
                    .map_err(|e| self.q.err(e))?;
                r.finish_change(&row)
            }
            (
                ChangePlan::Bcrypt,
                SetRequest::Bcrypt(new_pw),
                Challenge::Bcrypt { normalization },
            ) => {
                let cur = protocol::bcrypt_password(current, normalization);
                let row = client
                    .query_one(
                        &self.q.change_bcrypt,
                        &[&username, &cur.expose_secret(), &new_pw.expose_secret()],
                    )
                    .await
                    .map_err(|e| self.q.err(e))?;
                protocol::decode_verdict(&row)
            }
            (_, _, challenge) => {
                let answer = self.check(client, username, current, challenge).await?;
                match (answer.verdict, &answer.rehash_token) {
                    (Verdict::Ok, Some(token)) => {
                        if self
                            .write(client, Write::Replace(token), username, &request)
                            .await?
                        {
                            Ok(Verdict::Ok)
                        } else {
                            Err(ShadowError::Protocol(
                                "the store refused the token of the login that was just made"
                                    .into(),
                            ))
                        }
                    }
                    (Verdict::Ok, None) => Err(ShadowError::Protocol(
                        "the store gave no rehash token for a verifier in another mode".into(),
                    )),
                    (v, _) => Ok(v),
                }
            }
        }
    }

    /// A one-time reset token for `username` (None when the user has no password), valid for
    /// `valid_for` (None: the store's reset_ttl, 1 hour unless changed). Admin role only. Only
    /// its hash is stored: this is the one time it can be seen.
    pub async fn issue_reset_token(
        &self,
        client: &Client,
        username: &str,
        valid_for: Option<Duration>,
    ) -> Result<Option<SecretString>, ShadowError> {
        let ms = protocol::duration_ms(valid_for)?;
        let row = client
            .query_one(&self.q.issue_reset_token, &[&username, &ms])
            .await
            .map_err(|e| self.q.err(e))?;
        Ok(row.get::<_, Option<String>>(0).map(SecretString::from))
    }

    /// Sets a new password with a reset token. False (nothing changed) when the token is wrong,
    /// used, expired or someone else's. The application role may do this.
    pub async fn reset_password(
        &self,
        client: &Client,
        username: &str,
        token: &SecretString,
        new: &SecretString,
    ) -> Result<bool, ShadowError> {
        let policy = self.policy(client).await?;
        let request = prepare_set(username, new, policy).await?;
        self.write(
            client,
            Write::Replace(token.expose_secret()),
            username,
            &request,
        )
        .await
    }

    /// Locks `username` until `until` (None: until unlocked). False when there is no such user.
    /// Admin role only.
    pub async fn lock(
        &self,
        client: &Client,
        username: &str,
        until: Option<std::time::SystemTime>,
    ) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.lock, &[&username, &until])
            .await
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }

    /// Unlocks `username` and clears its failure count. False when there is no such user.
    /// Admin role only.
    pub async fn unlock(&self, client: &Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.unlock, &[&username])
            .await
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }

    /// Removes `username`'s password. False when there was none. Admin role only.
    pub async fn delete(&self, client: &Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.delete, &[&username])
            .await
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }
}
