//! The one error type of `retort-migrate`. Every variant names the file, line or revision the
//! user has to look at.

use std::path::PathBuf;

use retort_pg::PgError;

/// Where in the migrations a problem is: a file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The migration file (or the embedded path).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Errors from reading migrations, resolving targets, and applying them.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A migration file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A migration file breaks the file format (unknown directive, SQL before `-- retort:up`, ...).
    #[error("{at}: {message}")]
    Parse {
        /// Where.
        at: Location,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// Two files claim the same revision.
    #[error("{second}: duplicate revision {revision}, already defined at {first}")]
    DuplicateRevision {
        /// The revision id.
        revision: String,
        /// The first file defining it.
        first: Location,
        /// The second file defining it.
        second: Location,
    },
    /// A `parents` or `depends-on` directive names a revision no file defines.
    #[error("{at}: {kind} {missing} of revision {revision} does not exist in the migrations")]
    MissingRevision {
        /// Where the reference is.
        at: Location,
        /// The revision holding the reference.
        revision: String,
        /// "parent" or "depends-on".
        kind: &'static str,
        /// The unknown revision.
        missing: String,
    },
    /// The parents/depends-on edges form a cycle.
    #[error("the revision graph has a cycle: {}", path.join(" -> "))]
    Cycle {
        /// The revisions on the cycle, the first repeated at the end.
        path: Vec<String>,
        /// The file of each revision on the cycle, in the same order.
        files: Vec<Location>,
    },
    /// Two revisions carry the same branch label.
    #[error("{second}: branch label `{label}` is already used by {first}")]
    DuplicateLabel {
        /// The label.
        label: String,
        /// Where it was first used.
        first: Location,
        /// Where it is used again.
        second: Location,
    },
    /// A target (`heads`, `+2`, `ab12`, `auth@head`, ...) could not be resolved.
    #[error("{0}")]
    Target(String),
    /// A downgrade would pass through revisions that have no `-- retort:down` section.
    #[error("cannot downgrade: {} no `-- retort:down` section: {}", if files.len() == 1 { "this migration has" } else { "these migrations have" }, files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoDown {
        /// The files without a down section, in the order the downgrade would run them.
        files: Vec<PathBuf>,
    },
    /// The database's version table names a revision that no migration file defines.
    #[error("the database is at revision {revision}, which is not in the migrations directory")]
    UnknownApplied {
        /// The unknown revision.
        revision: String,
    },
    /// An applied migration's file was edited after it was applied.
    #[error("{} applied {} edited since {}: {}", if edited.len() == 1 { "an" } else { "" }, if edited.len() == 1 { "migration was" } else { "migrations were" }, if edited.len() == 1 { "it was applied" } else { "they were applied" }, edited.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    ChecksumMismatch {
        /// Each edited migration.
        edited: Vec<Edited>,
    },
    /// Another runner held the migration lock for longer than we were willing to wait.
    #[error("another migration run holds the lock on {schema}: {holder}; waited {waited_ms} ms")]
    LockTimeout {
        /// The version-table schema the lock protects.
        schema: String,
        /// Who holds it (pid, application, client, since when), as far as pg_stat_activity tells.
        holder: String,
        /// How long we waited.
        waited_ms: u128,
    },
    /// A statement of a migration failed; the migration was rolled back (or, for a
    /// non-transactional migration, stopped where it failed).
    #[error("{0}")]
    Statement(Box<StatementFailure>),
    /// Reading or writing the version/history tables, or another database call, failed.
    #[error("{context}: {source}")]
    Database {
        /// What retort was doing.
        context: String,
        /// The error.
        source: PgError,
    },
    /// The connection goes to a standby (in recovery), which cannot be migrated.
    #[error("{target} is a standby (read-only, in recovery); migrations run on the primary")]
    Standby {
        /// The redacted connection target.
        target: String,
    },
    /// A command was asked to do something the state does not allow.
    #[error("{0}")]
    Invalid(String),
    /// `complete` found live sessions still registered under a shape its contract removes.
    #[error(
        "{} session(s) still use a shape the contract removes: {}",
        sessions.len(),
        sessions.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("; ")
    )]
    ShapeInUse {
        /// The sessions.
        sessions: Vec<crate::shape::ShapeSession>,
    },
    /// The connection was lost while a migration ran or committed, and no new connection
    /// settled what happened to it (none was configured, or the server stayed unreachable).
    #[error("lost the connection during revision {revision} ({}): {error}; {applied} of {total} migration(s) of the run were committed before it{}; {}", file.display(), statements.map(|(d, n)| format!(", and {d} of its {n} statements are known done (it runs outside a transaction)")).unwrap_or_default(), match reconnect { Some(r) => format!("reconnecting failed: {r}"), None => "retort was not given a way to reconnect".to_owned() })]
    ConnectionLost {
        /// The migration in flight.
        revision: String,
        /// Its file.
        file: PathBuf,
        /// Migrations of the plan committed before it.
        applied: usize,
        /// Migrations in the plan.
        total: usize,
        /// For a `transaction off` migration: statements known done, and how many it has.
        statements: Option<(usize, usize)>,
        /// The error that ended the connection.
        error: Box<PgError>,
        /// Why reconnecting failed; None when no reconnection was configured.
        reconnect: Option<Box<str>>,
    },
    /// The run was stopped between migrations (see `Observer::should_stop`); the ones before
    /// are committed.
    #[error("stopped after {applied} of {total} migration(s): {reason}")]
    Stopped {
        /// Why.
        reason: String,
        /// How many migrations of the plan had been committed.
        applied: usize,
        /// How many the plan had.
        total: usize,
    },
}

impl MigrateError {
    /// The connection broke (or the server ended the session) while this error happened, so
    /// the server may have done more than the client heard of.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            MigrateError::Database { source, .. } => source.is_connection_lost(),
            MigrateError::Statement(f) => f.source.is_connection_lost(),
            MigrateError::ConnectionLost { .. } => true,
            _ => false,
        }
    }

    /// A sentence saying what the user can do next, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            MigrateError::ShapeInUse { .. } => Some(
                "those sessions registered an application version older than the change \
                 (`use_shape`); finish rolling out the new version (or end them), then run \
                 `retort complete` again; --force completes anyway and their queries on the old \
                 names fail"
                    .into(),
            ),
            MigrateError::Parse { .. } => Some(
                "a migration file has `-- retort:<key> <value>` header lines (revision, parents, \
                 message, depends-on, branch-labels, transaction, phase), then `-- retort:up` and \
                 optionally `-- retort:down`"
                    .into(),
            ),
            MigrateError::DuplicateRevision { .. } => Some(
                "give one of the files a fresh revision (`retort new` makes one) and fix the \
                 parents that should point to it"
                    .into(),
            ),
            MigrateError::MissingRevision { .. } => Some(
                "restore the missing file, or point the directive at an existing revision \
                 (`retort heads` lists the candidates)"
                    .into(),
            ),
            MigrateError::Cycle { files, .. } => Some(format!(
                "one of these files must not list the other as parent or dependency: {}",
                files
                    .iter()
                    .map(Location::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            MigrateError::NoDown { .. } => Some(
                "add a `-- retort:down` section with the reverse SQL, or stop the downgrade \
                 above these revisions; nothing was changed"
                    .into(),
            ),
            MigrateError::UnknownApplied { .. } => Some(
                "check out the branch that has this migration, or `retort stamp` the database \
                 to a revision that exists if the file is gone for good"
                    .into(),
            ),
            MigrateError::ChecksumMismatch { edited } => Some(format!(
                "undo the edit (add a new migration instead), or accept it with `retort repair {}`",
                edited
                    .iter()
                    .map(|e| e.revision.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            MigrateError::LockTimeout { .. } => Some(
                "wait for that run to finish, or raise --lock-wait; if the holder is stuck, \
                 pg_terminate_backend(pid) releases the lock"
                    .into(),
            ),
            MigrateError::Statement(f) if f.non_transactional => Some(format!(
                "THIS MIGRATION RAN OUTSIDE A TRANSACTION: the statements before the failing one \
                 stay applied and the revision is NOT recorded. A human must finish or undo \
                 them by hand, then run `retort upgrade` again.{}",
                f.source
                    .hint()
                    .map(|h| format!(" Server hint: {h}"))
                    .unwrap_or_default()
            )),
            MigrateError::Statement(f) if f.source.sqlstate() == Some("25001") => Some(
                "the migration was rolled back. This statement cannot run inside a \
                     transaction block: put it in its own migration marked \
                     `-- retort:transaction off`"
                    .into(),
            ),
            MigrateError::Statement(f) => Some(format!(
                "the migration was rolled back; the database is still at the previous \
                 revision.{}",
                f.source
                    .hint()
                    .map(|h| format!(" Server hint: {h}"))
                    .unwrap_or_default()
            )),
            MigrateError::ConnectionLost { revision, .. } => Some(format!(
                "whether {revision} committed is unknown from here (its COMMIT may have been \
                 carried out with the answer lost). Run the same command again once the \
                 database is reachable: retort reads the version table, says whether {revision} \
                 committed, and continues without applying anything twice. If the primary \
                 failed over, point -d at the new primary."
            )),
            MigrateError::Database { source, .. } => source.hint(),
            MigrateError::Standby { .. } => Some(
                "point -d / DATABASE_URL at the primary; standbys replay the migration from it \
                 (`retort cluster status` or pg_stat_replication on the primary lists them)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Where and how a migration statement failed.
#[derive(Debug)]
pub struct StatementFailure {
    /// The file and line of the failing statement.
    pub at: Location,
    /// The revision.
    pub revision: String,
    /// Up or down.
    pub direction: &'static str,
    /// 1-based index of the statement in its section.
    pub index: usize,
    /// How many statements the section has.
    pub count: usize,
    /// The statement text.
    pub statement: String,
    /// Whether the migration ran outside a transaction, so earlier statements stay applied.
    pub non_transactional: bool,
    /// The server's error.
    pub source: PgError,
    /// How many times the migration was tried (more than 1 after lock-timeout retries).
    pub attempts: u32,
    /// The sessions that held the lock it waited for, when a lock timeout ended it and a
    /// second connection could ask (`RunnerOptions::watch`).
    pub blockers: Vec<crate::lockwatch::Blocker>,
}

impl StatementFailure {
    /// The line of the file the server pointed at (the statement's first line when the server
    /// gave no position).
    pub fn error_line(&self) -> usize {
        self.source.line_in(&self.statement, self.at.line)
    }
}

impl std::fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: revision {} ({}): statement {} of {} failed: {}",
            self.at.file.display(),
            self.error_line(),
            self.revision,
            self.direction,
            self.index,
            self.count,
            self.source
        )?;
        if self.attempts > 1 {
            write!(f, " (after {} tries)", self.attempts)?;
        }
        for b in &self.blockers {
            write!(f, "; the lock is held by {b}")?;
        }
        Ok(())
    }
}

/// An applied migration whose file changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The revision.
    pub revision: String,
    /// The file.
    pub file: PathBuf,
    /// Checksum stored when it was applied.
    pub applied: String,
    /// Checksum of the file now.
    pub now: String,
}

impl std::fmt::Display for Edited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) was {}, is now {}",
            self.revision,
            self.file.display(),
            short(&self.applied),
            short(&self.now)
        )
    }
}

fn short(checksum: &str) -> &str {
    checksum.get(..16).unwrap_or(checksum)
}

pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(postgres::Error) -> MigrateError {
    let context = context.into();
    move |e| MigrateError::Database {
        context,
        source: PgError::from(e),
    }
}
