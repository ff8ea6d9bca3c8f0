"""Python client of retort's shadow password store, over psycopg 3.

The application's database role can set and check passwords through the store's SECURITY DEFINER
functions but can never read a hash (see retort's README). In the ``scram-argon2`` mode the
password never reaches the database: this client derives ``argon2id(password, salt)`` itself
(argon2-cffi) and answers a one-time server nonce with a SCRAM proof (hmac/hashlib). It speaks
exactly the protocol of the Rust crate ``retort-shadow``: a password set from Rust verifies here
and the other way round.

    import psycopg
    from retort_shadow import ShadowStore, Verdict

    with psycopg.connect(url, autocommit=True) as conn:
        store = ShadowStore("shadow")
        store.set_password(conn, "alice", "correct horse")
        assert store.verify(conn, "alice", "battery staple") is Verdict.BAD

Connections must be in autocommit mode: failed-attempt counters and consumed nonces have to be
committed whatever the caller does next.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from psycopg import sql

__all__ = ["ShadowStore", "Verdict", "Policy", "Outcome", "PasswordTooLong", "ServerSignatureError"]

SALT_LEN = 16
NONCE_LEN = 18
KEY_LEN = 32


class Verdict(enum.Enum):
    """The answer to a password check. Unknown users get BAD, like wrong passwords."""

    OK = "ok"
    BAD = "bad"
    LOCKED = "locked"


@dataclass(frozen=True)
class Policy:
    """The store's policy for new passwords."""

    mode: str
    argon2_m_kib: int
    argon2_t: int
    argon2_p: int
    bcrypt_cost: int


@dataclass(frozen=True)
class Outcome:
    """A verdict, and whether the stored verifier was replaced by one with the current policy."""

    verdict: Verdict
    rehashed: bool


class PasswordTooLong(ValueError):
    """bcrypt reads only the first 72 bytes of a password; longer ones are refused, not cut."""


class ServerSignatureError(RuntimeError):
    """The store accepted the login but could not prove it holds the user's server key."""


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def salted_password(password: str, salt: bytes, m_kib: int, t: int, p: int) -> bytes:
    """argon2id(password, salt) with 32 bytes of output."""
    return hash_secret_raw(
        password.encode("utf-8"), salt, time_cost=t, memory_cost=m_kib, parallelism=p,
        hash_len=KEY_LEN, type=Type.ID, version=19,
    )


def verifier(salted: bytes) -> tuple[bytes, bytes]:
    """(StoredKey, ServerKey) for a salted password."""
    client_key = _hmac(salted, b"Client Key")
    return hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key")


def auth_message(username: str, client_nonce: bytes, server_nonce: bytes, salt: bytes, m: int, t: int, p: int) -> bytes:
    """The bytes both sides sign (the same as retort_shadow::scram::auth_message)."""
    return (
        f"retort-shadow-v1,u={username.encode('utf-8').hex()},c={client_nonce.hex()},"
        f"s={server_nonce.hex()},salt={salt.hex()},m={m},t={t},p={p}"
    ).encode("ascii")


def client_proof(salted: bytes, message: bytes) -> bytes:
    """ClientKey XOR HMAC(StoredKey, AuthMessage)."""
    client_key = _hmac(salted, b"Client Key")
    signature = _hmac(hashlib.sha256(client_key).digest(), message)
    return bytes(a ^ b for a, b in zip(client_key, signature))


class ShadowStore:
    """The store installed in one schema (``shadow`` by default); holds no connection."""

    def __init__(self, schema: str = "shadow") -> None:
        s = sql.Identifier(schema)
        self.schema = schema
        self._parameters = sql.SQL("SELECT mode, argon2_m_kib, argon2_t, argon2_p, bcrypt_cost FROM {}.parameters()").format(s)
        self._set_scram = sql.SQL("SELECT {}.set_scram(%s, %s, %s, %s, %s, %s, %s)").format(s)
        self._set_bcrypt = sql.SQL("SELECT {}.set_bcrypt(%s, %s)").format(s)
        self._begin = sql.SQL("SELECT algorithm, salt, argon2_m_kib, argon2_t, argon2_p, server_nonce FROM {}.begin_login(%s)").format(s)
        self._finish = sql.SQL("SELECT verdict, server_signature, needs_rehash FROM {}.finish_login(%s, %s, %s, %s)").format(s)
        self._check_bcrypt = sql.SQL("SELECT verdict, needs_rehash FROM {}.check_bcrypt(%s, %s)").format(s)
        self._lock = sql.SQL("SELECT coalesce({}.lock(%s, coalesce(%s::timestamptz, 'infinity')), false)").format(s)
        self._unlock = sql.SQL("SELECT coalesce({}.unlock(%s), false)").format(s)
        self._delete = sql.SQL("SELECT coalesce({}.delete(%s), false)").format(s)

    @staticmethod
    def _check(conn) -> None:
        if not conn.autocommit:
            raise ValueError(
                "use an autocommit connection (psycopg.connect(..., autocommit=True)): the store's "
                "failed-attempt counters and consumed nonces must be committed"
            )

    def policy(self, conn) -> Policy:
        self._check(conn)
        row = conn.execute(self._parameters).fetchone()
        return Policy(*row)

    def set_password(self, conn, username: str, password: str) -> None:
        """Sets or replaces the password in the store's current mode."""
        if not username:
            raise ValueError("the user name must not be empty")
        if not password:
            raise ValueError("the password must not be empty")
        pol = self.policy(conn)
        if pol.mode == "scram-argon2":
            salt = os.urandom(SALT_LEN)
            salted = salted_password(password, salt, pol.argon2_m_kib, pol.argon2_t, pol.argon2_p)
            stored, server = verifier(salted)
            conn.execute(self._set_scram, (username, salt, pol.argon2_m_kib, pol.argon2_t, pol.argon2_p, stored, server))
        else:
            n = len(password.encode("utf-8"))
            if n > 72:
                raise PasswordTooLong(f"the password is {n} bytes long; bcrypt uses only the first 72, so it is refused")
            conn.execute(self._set_bcrypt, (username, password))

    def verify(self, conn, username: str, password: str) -> Verdict:
        """Checks a password; a right one with weaker stored parameters is re-keyed."""
        return self.verify_outcome(conn, username, password).verdict

    def verify_outcome(self, conn, username: str, password: str) -> Outcome:
        self._check(conn)
        algorithm, salt, m, t, p, server_nonce = conn.execute(self._begin, (username,)).fetchone()
        if algorithm == "bcrypt":
            verdict, needs_rehash = conn.execute(self._check_bcrypt, (username, password)).fetchone()
        else:
            client_nonce = os.urandom(NONCE_LEN)
            salted = salted_password(password, bytes(salt), m, t, p)
            message = auth_message(username, client_nonce, bytes(server_nonce), bytes(salt), m, t, p)
            proof = client_proof(salted, message)
            verdict, signature, needs_rehash = conn.execute(
                self._finish, (username, client_nonce, bytes(server_nonce), proof)
            ).fetchone()
            if verdict == "ok":
                _, server_key = verifier(salted)
                if signature is None or not hmac.compare_digest(_hmac(server_key, message), bytes(signature)):
                    raise ServerSignatureError(
                        "the store accepted the login but its server signature is wrong; it may have been tampered with"
                    )
        v = Verdict(verdict)
        rehashed = v is Verdict.OK and bool(needs_rehash)
        if rehashed:
            self.set_password(conn, username, password)
        return Outcome(v, rehashed)

    def lock(self, conn, username: str, until=None) -> bool:
        self._check(conn)
        return conn.execute(self._lock, (username, until)).fetchone()[0]

    def unlock(self, conn, username: str) -> bool:
        self._check(conn)
        return conn.execute(self._unlock, (username,)).fetchone()[0]

    def delete(self, conn, username: str) -> bool:
        self._check(conn)
        return conn.execute(self._delete, (username,)).fetchone()[0]
