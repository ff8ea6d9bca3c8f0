//! A throwaway primary + sync + async standby (the async one replaying 2 s late) with the app
//! running on it.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::time::Duration;

use retort_cluster::Cluster;
use speakfriend::Config;

pub const APP_ROLE: &str = "speakfriend_app";

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
    let mut cluster = Cluster::builder().standbys(2).sync(1).start().unwrap();
    cluster
        .wait_until_streaming(Duration::from_secs(60))
        .unwrap();
    let mut primary = cluster.connect_primary().unwrap();
    primary
        .batch_execute(&format!("CREATE ROLE {APP_ROLE} LOGIN"))
        .unwrap();
    let lsn = retort_replica::current_lsn(&mut primary).unwrap();
    let mut standby = cluster.connect_standby(1).unwrap();
    retort_replica::wait_for_lsn(&mut standby, lsn, Duration::from_secs(30)).unwrap();
    cluster.set_apply_delay(1, apply_delay).unwrap();
    let app = |node: usize| {
        format!(
            "host={} port={} user={APP_ROLE} dbname=postgres",
            cluster.socket_dir().display(),
            cluster.nodes()[node].port()
        )
    };
    let config = Config {
        migrate_url: cluster.primary_url(),
        primary_url: app(0),
        replica_url: Some(app(2)),
        listen: "127.0.0.1:0".parse().unwrap(),
        cookie_key: None,
        secure_cookies: false,
        read_wait: Duration::from_secs(5),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _task) = rt.block_on(speakfriend::start(config)).unwrap();
    Running { cluster, addr, rt }
}
