//! Watches a migrating backend from a second connection: a commit stuck in `SyncRep` (waiting
//! for a synchronous standby that is gone) is reported and released instead of hanging.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use retort_pg::ConnConfig;
use serde::Serialize;

use crate::error::ReplicaError;
use crate::health::sync_health;
use crate::topology::Topology;

/// A commit that waited for synchronous replication longer than the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncRepStall {
    /// How long the commit had waited when the watchdog stepped in.
    pub waited_s: f64,
    /// Listed synchronous standbys that were not streaming at that moment.
    pub missing: Vec<String>,
    /// What happened and what to do, in words.
    pub explanation: String,
}

/// The watchdog thread; stop it with [`SyncRepWatchdog::stop`].
pub struct SyncRepWatchdog {
    stop: Arc<AtomicBool>,
    stall: Arc<Mutex<Option<SyncRepStall>>>,
    thread: Option<JoinHandle<()>>,
}

impl SyncRepWatchdog {
    /// Watches backend `pid` on the server of `cfg`. When it waits in `SyncRep` longer than
    /// `threshold`, the watchdog records a [`SyncRepStall`] and cancels the wait
    /// (`pg_cancel_backend`): the server then completes the COMMIT with a warning — the
    /// transaction is durable on the primary and reaches the standby when it returns.
    pub fn start(
        cfg: &ConnConfig,
        pid: i32,
        threshold: Duration,
    ) -> Result<SyncRepWatchdog, ReplicaError> {
        let mut client = retort_pg::connect(cfg)?;
        client
            .batch_execute("SET application_name = 'retort watchdog'")
            .map_err(|e| ReplicaError::Db(e.into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stall: Arc<Mutex<Option<SyncRepStall>>> = Arc::new(Mutex::new(None));
        let (stop2, stall2) = (stop.clone(), stall.clone());
        let thread = std::thread::spawn(move || {
            let mut since: Option<Instant> = None;
            while !stop2.load(Ordering::Relaxed) {
                let waiting = client
                    .query_opt(
                        "SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = $1",
                        &[&pid],
                    )
                    .ok()
                    .flatten()
                    .and_then(|r| r.get::<_, Option<bool>>(0))
                    .unwrap_or(false);
                if !waiting {
                    since = None;
                } else {
                    let began = *since.get_or_insert_with(Instant::now);
                    let already = stall2.lock().map(|s| s.is_some()).unwrap_or(true);
                    if already || began.elapsed() >= threshold {
                        if !already {
                            let missing = Topology::read(&mut client)
                                .map(|t| sync_health(&t).missing)
                                .unwrap_or_default();
                            let explanation = format!(
                                "the migration's COMMIT waited {:.1} s for a synchronous standby{} \
                                 to confirm it. The transaction is committed and durable on the \
                                 primary; it is acknowledged and replicated when a synchronous \
                                 standby returns. Restore the standby, or change \
                                 synchronous_standby_names (ALTER SYSTEM SET \
                                 synchronous_standby_names = ...; SELECT pg_reload_conf())",
                                began.elapsed().as_secs_f64(),
                                if missing.is_empty() {
                                    String::new()
                                } else {
                                    format!(" ({} not streaming)", missing.join(", "))
                                }
                            );
                            if let Ok(mut s) = stall2.lock() {
                                *s = Some(SyncRepStall {
                                    waited_s: began.elapsed().as_secs_f64(),
                                    missing,
                                    explanation,
                                });
                            }
                        }
                        let _ = client.query("SELECT pg_cancel_backend($1)", &[&pid]);
                        since = None;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ok(SyncRepWatchdog {
            stop,
            stall,
            thread: Some(thread),
        })
    }

    /// The stall, once one happened.
    pub fn stall(&self) -> Option<SyncRepStall> {
        self.stall.lock().ok().and_then(|s| s.clone())
    }

    /// Stops watching; returns the stall, if any.
    pub fn stop(mut self) -> Option<SyncRepStall> {
        self.halt();
        self.stall()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SyncRepWatchdog {
    fn drop(&mut self) {
        self.halt();
    }
}
