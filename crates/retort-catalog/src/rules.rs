//! Rules on tables (CREATE RULE), as pg_get_ruledef renders them. A view's own _RETURN rule
//! is part of the view.

use retort_pg::quote_ident;

use crate::common::{comment_change, ns_filter};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    /// The table.
    pub table: QName,
    /// Name.
    pub name: String,
    /// `CREATE RULE ...`.
    pub definition: String,
    /// COMMENT ON RULE.
    pub comment: Option<String>,
    /// `O` (enabled), `D` (disabled), `R` (replica), `A` (always).
    #[serde(default = "enabled")]
    pub enabled: char,
}

fn enabled() -> char {
    'O'
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Rule>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, r.rulename::text, pg_get_ruledef(r.oid), \
                obj_description(r.oid, 'pg_rewrite'), r.ev_enabled::text \
         FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE r.rulename <> '_RETURN' AND {filter} AND {ext} ORDER BY 1, 2, 3",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("rules"))?;
    Ok(rows
        .iter()
        .map(|r| Rule {
            table: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            name: r.get(2),
            definition: r
                .get::<_, String>(3)
                .trim()
                .trim_end_matches(';')
                .to_owned(),
            comment: r.get(4),
            enabled: r.get::<_, String>(5).chars().next().unwrap_or('O'),
        })
        .collect())
}

impl Rule {
    fn target(&self) -> String {
        format!("RULE {} ON {}", quote_ident(&self.name), self.table)
    }

    /// `ALTER TABLE ... ENABLE/DISABLE ... RULE` giving this firing mode.
    fn enable(&self) -> String {
        let mode = crate::common::firing_mode(self.enabled);
        format!(
            "ALTER TABLE {} {mode} RULE {}",
            self.table,
            quote_ident(&self.name)
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition.clone()];
        if self.enabled != 'O' {
            out.push(self.enable());
        }
        out.extend(comment_change(
            &self.target(),
            None,
            self.comment.as_deref(),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!(
            "DROP RULE {} ON {}",
            quote_ident(&self.name),
            self.table
        )]
    }

    pub(crate) fn alter(&self, old: &Rule) -> Option<Vec<String>> {
        if old.definition != self.definition {
            return None;
        }
        let mut out = Vec::new();
        if old.enabled != self.enabled {
            out.push(self.enable());
        }
        out.extend(comment_change(
            &self.target(),
            old.comment.as_deref(),
            self.comment.as_deref(),
        ));
        Some(out)
    }
}
