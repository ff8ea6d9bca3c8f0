//! `retort lint`, and the lint pre-flight of `retort upgrade`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use retort_lint::{Finding, LintContext, LiveCatalog, Severity, Statement};
use retort_migrate::{Direction, Migration, RevisionGraph, Target};
use retort_pg::Client;
use serde_json::json;

use super::project::Project;
use crate::cli::{Format, GlobalArgs};
use crate::output::Output;
use crate::EXIT_DIFFERENCES;

/// One thing to lint: its statements and how it runs.
pub struct Unit {
    file: PathBuf,
    transactional: bool,
    statements: Vec<Statement>,
}

impl Unit {
    /// A section (up or down) of a migration, through PostgreSQL's parser.
    fn of_section(m: &Migration, section: &retort_migrate::Section) -> Result<Unit> {
        Ok(Unit {
            file: m.path.clone(),
            transactional: m.transactional,
            statements: retort_lint::parse_section(
                &section.sql,
                &m.path,
                section.first_line,
                None,
            )?,
        })
    }

    /// `file:line` of the first statement taking an ACCESS EXCLUSIVE lock, if one does.
    pub fn first_access_exclusive(&self) -> Option<String> {
        self.statements
            .iter()
            .find(|s| {
                s.effects
                    .iter()
                    .any(|e| e.lock == retort_lint::LockMode::AccessExclusive)
            })
            .map(|s| format!("{}:{}", self.file.display(), s.line))
    }
}

/// Every step of `plan` through the parser, once, with its direction: what `upgrade`'s lint and
/// lock pre-flights both read. Steps without the section they need are left out.
pub fn plan_units(
    graph: &RevisionGraph,
    plan: &retort_migrate::Plan,
) -> Result<Vec<(Direction, Unit)>> {
    let mut out = Vec::new();
    for step in &plan.steps {
        let Some(m) = graph.get(&step.revision) else {
            continue;
        };
        let section = match step.direction {
            Direction::Up => Some(&m.up),
            Direction::Down => m.down.as_ref(),
        };
        if let Some(section) = section {
            out.push((step.direction, Unit::of_section(m, section)?));
        }
    }
    Ok(out)
}

fn lint_units(
    client: Option<&mut Client>,
    units: &[&Unit],
    runner_sets_lock_timeout: bool,
) -> Result<Vec<Finding>> {
    let mut ctx = LintContext {
        runner_sets_lock_timeout,
        ..LintContext::default()
    };
    if let Some(client) = client {
        let all: Vec<Statement> = units.iter().flat_map(|u| u.statements.clone()).collect();
        let (rels, funcs) = retort_lint::referenced(&all);
        ctx.server_version_num = Some(retort_pg::server_info(client)?.version_num);
        ctx.catalog = Some(LiveCatalog::read(client, &rels, &funcs)?);
    }
    let mut findings = Vec::new();
    for u in units {
        findings.extend(retort_lint::lint_statements(
            &u.file,
            &u.statements,
            u.transactional,
            &ctx,
        ));
    }
    retort_lint::sort(&mut findings);
    Ok(findings)
}

pub fn run(global: &GlobalArgs, out: &Output, targets: &[String]) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let options = project.options(None, None, None)?;
    let runner_lock_timeout = options.lock_timeout.is_some();
    // A database is optional: without one, every table is assumed to exist and be busy.
    let mut client = match super::database_config(global).and_then(|c| Ok(retort_pg::connect(&c)?))
    {
        Ok(c) => Some(c),
        Err(e) => {
            out.note(format!(
                "note: no database to compare with ({}): linting without table sizes; every table not \
                 created by the migration is assumed to exist",
                e.to_string().lines().next().unwrap_or_default()
            ));
            None
        }
    };
    let mut units: Vec<Unit> = Vec::new();
    let graph = if project.migrations_dir.exists() {
        Some(project.graph()?)
    } else {
        None
    };
    if targets.is_empty() {
        let Some(graph) = graph.as_ref() else {
            bail!("no migrations directory at {} and nothing named to lint; give files (retort lint FILE.sql)", project.migrations_dir.display());
        };
        let pending: Vec<&Migration> = match client.as_mut() {
            Some(c) => {
                let mut silent = retort_migrate::Silent;
                let plan =
                    retort_migrate::MigrationRunner::new(c, graph, options.clone(), &mut silent)
                        .plan_upgrade(&Target::Heads)?;
                plan.steps
                    .iter()
                    .filter_map(|s| graph.get(&s.revision))
                    .collect()
            }
            None => graph.migrations().iter().collect(),
        };
        if pending.is_empty() {
            out.note("nothing to lint: every migration is applied (name files or revisions to lint them anyway)");
        }
        for m in pending {
            units.push(migration_unit(m)?);
        }
    } else {
        for t in targets {
            let path = Path::new(t);
            if path.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                    .collect();
                files.sort();
                for f in files {
                    units.push(file_unit(&f)?);
                }
            } else if path.exists() {
                units.push(file_unit(path)?);
            } else if let Some(graph) = graph.as_ref() {
                let m = graph
                    .resolve(t)
                    .with_context(|| format!("`{t}` is neither a file nor a revision"))?;
                units.push(migration_unit(m)?);
            } else {
                bail!(
                    "`{t}` is neither a file nor a revision (no migrations directory at {})",
                    project.migrations_dir.display()
                );
            }
        }
    }
    let findings = lint_units(
        client.as_mut(),
        &units.iter().collect::<Vec<_>>(),
        runner_lock_timeout,
    )?;
    report(out, &findings, units.len())?;
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIFFERENCES)
    })
}

fn migration_unit(m: &Migration) -> Result<Unit> {
    Unit::of_section(m, &m.up)
}

/// A migration file (its up section) or a plain SQL file (run statement by statement, as psql does).
fn file_unit(path: &Path) -> Result<Unit> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("-- retort:revision"))
    {
        let m = Migration::parse(&text, path)?;
        return migration_unit(&m);
    }
    Ok(Unit {
        file: path.to_owned(),
        transactional: false,
        statements: retort_lint::parse_section(&text, path, 1, None)?,
    })
}

/// Human text, JSON or SARIF.
pub fn report(out: &Output, findings: &[Finding], linted: usize) -> Result<()> {
    match out.format {
        Format::Sarif => out.print_json(&retort_lint::to_sarif(findings))?,
        Format::Json => out.print_json(&json!({
            "linted": linted,
            "findings": findings,
        }))?,
        _ => {
            for f in findings {
                out.say(finding_text(f));
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            out.note(if findings.is_empty() {
                format!("lint: {linted} migration(s) or file(s), no findings")
            } else {
                format!(
                    "lint: {} finding(s) ({errors} error(s)) in {linted} migration(s) or file(s); excuse one with \
                     `-- retort:allow <rule> <reason>` above its statement",
                    findings.len()
                )
            });
        }
    }
    Ok(())
}

/// Several lines for people: where, what lock on which table and how big, why, what instead.
pub fn finding_text(f: &Finding) -> String {
    let level = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut s = format!(
        "{}:{}: {level}[{}] {}\n",
        f.file.display(),
        f.line,
        f.rule,
        f.statement
    );
    if let (Some(lock), Some(rel)) = (f.lock, f.relation.as_deref()) {
        let size = match (f.table_bytes, f.table_rows) {
            (Some(b), Some(r)) => format!(
                " ({}, ~{} rows)",
                retort_replica::pretty_bytes(b.max(0) as u64),
                r.max(0.0) as u64
            ),
            _ => String::new(),
        };
        s.push_str(&format!(
            "  {} lock on {rel}{size}: {}; {}\n",
            lock.sql_name(),
            f.work
                .map(|w| w.describe())
                .unwrap_or("changes the catalog only"),
            lock.blocks()
        ));
    }
    s.push_str(&format!("  {}\n  instead: {}", f.message, f.fix));
    s
}

/// For `upgrade`: lint the up steps about to run (`units` from [`plan_units`]); print findings,
/// or refuse under --strict.
pub fn preflight(
    out: &Output,
    client: &mut Client,
    units: &Result<Vec<(Direction, Unit)>>,
    runner_sets_lock_timeout: bool,
    strict: bool,
) -> Result<()> {
    // Linting advises; a migration the parser cannot read must not stop an upgrade the server
    // would run (unless --strict asked for lint to gate it).
    let skipped = |e: &anyhow::Error| -> Result<()> {
        if strict {
            bail!("--strict: the lint pre-flight failed: {e:#}");
        }
        out.note(format!("note: the lint pre-flight was skipped: {e:#}"));
        Ok(())
    };
    let up: Vec<&Unit> = match units {
        Ok(units) => units
            .iter()
            .filter(|(d, _)| *d == Direction::Up)
            .map(|(_, u)| u)
            .collect(),
        Err(e) => return skipped(e),
    };
    if up.is_empty() {
        return Ok(());
    }
    let findings = match lint_units(Some(client), &up, runner_sets_lock_timeout) {
        Ok(f) => f,
        Err(e) => return skipped(&e),
    };
    if findings.is_empty() {
        return Ok(());
    }
    for f in &findings {
        out.note(format!(
            "{}: {}",
            if strict { "lint" } else { "lint warning" },
            finding_text(f)
        ));
    }
    if strict {
        bail!(
            "--strict: `retort lint` has {} finding(s) for the migrations about to run; nothing was run. Fix them, \
             or excuse each with `-- retort:allow <rule> <reason>`",
            findings.len()
        );
    }
    Ok(())
}

/// Generated SQL with lint findings written as comments above the statements they concern
/// (for `retort new --autogenerate`). SQL that does not parse is returned unchanged.
pub fn annotate(sql: &str, transactional: bool) -> String {
    let ctx = LintContext {
        runner_sets_lock_timeout: true,
        ..LintContext::default()
    };
    let Ok(findings) =
        retort_lint::lint_sql(sql, Path::new("generated.sql"), 1, transactional, &ctx)
    else {
        return sql.to_owned();
    };
    let mut out = String::with_capacity(sql.len());
    for (i, line) in sql.lines().enumerate() {
        for f in findings.iter().filter(|f| f.line == i + 1) {
            out.push_str(&format!(
                "-- lint {}[{}]: {}\n--   instead: {}\n",
                match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                f.rule,
                f.message,
                f.fix
            ));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn annotations_sit_above_their_statement_and_keep_the_sql() {
        let sql = "CREATE TABLE t (a int);\nALTER TABLE users ADD COLUMN tenant int NOT NULL;\nCREATE INDEX i ON users (email);\n";
        let out = super::annotate(sql, true);
        let lines: Vec<&str> = out.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("ALTER TABLE users"))
            .unwrap();
        assert!(
            lines[at - 2].starts_with("-- lint warning[not-null-without-default]"),
            "{out}"
        );
        let idx = lines
            .iter()
            .position(|l| l.starts_with("CREATE INDEX"))
            .unwrap();
        assert!(lines[idx - 2].contains("index-not-concurrent"), "{out}");
        // Removing the comments gives back the SQL.
        let stripped: String = out
            .lines()
            .filter(|l| !l.starts_with("-- lint") && !l.starts_with("--   instead"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(stripped, sql);
        assert_eq!(super::annotate("not sql at all", true), "not sql at all");
    }
}
