//! Objects retort does not model yet, counted so that a diff can say what it did not compare
//! instead of passing over it in silence.

use crate::common::ns_filter;
use crate::error::{query, CatalogError};

/// "3 foreign tables", "1 rule", ... for each kind present in the filtered schemas.
pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<String>, CatalogError> {
    let f = ns_filter("n");
    let sql = format!(
        "SELECT kind, count(*) FROM ( \
           SELECT 'table in a tablespace' AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'm', 'i') AND c.reltablespace <> 0 AND {f} AND {ext_class} \
           UNION ALL SELECT 'table access method other than heap' FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam \
             WHERE c.relkind IN ('r', 'm') AND am.amname <> 'heap' AND {f} AND {ext_class} \
           UNION ALL SELECT 'base or shell type' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE t.typtype IN ('b', 'p') AND t.typelem = 0 AND t.oid >= 16384 AND {f} AND {ext_type} \
           UNION ALL SELECT 'text search parser or template' FROM ( \
               SELECT prsnamespace AS ns, oid FROM pg_ts_parser \
               UNION ALL SELECT tmplnamespace, oid FROM pg_ts_template) ts \
             JOIN pg_namespace n ON n.oid = ts.ns WHERE ts.oid >= 16384 AND {f} \
           UNION ALL SELECT 'access method' FROM pg_am am WHERE am.oid >= 16384 AND {ext_am} \
           UNION ALL SELECT 'subscription' FROM pg_subscription WHERE subdbid = \
               (SELECT oid FROM pg_database WHERE datname = current_database()) \
           UNION ALL SELECT 'security label' FROM pg_seclabel \
         ) objects GROUP BY kind ORDER BY kind",
        ext_type = params.extensions.exclude("pg_type", "t.oid"),
        ext_am = params.extensions.exclude("pg_am", "am.oid"),
        ext_class = params.extensions.exclude("pg_class", "c.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("unsupported objects"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind: String = r.get(0);
            let n: i64 = r.get(1);
            if n == 1 {
                format!("1 {kind}")
            } else {
                format!("{n} {}", plural(&kind))
            }
        })
        .collect())
}

/// The plural of a kind named above.
fn plural(kind: &str) -> String {
    match kind {
        "table in a tablespace" => "tables in tablespaces".into(),
        "table access method other than heap" => {
            "tables with an access method other than heap".into()
        }
        k => format!("{k}s"),
    }
}
