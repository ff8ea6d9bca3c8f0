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

/// The privileges a new object really starts with where the script runs: PostgreSQL applies
/// the creating role's default privileges (its global entry replaces the built-in default, a
/// per-schema entry adds to it). `to` with each object's starting ACL set that way, when
/// `from` (the database the script runs against) has default privileges that stay in effect
/// while the script creates objects (those `to` keeps too: the rest are revoked first), so
/// the GRANTs and REVOKEs after a CREATE start from what the object really got. The creating
/// role is taken to be the object's owner.
pub(crate) fn with_starting_acls(
    from: &crate::Catalog,
    to: &crate::Catalog,
) -> Option<crate::Catalog> {
    let live: Vec<&DefaultPrivileges> = from
        .default_privileges
        .iter()
        .filter(|(k, _)| to.default_privileges.contains_key(*k))
        .map(|(_, d)| d)
        .collect();
    if live.is_empty() {
        return None;
    }
    let starting = |acl: &mut crate::common::Acl, kind: char, schema: Option<&str>| {
        let entry = |s: Option<&str>| {
            live.iter()
                .find(|d| d.role == acl.owner && d.object_type == kind && d.schema.as_deref() == s)
        };
        let (global, local) = (entry(None), schema.and_then(|s| entry(Some(s))));
        if global.is_none() && local.is_none() {
            return;
        }
        let as_owner = |d: &DefaultPrivileges, item: &String| match item.split_once('|') {
            Some((grantee, rest)) if grantee == d.role => format!("OWNER|{rest}"),
            _ => item.clone(),
        };
        let mut start: std::collections::BTreeSet<String> = match global {
            Some(d) => d.grants.iter().map(|i| as_owner(d, i)).collect(),
            None => acl.default.iter().cloned().collect(),
        };
        if let Some(d) = local {
            start.extend(d.grants.iter().map(|i| as_owner(d, i)));
        }
        acl.default = start.into_iter().collect();
    };
    let mut to = to.clone();
    for t in to.tables.values_mut() {
        starting(&mut t.acl, 'r', Some(&t.name.schema));
    }
    for v in to.views.values_mut() {
        starting(&mut v.acl, 'r', Some(&v.name.schema));
    }
    for s in to.sequences.values_mut() {
        starting(&mut s.acl, 'S', Some(&s.name.schema));
    }
    for f in to.functions.values_mut() {
        starting(&mut f.acl, 'f', Some(&f.name.schema));
    }
    for t in to.types.values_mut() {
        starting(&mut t.acl, 'T', Some(&t.name.schema));
    }
    for s in to.schemas.values_mut() {
        starting(&mut s.acl, 'n', None);
    }
    Some(to)
}
