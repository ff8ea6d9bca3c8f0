//! Objects retort does not model yet, counted so that a diff can say what it did not compare
//! instead of passing over it in silence.

use crate::common::{not_in_extension, ns_filter};
use crate::error::{query, CatalogError};

/// "3 foreign tables", "1 rule", ... for each kind present in the filtered schemas.
pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<String>, CatalogError> {
    let f = ns_filter("n");
    let sql = format!(
        "SELECT kind, count(*) FROM ( \
           SELECT 'foreign table' AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'f' AND {f} AND {ext_class} \
           UNION ALL SELECT 'collation' FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace \
             WHERE {f} AND {ext_coll} \
           UNION ALL SELECT 'operator' FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace \
             WHERE {f} AND {ext_op} \
           UNION ALL SELECT 'text search configuration' FROM pg_ts_config t JOIN pg_namespace n ON n.oid = t.cfgnamespace \
             WHERE {f} \
           UNION ALL SELECT 'ordered-set or moving aggregate' FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid \
             JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE (a.aggkind <> 'n' OR a.aggmtransfn <> 0 OR a.aggserialfn <> 0) AND {f} AND {ext_proc} \
           UNION ALL SELECT 'column privilege on a view' FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND c.relkind NOT IN ('r', 'p') AND {f} \
           UNION ALL SELECT 'event trigger' FROM pg_event_trigger e WHERE {ext_evt} \
           UNION ALL SELECT 'REPLICA IDENTITY USING INDEX setting' FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relreplident = 'i' AND {f} AND {ext_class} \
         ) objects GROUP BY kind ORDER BY kind",
        ext_class = not_in_extension("pg_class", "c.oid"),
        ext_coll = not_in_extension("pg_collation", "co.oid"),
        ext_op = not_in_extension("pg_operator", "o.oid"),
        ext_proc = not_in_extension("pg_proc", "p.oid"),
        ext_evt = not_in_extension("pg_event_trigger", "e.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("unsupported objects"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let kind: String = r.get(0);
            let n: i64 = r.get(1);
            format!("{n} {kind}{}", if n == 1 { "" } else { "s" })
        })
        .collect())
}
