//! The store over the blocking `postgres` client (the CLI uses this).

use std::time::Duration;

use postgres::Client;
use secrecy::{ExposeSecret, SecretString};

use crate::error::ShadowError;
use crate::protocol::{
    self, Answer, Challenge, ChangePlan, Outcome, Policy, Queries, SetRequest, Verdict, Write,
};

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

    /// Sign-up: sets the password of a user that has none. False (and nothing changed) when the
    /// user already has one. The application role may do this.
    pub fn enrol(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
    ) -> Result<bool, ShadowError> {
        let policy = self.policy(client)?;
        let request = protocol::prepare_set(username, password, &policy)?;
        self.write(client, Write::Enrol, username, &request)
    }

    /// Sets or replaces any user's password in the store's current mode. Admin role only: the
    /// application role gets 42501.
    pub fn set_password(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
    ) -> Result<(), ShadowError> {
        let policy = self.policy(client)?;
        let request = protocol::prepare_set(username, password, &policy)?;
        self.write(client, Write::Set, username, &request)?;
        Ok(())
    }

    fn write(
        &self,
        client: &mut Client,
        how: Write<'_>,
        username: &str,
        request: &SetRequest,
    ) -> Result<bool, ShadowError> {
        let row = match request {
            SetRequest::Scram(v) => {
                let (m, t, p) = v.params_i32();
                let (salt, stored, server) = (&v.salt, &v.stored_key[..], &v.server_key[..]);
                match how {
                    Write::Replace(token) => client.query_one(
                        &self.q.replace_scram,
                        &[&username, &token, salt, &m, &t, &p, &stored, &server],
                    ),
                    _ => client.query_one(
                        self.q.scram_write(how),
                        &[&username, salt, &m, &t, &p, &stored, &server],
                    ),
                }
            }
            SetRequest::Bcrypt(pw) => match how {
                Write::Replace(token) => client.query_one(
                    &self.q.replace_bcrypt,
                    &[&username, &token, &pw.expose_secret()],
                ),
                _ => client.query_one(self.q.bcrypt_write(how), &[&username, &pw.expose_secret()]),
            },
        }
        .map_err(|e| self.q.err(e))?;
        protocol::decode_written(&row, how)
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

    /// Like [`verify`](Self::verify), also saying whether the verifier was upgraded. The upgrade
    /// uses the one-time token the successful login earned; nothing else may replace it.
    pub fn verify_outcome(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
    ) -> Result<Outcome, ShadowError> {
        let challenge = self.begin(client, username)?;
        let answer = self.check(client, username, password, challenge)?;
        let rehashed = match &answer.rehash_token {
            Some(token) => self.rehash(client, username, password, token)?,
            None => false,
        };
        Ok(Outcome {
            verdict: answer.verdict,
            rehashed,
        })
    }

    fn rehash(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
        token: &str,
    ) -> Result<bool, ShadowError> {
        let policy = self.policy(client)?;
        match protocol::prepare_set(username, password, &policy) {
            Ok(request) => self.write(client, Write::Replace(token), username, &request),
            // A version 1 password SASLprep refuses keeps its old verifier; the login stands.
            Err(ShadowError::Unnormalizable(_)) | Err(ShadowError::PasswordTooLong { .. }) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn begin(&self, client: &mut Client, username: &str) -> Result<Challenge, ShadowError> {
        let row = client
            .query_one(&self.q.begin_login, &[&username])
            .map_err(|e| self.q.err(e))?;
        protocol::decode_challenge(&row)
    }

    fn check(
        &self,
        client: &mut Client,
        username: &str,
        password: &SecretString,
        challenge: Challenge,
    ) -> Result<Answer, ShadowError> {
        match challenge {
            Challenge::Bcrypt { normalization } => {
                let pw = protocol::bcrypt_password(password, normalization);
                let row = client
                    .query_one(&self.q.check_bcrypt, &[&username, &pw.expose_secret()])
                    .map_err(|e| self.q.err(e))?;
                protocol::decode_bcrypt_answer(&row)
            }
            Challenge::Scram {
                salt,
                params,
                server_nonce,
                normalization,
            } => {
                let r = protocol::respond(
                    username,
                    password,
                    &salt,
                    params,
                    &server_nonce,
                    normalization,
                )?;
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

    /// Changes a password with proof of the current one, in one call to the store. `Ok` when
    /// changed; `Bad` (a counted failure) or `Locked` when not. The application role may do this.
    pub fn change_password(
        &self,
        client: &mut Client,
        username: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<Verdict, ShadowError> {
        let policy = self.policy(client)?;
        // The new password is checked before anything is sent, so a bad one costs no attempt.
        let request = protocol::prepare_set(username, new, &policy)?;
        let challenge = self.begin(client, username)?;
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
                let r = protocol::respond(
                    username,
                    current,
                    &salt,
                    params,
                    &server_nonce,
                    normalization,
                )?;
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
                    .map_err(|e| self.q.err(e))?;
                protocol::decode_verdict(&row)
            }
            (_, _, challenge) => {
                let answer = self.check(client, username, current, challenge)?;
                match (answer.verdict, &answer.rehash_token) {
                    (Verdict::Ok, Some(token)) => {
                        if self.write(client, Write::Replace(token), username, &request)? {
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
    pub fn issue_reset_token(
        &self,
        client: &mut Client,
        username: &str,
        valid_for: Option<Duration>,
    ) -> Result<Option<SecretString>, ShadowError> {
        let ms = protocol::duration_ms(valid_for)?;
        let row = client
            .query_one(&self.q.issue_reset_token, &[&username, &ms])
            .map_err(|e| self.q.err(e))?;
        Ok(row.get::<_, Option<String>>(0).map(SecretString::from))
    }

    /// Sets a new password with a reset token. False (nothing changed) when the token is wrong,
    /// used, expired or someone else's. The application role may do this.
    pub fn reset_password(
        &self,
        client: &mut Client,
        username: &str,
        token: &SecretString,
        new: &SecretString,
    ) -> Result<bool, ShadowError> {
        let policy = self.policy(client)?;
        let request = protocol::prepare_set(username, new, &policy)?;
        self.write(
            client,
            Write::Replace(token.expose_secret()),
            username,
            &request,
        )
    }

    /// Locks `username` until `until` (None: until unlocked). False when there is no such user.
    /// Admin role only.
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
    /// Admin role only.
    pub fn unlock(&self, client: &mut Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.unlock, &[&username])
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }

    /// Removes `username`'s password. False when there was none. Admin role only.
    pub fn delete(&self, client: &mut Client, username: &str) -> Result<bool, ShadowError> {
        let row = client
            .query_one(&self.q.delete, &[&username])
            .map_err(|e| self.q.err(e))?;
        Ok(row.get(0))
    }

    /// Imports bcrypt hashes (checked with [`crate::import::hash_format`] first) for users that have
    /// no password yet, in one statement. Returns the names skipped because the store already
    /// has a password for them. Admin role only.
    pub fn import_bcrypt(
        &self,
        client: &mut Client,
        usernames: &[String],
        hashes: &[String],
    ) -> Result<Vec<String>, ShadowError> {
        let rows = client
            .query(&self.q.import_bcrypt, &[&usernames, &hashes])
            .map_err(|e| self.q.err(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
