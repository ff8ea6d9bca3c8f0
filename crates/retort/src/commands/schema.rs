//! Schema comparison: `retort diff`, `retort check`, and the autogenerate half of `retort new`.
//! Every side becomes a catalog snapshot: a live database is introspected directly; SQL files
//! and the migrations' head state are first built in a throwaway database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use retort_catalog::datachange;

pub use super::answers::{AnswerArgs, Generated, LiveFacts};
use super::answers::{LiveNames, Parsed};
use retort_catalog::{
    diff, introspect, introspect_parallel, load_sql, sql_files, Filter, SchemaDiff, Snapshot,
};
use retort_cluster::{Cluster, ScratchDatabase};
use retort_migrate::{MigrationRunner, RevisionGraph, RunnerOptions, Silent, Target};
use retort_pg::ConnConfig;
use serde_json::json;

use super::catalog_cache;
use super::desired::Desired;
use super::project::Project;
use crate::cli::{DesiredArgs, DiffArgs, GlobalArgs, SchemaArgs};
use crate::output::Output;
use crate::{progress, EXIT_DIFFERENCES};

/// The server that holds throwaway databases: `--dev-url`, or a local cluster started on first
/// use (from the cached template, on a RAM disk when there is one) and removed on exit.
pub struct DevServer<'a> {
    dev_url: Option<String>,
    out: &'a Output,
    cluster: Option<Cluster>,
    config: Option<ConnConfig>,
}

impl<'a> DevServer<'a> {
    pub fn new(dev_url: Option<&str>, out: &'a Output) -> Self {
        DevServer {
            dev_url: dev_url.map(str::to_owned),
            out,
            cluster: None,
            config: None,
        }
    }

    fn config(&mut self) -> Result<ConnConfig> {
        if let Some(c) = &self.config {
            return Ok(c.clone());
        }
        let config = match &self.dev_url {
            Some(url) => ConnConfig::parse(url).context("reading --dev-url")?,
            None => {
                let bar = progress::spinner(self.out);
                bar.set_message("starting a throwaway PostgreSQL for the schema files");
                let cluster = Cluster::builder().start()?;
                bar.finish_and_clear();
                let c = cluster.primary_config()?;
                self.cluster = Some(cluster);
                c
            }
        };
        self.config = Some(config.clone());
        Ok(config)
    }

    /// The dev server's version, without starting a local server: what catalogs built on it
    /// are cached under.
    pub fn server_version(&mut self) -> Result<String> {
        if self.dev_url.is_some() {
            let config = self.config()?;
            let mut client = retort_pg::connect(&config)?;
            let v: String = client.query_one("SHOW server_version_num", &[])?.get(0);
            return Ok(v);
        }
        if let Some(c) = &self.cluster {
            return Ok(c.binaries().version.clone());
        }
        Ok(retort_cluster::ServerBinaries::find()
            .context("finding the PostgreSQL server programs")?
            .version)
    }

    /// A new empty database on the dev server.
    pub fn scratch(&mut self) -> Result<ScratchDatabase> {
        let config = self.config()?;
        ScratchDatabase::create(&config)
            .context("creating a throwaway database (with --dev-url, the role needs CREATEDB)")
    }
}

/// A postgres URL / key=value string, or a path to .sql files.
pub fn is_url(side: &str) -> bool {
    side.starts_with("postgres://")
        || side.starts_with("postgresql://")
        || (side.contains('=') && !Path::new(side).exists())
}

/// One side of `retort diff`: a live database, or a desired-state source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffSide {
    /// A postgres URL or key=value string.
    Url(String),
    /// Files, or a program's output or build.
    Desired(Desired),
}

impl DiffSide {
    fn of(side: &str) -> DiffSide {
        if is_url(side) {
            DiffSide::Url(side.to_owned())
        } else {
            DiffSide::Desired(Desired::Files(PathBuf::from(side)))
        }
    }

    fn describe(&self) -> String {
        match self {
            DiffSide::Url(u) => retort_pg::redact_conn_string(u),
            DiffSide::Desired(d) => d.describe(),
        }
    }
}

/// FROM and TO from positional arguments and the --from-*/--to-* flags.
fn diff_sides(args: &DiffArgs) -> Result<(DiffSide, DiffSide)> {
    let mut positional = args.sides.iter();
    let from = match (&args.from_command, &args.from_build) {
        (Some(c), _) => DiffSide::Desired(Desired::Command(c.clone())),
        (_, Some(c)) => DiffSide::Desired(Desired::Build(c.clone())),
        _ => match positional.next() {
            Some(s) => DiffSide::of(s),
            None => bail!("retort diff needs FROM: a URL, a .sql path, --from-command CMD or --from-build CMD"),
        },
    };
    let to = match (&args.to_command, &args.to_build) {
        (Some(c), _) => DiffSide::Desired(Desired::Command(c.clone())),
        (_, Some(c)) => DiffSide::Desired(Desired::Build(c.clone())),
        _ => match positional.next() {
            Some(s) => DiffSide::of(s),
            None => bail!(
                "retort diff needs TO: a URL, a .sql path, --to-command CMD or --to-build CMD"
            ),
        },
    };
    if let Some(extra) = positional.next() {
        bail!("retort diff takes two sides; {extra:?} is one too many (a side given by a --from-*/--to-* flag is not repeated)");
    }
    Ok((from, to))
}

/// The catalog of one side. `readers` is how many connections may read a database side (more
/// than one share the work and one snapshot); programs run in `root`.
pub fn snapshot(
    side: &DiffSide,
    root: &Path,
    dev: &mut DevServer,
    filter: &Filter,
    cache: bool,
    readers: usize,
) -> Result<Snapshot> {
    match side {
        DiffSide::Url(url) => {
            let cfg = ConnConfig::parse(url)?;
            let mut client = retort_pg::connect(&cfg)?;
            let mut helper = if readers > 1 {
                retort_pg::connect(&cfg).ok()
            } else {
                None
            };
            Ok(introspect_parallel(&mut client, helper.as_mut(), filter)?)
        }
        DiffSide::Desired(Desired::Files(path)) if !path.exists() => bail!(
            "{}: no such file or directory (FROM and TO are postgres:// URLs, .sql files or directories of .sql files)",
            path.display()
        ),
        DiffSide::Desired(d) => Ok(d.snapshot(root, dev, filter, cache)?.0),
    }
}

/// Loads `path` (a file or directory) into a throwaway database and reads its catalog, or
/// reads it from the catalog cache when `cache` is on and the files are unchanged.
pub fn snapshot_of_sql(
    path: &Path,
    dev: &mut DevServer,
    filter: &Filter,
    cache: bool,
) -> Result<(Snapshot, catalog_cache::Source)> {
    let files = sql_files(path)?;
    let key = if cache {
        let key = catalog_cache::files_key(&files, &dev.server_version()?, filter)
            .with_context(|| format!("reading {}", path.display()))?;
        if let Some(s) = catalog_cache::load(&key) {
            return Ok((s, catalog_cache::Source::Hit));
        }
        Some(key)
    } else {
        None
    };
    let scratch = dev.scratch()?;
    let mut client = scratch.connect()?;
    load_sql(&mut client, &files)?;
    let snapshot = introspect(&mut client, filter)?;
    Ok(match key {
        Some(key) => {
            catalog_cache::store(&key, &snapshot);
            (snapshot, catalog_cache::Source::Miss)
        }
        None => (snapshot, catalog_cache::Source::Off),
    })
}

/// The schema all migrations produce, from the catalog cache when `cache` is on and nothing
/// it depends on changed, else applied to a throwaway database and read (and cached).
pub fn migrations_head_cached(
    graph: &RevisionGraph,
    options: &RunnerOptions,
    dev: &mut DevServer,
    filter: &Filter,
    cache: bool,
) -> Result<(Snapshot, catalog_cache::Source)> {
    if !cache {
        return Ok((
            migrations_head(graph, options, dev, filter)?,
            catalog_cache::Source::Off,
        ));
    }
    let key = catalog_cache::head_key(graph, &dev.server_version()?, filter);
    if let Some(s) = catalog_cache::load(&key) {
        return Ok((s, catalog_cache::Source::Hit));
    }
    let s = migrations_head(graph, options, dev, filter)?;
    catalog_cache::store(&key, &s);
    Ok((s, catalog_cache::Source::Miss))
}

/// The schema all migrations produce: applied to a throwaway database, then read.
pub fn migrations_head(
    graph: &RevisionGraph,
    options: &RunnerOptions,
    dev: &mut DevServer,
    filter: &Filter,
) -> Result<Snapshot> {
    // The migrations' final state: contract phases included.
    built_head(graph, options, dev, filter, true)
}

/// The schema an upgrade produces: everything but the contract phases it leaves for
/// `retort complete` (what a database with an expanded change should look like).
pub fn upgraded_head(
    graph: &RevisionGraph,
    options: &RunnerOptions,
    dev: &mut DevServer,
    filter: &Filter,
) -> Result<Snapshot> {
    built_head(graph, options, dev, filter, false)
}

fn built_head(
    graph: &RevisionGraph,
    options: &RunnerOptions,
    dev: &mut DevServer,
    filter: &Filter,
    run_contracts: bool,
) -> Result<Snapshot> {
    let scratch = dev.scratch()?;
    let mut client = scratch.connect()?;
    let mut silent = Silent;
    let options = RunnerOptions {
        run_contracts,
        ..options.clone()
    };
    MigrationRunner::new(&mut client, graph, options, &mut silent)
        .upgrade(&Target::Heads)
        .context("applying the migrations to a throwaway database")?;
    Ok(introspect(&mut client, filter)?)
}

pub fn filter_for(project: &Project, args: &SchemaArgs) -> Result<Filter> {
    let options = project.options(None, None, None)?;
    let mut exclude = vec![options.schema];
    exclude.extend(args.exclude_schema.iter().cloned());
    Ok(Filter {
        exclude_schemas: exclude,
        include_schemas: (!args.schema.is_empty()).then(|| args.schema.clone()),
        owners: args.owners,
    })
}

fn diff_json(d: &SchemaDiff) -> serde_json::Value {
    json!({
        "changes": d.changes.iter().map(|c| json!({
            "object": c.key.to_string(),
            "key": c.key,
            "action": c.action,
            "statements": c.statements,
            "destructive": c.destructive,
        })).collect::<Vec<_>>(),
        "sql": d.to_sql(),
        "script": d.to_script(),
        "destructive": d.destructive(),
        "hints": d.hints,
        "outside_transaction": d.outside_transaction,
        "not_compared": d.not_compared,
        "unwritten": d.unwritten,
    })
}

/// Says what the diff sees and cannot write (catalog rows no change is about).
fn tell_unwritten(out: &Output, d: &SchemaDiff) {
    if d.unwritten.is_empty() {
        return;
    }
    out.note(format!(
        "error: retort cannot write {} change(s) yet: the databases differ in catalog rows no \
         statement above is about (catalog, object: column, both values):",
        d.unwritten.len()
    ));
    for u in d.unwritten.iter().take(20) {
        out.note(format!("  {u}"));
    }
    if d.unwritten.len() > 20 {
        out.note(format!(
            "  ... and {} more (--format json lists all)",
            d.unwritten.len() - 20
        ));
    }
}

fn tell(out: &Output, d: &SchemaDiff) {
    for n in &d.not_compared {
        out.note(format!("note: {n}"));
    }
    let destructive = d.destructive();
    if destructive.len() <= 5 {
        for w in destructive {
            out.note(format!("warning: destructive: {w}"));
        }
    } else {
        // Many: one line per kind ("drops column(s)", "changes the type", ...), not one per
        // object: the words before the object's name.
        let mut kinds: Vec<(String, usize)> = Vec::new();
        for w in &destructive {
            let kind: String = w
                .split_whitespace()
                .take_while(|x| *x != "of" && !x.contains('.') && !x.starts_with('"'))
                .take(4)
                .collect::<Vec<_>>()
                .join(" ");
            match kinds.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => kinds.push((kind, 1)),
            }
        }
        let summary: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} x {k}")).collect();
        out.note(format!(
            "warning: {} destructive changes ({}): see the -- DESTRUCTIVE comments in the SQL",
            destructive.len(),
            summary.join(", ")
        ));
    }
    for h in &d.hints {
        out.note(format!("hint: {h}"));
    }
    if d.outside_transaction {
        out.note(
            "note: ALTER TYPE ... ADD VALUE is in the script; run it outside a transaction block",
        );
    }
}

pub fn run_diff(global: &GlobalArgs, out: &Output, diff_args: &DiffArgs) -> Result<ExitCode> {
    let (exit_code, args) = (diff_args.exit_code, &diff_args.schema);
    let (from, to) = diff_sides(diff_args)?;
    let (from, to) = (&from, &to);
    let project = Project::load(global)?;
    let root = project.config.root_dir();
    let root = root.as_path();
    let filter = filter_for(&project, args)?;
    let mut dev = DevServer::new(args.dev_url.as_deref(), out);
    // Catalog reads are CPU-bound on the server: each database side gets a second connection
    // only when there is a core for it (measured on 2 cores: reading both sides of a 5,000-table
    // diff over 4 connections took as long as over 2, and 25 MB more memory).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let is_db = |s: &DiffSide| matches!(s, DiffSide::Url(_));
    let url_sides = usize::from(is_db(from)) + usize::from(is_db(to));
    let readers = cores.checked_div(url_sides).unwrap_or(1).clamp(1, 2);
    let read = |side: &DiffSide, label: &str, dev: &mut DevServer| {
        let s = snapshot(side, root, dev, &filter, !args.no_cache, readers)
            .with_context(|| format!("reading {label} ({})", side.describe()));
        trim_heap();
        s
    };
    let (a, b) = if is_db(from) && is_db(to) {
        // Two databases to read: read them at the same time.
        std::thread::scope(|s| {
            let other = s.spawn(|| read(to, "TO", &mut DevServer::new(None, out)));
            let a = read(from, "FROM", &mut DevServer::new(None, out));
            let b = other
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("reading TO panicked")));
            (a, b)
        })
    } else {
        (read(from, "FROM", &mut dev), read(to, "TO", &mut dev))
    };
    // The process ends after printing: freeing two large catalogs object by object would only
    // add to the run time.
    let (a, b) = (
        std::mem::ManuallyDrop::new(a?),
        std::mem::ManuallyDrop::new(b?),
    );
    let d = diff(&a, &b);
    if out.json() {
        out.print_json(&diff_json(&d))?;
    } else if d.is_empty() && d.unwritten.is_empty() {
        out.note("no differences");
        tell(out, &d);
    } else {
        print!("{}", d.to_script());
        tell(out, &d);
        tell_unwritten(out, &d);
    }
    // A script that cannot make the two equal is not a success, whatever --exit-code says.
    if !d.unwritten.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(if exit_code && !d.is_empty() {
        ExitCode::from(EXIT_DIFFERENCES)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn run_check(
    global: &GlobalArgs,
    out: &Output,
    desired_args: &DesiredArgs,
    args: &SchemaArgs,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let desired = Desired::of_project(&project, desired_args)?;
    let graph = project.graph()?;
    let options = project.options(None, None, None)?;
    let filter = filter_for(&project, args)?;
    let mut dev = DevServer::new(args.dev_url.as_deref(), out);
    let (head, head_source) =
        migrations_head_cached(&graph, &options, &mut dev, &filter, !args.no_cache)?;
    if head_source == catalog_cache::Source::Hit {
        out.note("note: the migrations head is unchanged: read from retort's catalog cache (--no-cache rebuilds it)");
    }

    let cfg = super::database_config(global)?;
    let mut client = retort_pg::connect(&cfg)?;
    let live = {
        // The live side is the only database read now: a second connection shares the work.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut helper = (cores > 1).then(|| retort_pg::connect(&cfg).ok()).flatten();
        introspect_parallel(&mut client, helper.as_mut(), &filter)?
    };
    let mut silent = Silent;
    let mut runner = MigrationRunner::new(&mut client, &graph, options.clone(), &mut silent);
    let current = runner.current()?;
    let edited = runner.edited(&current.state)?;
    let pending = graph.len() - graph.applied_revisions(&current.state).count();
    drop(runner);
    let invalid = retort_migrate::invalid_indexes(&mut client)?;
    // While a change is expanded the database stands before its contract: it is compared with
    // what an upgrade gives (contracts held back), not with the final head.
    let expanded: Vec<&retort_migrate::Migration> = graph.expanded(&current.state);
    let upgraded;
    let live_head = if expanded.is_empty() {
        &head
    } else {
        upgraded = upgraded_head(&graph, &options, &mut dev, &filter)?;
        &upgraded
    };
    let live_diff = diff(&live, live_head);

    let schema_name = desired.as_ref().map_or_else(
        || project.schema_path().display().to_string(),
        Desired::describe,
    );
    let mut schema_source = None;
    let schema_diff = match &desired {
        Some(d) => {
            let (desired, source) = d
                .snapshot(
                    &project.config.root_dir(),
                    &mut dev,
                    &filter,
                    !args.no_cache,
                )
                .with_context(|| format!("reading the desired schema ({})", d.describe()))?;
            schema_source = Some(source);
            Some(diff(&head, &desired))
        }
        None => None,
    };
    let differs = !live_diff.is_empty()
        || !live_diff.unwritten.is_empty()
        || schema_diff
            .as_ref()
            .is_some_and(|d| !d.unwritten.is_empty())
        || !edited.is_empty()
        || !invalid.is_empty()
        || schema_diff.as_ref().is_some_and(|d| !d.is_empty());
    if out.json() {
        out.print_json(&json!({
            "ok": !differs,
            "live": {"differs": !live_diff.is_empty() || !live_diff.unwritten.is_empty(), "pending_migrations": pending, "to_head": diff_json(&live_diff)},
            "invalid_indexes": invalid,
            "expanded": expanded.iter().map(|m| json!({"revision": m.revision, "message": m.message})).collect::<Vec<_>>(),
            "edited_migrations": edited.iter().map(|e| json!({"revision": e.revision, "file": e.file.display().to_string(), "applied_checksum": e.applied, "file_checksum": e.now})).collect::<Vec<_>>(),
            "schema_file": schema_diff.as_ref().map(|d| json!({"path": schema_name, "differs": !d.is_empty(), "head_to_schema": diff_json(d)})),
            "cache": {"migrations_head": head_source, "schema_file": schema_source},
        }))?;
    } else {
        for m in &expanded {
            out.note(format!(
                "note: {} ({}) is expanded: the database is compared with the migrations up to \
                 its contract, which `retort complete` runs",
                m.revision, m.message
            ));
        }
        if live_diff.is_empty() && !live_diff.unwritten.is_empty() {
            out.say(format!(
                "DRIFT: the database ({cfg}) differs from the migrations head in ways retort \
                 cannot write yet:"
            ));
            tell_unwritten(out, &live_diff);
        } else if live_diff.is_empty() {
            out.say(format!(
                "ok: the database ({cfg}) matches the migrations head{}",
                if expanded.is_empty() {
                    ""
                } else {
                    " (up to the contracts `retort complete` runs)"
                }
            ));
        } else {
            out.say(format!(
                "DRIFT: the database ({cfg}) differs from the migrations head{}. SQL that would make it match:",
                if pending > 0 { format!(" ({pending} migration(s) not applied yet: `retort upgrade`)") } else { String::new() }
            ));
            print!("{}", live_diff.to_script());
            tell_unwritten(out, &live_diff);
        }
        for n in live_diff
            .not_compared
            .iter()
            .chain(schema_diff.iter().flat_map(|d| d.not_compared.iter()))
        {
            out.note(format!("note: {n}"));
        }
        for e in &edited {
            out.say(format!(
                "EDITED: {e}; undo the edit or accept it with `retort repair {}`",
                e.revision
            ));
        }
        for i in &invalid {
            out.say(format!("INVALID: {i}"));
        }
        match &schema_diff {
            None => out.note(format!("note: no {schema_name} to compare (skipped)")),
            Some(d) if d.is_empty() && d.unwritten.is_empty() => {
                out.say(format!("ok: {schema_name} matches the migrations head"))
            }
            Some(d) => {
                out.say(format!(
                    "DRIFT: {schema_name} has changes no migration makes; `retort new -m MESSAGE --autogenerate` writes one:"
                ));
                print!("{}", d.to_script());
                tell_unwritten(out, d);
            }
        }
    }
    Ok(if differs {
        ExitCode::from(EXIT_DIFFERENCES)
    } else {
        ExitCode::SUCCESS
    })
}

/// For `retort new --autogenerate`: the changes between the migrations head and the desired
/// state, with the answers applied; `online` asks for the online plan. Stops, writing nothing,
/// when a change needs a value nobody gave.
#[allow(clippy::too_many_arguments)] // the command's inputs, each its own concern
pub fn autogenerate(
    project: &Project,
    out: &Output,
    graph: &RevisionGraph,
    to: Option<&str>,
    desired_args: &DesiredArgs,
    args: &SchemaArgs,
    online: bool,
    live: &LiveFacts,
    answers: AnswerArgs,
    parent: Option<&str>,
    allow_rewrite: bool,
) -> Result<Generated> {
    let options = RunnerOptions {
        run_contracts: true,
        ..project.options(None, None, None)?
    };
    let filter = filter_for(project, args)?;
    let mut dev = DevServer::new(args.dev_url.as_deref(), out);
    let cache = !args.no_cache;
    // Answers with bad syntax are refused before any work.
    let parsed = Parsed::parse(answers)?;
    let (head, _) = migrations_head_cached(graph, &options, &mut dev, &filter, cache)?;
    let root = project.config.root_dir();
    let desired = match to {
        Some(side) => snapshot(&DiffSide::of(side), &root, &mut dev, &filter, cache, 2)?,
        None => match Desired::of_project(project, desired_args)? {
            Some(d) => {
                d.snapshot(&root, &mut dev, &filter, cache)
                    .with_context(|| format!("reading the desired schema ({})", d.describe()))?
                    .0
            }
            None => bail!(
                "{} does not exist; write the schema you want there, set [migrations] \
                 schema_command or schema_build in retort.toml, or pass --to URL",
                project.schema_path().display()
            ),
        },
    };
    let renames = answers
        .rename
        .iter()
        .map(|t| datachange::parse_rename(t, &head.catalog, &desired.catalog))
        .collect::<Result<Vec<_>, _>>()?;
    // Answers are tried on a throwaway copy of the migrations head: renames are made there
    // (so the diff starts from the renamed schema), fills and conversions are run there.
    let (mut copy, mut renamed) = (None, None);
    if !renames.is_empty() || !parsed.is_empty() {
        let db = dev.scratch()?;
        let mut client = db.connect()?;
        let mut silent = Silent;
        MigrationRunner::new(&mut client, graph, options.clone(), &mut silent)
            .upgrade(&Target::Heads)
            .context("applying the migrations to a throwaway database")?;
        for r in &renames {
            client
                .batch_execute(&r.up_sql())
                .map_err(retort_pg::PgError::from)
                .with_context(|| format!("trying the rename `{}`", r.up_sql()))?;
        }
        renamed = Some(introspect(&mut client, &filter)?);
        copy = Some((db, client));
    }
    let from = renamed.as_ref().unwrap_or(&head);
    let names = LiveNames(&renames);
    let matched = super::answers::ask(out, from, &desired, live, &names, &parsed)?;
    let inputs = super::answers::Inputs {
        before: &head,
        from,
        desired: &desired,
        renames: &renames,
        online,
        parent,
        allow_rewrite,
    };
    let client = copy.as_mut().map(|(_, c)| c);
    let generated = super::answers::write(out, &inputs, live, client, matched)?;
    tell(out, &generated.up);
    Ok(generated)
}

/// Gives the memory the catalog reads used on the way (rows, buffers) back to the system, so
/// that it does not stay resident while the two catalogs are compared: at 5,000 tables a diff
/// peaked at ~160 MB without this.
fn trim_heap() {
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}
