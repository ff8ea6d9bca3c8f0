//! Extensions. Their member objects are never read; the extension itself is.

use retort_pg::quote_ident;

use crate::common::comment_change;
use crate::error::{query, CatalogError};

/// An installed extension.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Extension {
    /// Name.
    pub name: String,
    /// Schema holding its objects.
    pub schema: String,
    /// COMMENT ON EXTENSION (extensions set their own; compared like any other comment).
    pub comment: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    _params: &crate::Params,
) -> Result<Vec<Extension>, CatalogError> {
    let rows = client
        .query(
            "SELECT e.extname::text, n.nspname::text, obj_description(e.oid, 'pg_extension') \
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname <> 'plpgsql' ORDER BY 1",
            &[],
        )
        .map_err(query("extensions"))?;
    Ok(rows
        .iter()
        .map(|r| Extension {
            name: r.get(0),
            schema: r.get(1),
            comment: r.get(2),
        })
        .collect())
}

impl Extension {
    pub(crate) fn create(&self) -> Vec<String> {
        vec![format!(
            "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
            quote_ident(&self.name),
            quote_ident(&self.schema)
        )]
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP EXTENSION {}", quote_ident(&self.name))]
    }

    /// None when only a drop and re-create can get there (another schema).
    pub(crate) fn alter(&self, old: &Extension) -> Option<Vec<String>> {
        if old.schema != self.schema {
            return Some(vec![format!(
                "ALTER EXTENSION {} SET SCHEMA {}",
                quote_ident(&self.name),
                quote_ident(&self.schema)
            )]);
        }
        Some(
            comment_change(
                &format!("EXTENSION {}", quote_ident(&self.name)),
                old.comment.as_deref(),
                self.comment.as_deref(),
            )
            .into_iter()
            .collect(),
        )
    }
}
