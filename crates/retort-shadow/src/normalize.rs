//! Passwords are prepared with SASLprep (RFC 4013) before they are hashed, so the same password
//! typed on two keyboards gives the same verifier: "Ⅸ" (U+2168) and "IX" are one password, a
//! no-break space is a space, a soft hyphen is nothing. PostgreSQL's own SCRAM does the same.
//!
//! One departure from the RFC's profile for *stored* strings: code points unassigned in Unicode
//! 3.2 (which RFC 3454 pins) are allowed, as for queries, or every emoji would be refused as part
//! of a password. NFKC is applied with the Unicode version of this build; characters assigned in
//! both this and the Python client's Unicode normalise identically (Unicode's stability policy).
//! The Python client (`retort_shadow.saslprep`) implements exactly these steps.

use std::borrow::Cow;

use secrecy::{ExposeSecret, SecretString};
use stringprep::tables;
use unicode_normalization::UnicodeNormalization;

use crate::error::ShadowError;

/// How a stored verifier's password was prepared (`passwords.normalization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// SASLprep, as every verifier written by a version 2 store client is.
    SaslPrep,
    /// The raw UTF-8 bytes: version 1 verifiers and imported hashes.
    None,
}

impl Normalization {
    /// Parses the store's `normalization` column.
    pub fn parse(s: &str) -> Result<Normalization, ShadowError> {
        match s {
            "saslprep" => Ok(Normalization::SaslPrep),
            "none" => Ok(Normalization::None),
            other => Err(ShadowError::Protocol(format!(
                "unknown normalization {other:?}"
            ))),
        }
    }
}

/// Why a password cannot be prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepError {
    /// It contains a character SASLprep prohibits (a control character, a private-use or
    /// non-character code point, a surrogate, a tag, ...).
    Prohibited(char),
    /// It mixes right-to-left and left-to-right text in a way RFC 3454 section 6 forbids.
    Bidi,
    /// Nothing is left after mapping (only soft hyphens, zero-width joiners, ...).
    Empty,
}

impl std::fmt::Display for PrepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrepError::Prohibited(c) => write!(
                f,
                "it contains U+{:04X}, which SASLprep (RFC 4013) does not allow in a password",
                *c as u32
            ),
            PrepError::Bidi => f.write_str(
                "it mixes right-to-left and left-to-right characters in a way SASLprep (RFC 4013) does not allow",
            ),
            PrepError::Empty => f.write_str(
                "nothing is left of it after Unicode normalisation (SASLprep, RFC 4013 maps its characters to nothing)",
            ),
        }
    }
}

/// SASLprep (RFC 4013) with unassigned code points allowed. ASCII without control characters
/// comes back as it is.
pub fn saslprep(s: &str) -> Result<Cow<'_, str>, PrepError> {
    if s.chars()
        .all(|c| c.is_ascii() && !tables::ascii_control_character(c))
    {
        return if s.is_empty() {
            Err(PrepError::Empty)
        } else {
            Ok(Cow::Borrowed(s))
        };
    }
    let mapped = s
        .chars()
        .filter(|&c| !tables::commonly_mapped_to_nothing(c))
        .map(|c| {
            if tables::non_ascii_space_character(c) {
                ' '
            } else {
                c
            }
        });
    let normalized: String = mapped.nfkc().collect();
    if normalized.is_empty() {
        return Err(PrepError::Empty);
    }
    if let Some(c) = normalized.chars().find(|&c| {
        tables::non_ascii_space_character(c)
            || tables::ascii_control_character(c)
            || tables::non_ascii_control_character(c)
            || tables::private_use(c)
            || tables::non_character_code_point(c)
            || tables::surrogate_code(c)
            || tables::inappropriate_for_plain_text(c)
            || tables::inappropriate_for_canonical_representation(c)
            || tables::change_display_properties_or_deprecated(c)
            || tables::tagging_character(c)
    }) {
        return Err(PrepError::Prohibited(c));
    }
    if normalized.contains(tables::bidi_r_or_al) {
        let first = normalized.chars().next().is_some_and(tables::bidi_r_or_al);
        let last = normalized
            .chars()
            .next_back()
            .is_some_and(tables::bidi_r_or_al);
        if normalized.contains(tables::bidi_l) || !first || !last {
            return Err(PrepError::Bidi);
        }
    }
    Ok(Cow::Owned(normalized))
}

/// The password to hash for a new verifier: SASLprep'd, or a clear error.
pub(crate) fn for_new_verifier(password: &SecretString) -> Result<SecretString, ShadowError> {
    match saslprep(password.expose_secret()) {
        Ok(p) => Ok(SecretString::from(p.into_owned())),
        Err(e) => Err(ShadowError::Unnormalizable(e)),
    }
}

/// The password to check against a stored verifier prepared with `n`. A password SASLprep
/// refuses cannot have been set, so it is checked as typed (and fails, and counts), as
/// PostgreSQL's own SCRAM does.
pub(crate) fn for_check(password: &SecretString, n: Normalization) -> SecretString {
    match n {
        Normalization::None => password.clone(),
        Normalization::SaslPrep => match saslprep(password.expose_secret()) {
            Ok(p) => SecretString::from(p.into_owned()),
            Err(_) => password.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4013_examples_and_ours() {
        // RFC 4013 section 3.
        assert_eq!(saslprep("I\u{00AD}X").unwrap(), "IX");
        assert_eq!(saslprep("user").unwrap(), "user");
        assert_eq!(saslprep("USER").unwrap(), "USER");
        assert_eq!(saslprep("\u{00AA}").unwrap(), "a");
        assert_eq!(saslprep("\u{2168}").unwrap(), "IX");
        assert_eq!(saslprep("\u{0007}"), Err(PrepError::Prohibited('\u{7}')));
        assert_eq!(saslprep("\u{0627}\u{0031}"), Err(PrepError::Bidi));
        // No-break and ideographic spaces are spaces; NFKC composes.
        assert_eq!(saslprep("a\u{00A0}b\u{3000}c").unwrap(), "a b c");
        assert_eq!(saslprep("e\u{0301}").unwrap(), "\u{00E9}");
        // Emoji (unassigned in Unicode 3.2) are allowed.
        assert_eq!(saslprep("crab 🦀").unwrap(), "crab 🦀");
        // Only things mapped to nothing: nothing left.
        assert_eq!(saslprep("\u{00AD}\u{200B}"), Err(PrepError::Empty));
        assert_eq!(saslprep(""), Err(PrepError::Empty));
        assert_eq!(saslprep("\u{E000}"), Err(PrepError::Prohibited('\u{E000}')));
        assert_eq!(saslprep("tab\there"), Err(PrepError::Prohibited('\t')));
        // Right-to-left text alone is fine.
        assert_eq!(saslprep("\u{05D0}\u{05D1}").unwrap(), "\u{05D0}\u{05D1}");
    }
}
