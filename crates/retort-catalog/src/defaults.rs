//! Default privileges (ALTER DEFAULT PRIVILEGES): what objects a role creates later get.

use retort_pg::quote_ident;

use crate::common::{acl_change, explode_acl, ns_filter, text_array};
use crate::error::{query, CatalogError};

/// One pg_default_acl entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DefaultPrivileges {
    /// The role whose future objects this applies to.
    pub role: String,
    /// IN SCHEMA, or None for every schema.
    pub schema: Option<String>,
    /// r (tables), S (sequences), f (functions), T (types), n (schemas).
    pub object_type: char,
    /// Grants, `grantee|PRIVILEGE|grantable`, sorted.
    pub grants: Vec<String>,
    /// What applies without this entry (the built-in default for a global entry, nothing for
    /// a per-schema one).
    pub base: Vec<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<DefaultPrivileges>, CatalogError> {
    let explode = |expr: &str| explode_acl(expr, None);
    let sql = format!(
        "SELECT pg_get_userbyid(d.defaclrole)::text, n.nspname::text, d.defaclobjtype::text, {}, \
                CASE WHEN d.defaclnamespace = 0 THEN {} ELSE '{{}}'::text[] END \
         FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace \
         WHERE d.defaclnamespace = 0 OR {} ORDER BY 1, 2 NULLS FIRST, 3",
        explode("d.defaclacl"),
        explode(
            "acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)"
        ),
        ns_filter("n"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("default privileges"))?;
    Ok(rows
        .iter()
        .map(|r| DefaultPrivileges {
            role: r.get(0),
            schema: r.get(1),
            object_type: r.get::<_, String>(2).chars().next().unwrap_or('r'),
            grants: text_array(r, 3),
            base: text_array(r, 4),
        })
        .collect())
}

impl DefaultPrivileges {
    fn change(&self, from: &[String], to: &[String]) -> Vec<String> {
        let objects = match self.object_type {
            'S' => "SEQUENCES",
            'f' => "FUNCTIONS",
            'T' => "TYPES",
            'n' => "SCHEMAS",
            _ => "TABLES",
        };
        let prefix = match &self.schema {
            Some(s) => format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} ",
                quote_ident(&self.role),
                quote_ident(s)
            ),
            None => format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} ",
                quote_ident(&self.role)
            ),
        };
        acl_change(objects, from, to, "CURRENT_USER")
            .into_iter()
            .map(|s| format!("{prefix}{s}"))
            .collect()
    }

    pub(crate) fn create(&self) -> Vec<String> {
        self.change(&self.base, &self.grants)
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        self.change(&self.grants, &self.base)
    }

    pub(crate) fn alter(&self, old: &DefaultPrivileges) -> Vec<String> {
        self.change(&old.grants, &self.grants)
    }
}
