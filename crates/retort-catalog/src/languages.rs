//! Procedural languages that no extension owns (CREATE [TRUSTED] LANGUAGE ... HANDLER ...
//! [INLINE ...] [VALIDATOR ...]), with comment, owner and USAGE privileges. The handlers are C
//! functions an installed library provides (plpgsql's, say); a language an extension creates
//! comes with its extension and is left out.

use retort_pg::quote_ident;

use crate::common::{acl_columns, Acl, Extras};
use crate::error::{query, CatalogError};

/// A procedural language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Language {
    /// Name.
    pub name: String,
    /// TRUSTED.
    pub trusted: bool,
    /// Call handler, schema-qualified and quoted.
    pub handler: String,
    /// Inline (DO) handler.
    pub inline: Option<String>,
    /// Validator.
    pub validator: Option<String>,
    /// COMMENT ON LANGUAGE.
    pub comment: Option<String>,
    /// Privileges (USAGE).
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Language>, CatalogError> {
    let proc_name = crate::common::proc_name_sql;
    let sql = format!(
        "SELECT l.lanname::text, l.lanpltrusted, {handler}, {inline}, {validator}, l.oid, {acl}, \
                pg_get_userbyid(l.lanowner)::text \
         FROM pg_language l WHERE l.oid >= 16384 AND l.lanispl AND {ext} ORDER BY 1",
        handler = proc_name("l.lanplcallfoid"),
        inline = proc_name("l.laninline"),
        validator = proc_name("l.lanvalidator"),
        acl = acl_columns("l.lanacl", 'l'),
        ext = params.extensions.exclude("pg_language", "l.oid"),
    );
    let rows = client
        .query(&sql, &[])
        .map_err(query("procedural languages"))?;
    let comments = params.comments.of("pg_language");
    Ok(rows
        .iter()
        .map(|r| Language {
            name: r.get(0),
            trusted: r.get(1),
            handler: r.get::<_, Option<String>>(2).unwrap_or_default(),
            inline: r.get(3),
            validator: r.get(4),
            comment: comments.get(r.get(5)),
            acl: Acl::from_row(r, 6, params),
            owner: params.owners.then(|| r.get(8)),
        })
        .collect())
}

impl Language {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        format!("LANGUAGE {}", quote_ident(&self.name))
    }

    /// `CREATE [OR REPLACE] [TRUSTED] LANGUAGE ...`.
    fn definition(&self, replace: bool) -> String {
        let mut s = format!(
            "CREATE {}{}LANGUAGE {} HANDLER {}",
            if replace { "OR REPLACE " } else { "" },
            if self.trusted { "TRUSTED " } else { "" },
            quote_ident(&self.name),
            self.handler
        );
        if let Some(i) = &self.inline {
            s.push_str(&format!(" INLINE {i}"));
        }
        if let Some(v) = &self.validator {
            s.push_str(&format!(" VALIDATOR {v}"));
        }
        s
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition(false)];
        out.extend(self.extras().create(&self.target(), &self.target()));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP LANGUAGE {}", quote_ident(&self.name))]
    }

    /// In place: CREATE OR REPLACE LANGUAGE for its handlers and TRUSTED, then comment, owner
    /// and privileges.
    pub(crate) fn alter(&self, old: &Language) -> Vec<String> {
        let mut out = Vec::new();
        let how = |l: &Language| {
            (
                l.trusted,
                l.handler.clone(),
                l.inline.clone(),
                l.validator.clone(),
            )
        };
        if how(old) != how(self) {
            out.push(self.definition(true));
        }
        out.extend(
            self.extras()
                .change_from(&old.extras(), &self.target(), &self.target()),
        );
        out
    }
}
