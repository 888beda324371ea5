"""Run a real PostgreSQL on loopback from Debian's packages, for CI, tests and development.

The server runs as a plain local process over a data directory of ours (``initdb`` and
``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin``), never as the system's own cluster, so
a test can stop, kill and restart it at will. It listens on 127.0.0.1 only, over TCP only (no
Unix socket), with password (SCRAM) authentication. One role, ``sgb``, is the cluster's
superuser: tests create and drop a database each. ``fsync`` is off: that loses data only when
the operating system itself crashes, never when PostgreSQL is killed, so even a ``kill -9``
test sees real crash recovery; a cluster for tests needs no more.

``initdb`` refuses to run as root. When we are root (CI, a container) every server command
runs as the ``postgres`` user the Debian package creates, and the data directory is handed to
that user; it must sit where that user can reach it (``/tmp`` is fine, ``/root`` is not).

CLI (standard library only, so ``.ci/run`` can call it before the virtualenv exists)::

    python3 -m deploy.localpostgres install            # apt-get install postgresql, if missing
    python3 -m deploy.localpostgres start [--dir DIR] [--port P]   # prints the database URL
    python3 -m deploy.localpostgres start --dir DIR --port 0       # any free port
    python3 -m deploy.localpostgres stop|restart|status [--dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from deploy.ports import free_port

HOST = "127.0.0.1"
DEFAULT_PORT = 55432  # away from 5432, where a system cluster may already listen
DEFAULT_DIR = Path(tempfile.gettempdir()) / "sgb-postgres"
ROLE = "sgb"
# A throwaway test cluster on loopback; production URLs come from settings.
PASSWORD = "sgb"  # noqa: S105
DATABASE = "sgb_test"
SERVER_USER = "postgres"  # the Debian package's user, for when we are root
START_TIMEOUT_S = 60
COMMAND_TIMEOUT_S = 120
INSTALL_TIMEOUT_S = 900
LOG_TAIL_LINES = 30

# Appended to postgresql.conf at initdb; pg_ctl restarts read them again.
_SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "unix_socket_directories": "''",
    "max_connections": "300",  # every test engine holds a small pool
    # Commits still write their WAL before they answer (synchronous_commit stays on: off
    # would lose the last commits to a kill -9); only the flush to disk is skipped.
    "fsync": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
}


class LocalPostgresError(RuntimeError):
    """PostgreSQL could not be installed, initialised, started or stopped."""


def _is_root() -> bool:
    return os.geteuid() == 0


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl live: ``SGB_POSTGRES_BIN``, else the newest Debian version."""
    if env := os.environ.get("SGB_POSTGRES_BIN"):
        return Path(env)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def install() -> Path:
    """Installs Debian's ``postgresql`` package unless its binaries are already here."""
    if (found := bin_dir()) is not None:
        return found
    if not _is_root() or shutil.which("apt-get") is None:
        raise LocalPostgresError(
            "PostgreSQL's server binaries are missing: install Debian's postgresql package "
            "(apt-get install postgresql) or set SGB_POSTGRES_BIN"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
    ):
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            raise LocalPostgresError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr}")
    if (found := bin_dir()) is None:
        raise LocalPostgresError("postgresql installed but no pg_ctl under /usr/lib/postgresql")
    return found


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes: it holds no shared memory.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rpartition(") ")[2][0] != "Z"
    return True


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rpartition(") ")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def saved_port(workdir: Path) -> int | None:
    """The port a data directory under ``workdir`` was initialised with, if any."""
    with contextlib.suppress(OSError, ValueError):
        for line in (workdir / "data" / "postgresql.conf").read_text().splitlines():
            if line.startswith("port = "):
                return int(line.removeprefix("port = "))
    return None


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


class LocalPostgres:
    """One PostgreSQL server over ``workdir/data``, logging to ``workdir/postgres.log``."""

    def __init__(self, workdir: Path = DEFAULT_DIR, port: int | None = None) -> None:
        self.workdir = workdir.absolute()
        self.data_dir = self.workdir / "data"
        self.log_file = self.workdir / "postgres.log"
        self.port = port or saved_port(self.workdir) or free_port()
        self._bin = bin_dir()
        self._started_here = False

    @classmethod
    def temporary(cls, port: int | None = None) -> Self:
        """A server in a fresh directory under /tmp, reachable by the server's user."""
        return cls(Path(tempfile.mkdtemp(prefix="sgb-postgres-")), port)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database (asyncpg)."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+asyncpg://{ROLE}:{PASSWORD}@{HOST}:{self.port}/{database}"

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _alive(pid)

    def start(self) -> None:
        """Initialises the cluster when new, starts it, and creates the test database."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.is_running():
            return
        if _port_open(self.port):
            raise LocalPostgresError(f"port {self.port} is taken by another server")
        self._ctl("start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log_file))
        self._started_here = True
        self._ensure_database()

    def stop(self) -> None:
        """A fast shutdown: sessions are ended, transactions rolled back, data kept."""
        if self.is_running():
            self._ctl("stop", "-m", "fast", "-w", "-t", str(START_TIMEOUT_S))

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL to the postmaster, as a crash; the next start runs crash recovery."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        children = _children(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        # Its backends exit once they notice their parent is gone; a new postmaster refuses to
        # start while any of them still holds the old shared memory.
        deadline = time.monotonic() + START_TIMEOUT_S
        while any(_alive(child) for child in [pid, *children]):
            if time.monotonic() > deadline:
                raise LocalPostgresError(f"PostgreSQL processes of {pid} outlived its SIGKILL")
            time.sleep(0.05)
        # Until its parent reaps it, the dead postmaster's pid still answers, and PostgreSQL
        # would take the pid file for a live server's: every process is gone, so it goes too.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def remove(self) -> None:
        """Stops the server and deletes its directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started_here:
            self.stop()

    # ------------------------------------------------------------------ internals

    def _tool(self, name: str) -> str:
        if self._bin is None:
            raise LocalPostgresError(
                "PostgreSQL is not installed: run `python3 -m deploy.localpostgres install`"
            )
        return str(self._bin / name)

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", SERVER_USER, "--", *cmd] if _is_root() else cmd

    def _run(self, cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self._as_server_user(cmd),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
            env={**os.environ, "PGPASSWORD": PASSWORD, "LC_ALL": "C.UTF-8"},
        )
        if check and done.returncode != 0:
            raise LocalPostgresError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                f"log {self.log_file}:\n{_tail(self.log_file)}"
            )
        return done

    def _ctl(self, action: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self._tool("pg_ctl"), action, "-D", str(self.data_dir), *args]
        return self._run(cmd, check=check)

    def _initdb(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            server = pwd.getpwnam(SERVER_USER)
            os.chown(self.workdir, server.pw_uid, server.pw_gid)
        self.workdir.chmod(0o700)
        password_file = self.workdir / "password"
        password_file.write_text(PASSWORD + "\n")
        if _is_root():
            os.chown(password_file, server.pw_uid, server.pw_gid)
        try:
            self._run(
                [
                    self._tool("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ROLE,
                    f"--pwfile={password_file}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            password_file.unlink()
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# deploy.localpostgres\n")
            conf.write(f"port = {self.port}\n")
            conf.writelines(f"{key} = {value}\n" for key, value in _SETTINGS.items())

    def _psql(self, sql: str, database: str = "postgres") -> str:
        cmd = [self._tool("psql"), "-h", HOST, "-p", str(self.port), "-U", ROLE, "-d", database]
        return self._run([*cmd, "-v", "ON_ERROR_STOP=1", "-tAc", sql]).stdout.strip()

    def _ensure_database(self) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")  # noqa: S608  a constant
        if exists != "1":
            self._psql(f"CREATE DATABASE {DATABASE}")

    def _postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        return None


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.localpostgres", description=__doc__)
    parser.add_argument("action", choices=["install", "start", "stop", "restart", "status", "url"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="work directory")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"for a new directory (default {DEFAULT_PORT}, 0: any)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        if args.action == "install":
            print(f"PostgreSQL binaries in {install()}", file=sys.stderr)
            return 0
        # A directory keeps the port it was made with; --port 0 asks for any free one.
        port = saved_port(args.dir) or (DEFAULT_PORT if args.port is None else args.port)
        server = LocalPostgres(args.dir, port or None)
        if args.action in ("start", "restart"):
            server.restart() if args.action == "restart" else server.start()
            print(server.url)
        elif args.action == "stop":
            server.stop()
        elif args.action == "url":
            print(server.url)
        else:
            running = server.is_running()
            print("running" if running else "stopped")
            return 0 if running else 3
    except LocalPostgresError as exc:
        print(f"localpostgres: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
