"""Read-your-writes on an asynchronous standby, with the semantics of retort's Rust
`wait_for_lsn`: a bounded wait until the standby has replayed a WAL position the primary gave
after a commit; a server not in recovery (a primary) has everything it wrote."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

QUERY = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"


def parse_lsn(text: str) -> int:
    """'16/B374D848' -> its 64-bit position."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def current_lsn(primary) -> int:
    """The primary's WAL insert position: every write committed before it is at or below it."""
    (lsn,) = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    return parse_lsn(lsn)


@dataclass(frozen=True)
class ReplayWait:
    """caught: the standby has replayed it (after `waited` seconds); else `replayed` is where it was."""

    caught: bool
    waited: float
    replayed: Optional[int] = None


def wait_for_lsn(standby, lsn: int, timeout: float) -> ReplayWait:
    """Polls the standby (0.5 ms doubling to 10 ms between asks) until it has replayed `lsn`,
    at most `timeout` seconds."""
    began = time.monotonic()
    pause = 0.0005
    while True:
        in_recovery, replayed_text = standby.execute(QUERY).fetchone()
        replayed = parse_lsn(replayed_text) if replayed_text else None
        waited = time.monotonic() - began
        if not in_recovery or (replayed is not None and replayed >= lsn):
            return ReplayWait(True, waited, replayed)
        if waited >= timeout:
            return ReplayWait(False, waited, replayed)
        time.sleep(min(pause, timeout - waited))
        pause = min(pause * 2, 0.01)
