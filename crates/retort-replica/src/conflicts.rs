//! Recovery conflicts on a standby (`pg_stat_database_conflicts`), and logical replication
//! membership of a database.

use std::collections::BTreeMap;

use postgres::Client;
use retort_pg::PgError;

use crate::error::ReplicaError;

/// Queries cancelled on a standby by replay, per cause, for the current database.
pub type ConflictCounts = BTreeMap<String, i64>;

/// Reads `pg_stat_database_conflicts` for the current database (run it on a standby).
pub fn conflict_counts(standby: &mut Client) -> Result<ConflictCounts, ReplicaError> {
    let r = standby
        .query_one(
            "SELECT confl_tablespace, confl_lock, confl_snapshot, confl_bufferpin, confl_deadlock \
             FROM pg_stat_database_conflicts WHERE datname = current_database()",
            &[],
        )
        .map_err(|e| ReplicaError::Db(PgError::from(e)))?;
    let mut out = ConflictCounts::new();
    for (i, k) in ["tablespace", "lock", "snapshot", "bufferpin", "deadlock"]
        .iter()
        .enumerate()
    {
        out.insert((*k).to_owned(), r.get(i));
    }
    Ok(out)
}

/// What grew between two readings (only the causes that did).
pub fn conflict_delta(before: &ConflictCounts, after: &ConflictCounts) -> ConflictCounts {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Publications in the current database and subscriptions into it.
pub fn logical_membership(client: &mut Client) -> Result<(Vec<String>, Vec<String>), ReplicaError> {
    let r = client
        .query_one(
            "SELECT ARRAY(SELECT pubname::text FROM pg_publication ORDER BY 1), \
                    ARRAY(SELECT subname::text FROM pg_subscription \
                          WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                          ORDER BY 1)",
            &[],
        )
        .map_err(|e| ReplicaError::Db(PgError::from(e)))?;
    Ok((r.get(0), r.get(1)))
}
