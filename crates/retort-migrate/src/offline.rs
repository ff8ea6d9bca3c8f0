//! Offline mode: the SQL a plan would run, as one script for `psql -v ON_ERROR_STOP=1 -f`,
//! including the version-table updates, so a DBA can review and run it.

use retort_pg::quote_literal;

use crate::error::MigrateError;
use crate::graph::{Direction, Plan, RevisionGraph};
use crate::runner::{prepare, RunnerOptions};
use crate::store::VersionStore;

/// Renders `plan` as a psql script.
///
/// Errors: the same as an online run would raise before touching the database (unparsable SQL,
/// a missing down section).
pub fn render_script(
    graph: &RevisionGraph,
    plan: &Plan,
    options: &RunnerOptions,
) -> Result<String, MigrateError> {
    let statements = prepare(graph, plan)?;
    let store = VersionStore::new(options.schema.clone());
    let heads = |h: &[String]| {
        if h.is_empty() {
            "base".to_owned()
        } else {
            h.join(", ")
        }
    };
    let mut out = String::new();
    out.push_str(&format!(
        "-- retort {} from {} to {}: {} migration(s)\n\
         -- Run with: psql -v ON_ERROR_STOP=1 -f <this file>\n\
         \\set ON_ERROR_STOP on\n\n",
        plan.direction.as_str(),
        heads(&plan.from_heads),
        heads(&plan.to_heads),
        plan.steps.len()
    ));
    out.push_str(&store.create_sql());

    let timeouts = |local: bool| -> String {
        options
            .timeout_statements(local)
            .iter()
            .map(|s| format!("{s};\n"))
            .collect()
    };
    for (step, statements) in plan.steps.iter().zip(&statements) {
        let m = graph
            .get(&step.revision)
            .expect("plans only name revisions of their graph");
        out.push_str(&format!(
            "\n-- {} {}: {} ({})\n",
            step.direction.as_str(),
            m.revision,
            m.message,
            m.path.display()
        ));
        if m.transactional {
            out.push_str("BEGIN;\n");
            out.push_str(&timeouts(true));
        } else {
            out.push_str(
                "-- WARNING: this migration runs outside a transaction (transaction off).\n\
                 -- If a statement fails, the ones before it stay applied: finish or undo them by hand.\n",
            );
            out.push_str(&timeouts(false));
        }
        for s in statements {
            out.push_str(&s.sql);
            out.push_str(";\n");
        }
        if !m.transactional {
            if options.lock_timeout.is_some() || options.statement_timeout.is_some() {
                out.push_str("RESET lock_timeout;\nRESET statement_timeout;\n");
            }
            out.push_str("BEGIN;\n");
        }
        out.push_str(&bookkeeping_sql(
            &store,
            m,
            step,
            Some("offline script"),
            false,
        ));
        out.push_str("COMMIT;\n");
    }
    Ok(out)
}

/// Literal SQL that records `step` in the version and history tables, as one statement: for
/// offline scripts, and for the runner's one-round-trip migrations, where `timed` has the
/// server measure the duration from the start of the query message (`statement_timestamp()`).
pub(crate) fn bookkeeping_sql(
    store: &VersionStore,
    m: &crate::file::Migration,
    step: &crate::graph::Step,
    note: Option<&str>,
    timed: bool,
) -> String {
    let (version, history) = (store.table("version"), store.table("history"));
    let list = |v: &[String]| {
        v.iter()
            .map(|r| quote_literal(r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The version-table changes ride in data-modifying CTEs of the history INSERT: one
    // statement for the server to parse, plan and run instead of up to three.
    let mut ctes = Vec::new();
    if !step.remove_heads.is_empty() {
        ctes.push(format!(
            "removed AS (DELETE FROM {version} WHERE revision IN ({}))",
            list(&step.remove_heads)
        ));
    }
    if !step.add_heads.is_empty() {
        let rows: Vec<String> = step
            .add_heads
            .iter()
            .map(|h| format!("({})", quote_literal(h)))
            .collect();
        ctes.push(format!(
            "added AS (INSERT INTO {version} (revision) VALUES {})",
            rows.join(", ")
        ));
    }
    let checksum = match step.direction {
        Direction::Up => quote_literal(&m.checksum()),
        Direction::Down => "NULL".to_owned(),
    };
    let duration = if timed {
        "1000 * extract(epoch FROM clock_timestamp() - statement_timestamp())".to_owned()
    } else {
        "NULL".to_owned()
    };
    let note = note.map_or("NULL".to_owned(), quote_literal);
    let with = if ctes.is_empty() {
        String::new()
    } else {
        format!("WITH {}\n", ctes.join(",\n     "))
    };
    format!(
        "{with}INSERT INTO {history} (revision, direction, checksum, message, duration_ms, note) VALUES ({}, {}, {checksum}, {}, {duration}, {note});\n",
        quote_literal(&m.revision),
        quote_literal(step.direction.as_str()),
        quote_literal(&m.message),
    )
}
