//! Errors from finding, starting and controlling local clusters.

use std::path::PathBuf;

use retort_pg::PgError;

/// Everything that can go wrong with a local cluster. Each variant knows what the user can do
/// about it ([`ClusterError::hint`]).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No directory with `initdb`, `postgres` and `pg_basebackup` was found.
    #[error("no PostgreSQL server binaries (initdb, postgres, pg_basebackup) found; looked in: {}", display_paths(.searched))]
    ServerNotFound {
        /// Every directory that was tried, in order.
        searched: Vec<PathBuf>,
    },
    /// `RETORT_PG_BINDIR` names a directory without the server binaries.
    #[error("RETORT_PG_BINDIR is {dir}, which has no {missing}")]
    BadBinDirOverride {
        /// The directory given.
        dir: PathBuf,
        /// The first missing program.
        missing: String,
    },
    /// We are root and there is no unprivileged account to run the server as.
    #[error("running as root, but there is no OS user {user:?} to run PostgreSQL as (postgres refuses to run as root)")]
    NoServerUser {
        /// The account we looked for.
        user: String,
    },
    /// The requested port is taken.
    #[error("port {port} on 127.0.0.1 is already in use")]
    PortInUse {
        /// The port.
        port: u16,
    },
    /// A directory cannot be created, written, or reached by the server's OS user.
    #[error("cannot use directory {dir}: {reason}")]
    Directory {
        /// The directory we wanted.
        dir: PathBuf,
        /// Why it does not work.
        reason: String,
    },
    /// The cluster directory already holds something that is not a retort cluster.
    #[error("{dir} is not empty and holds no retort cluster (no state.json)")]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// No cluster state was found where one was expected.
    #[error("no retort cluster in {dir}")]
    NoCluster {
        /// Where we looked.
        dir: PathBuf,
    },
    /// A server program (initdb, pg_basebackup, postgres) failed.
    #[error("{program} failed for {node}: {message}\n--- last lines of {log} ---\n{log_tail}")]
    ServerFailed {
        /// The program that failed.
        program: String,
        /// The node it was run for.
        node: String,
        /// What we saw.
        message: String,
        /// The log file to read for more.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
    /// A standby did not reach `streaming` in time.
    #[error("standby {standby} is not streaming after {waited_ms} ms (last state: {last_state})\n--- last lines of {log} ---\n{log_tail}")]
    NotStreaming {
        /// application_name of the standby.
        standby: String,
        /// How long we waited.
        waited_ms: u128,
        /// Its last `pg_stat_replication.state`, or "absent".
        last_state: String,
        /// The standby's log.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
    /// A node index or name that the cluster does not have.
    #[error("the cluster has no {0}")]
    NoSuchNode(String),
    /// The state file could not be read or written.
    #[error("cluster state {path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A database operation on a node failed.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// An operating-system call failed.
    #[error("{action}: {source}")]
    Io {
        /// What we were doing.
        action: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl ClusterError {
    /// What to do about it, in one sentence.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ClusterError::ServerNotFound { .. } => "install the PostgreSQL server: `apt-get install postgresql` \
                (Debian/Ubuntu), `dnf install postgresql-server` (Fedora) or `brew install postgresql`; \
                or set RETORT_PG_BINDIR to the directory that holds initdb"
                .to_owned(),
            ClusterError::BadBinDirOverride { .. } => {
                "point RETORT_PG_BINDIR at the server's bin directory (see `pg_config --bindir`), or unset it"
                    .to_owned()
            }
            ClusterError::NoServerUser { .. } => "create an unprivileged account (`useradd --system postgres`) \
                or name an existing one in RETORT_PG_OS_USER, or run retort as an ordinary user"
                .to_owned(),
            ClusterError::PortInUse { port } => format!(
                "pick another port with --port, or leave it out and retort picks a free one \
                 (`ss -ltnp 'sport = :{port}'` shows who holds it)"
            ),
            ClusterError::Directory { .. } => "choose a directory you can write and, when running as root, \
                that the postgres OS user can reach (every parent directory searchable), e.g. under /tmp"
                .to_owned(),
            ClusterError::NotEmpty { .. } => {
                "choose an empty or new directory with --dir, or remove this one".to_owned()
            }
            ClusterError::NoCluster { .. } => {
                "start one with `retort cluster start`, or pass the --dir it was started with".to_owned()
            }
            ClusterError::ServerFailed { .. } | ClusterError::NotStreaming { .. } => {
                "the log lines above say why; `retort cluster stop --destroy` removes a broken cluster"
                    .to_owned()
            }
            ClusterError::Pg(e) => return e.hint(),
            ClusterError::NoSuchNode(_) | ClusterError::State { .. } | ClusterError::Io { .. } => {
                return None
            }
        })
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(nowhere)".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shorthand for wrapping an `io::Error` with what we were doing.
pub(crate) fn io_err(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let action = action.into();
    move |source| ClusterError::Io { action, source }
}
