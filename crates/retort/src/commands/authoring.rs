//! Writing files: `retort init`, `retort new`, `retort merge`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use retort_migrate::{new_revision_id, NewMigration, Phase, RevisionGraph};
use serde_json::json;

use super::project::Project;
use crate::cli::{GlobalArgs, NewArgs};
use crate::config::CONFIG_FILE;
use crate::output::Output;

const CONFIG_TEMPLATE: &str = r#"# retort configuration. Every key can be overridden by a flag; see `retort --help`.

[database]
# url = "postgres://app@localhost/app"   # else $DATABASE_URL, else the PG* variables

[migrations]
dir = "migrations"
schema = "schema.sql"          # desired state, for autogenerate and check; or one of:
# schema_command = "python -m retort_sqlalchemy myapp.models:Base"   # SQL a program prints
# schema_build = "python manage.py migrate"    # what a program builds in $DATABASE_URL
table_schema = "retort"        # where the version and history tables live
lock_timeout = "5s"            # SET lock_timeout for each migration (0 = off)
statement_timeout = "0"        # SET statement_timeout for each migration (0 = off)
lock_wait = "60s"              # how long a second runner waits for the first
lock_retries = 3               # a migration that hits lock_timeout is rolled back and retried

[replicas]
# wait = "none"                # none | sync | all | N: after upgrade, wait for standbys to replay it
# timeout = "60s"              # how long that wait may take
# max_lag = "64MB"             # refuse to start when a standby is further behind (or "30s")

[shadow]
# schema = "shadow"            # where the password store lives
# app_role = "app"             # the application's login role (EXECUTE on the store, nothing else)
# owner_role = "shadow_owner"  # the NOLOGIN role that owns the store
# admin_role = "shadow_admin"  # may set any password, lock, unlock, delete, reset tokens
"#;

const SCHEMA_TEMPLATE: &str = "-- The schema you want, as plain SQL (CREATE TABLE ...).\n\
-- `retort new --autogenerate` will diff the migrations' result against this file.\n";

/// The [migrations] lines of a project whose schema lives in SQLAlchemy models.
fn sqlalchemy_config(target: &str) -> Result<String> {
    let valid = target.split_once(':').is_some_and(|(module, attr)| {
        !module.is_empty()
            && !attr.is_empty()
            && module
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            && attr
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    });
    if !valid {
        bail!("--sqlalchemy takes MODULE:ATTRIBUTE, e.g. myapp.models:Base (the declarative base or a MetaData); got {target:?}");
    }
    Ok(CONFIG_TEMPLATE.replace(
        "schema = \"schema.sql\"          # desired state, for autogenerate and check; or one of:\n\
         # schema_command = \"python -m retort_sqlalchemy myapp.models:Base\"   # SQL a program prints\n",
        &format!(
            "# The desired state is what the SQLAlchemy models declare (pip install retort-sqlalchemy):\n\
             schema_command = \"python -m retort_sqlalchemy {target}\"\n\
             # schema = \"schema.sql\"        # or a .sql file; exactly one of the three\n"
        ),
    ))
}

pub fn init(out: &Output, dir: &Path, sqlalchemy: Option<&str>) -> Result<ExitCode> {
    let config_text = match sqlalchemy {
        Some(target) => sqlalchemy_config(target)?,
        None => CONFIG_TEMPLATE.to_owned(),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut created = Vec::new();
    let mut kept = Vec::new();
    let config = dir.join(CONFIG_FILE);
    let mut files = vec![(config, Some(config_text.as_str()))];
    if sqlalchemy.is_none() {
        files.push((dir.join("schema.sql"), Some(SCHEMA_TEMPLATE)));
    }
    files.push((dir.join("migrations"), None));
    for (path, text) in files {
        if path.exists() {
            kept.push(path);
            continue;
        }
        match text {
            Some(t) => std::fs::write(&path, t),
            None => std::fs::create_dir_all(&path),
        }
        .with_context(|| format!("cannot create {}", path.display()))?;
        created.push(path);
    }
    if out.json() {
        out.print_json(&json!({
            "created": created.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "kept": kept.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }))?;
    } else {
        for p in &created {
            out.say(format!("created {}", p.display()));
        }
        for p in &kept {
            out.note(format!("kept existing {}", p.display()));
        }
        out.note("next: set [database] url in retort.toml (or DATABASE_URL), then `retort new -m \"first table\"`");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn graph_or_empty(project: &Project) -> Result<RevisionGraph> {
    if !project.migrations_dir.exists() {
        bail!(
            "no migrations directory at {}; run `retort init` first (or set [migrations] dir)",
            project.migrations_dir.display()
        );
    }
    project.graph()
}

/// Writes `new` into `dir`, refusing to overwrite; returns its path.
pub fn write_file(dir: &Path, new: &NewMigration) -> Result<std::path::PathBuf> {
    let path = dir.join(new.file_name());
    if path.exists() {
        bail!("{} already exists; nothing was written", path.display());
    }
    // What we write must read back (labels, ids): check before touching the directory.
    retort_migrate::Migration::parse(&new.render(), &path)?;
    std::fs::write(&path, new.render())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Writes `new` into the project's migrations and prints its path (the command's result).
pub fn write(project: &Project, out: &Output, new: &NewMigration) -> Result<ExitCode> {
    let path = write_file(&project.migrations_dir, new)?;
    if out.json() {
        out.print_json(&json!({
            "revision": new.revision, "parents": new.parents, "path": path.display().to_string(),
        }))?;
    } else {
        // The path is the result: print it even with --quiet so scripts can open it.
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn new(global: &GlobalArgs, out: &Output, args: &NewArgs) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = graph_or_empty(&project)?;
    let parents = parents_for(&graph, args.head.as_deref())?;
    let depends_on = args
        .depends_on
        .iter()
        .map(|d| graph.resolve(d).map(|m| m.revision.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut later: Vec<NewMigration> = Vec::new();
    let mut expand = false;
    let (up, down, transactional) = if args.autogenerate {
        // Table sizes (and NULLs) from the database this project points at; without one,
        // every existing table is assumed to hold data (the safe forms, and the questions).
        let threshold = project.config.migrations.small_table_rows.unwrap_or(10_000) as f64;
        let live = super::schema::LiveFacts::read(global, threshold);
        if !live.known() {
            out.note("note: no database to read table sizes from: every existing table is treated as populated (online forms)");
        }
        let generated = super::schema::autogenerate(
            &project,
            out,
            &graph,
            args.to.as_deref(),
            &args.desired,
            &args.schema,
            !args.no_online,
            &live,
            super::schema::AnswerArgs {
                fill: &args.fill,
                convert: &args.convert,
                convert_back: &args.convert_back,
                keep: &args.keep,
                fix: &args.fix,
                rename: &args.rename,
            },
            parents.first().map(String::as_str),
            args.allow_rewrite,
        )?;
        let super::schema::Generated {
            up,
            down,
            plan,
            fill,
            answered,
            contract,
            swap,
        } = generated;
        if up.is_empty() {
            out.note("no changes: the migrations head already matches the wanted schema; no file written");
            if out.json() {
                out.print_json(&json!({"revision": null, "changes": 0}))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(p) = plan
            .as_ref()
            .filter(|p| !p.rewrites.is_empty() && !args.allow_rewrite)
        {
            let list = p
                .rewrites
                .iter()
                .map(|(t, c, old, new)| format!("{t}.{c} from {old} to {new}"))
                .collect::<Vec<_>>()
                .join(", ");
            bail!(
                "autogenerate stops: changing {list} rewrites the whole table under ACCESS \
                 EXCLUSIVE, and the table holds data, so every read and write would wait until it \
                 is done; nothing was written.\n\
                 Do it in steps instead (expand and contract): (1) a migration that adds the new \
                 column with the new type and a trigger that keeps it in step with the old one; \
                 (2) fill it for the existing rows in batches of primary-key ranges, each its own \
                 transaction; (3) once the application uses the new column, a migration that \
                 drops the trigger and the old column and renames the new one. (retort writes \
                 these steps itself, also for the indexes and keys on the column, but here a view, \
                 a CHECK, an identity or an expression depends on it.)\n\
                 Or, when a maintenance window is fine, pass --allow-rewrite to write the simple \
                 ALTER COLUMN ... TYPE (or --no-online for the simple forms throughout)"
            );
        }
        let (up, down, first_down) = match &plan {
            Some(p) => (
                p.main_up.clone(),
                p.main_down.clone(),
                p.main_down_first.clone(),
            ),
            None => (up, down, Vec::new()),
        };
        let mut up_sql = String::new();
        if !answered.is_empty() {
            up_sql.push_str("-- answers given to autogenerate (retort new --autogenerate):\n");
            for a in &answered {
                up_sql.push_str(&format!("--   {a}\n"));
            }
        }
        for hint in &up.hints {
            up_sql.push_str(&format!("-- hint: {hint}\n"));
        }
        up_sql.push_str(&super::lint::annotate(
            &up.to_sql(),
            !up.outside_transaction,
        ));
        if up.outside_transaction {
            out.note(
                "note: the migration adds enum values, so it is marked `-- retort:transaction off`",
            );
        }
        let mut down_sql: String = first_down.iter().map(|s| format!("{s};\n")).collect();
        down_sql.push_str(&down.to_sql());
        let script = |v: &[String]| v.iter().map(|s| format!("{s};\n")).collect::<String>();
        if !fill.fill_up.is_empty() {
            // Right after the main migration: later validations may read the filled column.
            later.push(NewMigration {
                message: format!("{} (fill)", args.message),
                transactional: false,
                up: super::lint::annotate(&script(&fill.fill_up), false),
                down: script(&fill.fill_down),
                ..NewMigration::default()
            });
        }
        if let Some((up, down)) = &swap {
            // Once the new columns are filled: they take the old ones' names, in one short
            // transaction.
            later.push(NewMigration {
                message: format!("{} (swap)", args.message),
                transactional: true,
                up: super::lint::annotate(&script(up), true),
                down: script(down),
                ..NewMigration::default()
            });
        }
        let views = contract.as_ref().is_some_and(|c| c.views);
        let contract = contract.map(|c| NewMigration {
            message: format!("{} (contract)", args.message),
            transactional: true,
            phase: Phase::Contract,
            up: super::lint::annotate(&script(&c.up), true),
            down: script(&c.down),
            ..NewMigration::default()
        });
        if let Some(p) = &plan {
            for (part, transactional, ups, downs) in [
                (
                    "indexes, built concurrently",
                    false,
                    &p.concurrent_up,
                    &p.concurrent_down,
                ),
                (
                    "constraints validated",
                    true,
                    &p.validate_up,
                    &p.validate_down,
                ),
            ] {
                if ups.is_empty() {
                    continue;
                }
                later.push(NewMigration {
                    message: format!("{} ({part})", args.message),
                    transactional,
                    up: super::lint::annotate(&script(ups), transactional),
                    down: script(downs),
                    ..NewMigration::default()
                });
            }
            out.note(format!(
                "note: online forms for tables that hold data: {} migration(s) after the main one \
                 (indexes CONCURRENTLY outside a transaction; constraints added NOT VALID, then \
                 validated; SET NOT NULL through a validated check). --no-online writes one \
                 migration with the simple forms",
                later.len()
            ));
        }
        if let Some(c) = contract {
            let parent = parents.first().map(String::as_str).unwrap_or_default();
            out.note(format!(
                "note: a two-phase change: `retort upgrade` runs the expand, which the \
                 application version at {parent} keeps working through{}; `retort complete` \
                 runs the contract once no session of that version is connected (`retort \
                 abort` undoes the expand instead)",
                if views {
                    format!(
                        " (its old names are views in {}; it selects them with `retort search-path {parent}`)",
                        retort_migrate::shape::shape_schema(parent)
                    )
                } else {
                    String::new()
                }
            ));
            expand = true;
            later.push(c);
        }
        (
            up_sql,
            down_sql,
            !args.no_transaction && !up.outside_transaction && !down.outside_transaction,
        )
    } else {
        (String::new(), String::new(), !args.no_transaction)
    };
    let new = NewMigration {
        revision: fresh_id(&graph)?,
        parents,
        message: args.message.clone(),
        depends_on,
        branch_labels: args.branch_labels.clone(),
        transactional,
        up,
        down,
        irreversible: false,
        imported: None,
        phase: if expand { Phase::Expand } else { Phase::Single },
    };
    check_labels(&graph, &new.branch_labels)?;
    if later.is_empty() {
        return write(&project, out, &new);
    }
    // A chain: each later part's parent is the one before it.
    let mut written = vec![(
        new.revision.clone(),
        write_file(&project.migrations_dir, &new)?,
    )];
    let mut taken = vec![new.revision.clone()];
    for mut part in later {
        let mut revision = fresh_id(&graph)?;
        while taken.contains(&revision) {
            revision = fresh_id(&graph)?;
        }
        taken.push(revision.clone());
        part.revision = revision.clone();
        part.parents = vec![written.last().map(|(r, _)| r.clone()).unwrap_or_default()];
        written.push((revision, write_file(&project.migrations_dir, &part)?));
    }
    if out.json() {
        out.print_json(&json!({
            "revisions": written.iter().map(|(r, p)| json!({"revision": r, "path": p.display().to_string()})).collect::<Vec<_>>(),
        }))?;
    } else {
        for (_, p) in &written {
            println!("{}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn merge(
    global: &GlobalArgs,
    out: &Output,
    revisions: &[String],
    message: &str,
    labels: &[String],
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = graph_or_empty(&project)?;
    let mut parents: Vec<String> = Vec::new();
    for r in revisions {
        let add: Vec<String> = if r == "heads" {
            graph.heads().iter().map(|m| m.revision.clone()).collect()
        } else {
            vec![graph.resolve(r)?.revision.clone()]
        };
        for a in add {
            if !parents.contains(&a) {
                parents.push(a);
            }
        }
    }
    if parents.len() < 2 {
        bail!(
            "a merge needs at least two revisions; {} given ({})",
            parents.len(),
            if parents.is_empty() {
                "none".into()
            } else {
                parents.join(", ")
            }
        );
    }
    let new = NewMigration {
        revision: fresh_id(&graph)?,
        parents,
        message: message.to_owned(),
        branch_labels: labels.to_vec(),
        transactional: true,
        ..NewMigration::default()
    };
    check_labels(&graph, &new.branch_labels)?;
    write(&project, out, &new)
}

/// The parents of a new revision: `head` (or none for `base`), else the graph's only head.
pub fn parents_for(graph: &RevisionGraph, head: Option<&str>) -> Result<Vec<String>> {
    Ok(match head {
        Some("base") => Vec::new(),
        Some(name) => vec![graph.resolve(name)?.revision.clone()],
        None => {
            let heads = graph.heads();
            match heads.as_slice() {
                [] => Vec::new(),
                [one] => vec![one.revision.clone()],
                many => bail!(
                    "the graph has {} heads ({}); say which one the new migration follows with \
                     --head REV, or join them first with `retort merge heads -m MESSAGE`",
                    many.len(),
                    many.iter()
                        .map(|m| m.revision.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    })
}

pub fn fresh_id(graph: &RevisionGraph) -> Result<String> {
    loop {
        let id = new_revision_id()?;
        if graph.get(&id).is_none() {
            return Ok(id);
        }
    }
}

fn check_labels(graph: &RevisionGraph, labels: &[String]) -> Result<()> {
    for label in labels {
        if let Some(m) = graph
            .migrations()
            .iter()
            .find(|m| m.branch_labels.contains(label))
        {
            bail!(
                "branch label `{label}` is already used by {} ({})",
                m.revision,
                m.path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sqlalchemy_project_gets_schema_command_and_no_schema_key() {
        let text = sqlalchemy_config("myapp.models:Base").unwrap();
        assert!(
            text.contains("\nschema_command = \"python -m retort_sqlalchemy myapp.models:Base\"\n")
        );
        assert!(!text.contains("\nschema = "), "{text}");
        let parsed: crate::config::Config = toml::from_str(&text).unwrap();
        assert!(parsed.migrations.schema.is_none());
        for bad in ["myapp.models", ":Base", "a b:Base", "m:B; rm -rf /"] {
            assert!(sqlalchemy_config(bad).is_err(), "{bad}");
        }
    }
}
