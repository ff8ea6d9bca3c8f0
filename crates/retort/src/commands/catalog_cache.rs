//! A cache of catalogs that retort builds in throwaway databases (the migrations head, the
//! desired-state schema files), so that `retort check` in CI reads only the live database when
//! nothing it builds from has changed.
//!
//! A cached catalog is found by a key: SHA-256 over everything the catalog depends on (the
//! migrations' revisions, parents, dependencies, transaction mode and up-section checksums, or
//! the schema files' contents; the dev server's version; retort's version and build; the schema
//! filter).
//! Anything else changing gives a new key, so an entry is never stale, only unused. Entries
//! live in `<cache dir>/catalog/<key>.json`; the newest 32 are kept.

use std::path::{Path, PathBuf};

use retort_catalog::{Filter, Snapshot};
use retort_migrate::RevisionGraph;

const KEEP: usize = 32;

/// Where a catalog came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Read from the cache.
    Hit,
    /// Built (and stored for next time).
    Miss,
    /// Built; the cache was switched off.
    Off,
}

/// The text a key is the hash of, common part: retort, server and filter.
fn preamble(server_version: &str, filter: &Filter) -> String {
    format!(
        "retort {} {}\nserver {server_version}\nexclude {:?}\ninclude {:?}\nowners {}\n",
        env!("CARGO_PKG_VERSION"),
        build_identity(),
        filter.exclude_schemas,
        filter.include_schemas,
        filter.owners
    )
}

/// The size and modification time of the running binary: a rebuilt retort (whose catalog
/// model may differ under the same version number) never reads an older build's entries.
fn build_identity() -> String {
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}:{mtime}", m.len())
        })
        .unwrap_or_default()
}

/// The key of the catalog all migrations produce.
pub fn head_key(graph: &RevisionGraph, server_version: &str, filter: &Filter) -> String {
    let mut text = preamble(server_version, filter);
    text.push_str("migrations head\n");
    for m in graph.migrations() {
        text.push_str(&format!(
            "{} parents={:?} depends={:?} transactional={} up={}\n",
            m.revision,
            m.parents,
            m.depends_on,
            m.transactional,
            m.checksum()
        ));
    }
    retort_migrate::checksum(&text)
}

/// The key of the catalog `files` (in load order) produce.
pub fn files_key(
    files: &[PathBuf],
    server_version: &str,
    filter: &Filter,
) -> std::io::Result<String> {
    let mut text = preamble(server_version, filter);
    text.push_str("schema files\n");
    for f in files {
        let body = std::fs::read_to_string(f)?;
        text.push_str(&format!(
            "{} {}\n",
            f.display(),
            retort_migrate::checksum(&body)
        ));
    }
    Ok(retort_migrate::checksum(&text))
}

/// The key of the catalog `sql` (a program's output) produces.
pub fn text_key(sql: &str, server_version: &str, filter: &Filter) -> String {
    let mut text = preamble(server_version, filter);
    text.push_str("schema text\n");
    text.push_str(&retort_migrate::checksum(sql));
    retort_migrate::checksum(&text)
}

fn dir() -> PathBuf {
    retort_cluster::cache_dir().join("catalog")
}

fn path_of(key: &str) -> PathBuf {
    dir().join(format!("{key}.json"))
}

/// The cached catalog for `key`, if there is a readable one. A damaged entry is removed.
pub fn load(key: &str) -> Option<Snapshot> {
    let path = path_of(key);
    let bytes = std::fs::read(&path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(
                "ignoring unreadable catalog cache entry {}: {e}",
                path.display()
            );
            let _ = std::fs::remove_file(&path);
            None
        }
    }
}

/// Stores `snapshot` under `key` (atomically: a reader sees the whole entry or none) and trims
/// the cache to the newest entries. A cache that cannot be written is not an error.
pub fn store(key: &str, snapshot: &Snapshot) {
    let result = (|| -> std::io::Result<()> {
        let dir = dir();
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let file = std::fs::File::create(&tmp)?;
        let written = serde_json::to_writer(std::io::BufWriter::new(file), snapshot)
            .map_err(std::io::Error::from)
            .and_then(|()| std::fs::rename(&tmp, path_of(key)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        trim(&dir, KEEP)
    })();
    if let Err(e) = result {
        tracing::warn!("could not write the catalog cache: {e}");
    }
}

fn trim(dir: &Path, keep: usize) -> std::io::Result<()> {
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, old) in entries.into_iter().skip(keep) {
        let _ = std::fs::remove_file(old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(up: &str) -> RevisionGraph {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("0001_a.sql"),
            format!("-- retort:revision 000000000001\n-- retort:message a\n\n-- retort:up\n{up}\n\n-- retort:down\nDROP TABLE a;\n"),
        )
        .unwrap();
        retort_migrate::load_dir(dir.path()).unwrap()
    }

    #[test]
    fn the_key_follows_migrations_server_and_filter() {
        let f = Filter::default();
        let g = graph("CREATE TABLE a (id int);");
        let base = head_key(&g, "15.8", &f);
        assert_eq!(
            base,
            head_key(&graph("CREATE TABLE a (id int);"), "15.8", &f)
        );
        assert_ne!(
            base,
            head_key(&graph("CREATE TABLE a (id bigint);"), "15.8", &f)
        );
        assert_ne!(base, head_key(&g, "16.4", &f));
        let other = Filter {
            exclude_schemas: vec!["audit".into()],
            ..Filter::default()
        };
        assert_ne!(base, head_key(&g, "15.8", &other));
    }
}
