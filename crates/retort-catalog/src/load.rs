//! Loading desired-state SQL (a file, or a directory of `.sql` files in name order) into a
//! database, statement by statement, so an error names the file and line.

use std::path::{Path, PathBuf};

use retort_pg::{split_statements, PgError};

use crate::error::CatalogError;

/// The `.sql` files `path` stands for: itself, or every `.sql` below it sorted by path.
///
/// Errors: a missing path, an unreadable directory.
pub fn sql_files(path: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let io = |e: std::io::Error| CatalogError::Load {
        file: path.to_owned(),
        line: 0,
        message: e.to_string(),
        sqlstate: None,
    };
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    if !path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or directory",
        )));
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let p = entry.map_err(io)?.path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "sql") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs every statement of `files` in order, in one transaction.
///
/// Errors: an unreadable file, SQL that cannot be split (unterminated quote, psql
/// meta-command), or a statement the server rejects: file, line (where the server pointed)
/// and the server's message. Nothing is committed then.
pub fn load_sql(
    client: &mut impl postgres::GenericClient,
    files: &[PathBuf],
) -> Result<(), CatalogError> {
    let mut texts = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| CatalogError::Load {
            file: file.clone(),
            line: 0,
            message: e.to_string(),
            sqlstate: None,
        })?;
        texts.push((file.clone(), text));
    }
    load_sql_texts(client, &texts)
}

/// Runs every statement of the `(name, SQL)` pairs in order, in one transaction: SQL that did
/// not come from a file (a program's output), named for errors by `name` (`file:line`).
pub fn load_sql_texts(
    client: &mut impl postgres::GenericClient,
    texts: &[(PathBuf, String)],
) -> Result<(), CatalogError> {
    client
        .batch_execute("BEGIN")
        .map_err(|e| server_error(Path::new("-"), 0, "", e))?;
    let result = (|| {
        for (file, text) in texts {
            let statements = split_statements(text, 1).map_err(|e| CatalogError::Load {
                file: file.clone(),
                line: e.line,
                message: e.message,
                sqlstate: None,
            })?;
            for s in statements {
                client
                    .batch_execute(&s.sql)
                    .map_err(|e| server_error(file, s.line, &s.sql, e))?;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => client
            .batch_execute("COMMIT")
            .map_err(|e| server_error(Path::new("-"), 0, "", e)),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

fn server_error(file: &Path, line: usize, sql: &str, e: postgres::Error) -> CatalogError {
    let e = PgError::from(e);
    let line = e.line_in(sql, line);
    let sqlstate = e.sqlstate().map(str::to_owned);
    CatalogError::Load {
        file: file.to_owned(),
        line,
        message: e.to_string(),
        sqlstate,
    }
}
