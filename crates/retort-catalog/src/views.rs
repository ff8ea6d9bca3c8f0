//! Views (with security_barrier, security_invoker, check option) and materialized views.

use std::collections::BTreeMap;

use crate::common::{
    acl_columns, column_acl_change, explode_acl, ns_filter, text_array, Acl, Extras,
};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A view or materialized view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct View {
    /// Name.
    pub name: QName,
    /// Materialized.
    pub materialized: bool,
    /// The query, as pg_get_viewdef renders it.
    pub definition: String,
    /// Options (`security_barrier=true`, `check_option=local`, ...).
    pub options: Vec<String>,
    /// COMMENT ON VIEW.
    pub comment: Option<String>,
    /// COMMENT ON COLUMN, by column name.
    #[serde(default)]
    pub column_comments: Vec<(String, String)>,
    /// A materialized view created `WITH NO DATA` (never refreshed).
    #[serde(default)]
    pub unpopulated: bool,
    /// Privileges.
    pub acl: Acl,
    /// Whether one of a materialized view's indexes is marked for CLUSTER (the index carries
    /// which one).
    #[serde(default)]
    pub clustered: bool,
    /// Column privileges (`GRANT SELECT (c) ON v`), `grantee|PRIVILEGE|grantable` by column.
    #[serde(default)]
    pub column_acl: BTreeMap<String, Vec<String>>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<View>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind = 'm', pg_get_viewdef(c.oid), \
                c.reloptions::text[], c.oid, {acl}, pg_get_userbyid(c.relowner)::text, \
                ARRAY(SELECT a.attname::text FROM pg_description d \
                      JOIN pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid \
                      WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid > 0 \
                      ORDER BY a.attnum), \
                c.relkind = 'm' AND NOT c.relispopulated, \
                ARRAY(SELECT d.description FROM pg_description d \
                      WHERE d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid > 0 \
                      ORDER BY d.objsubid), \
                ARRAY(SELECT a.attname::text || '|' || g FROM pg_attribute a \
                      CROSS JOIN LATERAL unnest({column_acl}) g \
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL), \
                c.relkind = 'm' AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisclustered) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND {filter} AND {ext}",
        acl = acl_columns("c.relacl", 'r'),
        column_acl = explode_acl("a.attacl", Some("c.relowner")),
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let comments = params.comments.of("pg_class");
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("views"))?;
    Ok(rows
        .iter()
        .map(|r| View {
            name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            materialized: r.get(2),
            definition: r
                .get::<_, String>(3)
                .trim()
                .trim_end_matches(';')
                .to_owned(),
            options: text_array(r, 4),
            comment: comments.get(r.get(5)),
            acl: Acl::from_row(r, 6, params),
            owner: params.owners.then(|| r.get(8)),
            column_comments: text_array(r, 9)
                .into_iter()
                .zip(text_array(r, 11))
                .collect(),
            unpopulated: r.get(10),
            clustered: r.get(13),
            column_acl: text_array(r, 12)
                .into_iter()
                .fold(BTreeMap::new(), |mut m, item| {
                    if let Some((column, grant)) = item.split_once('|') {
                        m.entry(column.to_string())
                            .or_insert_with(Vec::new)
                            .push(grant.to_string());
                    }
                    m
                }),
        })
        .collect())
}

impl View {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        format!(
            "{} {}",
            if self.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            },
            self.name
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let with = if self.options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", self.options.join(", "))
        };
        let mut out = vec![format!(
            "CREATE {}{} {with} AS\n{}{}",
            if self.materialized {
                "MATERIALIZED VIEW "
            } else {
                "VIEW "
            },
            self.name,
            self.definition,
            if self.unpopulated {
                "\nWITH NO DATA"
            } else {
                ""
            }
        )
        .replace("  AS", " AS")];
        out.extend(self.column_comment_changes(&[]));
        out.extend(
            self.extras()
                .create(&self.target(), &format!("TABLE {}", self.name)),
        );
        out.extend(self.column_acl_changes(&BTreeMap::new()));
        out
    }

    /// GRANT and REVOKE statements on single columns turning `old`'s into these.
    fn column_acl_changes(&self, old: &BTreeMap<String, Vec<String>>) -> Vec<String> {
        let owner = self
            .owner
            .as_deref()
            .map(retort_pg::quote_ident)
            .unwrap_or_else(|| "CURRENT_USER".into());
        let mut columns: Vec<&String> = old.keys().chain(self.column_acl.keys()).collect();
        columns.sort();
        columns.dedup();
        let none = Vec::new();
        columns
            .into_iter()
            .flat_map(|c| {
                column_acl_change(
                    &self.name.to_string(),
                    c,
                    old.get(c).unwrap_or(&none),
                    self.column_acl.get(c).unwrap_or(&none),
                    &owner,
                )
            })
            .collect()
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    pub(crate) fn alter(&self, old: &View) -> Option<Vec<String>> {
        if old.definition != self.definition
            || old.materialized != self.materialized
            || old.options != self.options
        {
            return None;
        }
        let mut out = Vec::new();
        match (old.unpopulated, self.unpopulated) {
            // Data cannot be taken away again: only a re-creation empties it.
            (false, true) => return None,
            (true, false) => out.push(format!("REFRESH MATERIALIZED VIEW {}", self.name)),
            _ => {}
        }
        out.extend(self.extras().change_from(
            &old.extras(),
            &self.target(),
            &format!("TABLE {}", self.name),
        ));
        out.extend(self.column_comment_changes(&old.column_comments));
        out.extend(self.column_acl_changes(&old.column_acl));
        // Marking an index for CLUSTER is the index's statement; only "none" is the view's.
        if old.clustered && !self.clustered {
            out.push(format!("ALTER TABLE {} SET WITHOUT CLUSTER", self.name));
        }
        Some(out)
    }

    /// COMMENT ON COLUMN statements that turn `old` comments into this view's.
    fn column_comment_changes(&self, old: &[(String, String)]) -> Vec<String> {
        let mut out = Vec::new();
        for (col, text) in &self.column_comments {
            if !old.iter().any(|(c, t)| c == col && t == text) {
                out.push(format!(
                    "COMMENT ON COLUMN {}.{} IS {}",
                    self.name,
                    retort_pg::quote_ident(col),
                    retort_pg::quote_literal(text)
                ));
            }
        }
        for (col, _) in old {
            if !self.column_comments.iter().any(|(c, _)| c == col) {
                out.push(format!(
                    "COMMENT ON COLUMN {}.{} IS NULL",
                    self.name,
                    retort_pg::quote_ident(col)
                ));
            }
        }
        out
    }
}
