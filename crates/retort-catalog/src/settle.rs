//! Definitions as PostgreSQL writes them after one more round trip.
//!
//! PostgreSQL's deparser is not a fixed point everywhere. The best-known case is the one almost
//! every schema has: `status varchar CHECK (status IN ('a', 'b'))`. The parser builds the list as a
//! `varchar[]` and coerces the whole array to `text[]` for the `=` operator, which the server
//! writes back as
//!
//! ```text
//! ((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))
//! ```
//!
//! Parsing that text again pushes the cast into the elements (a cast of an `ARRAY[...]`
//! constructor types its elements), and the server now writes
//!
//! ```text
//! ((status)::text = ANY (ARRAY[('a'::character varying)::text, ('b'::character varying)::text]))
//! ```
//!
//! which is stable from then on. A database built from hand-written SQL holds the first form; one
//! built from retort's generated SQL (or from a `pg_dump`) holds the second. Compared as text they
//! would differ for ever: every `check` would report drift and every autogenerate would drop and
//! re-add the constraint. So every definition retort reads is brought to the second form here,
//! on both sides, before anything compares it; the SQL retort writes then holds the second form
//! too, which is what the server keeps anyway.
//!
//! The rewrite is textual but token-aware: string literals, quoted identifiers and dollar-quoted
//! bodies (a PL/pgSQL function's source) are never touched.

use std::borrow::Cow;

/// `def` with every `(ARRAY[e1, ..., en])::T[]` written as `ARRAY[(e1)::T, ..., (en)::T]`, the
/// form PostgreSQL's parser makes of it. Text without that shape comes back borrowed.
pub fn settle(def: &str) -> Cow<'_, str> {
    if !def.contains("ARRAY[") {
        return Cow::Borrowed(def);
    }
    let mut out = String::with_capacity(def.len() + 32);
    let mut copied = 0;
    let mut changed = false;
    let b = def.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if let Some(end) = opaque_end(b, i) {
            i = end;
            continue;
        }
        let at = if b[i] == b'(' && b[i + 1..].starts_with(b"ARRAY[") {
            Some(false)
        } else if b[i..].starts_with(b"ARRAY[") {
            Some(true)
        } else {
            None
        };
        if let Some(pretty) = at.filter(|_| !ident_before(b, i)) {
            if let Some((rewritten, end)) = coerced_array(def, i, pretty) {
                out.push_str(&def[copied..i]);
                out.push_str(&rewritten);
                copied = end;
                i = end;
                changed = true;
                continue;
            }
        }
        i += 1;
    }
    if !changed {
        return Cow::Borrowed(def);
    }
    out.push_str(&def[copied..]);
    Cow::Owned(out)
}

/// `settle` for an optional definition, in place.
pub(crate) fn settle_in_place(def: &mut String) {
    if let Cow::Owned(s) = settle(def) {
        *def = s;
    }
}

/// Whether the byte before `i` continues an identifier (`f(ARRAY[...])` is a call, not a cast
/// subject; only a parenthesis opened for the cast itself counts).
fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'"')
}

/// If a string literal, quoted identifier or dollar-quoted string starts at `i`, the index just
/// past its end.
fn opaque_end(b: &[u8], i: usize) -> Option<usize> {
    match b[i] {
        b'\'' => {
            // E'...' strings take backslash escapes; the deparser writes them only when
            // standard_conforming_strings is off, but a body may hold one.
            let escapes = i > 0
                && matches!(b[i - 1], b'E' | b'e')
                && !(i > 1 && (b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'));
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'\\' if escapes => j += 2,
                    b'\'' if b.get(j + 1) == Some(&b'\'') => j += 2,
                    b'\'' => return Some(j + 1),
                    _ => j += 1,
                }
            }
            Some(b.len())
        }
        b'"' => {
            let mut j = i + 1;
            while j < b.len() {
                if b[j] == b'"' {
                    if b.get(j + 1) == Some(&b'"') {
                        j += 2;
                        continue;
                    }
                    return Some(j + 1);
                }
                j += 1;
            }
            Some(b.len())
        }
        b'$' => {
            // $tag$ ... $tag$, where the tag is empty or an identifier not starting with a
            // digit ($1 is a parameter).
            if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
                return None;
            }
            let mut j = i + 1;
            if j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'_' || b[j] >= 0x80) {
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
            }
            if b.get(j) != Some(&b'$') {
                return None;
            }
            let tag = &b[i..=j];
            let body = j + 1;
            let close = b[body..]
                .windows(tag.len())
                .position(|w| w == tag)
                .map_or(b.len(), |p| body + p + tag.len());
            Some(close)
        }
        _ => None,
    }
}

/// At `start`, `(ARRAY[e1, ..., en])::T[]`: the rewritten text and the index past `[]`.
///
/// `pretty`: the form pretty-printing writes (extended statistics' expressions), without the
/// parentheses: `ARRAY['a'::character varying]::text[]` becomes
/// `ARRAY['a'::character varying::text]`. Pretty-printing adds parentheses around an element
/// only where precedence needs them, so only literals (`'a'::type`) are rewritten there.
fn coerced_array(def: &str, start: usize, pretty: bool) -> Option<(String, usize)> {
    let b = def.as_bytes();
    let open = start
        + if pretty {
            "ARRAY".len()
        } else {
            "(ARRAY".len()
        }; // the '['
    let (elements, close) = split_top_level(def, open + 1, b']')?;
    let type_start = if pretty {
        // `]::`
        if !b[close + 1..].starts_with(b"::") {
            return None;
        }
        close + 3
    } else {
        // `])::`
        if b.get(close + 1) != Some(&b')') || !b[close + 2..].starts_with(b"::") {
            return None;
        }
        close + 4
    };
    if pretty && !elements.iter().all(|e| typed_literal(e)) {
        return None;
    }
    let type_end = array_type_end(b, type_start)?;
    let element_type = &def[type_start..type_end];
    // A nested ARRAY[ARRAY[...]] is coerced level by level; leave it as the server wrote it.
    if elements.is_empty() || elements.iter().any(|e| e.starts_with("ARRAY[")) {
        return None;
    }
    let mut out = String::with_capacity(type_end - start + elements.len() * element_type.len());
    out.push_str("ARRAY[");
    for (k, e) in elements.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        if pretty {
            out.push_str(e);
            out.push_str("::");
        } else {
            out.push('(');
            out.push_str(e);
            out.push_str(")::");
        }
        out.push_str(element_type);
    }
    out.push(']');
    Some((out, type_end + 2))
}

/// `'...'::type`: a string literal with its type and nothing else.
fn typed_literal(e: &str) -> bool {
    let b = e.as_bytes();
    if b.first() != Some(&b'\'') {
        return false;
    }
    let Some(end) = opaque_end(b, 0) else {
        return false;
    };
    b[end..].starts_with(b"::")
        && array_type_end(b, end + 2).is_none()
        && b[end + 2..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"_. ()\",".contains(&c) || c >= 0x80)
}

/// Splits `def[from..]` at commas outside parentheses, brackets and literals, up to the
/// unmatched `closer`: the trimmed pieces and the closer's index.
fn split_top_level(def: &str, from: usize, closer: u8) -> Option<(Vec<&str>, usize)> {
    let b = def.as_bytes();
    let mut depth = 0usize;
    let mut pieces = Vec::new();
    let mut piece = from;
    let mut i = from;
    while i < b.len() {
        if let Some(end) = opaque_end(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' if depth > 0 => depth -= 1,
            c if c == closer => {
                pieces.push(def[piece..i].trim());
                return Some((pieces, i));
            }
            b')' | b']' => return None,
            b',' if depth == 0 => {
                pieces.push(def[piece..i].trim());
                piece = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The end of a type name written by `format_type` followed by `[]`, starting at `i`: the index
/// of the `[`. Type names hold identifiers, quoted identifiers, dots, spaces and a parenthesised
/// modifier; anything else means this is not a cast to an array type.
fn array_type_end(b: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => i = opaque_end(b, i)?,
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            b'[' if depth == 0 => {
                return (i > start && b.get(i + 1) == Some(&b']')).then_some(i);
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c >= 0x80 => i += 1,
            b' ' if i > start => i += 1,
            b',' if depth > 0 => i += 1,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::settle;

    #[test]
    fn varchar_in_list_takes_the_reparsed_form() {
        assert_eq!(
            settle("CHECK (((s)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))"),
            "CHECK (((s)::text = ANY (ARRAY[('a'::character varying)::text, ('b'::character varying)::text])))"
        );
    }

    #[test]
    fn stable_text_is_borrowed() {
        for s in [
            "CHECK (((s)::text = ANY (ARRAY[('a'::character varying)::text])))",
            "CHECK ((n = ANY (ARRAY[1.5, (2)::numeric])))",
            "(ARRAY['a'::character varying, 'b'::character varying])::text",
            "f(ARRAY['x'])",
            "'(ARRAY[''a''])::text[]'::text",
            "AS $function$ SELECT (ARRAY['a'::varchar])::text[] $function$",
        ] {
            assert!(
                matches!(settle(s), std::borrow::Cow::Borrowed(_)),
                "changed: {s}"
            );
        }
    }

    #[test]
    fn pretty_printed_literals() {
        assert_eq!(
            settle("CREATE STATISTICS s ON kind, (status::text = ANY (ARRAY['new'::character varying, 'paid'::character varying]::text[])) FROM t"),
            "CREATE STATISTICS s ON kind, (status::text = ANY (ARRAY['new'::character varying::text, 'paid'::character varying::text])) FROM t"
        );
        // An element that is not a literal may need parentheses the text does not show.
        let s = "(x = ANY (ARRAY[a || b, 'c'::character varying]::text[]))";
        assert_eq!(settle(s), s);
    }

    #[test]
    fn elements_with_commas_types_with_modifiers_and_quotes() {
        assert_eq!(
            settle("x = ANY ((ARRAY[lower('a,b'::text), ('c'::character varying)::text, NULL::character varying])::public.\"My T\"(3,1)[])"),
            "x = ANY (ARRAY[(lower('a,b'::text))::public.\"My T\"(3,1), (('c'::character varying)::text)::public.\"My T\"(3,1), (NULL::character varying)::public.\"My T\"(3,1)])"
        );
        assert_eq!(
            settle("a <> ALL ((ARRAY['x'::character varying])::text[]) AND b = ANY ((ARRAY['y'::character varying])::text[])"),
            "a <> ALL (ARRAY[('x'::character varying)::text]) AND b = ANY (ARRAY[('y'::character varying)::text])"
        );
    }
}
