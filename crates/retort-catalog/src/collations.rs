//! User-defined collations (CREATE COLLATION): provider, locale or LC_COLLATE/LC_CTYPE,
//! determinism and ICU rules. The collation version is left out: it belongs to the server's
//! ICU or C library, not to the schema.

use retort_pg::{quote_ident, quote_literal};

use crate::common::{comment_and_owner, comment_change, ns_filter, owner_change};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A collation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Collation {
    /// Name.
    pub name: QName,
    /// `c` (libc), `i` (ICU), `b` (builtin, PostgreSQL 17+).
    pub provider: char,
    /// false for `deterministic = false` (case- or accent-insensitive comparisons).
    pub deterministic: bool,
    /// ICU or builtin locale.
    pub locale: Option<String>,
    /// libc LC_COLLATE.
    pub collate: Option<String>,
    /// libc LC_CTYPE.
    pub ctype: Option<String>,
    /// ICU tailoring rules (PostgreSQL 16+).
    pub rules: Option<String>,
    /// COMMENT ON COLLATION.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Collation>, CatalogError> {
    let locale = if params.version >= 170000 {
        "co.colllocale"
    } else if params.version >= 150000 {
        "co.colliculocale"
    } else {
        "NULL::text"
    };
    let rules = if params.version >= 160000 {
        "co.collicurules"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT n.nspname::text, co.collname::text, co.collprovider::text, co.collisdeterministic, \
                co.collcollate::text, co.collctype::text, {locale}::text, {rules}::text, co.oid, \
                pg_get_userbyid(co.collowner)::text \
         FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace \
         WHERE co.oid >= 16384 AND {filter} AND {ext} ORDER BY 1, 2",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_collation", "co.oid"),
    );
    let comments = params.comments.of("pg_collation");
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("collations"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let provider = r.get::<_, String>(2).chars().next().unwrap_or('c');
            let mut collate: Option<String> = r.get(4);
            let mut ctype: Option<String> = r.get(5);
            let mut locale: Option<String> = r.get(6);
            // Before PostgreSQL 15 an ICU collation kept its locale in collcollate/collctype.
            if provider != 'c' {
                if locale.is_none() {
                    locale = collate.clone();
                }
                collate = None;
                ctype = None;
            }
            Collation {
                name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                provider,
                deterministic: r.get(3),
                locale,
                collate,
                ctype,
                rules: r.get(7),
                comment: comments.get(r.get(8)),
                owner: params.owners.then(|| r.get(9)),
            }
        })
        .collect())
}

impl Collation {
    fn target(&self) -> String {
        format!("COLLATION {}", self.name)
    }

    /// The CREATE statement under `name`.
    pub(crate) fn create_as(&self, name: &QName) -> String {
        let provider = match self.provider {
            'i' => "icu",
            'b' => "builtin",
            _ => "libc",
        };
        let mut options = vec![format!("provider = {provider}")];
        if !self.deterministic {
            options.push("deterministic = false".into());
        }
        match (&self.locale, &self.collate, &self.ctype) {
            (Some(l), _, _) => options.push(format!("locale = {}", quote_literal(l))),
            (None, Some(c), Some(t)) if c == t => {
                options.push(format!("locale = {}", quote_literal(c)))
            }
            (None, c, t) => {
                if let Some(c) = c {
                    options.push(format!("lc_collate = {}", quote_literal(c)));
                }
                if let Some(t) = t {
                    options.push(format!("lc_ctype = {}", quote_literal(t)));
                }
            }
        }
        if let Some(r) = &self.rules {
            options.push(format!("rules = {}", quote_literal(r)));
        }
        format!("CREATE COLLATION {name} ({})", options.join(", "))
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.create_as(&self.name)];
        out.extend(comment_and_owner(
            &self.target(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP COLLATION {}", self.name)]
    }

    /// Whether the two define the same comparisons (everything but comment and owner).
    pub(crate) fn same_definition(&self, old: &Collation) -> bool {
        (
            self.provider,
            self.deterministic,
            &self.locale,
            &self.collate,
            &self.ctype,
            &self.rules,
        ) == (
            old.provider,
            old.deterministic,
            &old.locale,
            &old.collate,
            &old.ctype,
            &old.rules,
        )
    }

    /// Comment and owner changes; None when the definition changed (PostgreSQL cannot alter
    /// it: the collation is replaced).
    pub(crate) fn alter(&self, old: &Collation) -> Option<Vec<String>> {
        if !self.same_definition(old) {
            return None;
        }
        let mut out: Vec<String> = comment_change(
            &self.target(),
            old.comment.as_deref(),
            self.comment.as_deref(),
        )
        .into_iter()
        .collect();
        out.extend(owner_change(
            &self.target(),
            old.owner.as_deref(),
            self.owner.as_deref(),
        ));
        Some(out)
    }

    /// Renames it (to make way for its replacement).
    pub(crate) fn rename_sql(&self, to: &str) -> String {
        format!(
            "ALTER COLLATION {} RENAME TO {}",
            self.name,
            quote_ident(to)
        )
    }
}
