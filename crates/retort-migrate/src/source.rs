//! Where migrations come from: a directory on disk, or a directory embedded in the binary with
//! `include_dir!`.

use std::path::{Path, PathBuf};

use crate::error::MigrateError;
use crate::file::Migration;
use crate::graph::RevisionGraph;

/// Reads every `*.sql` file under `dir` (recursively, hidden entries skipped) and builds the graph.
///
/// Errors: an unreadable directory or file, any file that breaks the format, and everything
/// [`RevisionGraph::new`] rejects. A missing directory is an error that says to run `retort init`.
pub fn load_dir(dir: &Path) -> Result<RevisionGraph, MigrateError> {
    if !dir.is_dir() {
        return Err(MigrateError::Io {
            path: dir.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such directory (run `retort init`, or set [migrations] dir in retort.toml)",
            ),
        });
    }
    let mut files = Vec::new();
    collect_sql_files(dir, &mut files)?;
    files.sort();
    let mut migrations = Vec::with_capacity(files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| MigrateError::Io {
            path: path.clone(),
            source,
        })?;
        migrations.push(Migration::parse(&text, &path)?);
    }
    RevisionGraph::new(migrations)
}

fn collect_sql_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), MigrateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| MigrateError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| MigrateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_sql_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
    Ok(())
}

/// Builds the graph from a directory embedded with [`include_dir::include_dir!`]. Paths in
/// errors are the paths inside the embedded directory.
///
/// ```ignore
/// use retort_migrate::include_dir::{self, include_dir, Dir};
/// static MIGRATIONS: Dir = include_dir!("$CARGO_MANIFEST_DIR/migrations");
/// let graph = retort_migrate::from_embedded(&MIGRATIONS)?;
/// ```
pub fn from_embedded(dir: &include_dir::Dir<'_>) -> Result<RevisionGraph, MigrateError> {
    let mut files = Vec::new();
    collect_embedded(dir, &mut files);
    files.sort_by(|a, b| a.path().cmp(b.path()));
    let mut migrations = Vec::with_capacity(files.len());
    for file in files {
        let text = file.contents_utf8().ok_or_else(|| MigrateError::Io {
            path: file.path().to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
        })?;
        migrations.push(Migration::parse(text, file.path())?);
    }
    RevisionGraph::new(migrations)
}

fn collect_embedded<'a>(dir: &'a include_dir::Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    for entry in dir.entries() {
        match entry {
            include_dir::DirEntry::Dir(d) => collect_embedded(d, out),
            include_dir::DirEntry::File(f) => {
                let hidden = f
                    .path()
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if !hidden && f.path().extension().is_some_and(|e| e == "sql") {
                    out.push(f);
                }
            }
        }
    }
}
