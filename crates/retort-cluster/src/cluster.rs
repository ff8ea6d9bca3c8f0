//! A primary with streaming standbys, built from the template in well under a second per node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use retort_pg::{quote_ident, quote_literal, Client, ConnConfig, ConnParams};

use crate::binaries::ServerBinaries;
use crate::error::{io_err, ClusterError};
use crate::node::{tail, Node, NodeSpec, Role, ServerContext, StopMode};
use crate::os_user::{self, ServerUser};
use crate::process::{self, Lifetime};
use crate::state::{self, ClusterState};
use crate::template::{self, random_hex, SUPERUSER};

/// Unix socket paths are limited to about 107 bytes; longer cluster paths put the socket in /tmp.
const MAX_SOCKET_DIR_LEN: usize = 80;
const OWNER_MARKER: &str = ".retort-owner";
const TEMP_PREFIX: &str = "retort-cluster-";

/// How the primary waits for its synchronous standbys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMethod {
    /// `FIRST n (...)`: the first n listed standbys must confirm.
    First,
    /// `ANY n (...)`: any n of the listed standbys (quorum commit).
    Any,
}

impl SyncMethod {
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            SyncMethod::First => "FIRST",
            SyncMethod::Any => "ANY",
        }
    }
}

/// A step of cluster start-up, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Running `initdb` for the template (first use on this machine and server version).
    CreatingTemplate,
    /// Starting a node.
    Starting(String),
    /// Cloning a standby from the primary with `pg_basebackup`.
    Cloning(String),
    /// Waiting until every standby streams.
    WaitingForStreaming,
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Builds a [`Cluster`]: `Cluster::builder().standbys(2).sync(1).start()?`.
pub struct ClusterBuilder {
    standbys: usize,
    sync: usize,
    sync_method: SyncMethod,
    port: Option<u16>,
    dir: Option<PathBuf>,
    lifetime: Lifetime,
    settings: BTreeMap<String, String>,
    timeout: Duration,
    binaries: Option<ServerBinaries>,
    progress: Option<ProgressFn>,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            standbys: 0,
            sync: 0,
            sync_method: SyncMethod::First,
            port: None,
            dir: None,
            lifetime: Lifetime::Owned,
            settings: BTreeMap::new(),
            timeout: Duration::from_secs(60),
            binaries: None,
            progress: None,
        }
    }
}

impl ClusterBuilder {
    /// Number of standbys (default 0).
    pub fn standbys(mut self, n: usize) -> Self {
        self.standbys = n;
        self
    }

    /// How many of the standbys are synchronous; the first `n` are (default 0).
    pub fn sync(mut self, n: usize) -> Self {
        self.sync = n;
        self
    }

    /// `FIRST` (default) or `ANY` in `synchronous_standby_names`.
    pub fn sync_method(mut self, method: SyncMethod) -> Self {
        self.sync_method = method;
        self
    }

    /// The primary's port; standbys get the following ports. Default: free ports.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Where data directories, logs and `state.json` go. Default: a new temporary directory,
    /// removed when the cluster is dropped.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// [`Lifetime::Owned`] (default: stopped with the handle or this process) or
    /// [`Lifetime::Detached`] (runs on until stopped).
    pub fn lifetime(mut self, lifetime: Lifetime) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// An extra server setting for every node, written verbatim into `retort.conf`
    /// (quote string values yourself: `setting("log_statement", "'all'")`).
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.insert(key.to_owned(), value.to_owned());
        self
    }

    /// How long start-up and streaming may take (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Use these server binaries instead of searching.
    pub fn binaries(mut self, bins: ServerBinaries) -> Self {
        self.binaries = Some(bins);
        self
    }

    /// Called at each start-up step.
    pub fn progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Creates and starts the cluster, and waits until every standby streams.
    ///
    /// Errors: no server binaries, no unprivileged user when root, an unusable directory, a port
    /// in use, a server that fails to start (with its log), a standby that does not stream.
    /// On error, everything started so far is stopped and removed.
    pub fn start(self) -> Result<Cluster, ClusterError> {
        if self.sync > self.standbys {
            return Err(ClusterError::NoSuchNode(format!(
                "{} synchronous standbys (only {} standbys requested)",
                self.sync, self.standbys
            )));
        }
        let bins = match self.binaries.clone() {
            Some(b) => b,
            None => ServerBinaries::find()?,
        };
        let user = ServerUser::for_current_process()?;
        if let Some(port) = self.port {
            for p in port..=port.saturating_add(self.standbys as u16) {
                ensure_port_free(p)?;
            }
        }
        let (dir, created_dir) = match &self.dir {
            Some(dir) => {
                let existed = dir.exists();
                if existed
                    && std::fs::read_dir(dir)
                        .map(|mut d| d.next().is_some())
                        .unwrap_or(false)
                {
                    return Err(ClusterError::NotEmpty { dir: dir.clone() });
                }
                (dir.clone(), !existed)
            }
            None => {
                let root = scratch_root();
                sweep_stale_temp_dirs(&root);
                let tmp = tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .tempdir_in(&root)
                    .map_err(|e| ClusterError::Directory {
                        dir: root.clone(),
                        reason: e.to_string(),
                    })?;
                (tmp.keep(), true)
            }
        };
        let mut cluster = Cluster {
            dir: dir.clone(),
            socket_dir: dir.join("sock"),
            created_dir,
            socket_dir_separate: false,
            cleanup_on_drop: true,
            lifetime: self.lifetime,
            bins,
            user,
            password: String::new(),
            sync_method: self.sync_method,
            nodes: Vec::new(),
        };
        // From here on, an error drops `cluster`, which stops and removes what was made.
        os_user::make_private_dir(&dir, cluster.user.as_ref())?;
        if self.lifetime == Lifetime::Owned {
            std::fs::write(dir.join(OWNER_MARKER), std::process::id().to_string())
                .map_err(io_err("write owner marker"))?;
        }
        if dir
            .canonicalize()
            .map_or(usize::MAX, |d| d.as_os_str().len())
            > MAX_SOCKET_DIR_LEN
        {
            cluster.socket_dir =
                std::env::temp_dir().join(format!("retort-sock-{}", random_hex(6)?));
            cluster.socket_dir_separate = true;
        }
        os_user::make_private_dir(&cluster.socket_dir, cluster.user.as_ref())?;
        cluster.password = random_hex(16)?;
        let report = |p: Progress| {
            if let Some(f) = &self.progress {
                f(&p)
            }
        };

        let template = template::ensure(&cluster.bins, cluster.user.as_ref(), &dir, &|| {
            report(Progress::CreatingTemplate)
        })?;
        let mut used_ports = BTreeSet::new();

        // Primary: a copy of the template.
        report(Progress::Starting("primary".into()));
        let primary = NodeSpec {
            name: "primary".into(),
            role: Role::Primary,
            port: 0,
            data_dir: dir.join("primary"),
            log_file: dir.join("primary.log"),
            synchronous: false,
            settings: self.settings.clone(),
        };
        template::copy_tree(&template, &primary.data_dir)?;
        if let Some(u) = &cluster.user {
            os_user::chown_tree(&primary.data_dir, u)?;
        }
        cluster.nodes.push(Node {
            spec: primary,
            child: None,
        });
        cluster.start_new_node(0, self.port, &mut used_ports, self.timeout)?;
        cluster.set_superuser_password()?;

        // Standbys: pg_basebackup from the primary, each with its own slot and application_name.
        for i in 0..self.standbys {
            let name = format!("standby{}", i + 1);
            report(Progress::Cloning(name.clone()));
            let spec = NodeSpec {
                name: name.clone(),
                role: Role::Standby,
                port: 0,
                data_dir: dir.join(&name),
                log_file: dir.join(format!("{name}.log")),
                synchronous: i < self.sync,
                settings: self.settings.clone(),
            };
            cluster.base_backup(&spec)?;
            cluster.nodes.push(Node { spec, child: None });
            report(Progress::Starting(name));
            let port = self.port.map(|p| p + 1 + i as u16);
            cluster.start_new_node(i + 1, port, &mut used_ports, self.timeout)?;
        }
        if self.sync > 0 {
            cluster.configure_sync()?;
        }
        cluster.save()?;
        if self.standbys > 0 {
            report(Progress::WaitingForStreaming);
            cluster.wait_until_streaming(self.timeout)?;
        }
        cluster.cleanup_on_drop = self.lifetime == Lifetime::Owned;
        Ok(cluster)
    }
}

/// What [`Cluster::fail_over`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failover {
    /// The primary that was stopped and retired, if one was running.
    pub old_primary: Option<String>,
    /// The promoted standby.
    pub new_primary: String,
    /// Whether the promoted standby was synchronous: if not, commits the old primary made
    /// that had not reached it are not on the new primary.
    pub was_synchronous: bool,
    /// The standbys that now follow the new primary.
    pub followers: Vec<String>,
    /// The new primary's `synchronous_standby_names` ('' when no synchronous standby is left).
    pub synchronous_standby_names: String,
}

/// A local PostgreSQL cluster: one primary and zero or more streaming standbys.
///
/// An owned cluster (the default) stops its servers and removes its directory when dropped, also
/// during a panic; its servers also die with this process. A detached one runs on and is found
/// again with [`Cluster::open`].
pub struct Cluster {
    pub(crate) dir: PathBuf,
    pub(crate) socket_dir: PathBuf,
    pub(crate) created_dir: bool,
    pub(crate) socket_dir_separate: bool,
    pub(crate) cleanup_on_drop: bool,
    pub(crate) lifetime: Lifetime,
    pub(crate) bins: ServerBinaries,
    pub(crate) user: Option<ServerUser>,
    pub(crate) password: String,
    pub(crate) sync_method: SyncMethod,
    pub(crate) nodes: Vec<Node>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir)
            .field("nodes", &self.nodes)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A builder with no standbys, free ports, a temporary directory and an owned lifetime.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// Finds the detached cluster whose `state.json` is in `dir` (running or stopped).
    pub fn open(dir: &Path) -> Result<Cluster, ClusterError> {
        let (st, password) = state::load(dir)?;
        let user = ServerUser::for_current_process()?;
        Ok(Cluster {
            dir: dir.to_owned(),
            socket_dir: st.socket_dir,
            created_dir: false,
            socket_dir_separate: st.socket_dir_separate,
            cleanup_on_drop: false,
            lifetime: Lifetime::Detached,
            bins: ServerBinaries {
                bindir: st.bindir,
                version: st.pg_version,
                major: st.pg_major,
            },
            user,
            password,
            sync_method: st.sync_method,
            nodes: st
                .nodes
                .into_iter()
                .map(|spec| Node { spec, child: None })
                .collect(),
        })
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory holding every node's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The server installation in use.
    pub fn binaries(&self) -> &ServerBinaries {
        &self.bins
    }

    /// All nodes: the original primary first, then standbys in creation order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Password of the `postgres` superuser over TCP (the unix socket needs none).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// URL of a node over its unix socket (no password needed).
    pub fn node_url(&self, node: &Node) -> String {
        socket_url(&self.socket_dir, node.port())
    }

    /// URL of the original primary over its unix socket.
    pub fn primary_url(&self) -> String {
        self.node_url(&self.nodes[0])
    }

    /// URL of standby `i` (0-based, creation order; named `standby{i+1}`).
    ///
    /// Panics when there is no such standby.
    pub fn standby_url(&self, i: usize) -> String {
        self.node_url(self.standby(i))
    }

    /// URL of a node over TCP on 127.0.0.1. It contains the password: do not log it.
    pub fn node_tcp_url(&self, node: &Node) -> String {
        format!(
            "postgresql://{SUPERUSER}:{}@127.0.0.1:{}/postgres",
            self.password,
            node.port()
        )
    }

    /// URL of the original primary over TCP on 127.0.0.1. It contains the password: do not log it.
    pub fn primary_tcp_url(&self) -> String {
        self.node_tcp_url(&self.nodes[0])
    }

    fn standby(&self, i: usize) -> &Node {
        self.nodes.get(i + 1).unwrap_or_else(|| {
            panic!(
                "the cluster has no standby {i} (it has {})",
                self.nodes.len() - 1
            )
        })
    }

    fn standby_pos(&self, i: usize) -> Result<usize, ClusterError> {
        if i + 1 < self.nodes.len() {
            Ok(i + 1)
        } else {
            Err(ClusterError::NoSuchNode(format!("standby {i}")))
        }
    }

    /// A connection to `node` as the superuser over the socket, ignoring the caller's `PG*` variables.
    pub fn connect_node(&self, node: &Node) -> Result<Client, ClusterError> {
        Ok(retort_pg::connect(&node_conn_config(
            &self.socket_dir,
            node.port(),
        )?)?)
    }

    /// Connection settings for the original primary (superuser, unix socket), ignoring the
    /// caller's `PG*` variables.
    pub fn primary_config(&self) -> Result<ConnConfig, ClusterError> {
        node_conn_config(&self.socket_dir, self.nodes[0].port())
    }

    /// Creates database `name` on the original primary and returns its unix-socket URL (no
    /// password needed). For tests and benchmarks that want a fresh database per case.
    pub fn create_database(&self, name: &str) -> Result<String, ClusterError> {
        self.connect_primary()?
            .batch_execute(&format!("CREATE DATABASE {}", retort_pg::quote_ident(name)))
            .map_err(retort_pg::PgError::from)?;
        Ok(self.database_url(name))
    }

    /// The unix-socket URL of database `name` on the original primary.
    pub fn database_url(&self, name: &str) -> String {
        socket_url_of(&self.socket_dir, self.nodes[0].port(), name)
    }

    /// A connection to the original primary.
    pub fn connect_primary(&self) -> Result<Client, ClusterError> {
        self.connect_node(&self.nodes[0])
    }

    /// A connection to standby `i` (0-based).
    pub fn connect_standby(&self, i: usize) -> Result<Client, ClusterError> {
        let pos = self.standby_pos(i)?;
        self.connect_node(&self.nodes[pos])
    }

    fn current_primary(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.role() == Role::Primary)
            .unwrap_or(&self.nodes[0])
    }

    /// Waits until `pg_stat_replication` on the primary shows every running standby as
    /// `streaming`, and each synchronous one as `sync` (or `quorum` with [`SyncMethod::Any`]).
    ///
    /// Errors: [`ClusterError::NotStreaming`] with the standby's log tail after `timeout`.
    pub fn wait_until_streaming(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        let expected: Vec<(String, bool, PathBuf)> = self
            .nodes
            .iter_mut()
            .filter(|n| n.role() == Role::Standby)
            .filter_map(|n| {
                n.is_running().then(|| {
                    (
                        n.name().to_owned(),
                        n.is_synchronous(),
                        n.log_file().to_owned(),
                    )
                })
            })
            .collect();
        if expected.is_empty() {
            return Ok(());
        }
        let mut client = self.connect_node(self.current_primary())?;
        let want_sync = match self.sync_method {
            SyncMethod::First => "sync",
            SyncMethod::Any => "quorum",
        };
        let start = Instant::now();
        let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut query_error = None;
        let ok = process::wait_for(timeout, || {
            match client.query(
                "SELECT application_name, state, sync_state FROM pg_stat_replication",
                &[],
            ) {
                Ok(rows) => {
                    seen = rows
                        .iter()
                        .map(|r| {
                            let name: String = r.get(0);
                            let state: Option<String> = r.get(1);
                            let sync: Option<String> = r.get(2);
                            (name, (state.unwrap_or_default(), sync.unwrap_or_default()))
                        })
                        .collect();
                }
                Err(e) => query_error = Some(e),
            }
            expected.iter().all(|(name, sync, _)| match seen.get(name) {
                Some((state, sync_state)) => {
                    state == "streaming" && (!sync || sync_state == want_sync)
                }
                None => false,
            })
        });
        if ok {
            return Ok(());
        }
        if let Some(e) = query_error {
            return Err(retort_pg::PgError::from(e).into());
        }
        let (name, _, log) = expected
            .iter()
            .find(|(name, sync, _)| {
                !matches!(seen.get(name), Some((s, ss)) if s == "streaming" && (!sync || ss == want_sync))
            })
            .unwrap_or(&expected[0]);
        Err(ClusterError::NotStreaming {
            standby: name.clone(),
            waited_ms: start.elapsed().as_millis(),
            last_state: seen
                .get(name)
                .map_or("absent from pg_stat_replication".to_owned(), |(s, ss)| {
                    format!("{s}, sync_state {ss}")
                }),
            log: log.clone(),
            log_tail: tail(log, 15),
        })
    }

    /// Stops standby `i` like `pg_ctl stop -m <mode>`.
    pub fn stop_standby(&mut self, i: usize, mode: StopMode) -> Result<(), ClusterError> {
        let pos = self.standby_pos(i)?;
        self.nodes[pos].stop(mode, Duration::from_secs(30))
    }

    /// SIGKILLs standby `i`'s postmaster (a crash, not a shutdown).
    pub fn kill_standby(&mut self, i: usize) -> Result<(), ClusterError> {
        let pos = self.standby_pos(i)?;
        self.nodes[pos].kill()
    }

    /// Starts standby `i` again after a stop or kill, and waits until it accepts connections
    /// (call [`Cluster::wait_until_streaming`] to wait for replication too).
    pub fn start_standby(&mut self, i: usize) -> Result<(), ClusterError> {
        let pos = self.standby_pos(i)?;
        self.start_existing(pos, Duration::from_secs(60))
    }

    /// Sets `recovery_min_apply_delay` on standby `i`: it receives WAL at once but replays it only
    /// after `delay`, which gives tests a deterministic replay lag. `Duration::ZERO` removes it.
    pub fn set_apply_delay(&mut self, i: usize, delay: Duration) -> Result<(), ClusterError> {
        let pos = self.standby_pos(i)?;
        let settings = &mut self.nodes[pos].spec.settings;
        if delay.is_zero() {
            settings.remove("recovery_min_apply_delay");
        } else {
            settings.insert(
                "recovery_min_apply_delay".into(),
                format!("'{}ms'", delay.as_millis()),
            );
        }
        self.nodes[pos].write_conf(&self.context())?;
        self.nodes[pos].reload()?;
        // A reload is a signal: wait until the server has read the file (a new session sees the
        // new value), then give the startup process, which applies the delay, a moment to
        // handle the same signal. Callers rely on the delay being in force when this returns.
        let want = delay.as_millis() as f64;
        let node = &self.nodes[pos];
        let applied = crate::process::wait_for(Duration::from_secs(10), || {
            self.connect_node(node)
                .ok()
                .and_then(|mut c| {
                    c.query_one(
                        "SELECT (extract(epoch FROM current_setting('recovery_min_apply_delay')::interval) * 1000)::float8",
                        &[],
                    )
                    .ok()
                })
                .is_some_and(|r| (r.get::<_, f64>(0) - want).abs() < 1.0)
        });
        if !applied {
            tracing::warn!(
                "{}: recovery_min_apply_delay not in force 10 s after the reload",
                node.name()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        self.save()
    }

    /// Promotes standby `i` to a primary (`pg_promote`) and waits until it accepts writes.
    /// The old primary keeps running: stopping it is the caller's business.
    pub fn promote(&mut self, i: usize) -> Result<(), ClusterError> {
        let pos = self.standby_pos(i)?;
        let mut client = self.connect_node(&self.nodes[pos])?;
        client
            .execute("SELECT pg_promote(true, 60)", &[])
            .map_err(retort_pg::PgError::from)?;
        self.nodes[pos].spec.role = Role::Primary;
        self.save()
    }

    /// A failover, as an operator would do it: stops the current primary (immediately, as if it
    /// crashed) and marks it retired, promotes the standby called `name`, makes the remaining
    /// standbys follow it (a replication slot for each on the new primary, `primary_conninfo`
    /// pointed at it, a restart), and names the remaining synchronous standbys in its
    /// `synchronous_standby_names` (none left: commits stop waiting for one).
    ///
    /// Errors: [`ClusterError::NoSuchNode`] when `name` is not a standby.
    pub fn fail_over(&mut self, name: &str) -> Result<Failover, ClusterError> {
        let new = self
            .nodes
            .iter()
            .position(|n| n.name() == name && n.role() == Role::Standby)
            .ok_or_else(|| ClusterError::NoSuchNode(format!("standby {name}")))?;
        let old = self.nodes.iter().position(|n| n.role() == Role::Primary);
        let mut old_name = None;
        if let Some(old) = old {
            self.nodes[old].stop(StopMode::Immediate, Duration::from_secs(30))?;
            self.nodes[old].spec.role = Role::Retired;
            old_name = Some(self.nodes[old].name().to_owned());
        }
        let was_synchronous = self.nodes[new].is_synchronous();
        {
            let mut client = self.connect_node(&self.nodes[new])?;
            client
                .execute("SELECT pg_promote(true, 60)", &[])
                .map_err(retort_pg::PgError::from)?;
        }
        self.nodes[new].spec.role = Role::Primary;
        self.nodes[new].spec.synchronous = false;
        let followers: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].role() == Role::Standby)
            .collect();
        let sync: Vec<String> = followers
            .iter()
            .filter(|&&i| self.nodes[i].is_synchronous())
            .map(|&i| quote_ident(self.nodes[i].name()))
            .collect();
        let new_port = self.nodes[new].port();
        let mut client = self.connect_node(&self.nodes[new])?;
        let sync_value = if sync.is_empty() {
            String::new()
        } else {
            format!(
                "{} {} ({})",
                self.sync_method.keyword(),
                sync.len(),
                sync.join(", ")
            )
        };
        // One statement per round trip: ALTER SYSTEM refuses a multi-statement string.
        for sql in [
            format!(
                "ALTER SYSTEM SET synchronous_standby_names = {}",
                quote_literal(&sync_value)
            ),
            "SELECT pg_reload_conf()".to_owned(),
        ] {
            client
                .batch_execute(&sql)
                .map_err(retort_pg::PgError::from)?;
        }
        for &i in &followers {
            let slot = self.nodes[i].name().to_owned();
            client
                .execute(
                    "SELECT pg_create_physical_replication_slot($1, true) \
                     WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)",
                    &[&slot],
                )
                .map_err(retort_pg::PgError::from)?;
        }
        drop(client);
        let mut moved = Vec::new();
        for &i in &followers {
            let conninfo = format!(
                "host={} port={new_port} user={SUPERUSER} application_name={}",
                conninfo_value(&self.socket_dir.display().to_string()),
                conninfo_value(self.nodes[i].name())
            );
            if self.nodes[i].is_running() {
                let mut c = self.connect_node(&self.nodes[i])?;
                c.batch_execute(&format!(
                    "ALTER SYSTEM SET primary_conninfo = {}",
                    quote_literal(&conninfo)
                ))
                .map_err(retort_pg::PgError::from)?;
                drop(c);
                self.nodes[i].stop(StopMode::Fast, Duration::from_secs(30))?;
                self.start_existing(i, Duration::from_secs(60))?;
            } else {
                // A stopped standby follows the new primary when it starts.
                let auto = self.nodes[i].data_dir().join("postgresql.auto.conf");
                let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
                text.push_str(&format!(
                    "primary_conninfo = '{}'\n",
                    conninfo.replace('\'', "''")
                ));
                std::fs::write(&auto, text).map_err(io_err(format!("write {}", auto.display())))?;
            }
            moved.push(self.nodes[i].name().to_owned());
        }
        self.save()?;
        Ok(Failover {
            old_primary: old_name,
            new_primary: name.to_owned(),
            was_synchronous,
            followers: moved,
            synchronous_standby_names: sync_value,
        })
    }

    /// Starts every stopped node of a detached cluster (primaries first) on its recorded port,
    /// then waits for streaming.
    pub fn start_all(&mut self, timeout: Duration) -> Result<(), ClusterError> {
        os_user::make_private_dir(&self.socket_dir.clone(), self.user.as_ref())?;
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.retain(|&i| self.nodes[i].role() != Role::Retired);
        order.sort_by_key(|&i| self.nodes[i].role() != Role::Primary);
        for i in order {
            self.start_existing(i, timeout)?;
        }
        self.wait_until_streaming(timeout)
    }

    /// Postmaster pids of the running nodes.
    pub fn postmaster_pids(&mut self) -> Vec<u32> {
        self.nodes.iter_mut().filter_map(Node::pid).collect()
    }

    /// Stops every node (standbys first) with `mode`. An owned cluster also removes its directory.
    pub fn stop(mut self, mode: StopMode) -> Result<(), ClusterError> {
        self.stop_nodes(mode)?;
        if self.lifetime == Lifetime::Owned {
            self.remove_dirs();
        }
        self.cleanup_on_drop = false;
        Ok(())
    }

    /// Stops every node at once (immediate) and removes the cluster's directories.
    pub fn destroy(mut self) -> Result<(), ClusterError> {
        self.stop_nodes(StopMode::Immediate)?;
        self.remove_dirs();
        self.cleanup_on_drop = false;
        Ok(())
    }

    fn stop_nodes(&mut self, mode: StopMode) -> Result<(), ClusterError> {
        let mut first_error = None;
        for node in self.nodes.iter_mut().rev() {
            if let Err(e) = node.stop(mode, Duration::from_secs(60)) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn remove_dirs(&mut self) {
        if self.socket_dir_separate {
            let _ = std::fs::remove_dir_all(&self.socket_dir);
        }
        if self.created_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            for node in &self.nodes {
                let _ = std::fs::remove_dir_all(node.data_dir());
                let _ = std::fs::remove_file(node.log_file());
            }
            let _ = std::fs::remove_dir_all(self.dir.join("sock"));
            let _ = std::fs::remove_file(self.dir.join(state::STATE_FILE));
            let _ = std::fs::remove_file(self.dir.join(state::PASSWORD_FILE));
            let _ = std::fs::remove_file(self.dir.join(OWNER_MARKER));
            let _ = std::fs::remove_file(self.dir.join("initdb.log"));
        }
    }

    pub(crate) fn context(&self) -> ServerContext<'_> {
        ServerContext {
            bins: &self.bins,
            user: self.user.as_ref(),
            socket_dir: &self.socket_dir,
        }
    }

    /// Starts node `pos` for the first time: on `port`, or on a free port, retrying when another
    /// process grabs a free port between our check and the server's bind.
    fn start_new_node(
        &mut self,
        pos: usize,
        port: Option<u16>,
        used: &mut BTreeSet<u16>,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let attempts = if port.is_some() { 1 } else { 5 };
        for attempt in 1..=attempts {
            let p = match port {
                Some(p) => p,
                None => free_port(used)?,
            };
            used.insert(p);
            self.nodes[pos].spec.port = p;
            self.nodes[pos].write_conf(&self.context())?;
            match self.start_existing(pos, timeout) {
                Err(ClusterError::PortInUse { .. }) if attempt < attempts => continue,
                other => return other,
            }
        }
        unreachable!("the last attempt returns")
    }

    fn start_existing(&mut self, pos: usize, timeout: Duration) -> Result<(), ClusterError> {
        let lifetime = self.lifetime;
        let ctx = ServerContext {
            bins: &self.bins,
            user: self.user.as_ref(),
            socket_dir: &self.socket_dir,
        };
        self.nodes[pos].start(&ctx, lifetime, timeout)
    }

    fn set_superuser_password(&self) -> Result<(), ClusterError> {
        let mut client = self.connect_primary()?;
        client
            .batch_execute(&format!(
                "ALTER ROLE {} PASSWORD {}",
                quote_ident(SUPERUSER),
                quote_literal(&self.password)
            ))
            .map_err(retort_pg::PgError::from)?;
        Ok(())
    }

    fn base_backup(&self, spec: &NodeSpec) -> Result<(), ClusterError> {
        let primary = &self.nodes[0];
        let log = std::fs::File::create(&spec.log_file)
            .map_err(io_err(format!("create {}", spec.log_file.display())))?;
        if let Some(u) = &self.user {
            os_user::chown(&spec.log_file, u)?;
        }
        let mut cmd =
            os_user::server_command(&self.bins.program("pg_basebackup"), self.user.as_ref());
        cmd.arg("-D")
            .arg(&spec.data_dir)
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &primary.port().to_string(), "-U", SUPERUSER])
            .args([
                "-X",
                "stream",
                "-c",
                "fast",
                "-R",
                "-C",
                "-S",
                &spec.name,
                "--no-sync",
            ])
            .stdout(log.try_clone().map_err(io_err("dup log"))?)
            .stderr(log);
        let status = cmd.status().map_err(io_err("run pg_basebackup"))?;
        if !status.success() {
            return Err(ClusterError::ServerFailed {
                program: "pg_basebackup".into(),
                node: spec.name.clone(),
                message: format!("exited with {status}"),
                log: spec.log_file.clone(),
                log_tail: tail(&spec.log_file, 15),
            });
        }
        // pg_basebackup -R wrote a primary_conninfo; ours (later in the file, so it wins) adds
        // the application_name that pg_stat_replication and synchronous_standby_names match on.
        let conninfo = format!(
            "host={} port={} user={SUPERUSER} application_name={}",
            conninfo_value(&self.socket_dir.display().to_string()),
            primary.port(),
            conninfo_value(&spec.name)
        );
        let auto = spec.data_dir.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&auto).unwrap_or_default();
        text.push_str(&format!(
            "primary_conninfo = '{}'\nprimary_slot_name = '{}'\n",
            conninfo.replace('\'', "''"),
            spec.name
        ));
        std::fs::write(&auto, text).map_err(io_err(format!("write {}", auto.display())))?;
        Ok(())
    }

    fn configure_sync(&self) -> Result<(), ClusterError> {
        let names: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.is_synchronous())
            .map(|n| quote_ident(n.name()))
            .collect();
        let value = format!(
            "{} {} ({})",
            self.sync_method.keyword(),
            names.len(),
            names.join(", ")
        );
        let mut client = self.connect_primary()?;
        // Two round trips: ALTER SYSTEM refuses to run inside the implicit transaction of a
        // multi-statement string.
        client
            .batch_execute(&format!(
                "ALTER SYSTEM SET synchronous_standby_names = {}",
                quote_literal(&value)
            ))
            .map_err(retort_pg::PgError::from)?;
        client
            .batch_execute("SELECT pg_reload_conf()")
            .map_err(retort_pg::PgError::from)?;
        Ok(())
    }

    pub(crate) fn save(&self) -> Result<(), ClusterError> {
        state::save(
            &self.dir,
            &ClusterState {
                format: state::FORMAT,
                bindir: self.bins.bindir.clone(),
                pg_version: self.bins.version.clone(),
                pg_major: self.bins.major,
                socket_dir: self.socket_dir.clone(),
                socket_dir_separate: self.socket_dir_separate,
                sync_method: self.sync_method,
                nodes: self.nodes.iter().map(|n| n.spec.clone()).collect(),
            },
            &self.password,
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.cleanup_on_drop {
            return;
        }
        if let Err(e) = self.stop_nodes(StopMode::Immediate) {
            tracing::warn!("stopping cluster in {}: {e}", self.dir.display());
        }
        self.remove_dirs();
    }
}

/// The URL of a node over a unix socket: `postgresql://postgres@/postgres?host=DIR&port=N`.
pub(crate) fn socket_url(socket_dir: &Path, port: u16) -> String {
    socket_url_of(socket_dir, port, "postgres")
}

/// The unix-socket URL of database `dbname` on a node.
fn socket_url_of(socket_dir: &Path, port: u16, dbname: &str) -> String {
    // Percent-encode all but unreserved characters (and `/` in the socket path).
    let encode = |text: &str, keep: &[u8]| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || keep.contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let dir = encode(&socket_dir.display().to_string(), b"/-._~");
    let db = encode(dbname, b"-._~");
    format!("postgresql://{SUPERUSER}@/{db}?host={dir}&port={port}")
}

fn node_conn_config(socket_dir: &Path, port: u16) -> Result<ConnConfig, ClusterError> {
    let params = ConnParams {
        hosts: vec![socket_dir.display().to_string()],
        ports: vec![port],
        user: Some(SUPERUSER.into()),
        dbname: Some("postgres".into()),
        application_name: Some("retort".into()),
        ..ConnParams::default()
    };
    // An empty environment: the caller's PGHOST or PGPASSWORD must not redirect us.
    let env: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    Ok(ConnConfig::resolve(params, &env)?)
}

/// Quotes a libpq conninfo value.
fn conninfo_value(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn ensure_port_free(port: u16) -> Result<(), ClusterError> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(ClusterError::PortInUse { port })
        }
        Err(e) => Err(ClusterError::Io {
            action: format!("checking port {port}"),
            source: e,
        }),
    }
}

/// A port the kernel says is free now and that this cluster has not used yet.
fn free_port(used: &BTreeSet<u16>) -> Result<u16, ClusterError> {
    for _ in 0..50 {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).map_err(io_err("finding a free port"))?;
        let port = listener
            .local_addr()
            .map_err(io_err("finding a free port"))?
            .port();
        if !used.contains(&port) {
            return Ok(port);
        }
    }
    Err(ClusterError::Io {
        action: "finding a free port".into(),
        source: std::io::Error::other("no unused port after 50 tries"),
    })
}

/// Where throwaway clusters go: `$RETORT_TMPDIR`, else the RAM disk `/dev/shm` when it is there
/// (a data directory is ~1,000 small files; on tmpfs they copy in ~40 ms instead of ~600 ms on a
/// journaling disk), else the system temp dir.
pub fn scratch_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("RETORT_TMPDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    let writable = std::ffi::CString::new("/dev/shm")
        // SAFETY: access only reads the NUL-terminated path.
        .map(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0)
        .unwrap_or(false);
    if shm.is_dir() && writable {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

/// Removes temporary cluster directories whose owning process is gone (its servers died with it
/// through the parent-death signal, but nobody removed the files).
fn sweep_stale_temp_dirs(root: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let marker = entry.path().join(OWNER_MARKER);
        let Ok(meta) = std::fs::metadata(&marker) else {
            continue;
        };
        if meta.uid() != me {
            continue;
        }
        let owner = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        if let Some(pid) = owner {
            if !process::process_exists(pid) {
                tracing::debug!("removing stale {}", entry.path().display());
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}
