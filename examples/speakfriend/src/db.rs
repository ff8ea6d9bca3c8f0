//! All the SQL the app runs: migrations at start, users, notes, and read-your-writes.

use std::time::Duration;

use anyhow::{bail, Result};
use retort_migrate::include_dir::{self, include_dir, Dir};
use retort_replica::{Lsn, ReplayWait};
use retort_shadow::nonblocking::ShadowStore;
use retort_shadow::{SecretString, Verdict};
use tokio_postgres::{Client, NoTls};

use crate::Config;

static MIGRATIONS: Dir = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// The embedded migrations (for tools and tests that run them as the app does).
pub static MIGRATIONS_DIR: &Dir = &MIGRATIONS;

/// Runs the embedded migrations on the primary (retort refuses a standby), then waits until
/// the synchronous standbys have replayed them. Returns the WAL position after them: reads on
/// an asynchronous standby wait for at least that, so the app never reads an older schema.
///
/// A release upgrades to the revision it was built at; a two-phase change's contract is left to
/// `retort complete` (upgrade stops before it).
pub async fn migrate(config: &Config) -> Result<Lsn> {
    let url = config.migrate_url.clone();
    let version = config.version;
    tokio::task::spawn_blocking(move || -> Result<Lsn> {
        let graph = retort_migrate::from_embedded(&MIGRATIONS)?;
        let mut client = retort_pg::connect(&retort_pg::ConnConfig::parse(&url)?)?;
        let target = match version.revision() {
            Some(r) => retort_migrate::Target::Named(r.to_owned()),
            None => retort_migrate::Target::Heads,
        };
        let report = retort_migrate::upgrade(&mut client, &graph, target)?;
        tracing::info!(
            "migrations: {} applied, at {}",
            report.plan.steps.len(),
            report.plan.to_heads.join(", ")
        );
        let topology = retort_replica::Topology::read(&mut client)?;
        let lsn = retort_replica::current_lsn(&mut client)?;
        if topology.sync_names.is_some() {
            retort_replica::wait_for_replay(
                &mut client,
                lsn,
                retort_replica::WaitMode::Sync,
                Duration::from_secs(60),
                &mut [],
                |_, _| {},
            )?;
            tracing::info!("the synchronous standby has replayed the migrations");
        }
        Ok(lsn)
    })
    .await?
}

async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(|e| {
        anyhow::anyhow!(
            "connecting to {}: {}",
            retort_pg::redact_conn_string(url),
            retort_pg::PgError::from(e)
        )
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!("database connection closed: {e}");
        }
    });
    Ok(client)
}

/// Where a read was served from, in words for the page.
pub struct ReadFrom {
    pub text: String,
    pub standby: bool,
}

/// One note.
#[derive(serde::Serialize)]
pub struct Note {
    pub body: String,
    pub at: String,
}

/// The revision a release was built at: its own, or the migrations' head.
pub fn revision_of(version: crate::AppVersion) -> Result<String> {
    if let Some(r) = version.revision() {
        return Ok(r.to_owned());
    }
    let graph = retort_migrate::from_embedded(&MIGRATIONS)?;
    match graph.heads().as_slice() {
        [one] => Ok(one.revision.clone()),
        many => bail!("the embedded migrations have {} heads", many.len()),
    }
}

/// The app's connections (its own role) and the password store.
pub struct Db {
    /// The notes column of this release (`text`, or `body` before the rename).
    notes_column: &'static str,
    primary: Client,
    replica: Option<Client>,
    store: ShadowStore,
    read_wait: Duration,
    /// Where the migrations ended: a standby behind it has an older schema than this app.
    schema_lsn: Lsn,
}

/// What a login attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    Ok,
    /// Wrong name, wrong password or a locked account: the page says the same for all three.
    Refused,
}

impl Db {
    /// Connects as the app's role. Each connection selects this release's shape of the tables
    /// (`search_path`: while a later change is expanded, the release before it reads views of
    /// its old names), and the primary's registers the session, so `retort complete` waits
    /// while this release still runs (a standby is read-only: it only sets the path).
    pub async fn connect(config: &Config, schema_lsn: Lsn) -> Result<Db> {
        let revision = revision_of(config.version)?;
        let primary = connect(&config.primary_url).await?;
        primary
            .batch_execute(&retort_migrate::shape::use_shape_sql("retort", &revision))
            .await?;
        let replica = match &config.replica_url {
            Some(u) => {
                let r = connect(u).await?;
                r.batch_execute(&format!(
                    "SET search_path = {}",
                    retort_migrate::shape::search_path(&revision)
                ))
                .await?;
                Some(r)
            }
            None => None,
        };
        Ok(Db {
            notes_column: config.version.notes_column(),
            primary,
            replica,
            store: ShadowStore::new("shadow"),
            read_wait: config.read_wait,
            schema_lsn,
        })
    }

    /// Creates the user and their password; false when the name is taken.
    pub async fn sign_up(&self, username: &str, password: &SecretString) -> Result<bool> {
        let inserted = self
            .primary
            .execute(
                "INSERT INTO users (username) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&username],
            )
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        // The store's sign-up call never replaces an existing password.
        match self.store.enrol(&self.primary, username, password).await {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.primary
                    .execute("DELETE FROM users WHERE username = $1", &[&username])
                    .await?;
                Ok(false)
            }
            Err(e) => {
                self.primary
                    .execute("DELETE FROM users WHERE username = $1", &[&username])
                    .await?;
                Err(e.into())
            }
        }
    }

    pub async fn log_in(&self, username: &str, password: &SecretString) -> Result<Login> {
        Ok(
            match self.store.verify(&self.primary, username, password).await? {
                Verdict::Ok => Login::Ok,
                Verdict::Bad | Verdict::Locked => Login::Refused,
            },
        )
    }

    /// Changes the password with proof of the current one, in one call to the store (a wrong
    /// current password counts as a failed login).
    pub async fn change_password(
        &self,
        username: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<bool> {
        Ok(self
            .store
            .change_password(&self.primary, username, current, new)
            .await?
            == Verdict::Ok)
    }

    /// Sets a new password with a one-time reset code an operator issued
    /// (`retort shadow reset-token USER`); false when the code is wrong, used or expired.
    pub async fn reset_password(
        &self,
        username: &str,
        code: &SecretString,
        new: &SecretString,
    ) -> Result<bool> {
        Ok(self
            .store
            .reset_password(&self.primary, username, code, new)
            .await?)
    }

    /// Adds a note on the primary; returns the WAL position after it, for read-your-writes.
    pub async fn add_note(&self, username: &str, body: &str) -> Result<Lsn> {
        if body.trim().is_empty() || body.len() > 2000 {
            bail!("a note has 1 to 2000 characters");
        }
        self.primary
            .execute(
                &format!(
                    "INSERT INTO notes (username, {}) VALUES ($1, $2)",
                    self.notes_column
                ),
                &[&username, &body],
            )
            .await?;
        Ok(retort_replica::current_lsn_async(&self.primary).await?)
    }

    /// The user's notes, from the standby when it has replayed `last_write` within the bounded
    /// wait, else from the primary.
    pub async fn notes(
        &self,
        username: &str,
        last_write: Option<Lsn>,
    ) -> Result<(Vec<Note>, ReadFrom)> {
        // At least the app's own schema, and this session's last write if it made one.
        let wanted = last_write.map_or(self.schema_lsn, |l| l.max(self.schema_lsn));
        let (client, from) = match &self.replica {
            None => (&self.primary, ReadFrom { text: "the primary (no standby is configured)".into(), standby: false }),
            Some(r) => match retort_replica::wait_for_lsn_async(r, wanted, self.read_wait).await {
                Ok(ReplayWait::Caught { after }) => (
                    r,
                    ReadFrom {
                        text: if last_write.is_some() {
                            format!(
                                "the asynchronous standby, which replayed your last write after waiting {} ms",
                                after.as_millis()
                            )
                        } else {
                            "the asynchronous standby".to_owned()
                        },
                        standby: true,
                    },
                ),
                Ok(ReplayWait::TimedOut { .. }) | Err(_) => (
                    &self.primary,
                    ReadFrom {
                        text: format!(
                            "the primary: the standby had not replayed your last write within {} ms",
                            self.read_wait.as_millis()
                        ),
                        standby: false,
                    },
                ),
            },
        };
        let rows = client
            .query(
                &format!(
                    "SELECT {}, to_char(created_at, 'YYYY-MM-DD HH24:MI:SS') FROM notes \
                     WHERE username = $1 ORDER BY id DESC LIMIT 100",
                    self.notes_column
                ),
                &[&username],
            )
            .await?;
        Ok((
            rows.iter()
                .map(|r| Note {
                    body: r.get(0),
                    at: r.get(1),
                })
                .collect(),
            from,
        ))
    }
}
