"""The Python client against the Rust one, on a real cluster started by `retort cluster start`."""

import bcrypt
import psycopg
import pytest

from conftest import retort
from retort_shadow import PasswordTooLong, ShadowStore, UnusablePassword, Verdict, saslprep


def database(cluster_url, name, mode):
    """(superuser URL, app role URL, operator URL) of a new database with the store installed."""
    with psycopg.connect(cluster_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
        c.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') THEN CREATE ROLE app LOGIN; END IF; END$$")
    url = cluster_url.replace("/postgres?", f"/{name}?")
    r = retort("shadow", "install", "--mode", mode, "--argon2-memory", "1024", "--argon2-iterations", "1",
               "--bcrypt-cost", "4", url=url)
    assert r.returncode == 0, r.stderr
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ops') THEN CREATE ROLE ops LOGIN; END IF; END$$")
        c.execute("GRANT shadow_admin TO ops")
    return url, url + "&user=app", url + "&user=ops"


@pytest.mark.parametrize("mode", ["scram-argon2", "bcrypt"])
def test_passwords_cross_between_rust_and_python(cluster, mode):
    admin_url, app_url, ops_url = database(cluster, f"interop_{mode.replace('-', '_')}", mode)
    store = ShadowStore()
    with psycopg.connect(app_url, autocommit=True) as app, psycopg.connect(ops_url, autocommit=True) as ops:
        # Python enrols, Rust verifies; enrolling again changes nothing.
        assert store.enrol(app, "zoë", "pässwörd ✓")
        assert not store.enrol(app, "zoë", "taken over")
        assert retort("shadow", "verify", "zoë", "--password-stdin", url=app_url, stdin="pässwörd ✓\n").returncode == 0
        assert retort("shadow", "verify", "zoë", "--password-stdin", url=app_url, stdin="taken over\n").returncode == 1
        # Rust (an operator) sets, Python verifies.
        r = retort("shadow", "set", "o'brien", "--password-stdin", url=ops_url, stdin="from rust\n")
        assert r.returncode == 0, r.stderr
        assert store.verify(app, "o'brien", "from rust") is Verdict.OK
        assert store.verify(app, "o'brien", "from python") is Verdict.BAD
        assert store.verify(app, "nobody", "x") is Verdict.BAD
        # Python changes with proof of the current password, Rust verifies the new one.
        assert store.change_password(app, "o'brien", "wrong", "changed ✓") is Verdict.BAD
        assert store.change_password(app, "o'brien", "from rust", "changed ✓") is Verdict.OK
        assert retort("shadow", "verify", "o'brien", "--password-stdin", url=app_url, stdin="changed ✓\n").returncode == 0
        # Rust issues a reset token, Python redeems it once; Python issues one as an operator too.
        r = retort("shadow", "reset-token", "zoë", url=ops_url)
        assert r.returncode == 0, r.stderr
        token = r.stdout.strip()
        assert store.reset_password(app, "zoë", token, "reset ✓")
        assert not store.reset_password(app, "zoë", token, "again")
        assert retort("shadow", "verify", "zoë", "--password-stdin", url=app_url, stdin="reset ✓\n").returncode == 0
        token = store.issue_reset_token(ops, "zoë")
        assert store.reset_password(app, "zoë", token, "reset twice")
        assert store.verify(app, "zoë", "reset twice") is Verdict.OK
        # Unicode: "Ⅸ" and "IX" are one password across both clients.
        assert store.enrol(app, "rune", "Ⅸ\u00a0gates")
        assert retort("shadow", "verify", "rune", "--password-stdin", url=app_url, stdin="IX gates\n").returncode == 0
        r = retort("shadow", "set", "rune2", "--password-stdin", url=ops_url, stdin="I\u00adX gates\n")
        assert r.returncode == 0, r.stderr
        assert store.verify(app, "rune2", "Ⅸ gates") is Verdict.OK
        with pytest.raises(UnusablePassword):
            store.enrol(app, "ghost", "\u00ad\u200b")
        # The app role reads nothing and holds no admin capability.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT * FROM shadow.passwords")
        for call in (store.unlock, store.delete):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                call(app, "zoë")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            store.set_password(app, "zoë", "pwned")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            store.issue_reset_token(app, "zoë")
        assert store.verify(app, "zoë", "reset twice") is Verdict.OK


def test_saslprep_matches_the_rfc():
    assert saslprep("I\u00adX") == "IX"
    assert saslprep("\u2168") == "IX"
    assert saslprep("\u00aa") == "a"
    assert saslprep("crab 🦀") == "crab 🦀"
    for bad in ["\u0007", "\u0627\u0031", "", "\ue000"]:
        with pytest.raises(UnusablePassword):
            saslprep(bad)


def test_lockout_rehash_and_limits(cluster):
    admin_url, app_url, ops_url = database(cluster, "py_lockout", "scram-argon2")
    store = ShadowStore()
    with psycopg.connect(app_url, autocommit=True) as app, psycopg.connect(admin_url, autocommit=True) as admin:
        store.enrol(app, "erin", "right")
        assert [store.verify(app, "erin", "wrong") for _ in range(6)] == [Verdict.BAD] * 5 + [Verdict.LOCKED]
        assert store.verify(app, "erin", "right") is Verdict.LOCKED
        # Rust sees the lock Python caused; the app cannot lift it, an operator can.
        assert retort("shadow", "verify", "erin", "--password-stdin", url=app_url, stdin="right\n").returncode == 3
        assert retort("shadow", "unlock", "erin", url=app_url).returncode == 1
        assert retort("shadow", "unlock", "erin", url=ops_url).returncode == 0
        assert store.verify(app, "erin", "right") is Verdict.OK
        # A stronger policy: the next good login re-keys, and Rust still verifies the new verifier.
        admin.execute("UPDATE shadow.settings SET argon2_t = 2")
        out = store.verify_outcome(app, "erin", "right")
        assert out.verdict is Verdict.OK and out.rehashed
        assert admin.execute("SELECT argon2_t FROM shadow.passwords WHERE username = 'erin'").fetchone()[0] == 2
        assert retort("shadow", "verify", "erin", "--password-stdin", url=app_url, stdin="right\n").returncode == 0
        with pytest.raises(ValueError):
            store.verify(psycopg.connect(app_url), "erin", "right")
    _, bapp, _ = database(cluster, "py_bcrypt_limit", "bcrypt")
    with psycopg.connect(bapp, autocommit=True) as app:
        with pytest.raises(PasswordTooLong):
            store.enrol(app, "long", "x" * 73)


def test_hashes_written_by_pythons_bcrypt_import_and_move_to_the_store(cluster, tmp_path):
    """$2b$ hashes from the bcrypt package (what passlib and Django write) and $2a$/$2y$ ones,
    with ASCII and 8-bit passwords, log in after `retort shadow import` and are re-keyed."""
    admin_url, app_url, ops_url = database(cluster, "py_import", "scram-argon2")
    users = {}
    for i, (prefix, password) in enumerate([
        (b"2b", "plain ascii"), (b"2b", "ünïcödé ✓"), (b"2a", "old rails"), (b"2a", "naïve"),
        (b"2b", "x" * 72),
    ]):
        h = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=4, prefix=prefix)).decode()
        users[f"user{i}"] = (password, h)
    laravel = "laravel ✓"
    users["php"] = (laravel, bcrypt.hashpw(laravel.encode(), bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1))
    csv = tmp_path / "hashes.csv"
    csv.write_text("username,hash\n" + "".join(f"{u},{h}\n" for u, (_, h) in users.items()) + "argon,$argon2id$v=19$x\n")
    r = retort("shadow", "import", "--csv", str(csv), "--format", "json", url=ops_url)
    assert r.returncode == 3, r.stderr  # one row refused
    import json
    doc = json.loads(r.stdout)
    assert doc["imported"] == len(users) and doc["refused_by_format"] == {"argon2": 1}
    store = ShadowStore()
    with psycopg.connect(app_url, autocommit=True) as app, psycopg.connect(admin_url, autocommit=True) as admin:
        for user, (password, _) in users.items():
            assert store.verify(app, user, password + "!") is Verdict.BAD, user
            out = store.verify_outcome(app, user, password)
            assert (out.verdict, out.rehashed) == (Verdict.OK, True), user
            algorithm, normalization = admin.execute(
                "SELECT algorithm, normalization FROM shadow.passwords WHERE username = %s", (user,)
            ).fetchone()
            assert (algorithm, normalization) == ("scram-argon2", "saslprep"), user
            assert retort("shadow", "verify", user, "--password-stdin", url=app_url,
                          stdin=password + "\n").returncode == 0, user
