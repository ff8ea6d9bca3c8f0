//! The names of partitions' indexes that belong to an index of the partitioned table (and of
//! the indexes behind partitions' primary keys and unique constraints). PostgreSQL creates
//! them itself, under a name it picks, when the partition or the parent's index is created;
//! two databases built differently can give the same index different names.

use retort_pg::{quote_ident, quote_literal};

use crate::common::ns_filter;
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A partition's index attached to an index of its parent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttachedIndex {
    /// The partition.
    pub partition: QName,
    /// The parent's index it is attached to.
    pub parent_index: QName,
    /// Its name (in the partition's schema).
    pub name: String,
    /// The name PostgreSQL gives it when it creates it, when that can be worked out
    /// (`{partition}_{columns}_{idx|key|pkey|excl}`, 63 bytes at most, no clash).
    pub generated_name: Option<String>,
    /// COMMENT ON INDEX (PostgreSQL gives an attached index none of its parent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<AttachedIndex>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, pc.relname::text, pn.nspname::text, pi.relname::text, ci.relname::text, \
                ARRAY(SELECT a.attname::text FROM pg_attribute a \
                      WHERE a.attrelid = ci.oid AND a.attnum > 0 ORDER BY a.attnum), \
                (SELECT con.contype::text FROM pg_constraint con \
                 WHERE con.conrelid = pc.oid AND con.conindid = ci.oid AND con.contype IN ('p', 'u', 'x')), \
                ci.oid \
         FROM pg_inherits ih JOIN pg_class ci ON ci.oid = ih.inhrelid AND ci.relkind IN ('i', 'I') \
         JOIN pg_index x ON x.indexrelid = ci.oid \
         JOIN pg_class pc ON pc.oid = x.indrelid JOIN pg_namespace n ON n.oid = pc.relnamespace \
         JOIN pg_class pi ON pi.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = pi.relnamespace \
         WHERE {filter} ORDER BY 1, 2, 3, 4",
        filter = ns_filter("n"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("partition indexes"))?;
    let comments = params.comments.of("pg_class");
    let mut indexes: Vec<AttachedIndex> = rows
        .iter()
        .map(|r| {
            let partition = QName::new(r.get::<_, String>(0), r.get::<_, String>(1));
            let columns: Vec<String> = r.get(5);
            let label = match r.get::<_, Option<String>>(6).as_deref() {
                Some("p") => "pkey",
                Some("u") => "key",
                Some("x") => "excl",
                _ => "idx",
            };
            let generated = if label == "pkey" {
                format!("{}_{label}", partition.name)
            } else {
                format!("{}_{}_{label}", partition.name, columns.join("_"))
            };
            AttachedIndex {
                parent_index: QName::new(r.get::<_, String>(2), r.get::<_, String>(3)),
                name: r.get(4),
                generated_name: (generated.len() <= 63).then_some(generated),
                comment: comments.get(r.get(7)),
                partition,
            }
        })
        .collect();
    // Two of a partition's indexes with the same generated name (two indexes on `lower(...)`)
    // get it in the order they are created, the second with a number: which one ends up with
    // which name depends on the script's order, so neither is predicted.
    let mut count: std::collections::HashMap<(&QName, &str), usize> = Default::default();
    for i in &indexes {
        if let Some(g) = &i.generated_name {
            *count.entry((&i.partition, g.as_str())).or_default() += 1;
        }
    }
    let shared: Vec<bool> = indexes
        .iter()
        .map(|i| {
            i.generated_name
                .as_deref()
                .is_some_and(|g| count[&(&i.partition, g)] > 1)
        })
        .collect();
    for (i, shared) in indexes.iter_mut().zip(shared) {
        if shared {
            i.generated_name = None;
        }
    }
    Ok(indexes)
}

impl AttachedIndex {
    /// PostgreSQL named it when the partition or the parent's index was created: when that
    /// name is not this one (or cannot be told), a block finds the index through pg_inherits
    /// and renames it. Another index holding the name (a sibling that was given it first, and
    /// whose own block renames it afterwards) is moved out of the way first.
    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = self.rename();
        out.extend(self.comment_change(None));
        out
    }

    fn target(&self) -> String {
        format!(
            "INDEX {}.{}",
            quote_ident(&self.partition.schema),
            quote_ident(&self.name)
        )
    }

    fn comment_change(&self, old: Option<&str>) -> Option<String> {
        crate::common::comment_change(&self.target(), old, self.comment.as_deref())
    }

    fn rename(&self) -> Vec<String> {
        if self.generated_name.as_deref() == Some(self.name.as_str()) {
            return Vec::new();
        }
        vec![self.rename_block()]
    }

    /// The block that finds this index through pg_inherits, whatever it is called by then,
    /// and gives it its name.
    fn rename_block(&self) -> String {
        format!(
            "DO $rename$\n\
             DECLARE r record; holder oid;\n\
             BEGIN\n\
             \x20 FOR r IN SELECT i.inhrelid::regclass AS child, c.relnamespace AS ns FROM pg_catalog.pg_inherits i\n\
             \x20     JOIN pg_catalog.pg_index x ON x.indexrelid = i.inhrelid\n\
             \x20     JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid\n\
             \x20     WHERE i.inhparent = {parent}::regclass AND x.indrelid = {partition}::regclass\n\
             \x20       AND c.relname <> {name}\n\
             \x20 LOOP\n\
             \x20   SELECT h.oid INTO holder FROM pg_catalog.pg_class h\n\
             \x20     WHERE h.relname = {name} AND h.relnamespace = r.ns AND h.relkind IN ('i', 'I');\n\
             \x20   IF holder IS NOT NULL THEN\n\
             \x20     EXECUTE format('ALTER INDEX %s RENAME TO %I', holder::regclass, 'retort_moved_' || holder);\n\
             \x20   END IF;\n\
             \x20   EXECUTE format('ALTER INDEX %s RENAME TO %I', r.child, {name});\n\
             \x20 END LOOP;\n\
             END\n\
             $rename$",
            parent = quote_literal(&self.parent_index.to_string()),
            partition = quote_literal(&self.partition.to_string()),
            name = quote_literal(&self.name),
        )
    }

    /// Nothing: it goes with its partition or its parent's index.
    pub(crate) fn drop(&self) -> Vec<String> {
        Vec::new()
    }

    pub(crate) fn alter(&self, old: &AttachedIndex) -> Option<Vec<String>> {
        let mut out = Vec::new();
        // Found through pg_inherits, not by its old name: a sibling created by the same script
        // may hold that name by now (two parent indexes on one column share the generated
        // name, and the block that names the new one moves this one out of its way).
        if old.name != self.name {
            out.push(self.rename_block());
        }
        out.extend(self.comment_change(old.comment.as_deref()));
        Some(out)
    }
}
