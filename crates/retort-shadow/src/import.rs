//! Importing password hashes written by other systems: classify each source row, then insert the
//! bcrypt ones in batches through the store's admin function `import_bcrypt`.

use std::collections::BTreeMap;

use postgres::Client;

use crate::blocking::ShadowStore;
use crate::error::ShadowError;

/// Checks a bcrypt hash written by another system before it is imported, and names its format
/// when it is not bcrypt: `bcrypt` for `$2a$`/`$2b$`/`$2y$` hashes of cost 04-31, else one of
/// `argon2`, `scrypt`, `pbkdf2`, `sha512-crypt`, `sha256-crypt`, `md5-crypt`, `bcrypt-malformed`,
/// `bcrypt-2x`, `empty`, `unknown`.
pub fn hash_format(hash: &str) -> &'static str {
    let b = hash.as_bytes();
    let bcrypt_alphabet = |c: &u8| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/';
    if hash.is_empty() {
        return "empty";
    }
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        let cost_ok = b.len() == 60
            && b[6] == b'$'
            && std::str::from_utf8(&b[4..6])
                .ok()
                .and_then(|c| c.parse::<u8>().ok())
                .is_some_and(|c| (4..=31).contains(&c))
            && b[4].is_ascii_digit()
            && b[5].is_ascii_digit();
        return if cost_ok && b[7..].iter().all(bcrypt_alphabet) {
            "bcrypt"
        } else {
            "bcrypt-malformed"
        };
    }
    if hash.starts_with("$2x$") {
        return "bcrypt-2x";
    }
    if hash.starts_with("$argon2") || hash.starts_with("argon2") {
        return "argon2";
    }
    if hash.starts_with("$scrypt$") || hash.starts_with("scrypt") || hash.starts_with("$7$") {
        return "scrypt";
    }
    if hash.starts_with("pbkdf2") || hash.starts_with("$pbkdf2") {
        return "pbkdf2";
    }
    if hash.starts_with("$6$") {
        return "sha512-crypt";
    }
    if hash.starts_with("$5$") {
        return "sha256-crypt";
    }
    if hash.starts_with("$1$") || hash.starts_with("md5") {
        return "md5-crypt";
    }
    "unknown"
}

/// One row of the source: where it came from (a row number or a file's line), the user name and
/// the hash (None when NULL or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    /// Row number (1-based) or line number.
    pub at: usize,
    /// The user name.
    pub user: Option<String>,
    /// The hash.
    pub hash: Option<String>,
}

/// A row that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Where it came from.
    pub at: usize,
    /// The user name (empty when there was none).
    pub user: String,
    /// Its hash's format ([`hash_format`]), or `no-user-name`, `duplicate-user-name`.
    pub reason: &'static str,
}

/// What to import and what not, before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// Names of the rows to import, in source order.
    pub names: Vec<String>,
    /// Their bcrypt hashes.
    pub hashes: Vec<String>,
    /// Rows that are not imported. Every source row is in `names` or here: none is dropped.
    pub refused: Vec<Refused>,
}

impl ImportPlan {
    /// Refused rows counted by reason.
    pub fn refused_by_reason(&self) -> BTreeMap<&'static str, usize> {
        let mut by = BTreeMap::new();
        for r in &self.refused {
            *by.entry(r.reason).or_default() += 1;
        }
        by
    }
}

/// Classifies rows: bcrypt hashes of named users are imported (the first row of a name only),
/// everything else is refused with its reason.
pub fn classify(rows: impl IntoIterator<Item = SourceRow>) -> ImportPlan {
    let mut plan = ImportPlan::default();
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        let user = row.user.unwrap_or_default();
        let reason = match &row.hash {
            _ if user.is_empty() => Some("no-user-name"),
            None => Some("empty"),
            Some(h) => match hash_format(h) {
                "bcrypt" if !seen.insert(user.clone()) => Some("duplicate-user-name"),
                "bcrypt" => None,
                other => Some(other),
            },
        };
        match reason {
            Some(reason) => plan.refused.push(Refused {
                at: row.at,
                user,
                reason,
            }),
            None => {
                plan.names.push(user);
                plan.hashes.push(row.hash.unwrap_or_default());
            }
        }
    }
    plan
}

/// Rows per `import_bcrypt` call: one statement and one transaction each.
pub const IMPORT_BATCH: usize = 10_000;

/// Imports `plan`'s hashes into the store in batches (admin role), calling `progress` with the
/// rows done so far. Returns the names skipped because the store already has a password for them.
pub fn import(
    client: &mut Client,
    store: &ShadowStore,
    plan: &ImportPlan,
    mut progress: impl FnMut(usize),
) -> Result<Vec<String>, ShadowError> {
    let mut skipped = Vec::new();
    let mut done = 0;
    for (n, h) in plan
        .names
        .chunks(IMPORT_BATCH)
        .zip(plan.hashes.chunks(IMPORT_BATCH))
    {
        skipped.extend(store.import_bcrypt(client, n, h)?);
        done += n.len();
        progress(done);
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_imported_or_refused_never_dropped() {
        let good = "$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234".to_owned();
        let row = |at, user: &str, hash: Option<&str>| SourceRow {
            at,
            user: Some(user.to_owned()),
            hash: hash.map(str::to_owned),
        };
        let plan = classify(vec![
            row(1, "a", Some(&good)),
            row(2, "a", Some(&good)),
            row(3, "", Some(&good)),
            row(4, "b", None),
            row(5, "c", Some("$6$x$y")),
            row(6, "d", Some(&good)),
        ]);
        assert_eq!(plan.names, vec!["a", "d"]);
        let reasons: Vec<(usize, &str)> = plan.refused.iter().map(|r| (r.at, r.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (2, "duplicate-user-name"),
                (3, "no-user-name"),
                (4, "empty"),
                (5, "sha512-crypt")
            ]
        );
        assert_eq!(plan.refused_by_reason()["empty"], 1);
    }

    #[test]
    fn hash_formats_are_named() {
        let good = "$2b$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234";
        assert_eq!(good.len(), 60);
        assert_eq!(hash_format(good), "bcrypt");
        assert_eq!(hash_format(&good.replacen("$2b$", "$2a$", 1)), "bcrypt");
        assert_eq!(hash_format(&good.replacen("$2b$", "$2y$", 1)), "bcrypt");
        assert_eq!(hash_format(&good.replacen("$2b$", "$2x$", 1)), "bcrypt-2x");
        assert_eq!(
            hash_format(&good.replacen("$04$", "$03$", 1)),
            "bcrypt-malformed"
        );
        assert_eq!(hash_format(&good[..59]), "bcrypt-malformed");
        assert_eq!(
            hash_format("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
            "argon2"
        );
        assert_eq!(hash_format("pbkdf2_sha256$600000$salt$hash="), "pbkdf2");
        assert_eq!(hash_format("$6$salt$hash"), "sha512-crypt");
        assert_eq!(hash_format("$1$salt$hash"), "md5-crypt");
        assert_eq!(hash_format(""), "empty");
        assert_eq!(hash_format("plaintext"), "unknown");
    }
}
