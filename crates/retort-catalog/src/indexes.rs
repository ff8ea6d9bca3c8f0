//! Indexes that do not back a constraint: unique, partial, expression, INCLUDE, method,
//! opclass, collation, order; on tables and materialized views.

use crate::common::{comment_change, ns_filter};
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
    /// `ALTER TABLE ... CLUSTER ON` this index.
    #[serde(default)]
    pub clustered: bool,
    /// `ALTER TABLE ... REPLICA IDENTITY USING INDEX` this index.
    #[serde(default)]
    pub replica_identity: bool,
    /// `ALTER INDEX ... ALTER COLUMN n SET STATISTICS m` on expression columns: (n, m).
    #[serde(default)]
    pub column_statistics: Vec<(i16, i32)>,
    /// The user-defined operator classes its key columns use, `schema.name`, even where the
    /// definition leaves them out as their type's default: an index that took a built-in
    /// default differs from one that took a user's DEFAULT class for the same type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
}

/// The table settings that name an index (or a constraint's index), for an index whose flags
/// become set: the statements that set them. Unsetting is the table's business (its
/// replica identity and its "clustered" flag), so a move from one index to another is one
/// statement.
pub(crate) fn index_settings(
    table: &QName,
    index: &str,
    (clustered, replica_identity): (bool, bool),
    (was_clustered, was_replica_identity): (bool, bool),
) -> Vec<String> {
    let index = retort_pg::quote_ident(index);
    let mut out = Vec::new();
    if clustered && !was_clustered {
        out.push(format!("ALTER TABLE {table} CLUSTER ON {index}"));
    }
    if replica_identity && !was_replica_identity {
        out.push(format!(
            "ALTER TABLE {table} REPLICA IDENTITY USING INDEX {index}"
        ));
    }
    out
}

/// The indexes; those on plain columns without storage parameters (with or without a
/// predicate) come with an empty definition and their raw rows, for [`crate::deparse`] to
/// write.
pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<(Vec<Index>, Vec<crate::deparse::RawIndex>), CatalogError> {
    let nulls_not_distinct = if params.version >= 150000 {
        "i.indnullsnotdistinct"
    } else {
        "false"
    };
    let sql = format!(
        "SELECT n.nspname::text, ic.relname::text, tn.nspname::text, tc.relname::text, \
                CASE WHEN i.indexprs IS NULL AND ic.reloptions IS NULL \
                       AND NOT EXISTS (SELECT 1 FROM pg_attribute ia WHERE ia.attrelid = i.indexrelid \
                                       AND ia.attoptions IS NOT NULL) \
                     THEN NULL ELSE pg_get_indexdef(i.indexrelid) END, \
                i.indexrelid, i.indisclustered, i.indisreplident, \
                i.indrelid, i.indisunique, {nulls_not_distinct}, ic.relam, am.amname::text, \
                i.indkey::int2[], i.indnkeyatts, i.indclass::oid[], i.indcollation::oid[], \
                i.indoption::int2[], \
                CASE WHEN i.indexprs IS NOT NULL THEN \
                  ARRAY(SELECT a.attnum::int || '=' || a.attstattarget FROM pg_attribute a \
                        WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0 ORDER BY a.attnum) \
                END, i.indpred::text \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_am am ON am.oid = ic.relam \
         JOIN pg_namespace n ON n.oid = ic.relnamespace \
         JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace \
         WHERE tc.relkind IN ('r', 'p', 'm') AND {filter} AND {ext} \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid \
                           AND con.contype IN ('p', 'u', 'x')) \
           AND NOT EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid = i.indexrelid)",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "tc.oid"),
    );
    let comments = params.comments.of("pg_class");
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("indexes"))?;
    let mut raw = Vec::new();
    let user_classes = |r: &postgres::Row| -> Vec<u32> {
        r.get::<_, Vec<u32>>(15)
            .into_iter()
            .filter(|&c| c >= 16384)
            .collect()
    };
    let wanted: Vec<u32> = rows.iter().flat_map(user_classes).collect();
    let class_names = user_class_names(client, wanted)?;
    let indexes = rows
        .iter()
        .map(|r| {
            let x = Index {
                name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                table: QName::new(r.get::<_, String>(2), r.get::<_, String>(3)),
                // ON ONLY (how the server shows a partitioned table's index) would leave the
                // partitions without theirs.
                definition: r.get::<_, Option<String>>(4).unwrap_or_default().replacen(
                    " ON ONLY ",
                    " ON ",
                    1,
                ),
                comment: comments.get(r.get(5)),
                clustered: r.get(6),
                replica_identity: r.get(7),
                column_statistics: r
                    .get::<_, Option<Vec<String>>>(18)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| {
                        let (n, m) = s.split_once('=')?;
                        Some((n.parse().ok()?, m.parse().ok()?))
                    })
                    .collect(),
                classes: user_classes(r)
                    .iter()
                    .filter_map(|c| class_names.get(c).cloned())
                    .collect(),
            };
            if r.get::<_, Option<String>>(4).is_none() {
                raw.push(crate::deparse::RawIndex {
                    oid: r.get(5),
                    key: x.name.clone(),
                    table_oid: r.get(8),
                    unique: r.get(9),
                    nulls_not_distinct: r.get(10),
                    am: r.get(11),
                    am_name: r.get(12),
                    columns: r.get(13),
                    key_columns: r.get(14),
                    opclasses: r.get(15),
                    collations: r.get(16),
                    options: r.get(17),
                    predicate: r.get(19),
                });
            }
            x
        })
        .collect();
    Ok((indexes, raw))
}

/// `schema.name` of the operator classes `oids` (user-defined ones, which few indexes use):
/// one query, none when there are none.
pub(crate) fn user_class_names(
    client: &mut impl postgres::GenericClient,
    oids: Vec<u32>,
) -> Result<std::collections::HashMap<u32, String>, CatalogError> {
    let mut names = std::collections::HashMap::new();
    if oids.is_empty() {
        return Ok(names);
    }
    for r in client
        .query(
            "SELECT oc.oid, quote_ident(n.nspname) || '.' || quote_ident(oc.opcname) \
             FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace \
             WHERE oc.oid = ANY($1)",
            &[&oids],
        )
        .map_err(query("index operator classes"))?
    {
        names.insert(r.get(0), r.get(1));
    }
    Ok(names)
}

impl Index {
    fn flags(&self) -> (bool, bool) {
        (self.clustered, self.replica_identity)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition.clone()];
        out.extend(comment_change(
            &format!("INDEX {}", self.name),
            None,
            self.comment.as_deref(),
        ));
        out.extend(index_settings(
            &self.table,
            &self.name.name,
            self.flags(),
            (false, false),
        ));
        out.extend(self.statistics_changes(&[]));
        out
    }

    /// `ALTER INDEX ... ALTER COLUMN n SET STATISTICS` turning `old` targets into these.
    fn statistics_changes(&self, old: &[(i16, i32)]) -> Vec<String> {
        let set = |n: i16, m: i32| {
            format!(
                "ALTER INDEX {} ALTER COLUMN {n} SET STATISTICS {m}",
                self.name
            )
        };
        let mut out: Vec<String> = self
            .column_statistics
            .iter()
            .filter(|c| !old.contains(c))
            .map(|&(n, m)| set(n, m))
            .collect();
        out.extend(
            old.iter()
                .filter(|(n, _)| !self.column_statistics.iter().any(|(k, _)| k == n))
                .map(|&(n, _)| set(n, -1)),
        );
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP INDEX {}", self.name)]
    }

    pub(crate) fn alter(&self, old: &Index) -> Option<Vec<String>> {
        if old.definition != self.definition
            || old.table != self.table
            || old.classes != self.classes
        {
            return None;
        }
        let mut out: Vec<String> = comment_change(
            &format!("INDEX {}", self.name),
            old.comment.as_deref(),
            self.comment.as_deref(),
        )
        .into_iter()
        .collect();
        out.extend(index_settings(
            &self.table,
            &self.name.name,
            self.flags(),
            old.flags(),
        ));
        out.extend(self.statistics_changes(&old.column_statistics));
        Some(out)
    }
}
