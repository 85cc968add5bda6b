"""A database that refuses one text, every time: a real poison row, with no mock.

A trigger makes the database itself raise on inserting an incoming SMS that
reads the given text, as PostgreSQL does for a NUL it cannot hold.
"""

from __future__ import annotations

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
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    f"CREATE FUNCTION refuse_{table}() RETURNS trigger AS $$ BEGIN "
                    f"RAISE EXCEPTION '{REFUSAL}'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
                )
            )
        else:
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
                )
            )
