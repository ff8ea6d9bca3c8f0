//! Encoding conversions (CREATE [DEFAULT] CONVERSION): from one encoding to another by a
//! conversion function, with comment and owner. Only the comment and owner change in place; a
//! changed encoding, function or DEFAULT drops and creates it again.

use retort_pg::quote_literal;

use crate::common::{comment_and_owner, ns_filter};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A user-defined conversion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conversion {
    /// Schema and name.
    pub name: QName,
    /// Source encoding (`LATIN1`, ...).
    pub source: String,
    /// Target encoding.
    pub target: String,
    /// The conversion function, schema-qualified and quoted.
    pub function: String,
    /// The default conversion between the two encodings in its schema.
    pub default: bool,
    /// COMMENT ON CONVERSION.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Conversion>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, co.conname::text, pg_encoding_to_char(co.conforencoding)::text, \
                pg_encoding_to_char(co.contoencoding)::text, \
                quote_ident(pn.nspname) || '.' || quote_ident(p.proname), co.condefault, co.oid, \
                pg_get_userbyid(co.conowner)::text \
         FROM pg_conversion co JOIN pg_namespace n ON n.oid = co.connamespace \
         JOIN pg_proc p ON p.oid = co.conproc JOIN pg_namespace pn ON pn.oid = p.pronamespace \
         WHERE co.oid >= 16384 AND {f} AND {ext} ORDER BY 1, 2",
        f = ns_filter("n"),
        ext = params.extensions.exclude("pg_conversion", "co.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("conversions"))?;
    let comments = params.comments.of("pg_conversion");
    Ok(rows
        .iter()
        .map(|r| Conversion {
            name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            source: r.get(2),
            target: r.get(3),
            function: r.get(4),
            default: r.get(5),
            comment: comments.get(r.get(6)),
            owner: params.owners.then(|| r.get(7)),
        })
        .collect())
}

impl Conversion {
    fn target_sql(&self) -> String {
        format!("CONVERSION {}", self.name)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![format!(
            "CREATE {}CONVERSION {} FOR {} TO {} FROM {}",
            if self.default { "DEFAULT " } else { "" },
            self.name,
            quote_literal(&self.source),
            quote_literal(&self.target),
            self.function
        )];
        out.extend(comment_and_owner(
            &self.target_sql(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP CONVERSION {}", self.name)]
    }

    /// In place: comment and owner. None when what it converts, or how, changes.
    pub(crate) fn alter(&self, old: &Conversion) -> Option<Vec<String>> {
        let what = |c: &Conversion| {
            (
                c.source.clone(),
                c.target.clone(),
                c.function.clone(),
                c.default,
            )
        };
        if what(old) != what(self) {
            return None;
        }
        Some(comment_and_owner(
            &self.target_sql(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_in_place_changes() {
        let c = Conversion {
            name: QName::new("app", "latin_up"),
            source: "LATIN1".into(),
            target: "UTF8".into(),
            function: "pg_catalog.iso8859_1_to_utf8".into(),
            default: true,
            comment: None,
            owner: None,
        };
        assert_eq!(
            c.create(),
            ["CREATE DEFAULT CONVERSION app.latin_up FOR 'LATIN1' TO 'UTF8' FROM pg_catalog.iso8859_1_to_utf8"]
        );
        let commented = Conversion {
            comment: Some("x".into()),
            ..c.clone()
        };
        assert_eq!(
            commented.alter(&c).unwrap(),
            ["COMMENT ON CONVERSION app.latin_up IS 'x'"]
        );
        let plain = Conversion {
            default: false,
            ..c.clone()
        };
        assert!(plain.alter(&c).is_none());
    }
}
