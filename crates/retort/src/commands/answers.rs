//! Autogenerate's questions and answers (`--fill`, `--convert`, `--convert-back`, `--keep`,
//! `--fix`, `--rename`)
//! and the two-phase changes they lead to: the database work around
//! `retort_catalog::datachange`, which holds the logic.

use anyhow::{bail, Context, Result};
use retort_catalog::datachange::{self, ColumnRef, FillSteps, RawAnswer, Rename};
use retort_catalog::{diff, QName, SchemaDiff, Snapshot};
use retort_pg::quote_ident;

use crate::cli::GlobalArgs;
use crate::output::Output;

/// What `retort new --autogenerate` writes: the main migration's up and down, the online plan
/// (when it splits), the fill migration's steps, and the answers it was given (for the file).
pub struct Generated {
    pub up: SchemaDiff,
    pub down: SchemaDiff,
    pub plan: Option<retort_catalog::OnlinePlan>,
    pub fill: FillSteps,
    pub answered: Vec<String>,
    /// When the change breaks the application version still running on a table that holds
    /// rows: the contract phase, which `retort complete` runs.
    pub contract: Option<Contract>,
    /// Two-phase type changes: the swap migration's up and down (after the backfill).
    pub swap: Option<(Vec<String>, Vec<String>)>,
}

/// The contract phase of a two-phase change.
pub struct Contract {
    pub up: Vec<String>,
    pub down: Vec<String>,
    /// True when the expand serves the old shape as views.
    pub views: bool,
}

/// The answers to autogenerate's questions, as typed on the command line.
#[derive(Debug, Clone, Copy)]
pub struct AnswerArgs<'a> {
    pub fill: &'a [String],
    pub convert: &'a [String],
    pub convert_back: &'a [String],
    pub keep: &'a [String],
    pub fix: &'a [String],
    pub rename: &'a [String],
}

/// What the configured database tells autogenerate: which tables hold rows and whether a column
/// holds NULLs. Without a database every existing table counts as holding rows, and NULLs are
/// unknown.
pub struct LiveFacts {
    client: std::cell::RefCell<Option<retort_pg::Client>>,
    sizes: Option<std::collections::HashSet<(String, String)>>,
}

impl LiveFacts {
    /// Reads the table sizes of the configured database (rows at or above `threshold`).
    pub fn read(global: &GlobalArgs, threshold: f64) -> LiveFacts {
        let client = super::database_config(global)
            .ok()
            .and_then(|cfg| retort_pg::connect(&cfg).ok());
        let mut facts = LiveFacts {
            client: std::cell::RefCell::new(client),
            sizes: None,
        };
        if let Some(c) = facts.client.get_mut().as_mut() {
            facts.sizes = table_sizes(c, threshold);
        }
        facts
    }

    /// True when a database answered.
    pub fn known(&self) -> bool {
        self.sizes.is_some()
    }

    /// Whether `table` holds rows (true when unknown: the safe answer).
    pub fn populated(&self, table: &QName) -> bool {
        self.sizes
            .as_ref()
            .is_none_or(|big| big.contains(&(table.schema.clone(), table.name.clone())))
    }

    /// Whether `column` holds a NULL: one indexed-or-scanning probe that stops at the first,
    /// under a statement timeout so a huge table cannot hold autogenerate up.
    pub fn holds_nulls(&self, column: &ColumnRef) -> Option<bool> {
        self.exists(&format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {} IS NULL)",
            column.table,
            quote_ident(&column.column)
        ))
    }

    /// The answer of `SELECT EXISTS (...)` on the configured database, in a read-only
    /// transaction under a 10 s statement timeout; None without a database, or when it fails.
    pub fn exists(&self, probe: &str) -> Option<bool> {
        let mut client = self.client.borrow_mut();
        let client = client.as_mut()?;
        let sql =
            format!("BEGIN READ ONLY; SET LOCAL statement_timeout = '10s'; SELECT ({probe})::text");
        let result = client.simple_query(&sql);
        let _ = client.batch_execute("ROLLBACK");
        result.ok()?.iter().find_map(|m| match m {
            retort_pg::SimpleQueryMessage::Row(r) => r.get(0).map(|v| v == "true"),
            _ => None,
        })
    }
}

/// The answers, parsed (syntax only: they are matched to the changes later).
pub struct Parsed {
    pub fills: Vec<(String, RawAnswer)>,
    pub converts: Vec<(String, RawAnswer)>,
    pub back: Vec<(String, RawAnswer)>,
    pub keeps: Vec<(String, RawAnswer)>,
    pub fixes: Vec<(String, RawAnswer)>,
}

impl Parsed {
    pub fn parse(args: AnswerArgs) -> Result<Parsed> {
        let parse = |flag: &'static str, list: &[String]| {
            list.iter()
                .map(|t| Ok((t.clone(), datachange::parse_answer(flag, t)?)))
                .collect::<Result<Vec<_>, datachange::AnswerError>>()
        };
        Ok(Parsed {
            fills: parse("--fill", args.fill)?,
            converts: parse("--convert", args.convert)?,
            back: parse("--convert-back", args.convert_back)?,
            keeps: parse("--keep", args.keep)?,
            fixes: parse("--fix", args.fix)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.fills.is_empty()
            && self.converts.is_empty()
            && self.back.is_empty()
            && self.keeps.is_empty()
            && self.fixes.is_empty()
    }
}

/// Names in the renamed copy of the head, back to the live database's (which has not been
/// renamed yet).
pub struct LiveNames<'a>(pub &'a [Rename]);

impl LiveNames<'_> {
    pub fn table(&self, t: &QName) -> QName {
        self.0
            .iter()
            .find_map(|r| match r {
                Rename::Table { old, new } if old.schema == t.schema && *new == t.name => {
                    Some(old.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| t.clone())
    }

    pub fn column(&self, c: &ColumnRef) -> ColumnRef {
        let table = self.table(&c.table);
        let column = self
            .0
            .iter()
            .find_map(|r| match r {
                Rename::Column { table: t, old, new } if *t == table && *new == c.column => {
                    Some(old.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| c.column.clone());
        ColumnRef { table, column }
    }
}

/// The questions `from` -> `desired` raises: notes for what could not be told, a stop naming
/// every open question, else the answers matched to their columns.
pub fn ask(
    out: &Output,
    from: &Snapshot,
    desired: &Snapshot,
    live: &LiveFacts,
    names: &LiveNames,
    parsed: &Parsed,
) -> Result<datachange::Answers> {
    let populated = |t: &QName| live.populated(&names.table(t));
    let holds_nulls = |c: &ColumnRef| live.holds_nulls(&names.column(c));
    // A probe reads the live database, where the renames have not happened yet: a table they
    // touch is not probed (its validation still fails loudly if rows break it).
    let breaks = |c: &datachange::NewConstraint| {
        let renamed = names.0.iter().any(|r| match r {
            Rename::Table { old, new } => old.schema == c.table.schema && *new == c.table.name,
            Rename::Column { table, .. } => names.table(&c.table) == *table,
        });
        if renamed {
            None
        } else {
            live.exists(&c.probe())
        }
    };
    let facts = datachange::Facts {
        populated: &populated,
        holds_nulls: &holds_nulls,
        breaks: &breaks,
    };
    let questions = datachange::questions(&from.catalog, &desired.catalog, &facts);
    for n in &questions.notes {
        out.note(format!("note: {n}"));
    }
    let matched = datachange::match_answers(
        &from.catalog,
        &desired.catalog,
        &parsed.fills,
        &parsed.converts,
        &parsed.back,
        &parsed.keeps,
        &parsed.fixes,
    )?;
    let open = datachange::unanswered(&questions, &matched);
    if !open.is_empty() && out.json() {
        // For tools: each question with the flag and column that answer it, on stdout.
        out.print_json(&serde_json::json!({
            "questions": open.iter().map(|q| serde_json::json!({
                "kind": match q {
                    datachange::Question::FillAdded { .. } => "fill-added-column",
                    datachange::Question::FillNulls { .. } => "fill-nulls",
                    datachange::Question::Convert { .. } => "convert",
                    datachange::Question::Fix { .. } => "fix",
                },
                "column": q.column().to_string(),
                "flag": q.flag(),
                "question": q.describe(),
            })).collect::<Vec<_>>(),
        }))?;
    }
    if !open.is_empty() {
        let list: String = open
            .iter()
            .map(|q| format!("\n  - {}", q.describe()))
            .collect();
        bail!(
            "autogenerate stops: {} change(s) need values retort cannot know{}; nothing was \
             written:{list}\nAnswer each with the flag it names and run the same command again; \
             the answers are recorded in the migration for review",
            open.len(),
            if live.known() {
                " (table sizes from the configured database)"
            } else {
                " (no database to read table sizes from: every existing table counts as holding rows)"
            },
        );
    }
    Ok(matched)
}

/// What autogenerate compares and with what, once the answers are known.
pub struct Inputs<'a> {
    /// The migrations head, before any rename.
    pub before: &'a Snapshot,
    /// The head with the renames made.
    pub from: &'a Snapshot,
    pub desired: &'a Snapshot,
    pub renames: &'a [Rename],
    pub online: bool,
    /// The new migration's parent: the revision whose shape an expand serves.
    pub parent: Option<&'a str>,
    /// `--allow-rewrite`: a type change is written as one rewriting ALTER, not in two phases.
    pub allow_rewrite: bool,
}

/// The migrations the answers give: the main one (an expand when the change is two-phase), its
/// online plan, the fill migration, and the contract.
pub fn write(
    out: &Output,
    inputs: &Inputs,
    live: &LiveFacts,
    copy: Option<&mut retort_pg::Client>,
    mut matched: datachange::Answers,
) -> Result<Generated> {
    let Inputs {
        before,
        from,
        desired,
        renames,
        online,
        parent,
        allow_rewrite,
    } = *inputs;
    let names = LiveNames(renames);
    let populated = |t: &QName| live.populated(&names.table(t));
    // A change that breaks the application version still running on a table that holds rows
    // is written in two phases: renames (its shape served as views, PostgreSQL 15+ for
    // security_invoker), fills (their triggers fill its writes too) and dropped columns (kept
    // until the contract).
    let staged = online && parent.is_some();
    let renamed_busy = renames.iter().any(|r| {
        populated(&match r {
            Rename::Table { old, new } => QName::new(old.schema.clone(), new.clone()),
            Rename::Column { table, .. } => table.clone(),
        })
    });
    let views = staged && renamed_busy && from.server_version_num >= 150_000;
    // Type changes that would rewrite a table that holds rows, on columns nothing depends on:
    // a new column kept in step, backfilled, swapped in (the conversions move into those steps).
    let retypes = match parent {
        Some(_)
            if staged
                && !allow_rewrite
                && renames.is_empty()
                && from.server_version_num >= 150_000 =>
        {
            datachange::retypes(
                from,
                &desired.catalog,
                &populated,
                &matched.converts,
                &matched.converts_back,
            )
        }
        _ => Vec::new(),
    };
    // The comments record every answer, also the conversions the retype steps take over.
    let (all_converts, all_back) = (matched.converts.clone(), matched.converts_back.clone());
    let retyped = |c: &ColumnRef| retypes.iter().any(|r| r.column == *c);
    matched.converts.retain(|c| !retyped(&c.column));
    matched.converts_back.retain(|c| !retyped(&c.column));
    // What the expand leaves: `desired` adjusted for the fills, the retyped columns and the
    // kept ones; None when nothing is adjusted (no copy of the catalog is made then).
    let target = |fills: &[datachange::Fill]| -> (Option<Snapshot>, datachange::KeptColumns) {
        let mut catalog = None;
        if !fills.is_empty() {
            catalog = Some(datachange::with_fills(&desired.catalog, fills));
        }
        if !retypes.is_empty() {
            let base = catalog.as_ref().unwrap_or(&desired.catalog);
            catalog = Some(datachange::keep_old_types(base, &from.catalog, &retypes));
        }
        let kept = if staged {
            let base = catalog.as_ref().unwrap_or(&desired.catalog);
            datachange::dropped_columns_to_keep(&from.catalog, base, &populated)
        } else {
            datachange::KeptColumns::default()
        };
        if !kept.columns.is_empty() {
            let base = catalog.as_ref().unwrap_or(&desired.catalog);
            catalog = Some(datachange::with_kept_columns(base, &from.catalog, &kept));
        }
        let snapshot = catalog.map(|catalog| Snapshot {
            catalog,
            deps: desired.deps.clone(),
            server_version_num: desired.server_version_num,
            not_compared: desired.not_compared.clone(),
            // The rows are only compared by `retort diff` and `check`, never for these
            // adjusted targets.
            closed: desired.closed.clone(),
            readers: desired.readers,
        });
        (snapshot, kept)
    };
    if let Some(client) = copy {
        try_answers(client, from, desired, &target, &mut matched)?;
    }
    datachange::check_backfills(&from.catalog, &matched.fills)?;
    let recorded = datachange::Answers {
        fills: matched.fills.clone(),
        converts: all_converts,
        converts_back: all_back,
        keeps: matched.keeps.clone(),
        fixes: matched.fixes.clone(),
    };
    if !matched.fixes.is_empty() && !online {
        bail!(
            "--fix needs the online forms (the constraint added NOT VALID, the rows fixed, then \
             validated): drop --no-online, or fix the data by hand before this migration runs"
        );
    }
    let (main, kept) = target(&matched.fills);
    for k in &matched.keeps {
        if !kept.columns.contains(&k.column) {
            return Err(datachange::AnswerError {
                flag: "--keep",
                text: format!("{}={}", k.column, k.sql),
                why: format!(
                    "{} is dropped at once, not kept until a contract: --keep answers a column \
                     dropped from a table that holds rows, in a migration with a parent",
                    k.column
                ),
            }
            .into());
        }
    }
    for c in &kept.columns {
        let derives = matched.fills.iter().any(|f| f.column.table == c.table);
        if derives && !matched.keeps.iter().any(|k| k.column == *c) {
            out.note(format!(
                "note: the version still running reads {c} until `retort complete`, and the new \
                 version does not write it: for a split or merge, --keep {c}=SQL derives it from \
                 each of the new version's writes"
            ));
        }
    }
    let two_phase = staged
        && (views
            || !kept.columns.is_empty()
            || !retypes.is_empty()
            || !matched.fixes.is_empty()
            || matched.fills.iter().any(|f| populated(&f.column.table)));
    let to_main = main.as_ref().unwrap_or(desired);
    let mut up = diff(from, to_main);
    // The expand's down starts from what the expand leaves (the kept columns still there).
    let expanded = target(&[]).0;
    let mut down = diff(expanded.as_ref().unwrap_or(desired), from);
    datachange::apply_converts(&mut up, &matched.converts)?;
    datachange::apply_converts(&mut down, &matched.converts_back)?;
    if !two_phase {
        datachange::constant_fill_statements(&mut up, &matched.fills);
    }
    let mut fill = datachange::fill_steps(&matched.fills, &matched.keeps, two_phase);
    let fixes = datachange::fix_steps(&matched.fixes, two_phase);
    fill.main_up.extend(fixes.main_up);
    fill.main_down_first.extend(fixes.main_down_first);
    fill.fill_up.extend(fixes.fill_up);
    fill.fill_down.extend(fixes.fill_down);
    fill.contract_up.extend(fixes.contract_up);
    fill.contract_down.extend(fixes.contract_down);
    let retype = match parent {
        Some(parent) if !retypes.is_empty() => {
            datachange::retype_steps(from, &retypes, &retort_migrate::shape::shape_schema(parent))
        }
        _ => datachange::RetypeSteps::default(),
    };
    for r in &retypes {
        out.note(format!(
            "note: {} changes from {} to {} in two phases: a new column kept in step by a \
             trigger, backfilled, then swapped in; the version still running keeps {} through a view",
            r.column, r.old_type, r.new_type, r.old_type
        ));
    }
    fill.main_up.extend(retype.main_up.iter().cloned());
    fill.main_down_first
        .splice(0..0, retype.main_down_first.iter().cloned());
    fill.fill_up.extend(retype.fill_up.iter().cloned());
    fill.fill_down.extend(retype.fill_down.iter().cloned());
    fill.contract_up.extend(retype.contract_up.iter().cloned());
    fill.contract_down
        .splice(0..0, retype.contract_down.iter().cloned());
    if !fill.main_up.is_empty() {
        up.changes.push(retort_catalog::Change {
            key: retort_catalog::ObjKey::Schema("retort fill triggers".into()),
            action: retort_catalog::Action::Create,
            statements: fill.main_up.clone(),
            destructive: None,
        });
        down.changes.insert(
            0,
            retort_catalog::Change {
                key: retort_catalog::ObjKey::Schema("retort fill triggers".into()),
                action: retort_catalog::Action::Drop,
                statements: fill.main_down_first.clone(),
                destructive: None,
            },
        );
    }
    let shape = match parent {
        Some(parent) if views => {
            let shape = datachange::old_shape(
                &before.catalog,
                &desired.catalog,
                renames,
                &retort_migrate::shape::shape_schema(parent),
            );
            (!shape.create.is_empty()).then_some(shape)
        }
        _ => None,
    };
    if staged && renamed_busy && !views {
        out.note(
            "note: the renames are written as plain renames: serving the old names as views \
             needs PostgreSQL 15 or later (security_invoker)",
        );
    }
    for c in &kept.columns {
        out.note(format!(
            "note: {c} is dropped by the contract, not now: the application version still \
             running may read and write it until `retort complete`"
        ));
    }
    let why = match (&shape, parent) {
        (Some(_), Some(parent)) => format!(
            "declared with --rename; the application version at {parent} keeps its names through the views in {} until `retort complete`",
            retort_migrate::shape::shape_schema(parent)
        ),
        _ => "declared with --rename: deploy the application version that uses the new name together with this migration".to_owned(),
    };
    datachange::apply_renames(&mut up, &mut down, renames, &why);
    if let Some(shape) = &shape {
        for n in &shape.notes {
            out.note(format!("note: {n}"));
        }
        up.changes.push(retort_catalog::Change {
            key: retort_catalog::ObjKey::Schema("retort old shape".into()),
            action: retort_catalog::Action::Create,
            statements: shape.create.clone(),
            destructive: None,
        });
        down.changes.insert(
            0,
            retort_catalog::Change {
                key: retort_catalog::ObjKey::Schema("retort old shape".into()),
                action: retort_catalog::Action::Drop,
                statements: shape.drop_if_exists.clone(),
                destructive: None,
            },
        );
    }
    let plan = online
        .then(|| {
            retort_catalog::plan_online(&up, &down, &from.catalog, &to_main.catalog, &populated)
        })
        .filter(retort_catalog::OnlinePlan::is_split);
    Ok(Generated {
        up,
        down,
        plan,
        answered: datachange::answer_comments(renames, &recorded),
        swap: (!retype.swap_up.is_empty())
            .then(|| (retype.swap_up.clone(), retype.swap_down.clone())),
        contract: two_phase.then(|| {
            let empty = datachange::OldShape::default();
            let views = shape.as_ref().unwrap_or(&empty);
            let up: Vec<String> = views
                .drop
                .iter()
                .chain(&fill.contract_up)
                .chain(&kept.contract_up)
                .cloned()
                .collect();
            let down: Vec<String> = kept
                .contract_down
                .iter()
                .chain(&fill.contract_down)
                .chain(&views.create)
                .cloned()
                .collect();
            Contract {
                up,
                down,
                views: shape.is_some(),
            }
        }),
        fill,
    })
}

/// What the expand leaves for a set of fills: the adjusted wanted schema (None when it is the
/// wanted schema itself) and the columns kept until the contract.
type Target<'a> = dyn Fn(&[datachange::Fill]) -> (Option<Snapshot>, datachange::KeptColumns) + 'a;

/// Runs what the answers make on the copy of the migrations head, in a transaction rolled back
/// after: the main migration must apply (a `--convert` that does not work fails here, not in
/// production), and each fill is probed for its form.
fn try_answers(
    client: &mut retort_pg::Client,
    from: &Snapshot,
    desired: &Snapshot,
    target: &Target,
    answers: &mut datachange::Answers,
) -> Result<()> {
    if answers.fills.is_empty()
        && answers.converts.is_empty()
        && answers.keeps.is_empty()
        && answers.fixes.is_empty()
    {
        return Ok(());
    }
    let trial_to = target(&answers.fills).0;
    let mut trial = diff(from, trial_to.as_ref().unwrap_or(desired));
    datachange::apply_converts(&mut trial, &answers.converts)?;
    client.batch_execute("BEGIN")?;
    let result = (|| -> Result<()> {
        client
            .batch_execute(&trial.to_sql())
            .map_err(retort_pg::PgError::from)
            .context(
                "the migration these answers give does not apply to a copy of the migrations \
                 head (check the --convert expressions)",
            )?;
        for f in &mut answers.fills {
            f.form = datachange::probe_fill(client, f)?;
        }
        // A --keep or a --fix runs in a trigger, where a mistake would fail the application's
        // writes: each is tried here, against the row as the expand leaves it.
        let tried = answers
            .keeps
            .iter()
            .map(|k| ("--keep", &k.column, &k.sql, &from.catalog))
            .chain(
                answers
                    .fixes
                    .iter()
                    .map(|f| ("--fix", &f.column, &f.sql, &desired.catalog)),
            );
        for (flag, column, answer, catalog) in tried {
            let t = &column.table;
            let data_type = catalog.tables[t]
                .columns
                .iter()
                .find(|c| c.name == column.column)
                .map_or("text", |c| c.data_type.as_str());
            let sql = format!(
                "SAVEPOINT retort_try; SELECT ({answer})::{data_type} FROM {t} AS {} LIMIT 0; \
                 RELEASE SAVEPOINT retort_try",
                quote_ident(&t.name)
            );
            if let Err(e) = client.batch_execute(&sql) {
                return Err(datachange::AnswerError {
                    flag,
                    text: format!("{column}={answer}"),
                    why: format!(
                        "it does not work on the row as the expand leaves it: {}",
                        retort_pg::PgError::from(e)
                    ),
                }
                .into());
            }
        }
        Ok(())
    })();
    let _ = client.batch_execute("ROLLBACK");
    result
}

/// Which tables of a database hold data, for the online plan and autogenerate's questions:
/// estimated rows at or above `threshold`, or never analyzed and not empty. None when the
/// query fails.
pub fn table_sizes(
    client: &mut retort_pg::Client,
    threshold: f64,
) -> Option<std::collections::HashSet<(String, String)>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND (c.reltuples >= $1 OR (c.reltuples < 0 AND pg_catalog.pg_relation_size(c.oid) > 0))",
            &[&(threshold as f32)],
        )
        .ok()?;
    Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
