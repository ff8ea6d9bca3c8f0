//! One PostgreSQL server of a cluster: its settings file, start, readiness, stop and kill.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::binaries::ServerBinaries;
use crate::error::{io_err, ClusterError};
use crate::os_user::{self, ServerUser};
use crate::process::{self, Lifetime};

/// What a node does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accepts writes.
    Primary,
    /// Replays the primary's WAL, read-only.
    Standby,
    /// A former primary that a promoted standby replaced: stopped, and never started again
    /// (its timeline ended; it would need pg_rewind or a new base backup to rejoin).
    Retired,
}

/// How to stop a server, as `pg_ctl stop -m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Wait for clients to disconnect (SIGTERM).
    Smart,
    /// Disconnect clients, checkpoint, exit (SIGINT).
    Fast,
    /// Exit at once without a checkpoint; recovery runs at next start (SIGQUIT).
    Immediate,
}

impl StopMode {
    fn signal(self) -> libc::c_int {
        match self {
            StopMode::Smart => libc::SIGTERM,
            StopMode::Fast => libc::SIGINT,
            StopMode::Immediate => libc::SIGQUIT,
        }
    }
}

/// The durable description of a node (kept in the cluster's `state.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// `primary`, or the standby's `application_name` (`standby1`, ...).
    pub name: String,
    /// Primary or standby.
    pub role: Role,
    /// TCP port on 127.0.0.1, also the socket's number.
    pub port: u16,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Server log.
    pub log_file: PathBuf,
    /// Listed in the primary's `synchronous_standby_names`.
    #[serde(default)]
    pub synchronous: bool,
    /// Extra settings written into this node's `retort.conf`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

/// What a node needs from its cluster to run.
pub(crate) struct ServerContext<'a> {
    pub bins: &'a ServerBinaries,
    pub user: Option<&'a ServerUser>,
    pub socket_dir: &'a Path,
}

/// A running or stopped server of a cluster.
#[derive(Debug)]
pub struct Node {
    pub(crate) spec: NodeSpec,
    /// Held for servers this process started; `None` for servers found through `state.json`.
    pub(crate) child: Option<Child>,
}

impl Node {
    /// `primary`, or the standby's `application_name`.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Primary or standby.
    pub fn role(&self) -> Role {
        self.spec.role
    }

    /// TCP port (and socket number).
    pub fn port(&self) -> u16 {
        self.spec.port
    }

    /// Data directory.
    pub fn data_dir(&self) -> &Path {
        &self.spec.data_dir
    }

    /// Server log file.
    pub fn log_file(&self) -> &Path {
        &self.spec.log_file
    }

    /// True for a standby listed in `synchronous_standby_names`.
    pub fn is_synchronous(&self) -> bool {
        self.spec.synchronous
    }

    /// The postmaster's pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        if let Some(child) = &mut self.child {
            return match child.try_wait() {
                Ok(None) => Some(child.id()),
                _ => None,
            };
        }
        let pid = read_pidfile(&self.spec.data_dir)?.0;
        process::process_exists(pid).then_some(pid)
    }

    /// True while the postmaster runs.
    pub fn is_running(&mut self) -> bool {
        self.pid().is_some()
    }

    /// Writes `retort.conf`, the per-node settings that `postgresql.conf` includes.
    pub(crate) fn write_conf(&self, ctx: &ServerContext<'_>) -> Result<(), ClusterError> {
        let mut text = String::from(
            "# written by retort for this node; edit postgresql.conf for your own settings\n",
        );
        let mut settings: BTreeMap<&str, String> = BTreeMap::from([
            ("port", self.spec.port.to_string()),
            ("listen_addresses", "'127.0.0.1'".to_owned()),
            (
                "unix_socket_directories",
                conf_string(&ctx.socket_dir.display().to_string()),
            ),
            ("unix_socket_permissions", "0700".to_owned()),
            // Throwaway clusters trade crash safety for speed; commits still wait for
            // synchronous standbys because synchronous_commit keeps its default.
            ("fsync", "off".to_owned()),
            ("wal_level", "replica".to_owned()),
            ("max_wal_senders", "10".to_owned()),
            ("max_replication_slots", "10".to_owned()),
            ("hot_standby", "on".to_owned()),
            ("shared_buffers", "32MB".to_owned()),
            ("logging_collector", "off".to_owned()),
            ("log_line_prefix", "'%m [%p] %q%a '".to_owned()),
            ("cluster_name", conf_string(&self.spec.name)),
        ]);
        for (k, v) in &self.spec.settings {
            settings.insert(k.as_str(), v.clone());
        }
        for (k, v) in settings {
            let _ = writeln!(text, "{k} = {v}");
        }
        let path = self.spec.data_dir.join("retort.conf");
        std::fs::write(&path, text).map_err(io_err(format!("write {}", path.display())))?;
        if let Some(u) = ctx.user {
            os_user::chown(&path, u)?;
        }
        Ok(())
    }

    /// Starts the server and waits until it accepts connections (`ready`, or `standby` for a
    /// hot standby).
    pub(crate) fn start(
        &mut self,
        ctx: &ServerContext<'_>,
        lifetime: Lifetime,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        if self.is_running() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log_file)
            .map_err(io_err(format!("open {}", self.spec.log_file.display())))?;
        if let Some(u) = ctx.user {
            os_user::chown(&self.spec.log_file, u)?;
        }
        let log_start = std::fs::metadata(&self.spec.log_file)
            .map(|m| m.len())
            .unwrap_or(0);
        let mut cmd = os_user::server_command(&ctx.bins.program("postgres"), ctx.user);
        cmd.arg("-D")
            .arg(&self.spec.data_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("dup log"))?)
            .stderr(log);
        let child = process::spawn(cmd, lifetime).map_err(io_err(format!(
            "start {} for {}",
            ctx.bins.program("postgres").display(),
            self.spec.name
        )))?;
        self.child = Some(child);
        let started = Instant::now();
        let mut exited = None;
        let ready = process::wait_for(timeout, || {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    exited = Some(status);
                    return true;
                }
            }
            matches!(
                read_pidfile(&self.spec.data_dir),
                Some((_, status)) if status == "ready" || status == "standby"
            )
        });
        if ready && exited.is_none() {
            tracing::debug!(node = %self.spec.name, ms = started.elapsed().as_millis(), "server ready");
            if lifetime == Lifetime::Detached {
                self.child = None;
            }
            return Ok(());
        }
        let new_log = read_from(&self.spec.log_file, log_start);
        if new_log.contains("Address already in use") || new_log.contains("could not bind") {
            self.kill_quietly();
            return Err(ClusterError::PortInUse {
                port: self.spec.port,
            });
        }
        self.kill_quietly();
        Err(ClusterError::ServerFailed {
            program: "postgres".into(),
            node: self.spec.name.clone(),
            message: match exited {
                Some(status) => format!("the server exited during start-up ({status})"),
                None => format!("not ready after {} s", timeout.as_secs()),
            },
            log: self.spec.log_file.clone(),
            log_tail: tail(&self.spec.log_file, 15),
        })
    }

    /// Stops the server with `mode` and waits (up to `timeout`, then SIGKILL) until it is gone.
    pub(crate) fn stop(&mut self, mode: StopMode, timeout: Duration) -> Result<(), ClusterError> {
        let Some(pid) = self.pid() else {
            self.child = None;
            return Ok(());
        };
        process::send_signal(pid, mode.signal())
            .map_err(io_err(format!("signal {} (pid {pid})", self.spec.name)))?;
        if !self.wait_gone(pid, timeout) {
            tracing::warn!(node = %self.spec.name, "did not stop in time; killing it");
            self.kill()?;
        }
        self.child = None;
        Ok(())
    }

    /// SIGKILLs the postmaster, then waits until its children have noticed and exited, so a
    /// restart finds no process attached to the old shared memory.
    pub(crate) fn kill(&mut self) -> Result<(), ClusterError> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        let orphans_before = process::children_of(pid);
        process::send_signal(pid, libc::SIGKILL)
            .map_err(io_err(format!("kill {} (pid {pid})", self.spec.name)))?;
        self.wait_gone(pid, Duration::from_secs(10));
        process::wait_for(Duration::from_secs(10), || {
            orphans_before.iter().all(|c| !process::process_exists(*c))
        });
        self.child = None;
        Ok(())
    }

    fn kill_quietly(&mut self) {
        if let Err(e) = self.kill() {
            tracing::warn!(node = %self.spec.name, "could not kill: {e}");
        }
    }

    fn wait_gone(&mut self, pid: u32, timeout: Duration) -> bool {
        match &mut self.child {
            Some(child) => process::wait_for(timeout, || !matches!(child.try_wait(), Ok(None))),
            None => process::wait_for(timeout, || {
                process::reap(pid);
                !process::process_exists(pid)
            }),
        }
    }

    /// Asks the running server to re-read its configuration (SIGHUP).
    pub(crate) fn reload(&mut self) -> Result<(), ClusterError> {
        if let Some(pid) = self.pid() {
            process::send_signal(pid, libc::SIGHUP)
                .map_err(io_err(format!("reload {}", self.spec.name)))?;
        }
        Ok(())
    }
}

/// Quotes a value for postgresql.conf.
fn conf_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// Pid and status line from `postmaster.pid`.
fn read_pidfile(data_dir: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let status = lines.nth(6).unwrap_or_default().trim().to_owned();
    Some((pid, status))
}

fn read_from(path: &Path, offset: u64) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = (offset as usize).min(text.len());
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// The last `lines` lines of a log file ("(empty)" when there is nothing to show).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let shown = all[all.len().saturating_sub(lines)..].join("\n");
    if shown.is_empty() {
        "(empty)".to_owned()
    } else {
        shown
    }
}
