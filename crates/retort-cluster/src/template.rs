//! A data directory made by `initdb` once per machine and server version, copied for each new
//! cluster: a copy takes tens of milliseconds, `initdb` takes over a second.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::binaries::ServerBinaries;
use crate::error::{io_err, ClusterError};
use crate::os_user::{self, ServerUser};

/// Bump when what `initdb` is asked for or what we write into the template changes.
const TEMPLATE_FORMAT: u32 = 1;

/// The superuser every retort cluster has.
pub const SUPERUSER: &str = "postgres";

const PG_HBA: &str = "\
# written by retort: trust on the private unix socket, passwords over TCP (loopback only)
local   all             all                             trust
local   replication     all                             trust
host    all             all         127.0.0.1/32        scram-sha-256
host    replication     all         127.0.0.1/32        scram-sha-256
";

/// Where templates are cached: `$RETORT_CACHE_DIR`, else `$XDG_CACHE_HOME/retort`, else
/// `~/.cache/retort`, else a per-user directory in the system temp dir.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RETORT_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("retort");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache/retort");
    }
    // SAFETY: geteuid has no preconditions.
    std::env::temp_dir().join(format!("retort-cache-{}", unsafe { libc::geteuid() }))
}

/// Returns the cached template for `bins`, creating it when missing. `staging` is a directory
/// the server's user can write (the new cluster's own directory), where `initdb` runs.
/// `on_initdb` is called before the slow path.
pub(crate) fn ensure(
    bins: &ServerBinaries,
    user: Option<&ServerUser>,
    staging: &Path,
    on_initdb: &dyn Fn(),
) -> Result<PathBuf, ClusterError> {
    let cache = cache_dir();
    let template = cache.join(format!("pg{}-t{}", bins.version, TEMPLATE_FORMAT));
    if template.join("PG_VERSION").is_file() {
        return Ok(template);
    }
    on_initdb();
    std::fs::create_dir_all(&cache).map_err(|e| ClusterError::Directory {
        dir: cache.clone(),
        reason: e.to_string(),
    })?;
    let _ = std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700));

    let fresh = staging.join("initdb");
    let log = staging.join("initdb.log");
    let log_file =
        std::fs::File::create(&log).map_err(io_err(format!("create {}", log.display())))?;
    let mut cmd = os_user::server_command(&bins.program("initdb"), user);
    cmd.arg("-D")
        .arg(&fresh)
        .args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdout(log_file.try_clone().map_err(io_err("dup log"))?)
        .stderr(log_file);
    let status = cmd
        .status()
        .map_err(io_err(format!("run {}", bins.program("initdb").display())))?;
    if !status.success() {
        return Err(ClusterError::ServerFailed {
            program: "initdb".into(),
            node: "template".into(),
            message: format!("exited with {status}"),
            log_tail: crate::node::tail(&log, 20),
            log: log.clone(),
        });
    }
    std::fs::write(fresh.join("pg_hba.conf"), PG_HBA).map_err(io_err("write pg_hba.conf"))?;
    let conf = fresh.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).map_err(io_err("read postgresql.conf"))?;
    text.push_str("\n# per-node settings written by retort\ninclude_if_exists = 'retort.conf'\n");
    std::fs::write(&conf, text).map_err(io_err("write postgresql.conf"))?;

    // Copy into the cache under a unique name and rename: concurrent first runs never see a
    // half-written template, and the loser of the race just discards its copy.
    let partial = cache.join(format!(
        ".partial-{}-{}",
        std::process::id(),
        random_hex(4)?
    ));
    copy_tree(&fresh, &partial)?;
    let _ = std::fs::remove_dir_all(&fresh);
    if std::fs::rename(&partial, &template).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    if template.join("PG_VERSION").is_file() {
        Ok(template)
    } else {
        Err(ClusterError::Directory {
            dir: template,
            reason: "the template cache could not be written".into(),
        })
    }
}

/// Copies a directory tree, keeping permission bits (files and directories; data directories
/// hold no symlinks unless configured, and those we copy as links).
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), ClusterError> {
    std::fs::create_dir_all(to).map_err(io_err(format!("create {}", to.display())))?;
    let mode = std::fs::metadata(from)
        .map_err(io_err(format!("stat {}", from.display())))?
        .permissions();
    for entry in std::fs::read_dir(from).map_err(io_err(format!("read {}", from.display())))? {
        let entry = entry.map_err(io_err(format!("read {}", from.display())))?;
        let kind = entry.file_type().map_err(io_err("stat"))?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(io_err("readlink"))?;
            std::os::unix::fs::symlink(link, &target).map_err(io_err("symlink"))?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(io_err(format!("copy {}", entry.path().display())))?;
        }
    }
    std::fs::set_permissions(to, mode).map_err(io_err(format!("chmod {}", to.display())))
}

/// `bytes` random bytes from the OS as lowercase hex (names and passwords).
pub(crate) fn random_hex(bytes: usize) -> Result<String, ClusterError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ClusterError::Io {
        action: "reading random bytes".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
