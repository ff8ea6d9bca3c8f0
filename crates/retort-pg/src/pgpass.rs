//! `~/.pgpass` lookup with libpq's rules: `host:port:db:user:password`, `*` matches anything,
//! `\:` and `\\` escape, the first matching line wins, and a file that others can read is ignored.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::conninfo::Password;

/// libpq's name for the local host when the connection goes through the default socket directory.
const DEFAULT_SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/run/postgresql", "/tmp"];

/// A matching entry.
#[derive(Debug)]
pub(crate) struct Found {
    pub password: Password,
    pub path: PathBuf,
    pub line: usize,
}

/// The password for this host/port/db/user from `path`, if the file exists, is private and matches.
pub(crate) fn lookup(
    path: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<Found> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            "password file {} has group or world access; ignoring it (chmod 0600 it)",
            path.display()
        );
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let host = if DEFAULT_SOCKET_DIRS.contains(&host) {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let wanted = [host, port.as_str(), dbname, user];
        if fields[..4]
            .iter()
            .zip(wanted)
            .all(|(field, want)| field == "*" || field == want)
        {
            return Some(Found {
                password: Password::new(fields[4..].join(":")),
                path: path.to_owned(),
                line: index + 1,
            });
        }
    }
    None
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ':' => fields.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    fields.push(current);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(mode: u32, body: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), body).unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        file
    }

    #[test]
    fn first_match_wins_with_wildcards_and_escapes() {
        let f = write(
            0o600,
            "# comment\nother:5432:*:*:nope\ndb:*:app:bob:pa\\:ss\\\\w\n*:*:*:*:fallback\n",
        );
        let found = lookup(f.path(), "db", 6000, "app", "bob").unwrap();
        assert_eq!(found.password.expose(), "pa:ss\\w");
        assert_eq!(found.line, 3);
        let found = lookup(f.path(), "elsewhere", 1, "x", "y").unwrap();
        assert_eq!(found.password.expose(), "fallback");
        assert_eq!(found.line, 4);
    }

    #[test]
    fn default_socket_matches_localhost() {
        let f = write(0o600, "localhost:5432:*:*:sock\n");
        assert!(lookup(f.path(), "/var/run/postgresql", 5432, "d", "u").is_some());
        assert!(lookup(f.path(), "/srv/other", 5432, "d", "u").is_none());
    }

    #[test]
    fn readable_by_others_is_ignored() {
        let f = write(0o644, "*:*:*:*:secret\n");
        assert!(lookup(f.path(), "h", 1, "d", "u").is_none());
    }
}
