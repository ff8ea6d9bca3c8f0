#![warn(missing_docs)]
//! Plain-SQL migrations as a revision graph, the way Alembic does it, for PostgreSQL.
//!
//! - [`Migration`]: one file with a `-- retort:` header, an `up` and an optional `down` section.
//! - [`RevisionGraph`]: the DAG of revisions (branches, merges, depends-on, labels), target
//!   resolution and the ordered [`Plan`] between two states.
//! - [`VersionStore`]: `retort.version` (the current heads) and `retort.history`.
//! - [`MigrationRunner`]: the advisory lock, one transaction per migration with its version-table
//!   update, timeouts, `stamp` and `repair`.
//! - [`render_script`]: the same plan as a script for `psql -v ON_ERROR_STOP=1 -f`.
//!
//! An application can embed its migrations and upgrade at start-up:
//!
//! ```no_run
//! use retort_migrate::include_dir::{self, include_dir, Dir};
//!
//! static MIGRATIONS: Dir = include_dir!("$CARGO_MANIFEST_DIR/tests/fixtures/embedded");
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let graph = retort_migrate::from_embedded(&MIGRATIONS)?;
//! let cfg = retort_pg::ConnConfig::parse("postgres://app@localhost/app")?;
//! let mut client = retort_pg::connect(&cfg)?;
//! let report = retort_migrate::upgrade(&mut client, &graph, retort_migrate::Target::Heads)?;
//! println!("applied {} migrations", report.plan.steps.len());
//! # Ok(()) }
//! ```

pub mod backfill;
mod concurrent;
mod error;
mod file;
mod graph;
mod lockwatch;
mod offline;
mod runner;
pub mod shape;
mod source;
mod store;
mod target;

pub use concurrent::{invalid_indexes, InvalidIndex};
pub use error::{Edited, Location, MigrateError, StatementFailure};
pub use file::{
    checksum, is_revision_id, new_revision_id, Migration, NewMigration, Phase, Section,
};
pub use graph::{AppliedSet, Direction, EdgeKind, Plan, RevisionGraph, Step};
pub use lockwatch::Blocker;
pub use offline::render_script;
pub use retort_pg::{split_statements, SplitError, Statement};
pub use runner::{
    upgrade, Current, MigrationRunner, Observer, Recovery, Repaired, RunReport, RunnerOptions,
    Silent,
};
pub use source::{from_embedded, load_dir};
pub use store::{HistoryEntry, MigrationLock, StoredHeads, VersionStore};
pub use target::Target;

/// Re-exported so `include_dir!` works without a direct dependency on the same version.
pub use include_dir;
