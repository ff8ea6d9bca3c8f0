//! Adopting what exists: `retort baseline` (a database with no retort history) and
//! `retort import alembic` (an Alembic project and its alembic_version table).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use retort_catalog::{diff, introspect};
use retort_migrate::{MigrationRunner, NewMigration, RevisionGraph, Target};
use retort_pg::Client;
use serde_json::json;

use super::authoring;
use super::project::Project;
use super::schema::{filter_for, DevServer};
use crate::cli::{GlobalArgs, SchemaArgs};
use crate::output::Output;

/// The SQL that builds `client`'s current schema on an empty database, and whether it must
/// run outside a transaction.
fn schema_sql(
    project: &Project,
    out: &Output,
    client: &mut Client,
    args: &SchemaArgs,
) -> Result<(String, bool, usize)> {
    let filter = filter_for(project, args)?;
    let live = introspect(client, &filter).context("reading the database's schema")?;
    let mut dev = DevServer::new(args.dev_url.as_deref(), out);
    let scratch = dev.scratch()?;
    let mut empty_client = scratch.connect()?;
    let empty = introspect(&mut empty_client, &filter).context("reading an empty database")?;
    let change = diff(&empty, &live);
    for n in &change.not_compared {
        out.note(format!("note: {n}; the baseline does not create it"));
    }
    let roles: Vec<String> = client
        .query(
            "SELECT DISTINCT a.grantee::regrole::text FROM ( \
               SELECT (aclexplode(relacl)).grantee, relowner AS owner FROM pg_class WHERE relacl IS NOT NULL \
               UNION ALL SELECT (aclexplode(nspacl)).grantee, nspowner FROM pg_namespace WHERE nspacl IS NOT NULL \
               UNION ALL SELECT (aclexplode(proacl)).grantee, proowner FROM pg_proc WHERE proacl IS NOT NULL \
               UNION ALL SELECT (aclexplode(typacl)).grantee, typowner FROM pg_type WHERE typacl IS NOT NULL) a \
             WHERE a.grantee <> 0 AND a.grantee <> a.owner AND a.grantee >= 16384 \
             ORDER BY 1",
            &[],
        )
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    if !roles.is_empty() {
        out.note(format!(
            "note: the baseline grants privileges to {}: roles belong to the whole cluster, so create them \
             wherever fresh databases are built (and give `retort check` a --dev-url to a server that has them)",
            roles.join(", ")
        ));
    }
    let mut sql = String::from(
        "-- The schema as it was when retort adopted the database. Fresh databases get it from\n\
         -- here; the adopted database was stamped at this revision and never runs it.\n",
    );
    sql.push_str(&change.to_sql());
    Ok((sql, !change.outside_transaction, change.changes.len()))
}

/// Refuses a database that already has retort history.
fn require_unmanaged(client: &mut Client, project: &Project) -> Result<()> {
    let options = project.options(None, None, None)?;
    let table = format!("{}.version", retort_pg::quote_ident(&options.schema));
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])?
        .get(0);
    if exists {
        let rows: Vec<String> = client
            .query(&format!("SELECT revision FROM {table}"), &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !rows.is_empty() {
            bail!(
                "the database is already managed by retort (at {}); baseline adopts a database \
                 without retort history",
                rows.join(", ")
            );
        }
    }
    Ok(())
}

pub fn baseline(
    global: &GlobalArgs,
    out: &Output,
    message: &str,
    args: &SchemaArgs,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = authoring::graph_or_empty(&project)?;
    if !graph.migrations().is_empty() {
        bail!(
            "{} already holds {} migration(s); a baseline starts a project. To record that a \
             database already has them, use `retort stamp heads`",
            project.migrations_dir.display(),
            graph.migrations().len()
        );
    }
    let mut client = super::project::connect(global)?;
    require_unmanaged(&mut client, &project)?;
    let (sql, transactional, objects) = schema_sql(&project, out, &mut client, args)?;
    let new = NewMigration {
        revision: authoring::fresh_id(&graph)?,
        message: message.to_owned(),
        transactional,
        up: sql,
        irreversible: true,
        ..NewMigration::default()
    };
    let path = authoring::write_file(&project.migrations_dir, &new)?;
    let graph = project.graph()?;
    stamp(
        &project,
        &mut client,
        &graph,
        std::slice::from_ref(&new.revision),
    )?;
    if out.json() {
        out.print_json(&json!({
            "revision": new.revision, "path": path, "changes": objects, "stamped": [new.revision],
        }))?;
    } else {
        println!("{}", path.display());
        out.note(format!(
            "wrote a baseline of {objects} change(s) and stamped the database at {}; fresh \
             databases get the same schema from `retort upgrade`",
            new.revision
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn stamp(
    project: &Project,
    client: &mut Client,
    graph: &RevisionGraph,
    revisions: &[String],
) -> Result<()> {
    let options = project.options(None, None, None)?;
    let targets = revisions
        .iter()
        .map(|r| Target::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut silent = retort_migrate::Silent;
    MigrationRunner::new(client, graph, options, &mut silent).stamp(&targets)?;
    Ok(())
}

pub fn import_alembic(
    global: &GlobalArgs,
    out: &Output,
    from: &Path,
    to: Option<&Path>,
    args: &SchemaArgs,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let dir = to
        .map(Path::to_path_buf)
        .unwrap_or_else(|| project.migrations_dir.clone());
    let alembic = retort_alembic::read_project(from)?;
    if alembic.revisions.is_empty() {
        bail!("no Alembic revisions in {}", alembic.versions_dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let existing = retort_migrate::load_dir(&dir)?;
    for r in &alembic.revisions {
        if existing.get(&r.revision).is_some() {
            bail!(
                "{} already has revision {} (from {}); nothing was written",
                dir.display(),
                r.revision,
                r.path.display()
            );
        }
    }
    if !existing.migrations().is_empty() {
        bail!(
            "{} already holds {} migration(s); import into an empty migrations directory (--to DIR)",
            dir.display(),
            existing.migrations().len()
        );
    }

    // With a database at the Alembic heads: a baseline beneath the imported roots, then stamp.
    let mut client = match super::project::connect(global) {
        Ok(c) => Some(c),
        Err(e) => {
            out.note(format!(
                "note: no database ({}): importing the revision graph only, without a baseline or \
                 a stamp; run again with -d to carry alembic_version over",
                e.to_string().lines().next().unwrap_or_default()
            ));
            None
        }
    };
    let mut alembic_heads: Vec<String> = Vec::new();
    if let Some(c) = client.as_mut() {
        let has_table: bool = c
            .query_one("SELECT to_regclass('alembic_version') IS NOT NULL", &[])?
            .get(0);
        if has_table {
            for row in c.query(
                "SELECT version_num::text FROM alembic_version ORDER BY 1",
                &[],
            )? {
                let id: String = row.get(0);
                let rid = alembic.retort_id(&id).with_context(|| {
                    format!(
                        "alembic_version names {id}, which is not a revision in {}",
                        alembic.versions_dir.display()
                    )
                })?;
                alembic_heads.push(rid.to_owned());
            }
            require_unmanaged(c, &project)?;
        } else {
            out.note("note: the database has no alembic_version table: importing without a baseline or a stamp");
        }
    }
    let mut graph_heads: Vec<String> = alembic.heads().iter().map(|r| r.revision.clone()).collect();
    graph_heads.sort();
    alembic_heads.sort();
    let at_heads = !alembic_heads.is_empty() && alembic_heads == graph_heads;
    if !alembic_heads.is_empty() && !at_heads {
        bail!(
            "the database is at {} but the Alembic heads are {}: run `alembic upgrade heads` first, \
             so that the baseline retort writes matches the end of the history",
            alembic_heads.join(", "),
            graph_heads.join(", ")
        );
    }

    let mut written = Vec::new();
    let mut baseline_rev = None;
    if let (true, Some(c)) = (at_heads, client.as_mut()) {
        let (sql, transactional, objects) = schema_sql(&project, out, c, args)?;
        let rev = loop {
            let id = retort_migrate::new_revision_id()?;
            if !alembic.revisions.iter().any(|r| r.revision == id) {
                break id;
            }
        };
        let new = NewMigration {
            revision: rev.clone(),
            message: "schema at the imported Alembic heads".into(),
            transactional,
            up: sql,
            irreversible: true,
            ..NewMigration::default()
        };
        written.push(authoring::write_file(&dir, &new)?);
        out.note(format!(
            "baseline {rev}: {objects} change(s) that build the schema on fresh databases"
        ));
        baseline_rev = Some(rev);
    }
    for r in &alembic.revisions {
        let rel = r
            .path
            .strip_prefix(from)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| r.path.clone());
        let mut parents = r.down_revisions.clone();
        if parents.is_empty() {
            if let Some(b) = &baseline_rev {
                parents.push(b.clone());
            }
        }
        let new = NewMigration {
            revision: r.revision.clone(),
            parents,
            message: r.message.clone(),
            depends_on: r.depends_on.clone(),
            branch_labels: r.branch_labels.clone(),
            transactional: true,
            up: format!(
                "-- Imported from Alembic ({}, id {}): its operations ran through Alembic on existing\n\
                 -- databases; fresh databases get the schema from the baseline beneath this history.\n",
                rel.display(),
                r.alembic_id
            ),
            irreversible: true,
            imported: Some(format!("alembic {}", rel.display())),
            ..NewMigration::default()
        };
        written.push(authoring::write_file(&dir, &new)?);
    }
    let graph = retort_migrate::load_dir(&dir)?;
    if let (true, Some(c)) = (at_heads, client.as_mut()) {
        stamp(&project, c, &graph, &alembic_heads)?;
    }
    if out.json() {
        out.print_json(&json!({
            "versions_dir": alembic.versions_dir,
            "imported": alembic.revisions.iter().map(|r| json!({
                "alembic_id": r.alembic_id, "revision": r.revision, "file": r.path,
            })).collect::<Vec<_>>(),
            "skipped": alembic.skipped,
            "baseline": baseline_rev,
            "stamped": if at_heads { alembic_heads.clone() } else { Vec::new() },
            "written": written,
        }))?;
    } else {
        for p in &written {
            println!("{}", p.display());
        }
        let renamed: Vec<String> = alembic
            .revisions
            .iter()
            .filter(|r| r.alembic_id != r.revision)
            .map(|r| format!("{} -> {}", r.alembic_id, r.revision))
            .collect();
        out.note(format!(
            "imported {} Alembic revision(s) from {} (heads: {}); their SQL stays in Alembic and was not copied",
            alembic.revisions.len(),
            alembic.versions_dir.display(),
            graph_heads.join(", ")
        ));
        if !renamed.is_empty() {
            out.note(format!(
                "ids that are not 12 hex characters got retort ids: {}",
                renamed.join(", ")
            ));
        }
        for s in &alembic.skipped {
            out.note(format!("skipped {} (no `revision = ...`)", s.display()));
        }
        if at_heads {
            out.note(format!(
                "retort.version now holds the same heads as alembic_version ({}); new migrations go on top with `retort new`",
                alembic_heads.join(", ")
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
