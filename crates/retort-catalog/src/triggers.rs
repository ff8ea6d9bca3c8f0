//! Triggers, including constraint triggers, WHEN conditions and their enabled state.

use retort_pg::quote_ident;

use crate::common::{comment_change, ns_filter};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A trigger on a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trigger {
    /// The table.
    pub table: QName,
    /// Name.
    pub name: String,
    /// `CREATE [CONSTRAINT] TRIGGER ...` as pg_get_triggerdef renders it.
    pub definition: String,
    /// O (origin, the default), D (disabled), R (replica), A (always).
    pub enabled: char,
    /// COMMENT ON TRIGGER.
    pub comment: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Trigger>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, t.tgname::text, pg_get_triggerdef(t.oid), \
                t.tgenabled::text, t.oid \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {filter} AND {ext}",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let comments = params.comments.of("pg_trigger");
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("triggers"))?;
    Ok(rows
        .iter()
        .map(|r| Trigger {
            table: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            name: r.get(2),
            definition: r.get(3),
            enabled: r.get::<_, String>(4).chars().next().unwrap_or('O'),
            comment: comments.get(r.get(5)),
        })
        .collect())
}

impl Trigger {
    fn target(&self) -> String {
        format!("TRIGGER {} ON {}", quote_ident(&self.name), self.table)
    }

    fn enable_sql(&self) -> String {
        let how = crate::common::firing_mode(self.enabled);
        format!(
            "ALTER TABLE {} {how} TRIGGER {}",
            self.table,
            quote_ident(&self.name)
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition.clone()];
        if self.enabled != 'O' {
            out.push(self.enable_sql());
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
            "DROP TRIGGER {} ON {}",
            quote_ident(&self.name),
            self.table
        )]
    }

    pub(crate) fn alter(&self, old: &Trigger) -> Option<Vec<String>> {
        if old.definition != self.definition {
            return None;
        }
        let mut out = Vec::new();
        if old.enabled != self.enabled {
            out.push(self.enable_sql());
        }
        out.extend(comment_change(
            &self.target(),
            old.comment.as_deref(),
            self.comment.as_deref(),
        ));
        Some(out)
    }
}
