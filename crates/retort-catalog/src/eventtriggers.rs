//! Event triggers (CREATE EVENT TRIGGER): database-wide triggers on DDL events, with their tag
//! filter, function, firing mode, comment and owner.

use retort_pg::{quote_ident, quote_literal};

use crate::common::comment_and_owner;
use crate::error::{query, CatalogError};

/// An event trigger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventTrigger {
    /// Name.
    pub name: String,
    /// `ddl_command_start`, `ddl_command_end`, `sql_drop`, `table_rewrite` (or `login`).
    pub event: String,
    /// `WHEN TAG IN (...)`, in the order given; empty for every tag.
    pub tags: Vec<String>,
    /// The function it executes, quoted and schema-qualified.
    pub function: String,
    /// `O` (enabled), `D` (disabled), `R` (replica), `A` (always).
    pub enabled: char,
    /// COMMENT ON EVENT TRIGGER.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<EventTrigger>, CatalogError> {
    let rows = client
        .query(
            &format!(
                "SELECT e.evtname::text, e.evtevent::text, coalesce(e.evttags, '{{}}')::text[], \
                        quote_ident(n.nspname) || '.' || quote_ident(p.proname), e.evtenabled::text, \
                        e.oid, pg_get_userbyid(e.evtowner)::text \
                 FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid \
                 JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE {ext} ORDER BY 1",
                ext = params.extensions.exclude("pg_event_trigger", "e.oid"),
            ),
            &[],
        )
        .map_err(query("event triggers"))?;
    let comments = params.comments.of("pg_event_trigger");
    Ok(rows
        .iter()
        .map(|r| EventTrigger {
            name: r.get(0),
            event: r.get(1),
            tags: r.get(2),
            function: r.get(3),
            enabled: r.get::<_, String>(4).chars().next().unwrap_or('O'),
            comment: comments.get(r.get(5)),
            owner: params.owners.then(|| r.get(6)),
        })
        .collect())
}

impl EventTrigger {
    fn target(&self) -> String {
        format!("EVENT TRIGGER {}", quote_ident(&self.name))
    }

    /// `ALTER EVENT TRIGGER ... ENABLE/DISABLE ...` giving this firing mode.
    fn enable(&self) -> String {
        let mode = crate::common::firing_mode(self.enabled);
        format!("ALTER {} {mode}", self.target())
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let when = if self.tags.is_empty() {
            String::new()
        } else {
            let tags: Vec<String> = self.tags.iter().map(|t| quote_literal(t)).collect();
            format!(" WHEN TAG IN ({})", tags.join(", "))
        };
        let mut out = vec![format!(
            "CREATE EVENT TRIGGER {} ON {}{when} EXECUTE FUNCTION {}()",
            quote_ident(&self.name),
            quote_ident(&self.event),
            self.function
        )];
        if self.enabled != 'O' {
            out.push(self.enable());
        }
        out.extend(comment_and_owner(
            &self.target(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP EVENT TRIGGER {}", quote_ident(&self.name))]
    }

    /// In place: firing mode, comment, owner. None when the event, tags or function change
    /// (PostgreSQL cannot alter those).
    pub(crate) fn alter(&self, old: &EventTrigger) -> Option<Vec<String>> {
        if (&old.event, &old.tags, &old.function) != (&self.event, &self.tags, &self.function) {
            return None;
        }
        let mut out = Vec::new();
        if old.enabled != self.enabled {
            out.push(self.enable());
        }
        out.extend(comment_and_owner(
            &self.target(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        Some(out)
    }
}
