"""The ceiling's ways to the database: each driver's own pool, with one-statement helpers.

Statements are written with asyncpg's `$1` placeholders; the others' are swapped in here.
"""

import asyncio
import importlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

PLACEHOLDER = re.compile(r"\$\d+")


@dataclass(frozen=True)
class Options:
    # postgresql://... (libpq), mysql://user:password@host:port/database, or a SQLite file's path
    dsn: str
    min_size: int
    max_size: int
    # Behind PgBouncer in transaction mode no statement may stay prepared, as in the service.
    unprepared: bool


class Database(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def one(self, query: str, *args: Any) -> Any: ...
    async def all(self, query: str, *args: Any) -> list[Any]: ...
    async def create_author(self, insert_author: str, insert_event: str, name: str) -> Any: ...


class Asyncpg:
    """asyncpg's own pool: the fixed ceiling every PostgreSQL service is measured against."""

    def __init__(self, options: Options) -> None:
        self.options = options

    async def open(self) -> None:
        import asyncpg

        cache = {"statement_cache_size": 0} if self.options.unprepared else {}
        self.pool = await asyncpg.create_pool(
            self.options.dsn,
            min_size=self.options.min_size,
            max_size=self.options.max_size,
            **cache,
        )

    async def close(self) -> None:
        await self.pool.close()

    async def one(self, query: str, *args: Any) -> Any:
        return await self.pool.fetchrow(query, *args)

    async def all(self, query: str, *args: Any) -> list[Any]:
        return list(await self.pool.fetch(query, *args))

    async def create_author(self, insert_author: str, insert_event: str, name: str) -> Any:
        """The author and its audit event in one transaction, as the service writes them."""
        async with self.pool.acquire() as connection, connection.transaction():
            author = await connection.fetchrow(insert_author, name)
            await connection.execute(insert_event, "author.created", f"authors/{author[0]}")
            return author


class Psycopg:
    """psycopg_pool's pool of autocommit connections."""

    def __init__(self, options: Options) -> None:
        from psycopg_pool import AsyncConnectionPool

        kwargs: dict[str, Any] = {"autocommit": True}
        if options.unprepared:
            kwargs["prepare_threshold"] = None
        self.pool = AsyncConnectionPool(
            options.dsn,
            min_size=options.min_size,
            max_size=options.max_size,
            kwargs=kwargs,
            open=False,
        )

    async def open(self) -> None:
        await self.pool.open(wait=True)

    async def close(self) -> None:
        await self.pool.close()

    async def one(self, query: str, *args: Any) -> Any:
        async with self.pool.connection() as connection:
            return await (await connection.execute(PLACEHOLDER.sub("%s", query), args)).fetchone()

    async def all(self, query: str, *args: Any) -> list[Any]:
        async with self.pool.connection() as connection:
            cursor = await connection.execute(PLACEHOLDER.sub("%s", query), args)
            return await cursor.fetchall()

    async def create_author(self, insert_author: str, insert_event: str, name: str) -> Any:
        async with self.pool.connection() as connection, connection.transaction():
            cursor = await connection.execute(PLACEHOLDER.sub("%s", insert_author), (name,))
            author = await cursor.fetchone()
            assert author is not None
            event = ("author.created", f"authors/{author[0]}")
            await connection.execute(PLACEHOLDER.sub("%s", insert_event), event)
            return author


class Aiosqlite:
    """A few aiosqlite connections in a queue (as many as SQLAlchemy's pool keeps)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def open(self) -> None:
        import aiosqlite

        for _ in range(self.options.max_size):
            connection = await aiosqlite.connect(self.options.dsn, isolation_level=None)
            await connection.execute("PRAGMA foreign_keys = ON")
            self.idle.put_nowait(connection)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        connection = await self.idle.get()
        try:
            yield connection
        finally:
            self.idle.put_nowait(connection)

    async def one(self, query: str, *args: Any) -> Any:
        async with (
            self.connection() as connection,
            connection.execute(PLACEHOLDER.sub("?", query), args) as cursor,
        ):
            return await cursor.fetchone()

    async def all(self, query: str, *args: Any) -> list[Any]:
        async with (
            self.connection() as connection,
            connection.execute(PLACEHOLDER.sub("?", query), args) as cursor,
        ):
            return list(await cursor.fetchall())

    async def create_author(self, insert_author: str, insert_event: str, name: str) -> Any:
        async with self.connection() as connection:
            # IMMEDIATE, as the service begins every writing transaction.
            await connection.execute("BEGIN IMMEDIATE")
            try:
                query = PLACEHOLDER.sub("?", insert_author)
                async with connection.execute(query, (name,)) as cursor:
                    author = await cursor.fetchone()
                assert author is not None
                event = ("author.created", f"authors/{author[0]}")
                await connection.execute(PLACEHOLDER.sub("?", insert_event), event)
            except BaseException:
                await connection.rollback()
                raise
            await connection.commit()
            return author


class MySQL:
    """aiomysql's or asyncmy's own pool (the two share one API), autocommit connections.

    The author is inserted with RETURNING, which MariaDB has (10.5 on) and MySQL 8 has not:
    the benchmark runs against MariaDB, as the service's tests do.
    """

    module = "aiomysql"

    def __init__(self, options: Options) -> None:
        self.options = options

    async def open(self) -> None:
        driver = importlib.import_module(self.module)
        url = urlsplit(self.options.dsn)
        self.pool = await driver.create_pool(
            host=url.hostname or "127.0.0.1",
            port=url.port or 3306,
            user=unquote(url.username or "root"),
            password=unquote(url.password or ""),
            db=url.path.lstrip("/"),
            minsize=self.options.min_size,
            maxsize=self.options.max_size,
            autocommit=True,
            charset="utf8mb4",  # as the service's URL asks (?charset=utf8mb4)
        )

    async def close(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()

    async def one(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as connection, connection.cursor() as cursor:
            await cursor.execute(PLACEHOLDER.sub("%s", query), args)
            return await cursor.fetchone()

    async def all(self, query: str, *args: Any) -> list[Any]:
        async with self.pool.acquire() as connection, connection.cursor() as cursor:
            await cursor.execute(PLACEHOLDER.sub("%s", query), args)
            return list(await cursor.fetchall())

    async def create_author(self, insert_author: str, insert_event: str, name: str) -> Any:
        async with self.pool.acquire() as connection:
            await connection.begin()
            try:
                async with connection.cursor() as cursor:
                    await cursor.execute(PLACEHOLDER.sub("%s", insert_author), (name,))
                    author = await cursor.fetchone()
                    assert author is not None
                    event = ("author.created", f"authors/{author[0]}")
                    await cursor.execute(PLACEHOLDER.sub("%s", insert_event), event)
            except BaseException:
                await connection.rollback()
                raise
            await connection.commit()
            return author


class Aiomysql(MySQL):
    module = "aiomysql"


class Asyncmy(MySQL):
    module = "asyncmy"


DRIVERS: dict[str, type[Asyncpg] | type[Psycopg] | type[Aiosqlite] | type[MySQL]] = {
    "asyncpg": Asyncpg,
    "psycopg": Psycopg,
    "aiosqlite": Aiosqlite,
    "aiomysql": Aiomysql,
    "asyncmy": Asyncmy,
}
