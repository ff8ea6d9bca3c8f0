//! When the primary stops answering in the middle of a rollout: ask the standbys retort knows
//! (`--replica-url`) which of them is a primary now, and what each has applied, and say what a
//! rerun will do.

use retort_migrate::{MigrateError, Plan, VersionStore};
use retort_replica::Topology;

use super::replica::{direct_standbys, RolloutOptions};

/// One standby as seen after the connection to the primary was lost.
struct Seen {
    name: String,
    /// None: unreachable.
    in_recovery: Option<bool>,
    /// The version table's heads (None when unreadable).
    heads: Option<Vec<String>>,
    url: String,
}

/// Lines for a run whose connection to the primary was lost: what the run committed, where
/// each known standby stands, which one was promoted, and what a rerun does. The first line
/// heads the error; the others are printed before it.
pub fn explain(
    err: &MigrateError,
    plan: &Plan,
    topology: &Topology,
    rollout: &RolloutOptions,
    schema: &str,
) -> Vec<String> {
    let (revision, applied) = match err {
        MigrateError::ConnectionLost {
            revision, applied, ..
        } => (revision.as_str(), *applied),
        _ => ("", 0),
    };
    let mut lines = Vec::new();
    let committed = plan.steps[..applied.min(plan.steps.len())]
        .last()
        .map(|s| s.revision.clone());
    lines.push("the primary stopped answering in the middle of the run".to_owned());
    lines.push(match &committed {
        Some(c) => format!(
            "this run committed {applied} of its {} migration(s) on the old primary, through {c}; \
             {revision} was in flight",
            plan.steps.len()
        ),
        None => format!("this run committed nothing on the old primary; {revision} was in flight"),
    });
    if rollout.replica_urls.is_empty() {
        lines.push(
            "retort knows no standby to ask which node is the primary now: give their URLs \
             with --replica-url and a failed-over primary is named here"
                .to_owned(),
        );
        return lines;
    }
    let store = VersionStore::new(schema);
    let mut seen = Vec::new();
    for (d, url) in direct_standbys(&rollout.replica_urls)
        .into_iter()
        .zip(&rollout.replica_urls)
    {
        let redacted = retort_pg::ConnConfig::parse(url)
            .map(|c| c.to_string())
            .unwrap_or_else(|_| retort_pg::redact_conn_string(url));
        let mut s = Seen {
            name: d.name.clone(),
            in_recovery: None,
            heads: None,
            url: redacted,
        };
        if let Some(mut c) = d.client {
            s.in_recovery = c
                .query_one("SELECT pg_is_in_recovery()", &[])
                .ok()
                .map(|r| r.get(0));
            s.heads = store.heads(&mut c).ok().map(|h| h.heads);
        }
        seen.push(s);
    }
    let heads_text = |h: &Option<Vec<String>>| match h {
        Some(h) if h.is_empty() => "no revision applied".to_owned(),
        Some(h) => format!("at {}", h.join(", ")),
        None => "version table unreadable".to_owned(),
    };
    for s in &seen {
        lines.push(match s.in_recovery {
            None => format!("  {} is unreachable", s.name),
            Some(true) => format!("  {} is still a standby, {}", s.name, heads_text(&s.heads)),
            Some(false) => format!(
                "  {} is a PRIMARY now (promoted), {}",
                s.name,
                heads_text(&s.heads)
            ),
        });
    }
    let promoted: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.in_recovery == Some(false))
        .collect();
    match promoted.as_slice() {
        [] => lines.push(
            "none of the standbys retort knows is a primary yet: once the primary is back (or \
             a standby is promoted), run the same command against it"
                .to_owned(),
        ),
        [p] => {
            let sync_state = topology
                .standbys
                .iter()
                .find(|s| s.name == p.name)
                .map(|s| s.sync_state.as_str());
            // Whether the promoted node has everything this run committed on the old one.
            let reached = committed.is_none()
                || p.heads.as_ref().is_some_and(|h| {
                    h.iter().any(|x| {
                        plan.steps
                            .iter()
                            .position(|s| &s.revision == x)
                            .is_some_and(|i| i + 1 >= applied)
                    })
                });
            lines.push(format!(
                "the new primary is {} ({}): rerun with -d pointing at it; it continues from the \
                 revision its version table holds, and applies nothing twice",
                p.name, p.url
            ));
            if matches!(sync_state, Some("sync" | "quorum")) {
                lines.push(format!(
                    "{} was a synchronous standby, so every migration the old primary committed \
                     is on it",
                    p.name
                ));
            } else {
                lines.push(format!(
                    "{} was an ASYNCHRONOUS standby{}: migrations the old primary committed \
                     after the last WAL it received are not on it, and the rerun applies them \
                     again there. That is asynchronous replication by design: what had not \
                     reached the standby is lost with the old primary{}",
                    p.name,
                    sync_state.map(|s| format!(" ({s})")).unwrap_or_default(),
                    if reached {
                        String::new()
                    } else {
                        format!(
                            "; here {} does not have {} yet",
                            p.name,
                            committed.as_deref().unwrap_or_default()
                        )
                    }
                ));
            }
        }
        several => {
            lines.push(format!(
            "several standbys are primaries ({}): a split brain; decide which one is the primary \
             before running anything",
            several.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        ))
        }
    }
    lines
}
