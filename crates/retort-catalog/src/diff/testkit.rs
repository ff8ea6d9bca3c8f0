//! Small catalogs for the stages' unit tests: schemas only, which every stage handles like
//! any other kind (the kinds' own SQL is tested against a server in the corpus).

use crate::catalog::Catalog;
use crate::common::Acl;
use crate::schemas::Schema;

/// A schema with an optional comment.
pub(super) fn schema(name: &str, comment: Option<&str>) -> Schema {
    let grants: crate::common::Grants = std::sync::Arc::from(Vec::<String>::new());
    Schema {
        name: name.to_owned(),
        comment: comment.map(str::to_owned),
        acl: Acl {
            grants: grants.clone(),
            default: grants,
            owner: "postgres".to_owned(),
        },
        owner: None,
    }
}

/// A catalog of these schemas.
pub(super) fn catalog(schemas: &[(&str, Option<&str>)]) -> Catalog {
    let mut c = Catalog::default();
    for (name, comment) in schemas {
        c.schemas.insert((*name).to_owned(), schema(name, *comment));
    }
    c
}

/// The key of schema `name`.
pub(super) fn key(name: &str) -> crate::name::ObjKey {
    crate::name::ObjKey::Schema(name.to_owned())
}

/// `catalog` plus libc collations `public.<name>`.
pub(super) fn with_collations(mut c: Catalog, names: &[&str]) -> Catalog {
    for name in names {
        let q = crate::name::QName::new("public".to_owned(), (*name).to_owned());
        c.collations.insert(
            q.clone(),
            crate::collations::Collation {
                name: q,
                provider: 'c',
                deterministic: true,
                locale: None,
                collate: Some("C".to_owned()),
                ctype: Some("C".to_owned()),
                rules: None,
                comment: None,
                owner: None,
            },
        );
    }
    c
}

/// The key of collation `public.<name>`.
pub(super) fn collation(name: &str) -> crate::name::ObjKey {
    crate::name::ObjKey::Collation(crate::name::QName::new(
        "public".to_owned(),
        name.to_owned(),
    ))
}
