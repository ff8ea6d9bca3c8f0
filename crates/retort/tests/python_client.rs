//! Runs the Python packages' pytest suites in a virtualenv, against real clusters, with this
//! build's `retort`: the shadow-store client's interoperability tests (python/tests) and
//! retort-sqlalchemy's (python/retort-sqlalchemy/tests), and the tested recipes of
//! docs/desired-state.md (python/recipes/tests), and the Python example app's browser test
//! (examples/speakfriend-py/tests).

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv() -> PathBuf {
    // The tests of this file run in parallel; one pip at a time in the shared virtualenv.
    static PIP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = PIP.lock().unwrap_or_else(|e| e.into_inner());
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
            "sqlalchemy>=2",
            "django>=4.2",
            "alembic>=1.13",
            "pyramid>=2",
            "selenium>=4.10",
        ])
        .status()
        .expect("pip");
    assert!(
        st.success(),
        "pip install of argon2-cffi, psycopg, pytest, bcrypt, sqlalchemy, django, alembic, pyramid and selenium failed"
    );
    target
}

/// Runs the pytest suite in `package_dir`/tests with the package importable; its output.
fn pytest(package_dir: &Path) -> String {
    let venv = venv();
    let out = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(package_dir)
        .env("PYTHONPATH", package_dir)
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
    text
}

fn python_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python")
}

#[test]
fn python_client_interoperates_with_the_rust_one() {
    let text = pytest(&python_dir());
    assert!(text.contains("7 passed"), "{text}");
}

#[test]
fn sqlalchemy_models_render_and_check_clean_against_create_all() {
    let text = pytest(&python_dir().join("retort-sqlalchemy"));
    assert!(text.contains("3 passed"), "{text}");
}

/// The Django recipe, and retort against Alembic's autogenerate on the same model changes
/// (target/versus-alembic.md gets the table).
#[test]
fn recipes_and_the_comparison_with_alembic() {
    let text = pytest(&python_dir().join("recipes"));
    assert!(text.contains("2 passed"), "{text}");
}

/// The Python example app, started with its one command on a throwaway primary + sync + async
/// cluster, driven through headless Chromium (screenshots under target/tmp/).
#[test]
fn the_python_example_app_in_a_browser() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/speakfriend-py");
    let text = pytest(&app);
    assert!(text.contains("1 passed"), "{text}");
}
