//! The rules, one file each. A rule looks at a migration's statements and drafts findings; the
//! engine ([`crate::lint`]) adds place, lock, table size and excuses.

use pg_query::protobuf::node::Node as N;

use crate::context::{LintContext, TableFacts};
use crate::lock::LockMode;
use crate::statement::{Effect, Statement};

mod concurrently_in_transaction;
mod constraint_not_valid;
mod ddl_with_dml;
mod drop_cascade;
mod enum_value_removal;
mod index_not_concurrent;
mod no_lock_timeout;
mod not_null_without_default;
mod reindex_not_concurrent;
mod rename_or_drop;
mod set_not_null;
mod type_change_rewrite;
mod vacuum_full_or_cluster;
mod volatile_default;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Risky: locks, rewrites, scans.
    Warning,
    /// Will fail, or loses data.
    Error,
}

/// What a rule reports before the engine adds the rest.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Index of the statement in the migration.
    pub at: usize,
    /// The relation concerned, as written.
    pub relation: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The safer way.
    pub fix: String,
    /// How bad.
    pub severity: Severity,
}

/// One migration (or SQL file) being linted.
pub struct Target<'a> {
    /// Its statements.
    pub statements: &'a [Statement],
    /// It runs in one transaction.
    pub transactional: bool,
    /// The lint context.
    pub ctx: &'a LintContext,
}

/// An existing table, as far as the lint knows.
pub struct Existing<'a> {
    /// Live facts, when linting against a database.
    pub facts: Option<&'a TableFacts>,
}

/// Two relation names written possibly with and without schema.
pub fn same_relation(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let base = |s: &str| s.rsplit('.').next().unwrap_or(s).to_owned();
    (!a.contains('.') || !b.contains('.')) && base(a) == base(b)
}

impl<'a> Target<'a> {
    /// The table `relation` as it is before statement `at`: `None` when the migration created it
    /// earlier, or (with a live catalog) when it does not exist yet.
    pub fn existing(&self, at: usize, relation: &str) -> Option<Existing<'a>> {
        let created = self.statements[..at]
            .iter()
            .any(|s| s.creates.iter().any(|c| same_relation(c, relation)));
        if created {
            return None;
        }
        match &self.ctx.catalog {
            None => Some(Existing { facts: None }),
            Some(cat) => cat
                .tables
                .iter()
                .find(|(k, _)| same_relation(k, relation))
                .map(|(_, f)| Existing { facts: Some(f) }),
        }
    }

    /// The effect of statement `at` on `relation`.
    pub fn effect(&self, at: usize, relation: &str) -> Option<&'a Effect> {
        self.statements[at]
            .effects
            .iter()
            .find(|e| same_relation(&e.relation, relation))
    }

    /// Statements with their index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a Statement)> {
        self.statements.iter().enumerate()
    }

    /// ALTER TABLE subcommands of one kind on tables that exist before their statement:
    /// (statement index, table, what is known of it, the subcommand).
    pub fn alter_cmds_on_existing(
        &self,
        kind: pg_query::protobuf::AlterTableType,
    ) -> Vec<(
        usize,
        String,
        Existing<'a>,
        &'a pg_query::protobuf::AlterTableCmd,
    )> {
        let mut out = Vec::new();
        for (i, s) in self.iter() {
            let Some((table, cmds)) = alter_table_cmds(s) else {
                continue;
            };
            for c in cmds {
                if c.subtype != kind as i32 {
                    continue;
                }
                if let Some(existing) = self.existing(i, &table) {
                    out.push((i, table.clone(), existing, c));
                }
            }
        }
        out
    }
}

/// The column definition of an ADD COLUMN or ALTER COLUMN TYPE subcommand.
pub fn column_def(c: &pg_query::protobuf::AlterTableCmd) -> Option<&pg_query::protobuf::ColumnDef> {
    match c.def.as_deref().and_then(|d| d.node.as_ref()) {
        Some(N::ColumnDef(col)) => Some(col),
        _ => None,
    }
}

/// A lint rule.
pub trait Rule: Sync {
    /// Stable id, used in `-- retort:allow <id> <reason>`.
    fn id(&self) -> &'static str;
    /// Why it matters, in one line.
    fn why(&self) -> &'static str;
    /// Drafts findings for `t`.
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>);
}

/// Every rule, in a stable order.
pub fn all() -> Vec<&'static dyn Rule> {
    vec![
        &index_not_concurrent::IndexNotConcurrent,
        &concurrently_in_transaction::ConcurrentlyInTransaction,
        &volatile_default::VolatileDefault,
        &set_not_null::SetNotNull,
        &constraint_not_valid::ConstraintNotValid,
        &type_change_rewrite::TypeChangeRewrite,
        &rename_or_drop::RenameOrDrop,
        &no_lock_timeout::NoLockTimeout,
        &vacuum_full_or_cluster::VacuumFullOrCluster,
        &enum_value_removal::EnumValueRemoval,
        &ddl_with_dml::DdlWithDml,
        &drop_cascade::DropCascade,
        &reindex_not_concurrent::ReindexNotConcurrent,
        &not_null_without_default::NotNullWithoutDefault,
    ]
}

/// The ALTER TABLE subcommands of a statement, with its table.
pub fn alter_table_cmds(
    s: &Statement,
) -> Option<(String, Vec<&pg_query::protobuf::AlterTableCmd>)> {
    match &s.node {
        N::AlterTableStmt(a) => {
            let table = crate::statement::range_name(a.relation.as_ref()?);
            let cmds = a
                .cmds
                .iter()
                .filter_map(|c| match c.node.as_ref()? {
                    N::AlterTableCmd(c) => Some(c.as_ref()),
                    _ => None,
                })
                .collect();
            Some((table, cmds))
        }
        _ => None,
    }
}

/// True when the lock makes application queries wait.
pub fn blocks_app(lock: LockMode) -> bool {
    lock >= LockMode::Share
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    use crate::context::LintContext;
    use crate::{lint_statements, Finding};

    /// Lints `sql` as one transactional migration without a database.
    pub fn lint(sql: &str) -> Vec<Finding> {
        lint_with(sql, true, &LintContext::default())
    }

    pub fn lint_with(sql: &str, transactional: bool, ctx: &LintContext) -> Vec<Finding> {
        let stmts =
            crate::statement::parse_section(sql, Path::new("m.sql"), 1, ctx.server_version_num)
                .unwrap();
        lint_statements(Path::new("m.sql"), &stmts, transactional, ctx)
    }

    /// The rule ids found.
    pub fn ids(sql: &str) -> Vec<&'static str> {
        lint(sql).iter().map(|f| f.rule).collect()
    }
}
