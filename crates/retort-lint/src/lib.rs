#![warn(missing_docs)]
//! Safety lints for PostgreSQL migrations, with lock analysis.
//!
//! Migration SQL is read with PostgreSQL's own parser (`pg_query`). For each statement retort
//! knows which lock it takes on which relation ([`LockMode`], from PostgreSQL's documented lock
//! table) and whether it rewrites the table, scans it, builds an index or only changes the
//! catalog ([`Work`]). Rules ([`rules`]) turn that into findings with the safer way to do it;
//! with a live catalog ([`LiveCatalog`]) findings name the table's size and row estimate, are
//! ranked by it, and tables that do not exist yet are left alone.
//!
//! ```
//! use std::path::Path;
//! use retort_lint::{lint_sql, LintContext};
//!
//! let findings = lint_sql("CREATE INDEX users_email ON users (email);", Path::new("m.sql"), 1, true,
//!                         &LintContext::default()).unwrap();
//! assert_eq!(findings[0].rule, "index-not-concurrent");
//! ```
//!
//! A statement is excused by a comment line above it: `-- retort:allow <rule> <reason>`; the
//! reason is required.

mod context;
mod error;
mod lock;
pub mod rules;
mod sarif;
mod statement;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use context::{referenced, LintContext, LiveCatalog, TableFacts};
pub use error::LintError;
pub use lock::{LockMode, Work};
pub use rules::{Rule, Severity};
pub use sarif::to_sarif;
pub use statement::{parse_section, Allow, Effect, Statement};

/// One thing to look at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule's id.
    pub rule: &'static str,
    /// Warning or error.
    pub severity: Severity,
    /// The file.
    pub file: PathBuf,
    /// The statement's line.
    pub line: usize,
    /// The statement's first line.
    pub statement: String,
    /// The table concerned.
    pub relation: Option<String>,
    /// The lock the statement takes on it.
    pub lock: Option<LockMode>,
    /// What it does to the table's data.
    pub work: Option<Work>,
    /// Total size of the table with indexes, from the live catalog.
    pub table_bytes: Option<i64>,
    /// The planner's row estimate, from the live catalog.
    pub table_rows: Option<f64>,
    /// What is wrong.
    pub message: String,
    /// Why it matters (the rule's one line).
    pub why: &'static str,
    /// The safer way.
    pub fix: String,
}

/// Lints already-parsed statements of one migration (or file).
pub fn lint_statements(
    file: &Path,
    statements: &[Statement],
    transactional: bool,
    ctx: &LintContext,
) -> Vec<Finding> {
    let all = rules::all();
    let target = rules::Target {
        statements,
        transactional,
        ctx,
    };
    let mut out = Vec::new();
    for rule in &all {
        let mut drafts = Vec::new();
        rule.check(&target, &mut drafts);
        for d in drafts {
            let s = &statements[d.at];
            let excused = s
                .allows
                .iter()
                .any(|a| a.rule == rule.id() && !a.reason.trim().is_empty());
            if excused {
                continue;
            }
            let effect = d.relation.as_deref().and_then(|r| target.effect(d.at, r));
            let facts = d
                .relation
                .as_deref()
                .and_then(|r| target.existing(d.at, r))
                .and_then(|e| e.facts);
            out.push(Finding {
                rule: rule.id(),
                severity: d.severity,
                file: file.to_owned(),
                line: s.line,
                statement: s.head(),
                relation: d.relation.clone(),
                lock: effect.map(|e| e.lock),
                work: effect.map(|e| e.work),
                table_bytes: facts.map(|f| f.bytes),
                table_rows: facts.map(|f| f.rows),
                message: d.message,
                why: rule.why(),
                fix: d.fix,
            });
        }
    }
    // Excuses must say why, and name a rule that exists.
    for s in statements {
        for a in &s.allows {
            let known = all.iter().any(|r| r.id() == a.rule);
            let problem = if !known {
                Some(format!("`-- retort:allow {}` names no rule", a.rule))
            } else if a.reason.trim().is_empty() {
                Some(format!(
                    "`-- retort:allow {}` has no reason, so it excuses nothing",
                    a.rule
                ))
            } else {
                None
            };
            if let Some(message) = problem {
                out.push(Finding {
                    rule: "bad-allow",
                    severity: Severity::Error,
                    file: file.to_owned(),
                    line: a.line,
                    statement: s.head(),
                    relation: None,
                    lock: None,
                    work: None,
                    table_bytes: None,
                    table_rows: None,
                    message,
                    why: "an excuse without a reason cannot be reviewed",
                    fix: format!(
                        "write `-- retort:allow <rule> <reason>` with one of: {}",
                        all.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
    }
    sort(&mut out);
    out
}

/// Biggest tables first, then by place.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.table_bytes
            .unwrap_or(-1)
            .cmp(&a.table_bytes.unwrap_or(-1))
            .then_with(|| a.file.cmp(&b.file))
            .then_with(|| a.line.cmp(&b.line))
            .then_with(|| a.rule.cmp(b.rule))
    });
}

/// Parses and lints SQL text (a section starting at `first_line` of `file`).
pub fn lint_sql(
    sql: &str,
    file: &Path,
    first_line: usize,
    transactional: bool,
    ctx: &LintContext,
) -> Result<Vec<Finding>, LintError> {
    let statements = parse_section(sql, file, first_line, ctx.server_version_num)?;
    Ok(lint_statements(file, &statements, transactional, ctx))
}

/// The up section of a migration, parsed.
pub fn migration_statements(
    m: &retort_migrate::Migration,
    ctx: &LintContext,
) -> Result<Vec<Statement>, LintError> {
    parse_section(&m.up.sql, &m.path, m.up.first_line, ctx.server_version_num)
}

/// Lints the up section of a migration.
pub fn lint_migration(
    m: &retort_migrate::Migration,
    ctx: &LintContext,
) -> Result<Vec<Finding>, LintError> {
    let statements = migration_statements(m, ctx)?;
    Ok(lint_statements(&m.path, &statements, m.transactional, ctx))
}
