//! Functions and procedures, as pg_get_functiondef renders them (every attribute: volatility,
//! strictness, SECURITY DEFINER, SET search_path, language, body), and aggregates in every form
//! pg_dump writes: zero-argument `(*)`, ordered-set and hypothetical-set, moving-aggregate
//! options, combine/serial/deserial functions, FINALFUNC_MODIFY, SORTOP, PARALLEL and the
//! initial conditions.

use crate::common::{acl_columns, ns_filter, Acl, Extras};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// A function or procedure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Function {
    /// Name.
    pub name: QName,
    /// Input argument types (the overload key), e.g. `integer, text`.
    pub identity: String,
    /// Full arguments with names and defaults.
    pub arguments: String,
    /// Result type (`integer`, `SETOF t`, `TABLE(...)`; empty for procedures).
    pub result: String,
    /// True for a procedure.
    pub procedure: bool,
    /// True for an aggregate.
    pub aggregate: bool,
    /// `CREATE OR REPLACE FUNCTION ...` as the server renders it.
    pub definition: String,
    /// COMMENT ON FUNCTION.
    pub comment: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<Vec<Function>, CatalogError> {
    let sql = format!(
        "SELECT n.nspname::text, p.proname::text, oidvectortypes(p.proargtypes), \
                pg_get_function_arguments(p.oid), coalesce(pg_get_function_result(p.oid), ''), \
                p.prokind = 'p', \
                CASE WHEN p.prokind = 'a' THEN \
                  'CREATE OR REPLACE AGGREGATE ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname) \
                  || '(' || CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_get_function_arguments(p.oid) END \
                  || ') (SFUNC = ' || ag.aggtransfn::regproc::text \
                  || ', STYPE = ' || format_type(ag.aggtranstype, NULL) \
                  || CASE WHEN ag.aggtransspace <> 0 THEN ', SSPACE = ' || ag.aggtransspace ELSE '' END \
                  || CASE WHEN ag.aggfinalfn <> 0 THEN ', FINALFUNC = ' || ag.aggfinalfn::regproc::text ELSE '' END \
                  || CASE WHEN ag.aggfinalextra THEN ', FINALFUNC_EXTRA' ELSE '' END \
                  || CASE WHEN ag.aggfinalfn <> 0 AND ag.aggfinalmodify <> CASE ag.aggkind WHEN 'n' THEN 'r' ELSE 'w' END \
                          THEN ', FINALFUNC_MODIFY = ' || CASE ag.aggfinalmodify WHEN 'r' THEN 'READ_ONLY' \
                               WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END ELSE '' END \
                  || CASE WHEN ag.aggcombinefn <> 0 THEN ', COMBINEFUNC = ' || ag.aggcombinefn::regproc::text ELSE '' END \
                  || CASE WHEN ag.aggserialfn <> 0 THEN ', SERIALFUNC = ' || ag.aggserialfn::regproc::text ELSE '' END \
                  || CASE WHEN ag.aggdeserialfn <> 0 THEN ', DESERIALFUNC = ' || ag.aggdeserialfn::regproc::text ELSE '' END \
                  || CASE WHEN ag.agginitval IS NOT NULL THEN ', INITCOND = ' || quote_literal(ag.agginitval) ELSE '' END \
                  || CASE WHEN ag.aggmtransfn <> 0 THEN ', MSFUNC = ' || ag.aggmtransfn::regproc::text \
                       || ', MINVFUNC = ' || ag.aggminvtransfn::regproc::text \
                       || ', MSTYPE = ' || format_type(ag.aggmtranstype, NULL) ELSE '' END \
                  || CASE WHEN ag.aggmtransspace <> 0 THEN ', MSSPACE = ' || ag.aggmtransspace ELSE '' END \
                  || CASE WHEN ag.aggmfinalfn <> 0 THEN ', MFINALFUNC = ' || ag.aggmfinalfn::regproc::text ELSE '' END \
                  || CASE WHEN ag.aggmfinalextra THEN ', MFINALFUNC_EXTRA' ELSE '' END \
                  || CASE WHEN ag.aggmfinalfn <> 0 AND ag.aggmfinalmodify <> CASE ag.aggkind WHEN 'n' THEN 'r' ELSE 'w' END \
                          THEN ', MFINALFUNC_MODIFY = ' || CASE ag.aggmfinalmodify WHEN 'r' THEN 'READ_ONLY' \
                               WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END ELSE '' END \
                  || CASE WHEN ag.aggminitval IS NOT NULL THEN ', MINITCOND = ' || quote_literal(ag.aggminitval) ELSE '' END \
                  || CASE WHEN ag.aggsortop <> 0 THEN ', SORTOP = ' || (SELECT 'OPERATOR(' || quote_ident(son.nspname) \
                       || '.' || so.oprname || ')' FROM pg_operator so JOIN pg_namespace son ON son.oid = so.oprnamespace \
                       WHERE so.oid = ag.aggsortop) ELSE '' END \
                  || CASE WHEN ag.aggkind = 'h' THEN ', HYPOTHETICAL' ELSE '' END \
                  || CASE p.proparallel WHEN 's' THEN ', PARALLEL = SAFE' WHEN 'r' THEN ', PARALLEL = RESTRICTED' ELSE '' END \
                  || ')' \
                ELSE pg_get_functiondef(p.oid) END, \
                p.oid, p.prokind = 'a', {acl}, pg_get_userbyid(p.proowner)::text \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         LEFT JOIN pg_aggregate ag ON ag.aggfnoid = p.oid \
         WHERE p.prokind IN ('f', 'p', 'w', 'a') \
           AND {filter} AND {ext} \
           AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass \
                           AND i.objid = p.oid AND i.deptype = 'i')",
        acl = acl_columns("p.proacl", 'f'),
        filter = ns_filter("n"),
        ext = params.extensions.exclude("pg_proc", "p.oid"),
    );
    let comments = params.comments.of("pg_proc");
    let rows = client
        .query(&sql, &params.as_refs())
        .map_err(query("functions"))?;
    Ok(rows
        .iter()
        .map(|r| Function {
            name: QName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            identity: r.get(2),
            arguments: r.get(3),
            result: r.get(4),
            procedure: r.get(5),
            definition: r.get::<_, String>(6).trim_end().to_owned(),
            comment: comments.get(r.get(7)),
            aggregate: r.get(8),
            acl: Acl::from_row(r, 9, params),
            owner: params.owners.then(|| r.get(11)),
        })
        .collect())
}

impl Function {
    fn extras(&self) -> Extras<'_> {
        Extras {
            comment: self.comment.as_deref(),
            owner: self.owner.as_deref(),
            acl: &self.acl,
        }
    }

    fn target(&self) -> String {
        let kind = match (self.procedure, self.aggregate) {
            (true, _) => "PROCEDURE",
            (_, true) => "AGGREGATE",
            _ => "FUNCTION",
        };
        // A zero-argument aggregate is named `agg(*)`.
        let args = if self.aggregate && self.identity.is_empty() {
            "*"
        } else {
            &self.identity
        };
        format!("{kind} {}({args})", self.name)
    }

    /// GRANT takes aggregates as FUNCTION.
    fn grant_target(&self) -> String {
        let kind = if self.procedure {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        format!("{kind} {}({})", self.name, self.identity)
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![self.definition.clone()];
        out.extend(self.extras().create(&self.target(), &self.grant_target()));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target())]
    }

    /// CREATE OR REPLACE when the signature allows it; None when it must be dropped first
    /// (result type, kind, argument names or defaults changed).
    pub(crate) fn alter(&self, old: &Function) -> Option<Vec<String>> {
        // An aggregate cannot become hypothetical-set (or stop being one) by CREATE OR REPLACE.
        let hypothetical = |f: &Function| f.aggregate && f.definition.contains(", HYPOTHETICAL");
        if old.result != self.result
            || old.procedure != self.procedure
            || old.arguments != self.arguments
            || hypothetical(old) != hypothetical(self)
        {
            return None;
        }
        let mut out = Vec::new();
        if old.definition != self.definition {
            out.push(self.definition.clone());
        }
        out.extend(
            self.extras()
                .change_from(&old.extras(), &self.target(), &self.grant_target()),
        );
        Some(out)
    }
}
