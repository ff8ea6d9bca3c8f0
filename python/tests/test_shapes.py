"""retort_shadow.shapes: an old and a new application version through an expanded rename."""

import os
import re

import psycopg
import pytest

from conftest import retort
from retort_shadow.shapes import search_path, use_shape


def revision(project, slug):
    names = sorted(n for n in os.listdir(os.path.join(project, "migrations")) if slug in n)
    assert len(names) == 1, names
    return names[0][:12]


def test_each_version_reads_its_own_names_and_complete_waits_for_the_old_one(cluster, tmp_path):
    with psycopg.connect(cluster, autocommit=True) as c:
        c.execute('CREATE DATABASE "shapes"')
    url = cluster.replace("/postgres?", "/shapes?")
    project = str(tmp_path)

    def run(*args):
        r = retort(*args, url=url, cwd=project)
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    run("init")
    with open(os.path.join(project, "schema.sql"), "w") as f:
        f.write("CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n")
    run("new", "-m", "base", "--autogenerate", "--dev-url", cluster)
    run("upgrade")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 20000) g")
        c.execute("ANALYZE users")
    old = revision(project, "_base")
    assert run("search-path", old).stdout.strip() == search_path(old)

    # The old version connects before the change, not in autocommit: the setting is committed.
    old_app = psycopg.connect(url)
    use_shape(old_app, old)
    old_app.rollback()
    assert old_app.execute("SELECT name FROM users WHERE id = 1").fetchone() == ("user 1",)
    old_app.commit()

    with open(os.path.join(project, "schema.sql"), "w") as f:
        f.write("CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL);\n")
    run("new", "-m", "rename", "--autogenerate", "--dev-url", cluster, "--rename", "users.name=full_name")
    run("upgrade")
    new = revision(project, "rename_contract")
    new_app = psycopg.connect(url, autocommit=True)
    use_shape(new_app, new)

    # Each version writes and reads under its own names, and sees the other's rows.
    old_app.execute("INSERT INTO users (id, name) VALUES (-1, 'from the old version')")
    old_app.commit()
    new_app.execute("INSERT INTO users (id, full_name) VALUES (-2, 'from the new version')")
    assert new_app.execute("SELECT full_name FROM users WHERE id = -1").fetchone() == ("from the old version",)
    assert old_app.execute("SELECT name FROM users WHERE id = -2").fetchone() == ("from the new version",)
    old_app.commit()

    # complete refuses while the old version is connected, and names its session.
    r = retort("complete", url=url, cwd=project)
    assert r.returncode != 0
    assert str(old_app.info.backend_pid) in r.stdout + r.stderr
    old_app.close()
    run("complete")
    assert new_app.execute("SELECT full_name FROM users WHERE id = -1").fetchone() == ("from the old version",)
    new_app.close()


def test_bad_calls_are_refused_before_anything_is_sent(cluster):
    with pytest.raises(ValueError, match="12 lowercase hex"):
        search_path("HEAD")
    with psycopg.connect(cluster) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(ValueError, match="outside a transaction"):
            use_shape(conn, "0123456789ab")
        conn.rollback()
        with pytest.raises(ValueError, match="12 lowercase hex"):
            use_shape(conn, "x'; DROP TABLE users; --")
    assert re.fullmatch(r'retort_v_0123456789ab, "\$user", public', search_path("0123456789ab"))
