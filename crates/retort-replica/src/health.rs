//! Checks over a [`Topology`] before a run: synchronous standbys, lag, slots, hot-standby
//! conflicts and logical replication. Pure functions: the numbers come from `Topology::read`.

use serde::Serialize;

use crate::error::ReplicaError;
use crate::lsn::pretty_bytes;
use crate::sync_names::SyncMethod;
use crate::topology::Topology;

/// Whether commits can be acknowledged by enough synchronous standbys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncHealth {
    /// How many synchronous standbys a commit waits for (0: none configured, or this session's
    /// synchronous_commit does not wait).
    pub needed: u32,
    /// FIRST or ANY.
    pub method: Option<SyncMethod>,
    /// Listed standbys that are streaming.
    pub streaming: Vec<String>,
    /// Listed names with no streaming standby (not `*`).
    pub missing: Vec<String>,
}

impl SyncHealth {
    /// True when commits will not wait forever.
    pub fn ok(&self) -> bool {
        self.streaming.len() as u32 >= self.needed
    }
}

/// Synchronous-standby health of a primary's topology.
pub fn sync_health(t: &Topology) -> SyncHealth {
    let Some(names) = &t.sync_names else {
        return SyncHealth {
            needed: 0,
            method: None,
            streaming: Vec::new(),
            missing: Vec::new(),
        };
    };
    // Commits that do not wait for a standby cannot hang on one.
    let waits = !matches!(t.synchronous_commit.as_str(), "off" | "local");
    let streaming: Vec<String> = t
        .standbys
        .iter()
        .filter(|s| s.state == "streaming" && names.lists(&s.name))
        .map(|s| s.name.clone())
        .collect();
    let missing = names
        .names
        .iter()
        .filter(|n| *n != "*" && !streaming.iter().any(|s| s.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    SyncHealth {
        needed: if waits { names.num_sync } else { 0 },
        method: Some(names.method),
        streaming,
        missing,
    }
}

/// Refuses when fewer synchronous standbys stream than commits need.
pub fn check_sync(t: &Topology) -> Result<SyncHealth, ReplicaError> {
    let h = sync_health(t);
    if h.ok() {
        return Ok(h);
    }
    Err(ReplicaError::MissingSyncStandby {
        needed: h.needed,
        candidates: t
            .sync_names
            .as_ref()
            .map(|n| n.names.join(", "))
            .unwrap_or_default(),
        streaming: h.streaming,
        missing: h.missing,
    })
}

/// A lag limit: bytes of WAL not replayed, or seconds of replay lag.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum MaxLag {
    /// Bytes of unreplayed WAL.
    Bytes(u64),
    /// Seconds of replay lag (pg_stat_replication.replay_lag).
    Seconds(f64),
}

impl MaxLag {
    /// `64MB`, `512kB`, `1GB`, `30s`, `2min`, `500ms`.
    pub fn parse(text: &str) -> Result<MaxLag, ReplicaError> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let secs = [("ms", 0.001), ("min", 60.0), ("s", 1.0), ("h", 3600.0)]
            .iter()
            .find_map(|(unit, mult)| {
                lower
                    .strip_suffix(unit)
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .map(|v| v * mult)
            });
        match secs {
            Some(s) => Ok(MaxLag::Seconds(s)),
            None => crate::lsn::parse_bytes(t).map(MaxLag::Bytes),
        }
    }
}

/// Refuses when a standby is further behind than `max`.
pub fn check_lag(t: &Topology, max: MaxLag) -> Result<(), ReplicaError> {
    for s in &t.standbys {
        match max {
            MaxLag::Bytes(limit) => {
                if let Some(b) = s.lag_bytes.filter(|b| *b > limit) {
                    return Err(ReplicaError::LagTooHigh {
                        standby: s.name.clone(),
                        lag: pretty_bytes(b),
                        allowed: pretty_bytes(limit),
                    });
                }
            }
            MaxLag::Seconds(limit) => {
                if let Some(l) = s.replay_lag_s.filter(|l| *l > limit) {
                    return Err(ReplicaError::LagTooHigh {
                        standby: s.name.clone(),
                        lag: format!("{l:.1} s"),
                        allowed: format!("{limit:.1} s"),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Inactive replication slots holding more WAL than `threshold` bytes: the primary keeps that
/// WAL until the slot's consumer returns, and can fill its disk.
pub fn inactive_slots(t: &Topology, threshold: u64) -> Vec<String> {
    t.slots
        .iter()
        .filter(|s| !s.active && s.retained_bytes.unwrap_or(0) >= threshold)
        .map(|s| {
            format!(
                "{} slot {:?} is inactive and holds {} of WAL on this server, which cannot be \
                 removed until its consumer returns or the slot is dropped \
                 (SELECT pg_drop_replication_slot('{}'))",
                s.slot_type,
                s.name,
                pretty_bytes(s.retained_bytes.unwrap_or(0)),
                s.name.replace('\'', "''")
            )
        })
        .collect()
}

/// What replaying ACCESS EXCLUSIVE locks does on standbys, said before a migration that takes
/// them. `standbys` are the standbys' own views (from `--replica-url`), when known.
pub fn conflict_warning(t: &Topology, standbys: &[(String, Topology)]) -> Option<String> {
    if t.standbys.is_empty() && standbys.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    for (name, st) in standbys {
        if let Some(r) = &st.receiver {
            parts.push(format!(
                "{name}: max_standby_streaming_delay = {}, hot_standby_feedback = {}",
                r.max_standby_streaming_delay,
                if r.hot_standby_feedback { "on" } else { "off" }
            ));
        }
    }
    if parts.is_empty() {
        for s in &t.standbys {
            parts.push(format!(
                "{}: hot_standby_feedback {}",
                s.name,
                if s.hot_standby_feedback { "on" } else { "off" }
            ));
        }
    }
    Some(format!(
        "this migration takes ACCESS EXCLUSIVE locks, which standbys replay too: a standby's \
         replay waits for queries reading those tables for up to max_standby_streaming_delay, \
         then cancels them (hot_standby_feedback does not prevent lock conflicts) — {}",
        parts.join("; ")
    ))
}

/// Advice when the database takes part in logical replication, which does not carry DDL.
pub fn logical_replication_warning(
    publications: &[String],
    subscriptions: &[String],
) -> Option<String> {
    if publications.is_empty() && subscriptions.is_empty() {
        return None;
    }
    let mut who = Vec::new();
    if !publications.is_empty() {
        who.push(format!("publishes ({})", publications.join(", ")));
    }
    if !subscriptions.is_empty() {
        who.push(format!("subscribes ({})", subscriptions.join(", ")));
    }
    Some(format!(
        "this database {}: logical replication does not replicate DDL. Apply schema changes on \
         the subscribers first when columns are added, and on the publisher first when columns \
         are dropped, or replication stops on the first row it cannot apply",
        who.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync_names::SyncStandbyNames;
    use crate::topology::{Role, StandbyInfo};

    fn standby(name: &str, state: &str, lag: u64) -> StandbyInfo {
        StandbyInfo {
            name: name.into(),
            client_addr: None,
            state: state.into(),
            sync_state: "async".into(),
            sent_lsn: None,
            write_lsn: None,
            flush_lsn: None,
            replay_lsn: None,
            write_lag_s: None,
            flush_lag_s: None,
            replay_lag_s: Some(lag as f64),
            lag_bytes: Some(lag),
            hot_standby_feedback: false,
        }
    }

    fn topo(names: &str, commit: &str, standbys: Vec<StandbyInfo>) -> Topology {
        Topology {
            role: Role::Primary,
            server_version_num: 150000,
            cluster_name: String::new(),
            current_lsn: None,
            synchronous_standby_names: names.into(),
            sync_names: SyncStandbyNames::parse(names).unwrap(),
            synchronous_commit: commit.into(),
            standbys,
            slots: Vec::new(),
            receiver: None,
        }
    }

    #[test]
    fn sync_health_counts_streaming_listed_standbys() {
        let t = topo(
            "FIRST 1 (s1, s2)",
            "on",
            vec![standby("s2", "streaming", 0), standby("x", "streaming", 0)],
        );
        let h = check_sync(&t).unwrap();
        assert_eq!(h.streaming, vec!["s2".to_owned()]);
        assert_eq!(h.missing, vec!["s1".to_owned()]);

        let t = topo(
            "ANY 2 (s1, s2)",
            "on",
            vec![standby("s1", "streaming", 0), standby("s2", "catchup", 0)],
        );
        let err = check_sync(&t).unwrap_err().to_string();
        assert!(
            err.contains("needs 2") && err.contains("only s1 is streaming"),
            "{err}"
        );

        // Commits that do not wait, and no sync replication at all, are fine.
        assert!(check_sync(&topo("s1", "local", vec![])).is_ok());
        assert!(check_sync(&topo("", "on", vec![])).is_ok());
        let err = check_sync(&topo("s1", "on", vec![]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("none is streaming") && err.contains("not connected: s1"),
            "{err}"
        );
    }

    #[test]
    fn lag_limits_in_bytes_and_seconds() {
        let t = topo(
            "",
            "on",
            vec![
                standby("s1", "streaming", 100),
                standby("s2", "streaming", 5000),
            ],
        );
        assert!(check_lag(&t, MaxLag::Bytes(10_000)).is_ok());
        let e = check_lag(&t, MaxLag::Bytes(1000)).unwrap_err().to_string();
        assert!(e.contains("s2") && e.contains("4.9 kB"), "{e}");
        assert!(check_lag(&t, MaxLag::Seconds(200.0)).is_err());
        assert_eq!(MaxLag::parse("64MB").unwrap(), MaxLag::Bytes(64 << 20));
        assert_eq!(MaxLag::parse("30s").unwrap(), MaxLag::Seconds(30.0));
        assert_eq!(MaxLag::parse("2min").unwrap(), MaxLag::Seconds(120.0));
        assert_eq!(MaxLag::parse("500ms").unwrap(), MaxLag::Seconds(0.5));
        assert!(MaxLag::parse("soon").is_err());
    }
}
