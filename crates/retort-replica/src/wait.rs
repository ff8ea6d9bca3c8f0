//! Waiting for standbys to replay a WAL position: after a migration (`sync`, `all`, `N`), and
//! for applications that want to read their own write from a standby ([`wait_for_lsn`]).
//!
//! The decision is a pure function of the positions ([`evaluate`]); the adapters only poll.

use std::time::{Duration, Instant};

use postgres::Client;
use retort_pg::PgError;
use serde::Serialize;

use crate::error::ReplicaError;
use crate::lsn::{self, pretty_bytes, Lsn};
use crate::sync_names::SyncMethod;
use crate::topology::Topology;

/// Which standbys must have replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitMode {
    /// The synchronous standbys the primary waits for (FIRST n: those in `sync` state; ANY n:
    /// any n of the quorum).
    Sync,
    /// Every standby connected to the primary, and every `--replica-url`.
    All,
    /// Any N standbys.
    Count(u32),
}

impl WaitMode {
    /// `none` (→ None), `sync`, `all`, or a number.
    pub fn parse(text: &str) -> Result<Option<WaitMode>, ReplicaError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" | "off" | "" => Ok(None),
            "sync" => Ok(Some(WaitMode::Sync)),
            "all" => Ok(Some(WaitMode::All)),
            n => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| Some(WaitMode::Count(n)))
                .ok_or_else(|| ReplicaError::InvalidMode(text.to_owned())),
        }
    }
}

impl std::fmt::Display for WaitMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitMode::Sync => f.write_str("sync"),
            WaitMode::All => f.write_str("all"),
            WaitMode::Count(n) => write!(f, "{n}"),
        }
    }
}

/// One standby's replay position, from the primary's view or polled directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandbyPosition {
    /// Its name (application_name).
    pub name: String,
    /// What it has replayed; None when unknown (not connected).
    pub replay_lsn: Option<Lsn>,
    /// `sync`, `quorum`, `potential`, `async`, or `unreachable` for a replica URL that
    /// does not answer.
    pub sync_state: String,
}

/// Where a wait stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitProgress {
    /// The condition holds.
    pub done: bool,
    /// Standbys that have replayed the target.
    pub caught_up: Vec<String>,
    /// Standbys that count and have not, with the bytes still to replay (None: unknown).
    pub behind: Vec<(String, Option<u64>)>,
}

impl WaitProgress {
    /// "standby2 is 1.2 kB behind", one entry per standby.
    pub fn behind_text(&self) -> Vec<String> {
        self.behind
            .iter()
            .map(|(name, b)| match b {
                Some(b) => format!("{name} is {} behind", pretty_bytes(*b)),
                None => format!("{name} is not connected"),
            })
            .collect()
    }
}

/// Decides whether `positions` satisfy `mode` for `target`.
pub fn evaluate(
    mode: WaitMode,
    target: Lsn,
    positions: &[StandbyPosition],
    sync_method: Option<SyncMethod>,
    num_sync: u32,
) -> Result<WaitProgress, ReplicaError> {
    let caught = |p: &StandbyPosition| p.replay_lsn.is_some_and(|l| l >= target);
    let behind_of =
        |p: &StandbyPosition| (p.name.clone(), p.replay_lsn.map(|l| l.bytes_until(target)));
    let (counted, needed): (Vec<&StandbyPosition>, usize) = match mode {
        WaitMode::All => (positions.iter().collect(), positions.len()),
        WaitMode::Count(n) => (positions.iter().collect(), n as usize),
        WaitMode::Sync => match sync_method {
            None => return Err(ReplicaError::NoSyncStandbys),
            Some(SyncMethod::Priority) => {
                let sync: Vec<&StandbyPosition> = positions
                    .iter()
                    .filter(|p| p.sync_state == "sync")
                    .collect();
                // While a sync standby is missing, the commit itself waited; wait for as many
                // as the setting names.
                let n = (num_sync as usize).max(sync.len());
                (sync, n)
            }
            Some(SyncMethod::Quorum) => (
                positions
                    .iter()
                    .filter(|p| p.sync_state == "quorum")
                    .collect(),
                num_sync as usize,
            ),
        },
    };
    let caught_up: Vec<String> = counted
        .iter()
        .filter(|p| caught(p))
        .map(|p| p.name.clone())
        .collect();
    let behind: Vec<(String, Option<u64>)> = counted
        .iter()
        .filter(|p| !caught(p))
        .map(|p| behind_of(p))
        .collect();
    let mut behind = behind;
    if caught_up.len() + behind.len() < needed {
        behind.push((
            format!(
                "{} more standby(s) than are connected",
                needed - caught_up.len() - behind.len()
            ),
            None,
        ));
    }
    Ok(WaitProgress {
        done: caught_up.len() >= needed,
        caught_up,
        behind,
    })
}

const INSERT_LSN: &str = "SELECT CASE WHEN pg_is_in_recovery() THEN NULL \
    ELSE pg_current_wal_insert_lsn()::text END, current_setting('wal_block_size')::int8, \
    (SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size')";

/// Page header sizes (MAXALIGNed XLogPageHeaderData / XLogLongPageHeaderData on 64-bit).
const SHORT_PAGE_HEADER: u64 = 24;
const LONG_PAGE_HEADER: u64 = 40;

/// The insert position as a position a standby can reach. When the last record ended exactly
/// at a page boundary, the server reports the insert position past the next page's header,
/// which no replayed record ends at until more WAL is written: a quiet primary would make a
/// read-your-writes wait time out. No record ends right after a page header, so stepping back
/// over it is exact.
pub fn reachable_lsn(insert: Lsn, wal_block_size: u64, wal_segment_size: u64) -> Lsn {
    let at = insert.0;
    if wal_segment_size > 0 && at % wal_segment_size == LONG_PAGE_HEADER {
        Lsn(at - LONG_PAGE_HEADER)
    } else if wal_block_size > 0 && at % wal_block_size == SHORT_PAGE_HEADER {
        Lsn(at - SHORT_PAGE_HEADER)
    } else {
        insert
    }
}

fn insert_lsn_of(row: &postgres::Row) -> Result<Lsn, ReplicaError> {
    let lsn = lsn::opt(row.get(0))?.ok_or(ReplicaError::Standby {
        target: "the server".into(),
        primary: None,
    })?;
    let block: i64 = row.get(1);
    let segment: Option<i64> = row.get(2);
    Ok(reachable_lsn(
        lsn,
        block.max(0) as u64,
        segment.unwrap_or(0).max(0) as u64,
    ))
}

/// The primary's WAL position after everything committed so far (the insert position, see
/// [`reachable_lsn`]): once a commit has returned, at or after its record.
pub fn current_lsn(primary: &mut Client) -> Result<Lsn, ReplicaError> {
    let row = primary
        .query_one(INSERT_LSN, &[])
        .map_err(|e| ReplicaError::Db(PgError::from(e)))?;
    insert_lsn_of(&row)
}

/// A standby polled directly (`--replica-url`).
pub struct DirectStandby {
    /// Name to report (its application_name when known).
    pub name: String,
    /// Its connection, or None while it cannot be reached.
    pub client: Option<Client>,
}

/// The primary's view of its standbys' replay positions, merged with direct polls.
fn positions(
    primary: &mut Client,
    direct: &mut [DirectStandby],
) -> Result<Vec<StandbyPosition>, ReplicaError> {
    let rows = primary
        .query(
            "SELECT application_name::text, replay_lsn::text, sync_state FROM pg_stat_replication",
            &[],
        )
        .map_err(|e| ReplicaError::Db(PgError::from(e)))?;
    let mut out: Vec<StandbyPosition> = Vec::new();
    for r in rows {
        out.push(StandbyPosition {
            name: r.get(0),
            replay_lsn: lsn::opt(r.get(1))?,
            sync_state: r.get::<_, Option<String>>(2).unwrap_or_default(),
        });
    }
    for d in direct.iter_mut() {
        let polled = match d.client.as_mut() {
            Some(c) => c
                .query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
                .ok()
                .and_then(|r| r.get::<_, Option<String>>(0)),
            None => None,
        };
        let polled = lsn::opt(polled)?;
        match out.iter_mut().find(|p| p.name == d.name) {
            Some(p) => p.replay_lsn = p.replay_lsn.max(polled),
            None => out.push(StandbyPosition {
                name: d.name.clone(),
                replay_lsn: polled,
                sync_state: "unreachable".into(),
            }),
        }
    }
    Ok(out)
}

/// Waits until standbys have replayed `target` under `mode`, polling the primary (and `direct`
/// standbys) with backoff; `on_progress` sees each new state. Fails with
/// [`ReplicaError::WaitTimeout`] naming the standbys behind.
pub fn wait_for_replay(
    primary: &mut Client,
    target: Lsn,
    mode: WaitMode,
    timeout: Duration,
    direct: &mut [DirectStandby],
    mut on_progress: impl FnMut(&WaitProgress, Duration),
) -> Result<WaitProgress, ReplicaError> {
    let topology = Topology::read(primary)?;
    let (method, num) = topology
        .sync_names
        .as_ref()
        .map(|n| (Some(n.method), n.num_sync))
        .unwrap_or((None, 0));
    let began = Instant::now();
    let mut pause = Duration::from_millis(2);
    let mut last: Option<WaitProgress> = None;
    loop {
        let pos = positions(primary, direct)?;
        let progress = evaluate(mode, target, &pos, method, num)?;
        if last.as_ref() != Some(&progress) {
            on_progress(&progress, began.elapsed());
        }
        if progress.done {
            return Ok(progress);
        }
        if began.elapsed() >= timeout {
            return Err(ReplicaError::WaitTimeout {
                target,
                waited_s: began.elapsed().as_secs_f64(),
                behind: progress.behind_text(),
            });
        }
        last = Some(progress);
        std::thread::sleep(pause.min(timeout.saturating_sub(began.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The result of [`wait_for_lsn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayWait {
    /// The standby has replayed the position (or is a primary, which has everything it wrote).
    Caught {
        /// How long it took.
        after: Duration,
    },
    /// It had not within the timeout.
    TimedOut {
        /// Where the standby was when we gave up.
        replayed: Option<Lsn>,
    },
}

const REPLAYED: &str = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text";

/// A read-your-writes wait as a state machine without I/O: feed it each answer to
/// [`ReplayPoll::QUERY`], and it says whether the wait is over or how long to sleep before
/// asking again (0.5 ms doubling to 10 ms: a prompt standby is seen promptly, a lagging one
/// costs at most 100 queries a second).
#[derive(Debug, Clone)]
pub struct ReplayPoll {
    lsn: Lsn,
    timeout: Duration,
    began: Instant,
    pause: Duration,
}

/// What a [`ReplayPoll`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStep {
    /// The wait is over.
    Done(ReplayWait),
    /// Sleep this long, then query again.
    Sleep(Duration),
}

impl ReplayPoll {
    /// The query to send the standby each round: `(pg_is_in_recovery(), replay LSN as text)`.
    pub const QUERY: &'static str = REPLAYED;

    /// Starts waiting for `lsn`, at most `timeout` from now.
    pub fn new(lsn: Lsn, timeout: Duration) -> ReplayPoll {
        ReplayPoll {
            lsn,
            timeout,
            began: Instant::now(),
            pause: Duration::from_micros(500),
        }
    }

    /// Takes one answer: a primary (not in recovery) has everything it wrote.
    pub fn answer(&mut self, in_recovery: bool, replayed: Option<Lsn>) -> PollStep {
        let elapsed = self.began.elapsed();
        if !in_recovery || replayed.is_some_and(|r| r >= self.lsn) {
            return PollStep::Done(ReplayWait::Caught { after: elapsed });
        }
        if elapsed >= self.timeout {
            return PollStep::Done(ReplayWait::TimedOut { replayed });
        }
        let sleep = self.pause.min(self.timeout - elapsed);
        self.pause = (self.pause * 2).min(Duration::from_millis(10));
        PollStep::Sleep(sleep)
    }

    fn answer_row(&mut self, row: &postgres::Row) -> Result<PollStep, ReplicaError> {
        Ok(self.answer(row.get(0), lsn::opt(row.get(1))?))
    }
}

/// Read-your-writes: waits until the standby behind `standby` has replayed `lsn` (from
/// [`current_lsn`] after the write committed on the primary), at most `timeout`.
pub fn wait_for_lsn(
    standby: &mut Client,
    lsn: Lsn,
    timeout: Duration,
) -> Result<ReplayWait, ReplicaError> {
    let mut poll = ReplayPoll::new(lsn, timeout);
    loop {
        let row = standby
            .query_one(ReplayPoll::QUERY, &[])
            .map_err(|e| ReplicaError::Db(PgError::from(e)))?;
        match poll.answer_row(&row)? {
            PollStep::Done(outcome) => return Ok(outcome),
            PollStep::Sleep(d) => std::thread::sleep(d),
        }
    }
}

/// The async [`current_lsn`], for tokio-postgres applications.
pub async fn current_lsn_async(primary: &tokio_postgres::Client) -> Result<Lsn, ReplicaError> {
    let row = primary
        .query_one(INSERT_LSN, &[])
        .await
        .map_err(|e| ReplicaError::Db(PgError::from(e)))?;
    insert_lsn_of(&row)
}

/// The async [`wait_for_lsn`], for tokio-postgres applications.
pub async fn wait_for_lsn_async(
    standby: &tokio_postgres::Client,
    lsn: Lsn,
    timeout: Duration,
) -> Result<ReplayWait, ReplicaError> {
    let mut poll = ReplayPoll::new(lsn, timeout);
    loop {
        let row = standby
            .query_one(ReplayPoll::QUERY, &[])
            .await
            .map_err(|e| ReplicaError::Db(PgError::from(e)))?;
        match poll.answer_row(&row)? {
            PollStep::Done(outcome) => return Ok(outcome),
            PollStep::Sleep(d) => tokio::time::sleep(d).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(name: &str, lsn: Option<u64>, state: &str) -> StandbyPosition {
        StandbyPosition {
            name: name.into(),
            replay_lsn: lsn.map(Lsn),
            sync_state: state.into(),
        }
    }

    #[test]
    fn modes() {
        let t = Lsn(100);
        let p = [pos("s1", Some(100), "sync"), pos("s2", Some(40), "async")];
        let all = evaluate(WaitMode::All, t, &p, Some(SyncMethod::Priority), 1).unwrap();
        assert!(!all.done);
        assert_eq!(all.behind, vec![("s2".to_owned(), Some(60))]);
        assert!(
            evaluate(WaitMode::Sync, t, &p, Some(SyncMethod::Priority), 1)
                .unwrap()
                .done
        );
        assert!(evaluate(WaitMode::Count(1), t, &p, None, 0).unwrap().done);
        assert!(!evaluate(WaitMode::Count(2), t, &p, None, 0).unwrap().done);
        assert!(matches!(
            evaluate(WaitMode::Sync, t, &p, None, 0),
            Err(ReplicaError::NoSyncStandbys)
        ));
        // A missing sync standby is named as missing, not silently skipped.
        let lonely = [pos("s2", Some(100), "async")];
        let w = evaluate(WaitMode::Sync, t, &lonely, Some(SyncMethod::Priority), 1).unwrap();
        assert!(!w.done);
        assert!(w.behind_text()[0].contains("more standby"));
        // An unreachable replica URL counts as behind in `all`.
        let p = [
            pos("s1", Some(100), "sync"),
            pos("far", None, "unreachable"),
        ];
        let w = evaluate(WaitMode::All, t, &p, None, 0).unwrap();
        assert_eq!(w.behind_text(), vec!["far is not connected".to_owned()]);
        // Quorum: any num_sync of the quorum standbys.
        let p = [pos("a", Some(100), "quorum"), pos("b", Some(1), "quorum")];
        assert!(
            evaluate(WaitMode::Sync, t, &p, Some(SyncMethod::Quorum), 1)
                .unwrap()
                .done
        );
        assert!(
            !evaluate(WaitMode::Sync, t, &p, Some(SyncMethod::Quorum), 2)
                .unwrap()
                .done
        );
    }

    #[test]
    fn insert_positions_past_a_page_header_step_back_to_the_boundary() {
        let block = 8192;
        let seg = 16 << 20;
        assert_eq!(reachable_lsn(Lsn(8192 + 24), block, seg), Lsn(8192));
        assert_eq!(reachable_lsn(Lsn(seg + 40), block, seg), Lsn(seg));
        assert_eq!(reachable_lsn(Lsn(8192 + 100), block, seg), Lsn(8292));
        assert_eq!(
            reachable_lsn(Lsn(3 * seg + 8192 + 24), block, seg),
            Lsn(3 * seg + 8192)
        );
    }

    #[test]
    fn replay_poll_backs_off_and_times_out() {
        let mut p = ReplayPoll::new(Lsn(100), Duration::from_secs(60));
        assert_eq!(
            p.answer(true, Some(Lsn(50))),
            PollStep::Sleep(Duration::from_micros(500))
        );
        assert_eq!(
            p.answer(true, None),
            PollStep::Sleep(Duration::from_millis(1))
        );
        for _ in 0..10 {
            p.answer(true, Some(Lsn(50)));
        }
        assert_eq!(
            p.answer(true, Some(Lsn(50))),
            PollStep::Sleep(Duration::from_millis(10))
        );
        assert!(matches!(
            p.answer(true, Some(Lsn(100))),
            PollStep::Done(ReplayWait::Caught { .. })
        ));
        assert!(matches!(
            p.answer(false, None),
            PollStep::Done(ReplayWait::Caught { .. })
        ));
        let mut p = ReplayPoll::new(Lsn(100), Duration::ZERO);
        assert_eq!(
            p.answer(true, Some(Lsn(7))),
            PollStep::Done(ReplayWait::TimedOut {
                replayed: Some(Lsn(7))
            })
        );
    }

    #[test]
    fn mode_parsing() {
        assert_eq!(WaitMode::parse("none").unwrap(), None);
        assert_eq!(WaitMode::parse("SYNC").unwrap(), Some(WaitMode::Sync));
        assert_eq!(WaitMode::parse("2").unwrap(), Some(WaitMode::Count(2)));
        assert!(WaitMode::parse("0").is_err());
        assert!(WaitMode::parse("most").is_err());
    }
}
