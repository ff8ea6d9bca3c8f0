//! DDL and data changes in one transaction: the DDL's lock is held while the DML runs.

use pg_query::protobuf::node::Node as N;

use super::{Draft, Rule, Severity, Target};
use crate::lock::{LockMode, Work};

pub struct DdlWithDml;

impl Rule for DdlWithDml {
    fn id(&self) -> &'static str {
        "ddl-with-dml"
    }
    fn why(&self) -> &'static str {
        "in one transaction, locks taken by DDL are held until COMMIT: a large UPDATE after an ALTER TABLE keeps the table locked for the whole UPDATE"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        if !t.transactional {
            return;
        }
        let ddl = t.iter().find_map(|(i, s)| {
            s.effects
                .iter()
                .find(|e| {
                    e.lock >= LockMode::Share
                        && e.work != Work::Dml
                        && t.existing(i, &e.relation).is_some()
                })
                .map(|e| (i, e))
        });
        let Some((ddl_at, lock)) = ddl else { return };
        for (i, s) in t.iter() {
            let large = match &s.node {
                N::UpdateStmt(u) => u.where_clause.is_none() || s.effects.iter().any(|e| big(t, i, &e.relation)),
                N::DeleteStmt(d) => d.where_clause.is_none() || s.effects.iter().any(|e| big(t, i, &e.relation)),
                N::InsertStmt(ins) => ins.select_stmt.as_deref().is_some_and(|sel| {
                    matches!(sel.node.as_ref(), Some(N::SelectStmt(s)) if !s.from_clause.is_empty())
                }),
                _ => false,
            };
            let touches_existing = s
                .effects
                .iter()
                .any(|e| e.work == Work::Dml && t.existing(i, &e.relation).is_some());
            if large && touches_existing {
                out.push(Draft {
                    at: i,
                    relation: s.effects.first().map(|e| e.relation.clone()),
                    message: format!(
                        "this data change runs in the same transaction as line {}'s {} lock on {}, which is held until it finishes",
                        t.statements[ddl_at].line,
                        lock.lock.sql_name(),
                        lock.relation
                    ),
                    fix: "move the data change to its own migration (in batches for large tables), after the schema change"
                        .into(),
                    severity: Severity::Warning,
                });
            }
        }
    }
}

fn big(t: &Target<'_>, at: usize, relation: &str) -> bool {
    t.existing(at, relation)
        .and_then(|e| e.facts)
        .is_some_and(|f| f.rows > 100_000.0)
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::ids;

    #[test]
    fn positive_and_negative() {
        assert!(
            ids("ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = 0;").contains(&"ddl-with-dml")
        );
        assert!(!ids("UPDATE t SET c = 0;").contains(&"ddl-with-dml"));
        assert!(
            !ids("ALTER TABLE t ADD COLUMN c int; UPDATE t SET c = 0 WHERE id = 1;")
                .contains(&"ddl-with-dml")
        );
    }
}
