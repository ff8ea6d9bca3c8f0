//! Transforms (CREATE TRANSFORM FOR type LANGUAGE lang): how a procedural language passes a
//! type to and from its functions. Those an extension creates (hstore_plperl and the like)
//! come with it and are left out. The FROM SQL and TO SQL functions change in place with
//! CREATE OR REPLACE TRANSFORM; a comment with COMMENT ON TRANSFORM.

use retort_pg::quote_ident;

use crate::common::comment_change;
use crate::error::{query, CatalogError};

/// A transform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transform {
    /// The type (`format_type`).
    pub type_name: String,
    /// The language.
    pub language: String,
    /// FROM SQL function, `schema.name(argument types)`.
    pub from_sql: Option<String>,
    /// TO SQL function.
    pub to_sql: Option<String>,
    /// COMMENT ON TRANSFORM.
    pub comment: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Transform>, CatalogError> {
    let signature = |col: &str| {
        format!(
            "CASE WHEN {col} <> 0 THEN (SELECT quote_ident(pn.nspname) || '.' || quote_ident(p.proname) \
             || '(' || oidvectortypes(p.proargtypes) || ')' \
             FROM pg_proc p JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = {col}) END"
        )
    };
    let sql = format!(
        "SELECT format_type(t.trftype, NULL), l.lanname::text, {from}, {to}, t.oid \
         FROM pg_transform t JOIN pg_language l ON l.oid = t.trflang \
         WHERE t.oid >= 16384 AND {ext} ORDER BY 1, 2",
        from = signature("t.trffromsql::oid"),
        to = signature("t.trftosql::oid"),
        ext = params.extensions.exclude("pg_transform", "t.oid"),
    );
    let rows = client.query(&sql, &[]).map_err(query("transforms"))?;
    let comments = params.comments.of("pg_transform");
    Ok(rows
        .iter()
        .map(|r| Transform {
            type_name: r.get(0),
            language: r.get(1),
            from_sql: r.get(2),
            to_sql: r.get(3),
            comment: comments.get(r.get(4)),
        })
        .collect())
}

impl Transform {
    fn target(&self) -> String {
        format!(
            "TRANSFORM FOR {} LANGUAGE {}",
            self.type_name,
            quote_ident(&self.language)
        )
    }

    fn definition(&self, replace: bool) -> String {
        let mut functions = Vec::new();
        if let Some(f) = &self.from_sql {
            functions.push(format!("FROM SQL WITH FUNCTION {f}"));
        }
        if let Some(f) = &self.to_sql {
            functions.push(format!("TO SQL WITH FUNCTION {f}"));
        }
        format!(
            "CREATE {}{} ({})",
            if replace { "OR REPLACE " } else { "" },
            self.target(),
            functions.join(", ")
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition(false)];
        out.extend(comment_change(
            &self.target(),
            None,
            self.comment.as_deref(),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// CREATE OR REPLACE for the functions, then the comment. A function taken away cannot
    /// be (OR REPLACE keeps what is not named): None then.
    pub(crate) fn alter(&self, old: &Transform) -> Option<Vec<String>> {
        if (old.from_sql.is_some() && self.from_sql.is_none())
            || (old.to_sql.is_some() && self.to_sql.is_none())
        {
            return None;
        }
        let mut out = Vec::new();
        if (&old.from_sql, &old.to_sql) != (&self.from_sql, &self.to_sql) {
            out.push(self.definition(true));
        }
        out.extend(comment_change(
            &self.target(),
            old.comment.as_deref(),
            self.comment.as_deref(),
        ));
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transform_is_replaced_in_place_unless_a_function_goes() {
        let t = Transform {
            type_name: "integer".into(),
            language: "plpgsql".into(),
            from_sql: Some("public.tf_from(internal)".into()),
            to_sql: None,
            comment: None,
        };
        assert_eq!(
            t.create(),
            ["CREATE TRANSFORM FOR integer LANGUAGE plpgsql (FROM SQL WITH FUNCTION public.tf_from(internal))"]
        );
        let both = Transform {
            to_sql: Some("public.tf_to(internal)".into()),
            ..t.clone()
        };
        assert_eq!(
            both.alter(&t).unwrap(),
            [
                "CREATE OR REPLACE TRANSFORM FOR integer LANGUAGE plpgsql (FROM SQL WITH FUNCTION \
              public.tf_from(internal), TO SQL WITH FUNCTION public.tf_to(internal))"
            ]
        );
        assert!(t.alter(&both).is_none());
        assert_eq!(t.drop(), ["DROP TRANSFORM FOR integer LANGUAGE plpgsql"]);
    }
}
