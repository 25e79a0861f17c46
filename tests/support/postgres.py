"""A real PostgreSQL server for tests.

``CITYBRAIN_TEST_PG`` picks where it comes from:

- ``auto`` (default): the server on 127.0.0.1:5432 (trust auth, database ``test``) if one answers,
  else our own, started from Debian's packages (``postgresql``, ``/usr/lib/postgresql/*/bin``);
- ``external``: only the running server (``CITYBRAIN_TEST_PG_URL`` overrides its admin URL);
- ``own``: always our own: ``initdb`` in a temporary folder (as user ``postgres`` when we are
  root, because ``initdb`` refuses root), ``fsync=off``, a free port, its socket in that folder.

Each test session gets a fresh, uniquely named database, dropped at the end; our own server is
stopped and deleted at the end. When no server can be had the tests are skipped with the reason.

PostGIS (Debian ``postgresql-15-postgis-3``, installed by ``scripts/install --test``):
``create_database(..., extensions=["postgis"])`` creates the extension in the new database, on the
running server and on our own alike (our own server is taken from a PostgreSQL version that has
PostGIS installed, when one has). ``postgis_url`` is a session database with PostGIS; it skips,
naming the package, when the server lacks it.

Use the fixtures by importing them into a ``conftest.py``::

    from support.postgres import own_postgres, postgres_server, postgres_url  # noqa: F401
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

__all__ = [
    "DEFAULT_ADMIN_URL",
    "OwnPostgres",
    "PostgresServer",
    "PostgresUnavailableError",
    "create_database",
    "drop_database",
    "external_admin_url",
    "has_extension",
    "own_postgres",
    "postgis_url",
    "postgres_server",
    "postgres_url",
    "server_from_env",
]

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MODE_VAR = "CITYBRAIN_TEST_PG"
URL_VAR = "CITYBRAIN_TEST_PG_URL"
BIN_VAR = "CITYBRAIN_PG_BIN"
_TIMEOUT_S = 60
POSTGIS = "postgis"
POSTGIS_PACKAGE = "postgresql-15-postgis-3"


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server can be used; the message says why."""


def _libpq(url: str) -> str:
    """A psycopg connection string for an SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(_libpq(url), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def external_admin_url() -> str | None:
    """The admin URL of the running server, if one answers."""
    url = os.environ.get(URL_VAR, DEFAULT_ADMIN_URL)
    return url if _answers(url) else None


def has_extension(admin_url: str, extension: str) -> bool:
    """Whether the server of ``admin_url`` has ``extension`` installed (can create it)."""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = %s", (extension,)
        ).fetchone()
    return row is not None


def create_database(admin_url: str, name: str, *, extensions: Sequence[str] = ()) -> str:
    """Create database ``name`` on the server of ``admin_url``, with ``extensions``; its URL.

    Raises:
        PostgresUnavailableError: an extension cannot be created (the database is dropped).
    """
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(admin_url, name)
    try:
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            for extension in extensions:
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                )
    except psycopg.Error as exc:
        drop_database(admin_url, name)
        hint = f" (apt-get install {POSTGIS_PACKAGE})" if POSTGIS in extensions else ""
        raise PostgresUnavailableError(f"cannot create extension(s) {list(extensions)}{hint}: "
                                       f"{exc}") from exc  # fmt: skip
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name``, disconnecting whoever still uses it."""
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _bindir() -> Path:
    """The newest server binaries, preferring a version with PostGIS installed."""
    if configured := os.environ.get(BIN_VAR):
        return Path(configured)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise PostgresUnavailableError(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: "
            "apt-get install postgresql (or set CITYBRAIN_PG_BIN)"
        )
    with_postgis = [
        initdb
        for initdb in found
        if Path(f"/usr/share/postgresql/{initdb.parts[-3]}/extension/postgis.control").is_file()
    ]
    return (with_postgis or found)[-1].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class OwnPostgres:
    """A throw-away PostgreSQL server in a temporary folder, which we can stop and start."""

    bindir: Path
    root: Path
    port: int
    user: str | None  # the account the server runs as when we are root

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def create(cls) -> OwnPostgres:
        """``initdb`` and start a new server.

        Raises:
            PostgresUnavailableError: no binaries, no ``postgres`` account, or it failed.
        """
        bindir = _bindir()
        user = None
        root = Path(tempfile.mkdtemp(prefix="citybrain-pg-"))
        if os.geteuid() == 0:
            user = "postgres"
            try:
                account = pwd.getpwnam(user)
            except KeyError:
                shutil.rmtree(root)
                raise PostgresUnavailableError(
                    "running as root and there is no 'postgres' account for initdb"
                ) from None
            os.chown(root, account.pw_uid, account.pw_gid)
        server = cls(bindir=bindir, root=root, port=_free_port(), user=user)
        try:
            server._run("initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
            server.start()
        except PostgresUnavailableError:
            server.remove()
            raise
        return server

    def start(self) -> None:
        """Start the server (again) on the same port and wait until it accepts connections."""
        options = (
            f"-c fsync=off -c full_page_writes=off -c synchronous_commit=off -p {self.port} "
            f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", str(_TIMEOUT_S), "start")  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            # Already gone is fine: the folder goes anyway.
            with contextlib.suppress(PostgresUnavailableError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        try:
            subprocess.run(
                command, check=True, capture_output=True, text=True, timeout=_TIMEOUT_S,
                cwd=self.root,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailableError(f"{program} failed: {detail}\n{tail}".strip()) from exc


@dataclass(frozen=True)
class PostgresServer:
    """The server a test session uses: its admin URL and, if we started it, its handle."""

    admin_url: str
    own: OwnPostgres | None


def server_from_env() -> PostgresServer:
    """The server ``CITYBRAIN_TEST_PG`` asks for; the caller removes an own one when done.

    Raises:
        PostgresUnavailableError: none can be had; the message says why.
    """
    mode = os.environ.get(MODE_VAR, "auto")
    if mode not in ("auto", "own", "external"):
        raise PostgresUnavailableError(f"{MODE_VAR}={mode!r}: use auto, own or external")
    if mode != "own" and (url := external_admin_url()) is not None:
        return PostgresServer(admin_url=url, own=None)
    if mode == "external":
        url = os.environ.get(URL_VAR, DEFAULT_ADMIN_URL)
        raise PostgresUnavailableError(f"{MODE_VAR}=external but no server answers at {url}")
    own = OwnPostgres.create()
    return PostgresServer(admin_url=own.admin_url, own=own)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (see the module docstring); skips if there is none."""
    try:
        server = server_from_env()
    except PostgresUnavailableError as exc:
        pytest.skip(f"no PostgreSQL server for the tests: {exc}")
    try:
        yield server
    finally:
        if server.own is not None:
            server.own.remove()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database for this test session, dropped at its end.

    With PostGIS (the store's sites need it) where the server has it; the store's migrations
    create it otherwise, which fails there naming the missing package.
    """
    name = f"citybrain_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    extensions = [POSTGIS] if has_extension(postgres_server.admin_url, POSTGIS) else []
    url = create_database(postgres_server.admin_url, name, extensions=extensions)
    try:
        yield url
    finally:
        drop_database(postgres_server.admin_url, name)


@pytest.fixture(scope="session")
def postgis_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database with PostGIS for this test session; skips when the server lacks it."""
    if not has_extension(postgres_server.admin_url, POSTGIS):
        pytest.skip(f"the PostgreSQL server has no PostGIS: apt-get install {POSTGIS_PACKAGE}")
    name = f"citybrain_gis_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_server.admin_url, name, extensions=[POSTGIS])
    try:
        yield url
    finally:
        drop_database(postgres_server.admin_url, name)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    """A server of our own for one test, which the test may stop and start; skips if impossible."""
    try:
        server = OwnPostgres.create()
    except PostgresUnavailableError as exc:
        pytest.skip(f"cannot start an own PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.remove()
