//! Privileges are exploded on the client from aclitem text: they must come out exactly as the
//! server's `aclexplode` gives them, whatever the role names (quotes, spaces, `=`, `/`,
//! capitals, non-ASCII) and grant options.

use retort_catalog::{introspect, Filter, QName};
use retort_difftest::Harness;

#[test]
fn client_side_acls_match_aclexplode() {
    let h = Harness::start();
    let roles = [
        "acl we ird",
        "acl\"quote",
        "acl=eq/slash",
        "AclUpper",
        "acl_ünï",
    ];
    let mut sql = String::new();
    for r in roles {
        let q = retort_pg::quote_ident(r);
        sql.push_str(&format!("CREATE ROLE {q};\n"));
    }
    sql.push_str(
        "CREATE SCHEMA s;\n\
         CREATE TABLE s.t (id int, secret text);\n\
         CREATE TABLE s.untouched (id int);\n\
         CREATE SEQUENCE s.q;\n\
         CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n\
         CREATE TYPE s.e AS ENUM ('a');\n\
         CREATE VIEW s.v AS SELECT id FROM s.t;\n\
         REVOKE EXECUTE ON FUNCTION s.f() FROM PUBLIC;\n\
         GRANT SELECT ON s.t TO PUBLIC;\n",
    );
    for (i, r) in roles.iter().enumerate() {
        let q = retort_pg::quote_ident(r);
        let option = if i % 2 == 0 { " WITH GRANT OPTION" } else { "" };
        sql.push_str(&format!(
            "GRANT SELECT, UPDATE ON s.t TO {q}{option};\n\
             GRANT USAGE ON SCHEMA s TO {q};\n\
             GRANT USAGE, SELECT ON SEQUENCE s.q TO {q}{option};\n\
             GRANT EXECUTE ON FUNCTION s.f() TO {q}{option};\n\
             GRANT USAGE ON TYPE s.e TO {q};\n\
             GRANT INSERT ON s.v TO {q}{option};\n"
        ));
    }
    let (_url, mut client) = h.database(&sql).expect("load");
    let snap = introspect(&mut client, &Filter::default()).expect("introspect");
    let server = |client: &mut retort_pg::Client, acl: &str, owner: &str, from: &str| {
        let row = client
            .query_one(
                &format!(
                    "SELECT coalesce(array_agg(e ORDER BY e COLLATE \"C\"), '{{}}') FROM ( \
                       SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = o.owner THEN 'OWNER' \
                              ELSE pg_get_userbyid(x.grantee)::text END || '|' || x.privilege_type \
                              || '|' || x.is_grantable::text AS e \
                       FROM (SELECT {acl} AS acl, {owner} AS owner {from}) o, aclexplode(o.acl) x) s"
                ),
                &[],
            )
            .expect("aclexplode");
        row.get::<_, Vec<String>>(0)
    };
    let q = |n: &str| QName::new("s", n);
    let cases = [
        (
            &snap.catalog.tables[&q("t")].acl,
            server(
                &mut client,
                "coalesce(relacl, acldefault('r', relowner))",
                "relowner",
                "FROM pg_class WHERE oid = 's.t'::regclass",
            ),
        ),
        (
            &snap.catalog.tables[&q("untouched")].acl,
            server(
                &mut client,
                "coalesce(relacl, acldefault('r', relowner))",
                "relowner",
                "FROM pg_class WHERE oid = 's.untouched'::regclass",
            ),
        ),
        (
            &snap.catalog.sequences[&q("q")].acl,
            server(
                &mut client,
                "coalesce(relacl, acldefault('s', relowner))",
                "relowner",
                "FROM pg_class WHERE oid = 's.q'::regclass",
            ),
        ),
        (
            &snap.catalog.views[&q("v")].acl,
            server(
                &mut client,
                "coalesce(relacl, acldefault('r', relowner))",
                "relowner",
                "FROM pg_class WHERE oid = 's.v'::regclass",
            ),
        ),
        (
            &snap.catalog.types[&q("e")].acl,
            server(
                &mut client,
                "coalesce(typacl, acldefault('T', typowner))",
                "typowner",
                "FROM pg_type WHERE oid = 's.e'::regtype",
            ),
        ),
        (
            &snap.catalog.schemas["s"].acl,
            server(
                &mut client,
                "coalesce(nspacl, acldefault('n', nspowner))",
                "nspowner",
                "FROM pg_namespace WHERE nspname = 's'",
            ),
        ),
        (
            &snap.catalog.functions[&(q("f"), String::new())].acl,
            server(
                &mut client,
                "coalesce(proacl, acldefault('f', proowner))",
                "proowner",
                "FROM pg_proc WHERE oid = 's.f'::regproc",
            ),
        ),
    ];
    for (i, (ours, theirs)) in cases.iter().enumerate() {
        assert_eq!(*ours.grants, theirs[..], "case {i}");
    }
    // Every role took part, quoted names included.
    let table = &snap.catalog.tables[&q("t")].acl.grants;
    for r in roles {
        assert!(
            table.contains(&format!(
                "{r}|SELECT|{}",
                r != "acl\"quote" && r != "AclUpper"
            )),
            "{r}: {table:?}"
        );
    }
    // The default ACL of a fresh table is the owner's full set, and the untouched table has it.
    let untouched = &snap.catalog.tables[&q("untouched")].acl;
    assert_eq!(untouched.grants, untouched.default);
    assert!(untouched
        .default
        .contains(&"OWNER|SELECT|false".to_string()));
}
