//! `retort shadow import`: bcrypt hashes from another system into the store.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use retort_shadow::blocking::ShadowStore;
use retort_shadow::import::{classify, SourceRow};
use serde_json::json;

use super::project;
use crate::cli::{GlobalArgs, ShadowImport};
use crate::output::Output;
use crate::EXIT_DIFFERENCES;

pub fn run(global: &GlobalArgs, out: &Output, args: &ShadowImport) -> Result<ExitCode> {
    let schema = super::shadow::store_names(global, &args.store)?.schema;
    let mut client = project::connect(global)?;
    let (rows, source) = match (&args.query, &args.csv) {
        (Some(sql), _) => (read_query(&mut client, sql)?, "the query".to_owned()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            (
                parse_csv(&text, &path.display().to_string())?,
                path.display().to_string(),
            )
        }
        (None, None) => bail!("give the hashes with --query SQL or --csv FILE"),
    };

    // Classify every row first: a refused row is reported, never silently dropped.
    let plan = classify(rows);
    let started = std::time::Instant::now();
    let mut skipped: Vec<String> = Vec::new();
    if !args.dry_run {
        let bar = crate::progress::bar(
            out,
            plan.names.len() as u64,
            "importing {bar:30} {pos}/{len} ({eta})",
        );
        skipped =
            retort_shadow::import::import(&mut client, &ShadowStore::new(&schema), &plan, |done| {
                bar.set_position(done as u64)
            })
            .context("importing bcrypt hashes (this needs the store's admin role)")?;
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed();
    let imported = if args.dry_run {
        0
    } else {
        plan.names.len() - skipped.len()
    };
    let by_format = plan.refused_by_reason();
    let (names, refused) = (&plan.names, &plan.refused);

    if out.json() {
        out.print_json(&json!({
            "source": source, "dry_run": args.dry_run,
            "rows": names.len() + refused.len(), "bcrypt": names.len(),
            "imported": imported, "already_in_store": skipped,
            "refused_by_format": by_format,
            "refused": refused.iter().map(|r| json!({"row": r.at, "user": r.user, "format": r.reason})).collect::<Vec<_>>(),
            "seconds": elapsed.as_secs_f64(),
        }))?;
    } else {
        if args.dry_run {
            out.say(format!(
                "dry run: {} of {} rows from {source} are bcrypt hashes and would be imported",
                names.len(),
                names.len() + refused.len()
            ));
        } else {
            out.say(format!(
                "imported {imported} bcrypt hash(es) from {source} in {:.1} s; those users log in \
                 as before and move to the store's mode on their first good login",
                elapsed.as_secs_f64()
            ));
        }
        if !skipped.is_empty() {
            out.say(format!(
                "skipped {} user(s) the store already has a password for (kept as they are): {}",
                skipped.len(),
                sample(skipped.iter().map(|u| format!("{u:?}")))
            ));
        }
        if !refused.is_empty() {
            out.say(format!(
                "refused {} row(s), left as they are in the source: {}",
                refused.len(),
                by_format
                    .iter()
                    .map(|(f, n)| format!("{n} x {f}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            out.say(format!(
                "  {}",
                sample(
                    refused
                        .iter()
                        .map(|r| format!("row {}: {:?} ({})", r.at, r.user, r.reason))
                )
            ));
        }
    }
    Ok(if refused.is_empty() && skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIFFERENCES)
    })
}

/// The first few items, and how many more.
fn sample(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    let shown = all.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > 10 {
        format!(
            "{shown} and {} more (--format json lists all)",
            all.len() - 10
        )
    } else {
        shown
    }
}

/// Runs the query as text (any column types, citext included); the first two columns count.
fn read_query(client: &mut retort_pg::Client, sql: &str) -> Result<Vec<SourceRow>> {
    let messages = client
        .simple_query(sql)
        .map_err(retort_pg::PgError::from)
        .with_context(|| format!("running --query {sql:?}"))?;
    let mut rows = Vec::new();
    for m in messages {
        if let retort_pg::SimpleQueryMessage::Row(r) = m {
            if r.len() < 2 {
                bail!(
                    "--query must return two columns (user name, hash); it returned {}",
                    r.len()
                );
            }
            rows.push(SourceRow {
                at: rows.len() + 1,
                user: r.get(0).map(str::to_owned),
                hash: r.get(1).map(str::to_owned),
            });
        }
    }
    Ok(rows)
}

/// `user,hash` lines (RFC 4180 quoting); a first line `username,hash` (any case) is a header.
fn parse_csv(text: &str, name: &str) -> Result<Vec<SourceRow>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields =
            split_csv_line(line).with_context(|| format!("{name}:{}: unbalanced quotes", i + 1))?;
        if fields.len() < 2 {
            bail!(
                "{name}:{}: expected two fields (user name, hash), found {}",
                i + 1,
                fields.len()
            );
        }
        if i == 0
            && fields[0].eq_ignore_ascii_case("username")
            && fields[1].eq_ignore_ascii_case("hash")
        {
            continue;
        }
        let mut fields = fields.into_iter();
        rows.push(SourceRow {
            at: i + 1,
            user: fields.next(),
            hash: fields.next().filter(|h| !h.is_empty()),
        });
    }
    Ok(rows)
}

fn split_csv_line(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_headers_and_errors() {
        let rows = parse_csv(
            "username,hash\n\"o'brien, jr\",$2b$x\n\"say \"\"hi\"\"\",\nplain,h\r\n\n",
            "f.csv",
        )
        .unwrap();
        let got: Vec<(usize, Option<String>, Option<String>)> =
            rows.into_iter().map(|r| (r.at, r.user, r.hash)).collect();
        assert_eq!(
            got,
            vec![
                (2, Some("o'brien, jr".into()), Some("$2b$x".into())),
                (3, Some("say \"hi\"".into()), None),
                (4, Some("plain".into()), Some("h".into())),
            ]
        );
        let err = parse_csv("a,\"b\n", "f.csv").unwrap_err();
        assert!(format!("{err:#}").contains("f.csv:1"), "{err:#}");
        let err = parse_csv("only-one-field\n", "f.csv").unwrap_err();
        assert!(format!("{err:#}").contains("two fields"), "{err:#}");
    }
}
