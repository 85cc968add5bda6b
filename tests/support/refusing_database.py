"""A database that refuses one text, every time: a real poison row, with no mock.

A trigger makes the database itself raise on inserting an incoming SMS that
reads the given text, as PostgreSQL does for a NUL it cannot hold; others make it
refuse every insert into a table, or every update of one for a while.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

REFUSAL = "this database cannot hold it"


def refuse_incoming_text(engine: sa.Engine, text: str) -> None:
    """From now on, storing an incoming SMS reading ``text`` (plain ASCII) raises."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.body = '{text}' THEN RAISE EXCEPTION '{REFUSAL}'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON incoming_messages "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON incoming_messages "
                    f"WHEN NEW.body = '{text}' BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
                )
            )


def refusal_reason(engine: sa.Engine) -> str:
    """The error class the driver raises for that refusal."""
    return "RaiseException" if engine.dialect.name == "postgresql" else "IntegrityError"


def refuse_every_insert(engine: sa.Engine, table: str) -> None:
    """From now on, storing any row in ``table`` raises (a full disk, as the caller sees it)."""
    _refuse_every(engine, table, "INSERT")


@contextmanager
def refusing_every_update(engine: sa.Engine, table: str) -> Iterator[None]:
    """Within the block, changing any row of ``table`` raises (a database that fails a write, as
    the caller sees it); reads of it go on."""
    name = _refuse_every(engine, table, "UPDATE")
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TRIGGER {name}" + (f" ON {table}" if _postgres(conn) else "")))
            if _postgres(conn):
                conn.execute(sa.text(f"DROP FUNCTION {name}()"))


def _refuse_every(engine: sa.Engine, table: str, operation: str) -> str:
    """Make every ``operation`` (INSERT, UPDATE) on ``table`` raise; the trigger's name."""
    name = f"refuse_{operation.lower()}_{table}"
    with engine.begin() as conn:
        if _postgres(conn):
            conn.execute(
                sa.text(
                    f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    f"RAISE EXCEPTION '{REFUSAL}'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(f"CREATE TRIGGER {name} BEFORE {operation} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
            )
        else:
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER {name} BEFORE {operation} ON {table} BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
                )
            )
    return name


def _postgres(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"
