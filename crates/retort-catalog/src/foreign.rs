//! Foreign data: wrappers that no extension owns (CREATE FOREIGN DATA WRAPPER), servers
//! (CREATE SERVER), user mappings (CREATE USER MAPPING) and the generic OPTIONS lists they and
//! foreign tables carry. Foreign tables themselves are tables ([`crate::Table::foreign`]).
//!
//! A user mapping's `password` option is never read into the model nor written into a script:
//! a migration is a file in a repository. The model keeps only whether one is set, which does
//! not count as a difference, and the diff says where a password must be set by hand.

use retort_pg::{quote_ident, quote_literal};

use crate::common::{acl_columns, proc_name_sql, text_array, Acl, Extras};
use crate::error::{query, CatalogError};

/// `OPTIONS (k 'v', ...)` from PostgreSQL's `k=v` text entries.
pub(crate) fn options_clause(options: &[String]) -> String {
    let items: Vec<String> = options
        .iter()
        .map(|o| {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            format!("{} {}", quote_ident(k), quote_literal(v))
        })
        .collect();
    format!("OPTIONS ({})", items.join(", "))
}

/// ` OPTIONS (...)` or nothing.
pub(crate) fn options_suffix(options: &[String]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" {}", options_clause(options))
    }
}

/// Generic options as the model keeps them: sorted by name. Their stored order means nothing
/// (pg_dump sorts them too, so a restored database has them in another order).
pub(crate) fn sorted_options(mut options: Vec<String>) -> Vec<String> {
    options.sort_by(|a, b| option_name(a).cmp(option_name(b)));
    options
}

fn option_name(o: &str) -> &str {
    o.split_once('=').map_or(o, |(k, _)| k)
}

/// The `OPTIONS (DROP ..., SET ..., ADD ...)` clause turning `old` into `new` (both sorted by
/// name): options gone are dropped, changed values set, new ones added. None when equal.
pub(crate) fn options_change(old: &[String], new: &[String]) -> Option<String> {
    if old == new {
        return None;
    }
    let split = |o: &String| {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        (k.to_string(), v.to_string())
    };
    let old: std::collections::BTreeMap<String, String> = old.iter().map(split).collect();
    let new: std::collections::BTreeMap<String, String> = new.iter().map(split).collect();
    let mut items: Vec<String> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| format!("DROP {}", quote_ident(k)))
        .collect();
    for (k, v) in &new {
        match old.get(k) {
            Some(o) if o == v => {}
            Some(_) => items.push(format!("SET {} {}", quote_ident(k), quote_literal(v))),
            None => items.push(format!("ADD {} {}", quote_ident(k), quote_literal(v))),
        }
    }
    Some(format!("OPTIONS ({})", items.join(", ")))
}

/// What makes a table a foreign table: its server and options.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForeignTable {
    /// The server.
    pub server: String,
    /// Generic options, `k=v`, sorted by name.
    pub options: Vec<String>,
}

impl ForeignTable {
    /// ` SERVER s [OPTIONS (...)]`, the end of CREATE FOREIGN TABLE.
    pub(crate) fn clause(&self) -> String {
        format!(
            " SERVER {}{}",
            quote_ident(&self.server),
            options_suffix(&self.options)
        )
    }
}

/// A foreign-data wrapper no extension owns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForeignDataWrapper {
    /// Name.
    pub name: String,
    /// HANDLER function, schema-qualified and quoted.
    pub handler: Option<String>,
    /// VALIDATOR function.
    pub validator: Option<String>,
    /// Generic options, `k=v`, sorted by name.
    pub options: Vec<String>,
    /// COMMENT ON FOREIGN DATA WRAPPER.
    pub comment: Option<String>,
    /// Privileges (USAGE).
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

/// A foreign server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForeignServer {
    /// Name.
    pub name: String,
    /// Its foreign-data wrapper.
    pub wrapper: String,
    /// TYPE.
    pub server_type: Option<String>,
    /// VERSION.
    pub version: Option<String>,
    /// Generic options, `k=v`, sorted by name.
    pub options: Vec<String>,
    /// COMMENT ON SERVER.
    pub comment: Option<String>,
    /// Privileges (USAGE).
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

/// A user mapping. Equal when all but the password match.
#[derive(Debug, Clone, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserMapping {
    /// The role, or `PUBLIC`.
    pub role: String,
    /// The server.
    pub server: String,
    /// Generic options, `k=v`, sorted by name, without `password`.
    pub options: Vec<String>,
    /// Whether a `password` option is set (its value is never read).
    pub password: bool,
}

impl PartialEq for UserMapping {
    fn eq(&self, other: &Self) -> bool {
        (&self.role, &self.server, &self.options) == (&other.role, &other.server, &other.options)
    }
}

/// What [`load`] reads.
type ForeignData = (
    Vec<ForeignDataWrapper>,
    Vec<ForeignServer>,
    Vec<UserMapping>,
);

/// Wrappers, servers and user mappings, in three queries.
pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<ForeignData, CatalogError> {
    let wrappers_sql = format!(
        "SELECT w.fdwname::text, {handler}, {validator}, w.fdwoptions::text[], w.oid, {acl}, \
                pg_get_userbyid(w.fdwowner)::text \
         FROM pg_foreign_data_wrapper w WHERE {ext} ORDER BY 1",
        handler = proc_name_sql("w.fdwhandler"),
        validator = proc_name_sql("w.fdwvalidator"),
        acl = acl_columns("w.fdwacl", 'F'),
        ext = params
            .extensions
            .exclude("pg_foreign_data_wrapper", "w.oid"),
    );
    let servers_sql = format!(
        "SELECT s.srvname::text, w.fdwname::text, s.srvtype, s.srvversion, s.srvoptions::text[], s.oid, \
                {acl}, pg_get_userbyid(s.srvowner)::text \
         FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
         WHERE {ext} ORDER BY 1",
        acl = acl_columns("s.srvacl", 'S'),
        ext = params.extensions.exclude("pg_foreign_server", "s.oid"),
    );
    let comments_w = params.comments.of("pg_foreign_data_wrapper");
    let comments_s = params.comments.of("pg_foreign_server");
    let wrappers = client
        .query(&wrappers_sql, &[])
        .map_err(query("foreign-data wrappers"))?
        .iter()
        .map(|r| ForeignDataWrapper {
            name: r.get(0),
            handler: r.get(1),
            validator: r.get(2),
            options: sorted_options(text_array(r, 3)),
            comment: comments_w.get(r.get(4)),
            acl: Acl::from_row(r, 5, params),
            owner: params.owners.then(|| r.get(7)),
        })
        .collect();
    let servers = client
        .query(&servers_sql, &[])
        .map_err(query("foreign servers"))?
        .iter()
        .map(|r| ForeignServer {
            name: r.get(0),
            wrapper: r.get(1),
            server_type: r.get(2),
            version: r.get(3),
            options: sorted_options(text_array(r, 4)),
            comment: comments_s.get(r.get(5)),
            acl: Acl::from_row(r, 6, params),
            owner: params.owners.then(|| r.get(8)),
        })
        .collect();
    // The pg_user_mappings view shows the options to a superuser and to the server's owner
    // (pg_user_mapping itself is readable by superusers alone).
    let mappings = client
        .query(
            "SELECT coalesce(r.rolname::text, 'PUBLIC'), s.srvname::text, m.umoptions::text[] \
             FROM pg_user_mappings m JOIN pg_foreign_server s ON s.oid = m.srvid \
             LEFT JOIN pg_roles r ON r.oid = m.umuser ORDER BY 1, 2",
            &[],
        )
        .map_err(query("user mappings"))?
        .iter()
        .map(|r| {
            let all = text_array(r, 2);
            let password = all.iter().any(|o| o.starts_with("password="));
            UserMapping {
                role: r.get(0),
                server: r.get(1),
                options: sorted_options(
                    all.into_iter()
                        .filter(|o| !o.starts_with("password="))
                        .collect(),
                ),
                password,
            }
        })
        .collect();
    Ok((wrappers, servers, mappings))
}

impl ForeignDataWrapper {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        format!("FOREIGN DATA WRAPPER {}", quote_ident(&self.name))
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut s = format!("CREATE {}", self.target());
        if let Some(h) = &self.handler {
            s.push_str(&format!(" HANDLER {h}"));
        }
        if let Some(v) = &self.validator {
            s.push_str(&format!(" VALIDATOR {v}"));
        }
        s.push_str(&options_suffix(&self.options));
        let mut out = vec![s];
        out.extend(self.extras().create(&self.target(), &self.target()));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// Everything changes in place: handler, validator, options, comment, owner, grants.
    pub(crate) fn alter(&self, old: &ForeignDataWrapper) -> Vec<String> {
        let mut parts = Vec::new();
        if old.handler != self.handler {
            parts.push(match &self.handler {
                Some(h) => format!("HANDLER {h}"),
                None => "NO HANDLER".into(),
            });
        }
        if old.validator != self.validator {
            parts.push(match &self.validator {
                Some(v) => format!("VALIDATOR {v}"),
                None => "NO VALIDATOR".into(),
            });
        }
        parts.extend(options_change(&old.options, &self.options));
        let mut out = Vec::new();
        if !parts.is_empty() {
            out.push(format!("ALTER {} {}", self.target(), parts.join(" ")));
        }
        out.extend(
            self.extras()
                .change_from(&old.extras(), &self.target(), &self.target()),
        );
        out
    }
}

impl ForeignServer {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        format!("SERVER {}", quote_ident(&self.name))
    }

    fn grant_target(&self) -> String {
        format!("FOREIGN SERVER {}", quote_ident(&self.name))
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut s = format!("CREATE {}", self.target());
        if let Some(t) = &self.server_type {
            s.push_str(&format!(" TYPE {}", quote_literal(t)));
        }
        if let Some(v) = &self.version {
            s.push_str(&format!(" VERSION {}", quote_literal(v)));
        }
        s.push_str(&format!(
            " FOREIGN DATA WRAPPER {}",
            quote_ident(&self.wrapper)
        ));
        s.push_str(&options_suffix(&self.options));
        let mut out = vec![s];
        out.extend(self.extras().create(&self.target(), &self.grant_target()));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// In place: VERSION, options, comment, owner, grants. None when the wrapper or TYPE
    /// changes, or a VERSION is taken away (ALTER SERVER can only set one).
    pub(crate) fn alter(&self, old: &ForeignServer) -> Option<Vec<String>> {
        if old.wrapper != self.wrapper
            || old.server_type != self.server_type
            || (old.version.is_some() && self.version.is_none())
        {
            return None;
        }
        let mut parts = Vec::new();
        if old.version != self.version {
            if let Some(v) = &self.version {
                parts.push(format!("VERSION {}", quote_literal(v)));
            }
        }
        parts.extend(options_change(&old.options, &self.options));
        let mut out = Vec::new();
        if !parts.is_empty() {
            out.push(format!("ALTER {} {}", self.target(), parts.join(" ")));
        }
        out.extend(
            self.extras()
                .change_from(&old.extras(), &self.target(), &self.grant_target()),
        );
        Some(out)
    }
}

impl UserMapping {
    fn target(&self) -> String {
        let role = if self.role == "PUBLIC" {
            "PUBLIC".to_string()
        } else {
            quote_ident(&self.role)
        };
        format!(
            "USER MAPPING FOR {role} SERVER {}",
            quote_ident(&self.server)
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        vec![format!(
            "CREATE {}{}",
            self.target(),
            options_suffix(&self.options)
        )]
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// Options other than the password, in place.
    pub(crate) fn alter(&self, old: &UserMapping) -> Vec<String> {
        options_change(&old.options, &self.options)
            .map(|o| format!("ALTER {} {o}", self.target()))
            .into_iter()
            .collect()
    }

    /// The statement a user runs to set the password this mapping has in the other database.
    pub fn password_statement(&self) -> String {
        format!("ALTER {} OPTIONS (ADD password '…')", self.target())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_are_dropped_set_or_added_by_name() {
        assert_eq!(
            options_clause(&v(&["host=db.internal", "port=5432"])),
            "OPTIONS (host 'db.internal', port '5432')"
        );
        assert_eq!(
            sorted_options(v(&["port=1", "dbname=x", "host=y"])),
            v(&["dbname=x", "host=y", "port=1"])
        );
        assert_eq!(options_change(&v(&["a=1"]), &v(&["a=1"])), None);
        assert_eq!(
            options_change(&v(&["a=1"]), &v(&["a=2", "b=it's"])).unwrap(),
            "OPTIONS (SET a '2', ADD b 'it''s')"
        );
        assert_eq!(
            options_change(&v(&["a=1", "b=2"]), &v(&["b=2", "c=x=y"])).unwrap(),
            "OPTIONS (DROP a, ADD c 'x=y')"
        );
        assert_eq!(
            options_change(&v(&["a=1"]), &[]).unwrap(),
            "OPTIONS (DROP a)"
        );
    }

    #[test]
    fn a_mapping_never_writes_its_password() {
        let m = UserMapping {
            role: "app_user".into(),
            server: "billing".into(),
            options: v(&["user=reporter"]),
            password: true,
        };
        assert_eq!(
            m.create(),
            ["CREATE USER MAPPING FOR app_user SERVER billing OPTIONS (\"user\" 'reporter')"]
        );
        let without = UserMapping {
            password: false,
            ..m.clone()
        };
        assert_eq!(m, without);
        let public = UserMapping {
            role: "PUBLIC".into(),
            ..without
        };
        assert_eq!(
            public.drop(),
            ["DROP USER MAPPING FOR PUBLIC SERVER billing"]
        );
    }
}
