//! Running the server as an unprivileged OS user when we are root (postgres refuses root).

use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{io_err, ClusterError};

/// The account the server runs as when retort itself runs as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUser {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

impl ServerUser {
    /// `None` when we are not root (the server runs as us); otherwise the account named by
    /// `RETORT_PG_OS_USER`, else `postgres`.
    pub fn for_current_process() -> Result<Option<Self>, ClusterError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        let name = std::env::var("RETORT_PG_OS_USER")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "postgres".to_owned());
        match lookup_user(&name) {
            Some(user) if user.uid != 0 => Ok(Some(user)),
            _ => Err(ClusterError::NoServerUser { user: name }),
        }
    }
}

fn lookup_user(name: &str) -> Option<ServerUser> {
    let cname = CString::new(name).ok()?;
    // SAFETY: getpwnam_r writes into our buffers; we read them only on success.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(ServerUser {
            name: name.to_owned(),
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        })
    }
}

/// A command for a server program: run as `user` when given, in the C locale (so we can read
/// its messages), without the caller's `PG*` variables (which would redirect pg_basebackup).
pub(crate) fn server_command(program: &Path, user: Option<&ServerUser>) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("LC_ALL", "C").env("LANG", "C");
    if let Some(u) = user {
        // std drops root's supplementary groups when uid is set.
        cmd.uid(u.uid).gid(u.gid);
    }
    cmd
}

/// Creates `dir` (and parents) private to the server's user: mode 0700, owned by `user` when set.
/// When we are root, also checks that `user` can reach it through every parent directory.
pub(crate) fn make_private_dir(dir: &Path, user: Option<&ServerUser>) -> Result<(), ClusterError> {
    std::fs::create_dir_all(dir).map_err(|e| ClusterError::Directory {
        dir: dir.to_owned(),
        reason: e.to_string(),
    })?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        ClusterError::Directory {
            dir: dir.to_owned(),
            reason: e.to_string(),
        }
    })?;
    let probe = dir.join(".retort-write-test");
    std::fs::write(&probe, b"").map_err(|e| ClusterError::Directory {
        dir: dir.to_owned(),
        reason: format!("not writable: {e}"),
    })?;
    let _ = std::fs::remove_file(&probe);
    if let Some(u) = user {
        chown(dir, u)?;
        check_reachable(dir, u)?;
    }
    Ok(())
}

/// Gives `path` to `user` (not following symlinks).
pub(crate) fn chown(path: &Path, user: &ServerUser) -> Result<(), ClusterError> {
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).map_err(io_err(format!(
        "chown {} to {}",
        path.display(),
        user.name
    )))
}

/// Gives a whole tree to `user`.
pub(crate) fn chown_tree(path: &Path, user: &ServerUser) -> Result<(), ClusterError> {
    chown(path, user)?;
    let meta =
        std::fs::symlink_metadata(path).map_err(io_err(format!("stat {}", path.display())))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io_err(format!("read {}", path.display())))? {
            let entry = entry.map_err(io_err(format!("read {}", path.display())))?;
            chown_tree(&entry.path(), user)?;
        }
    }
    Ok(())
}

/// Checks the permission bits of every ancestor: `user` must be able to search each one.
fn check_reachable(dir: &Path, user: &ServerUser) -> Result<(), ClusterError> {
    let full: PathBuf =
        std::fs::canonicalize(dir).map_err(io_err(format!("resolve {}", dir.display())))?;
    for ancestor in full.ancestors().skip(1) {
        let meta =
            std::fs::metadata(ancestor).map_err(io_err(format!("stat {}", ancestor.display())))?;
        let mode = meta.mode();
        let bit = if meta.uid() == user.uid {
            0o100
        } else if meta.gid() == user.gid {
            0o010
        } else {
            0o001
        };
        if mode & bit == 0 {
            return Err(ClusterError::Directory {
                dir: dir.to_owned(),
                reason: format!(
                    "the server runs as OS user {:?}, which cannot enter {} (mode {:o}, owner uid {})",
                    user.name,
                    ancestor.display(),
                    mode & 0o7777,
                    meta.uid()
                ),
            });
        }
    }
    Ok(())
}
