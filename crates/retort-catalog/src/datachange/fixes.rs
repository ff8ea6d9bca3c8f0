//! Constraints a change adds over data that may break them.
//!
//! A CHECK, a foreign key or a unique constraint (or unique index) added to a table that holds
//! rows is written in its online form (NOT VALID then validated, or an index built
//! concurrently), and that validation fails on the first row that breaks it, when the migration
//! runs. Autogenerate asks the configured database first (one `EXISTS` each, under a timeout):
//!
//! - rows that break a CHECK or a single-column foreign key are a question, answered with
//!   `--fix TABLE.COLUMN=SQL`: the column's value for the rows that break it. A batch backfill
//!   fixes the existing rows before the validation, and a trigger fixes the writes of the
//!   application version still running (which knows nothing of the constraint) until the
//!   contract;
//! - duplicates under a new unique constraint or index are a note: which row to keep is not
//!   something retort can choose.

use retort_pg::quote_ident;

use super::moved::{elements, groups, identifiers, referenced_table};
use super::{
    answer_error, over_new_row, resolve_column, AnswerError, ColumnRef, RawAnswer, RowTrigger,
};
use crate::catalog::Catalog;
use crate::name::QName;

/// What a new constraint requires of each row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `CHECK (expression)`: a row breaks it when the expression is false.
    Check {
        /// The expression.
        expression: String,
    },
    /// A foreign key (MATCH SIMPLE, or MATCH FULL): a row breaks it when its columns are all
    /// set and no parent row has them (or, MATCH FULL, when only some are set).
    ForeignKey {
        /// The referencing columns.
        columns: Vec<String>,
        /// The referenced table, quoted and qualified.
        parent: String,
        /// Its columns.
        parent_columns: Vec<String>,
        /// MATCH FULL.
        full: bool,
    },
    /// UNIQUE or PRIMARY KEY (or a unique index): two rows with the same values break it.
    Unique {
        /// The columns.
        columns: Vec<String>,
        /// NULLS NOT DISTINCT.
        nulls_equal: bool,
    },
}

/// A constraint (or unique index) the change adds to a table that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConstraint {
    /// The table.
    pub table: QName,
    /// The constraint's or the index's name.
    pub name: String,
    /// What it requires.
    pub requirement: Requirement,
}

impl NewConstraint {
    /// A one-line description: `CHECK (qty >= 0) orders_qty_check on public.orders`.
    pub fn describe(&self) -> String {
        let what = match &self.requirement {
            Requirement::Check { expression } => format!("CHECK ({expression})"),
            Requirement::ForeignKey {
                columns, parent, ..
            } => format!("FOREIGN KEY ({}) REFERENCES {parent}", columns.join(", ")),
            Requirement::Unique { columns, .. } => format!("UNIQUE ({})", columns.join(", ")),
        };
        format!("{what} {} on {}", quote_ident(&self.name), self.table)
    }

    /// The condition a row of the table that breaks it meets, the table's columns qualified
    /// by `row` (the table's name in an UPDATE, `NEW` in a trigger). None for a unique
    /// constraint, which no single row breaks.
    pub fn broken_by(&self, row: &str) -> Option<String> {
        match &self.requirement {
            Requirement::Check { expression } => Some(format!(
                "NOT coalesce((SELECT ({expression}) FROM (SELECT {row}.*) AS {}), true)",
                quote_ident(&self.table.name)
            )),
            Requirement::ForeignKey {
                columns,
                parent,
                parent_columns,
                full,
            } => {
                let set: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{row}.{c} IS NOT NULL"))
                    .collect();
                let matches: Vec<String> = columns
                    .iter()
                    .zip(parent_columns)
                    .map(|(c, p)| format!("retort_parent.{p} = {row}.{c}"))
                    .collect();
                let orphan = format!(
                    "({} AND NOT EXISTS (SELECT 1 FROM {parent} AS retort_parent WHERE {}))",
                    set.join(" AND "),
                    matches.join(" AND ")
                );
                if *full && columns.len() > 1 {
                    let all: Vec<String> = columns.iter().map(|c| format!("{row}.{c}")).collect();
                    Some(format!(
                        "({orphan} OR pg_catalog.num_nulls({}) BETWEEN 1 AND {})",
                        all.join(", "),
                        columns.len() - 1
                    ))
                } else {
                    Some(orphan)
                }
            }
            Requirement::Unique { .. } => None,
        }
    }

    /// `SELECT EXISTS (...)`: whether a row of the table breaks it.
    pub fn probe(&self) -> String {
        let t = &self.table;
        match &self.requirement {
            Requirement::Unique {
                columns,
                nulls_equal,
            } => {
                let filter = if *nulls_equal {
                    String::new()
                } else {
                    let set: Vec<String> =
                        columns.iter().map(|c| format!("{c} IS NOT NULL")).collect();
                    format!(" WHERE {}", set.join(" AND "))
                };
                format!(
                    "SELECT EXISTS (SELECT 1 FROM {t}{filter} GROUP BY {} HAVING count(*) > 1)",
                    columns.join(", ")
                )
            }
            _ => format!(
                "SELECT EXISTS (SELECT 1 FROM {t} WHERE {})",
                self.broken_by(&t.to_string()).unwrap_or_default()
            ),
        }
    }

    /// The column a `--fix` can set for the rows that break it: a CHECK's (when it names one
    /// column of the table) or a single-column foreign key's.
    pub fn fixable_column(&self, table_columns: &[String]) -> Option<String> {
        match &self.requirement {
            Requirement::Check { expression } => {
                let mut named: Vec<String> = identifiers(expression)
                    .into_iter()
                    .map(|(_, _, n)| n)
                    .filter(|n| table_columns.contains(n))
                    .collect();
                named.sort();
                named.dedup();
                (named.len() == 1).then(|| named.remove(0))
            }
            Requirement::ForeignKey { columns, .. } if columns.len() == 1 => table_columns
                .iter()
                .find(|c| quote_ident(c) == columns[0])
                .cloned(),
            _ => None,
        }
    }
}

/// The names in the first parenthesised list of `definition` (from `at`), quoted as written.
fn list(definition: &str, group: Option<&(usize, usize)>) -> Option<Vec<String>> {
    let &(start, end) = group?;
    let ids = identifiers(definition);
    elements(definition, (start, end))
        .into_iter()
        .map(|e| {
            let (s, t, _) = ids.iter().find(|(s, _, _)| *s >= e && *s < end)?;
            Some(definition[*s..*t].to_owned())
        })
        .collect()
}

/// The constraints and unique indexes `to` adds to tables `from` has (or whose definition
/// changes), with what they require; those whose definition is not read here (an exclusion
/// constraint, an expression or partial index) are left out.
pub fn new_constraints(from: &Catalog, to: &Catalog) -> Vec<NewConstraint> {
    let mut out = Vec::new();
    let strip = |d: &str| d.trim_end_matches(" NOT VALID").to_owned();
    for (key, k) in &to.constraints {
        if !from.tables.contains_key(&k.table)
            || from
                .constraints
                .get(key)
                .is_some_and(|o| strip(&o.definition) == strip(&k.definition))
        {
            continue;
        }
        let d = strip(&k.definition);
        let g = groups(&d);
        let requirement = match k.kind {
            'c' => g.first().map(|&(a, b)| Requirement::Check {
                expression: d[a..b].to_owned(),
            }),
            'f' => (|| {
                let parent = referenced_table(&d)?;
                let rest = d.split_once(") REFERENCES ")?.1;
                Some(Requirement::ForeignKey {
                    columns: list(&d, g.first())?,
                    parent,
                    parent_columns: list(rest, groups(rest).first())?,
                    full: d.contains(" MATCH FULL"),
                })
            })(),
            'u' | 'p' => list(&d, g.first()).map(|columns| Requirement::Unique {
                columns,
                nulls_equal: d.starts_with("UNIQUE NULLS NOT DISTINCT"),
            }),
            _ => None,
        };
        if let Some(requirement) = requirement {
            out.push(NewConstraint {
                table: k.table.clone(),
                name: k.name.clone(),
                requirement,
            });
        }
    }
    for (name, i) in &to.indexes {
        let plain = i.definition.starts_with("CREATE UNIQUE INDEX ")
            && !i.definition.contains(" WHERE ")
            && i.definition.contains(" USING btree (");
        if !plain
            || !from.tables.contains_key(&i.table)
            || from
                .indexes
                .get(name)
                .is_some_and(|o| o.definition == i.definition)
        {
            continue;
        }
        let g = groups(&i.definition);
        let Some(columns) = list(&i.definition, g.first()) else {
            continue;
        };
        // Plain columns only (an expression has a parenthesis or an operator).
        let Some(&(a, b)) = g.first() else { continue };
        let inner = &i.definition[a..b];
        if inner.contains('(') || inner.split(", ").count() != columns.len() {
            continue;
        }
        out.push(NewConstraint {
            table: i.table.clone(),
            name: name.name.clone(),
            requirement: Requirement::Unique {
                columns,
                nulls_equal: i.definition.contains(" NULLS NOT DISTINCT"),
            },
        });
    }
    out
}

/// A `--fix` matched to the new constraints it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The column it sets.
    pub column: ColumnRef,
    /// The SQL as given (an expression over the row).
    pub sql: String,
    /// The new constraints on the column whose breaking rows it fixes.
    pub constraints: Vec<NewConstraint>,
}

/// Matches `--fix`es to the new constraints of `from` -> `to`: each names a column that a new
/// CHECK or single-column foreign key on its table can be fixed by.
pub fn match_fixes(
    from: &Catalog,
    to: &Catalog,
    fixes: &[(String, RawAnswer)],
) -> Result<Vec<Fix>, AnswerError> {
    let news = new_constraints(from, to);
    let mut out: Vec<Fix> = Vec::new();
    for (text, raw) in fixes {
        let column = resolve_column(to, &raw.name)
            .map_err(|w| answer_error("--fix", text, format!("{w} in the wanted schema")))?;
        let columns: Vec<String> = to.tables[&column.table]
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let constraints: Vec<NewConstraint> = news
            .iter()
            .filter(|n| {
                n.table == column.table
                    && n.fixable_column(&columns).as_deref() == Some(column.column.as_str())
            })
            .cloned()
            .collect();
        if constraints.is_empty() {
            return Err(answer_error(
                "--fix",
                text,
                format!(
                    "no new CHECK naming only {column}, and no new single-column foreign key on \
                     it: --fix answers rows that break such a constraint"
                ),
            ));
        }
        if out.iter().any(|f| f.column == column) {
            return Err(answer_error(
                "--fix",
                text,
                format!("{column} is fixed twice"),
            ));
        }
        out.push(Fix {
            column,
            sql: raw.sql.clone(),
            constraints,
        });
    }
    Ok(out)
}

/// The fixes' steps, in the places [`super::FillSteps`] has: a trigger that fixes every write
/// (in the main migration, beside the constraint added NOT VALID), a batch backfill of the rows
/// that break it (in the fill migration, before the validation), and, in a `two_phase` change,
/// the trigger dropped by the contract (else at the end of the fill migration).
pub fn fix_steps(fixes: &[Fix], two_phase: bool) -> super::FillSteps {
    let mut steps = super::FillSteps::default();
    for f in fixes {
        let t = &f.column.table;
        let col = quote_ident(&f.column.column);
        let trigger = RowTrigger::new("fix", &f.column);
        let broken = |row: &str| {
            f.constraints
                .iter()
                .filter_map(|c| c.broken_by(row))
                .collect::<Vec<_>>()
                .join("\n     OR ")
        };
        let body = format!(
            "BEGIN\n  IF {} THEN\n    NEW.{col} := {};\n  END IF;\n  RETURN NEW;\nEND\n",
            broken("NEW"),
            over_new_row(&f.sql, t)
        );
        let create = trigger.create(&body);
        steps.main_up.extend(create.iter().cloned());
        steps.main_down_first.extend(trigger.drop(true));
        steps.fill_up.push(format!(
            "-- retort:batch\nUPDATE {t} SET {col} = ({}) WHERE {}",
            f.sql,
            broken(&t.to_string())
        ));
        if two_phase {
            steps.contract_up.extend(trigger.drop(false));
            steps.contract_down.extend(create);
        } else {
            steps.fill_up.extend(trigger.drop(false));
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expression: &str) -> NewConstraint {
        NewConstraint {
            table: QName::new("public", "orders"),
            name: "orders_qty_check".into(),
            requirement: Requirement::Check {
                expression: expression.into(),
            },
        }
    }

    #[test]
    fn what_breaks_a_constraint() {
        let c = check("qty >= 0");
        assert_eq!(
            c.probe(),
            "SELECT EXISTS (SELECT 1 FROM public.orders WHERE NOT coalesce((SELECT (qty >= 0) \
             FROM (SELECT public.orders.*) AS orders), true))"
        );
        let cols = ["id".to_owned(), "qty".to_owned(), "price".to_owned()];
        assert_eq!(c.fixable_column(&cols).as_deref(), Some("qty"));
        assert_eq!(check("qty * price > 0").fixable_column(&cols), None);
        let fk = NewConstraint {
            table: QName::new("public", "orders"),
            name: "orders_account_fkey".into(),
            requirement: Requirement::ForeignKey {
                columns: vec!["account".into()],
                parent: "public.accounts".into(),
                parent_columns: vec!["id".into()],
                full: false,
            },
        };
        assert_eq!(
            fk.broken_by("NEW").unwrap(),
            "(NEW.account IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.accounts AS \
             retort_parent WHERE retort_parent.id = NEW.account))"
        );
        let unique = NewConstraint {
            table: QName::new("public", "orders"),
            name: "orders_ref_key".into(),
            requirement: Requirement::Unique {
                columns: vec!["ref".into()],
                nulls_equal: false,
            },
        };
        assert_eq!(
            unique.probe(),
            "SELECT EXISTS (SELECT 1 FROM public.orders WHERE ref IS NOT NULL GROUP BY ref HAVING count(*) > 1)"
        );
    }
}
