//! Extended statistics objects (CREATE STATISTICS), as pg_get_statisticsobjdef renders them.

use crate::common::{comment_change, ns_filter};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A statistics object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Statistics {
    /// Name.
    pub name: QName,
    /// The table it is on.
    pub table: QName,
    /// `CREATE STATISTICS ...`.
    pub definition: String,
    /// COMMENT ON STATISTICS.
    pub comment: Option<String>,
    /// `ALTER STATISTICS ... SET STATISTICS n`, when set.
    #[serde(default)]
    pub target: Option<i32>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Statistics>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, s.stxname::text, tn.nspname::text, c.relname::text, \
                pg_get_statisticsobjdef(s.oid), obj_description(s.oid, 'pg_statistic_ext'), \
                CASE WHEN s.stxstattarget >= 0 THEN s.stxstattarget::int END \
         FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace \
         JOIN pg_class c ON c.oid = s.stxrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace \
         WHERE {filter} AND {ext} ORDER BY 1, 2",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("statistics objects"))?;
    Ok(rows
        .iter()
        .map(|r| Statistics {
            name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            table: QName::new(r.get::<_, String>(2), r.get::<_, String>(3)),
            definition: r.get(4),
            comment: r.get(5),
            target: r.get(6),
        })
        .collect())
}

impl Statistics {
    fn target(&self) -> String {
        format!("STATISTICS {}", self.name)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition.clone()];
        out.extend(
            self.target
                .map(|n| format!("ALTER {} SET STATISTICS {n}", self.target())),
        );
        out.extend(comment_change(
            &self.target(),
            None,
            self.comment.as_deref(),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP STATISTICS {}", self.name)]
    }

    pub(crate) fn alter(&self, old: &Statistics) -> Option<Vec<String>> {
        if old.definition != self.definition || old.table != self.table {
            return None;
        }
        let mut out = Vec::new();
        if old.target != self.target {
            out.push(format!(
                "ALTER {} SET STATISTICS {}",
                self.target(),
                self.target.unwrap_or(-1)
            ));
        }
        out.extend(comment_change(
            &self.target(),
            old.comment.as_deref(),
            self.comment.as_deref(),
        ));
        Some(out)
    }
}
