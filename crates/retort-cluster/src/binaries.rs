//! Finding the PostgreSQL server programs without hard-coding a version.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::ClusterError;

/// Programs a directory must hold to count as a server installation.
const REQUIRED: &[&str] = &["initdb", "postgres", "pg_basebackup"];

/// A server installation: its `bin` directory and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBinaries {
    /// Directory holding `initdb`, `postgres`, `pg_basebackup`, ...
    pub bindir: PathBuf,
    /// Full version, e.g. `15.18`.
    pub version: String,
    /// Major version, e.g. 15.
    pub major: u32,
}

impl ServerBinaries {
    /// Finds the server the way [`BinarySearch::from_env`] describes.
    pub fn find() -> Result<Self, ClusterError> {
        BinarySearch::from_env().find()
    }

    /// Path of a program in the bin directory.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// Where to look, in order: an explicit override, `pg_config --bindir`, each `$PATH` entry that
/// holds `initdb` (symlinks followed), then the highest-numbered `<versioned_root>/*/bin`.
#[derive(Debug, Clone)]
pub struct BinarySearch {
    /// `RETORT_PG_BINDIR`: when set, the only place tried.
    pub override_dir: Option<PathBuf>,
    /// The `PATH` to search (also used to find `pg_config`).
    pub path: Option<OsString>,
    /// Debian-style root of versioned installs, normally `/usr/lib/postgresql`.
    pub versioned_root: PathBuf,
}

impl BinarySearch {
    /// The search a user expects: `RETORT_PG_BINDIR`, `pg_config`, `$PATH`, `/usr/lib/postgresql`.
    pub fn from_env() -> Self {
        BinarySearch {
            override_dir: std::env::var_os("RETORT_PG_BINDIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            path: std::env::var_os("PATH"),
            versioned_root: PathBuf::from("/usr/lib/postgresql"),
        }
    }

    /// Returns the first complete installation.
    ///
    /// Errors: [`ClusterError::BadBinDirOverride`] when the override lacks a program,
    /// [`ClusterError::ServerNotFound`] (with every place tried) when nothing is found.
    pub fn find(&self) -> Result<ServerBinaries, ClusterError> {
        if let Some(dir) = &self.override_dir {
            if let Some(missing) = REQUIRED.iter().find(|p| !is_executable(&dir.join(p))) {
                return Err(ClusterError::BadBinDirOverride {
                    dir: dir.clone(),
                    missing: (*missing).to_owned(),
                });
            }
            return describe(dir);
        }
        let mut searched = Vec::new();
        for dir in self.candidates() {
            if searched.contains(&dir) {
                continue;
            }
            if REQUIRED.iter().all(|p| is_executable(&dir.join(p))) {
                if let Ok(found) = describe(&dir) {
                    return Ok(found);
                }
            }
            searched.push(dir);
        }
        Err(ClusterError::ServerNotFound { searched })
    }

    fn candidates(&self) -> Vec<PathBuf> {
        let path_dirs: Vec<PathBuf> = self
            .path
            .as_ref()
            .map(|p| std::env::split_paths(p).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        if let Some(pg_config) = path_dirs
            .iter()
            .map(|d| d.join("pg_config"))
            .find(|p| is_executable(p))
        {
            if let Ok(output) = Command::new(&pg_config).arg("--bindir").output() {
                if output.status.success() {
                    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                    if !dir.is_empty() {
                        out.push(PathBuf::from(dir));
                    }
                }
            }
        }
        for dir in &path_dirs {
            let initdb = dir.join("initdb");
            if is_executable(&initdb) {
                let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
                if let Some(parent) = real.parent() {
                    out.push(parent.to_owned());
                }
            }
        }
        let mut versioned: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(&self.versioned_root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let key: Option<Vec<u32>> = name.split('.').map(|n| n.parse().ok()).collect();
                key.map(|k| (k, entry.path().join("bin")))
            })
            .collect();
        versioned.sort_by(|a, b| b.0.cmp(&a.0));
        out.extend(versioned.into_iter().map(|(_, dir)| dir));
        if out.is_empty() {
            out.push(self.versioned_root.join("*/bin"));
        }
        out
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn describe(dir: &Path) -> Result<ServerBinaries, ClusterError> {
    let postgres = dir.join("postgres");
    let output = Command::new(&postgres)
        .arg("--version")
        .output()
        .map_err(|e| ClusterError::Io {
            action: format!("running {} --version", postgres.display()),
            source: e,
        })?;
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_owned();
    let major = version
        .split(['.', 'b', 'r'])
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| ClusterError::BadBinDirOverride {
            dir: dir.to_owned(),
            missing: format!("working postgres (--version said {:?})", text.trim()),
        })?;
    Ok(ServerBinaries {
        bindir: dir.to_owned(),
        version,
        major,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_found_lists_where_it_looked() {
        let empty = tempfile::tempdir().unwrap();
        let search = BinarySearch {
            override_dir: None,
            path: Some(empty.path().as_os_str().to_owned()),
            versioned_root: empty.path().join("lib/postgresql"),
        };
        let err = search.find().unwrap_err();
        assert!(matches!(err, ClusterError::ServerNotFound { .. }), "{err}");
        assert!(err.hint().unwrap().contains("apt-get install postgresql"));
    }

    #[test]
    fn override_without_programs_names_the_missing_one() {
        let empty = tempfile::tempdir().unwrap();
        let search = BinarySearch {
            override_dir: Some(empty.path().to_owned()),
            path: None,
            versioned_root: PathBuf::from("/nonexistent"),
        };
        let err = search.find().unwrap_err().to_string();
        assert!(
            err.contains("RETORT_PG_BINDIR") && err.contains("initdb"),
            "{err}"
        );
    }

    #[test]
    fn highest_versioned_directory_wins() {
        let root = tempfile::tempdir().unwrap();
        for v in ["9.6", "13", "15"] {
            std::fs::create_dir_all(root.path().join(v).join("bin")).unwrap();
        }
        let search = BinarySearch {
            override_dir: None,
            path: None,
            versioned_root: root.path().to_owned(),
        };
        let c = search.candidates();
        assert_eq!(c[0], root.path().join("15/bin"));
        assert_eq!(c[2], root.path().join("9.6/bin"));
    }
}
