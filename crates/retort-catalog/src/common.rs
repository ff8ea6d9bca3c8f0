//! Pieces every object kind uses: schema filtering in queries, comments, privileges.

use std::collections::{BTreeMap, BTreeSet};

use retort_pg::{quote_ident, quote_literal};

/// Which schemas to read.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Schemas never read (retort's own `retort` by default).
    pub exclude_schemas: Vec<String>,
    /// When set, only these schemas are read.
    pub include_schemas: Option<Vec<String>>,
    /// Compare and set owners (ALTER ... OWNER TO); off by default, since owners usually
    /// differ between a developer's database and production.
    pub owners: bool,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            exclude_schemas: vec!["retort".into()],
            include_schemas: None,
            owners: false,
        }
    }
}

/// SQL condition on a pg_namespace alias: user schemas allowed by the filter ($1 excluded,
/// $2 included or NULL).
pub(crate) fn ns_filter(ns: &str) -> String {
    format!(
        "({ns}.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND {ns}.nspname NOT LIKE 'pg\\_%' \
         AND NOT ({ns}.nspname = ANY($1::text[])) \
         AND ($2::text[] IS NULL OR {ns}.nspname = ANY($2::text[])))"
    )
}

/// SQL condition: the object is not a member of an extension.
pub(crate) fn not_in_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend ext WHERE ext.classid = '{catalog}'::regclass \
         AND ext.objid = {oid} AND ext.deptype = 'e')"
    )
}

/// Two SQL expressions (comma-separated): an ACL column exploded into sorted
/// `grantee|PRIVILEGE|grantable` strings (NULL replaced by the default ACL), and the default
/// ACL exploded the same way. Read them with [`Acl::from_row`].
pub(crate) fn acl_columns(acl: &str, kind: char, owner: &str) -> String {
    format!(
        "{}, {}",
        explode_acl(
            &format!("coalesce({acl}, acldefault('{kind}', {owner}))"),
            Some(owner)
        ),
        explode_acl(&format!("acldefault('{kind}', {owner})"), Some(owner))
    )
}

/// SQL expression: the aclitem[] `expr` as a sorted text[] of `grantee|PRIVILEGE|grantable`
/// (empty for NULL). With `owner`, that role is written OWNER, so the same grants on objects
/// with different owners compare equal when owners are not compared.
pub(crate) fn explode_acl(expr: &str, owner: Option<&str>) -> String {
    let owner_case = owner
        .map(|o| format!("WHEN x.grantee = {o} THEN 'OWNER' "))
        .unwrap_or_default();
    format!(
        "(SELECT coalesce(array_agg(e ORDER BY e), '{{}}') FROM (SELECT CASE WHEN x.grantee = 0 \
           THEN 'PUBLIC' {owner_case}ELSE pg_get_userbyid(x.grantee)::text END || '|' \
           || x.privilege_type || '|' || x.is_grantable::text AS e FROM aclexplode({expr}) x) acl)"
    )
}

/// Privileges on an object. Two ACLs are equal when their grants are; the default ACL (what a
/// freshly created object gets) is kept to render GRANTs after a CREATE.
#[derive(Debug, Clone, Eq, serde::Serialize, serde::Deserialize)]
pub struct Acl {
    /// Current grants, `grantee|PRIVILEGE|grantable` (the owner as `OWNER`), sorted.
    pub grants: Vec<String>,
    /// What a new object of this kind gets.
    pub default: Vec<String>,
    /// The object's owner in this database (for GRANT/REVOKE to the owner).
    pub owner: String,
}

impl PartialEq for Acl {
    fn eq(&self, other: &Self) -> bool {
        self.grants == other.grants
    }
}

impl Acl {
    /// Reads the two columns of [`acl_columns`] at `idx` and the owner's name at `idx + 2`.
    pub(crate) fn from_row(row: &postgres::Row, idx: usize) -> Acl {
        Acl {
            grants: text_array(row, idx),
            default: text_array(row, idx + 1),
            owner: row.get(idx + 2),
        }
    }

    /// Statements after creating the object. `managed_owner` is the owner set by the script
    /// (with owners compared); otherwise the creator owns it.
    pub(crate) fn after_create(&self, target: &str, managed_owner: Option<&str>) -> Vec<String> {
        let owner = managed_owner
            .map(quote_ident)
            .unwrap_or_else(|| "CURRENT_USER".into());
        acl_change(target, &self.default, &self.grants, &owner)
    }

    /// Statements changing `old` into `self` (after any owner change of the script).
    pub(crate) fn change_from(
        &self,
        target: &str,
        old: &Acl,
        managed_owner: Option<&str>,
    ) -> Vec<String> {
        let owner = quote_ident(managed_owner.unwrap_or(&old.owner));
        acl_change(target, &old.grants, &self.grants, &owner)
    }
}

/// What every ownable object carries besides its definition: comment, owner, privileges.
pub(crate) struct Extras<'a> {
    pub(crate) comment: Option<&'a str>,
    pub(crate) owner: Option<&'a str>,
    pub(crate) acl: &'a Acl,
}

impl Extras<'_> {
    /// After CREATE: the comment, the owner (when managed), then the grants. `grant_target`
    /// differs from `target` where GRANT spells the kind differently (views: TABLE).
    pub(crate) fn create(&self, target: &str, grant_target: &str) -> Vec<String> {
        let mut out: Vec<String> = comment_change(target, None, self.comment)
            .into_iter()
            .collect();
        out.extend(owner_change(target, None, self.owner));
        out.extend(self.acl.after_create(grant_target, self.owner));
        out
    }

    /// From `old`'s to these: comment, owner, then grants (which may name the new owner).
    pub(crate) fn change_from(
        &self,
        old: &Extras,
        target: &str,
        grant_target: &str,
    ) -> Vec<String> {
        let mut out: Vec<String> = comment_change(target, old.comment, self.comment)
            .into_iter()
            .collect();
        out.extend(owner_change(target, old.owner, self.owner));
        out.extend(self.acl.change_from(grant_target, old.acl, self.owner));
        out
    }
}

/// `ALTER <target> OWNER TO ...` when the wanted owner is known and differs.
pub(crate) fn owner_change(target: &str, old: Option<&str>, new: Option<&str>) -> Option<String> {
    match new {
        Some(n) if old != Some(n) => Some(format!("ALTER {target} OWNER TO {}", quote_ident(n))),
        _ => None,
    }
}

/// The COMMENT and ALTER ... OWNER statements turning `old`'s (comment, owner) into `new`'s
/// (`old` None for a new object).
pub(crate) fn comment_and_owner(
    target: &str,
    old: Option<(Option<&str>, Option<&str>)>,
    (comment, owner): (Option<&str>, Option<&str>),
) -> Vec<String> {
    let (old_comment, old_owner) = old.unwrap_or((None, None));
    comment_change(target, old_comment, comment)
        .into_iter()
        .chain(owner_change(target, old_owner, owner))
        .collect()
}

/// The ALTER keywords for a trigger's, rule's or event trigger's firing mode (`tgenabled`,
/// `ev_enabled`, `evtenabled`): `O` enabled, `D` disabled, `R` replica, `A` always.
pub(crate) fn firing_mode(enabled: char) -> &'static str {
    match enabled {
        'D' => "DISABLE",
        'R' => "ENABLE REPLICA",
        'A' => "ENABLE ALWAYS",
        _ => "ENABLE",
    }
}

/// `COMMENT ON <target> IS ...` turning `old` into `new`; nothing when equal.
pub(crate) fn comment_change(target: &str, old: Option<&str>, new: Option<&str>) -> Option<String> {
    if old == new {
        return None;
    }
    Some(format!(
        "COMMENT ON {target} IS {}",
        new.map(quote_literal).unwrap_or_else(|| "NULL".into())
    ))
}

/// GRANT/REVOKE statements turning ACL `old` into `new` on `target` (e.g. `TABLE s.t`).
pub(crate) fn acl_change(target: &str, old: &[String], new: &[String], owner: &str) -> Vec<String> {
    acl_change_on(target, None, old, new, owner)
}

/// Like [`acl_change`], for the privileges on one column of a table (`GRANT SELECT (c) ON ...`).
pub(crate) fn column_acl_change(
    table: &str,
    column: &str,
    old: &[String],
    new: &[String],
    owner: &str,
) -> Vec<String> {
    acl_change_on(
        &format!("TABLE {table}"),
        Some(&quote_ident(column)),
        old,
        new,
        owner,
    )
}

fn acl_change_on(
    target: &str,
    column: Option<&str>,
    old: &[String],
    new: &[String],
    owner: &str,
) -> Vec<String> {
    let cols = column.map(|c| format!(" ({c})")).unwrap_or_default();
    let group = |acl: &[String]| {
        let mut by: BTreeMap<String, BTreeSet<(String, bool)>> = BTreeMap::new();
        for item in acl {
            let mut parts = item.split('|');
            let (Some(grantee), Some(privilege), Some(grantable)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            by.entry(grantee.to_owned())
                .or_default()
                .insert((privilege.to_owned(), grantable == "true"));
        }
        by
    };
    let (old, new) = (group(old), group(new));
    let grantees: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for g in grantees {
        let before = old.get(g);
        let after = new.get(g);
        if before == after {
            continue;
        }
        let who = match g.as_str() {
            "PUBLIC" => "PUBLIC".to_owned(),
            "OWNER" => owner.to_owned(),
            _ => quote_ident(g),
        };
        if before.is_some() {
            out.push(format!("REVOKE ALL{cols} ON {target} FROM {who}"));
        }
        if let Some(privs) = after {
            let plain: Vec<String> = privs
                .iter()
                .filter(|p| !p.1)
                .map(|p| format!("{}{cols}", p.0))
                .collect();
            let with: Vec<String> = privs
                .iter()
                .filter(|p| p.1)
                .map(|p| format!("{}{cols}", p.0))
                .collect();
            if !plain.is_empty() {
                out.push(format!("GRANT {} ON {target} TO {who}", plain.join(", ")));
            }
            if !with.is_empty() {
                out.push(format!(
                    "GRANT {} ON {target} TO {who} WITH GRANT OPTION",
                    with.join(", ")
                ));
            }
        }
    }
    out
}

/// Reads a text[] column that may be NULL as a Vec.
pub(crate) fn text_array(row: &postgres::Row, idx: usize) -> Vec<String> {
    row.get::<_, Option<Vec<String>>>(idx).unwrap_or_default()
}

/// Runs a catalog query and hands each row to `f`, fetching the result in chunks through a
/// portal so that a catalog of hundreds of thousands of rows is never held whole in memory
/// (and without a round trip to the runtime per row, which row-at-a-time iteration costs).
pub(crate) fn each_row(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    what: &'static str,
    mut f: impl FnMut(&postgres::Row),
) -> Result<(), crate::error::CatalogError> {
    const CHUNK: i32 = 16_384;
    let portal = tx.bind(sql, params).map_err(crate::error::query(what))?;
    loop {
        let rows = tx
            .query_portal(&portal, CHUNK)
            .map_err(crate::error::query(what))?;
        for row in &rows {
            f(row);
        }
        if rows.len() < CHUNK as usize {
            return Ok(());
        }
    }
}

/// Serde for maps whose keys are not strings (tuples): a list of `[key, value]` pairs, so
/// the catalog round-trips through JSON.
pub(crate) mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// The comments on one system catalog's objects, read in one scan and matched on the client by
/// oid. As a `LEFT JOIN pg_description` in each loader's query, the planner's row estimates for
/// the join (unanalyzed catalogs in a freshly loaded database, or very few comments) picked
/// nested loops that turned quadratic: 15 s instead of 0.3 s for 5,000 tables.
pub(crate) struct Comments(rustc_hash::FxHashMap<(u32, i32), String>);

impl Comments {
    /// Comments whose `classoid` is `catalog` (a system catalog's name, such as `pg_class`).
    pub(crate) fn load(
        client: &mut impl postgres::GenericClient,
        catalog: &str,
    ) -> Result<Comments, crate::error::CatalogError> {
        let rows = client
            .query(
                "SELECT objoid, objsubid, description FROM pg_catalog.pg_description \
                 WHERE classoid = $1::text::pg_catalog.regclass",
                &[&catalog],
            )
            .map_err(crate::error::query("comments"))?;
        Ok(Comments(
            rows.iter()
                .map(|r| ((r.get(0), r.get(1)), r.get(2)))
                .collect(),
        ))
    }

    /// The comment on the object itself (sub-id 0), handed out once.
    pub(crate) fn take(&mut self, oid: u32) -> Option<String> {
        self.0.remove(&(oid, 0))
    }

    /// The comment on a column (sub-id = attnum), handed out once.
    pub(crate) fn take_column(&mut self, oid: u32, attnum: i16) -> Option<String> {
        self.0.remove(&(oid, i32::from(attnum)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_changes_revoke_then_grant_only_what_differs() {
        let old = vec![
            "app|SELECT|false".to_owned(),
            "owner|SELECT|false".to_owned(),
        ];
        let new = vec![
            "app|INSERT|false".to_owned(),
            "app|SELECT|true".to_owned(),
            "owner|SELECT|false".to_owned(),
            "PUBLIC|SELECT|false".to_owned(),
        ];
        assert_eq!(
            acl_change("TABLE s.t", &old, &new, "x"),
            [
                "GRANT SELECT ON TABLE s.t TO PUBLIC",
                "REVOKE ALL ON TABLE s.t FROM app",
                "GRANT INSERT ON TABLE s.t TO app",
                "GRANT SELECT ON TABLE s.t TO app WITH GRANT OPTION",
            ]
        );
        assert!(acl_change("TABLE s.t", &old, &old, "x").is_empty());
        assert_eq!(
            comment_change("TABLE t", None, Some("it's")).unwrap(),
            "COMMENT ON TABLE t IS 'it''s'"
        );
    }
}
