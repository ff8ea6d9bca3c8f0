//! Names and keys: how objects are identified across two catalogs.

use std::fmt;

use retort_pg::quote_ident;

/// A schema-qualified name.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct QName {
    /// Schema.
    pub schema: String,
    /// Name within the schema.
    pub name: String,
}

impl QName {
    /// A qualified name.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> QName {
        QName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

/// `"schema"."name"`, each part quoted only when needed.
impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(&self.name)
        )
    }
}

/// The identity of an object, the same in every database that has it.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ObjKey {
    /// A schema.
    Schema(String),
    /// An extension.
    Extension(String),
    /// A user-defined collation.
    Collation(QName),
    /// An enum, domain, composite or range type.
    Type(QName),
    /// A sequence.
    Sequence(QName),
    /// A table (ordinary, partitioned or a partition).
    Table(QName),
    /// A column of a table or view (for dependencies only).
    Column(QName, String),
    /// A table constraint.
    Constraint(QName, String),
    /// An index.
    Index(QName),
    /// A view or materialized view.
    View(QName),
    /// A function or procedure: name and identity arguments.
    Function(QName, String),
    /// A trigger on a table.
    Trigger(QName, String),
    /// A row-level security policy on a table.
    Policy(QName, String),
    /// A rule on a table.
    Rule(QName, String),
    /// An extended statistics object.
    Statistics(QName),
    /// Default privileges: role, schema ("" for all), object type.
    DefaultPrivileges(String, String, char),
    /// A publication (database-wide).
    Publication(String),
    /// Settings of a column a partition or child inherits: (table, column).
    InheritedColumn(QName, String),
    /// A partition's index attached to its parent's index: (partition, parent index).
    AttachedIndex(QName, QName),
    /// A text search dictionary.
    TsDictionary(QName),
    /// A text search configuration.
    TsConfiguration(QName),
    /// An event trigger (database-wide).
    EventTrigger(String),
    /// A cast (database-wide): source and target type as `format_type` writes them.
    Cast(String, String),
    /// An encoding conversion.
    Conversion(QName),
    /// An operator: schema and symbol, and its operand types (`integer, integer`, `NONE, x`).
    Operator(QName, String),
    /// A procedural language (database-wide).
    Language(String),
    /// An operator family: schema and name, and its index access method.
    OpFamily(QName, String),
    /// An operator class: schema and name, and its index access method.
    OpClass(QName, String),
    /// A foreign-data wrapper (database-wide).
    ForeignDataWrapper(String),
    /// A foreign server (database-wide).
    ForeignServer(String),
    /// A user mapping (database-wide): role or PUBLIC, server.
    UserMapping(String, String),
    /// A transform (database-wide): type and language.
    Transform(String, String),
}

impl ObjKey {
    /// The schema the object lives in.
    pub fn schema(&self) -> &str {
        match self {
            ObjKey::Schema(s) => s,
            ObjKey::Extension(_)
            | ObjKey::Publication(_)
            | ObjKey::EventTrigger(_)
            | ObjKey::Cast(..)
            | ObjKey::Language(_)
            | ObjKey::ForeignDataWrapper(_)
            | ObjKey::ForeignServer(_)
            | ObjKey::UserMapping(..)
            | ObjKey::Transform(..) => "",
            ObjKey::DefaultPrivileges(_, s, _) => s,
            ObjKey::Type(q)
            | ObjKey::Collation(q)
            | ObjKey::Conversion(q)
            | ObjKey::Operator(q, _)
            | ObjKey::OpFamily(q, _)
            | ObjKey::OpClass(q, _)
            | ObjKey::TsDictionary(q)
            | ObjKey::AttachedIndex(q, _)
            | ObjKey::InheritedColumn(q, _)
            | ObjKey::TsConfiguration(q)
            | ObjKey::Sequence(q)
            | ObjKey::Table(q)
            | ObjKey::Column(q, _)
            | ObjKey::Constraint(q, _)
            | ObjKey::Index(q)
            | ObjKey::Statistics(q)
            | ObjKey::View(q)
            | ObjKey::Function(q, _)
            | ObjKey::Trigger(q, _)
            | ObjKey::Rule(q, _)
            | ObjKey::Policy(q, _) => &q.schema,
        }
    }
}

impl fmt::Display for ObjKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjKey::Schema(s) => write!(f, "schema {}", quote_ident(s)),
            ObjKey::Extension(e) => write!(f, "extension {}", quote_ident(e)),
            ObjKey::Type(q) => write!(f, "type {q}"),
            ObjKey::Collation(q) => write!(f, "collation {q}"),
            ObjKey::TsDictionary(q) => write!(f, "text search dictionary {q}"),
            ObjKey::AttachedIndex(p, i) => write!(f, "index of partition {p} attached to {i}"),
            ObjKey::InheritedColumn(t, c) => {
                write!(f, "settings of inherited column {t}.{}", quote_ident(c))
            }
            ObjKey::TsConfiguration(q) => write!(f, "text search configuration {q}"),
            ObjKey::Sequence(q) => write!(f, "sequence {q}"),
            ObjKey::Table(q) => write!(f, "table {q}"),
            ObjKey::Column(q, c) => write!(f, "column {q}.{}", quote_ident(c)),
            ObjKey::Constraint(q, c) => write!(f, "constraint {} on {q}", quote_ident(c)),
            ObjKey::Index(q) => write!(f, "index {q}"),
            ObjKey::Statistics(q) => write!(f, "statistics {q}"),
            ObjKey::Rule(q, r) => write!(f, "rule {} on {q}", quote_ident(r)),
            ObjKey::View(q) => write!(f, "view {q}"),
            ObjKey::Function(q, args) => write!(f, "function {q}({args})"),
            ObjKey::Trigger(q, t) => write!(f, "trigger {} on {q}", quote_ident(t)),
            ObjKey::Policy(q, p) => write!(f, "policy {} on {q}", quote_ident(p)),
            ObjKey::Publication(p) => write!(f, "publication {}", quote_ident(p)),
            ObjKey::EventTrigger(e) => write!(f, "event trigger {}", quote_ident(e)),
            ObjKey::Cast(s, t) => write!(f, "cast ({s} AS {t})"),
            ObjKey::Conversion(q) => write!(f, "conversion {q}"),
            ObjKey::Language(l) => write!(f, "language {}", quote_ident(l)),
            ObjKey::OpFamily(q, m) => write!(f, "operator family {q} using {m}"),
            ObjKey::OpClass(q, m) => write!(f, "operator class {q} using {m}"),
            ObjKey::ForeignDataWrapper(w) => write!(f, "foreign-data wrapper {}", quote_ident(w)),
            ObjKey::ForeignServer(s) => write!(f, "server {}", quote_ident(s)),
            ObjKey::Transform(t, l) => write!(f, "transform for {t} language {}", quote_ident(l)),
            ObjKey::UserMapping(r, s) => {
                write!(
                    f,
                    "user mapping for {} on server {}",
                    quote_ident(r),
                    quote_ident(s)
                )
            }
            ObjKey::Operator(q, args) => {
                write!(f, "operator {}.{} ({args})", quote_ident(&q.schema), q.name)
            }
            ObjKey::DefaultPrivileges(r, s, k) => {
                write!(f, "default privileges of {} on {k}", quote_ident(r))?;
                if !s.is_empty() {
                    write!(f, " in schema {}", quote_ident(s))?;
                }
                Ok(())
            }
        }
    }
}
