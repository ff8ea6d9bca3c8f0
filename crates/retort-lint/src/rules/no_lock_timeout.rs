//! A strong lock requested with no lock_timeout: while it waits for a long query, every later
//! query on the table queues behind it.

use pg_query::protobuf::node::Node as N;

use super::{blocks_app, Draft, Rule, Severity, Target};

pub struct NoLockTimeout;

impl Rule for NoLockTimeout {
    fn id(&self) -> &'static str {
        "no-lock-timeout"
    }
    fn why(&self) -> &'static str {
        "a lock request waiting behind a long query makes every later query on the table wait too; lock_timeout bounds that"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        if t.ctx.runner_sets_lock_timeout {
            return;
        }
        for (i, s) in t.iter() {
            let set_before = t.statements[..i].iter().any(|p| {
                matches!(&p.node, N::VariableSetStmt(v) if v.name.eq_ignore_ascii_case("lock_timeout"))
            });
            if set_before {
                return;
            }
            let strong = s
                .effects
                .iter()
                .find(|e| blocks_app(e.lock) && t.existing(i, &e.relation).is_some());
            if let Some(e) = strong {
                out.push(Draft {
                    at: i,
                    relation: Some(e.relation.clone()),
                    message: format!(
                        "{} waits for {} on {} without a lock_timeout; while it waits, queries it \
                         conflicts with queue behind it ({})",
                        s.head(),
                        e.lock.sql_name(),
                        e.relation,
                        e.lock.blocks()
                    ),
                    fix: "SET LOCAL lock_timeout = '5s' at the top of the migration (retort upgrade sets \
                          [migrations] lock_timeout, 5 s by default, for you), and retry when it times out"
                        .into(),
                    severity: Severity::Warning,
                });
                return;
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
        assert!(ids("ALTER TABLE t ADD COLUMN c int;").contains(&"no-lock-timeout"));
        assert!(
            !ids("SET LOCAL lock_timeout = '2s'; ALTER TABLE t ADD COLUMN c int;")
                .contains(&"no-lock-timeout")
        );
        let ctx = LintContext {
            runner_sets_lock_timeout: true,
            ..LintContext::default()
        };
        assert!(lint_with("ALTER TABLE t ADD COLUMN c int;", true, &ctx)
            .iter()
            .all(|f| f.rule != "no-lock-timeout"));
        assert!(!ids("CREATE TABLE t (a int);").contains(&"no-lock-timeout"));
    }
}
