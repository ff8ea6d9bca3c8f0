"""``python -m retort_sqlalchemy MODULE:ATTRIBUTE``: print the models' PostgreSQL DDL."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import List, Optional

from . import TargetError, load, render


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retort_sqlalchemy",
        description="Print the PostgreSQL DDL SQLAlchemy's create_all would run for a MetaData or "
        "declarative base, for retort's [migrations] schema_command. Connects to no database.",
        epilog="example: python -m retort_sqlalchemy myapp.models:Base > schema.sql",
    )
    parser.add_argument("target", help="MODULE:ATTRIBUTE of the declarative base or MetaData, e.g. myapp.models:Base")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    args = parser.parse_args(argv)
    # Like `python -m`, import the application's modules from the current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        metadata = load(args.target)
    except TargetError as e:
        print(f"retort_sqlalchemy: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # the application's import failed: show where
        traceback.print_exc(file=sys.stderr)
        print(f"retort_sqlalchemy: cannot import {args.target.partition(':')[0]!r}: {e}", file=sys.stderr)
        return 1
    sql = render(metadata)
    if not sql:
        print(f"retort_sqlalchemy: {args.target} declares no tables, types or DDL", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(sql)
    else:
        sys.stdout.write(sql)
    return 0


if __name__ == "__main__":
    sys.exit(main())
