"""Sessions for requests (their factory and dependencies), and the error of a failed connect.

The engine they run on is built in engine.py.
"""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry


class DatabaseUnavailableError(Exception):
    """No connection to the database could be opened; the API answers 503."""


def report_connect_failures(engine: AsyncEngine) -> None:
    """Turn any failure to open a connection into DatabaseUnavailableError.

    Drivers report it in their own ways (a bare OSError or TimeoutError, or the OperationalError a
    failing query raises too); one type lets the API answer all of them with the same 503. The
    message names the database without its password.
    """
    where = engine.url.render_as_string(hide_password=True)

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(
        dialect: Dialect,
        _record: ConnectionPoolEntry,
        cargs: tuple[Any, ...],
        cparams: dict[str, Any],
    ) -> DBAPIConnection:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            msg = f"cannot connect to {where}: {type(exc).__name__}: {exc}"
            raise DatabaseUnavailableError(msg) from exc


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit, so a handler can return what it just saved without a
    # second round trip (and without an implicit lazy load, which async I/O forbids).
    return async_sessionmaker(engine, expire_on_commit=False)


# async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hop that costs more
# than the dependency itself on every request.
async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The application's session factory; tests override this dependency."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


# For work that outlives the request's session: background tasks and streamed responses.
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


async def get_session(
    sessionmaker: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """One session per request: committed if the handler succeeds, rolled back if it raises."""
    async with sessionmaker() as session:
        try:
            yield session
        except Exception:
            await session.rollback()
            raise
        await session.commit()


# scope="function" ends the dependency before the response is sent, so a failed commit turns into
# an error response instead of a success the database never kept.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The session factory of handlers that only read; tests override this dependency too."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    return sessionmaker


async def get_read_session(
    sessionmaker: Annotated[async_sessionmaker[AsyncSession], Depends(get_read_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    """One session per reading request. Not for writes: see create_read_sessionmaker."""
    async with sessionmaker() as session:
        yield session


# For GET handlers. scope="function" gives the connection back before the response is sent.
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
