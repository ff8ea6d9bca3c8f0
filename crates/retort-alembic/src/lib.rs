#![warn(missing_docs)]
//! Reads an Alembic project's revision files without running them.
//!
//! Each `versions/*.py` file is parsed with a real Python parser (`rustpython-parser`); the
//! module-level `revision`, `down_revision` (a string, a tuple for merges, or None),
//! `branch_labels` and `depends_on` must be literals, and the docstring's first line is the
//! message. Nothing is imported or executed. A file Python 3 cannot parse as a whole (Python 2
//! bodies: `print "..."`, `except X, e:`, `ur''`) is read from its module-level statements
//! alone; only when those do not parse is it an error, with its file and line.
//!
//! ```no_run
//! let project = retort_alembic::read_project(std::path::Path::new("alembic"))?;
//! for r in &project.revisions {
//!     println!("{} <- {:?}: {}", r.revision, r.down_revisions, r.message);
//! }
//! # Ok::<(), retort_alembic::AlembicError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustpython_parser::{ast, Parse};
use sha2::{Digest, Sha256};

mod skeleton;

/// What can go wrong reading an Alembic project.
#[derive(Debug, thiserror::Error)]
pub enum AlembicError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A revision file is not valid Python.
    #[error("{path}:{line}: not valid Python: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A revision variable is not a literal retort can read without running the file.
    #[error("{path}:{line}: {message}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The revisions do not form a graph (missing parent, duplicate id).
    #[error("{0}")]
    Graph(String),
    /// No versions directory was found.
    #[error("no Alembic versions directory under {0} (looked for alembic.ini's script_location, versions/ and alembic/versions/)")]
    NotFound(PathBuf),
}

/// One Alembic revision file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlembicRevision {
    /// The id as Alembic wrote it.
    pub alembic_id: String,
    /// The retort revision: the same id when it is 12 lowercase hex characters (Alembic's
    /// default), else a stable id derived from it.
    pub revision: String,
    /// Parents (retort ids).
    pub down_revisions: Vec<String>,
    /// Branch labels.
    pub branch_labels: Vec<String>,
    /// depends_on, resolved to retort ids.
    pub depends_on: Vec<String>,
    /// The docstring's first line.
    pub message: String,
    /// The file.
    pub path: PathBuf,
}

/// An Alembic project's revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlembicProject {
    /// The versions directory that was read.
    pub versions_dir: PathBuf,
    /// Every revision, sorted by file name.
    pub revisions: Vec<AlembicRevision>,
    /// Files in the versions directory that were not revisions (no `revision = ...`).
    pub skipped: Vec<PathBuf>,
}

impl AlembicProject {
    /// Revisions no other revision names as its down_revision.
    pub fn heads(&self) -> Vec<&AlembicRevision> {
        self.revisions
            .iter()
            .filter(|r| {
                !self
                    .revisions
                    .iter()
                    .any(|o| o.down_revisions.contains(&r.revision))
            })
            .collect()
    }

    /// The retort id of an Alembic id (as found in `alembic_version`).
    pub fn retort_id(&self, alembic_id: &str) -> Option<&str> {
        self.revisions
            .iter()
            .find(|r| r.alembic_id == alembic_id)
            .map(|r| r.revision.as_str())
    }
}

/// The retort id for an Alembic id: itself when it is 12 lowercase hex characters.
pub fn retort_id(alembic_id: &str) -> String {
    if alembic_id.len() == 12
        && alembic_id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return alembic_id.to_owned();
    }
    let digest = Sha256::digest(format!("alembic:{alembic_id}").as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Finds the versions directory: `dir` itself when it holds revision files, else
/// alembic.ini's `script_location` + `/versions`, `versions/`, or `alembic/versions/`.
pub fn versions_dir(dir: &Path) -> Result<PathBuf, AlembicError> {
    let ini = dir.join("alembic.ini");
    if let Ok(text) = std::fs::read_to_string(&ini) {
        for line in text.lines() {
            if let Some(v) = line.trim().strip_prefix("script_location") {
                let v = v.trim_start().trim_start_matches(['=', ':']).trim();
                let v = v.replace("%(here)s", &dir.display().to_string());
                let candidate = dir.join(v).join("versions");
                if candidate.is_dir() {
                    return Ok(candidate);
                }
            }
        }
    }
    for candidate in [dir.join("versions"), dir.join("alembic").join("versions")] {
        if candidate.is_dir() {
            return Ok(candidate);
        }
    }
    let has_py = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "py"))
        })
        .unwrap_or(false);
    if has_py {
        return Ok(dir.to_owned());
    }
    Err(AlembicError::NotFound(dir.to_owned()))
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + text[..offset.min(text.len())].matches('\n').count()
}

/// A literal: None, a string, or a tuple/list of strings.
fn literal(e: &ast::Expr) -> Option<Vec<String>> {
    match e {
        ast::Expr::Constant(c) => match &c.value {
            ast::Constant::None => Some(Vec::new()),
            ast::Constant::Str(s) => Some(vec![s.clone()]),
            ast::Constant::Tuple(items) => items
                .iter()
                .map(|i| match i {
                    ast::Constant::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        },
        ast::Expr::Tuple(t) => t
            .elts
            .iter()
            .map(|x| literal(x).and_then(|v| v.into_iter().next()))
            .collect(),
        ast::Expr::List(l) => l
            .elts
            .iter()
            .map(|x| literal(x).and_then(|v| v.into_iter().next()))
            .collect(),
        ast::Expr::Set(s) => s
            .elts
            .iter()
            .map(|x| literal(x).and_then(|v| v.into_iter().next()))
            .collect(),
        _ => None,
    }
}

struct Raw {
    alembic_id: String,
    down: Vec<String>,
    labels: Vec<String>,
    depends: Vec<String>,
    message: String,
    path: PathBuf,
}

fn read_file(path: &Path) -> Result<Option<Raw>, AlembicError> {
    let text = std::fs::read_to_string(path).map_err(|source| AlembicError::Io {
        path: path.to_owned(),
        source,
    })?;
    let name = path.display().to_string();
    let (suite, text) = match ast::Suite::parse(&text, &name) {
        Ok(suite) => (suite, text),
        // Python 2 (or other syntax Python 3 refuses) in the bodies: read only what retort
        // needs, on the same lines. When that does not parse either, the error is the file's.
        Err(e) => {
            let module_level = skeleton::module_level(&text);
            match ast::Suite::parse(&module_level, &name) {
                Ok(suite) => (suite, module_level),
                Err(_) => {
                    return Err(AlembicError::Syntax {
                        path: path.to_owned(),
                        line: line_of(&text, e.offset.to_usize()),
                        message: e.error.to_string(),
                    })
                }
            }
        }
    };
    let mut vars: BTreeMap<String, (Vec<String>, usize)> = BTreeMap::new();
    let mut message = String::new();
    for (i, stmt) in suite.iter().enumerate() {
        let (targets, value, start): (Vec<&ast::Expr>, Option<&ast::Expr>, usize) = match stmt {
            ast::Stmt::Expr(e) if i == 0 => {
                if let ast::Expr::Constant(c) = e.value.as_ref() {
                    if let ast::Constant::Str(s) = &c.value {
                        message = s
                            .lines()
                            .map(str::trim)
                            .find(|l| !l.is_empty())
                            .unwrap_or_default()
                            .to_owned();
                    }
                }
                continue;
            }
            ast::Stmt::Assign(a) => (
                a.targets.iter().collect(),
                Some(a.value.as_ref()),
                a.range.start().to_usize(),
            ),
            ast::Stmt::AnnAssign(a) => (
                vec![a.target.as_ref()],
                a.value.as_deref(),
                a.range.start().to_usize(),
            ),
            _ => continue,
        };
        for t in targets {
            let ast::Expr::Name(n) = t else { continue };
            let name = n.id.as_str();
            if !matches!(
                name,
                "revision" | "down_revision" | "branch_labels" | "depends_on"
            ) {
                continue;
            }
            let line = line_of(&text, start);
            let values = value.and_then(literal).ok_or_else(|| AlembicError::Unreadable {
                path: path.to_owned(),
                line,
                message: format!(
                    "`{name}` is not a literal (a string, None, or a tuple of strings), so it cannot be read without running the file"
                ),
            })?;
            vars.insert(name.to_owned(), (values, line));
        }
    }
    let Some((ids, line)) = vars.get("revision") else {
        return Ok(None);
    };
    let [alembic_id] = ids.as_slice() else {
        return Err(AlembicError::Unreadable {
            path: path.to_owned(),
            line: *line,
            message: "`revision` must be one string".into(),
        });
    };
    let get = |k: &str| vars.get(k).map(|(v, _)| v.clone()).unwrap_or_default();
    Ok(Some(Raw {
        alembic_id: alembic_id.clone(),
        down: get("down_revision"),
        labels: get("branch_labels"),
        depends: get("depends_on"),
        message,
        path: path.to_owned(),
    }))
}

/// Reads every revision under `dir` (a project root or its versions directory).
pub fn read_project(dir: &Path) -> Result<AlembicProject, AlembicError> {
    let versions_dir = versions_dir(dir)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&versions_dir)
        .map_err(|source| AlembicError::Io {
            path: versions_dir.clone(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    files.sort();
    let mut raws = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        match read_file(&f)? {
            Some(r) => raws.push(r),
            None => skipped.push(f),
        }
    }
    // Resolve ids, prefixes and branch labels the way Alembic does for depends_on.
    let resolve = |name: &str, raws: &[Raw]| -> Option<String> {
        if let Some(r) = raws.iter().find(|r| r.alembic_id == name) {
            return Some(retort_id(&r.alembic_id));
        }
        let by_prefix: Vec<&Raw> = raws
            .iter()
            .filter(|r| r.alembic_id.starts_with(name))
            .collect();
        if let [one] = by_prefix.as_slice() {
            return Some(retort_id(&one.alembic_id));
        }
        raws.iter()
            .find(|r| r.labels.iter().any(|l| l == name))
            .map(|r| retort_id(&r.alembic_id))
    };
    let mut revisions = Vec::new();
    for r in &raws {
        if raws.iter().filter(|o| o.alembic_id == r.alembic_id).count() > 1 {
            return Err(AlembicError::Graph(format!(
                "revision {} is defined twice ({})",
                r.alembic_id,
                raws.iter()
                    .filter(|o| o.alembic_id == r.alembic_id)
                    .map(|o| o.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut down = Vec::new();
        for d in &r.down {
            down.push(resolve(d, &raws).ok_or_else(|| {
                AlembicError::Graph(format!(
                    "{}: down_revision {d} is not a revision in {}",
                    r.path.display(),
                    versions_dir.display()
                ))
            })?);
        }
        let mut depends = Vec::new();
        for d in &r.depends {
            depends.push(resolve(d, &raws).ok_or_else(|| {
                AlembicError::Graph(format!(
                    "{}: depends_on {d} names no revision or branch label",
                    r.path.display()
                ))
            })?);
        }
        revisions.push(AlembicRevision {
            alembic_id: r.alembic_id.clone(),
            revision: retort_id(&r.alembic_id),
            down_revisions: down,
            branch_labels: r.labels.clone(),
            depends_on: depends,
            message: if r.message.is_empty() {
                format!("alembic {}", r.alembic_id)
            } else {
                r.message.clone()
            },
            path: r.path.clone(),
        });
    }
    Ok(AlembicProject {
        versions_dir,
        revisions,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("versions")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("versions").join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn reads_merges_labels_depends_on_and_docstrings() {
        let d = project(&[
            ("a.py", "\"\"\"create users\n\nRevision ID: 1a2b3c4d5e6f\n\"\"\"\nfrom alembic import op\nrevision = '1a2b3c4d5e6f'\ndown_revision = None\nbranch_labels = ('auth',)\ndepends_on = None\n\ndef upgrade():\n    op.create_table('users')\n"),
            ("b.py", "'''billing'''\nrevision: str = '2b3c4d5e6f70'\ndown_revision: str | None = None\nbranch_labels = 'billing'\ndepends_on = 'auth'\n"),
            ("m.py", "\"\"\"merge\"\"\"\nrevision = 'ffffffffffff'\ndown_revision = ('1a2b3c4d5e6f', '2b3c4d5e6f70')\n"),
            ("__init__.py", ""),
        ]);
        let p = read_project(d.path()).unwrap();
        assert_eq!(p.revisions.len(), 3);
        let b = p
            .revisions
            .iter()
            .find(|r| r.revision == "2b3c4d5e6f70")
            .unwrap();
        assert_eq!(b.branch_labels, ["billing"]);
        assert_eq!(b.depends_on, ["1a2b3c4d5e6f"]);
        assert_eq!(b.message, "billing");
        let a = &p.revisions[0];
        assert_eq!(a.message, "create users");
        let m = p
            .revisions
            .iter()
            .find(|r| r.revision == "ffffffffffff")
            .unwrap();
        assert_eq!(m.down_revisions, ["1a2b3c4d5e6f", "2b3c4d5e6f70"]);
        assert_eq!(p.heads().len(), 1);
        assert_eq!(p.skipped.len(), 1);
    }

    #[test]
    fn non_literal_values_and_bad_python_are_clear_errors() {
        let d = project(&[(
            "x.py",
            "revision = 'abcdefabcdef'\ndown_revision = compute()\n",
        )]);
        let e = read_project(d.path()).unwrap_err().to_string();
        assert!(e.contains("x.py:2") && e.contains("not a literal"), "{e}");
        let d = project(&[("y.py", "revision = 'abc\n")]);
        let e = read_project(d.path()).unwrap_err().to_string();
        assert!(e.contains("y.py:") && e.contains("not valid Python"), "{e}");
        let d = project(&[(
            "z.py",
            "revision = 'abcdefabcdef'\ndown_revision = '000000000000'\n",
        )]);
        assert!(read_project(d.path())
            .unwrap_err()
            .to_string()
            .contains("is not a revision"));
    }

    /// A Python 2-era revision file, as `alembic revision` wrote them around 2013.
    fn python2_file(id: &str, down: &str, n: usize) -> String {
        format!(
            "# -*- coding: utf-8 -*-\n\"\"\"step {n}: widen the ledger\n\nRevision ID: {id}\nRevises: {down}\nCreate Date: 2013-0{m}-01 12:00:00.000000\n\n\"\"\"\n\n# revision identifiers, used by Alembic.\nrevision = '{id}'\ndown_revision = {down}\n\nfrom alembic import op\nimport sqlalchemy as sa\n\nprint \"loading {n}\"\n\ndef upgrade():\n\ttry:\n\t\top.execute(ur\"UPDATE ledger SET note = 'caf\\u00e9'\")\n\texcept Exception, e:\n\t\tprint >>sys.stderr, \"failed: %s\" % e\n\t\traise\n\ndef downgrade():\n\tprint 'nothing to undo', {n}L\n",
            m = n % 9 + 1
        )
    }

    #[test]
    fn a_python_2_history_of_120_revisions_imports() {
        let ids: Vec<String> = (0..120)
            .map(|i| format!("{:012x}", 0xa000_0000_0000_u64 + i))
            .collect();
        let mut files = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            let down = match n {
                0 => "None".to_owned(),
                // Every 30th revision merges two branches that split 5 revisions earlier.
                n if n % 30 == 0 => format!("('{}', '{}')", ids[n - 1], ids[n - 5]),
                n => format!("'{}'", ids[n - 1]),
            };
            files.push((format!("{id}_step_{n}.py"), python2_file(id, &down, n)));
        }
        // Labels written as Python 2 unicode literals.
        files[3].1 = files[3].1.replace(
            "down_revision = ",
            "branch_labels = (u'ledger',)\ndown_revision = ",
        );
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let d = project(&refs);
        let p = read_project(d.path()).unwrap();
        assert_eq!(p.revisions.len(), 120);
        assert_eq!(p.heads().len(), 1);
        let r60 = p
            .revisions
            .iter()
            .find(|r| r.alembic_id == ids[60])
            .unwrap();
        assert_eq!(r60.down_revisions, vec![ids[59].clone(), ids[55].clone()]);
        assert_eq!(r60.message, "step 60: widen the ledger");
        let r3 = p.revisions.iter().find(|r| r.alembic_id == ids[3]).unwrap();
        assert_eq!(r3.branch_labels, ["ledger"]);
        // Module-level values that cannot be read without running the file are still errors,
        // with the line, Python 2 or not.
        let bad = python2_file("abcdefabcdef", "compute_parent()", 1);
        let d = project(&[("bad.py", &bad)]);
        let e = read_project(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("bad.py:12") && e.contains("not a literal"),
            "{e}"
        );
    }

    #[test]
    fn custom_ids_get_stable_retort_ids() {
        assert_eq!(retort_id("ae1027a6acf0"), "ae1027a6acf0");
        let a = retort_id("0001_initial");
        assert_eq!(a.len(), 12);
        assert_eq!(a, retort_id("0001_initial"));
        assert_ne!(a, retort_id("0002_next"));
    }
}
