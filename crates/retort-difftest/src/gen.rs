//! Random but valid schemas, deterministic by seed, and random mutations of them.
//!
//! A [`Model`] holds enums, a domain, tables (columns with every property retort models,
//! primary keys, unique and check constraints, foreign keys, indexes, comments, grants, row
//! level security and policies, partitioning), views on tables and on views, SQL functions that
//! read tables and trigger functions with triggers. [`Model::sql`] renders it in dependency
//! order; [`mutate`] changes it the way schemas change between releases (columns added,
//! dropped, retyped and widened, constraints and indexes changed, views rewritten, enum values
//! added, tables dropped), dropping whatever depended on what it removes so both sides stay
//! loadable.

/// splitmix64: small, fast and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// A column type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// integer
    Int,
    /// bigint
    BigInt,
    /// text, optionally COLLATE "C"
    Text {
        /// COLLATE "C".
        c_collation: bool,
    },
    /// varchar(n)
    Varchar(u32),
    /// numeric(p, s)
    Numeric(u32, u32),
    /// boolean
    Bool,
    /// date
    Date,
    /// timestamptz
    Timestamptz,
    /// jsonb
    Jsonb,
    /// integer[]
    IntArray,
    /// One of the model's enums.
    Enum(usize),
    /// The model's domain (over text).
    Domain,
}

impl Ty {
    fn sql(&self, m: &Model) -> String {
        match self {
            Ty::Int => "integer".into(),
            Ty::BigInt => "bigint".into(),
            Ty::Text { c_collation: false } => "text".into(),
            Ty::Text { c_collation: true } => "text COLLATE \"C\"".into(),
            Ty::Varchar(n) => format!("varchar({n})"),
            Ty::Numeric(p, s) => format!("numeric({p},{s})"),
            Ty::Bool => "boolean".into(),
            Ty::Date => "date".into(),
            Ty::Timestamptz => "timestamptz".into(),
            Ty::Jsonb => "jsonb".into(),
            Ty::IntArray => "integer[]".into(),
            Ty::Enum(i) => m.enums[*i].name.clone(),
            Ty::Domain => "short_text".into(),
        }
    }

    /// A constant of this type, for defaults and checks.
    fn value(&self, m: &Model, rng: &mut Rng) -> String {
        match self {
            Ty::Int | Ty::BigInt => format!("{}", rng.below(100)),
            Ty::Text { .. } | Ty::Varchar(_) | Ty::Domain => {
                format!(
                    "'{}'",
                    rng.pick(&["a", "x", "it's", "ünï"]).replace('\'', "''")
                )
            }
            Ty::Numeric(..) => format!("{}.5", rng.below(100)),
            Ty::Bool => rng.pick(&["true", "false"]).to_string(),
            Ty::Date => "'2024-01-01'".into(),
            Ty::Timestamptz => rng.pick(&["now()", "'2024-01-01 00:00:00+00'"]).to_string(),
            Ty::Jsonb => "'{}'::jsonb".into(),
            Ty::IntArray => "'{}'::integer[]".into(),
            Ty::Enum(i) => format!("'{}'", m.enums[*i].labels[0]),
        }
    }

    fn random(m: &Model, rng: &mut Rng) -> Ty {
        match rng.below(12) {
            0 => Ty::Int,
            1 => Ty::BigInt,
            2 => Ty::Text {
                c_collation: rng.chance(20),
            },
            3 => Ty::Varchar(*rng.pick(&[10, 40, 255])),
            4 => Ty::Numeric(*rng.pick(&[8, 10, 12]), 2),
            5 => Ty::Bool,
            6 => Ty::Date,
            7 => Ty::Timestamptz,
            8 => Ty::Jsonb,
            9 => Ty::IntArray,
            10 if !m.enums.is_empty() => Ty::Enum(rng.below(m.enums.len())),
            11 if m.domain => Ty::Domain,
            _ => Ty::Text { c_collation: false },
        }
    }

    /// Has a default btree operator class (can be indexed and made unique).
    fn btree(&self) -> bool {
        !matches!(self, Ty::Jsonb | Ty::IntArray)
    }

    fn texty(&self) -> bool {
        matches!(self, Ty::Text { .. } | Ty::Varchar(_) | Ty::Domain)
    }

    fn numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::BigInt | Ty::Numeric(..))
    }
}

/// An enum type.
#[derive(Debug, Clone)]
pub struct Enum {
    /// Name.
    pub name: String,
    /// Labels in order.
    pub labels: Vec<String>,
    /// A cast from it to text.
    pub cast: Option<EnumCast>,
    /// The operator `===` on two of it: (with itself as COMMUTATOR, RESTRICT = eqsel).
    pub operator: Option<(bool, bool)>,
}

/// `CREATE CAST (<enum> AS text)`: through a SQL function `<enum>_label` or WITH INOUT,
/// explicit or AS ASSIGNMENT, with or without a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumCast {
    /// WITH FUNCTION (else WITH INOUT).
    pub via_function: bool,
    /// AS ASSIGNMENT (else explicit).
    pub assignment: bool,
    /// COMMENT ON CAST.
    pub comment: bool,
}

impl EnumCast {
    fn random(rng: &mut Rng) -> EnumCast {
        EnumCast {
            via_function: rng.chance(50),
            assignment: rng.chance(50),
            comment: rng.chance(30),
        }
    }
}

fn random_foreign(rng: &mut Rng) -> (u8, Option<u8>, bool, bool) {
    (
        rng.below(4) as u8,
        rng.chance(60).then(|| rng.below(2) as u8),
        rng.chance(30),
        rng.chance(50),
    )
}

/// Casts are drawn from their own stream, so that adding them left every seed's other draws
/// (and so the cases earlier runs found) as they were.
fn cast_rng(seed: u64, salt: u64) -> Rng {
    Rng::new(seed ^ 0xCA57_0000_0000_0000 ^ salt)
}

/// A column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Type.
    pub ty: Ty,
    /// NOT NULL.
    pub not_null: bool,
    /// DEFAULT expression.
    pub default: Option<String>,
    /// COMMENT ON COLUMN.
    pub comment: Option<String>,
    /// SET STATISTICS.
    pub statistics: Option<u32>,
}

/// An index on one column.
#[derive(Debug, Clone)]
pub struct Index {
    /// Name.
    pub name: String,
    /// Column.
    pub column: String,
    /// UNIQUE.
    pub unique: bool,
    /// lower(column) (text columns only).
    pub lower: bool,
    /// WHERE column IS NOT NULL.
    pub partial: bool,
}

/// A table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Name.
    pub name: String,
    /// `id bigint` primary key first, then the rest.
    pub columns: Vec<Column>,
    /// id is GENERATED ... AS IDENTITY.
    pub identity: bool,
    /// id is bigserial (a sequence OWNED BY it, DEFAULT nextval); never with `identity`.
    pub serial: bool,
    /// CHECK constraints: (name, column, expression).
    pub checks: Vec<(String, String, String)>,
    /// Foreign keys: (name, column, referenced table).
    pub fks: Vec<(String, String, String)>,
    /// Indexes.
    pub indexes: Vec<Index>,
    /// COMMENT ON TABLE.
    pub comment: Option<String>,
    /// GRANT SELECT TO app_reader.
    pub grant: bool,
    /// ENABLE ROW LEVEL SECURITY and a policy on id.
    pub rls: bool,
    /// PARTITION BY RANGE (id) with two partitions.
    pub partitioned: bool,
    /// CLUSTER ON its primary key (not on partitioned tables).
    pub cluster: bool,
    /// REPLICA IDENTITY USING INDEX its primary key (not on partitioned tables).
    pub replica_pkey: bool,
}

/// A view on a table or on another view.
#[derive(Debug, Clone)]
pub struct View {
    /// Name.
    pub name: String,
    /// What it selects from (a table or an earlier view).
    pub from: String,
    /// Columns it selects.
    pub columns: Vec<String>,
    /// WHERE id > n.
    pub filter: Option<u32>,
}

/// The schema.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Enum types.
    pub enums: Vec<Enum>,
    /// The domain short_text (text, CHECK length < 100).
    pub domain: bool,
    /// Tables.
    pub tables: Vec<Table>,
    /// Views.
    pub views: Vec<View>,
    /// SQL functions `count_<table>()` reading a table.
    pub counters: Vec<String>,
    /// Tables with a BEFORE UPDATE trigger calling `touch()`.
    pub triggers: Vec<String>,
    /// The publication `pub` and the tables it lists (those that exist).
    pub publication: Option<Vec<String>>,
    /// Default privileges (SELECT on tables to app_reader, no EXECUTE on functions for
    /// PUBLIC), set before everything (so what follows gets them) or after.
    pub default_privileges: Option<Before>,
    /// The conversion `latin_in` (LATIN1 to UTF8): (DEFAULT, with a comment).
    pub conversion: Option<(bool, bool)>,
    /// Where partitioned tables split their two partitions (None: 1000); moving it moves both
    /// bounds at once, which overlap while one is attached with its new bounds.
    pub partition_split: Option<u32>,
    /// The function `fee(amount numeric)` and the view `fee_view` calling `fee(1.0)`; true:
    /// with a second, defaulted parameter (a new overload that makes the call ambiguous while
    /// both exist).
    pub fee: Option<bool>,
    /// The language `plscript` with a handler of its own (plpgsql's, from its library), and
    /// `script_answer()` written in it;
    /// true: TRUSTED.
    pub language: Option<bool>,
    /// The btree class `sort_ops` for the first enum type, in the family `sort_family`, with
    /// an index using it on the first column of that type: (DEFAULT, all five operators rather
    /// than three, with a comment).
    pub enum_class: Option<(bool, bool, bool)>,
    /// The btree family `mixed_ints` and which of its cross-type loose members it has (a bit
    /// each).
    pub loose_family: Option<u8>,
    /// The wrapper `fuzz_fdw`, servers `remote_a` and `remote_b`, and the foreign table
    /// `remote_items` with the view `remote_labels` over it: (which options `remote_a` has,
    /// app_user's mapping on `remote_a` and its user option, the table on `remote_b`, a column
    /// option).
    pub foreign: Option<(u8, Option<u8>, bool, bool)>,
    /// The transform for integer in plpgsql through internal-language functions: (with a TO
    /// SQL function, with a comment).
    pub transform: Option<(bool, bool)>,
    /// An object named `spare`: 0 a sequence, 1 a composite type, 2 a table (names that
    /// collide while one kind goes and another comes).
    pub spare: Option<u8>,
    /// The aggregate `total(integer)`: (moving-aggregate mode, COMBINEFUNC and PARALLEL SAFE,
    /// ordered-set `mid(double precision ORDER BY anyelement)` beside it).
    pub aggregate: Option<(bool, bool, bool)>,
}

/// Whether a database-wide setting comes before the objects it would affect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Before(pub bool);

fn random_column(m: &Model, rng: &mut Rng, name: String) -> Column {
    let ty = Ty::random(m, rng);
    let default = rng.chance(30).then(|| ty.value(m, rng));
    Column {
        name,
        not_null: rng.chance(30),
        default,
        comment: rng.chance(15).then(|| format!("about {}", rng.below(10))),
        statistics: rng.chance(10).then(|| *rng.pick(&[0, 200, 1000])),
        ty,
    }
}

fn random_table(m: &Model, rng: &mut Rng, name: String) -> Table {
    let mut t = Table {
        name,
        columns: vec![Column {
            name: "id".into(),
            ty: Ty::BigInt,
            not_null: true,
            default: None,
            comment: None,
            statistics: None,
        }],
        identity: rng.chance(50),
        serial: false,
        checks: Vec::new(),
        fks: Vec::new(),
        indexes: Vec::new(),
        comment: rng.chance(30).then(|| "a table".to_string()),
        grant: rng.chance(30),
        rls: rng.chance(15),
        partitioned: rng.chance(12),
        cluster: false,
        replica_pkey: false,
    };
    if t.partitioned {
        t.identity = false;
    }
    t.serial = !t.identity && !t.partitioned && rng.chance(40);
    for i in 0..1 + rng.below(5) {
        let c = random_column(m, rng, format!("c{i}"));
        t.columns.push(c);
    }
    add_constraints(m, rng, &mut t);
    t
}

fn add_constraints(m: &Model, rng: &mut Rng, t: &mut Table) {
    let n = t.columns.len();
    for _ in 0..rng.below(3) {
        let c = t.columns[1 + rng.below(n - 1)].clone();
        let k = t.checks.len() + t.indexes.len() + rng.below(1000);
        // One index per column: two identical indexes on a partitioned table get partition
        // indexes whose generated names depend on creation order, which no schema states.
        if rng.chance(50) && c.ty.btree() && !t.indexes.iter().any(|i| i.column == c.name) {
            t.indexes.push(Index {
                name: format!("{}_{}_i{k}", t.name, c.name),
                column: c.name.clone(),
                unique: rng.chance(20) && !t.partitioned,
                lower: c.ty.texty() && !matches!(c.ty, Ty::Domain) && rng.chance(40),
                partial: rng.chance(30),
            });
        } else if t.checks.iter().any(|(_, col, _)| *col == c.name) {
            // One check per column, so names (table, column, number) never collide.
        } else if c.ty.numeric() {
            t.checks.push((
                format!("{}_{}_ck{k}", t.name, c.name),
                c.name.clone(),
                format!("{} >= 0", c.name),
            ));
        } else if c.ty.texty() {
            // An IN list on a varchar column is printed in a form PostgreSQL parses into
            // something else (see retort_catalog::settle).
            let expr = if rng.chance(50) {
                format!("{} IN ('a', 'x', 'it''s')", c.name)
            } else {
                format!("{} <> ''", c.name)
            };
            t.checks
                .push((format!("{}_{}_ck{k}", t.name, c.name), c.name.clone(), expr));
        }
    }
    let _ = m;
}

/// A random schema for `seed`.
pub fn model(seed: u64) -> Model {
    let mut rng = Rng::new(seed);
    let mut m = Model::default();
    for e in 0..rng.below(3) {
        let labels = ["new", "open", "done", "gone"][..2 + rng.below(3)]
            .iter()
            .map(|s| s.to_string())
            .collect();
        m.enums.push(Enum {
            name: format!("state{e}"),
            labels,
            cast: None,
            operator: None,
        });
    }
    let mut casts = cast_rng(seed, 1);
    for e in &mut m.enums {
        if casts.chance(40) {
            e.cast = Some(EnumCast::random(&mut casts));
        }
    }
    if casts.chance(20) {
        m.conversion = Some((casts.chance(50), casts.chance(50)));
    }
    for e in &mut m.enums {
        if casts.chance(30) {
            e.operator = Some((casts.chance(50), casts.chance(50)));
        }
    }
    if casts.chance(25) {
        m.aggregate = Some((casts.chance(50), casts.chance(50), casts.chance(50)));
    }
    if casts.chance(25) {
        m.fee = Some(casts.chance(50));
    }
    if casts.chance(25) {
        m.spare = Some(casts.below(3) as u8);
    }
    if casts.chance(20) {
        m.language = Some(casts.chance(50));
    }
    let mut classes = cast_rng(seed, 3);
    if !m.enums.is_empty() && classes.chance(25) {
        m.enum_class = Some((classes.chance(50), classes.chance(50), classes.chance(30)));
    }
    if classes.chance(15) {
        m.loose_family = Some(classes.below(16) as u8);
    }
    let mut foreign = cast_rng(seed, 5);
    if foreign.chance(20) {
        m.foreign = Some(random_foreign(&mut foreign));
    }
    if foreign.chance(15) {
        m.transform = Some((foreign.chance(50), foreign.chance(30)));
    }
    m.domain = rng.chance(30);
    for i in 0..1 + rng.below(4) {
        let t = random_table(&m, &mut rng, format!("t{i}"));
        m.tables.push(t);
    }
    add_links(&mut m, &mut rng);
    add_replication_settings(&mut m, &mut rng);
    m
}

/// CLUSTER ON and REPLICA IDENTITY USING INDEX on some tables, and a publication of some.
fn add_replication_settings(m: &mut Model, rng: &mut Rng) {
    for t in &mut m.tables {
        if !t.partitioned {
            t.cluster = rng.chance(15);
            t.replica_pkey = rng.chance(15);
        }
    }
    if rng.chance(30) {
        let names = m
            .tables
            .iter()
            .filter(|_| rng.chance(50))
            .map(|t| t.name.clone())
            .collect();
        m.publication = Some(names);
    }
    if rng.chance(20) {
        m.default_privileges = Some(Before(rng.chance(50)));
    }
}

const DEFAULT_PRIVILEGES: [&str; 2] = [
    "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app_reader",
    "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
];

/// Foreign keys, views, functions and triggers between the tables.
fn add_links(m: &mut Model, rng: &mut Rng) {
    for i in 1..m.tables.len() {
        if rng.chance(40) {
            let target = m.tables[rng.below(i)].name.clone();
            if m.tables.iter().any(|t| t.name == target && t.partitioned) || m.tables[i].partitioned
            {
                continue;
            }
            let col = format!("{target}_id");
            if m.tables[i].columns.iter().any(|c| c.name == col) {
                continue;
            }
            let t = &mut m.tables[i];
            t.columns.push(Column {
                name: col.clone(),
                ty: Ty::BigInt,
                not_null: false,
                default: None,
                comment: None,
                statistics: None,
            });
            t.fks.push((format!("{}_{col}_fk", t.name), col, target));
        }
    }
    for _ in 0..rng.below(3) {
        let n = m.views.len();
        let from_view = n > 0 && rng.chance(30);
        let (from, available): (String, Vec<String>) = if from_view {
            let v = &m.views[rng.below(n)];
            (v.name.clone(), v.columns.clone())
        } else {
            let t = &m.tables[rng.below(m.tables.len())];
            (
                t.name.clone(),
                t.columns.iter().map(|c| c.name.clone()).collect(),
            )
        };
        let mut columns: Vec<String> = available
            .iter()
            .filter(|c| *c == "id" || rng.chance(50))
            .cloned()
            .collect();
        columns.dedup();
        let name = format!("v{}", n + rng.below(1000) * 10);
        if m.views.iter().any(|v| v.name == name) {
            continue;
        }
        m.views.push(View {
            name,
            from,
            filter: rng.chance(30).then(|| rng.below(50) as u32),
            columns,
        });
    }
    for t in &m.tables {
        if rng.chance(20) {
            m.counters.push(t.name.clone());
        }
        if rng.chance(15) && !t.partitioned {
            m.triggers.push(t.name.clone());
        }
    }
}

impl Model {
    /// The schema as SQL statements, in an order PostgreSQL accepts.
    pub fn statements(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.default_privileges == Some(Before(true)) {
            out.extend(DEFAULT_PRIVILEGES.iter().map(|s| s.to_string()));
        }
        for e in &self.enums {
            let labels: Vec<String> = e.labels.iter().map(|l| format!("'{l}'")).collect();
            out.push(format!(
                "CREATE TYPE {} AS ENUM ({})",
                e.name,
                labels.join(", ")
            ));
        }
        if self.domain {
            out.push("CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100)".into());
        }
        if let Some(defaulted) = self.fee {
            out.push(format!(
                "CREATE FUNCTION fee(amount numeric{}) RETURNS numeric LANGUAGE sql IMMUTABLE \
                 AS $$ SELECT amount * {} $$",
                if defaulted {
                    ", rate numeric DEFAULT 1.1"
                } else {
                    ""
                },
                if defaulted { "rate" } else { "1.1" }
            ));
            out.push("CREATE VIEW fee_view AS SELECT fee(1.0) AS f".into());
        }
        if let Some(trusted) = self.language {
            out.push(
                "CREATE FUNCTION script_handler() RETURNS language_handler LANGUAGE c \
                 AS '$libdir/plpgsql', 'plpgsql_call_handler'"
                    .into(),
            );
            out.push(format!(
                "CREATE {}LANGUAGE plscript HANDLER script_handler",
                if trusted { "TRUSTED " } else { "" }
            ));
            out.push(
                "CREATE FUNCTION script_answer() RETURNS integer LANGUAGE plscript \
                 AS $$ BEGIN RETURN 42; END $$"
                    .into(),
            );
        }
        match self.spare {
            Some(0) => out.push("CREATE SEQUENCE spare".into()),
            Some(1) => out.push("CREATE TYPE spare AS (a integer)".into()),
            Some(_) => out.push("CREATE TABLE spare (a integer)".into()),
            None => {}
        }
        if let Some((moving, combine, ordered)) = self.aggregate {
            out.push(
                "CREATE FUNCTION agg_add(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT \
                 AS 'SELECT $1 + $2'"
                    .into(),
            );
            out.push(
                "CREATE FUNCTION agg_sub(bigint, integer) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT \
                 AS 'SELECT $1 - $2'"
                    .into(),
            );
            let mut options = vec!["SFUNC = agg_add", "STYPE = bigint", "INITCOND = '0'"];
            if combine {
                options.extend(["COMBINEFUNC = int8pl", "PARALLEL = SAFE"]);
            }
            if moving {
                options.extend([
                    "MSFUNC = agg_add",
                    "MINVFUNC = agg_sub",
                    "MSTYPE = bigint",
                    "MINITCOND = '0'",
                ]);
            }
            out.push(format!(
                "CREATE AGGREGATE total(integer) ({})",
                options.join(", ")
            ));
            if ordered {
                out.push(
                    "CREATE AGGREGATE mid(double precision ORDER BY anyelement) \
                     (SFUNC = ordered_set_transition, STYPE = internal, \
                     FINALFUNC = percentile_disc_final, FINALFUNC_EXTRA)"
                        .into(),
                );
            }
        }
        if let Some((default, comment)) = self.conversion {
            out.push(format!(
                "CREATE {}CONVERSION latin_in FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8",
                if default { "DEFAULT " } else { "" }
            ));
            if comment {
                out.push("COMMENT ON CONVERSION latin_in IS 'import'".into());
            }
        }
        for e in &self.enums {
            let Some((commutator, restrict)) = e.operator else {
                continue;
            };
            out.push(format!(
                "CREATE FUNCTION {n}_same({n}, {n}) RETURNS boolean LANGUAGE sql IMMUTABLE \
                 AS $$ SELECT $1 = $2 $$",
                n = e.name
            ));
            out.push(format!(
                "CREATE OPERATOR === (LEFTARG = {n}, RIGHTARG = {n}, FUNCTION = {n}_same{}{})",
                if commutator {
                    ", COMMUTATOR = OPERATOR(public.===)"
                } else {
                    ""
                },
                if restrict { ", RESTRICT = eqsel" } else { "" },
                n = e.name
            ));
        }
        for e in &self.enums {
            let Some(c) = e.cast else { continue };
            let how = if c.via_function {
                out.push(format!(
                    "CREATE FUNCTION {n}_label({n}) RETURNS text LANGUAGE sql IMMUTABLE \
                     AS $$ SELECT format('%s', $1) $$",
                    n = e.name
                ));
                format!("WITH FUNCTION {n}_label({n})", n = e.name)
            } else {
                "WITH INOUT".to_owned()
            };
            let context = if c.assignment { " AS ASSIGNMENT" } else { "" };
            out.push(format!("CREATE CAST ({} AS text) {how}{context}", e.name));
            if c.comment {
                out.push(format!("COMMENT ON CAST ({} AS text) IS 'label'", e.name));
            }
        }
        self.operator_classes_sql(&mut out);
        if !self.triggers.is_empty() {
            out.push(
                "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
                    .into(),
            );
        }
        for t in &self.tables {
            let mut cols: Vec<String> = Vec::new();
            for c in &t.columns {
                let mut s = if c.name == "id" && t.serial {
                    "id bigserial".to_owned()
                } else {
                    format!("{} {}", c.name, c.ty.sql(self))
                };
                if c.name == "id" && t.identity {
                    s.push_str(" GENERATED BY DEFAULT AS IDENTITY");
                }
                if c.not_null {
                    s.push_str(" NOT NULL");
                }
                if let Some(d) = &c.default {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                cols.push(s);
            }
            cols.push(format!("CONSTRAINT {}_pkey PRIMARY KEY (id)", t.name));
            for (name, _, expr) in &t.checks {
                cols.push(format!("CONSTRAINT {name} CHECK ({expr})"));
            }
            let partition = if t.partitioned {
                " PARTITION BY RANGE (id)"
            } else {
                ""
            };
            out.push(format!(
                "CREATE TABLE {} ({}){partition}",
                t.name,
                cols.join(", ")
            ));
            if t.partitioned {
                out.push(format!(
                    "CREATE TABLE {0}_p0 PARTITION OF {0} FOR VALUES FROM (MINVALUE) TO ({1})",
                    t.name,
                    self.partition_split.unwrap_or(1000)
                ));
                out.push(format!(
                    "CREATE TABLE {0}_p1 PARTITION OF {0} FOR VALUES FROM ({1}) TO (MAXVALUE)",
                    t.name,
                    self.partition_split.unwrap_or(1000)
                ));
            }
            for c in &t.columns {
                if let Some(s) = c.statistics {
                    out.push(format!(
                        "ALTER TABLE {} ALTER COLUMN {} SET STATISTICS {s}",
                        t.name, c.name
                    ));
                }
                if let Some(text) = &c.comment {
                    out.push(format!(
                        "COMMENT ON COLUMN {}.{} IS '{text}'",
                        t.name, c.name
                    ));
                }
            }
            for i in &t.indexes {
                let expr = if i.lower {
                    format!("lower({})", i.column)
                } else {
                    i.column.clone()
                };
                let pred = if i.partial {
                    format!(" WHERE {} IS NOT NULL", i.column)
                } else {
                    String::new()
                };
                out.push(format!(
                    "CREATE {}INDEX {} ON {} (({expr})){pred}",
                    if i.unique { "UNIQUE " } else { "" },
                    i.name,
                    t.name
                ));
            }
            if let Some(text) = &t.comment {
                out.push(format!("COMMENT ON TABLE {} IS '{text}'", t.name));
            }
            if t.grant {
                out.push(format!("GRANT SELECT ON {} TO app_reader", t.name));
            }
            if t.rls {
                out.push(format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", t.name));
                out.push(format!(
                    "CREATE POLICY {0}_positive ON {0} USING (id > 0)",
                    t.name
                ));
            }
        }
        if let (Some((default, _, _)), Some(e)) = (self.enum_class, self.enums.first()) {
            let typed = self.tables.iter().find_map(|t| {
                let c = t.columns.iter().find(|c| c.ty == Ty::Enum(0))?;
                Some((&t.name, &c.name))
            });
            if let Some((t, c)) = typed {
                out.push(format!(
                    "CREATE INDEX {t}_{c}_sorted ON {t} ({c}{})",
                    if default {
                        String::new()
                    } else {
                        format!(" {}_ops", e.name)
                    }
                ));
            }
        }
        for t in &self.tables {
            for (name, col, target) in &t.fks {
                out.push(format!(
                    "ALTER TABLE {} ADD CONSTRAINT {name} FOREIGN KEY ({col}) REFERENCES {target} (id)",
                    t.name
                ));
            }
        }
        for t in &self.tables {
            if t.cluster {
                out.push(format!("ALTER TABLE {0} CLUSTER ON {0}_pkey", t.name));
            }
            if t.replica_pkey {
                out.push(format!(
                    "ALTER TABLE {0} REPLICA IDENTITY USING INDEX {0}_pkey",
                    t.name
                ));
            }
        }
        if let Some(listed) = &self.publication {
            let present: Vec<&String> = listed
                .iter()
                .filter(|n| self.tables.iter().any(|t| &t.name == *n))
                .collect();
            if present.is_empty() {
                out.push("CREATE PUBLICATION pub".into());
            } else {
                let names: Vec<&str> = present.iter().map(|n| n.as_str()).collect();
                out.push(format!(
                    "CREATE PUBLICATION pub FOR TABLE {}",
                    names.join(", ")
                ));
            }
        }
        for v in &self.views {
            let filter = v
                .filter
                .map(|n| format!(" WHERE id > {n}"))
                .unwrap_or_default();
            out.push(format!(
                "CREATE VIEW {} AS SELECT {} FROM {}{filter}",
                v.name,
                v.columns.join(", "),
                v.from
            ));
        }
        for t in &self.counters {
            out.push(format!(
                "CREATE FUNCTION count_{t}() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT count(*) FROM {t}; END"
            ));
            // The table's row type as an argument: created after the table, dropped before.
            out.push(format!(
                "CREATE FUNCTION label_{t}(r {t}) RETURNS text LANGUAGE sql STABLE RETURN 'row ' || r.id"
            ));
        }
        for t in &self.triggers {
            out.push(format!(
                "CREATE TRIGGER {t}_touch BEFORE UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION touch()"
            ));
        }
        if self.default_privileges == Some(Before(false)) {
            out.extend(DEFAULT_PRIVILEGES.iter().map(|s| s.to_string()));
        }
        out
    }

    /// [`Model::statements`] as one script.
    /// The enum's btree class and its family, and the family of loose integer members.
    fn operator_classes_sql(&self, out: &mut Vec<String>) {
        if let (Some((default, full, comment)), Some(e)) = (self.enum_class, self.enums.first()) {
            let n = &e.name;
            out.push(format!(
                "CREATE FUNCTION {n}_cmp({n}, {n}) RETURNS integer LANGUAGE sql IMMUTABLE STRICT \
                 AS $$ SELECT CASE WHEN $1 < $2 THEN -1 WHEN $1 > $2 THEN 1 ELSE 0 END $$"
            ));
            // Operators of its own on the type: the built-in ones take anyenum, which a class
            // for one enum type cannot use (the planner looks its members up by its type).
            let all = [
                (1, "#<", "lt", "<"),
                (2, "#<=", "le", "<="),
                (3, "#=", "eq", "="),
                (4, "#>=", "ge", ">="),
                (5, "#>", "gt", ">"),
            ];
            for (_, symbol, f, test) in all {
                out.push(format!(
                    "CREATE FUNCTION {n}_{f}({n}, {n}) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT \
                     AS $$ SELECT {n}_cmp($1, $2) {test} 0 $$"
                ));
                out.push(format!(
                    "CREATE OPERATOR {symbol} (LEFTARG = {n}, RIGHTARG = {n}, FUNCTION = {n}_{f})"
                ));
            }
            out.push("CREATE OPERATOR FAMILY sort_family USING btree".into());
            let ops: Vec<String> = all
                .iter()
                .filter(|(k, ..)| full || k % 2 == 1)
                .map(|(k, symbol, ..)| format!("OPERATOR {k} {symbol} ({n}, {n})"))
                .collect();
            out.push(format!(
                "CREATE OPERATOR CLASS {n}_ops{} FOR TYPE {n} USING btree FAMILY sort_family AS {}, \
                 FUNCTION 1 {n}_cmp({n}, {n})",
                if default { " DEFAULT" } else { "" },
                ops.join(", ")
            ));
            if comment {
                out.push(format!(
                    "COMMENT ON OPERATOR CLASS {n}_ops USING btree IS 'in label order'"
                ));
            }
        }
        if let Some((options, mapping, on_b, column_option)) = self.foreign {
            out.push("CREATE FOREIGN DATA WRAPPER fuzz_fdw".into());
            let options = [
                " OPTIONS (host 'a')",
                " OPTIONS (host 'b', port '1')",
                " OPTIONS (port '1', host 'a')",
                "",
            ][usize::from(options)];
            out.push(format!(
                "CREATE SERVER remote_a FOREIGN DATA WRAPPER fuzz_fdw{options}"
            ));
            out.push("CREATE SERVER remote_b FOREIGN DATA WRAPPER fuzz_fdw".into());
            if let Some(user) = mapping {
                out.push(format!(
                    "CREATE USER MAPPING FOR app_user SERVER remote_a OPTIONS (user 'u{user}')"
                ));
            }
            out.push(format!(
                "CREATE FOREIGN TABLE remote_items (id integer{} NOT NULL, label text) \
                 SERVER remote_{} OPTIONS (table_name 'items')",
                if column_option {
                    " OPTIONS (column_name 'item_id')"
                } else {
                    ""
                },
                if on_b { "b" } else { "a" }
            ));
            out.push("CREATE VIEW remote_labels AS SELECT label FROM remote_items".into());
        }
        if let Some((to_sql, comment)) = self.transform {
            out.push(
                "CREATE FUNCTION int_from_sql(internal) RETURNS internal LANGUAGE internal \
                 IMMUTABLE STRICT AS 'int4recv'"
                    .into(),
            );
            out.push(
                "CREATE FUNCTION int_to_sql(internal) RETURNS integer LANGUAGE internal \
                 IMMUTABLE STRICT AS 'int4recv'"
                    .into(),
            );
            out.push(format!(
                "CREATE TRANSFORM FOR integer LANGUAGE plpgsql (FROM SQL WITH FUNCTION \
                 int_from_sql(internal){})",
                if to_sql {
                    ", TO SQL WITH FUNCTION int_to_sql(internal)"
                } else {
                    ""
                }
            ));
            if comment {
                out.push("COMMENT ON TRANSFORM FOR integer LANGUAGE plpgsql IS 'as is'".into());
            }
        }
        if let Some(bits) = self.loose_family {
            out.push("CREATE OPERATOR FAMILY mixed_ints USING btree".into());
            let members = [
                "OPERATOR 1 < (integer, bigint)",
                "OPERATOR 3 = (bigint, integer)",
                "FUNCTION 1 (integer, bigint) btint48cmp(integer, bigint)",
                "FUNCTION 1 (bigint, integer) btint84cmp(bigint, integer)",
            ];
            let chosen: Vec<&str> = members
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, m)| *m)
                .collect();
            if !chosen.is_empty() {
                out.push(format!(
                    "ALTER OPERATOR FAMILY mixed_ints USING btree ADD {}",
                    chosen.join(", ")
                ));
            }
        }
    }

    pub fn sql(&self) -> String {
        self.statements()
            .iter()
            .map(|s| format!("{s};\n"))
            .collect()
    }

    /// Removes everything that uses column `col` of `table` (indexes, checks, foreign keys,
    /// views and views on them).
    fn forget_column(&mut self, table: &str, col: &str) {
        if let Some(t) = self.tables.iter_mut().find(|t| t.name == table) {
            t.indexes.retain(|i| i.column != col);
            t.checks.retain(|(_, c, _)| c != col);
            t.fks.retain(|(_, c, _)| c != col);
        }
        self.forget_views_using(table, Some(col));
    }

    fn forget_views_using(&mut self, relation: &str, col: Option<&str>) {
        let mut gone: Vec<String> = self
            .views
            .iter()
            .filter(|v| v.from == relation && col.is_none_or(|c| v.columns.iter().any(|x| x == c)))
            .map(|v| v.name.clone())
            .collect();
        while let Some(v) = gone.pop() {
            self.views.retain(|x| x.name != v);
            gone.extend(
                self.views
                    .iter()
                    .filter(|x| x.from == v)
                    .map(|x| x.name.clone()),
            );
        }
    }
}

/// `m` changed the way a schema changes between two releases, deterministically by `seed`.
pub fn mutate(m: &Model, seed: u64) -> Model {
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
    let mut m = m.clone();
    for _ in 0..1 + rng.below(4) {
        let ti = rng.below(m.tables.len());
        let tname = m.tables[ti].name.clone();
        match rng.below(15) {
            0 => {
                let name = format!("n{}", rng.below(1000));
                if !m.tables[ti].columns.iter().any(|c| c.name == name) {
                    let c = random_column(&m, &mut rng, name);
                    m.tables[ti].columns.push(c);
                }
            }
            1 if m.tables[ti].columns.len() > 2 => {
                let ci = 1 + rng.below(m.tables[ti].columns.len() - 1);
                let col = m.tables[ti].columns[ci].name.clone();
                m.forget_column(&tname, &col);
                m.tables[ti].columns.remove(ci);
            }
            2 | 3 => {
                // Retype: widen when there is a wider form, else any type.
                let ci = 1 + rng
                    .below(m.tables[ti].columns.len() - 1)
                    .min(m.tables[ti].columns.len() - 2);
                if ci >= m.tables[ti].columns.len()
                    || m.tables[ti].columns[ci].name.ends_with("_id")
                {
                    continue;
                }
                let col = m.tables[ti].columns[ci].name.clone();
                let new = match &m.tables[ti].columns[ci].ty {
                    Ty::Varchar(n) if rng.chance(70) => {
                        if rng.chance(30) {
                            Ty::Text { c_collation: false }
                        } else {
                            Ty::Varchar(n * 4)
                        }
                    }
                    Ty::Numeric(p, s) if rng.chance(70) => Ty::Numeric(p + 4, *s),
                    Ty::Int if rng.chance(50) => Ty::BigInt,
                    _ => Ty::random(&m, &mut rng),
                };
                m.forget_column(&tname, &col);
                let c = &mut m.tables[ti].columns[ci];
                c.ty = new;
                c.default = None;
            }
            4 => {
                let ci = 1 + rng
                    .below(m.tables[ti].columns.len() - 1)
                    .min(m.tables[ti].columns.len() - 2);
                if let Some(c) = m.tables[ti].columns.get_mut(ci) {
                    c.not_null = !c.not_null;
                }
            }
            5 => {
                let ci = 1 + rng
                    .below(m.tables[ti].columns.len() - 1)
                    .min(m.tables[ti].columns.len() - 2);
                if ci < m.tables[ti].columns.len() {
                    let ty = m.tables[ti].columns[ci].ty.clone();
                    let d = rng.chance(70).then(|| ty.value(&m, &mut rng));
                    m.tables[ti].columns[ci].default = d;
                }
            }
            6 => {
                let t = &mut m.tables[ti];
                t.indexes.clear();
                t.checks.clear();
                let snapshot = m.clone();
                add_constraints(&snapshot, &mut rng, &mut m.tables[ti]);
            }
            7 => {
                if let Some(v) = m.views.first_mut() {
                    v.filter = Some(rng.below(100) as u32);
                }
            }
            8 if !m.enums.is_empty() => {
                let e = rng.below(m.enums.len());
                let label = format!("added{}", rng.below(100));
                if !m.enums[e].labels.contains(&label) {
                    m.enums[e].labels.push(label);
                }
            }
            9 if m.tables.len() > 1 => {
                // Drop a table nothing references.
                let referenced = m
                    .tables
                    .iter()
                    .any(|t| t.fks.iter().any(|(_, _, target)| *target == tname));
                if !referenced {
                    m.forget_views_using(&tname, None);
                    m.counters.retain(|c| *c != tname);
                    m.triggers.retain(|c| *c != tname);
                    m.tables.remove(ti);
                }
            }
            10 => {
                let name = format!("t{}", 10 + rng.below(1000));
                if !m.tables.iter().any(|t| t.name == name) {
                    let t = random_table(&m, &mut rng, name);
                    m.tables.push(t);
                }
            }
            11 => {
                let t = &mut m.tables[ti];
                t.comment = if t.comment.is_some() {
                    None
                } else {
                    Some("changed".into())
                };
                t.grant = !t.grant;
            }
            12 => {
                let t = &mut m.tables[ti];
                if !t.partitioned {
                    t.rls = !t.rls;
                }
            }
            13 => {
                // Replication settings: CLUSTER ON, replica identity, publication membership.
                let t = &mut m.tables[ti];
                if !t.partitioned {
                    if rng.chance(50) {
                        t.cluster = !t.cluster;
                    } else {
                        t.replica_pkey = !t.replica_pkey;
                    }
                }
                // Default privileges: set, moved between before and after, or unset.
                if rng.chance(25) {
                    m.default_privileges = match m.default_privileges {
                        None => Some(Before(rng.chance(50))),
                        Some(Before(b)) if rng.chance(50) => Some(Before(!b)),
                        Some(_) => None,
                    };
                }
                match &mut m.publication {
                    None => m.publication = Some(vec![tname.clone()]),
                    Some(_) if rng.chance(20) => m.publication = None,
                    Some(list) => match list.iter().position(|n| *n == tname) {
                        Some(i) => {
                            list.remove(i);
                        }
                        None => list.push(tname.clone()),
                    },
                }
            }
            _ => {
                let snapshot = m.clone();
                let mut rng2 = rng.clone();
                let mut links = snapshot;
                links.views.clear();
                add_links(&mut links, &mut rng2);
                // Keep only views whose relation and columns exist in `m` (links may have
                // added foreign-key columns that `m` does not have).
                let mut kept: Vec<View> = Vec::new();
                for v in links.views {
                    let available: Option<Vec<String>> = m
                        .tables
                        .iter()
                        .find(|t| t.name == v.from)
                        .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
                        .or_else(|| {
                            kept.iter()
                                .find(|k| k.name == v.from)
                                .map(|k| k.columns.clone())
                        });
                    if available.is_some_and(|a| v.columns.iter().all(|c| a.contains(c))) {
                        kept.push(v);
                    }
                }
                m.views = kept;
                let _ = rng.next_u64();
            }
        }
    }
    // A cast added, dropped, or changed in method, context or comment.
    let mut casts = cast_rng(seed, 2);
    if !m.enums.is_empty() && casts.chance(40) {
        let e = casts.below(m.enums.len());
        m.enums[e].cast = match m.enums[e].cast {
            None => Some(EnumCast::random(&mut casts)),
            Some(_) if casts.chance(25) => None,
            Some(mut c) => {
                match casts.below(3) {
                    0 => c.via_function = !c.via_function,
                    1 => c.assignment = !c.assignment,
                    _ => c.comment = !c.comment,
                }
                Some(c)
            }
        };
    }
    // An operator added, dropped, or its commutator (re-created) or estimator (in place) changed.
    if !m.enums.is_empty() && casts.chance(30) {
        let e = casts.below(m.enums.len());
        m.enums[e].operator = match m.enums[e].operator {
            None => Some((casts.chance(50), casts.chance(50))),
            Some(_) if casts.chance(25) => None,
            Some((c, r)) if casts.chance(50) => Some((!c, r)),
            Some((c, r)) => Some((c, !r)),
        };
    }
    // The enum's operator class added, dropped, or made (not) DEFAULT, fuller or commented;
    // the family's loose members changed.
    let mut classes = cast_rng(seed, 4);
    if !m.enums.is_empty() && classes.chance(30) {
        m.enum_class = match m.enum_class {
            None => Some((classes.chance(50), classes.chance(50), classes.chance(30))),
            Some(_) if classes.chance(25) => None,
            Some((d, f, c)) => match classes.below(3) {
                0 => Some((!d, f, c)),
                1 => Some((d, !f, c)),
                _ => Some((d, f, !c)),
            },
        };
    }
    if classes.chance(20) {
        m.loose_family = match m.loose_family {
            None => Some(classes.below(16) as u8),
            Some(_) if classes.chance(25) => None,
            Some(bits) => Some(bits ^ (1 << classes.below(4))),
        };
    }
    // Foreign data added, dropped, or its options, mapping or server changed.
    let mut foreign = cast_rng(seed, 6);
    if foreign.chance(25) {
        m.foreign = match m.foreign {
            None => Some(random_foreign(&mut foreign)),
            Some(_) if foreign.chance(20) => None,
            Some((o, map, b, c)) => match foreign.below(4) {
                0 => Some(((o + 1) % 4, map, b, c)),
                1 => Some((
                    o,
                    match map {
                        None => Some(0),
                        Some(0) => Some(1),
                        Some(_) => None,
                    },
                    b,
                    c,
                )),
                2 => Some((o, map, !b, c)),
                _ => Some((o, map, b, !c)),
            },
        };
    }
    if foreign.chance(20) {
        m.transform = match m.transform {
            None => Some((foreign.chance(50), foreign.chance(30))),
            Some(_) if foreign.chance(25) => None,
            Some((to, c)) if foreign.chance(50) => Some((!to, c)),
            Some((to, c)) => Some((to, !c)),
        };
    }
    // The partitions' split point moved.
    if casts.chance(20) {
        m.partition_split = match m.partition_split {
            None => Some(*casts.pick(&[500, 1500, 2000])),
            Some(_) => None,
        };
    }
    // The fee function gains or loses its defaulted parameter, appears or goes.
    if casts.chance(25) {
        m.fee = match m.fee {
            None => Some(casts.chance(50)),
            Some(_) if casts.chance(25) => None,
            Some(d) => Some(!d),
        };
    }
    // The language appears, goes, or becomes (un)trusted.
    if casts.chance(20) {
        m.language = match m.language {
            None => Some(casts.chance(50)),
            Some(_) if casts.chance(30) => None,
            Some(t) => Some(!t),
        };
    }
    // `spare` becomes another kind of object, appears or goes.
    if casts.chance(25) {
        m.spare = match m.spare {
            None => Some(casts.below(3) as u8),
            Some(_) if casts.chance(20) => None,
            Some(k) => Some((k + 1 + casts.below(2) as u8) % 3),
        };
    }
    // The aggregate added, dropped, or one of its forms toggled.
    if casts.chance(25) {
        m.aggregate = match m.aggregate {
            None => Some((casts.chance(50), casts.chance(50), casts.chance(50))),
            Some(_) if casts.chance(25) => None,
            Some((mv, c, o)) => match casts.below(3) {
                0 => Some((!mv, c, o)),
                1 => Some((mv, !c, o)),
                _ => Some((mv, c, !o)),
            },
        };
    }
    // The conversion added, dropped, made (not) the default, or its comment toggled.
    if casts.chance(20) {
        m.conversion = match m.conversion {
            None => Some((casts.chance(50), casts.chance(50))),
            Some(_) if casts.chance(30) => None,
            Some((d, c)) if casts.chance(50) => Some((!d, c)),
            Some((d, c)) => Some((d, !c)),
        };
    }
    m
}

/// The A and B schemas of one fuzz seed.
pub fn case(seed: u64) -> (Model, Model) {
    let a = model(seed);
    let b = mutate(&a, seed);
    (a, b)
}
