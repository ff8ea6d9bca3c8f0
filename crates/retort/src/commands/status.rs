//! Read-only commands: `current`, `heads`, `branches`, `history`, `show`.

use std::process::ExitCode;

use anyhow::Result;
use retort_migrate::{Migration, MigrationRunner, RevisionGraph, Silent, VersionStore};
use serde_json::{json, Value};

use super::project::{connect, Project};
use crate::cli::GlobalArgs;
use crate::output::{table, Output};

fn summary(graph: &RevisionGraph, m: &Migration) -> Value {
    json!({
        "revision": m.revision,
        "message": m.message,
        "parents": m.parents,
        "depends_on": m.depends_on,
        "branch_labels": m.branch_labels,
        "children": graph.children_of(&m.revision).iter().map(|c| c.revision.as_str()).collect::<Vec<_>>(),
        "transactional": m.transactional,
        "has_down": m.down.is_some(),
        "file": m.path.display().to_string(),
    })
}

/// "(head) (branchpoint) (mergepoint) (label)" markers.
fn markers(graph: &RevisionGraph, m: &Migration) -> String {
    let mut out = Vec::new();
    let children = graph.children_of(&m.revision).len();
    if children == 0 {
        out.push("(head)".to_owned());
    }
    if children > 1 {
        out.push("(branchpoint)".to_owned());
    }
    if m.parents.len() > 1 {
        out.push("(mergepoint)".to_owned());
    }
    if !m.branch_labels.is_empty() {
        out.push(format!("({})", m.branch_labels.join(", ")));
    }
    out.join(" ")
}

/// "3f2a9c1b7e4d (head) message".
fn describe(graph: &RevisionGraph, m: &Migration) -> String {
    [m.revision.clone(), markers(graph, m), m.message.clone()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn current(global: &GlobalArgs, out: &Output) -> Result<ExitCode> {
    let project = Project::load(global)?;
    let graph = project.graph()?;
    let options = project.options(None, None, None)?;
    let mut client = connect(global)?;
    let mut silent = Silent;
    let mut runner = MigrationRunner::new(&mut client, &graph, options, &mut silent);
    let current = runner.current()?;
    let edited = if global.verbose > 0 {
        runner.edited(&current.state)?
    } else {
        Vec::new()
    };
    drop(runner);
    let invalid = retort_migrate::invalid_indexes(&mut client)?;
    let applied = graph.applied_revisions(&current.state).count();
    let expanded: Vec<&Migration> = graph.expanded(&current.state);
    let heads: Vec<&Migration> = current
        .stored
        .heads
        .iter()
        .filter_map(|h| graph.get(h))
        .collect();
    if out.json() {
        out.print_json(&json!({
            "initialized": current.stored.initialized,
            "heads": heads.iter().map(|m| json!({
                "revision": m.revision,
                "message": m.message,
                "is_graph_head": graph.children_of(&m.revision).is_empty(),
            })).collect::<Vec<_>>(),
            "applied": applied,
            "pending": graph.len() - applied,
            "edited": edited.iter().map(|e| json!({"revision": e.revision, "file": e.file.display().to_string(), "applied_checksum": e.applied, "file_checksum": e.now})).collect::<Vec<_>>(),
            "invalid_indexes": invalid,
            "expanded": expanded.iter().map(|m| json!({"revision": m.revision, "message": m.message})).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if heads.is_empty() {
        out.say(if current.stored.initialized {
            "base: no migrations applied".to_owned()
        } else {
            "base: no migrations applied (the version table does not exist yet)".to_owned()
        });
    }
    for m in &heads {
        out.say(describe(&graph, m));
    }
    out.note(format!(
        "{applied} of {} revisions applied, {} pending",
        graph.len(),
        graph.len() - applied
    ));
    for m in &expanded {
        out.say(format!(
            "expanded: {} ({}) serves the application version before it too; `retort complete` \
             runs its contract once that version is gone, `retort abort` undoes it",
            m.revision, m.message
        ));
    }
    for e in edited {
        out.note(format!("warning: {e}"));
    }
    for i in &invalid {
        out.note(format!("warning: {i}"));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn heads(global: &GlobalArgs, out: &Output) -> Result<ExitCode> {
    let graph = Project::load(global)?.graph()?;
    let heads = graph.heads();
    if out.json() {
        out.print_json(
            &json!({"heads": heads.iter().map(|m| summary(&graph, m)).collect::<Vec<_>>()}),
        )?;
    } else if heads.is_empty() {
        out.note("no migrations yet: `retort new -m MESSAGE` writes the first one");
    } else {
        for m in heads {
            out.say(describe(&graph, m));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn branches(global: &GlobalArgs, out: &Output) -> Result<ExitCode> {
    let graph = Project::load(global)?.graph()?;
    let points = graph.branch_points();
    if out.json() {
        out.print_json(&json!({"branch_points": points.iter().map(|m| summary(&graph, m)).collect::<Vec<_>>()}))?;
        return Ok(ExitCode::SUCCESS);
    }
    if points.is_empty() {
        out.note("no branch points: the graph is linear");
    }
    for m in points {
        out.say(describe(&graph, m));
        for c in graph.children_of(&m.revision) {
            out.say(format!("  -> {} {}", c.revision, c.message));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn history(
    global: &GlobalArgs,
    out: &Output,
    range: Option<&str>,
    applied: bool,
    limit: Option<i64>,
) -> Result<ExitCode> {
    let project = Project::load(global)?;
    if applied {
        let options = project.options(None, None, None)?;
        let mut client = connect(global)?;
        let entries = VersionStore::new(options.schema).history(&mut client, limit)?;
        if out.json() {
            out.print_json(&json!({"history": entries}))?;
            return Ok(ExitCode::SUCCESS);
        }
        if entries.is_empty() {
            out.note("nothing has been run on this database yet");
            return Ok(ExitCode::SUCCESS);
        }
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                let mut row = vec![
                    e.id.to_string(),
                    e.applied_at.clone(),
                    e.direction.clone(),
                    e.revision.clone(),
                    e.duration_ms
                        .map(|d| format!("{d:.1} ms"))
                        .unwrap_or_default(),
                    e.applied_by.clone(),
                    e.message.clone(),
                ];
                if global.verbose > 0 {
                    row.push(e.checksum.clone().unwrap_or_default());
                    row.push(e.note.clone().unwrap_or_default());
                }
                row
            })
            .collect();
        let mut header = vec![
            "id",
            "applied at (UTC)",
            "dir",
            "revision",
            "took",
            "by",
            "message",
        ];
        if global.verbose > 0 {
            header.extend(["checksum", "note"]);
        }
        print!("{}", table(&header, &rows));
        return Ok(ExitCode::SUCCESS);
    }
    let graph = project.graph()?;
    let (from, to) = match range {
        Some(r) => {
            let (a, b) = r
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("-r takes FROM:TO, like 3f2a:heads or base:ab12"))?;
            (
                Some(a).filter(|a| !a.is_empty()),
                Some(b).filter(|b| !b.is_empty()),
            )
        }
        None => (None, None),
    };
    let list = graph.range(from, to)?;
    if out.json() {
        out.print_json(&json!({"revisions": list.iter().map(|m| {
            let mut v = summary(&graph, m);
            v["checksum"] = json!(m.checksum());
            v
        }).collect::<Vec<_>>()}))?;
        return Ok(ExitCode::SUCCESS);
    }
    for m in list {
        let parents = if m.parents.is_empty() {
            "<base>".to_owned()
        } else {
            m.parents.join(", ")
        };
        let marks = markers(&graph, m);
        let marks = if marks.is_empty() {
            String::new()
        } else {
            format!(" {marks}")
        };
        out.say(format!("{parents} -> {}{marks}, {}", m.revision, m.message));
        if global.verbose > 0 {
            out.say(format!("    file: {}", m.path.display()));
            out.say(format!("    checksum: {}", m.checksum()));
            if !m.depends_on.is_empty() {
                out.say(format!("    depends on: {}", m.depends_on.join(", ")));
            }
            if !m.transactional {
                out.say("    transaction: off");
            }
            if m.down.is_none() {
                out.say("    no down section");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(global: &GlobalArgs, out: &Output, name: &str) -> Result<ExitCode> {
    let graph = Project::load(global)?.graph()?;
    let m = match retort_migrate::Target::parse(name)? {
        retort_migrate::Target::Head | retort_migrate::Target::LabelHead(_) => {
            let plan =
                graph.plan_upgrade(&graph.empty_state(), &retort_migrate::Target::parse(name)?)?;
            let last = plan.to_heads.into_iter().next().unwrap_or_default();
            graph.resolve(&last)?
        }
        _ => graph.resolve(name)?,
    };
    if out.json() {
        let mut v = summary(&graph, m);
        v["checksum"] = json!(m.checksum());
        v["up"] = json!(m.up.sql);
        v["down"] = json!(m.down.as_ref().map(|d| &d.sql));
        out.print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let children: Vec<String> = graph
        .children_of(&m.revision)
        .iter()
        .map(|c| c.revision.clone())
        .collect();
    out.say(format!(
        "revision:    {} {}",
        m.revision,
        markers(&graph, m)
    ));
    out.say(format!("message:     {}", m.message));
    out.say(format!("file:        {}", m.path.display()));
    out.say(format!(
        "parents:     {}",
        if m.parents.is_empty() {
            "<base>".into()
        } else {
            m.parents.join(", ")
        }
    ));
    out.say(format!(
        "children:    {}",
        if children.is_empty() {
            "<none>".into()
        } else {
            children.join(", ")
        }
    ));
    if !m.depends_on.is_empty() {
        out.say(format!("depends on:  {}", m.depends_on.join(", ")));
    }
    if !m.branch_labels.is_empty() {
        out.say(format!("labels:      {}", m.branch_labels.join(", ")));
    }
    out.say(format!(
        "transaction: {}",
        if m.transactional { "on" } else { "off" }
    ));
    out.say(format!("checksum:    {}", m.checksum()));
    out.say(format!("\n-- up\n{}", m.up.sql.trim_end()));
    match &m.down {
        Some(d) => out.say(format!("\n-- down\n{}", d.sql.trim_end())),
        None => out.say("\n-- no down section"),
    }
    Ok(ExitCode::SUCCESS)
}
