//! Expressions written on the client from their stored node trees (`pg_node_tree`: CHECK
//! constraints' `conbin`, partial indexes' `indpred`), as `pg_get_constraintdef` and
//! `pg_get_indexdef` would write them.
//!
//! The server's deparser opens the table of every expression it writes, which builds a
//! relation cache entry for each one: at 5,000 tables that was ~110 ms of the ~140 ms the
//! constraints and partial indexes cost per side. Only a small set of node kinds is written
//! here, each exactly as `ruleutils.c` writes it (no pretty-printing): columns, constants of a
//! few types, binary operators of `pg_catalog` whose argument types match exactly, casts,
//! AND/OR/NOT and IS [NOT] NULL. Anything else (a function call, a numeric constant, an
//! operator found by coercion, a collation) returns None and the server writes it. Debug
//! builds compare every expression written here with the server's.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use retort_pg::quote_ident;

/// A parsed node: its tag (`OPEXPR`) and fields in order, borrowed from the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node<'t> {
    tag: &'t str,
    fields: Vec<(&'t str, Value<'t>)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Value<'t> {
    Node(Node<'t>),
    List(Vec<Value<'t>>),
    Token(&'t str),
    /// A datum's bytes (`4 [ 0 0 0 0 0 0 0 0 ]`).
    Datum(Vec<u8>),
    /// `<>`: a null pointer.
    Null,
}

impl<'t> Node<'t> {
    fn get(&self, field: &str) -> Option<&Value<'t>> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v)
    }

    fn token(&self, field: &str) -> Option<&'t str> {
        match self.get(field)? {
            Value::Token(t) => Some(t),
            _ => None,
        }
    }

    fn int(&self, field: &str) -> Option<i64> {
        self.token(field)?.parse().ok()
    }

    fn oid(&self, field: &str) -> Option<u32> {
        self.token(field)?.parse().ok()
    }

    fn flag(&self, field: &str) -> Option<bool> {
        match self.token(field)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    fn args(&self) -> Option<Vec<&Node<'t>>> {
        match self.get("args")? {
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::Node(n) => Some(n),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }

    fn arg(&self) -> Option<&Node<'t>> {
        match self.get("arg")? {
            Value::Node(n) => Some(n),
            _ => None,
        }
    }
}

/// Parses the text form of a node tree (`nodeToString`); None when it is not well formed or
/// holds an escaped character (none of the nodes written here has one).
pub(crate) fn parse(text: &str) -> Option<Node<'_>> {
    let mut p = Parser { s: text, at: 0 };
    let node = match p.value()? {
        Value::Node(n) => n,
        _ => return None,
    };
    p.skip_ws();
    (p.at == p.s.len()).then_some(node)
}

struct Parser<'t> {
    s: &'t str,
    at: usize,
}

impl<'t> Parser<'t> {
    fn skip_ws(&mut self) {
        let b = self.s.as_bytes();
        while self.at < b.len() && b[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.as_bytes().get(self.at).copied()
    }

    /// A bare token; ends at white space or a bracket.
    fn token(&mut self) -> Option<&'t str> {
        self.skip_ws();
        let b = self.s.as_bytes();
        let start = self.at;
        while let Some(&c) = b.get(self.at) {
            match c {
                b'\\' => return None,
                b'{' | b'}' | b'(' | b')' | b'[' | b']' => break,
                c if c.is_ascii_whitespace() => break,
                _ => self.at += 1,
            }
        }
        // Only ASCII bytes end a token, so this is a character boundary.
        self.s.get(start..self.at)
    }

    fn value(&mut self) -> Option<Value<'t>> {
        match self.peek()? {
            b'{' => {
                self.at += 1;
                let tag = self.token()?;
                let mut fields = Vec::new();
                loop {
                    match self.peek()? {
                        b'}' => {
                            self.at += 1;
                            return Some(Value::Node(Node { tag, fields }));
                        }
                        b':' => {
                            self.at += 1;
                            let name = self.token()?;
                            let value = self.value()?;
                            fields.push((name, value));
                        }
                        _ => return None,
                    }
                }
            }
            b'(' => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek()? == b')' {
                        self.at += 1;
                        return Some(Value::List(items));
                    }
                    items.push(self.value()?);
                }
            }
            b'}' | b')' | b'[' | b']' => None,
            _ => {
                let t = self.token()?;
                if t.is_empty() {
                    return None;
                }
                if t == "<>" {
                    return Some(Value::Null);
                }
                // A datum: its length, then its bytes in brackets.
                if self.peek() == Some(b'[') {
                    self.at += 1;
                    let len: usize = t.parse().ok()?;
                    let mut bytes = Vec::new();
                    loop {
                        if self.peek()? == b']' {
                            self.at += 1;
                            break;
                        }
                        let b: i16 = self.token()?.parse().ok()?;
                        bytes.push(b as u8);
                    }
                    // By-value datums print all 8 bytes of the Datum; by-reference ones
                    // exactly `len`.
                    if bytes.len() < len {
                        return None;
                    }
                    return Some(Value::Datum(bytes));
                }
                Some(Value::Token(t))
            }
        }
    }
}

pub(crate) type OidSet = HashSet<u32>;

/// The catalog facts expressions need, found by [`Needs::collect`] and read in one query each.
#[derive(Default)]
pub(crate) struct Needs {
    pub(crate) operators: OidSet,
    pub(crate) types: OidSet,
    pub(crate) enum_values: OidSet,
}

impl Needs {
    /// Adds what the node tree in `text` refers to, scanning its tokens (no tree is built:
    /// thousands of parsed trees held at once cost tens of megabytes).
    pub(crate) fn scan(&mut self, text: &str) {
        let mut tokens = text
            .split(|c: char| c.is_ascii_whitespace() || matches!(c, '{' | '}' | '(' | ')'))
            .filter(|t| !t.is_empty())
            .peekable();
        while let Some(t) = tokens.next() {
            let set = match t {
                ":opno" => &mut self.operators,
                ":vartype" | ":consttype" | ":funcresulttype" | ":resulttype" | ":opresulttype" => {
                    &mut self.types
                }
                // An enum constant's value is the oid of its label: its first 4 bytes.
                ":constvalue" => {
                    // `4 [ b0 b1 ... ]`, or `<>` for NULL.
                    if tokens.next_if(|t| t.parse::<u32>().is_ok()).is_none()
                        || tokens.next_if_eq(&"[").is_none()
                    {
                        continue;
                    }
                    let mut le = [0u8; 4];
                    for b in &mut le {
                        match tokens.next_if(|t| t.parse::<i16>().is_ok()) {
                            Some(x) => *b = x.parse::<i16>().unwrap_or(0) as u8,
                            None => break,
                        }
                    }
                    self.enum_values.insert(u32::from_le_bytes(le));
                    continue;
                }
                _ => continue,
            };
            set.extend(tokens.next().and_then(|o| o.parse::<u32>().ok()));
        }
    }
}

/// A binary operator: name, left and right argument types, and whether it is in pg_catalog.
pub(crate) struct Operator {
    pub(crate) name: String,
    pub(crate) left: u32,
    pub(crate) right: u32,
    pub(crate) in_catalog: bool,
}

/// A type: `format_type(oid, -1)`, typtype and typcollation.
pub(crate) struct TypeInfo {
    pub(crate) name: String,
    pub(crate) kind: char,
    pub(crate) collation: u32,
}

/// What the writer looks up.
#[derive(Default)]
pub(crate) struct Facts {
    pub(crate) operators: HashMap<u32, Operator>,
    pub(crate) types: HashMap<u32, TypeInfo>,
    pub(crate) enum_labels: HashMap<u32, String>,
    /// Whether string constants double backslashes (standard_conforming_strings off).
    pub(crate) escape_backslash: bool,
    /// Whether the server encoding is UTF-8 (the bytes of string constants are in it).
    pub(crate) utf8: bool,
}

const BOOL: u32 = 16;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const BPCHAR: u32 = 1042;
const VARCHAR: u32 = 1043;
const ANYENUM: u32 = 3500;

/// Writes `node` as ruleutils.c does without pretty-printing, its columns named by `column`
/// (attnum to name); None when it holds anything not written here.
pub(crate) fn write<'c>(
    node: &Node,
    facts: &Facts,
    column: &dyn Fn(i16) -> Option<&'c str>,
) -> Option<String> {
    let w = Writer { facts, column };
    let mut out = String::new();
    w.expr(node, false, &mut out)?;
    Some(out)
}

struct Writer<'a, 'c> {
    facts: &'a Facts,
    column: &'a dyn Fn(i16) -> Option<&'c str>,
}

impl Writer<'_, '_> {
    /// The type an expression yields (exprType).
    fn type_of(&self, node: &Node) -> Option<u32> {
        match node.tag {
            "VAR" => node.oid("vartype"),
            "CONST" => node.oid("consttype"),
            "OPEXPR" => node.oid("opresulttype"),
            "FUNCEXPR" => node.oid("funcresulttype"),
            "RELABELTYPE" => node.oid("resulttype"),
            "BOOLEXPR" | "NULLTEST" => Some(BOOL),
            _ => None,
        }
    }

    /// format_type_with_typemod(oid, typmod), for typmod -1 only.
    fn type_name(&self, oid: u32, typmod: i64) -> Option<&str> {
        if typmod != -1 {
            return None;
        }
        self.facts.types.get(&oid).map(|t| t.name.as_str())
    }

    fn expr(&self, node: &Node, show_implicit: bool, out: &mut String) -> Option<()> {
        match node.tag {
            "VAR" => {
                if node.int("varno")? != 1 || node.int("varlevelsup")? != 0 {
                    return None;
                }
                let attnum = i16::try_from(node.int("varattno")?).ok()?;
                if attnum <= 0 {
                    return None;
                }
                out.push_str(&quote_ident((self.column)(attnum)?));
            }
            "CONST" => self.constant(node, 0, out)?,
            "OPEXPR" => {
                let args = node.args()?;
                let [left, right] = args.as_slice() else {
                    return None;
                };
                let op = self.facts.operators.get(&node.oid("opno")?)?;
                // Unqualified only when the lookup by name and argument types finds exactly
                // this operator: one of pg_catalog's, with the argument types it declares, or
                // one of its `anyenum` operators between two values of one enum (no other
                // operator takes an enum).
                let (lt, rt) = (self.type_of(left)?, self.type_of(right)?);
                let exact = lt == op.left && rt == op.right;
                let enums = op.left == ANYENUM
                    && op.right == ANYENUM
                    && lt == rt
                    && self.facts.types.get(&lt)?.kind == 'e';
                if !op.in_catalog || !(exact || enums) {
                    return None;
                }
                out.push('(');
                self.expr(left, true, out)?;
                out.push(' ');
                out.push_str(&op.name);
                out.push(' ');
                self.expr(right, true, out)?;
                out.push(')');
            }
            "FUNCEXPR" => {
                // Only casts: 1 explicit, 2 implicit (calls, 0, and SQL syntax, 3, are not
                // written here).
                let format = node.int("funcformat")?;
                let args = node.args()?;
                let [arg] = args.as_slice() else {
                    // A length coercion (typmod as second argument).
                    return None;
                };
                match format {
                    2 if !show_implicit => self.expr(arg, false, out)?,
                    1 | 2 => self.coercion(arg, node.oid("funcresulttype")?, -1, out)?,
                    _ => return None,
                }
            }
            "RELABELTYPE" => {
                let arg = node.arg()?;
                if node.int("relabelformat")? == 2 && !show_implicit {
                    self.expr(arg, false, out)?;
                } else {
                    self.coercion(arg, node.oid("resulttype")?, node.int("resulttypmod")?, out)?;
                }
            }
            "BOOLEXPR" => {
                let args = node.args()?;
                let op = match node.token("boolop")? {
                    "and" => " AND ",
                    "or" => " OR ",
                    "not" => {
                        let [arg] = args.as_slice() else {
                            return None;
                        };
                        out.push_str("(NOT ");
                        self.expr(arg, false, out)?;
                        out.push(')');
                        return Some(());
                    }
                    _ => return None,
                };
                if args.len() < 2 {
                    return None;
                }
                out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(op);
                    }
                    self.expr(a, false, out)?;
                }
                out.push(')');
            }
            "NULLTEST" => {
                let arg = node.arg()?;
                // A row-typed argument is written IS [NOT] DISTINCT FROM NULL: only plain
                // scalar types here.
                let kind = self.facts.types.get(&self.type_of(arg)?)?.kind;
                if node.flag("argisrow")? || !matches!(kind, 'b' | 'e' | 'r' | 'm') {
                    return None;
                }
                out.push('(');
                self.expr(arg, true, out)?;
                out.push_str(match node.int("nulltesttype")? {
                    0 => " IS NULL",
                    1 => " IS NOT NULL",
                    _ => return None,
                });
                out.push(')');
            }
            _ => return None,
        }
        Some(())
    }

    /// get_coercion_expr: `arg::type`, the argument in parentheses unless it is a constant of
    /// that very type.
    fn coercion(&self, arg: &Node, to: u32, typmod: i64, out: &mut String) -> Option<()> {
        let name = self.type_name(to, typmod)?;
        if arg.tag == "CONST" && arg.oid("consttype")? == to && arg.int("consttypmod")? == -1 {
            self.constant(arg, -1, out)?;
        } else {
            out.push('(');
            self.expr(arg, false, out)?;
            out.push(')');
        }
        out.push_str("::");
        out.push_str(name);
        Some(())
    }

    /// get_const_expr; `show_type` -1 leaves the type off (the caller writes a cast).
    fn constant(&self, node: &Node, show_type: i8, out: &mut String) -> Option<()> {
        let typ = node.oid("consttype")?;
        let typmod = node.int("consttypmod")?;
        let info = self.facts.types.get(&typ)?;
        // A collation other than the type's own is written COLLATE: not here.
        let collation = node.oid("constcollid")?;
        if collation != 0 && collation != info.collation {
            return None;
        }
        let bytes = match node.get("constvalue")? {
            Value::Null => {
                out.push_str("NULL");
                if show_type >= 0 {
                    out.push_str("::");
                    out.push_str(self.type_name(typ, typmod)?);
                }
                return Some(());
            }
            Value::Datum(d) => d,
            _ => return None,
        };
        let le4 = || -> Option<[u8; 4]> { bytes.get(..4)?.try_into().ok() };
        let mut label = true;
        match typ {
            INT4 => {
                let v = i32::from_le_bytes(le4()?);
                if v >= 0 {
                    out.push_str(&v.to_string());
                    label = false;
                } else {
                    out.push_str(&format!("'{v}'"));
                }
            }
            INT2 => {
                let v = i16::from_le_bytes(bytes.get(..2)?.try_into().ok()?);
                out.push_str(&format!("'{v}'"));
            }
            INT8 => {
                let v = i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
                out.push_str(&format!("'{v}'"));
            }
            BOOL => {
                out.push_str(if *bytes.first()? != 0 {
                    "true"
                } else {
                    "false"
                });
                label = false;
            }
            TEXT | VARCHAR | BPCHAR if self.facts.utf8 => {
                let text = varlena_text(bytes)?;
                self.literal(text, out);
            }
            _ if info.kind == 'e' => {
                let label = self.facts.enum_labels.get(&u32::from_le_bytes(le4()?))?;
                self.literal(label, out);
            }
            _ => return None,
        }
        if show_type < 0 {
            return Some(());
        }
        if label {
            out.push_str("::");
            out.push_str(self.type_name(typ, typmod)?);
        }
        Some(())
    }

    /// simple_quote_literal.
    fn literal(&self, text: &str, out: &mut String) {
        out.push('\'');
        for c in text.chars() {
            if c == '\'' || (c == '\\' && self.facts.escape_backslash) {
                out.push(c);
            }
            out.push(c);
        }
        out.push('\'');
    }
}

/// The text of a varlena datum as the parser builds it (4-byte or 1-byte header, not
/// compressed or external); None for anything else or text that is not UTF-8.
fn varlena_text(bytes: &[u8]) -> Option<&str> {
    let first = *bytes.first()?;
    let data = if first & 0x01 == 0x01 {
        // 1-byte header (0x01 alone marks an external datum).
        let len = usize::from(first >> 1);
        if first == 0x01 || len < 1 {
            return None;
        }
        bytes.get(1..len)?
    } else if first & 0x03 == 0x00 {
        let header = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
        let len = usize::try_from(header >> 2).ok()?;
        bytes.get(4..len)?
    } else {
        // Compressed.
        return None;
    };
    let text = std::str::from_utf8(data).ok()?;
    (!text.contains('\0')).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let mut f = Facts {
            utf8: true,
            ..Facts::default()
        };
        for (oid, name, left, right) in [
            (1757, ">=", 1700, 1700),
            (96, "=", 23, 23),
            (521, ">", 23, 23),
            (98, "=", 25, 25),
        ] {
            f.operators.insert(
                oid,
                Operator {
                    name: name.into(),
                    left,
                    right,
                    in_catalog: true,
                },
            );
        }
        for (oid, name, kind, coll) in [
            (16, "boolean", 'b', 0),
            (23, "integer", 'b', 0),
            (25, "text", 'b', 100),
            (1043, "character varying", 'b', 100),
            (1700, "numeric", 'b', 0),
        ] {
            f.types.insert(
                oid,
                TypeInfo {
                    name: name.into(),
                    kind,
                    collation: coll,
                },
            );
        }
        f
    }

    fn col(n: i16) -> Option<&'static str> {
        ["id", "amount", "Note"].get(n as usize - 1).copied()
    }

    #[test]
    fn writes_a_check_with_an_implicit_cast_shown_under_an_operator() {
        let tree = "{OPEXPR :opno 1757 :opfuncid 1721 :opresulttype 16 :opretset false :opcollid 0 \
            :inputcollid 0 :args ({VAR :varno 1 :varattno 2 :vartype 1700 :vartypmod 786438 :varcollid 0 \
            :varlevelsup 0 :varnosyn 1 :varattnosyn 2 :location 255} {FUNCEXPR :funcid 1740 \
            :funcresulttype 1700 :funcretset false :funcvariadic false :funcformat 2 :funccollid 0 \
            :inputcollid 0 :args ({CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 \
            :constbyval true :constisnull false :location 265 :constvalue 4 [ 0 0 0 0 0 0 0 0 ]}) \
            :location -1}) :location 262}";
        let node = parse(tree).expect("parses");
        assert_eq!(
            write(&node, &facts(), &col).as_deref(),
            Some("(amount >= (0)::numeric)")
        );
    }

    #[test]
    fn writes_text_negative_and_boolean_constants() {
        let text = "{OPEXPR :opno 98 :opresulttype 16 :args ({VAR :varno 1 :varattno 3 :vartype 25 \
            :varlevelsup 0} {CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 \
            :constbyval false :constisnull false :location 1 :constvalue 10 [ 40 0 0 0 105 39 115 -61 -87 \
            92 ]}) :location 1}";
        let node = parse(text).expect("parses");
        assert_eq!(
            write(&node, &facts(), &col).as_deref(),
            Some("(\"Note\" = 'i''sé\\'::text)")
        );
        let neg = "{BOOLEXPR :boolop or :args ({OPEXPR :opno 521 :opresulttype 16 :args ({VAR \
            :varno 1 :varattno 1 :vartype 23 :varlevelsup 0} {CONST :consttype 23 :consttypmod -1 \
            :constcollid 0 :constlen 4 :constbyval true :constisnull false :constvalue 4 [ -5 -1 -1 -1 \
            0 0 0 0 ]})} {NULLTEST :arg {VAR :varno 1 :varattno 1 :vartype 23 :varlevelsup 0} \
            :nulltesttype 0 :argisrow false :location 3}) :location 0}";
        let node = parse(neg).expect("parses");
        assert_eq!(
            write(&node, &facts(), &col).as_deref(),
            Some("((id > '-5'::integer) OR (id IS NULL))")
        );
    }

    #[test]
    fn scans_what_a_tree_refers_to() {
        let mut needs = Needs::default();
        needs.scan(
            "{OPEXPR :opno 3517 :opresulttype 16 :args ({CONST :consttype 16387 :constvalue <>} \
             {OPEXPR :opno 96 :args ({VAR :vartype 23} {CONST :consttype 16387 :constvalue 4 \
             [ 8 64 0 0 0 0 0 0 ]})})}",
        );
        let sorted = |s: &OidSet| {
            let mut v: Vec<u32> = s.iter().copied().collect();
            v.sort();
            v
        };
        assert_eq!(sorted(&needs.operators), [96, 3517]);
        assert_eq!(sorted(&needs.types), [16, 23, 16387]);
        assert_eq!(sorted(&needs.enum_values), [16392]);
    }

    #[test]
    fn leaves_what_it_does_not_know_to_the_server() {
        let f = facts();
        // A function call.
        let call = parse(
            "{FUNCEXPR :funcid 870 :funcresulttype 25 :funcformat 0 :args ({VAR :varno 1 \
             :varattno 3 :vartype 25 :varlevelsup 0})}",
        )
        .unwrap();
        assert_eq!(write(&call, &f, &col), None);
        // An operator whose argument types differ from the declared ones (found by coercion).
        let coerced = parse(
            "{OPEXPR :opno 96 :opresulttype 16 :args ({VAR :varno 1 :varattno 2 :vartype 1700 \
             :varlevelsup 0} {VAR :varno 1 :varattno 1 :vartype 23 :varlevelsup 0})}",
        )
        .unwrap();
        assert_eq!(write(&coerced, &f, &col), None);
        // A text constant with a collation of its own.
        let collated = parse(
            "{OPEXPR :opno 98 :opresulttype 16 :args ({VAR :varno 1 :varattno 3 :vartype 25 \
             :varlevelsup 0} {CONST :consttype 25 :consttypmod -1 :constcollid 950 :constlen -1 \
             :constbyval false :constisnull false :constvalue 5 [ 20 0 0 0 120 ]})}",
        )
        .unwrap();
        assert_eq!(write(&collated, &f, &col), None);
        // Malformed text.
        assert!(parse("{OPEXPR :args (").is_none());
        assert!(parse("{OPEXPR} trailing").is_none());
    }
}
