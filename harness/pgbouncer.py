"""A PgBouncer in transaction mode in front of the PostgreSQL server, as the project's account."""

import os
import shutil
import subprocess
from pathlib import Path

from .ports import free_port, wait_for_port
from .postgres import PostgresServer
from .project import hand_over, unprivileged


class NoPgBouncerError(RuntimeError):
    """The pgbouncer binary is not installed; the message says how to get it."""


def start_pgbouncer(
    folder: Path, server: PostgresServer, pool_size: int
) -> tuple[subprocess.Popen[bytes], int]:
    """Start PgBouncer with its config and log in `folder`; returns it and the port it listens on.

    Stop it with terminate(): it runs as the unprivileged account (it refuses root) through
    Popen's own user switch, so signals reach PgBouncer itself, not a runuser in between.
    """
    binary = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if binary is None:
        raise NoPgBouncerError("pgbouncer is not installed: apt-get install pgbouncer")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.host} port={server.port} user={server.user}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmax_client_conn = 2000\n"
    )
    hand_over(folder)
    log = folder / "pgbouncer.log"
    process = subprocess.Popen(
        [binary, str(folder / "pgbouncer.ini")],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        **unprivileged(),
    )
    wait_for_port(port, process, "PgBouncer", log=log)
    return process, port
