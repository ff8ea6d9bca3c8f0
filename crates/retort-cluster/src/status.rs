//! What `retort cluster status` shows: each node, its role, and how far standbys lag.

use serde::Serialize;

use crate::cluster::Cluster;
use crate::error::ClusterError;
use crate::node::Role;

/// One node as seen right now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeStatus {
    /// `primary`, or the standby's `application_name` in `pg_stat_replication`.
    pub name: String,
    /// `primary` or `standby`.
    pub role: Role,
    /// URL over the unix socket.
    pub url: String,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Whether the postmaster runs.
    pub running: bool,
    /// For a standby: `pg_stat_replication.state` (`streaming`, `catchup`, ...), or null when the
    /// primary does not see it.
    pub state: Option<String>,
    /// For a standby: `sync`, `async`, `quorum` or `potential`, as the primary reports it.
    pub sync_state: Option<String>,
    /// For a standby: configured as synchronous.
    pub configured_sync: bool,
    /// Bytes of WAL the standby has not replayed yet.
    pub replay_lag_bytes: Option<i64>,
    /// The primary's `replay_lag`, in milliseconds.
    pub replay_lag_ms: Option<f64>,
}

const REPLICATION_QUERY: &str = "\
SELECT application_name, state, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,
       (extract(epoch FROM replay_lag) * 1000)::float8
  FROM pg_stat_replication";

impl Cluster {
    /// The status of every node, with replication facts from the primary's `pg_stat_replication`
    /// (when the primary runs).
    pub fn status(&mut self) -> Result<Vec<NodeStatus>, ClusterError> {
        let mut replication = Vec::new();
        let primary_pos = self
            .nodes
            .iter()
            .position(|n| n.role() == Role::Primary)
            .unwrap_or(0);
        if self.nodes[primary_pos].is_running() {
            let mut client = self.connect_node(&self.nodes[primary_pos])?;
            for row in client
                .query(REPLICATION_QUERY, &[])
                .map_err(retort_pg::PgError::from)?
            {
                let name: String = row.get(0);
                replication.push((
                    name,
                    row.get::<_, Option<String>>(1),
                    row.get::<_, Option<String>>(2),
                    row.get::<_, Option<i64>>(3),
                    row.get::<_, Option<f64>>(4),
                ));
            }
        }
        let mut out = Vec::new();
        for i in 0..self.nodes.len() {
            let running = self.nodes[i].is_running();
            let node = &self.nodes[i];
            let seen = replication.iter().find(|r| r.0 == node.name());
            out.push(NodeStatus {
                name: node.name().to_owned(),
                role: node.role(),
                url: self.node_url(node),
                port: node.port(),
                running,
                state: seen.and_then(|r| r.1.clone()),
                sync_state: seen.and_then(|r| r.2.clone()),
                configured_sync: node.is_synchronous(),
                replay_lag_bytes: seen.and_then(|r| r.3),
                replay_lag_ms: seen.and_then(|r| r.4),
            });
        }
        Ok(out)
    }
}
