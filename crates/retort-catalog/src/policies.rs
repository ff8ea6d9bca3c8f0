//! Row-level security policies.

use retort_pg::quote_ident;

use crate::common::{comment_change, ns_filter, text_array};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A policy on a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// The table.
    pub table: QName,
    /// Name.
    pub name: String,
    /// PERMISSIVE (true) or RESTRICTIVE.
    pub permissive: bool,
    /// ALL, SELECT, INSERT, UPDATE or DELETE.
    pub command: String,
    /// Roles (quoted; PUBLIC for everyone), sorted.
    pub roles: Vec<String>,
    /// USING expression.
    pub using: Option<String>,
    /// WITH CHECK expression.
    pub check: Option<String>,
    /// COMMENT ON POLICY.
    pub comment: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Policy>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, p.polname::text, p.polpermissive, \
                CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' \
                              WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, \
                ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END \
                      FROM unnest(p.polroles) r ORDER BY 1), \
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), \
                obj_description(p.oid, 'pg_policy') \
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE {filter} AND {ext} ORDER BY 1, 2, 3",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("policies"))?;
    Ok(rows
        .iter()
        .map(|r| Policy {
            table: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            name: r.get(2),
            permissive: r.get(3),
            command: r.get(4),
            roles: text_array(r, 5),
            using: r.get(6),
            check: r.get(7),
            comment: r.get(8),
        })
        .collect())
}

impl Policy {
    fn target(&self) -> String {
        format!("POLICY {} ON {}", quote_ident(&self.name), self.table)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut s = format!(
            "CREATE POLICY {} ON {} AS {} FOR {} TO {}",
            quote_ident(&self.name),
            self.table,
            if self.permissive {
                "PERMISSIVE"
            } else {
                "RESTRICTIVE"
            },
            self.command,
            self.roles.join(", ")
        );
        if let Some(u) = &self.using {
            s.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = &self.check {
            s.push_str(&format!(" WITH CHECK ({c})"));
        }
        let mut out = vec![s];
        out.extend(comment_change(
            &self.target(),
            None,
            self.comment.as_deref(),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!(
            "DROP POLICY {} ON {}",
            quote_ident(&self.name),
            self.table
        )]
    }

    pub(crate) fn alter(&self, old: &Policy) -> Option<Vec<String>> {
        let shape = |p: &Policy| {
            (
                p.permissive,
                p.command.clone(),
                p.roles.clone(),
                p.using.clone(),
                p.check.clone(),
            )
        };
        if shape(old) != shape(self) {
            return None;
        }
        Some(
            comment_change(
                &self.target(),
                old.comment.as_deref(),
                self.comment.as_deref(),
            )
            .into_iter()
            .collect(),
        )
    }
}
