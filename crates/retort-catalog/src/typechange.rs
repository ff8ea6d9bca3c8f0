//! Which column type changes PostgreSQL makes in place: no table rewrite, no index rebuild.
//!
//! `ALTER TABLE ... ALTER COLUMN ... TYPE` rewrites the table unless the conversion reduces to
//! the column itself (PostgreSQL's `ATColumnChangeRequiresRewrite`): a binary-coercible cast,
//! or a length/precision coercion that the type's support function proves a no-op because the
//! new limit is at least the old one. Indexes whose operator class stays the same are kept
//! as they are then. This module is that knowledge, shared by the diff (which alters such
//! columns without dropping and re-creating what depends on them) and the lints (which do not
//! flag them).

/// A type as `format_type` or SQL spells it, reduced to a canonical base name, its modifiers
/// and whether it is an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSpec {
    /// Canonical base name: `varchar`, `text`, `numeric`, `timestamp`, `int4`, ...
    pub base: String,
    /// Type modifiers (length, precision and scale), empty when unconstrained.
    pub mods: Vec<i64>,
    /// An array of the base type.
    pub array: bool,
}

impl TypeSpec {
    /// Reads `character varying(20)`, `varchar(20)`, `numeric(10,2)`, `timestamp(3) with time
    /// zone`, `timestamptz`, `integer[]` and the like.
    pub fn parse(t: &str) -> TypeSpec {
        let t = t.trim();
        let (t, array) = match t.strip_suffix("[]") {
            Some(inner) => (inner.trim_end(), true),
            None => (t, false),
        };
        let (name, mods) = match (t.find('('), t.find(')')) {
            (Some(open), Some(close)) if close > open => {
                let mods = t[open + 1..close]
                    .split(',')
                    .filter_map(|m| m.trim().parse().ok())
                    .collect();
                let name = format!("{} {}", t[..open].trim(), t[close + 1..].trim());
                (name, mods)
            }
            _ => (t.to_owned(), Vec::new()),
        };
        let name = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let base = match name.as_str() {
            "character varying" | "varchar" => "varchar",
            "character" | "char" | "bpchar" => "bpchar",
            "integer" | "int" | "int4" => "int4",
            "bigint" | "int8" => "int8",
            "smallint" | "int2" => "int2",
            "numeric" | "decimal" => "numeric",
            "timestamp" | "timestamp without time zone" => "timestamp",
            "timestamptz" | "timestamp with time zone" => "timestamptz",
            "time" | "time without time zone" => "time",
            "timetz" | "time with time zone" => "timetz",
            "bit varying" | "varbit" => "varbit",
            "double precision" | "float8" => "float8",
            "real" | "float4" => "float4",
            "boolean" | "bool" => "bool",
            other => other,
        }
        .to_owned();
        let mut mods: Vec<i64> = mods;
        if base == "numeric" && mods.len() == 1 {
            mods.push(0); // numeric(p) is numeric(p,0)
        }
        TypeSpec { base, mods, array }
    }
}

/// Whether changing a column from `old` to `new` (both as `format_type` or SQL spells them)
/// is done in place: no rewrite of the table and no rebuild of its indexes. True for the
/// same type, varchar widening and varchar <-> text (unconstrained), numeric precision
/// widening at the same scale, bit varying widening, timestamp/time precision widening, and
/// cidr -> inet. Arrays and everything else: false (a rewrite, or at least a check of every row).
pub fn rewrite_free(old: &str, new: &str) -> bool {
    let (o, n) = (TypeSpec::parse(old), TypeSpec::parse(new));
    if o.array || n.array {
        return o == n;
    }
    // A limit `m` of the new type covers `o` when it is absent or not smaller.
    let widens = |o: &[i64], n: &[i64]| match (o.first(), n.first()) {
        (_, None) => n.is_empty(),
        (Some(a), Some(b)) => b >= a,
        (None, Some(_)) => false,
    };
    match (o.base.as_str(), n.base.as_str()) {
        ("varchar", "varchar") | ("varbit", "varbit") => widens(&o.mods, &n.mods),
        ("varchar", "text") => true,
        ("text", "varchar") => n.mods.is_empty(),
        ("numeric", "numeric") => {
            n.mods.is_empty()
                || (o.mods.len() == 2
                    && n.mods.len() == 2
                    && n.mods[0] >= o.mods[0]
                    && n.mods[1] == o.mods[1])
        }
        ("timestamp", "timestamp") | ("timestamptz", "timestamptz") | ("time", "time") => {
            widens(&o.mods, &n.mods)
        }
        ("cidr", "inet") => true,
        (a, b) => a == b && o.mods == n.mods,
    }
}

/// The `USING` expression that converts column `col` (quoted) from `old` to `new`: a direct
/// cast where PostgreSQL has one (within the numeric, date/time, JSON and network families,
/// boolean <-> integer, and to or from the string types, whose I/O casts exist for every type),
/// else through `text`, which every type can be written to and read from.
pub fn conversion(col: &str, old: &str, new: &str) -> String {
    let (o, n) = (TypeSpec::parse(old), TypeSpec::parse(new));
    let family = |t: &TypeSpec| -> Option<&'static str> {
        if t.array {
            return None;
        }
        Some(match t.base.as_str() {
            "int2" | "int4" | "int8" | "numeric" | "float4" | "float8" => "number",
            "date" | "timestamp" | "timestamptz" => "datetime",
            "time" | "timetz" => "time",
            "json" | "jsonb" => "json",
            "inet" | "cidr" => "network",
            "text" | "varchar" | "bpchar" | "name" => "string",
            _ => return None,
        })
    };
    let direct = match (family(&o), family(&n)) {
        (Some("string"), _) | (_, Some("string")) => true,
        (Some(a), Some(b)) => a == b,
        _ => o.base == n.base && o.array == n.array,
    } || matches!(
        (o.base.as_str(), n.base.as_str(), o.array || n.array),
        ("bool", "int4", false) | ("int4", "bool", false)
    );
    if direct {
        format!("{col}::{new}")
    } else {
        format!("{col}::text::{new}")
    }
}

/// Whether converting every value of a column from `old` to `new` always succeeds and keeps
/// the value: the in-place changes, a change to an unconstrained string type (every type
/// writes itself as text), and the widenings among PostgreSQL's implicit casts (a smaller
/// integer to a larger one or to numeric or floating point, real to double precision, date to
/// a timestamp, timestamp to timestamptz). Everything else (narrowing, text to a number, an
/// enum or a domain, json to jsonb, anything to an array) can fail on some row or change a value,
/// and autogenerate asks for the conversion instead of guessing it.
pub fn cast_cannot_fail(old: &str, new: &str) -> bool {
    if rewrite_free(old, new) {
        return true;
    }
    let (o, n) = (TypeSpec::parse(old), TypeSpec::parse(new));
    if o.array || n.array {
        return false;
    }
    if n.mods.is_empty() && matches!(n.base.as_str(), "text" | "varchar") {
        return true;
    }
    matches!(
        (o.base.as_str(), n.base.as_str()),
        ("int2", "int4" | "int8" | "numeric" | "float4" | "float8")
            | ("int4", "int8" | "numeric" | "float4" | "float8")
            | ("int8", "numeric" | "float4" | "float8")
            | ("float4", "float8")
            | ("date", "timestamp" | "timestamptz")
            | ("timestamp", "timestamptz")
            | ("timestamptz", "timestamp")
    ) && (n.base != "numeric" || n.mods.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_agree() {
        assert_eq!(
            TypeSpec::parse("character varying(512)"),
            TypeSpec::parse("varchar(512)")
        );
        assert_eq!(
            TypeSpec::parse("timestamp(3) with time zone"),
            TypeSpec {
                base: "timestamptz".into(),
                mods: vec![3],
                array: false
            }
        );
        assert_eq!(TypeSpec::parse("numeric(10, 2)").mods, vec![10, 2]);
        assert!(TypeSpec::parse("integer[]").array);
    }

    #[test]
    fn conversions_cast_directly_or_through_text() {
        assert_eq!(conversion("c", "integer", "bigint"), "c::bigint");
        assert_eq!(conversion("c", "text", "public.state"), "c::public.state");
        assert_eq!(conversion("c", "public.state", "text"), "c::text");
        assert_eq!(
            conversion("c", "date", "public.state"),
            "c::text::public.state"
        );
        assert_eq!(conversion("c", "date", "integer"), "c::text::integer");
        assert_eq!(conversion("c", "boolean", "integer"), "c::integer");
        assert_eq!(
            conversion("c", "timestamp with time zone", "date"),
            "c::date"
        );
        assert_eq!(conversion("c", "jsonb", "integer[]"), "c::text::integer[]");
    }

    #[test]
    fn casts_that_cannot_fail_need_no_answer() {
        for (old, new) in [
            ("integer", "bigint"),
            ("smallint", "numeric"),
            ("integer", "text"),
            ("public.state", "text"),
            ("date", "timestamp with time zone"),
            ("character varying(20)", "character varying(40)"),
        ] {
            assert!(cast_cannot_fail(old, new), "{old} -> {new}");
        }
        for (old, new) in [
            ("bigint", "integer"),
            ("text", "integer"),
            ("text", "public.state"),
            ("integer", "numeric(5,2)"),
            ("character varying(40)", "character varying(20)"),
            ("json", "jsonb"),
            ("integer", "integer[]"),
            ("text", "character varying(10)"),
        ] {
            assert!(!cast_cannot_fail(old, new), "{old} -> {new}");
        }
    }

    #[test]
    fn widening_is_in_place_and_narrowing_is_not() {
        for (old, new) in [
            ("character varying(512)", "character varying(2000)"),
            ("character varying(512)", "character varying"),
            ("character varying(512)", "text"),
            ("character varying", "text"),
            ("text", "character varying"),
            ("numeric(10,2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric"),
            ("numeric(10,0)", "numeric(12)"),
            ("bit varying(8)", "bit varying(16)"),
            (
                "timestamp(3) without time zone",
                "timestamp without time zone",
            ),
            ("timestamp(0) with time zone", "timestamp(3) with time zone"),
            ("cidr", "inet"),
            ("integer", "integer"),
        ] {
            assert!(rewrite_free(old, new), "{old} -> {new}");
        }
        for (old, new) in [
            ("character varying(2000)", "character varying(512)"),
            ("text", "character varying(100)"),
            ("character varying", "character varying(10)"),
            ("numeric(12,2)", "numeric(10,2)"),
            ("numeric(10,2)", "numeric(12,3)"),
            ("numeric", "numeric(10,2)"),
            ("character(10)", "character(20)"),
            ("integer", "bigint"),
            ("timestamp without time zone", "timestamp with time zone"),
            (
                "timestamp without time zone",
                "timestamp(3) without time zone",
            ),
            ("inet", "cidr"),
            ("character varying(10)[]", "character varying(20)[]"),
        ] {
            assert!(!rewrite_free(old, new), "{old} -> {new}");
        }
    }
}
