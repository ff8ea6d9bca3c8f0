//! Operators (CREATE OPERATOR): infix or prefix, with their function, commutator, negator,
//! selectivity estimators, HASHES and MERGES, comment and owner. The estimators, comment and
//! owner change in place (ALTER OPERATOR ... SET); anything else drops and creates it again,
//! and whatever uses it (views, exclusion constraints, indexes) follows through pg_depend.
//!
//! An operator's name is not an identifier: it is written bare after its quoted schema
//! (`app.===`), and `OPERATOR(app.===)` where another operator names it. Shell operators
//! (named as a commutator or negator before being defined) are not read: the reference that
//! made them makes them again.

use retort_pg::quote_ident;

use crate::common::{comment_and_owner, ns_filter};
use crate::error::{query, CatalogError};

/// A user-defined operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Operator {
    /// Schema.
    pub schema: String,
    /// The operator's symbol (`===`, `@@@`).
    pub name: String,
    /// Left operand type (`format_type`); None for a prefix operator.
    pub left: Option<String>,
    /// Right operand type.
    pub right: String,
    /// The function, schema-qualified and quoted, without arguments.
    pub function: String,
    /// `OPERATOR(schema.op)` of the commutator.
    pub commutator: Option<String>,
    /// `OPERATOR(schema.op)` of the negator.
    pub negator: Option<String>,
    /// Restriction selectivity estimator.
    pub restrict: Option<String>,
    /// Join selectivity estimator.
    pub join: Option<String>,
    /// HASHES.
    pub hashes: bool,
    /// MERGES.
    pub merges: bool,
    /// COMMENT ON OPERATOR.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Operator>, CatalogError> {
    let proc_name = crate::common::proc_name_sql;
    let op_name = |col: &str| {
        format!(
            "CASE WHEN {col} <> 0 THEN (SELECT 'OPERATOR(' || quote_ident(on2.nspname) || '.' || o2.oprname || ')' \
             FROM pg_operator o2 JOIN pg_namespace on2 ON on2.oid = o2.oprnamespace WHERE o2.oid = {col}) END"
        )
    };
    let sql = format!(
        "SELECT n.nspname::text, o.oprname::text, \
                CASE WHEN o.oprleft <> 0 THEN format_type(o.oprleft, NULL) END, \
                format_type(o.oprright, NULL), {code}, {com}, {neg}, {rest}, {join}, \
                o.oprcanhash, o.oprcanmerge, o.oid, pg_get_userbyid(o.oprowner)::text \
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace \
         WHERE o.oid >= 16384 AND o.oprcode <> 0 AND {f} AND {ext} ORDER BY 1, 2, 3, 4",
        code = proc_name("o.oprcode"),
        com = op_name("o.oprcom"),
        neg = op_name("o.oprnegate"),
        rest = proc_name("o.oprrest::oid"),
        join = proc_name("o.oprjoin::oid"),
        f = ns_filter("n"),
        ext = params.extensions.exclude("pg_operator", "o.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("operators"))?;
    let comments = params.comments.of("pg_operator");
    Ok(rows
        .iter()
        .map(|r| Operator {
            schema: r.get(0),
            name: r.get(1),
            left: r.get(2),
            right: r.get(3),
            function: r.get::<_, Option<String>>(4).unwrap_or_default(),
            commutator: r.get(5),
            negator: r.get(6),
            restrict: r.get(7),
            join: r.get(8),
            hashes: r.get(9),
            merges: r.get(10),
            comment: comments.get(r.get(11)),
            owner: params.owners.then(|| r.get(12)),
        })
        .collect())
}

impl Operator {
    /// `integer, integer` or `NONE, integer`: how DROP and COMMENT name its operands, and the
    /// second half of its key.
    pub fn operands(&self) -> String {
        format!("{}, {}", self.left.as_deref().unwrap_or("NONE"), self.right)
    }

    /// `schema.op`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), self.name)
    }

    fn target_sql(&self) -> String {
        format!("OPERATOR {} ({})", self.qualified(), self.operands())
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut options = Vec::new();
        if let Some(l) = &self.left {
            options.push(format!("LEFTARG = {l}"));
        }
        options.push(format!("RIGHTARG = {}", self.right));
        options.push(format!("FUNCTION = {}", self.function));
        if let Some(c) = &self.commutator {
            options.push(format!("COMMUTATOR = {c}"));
        }
        if let Some(n) = &self.negator {
            options.push(format!("NEGATOR = {n}"));
        }
        if let Some(r) = &self.restrict {
            options.push(format!("RESTRICT = {r}"));
        }
        if let Some(j) = &self.join {
            options.push(format!("JOIN = {j}"));
        }
        if self.hashes {
            options.push("HASHES".into());
        }
        if self.merges {
            options.push("MERGES".into());
        }
        let mut out = vec![format!(
            "CREATE OPERATOR {} ({})",
            self.qualified(),
            options.join(", ")
        )];
        out.extend(comment_and_owner(
            &self.target_sql(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target_sql())]
    }

    /// In place: the estimators (`ALTER OPERATOR ... SET (RESTRICT = ..., JOIN = ...)`),
    /// comment and owner. None when the function, commutator, negator, HASHES or MERGES change.
    pub(crate) fn alter(&self, old: &Operator) -> Option<Vec<String>> {
        let fixed = |o: &Operator| {
            (
                o.function.clone(),
                o.commutator.clone(),
                o.negator.clone(),
                o.hashes,
                o.merges,
            )
        };
        if fixed(old) != fixed(self) {
            return None;
        }
        let mut out = Vec::new();
        let mut set = Vec::new();
        if old.restrict != self.restrict {
            set.push(format!(
                "RESTRICT = {}",
                self.restrict.as_deref().unwrap_or("NONE")
            ));
        }
        if old.join != self.join {
            set.push(format!("JOIN = {}", self.join.as_deref().unwrap_or("NONE")));
        }
        if !set.is_empty() {
            out.push(format!(
                "ALTER {} SET ({})",
                self.target_sql(),
                set.join(", ")
            ));
        }
        out.extend(comment_and_owner(
            &self.target_sql(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Operator {
        Operator {
            schema: "app".into(),
            name: "===".into(),
            left: Some("app.mood".into()),
            right: "app.mood".into(),
            function: "app.mood_eq".into(),
            commutator: Some("OPERATOR(app.===)".into()),
            negator: None,
            restrict: Some("pg_catalog.eqsel".into()),
            join: None,
            hashes: false,
            merges: false,
            comment: None,
            owner: None,
        }
    }

    #[test]
    fn create_drop_and_what_changes_in_place() {
        assert_eq!(
            op().create(),
            ["CREATE OPERATOR app.=== (LEFTARG = app.mood, RIGHTARG = app.mood, FUNCTION = app.mood_eq, \
              COMMUTATOR = OPERATOR(app.===), RESTRICT = pg_catalog.eqsel)"]
        );
        assert_eq!(op().drop(), ["DROP OPERATOR app.=== (app.mood, app.mood)"]);
        let prefix = Operator { left: None, ..op() };
        assert_eq!(prefix.drop(), ["DROP OPERATOR app.=== (NONE, app.mood)"]);
        let estimated = Operator {
            restrict: None,
            join: Some("pg_catalog.eqjoinsel".into()),
            ..op()
        };
        assert_eq!(
            estimated.alter(&op()).unwrap(),
            ["ALTER OPERATOR app.=== (app.mood, app.mood) SET (RESTRICT = NONE, JOIN = pg_catalog.eqjoinsel)"]
        );
        let hashing = Operator {
            hashes: true,
            ..op()
        };
        assert!(hashing.alter(&op()).is_none());
    }
}
