"""The PostgreSQL server the cases and the benchmarks use, administered over psycopg."""

import os

import psycopg
from psycopg import sql

POSTGRES_URL = os.environ.get(
    "TEMPLATE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Backends serving clients: the connections a service's pool (or PgBouncer) opens, and nothing the
# server runs for itself.
CLIENT_BACKENDS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
)


# Connections this user may still open: max_connections, less the slots kept for superusers
# (unless it is one) and those other clients hold now.
FREE_CONNECTIONS = """
SELECT current_setting('max_connections')::int
    - CASE WHEN rolsuper THEN 0 ELSE current_setting('superuser_reserved_connections')::int END
    - (SELECT count(*) FROM pg_stat_activity
       WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())
FROM pg_roles WHERE rolname = current_user
"""


class NoServerError(RuntimeError):
    """No PostgreSQL answered at the configured URL; the message says how to provide one."""


class PostgresServer:
    """A server whose user may create databases; builds URLs to them for any driver's scheme."""

    def __init__(self, url: str = POSTGRES_URL) -> None:
        self.dsn = url
        self.info = psycopg.conninfo.conninfo_to_dict(url)
        self.host = str(self.info.get("host", "127.0.0.1"))
        self.port = int(self.info.get("port", 5432))
        self.user = str(self.info.get("user", "postgres"))

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)

    def check(self) -> "PostgresServer":
        try:
            self.connect().close()
        except psycopg.OperationalError as error:
            raise NoServerError(
                f"The PostgreSQL cases need a server and none answered at {self.dsn} ({error}). "
                "Start one there, or set TEMPLATE_POSTGRES_URL=postgresql://user:password@host:"
                "port/postgres for a user that may create databases."
            ) from error
        return self

    def url(self, scheme: str, database: str, *, port: int | None = None) -> str:
        """A URL for `database` with a driver's scheme; `port` for a PgBouncer in front."""
        password = f":{self.info['password']}" if self.info.get("password") else ""
        return f"{scheme}://{self.user}{password}@{self.host}:{port or self.port}/{database}"

    def recreate(self, database: str) -> None:
        self.drop(database)
        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))

    def drop(self, database: str) -> None:
        with self.connect() as connection:
            name = sql.Identifier(database)
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} (FORCE)").format(name))

    def connections_to(self, database: str, via: psycopg.Connection | None = None) -> int:
        """Client connections open to `database` now; `via` reuses a connection for sampling."""
        if via is None:
            with self.connect() as connection:
                return self.connections_to(database, connection)
        row = via.execute(CLIENT_BACKENDS, (database,)).fetchone()
        return int(row[0]) if row else 0

    def free_connections(self) -> int:
        """Connections the configured user could still open (this check's own not counted)."""
        with self.connect() as connection:
            row = connection.execute(FREE_CONNECTIONS).fetchone()
        return int(row[0]) if row else 0
