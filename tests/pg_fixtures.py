"""A real PostgreSQL + PostGIS server for the tests, and the ``workspace`` fixture over both stores.

``pg_url`` (session): ``GRIDMAP_TEST_PG_URL`` when set (a database the tests may create schemas
in, PostGIS installable or installed); otherwise a throwaway cluster started here: ``initdb`` in
a temporary folder (trust authentication, local only), a free TCP port on 127.0.0.1 and the unix
socket in that folder, stopped and deleted at the end. ``initdb`` refuses to run as root: as root
the cluster belongs to the ``postgres`` system user (Debian's ``postgresql`` package creates it)
and is run through ``runuser -u postgres``. Tests skip cleanly, with the reason, when the server
binaries, the PostGIS extension or psycopg are missing. No mocks: every PostGIS test talks to
the server.

Each test gets its own schema (``postgresql://…?schema=t_<random>``), so tests and xdist workers
share a server without seeing each other's plans. Under xdist each worker starts its own cluster
(about 2 s) when it runs a PostGIS test.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridmap.plans.postgis import connection_parts, is_database_url

try:
    import psycopg
except ImportError:  # the PostGIS tests skip
    psycopg = None

BACKENDS = ("gpkg", "postgis")


def bin_dir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    return Path(dirs[-1]) if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def start_cluster(bindir: Path) -> tuple[str, Path, str | None]:
    """initdb + pg_ctl start; the URL, the folder, the user running it (None: this one)."""
    user = None
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to own the cluster")
    folder = Path(tempfile.mkdtemp(prefix="gridmap-pg-"))
    data = folder / "data"
    if user:
        shutil.chown(folder, user)
    os.chmod(folder, 0o755)
    init = subprocess.run(
        _as_owner(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            user,
        ),
        capture_output=True, text=True,
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    port = _free_port()
    opts = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c max_connections=60 -c shared_buffers=32MB"
    )
    start = subprocess.run(
        _as_owner(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"),
             "-w", "-t", "60", "start"],
            user,
        ),
        capture_output=True, text=True,
    )  # fmt: skip
    if start.returncode != 0:
        log = (
            (folder / "log").read_text(errors="replace")[-500:] if (folder / "log").exists() else ""
        )
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()[-300:]} {log}")
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", folder, user


def stop_cluster(bindir: Path, folder: Path, user: str | None) -> None:
    subprocess.run(
        _as_owner([str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate",
                   "-w", "stop"], user),
        capture_output=True,
    )  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)


def _postgis_ready(url: str) -> str | None:
    """None when ``url`` is a server with PostGIS installable; else why not."""
    last = ""
    for _ in range(50):
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as con:
                row = con.execute(
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
                ).fetchone()
                return None if row else "the PostGIS extension is not installed on the server"
        except psycopg.OperationalError as exc:
            last = str(exc)
            time.sleep(0.1)
    return f"cannot connect to {url}: {last}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server with PostGIS: ``GRIDMAP_TEST_PG_URL`` or a throwaway cluster."""
    if psycopg is None:
        pytest.skip("psycopg is missing (pip install 'gridmap[postgis]')")
    given = os.environ.get("GRIDMAP_TEST_PG_URL")
    if given:
        why = _postgis_ready(given)
        if why:
            pytest.skip(f"GRIDMAP_TEST_PG_URL: {why}")
        yield given
        return
    bindir = bin_dir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    url, folder, user = start_cluster(bindir)
    try:
        why = _postgis_ready(url)
        if why:
            pytest.skip(why)
        yield url
    finally:
        stop_cluster(bindir, folder, user)


def schema_url(url: str, schema: str | None = None) -> str:
    """``url`` with ``?schema=`` (a fresh random schema when none is named)."""
    schema = schema or f"t_{uuid.uuid4().hex[:10]}"
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture
def pg_workspace(pg_url: str) -> str:
    """A PostGIS workspace URL in a schema of its own."""
    return schema_url(pg_url)


@pytest.fixture(params=BACKENDS)
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A fresh workspace on each store: a GeoPackage path, then a PostGIS URL."""
    if request.param == "gpkg":
        return tmp_path / "w.gpkg"
    request.applymarker(pytest.mark.postgis)
    return schema_url(request.getfixturevalue("pg_url"))


def execute(workspace: str | Path, sql: str) -> None:
    """Run ``sql`` directly on the workspace's database (sqlite3 or psycopg), committed."""
    if is_database_url(workspace):
        dsn, schema = connection_parts(str(workspace))
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f'SET search_path TO "{schema}", public')
            con.execute(sql)
        return
    con = sqlite3.connect(workspace)
    try:
        con.execute(sql)
        con.commit()
    finally:
        con.close()
