"""The Django recipe: retort takes the desired schema from `python manage.py migrate` run against
a throwaway database (schema_build), autogenerates a migration from it, and `check` is clean
on a database Django migrated itself."""

import os
import shutil
import subprocess
import sys
import tempfile

import psycopg
import pytest

RETORT = os.environ["RETORT_BIN"]
APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "djangoapp")


@pytest.fixture(scope="module")
def cluster():
    d = tempfile.mkdtemp(prefix="retort-dj-")
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


def test_schema_build_with_django_migrate(cluster, tmp_path):
    project = tmp_path / "app"
    shutil.copytree(APP, project)
    # Django's own migration files, as a Django team keeps them (written without a database).
    r = subprocess.run([sys.executable, "manage.py", "makemigrations", "shop"], cwd=project,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (project / "retort.toml").write_text(
        f'[migrations]\ndir = "retort_migrations"\nschema_build = "{sys.executable} manage.py migrate --no-input"\n'
    )
    (project / "retort_migrations").mkdir()
    with psycopg.connect(cluster, autocommit=True) as c:
        c.execute("CREATE DATABASE django_live")
    live = cluster.replace("/postgres?", "/django_live?")

    def retort(*args, url=live):
        return subprocess.run([RETORT, *args, "--dev-url", cluster], cwd=project,
                              env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True)

    r = retort("new", "-m", "shop", "--autogenerate")
    assert r.returncode == 0, r.stderr
    text = (project / r.stdout.strip()).read_text()
    assert "CREATE TABLE public.shop_order" in text and "order_total_positive" in text, text
    # A database Django migrated itself matches the migrations retort wrote.
    from urllib.parse import parse_qs, urlparse
    q = parse_qs(urlparse(live).query)
    env = {**os.environ, "PGHOST": q["host"][0], "PGPORT": q["port"][0], "PGUSER": "postgres",
           "PGDATABASE": "django_live"}
    r = subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=project, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = retort("check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "matches the migrations head" in r.stdout
    # A model change Django has a migration for shows as drift until retort writes its own.
    (project / "shop" / "models.py").write_text(
        (project / "shop" / "models.py").read_text().replace(
            "    name = models.CharField(max_length=100)\n",
            "    name = models.CharField(max_length=100)\n    phone = models.CharField(max_length=20, null=True)\n",
        )
    )
    r = subprocess.run([sys.executable, "manage.py", "makemigrations", "shop"], cwd=project,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = retort("check")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "ADD COLUMN phone" in r.stdout, r.stdout
