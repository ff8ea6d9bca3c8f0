"""What the suites share: the retort binary under test and a throwaway cluster."""

import os
import shutil
import subprocess
import tempfile

import pytest

RETORT = os.environ["RETORT_BIN"]


def retort(*args, url, stdin=None, cwd=None):
    return subprocess.run(
        [RETORT, *args], input=stdin, capture_output=True, text=True, cwd=cwd,
        env={**os.environ, "DATABASE_URL": url},
    )


@pytest.fixture(scope="session")
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
