//! The one error type of `retort-replica`.

use retort_pg::PgError;

use crate::lsn::Lsn;

/// What can go wrong reading replication state or waiting for standbys.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The database refused a query or the connection failed.
    #[error(transparent)]
    Db(#[from] PgError),
    /// Not an LSN like `16/B374D848`.
    #[error("`{0}` is not a WAL position like 16/B374D848")]
    InvalidLsn(String),
    /// Not a size like `64MB`.
    #[error("`{0}` is not a size like 64MB, 512kB or 1GB")]
    InvalidSize(String),
    /// Not a wait mode.
    #[error("`{0}` is not a wait mode: use none, sync, all or a number of standbys")]
    InvalidMode(String),
    /// The server's synchronous_standby_names could not be read.
    #[error("synchronous_standby_names = '{value}' cannot be parsed: {reason}")]
    InvalidSyncNames {
        /// The setting.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// An operation that needs the primary was pointed at a standby.
    #[error("{target} is a standby (in recovery){}", primary.as_ref().map(|p| format!("; its primary is {p}")).unwrap_or_default())]
    Standby {
        /// Where we are connected (no password).
        target: String,
        /// The primary named by the standby's primary_conninfo, password removed.
        primary: Option<String>,
    },
    /// An operation that needs a standby was pointed at a primary.
    #[error("{0} is a primary, not a standby")]
    NotStandby(String),
    /// `--wait-replicas sync` on a primary without synchronous standbys.
    #[error("the primary has no synchronous standbys (synchronous_standby_names is empty), so there is nothing to wait for in `sync` mode")]
    NoSyncStandbys,
    /// Waiting for standbys took longer than allowed. The migration itself is committed.
    #[error("{} not replayed {target} within {waited_s:.1} s: {}", if behind.len() == 1 { "a standby has" } else { "standbys have" }, behind.join("; "))]
    WaitTimeout {
        /// The position waited for.
        target: Lsn,
        /// How long we waited.
        waited_s: f64,
        /// Each standby still behind, with how far.
        behind: Vec<String>,
    },
    /// Fewer synchronous standbys are streaming than synchronous_standby_names needs.
    #[error("synchronous replication needs {needed} standby(s) from ({candidates}) but {} streaming{}: every commit on the primary would wait until one returns", if streaming.is_empty() { "none is".to_owned() } else { format!("only {} is", streaming.join(", ")) }, if missing.is_empty() { String::new() } else { format!(" (not connected: {})", missing.join(", ")) })]
    MissingSyncStandby {
        /// `num_sync` of the setting.
        needed: u32,
        /// The listed names.
        candidates: String,
        /// Listed standbys that are streaming.
        streaming: Vec<String>,
        /// Listed names with no streaming standby.
        missing: Vec<String>,
    },
    /// A standby is further behind than allowed.
    #[error("{standby} is {lag} behind the primary, more than the allowed {allowed}")]
    LagTooHigh {
        /// Its name.
        standby: String,
        /// How far behind.
        lag: String,
        /// The limit.
        allowed: String,
    },
}

impl ReplicaError {
    /// A sentence saying what to do next, when we know one.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReplicaError::Db(e) => e.hint(),
            ReplicaError::Standby { .. } => Some(
                "point -d / DATABASE_URL at the primary; standbys replay every change from it"
                    .into(),
            ),
            ReplicaError::WaitTimeout { .. } => Some(
                "the migration is committed on the primary; the standbys will replay it when \
                 they catch up. Check them with `retort replica status`, or wait longer with \
                 --replica-timeout"
                    .into(),
            ),
            ReplicaError::MissingSyncStandby { .. } => Some(
                "start the synchronous standby again, or change synchronous_standby_names \
                 (ALTER SYSTEM SET synchronous_standby_names = ...; SELECT pg_reload_conf()); \
                 --allow-missing-sync runs anyway and reports commits that wait"
                    .into(),
            ),
            ReplicaError::LagTooHigh { .. } => Some(
                "wait for the standby to catch up (`retort replica status --watch`), or raise \
                 [replicas] max_lag / --max-lag"
                    .into(),
            ),
            ReplicaError::NoSyncStandbys => Some("use --wait-replicas all or a number".into()),
            _ => None,
        }
    }
}
