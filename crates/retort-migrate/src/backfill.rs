//! Paced, resumable batched UPDATEs: `retort backfill`.
//!
//! One large `UPDATE` holds its row locks for its whole run, bloats the table and sends a burst
//! of WAL the standbys must replay. A backfill runs the same statement in primary-key ranges
//! (keyset: `key > last AND key <= upper`, never OFFSET), each range its own transaction that
//! also records how far it got in `<schema>.backfill`, so a run that stops (Ctrl-C, a failure, a
//! lost connection) continues on the next run exactly where the last committed batch ended:
//! every row is updated once. The batch size follows a target time per batch, and the caller
//! can pause between batches (standbys lagging, a request to stop).

use std::time::{Duration, Instant};

use retort_pg::{quote_ident, Client};

use crate::error::{db, MigrateError};

/// A parsed `UPDATE table SET ... [WHERE ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillStatement {
    /// The table, as written.
    pub table: String,
    /// `UPDATE ONLY`: not the tables that inherit from it.
    pub only: bool,
    /// The assignments (after SET).
    pub set: String,
    /// The condition (after WHERE), if any.
    pub filter: Option<String>,
    /// The statement as given, whitespace normalised: the identity of its progress row.
    pub text: String,
}

impl BackfillStatement {
    /// Parses `UPDATE [ONLY] table SET ... [WHERE ...]`. Refuses FROM, RETURNING and anything
    /// that is not one UPDATE, with what to write instead.
    pub fn parse(sql: &str) -> Result<BackfillStatement, MigrateError> {
        let text: String = sql
            .trim()
            .trim_end_matches(';')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let bad = |why: &str| {
            MigrateError::Invalid(format!(
                "cannot backfill {text:?}: {why} (write one `UPDATE table SET column = expression [WHERE condition]`)"
            ))
        };
        let upper = text.to_ascii_uppercase();
        let rest = upper
            .strip_prefix("UPDATE ")
            .ok_or_else(|| bad("it is not an UPDATE"))?;
        let mut at = text.len() - rest.len();
        let only = rest.starts_with("ONLY ");
        if only {
            at += 5;
        }
        let after_table = upper[at..].find(" SET ").ok_or_else(|| bad("no SET"))?;
        let table = text[at..at + after_table].trim().to_owned();
        let body = &text[at + after_table + 5..];
        let (set, filter) = match top_level(body, " WHERE ") {
            Some(i) => (body[..i].to_owned(), Some(body[i + 7..].to_owned())),
            None => (body.to_owned(), None),
        };
        for word in [" FROM ", " RETURNING "] {
            if top_level(&set, word).is_some()
                || filter
                    .as_deref()
                    .is_some_and(|f| top_level(f, word).is_some())
            {
                return Err(bad(&format!("{} is not supported", word.trim())));
            }
        }
        if set.trim().is_empty() {
            return Err(bad("nothing to SET"));
        }
        Ok(BackfillStatement {
            table,
            only,
            set,
            filter,
            text,
        })
    }
}

/// The byte offset of `word` (case-insensitive) outside parentheses and quotes.
fn top_level(text: &str, word: &str) -> Option<usize> {
    let upper = text.to_ascii_uppercase();
    let bytes = text.as_bytes();
    let (mut depth, mut quote) = (0i32, None::<u8>);
    for i in 0..bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ if depth == 0 && upper[i..].starts_with(word) => return Some(i),
                _ => {}
            },
        }
    }
    None
}

/// How a backfill runs.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Schema of retort's tables (the progress table lives there).
    pub schema: String,
    /// Wanted time per batch; the batch size follows it (default 200 ms).
    pub batch_time: Duration,
    /// The first batch's size (default 1,000 rows).
    pub first_batch: i64,
    /// Batch size bounds (default 100 and 50,000).
    pub min_batch: i64,
    /// See `min_batch`.
    pub max_batch: i64,
    /// SET LOCAL lock_timeout in each batch (default 5 s).
    pub lock_timeout: Option<Duration>,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            schema: "retort".into(),
            batch_time: Duration::from_millis(200),
            first_batch: 1000,
            min_batch: 100,
            max_batch: 50_000,
            lock_timeout: Some(Duration::from_secs(5)),
        }
    }
}

/// Where a backfill stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackfillProgress {
    /// Rows updated so far (all runs).
    pub rows: u64,
    /// Batches committed in this run.
    pub batches: u64,
    /// The key the last committed batch ended at.
    pub last_key: Option<String>,
    /// The next batch's size.
    pub batch_size: i64,
    /// The table's estimated row count (pg_class.reltuples), for an ETA.
    pub estimated_rows: Option<i64>,
    /// Time spent in this run.
    pub elapsed: Duration,
}

/// What the caller decides between batches.
pub enum Between {
    /// Go on.
    Go,
    /// Wait a moment and ask again, for this reason (shown to the user).
    Pause(String),
    /// Stop after the batches already committed (a rerun continues).
    Stop,
}

/// How a backfill ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum BackfillEnd {
    /// Every range is done.
    Done,
    /// The caller asked to stop; a rerun continues from `progress.last_key`.
    Stopped,
    /// An earlier run had finished it; nothing ran.
    AlreadyDone,
}

/// Runs `statement` in paced key ranges. `between` is called before each batch (with the
/// connection, to look at standbys) and may pause or stop; `report` after each batch.
///
/// Errors: a table without a single-column primary key; a batch that fails (its key range is
/// named; the batches before it stay committed and a rerun continues after them).
pub fn backfill(
    client: &mut Client,
    statement: &BackfillStatement,
    options: &BackfillOptions,
    between: &mut dyn FnMut(&mut Client) -> Between,
    report: &mut dyn FnMut(&BackfillProgress),
) -> Result<(BackfillEnd, BackfillProgress), MigrateError> {
    let pk = client
        .query(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                    c.reltuples::int8 \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = to_regclass($1) AND i.indisprimary",
            &[&statement.table],
        )
        .map_err(db(format!("reading the primary key of {}", statement.table)))?;
    let [row] = pk.as_slice() else {
        return Err(MigrateError::Invalid(if pk.is_empty() {
            format!(
                "cannot backfill {}: it does not exist or has no primary key (a backfill walks the primary key in ranges)",
                statement.table
            )
        } else {
            format!(
                "cannot backfill {}: its primary key has {} columns; a backfill walks a single-column key",
                statement.table,
                pk.len()
            )
        }));
    };
    let (key, key_type, reltuples): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
    let key = quote_ident(&key);
    let progress_table = format!("{}.backfill", quote_ident(&options.schema));
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; \
             CREATE TABLE IF NOT EXISTS {progress_table} ( \
                 id text PRIMARY KEY, statement text NOT NULL, last_key text, \
                 rows bigint NOT NULL DEFAULT 0, started_at timestamptz NOT NULL DEFAULT now(), \
                 updated_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)",
            schema = quote_ident(&options.schema)
        ))
        .map_err(db("creating the backfill progress table"))?;
    let id = crate::file::checksum(&statement.text);
    let saved = client
        .query_opt(
            &format!("SELECT last_key, rows, finished_at IS NOT NULL FROM {progress_table} WHERE id = $1"),
            &[&id],
        )
        .map_err(db("reading the backfill's progress"))?;
    let mut progress = BackfillProgress {
        rows: 0,
        batches: 0,
        last_key: None,
        batch_size: options.first_batch,
        estimated_rows: (reltuples >= 0).then_some(reltuples),
        elapsed: Duration::ZERO,
    };
    match saved {
        Some(r) if r.get::<_, bool>(2) => {
            progress.rows = r.get::<_, i64>(1) as u64;
            progress.last_key = r.get(0);
            return Ok((BackfillEnd::AlreadyDone, progress));
        }
        Some(r) => {
            progress.last_key = r.get(0);
            progress.rows = r.get::<_, i64>(1) as u64;
        }
        None => {
            client
                .execute(
                    &format!("INSERT INTO {progress_table} (id, statement) VALUES ($1, $2)"),
                    &[&id, &statement.text],
                )
                .map_err(db("recording the backfill"))?;
        }
    }
    let filter = statement
        .filter
        .as_deref()
        .map(|f| format!(" AND ({f})"))
        .unwrap_or_default();
    let next_upper = format!(
        "SELECT max(k)::text FROM (SELECT {key} AS k FROM {table} \
         WHERE $1::text IS NULL OR {key} > $1::text::{key_type} ORDER BY {key} LIMIT $2) s",
        table = statement.table
    );
    let update = format!(
        "UPDATE {only}{table} SET {set} WHERE ($1::text IS NULL OR {key} > $1::text::{key_type}) \
         AND {key} <= $2::text::{key_type}{filter}",
        only = if statement.only { "ONLY " } else { "" },
        table = statement.table,
        set = statement.set
    );
    let record = format!(
        "UPDATE {progress_table} SET last_key = $2, rows = rows + $3, updated_at = now() WHERE id = $1"
    );
    let timeout = options
        .lock_timeout
        .map(|t| format!("SET LOCAL lock_timeout = {}", t.as_millis()));
    let began = Instant::now();
    loop {
        match between(client) {
            Between::Stop => {
                progress.elapsed = began.elapsed();
                return Ok((BackfillEnd::Stopped, progress));
            }
            Between::Pause(_) => {
                std::thread::sleep(Duration::from_millis(250));
                continue;
            }
            Between::Go => {}
        }
        let upper: Option<String> = client
            .query_one(&next_upper, &[&progress.last_key, &progress.batch_size])
            .map_err(db(format!(
                "finding the next key range of {}",
                statement.table
            )))?
            .get(0);
        let Some(upper) = upper else {
            client
                .execute(
                    &format!("UPDATE {progress_table} SET finished_at = now(), updated_at = now() WHERE id = $1"),
                    &[&id],
                )
                .map_err(db("recording the end of the backfill"))?;
            progress.elapsed = began.elapsed();
            return Ok((BackfillEnd::Done, progress));
        };
        let t = Instant::now();
        let range = format!(
            "{} in ({}, {upper}]",
            statement.table,
            progress.last_key.as_deref().unwrap_or("-infinity")
        );
        let mut tx = client
            .transaction()
            .map_err(db("starting a backfill batch"))?;
        if let Some(sql) = &timeout {
            tx.batch_execute(sql).map_err(db("setting lock_timeout"))?;
        }
        let n = tx
            .execute(&update, &[&progress.last_key, &upper])
            .map_err(db(format!("backfill batch {range}")))?;
        tx.execute(&record, &[&id, &upper, &(n as i64)])
            .map_err(db(format!("recording backfill batch {range}")))?;
        tx.commit()
            .map_err(db(format!("committing backfill batch {range}")))?;
        progress.rows += n;
        progress.batches += 1;
        progress.last_key = Some(upper);
        progress.batch_size = next_size(progress.batch_size, t.elapsed(), options);
        progress.elapsed = began.elapsed();
        report(&progress);
    }
}

/// The next batch size: scaled toward the target time, at most doubled or halved per step.
fn next_size(size: i64, took: Duration, o: &BackfillOptions) -> i64 {
    let ratio = o.batch_time.as_secs_f64() / took.as_secs_f64().max(1e-4);
    let scaled = (size as f64 * ratio.clamp(0.5, 2.0)) as i64;
    scaled.clamp(o.min_batch, o.max_batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_parse_and_others_are_refused() {
        let s = BackfillStatement::parse(
            "UPDATE public.orders SET total = qty * price, note = 'where (x)'\n WHERE total IS NULL;",
        )
        .unwrap();
        assert_eq!(s.table, "public.orders");
        assert_eq!(s.set, "total = qty * price, note = 'where (x)'");
        assert_eq!(s.filter.as_deref(), Some("total IS NULL"));
        let s = BackfillStatement::parse("update only t set a = (select 1 where true)").unwrap();
        assert_eq!((s.table.as_str(), s.only, s.filter), ("t", true, None));
        for bad in [
            "DELETE FROM t",
            "UPDATE t SET a = b.c FROM b WHERE b.id = t.id",
            "UPDATE t SET a = 1 RETURNING a",
            "UPDATE t",
        ] {
            assert!(BackfillStatement::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_size_follows_the_target_time() {
        let o = BackfillOptions::default();
        assert_eq!(next_size(1000, Duration::from_millis(100), &o), 2000);
        assert_eq!(next_size(1000, Duration::from_millis(400), &o), 500);
        assert_eq!(next_size(1000, Duration::from_secs(10), &o), 500);
        assert_eq!(next_size(100, Duration::from_secs(10), &o), 100);
        assert_eq!(next_size(40_000, Duration::from_millis(1), &o), 50_000);
    }
}
