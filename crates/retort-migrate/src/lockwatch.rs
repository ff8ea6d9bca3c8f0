//! Who holds the lock a migration waits for: while a migration runs, a second connection asks
//! `pg_blocking_pids` about the runner's backend, so that a lock timeout can name the blocker
//! (pid, application, state, query) instead of only saying that one exists.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use retort_pg::{Client, ConnConfig};

/// A session that held a lock a migration waited for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocker {
    /// Its backend pid (`SELECT pg_terminate_backend(pid)` ends it).
    pub pid: i32,
    /// Its `application_name`.
    pub application_name: String,
    /// `active`, `idle in transaction`, ...
    pub state: String,
    /// Its current or last query (the first 200 characters).
    pub query: String,
    /// How long its transaction had been open, in milliseconds.
    pub transaction_ms: Option<i64>,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if !self.application_name.is_empty() {
            write!(f, " ({})", self.application_name)?;
        }
        write!(f, ", {}", self.state)?;
        if let Some(ms) = self.transaction_ms {
            write!(f, " in a transaction open for {:.1} s", ms as f64 / 1000.0)?;
        }
        if !self.query.is_empty() {
            write!(
                f,
                ", query: {}",
                self.query.split_whitespace().collect::<Vec<_>>().join(" ")
            )?;
        }
        Ok(())
    }
}

const BLOCKERS: &str = "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), \
     left(coalesce(a.query, ''), 200), \
     (extract(epoch FROM now() - a.xact_start) * 1000)::int8 \
     FROM pg_catalog.pg_stat_activity a \
     WHERE a.pid = ANY (pg_catalog.pg_blocking_pids($1)) ORDER BY a.pid";

/// How often the watcher asks once it has started.
const POLL: Duration = Duration::from_millis(50);

/// A second connection, opened the first time a migration runs long enough to be watched.
pub(crate) struct LockWatch {
    config: Option<ConnConfig>,
    client: Option<Client>,
}

impl LockWatch {
    pub(crate) fn new(config: Option<ConnConfig>) -> LockWatch {
        LockWatch {
            config,
            client: None,
        }
    }

    /// Runs `work` (which uses the backend `pid`) and, from `delay` on, asks who blocks it; the
    /// result and the last non-empty list of blockers seen. Without a connection config, only
    /// `work` runs.
    pub(crate) fn during<T>(
        &mut self,
        pid: Option<i32>,
        delay: Duration,
        work: impl FnOnce() -> T,
    ) -> (T, Vec<Blocker>) {
        let (Some(config), Some(pid)) = (self.config.clone(), pid) else {
            return (work(), Vec::new());
        };
        let stop = AtomicBool::new(false);
        let mut client = self.client.take();
        let (value, (client, blockers)) = std::thread::scope(|s| {
            let stop = &stop;
            let watcher = s.spawn(move || {
                let began = Instant::now();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if began.elapsed() < delay {
                        // Parked, not asleep: the end of the work wakes it at once.
                        std::thread::park_timeout(POLL.min(delay - began.elapsed()));
                        continue;
                    }
                    if client.is_none() {
                        client = retort_pg::connect(&config).ok();
                    }
                    let Some(c) = client.as_mut() else { break };
                    match c.query(BLOCKERS, &[&pid]) {
                        Ok(rows) if !rows.is_empty() => {
                            seen = rows
                                .iter()
                                .map(|r| Blocker {
                                    pid: r.get(0),
                                    application_name: r.get(1),
                                    state: r.get(2),
                                    query: r.get(3),
                                    transaction_ms: r.get(4),
                                })
                                .collect();
                        }
                        Ok(_) => {}
                        Err(_) => client = None,
                    }
                    std::thread::park_timeout(POLL);
                }
                (client, seen)
            });
            let value = work();
            stop.store(true, Ordering::Relaxed);
            watcher.thread().unpark();
            let joined = watcher.join().unwrap_or((None, Vec::new()));
            (value, joined)
        });
        self.client = client;
        (value, blockers)
    }
}
