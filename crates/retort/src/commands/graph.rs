//! `retort graph`: the revision graph as text, Mermaid, Graphviz dot or JSON.

use std::process::ExitCode;

use anyhow::Result;
use retort_migrate::{EdgeKind, RevisionGraph};
use serde_json::json;

use super::project::Project;
use crate::cli::{Format, GlobalArgs};
use crate::output::Output;

pub fn run(global: &GlobalArgs, out: &Output) -> Result<ExitCode> {
    let graph = Project::load(global)?.graph()?;
    match out.format {
        Format::Mermaid => print!("{}", mermaid(&graph)),
        Format::Dot => print!("{}", dot(&graph)),
        Format::Json => out.print_json(&json!({
            "nodes": graph.migrations().iter().map(|m| json!({
                "revision": m.revision, "message": m.message, "branch_labels": m.branch_labels,
            })).collect::<Vec<_>>(),
            "edges": graph.edges().iter().map(|(from, to, kind)| json!({
                "from": from, "to": to,
                "kind": match kind { EdgeKind::Parent => "parent", EdgeKind::DependsOn => "depends-on" },
            })).collect::<Vec<_>>(),
        }))?,
        // --format sarif is refused for graph before we get here.
        Format::Human | Format::Sarif => {
            for m in graph.migrations().iter().rev() {
                let deps = if m.depends_on.is_empty() {
                    String::new()
                } else {
                    format!(" (needs {})", m.depends_on.join(", "))
                };
                let parents = if m.parents.is_empty() { "<base>".to_owned() } else { m.parents.join(" + ") };
                out.say(format!("{} <- {}{}  {}", m.revision, parents, deps, m.message));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn label(graph: &RevisionGraph, revision: &str) -> String {
    let m = graph.get(revision);
    let message = m.map(|m| m.message.as_str()).unwrap_or_default();
    let labels = m
        .filter(|m| !m.branch_labels.is_empty())
        .map(|m| format!(" [{}]", m.branch_labels.join(", ")))
        .unwrap_or_default();
    format!("{revision}{labels}: {message}")
}

/// Mermaid flowchart; quotes in labels become #quot; as Mermaid expects.
pub fn mermaid(graph: &RevisionGraph) -> String {
    let mut s = String::from("flowchart BT\n");
    for m in graph.migrations() {
        s.push_str(&format!(
            "    r{}[\"{}\"]\n",
            m.revision,
            label(graph, &m.revision).replace('"', "#quot;")
        ));
    }
    for (from, to, kind) in graph.edges() {
        match kind {
            EdgeKind::Parent => s.push_str(&format!("    r{from} --> r{to}\n")),
            EdgeKind::DependsOn => s.push_str(&format!("    r{from} -.->|depends-on| r{to}\n")),
        }
    }
    s
}

/// Graphviz digraph, parents pointing at children.
pub fn dot(graph: &RevisionGraph) -> String {
    let mut s = String::from("digraph retort {\n    rankdir=BT;\n    node [shape=box];\n");
    for m in graph.migrations() {
        s.push_str(&format!(
            "    \"{}\" [label=\"{}\"];\n",
            m.revision,
            label(graph, &m.revision)
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
        ));
    }
    for (from, to, kind) in graph.edges() {
        match kind {
            EdgeKind::Parent => s.push_str(&format!("    \"{from}\" -> \"{to}\";\n")),
            EdgeKind::DependsOn => s.push_str(&format!(
                "    \"{from}\" -> \"{to}\" [style=dashed, label=\"depends-on\"];\n"
            )),
        }
    }
    s.push_str("}\n");
    s
}
