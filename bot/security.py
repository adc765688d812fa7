"""Sealed values and signed personal links.

Sealing keeps identity answers (date of birth, ZIP) out of the tracker store in clear text while a
verification is in progress. Personal links prove possession of a contact point on file: we only
ever send them to the consumer's own phone or email.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Optional

from cryptography.fernet import Fernet, InvalidToken

PERSONAL_LINK_TTL_SECONDS = 7 * 24 * 3600
SEALED_ANSWER_TTL_SECONDS = 30 * 60


def load_or_create_key(path: Path) -> str:
    """The deployment's secret key, created once per installation with owner-only permissions."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def token_parts(token: object) -> list:
    """`<value>.<expiry>.<signature>` split, or [] for anything a signer cannot have written: not a str,
    not UTF-8 (a lone surrogate), or an expiry that is not ASCII digits (str.isdigit takes '²')."""
    if not isinstance(token, str):
        return []
    try:
        token.encode()
    except UnicodeEncodeError:
        return []
    parts = token.rsplit(".", 2)
    if len(parts) != 3 or not parts[0] or not (parts[1].isascii() and parts[1].isdigit()):
        return []
    return parts


def same_signature(given: str, expected: str) -> bool:
    """Constant-time comparison that cannot raise (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _derive(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


class Sealer:
    """Authenticated encryption (Fernet) of short values, readable only with the deployment key."""

    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, "sealed-answers")))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def unseal(self, token: Optional[str], max_age: int = SEALED_ANSWER_TTL_SECONDS) -> Optional[str]:
        if not token:
            return None
        try:
            return self._fernet.decrypt(token.encode(), ttl=max_age).decode()
        except (InvalidToken, ValueError):
            return None


class LinkSigner:
    """Signed, expiring tokens naming one account: `<ref>.<expiry>.<signature>`.

    `purpose` separates keys: a personal link never passes as an agent's session and vice versa.
    """

    def __init__(self, secret: str, purpose: str = "personal-links") -> None:
        self._key = _derive(secret, purpose)

    def sign(self, account_ref: str, ttl: int = PERSONAL_LINK_TTL_SECONDS, now: Optional[float] = None) -> str:
        expires = int((now or time.time()) + ttl)
        payload = f"{account_ref}.{expires}"
        return f"{payload}.{self._signature(payload)}"

    def verify(self, token: Optional[str], now: Optional[float] = None) -> Optional[str]:
        """The account reference of a valid, unexpired token; None otherwise."""
        parts = token_parts(token)
        if not parts:
            return None
        account_ref, expires, signature = parts
        if not same_signature(signature, self._signature(f"{account_ref}.{expires}")):
            return None
        if int(expires) < (now or time.time()):
            return None
        return account_ref

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# --- agent passwords: scrypt with a per-user salt (stdlib, no extra dependency) ------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2 ** 14, 8, 1


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    """`scrypt$n$r$p$<salt>$<hash>` (base64): the parameters travel with the hash so they can grow."""
    if not password:
        raise ValueError("a password may not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encode(salt)}${encode(digest)}"


def verify_password(password: str, stored: Optional[str]) -> bool:
    """True when `password` matches `stored`; compared in constant time, malformed hashes never match."""
    try:
        scheme, n, r, p, salt, expected = (stored or "").split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt((password or "").encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


def tokens_match(given: Optional[str], expected: Optional[str]) -> bool:
    """Constant-time comparison of a presented secret; an unset expected secret matches nothing."""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
