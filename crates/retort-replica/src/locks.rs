//! Which statements take ACCESS EXCLUSIVE locks, the locks standbys replay and that cancel
//! standby queries. A word-level reading of the statement's head, enough for a warning before a
//! run; the lint crate reads SQL with the real parser for exact lock levels.

/// True when `sql` (one statement) takes an ACCESS EXCLUSIVE lock on an existing relation.
pub fn takes_access_exclusive(sql: &str) -> bool {
    let words = leading_words(sql, 4);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["ALTER", "TABLE", ..] => !is_weaker_alter_table(sql),
        ["ALTER", "INDEX", ..] | ["ALTER", "SEQUENCE", ..] | ["ALTER", "MATERIALIZED", ..] => true,
        ["ALTER", "VIEW", ..] => true,
        ["DROP", "TABLE", ..] | ["DROP", "VIEW", ..] | ["DROP", "MATERIALIZED", ..] => true,
        ["DROP", "SEQUENCE", ..] => true,
        ["DROP", "INDEX", "CONCURRENTLY", ..] => false,
        ["DROP", "INDEX", ..] => true,
        ["TRUNCATE", ..] | ["CLUSTER", ..] | ["VACUUM", "FULL", ..] => true,
        ["REINDEX", _, "CONCURRENTLY", ..] => false,
        ["REINDEX", ..] => true,
        ["REFRESH", "MATERIALIZED", "VIEW", "CONCURRENTLY"] => false,
        ["REFRESH", ..] => true,
        ["LOCK", ..] => {
            let upper = sql.to_ascii_uppercase();
            !upper.contains(" IN ") || upper.contains("ACCESS EXCLUSIVE")
        }
        ["CREATE", "RULE", ..] | ["CREATE", "OR", "REPLACE", "RULE"] => true,
        _ => false,
    }
}

/// ALTER TABLE forms that take weaker locks (SHARE UPDATE EXCLUSIVE, SHARE ROW EXCLUSIVE).
fn is_weaker_alter_table(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    [
        "VALIDATE CONSTRAINT",
        "SET STATISTICS",
        "CLUSTER ON",
        "SET WITHOUT CLUSTER",
        "DETACH PARTITION CONCURRENTLY",
    ]
    .iter()
    .any(|f| upper.contains(f))
        || (upper.contains("ADD") && upper.contains("FOREIGN KEY") && !upper.contains(" DROP "))
}

/// The first `n` words of `sql` in upper case, skipping comments.
fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sql;
    while out.len() < n {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map(|(_, r)| r).unwrap_or("");
            continue;
        }
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map(|(_, r)| r).unwrap_or("");
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        out.push(rest[..end].to_ascii_uppercase());
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_levels_of_common_statements() {
        for yes in [
            "ALTER TABLE t ADD COLUMN c int",
            "-- add it\nalter table t drop column c",
            "/* x */ DROP TABLE t",
            "TRUNCATE t",
            "VACUUM FULL t",
            "REINDEX INDEX i",
            "LOCK TABLE t",
            "LOCK t IN ACCESS EXCLUSIVE MODE",
            "REFRESH MATERIALIZED VIEW m",
            "DROP INDEX i",
        ] {
            assert!(takes_access_exclusive(yes), "{yes}");
        }
        for no in [
            "CREATE TABLE t (id int)",
            "CREATE INDEX CONCURRENTLY i ON t (c)",
            "CREATE INDEX i ON t (c)",
            "INSERT INTO t VALUES (1)",
            "ALTER TABLE t VALIDATE CONSTRAINT c",
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u NOT VALID",
            "DROP INDEX CONCURRENTLY i",
            "REINDEX INDEX CONCURRENTLY i",
            "LOCK t IN SHARE MODE",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY m",
        ] {
            assert!(!takes_access_exclusive(no), "{no}");
        }
    }
}
