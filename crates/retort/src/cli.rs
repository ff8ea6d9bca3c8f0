//! The command line: every flag and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// retort: sane schema management for PostgreSQL, a shadow password store, and
/// replication-aware rollouts.
///
/// Connection settings come from -d/--database-url, else $DATABASE_URL, else [database] url in
/// retort.toml, else the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ...)
/// and ~/.pgpass, exactly as psql reads them.
///
/// Exit codes: 0 success, 1 error, 2 usage error, 3 differences or findings.
#[derive(Debug, Parser)]
#[command(
    name = "retort",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL (postgres://user@host:port/db?sslmode=...) or libpq key=value string.
    #[arg(short = 'd', long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Path to retort.toml (default: found by walking up from the current directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output for people or for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Print only errors (and the data a command exists to print).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more: -v shows what retort does, -vv also what the libraries do.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences.
    Human,
    /// One JSON document on stdout; errors as JSON on stderr.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local primary with streaming standbys for development.
    ///
    /// The cluster lives in a directory (default .retort/cluster next to retort.toml, or in the
    /// current directory) and keeps running after the command exits; `retort cluster stop`
    /// stops it. Servers listen on 127.0.0.1 only; the superuser "postgres" needs no password
    /// over the cluster's private unix socket, and a generated one over TCP.
    ///
    /// Example: retort cluster start --standbys 2 --sync 1 && retort cluster status
    #[command(subcommand)]
    Cluster(ClusterCommand),

    /// Show retort's main job end to end on a throwaway cluster it starts and removes itself.
    ///
    /// Needs nothing configured: it finds the PostgreSQL server binaries, starts a primary with
    /// one synchronous and one asynchronous standby, shows the topology and a row replicating,
    /// and cleans up.
    Demo,

    /// Connect to the database and report the server version and whether it is a primary.
    ///
    /// The quickest check that -d / $DATABASE_URL / retort.toml / PG* settings are right.
    Ping,

    /// Print a shell completion script.
    ///
    /// Example: retort completions bash > /etc/bash_completion.d/retort
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a primary and N standbys (or restart a stopped cluster in --dir).
    Start(ClusterStart),
    /// Stop the cluster's servers (fast shutdown); --destroy also deletes its data.
    Stop {
        #[command(flatten)]
        dir: ClusterDir,
        /// Delete data directories, logs and state after stopping.
        #[arg(long)]
        destroy: bool,
    },
    /// Show each node: role, port, replication state, sync state and replay lag.
    Status {
        #[command(flatten)]
        dir: ClusterDir,
    },
    /// Print a node's connection URL (the primary's by default).
    ///
    /// Example: export DATABASE_URL="$(retort cluster url)"
    Url {
        #[command(flatten)]
        dir: ClusterDir,
        /// Which node: primary, standby1, standby2, ...
        #[arg(long, default_value = "primary")]
        node: String,
        /// A TCP URL with the generated password instead of the unix-socket URL.
        #[arg(long)]
        tcp: bool,
    },
}

#[derive(Debug, Args)]
pub struct ClusterDir {
    /// The cluster's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClusterStart {
    #[command(flatten)]
    pub dir: ClusterDir,
    /// Number of streaming standbys.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub standbys: usize,
    /// How many of the standbys are synchronous (the first N).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sync: usize,
    /// Quorum commit (ANY N) instead of priority (FIRST N) for synchronous standbys.
    #[arg(long)]
    pub quorum: bool,
    /// The primary's port; standbys take the next ones. Default: free ports.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
}
