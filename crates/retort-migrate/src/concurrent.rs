//! `CREATE INDEX CONCURRENTLY` that was interrupted (a lock timeout, a cancelled run, a lost
//! connection) leaves an INVALID index behind under the name the statement wants. Rerunning the
//! statement would fail ("already exists") or, with IF NOT EXISTS, keep the broken index. The
//! runner finds such an index before the statement runs, drops it concurrently and builds it
//! again.

use retort_pg::Client;

/// The index and table a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY]
/// table ...` statement names, as written (quoted or not). None for any other statement, and
/// for an index without a name.
pub(crate) fn concurrent_index(sql: &str) -> Option<(String, String)> {
    let tokens = tokens(sql);
    let mut t = tokens.iter().map(String::as_str).peekable();
    let word = |w: Option<&str>, want: &str| w.is_some_and(|w| w.eq_ignore_ascii_case(want));
    if !word(t.next(), "create") {
        return None;
    }
    if t.peek().is_some_and(|w| w.eq_ignore_ascii_case("unique")) {
        t.next();
    }
    if !word(t.next(), "index") || !word(t.next(), "concurrently") {
        return None;
    }
    if t.peek().is_some_and(|w| w.eq_ignore_ascii_case("if")) {
        t.next();
        if !word(t.next(), "not") || !word(t.next(), "exists") {
            return None;
        }
    }
    let name = t.next()?;
    if name.eq_ignore_ascii_case("on") {
        return None;
    }
    if !word(t.next(), "on") {
        return None;
    }
    let mut table = t.next()?;
    if table.eq_ignore_ascii_case("only") {
        table = t.next()?;
    }
    // `ON t(col)` and `ON t USING ...`: the table name ends at a parenthesis.
    let table = table.split('(').next().unwrap_or(table);
    Some((name.to_owned(), table.to_owned()))
}

/// Words of a statement, with double-quoted identifiers kept whole (`"My Index"`).
fn tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
        if out.len() > 12 {
            break;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// An identifier as PostgreSQL folds it: `"My Index"` -> `My Index`, `MyIndex` -> `myindex`.
fn fold(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_lowercase(),
    }
}

/// The index `name` on `table` (both as written), as `regclass` text, and whether it is valid.
pub(crate) fn existing_index(
    client: &mut Client,
    name: &str,
    table: &str,
) -> Result<Option<(String, bool)>, postgres::Error> {
    let row = client.query_opt(
        "SELECT i.indexrelid::regclass::text, i.indisvalid FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
         WHERE i.indrelid = to_regclass($1) AND c.relname = $2",
        &[&table, &fold(name)],
    )?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_concurrent_index_builds() {
        let got = |s: &str| concurrent_index(s).map(|(i, t)| format!("{i} {t}"));
        assert_eq!(
            got("CREATE INDEX CONCURRENTLY users_email ON public.users (email)").as_deref(),
            Some("users_email public.users")
        );
        assert_eq!(
            got("create unique index concurrently if not exists \"Odd Name\"\n  on only t(x)")
                .as_deref(),
            Some("\"Odd Name\" t")
        );
        assert_eq!(got("CREATE INDEX CONCURRENTLY ON t (x)"), None);
        assert_eq!(got("CREATE INDEX i ON t (x)"), None);
        assert_eq!(got("DROP INDEX CONCURRENTLY i"), None);
        assert_eq!(fold("\"My \"\"Index\"\"\""), "My \"Index\"");
        assert_eq!(fold("MyIndex"), "myindex");
    }
}

/// An index PostgreSQL keeps but does not use: left INVALID by an interrupted or failed
/// `CREATE INDEX CONCURRENTLY` (or `REINDEX CONCURRENTLY`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidIndex {
    /// The index, as `regclass` prints it.
    pub index: String,
    /// Its table.
    pub table: String,
}

impl std::fmt::Display for InvalidIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "index {} on {} is INVALID (an interrupted or failed CREATE INDEX CONCURRENTLY): it is \
             maintained on every write but never used; rerun the migration that builds it (retort \
             drops and rebuilds it) or DROP INDEX CONCURRENTLY {}",
            self.index, self.table, self.index
        )
    }
}

/// Every INVALID index of the database (system catalogs aside).
pub fn invalid_indexes(client: &mut Client) -> Result<Vec<InvalidIndex>, crate::MigrateError> {
    let rows = client
        .query(
            "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
             WHERE NOT i.indisvalid AND c.relnamespace <> 'pg_catalog'::regnamespace ORDER BY 1",
            &[],
        )
        .map_err(crate::error::db("looking for INVALID indexes"))?;
    Ok(rows
        .iter()
        .map(|r| InvalidIndex {
            index: r.get(0),
            table: r.get(1),
        })
        .collect())
}
