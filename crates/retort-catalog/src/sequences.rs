//! Sequences (identity sequences belong to their column and are not listed here).

use crate::common::{acl_columns, ns_filter, Acl, Extras};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A sequence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sequence {
    /// Name.
    pub name: QName,
    /// AS type.
    pub data_type: String,
    /// START WITH.
    pub start: i64,
    /// INCREMENT BY.
    pub increment: i64,
    /// MINVALUE.
    pub min: i64,
    /// MAXVALUE.
    pub max: i64,
    /// CACHE.
    pub cache: i64,
    /// CYCLE.
    pub cycle: bool,
    /// OWNED BY table and column.
    pub owned_by: Option<(QName, String)>,
    /// COMMENT ON SEQUENCE.
    pub comment: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
    /// UNLOGGED (PostgreSQL 15+).
    pub unlogged: bool,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Sequence>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, format_type(s.seqtypid, NULL), s.seqstart, \
                s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
                own.nspname::text, own.relname::text, own.attname::text, \
                c.oid, {acl}, pg_get_userbyid(c.relowner)::text, \
                c.relpersistence = 'u' \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_sequence s ON s.seqrelid = c.oid \
         LEFT JOIN LATERAL (SELECT tn.nspname, tc.relname, a.attname FROM pg_depend d \
             JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace \
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a' \
               AND d.refclassid = 'pg_class'::regclass LIMIT 1) own ON true \
         WHERE c.relkind = 'S' AND {filter} AND {ext} \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                           AND d.objid = c.oid AND d.deptype = 'i')",
        acl = acl_columns("c.relacl", 's'),
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_class", "c.oid"),
    );
    let comments = params.comments.of("pg_class");
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("sequences"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let owned_by = match (
                r.get::<_, Option<String>>(9),
                r.get::<_, Option<String>>(10),
                r.get::<_, Option<String>>(11),
            ) {
                (Some(s), Some(t), Some(c)) => Some((QName::new(s, t), c)),
                _ => None,
            };
            Sequence {
                name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                data_type: r.get(2),
                start: r.get(3),
                increment: r.get(4),
                min: r.get(5),
                max: r.get(6),
                cache: r.get(7),
                cycle: r.get(8),
                owned_by,
                comment: comments.get(r.get(12)),
                acl: Acl::from_row(r, 13, params),
                owner: params.owners.then(|| r.get(15)),
                unlogged: r.get(16),
            }
        })
        .collect())
}

impl Sequence {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        format!("SEQUENCE {}", self.name)
    }

    fn options(&self) -> String {
        format!(
            "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
            self.data_type,
            self.increment,
            self.min,
            self.max,
            self.start,
            self.cache,
            if self.cycle { "CYCLE" } else { "NO CYCLE" }
        )
    }

    /// CREATE SEQUENCE; OWNED BY is set by the owning table's step, which runs after the table exists.
    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![format!(
            "CREATE {}SEQUENCE {} {}",
            if self.unlogged { "UNLOGGED " } else { "" },
            self.name,
            self.options()
        )];
        out.extend(self.extras().create(&self.target(), &self.target()));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP SEQUENCE {}", self.name)]
    }

    pub(crate) fn alter(&self, old: &Sequence) -> Vec<String> {
        let mut out = Vec::new();
        let same = |s: &Sequence| {
            (
                s.data_type.clone(),
                s.start,
                s.increment,
                s.min,
                s.max,
                s.cache,
                s.cycle,
            )
        };
        if same(old) != same(self) {
            // A narrower range may exclude the current value; restart inside it then.
            let restart = if self.min > old.min || self.max < old.max {
                " RESTART"
            } else {
                ""
            };
            out.push(format!(
                "ALTER SEQUENCE {} {}{restart}",
                self.name,
                self.options()
            ));
        }
        if old.unlogged != self.unlogged {
            out.push(format!(
                "ALTER SEQUENCE {} SET {}",
                self.name,
                if self.unlogged { "UNLOGGED" } else { "LOGGED" }
            ));
        }
        if old.owned_by.is_some() && self.owned_by.is_none() {
            out.push(format!("ALTER SEQUENCE {} OWNED BY NONE", self.name));
        }
        out.extend(
            self.extras()
                .change_from(&old.extras(), &self.target(), &self.target()),
        );
        out
    }

    /// `ALTER SEQUENCE .. OWNED BY t.c`, for the owning table's step.
    pub(crate) fn owned_by_sql(&self) -> Option<String> {
        self.owned_by.as_ref().map(|(t, c)| {
            format!(
                "ALTER SEQUENCE {} OWNED BY {t}.{}",
                self.name,
                retort_pg::quote_ident(c)
            )
        })
    }
}
