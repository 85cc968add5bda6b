"""Conditions that tell SQLite's query planner what its missing statistics would have.

SQLite plans without statistics unless an operator ran ``ANALYZE``, and then
guesses how many rows a condition keeps from its shape alone. Where that guess
sends a query to the wrong index, ``selective`` says in the statement itself
that a condition keeps few rows (SQLite's ``unlikely()``), or ``broad`` that it
keeps most (``likely()``); other databases read the condition as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.sqltypes import NullType
from sqlalchemy.sql.visitors import InternalTraversal


class selective(ColumnElement[Any]):  # noqa: N801 (read as a function in a WHERE clause)
    """``condition``, marked as keeping few of the rows it is asked of."""

    type = NullType()  # a condition, not a value: SQLite would be asked whether it equals 1
    inherit_cache = True
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


class broad(selective):  # noqa: N801 (read as a function in a WHERE clause)
    """``condition``, marked as keeping most of the rows it is asked of."""

    inherit_cache = True


@compiles(selective)
def _as_it_is(element: selective, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.condition, **kw)


@compiles(selective, "sqlite")
def _unlikely(element: selective, compiler: SQLCompiler, **kw: Any) -> str:
    return f"unlikely({compiler.process(element.condition, **kw)})"


@compiles(broad, "sqlite")
def _likely(element: broad, compiler: SQLCompiler, **kw: Any) -> str:
    return f"likely({compiler.process(element.condition, **kw)})"
