//! VACUUM FULL and CLUSTER rewrite the table under ACCESS EXCLUSIVE.

use pg_query::protobuf::node::Node as N;

use super::{Draft, Rule, Severity, Target};
use crate::statement::has_option;

pub struct VacuumFullOrCluster;

impl Rule for VacuumFullOrCluster {
    fn id(&self) -> &'static str {
        "vacuum-full-or-cluster"
    }
    fn why(&self) -> &'static str {
        "VACUUM FULL and CLUSTER rewrite the table under ACCESS EXCLUSIVE: nothing can read or write it until they finish"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, s) in t.iter() {
            let what = match &s.node {
                N::VacuumStmt(v) if has_option(&v.options, "full") => "VACUUM FULL",
                N::ClusterStmt(_) => "CLUSTER",
                _ => continue,
            };
            out.push(Draft {
                at: i,
                relation: s.effects.first().map(|e| e.relation.clone()),
                message: format!("{what} rewrites the table while reads and writes wait"),
                fix: "plain VACUUM (no lock against the app) to reuse space, or pg_repack / pg_squeeze to \
                      rewrite online"
                    .into(),
                severity: Severity::Warning,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::ids;

    #[test]
    fn positive_and_negative() {
        assert!(ids("VACUUM FULL t;").contains(&"vacuum-full-or-cluster"));
        assert!(ids("CLUSTER t USING t_pkey;").contains(&"vacuum-full-or-cluster"));
        assert!(!ids("VACUUM t;").contains(&"vacuum-full-or-cluster"));
        assert!(!ids("ANALYZE t;").contains(&"vacuum-full-or-cluster"));
    }
}
