//! The revision graph: a DAG of migrations linked by `parents` and `depends-on`, target
//! resolution, and the ordered steps between two states.
//!
//! A database's state is the set of applied revisions. It is always closed under parents and
//! depends-on, so it is determined by its heads: the applied revisions with no applied child.
//! Those heads are what `retort.version` holds, exactly as Alembic keeps `alembic_version`.
//! `depends-on` orders but never merges: a revision and the one it depends on can both be heads.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::error::{Location, MigrateError};
use crate::file::Migration;
use crate::target::Target;

/// Upgrade or downgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Applying `up` sections.
    Up,
    /// Applying `down` sections.
    Down,
}

impl Direction {
    /// "up" or "down".
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// The migrations as a validated DAG, in a deterministic topological order.
#[derive(Debug, Clone)]
pub struct RevisionGraph {
    migrations: Vec<Migration>,
    index: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
    deps: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    labels: HashMap<String, usize>,
}

/// A set of applied revisions (closed under parents and depends-on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSet {
    applied: Vec<bool>,
}

/// One migration to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The revision.
    pub revision: String,
    /// Which section runs.
    pub direction: Direction,
    /// Version-table rows to delete after this step.
    pub remove_heads: Vec<String>,
    /// Version-table rows to insert after this step.
    pub add_heads: Vec<String>,
}

/// The ordered steps from one state to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Up or down.
    pub direction: Direction,
    /// Steps in the order they must run.
    pub steps: Vec<Step>,
    /// Heads before.
    pub from_heads: Vec<String>,
    /// Heads after.
    pub to_heads: Vec<String>,
    /// Contract phases the target reaches but an upgrade leaves for `retort complete` (with
    /// everything that comes after them).
    pub held: Vec<String>,
}

impl RevisionGraph {
    /// Builds and validates the graph.
    ///
    /// Errors: duplicate revisions, a parent or depends-on naming an unknown revision, a branch
    /// label used twice, a cycle (named, with the files on it).
    pub fn new(mut migrations: Vec<Migration>) -> Result<RevisionGraph, MigrateError> {
        migrations.sort_by(|a, b| a.path.cmp(&b.path));
        let mut index = HashMap::with_capacity(migrations.len());
        for (i, m) in migrations.iter().enumerate() {
            if let Some(&first) = index.get(&m.revision) {
                let first: &Migration = &migrations[first];
                return Err(MigrateError::DuplicateRevision {
                    revision: m.revision.clone(),
                    first: first.location("revision"),
                    second: m.location("revision"),
                });
            }
            index.insert(m.revision.clone(), i);
        }
        let lookup = |m: &Migration, list: &[String], key: &'static str| {
            list.iter()
                .map(|r| {
                    index
                        .get(r)
                        .copied()
                        .ok_or_else(|| MigrateError::MissingRevision {
                            at: m.location(key),
                            revision: m.revision.clone(),
                            kind: if key == "parents" {
                                "parent"
                            } else {
                                "depends-on"
                            },
                            missing: r.clone(),
                        })
                })
                .collect::<Result<Vec<usize>, _>>()
        };
        let mut parents = Vec::with_capacity(migrations.len());
        let mut deps = Vec::with_capacity(migrations.len());
        for m in &migrations {
            parents.push(lookup(m, &m.parents, "parents")?);
            deps.push(lookup(m, &m.depends_on, "depends-on")?);
        }
        let mut labels: HashMap<String, usize> = HashMap::new();
        for (i, m) in migrations.iter().enumerate() {
            for label in &m.branch_labels {
                if let Some(&first) = labels.get(label) {
                    return Err(MigrateError::DuplicateLabel {
                        label: label.clone(),
                        first: migrations[first].location("branch-labels"),
                        second: m.location("branch-labels"),
                    });
                }
                labels.insert(label.clone(), i);
            }
        }
        let order = topological_order(&migrations, &parents, &deps)?;
        // Renumber everything into topological order so that sorting indices sorts topologically.
        let mut new_pos = vec![0; migrations.len()];
        for (pos, &old) in order.iter().enumerate() {
            new_pos[old] = pos;
        }
        let remap = |lists: Vec<Vec<usize>>| -> Vec<Vec<usize>> {
            let mut out = vec![Vec::new(); lists.len()];
            for (old, list) in lists.into_iter().enumerate() {
                let mut l: Vec<usize> = list.into_iter().map(|x| new_pos[x]).collect();
                l.sort_unstable();
                out[new_pos[old]] = l;
            }
            out
        };
        let parents = remap(parents);
        let deps = remap(deps);
        let mut slots: Vec<Option<Migration>> = migrations.into_iter().map(Some).collect();
        let migrations: Vec<Migration> = order
            .iter()
            .map(|&old| {
                slots[old]
                    .take()
                    .expect("each index appears once in the order")
            })
            .collect();
        let index = migrations
            .iter()
            .enumerate()
            .map(|(i, m)| (m.revision.clone(), i))
            .collect();
        let labels = labels
            .into_iter()
            .map(|(l, old)| (l, new_pos[old]))
            .collect();
        let mut children = vec![Vec::new(); migrations.len()];
        let mut dependents = vec![Vec::new(); migrations.len()];
        for i in 0..migrations.len() {
            for &p in &parents[i] {
                children[p].push(i);
            }
            for &d in &deps[i] {
                dependents[d].push(i);
            }
        }
        Ok(RevisionGraph {
            migrations,
            index,
            parents,
            deps,
            children,
            dependents,
            labels,
        })
    }

    /// The migrations in topological order (parents and dependencies first).
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// Number of revisions.
    pub fn len(&self) -> usize {
        self.migrations.len()
    }

    /// True when there are no migrations.
    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }

    /// The migration with this exact revision id.
    pub fn get(&self, revision: &str) -> Option<&Migration> {
        self.index.get(revision).map(|&i| &self.migrations[i])
    }

    /// Revisions with no children: where new migrations go.
    pub fn heads(&self) -> Vec<&Migration> {
        self.head_indices()
            .into_iter()
            .map(|i| &self.migrations[i])
            .collect()
    }

    fn head_indices(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.children[i].is_empty())
            .collect()
    }

    /// Revisions with no parents.
    pub fn bases(&self) -> Vec<&Migration> {
        (0..self.len())
            .filter(|&i| self.parents[i].is_empty())
            .map(|i| &self.migrations[i])
            .collect()
    }

    /// The revisions listing `revision` as a parent.
    pub fn children_of(&self, revision: &str) -> Vec<&Migration> {
        self.index
            .get(revision)
            .map(|&i| {
                self.children[i]
                    .iter()
                    .map(|&c| &self.migrations[c])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The revisions listing `revision` in depends-on.
    pub fn dependents_of(&self, revision: &str) -> Vec<&Migration> {
        self.index
            .get(revision)
            .map(|&i| {
                self.dependents[i]
                    .iter()
                    .map(|&c| &self.migrations[c])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Revisions with more than one child.
    pub fn branch_points(&self) -> Vec<&Migration> {
        (0..self.len())
            .filter(|&i| self.children[i].len() > 1)
            .map(|i| &self.migrations[i])
            .collect()
    }

    /// Resolves a revision id, a unique prefix (≥ 4 characters) or a branch label.
    ///
    /// Errors: unknown, too short, or ambiguous (listing the candidates).
    pub fn resolve(&self, name: &str) -> Result<&Migration, MigrateError> {
        self.resolve_index(name).map(|i| &self.migrations[i])
    }

    fn resolve_index(&self, name: &str) -> Result<usize, MigrateError> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        if let Some(&i) = self.labels.get(name) {
            return Ok(i);
        }
        if name.len() < 4 {
            return Err(MigrateError::Target(format!(
                "`{name}` is not a revision or branch label; a revision prefix needs at least 4 \
                 characters"
            )));
        }
        let mut matches: Vec<usize> = self
            .index
            .iter()
            .filter(|(rev, _)| rev.starts_with(name))
            .map(|(_, &i)| i)
            .collect();
        matches.sort_unstable();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(MigrateError::Target(format!(
                "no revision or branch label `{name}` in the migrations"
            ))),
            many => Err(MigrateError::Target(format!(
                "`{name}` is ambiguous: it starts {} revisions: {}; give more characters",
                many.len(),
                many.iter()
                    .map(|&i| self.describe(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn describe(&self, i: usize) -> String {
        let m = &self.migrations[i];
        if m.message.is_empty() {
            m.revision.clone()
        } else {
            format!("{} ({})", m.revision, m.message)
        }
    }

    fn describe_all(&self, list: &[usize]) -> String {
        list.iter()
            .map(|&i| self.describe(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The state whose heads are the version-table rows.
    ///
    /// Errors: a row naming a revision the migrations do not have.
    pub fn state_from_heads<S: AsRef<str>>(&self, rows: &[S]) -> Result<AppliedSet, MigrateError> {
        let mut start = Vec::with_capacity(rows.len());
        for row in rows {
            let row = row.as_ref();
            let i = self
                .index
                .get(row)
                .copied()
                .ok_or_else(|| MigrateError::UnknownApplied {
                    revision: row.to_owned(),
                })?;
            start.push(i);
        }
        Ok(AppliedSet {
            applied: self.ancestors(&start, true),
        })
    }

    /// The empty state.
    pub fn empty_state(&self) -> AppliedSet {
        AppliedSet {
            applied: vec![false; self.len()],
        }
    }

    /// The heads of a state, sorted by revision id.
    pub fn heads_of(&self, state: &AppliedSet) -> Vec<String> {
        let mut heads: Vec<String> = (0..self.len())
            .filter(|&i| state.applied[i] && !self.children[i].iter().any(|&c| state.applied[c]))
            .map(|i| self.migrations[i].revision.clone())
            .collect();
        heads.sort();
        heads
    }

    /// The applied revisions of a state in topological order.
    pub fn applied_revisions<'a>(
        &'a self,
        state: &'a AppliedSet,
    ) -> impl Iterator<Item = &'a Migration> + 'a {
        (0..self.len())
            .filter(|&i| state.applied[i])
            .map(|i| &self.migrations[i])
    }

    /// Whether `revision` is applied in `state`.
    pub fn is_applied(&self, state: &AppliedSet, revision: &str) -> bool {
        self.index.get(revision).is_some_and(|&i| state.applied[i])
    }

    /// `start` plus everything it needs (parents and depends-on, transitively).
    fn ancestors(&self, start: &[usize], include_start: bool) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<usize> = Vec::new();
        for &s in start {
            if include_start {
                if !seen[s] {
                    seen[s] = true;
                    stack.push(s);
                }
            } else {
                stack.push(s);
            }
        }
        while let Some(i) = stack.pop() {
            for &p in self.parents[i].iter().chain(&self.deps[i]) {
                if !seen[p] {
                    seen[p] = true;
                    stack.push(p);
                }
            }
        }
        seen
    }

    /// `start` plus everything that needs it (children and dependents, transitively).
    fn descendants(&self, start: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<usize> = start.to_vec();
        for &s in start {
            seen[s] = true;
        }
        while let Some(i) = stack.pop() {
            for &c in self.children[i].iter().chain(&self.dependents[i]) {
                if !seen[c] {
                    seen[c] = true;
                    stack.push(c);
                }
            }
        }
        seen
    }

    fn single_head(&self) -> Result<usize, MigrateError> {
        let heads = self.head_indices();
        match heads.as_slice() {
            [one] => Ok(*one),
            [] => Err(MigrateError::Target("there are no migrations yet".into())),
            many => Err(MigrateError::Target(format!(
                "`head` is ambiguous: the graph has {} heads: {}; use heads, a revision, or merge \
                 them with `retort merge heads`",
                many.len(),
                self.describe_all(many)
            ))),
        }
    }

    fn label_head(&self, label: &str) -> Result<usize, MigrateError> {
        let start = self.resolve_index(label)?;
        let mut seen = vec![false; self.len()];
        let mut stack = vec![start];
        seen[start] = true;
        let mut heads = Vec::new();
        while let Some(i) = stack.pop() {
            if self.children[i].is_empty() {
                heads.push(i);
            }
            for &c in &self.children[i] {
                if !seen[c] {
                    seen[c] = true;
                    stack.push(c);
                }
            }
        }
        heads.sort_unstable();
        match heads.as_slice() {
            [one] => Ok(*one),
            many => Err(MigrateError::Target(format!(
                "`{label}@head` is ambiguous: the branch has {} heads: {}; name one",
                many.len(),
                self.describe_all(many)
            ))),
        }
    }

    /// A named target, possibly with a `+N`/`-N` suffix walked along unique children/parents.
    fn resolve_named(&self, name: &str) -> Result<usize, MigrateError> {
        let direct = self.resolve_index(name);
        if direct.is_ok() {
            return direct;
        }
        let Some(pos) = name.rfind(['+', '-']) else {
            return direct;
        };
        let (base, steps) = name.split_at(pos);
        let Ok(n) = steps[1..].parse::<usize>() else {
            return direct;
        };
        if base.is_empty() {
            return direct;
        }
        let mut at = self.resolve_index(base)?;
        let up = steps.starts_with('+');
        for step in 0..n {
            let next = if up {
                &self.children[at]
            } else {
                &self.parents[at]
            };
            at = match next.as_slice() {
                [one] => *one,
                [] => {
                    return Err(MigrateError::Target(format!(
                        "`{name}`: {} has no {} ({} of {n} steps taken)",
                        self.describe(at),
                        if up { "child" } else { "parent" },
                        step
                    )))
                }
                many => {
                    return Err(MigrateError::Target(format!(
                        "`{name}`: {} is a {} point with {}: {}; name the one you mean",
                        self.describe(at),
                        if up { "branch" } else { "merge" },
                        if up { "children" } else { "parents" },
                        self.describe_all(many)
                    )))
                }
            };
        }
        Ok(at)
    }

    /// Steps that take `state` up to `target`.
    ///
    /// Errors: an unresolvable target, `base` or `-N` (those are downgrades), an ambiguous `+N`.
    pub fn plan_upgrade(&self, state: &AppliedSet, target: &Target) -> Result<Plan, MigrateError> {
        self.plan_upgrade_with(state, target, true)
    }

    /// [`RevisionGraph::plan_upgrade`], holding contract phases back (`hold_contracts`) or not.
    pub fn plan_upgrade_with(
        &self,
        state: &AppliedSet,
        target: &Target,
        hold_contracts: bool,
    ) -> Result<Plan, MigrateError> {
        let goal: Vec<bool> = match target {
            Target::Heads => self.ancestors(&self.head_indices(), true),
            Target::Head => self.ancestors(&[self.single_head()?], true),
            Target::Named(name) => self.ancestors(&[self.resolve_named(name)?], true),
            Target::LabelHead(label) => self.ancestors(&[self.label_head(label)?], true),
            Target::Relative(n) if *n > 0 => {
                let mut s = state.applied.clone();
                for _ in 0..*n {
                    let next: Vec<usize> = (0..self.len())
                        .filter(|&i| {
                            !s[i] && self.parents[i].iter().chain(&self.deps[i]).all(|&p| s[p])
                        })
                        .collect();
                    match next.as_slice() {
                        [one] => s[*one] = true,
                        [] => {
                            return Err(MigrateError::Target(format!(
                                "`+{n}` goes past the heads; {} more step(s) are possible",
                                s.iter()
                                    .zip(&state.applied)
                                    .filter(|(a, b)| **a && !**b)
                                    .count()
                            )))
                        }
                        many => {
                            return Err(MigrateError::Target(format!(
                                "`+{n}` is ambiguous: the next step could be any of {}; name one \
                                 (retort upgrade REV or REV+N)",
                                self.describe_all(many)
                            )))
                        }
                    }
                }
                s
            }
            Target::Base | Target::Relative(_) | Target::LabelBase(_) => {
                return Err(MigrateError::Target(format!(
                    "`{target}` is a downgrade target; use `retort downgrade {target}`"
                )))
            }
        };
        // A contract phase waits for `retort complete`, and so does all that comes after it.
        let held: Vec<usize> = (0..self.len())
            .filter(|&i| {
                hold_contracts
                    && goal[i]
                    && !state.applied[i]
                    && self.migrations[i].phase == crate::file::Phase::Contract
            })
            .collect();
        let mut goal = goal;
        if !held.is_empty() {
            let after = self.descendants(&held);
            for (i, g) in goal.iter_mut().enumerate() {
                if after[i] && !state.applied[i] {
                    *g = false;
                }
            }
        }
        let mut to_apply = Vec::new();
        for (i, (&want, &have)) in goal.iter().zip(&state.applied).enumerate() {
            if want && !have {
                to_apply.push(i);
            }
        }
        let mut plan = self.build_plan(state, Direction::Up, to_apply);
        plan.held = held
            .iter()
            .map(|&i| self.migrations[i].revision.clone())
            .collect();
        Ok(plan)
    }

    /// The contract phases whose expand (and everything else they need) is applied: what
    /// `retort complete` runs.
    ///
    /// Errors: none is waiting.
    pub fn plan_complete(&self, state: &AppliedSet) -> Result<Plan, MigrateError> {
        let ready: Vec<usize> = (0..self.len())
            .filter(|&i| {
                !state.applied[i]
                    && self.migrations[i].phase == crate::file::Phase::Contract
                    && self.parents[i]
                        .iter()
                        .chain(&self.deps[i])
                        .all(|&p| state.applied[p])
            })
            .collect();
        if ready.is_empty() {
            return Err(MigrateError::Target(
                "nothing to complete: no applied expand phase waits for its contract \
                 (`retort upgrade` runs expand phases; `retort history` shows the phases)"
                    .into(),
            ));
        }
        Ok(self.build_plan(state, Direction::Up, ready))
    }

    /// The applied expand phases whose contract has not run: what `retort abort` undoes and
    /// whose old shapes are still served.
    pub fn expanded(&self, state: &AppliedSet) -> Vec<&Migration> {
        let mut out: Vec<usize> = (0..self.len())
            .filter(|&c| {
                !state.applied[c] && self.migrations[c].phase == crate::file::Phase::Contract
            })
            .filter_map(|c| self.expand_index(c))
            .filter(|&e| state.applied[e])
            .collect();
        out.sort_unstable();
        out.dedup();
        out.into_iter().map(|i| &self.migrations[i]).collect()
    }

    /// Every revision `revision` needs (parents and depends-on, transitively), not itself;
    /// empty for a revision the graph does not have.
    pub fn ancestors_of(&self, revision: &str) -> Vec<&Migration> {
        let Some(&i) = self.index.get(revision) else {
            return Vec::new();
        };
        self.ancestors(&[i], false)
            .iter()
            .enumerate()
            .filter(|(_, &a)| a)
            .map(|(j, _)| &self.migrations[j])
            .collect()
    }

    /// The expand phase a contract phase closes: the nearest ancestor marked expand (the
    /// migrations between them are its backfills and swaps).
    pub fn expand_of(&self, contract: &str) -> Option<&Migration> {
        let i = *self.index.get(contract)?;
        self.expand_index(i).map(|e| &self.migrations[e])
    }

    fn expand_index(&self, contract: usize) -> Option<usize> {
        let mut stack: Vec<usize> = self.parents[contract].clone();
        let mut seen = vec![false; self.len()];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if self.migrations[i].phase == crate::file::Phase::Expand {
                return Some(i);
            }
            stack.extend(self.parents[i].iter().copied());
        }
        None
    }

    /// Steps that take `state` down to `target`.
    ///
    /// Errors: an unresolvable target, a revision that is not applied, `heads`/`+N` (upgrades),
    /// an ambiguous `-N`.
    pub fn plan_downgrade(
        &self,
        state: &AppliedSet,
        target: &Target,
    ) -> Result<Plan, MigrateError> {
        let remove: Vec<bool> = match target {
            Target::Base => state.applied.clone(),
            Target::Named(_) | Target::LabelHead(_) => {
                let i = match target {
                    Target::Named(name) => self.resolve_named(name)?,
                    Target::LabelHead(label) => self.label_head(label)?,
                    _ => unreachable!("matched above"),
                };
                if !state.applied[i] {
                    return Err(MigrateError::Target(format!(
                        "{} is not applied, so there is nothing to downgrade to; the database \
                         is at {}",
                        self.describe(i),
                        self.heads_text(state)
                    )));
                }
                let mut d = self.descendants(&[i]);
                d[i] = false;
                d
            }
            Target::LabelBase(label) => {
                let i = self.resolve_index(label)?;
                self.descendants(&[i])
            }
            Target::Relative(n) if *n < 0 => {
                let mut s = state.applied.clone();
                let mut removed = vec![false; self.len()];
                for _ in 0..n.unsigned_abs() {
                    let removable: Vec<usize> = (0..self.len())
                        .filter(|&i| {
                            s[i] && !self.children[i]
                                .iter()
                                .chain(&self.dependents[i])
                                .any(|&c| s[c])
                        })
                        .collect();
                    match removable.as_slice() {
                        [one] => {
                            s[*one] = false;
                            removed[*one] = true;
                        }
                        [] => {
                            return Err(MigrateError::Target(format!(
                                "`{target}` goes below base; only {} revision(s) are applied",
                                state.applied.iter().filter(|a| **a).count()
                            )))
                        }
                        many => {
                            return Err(MigrateError::Target(format!(
                                "`{target}` is ambiguous: the database has several heads ({}); \
                                 name the head to remove, e.g. `retort downgrade {}@base`",
                                self.describe_all(many),
                                self.migrations[many[0]].revision
                            )))
                        }
                    }
                }
                removed
            }
            Target::Heads | Target::Head | Target::Relative(_) => {
                return Err(MigrateError::Target(format!(
                    "`{target}` is an upgrade target; a downgrade needs base, -N or a revision"
                )))
            }
        };
        let mut to_remove: Vec<usize> = (0..self.len())
            .filter(|&i| remove[i] && state.applied[i])
            .collect();
        to_remove.reverse();
        Ok(self.build_plan(state, Direction::Down, to_remove))
    }

    /// The state `stamp` should record for `targets`: exactly what they need, nothing else.
    pub fn stamp_state(
        &self,
        state: &AppliedSet,
        targets: &[Target],
    ) -> Result<AppliedSet, MigrateError> {
        let mut applied = vec![false; self.len()];
        for target in targets {
            let part = match target {
                Target::Base => vec![false; self.len()],
                Target::Relative(n) if *n < 0 => {
                    let plan = self.plan_downgrade(state, target)?;
                    let mut s = state.applied.clone();
                    for step in &plan.steps {
                        s[self.index[&step.revision]] = false;
                    }
                    s
                }
                Target::Relative(_) => {
                    let plan = self.plan_upgrade(state, target)?;
                    let mut s = state.applied.clone();
                    for step in &plan.steps {
                        s[self.index[&step.revision]] = true;
                    }
                    s
                }
                Target::LabelBase(_) => {
                    return Err(MigrateError::Target(format!(
                        "`{target}` only makes sense for downgrade"
                    )))
                }
                _ => self.plan_upgrade(&self.empty_state(), target).map(|p| {
                    let mut s = vec![false; self.len()];
                    for step in &p.steps {
                        s[self.index[&step.revision]] = true;
                    }
                    s
                })?,
            };
            for (a, b) in applied.iter_mut().zip(part) {
                *a |= b;
            }
        }
        Ok(AppliedSet { applied })
    }

    fn heads_text(&self, state: &AppliedSet) -> String {
        let heads = self.heads_of(state);
        if heads.is_empty() {
            "base (nothing applied)".into()
        } else {
            heads.join(", ")
        }
    }

    /// Orders `revisions` (up: topological; down: reverse) and works out the version-table rows
    /// after each step.
    fn build_plan(
        &self,
        state: &AppliedSet,
        direction: Direction,
        mut revisions: Vec<usize>,
    ) -> Plan {
        match direction {
            Direction::Up => revisions.sort_unstable(),
            Direction::Down => revisions.sort_unstable_by_key(|&i| Reverse(i)),
        }
        let from_heads = self.heads_of(state);
        let mut s = state.applied.clone();
        let mut steps = Vec::with_capacity(revisions.len());
        for i in revisions {
            let mut remove_heads = Vec::new();
            let mut add_heads = Vec::new();
            match direction {
                Direction::Up => {
                    // A parent stops being a head once it has an applied child.
                    for &p in &self.parents[i] {
                        if !self.children[p].iter().any(|&c| s[c]) {
                            remove_heads.push(self.migrations[p].revision.clone());
                        }
                    }
                    s[i] = true;
                    add_heads.push(self.migrations[i].revision.clone());
                }
                Direction::Down => {
                    s[i] = false;
                    remove_heads.push(self.migrations[i].revision.clone());
                    for &p in &self.parents[i] {
                        if !self.children[p].iter().any(|&c| s[c]) {
                            add_heads.push(self.migrations[p].revision.clone());
                        }
                    }
                }
            }
            remove_heads.sort();
            add_heads.sort();
            steps.push(Step {
                revision: self.migrations[i].revision.clone(),
                direction,
                remove_heads,
                add_heads,
            });
        }
        let to_heads = self.heads_of(&AppliedSet { applied: s });
        Plan {
            direction,
            steps,
            from_heads,
            to_heads,
            held: Vec::new(),
        }
    }

    /// The revisions that are descendants of `from` and ancestors of `to` (both inclusive),
    /// newest first, for `history -r FROM:TO`. `None` means base / heads.
    pub fn range(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<&Migration>, MigrateError> {
        let upper = match to {
            None | Some("heads") => vec![true; self.len()],
            Some(name) => self.ancestors(&[self.resolve_named(name)?], true),
        };
        let lower = match from {
            None | Some("base") => vec![true; self.len()],
            Some(name) => self.descendants(&[self.resolve_named(name)?]),
        };
        Ok((0..self.len())
            .rev()
            .filter(|&i| upper[i] && lower[i])
            .map(|i| &self.migrations[i])
            .collect())
    }

    /// Every revision's parents (as ids) in topological order, for drawing.
    pub fn edges(&self) -> Vec<(&str, &str, EdgeKind)> {
        let mut out = Vec::new();
        for i in 0..self.len() {
            for &p in &self.parents[i] {
                out.push((
                    self.migrations[p].revision.as_str(),
                    self.migrations[i].revision.as_str(),
                    EdgeKind::Parent,
                ));
            }
            for &d in &self.deps[i] {
                out.push((
                    self.migrations[d].revision.as_str(),
                    self.migrations[i].revision.as_str(),
                    EdgeKind::DependsOn,
                ));
            }
        }
        out
    }
}

/// The kind of an edge in [`RevisionGraph::edges`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `parents`.
    Parent,
    /// `depends-on`.
    DependsOn,
}

/// Kahn's algorithm; ties broken by (depth, revision id) so the order is deterministic and
/// older work runs first. On a cycle, finds and names one.
fn topological_order(
    migrations: &[Migration],
    parents: &[Vec<usize>],
    deps: &[Vec<usize>],
) -> Result<Vec<usize>, MigrateError> {
    let n = migrations.len();
    let mut indegree = vec![0usize; n];
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for &p in parents[i].iter().chain(&deps[i]) {
            indegree[i] += 1;
            out_edges[p].push(i);
        }
    }
    let mut depth = vec![0usize; n];
    let mut heap: BinaryHeap<Reverse<(usize, &str, usize)>> = (0..n)
        .filter(|&i| indegree[i] == 0)
        .map(|i| Reverse((0, migrations[i].revision.as_str(), i)))
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse((d, _, i))) = heap.pop() {
        order.push(i);
        for &c in &out_edges[i] {
            depth[c] = depth[c].max(d + 1);
            indegree[c] -= 1;
            if indegree[c] == 0 {
                heap.push(Reverse((depth[c], migrations[c].revision.as_str(), c)));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk parent/dependency edges among the unsorted nodes until one repeats.
    let start = (0..n)
        .filter(|&i| indegree[i] > 0)
        .min_by(|&a, &b| migrations[a].revision.cmp(&migrations[b].revision))
        .expect("a node is left when the order is short");
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = parents[at]
            .iter()
            .chain(&deps[at])
            .copied()
            .find(|&p| indegree[p] > 0)
            .expect("a node on a cycle has an unsorted predecessor");
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<usize> = path[pos..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            return Err(MigrateError::Cycle {
                path: cycle
                    .iter()
                    .map(|&i| migrations[i].revision.clone())
                    .collect(),
                files: cycle[..cycle.len() - 1]
                    .iter()
                    .map(|&i| Location {
                        file: migrations[i].path.clone(),
                        line: migrations[i].line_of("parents"),
                    })
                    .collect(),
            });
        }
        path.push(next);
        at = next;
    }
}
