//! The store over the blocking `postgres` client (the CLI uses this).

use postgres::Client;
use secrecy::{ExposeSecret, SecretString};

use crate::error::ShadowError;
use crate::protocol::{self, Answer, Challenge, Outcome, Policy, Queries, SetRequest, Verdict};

/// A shadow store in one schema; cheap to clone, holds no connection.
#[derive(Debug, Clone)]
pub struct ShadowStore {
    q: Queries,
}

impl ShadowStore {
    /// The store installed in `schema` (usually `shadow`).
    pub fn new(schema: &str) -> ShadowStore {
        ShadowStore {
            q: Queries::new(schema),
        }
    }

    /// The store's policy: mode, argon2id parameters, bcrypt cost.
    pub fn policy(&self, client: &mut Client) -> Result<Policy, ShadowError> {
        let row = client
            .query_one(&self.q.parameters, &[])
            .map_err(|e| self.q.err(e))?;
        protocol::decode_policy(&row)
    }

    /// Sets (or replaces) `username`'s password in the store's current mode.
    pub fn set_password(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
    ) -> Result<(), ShadowError> {
        let policy = self.policy(client)?;
        self.set_with(client, username, password, &policy)
    }

    fn set_with(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
        policy: &Policy,
    ) -> Result<(), ShadowError> {
        match protocol::prepare_set(username, password, policy)? {
            SetRequest::Scram(v) => {
                let (m, t, p) = (v.params.m_kib as i32, v.params.t as i32, v.params.p as i32);
                client.query_one(
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
            }
            SetRequest::Bcrypt => {
                client.query_one(&self.q.set_bcrypt, &[&username, &password.expose_secret()])
            }
        }
        .map_err(|e| self.q.err(e))?;
        Ok(())
    }

    /// Checks `password`; on success with a verifier weaker than the policy, replaces it.
    pub fn verify(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Verdict, ShadowError> {
        Ok(self.verify_outcome(client, username, password)?.verdict)
    }

    /// Like [`verify`](Self::verify), also saying whether the verifier was upgraded.
    pub fn verify_outcome(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Outcome, ShadowError> {
        let answer = self.check(client, username, password)?;
        let rehashed = answer.needs_rehash;
        if rehashed {
            self.set_password(client, username, password)?;
        }
        Ok(Outcome {
            verdict: answer.verdict,
            rehashed,
        })
    }

    fn check(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Answer, ShadowError> {
        let row = client
            .query_one(&self.q.begin_login, &[&username])
            .map_err(|e| self.q.err(e))?;
        match protocol::decode_challenge(&row)? {
            Challenge::Bcrypt => {
                let row = client
                    .query_one(
                        &self.q.check_bcrypt,
                        &[&username, &password.expose_secret()],
                    )
                    .map_err(|e| self.q.err(e))?;
                protocol::decode_bcrypt_answer(&row)
            }
            Challenge::Scram {
                salt,
                params,
                server_nonce,
            } => {
                let r = protocol::respond(username, password, &salt, params, &server_nonce)?;
                let row = client
                    .query_one(
                        &self.q.finish_login,
                        &[&username, &r.client_nonce, &r.server_nonce, &&r.proof[..]],
                    )
                    .map_err(|e| self.q.err(e))?;
                r.finish(&row)
            }
        }
    }

    /// Locks `username` until `until` (None: until unlocked). False when there is no such user.
    pub fn lock(
        &self,
        client: &mut Client,
        username: &str,
        until: Option<std::time::SystemTime>,
    ) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.lock, &[&username, &until])
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }

    /// Unlocks `username` and clears its failure count. False when there is no such user.
    pub fn unlock(&self, client: &mut Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.unlock, &[&username])
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }

    /// Removes `username`'s password. False when there was none.
    pub fn delete(&self, client: &mut Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.delete, &[&username])
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }
}
