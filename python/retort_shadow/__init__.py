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

What each role may call (store version 2): the application's role logs users in (``verify``),
enrols new users (``enrol``), changes a password with proof of the current one
(``change_password``) and redeems a reset token (``reset_password``); the admin role (NOLOGIN,
granted to operators) also sets any password (``set_password``), locks, unlocks, deletes, and
issues reset tokens (``issue_reset_token``).

Passwords are prepared with SASLprep (RFC 4013, unassigned code points allowed) before they are
hashed, exactly as the Rust client does (``saslprep``), so "Ⅸ" and "IX" are one password.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import stringprep
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

from argon2.low_level import Type, hash_secret_raw
from psycopg import sql

__all__ = [
    "ShadowStore", "Verdict", "Policy", "Outcome", "PasswordTooLong", "ServerSignatureError",
    "UnusablePassword", "saslprep",
]

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


class UnusablePassword(ValueError):
    """SASLprep (RFC 4013) refuses the password, so no verifier is written."""


class ProtocolError(RuntimeError):
    """The store answered in a way this client does not expect."""


def _prohibited(c: str) -> bool:
    return (
        stringprep.in_table_c12(c) or stringprep.in_table_c21(c) or stringprep.in_table_c22(c)
        or stringprep.in_table_c3(c) or stringprep.in_table_c4(c) or stringprep.in_table_c5(c)
        or stringprep.in_table_c6(c) or stringprep.in_table_c7(c) or stringprep.in_table_c8(c)
        or stringprep.in_table_c9(c)
    )


def saslprep(password: str) -> str:
    """SASLprep (RFC 4013) with unassigned code points allowed (as the Rust client does).

    Raises UnusablePassword for a prohibited character, forbidden bidirectional text, or a
    password that maps to nothing.
    """
    if password and all(" " <= c <= "~" for c in password):
        return password
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c))
    normalized = unicodedata.normalize("NFKC", mapped)
    if not normalized:
        raise UnusablePassword(
            "the password cannot be used: nothing is left of it after Unicode normalisation "
            "(SASLprep, RFC 4013 maps its characters to nothing)"
        )
    for c in normalized:
        if _prohibited(c):
            raise UnusablePassword(
                f"the password cannot be used: it contains U+{ord(c):04X}, which SASLprep (RFC 4013) "
                "does not allow in a password"
            )
    if any(stringprep.in_table_d1(c) for c in normalized):
        if any(stringprep.in_table_d2(c) for c in normalized) or not (
            stringprep.in_table_d1(normalized[0]) and stringprep.in_table_d1(normalized[-1])
        ):
            raise UnusablePassword(
                "the password cannot be used: it mixes right-to-left and left-to-right characters "
                "in a way SASLprep (RFC 4013) does not allow"
            )
    return normalized


def _for_check(password: str, normalization: str) -> str:
    """The password to check against a verifier prepared with ``normalization``."""
    if normalization == "none":
        return password
    try:
        return saslprep(password)
    except UnusablePassword:
        return password  # cannot have been set; checked as typed, fails and counts


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
        q = lambda text: sql.SQL(text).format(s)  # noqa: E731
        self._parameters = q("SELECT mode, argon2_m_kib, argon2_t, argon2_p, bcrypt_cost FROM {}.parameters()")
        self._set_scram = q("SELECT {}.set_scram(%s, %s, %s, %s, %s, %s, %s)")
        self._set_bcrypt = q("SELECT {}.set_bcrypt(%s, %s)")
        self._enrol_scram = q("SELECT {}.enrol_scram(%s, %s, %s, %s, %s, %s, %s)")
        self._enrol_bcrypt = q("SELECT {}.enrol_bcrypt(%s, %s)")
        self._replace_scram = q("SELECT coalesce({}.replace_scram(%s, %s, %s, %s, %s, %s, %s, %s), false)")
        self._replace_bcrypt = q("SELECT coalesce({}.replace_bcrypt(%s, %s, %s), false)")
        self._change_scram = q(
            "SELECT verdict, server_signature FROM {}.change_scram(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        self._change_bcrypt = q("SELECT verdict FROM {}.change_bcrypt(%s, %s, %s)")
        self._begin = q(
            "SELECT algorithm, salt, argon2_m_kib, argon2_t, argon2_p, server_nonce, normalization "
            "FROM {}.begin_login(%s)"
        )
        self._finish = q(
            "SELECT verdict, server_signature, needs_rehash, rehash_token FROM {}.finish_login(%s, %s, %s, %s)"
        )
        self._check_bcrypt = q("SELECT verdict, needs_rehash, rehash_token FROM {}.check_bcrypt(%s, %s)")
        self._lock = q("SELECT coalesce({}.lock(%s, coalesce(%s::timestamptz, 'infinity')), false)")
        self._unlock = q("SELECT coalesce({}.unlock(%s), false)")
        self._delete = q("SELECT coalesce({}.delete(%s), false)")
        self._issue_reset = q("SELECT {}.issue_reset_token(%s, %s::interval)")

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

    def _prepare(self, username: str, password: str, pol: Policy):
        """('scram', verifier params) or ('bcrypt', prepared password) for a new password."""
        if not username:
            raise ValueError("the user name must not be empty")
        if not password:
            raise ValueError("the password must not be empty")
        prepared = saslprep(password)
        if pol.mode == "scram-argon2":
            salt = os.urandom(SALT_LEN)
            salted = salted_password(prepared, salt, pol.argon2_m_kib, pol.argon2_t, pol.argon2_p)
            stored, server = verifier(salted)
            return "scram", (salt, pol.argon2_m_kib, pol.argon2_t, pol.argon2_p, stored, server)
        n = len(prepared.encode("utf-8"))
        if n > 72:
            raise PasswordTooLong(f"the password is {n} bytes long; bcrypt uses only the first 72, so it is refused")
        return "bcrypt", prepared

    def _write(self, conn, how: str, username: str, request, token: Optional[str] = None) -> bool:
        kind, value = request
        if how == "replace":
            stmt = self._replace_scram if kind == "scram" else self._replace_bcrypt
            args = (username, token, *value) if kind == "scram" else (username, token, value)
        else:
            if kind == "scram":
                stmt = self._enrol_scram if how == "enrol" else self._set_scram
                args = (username, *value)
            else:
                stmt = self._enrol_bcrypt if how == "enrol" else self._set_bcrypt
                args = (username, value)
        row = conn.execute(stmt, args).fetchone()
        return True if how == "set" else bool(row[0])

    def enrol(self, conn, username: str, password: str) -> bool:
        """Sign-up: sets the password of a user that has none. False when it has one."""
        self._check(conn)
        return self._write(conn, "enrol", username, self._prepare(username, password, self.policy(conn)))

    def set_password(self, conn, username: str, password: str) -> None:
        """Sets or replaces any user's password (admin role)."""
        self._check(conn)
        self._write(conn, "set", username, self._prepare(username, password, self.policy(conn)))

    def _begin_login(self, conn, username: str):
        return conn.execute(self._begin, (username,)).fetchone()

    def _scram_response(self, username, password, challenge):
        algorithm, salt, m, t, p, server_nonce, normalization = challenge
        client_nonce = os.urandom(NONCE_LEN)
        salted = salted_password(_for_check(password, normalization), bytes(salt), m, t, p)
        message = auth_message(username, client_nonce, bytes(server_nonce), bytes(salt), m, t, p)
        return client_nonce, bytes(server_nonce), client_proof(salted, message), salted, message

    @staticmethod
    def _check_signature(verdict, signature, salted, message) -> None:
        if verdict == "ok":
            _, server_key = verifier(salted)
            if signature is None or not hmac.compare_digest(_hmac(server_key, message), bytes(signature)):
                raise ServerSignatureError(
                    "the store accepted the login but its server signature is wrong; it may have been tampered with"
                )

    def _login(self, conn, username: str, password: str, challenge):
        """(verdict, rehash_token) of one login."""
        if challenge[0] == "bcrypt":
            verdict, _, token = conn.execute(
                self._check_bcrypt, (username, _for_check(password, challenge[6]))
            ).fetchone()
        else:
            client_nonce, server_nonce, proof, salted, message = self._scram_response(username, password, challenge)
            verdict, signature, _, token = conn.execute(
                self._finish, (username, client_nonce, server_nonce, proof)
            ).fetchone()
            self._check_signature(verdict, signature, salted, message)
        return Verdict(verdict), (token if verdict == "ok" else None)

    def verify(self, conn, username: str, password: str) -> Verdict:
        """Checks a password; a right one with a weaker stored verifier is re-keyed."""
        return self.verify_outcome(conn, username, password).verdict

    def verify_outcome(self, conn, username: str, password: str) -> Outcome:
        self._check(conn)
        verdict, token = self._login(conn, username, password, self._begin_login(conn, username))
        rehashed = False
        if token is not None:
            try:
                request = self._prepare(username, password, self.policy(conn))
            except (UnusablePassword, PasswordTooLong):
                request = None  # a version 1 password SASLprep refuses keeps its verifier
            if request is not None:
                rehashed = self._write(conn, "replace", username, request, token)
        return Outcome(verdict, rehashed)

    def change_password(self, conn, username: str, current: str, new: str) -> Verdict:
        """Changes a password with proof of the current one, in one call. OK when changed."""
        self._check(conn)
        pol = self.policy(conn)
        request = self._prepare(username, new, pol)  # a bad new password costs no attempt
        challenge = self._begin_login(conn, username)
        if challenge[0] == "scram-argon2" and request[0] == "scram":
            client_nonce, server_nonce, proof, salted, message = self._scram_response(username, current, challenge)
            verdict, signature = conn.execute(
                self._change_scram, (username, client_nonce, server_nonce, proof, *request[1])
            ).fetchone()
            self._check_signature(verdict, signature, salted, message)
            return Verdict(verdict)
        if challenge[0] == "bcrypt" and request[0] == "bcrypt":
            (verdict,) = conn.execute(
                self._change_bcrypt, (username, _for_check(current, challenge[6]), request[1])
            ).fetchone()
            return Verdict(verdict)
        # The verifier is in the other mode: the login earns a rehash token, which replaces it.
        verdict, token = self._login(conn, username, current, challenge)
        if verdict is not Verdict.OK:
            return verdict
        if token is None or not self._write(conn, "replace", username, request, token):
            raise ProtocolError("the store gave no usable rehash token for a verifier in another mode")
        return Verdict.OK

    def issue_reset_token(self, conn, username: str, valid_for: Optional[timedelta] = None) -> Optional[str]:
        """A one-time reset token (admin role); None when the user has no password."""
        self._check(conn)
        return conn.execute(self._issue_reset, (username, valid_for)).fetchone()[0]

    def reset_password(self, conn, username: str, token: str, new: str) -> bool:
        """Sets a new password with a reset token. False when the token is wrong, used or expired."""
        self._check(conn)
        return self._write(conn, "replace", username, self._prepare(username, new, self.policy(conn)), token)

    def lock(self, conn, username: str, until=None) -> bool:
        """Locks an account (admin role)."""
        self._check(conn)
        return conn.execute(self._lock, (username, until)).fetchone()[0]

    def unlock(self, conn, username: str) -> bool:
        """Unlocks an account and clears its failures (admin role)."""
        self._check(conn)
        return conn.execute(self._unlock, (username,)).fetchone()[0]

    def delete(self, conn, username: str) -> bool:
        """Removes a user's password (admin role)."""
        self._check(conn)
        return conn.execute(self._delete, (username,)).fetchone()[0]
