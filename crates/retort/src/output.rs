//! Printing for people (tables, sentences) and for scripts (JSON), and error reports with a hint.

use std::io::Write;

use retort_catalog::CatalogError;
use retort_cluster::ClusterError;
use retort_migrate::MigrateError;
use retort_pg::PgError;
use retort_replica::ReplicaError;
use retort_shadow::ShadowError;
use serde::Serialize;

use crate::cli::Format;

/// Where a command's results go.
pub struct Output {
    pub format: Format,
    pub quiet: bool,
}

impl Output {
    pub fn new(format: Format, quiet: bool) -> Self {
        Output { format, quiet }
    }

    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// A sentence for people: on stderr, so stdout stays clean data; not in JSON or quiet mode.
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet && !self.json() {
            eprintln!("{}", text.as_ref());
        }
    }

    /// A line of a command's human output on stdout; nothing in JSON or quiet mode.
    pub fn say(&self, text: impl AsRef<str>) {
        if !self.quiet && !self.json() {
            println!("{}", text.as_ref());
        }
    }

    /// A JSON document on stdout.
    pub fn print_json(&self, value: &impl Serialize) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, value)?;
        writeln!(stdout)?;
        Ok(())
    }
}

/// Left-aligned columns with a header row.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// The hint attached to a library error anywhere in the chain.
fn hint_of(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<ClusterError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<PgError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<MigrateError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<CatalogError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<ShadowError>() {
            e.hint()
        } else if let Some(e) = cause.downcast_ref::<ReplicaError>() {
            e.hint()
        } else {
            None
        }
    })
}

fn sqlstate_of(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<PgError>() {
            e.sqlstate().map(str::to_owned)
        } else if let Some(ClusterError::Pg(e)) = cause.downcast_ref::<ClusterError>() {
            e.sqlstate().map(str::to_owned)
        } else if let Some(ShadowError::Db(e)) = cause.downcast_ref::<ShadowError>() {
            e.sqlstate().map(str::to_owned)
        } else if let Some(e) = cause.downcast_ref::<MigrateError>() {
            match e {
                MigrateError::Statement(f) => f.source.sqlstate().map(str::to_owned),
                MigrateError::Database { source, .. } => source.sqlstate().map(str::to_owned),
                _ => None,
            }
        } else {
            None
        }
    })
}

/// Prints `err` on stderr: `error: <what failed: why>` and `hint: <what to do>`, or one JSON
/// object `{"error": {"message", "hint", "sqlstate"}}`.
pub fn report_error(err: &anyhow::Error, json: bool) {
    let message = err
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    let hint = hint_of(err);
    let statement = err
        .chain()
        .find_map(|c| match c.downcast_ref::<MigrateError>() {
            Some(MigrateError::Statement(f)) => Some(f.statement.clone()),
            _ => None,
        });
    if json {
        let doc = serde_json::json!({
            "error": {
                "message": message, "hint": hint, "sqlstate": sqlstate_of(err),
                "statement": statement,
            }
        });
        eprintln!("{doc}");
    } else {
        eprintln!("error: {message}");
        if let Some(statement) = statement {
            let lines: Vec<&str> = statement.lines().collect();
            eprintln!("statement:");
            for line in lines.iter().take(12) {
                eprintln!("  | {line}");
            }
            if lines.len() > 12 {
                eprintln!("  | ... ({} more lines)", lines.len() - 12);
            }
        }
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
    }
}
