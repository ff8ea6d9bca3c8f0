//! Operator families and operator classes (CREATE OPERATOR FAMILY / CLASS): the operators and
//! support functions an index access method uses for a type.
//!
//! PostgreSQL keeps each member (a `pg_amop` or `pg_amproc` row) bound either to a class or,
//! loose, to its family (cross-type btree and hash members always are); pg_depend says which,
//! and so does the model. A family is created first and empty, its loose members are added with
//! `ALTER OPERATOR FAMILY ... ADD`, and each class names its family explicitly, so the family a
//! class created implicitly (same name) is written out like any other.
//!
//! In place: a family's loose members (ADD / DROP), and both kinds' comment and owner. A class
//! whose type, DEFAULT, family, storage or members change is dropped and created again, and the
//! indexes that use it follow through pg_depend.

use retort_pg::quote_ident;

use crate::common::{comment_and_owner, ns_filter};
use crate::error::{query, CatalogError};
use crate::name::QName;

/// An operator in a family or class: `OPERATOR strategy op (left, right) [FOR ORDER BY f]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct OpMember {
    /// Strategy number.
    pub strategy: i16,
    /// Left operand type (`format_type`).
    pub left: String,
    /// Right operand type.
    pub right: String,
    /// The operator with its own operand types, `schema.symbol (left, right)`: how ADD and
    /// CREATE look it up (a polymorphic operator's differ from the member's).
    pub operator: String,
    /// The sort family of an ordering operator (`FOR ORDER BY`), `schema.name`.
    pub order_by: Option<String>,
}

/// A support function in a family or class: `FUNCTION number (left, right) fn(args)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ProcMember {
    /// Support function number.
    pub number: i16,
    /// Left operand type the function serves.
    pub left: String,
    /// Right operand type.
    pub right: String,
    /// The function, `schema.name(argument types)`.
    pub function: String,
}

/// A user-defined operator family.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpFamily {
    /// Schema and name.
    pub name: QName,
    /// Index access method (`btree`, `hash`, `gist`, ...).
    pub method: String,
    /// Operators bound to the family rather than to one of its classes.
    pub operators: Vec<OpMember>,
    /// Support functions bound to the family.
    pub functions: Vec<ProcMember>,
    /// COMMENT ON OPERATOR FAMILY.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

/// A user-defined operator class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpClass {
    /// Schema and name.
    pub name: QName,
    /// Index access method.
    pub method: String,
    /// The indexed data type (`format_type`).
    pub for_type: String,
    /// DEFAULT for its type and method.
    pub default: bool,
    /// The family it belongs to, `schema.name`.
    pub family: String,
    /// STORAGE type, when it differs from the indexed type.
    pub storage: Option<String>,
    /// Operators bound to the class.
    pub operators: Vec<OpMember>,
    /// Support functions bound to the class.
    pub functions: Vec<ProcMember>,
    /// COMMENT ON OPERATOR CLASS.
    pub comment: Option<String>,
    /// Owner role, read only with [`crate::Filter::owners`].
    pub owner: Option<String>,
}

/// Families and classes, each with its members, in three queries.
pub(crate) fn load(
    client: &mut impl postgres::GenericClient,
    params: &crate::Params,
) -> Result<(Vec<OpFamily>, Vec<OpClass>), CatalogError> {
    let f = ns_filter("n");
    let families_sql = format!(
        "SELECT f.oid, n.nspname::text, f.opfname::text, am.amname::text, pg_get_userbyid(f.opfowner)::text \
         FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod \
         WHERE f.oid >= 16384 AND {f} AND {ext} ORDER BY 2, 3, 4",
        ext = params.extensions.exclude("pg_opfamily", "f.oid"),
    );
    let classes_sql = format!(
        "SELECT c.oid, n.nspname::text, c.opcname::text, am.amname::text, format_type(c.opcintype, NULL), \
                c.opcdefault, quote_ident(fn.nspname) || '.' || quote_ident(fa.opfname), \
                CASE WHEN c.opckeytype <> 0 THEN format_type(c.opckeytype, NULL) END, \
                pg_get_userbyid(c.opcowner)::text \
         FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace JOIN pg_am am ON am.oid = c.opcmethod \
         JOIN pg_opfamily fa ON fa.oid = c.opcfamily JOIN pg_namespace fn ON fn.oid = fa.opfnamespace \
         WHERE c.oid >= 16384 AND {f} AND {ext} ORDER BY 2, 3, 4",
        ext = params.extensions.exclude("pg_opclass", "c.oid"),
    );
    // Each member with the class or family pg_depend binds it to (internal or auto; a normal
    // dependency on a family is an ordering operator's sort family, not its owner).
    let owner_join = |catalog: &str, row: &str| {
        format!(
            "JOIN pg_depend d ON d.classid = '{catalog}'::regclass AND d.objid = {row}.oid \
             AND d.deptype IN ('i', 'a') \
             AND d.refclassid IN ('pg_opclass'::regclass, 'pg_opfamily'::regclass)"
        )
    };
    let members_sql = format!(
        "SELECT d.refclassid = 'pg_opclass'::regclass, d.refobjid, true, ao.amopstrategy, \
                format_type(ao.amoplefttype, NULL), format_type(ao.amoprighttype, NULL), \
                quote_ident(opn.nspname) || '.' || op.oprname || ' (' || format_type(op.oprleft, NULL) \
                    || ', ' || format_type(op.oprright, NULL) || ')', \
                CASE WHEN ao.amoppurpose = 'o' THEN quote_ident(sfn.nspname) || '.' || quote_ident(sf.opfname) END \
         FROM pg_amop ao {amop} \
         JOIN pg_operator op ON op.oid = ao.amopopr JOIN pg_namespace opn ON opn.oid = op.oprnamespace \
         LEFT JOIN pg_opfamily sf ON sf.oid = ao.amopsortfamily \
         LEFT JOIN pg_namespace sfn ON sfn.oid = sf.opfnamespace \
         WHERE ao.oid >= 16384 \
         UNION ALL \
         SELECT d.refclassid = 'pg_opclass'::regclass, d.refobjid, false, ap.amprocnum, \
                format_type(ap.amproclefttype, NULL), format_type(ap.amprocrighttype, NULL), \
                quote_ident(pn.nspname) || '.' || quote_ident(p.proname) || '(' || oidvectortypes(p.proargtypes) || ')', \
                NULL \
         FROM pg_amproc ap {amproc} \
         JOIN pg_proc p ON p.oid = ap.amproc JOIN pg_namespace pn ON pn.oid = p.pronamespace \
         WHERE ap.oid >= 16384",
        amop = owner_join("pg_amop", "ao"),
        amproc = owner_join("pg_amproc", "ap"),
    );
    let family_rows = client
        .query(&families_sql, &params.as_refs())
        .map_err(query("operator families"))?;
    let class_rows = client
        .query(&classes_sql, &params.as_refs())
        .map_err(query("operator classes"))?;
    let family_comments = params.comments.of("pg_opfamily");
    let class_comments = params.comments.of("pg_opclass");
    let mut families: Vec<(u32, OpFamily)> = family_rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                OpFamily {
                    name: QName::new(r.get::<_, String>(1), r.get::<_, String>(2)),
                    method: r.get(3),
                    operators: Vec::new(),
                    functions: Vec::new(),
                    comment: family_comments.get(r.get(0)),
                    owner: params.owners.then(|| r.get(4)),
                },
            )
        })
        .collect();
    let mut classes: Vec<(u32, OpClass)> = class_rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                OpClass {
                    name: QName::new(r.get::<_, String>(1), r.get::<_, String>(2)),
                    method: r.get(3),
                    for_type: r.get(4),
                    default: r.get(5),
                    family: r.get(6),
                    storage: r.get(7),
                    operators: Vec::new(),
                    functions: Vec::new(),
                    comment: class_comments.get(r.get(0)),
                    owner: params.owners.then(|| r.get(8)),
                },
            )
        })
        .collect();
    if families.is_empty() && classes.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let family_at: std::collections::HashMap<u32, usize> = families
        .iter()
        .enumerate()
        .map(|(i, (oid, _))| (*oid, i))
        .collect();
    let class_at: std::collections::HashMap<u32, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, (oid, _))| (*oid, i))
        .collect();
    for r in client
        .query(&members_sql, &[])
        .map_err(query("operator class members"))?
    {
        let (of_class, owner, is_operator): (bool, u32, bool) = (r.get(0), r.get(1), r.get(2));
        let (number, left, right, what): (i16, String, String, String) =
            (r.get(3), r.get(4), r.get(5), r.get(6));
        let lists = if of_class {
            class_at.get(&owner).map(|&i| {
                let c = &mut classes[i].1;
                (&mut c.operators, &mut c.functions)
            })
        } else {
            family_at.get(&owner).map(|&i| {
                let f = &mut families[i].1;
                (&mut f.operators, &mut f.functions)
            })
        };
        let Some((operators, functions)) = lists else {
            continue;
        };
        if is_operator {
            operators.push(OpMember {
                strategy: number,
                left,
                right,
                operator: what,
                order_by: r.get(7),
            });
        } else {
            functions.push(ProcMember {
                number,
                left,
                right,
                function: what,
            });
        }
    }
    for (_, f) in &mut families {
        f.operators.sort();
        f.functions.sort();
    }
    for (_, c) in &mut classes {
        c.operators.sort();
        c.functions.sort();
    }
    Ok((
        families.into_iter().map(|(_, f)| f).collect(),
        classes.into_iter().map(|(_, c)| c).collect(),
    ))
}

impl OpMember {
    fn item(&self) -> String {
        let mut s = format!("OPERATOR {} {}", self.strategy, self.operator);
        if let Some(f) = &self.order_by {
            s.push_str(&format!(" FOR ORDER BY {f}"));
        }
        s
    }

    fn drop_item(&self) -> String {
        format!("OPERATOR {} ({}, {})", self.strategy, self.left, self.right)
    }
}

impl ProcMember {
    fn item(&self) -> String {
        format!(
            "FUNCTION {} ({}, {}) {}",
            self.number, self.left, self.right, self.function
        )
    }

    fn drop_item(&self) -> String {
        format!("FUNCTION {} ({}, {})", self.number, self.left, self.right)
    }
}

/// The ADD items of members in `new` and not in `old`, the DROP items of those in `old` and not
/// in `new` (a member that changes is dropped and added).
fn member_changes(
    (old_ops, old_fns): (&[OpMember], &[ProcMember]),
    (new_ops, new_fns): (&[OpMember], &[ProcMember]),
) -> (Vec<String>, Vec<String>) {
    let added = new_ops
        .iter()
        .filter(|m| !old_ops.contains(m))
        .map(OpMember::item)
        .chain(
            new_fns
                .iter()
                .filter(|m| !old_fns.contains(m))
                .map(ProcMember::item),
        )
        .collect();
    let dropped = old_ops
        .iter()
        .filter(|m| !new_ops.contains(m))
        .map(OpMember::drop_item)
        .chain(
            old_fns
                .iter()
                .filter(|m| !new_fns.contains(m))
                .map(ProcMember::drop_item),
        )
        .collect();
    (added, dropped)
}

impl OpFamily {
    fn target_sql(&self) -> String {
        format!(
            "OPERATOR FAMILY {} USING {}",
            self.name,
            quote_ident(&self.method)
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = vec![format!("CREATE {}", self.target_sql())];
        let (added, _) = member_changes((&[], &[]), (&self.operators, &self.functions));
        if !added.is_empty() {
            out.push(format!(
                "ALTER {} ADD {}",
                self.target_sql(),
                added.join(", ")
            ));
        }
        out.extend(comment_and_owner(
            &self.target_sql(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target_sql())]
    }

    /// Loose members dropped and added, comment and owner; never a replacement.
    pub(crate) fn alter(&self, old: &OpFamily) -> Option<Vec<String>> {
        let (added, dropped) = member_changes(
            (&old.operators, &old.functions),
            (&self.operators, &self.functions),
        );
        let mut out = Vec::new();
        if !dropped.is_empty() {
            out.push(format!(
                "ALTER {} DROP {}",
                self.target_sql(),
                dropped.join(", ")
            ));
        }
        if !added.is_empty() {
            out.push(format!(
                "ALTER {} ADD {}",
                self.target_sql(),
                added.join(", ")
            ));
        }
        out.extend(comment_and_owner(
            &self.target_sql(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        Some(out)
    }
}

impl OpClass {
    fn target_sql(&self) -> String {
        format!(
            "OPERATOR CLASS {} USING {}",
            self.name,
            quote_ident(&self.method)
        )
    }

    pub(crate) fn create(&self) -> Vec<String> {
        let mut items: Vec<String> = self
            .operators
            .iter()
            .map(OpMember::item)
            .chain(self.functions.iter().map(ProcMember::item))
            .collect();
        // The list may not be empty: a class whose members are all loose in its family says
        // its storage, which is the indexed type unless stated otherwise.
        if self.storage.is_some() || items.is_empty() {
            items.push(format!(
                "STORAGE {}",
                self.storage.as_deref().unwrap_or(&self.for_type)
            ));
        }
        let mut out = vec![format!(
            "CREATE OPERATOR CLASS {}{} FOR TYPE {} USING {} FAMILY {} AS {}",
            self.name,
            if self.default { " DEFAULT" } else { "" },
            self.for_type,
            quote_ident(&self.method),
            self.family,
            items.join(", ")
        )];
        out.extend(comment_and_owner(
            &self.target_sql(),
            None,
            (self.comment.as_deref(), self.owner.as_deref()),
        ));
        out
    }

    pub(crate) fn drop(&self) -> Vec<String> {
        vec![format!("DROP {}", self.target_sql())]
    }

    /// Comment and owner in place; None when anything else differs.
    pub(crate) fn alter(&self, old: &OpClass) -> Option<Vec<String>> {
        let fixed = |c: &OpClass| {
            (
                c.for_type.clone(),
                c.default,
                c.family.clone(),
                c.storage.clone(),
                c.operators.clone(),
                c.functions.clone(),
            )
        };
        if fixed(old) != fixed(self) {
            return None;
        }
        Some(comment_and_owner(
            &self.target_sql(),
            Some((old.comment.as_deref(), old.owner.as_deref())),
            (self.comment.as_deref(), self.owner.as_deref()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(strategy: i16, symbol: &str) -> OpMember {
        OpMember {
            strategy,
            left: "app.mood".into(),
            right: "app.mood".into(),
            operator: format!("pg_catalog.{symbol} (app.mood, app.mood)"),
            order_by: None,
        }
    }

    fn cmp() -> ProcMember {
        ProcMember {
            number: 1,
            left: "app.mood".into(),
            right: "app.mood".into(),
            function: "app.mood_cmp(app.mood, app.mood)".into(),
        }
    }

    fn class() -> OpClass {
        OpClass {
            name: QName::new("app", "mood_ops"),
            method: "btree".into(),
            for_type: "app.mood".into(),
            default: true,
            family: "app.mood_ops".into(),
            storage: None,
            operators: vec![op(1, "<"), op(3, "=")],
            functions: vec![cmp()],
            comment: None,
            owner: None,
        }
    }

    #[test]
    fn a_class_names_its_family_and_every_member() {
        assert_eq!(
            class().create(),
            ["CREATE OPERATOR CLASS app.mood_ops DEFAULT FOR TYPE app.mood USING btree FAMILY app.mood_ops AS \
              OPERATOR 1 pg_catalog.< (app.mood, app.mood), OPERATOR 3 pg_catalog.= (app.mood, app.mood), \
              FUNCTION 1 (app.mood, app.mood) app.mood_cmp(app.mood, app.mood)"]
        );
        let empty = OpClass {
            operators: vec![],
            functions: vec![],
            default: false,
            ..class()
        };
        assert!(empty.create()[0].ends_with("FAMILY app.mood_ops AS STORAGE app.mood"));
        assert_eq!(
            class().drop(),
            ["DROP OPERATOR CLASS app.mood_ops USING btree"]
        );
        let commented = OpClass {
            comment: Some("by mood".into()),
            ..class()
        };
        assert_eq!(
            commented.alter(&class()).unwrap(),
            ["COMMENT ON OPERATOR CLASS app.mood_ops USING btree IS 'by mood'"]
        );
        let fewer = OpClass {
            operators: vec![op(3, "=")],
            ..class()
        };
        assert!(fewer.alter(&class()).is_none());
    }

    #[test]
    fn a_family_adds_and_drops_its_loose_members_in_place() {
        let empty = OpFamily {
            name: QName::new("app", "mood_ops"),
            method: "hash".into(),
            operators: vec![],
            functions: vec![],
            comment: None,
            owner: None,
        };
        assert_eq!(
            empty.create(),
            ["CREATE OPERATOR FAMILY app.mood_ops USING hash"]
        );
        let loose = OpFamily {
            operators: vec![op(1, "=")],
            ..empty.clone()
        };
        assert_eq!(
            loose.create()[1],
            "ALTER OPERATOR FAMILY app.mood_ops USING hash ADD OPERATOR 1 pg_catalog.= (app.mood, app.mood)"
        );
        let moved = OpFamily {
            operators: vec![],
            functions: vec![cmp()],
            ..empty.clone()
        };
        assert_eq!(
            moved.alter(&loose).unwrap(),
            [
                "ALTER OPERATOR FAMILY app.mood_ops USING hash DROP OPERATOR 1 (app.mood, app.mood)",
                "ALTER OPERATOR FAMILY app.mood_ops USING hash ADD FUNCTION 1 (app.mood, app.mood) \
                 app.mood_cmp(app.mood, app.mood)"
            ]
        );
        assert!(loose.alter(&loose).unwrap().is_empty());
    }
}
