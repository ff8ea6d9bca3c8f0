//! REINDEX without CONCURRENTLY blocks writes (and reads through the index) while it rebuilds.

use pg_query::protobuf::node::Node as N;

use super::{Draft, Rule, Severity, Target};
use crate::statement::has_option;

pub struct ReindexNotConcurrent;

impl Rule for ReindexNotConcurrent {
    fn id(&self) -> &'static str {
        "reindex-not-concurrent"
    }
    fn why(&self) -> &'static str {
        "REINDEX without CONCURRENTLY blocks writes to the table, and queries that would use the index, for the whole rebuild"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        if t.ctx.version() < 120000 {
            return;
        }
        for (i, s) in t.iter() {
            if let N::ReindexStmt(r) = &s.node {
                if !has_option(&r.params, "concurrently") {
                    out.push(Draft {
                        at: i,
                        relation: s.effects.first().map(|e| e.relation.clone()),
                        message: format!("{} rebuilds under a lock that blocks writes", s.head()),
                        fix: "REINDEX ... CONCURRENTLY, alone in a migration marked `-- retort:transaction off`".into(),
                        severity: Severity::Warning,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::ids;

    #[test]
    fn positive_and_negative() {
        assert!(ids("REINDEX INDEX users_email;").contains(&"reindex-not-concurrent"));
        assert!(ids("REINDEX TABLE users;").contains(&"reindex-not-concurrent"));
        assert!(!ids("REINDEX INDEX CONCURRENTLY users_email;").contains(&"reindex-not-concurrent"));
    }
}
