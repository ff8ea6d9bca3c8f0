//! Schemas.

use retort_pg::quote_ident;

use crate::common::{acl_columns, ns_filter, Acl, Extras};
use crate::error::{query, CatalogError};

/// A schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Schema {
    /// Name.
    pub name: String,
    /// COMMENT ON SCHEMA.
    pub comment: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Schema>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, obj_description(n.oid, 'pg_namespace'), {acl}, pg_get_userbyid(n.nspowner)::text \
         FROM pg_namespace n WHERE {filter} AND {ext} ORDER BY 1",
        acl = acl_columns("n.nspacl", 'n'),
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_namespace", "n.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("schemas"))?;
    Ok(rows
        .iter()
        .map(|r| Schema {
            name: r.get(0),
            comment: r.get(1),
            acl: Acl::from_row(r, 2, params),
            owner: params.owners.then(|| r.get(4)),
        })
        .collect())
}

impl Schema {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        format!("SCHEMA {}", quote_ident(&self.name))
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![format!("CREATE SCHEMA {}", quote_ident(&self.name))];
        out.extend(self.extras().create(&self.target(), &self.target()));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP SCHEMA {}", quote_ident(&self.name))]
    }

    pub(crate) fn alter(&self, old: &Schema) -> Vec<String> {
        self.extras()
            .change_from(&old.extras(), &self.target(), &self.target())
    }
}
