//! Casts (CREATE CAST): between a source and a target type, by a function, binary-coercible
//! (WITHOUT FUNCTION) or through the types' text forms (WITH INOUT); explicit, AS ASSIGNMENT or
//! AS IMPLICIT; with a comment. PostgreSQL has no ALTER CAST: a changed cast is dropped and
//! created again. Casts have no owner and no privileges.

use crate::common::{comment_change, ns_filter};
use crate::error::{query, CatalogError};

/// A user-defined cast.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cast {
    /// Source type, as `format_type` writes it (schema-qualified unless in pg_catalog).
    pub source: String,
    /// Target type, likewise.
    pub target: String,
    /// How the value is converted.
    pub method: CastMethod,
    /// `e` explicit only, `a` AS ASSIGNMENT, `i` AS IMPLICIT.
    pub context: char,
    /// COMMENT ON CAST.
    pub comment: Option<String>,
}

/// How a cast converts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CastMethod {
    /// WITH FUNCTION `schema.name(argument types)`.
    Function(String),
    /// WITHOUT FUNCTION: the types are binary coercible.
    Binary,
    /// WITH INOUT: through the output and input functions.
    InOut,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Cast>, CatalogError> {
    // A cast belongs to no schema: it is read when one of its types is in the compared
    // schemas, or both are built in. Casts a range type makes to its multirange belong to
    // the multirange's constructor (an internal dependency) and come with the range.
    let f = ns_filter("n");
    let sql = format!(
        "SELECT format_type(ca.castsource, NULL), format_type(ca.casttarget, NULL), \
                ca.castmethod::text, ca.castcontext::text, \
                CASE WHEN ca.castfunc <> 0 THEN quote_ident(fn.nspname) || '.' || quote_ident(p.proname) \
                     || '(' || pg_get_function_identity_arguments(p.oid) || ')' END, \
                ca.oid \
         FROM pg_cast ca \
         LEFT JOIN pg_proc p ON p.oid = ca.castfunc \
         LEFT JOIN pg_namespace fn ON fn.oid = p.pronamespace \
         WHERE ca.oid >= 16384 AND {ext} \
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_cast'::regclass \
                           AND d.objid = ca.oid AND d.deptype = 'i') \
           AND (EXISTS (SELECT FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                        WHERE t.oid IN (ca.castsource, ca.casttarget) AND {f}) \
                OR NOT EXISTS (SELECT FROM pg_type t \
                               WHERE t.oid IN (ca.castsource, ca.casttarget) AND t.oid >= 16384)) \
         ORDER BY 1, 2",
        ext = params.extensions.exclude("pg_cast", "ca.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("casts"))?;
    let comments = params.comments.of("pg_cast");
    Ok(rows
        .iter()
        .map(|r| {
            let method = match r.get::<_, String>(2).as_str() {
                "b" => CastMethod::Binary,
                "i" => CastMethod::InOut,
                _ => CastMethod::Function(r.get::<_, Option<String>>(4).unwrap_or_default()),
            };
            Cast {
                source: r.get(0),
                target: r.get(1),
                method,
                context: r.get::<_, String>(3).chars().next().unwrap_or('e'),
                comment: comments.get(r.get(5)),
            }
        })
        .collect())
}

impl Cast {
    fn target_sql(&self) -> String {
        format!("CAST ({} AS {})", self.source, self.target)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let how = match &self.method {
            CastMethod::Function(f) => format!("WITH FUNCTION {f}"),
            CastMethod::Binary => "WITHOUT FUNCTION".to_owned(),
            CastMethod::InOut => "WITH INOUT".to_owned(),
        };
        let context = match self.context {
            'a' => " AS ASSIGNMENT",
            'i' => " AS IMPLICIT",
            _ => "",
        };
        let mut out = vec![format!("CREATE {} {how}{context}", self.target_sql())];
        out.extend(comment_change(
            &self.target_sql(),
            None,
            self.comment.as_deref(),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target_sql())]
    }

    /// In place: the comment. None when the method or context changes (no ALTER CAST).
    pub(crate) fn alter(&self, old: &Cast) -> Option<Vec<String>> {
        if (&old.method, old.context) != (&self.method, self.context) {
            return None;
        }
        Some(
            comment_change(
                &self.target_sql(),
                old.comment.as_deref(),
                self.comment.as_deref(),
            )
            .into_iter()
            .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cast(method: CastMethod, context: char) -> Cast {
        Cast {
            source: "public.mood".into(),
            target: "integer".into(),
            method,
            context,
            comment: None,
        }
    }

    #[test]
    fn each_method_and_context_is_written_as_create_cast_takes_it() {
        let f = cast(
            CastMethod::Function("public.mood_int(public.mood)".into()),
            'a',
        );
        assert_eq!(
            f.create(),
            ["CREATE CAST (public.mood AS integer) WITH FUNCTION public.mood_int(public.mood) AS ASSIGNMENT"]
        );
        assert_eq!(
            cast(CastMethod::Binary, 'i').create(),
            ["CREATE CAST (public.mood AS integer) WITHOUT FUNCTION AS IMPLICIT"]
        );
        assert_eq!(
            cast(CastMethod::InOut, 'e').create(),
            ["CREATE CAST (public.mood AS integer) WITH INOUT"]
        );
        assert_eq!(f.drop(), ["DROP CAST (public.mood AS integer)"]);
        assert!(f.alter(&cast(CastMethod::InOut, 'a')).is_none());
        let commented = Cast {
            comment: Some("it's".into()),
            ..f.clone()
        };
        assert_eq!(
            commented.alter(&f).unwrap(),
            ["COMMENT ON CAST (public.mood AS integer) IS 'it''s'"]
        );
    }
}
