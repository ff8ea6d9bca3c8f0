//! Applying plans to a database: the lock, one transaction per migration with its version-table
//! update, timeouts, non-transactional migrations, stamp and repair.

use std::time::{Duration, Instant};

use retort_pg::{Client, PgError};

use crate::error::{db, Edited, Location, MigrateError, StatementFailure};
use crate::file::Migration;
use crate::graph::{AppliedSet, Direction, Plan, RevisionGraph, Step};
use crate::lockwatch::{Blocker, LockWatch};
use crate::store::{MigrationLock, StoredHeads, VersionStore};
use crate::target::Target;
use retort_pg::Statement;

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Schema of the version and history tables.
    pub schema: String,
    /// `SET LOCAL lock_timeout` for each migration; `None` leaves the server's setting.
    pub lock_timeout: Option<Duration>,
    /// `SET LOCAL statement_timeout` for each migration; `None` leaves the server's setting.
    pub statement_timeout: Option<Duration>,
    /// How long to wait for another runner's lock.
    pub lock_wait: Duration,
    /// The run's session `deadlock_timeout`, where its role may set it (a superuser, or
    /// `GRANT SET ON PARAMETER deadlock_timeout` on PostgreSQL 15+; else the server's
    /// setting stays). Shorter than the application's (1 s by default), so that when a
    /// migration that locks two tables deadlocks with an application statement, the
    /// migration is the one that notices and is rolled back (then tried again), not the
    /// application's statement. Default 100 ms.
    pub deadlock_timeout: Option<Duration>,
    /// How many times a transactional migration that hit `lock_timeout` (SQLSTATE 55P03) or
    /// a deadlock (40P01) is rolled back and tried again, after a jittered, doubling pause
    /// (default 3).
    pub lock_retries: u32,
    /// The first pause before such a retry; each next one doubles (default 500 ms).
    pub retry_backoff: Duration,
    /// Where a new connection reaches the same database. A second connection uses it to ask
    /// `pg_blocking_pids` who holds a lock a migration waits for (the retry messages and the
    /// error name them); and when the run's connection is lost mid-migration, the run
    /// reconnects through it, reads the version table to learn whether that migration
    /// committed, and goes on from there. None: lock timeouts are reported without their
    /// blockers, and a lost connection ends the run with [`MigrateError::ConnectionLost`].
    pub database: Option<retort_pg::ConnConfig>,
    /// How long to keep trying to reconnect after the connection is lost (default 30 s).
    pub reconnect_for: Duration,
    /// Run contract phases too (a throwaway database built to the migrations' final state);
    /// by default an upgrade stops before them and leaves them to [`MigrationRunner::complete`].
    pub run_contracts: bool,
}

impl RunnerOptions {
    /// `SET [LOCAL] lock_timeout = ...` and `statement_timeout`, for the timeouts that are set.
    pub fn timeout_statements(&self, local: bool) -> Vec<String> {
        let scope = if local { "SET LOCAL" } else { "SET" };
        let mut out = Vec::new();
        if let Some(t) = self.lock_timeout {
            out.push(format!("{scope} lock_timeout = {}", t.as_millis()));
        }
        if let Some(t) = self.statement_timeout {
            out.push(format!("{scope} statement_timeout = {}", t.as_millis()));
        }
        out
    }
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            schema: "retort".into(),
            lock_timeout: Some(Duration::from_secs(5)),
            statement_timeout: None,
            lock_wait: Duration::from_secs(60),
            deadlock_timeout: Some(Duration::from_millis(100)),
            lock_retries: 3,
            retry_backoff: Duration::from_millis(500),
            database: None,
            reconnect_for: Duration::from_secs(30),
            run_contracts: false,
        }
    }
}

/// Hooks for a progress display. Every method has an empty default.
pub trait Observer {
    /// Another runner holds the lock; we are waiting for it.
    fn waiting_for_lock(&mut self, _holder: &str) {}
    /// The plan is known and about to run.
    fn plan_ready(&mut self, _plan: &Plan) {}
    /// A migration is about to run (`index` is 0-based).
    fn step_started(
        &mut self,
        _index: usize,
        _total: usize,
        _migration: &Migration,
        _direction: Direction,
    ) {
    }
    /// A migration is committed.
    fn step_finished(
        &mut self,
        _index: usize,
        _total: usize,
        _migration: &Migration,
        _elapsed: Duration,
    ) {
    }
    /// A migration marked `-- retort:transaction off` is about to run.
    fn non_transactional(&mut self, _migration: &Migration) {}
    /// A migration (or one statement of a `transaction off` one) hit `lock_timeout`; it was
    /// rolled back and runs again after `wait` (retry `attempt` of `retries`). `blockers` held
    /// the lock it waited for, when known.
    fn lock_retry(
        &mut self,
        _migration: &Migration,
        _attempt: u32,
        _retries: u32,
        _wait: Duration,
        _blockers: &[Blocker],
    ) {
    }
    /// A migration (or one statement of a `transaction off` one) deadlocked with another
    /// session and was rolled back (it gave way: see [`RunnerOptions::deadlock_timeout`]); it
    /// runs again after `wait` (retry `attempt` of `retries`).
    fn deadlock_retry(
        &mut self,
        _migration: &Migration,
        _attempt: u32,
        _retries: u32,
        _wait: Duration,
    ) {
    }
    /// An INVALID index left by an interrupted `CREATE INDEX CONCURRENTLY` was dropped before
    /// the statement that builds it runs again.
    fn invalid_index_dropped(&mut self, _migration: &Migration, _index: &str) {}
    /// The connection was lost during `migration`; the run reconnected and read the version
    /// table, which says what became of it. [`Recovery::Committed`] goes on with the next
    /// migration; otherwise this one runs again (a `transaction off` one from where it stopped).
    fn connection_lost(&mut self, _migration: &Migration, _what: &Recovery) {}
    /// A `transaction off` migration resumes after the `done` of its `total` statements that an
    /// earlier, interrupted run applied; `unknown`: the statement it resumes at was in flight
    /// when that run was cut off, so what it did is unknown (it runs again; a CONCURRENTLY
    /// index found built and valid is kept instead).
    fn resuming(&mut self, _migration: &Migration, _done: usize, _total: usize, _unknown: bool) {}
    /// A `transaction off` migration resumed at statement `index` (1-based), whose outcome was
    /// unknown, and found it done: a `CREATE INDEX CONCURRENTLY` whose index is built and
    /// valid, or a statement that now fails only because what it creates exists (or what it
    /// drops is gone). It is counted done and the run goes on; `why` says what was found.
    fn in_doubt_statement_done(&mut self, _migration: &Migration, _index: usize, _why: &str) {}
    /// Asked before each migration: `Some(reason)` stops the run there (the migrations already
    /// committed stay; the error is [`MigrateError::Stopped`]). `upgrade --wait-each` uses it
    /// when a wait for standbys fails.
    fn should_stop(&mut self) -> Option<String> {
        None
    }
    /// Asked before each batch of a `-- retort:batch` UPDATE, with the run's connection:
    /// `Some(reason)` pauses the backfill a moment and asks again (standbys lagging, say).
    fn batch_pause(&mut self, _client: &mut Client) -> Option<String> {
        None
    }
}

/// What the version table said about a migration whose connection was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// It committed before the connection broke (only its answer was lost).
    Committed,
    /// It did not commit: the server rolled it back.
    RolledBack,
    /// A `transaction off` migration: `done` of its `total` statements are known applied.
    Partial {
        /// Statements known done.
        done: usize,
        /// Statements in the section.
        total: usize,
    },
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;
impl Observer for Silent {}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The plan that ran (all of it: a failure is an error, not a partial report).
    pub plan: Plan,
    /// Time of each step's SQL, in step order.
    pub durations: Vec<Duration>,
}

/// Where the database stands.
#[derive(Debug, Clone)]
pub struct Current {
    /// The version table.
    pub stored: StoredHeads,
    /// The applied set those heads imply.
    pub state: AppliedSet,
}

/// One repaired checksum.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Repaired {
    /// The revision.
    pub revision: String,
    /// The checksum recorded before (none if it was never recorded).
    pub old: Option<String>,
    /// The checksum of the file now, now recorded.
    pub new: String,
}

/// Runs plans against one connection.
pub struct MigrationRunner<'a> {
    client: &'a mut Client,
    graph: &'a RevisionGraph,
    store: VersionStore,
    options: RunnerOptions,
    observer: &'a mut dyn Observer,
    watch: LockWatch,
    /// The backend pid of `client`, read when the run takes its lock.
    pid: Option<i32>,
    /// Statements of the running `transaction off` migration known applied.
    done: usize,
}

/// Upgrades `client`'s database to `target` with default options: the one call an application
/// needs at start-up.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let graph = retort_migrate::load_dir(std::path::Path::new("migrations"))?;
/// let mut client = retort_pg::connect(&retort_pg::ConnConfig::parse("postgres://app@localhost/app")?)?;
/// retort_migrate::upgrade(&mut client, &graph, retort_migrate::Target::Heads)?;
/// # Ok(()) }
/// ```
pub fn upgrade(
    client: &mut Client,
    graph: &RevisionGraph,
    target: Target,
) -> Result<RunReport, MigrateError> {
    let mut silent = Silent;
    MigrationRunner::new(client, graph, RunnerOptions::default(), &mut silent).upgrade(&target)
}

impl<'a> MigrationRunner<'a> {
    /// A runner; nothing happens until a method is called.
    pub fn new(
        client: &'a mut Client,
        graph: &'a RevisionGraph,
        options: RunnerOptions,
        observer: &'a mut dyn Observer,
    ) -> MigrationRunner<'a> {
        MigrationRunner {
            client,
            graph,
            store: VersionStore::new(options.schema.clone()),
            watch: LockWatch::new(options.database.clone()),
            options,
            observer,
            pid: None,
            done: 0,
        }
    }

    /// Reads the current heads without locking or creating anything.
    ///
    /// Errors: a head the migrations do not know.
    pub fn current(&mut self) -> Result<Current, MigrateError> {
        let stored = self.store.heads(self.client)?;
        let state = self.graph.state_from_heads(&stored.heads)?;
        Ok(Current { stored, state })
    }

    /// The plan `upgrade(target)` would run now (no lock, no changes).
    pub fn plan_upgrade(&mut self, target: &Target) -> Result<Plan, MigrateError> {
        let current = self.current()?;
        self.graph
            .plan_upgrade_with(&current.state, target, !self.options.run_contracts)
    }

    /// The plan `downgrade(target)` would run now (no lock, no changes).
    pub fn plan_downgrade(&mut self, target: &Target) -> Result<Plan, MigrateError> {
        let current = self.current()?;
        self.graph.plan_downgrade(&current.state, target)
    }

    /// Applies the up sections needed to reach `target`.
    ///
    /// Errors: lock timeout, edited applied migrations (checksums), unparsable SQL (before
    /// anything runs), and a failing statement (that migration rolled back, earlier ones kept).
    pub fn upgrade(&mut self, target: &Target) -> Result<RunReport, MigrateError> {
        self.retrying_lost(|r| {
            r.locked(|runner| {
                let current = runner.current()?;
                runner.verify_checksums(&current.state)?;
                let plan = runner.graph.plan_upgrade_with(
                    &current.state,
                    target,
                    !runner.options.run_contracts,
                )?;
                runner.execute(plan)
            })
        })
    }

    /// Runs the contract phases whose expand is applied (`retort complete`). Unless
    /// `allow_sessions`, refuses while a live session is registered under a revision older
    /// than an expand being completed ([`crate::shape`]), naming them.
    ///
    /// Errors: nothing to complete, [`MigrateError::ShapeInUse`], and what `upgrade` can fail
    /// with.
    pub fn complete(&mut self, allow_sessions: bool) -> Result<RunReport, MigrateError> {
        self.retrying_lost(|r| {
            r.locked(|runner| {
                let current = runner.current()?;
                runner.verify_checksums(&current.state)?;
                let plan = runner.graph.plan_complete(&current.state)?;
                if !allow_sessions {
                    let mut older = std::collections::BTreeSet::new();
                    for step in &plan.steps {
                        // The shapes before the expand this contract closes.
                        let expand = runner
                            .graph
                            .expand_of(&step.revision)
                            .map(|m| m.revision.clone())
                            .unwrap_or_else(|| step.revision.clone());
                        older.extend(crate::shape::older_revisions(runner.graph, &expand));
                    }
                    let older: Vec<String> = older.into_iter().collect();
                    // A session that was just closed can still be listed while its backend
                    // exits: give such sessions a moment before naming them.
                    let patience = Instant::now();
                    loop {
                        let sessions = crate::shape::live_sessions(
                            runner.client,
                            &runner.options.schema,
                            &older,
                        )?;
                        if sessions.is_empty() {
                            break;
                        }
                        if patience.elapsed() >= Duration::from_secs(2) {
                            return Err(MigrateError::ShapeInUse { sessions });
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                runner.execute(plan)
            })
        })
    }

    /// Applies the down sections needed to reach `target`.
    ///
    /// Errors: lock timeout, a revision on the way without a down section (nothing runs), a
    /// failing statement.
    pub fn downgrade(&mut self, target: &Target) -> Result<RunReport, MigrateError> {
        self.retrying_lost(|r| {
            r.locked(|runner| {
                let current = runner.current()?;
                let plan = runner.graph.plan_downgrade(&current.state, target)?;
                runner.execute(plan)
            })
        })
    }

    /// Records `targets` as the current state without running any migration SQL.
    pub fn stamp(
        &mut self,
        targets: &[Target],
    ) -> Result<(Vec<String>, Vec<String>), MigrateError> {
        self.locked(|runner| {
            let current = runner.current()?;
            let new = runner.graph.stamp_state(&current.state, targets)?;
            let from = runner.graph.heads_of(&current.state);
            let to = runner.graph.heads_of(&new);
            let mut rows: Vec<(String, Option<String>, String, &str)> = Vec::new();
            for m in runner.graph.migrations() {
                let was = runner.graph.is_applied(&current.state, &m.revision);
                let is = runner.graph.is_applied(&new, &m.revision);
                if is && !was {
                    rows.push((m.revision.clone(), Some(m.checksum()), m.message.clone(), "stamped as applied"));
                } else if was && !is {
                    rows.push((m.revision.clone(), None, m.message.clone(), "stamped as not applied"));
                }
            }
            let mut tx = runner.client.transaction().map_err(db("starting the stamp transaction"))?;
            tx.execute(&format!("DELETE FROM {}", runner.store.table("version")), &[])
                .map_err(db("stamping the version table"))?;
            tx.execute(
                &format!("INSERT INTO {} (revision) SELECT unnest($1::text[])", runner.store.table("version")),
                &[&to],
            )
            .map_err(db("stamping the version table"))?;
            let insert = format!(
                "INSERT INTO {} (revision, direction, checksum, message, note) VALUES ($1, 'stamp', $2, $3, $4)",
                runner.store.table("history")
            );
            for (rev, checksum, message, note) in &rows {
                tx.execute(&insert, &[rev, checksum, message, note])
                    .map_err(db("recording the stamp in history"))?;
            }
            tx.commit().map_err(db("committing the stamp"))?;
            Ok((from, to))
        })
    }

    /// Accepts the current file contents of applied `revisions` as intended: records their new
    /// checksums in history. Runs no migration SQL.
    ///
    /// Errors: a revision that is not applied.
    pub fn repair(&mut self, revisions: &[String]) -> Result<Vec<Repaired>, MigrateError> {
        self.locked(|runner| {
            let current = runner.current()?;
            let mut wanted = Vec::new();
            for name in revisions {
                let m = runner.graph.resolve(name)?;
                if !runner.graph.is_applied(&current.state, &m.revision) {
                    return Err(MigrateError::Invalid(format!(
                        "{} is not applied, so there is no recorded checksum to repair",
                        m.revision
                    )));
                }
                wanted.push(m);
            }
            let ids: Vec<String> = wanted.iter().map(|m| m.revision.clone()).collect();
            let old: std::collections::HashMap<String, String> =
                runner.store.checksums(runner.client, &ids)?.into_iter().collect();
            let insert = format!(
                "INSERT INTO {} (revision, direction, checksum, message, note) VALUES ($1, 'repair', $2, $3, $4)",
                runner.store.table("history")
            );
            let mut tx = runner.client.transaction().map_err(db("starting the repair transaction"))?;
            let mut out = Vec::new();
            for m in wanted {
                let new = m.checksum();
                let was = old.get(&m.revision).cloned();
                let note = match &was {
                    Some(w) => format!("checksum accepted by repair, replacing {w}"),
                    None => "checksum recorded by repair".to_owned(),
                };
                tx.execute(&insert, &[&m.revision, &new, &m.message, &note])
                    .map_err(db("recording the repair in history"))?;
                out.push(Repaired {
                    revision: m.revision.clone(),
                    old: was,
                    new,
                });
            }
            tx.commit().map_err(db("committing the repair"))?;
            Ok(out)
        })
    }

    /// Applied migrations whose file no longer matches the recorded checksum.
    pub fn edited(&mut self, state: &AppliedSet) -> Result<Vec<Edited>, MigrateError> {
        let applied: Vec<&Migration> = self.graph.applied_revisions(state).collect();
        if applied.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = applied.iter().map(|m| m.revision.clone()).collect();
        let recorded: std::collections::HashMap<String, String> = self
            .store
            .checksums(self.client, &ids)?
            .into_iter()
            .collect();
        Ok(applied
            .into_iter()
            .filter_map(|m| {
                let old = recorded.get(&m.revision)?;
                let now = m.checksum();
                (old != &now).then(|| Edited {
                    revision: m.revision.clone(),
                    file: m.path.clone(),
                    applied: old.clone(),
                    now,
                })
            })
            .collect())
    }

    fn verify_checksums(&mut self, state: &AppliedSet) -> Result<(), MigrateError> {
        let edited = self.edited(state)?;
        if edited.is_empty() {
            Ok(())
        } else {
            Err(MigrateError::ChecksumMismatch { edited })
        }
    }

    /// Runs `work` holding the lock (tables created first); releases the lock on every path.
    fn locked<T>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, MigrateError>,
    ) -> Result<T, MigrateError> {
        self.open_session()?;
        let observer = &mut *self.observer;
        let lock = MigrationLock::acquire(
            self.client,
            &self.store,
            self.options.lock_wait,
            &mut |holder| observer.waiting_for_lock(holder),
        )?;
        let result = self.store.ensure(self.client).and_then(|()| work(self));
        // A broken connection releases the lock by itself; report the first error.
        let released = lock.release(self.client);
        let value = result?;
        released?;
        Ok(value)
    }

    /// Names the session, has a dead client's backend notice within a second, remembers the
    /// backend pid, and refuses a standby.
    fn open_session(&mut self) -> Result<(), MigrateError> {
        let row = self
            .client
            .query_one(
                // PG14+: a backend whose runner died (SIGKILL, lost network) aborts within a
                // second instead of holding the lock and an open transaction until it next
                // writes to the socket.
                "SELECT pg_is_in_recovery(), set_config('application_name', 'retort migrate', false), \
                 CASE WHEN current_setting('server_version_num')::int >= 140000 \
                      THEN set_config('client_connection_check_interval', '1000', false) END, \
                 pg_backend_pid()",
                &[],
            )
            .map_err(db("checking that the server is a primary"))?;
        let standby: bool = row.get(0);
        self.pid = Some(row.get(3));
        if standby {
            let target: String = self
                .client
                .query_one(
                    "SELECT coalesce(inet_server_addr()::text || ':' || inet_server_port(), \
                     'the local socket') || ' database ' || current_database()",
                    &[],
                )
                .map_err(db("describing the server"))?
                .get(0);
            return Err(MigrateError::Standby { target });
        }
        if let Some(t) = self.options.deadlock_timeout {
            let version: i32 = self
                .client
                .query_one("SELECT current_setting('server_version_num')::int", &[])
                .map_err(db("reading the server version"))?
                .get(0);
            let granted = if version >= 150000 {
                " OR has_parameter_privilege('deadlock_timeout', 'SET')"
            } else {
                ""
            };
            self.client
                .execute(
                    &format!(
                        "SELECT set_config('deadlock_timeout', $1, false) \
                         WHERE (SELECT rolsuper FROM pg_roles WHERE rolname = current_user){granted}"
                    ),
                    &[&format!("{}ms", t.as_millis().max(1))],
                )
                .map_err(db("setting deadlock_timeout"))?;
        }
        Ok(())
    }

    fn prepare_bookkeeping(&mut self) -> Result<postgres::Statement, MigrateError> {
        self.client
            .prepare(&format!(
                "WITH removed AS (DELETE FROM {version} WHERE revision = ANY($1::text[])), \
                      added AS (INSERT INTO {version} (revision) SELECT unnest($2::text[])) \
                 INSERT INTO {history} (revision, direction, checksum, message, duration_ms) \
                 VALUES ($3, $4, $5, $6, $7)",
                version = self.store.table("version"),
                history = self.store.table("history"),
            ))
            .map_err(db("preparing the version-table update"))
    }

    /// After the connection was lost during `m`: connects again (for up to `reconnect_for`),
    /// takes the migration lock again (which waits until the old session is gone, so its
    /// transaction is settled), and reads the version table. `Ok(true)`: `m` committed.
    /// `Ok(false)`: it did not, and runs again. An error ends the run.
    #[allow(clippy::too_many_arguments)]
    fn recover(
        &mut self,
        m: &Migration,
        step: &Step,
        lost: MigrateError,
        losses: u32,
        before: &std::collections::BTreeSet<String>,
        after: &std::collections::BTreeSet<String>,
        (applied, total): (usize, usize),
    ) -> Result<bool, MigrateError> {
        let source = match lost {
            MigrateError::Database { source, .. } => source,
            MigrateError::Statement(f) => f.source,
            other => return Err(other),
        };
        let statements = if m.transactional {
            None
        } else {
            let n = match step.direction {
                Direction::Up => m.up.statements(&m.path).map_or(0, |s| s.len()),
                Direction::Down => m
                    .down
                    .as_ref()
                    .and_then(|d| d.statements(&m.path).ok())
                    .map_or(0, |s| s.len()),
            };
            Some((self.done, n))
        };
        let give_up = |error: PgError, reconnect: Option<String>| MigrateError::ConnectionLost {
            revision: m.revision.clone(),
            file: m.path.clone(),
            applied,
            total,
            statements,
            error: Box::new(error),
            reconnect: reconnect.map(String::into_boxed_str),
        };
        let Some(cfg) = self.options.database.clone() else {
            return Err(give_up(source, None));
        };
        if losses > 3 {
            return Err(give_up(
                source,
                Some(format!(
                    "the connection was lost {losses} times during this migration; giving up"
                )),
            ));
        }
        if let Err(why) = self.reconnect(&cfg) {
            return Err(give_up(source, Some(why)));
        }
        self.open_session()?;
        // The run's lock object releases the key on whichever connection is current.
        let observer = &mut *self.observer;
        MigrationLock::acquire(
            self.client,
            &self.store,
            self.options.lock_wait,
            &mut |holder| observer.waiting_for_lock(holder),
        )?;
        let now: std::collections::BTreeSet<String> =
            self.store.heads(self.client)?.heads.into_iter().collect();
        let outcome = if &now == after {
            Recovery::Committed
        } else if &now == before {
            match self.partial(m, step)? {
                Some(p) if !m.transactional => Recovery::Partial {
                    done: p.done,
                    total: p.statements,
                },
                _ if !m.transactional => Recovery::Partial {
                    done: 0,
                    total: statements.map_or(0, |s| s.1),
                },
                _ => Recovery::RolledBack,
            }
        } else {
            return Err(MigrateError::Invalid(format!(
                "the connection was lost during revision {}, and when retort reconnected the \
                 version table held {} where it expected {} or {}: another run changed the \
                 database meanwhile; run the command again",
                m.revision,
                heads_list(&now),
                heads_list(before),
                heads_list(after)
            )));
        };
        self.observer.connection_lost(m, &outcome);
        Ok(outcome == Recovery::Committed)
    }

    /// A new connection through `cfg` in place of the lost one, tried for `reconnect_for` with
    /// a doubling pause. Err: why the last try failed.
    fn reconnect(&mut self, cfg: &retort_pg::ConnConfig) -> Result<(), String> {
        let deadline = Instant::now() + self.options.reconnect_for;
        let mut pause = Duration::from_millis(100);
        loop {
            match retort_pg::connect(cfg) {
                Ok(c) => {
                    *self.client = c;
                    return Ok(());
                }
                Err(e) if Instant::now() + pause >= deadline => {
                    return Err(format!(
                        "{e} (tried for {:.0} s)",
                        self.options.reconnect_for.as_secs_f64()
                    ));
                }
                Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Runs `run` again on a new connection when the connection is lost before (or between)
    /// migrations, where nothing is in doubt: the plan is made again from the version table.
    /// A loss during a migration is settled inside the run ([`MigrateError::ConnectionLost`]
    /// when it cannot be).
    fn retrying_lost(
        &mut self,
        mut run: impl FnMut(&mut Self) -> Result<RunReport, MigrateError>,
    ) -> Result<RunReport, MigrateError> {
        let mut losses = 0;
        loop {
            match run(self) {
                Err(e)
                    if e.is_connection_lost()
                        && !matches!(e, MigrateError::ConnectionLost { .. })
                        && losses < 3 =>
                {
                    let Some(cfg) = self.options.database.clone() else {
                        return Err(e);
                    };
                    losses += 1;
                    if self.reconnect(&cfg).is_err() {
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
    }

    /// The progress row of a `transaction off` migration, when an earlier run left one.
    fn partial(&mut self, m: &Migration, step: &Step) -> Result<Option<Partial>, MigrateError> {
        let row = self
            .client
            .query_opt(
                &format!(
                    "SELECT checksum, statements, done, running FROM {} \
                     WHERE revision = $1 AND direction = $2",
                    self.store.table("partial")
                ),
                &[&m.revision, &step.direction.as_str()],
            )
            .map_err(db("reading the progress of a non-transactional migration"))?;
        Ok(row.map(|r| Partial {
            checksum: r.get(0),
            statements: r.get::<_, i32>(1) as usize,
            done: r.get::<_, i32>(2) as usize,
            running: r.get::<_, Option<i32>>(3).map(|x| x as usize),
        }))
    }

    /// Records, before statement `i` runs, that the ones before it are done.
    fn mark_running(
        &mut self,
        m: &Migration,
        step: &Step,
        count: usize,
        i: usize,
        running: bool,
    ) -> Result<(), MigrateError> {
        self.client
            .execute(
                &format!(
                    "INSERT INTO {} AS p (revision, direction, checksum, statements, done, running) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (revision, direction) DO UPDATE SET checksum = excluded.checksum, \
                       statements = excluded.statements, done = excluded.done, \
                       running = excluded.running, updated_at = clock_timestamp()",
                    self.store.table("partial")
                ),
                &[
                    &m.revision,
                    &step.direction.as_str(),
                    &m.checksum(),
                    &(count as i32),
                    &(i as i32),
                    &running.then_some(i as i32),
                ],
            )
            .map_err(db("recording the progress of a non-transactional migration"))?;
        Ok(())
    }

    /// Checks everything that can be checked without the database, then runs each step.
    fn execute(&mut self, plan: Plan) -> Result<RunReport, MigrateError> {
        let prepared = prepare(self.graph, &plan)?;
        self.observer.plan_ready(&plan);
        let mut bookkeeping = self.prepare_bookkeeping()?;
        let total = plan.steps.len();
        let mut durations = Vec::with_capacity(total);
        let mut heads: std::collections::BTreeSet<String> =
            plan.from_heads.iter().cloned().collect();
        for (index, (step, statements)) in plan.steps.iter().zip(&prepared).enumerate() {
            let m = self
                .graph
                .get(&step.revision)
                .expect("plans only name revisions of their graph");
            if let Some(reason) = self.observer.should_stop() {
                return Err(MigrateError::Stopped {
                    reason,
                    applied: index,
                    total,
                });
            }
            self.observer.step_started(index, total, m, step.direction);
            let started = Instant::now();
            let mut after = heads.clone();
            for r in &step.remove_heads {
                after.remove(r);
            }
            after.extend(step.add_heads.iter().cloned());
            let mut losses = 0;
            loop {
                let result = if m.transactional {
                    self.run_in_transaction(m, step, statements, &bookkeeping, started)
                } else {
                    if losses == 0 {
                        self.observer.non_transactional(m);
                    }
                    self.run_without_transaction(m, step, statements, &bookkeeping, started)
                };
                match result {
                    Ok(()) => break,
                    Err(e) if e.is_connection_lost() => {
                        losses += 1;
                        let committed =
                            self.recover(m, step, e, losses, &heads, &after, (index, total))?;
                        bookkeeping = self.prepare_bookkeeping()?;
                        if committed {
                            break;
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            heads = after;
            let elapsed = started.elapsed();
            durations.push(elapsed);
            self.observer.step_finished(index, total, m, elapsed);
        }
        Ok(RunReport { plan, durations })
    }

    fn timeouts_sql(&self, local: bool) -> String {
        self.options
            .timeout_statements(local)
            .iter()
            .map(|s| format!("{s}; "))
            .collect()
    }

    /// A transactional migration, tried again after a lock timeout (55P03) or a deadlock
    /// (40P01) up to `lock_retries` times with a jittered, doubling pause; every try is its own
    /// transaction, rolled back whole when it fails.
    fn run_in_transaction(
        &mut self,
        m: &Migration,
        step: &Step,
        statements: &[Statement],
        bookkeeping: &postgres::Statement,
        started: Instant,
    ) -> Result<(), MigrateError> {
        let mut attempt = 0;
        loop {
            let (result, blockers) =
                self.try_transaction(m, step, statements, bookkeeping, started);
            let Err(MigrateError::Statement(mut failure)) = result else {
                return result;
            };
            if !matches!(failure.source.sqlstate(), Some("55P03" | "40P01")) {
                return Err(MigrateError::Statement(failure));
            }
            if attempt >= self.options.lock_retries {
                failure.attempts = attempt + 1;
                failure.blockers = blockers;
                return Err(MigrateError::Statement(failure));
            }
            attempt += 1;
            let wait = backoff(self.options.retry_backoff, attempt);
            if failure.source.sqlstate() == Some("40P01") {
                self.observer
                    .deadlock_retry(m, attempt, self.options.lock_retries, wait);
            } else {
                self.observer
                    .lock_retry(m, attempt, self.options.lock_retries, wait, &blockers);
            }
            std::thread::sleep(wait);
        }
    }

    /// One try of a transactional migration, watched for lock waits.
    fn try_transaction(
        &mut self,
        m: &Migration,
        step: &Step,
        statements: &[Statement],
        bookkeeping: &postgres::Statement,
        started: Instant,
    ) -> (Result<(), MigrateError>, Vec<Blocker>) {
        // Ask who blocks us once a lock wait has lasted a while (half the lock timeout, at most
        // a quarter second): quick migrations never open the second connection.
        let delay = self
            .options
            .lock_timeout
            .map_or(Duration::from_millis(250), |t| {
                (t / 2).min(Duration::from_millis(250))
            });
        let pid = self.pid;
        let mut watch = std::mem::replace(&mut self.watch, LockWatch::new(None));
        let (result, blockers) = watch.during(pid, delay, || {
            self.transaction(m, step, statements, bookkeeping, started)
        });
        self.watch = watch;
        (result, blockers)
    }

    fn transaction(
        &mut self,
        m: &Migration,
        step: &Step,
        statements: &[Statement],
        bookkeeping: &postgres::Statement,
        started: Instant,
    ) -> Result<(), MigrateError> {
        // One round trip: BEGIN, the timeouts, every statement, the version and history rows and
        // COMMIT in one simple-query message. If anything in it fails, the server has stopped at
        // that statement; the transaction is rolled back and the migration run again statement by
        // statement below, which reports the failing statement with its file:line exactly as
        // before (a transient failure such as a lock timeout may pass on that second try).
        // The timeouts are SET LOCAL in each migration's own transaction, not once for the
        // session: a migration that changes them for its session (a backfill's
        // `SET lock_timeout = 0`) cannot switch them off for the migrations after it.
        let mut batch = format!("BEGIN; {}\n", self.timeouts_sql(true));
        for s in statements {
            batch.push_str(&s.sql);
            batch.push_str(";\n");
        }
        batch.push_str(&crate::offline::bookkeeping_sql(
            &self.store,
            m,
            step,
            None,
            true,
        ));
        batch.push_str("COMMIT;");
        match self.client.batch_execute(&batch) {
            Ok(()) => return Ok(()),
            Err(e) if e.is_closed() => {
                return Err(db(format!("running revision {}", m.revision))(e));
            }
            Err(_) => {
                let _ = self.client.batch_execute("ROLLBACK");
            }
        }
        let begin = format!("BEGIN; {}", self.timeouts_sql(true));
        self.client
            .batch_execute(&begin)
            .map_err(db("starting the migration transaction"))?;
        for (i, s) in statements.iter().enumerate() {
            if let Err(e) = self.client.batch_execute(&s.sql) {
                // Best effort: if the connection is gone the server has rolled back already.
                let _ = self.client.batch_execute("ROLLBACK");
                return Err(statement_error(m, step, statements, i, false, e));
            }
        }
        self.record_and_commit(m, step, bookkeeping, started)
    }

    /// Inside an open transaction: the version-table update, then COMMIT (ROLLBACK on failure).
    fn record_and_commit(
        &mut self,
        m: &Migration,
        step: &Step,
        bookkeeping: &postgres::Statement,
        started: Instant,
    ) -> Result<(), MigrateError> {
        let result = self.record(m, step, bookkeeping, started).and_then(|()| {
            self.client
                .batch_execute("COMMIT")
                .map_err(db(format!("committing revision {}", m.revision)))
        });
        if result.is_err() {
            let _ = self.client.batch_execute("ROLLBACK");
        }
        result
    }

    fn run_without_transaction(
        &mut self,
        m: &Migration,
        step: &Step,
        statements: &[Statement],
        bookkeeping: &postgres::Statement,
        started: Instant,
    ) -> Result<(), MigrateError> {
        let timeouts = self.timeouts_sql(false);
        if !timeouts.is_empty() {
            self.client
                .batch_execute(&timeouts)
                .map_err(db("setting timeouts"))?;
        }
        // Resume after the statements an interrupted run of this same file applied.
        let (start, unknown) = match self.partial(m, step)? {
            Some(p) if p.checksum == m.checksum() && p.statements == statements.len() => {
                (p.done, p.running == Some(p.done))
            }
            _ => (0, false),
        };
        if start > 0 || unknown {
            self.observer.resuming(m, start, statements.len(), unknown);
        }
        self.done = start;
        for (i, s) in statements.iter().enumerate().skip(start) {
            self.mark_running(m, step, statements.len(), i, true)?;
            // A CONCURRENTLY build an earlier run left INVALID is dropped and built again; one
            // that the interrupted run finished (its answer lost) is kept.
            let mut result = Ok(());
            if let Some((index, table)) = crate::concurrent::concurrent_index(&s.sql) {
                match crate::concurrent::existing_index(self.client, &index, &table) {
                    Ok(Some((found, true))) if unknown && i == start => {
                        self.observer.in_doubt_statement_done(
                            m,
                            i + 1,
                            &format!("index {found} is built and valid: kept, not built again"),
                        );
                        self.done = i + 1;
                        continue;
                    }
                    Ok(Some((invalid, false))) => {
                        self.observer.invalid_index_dropped(m, &invalid);
                        result = self
                            .client
                            .batch_execute(&format!("DROP INDEX CONCURRENTLY {invalid}"));
                    }
                    Ok(_) => {}
                    Err(e) => result = Err(e),
                }
            }
            if let Some(update) = (step.direction == Direction::Up && marked_batch(&m.up, s.line))
                .then(|| s.sql.clone())
            {
                result.map_err(db("repairing an INVALID index"))?;
                self.run_batched(m, &update).map_err(|e| match e {
                    MigrateError::Invalid(why) => {
                        MigrateError::Invalid(format!("{}:{}: {why}", m.path.display(), s.line))
                    }
                    other => other,
                })?;
                self.done = i + 1;
                continue;
            }
            let mut outcome = result.and_then(|()| self.client.batch_execute(&s.sql));
            // A statement that hit lock_timeout or gave way in a deadlock was rolled back
            // whole (it ran alone): it is tried again like a transactional migration. Not a
            // CONCURRENTLY build, which leaves an INVALID index behind (a rerun repairs it).
            let mut attempt = 0;
            while let Err(e) = &outcome {
                let code = e.code().map(|c| c.code());
                if !matches!(code, Some("55P03" | "40P01"))
                    || attempt >= self.options.lock_retries
                    || crate::concurrent::concurrent_index(&s.sql).is_some()
                {
                    break;
                }
                attempt += 1;
                let wait = backoff(self.options.retry_backoff, attempt);
                if code == Some("40P01") {
                    self.observer
                        .deadlock_retry(m, attempt, self.options.lock_retries, wait);
                } else {
                    self.observer
                        .lock_retry(m, attempt, self.options.lock_retries, wait, &[]);
                }
                std::thread::sleep(wait);
                outcome = self.client.batch_execute(&s.sql);
            }
            if let Err(e) = outcome {
                let err = statement_error(m, step, statements, i, true, e);
                if err.is_connection_lost() {
                    return Err(err);
                }
                // The statement in flight when the earlier run was cut off did its work: what it
                // creates exists, what it drops is gone.
                if let (true, MigrateError::Statement(f)) = (unknown && i == start, &err) {
                    if let Some(why) = f.source.sqlstate().and_then(already_done) {
                        self.observer.in_doubt_statement_done(
                            m,
                            i + 1,
                            &format!(
                                "{why} ({}), so the interrupted run carried it out",
                                f.source
                            ),
                        );
                        self.done = i + 1;
                        continue;
                    }
                }
                // Known failed, not in doubt: a rerun starts at it without calling it unknown.
                let _ = self.mark_running(m, step, statements.len(), i, false);
                let note = format!(
                    "statement {} of {} (line {}) failed outside a transaction; statements 1..{} \
                     stayed applied, and a rerun of the unchanged file resumes at statement {}: {}",
                    i + 1,
                    statements.len(),
                    s.line,
                    i,
                    i + 1,
                    match &err {
                        MigrateError::Statement(f) => f.source.to_string(),
                        other => other.to_string(),
                    }
                );
                // Record the truth; if even that fails, the statement error is still what matters.
                let _ = self.client.execute(
                    &format!(
                        "INSERT INTO {} (revision, direction, checksum, message, duration_ms, note) \
                         VALUES ($1, 'failed', $2, $3, $4, $5)",
                        self.store.table("history")
                    ),
                    &[
                        &m.revision,
                        &m.checksum(),
                        &m.message,
                        &(started.elapsed().as_secs_f64() * 1000.0),
                        &note,
                    ],
                );
                self.reset_timeouts();
                return Err(err);
            }
            self.done = i + 1;
        }
        self.reset_timeouts();
        self.client
            .batch_execute(&format!(
                "BEGIN; DELETE FROM {} WHERE revision = {} AND direction = {}",
                self.store.table("partial"),
                retort_pg::quote_literal(&m.revision),
                retort_pg::quote_literal(step.direction.as_str())
            ))
            .map_err(db("starting the bookkeeping transaction"))?;
        self.record_and_commit(m, step, bookkeeping, started)
    }

    /// A `-- retort:batch` UPDATE: run by [`crate::backfill`] in key ranges, each its own
    /// transaction with its progress; a rerun of the migration continues it.
    fn run_batched(&mut self, m: &Migration, update: &str) -> Result<(), MigrateError> {
        let statement = crate::backfill::BackfillStatement::parse(update)?;
        let options = crate::backfill::BackfillOptions {
            schema: self.options.schema.clone(),
            lock_timeout: self.options.lock_timeout,
            ..Default::default()
        };
        let observer = &mut *self.observer;
        let mut between = |client: &mut Client| match observer.should_stop() {
            Some(_) => crate::backfill::Between::Stop,
            None => match observer.batch_pause(client) {
                Some(why) => crate::backfill::Between::Pause(why),
                None => crate::backfill::Between::Go,
            },
        };
        let (end, progress) = crate::backfill::backfill(
            self.client,
            &statement,
            &options,
            &mut between,
            &mut |_| {},
        )?;
        if end == crate::backfill::BackfillEnd::Stopped {
            return Err(MigrateError::Invalid(format!(
                "revision {}: the batched UPDATE stopped after {} rows; run upgrade again to continue it",
                m.revision, progress.rows
            )));
        }
        Ok(())
    }

    fn reset_timeouts(&mut self) {
        if self.options.lock_timeout.is_some() || self.options.statement_timeout.is_some() {
            let _ = self
                .client
                .batch_execute("RESET lock_timeout; RESET statement_timeout");
        }
    }

    fn record(
        &mut self,
        m: &Migration,
        step: &Step,
        bookkeeping: &postgres::Statement,
        started: Instant,
    ) -> Result<(), MigrateError> {
        let checksum = match step.direction {
            Direction::Up => Some(m.checksum()),
            Direction::Down => None,
        };
        self.client
            .execute(
                bookkeeping,
                &[
                    &step.remove_heads,
                    &step.add_heads,
                    &m.revision,
                    &step.direction.as_str(),
                    &checksum,
                    &m.message,
                    &(started.elapsed().as_secs_f64() * 1000.0),
                ],
            )
            .map_err(db(format!("updating the version table for {}", m.revision)))?;
        Ok(())
    }
}

/// For a statement whose earlier outcome is unknown: the SQLSTATEs that say it was carried out
/// then (the object it creates exists, the one it drops is gone).
fn already_done(sqlstate: &str) -> Option<&'static str> {
    match sqlstate {
        "42P07" | "42710" | "42701" | "42P06" | "42723" => {
            Some("it now fails because what it creates exists")
        }
        "42P01" | "42704" | "42883" | "3F000" | "42703" => {
            Some("it now fails because what it drops is gone")
        }
        _ => None,
    }
}

/// The progress row of a `transaction off` migration.
struct Partial {
    checksum: String,
    statements: usize,
    done: usize,
    running: Option<usize>,
}

fn heads_list(heads: &std::collections::BTreeSet<String>) -> String {
    if heads.is_empty() {
        "no revision (base)".to_owned()
    } else {
        heads.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Whether the comment lines right above the statement starting at file line `line` hold
/// `-- retort:batch`.
fn marked_batch(section: &crate::file::Section, line: usize) -> bool {
    let lines: Vec<&str> = section.sql.lines().collect();
    let mut i = line.saturating_sub(section.first_line);
    while i > 0 {
        i -= 1;
        let t = lines.get(i).map_or("", |l| l.trim());
        if t.is_empty() {
            continue;
        }
        if !t.starts_with("--") {
            return false;
        }
        if t.trim_start_matches('-').trim() == "retort:batch" {
            return true;
        }
    }
    false
}

/// The pause before retry `attempt` (1-based): `base` doubled each time, between half and one
/// and a half of that (jitter, so that several runners do not retry in step).
fn backoff(base: Duration, attempt: u32) -> Duration {
    let doubled = base.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let factor = 0.5 + f64::from(nanos % 1000) / 1000.0;
    doubled.mul_f64(factor)
}

/// Splits every step's SQL and checks down sections exist, so that nothing runs when any
/// migration on the way is unusable.
pub(crate) fn prepare(
    graph: &RevisionGraph,
    plan: &Plan,
) -> Result<Vec<Vec<Statement>>, MigrateError> {
    let mut missing_down = Vec::new();
    let mut out = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let m = graph
            .get(&step.revision)
            .expect("plans only name revisions of their graph");
        let section = match step.direction {
            Direction::Up => Some(&m.up),
            Direction::Down => m.down.as_ref(),
        };
        let Some(section) = section else {
            missing_down.push(m.path.clone());
            continue;
        };
        let statements = section.statements(&m.path)?;
        if m.transactional {
            if let Some(s) = statements.iter().find(|s| is_transaction_control(&s.sql)) {
                return Err(MigrateError::Parse {
                    at: Location {
                        file: m.path.clone(),
                        line: s.line,
                    },
                    message: format!(
                        "`{}` inside a migration: retort already runs each migration in its own \
                         transaction; remove it, or mark the file `-- retort:transaction off`",
                        s.sql.split_whitespace().next().unwrap_or_default()
                    ),
                });
            }
        }
        out.push(statements);
    }
    if !missing_down.is_empty() {
        return Err(MigrateError::NoDown {
            files: missing_down,
        });
    }
    Ok(out)
}

fn is_transaction_control(sql: &str) -> bool {
    let mut words = sql
        .split_whitespace()
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase());
    match words.next().as_deref() {
        Some("BEGIN") => !matches!(words.next().as_deref(), Some("ATOMIC")),
        Some("COMMIT" | "ROLLBACK" | "END" | "ABORT") => true,
        Some("START") => matches!(words.next().as_deref(), Some("TRANSACTION")),
        _ => false,
    }
}

fn statement_error(
    m: &Migration,
    step: &Step,
    statements: &[Statement],
    i: usize,
    non_transactional: bool,
    e: postgres::Error,
) -> MigrateError {
    let s = &statements[i];
    MigrateError::Statement(Box::new(StatementFailure {
        at: Location {
            file: m.path.clone(),
            line: s.line,
        },
        revision: step.revision.clone(),
        direction: step.direction.as_str(),
        index: i + 1,
        count: statements.len(),
        statement: s.sql.clone(),
        non_transactional,
        source: PgError::from(e),
        attempts: 1,
        blockers: Vec::new(),
    }))
}
