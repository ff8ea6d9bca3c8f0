"""An application version's shape during retort's two-phase changes, over psycopg 3.

While a change is expanded (``retort upgrade`` ran its expand, ``retort complete`` has not run
yet), the physical tables have the newest shape and the shape before it is served as views in a
schema named after the revision, ``retort_v_<revision>``. Each application version selects its
shape by the revision it was built at, on every new connection, and registers the session so
that ``retort complete`` can refuse while it is connected:

    import psycopg
    from retort_shadow.shapes import use_shape

    conn = psycopg.connect(url)
    use_shape(conn, "3f2a9c1b7e4d")      # the revision this build of the app was made for

With a pool, call it in the pool's ``configure`` callback. PostgreSQL skips a schema in
``search_path`` that does not exist, so the same call is right before a change, during it and
after. This is the same as the Rust ``retort_migrate::shape::use_shape`` and as
``retort search-path REV`` prints.
"""

from __future__ import annotations

import re

from psycopg import pq, sql

__all__ = ["search_path", "shape_schema", "use_shape"]

_REVISION = re.compile(r"[0-9a-f]{12}")


def _checked(revision: str) -> str:
    if not isinstance(revision, str) or not _REVISION.fullmatch(revision):
        raise ValueError(f"{revision!r} is not a revision (12 lowercase hex characters)")
    return revision


def shape_schema(revision: str) -> str:
    """The schema that serves ``revision``'s shape while a later change is expanded."""
    return "retort_v_" + _checked(revision)


def search_path(revision: str) -> str:
    """The ``search_path`` of the application version built at ``revision``."""
    return f'{shape_schema(revision)}, "$user", public'


def use_shape(conn, revision: str, store_schema: str = "retort") -> None:
    """Sets ``search_path`` for ``revision`` and registers the session in the version store.

    Call it on a fresh connection, outside a transaction: on a connection that is not in
    autocommit mode the setting is committed here, so that a later rollback cannot undo it.
    Raises ``ValueError`` for a malformed revision, or inside an open transaction.
    """
    schema = shape_schema(revision)
    status = conn.info.transaction_status
    if status != pq.TransactionStatus.IDLE:
        raise ValueError(
            "use_shape runs outside a transaction (call it right after connecting): "
            "a rollback would undo the search_path"
        )
    conn.execute(
        sql.SQL('SET search_path = {}, "$user", public').format(sql.Identifier(schema))
    )
    conn.execute(
        sql.SQL("SELECT {}.use_shape(%s)").format(sql.Identifier(store_schema)), (revision,)
    )
    if not conn.autocommit:
        conn.commit()
