//! Indexes that do not back a constraint: unique, partial, expression, INCLUDE, method,
//! opclass, collation, order; on tables and materialized views.

use crate::common::{comment_change, not_in_extension, ns_filter, Comments};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// An index, as pg_get_indexdef renders it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Index {
    /// Name.
    pub name: QName,
    /// The table or materialized view.
    pub table: QName,
    /// `CREATE [UNIQUE] INDEX ...`.
    pub definition: String,
    /// COMMENT ON INDEX.
    pub comment: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Index>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, ic.relname::text, tn.nspname::text, tc.relname::text, \
                pg_get_indexdef(i.indexrelid), i.indexrelid \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = ic.relnamespace \
         JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace \
         WHERE tc.relkind IN ('r', 'p', 'm') AND {filter} AND {ext} \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid \
                           AND con.contype IN ('p', 'u', 'x')) \
           AND NOT EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid = i.indexrelid) \
         ORDER BY 1, 2",
        filter = ns_filter("n"),
        ext = not_in_extension("pg_class", "tc.oid"),
    );
    let mut comments = Comments::load(client, "pg_class")?;
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("indexes"))?;
    Ok(rows
        .iter()
        .map(|r| Index {
            name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            table: QName::new(r.get::<_, String>(2), r.get::<_, String>(3)),
            // ON ONLY (how the server shows a partitioned table's index) would leave the
            // partitions without theirs.
            definition: r.get::<_, String>(4).replacen(" ON ONLY ", " ON ", 1),
            comment: comments.take(r.get(5)),
        })
        .collect())
}

impl Index {
    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition.clone()];
        out.extend(comment_change(
            &format!("INDEX {}", self.name),
            None,
            self.comment.as_deref(),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP INDEX {}", self.name)]
    }

    pub(crate) fn alter(&self, old: &Index) -> Option<Vec<String>> {
        if old.definition != self.definition || old.table != self.table {
            return None;
        }
        Some(
            comment_change(
                &format!("INDEX {}", self.name),
                old.comment.as_deref(),
                self.comment.as_deref(),
            )
            .into_iter()
            .collect(),
        )
    }
}
