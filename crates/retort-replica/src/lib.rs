#![warn(missing_docs)]
//! Replication-aware rollouts on PostgreSQL's own streaming replication.
//!
//! - [`Topology::read`]: primary or standby, each standby's state, sync state, LSNs and lag,
//!   slots, and on a standby its upstream and replay position.
//! - [`check_sync`], [`check_lag`], [`inactive_slots`]: pre-flight checks before a migration.
//! - [`wait_for_replay`]: after a migration, wait until `sync`, `all` or `N` standbys have
//!   replayed it; a timeout names who is behind and by how much.
//! - [`wait_for_lsn`] / [`wait_for_lsn_async`] with [`current_lsn`] / [`current_lsn_async`]:
//!   read-your-writes for applications that read from an asynchronous standby.
//! - [`SyncRepWatchdog`]: a commit stuck waiting for a synchronous standby that is gone is
//!   reported and released instead of hanging silently.
//!
//! ```no_run
//! use std::time::Duration;
//! use retort_replica::{current_lsn, wait_for_lsn, ReplayWait};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut primary: postgres::Client = unimplemented!();
//! # let mut standby: postgres::Client = unimplemented!();
//! primary.execute("INSERT INTO notes (body) VALUES ('hello')", &[])?;
//! let lsn = current_lsn(&mut primary)?;
//! match wait_for_lsn(&mut standby, lsn, Duration::from_millis(500))? {
//!     ReplayWait::Caught { .. } => { /* read the note from the standby */ }
//!     ReplayWait::TimedOut { .. } => { /* read it from the primary instead */ }
//! }
//! # Ok(()) }
//! ```

mod conflicts;
mod error;
mod health;
mod lsn;
mod sync_names;
mod topology;
mod wait;
mod watchdog;

pub use conflicts::{conflict_counts, conflict_delta, logical_membership, ConflictCounts};
pub use error::ReplicaError;
pub use health::{
    check_lag, check_sync, conflict_warning, inactive_slots, logical_replication_warning,
    sync_health, MaxLag, SyncHealth,
};
pub use lsn::{parse_bytes, pretty_bytes, Lsn};
pub use sync_names::{SyncMethod, SyncStandbyNames};
pub use topology::{ReceiverInfo, Role, SlotInfo, StandbyInfo, Topology};
pub use wait::{
    current_lsn, current_lsn_async, evaluate, reachable_lsn, wait_for_lsn, wait_for_lsn_async,
    wait_for_replay, DirectStandby, PollStep, ReplayPoll, ReplayWait, StandbyPosition, WaitMode,
    WaitProgress,
};
pub use watchdog::{SyncRepStall, SyncRepWatchdog};
