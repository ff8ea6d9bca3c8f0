//! PostgreSQL's table-level lock modes and what each statement takes: the documented lock
//! table (SQL commands' reference pages and "Explicit Locking"), as data.

use serde::Serialize;

/// A table-level lock mode, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LockMode {
    /// SELECT.
    AccessShare,
    /// SELECT FOR UPDATE/SHARE.
    RowShare,
    /// INSERT, UPDATE, DELETE.
    RowExclusive,
    /// VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT, ...
    ShareUpdateExclusive,
    /// CREATE INDEX.
    Share,
    /// CREATE TRIGGER, ADD FOREIGN KEY.
    ShareRowExclusive,
    /// REFRESH MATERIALIZED VIEW CONCURRENTLY.
    Exclusive,
    /// Most ALTER TABLE forms, DROP, TRUNCATE, VACUUM FULL, CLUSTER, ...
    AccessExclusive,
}

impl LockMode {
    /// The name `pg_locks.mode` uses, e.g. `AccessExclusiveLock`.
    pub fn pg_locks_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// The name SQL uses, e.g. `ACCESS EXCLUSIVE`.
    pub fn sql_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// From `LOCK ... IN <mode> MODE` (the parser's 1..=8).
    pub fn from_lock_stmt(mode: i32) -> LockMode {
        match mode {
            1 => LockMode::AccessShare,
            2 => LockMode::RowShare,
            3 => LockMode::RowExclusive,
            4 => LockMode::ShareUpdateExclusive,
            5 => LockMode::Share,
            6 => LockMode::ShareRowExclusive,
            7 => LockMode::Exclusive,
            _ => LockMode::AccessExclusive,
        }
    }

    /// What waits behind this lock, in words.
    pub fn blocks(self) -> &'static str {
        match self {
            LockMode::AccessExclusive => "every read and write",
            LockMode::Exclusive | LockMode::ShareRowExclusive | LockMode::Share => {
                "every write (reads go on)"
            }
            LockMode::ShareUpdateExclusive => {
                "other schema changes and VACUUM (reads and writes go on)"
            }
            _ => "nothing an application does",
        }
    }

    /// True when application writes wait behind it.
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }
}

/// What a statement does to the table's data while it holds its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Work {
    /// Catalog change only: the lock is held for a moment (once granted).
    Metadata,
    /// Writes rows (INSERT/UPDATE/DELETE): row locks, for as long as the statement runs.
    Dml,
    /// Reads the whole table (validating a constraint, checking NOT NULL).
    Scan,
    /// Builds an index: reads the whole table.
    Build,
    /// Rewrites the whole table (and its indexes).
    Rewrite,
}

impl Work {
    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Work::Metadata => "changes the catalog only",
            Work::Dml => "writes rows",
            Work::Scan => "scans the whole table",
            Work::Build => "builds an index over the whole table",
            Work::Rewrite => "rewrites the whole table and its indexes",
        }
    }
}
