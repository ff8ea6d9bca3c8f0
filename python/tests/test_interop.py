"""The Python client against the Rust one, on a real cluster started by `retort cluster start`."""

import os
import shutil
import subprocess
import tempfile

import psycopg
import pytest

from retort_shadow import PasswordTooLong, ShadowStore, Verdict

RETORT = os.environ["RETORT_BIN"]


def retort(*args, url, stdin=None):
    return subprocess.run(
        [RETORT, *args], input=stdin, capture_output=True, text=True,
        env={**os.environ, "DATABASE_URL": url},
    )


@pytest.fixture(scope="module")
def cluster():
    d = tempfile.mkdtemp(prefix="retort-py-")
    os.chmod(d, 0o755)  # as root, the server runs as "postgres" and must enter it
    cdir = os.path.join(d, "cluster")
    r = subprocess.run([RETORT, "cluster", "start", "--dir", cdir], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    url = subprocess.run([RETORT, "cluster", "url", "--dir", cdir], capture_output=True, text=True).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([RETORT, "cluster", "stop", "--destroy", "--dir", cdir], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def database(cluster_url, name, mode):
    with psycopg.connect(cluster_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
        c.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN CREATE ROLE app LOGIN; END IF; END$$")
    url = cluster_url.replace("/postgres?", f"/{name}?")
    r = retort("shadow", "install", "--mode", mode, "--argon2-memory", "1024", "--argon2-iterations", "1",
               "--bcrypt-cost", "4", url=url)
    assert r.returncode == 0, r.stderr
    return url, url + "&user=app"


@pytest.mark.parametrize("mode", ["scram-argon2", "bcrypt"])
def test_passwords_cross_between_rust_and_python(cluster, mode):
    admin_url, app_url = database(cluster, f"interop_{mode.replace('-', '_')}", mode)
    store = ShadowStore()
    with psycopg.connect(app_url, autocommit=True) as app:
        # Python sets, Rust verifies.
        store.set_password(app, "zoë", "pässwörd ✓")
        assert retort("shadow", "verify", "zoë", "--password-stdin", url=app_url, stdin="pässwörd ✓\n").returncode == 0
        assert retort("shadow", "verify", "zoë", "--password-stdin", url=app_url, stdin="wrong\n").returncode == 1
        # Rust sets, Python verifies.
        r = retort("shadow", "set", "o'brien", "--password-stdin", url=app_url, stdin="from rust\n")
        assert r.returncode == 0, r.stderr
        assert store.verify(app, "o'brien", "from rust") is Verdict.OK
        assert store.verify(app, "o'brien", "from python") is Verdict.BAD
        assert store.verify(app, "nobody", "x") is Verdict.BAD
        # The app role reads nothing.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT * FROM shadow.passwords")


def test_lockout_rehash_and_limits(cluster):
    admin_url, app_url = database(cluster, "py_lockout", "scram-argon2")
    store = ShadowStore()
    with psycopg.connect(app_url, autocommit=True) as app, psycopg.connect(admin_url, autocommit=True) as admin:
        store.set_password(app, "erin", "right")
        assert [store.verify(app, "erin", "wrong") for _ in range(6)] == [Verdict.BAD] * 5 + [Verdict.LOCKED]
        assert store.verify(app, "erin", "right") is Verdict.LOCKED
        # Rust sees the lock Python caused, and Rust's unlock frees it for Python.
        assert retort("shadow", "verify", "erin", "--password-stdin", url=app_url, stdin="right\n").returncode == 3
        assert retort("shadow", "unlock", "erin", url=app_url).returncode == 0
        assert store.verify(app, "erin", "right") is Verdict.OK
        # A stronger policy: the next good login re-keys, and Rust still verifies the new verifier.
        admin.execute("UPDATE shadow.settings SET argon2_t = 2")
        out = store.verify_outcome(app, "erin", "right")
        assert out.verdict is Verdict.OK and out.rehashed
        assert admin.execute("SELECT argon2_t FROM shadow.passwords WHERE username = 'erin'").fetchone()[0] == 2
        assert retort("shadow", "verify", "erin", "--password-stdin", url=app_url, stdin="right\n").returncode == 0
        with pytest.raises(ValueError):
            store.verify(psycopg.connect(app_url), "erin", "right")
    _, bapp = database(cluster, "py_bcrypt_limit", "bcrypt")
    with psycopg.connect(bapp, autocommit=True) as app:
        with pytest.raises(PasswordTooLong):
            store.set_password(app, "long", "x" * 73)
