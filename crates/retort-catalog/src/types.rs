//! User-defined types: enums, domains, composite types and range types.

use retort_pg::{quote_ident, quote_literal};

use crate::common::{acl_columns, ns_filter, text_array, Acl, Extras};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// What kind of type, with its definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TypeKind {
    /// `CREATE TYPE .. AS ENUM`: labels in sort order.
    Enum(Vec<String>),
    /// `CREATE DOMAIN`.
    Domain {
        /// Base type, as format_type renders it.
        base: String,
        /// COLLATE, when not the base type's.
        collation: Option<String>,
        /// DEFAULT expression.
        default: Option<String>,
        /// NOT NULL.
        not_null: bool,
        /// CHECK constraints: (name, pg_get_constraintdef), by name.
        checks: Vec<(String, String)>,
    },
    /// `CREATE TYPE .. AS (...)`: (attribute, type) in order.
    Composite(Vec<(String, String)>),
    /// `CREATE TYPE .. AS RANGE`.
    Range {
        /// SUBTYPE.
        subtype: String,
        /// SUBTYPE_DIFF function, when set.
        subtype_diff: Option<String>,
        /// The other options as CREATE writes them: SUBTYPE_OPCLASS (when not the default),
        /// COLLATION (when not the subtype's), CANONICAL, MULTIRANGE_TYPE_NAME (PostgreSQL 14+).
        #[serde(default)]
        options: Vec<String>,
    },
}

impl TypeDef {
    /// What an in-place change from `old` does to stored data: a composite type's dropped or
    /// retyped attributes (and so the columns of its typed tables, and the fields of columns
    /// of this type).
    pub(crate) fn destructive_change(&self, old: &TypeDef) -> Option<String> {
        let (TypeKind::Composite(a), TypeKind::Composite(b)) = (&old.kind, &self.kind) else {
            return None;
        };
        let mut why = Vec::new();
        let dropped: Vec<String> = a
            .iter()
            .filter(|(n, _)| !b.iter().any(|(m, _)| m == n))
            .map(|(n, _)| quote_ident(n))
            .collect();
        if !dropped.is_empty() {
            why.push(format!(
                "drops attribute(s) {} of {} and their data in typed tables and columns of the type",
                dropped.join(", "),
                self.name
            ));
        }
        let retyped: Vec<String> = a
            .iter()
            .filter(|(n, t)| {
                b.iter()
                    .any(|(m, u)| m == n && u != t && !crate::typechange::rewrite_free(t, u))
            })
            .map(|(n, _)| quote_ident(n))
            .collect();
        if !retyped.is_empty() {
            why.push(format!(
                "changes the type of attribute(s) {} of {} (a narrowing change fails or loses data)",
                retyped.join(", "),
                self.name
            ));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// A user-defined type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TypeDef {
    /// Name.
    pub name: QName,
    /// Definition.
    pub kind: TypeKind,
    /// COMMENT ON TYPE.
    pub comment: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<TypeDef>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, t.typname::text, t.typtype::text, t.oid, \
           ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), \
           CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END, \
           (SELECT quote_ident(co.collname) FROM pg_collation co WHERE co.oid = t.typcollation \
              AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)), \
           t.typdefault, t.typnotnull, \
           coalesce(dc.checks, '{{}}'), \
           ARRAY(SELECT a.attname::text || '|' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), \
           CASE WHEN r.rngtypid IS NOT NULL THEN format_type(r.rngsubtype, NULL) END, \
           CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END, \
           {acl}, pg_get_userbyid(t.typowner)::text, \
           CASE WHEN r.rngtypid IS NOT NULL THEN array_remove(ARRAY[ \
             (SELECT 'SUBTYPE_OPCLASS = ' || quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname) \
                FROM pg_opclass opc JOIN pg_namespace opn ON opn.oid = opc.opcnamespace \
               WHERE opc.oid = r.rngsubopc AND NOT opc.opcdefault), \
             (SELECT 'COLLATION = ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname) \
                FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace \
               WHERE co.oid = r.rngcollation AND r.rngcollation <> \
                 (SELECT st.typcollation FROM pg_type st WHERE st.oid = r.rngsubtype)), \
             CASE WHEN r.rngcanonical <> 0 THEN 'CANONICAL = ' || r.rngcanonical::regproc::text END, \
             {multirange}], NULL) END \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_range r ON r.rngtypid = t.oid \
         LEFT JOIN (SELECT c.contypid, \
                      array_agg(c.conname::text || '|' || pg_get_constraintdef(c.oid) ORDER BY c.conname) AS checks \
                    FROM pg_constraint c WHERE c.contypid <> 0 GROUP BY c.contypid) dc ON dc.contypid = t.oid \
         WHERE {filter} AND {ext} \
           AND (t.typtype IN ('e', 'd', 'r') \
                OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) \
         ",
        acl = acl_columns("t.typacl", 'T'),
        multirange = if params.version >= 140000 {
            "'MULTIRANGE_TYPE_NAME = ' || r.rngmultitypid::regtype::text"
        } else {
            "NULL::text"
        },
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_type", "t.oid"),
    );
    let comments = params.comments.of("pg_type");
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("types"))?;
    let pairs = |items: Vec<String>| -> Vec<(String, String)> {
        items
            .into_iter()
            .map(|i| match i.split_once('|') {
                Some((a, b)) => (a.to_owned(), b.to_owned()),
                None => (i, String::new()),
            })
            .collect()
    };
    Ok(rows
        .iter()
        .map(|r| {
            let kind = match r.get::<_, String>(2).as_str() {
                "e" => TypeKind::Enum(text_array(r, 4)),
                "d" => TypeKind::Domain {
                    base: r.get(5),
                    collation: r.get(6),
                    default: r.get(7),
                    not_null: r.get(8),
                    checks: pairs(text_array(r, 9)),
                },
                "c" => TypeKind::Composite(pairs(text_array(r, 10))),
                _ => TypeKind::Range {
                    subtype: r.get(11),
                    subtype_diff: r.get(12),
                    options: text_array(r, 16),
                },
            };
            TypeDef {
                name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                kind,
                comment: comments.get(r.get(3)),
                acl: Acl::from_row(r, 13, params),
                owner: params.owners.then(|| r.get(15)),
            }
        })
        .collect())
}

impl TypeDef {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        match self.kind {
            TypeKind::Domain { .. } => format!("DOMAIN {}", self.name),
            _ => format!("TYPE {}", self.name),
        }
    }

    /// CREATE TYPE/DOMAIN with its comment and grants.
    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.create_as(&self.name)];
        out.extend(self.extras().create(&self.target(), &self.target()));
        out
    }

    /// The CREATE statement under another name (used when replacing a type in place).
    pub(crate) fn create_as(&self, name: &QName) -> String {
        match &self.kind {
            TypeKind::Enum(labels) => format!(
                "CREATE TYPE {name} AS ENUM ({})",
                labels
                    .iter()
                    .map(|l| quote_literal(l))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeKind::Domain {
                base,
                collation,
                default,
                not_null,
                checks,
            } => {
                let mut s = format!("CREATE DOMAIN {name} AS {base}");
                if let Some(c) = collation {
                    s.push_str(&format!(" COLLATE {c}"));
                }
                if let Some(d) = default {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                if *not_null {
                    s.push_str(" NOT NULL");
                }
                for (cname, def) in checks {
                    s.push_str(&format!(" CONSTRAINT {} {def}", quote_ident(cname)));
                }
                s
            }
            TypeKind::Composite(attrs) => format!(
                "CREATE TYPE {name} AS ({})",
                attrs
                    .iter()
                    .map(|(a, t)| format!("{} {t}", quote_ident(a)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeKind::Range {
                subtype,
                subtype_diff,
                options,
            } => {
                let mut s = format!("CREATE TYPE {name} AS RANGE (SUBTYPE = {subtype}");
                if let Some(f) = subtype_diff {
                    s.push_str(&format!(", SUBTYPE_DIFF = {f}"));
                }
                for o in options {
                    s.push_str(&format!(", {o}"));
                }
                s.push(')');
                s
            }
        }
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// Statements turning `old` into `self` in place, or None when the type must be replaced.
    /// The second value is true when the statements must run outside a transaction block
    /// (ALTER TYPE ... ADD VALUE whose value is used later).
    pub(crate) fn alter(&self, old: &TypeDef) -> Option<(Vec<String>, bool)> {
        let mut out = Vec::new();
        let mut outside_tx = false;
        match (&old.kind, &self.kind) {
            (TypeKind::Enum(a), TypeKind::Enum(b)) if a != b => {
                // Only additions that keep the existing order can be done in place.
                let kept: Vec<&String> = b.iter().filter(|l| a.contains(l)).collect();
                if kept.len() != a.len() || kept.iter().zip(a).any(|(x, y)| *x != y) {
                    return None;
                }
                let mut present: Vec<String> = a.clone();
                for (i, label) in b.iter().enumerate() {
                    if present.contains(label) {
                        continue;
                    }
                    let position = match b[..i].last() {
                        Some(prev) => format!(" AFTER {}", quote_literal(prev)),
                        None => format!(" BEFORE {}", quote_literal(&present[0])),
                    };
                    out.push(format!(
                        "ALTER TYPE {} ADD VALUE {}{position}",
                        self.name,
                        quote_literal(label)
                    ));
                    let at = match b[..i].last() {
                        Some(prev) => present.iter().position(|p| p == prev).map_or(0, |p| p + 1),
                        None => 0,
                    };
                    present.insert(at, label.clone());
                    outside_tx = true;
                }
            }
            (
                TypeKind::Domain {
                    base: b1,
                    collation: c1,
                    default: d1,
                    not_null: n1,
                    checks: k1,
                },
                TypeKind::Domain {
                    base: b2,
                    collation: c2,
                    default: d2,
                    not_null: n2,
                    checks: k2,
                },
            ) => {
                if b1 != b2 || c1 != c2 {
                    return None;
                }
                if d1 != d2 {
                    out.push(match d2 {
                        Some(d) => format!("ALTER DOMAIN {} SET DEFAULT {d}", self.name),
                        None => format!("ALTER DOMAIN {} DROP DEFAULT", self.name),
                    });
                }
                for (name, def) in k1 {
                    if !k2.iter().any(|(n, d)| n == name && d == def) {
                        out.push(format!(
                            "ALTER DOMAIN {} DROP CONSTRAINT {}",
                            self.name,
                            quote_ident(name)
                        ));
                    }
                }
                if n1 != n2 {
                    out.push(format!(
                        "ALTER DOMAIN {} {} NOT NULL",
                        self.name,
                        if *n2 { "SET" } else { "DROP" }
                    ));
                }
                for (name, def) in k2 {
                    if !k1.iter().any(|(n, d)| n == name && d == def) {
                        out.push(format!(
                            "ALTER DOMAIN {} ADD CONSTRAINT {} {def}",
                            self.name,
                            quote_ident(name)
                        ));
                    }
                }
            }
            (TypeKind::Composite(a), TypeKind::Composite(b)) if a != b => {
                // Kept attributes must stay in order, new ones come last. CASCADE carries each
                // change to the typed tables (CREATE TABLE ... OF) of the type, which cannot
                // change their columns themselves; without typed tables it changes nothing.
                let kept_old: Vec<&String> = a
                    .iter()
                    .map(|x| &x.0)
                    .filter(|n| b.iter().any(|y| &y.0 == *n))
                    .collect();
                let kept_new: Vec<&String> = b
                    .iter()
                    .map(|x| &x.0)
                    .filter(|n| a.iter().any(|y| &y.0 == *n))
                    .collect();
                if kept_old != kept_new
                    || b.iter()
                        .take(kept_new.len())
                        .map(|x| &x.0)
                        .ne(kept_new.iter().copied())
                {
                    return None;
                }
                for (name, _) in a {
                    if !b.iter().any(|(n, _)| n == name) {
                        out.push(format!(
                            "ALTER TYPE {} DROP ATTRIBUTE {} CASCADE",
                            self.name,
                            quote_ident(name)
                        ));
                    }
                }
                for (name, ty) in b {
                    match a.iter().find(|(n, _)| n == name) {
                        Some((_, old_ty)) if old_ty != ty => out.push(format!(
                            "ALTER TYPE {} ALTER ATTRIBUTE {} TYPE {ty} CASCADE",
                            self.name,
                            quote_ident(name)
                        )),
                        Some(_) => {}
                        None => out.push(format!(
                            "ALTER TYPE {} ADD ATTRIBUTE {} {ty} CASCADE",
                            self.name,
                            quote_ident(name)
                        )),
                    }
                }
            }
            (x, y) if x == y => {}
            _ => return None,
        }
        out.extend(
            self.extras()
                .change_from(&old.extras(), &self.target(), &self.target()),
        );
        Some((out, outside_tx))
    }
}
