//! DROP ... CASCADE removes whatever depends on the object, unnamed.

use super::{Draft, Rule, Severity, Target};
use crate::statement::is_cascade;

pub struct DropCascade;

impl Rule for DropCascade {
    fn id(&self) -> &'static str {
        "drop-cascade"
    }
    fn why(&self) -> &'static str {
        "CASCADE silently drops every view, constraint and default that depends on the object"
    }
    fn check(&self, t: &Target<'_>, out: &mut Vec<Draft>) {
        for (i, s) in t.iter() {
            if is_cascade(&s.node) {
                out.push(Draft {
                    at: i,
                    relation: s.effects.first().map(|e| e.relation.clone()),
                    message: format!("{} drops its dependents too, without naming them", s.head()),
                    fix: "drop the dependents explicitly first (retort diff names them), then drop without CASCADE"
                        .into(),
                    severity: Severity::Warning,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::ids;

    #[test]
    fn positive_and_negative() {
        assert!(ids("DROP TABLE t CASCADE;").contains(&"drop-cascade"));
        assert!(ids("DROP TYPE mood CASCADE;").contains(&"drop-cascade"));
        assert!(ids("ALTER TABLE t DROP COLUMN c CASCADE;").contains(&"drop-cascade"));
        assert!(!ids("DROP TABLE t;").contains(&"drop-cascade"));
    }
}
