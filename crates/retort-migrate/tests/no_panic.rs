//! Whatever is in a migration file, parsing and splitting it returns a value or an error; it
//! never panics.

use std::path::Path;

use proptest::prelude::*;
use retort_migrate::{split_statements, Migration, Target};

fn sqlish() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("-- retort:revision aaaaaaaaaaaa\n".to_owned()),
        Just("-- retort:up\n".to_owned()),
        Just("-- retort:down\n".to_owned()),
        Just("-- Retort : up ✓\n".to_owned()),
        Just("$$".to_owned()),
        Just("$tag$".to_owned()),
        Just("E'".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just(";".to_owned()),
        Just("BEGIN ATOMIC".to_owned()),
        Just("CREATE FUNCTION".to_owned()),
        Just("END".to_owned()),
        Just("\\".to_owned()),
        Just("\n".to_owned()),
        "[a-zé✓ ]{0,6}",
    ];
    proptest::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn parsing_and_splitting_never_panic(text in sqlish()) {
        let _ = split_statements(&text, 1);
        if let Ok(m) = Migration::parse(&text, Path::new("m/aaaaaaaaaaaa_x.sql")) {
            let _ = m.up.statements(&m.path);
        }
    }

    #[test]
    fn targets_never_panic(text in "\\PC{0,12}") {
        let _ = Target::parse(&text);
    }
}
