//! Migration SQL read with PostgreSQL's own parser: each statement with its file line, the
//! `-- retort:allow` lines above it, and what it does to which relation ([`Effect`]).

use std::path::Path;

use pg_query::protobuf::{
    node::Node as N, AlterTableType as At, ConstrType, DropBehavior, ObjectType, RangeVar,
};
use pg_query::NodeEnum;
use serde::Serialize;

use crate::error::LintError;
use crate::lock::{LockMode, Work};

/// A lock a statement takes on one relation, and the work it does under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effect {
    /// The relation as written (`schema.name` when qualified), identifiers as the parser
    /// folded them.
    pub relation: String,
    /// The strongest lock taken on it.
    pub lock: LockMode,
    /// What happens to its data.
    pub work: Work,
}

/// `-- retort:allow <rule> <reason>` above a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allow {
    /// The rule excused.
    pub rule: String,
    /// Why (required).
    pub reason: String,
    /// Its line in the file.
    pub line: usize,
}

/// One statement of a migration section.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The statement's text (comments above it removed, trimmed).
    pub sql: String,
    /// 1-based line in the file where it starts.
    pub line: usize,
    /// The parse tree.
    pub node: NodeEnum,
    /// Lint excuses written above it.
    pub allows: Vec<Allow>,
    /// Locks and work, one per relation touched.
    pub effects: Vec<Effect>,
    /// Relations this statement creates (tables, views, materialized views).
    pub creates: Vec<String>,
}

impl Statement {
    /// The first line of the statement, for messages.
    pub fn head(&self) -> String {
        let first = self.sql.lines().next().unwrap_or_default();
        if self.sql.lines().nth(1).is_some() || first.len() > 120 {
            format!("{} ...", first.chars().take(120).collect::<String>())
        } else {
            first.to_owned()
        }
    }
}

/// The name of a RangeVar: `schema.rel` or `rel`.
pub fn range_name(r: &RangeVar) -> String {
    if r.schemaname.is_empty() {
        r.relname.clone()
    } else {
        format!("{}.{}", r.schemaname, r.relname)
    }
}

/// Splits `sql` (one section of `file`, whose first line is `first_line`) into statements.
pub fn parse_section(
    sql: &str,
    file: &Path,
    first_line: usize,
    server_version_num: Option<i32>,
) -> Result<Vec<Statement>, LintError> {
    let parsed = pg_query::parse(sql, 0).map_err(|e| LintError::Parse {
        file: file.to_owned(),
        line: first_line,
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    // Where the previous statement ended: comments between it and the next statement belong
    // to the next one (whether or not the parser counts them into its location).
    let mut prev_end = 0usize;
    for raw in &parsed.protobuf.stmts {
        let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.clone()) else {
            continue;
        };
        let start = (raw.stmt_location.max(0) as usize).min(sql.len());
        let end = if raw.stmt_len > 0 {
            (start + raw.stmt_len as usize).min(sql.len())
        } else {
            sql.len()
        };
        let code_at = start + code_start(&sql[start..end]);
        let gap_from = prev_end.min(code_at);
        let mut allows = Vec::new();
        let mut offset = gap_from;
        for line in sql[gap_from..code_at].split_inclusive('\n') {
            let trimmed = line.trim().trim_start_matches(';').trim_start();
            if let Some(rest) = trimmed.strip_prefix("--") {
                if let Some(allow) = rest.trim_start().strip_prefix("retort:allow") {
                    let mut words = allow.split_whitespace();
                    let rule = words.next().unwrap_or_default().to_owned();
                    let reason = words.collect::<Vec<_>>().join(" ");
                    allows.push(Allow {
                        rule,
                        reason,
                        line: first_line + sql[..offset].matches('\n').count(),
                    });
                }
            }
            offset += line.len();
        }
        prev_end = end;
        let line = first_line + sql[..code_at].matches('\n').count();
        let statement_sql = sql[code_at..end].trim().to_owned();
        let (effects, creates) = effects_of(&node, server_version_num.unwrap_or(150000));
        out.push(Statement {
            sql: statement_sql,
            line,
            node,
            allows,
            effects,
            creates,
        });
    }
    Ok(out)
}

/// Offset of the first character of code in `text` (past whitespace and comments).
fn code_start(text: &str) -> usize {
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("--") {
            i = text[i..]
                .find('\n')
                .map(|n| i + n + 1)
                .unwrap_or(bytes.len());
        } else if text[i..].starts_with("/*") {
            i = text[i..]
                .find("*/")
                .map(|n| i + n + 2)
                .unwrap_or(bytes.len());
        } else {
            break;
        }
    }
    i
}

fn effect(relation: String, lock: LockMode, work: Work) -> Effect {
    Effect {
        relation,
        lock,
        work,
    }
}

fn names_of(nodes: &[pg_query::protobuf::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n.node.as_ref()? {
            N::RangeVar(r) => Some(range_name(r)),
            N::List(l) => {
                let parts: Vec<String> = l
                    .items
                    .iter()
                    .filter_map(|i| match i.node.as_ref()? {
                        N::String(s) => Some(s.sval.clone()),
                        _ => None,
                    })
                    .collect();
                (!parts.is_empty()).then(|| parts.join("."))
            }
            _ => None,
        })
        .collect()
}

/// True when a DefElem list has `name` (e.g. `concurrently`, `full`) set to anything but false.
pub fn has_option(options: &[pg_query::protobuf::Node], name: &str) -> bool {
    options.iter().any(|o| match o.node.as_ref() {
        Some(N::DefElem(d)) if d.defname.eq_ignore_ascii_case(name) => match d.arg.as_deref() {
            None => true,
            Some(a) => !matches!(
                a.node.as_ref(),
                Some(N::Boolean(b)) if !b.boolval
            ) && !matches!(a.node.as_ref(), Some(N::String(s)) if s.sval.eq_ignore_ascii_case("false") || s.sval.eq_ignore_ascii_case("off")),
        },
        _ => false,
    })
}

/// The column definition's type name, last part, lower case (`serial`, `varchar`, ...).
pub fn type_name_of(t: Option<&pg_query::protobuf::TypeName>) -> String {
    t.and_then(|t| {
        t.names.iter().rev().find_map(|n| match n.node.as_ref()? {
            N::String(s) => Some(s.sval.to_ascii_lowercase()),
            _ => None,
        })
    })
    .unwrap_or_default()
}

/// Locks and work of one statement, and what it creates.
fn effects_of(node: &NodeEnum, version: i32) -> (Vec<Effect>, Vec<String>) {
    use LockMode::*;
    let mut effects = Vec::new();
    let mut creates = Vec::new();
    match node {
        N::CreateStmt(c) => {
            if let Some(r) = &c.relation {
                creates.push(range_name(r));
            }
            // Partitions and children lock their parent too.
            for parent in names_of(&c.inh_relations) {
                effects.push(effect(parent, ShareUpdateExclusive, Work::Metadata));
            }
        }
        N::CreateTableAsStmt(c) => {
            if let Some(r) = c.into.as_ref().and_then(|i| i.rel.as_ref()) {
                creates.push(range_name(r));
            }
        }
        N::ViewStmt(v) => {
            if let Some(r) = &v.view {
                creates.push(range_name(r));
            }
        }
        N::IndexStmt(i) => {
            if let Some(r) = &i.relation {
                let lock = if i.concurrent {
                    ShareUpdateExclusive
                } else {
                    Share
                };
                effects.push(effect(range_name(r), lock, Work::Build));
            }
        }
        N::AlterTableStmt(a) => {
            let Some(r) = &a.relation else {
                return (effects, creates);
            };
            let table = range_name(r);
            let mut lock = ShareUpdateExclusive;
            let mut work = Work::Metadata;
            let mut extra = Vec::new();
            for cmd in &a.cmds {
                let Some(N::AlterTableCmd(c)) = cmd.node.as_ref() else {
                    continue;
                };
                let (l, w) = alter_table_cmd(c, version, &mut extra);
                lock = lock.max(l);
                work = work.max(w);
            }
            if a.objtype == ObjectType::ObjectIndex as i32 {
                // ALTER INDEX: the index's table is locked too, but the parser only knows the index.
                effects.push(effect(table, lock, work));
            } else {
                effects.push(effect(table, lock, work));
            }
            effects.extend(extra);
        }
        N::RenameStmt(r) => {
            if let Some(rel) = &r.relation {
                let lock = if r.rename_type == ObjectType::ObjectIndex as i32 && version >= 120000 {
                    ShareUpdateExclusive
                } else {
                    AccessExclusive
                };
                effects.push(effect(range_name(rel), lock, Work::Metadata));
            }
        }
        N::AlterObjectSchemaStmt(s) => {
            if let Some(rel) = &s.relation {
                effects.push(effect(range_name(rel), AccessExclusive, Work::Metadata));
            }
        }
        N::DropStmt(d) => {
            let t = d.remove_type;
            let relation_kind = [
                ObjectType::ObjectTable,
                ObjectType::ObjectView,
                ObjectType::ObjectMatview,
                ObjectType::ObjectSequence,
                ObjectType::ObjectIndex,
                ObjectType::ObjectForeignTable,
            ]
            .iter()
            .any(|k| *k as i32 == t);
            if relation_kind {
                let lock = if d.concurrent {
                    ShareUpdateExclusive
                } else {
                    AccessExclusive
                };
                for name in names_of(&d.objects) {
                    effects.push(effect(name, lock, Work::Metadata));
                }
            }
        }
        N::TruncateStmt(t) => {
            for name in names_of(&t.relations) {
                effects.push(effect(name, AccessExclusive, Work::Rewrite));
            }
        }
        N::VacuumStmt(v) => {
            let full = has_option(&v.options, "full");
            for rel in &v.rels {
                if let Some(N::VacuumRelation(vr)) = rel.node.as_ref() {
                    if let Some(r) = &vr.relation {
                        let (lock, work) = if full {
                            (AccessExclusive, Work::Rewrite)
                        } else {
                            (ShareUpdateExclusive, Work::Scan)
                        };
                        effects.push(effect(range_name(r), lock, work));
                    }
                }
            }
        }
        N::ClusterStmt(c) => {
            if let Some(r) = &c.relation {
                effects.push(effect(range_name(r), AccessExclusive, Work::Rewrite));
            }
        }
        N::ReindexStmt(r) => {
            if let Some(rel) = &r.relation {
                let lock = if has_option(&r.params, "concurrently") {
                    ShareUpdateExclusive
                } else {
                    Share
                };
                effects.push(effect(range_name(rel), lock, Work::Build));
            }
        }
        N::RefreshMatViewStmt(m) => {
            if let Some(r) = &m.relation {
                let lock = if m.concurrent {
                    Exclusive
                } else {
                    AccessExclusive
                };
                effects.push(effect(range_name(r), lock, Work::Rewrite));
            }
        }
        N::LockStmt(l) => {
            for name in names_of(&l.relations) {
                effects.push(effect(
                    name,
                    LockMode::from_lock_stmt(l.mode),
                    Work::Metadata,
                ));
            }
        }
        N::CreateTrigStmt(t) => {
            if let Some(r) = &t.relation {
                effects.push(effect(range_name(r), ShareRowExclusive, Work::Metadata));
            }
        }
        N::InsertStmt(i) => {
            if let Some(r) = &i.relation {
                effects.push(effect(range_name(r), RowExclusive, Work::Dml));
            }
        }
        N::UpdateStmt(u) => {
            if let Some(r) = &u.relation {
                effects.push(effect(range_name(r), RowExclusive, Work::Dml));
            }
        }
        N::DeleteStmt(d) => {
            if let Some(r) = &d.relation {
                effects.push(effect(range_name(r), RowExclusive, Work::Dml));
            }
        }
        _ => {}
    }
    (effects, creates)
}

/// Lock and work of one ALTER TABLE subcommand; locks on other tables go to `extra`.
fn alter_table_cmd(
    c: &pg_query::protobuf::AlterTableCmd,
    version: i32,
    extra: &mut Vec<Effect>,
) -> (LockMode, Work) {
    use LockMode::*;
    let sub = At::try_from(c.subtype).unwrap_or(At::Undefined);
    match sub {
        At::AtAddColumn => {
            let work = match c.def.as_deref().and_then(|d| d.node.as_ref()) {
                Some(N::ColumnDef(col)) if column_rewrites(col, version) => Work::Rewrite,
                _ => Work::Metadata,
            };
            (AccessExclusive, work)
        }
        At::AtSetNotNull => (AccessExclusive, Work::Scan),
        At::AtSetExpression => (AccessExclusive, Work::Rewrite),
        At::AtSetStatistics | At::AtSetOptions | At::AtResetOptions => {
            (ShareUpdateExclusive, Work::Metadata)
        }
        At::AtClusterOn | At::AtDropCluster => (ShareUpdateExclusive, Work::Metadata),
        At::AtSetRelOptions | At::AtResetRelOptions => (ShareUpdateExclusive, Work::Metadata),
        At::AtValidateConstraint => (ShareUpdateExclusive, Work::Scan),
        At::AtAlterColumnType => (AccessExclusive, Work::Rewrite),
        At::AtSetLogged | At::AtSetUnLogged | At::AtSetAccessMethod | At::AtSetTableSpace => {
            (AccessExclusive, Work::Rewrite)
        }
        At::AtEnableTrig
        | At::AtEnableAlwaysTrig
        | At::AtEnableReplicaTrig
        | At::AtDisableTrig
        | At::AtEnableTrigAll
        | At::AtDisableTrigAll
        | At::AtEnableTrigUser
        | At::AtDisableTrigUser => (ShareRowExclusive, Work::Metadata),
        At::AtAttachPartition => {
            if let Some(N::PartitionCmd(p)) = c.def.as_deref().and_then(|d| d.node.as_ref()) {
                if let Some(r) = &p.name {
                    extra.push(effect(range_name(r), AccessExclusive, Work::Scan));
                }
            }
            (ShareUpdateExclusive, Work::Metadata)
        }
        At::AtDetachPartition => {
            let concurrent = matches!(
                c.def.as_deref().and_then(|d| d.node.as_ref()),
                Some(N::PartitionCmd(p)) if p.concurrent
            );
            if concurrent {
                (ShareUpdateExclusive, Work::Metadata)
            } else {
                (AccessExclusive, Work::Metadata)
            }
        }
        At::AtAddConstraint => match c.def.as_deref().and_then(|d| d.node.as_ref()) {
            Some(N::Constraint(k)) => {
                let kind = ConstrType::try_from(k.contype).unwrap_or(ConstrType::Undefined);
                match kind {
                    ConstrType::ConstrForeign => {
                        if let Some(p) = &k.pktable {
                            extra.push(effect(range_name(p), ShareRowExclusive, Work::Metadata));
                        }
                        let work = if k.skip_validation {
                            Work::Metadata
                        } else {
                            Work::Scan
                        };
                        (ShareRowExclusive, work)
                    }
                    ConstrType::ConstrCheck | ConstrType::ConstrNotnull => {
                        let work = if k.skip_validation {
                            Work::Metadata
                        } else {
                            Work::Scan
                        };
                        (AccessExclusive, work)
                    }
                    ConstrType::ConstrPrimary | ConstrType::ConstrUnique => {
                        if k.indexname.is_empty() {
                            (AccessExclusive, Work::Build)
                        } else {
                            (AccessExclusive, Work::Metadata)
                        }
                    }
                    ConstrType::ConstrExclusion => (AccessExclusive, Work::Build),
                    _ => (AccessExclusive, Work::Metadata),
                }
            }
            _ => (AccessExclusive, Work::Metadata),
        },
        _ => (AccessExclusive, Work::Metadata),
    }
}

/// Known volatile functions: a default calling one is evaluated for every existing row.
pub const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "gen_random_bytes",
    "random_normal",
    "uuidv4",
    "uuidv7",
];

/// Function names called anywhere in an expression.
pub fn called_functions(node: &pg_query::protobuf::Node) -> Vec<String> {
    node.node.as_ref().map(functions_in).unwrap_or_default()
}

/// Function names (last part, lower case) called anywhere in a parse tree.
pub fn functions_in(n: &NodeEnum) -> Vec<String> {
    n.nodes()
        .into_iter()
        .filter_map(|(child, _, _, _)| match child {
            pg_query::NodeRef::FuncCall(f) => {
                f.funcname
                    .iter()
                    .rev()
                    .find_map(|p| match p.node.as_ref()? {
                        N::String(s) => Some(s.sval.to_ascii_lowercase()),
                        _ => None,
                    })
            }
            _ => None,
        })
        .collect()
}

/// The column's default expression (DEFAULT clause or constraint).
pub fn column_default(col: &pg_query::protobuf::ColumnDef) -> Option<&pg_query::protobuf::Node> {
    col.raw_default.as_deref().or_else(|| {
        col.constraints.iter().find_map(|c| match c.node.as_ref()? {
            N::Constraint(k) if k.contype == ConstrType::ConstrDefault as i32 => {
                k.raw_expr.as_deref()
            }
            _ => None,
        })
    })
}

fn has_constraint(col: &pg_query::protobuf::ColumnDef, kind: ConstrType) -> bool {
    col.constraints
        .iter()
        .any(|c| matches!(c.node.as_ref(), Some(N::Constraint(k)) if k.contype == kind as i32))
}

/// Adding this column rewrites the table: a volatile default, serial, identity, a stored
/// generated column, or (before PostgreSQL 11) any non-null default.
pub fn column_rewrites(col: &pg_query::protobuf::ColumnDef, version: i32) -> bool {
    let ty = type_name_of(col.type_name.as_ref());
    if matches!(
        ty.as_str(),
        "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8"
    ) {
        return true;
    }
    if has_constraint(col, ConstrType::ConstrIdentity)
        || has_constraint(col, ConstrType::ConstrGenerated)
    {
        return true;
    }
    match column_default(col) {
        None => false,
        Some(d) => {
            version < 110000
                || called_functions(d)
                    .iter()
                    .any(|f| VOLATILE_FUNCTIONS.contains(&f.as_str()))
        }
    }
}

/// True for `DROP ... CASCADE`.
pub fn is_cascade(node: &NodeEnum) -> bool {
    match node {
        N::DropStmt(d) => d.behavior == DropBehavior::DropCascade as i32,
        N::TruncateStmt(t) => t.behavior == DropBehavior::DropCascade as i32,
        N::AlterTableStmt(a) => a.cmds.iter().any(|c| {
            matches!(c.node.as_ref(), Some(N::AlterTableCmd(c)) if c.behavior == DropBehavior::DropCascade as i32)
        }),
        _ => false,
    }
}
