//! Runs the Python shadow-store client's interoperability tests (python/tests) with pytest in a
//! virtualenv, against real clusters, with this build's `retort` as the Rust side.

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv() -> PathBuf {
    // Kept between runs in the target directory: pip only downloads once.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/python-venv");
    let python = target.join("bin/python");
    if !python.exists() {
        let st = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&target)
            .status()
            .expect("python3 -m venv");
        assert!(
            st.success(),
            "could not create a virtualenv (python3 -m venv)"
        );
    }
    let st = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args([
            "argon2-cffi>=21",
            "psycopg[binary]>=3.1",
            "pytest>=7",
            "bcrypt>=4",
        ])
        .status()
        .expect("pip");
    assert!(
        st.success(),
        "pip install of argon2-cffi, psycopg, pytest and bcrypt failed"
    );
    target
}

#[test]
fn python_client_interoperates_with_the_rust_one() {
    let venv = venv();
    let python_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python");
    let out = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(&python_dir)
        .env("PYTHONPATH", &python_dir)
        .env("RETORT_BIN", env!("CARGO_BIN_EXE_retort"))
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pytest failed:\n{text}");
    assert!(text.contains("5 passed"), "{text}");
}
