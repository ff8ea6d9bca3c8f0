//! Publications for logical replication (CREATE PUBLICATION): all tables, or tables (with
//! column lists and row filters) and schemas; what they publish; via the partition root.

use retort_pg::{quote_ident, quote_literal};

use crate::common::comment_and_owner;
use crate::error::{query, CatalogError};

/// A table in a publication.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct PublishedTable {
    /// `s.t`, quoted.
    pub table: String,
    /// Column list, quoted names in column order; empty for all columns.
    pub columns: Vec<String>,
    /// Row filter, as pg_get_expr renders it.
    pub filter: Option<String>,
}

impl PublishedTable {
    /// `ONLY s.t (a, b) WHERE (...)`. ONLY: each partition or child is listed on its own.
    fn clause(&self) -> String {
        let mut s = format!("ONLY {}", self.table);
        if !self.columns.is_empty() {
            s.push_str(&format!(" ({})", self.columns.join(", ")));
        }
        if let Some(f) = &self.filter {
            s.push_str(&format!(" WHERE ({f})"));
        }
        s
    }
}

/// A publication.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Publication {
    /// Name.
    pub name: String,
    /// FOR ALL TABLES.
    pub all_tables: bool,
    /// The operations published, in `insert, update, delete, truncate` order.
    pub publish: Vec<String>,
    /// publish_via_partition_root.
    pub via_root: bool,
    /// Tables, sorted.
    pub tables: Vec<PublishedTable>,
    /// TABLES IN SCHEMA (PostgreSQL 15+), quoted, sorted.
    pub schemas: Vec<String>,
    /// COMMENT ON PUBLICATION.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Publication>, CatalogError> {
    let (columns, filter, schemas) = if params.version >= 150000 {
        (
            "ARRAY(SELECT quote_ident(a.attname) FROM pg_attribute a \
               WHERE a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs) ORDER BY a.attnum)",
            "pg_get_expr(pr.prqual, pr.prrelid)",
            "ARRAY(SELECT quote_ident(n.nspname) FROM pg_publication_namespace pn \
               JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid ORDER BY 1)",
        )
    } else {
        ("'{}'::text[]", "NULL::text", "'{}'::text[]")
    };
    let publications = client
        .query(
            &format!(
                "SELECT p.pubname::text, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, \
                        p.pubtruncate, p.pubviaroot, p.oid, pg_get_userbyid(p.pubowner)::text, \
                        {schemas} \
                 FROM pg_publication p ORDER BY 1"
            ),
            &[],
        )
        .map_err(query("publications"))?;
    let members = client
        .query(
            &format!(
                "SELECT pr.prpubid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), \
                        {columns}, {filter} \
                 FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace"
            ),
            &[],
        )
        .map_err(query("publications"))?;
    let comments = params.comments.of("pg_publication");
    Ok(publications
        .iter()
        .map(|r| {
            let oid: u32 = r.get(7);
            let mut tables: Vec<PublishedTable> = members
                .iter()
                .filter(|m| m.get::<_, u32>(0) == oid)
                .map(|m| PublishedTable {
                    table: m.get(1),
                    columns: m.get(2),
                    filter: m.get(3),
                })
                .collect();
            tables.sort();
            let publish = ["insert", "update", "delete", "truncate"]
                .iter()
                .enumerate()
                .filter(|(i, _)| r.get::<_, bool>(i + 2))
                .map(|(_, p)| p.to_string())
                .collect();
            Publication {
                name: r.get(0),
                all_tables: r.get(1),
                publish,
                via_root: r.get(6),
                tables,
                schemas: r.get(9),
                comment: comments.get(oid),
                owner: params.owners.then(|| r.get(8)),
            }
        })
        .collect())
}

impl Publication {
    fn target(&self) -> String {
        format!("PUBLICATION {}", quote_ident(&self.name))
    }

    fn options(&self) -> String {
        format!(
            "publish = {}, publish_via_partition_root = {}",
            quote_literal(&self.publish.join(", ")),
            self.via_root
        )
    }

    /// The objects clause: `TABLE ONLY a, ONLY b, TABLES IN SCHEMA s` (tables first: after a
    /// schema, a bare name would be read as another schema; PostgreSQL 13 and 14 accept
    /// `TABLE` only once).
    fn objects(&self) -> Vec<String> {
        objects_clause(
            self.tables.iter().map(PublishedTable::clause).collect(),
            &self.schemas,
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let what = if self.all_tables {
            " FOR ALL TABLES".to_string()
        } else {
            let objects = self.objects();
            if objects.is_empty() {
                String::new()
            } else {
                format!(" FOR {}", objects.join(", "))
            }
        };
        let mut out = vec![format!(
            "CREATE PUBLICATION {}{what} WITH ({})",
            quote_ident(&self.name),
            self.options()
        )];
        out.extend(comment_and_owner(
            &self.target(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP PUBLICATION {}", quote_ident(&self.name))]
    }

    /// In place: options, the table and schema lists, comment, owner. None when FOR ALL
    /// TABLES changes (PostgreSQL cannot alter that).
    pub(crate) fn alter(&self, old: &Publication) -> Option<Vec<String>> {
        if old.all_tables != self.all_tables {
            return None;
        }
        let name = quote_ident(&self.name);
        let mut out = Vec::new();
        if (&old.publish, old.via_root) != (&self.publish, self.via_root) {
            out.push(format!("ALTER PUBLICATION {name} SET ({})", self.options()));
        }
        if (&old.tables, &old.schemas) != (&self.tables, &self.schemas) {
            let objects = self.objects();
            if objects.is_empty() {
                let dropped = objects_clause(
                    old.tables
                        .iter()
                        .map(|t| format!("ONLY {}", t.table))
                        .collect(),
                    &old.schemas,
                );
                out.push(format!(
                    "ALTER PUBLICATION {name} DROP {}",
                    dropped.join(", ")
                ));
            } else {
                out.push(format!(
                    "ALTER PUBLICATION {name} SET {}",
                    objects.join(", ")
                ));
            }
        }
        out.extend(comment_and_owner(
            &self.target(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        Some(out)
    }
}

fn objects_clause(tables: Vec<String>, schemas: &[String]) -> Vec<String> {
    tables
        .into_iter()
        .enumerate()
        .map(|(i, t)| if i == 0 { format!("TABLE {t}") } else { t })
        .chain(schemas.iter().map(|s| format!("TABLES IN SCHEMA {s}")))
        .collect()
}
