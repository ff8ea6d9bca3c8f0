//! Diff two snapshots into ordered changes, and render them as SQL.
//!
//! A pipeline; each stage is a module taking what the one before returns:
//! 1. [`objects`] pairs the two sides' objects by key;
//! 2. [`classify`] says what happens to each (same, create, drop, alter in place, re-create);
//! 3. [`propagate`] carries changes to partitions, children and dependents;
//! 4. [`replace`] plans in-place replacements of types and collations that columns use;
//! 5. [`render`] writes each object's statements, grouped for ordering;
//! 6. [`order`] sorts each group by pg_depend (Kahn, deterministic cycle breaking);
//! 7. [`hints`] names drop+create pairs that look like renames, and user mappings whose
//!    password the script leaves to be set by hand.
//!
//! The script runs in three phases, each ordered by real dependencies from pg_depend:
//! 1. early drops (reverse dependency order, from the old database): objects that go away or
//!    must be re-created, and everything that depends on them or on a column that is dropped
//!    or changes type;
//! 2. creates and alters (dependency order, from the new database);
//! 3. late drops of types, sequences, functions, extensions and schemas nothing needs any more
//!    (so a column can first stop using a type, then the type goes).

mod classify;
mod hints;
mod objects;
mod order;
mod propagate;
mod render;
mod replace;
#[cfg(test)]
mod testkit;

use crate::catalog::Snapshot;
use crate::name::ObjKey;

/// What a change does to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// CREATE (also the second half of a re-creation).
    Create,
    /// DROP (also the first half of a re-creation).
    Drop,
    /// ALTER in place.
    Alter,
}

/// One step of a diff: statements for one object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The object.
    pub key: ObjKey,
    /// What happens to it.
    pub action: Action,
    /// The SQL, without trailing semicolons.
    pub statements: Vec<String>,
    /// Why this step can lose data or fail on existing rows, when it can.
    pub destructive: Option<String>,
}

/// The ordered changes turning one schema into another.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SchemaDiff {
    /// Changes in the order they must run.
    pub changes: Vec<Change>,
    /// True when a statement (ALTER TYPE ... ADD VALUE) should run outside a transaction block.
    pub outside_transaction: bool,
    /// Drop+create pairs that look like renames, said as hints (never guessed silently), and
    /// passwords the script does not carry.
    pub hints: Vec<String>,
    /// Objects on either side that retort does not compare ("FROM has 2 foreign tables").
    pub not_compared: Vec<String>,
    /// Differences in the catalog rows ([`crate::closed`]) that no change is about: what
    /// retort cannot write yet. Not empty means the two schemas differ even when `changes`
    /// is empty.
    pub unwritten: Vec<String>,
}

impl SchemaDiff {
    /// True when the schemas are the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Every statement in order, starting with `SET [LOCAL] check_function_bodies = false` when a
    /// function is created (function bodies may name objects created later in the script).
    pub fn statements(&self) -> Vec<String> {
        let mut out = Vec::new();
        let functions = self
            .changes
            .iter()
            .any(|c| matches!(c.key, ObjKey::Function(..)) && c.action != Action::Drop);
        if functions {
            out.push(self.function_bodies_off().to_owned());
        }
        for c in &self.changes {
            out.extend(c.statements.iter().cloned());
        }
        out
    }

    /// Function bodies may name objects the script creates later. Scoped to the transaction
    /// the script runs in, so it does not leak into the rest of a session.
    fn function_bodies_off(&self) -> &'static str {
        if self.outside_transaction {
            "SET check_function_bodies = false"
        } else {
            "SET LOCAL check_function_bodies = false"
        }
    }

    /// The SQL script: statements ending in `;`, destructive steps marked with a comment.
    pub fn to_sql(&self) -> String {
        let mut out = String::new();
        if self
            .changes
            .iter()
            .any(|c| matches!(c.key, ObjKey::Function(..)) && c.action != Action::Drop)
        {
            out.push_str(self.function_bodies_off());
            out.push_str(";\n");
        }
        for c in &self.changes {
            if let Some(why) = &c.destructive {
                out.push_str(&format!("-- DESTRUCTIVE: {why}\n"));
            }
            for s in &c.statements {
                out.push_str(s);
                out.push_str(";\n");
            }
        }
        out
    }

    /// The SQL as a script that applies as printed (`retort diff A B | psql -v ON_ERROR_STOP=1`):
    /// one transaction around it, or, when it must run outside one (new enum values), statement
    /// by statement with session-level settings. [`to_sql`](Self::to_sql) is for migration files,
    /// whose runner supplies the transaction.
    pub fn to_script(&self) -> String {
        if self.changes.is_empty() {
            return String::new();
        }
        if self.outside_transaction {
            format!(
                "-- Runs outside a transaction (ALTER TYPE ... ADD VALUE): each statement commits on its own.\n{}",
                self.to_sql()
            )
        } else {
            format!("BEGIN;\n{}COMMIT;\n", self.to_sql())
        }
    }

    /// The destructive steps' warnings.
    pub fn destructive(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter_map(|c| c.destructive.as_deref())
            .collect()
    }
}

/// Computes the changes that turn `from` into `to`.
pub fn diff(from: &Snapshot, to: &Snapshot) -> SchemaDiff {
    let (a, b) = (&from.catalog, &to.catalog);
    // Objects the script creates start with the privileges `a`'s default privileges give.
    let started;
    let b = match crate::defaults::with_starting_acls(a, b) {
        Some(c) => {
            started = c;
            &started
        }
        None => b,
    };
    let (olds, news) = objects::pair(a, b);
    let mut classified = classify::classify(a, b, &olds, &news);
    propagate::down_inheritance(a, &mut classified);
    replace::ranges_over_changed_domains(&mut classified, a, &from.deps);
    let replaced_columns = replace::columns_to_replace(&mut classified, &from.deps);
    let defaults_to_reset = propagate::dependents(&mut classified, &from.deps, &news);
    propagate::follow_attached(&mut classified);
    let render::Planned {
        early,
        mut creates,
        owned_by,
        late,
    } = render::changes(
        &mut classified,
        &replaced_columns,
        defaults_to_reset,
        a,
        b,
        &olds,
        &news,
        &from.deps,
    );
    order::split_default_cycles(&mut creates, &to.deps, b);

    let mut outside_transaction = classified.outside_transaction;
    let mut changes = order::order(early, &from.deps, a, true);
    changes.extend(order::order(creates, &to.deps, b, false));
    changes.extend(owned_by);
    changes.extend(order::order(late, &from.deps, a, true));
    changes.retain(|c| !c.statements.is_empty());
    outside_transaction &= changes
        .iter()
        .any(|c| c.statements.iter().any(|s| s.contains(" ADD VALUE ")));

    let mut not_compared = Vec::new();
    for (side, snapshot) in [("FROM", from), ("TO", to)] {
        if !snapshot.not_compared.is_empty() {
            not_compared.push(format!(
                "{side} has {} that retort does not compare",
                snapshot.not_compared.join(", ")
            ));
        }
    }
    let unwritten = match (&from.closed, &to.closed) {
        (Some(x), Some(y)) => {
            let found = crate::closed::differences(x, y);
            let names = if found.is_empty() {
                Default::default()
            } else {
                crate::closed::changed_names(&changes, &[&from.deps, &to.deps], &[a, b])
            };
            found
                .into_iter()
                .filter(|u| !crate::closed::covered(u, &names))
                .map(|u| u.to_string())
                .collect()
        }
        _ => {
            not_compared.push(
                "the catalog rows the model does not hold were not compared (that needs \
                 PostgreSQL 14 or later on both sides)"
                    .into(),
            );
            Vec::new()
        }
    };
    SchemaDiff {
        changes,
        unwritten,
        outside_transaction,
        hints: {
            let mut h = hints::rename_hints(a, b, &classified.status);
            h.extend(hints::password_hints(a, b, &classified.status));
            h
        },
        not_compared,
    }
}
