//! A throwaway primary + sync + async standby (the async one replaying 2 s late) with the app
//! running on it.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::time::Duration;

use retort_cluster::Cluster;

pub struct Running {
    pub cluster: Cluster,
    pub addr: SocketAddr,
    pub rt: tokio::runtime::Runtime,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A key=value connection string for `user` on node `node` (0 = primary).
    pub fn conn(&self, node: usize, user: &str) -> String {
        format!(
            "host={} port={} user={user} dbname=postgres",
            self.cluster.socket_dir().display(),
            self.cluster.nodes()[node].port()
        )
    }
}

pub fn start_app(apply_delay: Duration) -> Running {
    let (mut config, cluster) =
        speakfriend::throwaway_cluster("127.0.0.1:0".parse().unwrap(), apply_delay).unwrap();
    config.read_wait = Duration::from_secs(5);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _task) = rt.block_on(speakfriend::start(config)).unwrap();
    Running { cluster, addr, rt }
}
