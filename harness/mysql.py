"""The MySQL or MariaDB server the MySQL cases use, administered with the server's own client.

The `mariadb` (or `mysql`) command-line client comes with the server packages, so the harness needs
no driver of its own for it.
"""

import os
import shutil
import subprocess
from urllib.parse import unquote, urlsplit

MYSQL_URL = os.environ.get("TEMPLATE_MYSQL_URL", "mysql://root@127.0.0.1:3306")


class NoMySQLServerError(RuntimeError):
    """No MySQL or MariaDB answered at the configured URL; the message says how to provide one."""


class MySQLServer:
    """A server whose user may create databases; builds URLs to them for any driver's scheme."""

    def __init__(self, url: str = MYSQL_URL) -> None:
        self.dsn = url
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 3306
        self.user = unquote(parts.username or "root")
        self.password = unquote(parts.password or "")

    def client(self) -> str:
        found = shutil.which("mariadb") or shutil.which("mysql")
        if found is None:
            raise NoMySQLServerError(
                "The MySQL cases administer the server with its command-line client, and neither "
                "`mariadb` nor `mysql` is on PATH: install it (Debian: apt-get install "
                "mariadb-client)."
            )
        return found

    def execute(self, statement: str) -> str:
        """Run one statement as the server's user; its rows, tab-separated, one per line."""
        result = subprocess.run(
            [
                self.client(),
                f"--host={self.host}",
                f"--port={self.port}",
                f"--user={self.user}",
                "--batch",
                "--skip-column-names",
                "--connect-timeout=5",
                f"--execute={statement}",
            ],
            # The password travels in the environment, not on a command line others can read.
            env={**os.environ, "MYSQL_PWD": self.password},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise NoMySQLServerError(
                f"{statement!r} failed on the MySQL server at {self.host}:{self.port}: "
                f"{result.stderr.strip()}"
            )
        return result.stdout

    def check(self) -> "MySQLServer":
        try:
            self.execute("SELECT 1")
        except NoMySQLServerError as error:
            raise NoMySQLServerError(
                f"The MySQL cases need a MySQL or MariaDB server and none answered at {self.dsn} "
                f"({error}). Start one there, or set TEMPLATE_MYSQL_URL=mysql://user:password@"
                "host:port for a user that may create databases."
            ) from error
        return self

    def url(self, scheme: str, database: str, *, port: int | None = None) -> str:
        """A URL for `database` with a driver's scheme."""
        password = f":{self.password}" if self.password else ""
        where = f"{self.host}:{port or self.port}"
        return f"{scheme}://{self.user}{password}@{where}/{database}?charset=utf8mb4"

    def recreate(self, database: str) -> None:
        self.drop(database)
        self.execute(
            f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )

    def drop(self, database: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS `{database}`")

    def connections_to(self, database: str) -> int:
        """Client connections open to `database` now."""
        rows = self.execute(
            "SELECT count(*) FROM information_schema.PROCESSLIST"
            f" WHERE DB = '{database}' AND ID <> CONNECTION_ID()"
        )
        return int(rows.strip() or 0)

    def free_connections(self) -> int:
        """Connections clients could still open (this check's own not counted)."""
        rows = self.execute(
            "SELECT @@max_connections - count(*) FROM information_schema.PROCESSLIST"
            " WHERE ID <> CONNECTION_ID() AND COMMAND <> 'Daemon'"
        )
        return int(rows.strip() or 0)
