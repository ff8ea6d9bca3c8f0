"""SQLAlchemy models as PostgreSQL DDL, exactly as SQLAlchemy would create them.

retort's autogenerate and ``retort check`` compare the migrations with a desired schema. Teams
that keep their schema in SQLAlchemy models point retort at them::

    # retort.toml
    [migrations]
    schema_command = "python -m retort_sqlalchemy myapp.models:Base"

and retort loads what this prints into a throwaway database. The DDL comes from SQLAlchemy's own
PostgreSQL dialect, through ``metadata.create_all`` on a mock engine: enums, sequences, identity
and computed columns, server defaults, CHECK/UNIQUE/foreign keys, indexes with expressions,
``postgresql_where``/``postgresql_using``/``postgresql_include``, comments, schemas, and every
``DDL`` attached with ``event.listen`` (views, functions, triggers), in create_all's order.
Nothing connects to a database.
"""

from __future__ import annotations

import importlib
from typing import Any, List, Union

from sqlalchemy import MetaData, create_mock_engine
from sqlalchemy.schema import CreateIndex

__all__ = ["render", "metadata_of", "load", "TargetError"]


class TargetError(ValueError):
    """The MODULE:ATTRIBUTE given does not name a MetaData or a declarative base."""


def metadata_of(obj: Any) -> MetaData:
    """The MetaData of a declarative base (or a mapped class), or the MetaData itself."""
    if isinstance(obj, MetaData):
        return obj
    md = getattr(obj, "metadata", None)
    if isinstance(md, MetaData):
        return md
    raise TargetError(
        f"{obj!r} is neither a MetaData nor a declarative base with .metadata "
        "(name the Base class, e.g. myapp.models:Base, or a MetaData object)"
    )


def load(target: str) -> MetaData:
    """Imports ``MODULE:ATTRIBUTE`` (attributes may be dotted) and returns its MetaData."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"expected MODULE:ATTRIBUTE (e.g. myapp.models:Base), got {target!r}")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attr!r}") from None
    return metadata_of(obj)


def render(target: Union[MetaData, Any]) -> str:
    """The DDL ``create_all`` would run for ``target`` (a MetaData or a declarative base), as a
    script: one statement per paragraph, each ending with a semicolon."""
    metadata = metadata_of(target)
    statements: List[str] = []
    # create_all walks a table's indexes as a set, in an order that changes from one process
    # to the next: a run of CREATE INDEX statements is written sorted by index name.
    indexes: List[tuple] = []

    def flush() -> None:
        statements.extend(text for _, text in sorted(indexes))
        indexes.clear()

    def execute(ddl: Any, *multiparams: Any, **params: Any) -> None:
        text = str(ddl.compile(dialect=engine.dialect)).strip()
        while text.endswith(";"):
            text = text[:-1].rstrip()
        if not text:
            return
        if isinstance(ddl, CreateIndex):
            indexes.append((str(ddl.element.name), text + ";"))
            return
        flush()
        statements.append(text + ";")

    # "named" keeps a DDL's percent signs as written (pyformat drivers double them).
    engine = create_mock_engine("postgresql+psycopg://", execute, paramstyle="named")
    metadata.create_all(engine, checkfirst=False)
    flush()
    return "".join(s + "\n\n" for s in statements)
