//! Identifier and literal quoting that matches PostgreSQL's own `quote_ident` and `quote_literal`.
//!
//! Generated SQL must never paste a user's string into a statement. Identifiers go through
//! [`quote_ident`]; values should be bind parameters, and where a literal cannot be avoided
//! (DDL has no parameters) [`quote_literal`] renders it the way the server would.

/// Keywords that PostgreSQL's `quote_ident` quotes: every keyword whose category is not
/// "unreserved" (`SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'`, PostgreSQL 15).
/// Quoting a word that a later server no longer reserves is harmless; missing one is not.
const NON_UNRESERVED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes `ident` as an SQL identifier exactly like the server's `quote_ident()`: left bare when it
/// is lowercase ASCII letters, digits and underscores, starts with a letter or underscore and is not
/// a reserved word; otherwise wrapped in double quotes with embedded quotes doubled.
///
/// ```
/// use retort_pg::quote_ident;
/// assert_eq!(quote_ident("users"), "users");
/// assert_eq!(quote_ident("User"), "\"User\"");
/// assert_eq!(quote_ident("select"), "\"select\"");
/// assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
/// ```
pub fn quote_ident(ident: &str) -> String {
    if is_safe_ident(ident) {
        return ident.to_owned();
    }
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for ch in ident.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// Quotes a possibly schema-qualified name: `qualified("app", "Users")` is `app."Users"`.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

fn is_safe_ident(ident: &str) -> bool {
    let bytes = ident.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !(first.is_ascii_lowercase() || first == b'_') {
        return false;
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
    {
        return false;
    }
    NON_UNRESERVED_KEYWORDS.binary_search(&ident).is_err()
}

/// Quotes `value` as an SQL string literal exactly like the server's `quote_literal()`: single
/// quotes doubled, and when the value holds a backslash, an `E'...'` literal with backslashes
/// doubled (so the result means the same under any `standard_conforming_strings`).
///
/// ```
/// use retort_pg::quote_literal;
/// assert_eq!(quote_literal("it's"), "'it''s'");
/// assert_eq!(quote_literal(r"C:\dir"), r"E'C:\\dir'");
/// ```
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    if value.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for ch in value.chars() {
        if ch == '\'' || ch == '\\' {
            out.push(ch);
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_table_is_sorted_for_binary_search() {
        let mut sorted = NON_UNRESERVED_KEYWORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, NON_UNRESERVED_KEYWORDS);
    }

    #[test]
    fn plain_and_odd_identifiers() {
        assert_eq!(quote_ident("users_2"), "users_2");
        assert_eq!(quote_ident("_x"), "_x");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("2fa"), "\"2fa\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("name"), "name"); // unreserved keyword stays bare
        assert_eq!(quote_ident("héllo"), "\"héllo\"");
        assert_eq!(quote_qualified("public", "Order"), "public.\"Order\"");
    }
}
