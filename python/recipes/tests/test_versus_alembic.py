"""retort and Alembic side by side, on the same SQLAlchemy model changes and the same databases.

For each case: three databases get `metadata.create_all` of the models *before* the change (one
for each tool) or *after* it (the reference). Alembic's autogenerate (SQLAlchemy 2,
compare_type and compare_server_default on) writes a revision from the "before" database to the
"after" models and `alembic upgrade head` applies it; retort's `diff --to-command "python -m
retort_sqlalchemy ..."` prints its SQL, applied with `psql -v ON_ERROR_STOP=1`. A tool
*converges* when its database then has the reference's schema (retort's catalog comparison:
tables, columns, types, defaults, constraints, indexes, enums, views, functions, triggers,
comments), *misses* when it runs but the schema still differs (or it saw nothing to do), and
*breaks* when its migration fails to apply. The table is written to
target/versus-alembic.md; retort must converge on every row.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import psycopg
import pytest
from sqlalchemy import create_engine

RETORT = os.environ["RETORT_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "..", "target", "versus-alembic.md")

HEADER = """\
import enum
from sqlalchemy import (Column, Integer, BigInteger, String, Text, Enum, ForeignKey, CheckConstraint,
    UniqueConstraint, Index, Identity, DDL, event, func, text, Table, MetaData, Numeric)
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


accounts = Table("accounts", Base.metadata, Column("id", Integer, primary_key=True), Column("name", Text))
"""

# (name, models before, models after); `items` is the table every case changes.
CASES = [
    ("enum value added",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('s', Enum('new', 'done', name='state')))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('s', Enum('new', 'done', 'late', name='state')))"),
    ("enum value removed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('s', Enum('new', 'done', 'late', name='state')))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('s', Enum('new', 'done', name='state')))"),
    ("enum value renamed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('s', Enum('new', 'done', name='state')))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('s', Enum('new', 'finished', name='state')))"),
    ("server_default changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer, server_default='1'))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer, server_default='5'))"),
    ("CHECK constraint added",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer), CheckConstraint('qty > 0', name='items_qty_positive'))"),
    ("CHECK constraint changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer), CheckConstraint('qty > 0', name='items_qty_positive'))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer), CheckConstraint('qty >= 0', name='items_qty_positive'))"),
    ("column type changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', String(20)))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text))"),
    ("nullable changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text, nullable=True))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text, nullable=False))"),
    ("index on an expression",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text), Index('items_lower_code', func.lower(text('code'))))"),
    ("partial index",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text), Index('items_code_set', 'code', postgresql_where=text('code IS NOT NULL')))"),
    ("unique constraint to unique index",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text), UniqueConstraint('code', name='items_code_key'))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text), Index('items_code_key', 'code', unique=True))"),
    ("comment changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text, comment='the code'), comment='things')",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('code', Text, comment='the item code'), comment='things we sell')"),
    ("identity added",
     "items = Table('items', Base.metadata, Column('id', BigInteger, primary_key=True, autoincrement=False))",
     "items = Table('items', Base.metadata, Column('id', BigInteger, Identity(always=True), primary_key=True))"),
    ("view attached as DDL changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer))\n"
     "event.listen(Base.metadata, 'after_create', DDL('CREATE VIEW big_items AS SELECT id FROM items WHERE qty > 10'))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer))\n"
     "event.listen(Base.metadata, 'after_create', DDL('CREATE VIEW big_items AS SELECT id, qty FROM items WHERE qty > 100'))"),
    ("function attached as DDL changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer))\n"
     "event.listen(Base.metadata, 'after_create', DDL('CREATE FUNCTION double_qty(q integer) RETURNS integer LANGUAGE sql AS $$ SELECT q * 2 $$'))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer))\n"
     "event.listen(Base.metadata, 'after_create', DDL('CREATE FUNCTION double_qty(q integer) RETURNS integer LANGUAGE sql AS $$ SELECT q + q $$'))"),
    ("trigger attached as DDL added",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer))\n"
     "event.listen(Base.metadata, 'before_create', DDL('CREATE FUNCTION no_negative() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.qty := greatest(NEW.qty, 0); RETURN NEW; END $$'))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('qty', Integer))\n"
     "event.listen(Base.metadata, 'before_create', DDL('CREATE FUNCTION no_negative() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.qty := greatest(NEW.qty, 0); RETURN NEW; END $$'))\n"
     "event.listen(items, 'after_create', DDL('CREATE TRIGGER items_no_negative BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION no_negative()'))"),
    ("table moved between schemas",
     "event.listen(Base.metadata, 'before_create', DDL('CREATE SCHEMA IF NOT EXISTS archive'))\n"
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True))",
     "event.listen(Base.metadata, 'before_create', DDL('CREATE SCHEMA IF NOT EXISTS archive'))\n"
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), schema='archive')"),
    ("FK ON DELETE changed",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('account', Integer, ForeignKey('accounts.id', name='items_account_fkey')))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('account', Integer, ForeignKey('accounts.id', name='items_account_fkey', ondelete='CASCADE')))"),
    ("column added",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True))",
     "items = Table('items', Base.metadata, Column('id', Integer, primary_key=True), Column('price', Numeric(10, 2), nullable=False, server_default='0'))"),
]

ENV_PY = """\
import os
from alembic import context
from sqlalchemy import create_engine

config = context.config
target_metadata = config.attributes["target_metadata"]
engine = create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                      compare_server_default=True, include_schemas=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""


@pytest.fixture(scope="module")
def cluster():
    d = tempfile.mkdtemp(prefix="retort-vs-")
    os.chmod(d, 0o755)
    cdir = os.path.join(d, "cluster")
    r = subprocess.run([RETORT, "cluster", "start", "--dir", cdir], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    url = subprocess.run([RETORT, "cluster", "url", "--dir", cdir], capture_output=True, text=True).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([RETORT, "cluster", "stop", "--destroy", "--dir", cdir], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def new_database(cluster, name):
    with psycopg.connect(cluster, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return cluster.replace("/postgres?", f"/{name}?")


def sa_url(url):
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def create_all(url, metadata):
    engine = create_engine(sa_url(url))
    metadata.create_all(engine)
    engine.dispose()


def same_schema(cluster, a, b, workdir):
    r = subprocess.run([RETORT, "diff", a, b, "--exit-code", "--dev-url", cluster], cwd=workdir,
                       capture_output=True, text=True)
    assert r.returncode in (0, 3), r.stderr
    return r.returncode == 0, r.stdout.strip()


def run_alembic(cluster, url, after, workdir, reference):
    from alembic import command
    from alembic.config import Config

    scripts = os.path.join(workdir, "alembic")
    os.makedirs(os.path.join(scripts, "versions"))
    with open(os.path.join(scripts, "env.py"), "w") as f:
        f.write(ENV_PY)
    import alembic
    shutil.copy(os.path.join(os.path.dirname(alembic.__file__), "templates", "generic", "script.py.mako"), scripts)
    cfg = Config()
    cfg.set_main_option("script_location", scripts)
    cfg.set_main_option("sqlalchemy.url", sa_url(url).replace("%", "%%"))
    cfg.attributes["target_metadata"] = after.Base.metadata
    try:
        script = command.revision(cfg, message="change", autogenerate=True)
    except Exception as e:  # autogenerate itself refused
        return "breaks", f"autogenerate failed: {type(e).__name__}: {e}".splitlines()[0]
    body = open(script.path).read()
    upgrade = body.split("def upgrade()")[1].split("def downgrade()")[0]
    ops = [line.strip() for line in upgrade.splitlines() if line.strip().startswith("op.")]
    try:
        command.upgrade(cfg, "head")
    except Exception as e:
        return "breaks", f"{'; '.join(ops)} -> {type(e).__name__}: {str(e).splitlines()[0]}"
    # Alembic's own bookkeeping is not part of the schema being compared.
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP TABLE alembic_version")
    converged, rest = same_schema(cluster, url, reference, workdir)
    if converged:
        return "converges", "; ".join(ops)
    return "misses", ("; ".join(ops) or "detected nothing") + " (still differs: " + " ".join(rest.split())[:160] + ")"


def run_retort(cluster, url, module, workdir, reference, env):
    r = subprocess.run([RETORT, "diff", url, "--to-command", f"{sys.executable} -m retort_sqlalchemy {module}:Base",
                        "--dev-url", cluster], cwd=workdir, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sql = r.stdout
    applied = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"], input=sql,
                             capture_output=True, text=True)
    statements = []
    for chunk in sql.split(";\n"):
        code = " ".join(l for l in chunk.splitlines() if not l.strip().startswith("--"))
        if code.strip() and code.strip() not in ("BEGIN", "COMMIT"):
            statements.append(" ".join(code.split()))
    if applied.returncode != 0:
        return "breaks", applied.stderr.strip().splitlines()[0]
    converged, rest = same_schema(cluster, url, reference, workdir)
    if converged:
        marked = " (marked destructive)" if "-- DESTRUCTIVE" in sql else ""
        return "converges", "; ".join(s[:80] for s in statements) + marked
    return "misses", " ".join(rest.split())[:160]


def test_retort_converges_on_every_case_alembic_is_recorded(cluster, tmp_path):
    sys.path.insert(0, str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.path.join(HERE, "..", "..", "retort-sqlalchemy")])}
    rows = []
    for i, (name, before_src, after_src) in enumerate(CASES):
        for side, src in (("before", before_src), ("after", after_src)):
            (tmp_path / f"case{i}_{side}.py").write_text(HEADER + "\n" + textwrap.dedent(src) + "\n")
        before = __import__(f"case{i}_before")
        after = __import__(f"case{i}_after")
        reference = new_database(cluster, f"case{i}_reference")
        create_all(reference, after.Base.metadata)
        results = {}
        for tool in ("alembic", "retort"):
            url = new_database(cluster, f"case{i}_{tool}")
            create_all(url, before.Base.metadata)
            with psycopg.connect(url, autocommit=True) as c:  # a row, so changes meet data
                c.execute("INSERT INTO accounts (id, name) VALUES (1, 'a')")
            workdir = tmp_path / f"case{i}_{tool}"
            workdir.mkdir()
            if tool == "alembic":
                results[tool] = run_alembic(cluster, url, after, str(workdir), reference)
            else:
                results[tool] = run_retort(cluster, url, f"case{i}_after", str(workdir), reference, env)
        rows.append((name, results))

    lines = ["| model change | Alembic autogenerate | retort |", "|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['alembic'][0]} | {r['retort'][0]} |")
    counts = {tool: {k: sum(1 for _, r in rows if r[tool][0] == k) for k in ("converges", "misses", "breaks")}
              for tool in ("alembic", "retort")}
    lines.append("")
    for tool in ("alembic", "retort"):
        c = counts[tool]
        lines.append(f"{tool}: {c['converges']} of {len(rows)} converge, {c['misses']} miss, {c['breaks']} break")
    lines.append("")
    lines.append("What each tool wrote or why it missed:")
    lines.append("")
    for name, r in rows:
        for tool in ("alembic", "retort"):
            lines.append(f"- {name}, {tool}: {r[tool][0]}: `{r[tool][1][:300]}`")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(OUT.replace(".md", ".json"), "w") as f:
        json.dump({"rows": [[n, r] for n, r in rows], "counts": counts}, f, indent=1)
    print("\n".join(lines))
    failed = [(name, r["retort"]) for name, r in rows if r["retort"][0] != "converges"]
    assert not failed, failed
