//! Statements that cannot run inside a transaction block, in a transactional migration.

use pg_query::protobuf::{node::Node as N, AlterTableType};

use super::{alter_table_cmds, Draft, Rule, Severity, Target};
use crate::statement::has_option;

pub struct ConcurrentlyInTransaction;

impl Rule for ConcurrentlyInTransaction {
    fn id(&self) -> &'static str {
        "concurrently-in-transaction"
    }
    fn why(&self) -> &'static str {
        "CONCURRENTLY, VACUUM and friends cannot run inside a transaction block: the migration fails"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        if !t.transactional {
            return;
        }
        for (i, s) in t.iter() {
            let what = match &s.node {
                N::IndexStmt(ix) if ix.concurrent => Some("CREATE INDEX CONCURRENTLY"),
                N::DropStmt(d) if d.concurrent => Some("DROP INDEX CONCURRENTLY"),
                N::ReindexStmt(r) if has_option(&r.params, "concurrently") => Some("REINDEX CONCURRENTLY"),
                N::VacuumStmt(v) if v.is_vacuumcmd => Some("VACUUM"),
                N::CreatedbStmt(_) => Some("CREATE DATABASE"),
                N::AlterSystemStmt(_) => Some("ALTER SYSTEM"),
                N::AlterTableStmt(_) => alter_table_cmds(s).and_then(|(_, cmds)| {
                    cmds.iter()
                        .any(|c| {
                            c.subtype == AlterTableType::AtDetachPartition as i32
                                && matches!(c.def.as_deref().and_then(|d| d.node.as_ref()), Some(N::PartitionCmd(p)) if p.concurrent)
                        })
                        .then_some("DETACH PARTITION CONCURRENTLY")
                }),
                _ => None,
            };
            if let Some(what) = what {
                out.push(Draft {
                    at: i,
                    relation: s.effects.first().map(|e| e.relation.clone()),
                    message: format!("{what} cannot run inside a transaction block, and this migration runs in one"),
                    fix: "put the statement in its own migration marked `-- retort:transaction off` \
                          (`retort new --no-transaction`)"
                        .into(),
                    severity: Severity::Error,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::context::LintContext;
    use crate::rules::test_support::{ids, lint_with};

    #[test]
    fn positive_and_negative() {
        assert!(
            ids("CREATE INDEX CONCURRENTLY i ON t (a);").contains(&"concurrently-in-transaction")
        );
        assert!(ids("VACUUM t;").contains(&"concurrently-in-transaction"));
        assert!(ids("DROP INDEX CONCURRENTLY i;").contains(&"concurrently-in-transaction"));
        let outside = lint_with(
            "CREATE INDEX CONCURRENTLY i ON t (a);",
            false,
            &LintContext::default(),
        );
        assert!(outside
            .iter()
            .all(|f| f.rule != "concurrently-in-transaction"));
    }
}
