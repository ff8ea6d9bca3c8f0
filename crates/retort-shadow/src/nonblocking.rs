//! The store over the async `tokio-postgres` client, for web applications. argon2id runs on
//! tokio's blocking pool so a login never stalls the executor.

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::Client;

use crate::error::ShadowError;
use crate::protocol::{self, Answer, Challenge, Outcome, Policy, Queries, SetRequest, Verdict};

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

    /// Sets (or replaces) `username`'s password in the store's current mode.
    pub async fn set_password(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
    ) -> Result<(), ShadowError> {
        let policy = self.policy(client).await?;
        let (user, pw) = (username.to_owned(), password.clone());
        let request = off_executor(move || protocol::prepare_set(&user, &pw, &policy)).await?;
        match request {
            SetRequest::Scram(v) => {
                let (m, t, p) = (v.params.m_kib as i32, v.params.t as i32, v.params.p as i32);
                client
                    .query_one(
                        &self.q.set_scram,
                        &[
                            &username,
                            &v.salt,
                            &m,
                            &t,
                            &p,
                            &&v.stored_key[..],
                            &&v.server_key[..],
                        ],
                    )
                    .await
            }
            SetRequest::Bcrypt => {
                client
                    .query_one(&self.q.set_bcrypt, &[&username, &password.expose_secret()])
                    .await
            }
        }
        .map_err(|e| self.q.err(e))?;
        Ok(())
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

    /// Like [`verify`](Self::verify), also saying whether the verifier was upgraded.
    pub async fn verify_outcome(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Outcome, ShadowError> {
        let answer = self.check(client, username, password).await?;
        let rehashed = answer.needs_rehash;
        if rehashed {
            self.set_password(client, username, password).await?;
        }
        Ok(Outcome {
            verdict: answer.verdict,
            rehashed,
        })
    }

    async fn check(
        &self,
        client: &Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Answer, ShadowError> {
        let row = client
            .query_one(&self.q.begin_login, &[&username])
            .await
            .map_err(|e| self.q.err(e))?;
        match protocol::decode_challenge(&row)? {
            Challenge::Bcrypt => {
                let row = client
                    .query_one(
                        &self.q.check_bcrypt,
                        &[&username, &password.expose_secret()],
                    )
                    .await
                    .map_err(|e| self.q.err(e))?;
                protocol::decode_bcrypt_answer(&row)
            }
            Challenge::Scram {
                salt,
                params,
                server_nonce,
            } => {
                let (user, pw) = (username.to_owned(), password.clone());
                let r = off_executor(move || {
                    protocol::respond(&user, &pw, &salt, params, &server_nonce)
                })
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

    /// Locks `username` until `until` (None: until unlocked). False when there is no such user.
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
    pub async fn unlock(&self, client: &Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.unlock, &[&username])
            .await
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }

    /// Removes `username`'s password. False when there was none.
    pub async fn delete(&self, client: &Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.delete, &[&username])
            .await
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }
}
