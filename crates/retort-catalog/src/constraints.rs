//! Table constraints: primary key, unique (incl. NULLS NOT DISTINCT), check, foreign key,
//! exclusion; NOT VALID.

use retort_pg::quote_ident;

use crate::common::{comment_change, ns_filter};
use crate::error::CatalogError;
use crate::indexes::index_settings;
use crate::name::QName;

/// A table constraint, as pg_get_constraintdef renders it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Constraint {
    /// The table.
    pub table: QName,
    /// Name.
    pub name: String,
    /// p, u, c, f or x.
    pub kind: char,
    /// `PRIMARY KEY (id)`, `CHECK (...) NOT VALID`, ...
    pub definition: String,
    /// COMMENT ON CONSTRAINT.
    pub comment: Option<String>,
    /// `ALTER TABLE ... CLUSTER ON` the constraint's index.
    #[serde(default)]
    pub clustered: bool,
    /// `ALTER TABLE ... REPLICA IDENTITY USING INDEX` the constraint's index.
    #[serde(default)]
    pub replica_identity: bool,
    /// The user-defined operator classes its index uses, as [`crate::Index::classes`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
}

/// The constraints; primary keys, unique constraints, foreign keys and CHECK constraints come
/// with an empty definition and their raw rows, for [`crate::deparse`] to write.
pub(crate) fn load(
    client: &mut postgres::Transaction<'_>,
    params: &crate::Params,
) -> Result<(Vec<Constraint>, Vec<crate::deparse::RawConstraint>), CatalogError> {
    // PostgreSQL 18 adds WITHOUT OVERLAPS, PERIOD and NOT ENFORCED: the server writes those.
    let written_here = if params.version < 180000 {
        "con.contype IN ('p', 'u', 'f', 'c')"
    } else {
        "false"
    };
    let (delete_set, nulls_not_distinct) = if params.version >= 150000 {
        (
            "con.confdelsetcols",
            "coalesce(ix.indnullsnotdistinct, false)",
        )
    } else {
        ("NULL::int2[]", "false")
    };
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, con.conname::text, con.contype::text, \
                CASE WHEN {written_here} THEN NULL ELSE pg_get_constraintdef(con.oid) END, con.oid, \
                coalesce(ix.indisclustered, false), coalesce(ix.indisreplident, false), \
                con.conrelid, con.conkey, con.confrelid, con.confkey, con.confmatchtype::text, \
                con.confupdtype::text, con.confdeltype::text, {delete_set}, con.condeferrable, \
                con.condeferred, con.convalidated, {nulls_not_distinct}, ix.indkey::int2[], \
                CASE WHEN con.contype = 'c' THEN con.conbin::text END, con.connoinherit, \
                ix.indclass::oid[] \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
         LEFT JOIN pg_index ix ON ix.indexrelid = con.conindid AND con.contype IN ('p', 'u', 'x') \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE con.contype IN ('p', 'u', 'c', 'f', 'x') AND con.conislocal AND con.conparentid = 0 \
           AND {filter} AND {ext}",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let comments = params.comments.of("pg_constraint");
    let ch = |r: &postgres::Row, i: usize| r.get::<_, String>(i).chars().next().unwrap_or(' ');
    let mut raw = Vec::new();
    let mut constraints = Vec::new();
    let mut with_classes: Vec<(usize, Vec<u32>)> = Vec::new();
    // Streamed: the rows are never all held at once.
    crate::common::each_row(client, &sql, &params.as_refs(), "constraints", |r| {
        let k = Constraint {
            table: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            name: r.get(2),
            kind: ch(r, 3),
            definition: r.get::<_, Option<String>>(4).unwrap_or_default(),
            comment: comments.get(r.get(5)),
            clustered: r.get(6),
            replica_identity: r.get(7),
            classes: Vec::new(),
        };
        let user: Vec<u32> = r
            .get::<_, Option<Vec<u32>>>(23)
            .unwrap_or_default()
            .into_iter()
            .filter(|&c| c >= 16384)
            .collect();
        if !user.is_empty() {
            with_classes.push((constraints.len(), user));
        }
        if r.get::<_, Option<String>>(4).is_none() {
            raw.push(crate::deparse::RawConstraint {
                oid: r.get(5),
                key: (k.table.clone(), k.name.clone()),
                kind: k.kind,
                conrelid: r.get(8),
                conkey: r.get::<_, Option<Vec<i16>>>(9).unwrap_or_default(),
                confrelid: r.get(10),
                confkey: r.get::<_, Option<Vec<i16>>>(11).unwrap_or_default(),
                fk: (ch(r, 12), ch(r, 13), ch(r, 14)),
                delete_set_columns: r.get(15),
                deferrable: r.get(16),
                deferred: r.get(17),
                validated: r.get(18),
                nulls_not_distinct: r.get(19),
                index_columns: r.get::<_, Option<Vec<i16>>>(20).unwrap_or_default(),
                check: r.get(21),
                no_inherit: r.get(22),
            });
        }
        constraints.push(k);
    })?;
    let names = crate::indexes::user_class_names(
        client,
        with_classes
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .collect(),
    )?;
    for (i, oids) in with_classes {
        constraints[i].classes = oids.iter().filter_map(|c| names.get(c).cloned()).collect();
    }
    Ok((constraints, raw))
}

impl Constraint {
    fn target(&self) -> String {
        format!("CONSTRAINT {} ON {}", quote_ident(&self.name), self.table)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {}",
            self.table,
            quote_ident(&self.name),
            self.definition
        )];
        out.extend(comment_change(
            &self.target(),
            None,
            self.comment.as_deref(),
        ));
        out.extend(index_settings(
            &self.table,
            &self.name,
            (self.clustered, self.replica_identity),
            (false, false),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            self.table,
            quote_ident(&self.name)
        )]
    }

    /// In place: validating a NOT VALID constraint, comments. None: drop and add again.
    pub(crate) fn alter(&self, old: &Constraint) -> Option<Vec<String>> {
        let mut out = Vec::new();
        if old.classes != self.classes {
            return None;
        }
        if old.definition != self.definition {
            if old.definition.strip_suffix(" NOT VALID") == Some(self.definition.as_str()) {
                out.push(format!(
                    "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                    self.table,
                    quote_ident(&self.name)
                ));
            } else {
                return None;
            }
        }
        out.extend(comment_change(
            &self.target(),
            old.comment.as_deref(),
            self.comment.as_deref(),
        ));
        out.extend(index_settings(
            &self.table,
            &self.name,
            (self.clustered, self.replica_identity),
            (old.clustered, old.replica_identity),
        ));
        Some(out)
    }
}
