//! The database side: `version` (one row per current head) and `history` (every up, down, stamp,
//! repair and failed run), and the advisory lock that serialises runners.

use std::time::{Duration, Instant};

use retort_pg::{quote_ident, Client};
use sha2::{Digest, Sha256};

use crate::error::{db, MigrateError};

/// The tables retort keeps in one schema (`retort` by default).
#[derive(Debug, Clone)]
pub struct VersionStore {
    schema: String,
}

/// One row of `history`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HistoryEntry {
    /// Increasing id.
    pub id: i64,
    /// The revision.
    pub revision: String,
    /// up, down, stamp, repair or failed.
    pub direction: String,
    /// SHA-256 of the up section at the time (none for down and for stamp removals).
    pub checksum: Option<String>,
    /// The migration's message.
    pub message: String,
    /// When (server clock, ISO 8601).
    pub applied_at: String,
    /// Database role that ran it.
    pub applied_by: String,
    /// How long the SQL took, in milliseconds.
    pub duration_ms: Option<f64>,
    /// Free text: why a run failed, what a repair replaced, "offline script".
    pub note: Option<String>,
}

/// What the version table says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeads {
    /// False when the tables do not exist yet (nothing was ever applied).
    pub initialized: bool,
    /// The rows of `version`, sorted.
    pub heads: Vec<String>,
}

impl VersionStore {
    /// The store in `schema`.
    pub fn new(schema: impl Into<String>) -> VersionStore {
        VersionStore {
            schema: schema.into(),
        }
    }

    /// The schema name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// `schema.table`, quoted.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(table))
    }

    /// DDL creating the schema and both tables if they are missing (also used in offline scripts).
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};\n\
             CREATE TABLE IF NOT EXISTS {version} (\n    revision text PRIMARY KEY\n);\n\
             CREATE TABLE IF NOT EXISTS {history} (\n    \
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    \
             revision text NOT NULL,\n    \
             direction text NOT NULL CHECK (direction IN ('up', 'down', 'stamp', 'repair', 'failed')),\n    \
             checksum text,\n    \
             message text NOT NULL DEFAULT '',\n    \
             applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n    \
             applied_by text NOT NULL DEFAULT current_user,\n    \
             duration_ms double precision,\n    \
             note text\n);\n\
             CREATE INDEX IF NOT EXISTS {index} ON {history} (revision, id);\n{partial}{shapes}",
            partial = self.partial_sql(),
            shapes = crate::shape::registry_sql(&self.schema),
            schema = quote_ident(&self.schema),
            version = self.table("version"),
            history = self.table("history"),
            index = quote_ident("history_revision_id_idx"),
        )
    }

    /// DDL of the table where a running `transaction off` migration records how many of its
    /// statements are done, so that a run cut off in the middle resumes after them. Only online
    /// runs use it (an offline script has no one to resume it), but every version store has it.
    pub fn partial_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {partial} (\n    \
             revision text NOT NULL,\n    \
             direction text NOT NULL,\n    \
             checksum text NOT NULL,\n    \
             statements integer NOT NULL,\n    \
             done integer NOT NULL,\n    \
             running integer,\n    \
             updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),\n    \
             PRIMARY KEY (revision, direction)\n);\n",
            partial = self.table("partial"),
        )
    }

    /// Creates what is missing. Call it while holding [`MigrationLock`].
    pub fn ensure(&self, client: &mut Client) -> Result<(), MigrateError> {
        client
            .batch_execute(&(self.create_sql() + &self.partial_sql()))
            .map_err(db(format!(
                "creating the version tables in schema {}",
                self.schema
            )))
    }

    /// Reads the version table; a missing table means nothing was applied yet.
    pub fn heads(&self, client: &mut Client) -> Result<StoredHeads, MigrateError> {
        let sql = format!(
            "SELECT revision FROM {} ORDER BY revision",
            self.table("version")
        );
        match client.query(&sql, &[]) {
            Ok(rows) => Ok(StoredHeads {
                initialized: true,
                heads: rows.iter().map(|r| r.get(0)).collect(),
            }),
            Err(e) if is_missing_relation(&e) => Ok(StoredHeads {
                initialized: false,
                heads: Vec::new(),
            }),
            Err(e) => Err(db("reading the version table")(e)),
        }
    }

    /// The checksum recorded by the latest up/stamp/repair of each of `revisions` (when the
    /// latest entry is one of those and recorded a checksum).
    pub fn checksums(
        &self,
        client: &mut Client,
        revisions: &[String],
    ) -> Result<Vec<(String, String)>, MigrateError> {
        let sql = format!(
            "SELECT revision, checksum FROM (\
               SELECT DISTINCT ON (revision) revision, direction, checksum FROM {} \
               WHERE revision = ANY($1) AND direction <> 'failed' \
               ORDER BY revision, id DESC) latest \
             WHERE direction IN ('up', 'stamp', 'repair') AND checksum IS NOT NULL",
            self.table("history")
        );
        let rows = client
            .query(&sql, &[&revisions])
            .map_err(db("reading checksums from the history table"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// All history rows, oldest first (`limit` newest when given).
    pub fn history(
        &self,
        client: &mut Client,
        limit: Option<i64>,
    ) -> Result<Vec<HistoryEntry>, MigrateError> {
        let sql = format!(
            "SELECT * FROM (SELECT id, revision, direction, checksum, message, \
               to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
               applied_by, duration_ms, note FROM {} ORDER BY id DESC LIMIT $1) h ORDER BY id",
            self.table("history")
        );
        let rows = match client.query(&sql, &[&limit]) {
            Ok(rows) => rows,
            Err(e) if is_missing_relation(&e) => return Ok(Vec::new()),
            Err(e) => return Err(db("reading the history table")(e)),
        };
        Ok(rows
            .iter()
            .map(|r| HistoryEntry {
                id: r.get(0),
                revision: r.get(1),
                direction: r.get(2),
                checksum: r.get(3),
                message: r.get(4),
                applied_at: r.get(5),
                applied_by: r.get(6),
                duration_ms: r.get(7),
                note: r.get(8),
            })
            .collect())
    }

    /// The advisory-lock key for this store: the same for every runner using this schema.
    pub fn lock_key(&self) -> i64 {
        let digest = Sha256::digest(format!("retort migrate {}", self.schema).as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }
}

/// Held while a runner changes the database; released on drop of the connection or by
/// [`MigrationLock::release`].
#[derive(Debug)]
pub struct MigrationLock {
    key: i64,
}

impl MigrationLock {
    /// Takes the session advisory lock, polling every 50 ms for up to `wait`. `on_wait` is
    /// called once, with a description of the holder, when the lock is busy.
    ///
    /// Errors: [`MigrateError::LockTimeout`] naming the holder.
    pub fn acquire(
        client: &mut Client,
        store: &VersionStore,
        wait: Duration,
        on_wait: &mut dyn FnMut(&str),
    ) -> Result<MigrationLock, MigrateError> {
        let key = store.lock_key();
        let started = Instant::now();
        let mut told = false;
        loop {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(db("taking the migration lock"))?
                .get(0);
            if got {
                return Ok(MigrationLock { key });
            }
            if !told {
                told = true;
                on_wait(&lock_holder(client, key)?);
            }
            if started.elapsed() >= wait {
                return Err(MigrateError::LockTimeout {
                    schema: store.schema.clone(),
                    holder: lock_holder(client, key)?,
                    waited_ms: started.elapsed().as_millis(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Releases the lock.
    pub fn release(self, client: &mut Client) -> Result<(), MigrateError> {
        client
            .query_one("SELECT pg_advisory_unlock($1)", &[&self.key])
            .map_err(db("releasing the migration lock"))?;
        Ok(())
    }
}

/// "pid 1234 (retort migrate, app@10.0.0.5, running for 12 s: <query>)" for the lock's holder.
fn lock_holder(client: &mut Client, key: i64) -> Result<String, MigrateError> {
    let classid = (key >> 32) as u32;
    let objid = key as u32;
    let rows = client
        .query(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), \
                    coalesce(host(a.client_addr), 'local socket'), \
                    coalesce(extract(epoch FROM now() - a.backend_start)::float8, 0), \
                    coalesce(a.state, ''), left(coalesce(a.query, ''), 200) \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted \
               AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1",
            &[&classid, &objid],
        )
        .map_err(db("looking up who holds the migration lock"))?;
    let Some(r) = rows.first() else {
        return Ok("a backend that has just released it".into());
    };
    let pid: i32 = r.get(0);
    let app: String = r.get(1);
    let user: String = r.get(2);
    let from: String = r.get(3);
    let secs: f64 = r.get(4);
    let state: String = r.get(5);
    let query: String = r.get(6);
    Ok(format!(
        "pid {pid} (application \"{app}\", user {user} from {from}, connected {secs:.0} s ago, \
         {state}: {query})"
    ))
}

fn is_missing_relation(e: &postgres::Error) -> bool {
    // undefined_table, or invalid_schema_name when the schema itself is missing.
    matches!(e.code().map(|c| c.code()), Some("42P01") | Some("3F000"))
}
