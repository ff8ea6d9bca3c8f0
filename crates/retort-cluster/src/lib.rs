#![warn(missing_docs)]
//! Real, throwaway PostgreSQL clusters on this machine: a primary and any number of synchronous
//! and asynchronous streaming standbys, started in well under a second per node from a cached
//! `initdb` template.
//!
//! Used by retort's tests (no mocked database anywhere), by the throwaway database behind
//! autogenerate, and by `retort cluster` and `retort demo`.
//!
//! * Server binaries are found without a version baked in ([`ServerBinaries::find`]).
//! * When we are root, servers run as the `postgres` OS user (postgres refuses root).
//! * An owned cluster stops its servers and removes its files when dropped, also while a test
//!   panics, and its servers die with this process even when it is SIGKILLed.
//!
//! ```no_run
//! use retort_cluster::Cluster;
//!
//! # fn main() -> Result<(), retort_cluster::ClusterError> {
//! let mut c = Cluster::builder().standbys(2).sync(1).start()?;
//! let mut primary = c.connect_primary()?;
//! primary.batch_execute("CREATE TABLE t (id int)").map_err(retort_pg::PgError::from)?;
//! println!("primary at {}, first standby at {}", c.primary_url(), c.standby_url(0));
//! c.kill_standby(0)?; // commits on the primary now wait for the synchronous standby
//! # Ok(()) }
//! ```

mod binaries;
mod cluster;
mod error;
mod node;
mod os_user;
mod process;
mod proxy;
mod scratch;
mod state;
mod status;
mod template;

pub use binaries::{BinarySearch, ServerBinaries};
pub use cluster::{scratch_root, Cluster, ClusterBuilder, Failover, Progress, SyncMethod};
pub use error::ClusterError;
pub use node::{Node, NodeSpec, Role, StopMode};
pub use os_user::ServerUser;
pub use process::{children_of, process_exists, wait_for, Lifetime};
pub use proxy::{Fault, FaultAction, FaultProxy, ProxyStats, SplitMix, Trigger};
pub use scratch::ScratchDatabase;
pub use state::exists as state_exists;
pub use status::NodeStatus;
pub use template::cache_dir;
