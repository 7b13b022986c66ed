"""Core statements run straight on the DBAPI cursor of a SQLAlchemy connection (MySQL/MariaDB).

The purchase's statements are tiny, and SQLAlchemy's per-execution work around each (execution
context, result object, events) costs about as much Python as the statement's own round trip:
40-50 us of 70-80 (docs/benchmarks.md). For the sale (inventory_core.adapters.sales) a statement
is compiled once per dialect and then run on the connection's own cursor, in its transaction.
What SQLAlchemy does on the way that the rest of the code relies on is kept: the columns' bind
processing, and errors raised as SQLAlchemy's (retry_transient reads deadlocks from them, the
apps answer 503 for OperationalError), a lost connection invalidated. Other dialects (SQLite, in
tests and the local demo) run the statement through SQLAlchemy as usual."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ClauseElement,
    Connection,
    CursorResult,
    Executable,
    Insert,
    bindparam,
    insert,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

_compiled: dict[tuple[int, str], _Compiled] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    rowcount: int  # rows matched (MySQL's FOUND_ROWS, as SQLAlchemy connects)
    lastrowid: int | None  # an INSERT's id; an UPDATE's LAST_INSERT_ID(expr)
    row: tuple | None  # the first row, when the statement returns rows


@dataclass(frozen=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]  # every parameter, with the values the statement itself holds
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]


def _compile(statement: ClauseElement, connection: Connection) -> _Compiled:
    key = (id(statement), connection.dialect.name)  # module-level statements: never collected
    found = _compiled.get(key)
    if found is None:
        compiled = cast("SQLCompiler", statement.compile(dialect=connection.dialect))
        # By the name each parameter has in the SQL (bind_names): compiled.binds also holds
        # anonymous keys, e.g. for a literal in .values(column=None), that name no parameter.
        processors = tuple((name, processor) for bind, name in compiled.bind_names.items()
                           if (processor := bind.type.bind_processor(connection.dialect)))
        found = _Compiled(compiled.string, dict(compiled.params), processors)
        with _lock:
            _compiled[key] = found
    return found


_inserts: dict[tuple[Any, tuple[str, ...]], Insert] = {}


def insert_of(table: Any, columns: tuple[str, ...]) -> Insert:
    """INSERT into `table` (a model or a Table) naming every column it writes, each bound to a
    parameter of the same name: `run` sends the compiled statement as it is and runs no column
    default. Built once per table and columns: building one costs more than executing it."""
    key = (table, columns)
    found = _inserts.get(key)
    if found is None:
        found = _inserts[key] = insert(table).values({name: bindparam(name) for name in columns})
    return found


def run(connection: Connection, statement: ClauseElement, params: dict[str, Any]) -> Outcome:
    """Execute `statement` with `params` in `connection`'s transaction."""
    dialect = connection.dialect
    if dialect.name != "mysql":
        result = cast("CursorResult[Any]", connection.execute(
            cast("Executable", statement), params))
        row = result.first() if result.returns_rows else None
        lastrowid = None if result.returns_rows else result.lastrowid
        return Outcome(result.rowcount, lastrowid, tuple(row) if row is not None else None)
    compiled = _compile(statement, connection)
    values = {**compiled.defaults, **params}
    for name, processor in compiled.processors:
        values[name] = processor(values[name])
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None  # a checked-out connection
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(compiled.sql, values)
        row = cursor.fetchone() if cursor.description else None
        return Outcome(cursor.rowcount, cursor.lastrowid, row)
    except dialect.loaded_dbapi.Error as exc:
        invalidated = dialect.is_disconnect(exc, dbapi_connection, cursor)
        if invalidated:
            connection.invalidate(exc)
        raise DBAPIError.instance(compiled.sql, values, exc, dialect.loaded_dbapi.Error,
                                  connection_invalidated=invalidated, dialect=dialect) from exc
    finally:
        cursor.close()
