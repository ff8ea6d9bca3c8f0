//! What the server we are connected to knows about replication: its role, its standbys (on a
//! primary) or its upstream (on a standby), slots and lag. A handful of catalog queries.

use postgres::Client;
use retort_pg::PgError;
use serde::Serialize;

use crate::error::ReplicaError;
use crate::lsn::{self, Lsn};
use crate::sync_names::SyncStandbyNames;

/// Primary or standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts writes.
    Primary,
    /// In recovery, replaying WAL from upstream.
    Standby,
}

/// A standby as the primary's `pg_stat_replication` sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StandbyInfo {
    /// `application_name` (the name synchronous_standby_names uses).
    pub name: String,
    /// Client address, when visible (superuser or pg_read_all_stats).
    pub client_addr: Option<String>,
    /// `startup`, `catchup`, `streaming`, `backup`, `stopping`.
    pub state: String,
    /// `async`, `potential`, `sync` or `quorum`.
    pub sync_state: String,
    /// WAL sent.
    pub sent_lsn: Option<Lsn>,
    /// WAL written by the standby.
    pub write_lsn: Option<Lsn>,
    /// WAL flushed by the standby.
    pub flush_lsn: Option<Lsn>,
    /// WAL replayed (visible to queries) on the standby.
    pub replay_lsn: Option<Lsn>,
    /// Seconds between a local flush and the standby's write report.
    pub write_lag_s: Option<f64>,
    /// ... and its flush report.
    pub flush_lag_s: Option<f64>,
    /// ... and its replay report (NULL once the standby is idle and caught up).
    pub replay_lag_s: Option<f64>,
    /// Bytes of WAL the standby has not replayed yet.
    pub lag_bytes: Option<u64>,
    /// The standby sends hot_standby_feedback (its xmin is set).
    pub hot_standby_feedback: bool,
}

/// A replication slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotInfo {
    /// Slot name.
    pub name: String,
    /// `physical` or `logical`.
    pub slot_type: String,
    /// A consumer is connected.
    pub active: bool,
    /// WAL kept for it, in bytes.
    pub retained_bytes: Option<u64>,
    /// `reserved`, `extended`, `unreserved`, `lost`.
    pub wal_status: Option<String>,
}

/// A standby's own view of its upstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceiverInfo {
    /// The WAL receiver's status (`streaming`, ...), or None when no receiver runs.
    pub status: Option<String>,
    /// `host:port` of the upstream it streams from.
    pub sender: Option<String>,
    /// Last WAL received.
    pub receive_lsn: Option<Lsn>,
    /// Last WAL replayed.
    pub replay_lsn: Option<Lsn>,
    /// Seconds since the last replayed transaction committed on the primary.
    pub last_replay_age_s: Option<f64>,
    /// Replay is paused (pg_wal_replay_pause()).
    pub replay_paused: bool,
    /// primary_conninfo with any password removed (visible to superusers and pg_read_all_settings).
    pub primary_conninfo: Option<String>,
    /// `hot_standby_feedback`.
    pub hot_standby_feedback: bool,
    /// `max_standby_streaming_delay` as the server prints it.
    pub max_standby_streaming_delay: String,
    /// `recovery_min_apply_delay` as the server prints it.
    pub recovery_min_apply_delay: String,
}

/// Replication as one server sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Topology {
    /// Primary or standby.
    pub role: Role,
    /// `server_version_num`.
    pub server_version_num: i32,
    /// `cluster_name` (may be empty).
    pub cluster_name: String,
    /// On a primary: `pg_current_wal_lsn()`.
    pub current_lsn: Option<Lsn>,
    /// `synchronous_standby_names` as set.
    pub synchronous_standby_names: String,
    /// ... parsed (None when empty).
    pub sync_names: Option<SyncStandbyNames>,
    /// `synchronous_commit` of this session.
    pub synchronous_commit: String,
    /// On a primary: its standbys, by name.
    pub standbys: Vec<StandbyInfo>,
    /// Replication slots on this server.
    pub slots: Vec<SlotInfo>,
    /// On a standby: its receiver and replay state.
    pub receiver: Option<ReceiverInfo>,
}

const SERVER: &str = "SELECT pg_is_in_recovery(), current_setting('server_version_num')::int, \
    current_setting('cluster_name'), \
    CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END, \
    current_setting('synchronous_standby_names'), current_setting('synchronous_commit')";

const STANDBYS: &str = "SELECT application_name::text, client_addr::text, state, sync_state, \
    sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text, \
    extract(epoch FROM write_lag)::float8, extract(epoch FROM flush_lag)::float8, \
    extract(epoch FROM replay_lag)::float8, \
    pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8, backend_xmin IS NOT NULL \
    FROM pg_stat_replication ORDER BY application_name, pid";

const SLOTS: &str = "SELECT slot_name::text, slot_type, active, \
    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() \
                         ELSE pg_current_wal_lsn() END, restart_lsn)::int8, wal_status \
    FROM pg_replication_slots ORDER BY slot_name";

const RECEIVER: &str = "SELECT (SELECT status FROM pg_stat_wal_receiver), \
    (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver), \
    pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, \
    extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, \
    pg_is_wal_replay_paused(), \
    (SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'), \
    current_setting('hot_standby_feedback')::bool, current_setting('max_standby_streaming_delay'), \
    current_setting('recovery_min_apply_delay')";

fn db(e: postgres::Error) -> ReplicaError {
    ReplicaError::Db(PgError::from(e))
}

fn bytes(v: Option<i64>) -> Option<u64> {
    v.map(|b| b.max(0) as u64)
}

impl Topology {
    /// Reads the topology from the server `client` is connected to (3 or 4 queries).
    pub fn read(client: &mut Client) -> Result<Topology, ReplicaError> {
        let row = client.query_one(SERVER, &[]).map_err(db)?;
        let in_recovery: bool = row.get(0);
        let sync_raw: String = row.get(4);
        let mut t = Topology {
            role: if in_recovery {
                Role::Standby
            } else {
                Role::Primary
            },
            server_version_num: row.get(1),
            cluster_name: row.get(2),
            current_lsn: lsn::opt(row.get(3))?,
            sync_names: SyncStandbyNames::parse(&sync_raw)?,
            synchronous_standby_names: sync_raw,
            synchronous_commit: row.get(5),
            standbys: Vec::new(),
            slots: Vec::new(),
            receiver: None,
        };
        if !in_recovery {
            for r in client.query(STANDBYS, &[]).map_err(db)? {
                t.standbys.push(StandbyInfo {
                    name: r.get(0),
                    client_addr: r.get(1),
                    state: r.get::<_, Option<String>>(2).unwrap_or_default(),
                    sync_state: r.get::<_, Option<String>>(3).unwrap_or_default(),
                    sent_lsn: lsn::opt(r.get(4))?,
                    write_lsn: lsn::opt(r.get(5))?,
                    flush_lsn: lsn::opt(r.get(6))?,
                    replay_lsn: lsn::opt(r.get(7))?,
                    write_lag_s: r.get(8),
                    flush_lag_s: r.get(9),
                    replay_lag_s: r.get(10),
                    lag_bytes: bytes(r.get(11)),
                    hot_standby_feedback: r.get(12),
                });
            }
        }
        for r in client.query(SLOTS, &[]).map_err(db)? {
            t.slots.push(SlotInfo {
                name: r.get(0),
                slot_type: r.get(1),
                active: r.get(2),
                retained_bytes: bytes(r.get(3)),
                wal_status: r.get(4),
            });
        }
        if in_recovery {
            let r = client.query_one(RECEIVER, &[]).map_err(db)?;
            t.receiver = Some(ReceiverInfo {
                status: r.get(0),
                sender: r.get(1),
                receive_lsn: lsn::opt(r.get(2))?,
                replay_lsn: lsn::opt(r.get(3))?,
                last_replay_age_s: r.get(4),
                replay_paused: r.get(5),
                primary_conninfo: r
                    .get::<_, Option<String>>(6)
                    .filter(|s| !s.is_empty())
                    .map(|s| retort_pg::redact_conn_string(&s)),
                hot_standby_feedback: r.get(7),
                max_standby_streaming_delay: r.get(8),
                recovery_min_apply_delay: r.get(9),
            });
        }
        Ok(t)
    }

    /// The primary a standby streams from, in words: host and port from primary_conninfo
    /// (password removed), else the WAL receiver's sender.
    pub fn upstream(&self) -> Option<String> {
        let r = self.receiver.as_ref()?;
        if let Some(conninfo) = &r.primary_conninfo {
            let keep: Vec<&str> = conninfo
                .split_whitespace()
                .filter(|kv| {
                    kv.starts_with("host=")
                        || kv.starts_with("hostaddr=")
                        || kv.starts_with("port=")
                })
                .collect();
            if !keep.is_empty() {
                return Some(keep.join(" "));
            }
            return Some(conninfo.clone());
        }
        r.sender.clone()
    }

    /// Fails with [`ReplicaError::Standby`] (naming the primary) unless this is a primary.
    pub fn require_primary(&self, target: &str) -> Result<(), ReplicaError> {
        match self.role {
            Role::Primary => Ok(()),
            Role::Standby => Err(ReplicaError::Standby {
                target: target.to_owned(),
                primary: self.upstream(),
            }),
        }
    }
}
