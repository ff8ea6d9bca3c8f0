//! Targets: where an upgrade, downgrade or stamp should take the database.

use crate::error::MigrateError;

/// A target as written on the command line or passed by an application.
///
/// | text | meaning |
/// |---|---|
/// | `heads` | every head of the graph |
/// | `head` | the single head (error if there are several) |
/// | `base` | nothing applied |
/// | `3f2a9c1b7e4d`, `3f2a`, `auth` | a revision, a unique prefix (≥ 4 characters) or a branch label |
/// | `+2`, `-1` | two more steps up, one step down, each step unambiguous |
/// | `3f2a+1`, `auth-2` | relative to a revision or label, along its unique child/parent |
/// | `auth@head`, `3f2a@base` | the head reached from a label or revision; that revision and everything after it removed (downgrade) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// All heads.
    Heads,
    /// The one head.
    Head,
    /// Nothing applied.
    Base,
    /// A revision id, a unique prefix of one, or a branch label; possibly followed by `+N`/`-N`.
    Named(String),
    /// `+N` (positive) or `-N` (negative) steps from the current state.
    Relative(i64),
    /// `NAME@head`: the single head reachable from a label or revision.
    LabelHead(String),
    /// `NAME@base`: a downgrade removing that revision and everything that needs it.
    LabelBase(String),
}

impl Target {
    /// Parses the text forms in the table above.
    ///
    /// Errors: empty text, `+0`, an unknown `@` suffix.
    pub fn parse(text: &str) -> Result<Target, MigrateError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MigrateError::Target(
                "an empty target; try heads, base, -1 or a revision".into(),
            ));
        }
        match text {
            "heads" => return Ok(Target::Heads),
            "head" => return Ok(Target::Head),
            "base" => return Ok(Target::Base),
            _ => {}
        }
        if let Some(sign) = text.chars().next().filter(|c| *c == '+' || *c == '-') {
            let n: i64 = text[1..].parse().map_err(|_| {
                MigrateError::Target(format!("`{text}` is not a relative target like +2 or -1"))
            })?;
            if n == 0 {
                return Err(MigrateError::Target(format!("`{text}` moves nowhere")));
            }
            return Ok(Target::Relative(if sign == '+' { n } else { -n }));
        }
        if let Some((label, rest)) = text.split_once('@') {
            return match rest {
                "head" => Ok(Target::LabelHead(label.to_owned())),
                "base" => Ok(Target::LabelBase(label.to_owned())),
                _ => Err(MigrateError::Target(format!(
                    "`{text}`: after `@` write head or base (like {label}@head)"
                ))),
            };
        }
        Ok(Target::Named(text.to_owned()))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Heads => f.write_str("heads"),
            Target::Head => f.write_str("head"),
            Target::Base => f.write_str("base"),
            Target::Named(n) => f.write_str(n),
            Target::Relative(n) if *n > 0 => write!(f, "+{n}"),
            Target::Relative(n) => write!(f, "{n}"),
            Target::LabelHead(l) => write!(f, "{l}@head"),
            Target::LabelBase(l) => write!(f, "{l}@base"),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = MigrateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Target::parse("heads").unwrap(), Target::Heads);
        assert_eq!(Target::parse("-2").unwrap(), Target::Relative(-2));
        assert_eq!(Target::parse("+3").unwrap(), Target::Relative(3));
        assert_eq!(
            Target::parse("auth@head").unwrap(),
            Target::LabelHead("auth".into())
        );
        assert_eq!(
            Target::parse("auth@base").unwrap(),
            Target::LabelBase("auth".into())
        );
        assert_eq!(
            Target::parse("ab12+1").unwrap(),
            Target::Named("ab12+1".into())
        );
        assert!(Target::parse("+0").is_err());
        assert!(Target::parse("+x").is_err());
        assert!(Target::parse("a@tail").is_err());
        assert!(Target::parse(" ").is_err());
        for t in [
            "heads", "head", "base", "-1", "+2", "x@head", "x@base", "abcd",
        ] {
            assert_eq!(Target::parse(t).unwrap().to_string(), t);
        }
    }
}
