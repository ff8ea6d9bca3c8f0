//! Text search dictionaries (CREATE TEXT SEARCH DICTIONARY: a template and its options) and
//! configurations (CREATE TEXT SEARCH CONFIGURATION: a parser and, per token type, the
//! dictionaries to try in order). Parsers and templates need C functions and are not modelled.

use std::collections::BTreeMap;

use retort_pg::quote_ident;

use crate::common::{comment_and_owner, ns_filter};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A text search dictionary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TsDictionary {
    /// Name.
    pub name: QName,
    /// The template, quoted and schema-qualified.
    pub template: String,
    /// The options as PostgreSQL keeps them (`language = 'english', stopwords = 'english'`).
    pub options: Option<String>,
    /// COMMENT ON TEXT SEARCH DICTIONARY.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

/// A text search configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TsConfiguration {
    /// Name.
    pub name: QName,
    /// The parser, quoted and schema-qualified.
    pub parser: String,
    /// Token type alias to the dictionaries (quoted, qualified) tried in order.
    pub mappings: BTreeMap<String, Vec<String>>,
    /// COMMENT ON TEXT SEARCH CONFIGURATION.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load_dictionaries(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<TsDictionary>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, d.dictname::text, \
                quote_ident(tn.nspname) || '.' || quote_ident(t.tmplname), d.dictinitoption, d.oid, \
                pg_get_userbyid(d.dictowner)::text \
         FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace \
         JOIN pg_ts_template t ON t.oid = d.dicttemplate JOIN pg_namespace tn ON tn.oid = t.tmplnamespace \
         WHERE d.oid >= 16384 AND {filter} AND {ext} ORDER BY 1, 2",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_ts_dict", "d.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("text search dictionaries"))?;
    let comments = params.comments.of("pg_ts_dict");
    Ok(rows
        .iter()
        .map(|r| TsDictionary {
            name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            template: r.get(2),
            options: r.get(3),
            comment: comments.get(r.get(4)),
            owner: params.owners.then(|| r.get(5)),
        })
        .collect())
}

pub(crate) fn load_configurations(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<TsConfiguration>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, c.cfgname::text, \
                quote_ident(pn.nspname) || '.' || quote_ident(p.prsname), c.oid, \
                pg_get_userbyid(c.cfgowner)::text \
         FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace \
         JOIN pg_ts_parser p ON p.oid = c.cfgparser JOIN pg_namespace pn ON pn.oid = p.prsnamespace \
         WHERE c.oid >= 16384 AND {filter} AND {ext} ORDER BY 1, 2",
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_ts_config", "c.oid"),
    );
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("text search configurations"))?;
    let mut mappings: BTreeMap<u32, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    if !rows.is_empty() {
        let oids: Vec<u32> = rows.iter().map(|r| r.get(3)).collect();
        for r in client
            .query(
                "SELECT m.mapcfg, t.alias::text, \
                        array_agg(quote_ident(dn.nspname) || '.' || quote_ident(d.dictname) \
                                  ORDER BY m.mapseqno) \
                 FROM pg_ts_config c JOIN pg_ts_config_map m ON m.mapcfg = c.oid \
                 CROSS JOIN LATERAL ts_token_type(c.cfgparser) t \
                 JOIN pg_ts_dict d ON d.oid = m.mapdict JOIN pg_namespace dn ON dn.oid = d.dictnamespace \
                 WHERE c.oid = ANY ($1) AND t.tokid = m.maptokentype \
                 GROUP BY m.mapcfg, t.alias",
                &[&oids],
            )
            .map_err(query("text search configurations"))?
        {
            mappings
                .entry(r.get(0))
                .or_default()
                .insert(r.get(1), r.get(2));
        }
    }
    let comments = params.comments.of("pg_ts_config");
    Ok(rows
        .iter()
        .map(|r| {
            let oid: u32 = r.get(3);
            TsConfiguration {
                name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                parser: r.get(2),
                mappings: mappings.remove(&oid).unwrap_or_default(),
                comment: comments.get(oid),
                owner: params.owners.then(|| r.get(4)),
            }
        })
        .collect())
}

impl TsDictionary {
    fn target(&self) -> String {
        format!("TEXT SEARCH DICTIONARY {}", self.name)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let options = self
            .options
            .as_deref()
            .map(|o| format!(", {o}"))
            .unwrap_or_default();
        let mut out = vec![format!(
            "CREATE TEXT SEARCH DICTIONARY {} (TEMPLATE = {}{options})",
            self.name, self.template
        )];
        out.extend(comment_and_owner(
            &self.target(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// In place: options (set, changed and removed in one ALTER), comment and owner. None
    /// when the template changes: the dictionary is re-created, and the configurations that
    /// use it with it.
    pub(crate) fn alter(&self, old: &TsDictionary) -> Option<Vec<String>> {
        if old.template != self.template {
            return None;
        }
        let mut out = Vec::new();
        if old.options != self.options {
            let (was, now) = (split_options(&old.options), split_options(&self.options));
            let mut changes: Vec<String> = now
                .iter()
                .filter(|(k, v)| was.get(*k) != Some(*v))
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            changes.extend(was.keys().filter(|k| !now.contains_key(*k)).cloned());
            if !changes.is_empty() {
                out.push(format!("ALTER {} ({})", self.target(), changes.join(", ")));
            }
        }
        out.extend(comment_and_owner(
            &self.target(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        Some(out)
    }
}

/// `a = 'x', "B" = 2` (as PostgreSQL keeps a dictionary's options) into name -> value, both
/// as written: commas inside quoted values do not split.
fn split_options(options: &Option<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(text) = options else { return out };
    let (mut parts, mut current, mut quote) = (Vec::new(), String::new(), None);
    for ch in text.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => {
                quote = Some(ch);
                current.push(ch);
            }
            (Some(q), _) if ch == q => {
                quote = None;
                current.push(ch);
            }
            (None, ',') => parts.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    parts.push(current);
    for part in parts {
        if let Some((k, v)) = part.split_once(" = ") {
            out.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

impl TsConfiguration {
    fn target(&self) -> String {
        format!("TEXT SEARCH CONFIGURATION {}", self.name)
    }

    /// `ADD MAPPING`, `ALTER MAPPING` and `DROP MAPPING` statements turning `old`'s mappings
    /// into these, grouping token types that map to the same dictionaries.
    fn mapping_changes(&self, old: &BTreeMap<String, Vec<String>>) -> Vec<String> {
        let mut groups: BTreeMap<(&str, &[String]), Vec<String>> = BTreeMap::new();
        for (token, dicts) in &self.mappings {
            match old.get(token) {
                None => groups.entry(("ADD", dicts)).or_default(),
                Some(o) if o != dicts => groups.entry(("ALTER", dicts)).or_default(),
                Some(_) => continue,
            }
            .push(quote_ident(token));
        }
        let mut dropped = Vec::new();
        for token in old.keys() {
            if !self.mappings.contains_key(token) {
                dropped.push(quote_ident(token));
            }
        }
        let mut out = Vec::new();
        if !dropped.is_empty() {
            out.push(format!(
                "ALTER {} DROP MAPPING FOR {}",
                self.target(),
                dropped.join(", ")
            ));
        }
        for ((verb, dicts), tokens) in groups {
            out.push(format!(
                "ALTER {} {verb} MAPPING FOR {} WITH {}",
                self.target(),
                tokens.join(", "),
                dicts.join(", ")
            ));
        }
        out
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![format!(
            "CREATE {} (PARSER = {})",
            self.target(),
            self.parser
        )];
        out.extend(self.mapping_changes(&BTreeMap::new()));
        out.extend(comment_and_owner(
            &self.target(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// In place: mappings, comment, owner. None when the parser changes.
    pub(crate) fn alter(&self, old: &TsConfiguration) -> Option<Vec<String>> {
        if old.parser != self.parser {
            return None;
        }
        let mut out = self.mapping_changes(&old.mappings);
        out.extend(comment_and_owner(
            &self.target(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        Some(out)
    }
}
